//! The storage seam: what [`crate::Central`] needs from wherever the bets
//! are kept, as one trait, [`Ledger`].
//!
//! A ledger appends numbered batches of an agency, records finishes, makes
//! both durable (each write is first *taken*, then waited for, so that many
//! writes share one commit), recovers per-agency state when it is opened
//! ([`Recovery`]), and feeds every stored bet to the draw. The file monitor
//! ([`crate::BetMonitor`], `bets.csv` and its journal) is the first
//! implementation; a database-backed ledger is another (it lives in its own
//! crate, so this one stays free of database dependencies).
//!
//! The central keeps the lottery's rules and its state machine; a ledger
//! keeps no lottery rules of its own: it stores what the central decided to
//! store, in the order it was taken, and says what it holds.

use std::collections::BTreeMap;
use std::fmt;

use crate::bet::{AgencyId, Bet, StoredBet};
use crate::draw::DrawTally;
use crate::error::StoreError;

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
    /// but never committed (0 when the store was whole).
    pub truncated_bytes: u64,
    /// What the ledger holds per agency (agencies with nothing stored are
    /// absent).
    pub agencies: BTreeMap<AgencyId, AgencyRecord>,
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
pub struct Receipt {
    sequence: u64,
    epoch: u64,
}

impl Receipt {
    /// A receipt carrying a ledger's own two numbers.
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

/// Where a [`crate::Central`] keeps its bets. Shared by every thread of the
/// central (`Send + Sync`); every method may block on I/O, and the central
/// never calls one while holding its lottery lock.
///
/// The central calls it in this discipline, which an implementation may rely
/// on: batches of one agency are taken in number order, one at a time (the
/// central holds that agency's lock across [`Ledger::begin_append`]), a
/// finish is taken only with no batch of the agency pending, and the draw
/// ([`Ledger::tally`]) runs only after every finish was durable.
pub trait Ledger: Send + Sync + fmt::Debug {
    /// Takes batch number `batch` of `agency` (all of `bets`, or nothing),
    /// without waiting for it to be durable.
    ///
    /// # Errors
    /// [`StoreError`]; nothing of the batch remains.
    fn begin_append(
        &self,
        agency: AgencyId,
        batch: u64,
        bets: &[Bet],
    ) -> Result<Receipt, StoreError>;

    /// Takes the record that `agency` finished with `bets` bets, without
    /// waiting for it to be durable.
    ///
    /// # Errors
    /// [`StoreError`]; the finish is not recorded.
    fn begin_finish(&self, agency: AgencyId, bets: u64) -> Result<Receipt, StoreError>;

    /// Waits until the write behind `receipt` is durable (as the ledger's
    /// durability promises), leading or joining a shared commit.
    ///
    /// # Errors
    /// [`StoreError`] when its commit failed: nothing of the write remains
    /// (for a batch: nor of any later batch of the same agency), and it may
    /// be taken again.
    fn wait_durable(&self, receipt: Receipt) -> Result<(), StoreError>;

    /// Adds every durable bet, in stored order, to `tally`. Returns how many.
    ///
    /// # Errors
    /// [`StoreError`] when the bets cannot be read or do not parse.
    fn tally(&self, tally: &mut DrawTally) -> Result<u64, StoreError>;

    /// Streams every durable bet, in stored order, to `visit`. Returns how
    /// many.
    ///
    /// # Errors
    /// [`StoreError`] when the bets cannot be read or do not parse.
    fn scan(&self, visit: &mut dyn FnMut(StoredBet)) -> Result<u64, StoreError>;
}
