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
//!   batch, and a completed `fdatasync` of the journal covers its record (the
//!   two run at the same time; the ack waits for both). The batch survives a
//!   power cut.
//!
//! # Below it
//! The private `commit` module is the group-commit engine (its
//! docs tell how concurrent appenders share syncs, and its lock order) and
//! the private `recovery` module is what opening a store does: replay the
//! journal, cut what no commit covers, check the rows.

pub(crate) mod commit;
pub(crate) mod draw_scan;
pub(crate) mod inspect;
pub(crate) mod journal;
pub(crate) mod manifest;
pub(crate) mod recovery;
pub(crate) mod store;
pub(crate) mod verify;

use std::path::{Path, PathBuf};

use lottery_bet::{AgencyId, AsBetBatch, BatchDigest, BetBatch, StoredBet, encode_store_rows};

use crate::error::StoreError;
use crate::lottery::draw::{DrawSummary, DrawTally};
use crate::lottery::ledger::{ChainHead, Ledger, PendingWrite, Recovery};
use crate::lottery::rules::LotteryRules;
use crate::lottery::secret::DrawSecret;
use crate::monitor::commit::{GroupCommit, PendingCommit};
use crate::monitor::draw_scan::tally_rows;
use crate::monitor::recovery::{recover_store, scan_rows};
use crate::monitor::store::{BetStore, CsvFileStore, Durability};

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
    commit: PendingCommit,
    bets: u64,
    /// The store's length after the batch.
    end: u64,
    /// The batch's content, as written.
    digest: BatchDigest,
}

impl PendingAppend {
    /// The store's length after the batch.
    pub fn end_offset(&self) -> u64 {
        self.end
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
    commit: PendingCommit,
}

/// The store of bets, shared by every thread of the central (`Send + Sync`).
///
/// ```
/// use lottery_bet::{AgencyId, Bet};
/// use lottery_core::{BetMonitor, Durability, store::MemoryStore};
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
    /// The store's bytes, its journal, and the locks around them.
    engine: GroupCommit,
}

impl std::fmt::Debug for BetMonitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BetMonitor")
            .field("path", &self.engine.path())
            .field("durability", &self.engine.durability())
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
        let recovered = recover_store(store.as_mut(), &path)?;
        let engine = GroupCommit::new(
            path,
            durability,
            store,
            recovered.journal,
            (recovered.chain, recovered.records),
            recovered.manifest,
        )?;
        Ok((Self { engine }, recovered.recovery))
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
        self.engine.durability()
    }

    /// Appends batch number `batch` taken by `agency` atomically, and returns
    /// when it is as durable as the mode promises (see the module docs).
    ///
    /// # Errors
    /// [`StoreError::Io`]; nothing of the batch remains in the store.
    pub fn append<B: AsBetBatch + ?Sized>(
        &self,
        agency: AgencyId,
        batch: u64,
        bets: &B,
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
    pub fn begin_append<B: AsBetBatch + ?Sized>(
        &self,
        agency: AgencyId,
        batch: u64,
        bets: &B,
    ) -> Result<PendingAppend, StoreError> {
        self.begin_batch(agency, batch, &bets.as_bet_batch())
    }

    /// [`BetMonitor::begin_append`] of a batch: its rows encoded in one pass
    /// over its bytes, their checksum, the write and the journal record.
    fn begin_batch(
        &self,
        agency: AgencyId,
        batch: u64,
        bets: &BetBatch,
    ) -> Result<PendingAppend, StoreError> {
        // Encoding needs no lock.
        let mut bytes = Vec::new();
        encode_store_rows(agency, bets, &mut bytes);
        // The rows' digest for the journal's chain, computed here, outside
        // every lock, so that appenders hash in parallel; only the short link
        // over it is computed under the append lock.
        // The same CRC32C is the batch's digest, kept by the central to
        // check resends against (see the `digest` module): no second pass.
        let count = bets.len() as u64;
        let digest = BatchDigest::of_rows(&bytes, count);
        let sum: journal::DataSum = digest.rows_crc().to_be_bytes();
        let (commit, end) = self
            .engine
            .write_batch(agency, batch, &bytes, count, &sum)?;
        Ok(PendingAppend {
            commit,
            bets: count,
            end,
            digest,
        })
    }

    /// Waits until `pending` is as durable as the mode promises. With `Fsync`
    /// it waits for a completed commit covering it, leading one if none runs.
    ///
    /// # Errors
    /// [`StoreError::Io`] when the commit failed; the batch was then cut off
    /// the store, nothing of it remains.
    pub fn complete_append(&self, pending: PendingAppend) -> Result<Appended, StoreError> {
        self.engine.wait_committed(pending.commit)?;
        Ok(Appended {
            bets: pending.bets,
            end_offset: pending.end,
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
        let commit = self.engine.queue_finish(agency, bets)?;
        Ok(PendingFinishRecord { commit })
    }

    /// Waits until `pending` is as durable as the mode promises, leading a
    /// group commit if none runs.
    ///
    /// # Errors
    /// [`StoreError::Io`] when the commit failed: the finish is not recorded.
    pub fn complete_finish_record(&self, pending: PendingFinishRecord) -> Result<(), StoreError> {
        self.engine.wait_committed(pending.commit)
    }

    /// Streams every committed bet, in stored order, to `visit`, reading the
    /// store a buffer at a time. Returns how many were visited.
    ///
    /// # Errors
    /// [`StoreError::Io`] or [`StoreError::Corrupt`].
    pub fn scan(&self, visit: &mut dyn FnMut(StoredBet)) -> Result<u64, StoreError> {
        scan_rows(self.engine.committed_reader()?, self.engine.path(), visit)
    }

    /// Adds every committed bet to `tally`, reading of each row only what the
    /// draw needs (see the `draw_scan` module). Returns how many were added.
    ///
    /// # Errors
    /// [`StoreError::Io`] or [`StoreError::Corrupt`].
    pub fn tally(&self, tally: &mut DrawTally) -> Result<u64, StoreError> {
        tally_rows(self.engine.committed_reader()?, tally, self.engine.path())
    }
}

/// The file monitor as a [`crate::Central`]'s ledger: its two-step appends
/// and finish records, their pending commits carried in [`PendingWrite`]s.
impl Ledger for BetMonitor {
    fn chain_head(&self) -> Option<ChainHead> {
        let (link, records) = self.engine.committed_head();
        Some(ChainHead { records, link })
    }

    fn begin_append(
        &self,
        agency: AgencyId,
        batch: u64,
        bets: &BetBatch,
    ) -> Result<(PendingWrite, BatchDigest), StoreError> {
        let pending = self.begin_batch(agency, batch, bets)?;
        Ok((pending.commit.into_write(), pending.digest))
    }

    fn begin_finish(&self, agency: AgencyId, bets: u64) -> Result<PendingWrite, StoreError> {
        Ok(self.begin_finish_record(agency, bets)?.commit.into_write())
    }

    fn wait_durable(&self, write: PendingWrite) -> Result<(), StoreError> {
        self.engine.wait_committed(PendingCommit::from_write(write))
    }

    fn tally(&self, tally: &mut DrawTally) -> Result<u64, StoreError> {
        BetMonitor::tally(self, tally)
    }

    fn record_rules(
        &self,
        rules: LotteryRules,
        secret: Option<&DrawSecret>,
    ) -> Result<(), StoreError> {
        self.engine.record_rules(rules, secret)
    }

    fn record_draw(&self, draw: &DrawSummary) -> Result<(), StoreError> {
        self.engine.record_draw(draw)
    }

    fn scan(&self, visit: &mut dyn FnMut(StoredBet)) -> Result<u64, StoreError> {
        BetMonitor::scan(self, visit)
    }
}
