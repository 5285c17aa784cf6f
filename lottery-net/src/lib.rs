//! The lottery wire protocol: frames, an incremental decoder, an encoder, and a
//! small blocking client for agencies. No lottery rules live here.
//!
//! The byte layout is specified in `PROTOCOL.md` next to this crate.

#![deny(missing_docs)]

pub mod message;

pub use message::{
    AgencyMessage, BetFault, CentralMessage, ErrorCode, ErrorFrame, PROTOCOL_VERSION, WireBet,
};
