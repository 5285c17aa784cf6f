//! The lottery core: validated bets, the bet monitor (`bets.csv`) and the
//! lock-protected lottery state machine. No sockets, clocks or randomness.
//!
//! # Layers
//! - [`bet`]: validated types ([`Bet`], [`AgencyId`], [`Document`], ...).
//! - [`row`]: CSV rows in (agency files, `bets.csv`) and out (`bets.csv`,
//!   byte-compatible with Python's `csv.writer`).
//! - [`store`]: the bytes of `bets.csv` and its commit journal behind
//!   [`BetStore`] ([`CsvFileStore`] or [`MemoryStore`]).
//! - [`monitor`]: [`BetMonitor`], atomic batch appends, durability, group
//!   commit, the commit journal and recovery on open.
//! - [`lottery`]: [`Lottery`](lottery), the pure state machine.
//! - [`central`]: [`Central`], the shared, locked facade used by servers.
//!
//! # Invariants
//! - A batch is stored all or nothing, and at most once per agency and batch
//!   number: a resend of an acknowledged batch is acknowledged again, never
//!   stored again, also across restarts (the monitor's journal recovers each
//!   agency's last batch).
//! - An acknowledgement means stored, as durably as the [`Durability`] mode
//!   promises; a batch whose write or commit failed leaves nothing behind and
//!   may be sent again.
//! - An agency finishes with no batch under way and with the count of its
//!   stored bets, durably recorded; nothing is taken from it afterwards.
//! - The draw happens exactly once, after the last agency finished, from a
//!   streaming scan of the store; winners exist only once it is published,
//!   whole ([`Winners::NotDrawn`] before, the complete list after).
//!
//! # Lock order
//! Every lock comes from the private `sync` shim (parking_lot, or loom under
//! `cfg(loom)`). A thread holding a lock takes only locks further down this
//! list, never one above it:
//!
//! 1. a [`Central`] *agency lock* (one per agency; a thread holds at most one);
//! 2. the [`Central`] *lottery lock* (the `drawn` condition variable waits on
//!    it), held for decisions only;
//! 3. the [`BetMonitor`] locks, in the monitor's own order: append lock
//!    (`writer`) → `journal` → `commit`, and its data-sync lock, a leaf
//!    (see [`monitor`]);
//! 4. the [`MemoryStore`] state lock (a leaf).
//!
//! Stronger rules keep the slow parts out of the way: the central never holds
//! the lottery lock while it calls the monitor (so 2 and 3 are never held
//! together, and no I/O, sync or draw scan runs under the lottery lock); the
//! central's draw-listeners lock is taken with no other lock held, and the
//! listeners are called with no lock held at all. An agency lock is held
//! across that agency's batch write and finish record only (across the
//! queueing of the record only, in the two-step finish).

#![deny(missing_docs)]

pub mod bet;
pub mod central;
mod draw_scan;
pub mod error;
mod journal;
pub mod lottery;
pub mod monitor;
pub mod row;
pub mod store;
mod sync;

pub use bet::{AgencyId, Bet, BetNumber, Birthdate, Document, Name, StoredBet};
pub use central::{Central, DrawListener, PendingFinish, PendingSubmit};
pub use error::{
    Field, FieldError, FieldReason, FinishError, RecoveryError, RowError, StoreError, SubmitError,
    UnknownAgency,
};
pub use lottery::{DrawSummary, Finish, LotteryRules, ResumePoint, Submitted, Winners};
pub use monitor::{
    AgencyRecord, Appended, BetMonitor, PendingAppend, PendingFinishRecord, Recovery,
};
pub use row::{AgencyFile, StoreRows, encode_store_rows};
pub use store::{
    BetStore, CsvFileStore, Durability, MemoryHandle, MemoryStore, StoreFile, StoreSyncer,
};
