//! The lottery's ledger in PostgreSQL: [`PgLedger`], a
//! [`lottery_core::ledger::Ledger`] whose batches are rows of a database, so that
//! the store outlives any one machine and several centrals can share it.
//!
//! It lives in its own crate so that `lottery-core` stays free of database
//! dependencies. Its calls block on the database; a server calls them from
//! its completer threads (the writes are only queued on the event loops,
//! and a handshake's read of an agency's record is handed over too).
//!
//! # Invariants
//! - A batch is stored by the commit of the transaction holding it, all or
//!   nothing, at most once per (agency, batch number): the primary key of
//!   `batches`. A resend is acknowledged again when it holds the stored
//!   bets (the digest each row of `batches` keeps), its rows not stored
//!   again; with other bets it is refused (`StoreError::BatchConflict`).
//! - A batch is stored only after the agency's previous one and before its
//!   finish; a finish is recorded only when its count equals the bets
//!   stored for the agency, checked in the same transaction.
//! - An acknowledgement means committed (with `synchronous_commit = on`,
//!   the default, on the database's disk).
//! - The rules are recorded once and checked on every open; the draw is
//!   recorded once.
//! - Centrals may start together on a fresh database or schema: the tables'
//!   creation and the rules' record run under one transaction-scoped
//!   advisory lock of the schema, one central after another, each reading
//!   what the one before committed. Every central finds one set of rules;
//!   one configured with other rules is refused, naming both (never a
//!   statement that found "an unexpected number of rows").
//!
//! - Every stored batch and every finish is a record of one checksum chain
//!   shared by every central of the schema: a position (1, 2, ... without
//!   gaps) and a SHA-256 link over the one before and the record, given in
//!   the transaction that stores it, under the lock of the chain's head row
//!   (`lottery-core/STORE.md`, "The PostgreSQL ledger's chain"). A central's
//!   [`lottery_core::ledger::Ledger::chain_head`] is the head as of its
//!   latest committed transaction (or the draw it read): what its receipts
//!   sign, checkable against the one chain whichever central signed.
//!
//! # Modules
//! `schema` (the tables and their version), `chain` (a record's canonical
//! bytes and its link), `rows` (bets to binary COPY
//! tuples and back: the one conversion), `connection` (a reconnecting
//! client), `commit` (group commit), `read` (the bets read back, and
//! [`export_csv`]), `ledger` ([`PgLedger`]), `verify` ([`verify_ledger`]:
//! the offline check; [`ledger_chain`]: the chain receipts are checked
//! against).

#![deny(missing_docs)]

mod chain;
mod commit;
mod connection;
mod ledger;
mod listen;
mod read;
mod rows;
mod schema;
mod verify;

#[cfg(feature = "test-support")]
pub use ledger::PgFaults;
pub use ledger::{PgLedger, is_postgres_url, redacted_url};
pub use read::export_csv;
pub use verify::{LedgerChain, LedgerReport, ledger_chain, verify_ledger};
