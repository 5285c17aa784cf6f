//! The messages of the protocol, as values. Their byte layout is in
//! `PROTOCOL.md` and in [`crate::frame`].

/// The protocol version this crate speaks.
pub const PROTOCOL_VERSION: u16 = 1;

/// One bet as it travels: raw fields, validated by the central (the protocol
/// carries bets; the lottery decides what a valid bet is).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WireBet {
    /// First name(s), UTF-8.
    pub first_name: String,
    /// Last name(s), UTF-8.
    pub last_name: String,
    /// Document (DNI), as text.
    pub document: String,
    /// Date of birth, `YYYY-MM-DD`.
    pub birthdate: String,
    /// The number played.
    pub number: u16,
}

/// A message from an agency to the central.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgencyMessage {
    /// The first frame of a connection: who is speaking, in which version.
    Hello {
        /// The protocol version the agency speaks.
        version: u16,
        /// The agency id.
        agency: u32,
    },
    /// A batch of bets, numbered from 1 per agency.
    Batch {
        /// The batch's sequence number.
        batch: u64,
        /// The bets.
        bets: Vec<WireBet>,
    },
    /// The agency sent every bet.
    Finish {
        /// How many bets it sent in total.
        bets_sent: u64,
    },
    /// Asks for the agency's winners.
    WinnersQuery {
        /// Hold the answer until the draw (true), or answer "not drawn yet" now.
        wait: bool,
    },
}

/// A message from the central to an agency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CentralMessage {
    /// The answer to `Hello`: where the agency stands, so it can resume.
    Welcome {
        /// The last batch stored for the agency (0: none).
        last_batch: u64,
        /// Bets stored for the agency.
        bets_stored: u64,
        /// Whether the agency already finished.
        finished: bool,
    },
    /// A batch is stored (as durably as the central promises).
    Ack {
        /// The batch's sequence number.
        batch: u64,
        /// Bets stored for the agency in total, after this batch.
        bets_stored: u64,
    },
    /// The finish is recorded.
    Finished {
        /// Bets stored for the agency.
        bets_stored: u64,
    },
    /// The agency's winners; a long list spans several frames, the last with
    /// `last` set.
    Winners {
        /// Documents of winning bets, in stored order.
        documents: Vec<String>,
        /// Whether this is the list's last frame.
        last: bool,
    },
    /// The draw has not happened (answer to a query that asked not to wait).
    NotDrawn,
    /// Something was refused.
    Error(ErrorFrame),
}

/// An error the central reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorFrame {
    /// The stable code.
    pub code: ErrorCode,
    /// For a batch refused because of one bet: which bet (0-based) and field.
    pub bet: Option<BetFault>,
    /// A human message.
    pub message: String,
}

/// The bet that made a batch fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BetFault {
    /// The bet's index in its batch, from 0.
    pub index: u32,
    /// The field, numbered as in `PROTOCOL.md` (1 first_name .. 5 number).
    pub field: u8,
}

/// Stable error codes. Numbers never change meaning; new codes are added at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// A frame could not be decoded. The connection is closed.
    Malformed,
    /// A frame's declared length is over the limit. The connection is closed.
    FrameTooLarge,
    /// The protocol version is not supported. The connection is closed.
    UnsupportedVersion,
    /// The agency is not expected. The connection is closed.
    UnknownAgency,
    /// The message is not valid in the connection's state (no handshake yet, a
    /// second handshake, ...). The connection is closed.
    UnexpectedMessage,
    /// A bet of the batch is invalid; nothing of the batch was stored.
    InvalidBet,
    /// The agency already finished; the batch was not stored.
    AgencyFinished,
    /// The draw already happened; the batch was not stored.
    AlreadyDrawn,
    /// A batch number skips ahead; the batch was not stored.
    OutOfOrder,
    /// The finish's count differs from what the central stored.
    CountMismatch,
    /// The central could not store the batch; retry later.
    StorageFailure,
    /// The central is shutting down. The connection is closed.
    ShuttingDown,
    /// A newer connection of the same agency replaced this one. Closed.
    Replaced,
    /// The central holds its maximum of connections. Closed.
    TooManyConnections,
    /// The peer was too slow (handshake or idle timeout). Closed.
    Timeout,
    /// A code this version does not know (from a newer central).
    Unknown(u16),
}
