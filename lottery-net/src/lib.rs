//! The lottery wire protocol: frames, an incremental decoder, an encoder, and a
//! small blocking client for agencies. No lottery rules live here.
//!
//! The byte layout is specified in `PROTOCOL.md` next to this crate.
//!
//! # Layers
//! - [`message`]: the messages as values and the stable error codes.
//! - [`frame`]: the frame layout (length prefix, type byte) and field shapes.
//! - [`encoder`] and [`batch`]: messages to bytes, into a caller's buffer.
//! - [`decoder`]: bytes to messages, incrementally, without sockets.
//! - [`checked`]: the central's fast path, batches validated as decoded.
//! - [`client`]: a blocking agency client over `std::net`, with resume.

#![deny(missing_docs)]

pub mod batch;
pub mod checked;
pub mod client;
pub mod decoder;
pub mod encoder;
pub mod error;
pub mod frame;
pub mod message;
#[cfg(any(test, feature = "test-support"))]
mod oracle;

pub use batch::{BatchBuilder, Pushed};
pub use checked::{AgencyFrame, CheckedBatch, InvalidBet};
pub use decoder::Decoder;
pub use encoder::{encode_agency_message, encode_central_message, encode_winners};
pub use error::{ClientError, DecodeError, EncodeError};
pub use frame::DEFAULT_MAX_FRAME;
pub use message::{
    AgencyMessage, BetFault, CentralMessage, ErrorCode, ErrorFrame, PROTOCOL_VERSION, WireBet,
};
