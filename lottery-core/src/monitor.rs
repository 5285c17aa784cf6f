//! The bet monitor: the one gate to `bets.csv` and its commit journal.
//!
//! It encodes batches into store rows, appends each batch with one write, and
//! commits it by a journal record `(agency, batch seq, bets, end offset)` in
//! `bets.csv.journal` (one text line a record, format in the private
//! `journal` module); an agency's finish is a journal record too. `bets.csv`
//! itself stays exactly what the course's Python writes.
//!
//! # What an ack means
//! [`BetMonitor::append`] returns (the central acks) when:
//! - [`Durability::None`]: the batch and its journal record were written to
//!   the store (for the file store: handed to the operating system, so they
//!   survive a crash of the process, not a power cut);
//! - [`Durability::Flush`]: the same, and both files were flushed (the file
//!   store writes without a user-space buffer, so there the two behave
//!   alike; a store with a buffer would differ);
//! - [`Durability::Fsync`]: a completed `fdatasync` of `bets.csv` covers the
//!   batch, and then a completed `fdatasync` of the journal covers its
//!   record. The batch survives a power cut.
//!
//! # Group commit
//! With `Fsync`, concurrent appenders share syncs. An appender writes its
//! batch under the append lock, queues its journal record there (so records
//! follow the data's order), and releases the lock. It then waits until a
//! completed commit covers its record. If no group holds its record yet and
//! no leader is syncing the data, it becomes the leader of the next group:
//! it takes every queued record not yet taken, syncs `bets.csv` (the data
//! stage), then, once the group before it has finished, appends the records
//! to the journal and syncs it (the journal stage), and wakes everyone.
//! Batches written meanwhile are covered by the next group. The append lock
//! is never held while syncing, so writers keep writing during a sync.
//!
//! The two stages overlap: a leader leaves the data stage as soon as its
//! data sync ends, so the next group syncs the data while this one syncs the
//! journal. Under load a commit then costs one sync's time, not two, while
//! each group still waits for its own two syncs in order. Groups enter the
//! journal stage in the order they took their records, so the journal keeps
//! the data's order.
//!
//! The data is synced before its records are written, so a durable journal
//! record implies durable data. If a sync fails, every batch not yet
//! committed (in any group, or still queued) is cut off `bets.csv` (its
//! appender gets the error: nothing of it stays), the journal is cut back to
//! its committed length, and later appends work again (after a failed
//! `fdatasync` the page cache cannot be trusted, so we keep only what a
//! completed sync covered). Groups taken before the failure and still in
//! flight find their epoch ended and journal nothing.
//!
//! # Restart
//! [`BetMonitor::open`] replays the journal: the end offset of its last whole
//! record is the committed length of `bets.csv`; anything beyond (a torn
//! line, or whole batches written but never committed, hence never acked) is
//! cut off and counted in [`Recovery::truncated_bytes`]. A torn journal line
//! is cut too. The committed rows are then scanned and must agree with the
//! journal's per-agency counts. Per agency the monitor recovers the bets
//! stored, the last batch sequence number and whether it finished, so a
//! resent batch is recognised and not stored twice.
//!
//! With `None` or `Flush`, a power cut may lose data the journal already
//! names; such records (ending beyond `bets.csv`) are dropped with everything
//! after them, so the store reopens to its last whole batch still on disk.
//! Opening reads the whole committed store once (the row check), in a
//! streaming pass.
//!
//! A `bets.csv` without a journal (written by the course's Python central) is
//! adopted: a torn last line is cut, its bets are counted per agency (last
//! batch 0: the rows carry no batch numbers) and a journal is started for it.
//!
//! # Lock order
//! append lock (`writer`) → `journal` → `commit`; the `data_syncer` lock is a
//! leaf, held only across a data sync. The commit lock is never held while
//! writing or syncing; the append lock is never held while syncing; the
//! journal lock is held by the leader in the journal stage, across its sync
//! (appenders never need it in `Fsync` mode).

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use crate::bet::{AgencyId, Bet, StoredBet};
use crate::error::StoreError;
use crate::journal::{self, HEADER, Record, Replay, ReplayError};
use crate::lottery::DrawTally;
use crate::row::{StoreRows, encode_store_rows};
use crate::store::{BetStore, CsvFileStore, Durability, StoreFile, StoreSyncer};
use crate::sync::{Condvar, Mutex};

/// What the store holds for one agency, as recovered on open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AgencyRecord {
    /// Bets stored for the agency.
    pub bets: u64,
    /// The sequence number of the last batch committed for it (0: none, or
    /// only rows adopted from a `bets.csv` without a journal).
    pub last_batch: u64,
    /// Whether the agency's finish was recorded.
    pub finished: bool,
}

/// What opening a store found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Bytes cut off the tail of `bets.csv`: a torn last line, or bytes written
    /// but never committed (0 when the store was whole).
    pub truncated_bytes: u64,
    /// What the store holds per agency (agencies with nothing stored are absent).
    pub agencies: BTreeMap<AgencyId, AgencyRecord>,
}

/// What an append stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// How many bets the batch held.
    pub bets: u64,
    /// The store's length after the batch.
    pub end_offset: u64,
}

/// A batch written to the store but not yet known durable: the first half of
/// [`BetMonitor::append`], finished by [`BetMonitor::complete_append`].
///
/// Only a completed append may be acked. Dropping a pending append leaves its
/// batch to whichever commit runs next (or to the cut on the next open).
#[derive(Debug)]
#[must_use = "a pending append is acked only once complete_append returns Ok"]
pub struct PendingAppend {
    ticket: Ticket,
    bets: u64,
}

impl PendingAppend {
    /// The store's length after the batch.
    pub fn end_offset(&self) -> u64 {
        self.ticket.end
    }

    /// How many bets the batch holds.
    pub fn bets(&self) -> u64 {
        self.bets
    }
}

/// A finish record queued but not yet known durable: the first half of
/// [`BetMonitor::record_finish`], finished by
/// [`BetMonitor::complete_finish_record`]. Dropping it leaves the record to
/// whichever commit runs next.
#[derive(Debug)]
#[must_use = "a finish is recorded only once complete_finish_record returns Ok"]
pub struct PendingFinishRecord {
    ticket: Ticket,
}

/// Where a journal record stands in the commit order.
#[derive(Debug, Clone, Copy)]
struct Ticket {
    /// Its position among all records (from 1).
    seq: u64,
    /// The commit epoch it was written in (bumped by every failed commit).
    epoch: usize,
    /// The data length after it.
    end: u64,
}

/// State under the append lock.
struct Writer {
    store: Box<dyn BetStore>,
    /// The data length the monitor vouches for; when the store's own length
    /// differs (a failed cut back), the next append repairs it first.
    len: u64,
    /// Records written but not yet committed (`Fsync` mode), in data order:
    /// commit leaders copy those they take (`Commit::taken_seq` says how
    /// far), and remove them once committed; a failed commit cuts them all.
    queued: Vec<(u64, Record)>,
    /// The last record sequence number handed out.
    last_seq: u64,
    /// The current commit epoch.
    epoch: usize,
    /// Per agency, the first batch a failed commit cut off. A later batch of
    /// that agency must not be written before that one is written again: the
    /// store would hold a hole that neither resume nor recovery can see.
    cut_batches: BTreeMap<AgencyId, u64>,
}

/// State under the journal lock.
struct JournalWriter {
    file: Box<dyn StoreFile>,
    syncer: Box<dyn StoreSyncer>,
    /// The journal length a completed sync covers (where a failure cuts back).
    durable_len: u64,
}

/// Group-commit bookkeeping, under the commit lock.
#[derive(Debug, Default)]
struct Commit {
    /// Every record up to this sequence number is committed (current epoch).
    committed_seq: u64,
    /// The data length the committed records cover: what a scan may read.
    committed_end: u64,
    /// The current epoch; `failed_epochs[e]` tells how epoch `e` ended.
    epoch: usize,
    failed_epochs: Vec<FailedEpoch>,
    /// Every record up to this sequence number belongs to a group (committed
    /// or being committed): its appender waits rather than leads.
    taken_seq: u64,
    /// A leader is in the data stage (one at a time).
    syncing_data: bool,
    /// The number the next group gets.
    next_group: u64,
    /// The group whose turn it is in the journal stage.
    journal_turn: u64,
}

/// The records one leader commits.
struct Group {
    /// Its place in the journal stage's order.
    number: u64,
    records: Vec<Record>,
    /// The sequence number of its last record.
    last_seq: u64,
    /// The data length its records cover.
    end: u64,
    /// The epoch its records were written in.
    epoch: usize,
}

/// How a failed commit ended an epoch: records up to `committed_seq` had been
/// committed, the rest were cut off, because of `error`.
#[derive(Debug)]
struct FailedEpoch {
    committed_seq: u64,
    action: &'static str,
    kind: io::ErrorKind,
    message: String,
}

enum Status {
    Committed,
    Pending,
    Failed(StoreError),
}

impl Commit {
    fn status(&self, ticket: Ticket, path: &Path) -> Status {
        if ticket.epoch < self.epoch {
            let failed = &self.failed_epochs[ticket.epoch];
            if ticket.seq <= failed.committed_seq {
                return Status::Committed;
            }
            return Status::Failed(StoreError::Io {
                action: failed.action,
                path: path.to_path_buf(),
                source: io::Error::new(failed.kind, failed.message.clone()),
            });
        }
        if ticket.seq <= self.committed_seq {
            Status::Committed
        } else {
            Status::Pending
        }
    }
}

/// The store of bets, shared by every thread of the central (`Send + Sync`).
///
/// ```
/// use lottery_core::{AgencyId, Bet, BetMonitor, Durability, MemoryStore};
/// let (monitor, recovery) = BetMonitor::open(Box::new(MemoryStore::new()), Durability::Fsync)?;
/// assert_eq!(recovery.truncated_bytes, 0);
/// let agency = AgencyId::new(1)?;
/// let bet = Bet::from_fields("Ana, María", "Pérez", "30904465", "1999-03-17", "7574")?;
/// monitor.append(agency, 1, &[bet.clone()])?;
/// let mut seen = Vec::new();
/// assert_eq!(monitor.scan(&mut |stored| seen.push(stored))?, 1);
/// assert_eq!(seen[0].bet, bet);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct BetMonitor {
    /// The store's name, for errors.
    path: PathBuf,
    durability: Durability,
    /// The append lock.
    writer: Mutex<Writer>,
    journal: Mutex<JournalWriter>,
    /// Syncs `bets.csv`: the leader in the data stage (or a failed commit
    /// making its cut durable).
    data_syncer: Mutex<Box<dyn StoreSyncer>>,
    commit: Mutex<Commit>,
    /// Signalled when a group leaves the data stage, when a journal turn
    /// ends, and when a commit ends (successfully or not).
    committed: Condvar,
}

impl std::fmt::Debug for BetMonitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BetMonitor")
            .field("path", &self.path)
            .field("durability", &self.durability)
            .finish_non_exhaustive()
    }
}

impl BetMonitor {
    /// Opens the monitor over `store` and recovers what it holds: replays the
    /// journal (or adopts a `bets.csv` without one), cuts off anything not
    /// committed, and checks the committed rows against the journal.
    ///
    /// # Errors
    /// [`StoreError::Io`] when the store cannot be read or repaired;
    /// [`StoreError::Corrupt`] when a committed row does not parse;
    /// [`StoreError::Journal`] when the journal is damaged or disagrees with
    /// the rows.
    pub fn open(
        mut store: Box<dyn BetStore>,
        durability: Durability,
    ) -> Result<(Self, Recovery), StoreError> {
        let path = PathBuf::from(store.describe());
        let io_error = |action: &'static str| {
            let path = path.clone();
            move |source| StoreError::Io {
                action,
                path,
                source,
            }
        };
        let data_len = store.len();
        let opened = store
            .open_journal()
            .map_err(io_error("open the journal of"))?;
        let (journal, recovery) = match opened {
            Some(journal) => {
                let (journal, recovery) = recover(store.as_mut(), journal, data_len, &path)?;
                (journal, recovery)
            }
            None => adopt(store.as_mut(), data_len, &path)?,
        };
        let committed_end = store.len();
        let journal_len = journal.len();
        let journal = JournalWriter {
            syncer: journal.syncer().map_err(io_error("open the journal of"))?,
            file: journal,
            durable_len: journal_len,
        };
        let data_syncer = Mutex::new(store.syncer().map_err(io_error("open"))?);
        let monitor = Self {
            path,
            durability,
            writer: Mutex::new(Writer {
                store,
                len: committed_end,
                queued: Vec::new(),
                last_seq: 0,
                epoch: 0,
                cut_batches: BTreeMap::new(),
            }),
            journal: Mutex::new(journal),
            data_syncer,
            commit: Mutex::new(Commit {
                committed_end,
                ..Commit::default()
            }),
            committed: Condvar::new(),
        };
        Ok((monitor, recovery))
    }

    /// Opens (or creates) the file store at `path`, with its journal beside it.
    ///
    /// # Errors
    /// As [`CsvFileStore::open`] and [`BetMonitor::open`].
    pub fn open_file(
        path: impl AsRef<Path>,
        durability: Durability,
    ) -> Result<(Self, Recovery), StoreError> {
        Self::open(Box::new(CsvFileStore::open(path)?), durability)
    }

    /// The durability mode.
    pub fn durability(&self) -> Durability {
        self.durability
    }

    /// Appends batch number `batch` taken by `agency` atomically, and returns
    /// when it is as durable as the mode promises (see the module docs).
    ///
    /// # Errors
    /// [`StoreError::Io`]; nothing of the batch remains in the store.
    pub fn append(
        &self,
        agency: AgencyId,
        batch: u64,
        bets: &[Bet],
    ) -> Result<Appended, StoreError> {
        let pending = self.begin_append(agency, batch, bets)?;
        self.complete_append(pending)
    }

    /// Writes batch number `batch` of `agency` with one write, without waiting
    /// for it to be durable; [`BetMonitor::complete_append`] waits. An event
    /// loop writes many batches, then completes them: one group commit covers
    /// them all.
    ///
    /// # Errors
    /// [`StoreError::Io`]; nothing of the batch remains in the store.
    pub fn begin_append(
        &self,
        agency: AgencyId,
        batch: u64,
        bets: &[Bet],
    ) -> Result<PendingAppend, StoreError> {
        // Encoding needs no lock.
        let mut bytes = Vec::with_capacity(bets.len() * 64);
        encode_store_rows(agency, bets, &mut bytes);
        let count = bets.len() as u64;
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
            .append(&bytes)
            .map_err(|source| self.io("append to", source))?;
        writer.len = start + bytes.len() as u64;
        let record = Record::Batch {
            agency,
            batch,
            bets: count,
            end: writer.len,
        };
        let ticket = match self.record(&mut writer, record) {
            Ok(ticket) => ticket,
            Err(error) => {
                // The journal refused the record: the batch is not committed,
                // so it must not stay in the data either.
                writer.len = start;
                let _ = self.repair(&mut writer);
                return Err(error);
            }
        };
        Ok(PendingAppend {
            ticket,
            bets: count,
        })
    }

    /// Waits until `pending` is as durable as the mode promises. With `Fsync`
    /// it waits for a completed commit covering it, leading one if none runs.
    ///
    /// # Errors
    /// [`StoreError::Io`] when the commit failed; the batch was then cut off
    /// the store, nothing of it remains.
    pub fn complete_append(&self, pending: PendingAppend) -> Result<Appended, StoreError> {
        self.wait_committed(pending.ticket)?;
        Ok(Appended {
            bets: pending.bets,
            end_offset: pending.ticket.end,
        })
    }

    /// Records durably that `agency` finished with `bets` bets, so a restart
    /// knows it. Same as [`BetMonitor::begin_finish_record`] then
    /// [`BetMonitor::complete_finish_record`].
    ///
    /// # Errors
    /// [`StoreError::Io`].
    pub fn record_finish(&self, agency: AgencyId, bets: u64) -> Result<(), StoreError> {
        let pending = self.begin_finish_record(agency, bets)?;
        self.complete_finish_record(pending)
    }

    /// The first half of [`BetMonitor::record_finish`]: queues the finish
    /// record without waiting for it to be durable, so that the finishes (and
    /// batches) of one event-loop iteration share one group commit.
    ///
    /// # Errors
    /// [`StoreError::Io`] (with `None` or `Flush`, where the record is written
    /// at once).
    pub fn begin_finish_record(
        &self,
        agency: AgencyId,
        bets: u64,
    ) -> Result<PendingFinishRecord, StoreError> {
        let mut writer = self.writer.lock();
        let ticket = self.record(&mut writer, Record::Finish { agency, bets })?;
        Ok(PendingFinishRecord { ticket })
    }

    /// Waits until `pending` is as durable as the mode promises, leading a
    /// group commit if none runs.
    ///
    /// # Errors
    /// [`StoreError::Io`] when the commit failed: the finish is not recorded.
    pub fn complete_finish_record(&self, pending: PendingFinishRecord) -> Result<(), StoreError> {
        self.wait_committed(pending.ticket)
    }

    /// Streams every committed bet, in stored order, to `visit`, reading the
    /// store a buffer at a time. Returns how many were visited.
    ///
    /// # Errors
    /// [`StoreError::Io`] or [`StoreError::Corrupt`].
    pub fn scan(&self, visit: &mut dyn FnMut(StoredBet)) -> Result<u64, StoreError> {
        scan_rows(self.committed_reader()?, &self.path, visit)
    }

    /// Adds every committed bet to `tally`, reading of each row only what the
    /// draw needs (see the `draw_scan` module). Returns how many were added.
    ///
    /// # Errors
    /// [`StoreError::Io`] or [`StoreError::Corrupt`].
    pub(crate) fn tally(&self, tally: &mut DrawTally) -> Result<u64, StoreError> {
        crate::draw_scan::tally_rows(self.committed_reader()?, tally, &self.path)
    }

    /// A reader of the committed part of the store.
    fn committed_reader(&self) -> Result<Box<dyn io::Read + Send>, StoreError> {
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
    fn record(&self, writer: &mut Writer, record: Record) -> Result<Ticket, StoreError> {
        let seq = writer.last_seq + 1;
        let ticket = Ticket {
            seq,
            epoch: writer.epoch,
            end: writer.len,
        };
        if self.durability == Durability::Fsync {
            writer.last_seq = seq;
            writer.queued.push((seq, record));
            return Ok(ticket);
        }
        let mut line = Vec::with_capacity(64);
        record.encode(&mut line);
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
        let mut commit = self.commit.lock();
        commit.committed_seq = seq;
        commit.committed_end = writer.len;
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
    fn wait_committed(&self, ticket: Ticket) -> Result<(), StoreError> {
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

    /// Leads one group through both stages (see the module docs). The caller
    /// set `syncing_data`; this clears it when the data stage ends.
    fn lead_commit(&self) {
        let Some(group) = self.take_group() else {
            return;
        };
        let data_synced = self.data_syncer.lock().sync();
        let epoch = {
            let mut commit = self.commit.lock();
            commit.syncing_data = false;
            self.committed.notify_all();
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
        let outcome = data_synced
            .map_err(|error| ("sync", error))
            .and_then(|()| self.journal_records(&group.records));
        match outcome {
            Ok(()) => {
                let mut writer = self.writer.lock();
                let committed = writer
                    .queued
                    .iter()
                    .take_while(|(seq, _)| *seq <= group.last_seq)
                    .count();
                writer.queued.drain(..committed);
                self.end_turn(|commit| {
                    debug_assert_eq!(
                        commit.epoch, group.epoch,
                        "only a leader in turn ends epochs"
                    );
                    commit.committed_seq = group.last_seq;
                    commit.committed_end = group.end;
                });
            }
            Err((action, error)) => {
                self.fail_epoch(action, &error);
                // Make the cut durable now rather than at the next commit, so
                // a crash meanwhile cannot bring back batches refused here.
                let _ = self.data_syncer.lock().sync();
                self.end_turn(|_| {});
            }
        }
    }

    /// The data stage's first step: takes every queued record no group holds
    /// yet, as the next group. `None` (and the data stage left) when there
    /// is none.
    fn take_group(&self) -> Option<Group> {
        let writer = self.writer.lock();
        let mut commit = self.commit.lock();
        let taken_seq = commit.taken_seq;
        let records: Vec<Record> = writer
            .queued
            .iter()
            .filter(|(seq, _)| *seq > taken_seq)
            .map(|&(_, record)| record)
            .collect();
        let Some(&(last_seq, _)) = writer.queued.last().filter(|_| !records.is_empty()) else {
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

    /// The journal stage's work: appends the group's records to the journal
    /// and syncs it; on failure cuts back whatever of them reached it.
    fn journal_records(&self, records: &[Record]) -> Result<(), (&'static str, io::Error)> {
        let mut lines = Vec::with_capacity(records.len() * 40);
        for record in records {
            record.encode(&mut lines);
        }
        let mut journal = self.journal.lock();
        let journal = &mut *journal;
        let outcome = journal
            .file
            .append(&lines)
            .map_err(|error| ("append to the journal of", error))
            .and_then(|()| {
                journal
                    .syncer
                    .sync()
                    .map_err(|error| ("sync the journal of", error))
            });
        match outcome {
            Ok(()) => journal.durable_len = journal.file.len(),
            Err(_) => {
                // Whatever of the records reached the journal must go: their
                // batches are about to be cut off. Best effort: if this fails
                // too, the next commit's journal sync covers the cut (records
                // are only ever appended after it).
                let durable = journal.durable_len;
                if journal.file.truncate(durable).is_ok() {
                    let _ = journal.syncer.sync();
                }
            }
        }
        outcome
    }

    /// Ends the current group's journal turn, after `update`, and wakes
    /// everyone (appenders, the next group).
    fn end_turn(&self, update: impl FnOnce(&mut Commit)) {
        let mut commit = self.commit.lock();
        update(&mut commit);
        commit.journal_turn += 1;
        self.committed.notify_all();
    }

    /// After a failed commit: cut every uncommitted batch off the data, and
    /// start a new epoch so their appenders learn they failed.
    fn fail_epoch(&self, action: &'static str, error: &io::Error) {
        let mut writer = self.writer.lock();
        let mut commit = self.commit.lock();
        writer.len = commit.committed_end;
        // Every uncommitted record is cut: this group's, those of groups
        // taken after it, and those queued since.
        let queued = std::mem::take(&mut writer.queued);
        for (_, record) in &queued {
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

    fn io(&self, action: &'static str, source: io::Error) -> StoreError {
        StoreError::Io {
            action,
            path: self.path.clone(),
            source,
        }
    }
}

/// Streams the rows of `reader` to `visit`; returns how many.
fn scan_rows(
    reader: impl io::Read,
    path: &Path,
    visit: &mut dyn FnMut(StoredBet),
) -> Result<u64, StoreError> {
    let mut count = 0;
    for row in StoreRows::new(reader) {
        let stored = row.map_err(|(line, error)| StoreError::Corrupt {
            path: path.to_path_buf(),
            line,
            error,
        })?;
        visit(stored);
        count += 1;
    }
    Ok(count)
}

/// Counts the committed rows per agency.
fn count_rows(
    store: &dyn BetStore,
    len: u64,
    path: &Path,
) -> Result<BTreeMap<AgencyId, u64>, StoreError> {
    let reader = store.reader(len).map_err(|source| StoreError::Io {
        action: "read",
        path: path.to_path_buf(),
        source,
    })?;
    let mut counts = BTreeMap::new();
    scan_rows(reader, path, &mut |stored| {
        *counts.entry(stored.agency).or_insert(0) += 1;
    })?;
    Ok(counts)
}

/// Cuts `bets.csv` to `len`, durably; returns how many bytes went.
fn cut_data(store: &mut dyn BetStore, len: u64, path: &Path) -> Result<u64, StoreError> {
    let before = store.len();
    if before <= len {
        return Ok(0);
    }
    store
        .truncate(len)
        .and_then(|()| store.syncer()?.sync())
        .map_err(|source| StoreError::Io {
            action: "repair",
            path: path.to_path_buf(),
            source,
        })?;
    Ok(before - len)
}

/// Replays the journal, cuts what it does not cover, checks the rows.
fn recover(
    store: &mut dyn BetStore,
    mut journal: Box<dyn StoreFile>,
    data_len: u64,
    path: &Path,
) -> Result<(Box<dyn StoreFile>, Recovery), StoreError> {
    let io_error = |action: &'static str| {
        move |source| StoreError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    };
    let reader = journal
        .reader(journal.len())
        .map_err(io_error("read the journal of"))?;
    let Replay {
        valid_len,
        committed_end,
        agencies,
    } = journal::replay(reader, data_len).map_err(|error| match error {
        ReplayError::Io(source) => io_error("read the journal of")(source),
        ReplayError::Damaged { line, problem } => StoreError::Journal {
            path: path.to_path_buf(),
            line,
            problem,
        },
    })?;
    if journal.len() > valid_len {
        journal
            .truncate(valid_len)
            .and_then(|()| journal.syncer()?.sync())
            .map_err(io_error("repair the journal of"))?;
    }
    let truncated_bytes = cut_data(store, committed_end, path)?;
    let counts = count_rows(store, committed_end, path)?;
    for (agency, rows) in &counts {
        let journaled = agencies.get(agency).map_or(0, |record| record.bets);
        if journaled != *rows {
            return Err(StoreError::Journal {
                path: path.to_path_buf(),
                line: 0,
                problem: format!(
                    "it counts {journaled} bets of agency {agency}, the store holds {rows}"
                ),
            });
        }
    }
    if let Some((agency, record)) = agencies
        .iter()
        .find(|(agency, record)| record.bets > 0 && !counts.contains_key(agency))
    {
        return Err(StoreError::Journal {
            path: path.to_path_buf(),
            line: 0,
            problem: format!(
                "it counts {} bets of agency {agency}, the store holds none",
                record.bets
            ),
        });
    }
    Ok((
        journal,
        Recovery {
            truncated_bytes,
            agencies,
        },
    ))
}

/// Adopts a `bets.csv` without a journal: cuts a torn last line, counts the
/// rows per agency, and starts a journal saying so.
fn adopt(
    store: &mut dyn BetStore,
    data_len: u64,
    path: &Path,
) -> Result<(Box<dyn StoreFile>, Recovery), StoreError> {
    let io_error = |action: &'static str| {
        move |source| StoreError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    };
    let whole = end_of_last_line(store, data_len).map_err(io_error("read"))?;
    let truncated_bytes = cut_data(store, whole, path)?;
    let counts = count_rows(store, whole, path)?;
    // The journal will vouch for these rows: they must be durable first.
    store
        .syncer()
        .and_then(|mut syncer| syncer.sync())
        .map_err(io_error("sync"))?;
    let mut contents = HEADER.to_vec();
    let mut agencies = BTreeMap::new();
    for (&agency, &bets) in &counts {
        Record::Batch {
            agency,
            batch: 0,
            bets,
            end: whole,
        }
        .encode(&mut contents);
        agencies.insert(
            agency,
            AgencyRecord {
                bets,
                ..AgencyRecord::default()
            },
        );
    }
    let journal = store
        .create_journal(&contents)
        .map_err(io_error("create the journal of"))?;
    Ok((
        journal,
        Recovery {
            truncated_bytes,
            agencies,
        },
    ))
}

/// The length of the first `len` bytes up to and including their last `\n`:
/// rows never hold a line break (names refuse control characters), so a last
/// line without one was torn.
fn end_of_last_line(store: &dyn BetStore, len: u64) -> io::Result<u64> {
    let mut reader = store.reader(len)?;
    let mut buffer = vec![0; 64 * 1024];
    let mut position = 0u64;
    let mut whole = 0u64;
    loop {
        let read = match reader.read(&mut buffer) {
            Ok(0) => return Ok(whole),
            Ok(read) => read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        if let Some(last) = buffer[..read].iter().rposition(|&b| b == b'\n') {
            whole = position + last as u64 + 1;
        }
        position += read as u64;
    }
}
