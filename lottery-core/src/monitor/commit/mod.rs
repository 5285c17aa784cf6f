//! Group commit: the engine under the bet monitor that writes batches and
//! journal records and makes them durable, sharing syncs among appenders.
//!
//! It owns the store's bytes while the monitor is open (the data file, the
//! journal, their syncers) and every lock around them. The monitor above it
//! encodes batches into rows and turns tickets into answers; recovery, before
//! it, decides where the committed data ends.
//!
//! # Group commit
//! With `Fsync`, concurrent appenders share syncs. An appender writes its
//! batch under the append lock, queues its journal record there (so records
//! follow the data's order), and releases the lock. It then waits until a
//! completed commit covers its record. If no group holds its record yet and
//! no leader is committing, it becomes the leader of the next group: it takes
//! every queued record not yet taken, appends them to the journal, and then
//! syncs `bets.csv` and the journal at the same time (the data on the
//! engine's data sync thread, `data_sync`, the journal on its own), waits for
//! both, and wakes everyone.
//! Batches written meanwhile are covered by the next group. The append lock
//! is never held while syncing, so writers keep writing during a sync.
//!
//! # One sync wait per group, and why it is safe
//! A group waits for one sync's time, not two in a row: the two `fdatasync`s
//! run together. The price is a new crash state: the journal's sync may end
//! (and the records be durable) while the rows they name are not, if the
//! power goes between the two syncs' ends. That is safe because of two rules:
//! - **No ack before both syncs completed.** A durable record does not make
//!   its rows durable, and its CRC32C does not either: it only lets recovery
//!   tell whether the rows it names are the ones on disk. So the group's
//!   appenders learn of the commit only after both syncs returned.
//! - **One group at a time.** The next group's records reach the journal only
//!   after this group's data sync completed, so every journal record but
//!   those of the last group names rows that are durable. Only the journal's
//!   last records can name rows a crash took, and those were never acked.
//!
//! Recovery drops (quarantines) the journal's last records whose rows are
//! missing or do not match their CRC32C (`inspect`, STORE.md "What a crash
//! can leave"), and keeps those whose rows are all there: such a record was
//! perhaps never acked (the crash came before the ack), but its rows are the
//! ones the agency sent, and a resend is recognised by its digest.
//!
//! If a sync fails, every batch not yet committed (this group's, or still
//! queued) is cut off `bets.csv` (its appender gets the error: nothing of it
//! stays), the journal is cut back to its committed length, and later
//! appends work again (after a failed `fdatasync` the page cache cannot be
//! trusted, so we keep only what a completed sync covered).
//!
//! Under `kill -9` of the process (not of the machine) none of this matters:
//! the page cache keeps every write, and a record is appended only after the
//! rows it names were written, so a reopen finds every record's rows.
//!
//! # Lock order
//! append lock (`writer`) → `journal` → `commit`; the data sync thread's
//! lock is a leaf, held only to hand over a request or a result, never across
//! a sync. The commit lock is never held while writing or syncing; the
//! append lock is never held while syncing; the journal lock is held by the
//! leader across the group's two syncs (appenders never need it in `Fsync`
//! mode).

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use lottery_bet::AgencyId;

use crate::error::StoreError;
use crate::lottery::draw::DrawSummary;
use crate::lottery::rules::{LotteryRules, Winning};
use crate::lottery::secret::DrawSecret;
use crate::monitor::journal::{DataSum, Digest, Record};
use crate::monitor::manifest::{DrawRecord, Manifest};
use crate::monitor::store::{BetStore, Durability, StoreFile};
use crate::sync::{Condvar, Mutex};

mod data_sync;
mod state;

use data_sync::DataSync;
pub(crate) use state::PendingCommit;
use state::{Commit, FailedEpoch, Group, JournalWriter, Status, Writer};

/// The group-commit engine: the store and its journal behind the append,
/// journal, data-sync and commit locks (in that order; see the module docs).
pub(crate) struct GroupCommit {
    /// The store's name, for errors.
    path: PathBuf,
    durability: Durability,
    /// The append lock.
    writer: Mutex<Writer>,
    journal: Mutex<JournalWriter>,
    /// Syncs `bets.csv` for the leader, beside its journal sync (or for a
    /// failed commit making its cut durable): a thread that lives as long as
    /// the engine, started only with `Fsync` (the one mode that syncs).
    data_sync: Option<DataSync>,
    commit: Mutex<Commit>,
    /// Signalled when a commit ends (successfully or not) and when a leader
    /// finds nothing to commit.
    committed: Condvar,
}

impl GroupCommit {
    /// The engine over a recovered store: `store` holds exactly its committed
    /// data, `journal` exactly its valid records.
    pub(crate) fn new(
        path: PathBuf,
        durability: Durability,
        store: Box<dyn BetStore>,
        journal: Box<dyn StoreFile>,
        chain: (Digest, u64),
        manifest: Manifest,
    ) -> Result<Self, StoreError> {
        let (chain, records) = chain;
        let io_error = |action: &'static str| StoreError::io_at(&path, action);
        let committed_end = store.len();
        let journal_len = journal.len();
        let journal = JournalWriter {
            syncer: journal.syncer().map_err(io_error("open the journal of"))?,
            file: journal,
            durable_len: journal_len,
        };
        let data_sync = if durability == Durability::Fsync {
            let syncer = store.syncer().map_err(io_error("open"))?;
            let started = DataSync::start_thread(syncer)
                .map_err(io_error("start the data sync thread of"))?;
            Some(started)
        } else {
            None
        };
        Ok(Self {
            path,
            durability,
            writer: Mutex::new(Writer {
                store,
                len: committed_end,
                queued: Vec::new(),
                chain,
                last_seq: 0,
                epoch: 0,
                cut_batches: BTreeMap::new(),
                manifest,
            }),
            journal: Mutex::new(journal),
            data_sync,
            commit: Mutex::new(Commit {
                committed_end,
                committed_chain: chain,
                committed_records: records,
                ..Commit::default()
            }),
            committed: Condvar::new(),
        })
    }

    /// The store's name.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The durability mode.
    pub(crate) fn durability(&self) -> Durability {
        self.durability
    }

    /// Writes the rows `bytes` (`count` bets) of batch number `batch` of
    /// `agency` with one write and gets its journal record on its way.
    /// Returns its ticket and the data length after it.
    ///
    /// # Errors
    /// [`StoreError::PredecessorLost`] when an earlier batch of the agency
    /// was cut by a failed commit and not written again; [`StoreError::Io`].
    /// Nothing of the batch remains in the store.
    pub(crate) fn write_batch(
        &self,
        agency: AgencyId,
        batch: u64,
        bytes: &[u8],
        count: u64,
        digest: &DataSum,
    ) -> Result<(PendingCommit, u64), StoreError> {
        let mut writer = self.writer.lock();
        if let Some(&lost) = writer.cut_batches.get(&agency) {
            if batch > lost {
                return Err(StoreError::PredecessorLost {
                    agency,
                    batch,
                    lost,
                });
            }
            // The lost batch (or an earlier one) is being written again.
            writer.cut_batches.remove(&agency);
        }
        self.repair(&mut writer)?;
        let start = writer.len;
        writer
            .store
            .append(bytes)
            .map_err(|source| self.io("append to", source))?;
        writer.len = start + bytes.len() as u64;
        let end = writer.len;
        let record = Record::Batch {
            agency,
            batch,
            bets: count,
            end,
        };
        match self.record(&mut writer, record, Some(digest)) {
            Ok(ticket) => Ok((ticket, end)),
            Err(error) => {
                // The journal refused the record: the batch is not committed,
                // so it must not stay in the data either.
                writer.len = start;
                let _ = self.repair(&mut writer);
                Err(error)
            }
        }
    }

    /// Gets the record that `agency` finished with `bets` bets on its way.
    ///
    /// # Errors
    /// [`StoreError::Io`] (with `None` or `Flush`, where the record is written
    /// at once).
    pub(crate) fn queue_finish(
        &self,
        agency: AgencyId,
        bets: u64,
    ) -> Result<PendingCommit, StoreError> {
        let mut writer = self.writer.lock();
        self.record(&mut writer, Record::Finish { agency, bets }, None)
    }

    /// Records the rules in the manifest, durably.
    ///
    /// # Errors
    /// [`StoreError::Io`]; the manifest is unchanged.
    pub(crate) fn record_rules(
        &self,
        rules: LotteryRules,
        secret: Option<&DrawSecret>,
    ) -> Result<(), StoreError> {
        let mut writer = self.writer.lock();
        let mut manifest = writer.manifest.clone();
        manifest.secret = match (rules.winning, secret) {
            (Winning::Fixed(_), _) => None,
            (Winning::Committed, Some(secret)) => Some(*secret),
            (Winning::Committed, None) => {
                return Err(StoreError::Inconsistent {
                    path: self.path().to_path_buf(),
                    problem: "committed rules came without their secret".to_owned(),
                    remedy: "give the central a fresh secret (lottery-server makes one)",
                });
            }
        };
        manifest.rules = Some(rules);
        self.write_manifest(&mut writer, manifest)
    }

    /// Records the draw in the manifest, durably, with the committed length
    /// and chain head it covers (every record of the lottery is committed by
    /// then: the draw follows the last finish's commit).
    ///
    /// # Errors
    /// [`StoreError::Io`]; the manifest is unchanged.
    pub(crate) fn record_draw(&self, summary: &DrawSummary) -> Result<(), StoreError> {
        let mut writer = self.writer.lock();
        let (end, chain) = {
            let commit = self.commit.lock();
            (commit.committed_end, commit.committed_chain)
        };
        let mut manifest = writer.manifest.clone();
        manifest.draw = Some(DrawRecord {
            summary: summary.clone(),
            end,
            chain,
        });
        self.write_manifest(&mut writer, manifest)
    }

    fn write_manifest(&self, writer: &mut Writer, manifest: Manifest) -> Result<(), StoreError> {
        writer
            .store
            .write_manifest(&manifest.encode())
            .map_err(|source| self.io("write the manifest of", source))?;
        writer.manifest = manifest;
        Ok(())
    }

    /// The committed chain's head: how many records the journal holds, and
    /// the last one's link (every committed ticket is inside it).
    pub(crate) fn committed_head(&self) -> (Digest, u64) {
        let commit = self.commit.lock();
        (commit.committed_chain, commit.committed_records)
    }

    /// A reader of the committed part of the store.
    pub(crate) fn committed_reader(&self) -> Result<Box<dyn io::Read + Send>, StoreError> {
        let writer = self.writer.lock();
        let committed_end = self.commit.lock().committed_end;
        writer
            .store
            .reader(committed_end)
            .map_err(|source| self.io("read", source))
    }

    /// Hands out the next record sequence number and gets the record on its
    /// way: queued for the next group commit (`Fsync`), or written to the
    /// journal now (`None`, `Flush`).
    fn record(
        &self,
        writer: &mut Writer,
        record: Record,
        data: Option<&DataSum>,
    ) -> Result<PendingCommit, StoreError> {
        let seq = writer.last_seq + 1;
        let ticket = PendingCommit {
            seq,
            epoch: writer.epoch,
        };
        let link = record.link(&writer.chain, data);
        if self.durability == Durability::Fsync {
            writer.last_seq = seq;
            writer.chain = link;
            writer.queued.push((seq, record, link));
            return Ok(ticket);
        }
        let mut line = Vec::with_capacity(128);
        record.encode(&link, &mut line);
        {
            let mut journal = self.journal.lock();
            journal
                .file
                .append(&line)
                .map_err(|source| self.io("append to the journal of", source))?;
            if self.durability == Durability::Flush {
                let flushed = writer.store.flush().and_then(|()| journal.file.flush());
                if let Err(source) = flushed {
                    let durable = journal.durable_len;
                    let _ = journal.file.truncate(durable);
                    return Err(self.io("flush", source));
                }
            }
            journal.durable_len = journal.file.len();
        }
        writer.last_seq = seq;
        writer.chain = link;
        let mut commit = self.commit.lock();
        commit.committed_seq = seq;
        commit.committed_end = writer.len;
        commit.committed_chain = link;
        commit.committed_records += 1;
        Ok(ticket)
    }

    /// Cuts the store back to the length the monitor vouches for, if a failed
    /// write or cut left it elsewhere.
    fn repair(&self, writer: &mut Writer) -> Result<(), StoreError> {
        if writer.store.len() != writer.len {
            let len = writer.len;
            writer
                .store
                .truncate(len)
                .map_err(|source| self.io("repair", source))?;
        }
        Ok(())
    }

    /// Blocks until `ticket` is committed, leading group commits as needed.
    pub(crate) fn wait_committed(&self, ticket: PendingCommit) -> Result<(), StoreError> {
        let mut commit = self.commit.lock();
        loop {
            match commit.status(ticket, &self.path) {
                Status::Committed => return Ok(()),
                Status::Failed(error) => return Err(error),
                Status::Pending => {}
            }
            if commit.syncing_data || ticket.seq <= commit.taken_seq {
                // A group holds the record already, or the next group will
                // be led by whoever syncs the data now: wait for it.
                commit = self.committed.wait(commit);
                continue;
            }
            commit.syncing_data = true;
            drop(commit);
            self.lead_commit();
            commit = self.commit.lock();
        }
    }

    /// Leads one group (see the module docs). The caller set `syncing_data`;
    /// this clears it when the group's turn ends.
    fn lead_commit(&self) {
        let Some(group) = self.take_group() else {
            return;
        };
        let epoch = {
            let mut commit = self.commit.lock();
            while commit.journal_turn != group.number {
                commit = self.committed.wait(commit);
            }
            commit.epoch
        };
        if epoch != group.epoch {
            // A failed commit before this group cut its batches off and
            // failed their appenders already: nothing of it may be journaled.
            self.end_turn(|_| {});
            return;
        }
        match self.journal_and_sync(&group.records) {
            Ok(()) => {
                let mut writer = self.writer.lock();
                let committed = writer
                    .queued
                    .iter()
                    .take_while(|(seq, _, _)| *seq <= group.last_seq)
                    .count();
                writer.queued.drain(..committed);
                self.end_turn(|commit| {
                    debug_assert_eq!(
                        commit.epoch, group.epoch,
                        "only a leader in turn ends epochs"
                    );
                    commit.committed_seq = group.last_seq;
                    commit.committed_end = group.end;
                    if let Some(&(_, link)) = group.records.last() {
                        commit.committed_chain = link;
                    }
                    commit.committed_records += group.records.len() as u64;
                });
            }
            Err((action, error)) => {
                self.fail_epoch(action, &error);
                // Make the cut durable now rather than at the next commit, so
                // a crash meanwhile cannot bring back batches refused here.
                let _ = self.data_sync().sync();
                self.end_turn(|_| {});
            }
        }
    }

    /// Takes every queued record no group holds yet, as the next group.
    /// `None` (and `syncing_data` cleared) when there is none.
    fn take_group(&self) -> Option<Group> {
        let writer = self.writer.lock();
        let mut commit = self.commit.lock();
        let taken_seq = commit.taken_seq;
        let records: Vec<(Record, Digest)> = writer
            .queued
            .iter()
            .filter(|(seq, _, _)| *seq > taken_seq)
            .map(|&(_, record, link)| (record, link))
            .collect();
        let Some(&(last_seq, _, _)) = writer.queued.last().filter(|_| !records.is_empty()) else {
            commit.syncing_data = false;
            self.committed.notify_all();
            return None;
        };
        commit.taken_seq = last_seq;
        let number = commit.next_group;
        commit.next_group += 1;
        Some(Group {
            number,
            records,
            last_seq,
            end: writer.len,
            epoch: writer.epoch,
        })
    }

    /// Appends the group's records to the journal, then syncs the data and
    /// the journal at once and waits for both; on failure cuts back whatever
    /// of the records reached the journal.
    fn journal_and_sync(
        &self,
        records: &[(Record, Digest)],
    ) -> Result<(), (&'static str, io::Error)> {
        let mut lines = Vec::with_capacity(records.len() * 110);
        for (record, link) in records {
            record.encode(link, &mut lines);
        }
        let mut journal = self.journal.lock();
        let journal = &mut *journal;
        let outcome = journal
            .file
            .append(&lines)
            .map_err(|error| ("append to the journal of", error))
            .and_then(|()| {
                // Both syncs start after the records were appended, and both
                // are waited for whatever either returns.
                let data = self.data_sync().start();
                let journaled = journal.syncer.sync();
                data.wait().map_err(|error| ("sync", error))?;
                journaled.map_err(|error| ("sync the journal of", error))
            });
        match outcome {
            Ok(()) => journal.durable_len = journal.file.len(),
            Err(_) => {
                // Whatever of the records reached the journal must go: their
                // batches are about to be cut off. Best effort: if this fails
                // too, a crash leaves records whose rows recovery finds cut
                // (dropped as the journal's tail), and the next commit's
                // journal sync covers the cut (records are only ever appended
                // after it).
                let durable = journal.durable_len;
                if journal.file.truncate(durable).is_ok() {
                    let _ = journal.syncer.sync();
                }
            }
        }
        outcome
    }

    /// Ends the current group's turn, after `update`, and wakes everyone
    /// (appenders, the next leader).
    fn end_turn(&self, update: impl FnOnce(&mut Commit)) {
        let mut commit = self.commit.lock();
        update(&mut commit);
        commit.journal_turn += 1;
        commit.syncing_data = false;
        self.committed.notify_all();
    }

    /// After a failed commit: cut every uncommitted batch off the data, and
    /// start a new epoch so their appenders learn they failed.
    fn fail_epoch(&self, action: &'static str, error: &io::Error) {
        let mut writer = self.writer.lock();
        let mut commit = self.commit.lock();
        writer.len = commit.committed_end;
        writer.chain = commit.committed_chain;
        // Every uncommitted record is cut: this group's, those of groups
        // taken after it, and those queued since.
        let queued = std::mem::take(&mut writer.queued);
        for (_, record, _) in &queued {
            if let Record::Batch { agency, batch, .. } = *record {
                let lost = writer.cut_batches.entry(agency).or_insert(batch);
                *lost = (*lost).min(batch);
            }
        }
        // If the cut fails, the next append retries it (`repair`).
        let _ = self.repair(&mut writer);
        let committed_seq = commit.committed_seq;
        commit.failed_epochs.push(FailedEpoch {
            committed_seq,
            action,
            kind: error.kind(),
            message: error.to_string(),
        });
        commit.epoch += 1;
        writer.epoch = commit.epoch;
    }

    /// The data sync thread, there with `Fsync`: the only mode that leads
    /// group commits (with `None` and `Flush` a record commits as written).
    fn data_sync(&self) -> &DataSync {
        self.data_sync
            .as_ref()
            .expect("only Fsync leads group commits, and it has a data sync thread")
    }

    fn io(&self, action: &'static str, source: io::Error) -> StoreError {
        StoreError::Io {
            action,
            path: self.path.clone(),
            source,
        }
    }
}
