//! The bet: what one is, what makes one acceptable, and its bytes in the
//! three places they lie (an agency's file, a `Batch` frame, `bets.csv`).
//! No I/O of its own beyond the readers it is given, no clock, no lottery.
//!
//! Below `lottery-core` (the lottery and the bet monitor) and `lottery-net`
//! (the wire protocol): both take their bets from here, so that neither
//! knows the other's layout. It imports no other crate of the workspace.
//!
//! # Layers
//! Modules are private; every public item is re-exported here, under one
//! path (`lottery_bet::Bet`). From the bottom up, each module imports only
//! from modules above it in this list:
//!
//! - `swar`: the word-at-a-time primitives (eight bytes tested at once), each
//!   beside the plain reference its tests compare it with; it imports
//!   nothing, and no other module writes a mask of its own;
//! - `field` ([`FieldError`], [`RowError`]): why a field or a row is refused;
//! - `name_chars` (the characters a name may hold, by Unicode category) and
//!   `field_bytes` (every field's rules over bytes, with their fast paths);
//! - `bet` ([`Bet`], [`AgencyId`], [`Document`], ...): validated types;
//! - `bet_fields` ([`BetFields`], [`PlainBet`]): a bet's fields checked
//!   where they lie;
//! - [`frame_bet`]: a bet's bytes in a `Batch` frame, the one public
//!   module (a layout, not a type: its functions are named by it), which
//!   the wire encoder, the central's decoder and the store writer share;
//! - `bet_batch` ([`BetBatch`], [`BetView`]): validated bets in one buffer,
//!   what the central takes and its ledgers store;
//! - `row_reader`: the rows of a CSV source as the `csv` crate splits them,
//!   with their lines (plain rows split where they lie, `csv_core` for the
//!   rest), and `bet_row` (an agency row split and checked in one pass);
//! - `row` ([`AgencyFile`], [`StoreRows`], [`encode_store_rows`]): CSV rows
//!   in and out, byte-compatible with Python's `csv.writer`;
//! - `digest` ([`BatchDigest`], [`append_rows_crc`]): the CRC32C of a
//!   batch's store rows, and `resume` ([`ResumePoint`]): where an agency
//!   stands, as a handshake tells it.
//!
//! The `test-support` feature adds `Chunked`, a reader that hands out its
//! bytes a few at a time, for the tests of the crates above.

#![deny(missing_docs)]

mod bet;
mod bet_batch;
mod bet_fields;
mod bet_row;
#[cfg(any(test, feature = "test-support"))]
mod chunked;
mod digest;
mod field;
mod field_bytes;
pub mod frame_bet;
mod name_chars;
mod resume;
mod row;
mod row_reader;
mod swar;

pub use bet::{
    AgencyId, Bet, BetNumber, Birthdate, Document, MAX_BET_NUMBER, MAX_DOCUMENT_DIGITS,
    MAX_NAME_BYTES, Name, StoredBet,
};
pub use bet_batch::{AsBetBatch, BetBatch, BetBatchBuilder, BetBatchIter, BetView};
pub use bet_fields::{BetFields, PlainBet};
#[cfg(any(test, feature = "test-support"))]
pub use chunked::Chunked;
pub use digest::{BatchDigest, append_rows_crc};
pub use field::{Field, FieldError, FieldReason, RowError};
pub use resume::ResumePoint;
pub use row::{AgencyFile, StoreRows, encode_store_rows};
