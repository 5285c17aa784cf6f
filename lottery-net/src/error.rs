//! Errors of the protocol crate: decoding, encoding, and the client.
//!
//! Variants say where: which message, which field. "Not enough bytes yet" is
//! not an error (the decoder answers `Ok(None)`).

use std::io;

use crate::message::{ErrorCode, ErrorFrame};

/// Bytes that are not a valid frame. The connection they came from should be
/// closed (after an [`ErrorFrame`] with [`DecodeError::code`], when possible).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The length prefix declares a frame over the limit. Nothing was
    /// allocated for it; the decoder cannot skip it.
    #[error("a frame of {declared} bytes is over the {max}-byte limit")]
    FrameTooLarge {
        /// The declared size of the whole frame, length prefix included.
        declared: u64,
        /// The limit.
        max: usize,
    },
    /// The length prefix is 0: the frame has no type byte.
    #[error("a frame has no type byte")]
    EmptyFrame,
    /// The type byte names no message of this direction.
    #[error("unknown message type 0x{kind:02x}")]
    UnknownType {
        /// The type byte.
        kind: u8,
    },
    /// The frame ends before one of its fields.
    #[error("the {message} frame ends inside its {field} field")]
    Truncated {
        /// The message type.
        message: &'static str,
        /// The field.
        field: &'static str,
    },
    /// The frame has bytes after its last field.
    #[error("the {message} frame has {extra} bytes after its last field")]
    TrailingBytes {
        /// The message type.
        message: &'static str,
        /// How many bytes are left over.
        extra: usize,
    },
    /// A text field is not UTF-8.
    #[error("the {field} field of the {message} frame is not valid UTF-8")]
    InvalidUtf8 {
        /// The message type.
        message: &'static str,
        /// The field.
        field: &'static str,
    },
    /// A flag byte is neither 0 nor 1.
    #[error("the {field} flag of the {message} frame is {value}, not 0 or 1")]
    InvalidFlag {
        /// The message type.
        message: &'static str,
        /// The field.
        field: &'static str,
        /// The byte found.
        value: u8,
    },
}

impl DecodeError {
    /// The error code to send the peer before closing the connection.
    pub const fn code(&self) -> ErrorCode {
        match self {
            Self::FrameTooLarge { .. } => ErrorCode::FrameTooLarge,
            _ => ErrorCode::Malformed,
        }
    }
}

/// A message that cannot be written as a frame. Nothing was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The frame would be larger than the limit.
    #[error("the {message} frame would take {len} bytes, over the {max}-byte limit")]
    FrameTooLarge {
        /// The message type.
        message: &'static str,
        /// The frame's size, length prefix included.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A field is longer than its length prefix can say.
    #[error("the {field} field takes {len} bytes, over the {max} its length prefix allows")]
    FieldTooLong {
        /// The field.
        field: &'static str,
        /// Its length in bytes.
        len: usize,
        /// The most the prefix allows.
        max: usize,
    },
}

/// What went wrong for the blocking [`crate::client::AgencyClient`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The central could not be reached (after every reconnect attempt).
    #[error("cannot connect to the central at {server} after {attempts} attempt(s)")]
    Connect {
        /// The address tried.
        server: String,
        /// How many attempts were made.
        attempts: u32,
        /// The last attempt's error.
        #[source]
        source: io::Error,
    },
    /// The connection failed and every reconnect attempt failed too.
    #[error("the connection to the central failed")]
    Io(#[from] io::Error),
    /// The central refused a request, with a code and a message.
    #[error("the central refused: {0}")]
    Refused(ErrorFrame),
    /// The central sent bytes that are not a frame.
    #[error("the central sent an invalid frame")]
    Decode(#[from] DecodeError),
    /// A message could not be encoded (a bet field too long for the protocol).
    #[error("a message could not be encoded")]
    Encode(#[from] EncodeError),
    /// The central answered with a message that does not fit the request.
    #[error("the central answered {got} where {expected} was expected")]
    UnexpectedAnswer {
        /// What the client waited for.
        expected: &'static str,
        /// What came (its name and fields).
        got: String,
    },
    /// The central's resume point contradicts what this client sent (it
    /// reports more than was ever sent, or a count that does not add up).
    #[error("the central's resume point does not match what was sent: {0}")]
    ResumeMismatch(String),
    /// [`Interrupter::interrupt`](crate::client::Interrupter::interrupt) was
    /// called; the connection is closed.
    #[error("the client was interrupted")]
    Interrupted,
}

impl ClientError {
    /// The central's error code, when the central refused.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Self::Refused(error) => Some(error.code),
            _ => None,
        }
    }
}
