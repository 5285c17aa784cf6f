//! The lottery wire protocol: frames, an incremental decoder, an encoder, and a
//! small blocking client for agencies. No lottery rules live here: bets are
//! validated by `lottery_bet`'s rules, where they lie in a frame's bytes
//! ([`BetBatchBuilder::push`](lottery_bet::BetBatchBuilder::push), the rules
//! of [`Bet::from_parts`](lottery_bet::Bet::from_parts)).
//!
//! The byte layout is specified in `PROTOCOL.md` next to this crate. Every
//! public item is reachable at the crate root, under one path.
//!
//! # Layers
//! The modules are private; from the bottom up:
//! - `message`: the messages as values ([`AgencyMessage`], [`CentralMessage`],
//!   [`WireBet`]) and the stable error codes ([`ErrorCode`], [`ErrorFrame`]).
//! - `error`: [`DecodeError`], [`EncodeError`], [`ClientError`].
//! - `frame`: the frame layout (length prefix, type byte) and field shapes,
//!   shared by encoding and decoding.
//! - `batch` and `encoder`: messages to bytes, into a caller's buffer; a
//!   `Batch` frame is written by one encoder only, [`BatchBuilder`]'s.
//! - `checked`: [`AgencyFrame`], an agency's frame as the central reads it,
//!   its batch validated ([`CheckedBatch`], a `lottery_bet::BetBatch`).
//! - `decoder`: bytes to messages, incrementally, without sockets
//!   ([`Decoder`]); agency frames have one decode path,
//!   [`Decoder::next_agency_frame`].
//! - `client`: a blocking agency client over `std::net`, with resume
//!   ([`AgencyClient`], [`Connection`]), plaintext or TLS
//!   ([`ClientConfig::tls`], a `lottery_tls::ClientTls`).
//!
//! # TLS
//! With [`ClientConfig::tls`] set, every connection completes its TLS
//! handshake (rustls) before `Hello`. Certificate problems are permanent and
//! never retried: the central's certificate refused here
//! ([`ClientError::TlsServerCertificate`]: untrusted, another name,
//! expired), ours refused by the central ([`ClientError::TlsRefused`], its
//! fatal alert named), a central that answers in plaintext
//! ([`ClientError::NotTls`]). A plaintext client whose every attempt is
//! closed before its welcome ends with
//! [`ClientError::TlsProbablyRequired`].
//!
//! The `test-support` feature adds a slow reference decoding, a `String` per
//! text field (`Decoder::next_agency_message`, `WireBet::into_bet`,
//! `CheckedBatch::from_wire`, `From<AgencyMessage> for AgencyFrame`): an
//! oracle for tests and fuzz targets, never for the central.

#![deny(missing_docs)]

mod batch;
mod checked;
mod client;
mod decoder;
mod encoder;
mod error;
mod frame;
mod message;
#[cfg(any(test, feature = "test-support"))]
mod oracle;

pub use batch::{
    BatchBuilder, BatchSource, EncodedBet, EncodedBets, EncodedIter, PerBet, Pushed, ToBatch,
};
pub use checked::{AgencyFrame, CheckedBatch, InvalidBet};
pub use client::{
    AgencyClient, ClientConfig, Connection, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_IN_FLIGHT,
    Interrupter,
};
pub use decoder::Decoder;
pub use encoder::{encode_agency_message, encode_central_message, encode_winners};
pub use error::{ClientError, DecodeError, EncodeError};
pub use frame::DEFAULT_MAX_FRAME;
pub use message::{
    AgencyMessage, BetFault, CentralMessage, ErrorCode, ErrorFrame, PROTOCOL_VERSION,
    RECEIPTS_VERSION, WireBet,
};
