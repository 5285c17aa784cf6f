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
//! # Lock order
//! Documented in [`central`] and [`monitor`]; no lock is held across storage I/O
//! except the monitor's own append lock.

#![deny(missing_docs)]

pub mod bet;
pub mod central;
pub mod error;
mod journal;
pub mod lottery;
pub mod monitor;
pub mod row;
pub mod store;
mod sync;

pub use bet::{AgencyId, Bet, BetNumber, Birthdate, Document, Name, StoredBet};
pub use central::{Central, DrawListener};
pub use error::{
    Field, FieldError, FieldReason, FinishError, RowError, StoreError, SubmitError, WinnersError,
};
pub use lottery::{DrawSummary, Finish, LotteryRules, ResumePoint, Submitted, Winners};
pub use monitor::{AgencyRecord, Appended, BetMonitor, PendingAppend, Recovery};
pub use row::{AgencyFile, StoreRows, encode_store_rows};
pub use store::{
    BetStore, CsvFileStore, Durability, MemoryHandle, MemoryStore, StoreFile, StoreSyncer,
};
