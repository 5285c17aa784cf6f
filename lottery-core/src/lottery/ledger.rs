//! The storage seam: what [`crate::Central`] needs from wherever the bets
//! are kept, as one trait, [`Ledger`].
//!
//! A ledger appends numbered batches of an agency, records finishes, makes
//! both durable (each write is first *taken*, then waited for, so that many
//! writes share one commit), recovers per-agency state when it is opened
//! ([`Recovery`]), and feeds every stored bet to a tally once, when a central
//! is built over it (the central's running tally of committed batches is the
//! draw from then on: the draw reads no ledger). The file monitor
//! ([`crate::BetMonitor`], `bets.csv` and its journal) is the first
//! implementation; a database-backed ledger is another (it lives in its own
//! crate, so this one stays free of database dependencies).
//!
//! The central keeps the lottery's state machine; a ledger stores what the
//! central decided to store, in the order it was taken, says what it holds,
//! and records (durably, once) the rules it serves and the draw.
//!
//! # One central, or several
//! A ledger serves one central (the file monitor: its lock enforces it), or
//! is *shared* by several centrals at once ([`Ledger::is_shared`]: a
//! database). The central's books are then a cache of the ledger's, and the
//! ledger is the truth. The discipline for a shared ledger:
//!
//! - the ledger itself refuses what another central's writes make wrong: a
//!   batch already stored (by anyone) is acknowledged again and not stored
//!   again when it holds the same bets, and refused
//!   ([`StoreError::BatchConflict`]) when it holds others, a batch that would leave a hole or follows the agency's finish
//!   is refused, and a finish whose count differs from the bets stored for
//!   the agency is refused, each checked in the transaction that stores it;
//! - when an agency connects, the central reads its record
//!   ([`Ledger::agency_record`]) and adopts it when it is ahead of its books
//!   (a read that may wait for the database, so a server makes it off its
//!   event loop: [`crate::Central::begin_resume`]);
//! - the draw is made by the ledger, in the transaction that records the
//!   last finish, exactly once across every central, from every stored bet
//!   (not from one central's tally); [`Ledger::wait_finish`] says whether
//!   this finish's transaction made it (or else how many agencies the
//!   ledger still waits for: the `remaining` of the finish's answer), and
//!   [`Ledger::recorded_draw`] reads it back, winners included;
//! - the ledger announces a draw recorded by another central
//!   ([`Ledger::on_draw_recorded`]), so every central answers the winners
//!   queries it holds.
//!
//! A ledger that is not shared keeps the defaults of these methods: never
//! shared, no record to read (the central's books are the truth), a finish
//! never draws (the central draws from its tally and records it with
//! [`Ledger::record_draw`]), nothing to announce.

use std::collections::BTreeMap;
use std::fmt;

use lottery_bet::{AgencyId, BatchDigest, BetBatch, StoredBet};

use crate::error::StoreError;
use crate::lottery::draw::{Draw, DrawSummary, DrawTally};
use crate::lottery::rules::LotteryRules;
use crate::lottery::secret::DrawSecret;

/// What a ledger holds for one agency, as recovered on open.
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

/// What opening a ledger found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Bytes cut off the tail of the store: a torn last line, or bytes written
    /// but never committed (0 when the store was whole). They were moved to
    /// a quarantine file first (see [`Recovery::quarantined`]).
    pub truncated_bytes: u64,
    /// What the ledger holds per agency (agencies with nothing stored are
    /// absent).
    pub agencies: BTreeMap<AgencyId, AgencyRecord>,
    /// The rules the store was created with (`None`: a new store, or one no
    /// central has used yet; the central records its rules then).
    pub rules: Option<LotteryRules>,
    /// The secret of committed rules ([`crate::Winning::Committed`]),
    /// recorded with them.
    pub secret: Option<DrawSecret>,
    /// The draw, when the store records one: the lottery is drawn for good.
    pub draw: Option<DrawSummary>,
    /// What recovery cut off the store's files, kept beside it.
    pub quarantined: Vec<Quarantined>,
    /// Whether rows of a `bets.csv` without journal (a course store) were
    /// adopted.
    pub adopted: bool,
    /// Per agency, the digest of each of its committed batches, in number
    /// order (batch 1 first): what a resend is compared with (agencies
    /// without batches are absent).
    pub batches: BTreeMap<AgencyId, Vec<BatchDigest>>,
}

/// Bytes recovery cut off a file of the store, and where they are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quarantined {
    /// The quarantine file (`bets.csv.quarantine-1`, ...).
    pub file: String,
    /// How many bytes it holds.
    pub bytes: u64,
    /// Whether they came off the journal (else off `bets.csv`).
    pub journal: bool,
    /// Whether they hold at least one whole line: more than the torn last
    /// line a crash in the middle of a write leaves (batches written but
    /// never committed, hence never acked, or records naming lost data).
    pub whole_lines: bool,
}

/// A ledger's claim check for a write it took but has not yet made durable:
/// hand it back to [`Ledger::wait_durable`]. Its two numbers mean what the
/// ledger that issued it says (the file monitor: the record's place in the
/// commit order and its commit epoch); nobody else reads them.
///
/// Dropping it leaves the write to whichever commit runs next: it is never
/// acknowledged, and may or may not survive a restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a write is durable only once wait_durable returns Ok"]
pub struct PendingWrite {
    sequence: u64,
    epoch: u64,
}

impl PendingWrite {
    /// A write carrying a ledger's own two numbers.
    pub const fn new(sequence: u64, epoch: u64) -> Self {
        Self { sequence, epoch }
    }

    /// The first number: the write's place in the ledger's order.
    pub const fn sequence(self) -> u64 {
        self.sequence
    }

    /// The second number (the file monitor: the commit epoch).
    pub const fn epoch(self) -> u64 {
        self.epoch
    }
}

/// A prefix of a ledger's checksum chain: how many records it holds and the
/// link of the last one (the file monitor's journal: `records` lines after
/// its header, `link` the last line's link). What a receipt signs: the
/// chain's head commits to every record and row before it, so a later
/// chain that still holds this link at this position holds exactly what
/// the signer saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainHead {
    /// Records in the prefix (from 1: the first record is position 1).
    pub records: u64,
    /// The SHA-256 link of its last record (`lottery-core/STORE.md`).
    pub link: [u8; 32],
}

/// What recording a finish came to, in a shared ledger
/// ([`Ledger::wait_finish`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FinishRecorded {
    /// The finish is durable.
    Recorded,
    /// The finish is durable, and the ledger counted, in the transaction
    /// that recorded it, `remaining` expected agencies whose finish it does
    /// not hold yet (finishes taken by every central sharing it).
    Waiting {
        /// Expected agencies not finished yet, as the ledger counts them.
        remaining: u32,
    },
    /// The finish is durable, and it was the last one: its transaction
    /// recorded the draw (read it with [`Ledger::recorded_draw`]).
    Drew,
}

/// Called by a shared ledger when a draw was recorded (by any central).
pub type DrawAnnouncement = Box<dyn Fn() + Send + Sync>;

/// Where a [`crate::Central`] keeps its bets. Shared by every thread of the
/// central (`Send + Sync`); every method may block on I/O, and the central
/// never calls one while holding its lottery lock.
///
/// The central calls it in this discipline, which an implementation may rely
/// on: batches of one agency are taken in number order, one at a time (the
/// central holds that agency's lock across [`Ledger::begin_append`]), a
/// finish is taken only with no batch of the agency pending, and
/// [`Ledger::tally`] is called at most once, by [`crate::Central::new`],
/// before any batch is taken.
pub trait Ledger: Send + Sync + fmt::Debug {
    /// Takes batch number `batch` of `agency` (all of `bets`, or nothing),
    /// without waiting for it to be durable. The bets are validated; each
    /// one's fields are [`BetBatch::iter`]'s views (the file monitor writes
    /// its rows straight from the batch's bytes). Returns the write's
    /// write and the batch's [`BatchDigest`] (the file monitor has it from
    /// the checksum its journal needs), which the central keeps to check
    /// resends of the batch against.
    ///
    /// A shared ledger that finds the batch stored already (by another
    /// central) stores nothing and answers at [`Ledger::wait_durable`]: `Ok`
    /// when the stored batch has this digest, [`StoreError::BatchConflict`]
    /// when it holds other bets.
    ///
    /// # Errors
    /// [`StoreError`]; nothing of the batch remains.
    fn begin_append(
        &self,
        agency: AgencyId,
        batch: u64,
        bets: &BetBatch,
    ) -> Result<(PendingWrite, BatchDigest), StoreError>;

    /// Takes the record that `agency` finished with `bets` bets, without
    /// waiting for it to be durable.
    ///
    /// # Errors
    /// [`StoreError`]; the finish is not recorded.
    fn begin_finish(&self, agency: AgencyId, bets: u64) -> Result<PendingWrite, StoreError>;

    /// Waits until the write behind `write` is durable (as the ledger's
    /// durability promises), leading or joining a shared commit.
    ///
    /// # Errors
    /// [`StoreError`] when its commit failed: nothing of the write remains
    /// (for a batch: nor of any later batch of the same agency), and it may
    /// be taken again.
    fn wait_durable(&self, write: PendingWrite) -> Result<(), StoreError>;

    /// Adds every durable bet, in stored order, to `tally`. Returns how many.
    /// The central calls it once, when it is built over a ledger holding
    /// bets, to rebuild its running tally (the draw's source); a ledger may
    /// answer it from the pass its open already made over the rows.
    ///
    /// # Errors
    /// [`StoreError`] when the bets cannot be read or do not parse.
    fn tally(&self, tally: &mut DrawTally) -> Result<u64, StoreError>;

    /// Records the rules of a store that has none yet ([`Recovery::rules`]
    /// was `None`), durably, before any bet is taken; with committed rules
    /// also their `secret`, in the same durable write (a store has one
    /// secret for life).
    ///
    /// # Errors
    /// [`StoreError`]; nothing is recorded. A ledger that cannot serve
    /// committed rules (one without [`Ledger::chain_head`]) refuses them.
    fn record_rules(
        &self,
        rules: LotteryRules,
        secret: Option<&DrawSecret>,
    ) -> Result<(), StoreError>;

    /// Records the draw durably, before anyone learns it: from then on the
    /// store is drawn for good (a restart publishes the same draw, and takes
    /// no more bets).
    ///
    /// # Errors
    /// [`StoreError`]; the draw is not recorded (and must not be announced).
    fn record_draw(&self, draw: &DrawSummary) -> Result<(), StoreError>;

    /// Streams every durable bet, in stored order, to `visit`. Returns how
    /// many.
    ///
    /// # Errors
    /// [`StoreError`] when the bets cannot be read or do not parse.
    fn scan(&self, visit: &mut dyn FnMut(StoredBet)) -> Result<u64, StoreError>;

    /// Whether other centrals may write to this ledger at the same time
    /// (see the module docs). Default: no.
    fn is_shared(&self) -> bool {
        false
    }

    /// What the ledger holds for `agency` now, written by any central
    /// (`None`: nothing to add to the central's own books; the default).
    ///
    /// # Errors
    /// [`StoreError`] when it cannot be read.
    fn agency_record(&self, agency: AgencyId) -> Result<Option<AgencyRecord>, StoreError> {
        let _ = agency;
        Ok(None)
    }

    /// The digests of `agency`'s stored batches after batch `after`, in
    /// number order, written by any central: read with
    /// [`Ledger::agency_record`] when a handshake adopts a record ahead of
    /// the central's books, so that resends of those batches are checked too
    /// (the default, for a ledger only one central writes: none).
    ///
    /// # Errors
    /// [`StoreError`] when they cannot be read.
    fn batch_digests(&self, agency: AgencyId, after: u64) -> Result<Vec<BatchDigest>, StoreError> {
        let _ = (agency, after);
        Ok(Vec::new())
    }

    /// As [`Ledger::wait_durable`], for a finish's write, saying whether
    /// the transaction that recorded it also recorded the draw (only a
    /// shared ledger draws; the default never does).
    ///
    /// # Errors
    /// As [`Ledger::wait_durable`].
    fn wait_finish(&self, write: PendingWrite) -> Result<FinishRecorded, StoreError> {
        self.wait_durable(write).map(|()| FinishRecorded::Recorded)
    }

    /// The draw the ledger records, with every agency's winners in stored
    /// order, built for `rules` (`None`: not drawn, or a ledger that leaves
    /// the draw to its central; the default).
    ///
    /// # Errors
    /// [`StoreError`] when it cannot be read, or disagrees with itself.
    fn recorded_draw(&self, rules: LotteryRules) -> Result<Option<Draw>, StoreError> {
        let _ = rules;
        Ok(None)
    }

    /// Registers `announce`, called (on a thread of the ledger, with no lock
    /// of the central held) whenever the ledger learns that a draw was
    /// recorded, possibly by another central. Called at most once, by
    /// [`crate::Central::new`]. The default, for a ledger only one central
    /// writes, never calls it.
    fn on_draw_recorded(&self, announce: DrawAnnouncement) {
        drop(announce);
    }

    /// The head of the ledger's checksum chain over its durable records:
    /// every write [`Ledger::wait_durable`] returned for is inside it.
    /// Receipts sign it, and a committed draw's number is derived from its
    /// link (with the secret) once every agency has finished. `None` (the
    /// default): this ledger keeps no chain, signs no chain position and
    /// cannot serve committed rules.
    fn chain_head(&self) -> Option<ChainHead> {
        None
    }
}
