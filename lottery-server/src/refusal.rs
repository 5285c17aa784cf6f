//! Every error frame the central sends: the one place that maps a refusal (a
//! core error, a protocol mistake, a session ended from outside, a connection
//! that cannot be served) to its wire code and its text.
//!
//! Pure mapping: no I/O, no logging, no state. The session decides *when* to
//! refuse and logs it; *what* the peer reads is written here, once. A text
//! that the core already words (an unknown agency, a batch out of order) is
//! the core's own, so the wire and the logs say the same thing.

use std::fmt;

use lottery_core::{FinishError, SubmitError, UnknownAgency};
use lottery_net::{
    DecodeError, ErrorCode, ErrorFrame, InvalidBet, PROTOCOL_VERSION, RECEIPTS_VERSION,
};

/// Why a session was ended from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    /// A newer connection of the same agency took over.
    Replaced,
    /// The central is shutting down.
    ShuttingDown,
    /// No handshake in time.
    HandshakeTimeout,
    /// No whole frame in time.
    IdleTimeout,
}

impl Ending {
    /// What the peer is told.
    pub(crate) fn frame(self) -> ErrorFrame {
        let code = match self {
            Ending::Replaced => ErrorCode::Replaced,
            Ending::ShuttingDown => ErrorCode::ShuttingDown,
            Ending::HandshakeTimeout | Ending::IdleTimeout => ErrorCode::Timeout,
        };
        ErrorFrame::new(code, self.to_string())
    }
}

impl fmt::Display for Ending {
    /// The text of the frame, and the reason in the close and timeout lines.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Ending::Replaced => "replaced by a newer connection of the same agency",
            Ending::ShuttingDown => "the central is shutting down",
            Ending::HandshakeTimeout => "no handshake in time",
            Ending::IdleTimeout => "no frame in time",
        })
    }
}

/// A handshake (or any request) naming an agency the central does not
/// expect, `0` included: the core's words for it.
pub(crate) fn unknown_agency(agency: u32, expected: u32) -> ErrorFrame {
    ErrorFrame::new(
        ErrorCode::UnknownAgency,
        UnknownAgency::message(agency, expected).to_string(),
    )
}

/// A handshake naming an agency the connection's client certificate does
/// not name (the central authenticates agencies by certificate).
pub(crate) fn not_authorized(agency: u32) -> ErrorFrame {
    ErrorFrame::new(
        ErrorCode::NotAuthorized,
        format!(
            "this connection may not act as agency {agency}: its TLS client certificate does \
             not name it (subjectAltName DNS agency-{agency})"
        ),
    )
}

/// A handshake in a protocol version this central does not speak.
pub(crate) fn unsupported_version(version: u16, receipts: bool) -> ErrorFrame {
    let message = if receipts {
        format!(
            "protocol version {version} is not supported (this central speaks {PROTOCOL_VERSION} and {RECEIPTS_VERSION}, with receipts)"
        )
    } else if version == RECEIPTS_VERSION {
        format!(
            "protocol version {version} (receipts) is not supported: this central signs no receipts (it has no --receipt-key); it speaks {PROTOCOL_VERSION}"
        )
    } else {
        format!(
            "protocol version {version} is not supported (this central speaks {PROTOCOL_VERSION})"
        )
    };
    ErrorFrame::new(ErrorCode::UnsupportedVersion, message)
}

/// A first message that is not the handshake (`name` is the message's).
pub(crate) fn hello_first(name: &str) -> ErrorFrame {
    ErrorFrame::new(
        ErrorCode::UnexpectedMessage,
        format!("the first message must be Hello, not {name}"),
    )
}

/// A second handshake on one connection.
pub(crate) fn second_hello() -> ErrorFrame {
    ErrorFrame::new(
        ErrorCode::UnexpectedMessage,
        "the connection already completed its handshake",
    )
}

/// A message this central does not take (one a later protocol adds).
pub(crate) fn not_expected(name: &str) -> ErrorFrame {
    ErrorFrame::new(
        ErrorCode::UnexpectedMessage,
        format!("{name} is not expected"),
    )
}

/// Bytes that are not a frame.
pub(crate) fn malformed(error: &DecodeError) -> ErrorFrame {
    ErrorFrame::new(error.code(), error.to_string())
}

/// A batch with an invalid bet: lottery-net names the bet and its field.
pub(crate) fn invalid_bet(invalid: &InvalidBet) -> ErrorFrame {
    invalid.error_frame()
}

/// A batch the lottery refused (when it was begun, or when it completed).
pub(crate) fn submit(refused: &SubmitError) -> ErrorFrame {
    match refused {
        SubmitError::UnknownAgency(unknown) => unknown_agency_of(unknown),
        SubmitError::AgencyFinished { .. } => {
            ErrorFrame::new(ErrorCode::AgencyFinished, refused.to_string())
        }
        SubmitError::AlreadyDrawn => ErrorFrame::new(ErrorCode::AlreadyDrawn, refused.to_string()),
        SubmitError::EmptyBatch { .. } => {
            ErrorFrame::new(ErrorCode::EmptyBatch, refused.to_string())
        }
        SubmitError::OutOfOrder { .. } => {
            ErrorFrame::new(ErrorCode::OutOfOrder, refused.to_string())
        }
        SubmitError::Store(_) => ErrorFrame::new(
            ErrorCode::StorageFailure,
            "the central could not store the batch; retry later",
        ),
        SubmitError::BatchConflict { .. } => {
            ErrorFrame::new(ErrorCode::BatchConflict, refused.to_string())
        }
        // Pending, busy, and whatever a later core adds: retryable.
        _ => ErrorFrame::new(ErrorCode::StorageFailure, refused.to_string()),
    }
}

/// A finish the lottery refused (when it was begun, or when it completed).
pub(crate) fn finish(error: &FinishError) -> ErrorFrame {
    match error {
        FinishError::UnknownAgency(unknown) => unknown_agency_of(unknown),
        FinishError::CountMismatch { sent, stored, .. } => ErrorFrame::new(
            ErrorCode::CountMismatch,
            format!("the agency says it sent {sent} bets, but {stored} are stored for it"),
        ),
        FinishError::BatchesPending { .. } | FinishError::AgencyBusy { .. } => {
            ErrorFrame::new(ErrorCode::StorageFailure, format!("{error}; retry later"))
        }
        FinishError::Store(_) => ErrorFrame::new(
            ErrorCode::StorageFailure,
            "the central could not record the finish; retry later",
        ),
        // Whatever a later core adds: retryable, as the store's failures.
        _ => ErrorFrame::new(ErrorCode::StorageFailure, format!("{error}; retry later")),
    }
}

/// A handshake whose resume point could not be read from a shared ledger:
/// retryable, the agency's client reconnects and asks again.
pub(crate) fn resume_failed() -> ErrorFrame {
    ErrorFrame::new(
        ErrorCode::StorageFailure,
        "the central could not read where the agency stands; retry later",
    )
}

/// Any request the core refused because it names an agency the central
/// does not expect.
pub(crate) fn unknown_agency_of(unknown: &UnknownAgency) -> ErrorFrame {
    unknown_agency(unknown.agency.get(), unknown.expected)
}

/// Winners that could not be encoded (a bug: documents are at most 20 digits
/// and frames at least 1 KiB).
pub(crate) fn winners_unencodable() -> ErrorFrame {
    ErrorFrame::new(
        ErrorCode::StorageFailure,
        "the central could not encode the winners",
    )
}

/// A connection over the limit, refused as it is accepted.
pub(crate) fn too_many_connections(max: usize) -> ErrorFrame {
    ErrorFrame::new(
        ErrorCode::TooManyConnections,
        format!("the central holds its maximum of {max} connections; try again later"),
    )
}
