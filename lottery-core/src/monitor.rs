//! The bet monitor: the one gate to `bets.csv`.
//!
//! It encodes batches into store rows, appends each batch atomically, and makes
//! appends durable according to the [`Durability`] mode. With
//! [`Durability::Fsync`] concurrent appenders share syncs (group commit): while
//! one sync runs, later appenders queue, and the next sync covers them all. An
//! append returns only when its bytes are covered by a completed sync.
//!
//! Lock order: the append lock (store) is never held while syncing; the commit
//! lock (group-commit bookkeeping) is never held while writing or syncing.

use std::collections::BTreeMap;

use crate::bet::{AgencyId, Bet, StoredBet};
use crate::error::StoreError;
use crate::store::{BetStore, Durability};

/// What the store holds for one agency, as recovered on open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AgencyRecord {
    /// Bets stored for the agency.
    pub bets: u64,
    /// The sequence number of the last batch committed for it (0: none).
    pub last_batch: u64,
    /// Whether the agency's finish was recorded.
    pub finished: bool,
}

/// What opening a store found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Bytes cut off the store's tail: a torn last line, or bytes written but
    /// never committed (0 when the store was whole).
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

/// The store of bets, shared by every thread of the central.
pub struct BetMonitor {
    _store: Box<dyn BetStore>,
    _durability: Durability,
}

impl std::fmt::Debug for BetMonitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BetMonitor").finish_non_exhaustive()
    }
}

impl BetMonitor {
    /// Opens the monitor over `store`: scans it, cuts a torn last line, and
    /// counts the bets stored per agency.
    ///
    /// # Errors
    /// [`StoreError::Io`] when the store cannot be read or repaired;
    /// [`StoreError::Corrupt`] when a whole row does not parse.
    pub fn open(
        store: Box<dyn BetStore>,
        durability: Durability,
    ) -> Result<(Self, Recovery), StoreError> {
        let _ = (store, durability);
        todo!("lottery-core: monitor open")
    }

    /// The durability mode.
    pub fn durability(&self) -> Durability {
        self._durability
    }

    /// Appends batch number `batch` taken by `agency` atomically, and returns when it is as
    /// durable as the mode promises.
    ///
    /// # Errors
    /// [`StoreError::Io`]; nothing of the batch remains in the store.
    pub fn append(
        &self,
        agency: AgencyId,
        batch: u64,
        bets: &[Bet],
    ) -> Result<Appended, StoreError> {
        let _ = (agency, batch, bets);
        todo!("lottery-core: monitor append")
    }

    /// Records durably that `agency` finished with `bets` bets, so a restart
    /// knows it.
    ///
    /// # Errors
    /// [`StoreError::Io`].
    pub fn record_finish(&self, agency: AgencyId, bets: u64) -> Result<(), StoreError> {
        let _ = (agency, bets);
        todo!("lottery-core: monitor record_finish")
    }

    /// Streams every stored bet, in stored order, to `visit`. Returns how many
    /// were visited.
    ///
    /// # Errors
    /// [`StoreError::Io`] or [`StoreError::Corrupt`].
    pub fn scan(&self, visit: &mut dyn FnMut(StoredBet)) -> Result<u64, StoreError> {
        let _ = visit;
        todo!("lottery-core: monitor scan")
    }
}
