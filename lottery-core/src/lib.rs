//! The lottery core: the bet monitor (`bets.csv`) and the lock-protected
//! lottery state machine. No sockets, clocks or randomness. The bets
//! themselves, their rules and their rows, are the crate below's
//! (`lottery_bet`); this crate takes them validated.
//!
//! # Layers
//! Modules are private; every public item has one path: the central and
//! what it answers at the root (`lottery_core::Central`), the storage seam
//! under [`ledger`], the bet monitor's parts under [`store`] and the offline
//! check under [`verify`]. Two folders show the crate's two parts,
//! the lottery and the bet monitor; from the bottom up, each module imports
//! only from modules above it in this list:
//!
//! - `sync`: the loom shim, the one place that names lock types;
//! - `error` ([`StoreError`], [`SubmitError`], [`UnknownAgency`], ...);
//! - `lottery/`, the lottery, which knows no store:
//!   - `rules` ([`LotteryRules`]), `draw` ([`DrawTally`], [`Winners`],
//!     [`DrawSummary`]) and `outcome` ([`Submitted`], [`Finish`]);
//!   - `ledger` ([`Ledger`](ledger::Ledger), [`Recovery`](ledger::Recovery)): the storage seam, what the
//!     central needs from wherever bets are kept;
//!   - `machine`: the pure state machine (no lock, no I/O), crate-private;
//!   - `agency_locks`: the central's striped agency locks, crate-private;
//!   - `central` ([`Central`]): the shared, locked facade used by servers;
//! - `monitor/`, the bet monitor ([`BetMonitor`], the `bets.csv` ledger
//!   behind the seam), over its parts:
//!   - `store` ([`BetStore`](store::BetStore), [`CsvFileStore`](store::CsvFileStore), [`MemoryStore`](store::MemoryStore)): the bytes
//!     of `bets.csv` and its journal;
//!   - `journal` (the commit journal's records and checksum chain),
//!     `manifest` (the store's rules and draw), `draw_scan` (the pass over
//!     stored rows that rebuilds the draw's tally when a store is reopened),
//!     `inspect` (a store read and checked, changing nothing), `commit`
//!     (group commit), `recovery` (what opening a store repairs);
//!   - `verify` ([`verify_store`](verify::verify_store)): a store checked offline, read-only.
//!
//! No module of `lottery/` imports `monitor/`: the monitor is one ledger
//! among others (lottery-pg's is the other). `python3 scripts/layers.py`
//! (at the workspace root) checks that no two modules of a crate import
//! each other.
//!
//! # Invariants
//! - A batch is stored all or nothing, and at most once per agency and batch
//!   number: a resend of an acknowledged batch is acknowledged again, never
//!   stored again, also across restarts (the monitor's journal recovers each
//!   agency's last batch), and only when it holds the stored bets (its
//!   [`BatchDigest`](lottery_bet::BatchDigest); else [`SubmitError::BatchConflict`]).
//! - An acknowledgement means stored, as durably as the [`Durability`] mode
//!   promises; a batch whose write or commit failed leaves nothing behind and
//!   may be sent again.
//! - An agency finishes with no batch under way and with the count of its
//!   stored bets, durably recorded; nothing is taken from it afterwards.
//! - The draw happens exactly once, after the last agency finished, from the
//!   running tally of acknowledged batches (rebuilt by one streaming scan
//!   when a store is reopened), never a rescan of the store; winners exist
//!   only once it is published,
//!   whole ([`Winners::NotDrawn`] before, the complete list after).
//!
//! # Lock order
//! Every lock comes from the private `sync` shim (parking_lot, or loom under
//! `cfg(loom)`). A thread holding a lock takes only locks further down this
//! list, never one above it:
//!
//! 1. a [`Central`] *agency lock stripe* (a fixed number of locks, at most
//!    64, agency `n` taking stripe `(n - 1) % stripes`; a thread holds at
//!    most one, since every request names one agency, and two agencies of a
//!    stripe only wait for each other);
//! 2. the [`Central`] *lottery lock* (the `drawn` condition variable waits on
//!    it), held for decisions only;
//! 3. the [`BetMonitor`] locks, in the monitor's own order: append lock
//!    (`writer`) → `journal` → `commit`, and its data-sync lock, a leaf
//!    (see the private `commit` module);
//! 4. the [`MemoryStore`](store::MemoryStore) state lock (a leaf).
//!
//! Stronger rules keep the slow parts out of the way: the central never holds
//! the lottery lock while it calls the monitor (so 2 and 3 are never held
//! together, and no I/O or sync runs under the lottery lock: the running draw
//! tally is updated under it, a batch's winners moved in, and the draw is a
//! copy of it); the central's draw-listeners lock is taken with no other lock
//! held, and the listeners are called with no lock held at all. An agency lock stripe is
//! held across that agency's batch write and finish record only (across the
//! queueing of the record only, in the two-step finish).
//!
//! # Memory
//! What the central keeps grows with the agencies that take part (send a
//! batch or a finish, or appear in the recovered store), not with the
//! [`MAX_AGENCIES`] it may expect: the state machine keeps a map of them,
//! the agency locks are striped, and the running draw tally keeps the
//! winners' documents and counts (never the bets) of the agencies with
//! winners. Only the drawn result has an entry per expected agency
//! ([`DrawSummary::winners_per_agency`]).

#![deny(missing_docs)]

mod error;
mod lottery;
mod monitor;
mod sync;

pub use error::{FinishError, RecoveryError, ResumeError, StoreError, SubmitError, UnknownAgency};
pub use lottery::central::{
    Central, DrawListener, PendingFinish, PendingResume, PendingSubmit, ResumeStep,
};
pub use lottery::draw::{Draw, DrawSummary, DrawTally, Winners};
pub use lottery::outcome::{AgencySnapshot, DrawSnapshot, Finish, Snapshot, Submitted};
pub use lottery::rules::{LotteryRules, MAX_AGENCIES, Winning};
pub use lottery::secret::DrawSecret;
pub use monitor::BetMonitor;
pub use monitor::store::Durability;

/// The storage seam: what the central needs from wherever bets are kept,
/// for whoever writes a ledger of their own (as `lottery-pg` does) or opens
/// one ([`Recovery`](ledger::Recovery) is what opening it recovered).
pub mod ledger {
    pub use crate::lottery::ledger::{
        AgencyRecord, ChainHead, DrawAnnouncement, FinishRecorded, Ledger, PendingWrite,
        Quarantined, Recovery,
    };
}

/// The bet monitor's parts under [`BetMonitor`]: the
/// bytes of `bets.csv` and its journal (a file, or memory for tests and
/// embedders), and what an append or a finish record is before it is
/// durable.
pub mod store {
    pub use crate::monitor::store::{
        BetStore, CsvFileStore, MemoryHandle, MemoryStore, StoreFile, StoreSyncer,
    };
    pub use crate::monitor::{Appended, PendingAppend, PendingFinishRecord};
}

/// A store checked offline and read-only (`lottery-admin verify`).
pub mod verify {
    pub use crate::monitor::verify::{
        AgencyReport, ChainEntry, ChainRecord, StoreReport, chain_start, verify_store,
    };
}
