//! The messages of the protocol, as values. Their byte layout is in
//! `PROTOCOL.md`, [`crate::frame`], [`crate::encoder`] and [`crate::decoder`].
//!
//! This module knows nothing of bytes: it holds the message enums, the stable
//! error codes, and the conversions between a validated [`Bet`] and the raw
//! [`WireBet`] that travels (the central validates; the protocol only carries).

use std::fmt;

use lottery_bet::{BatchDigest, Bet, Field, FieldError, ResumePoint};
use lottery_tls::SignedHead;

/// The protocol version this crate speaks. Version 2 added the rows'
/// CRC32C to `Welcome` (and the `BatchConflict` code); a central speaks only
/// its own version, so a version-1 agency is refused with
/// `UnsupportedVersion` instead of misreading the longer `Welcome`.
pub const PROTOCOL_VERSION: u16 = 2;

/// The protocol version with receipts: version 2's messages, and the
/// `Welcome`, every `Ack` and every `Finished` replaced by
/// [`CentralMessage::SignedWelcome`], [`CentralMessage::SignedAck`] and
/// [`CentralMessage::SignedFinished`], which carry the central's signed
/// chain head (the welcome's names the lottery's rules, a committed
/// number's commitment among them, before the agency sends a bet). An agency asks for it in its `Hello` only when it has the
/// central's public key; a central speaks it only with a receipt key (else
/// it refuses it, `UnsupportedVersion`), and answers version 2 as before,
/// byte for byte. Versions are exact numbers, not feature bits: a later
/// version (one more field in a message, say) is 4.
pub const RECEIPTS_VERSION: u16 = 3;

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

impl WireBet {
    /// The raw fields of a validated bet.
    ///
    /// ```
    /// use lottery_bet::Bet;
    /// use lottery_net::WireBet;
    /// let bet = Bet::from_fields("Ana", "Pérez", "007", "1999-03-17", "7574").unwrap();
    /// let wire = WireBet::from_bet(&bet);
    /// assert_eq!(wire.birthdate, "1999-03-17");
    /// let back = Bet::from_parts(
    ///     &wire.first_name,
    ///     &wire.last_name,
    ///     &wire.document,
    ///     wire.birthdate.as_bytes(),
    ///     wire.number.into(),
    /// );
    /// assert_eq!(back.unwrap(), bet);
    /// ```
    pub fn from_bet(bet: &Bet) -> Self {
        Self {
            first_name: bet.first_name.as_str().to_owned(),
            last_name: bet.last_name.as_str().to_owned(),
            document: bet.document.as_str().to_owned(),
            birthdate: bet.birthdate.to_string(),
            number: bet.number.get(),
        }
    }
}

impl From<&Bet> for WireBet {
    fn from(bet: &Bet) -> Self {
        Self::from_bet(bet)
    }
}

/// A message from an agency to the central.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
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

impl AgencyMessage {
    /// The message's name, as `PROTOCOL.md` and the logs spell it.
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Hello { .. } => "Hello",
            Self::Batch { .. } => "Batch",
            Self::Finish { .. } => "Finish",
            Self::WinnersQuery { .. } => "WinnersQuery",
        }
    }
}

/// A message from the central to an agency.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CentralMessage {
    /// The answer to `Hello`: where the agency stands, so it can resume.
    Welcome {
        /// The last batch stored for the agency (0: none).
        last_batch: u64,
        /// Bets stored for the agency.
        bets_stored: u64,
        /// Whether the agency already finished.
        finished: bool,
        /// The CRC32C of every row stored for the agency, in stored order,
        /// as the central's `bets.csv` holds them (`None`: nothing stored,
        /// or the central cannot say): the agency checks its file's first
        /// `bets_stored` bets against it before sending anything.
        rows_crc: Option<u32>,
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
    /// The answer to `Hello` with the central's signed chain head as it
    /// stood at the handshake ([`RECEIPTS_VERSION`] only, instead of
    /// `Welcome`): the lottery's rules (its fixed winning number, or a
    /// committed one's commitment) signed before the agency's first bet.
    SignedWelcome {
        /// Where the agency stands: `Welcome`'s four fields.
        resume: ResumePoint,
        /// The central's signed chain head at the handshake (position 0 on
        /// a store without records yet).
        head: SignedHead,
    },
    /// A batch is stored, with what a receipt needs ([`RECEIPTS_VERSION`]
    /// only, instead of `Ack`).
    SignedAck {
        /// The batch's sequence number.
        batch: u64,
        /// Bets stored for the agency in total, after this batch.
        bets_stored: u64,
        /// The digest of the batch's rows as the central stored them.
        digest: BatchDigest,
        /// The central's signed chain head, which covers the batch.
        head: SignedHead,
    },
    /// The finish is recorded, with the signed chain head that covers its
    /// record ([`RECEIPTS_VERSION`] only, instead of `Finished`).
    SignedFinished {
        /// Bets stored for the agency.
        bets_stored: u64,
        /// The central's signed chain head, which covers the finish.
        head: SignedHead,
    },
    /// The signed draw ([`RECEIPTS_VERSION`] only): after the last
    /// `Winners` frame of an answer.
    SignedDraw {
        /// Bets the draw counted.
        bets: u64,
        /// SHA-256 of the winners per agency (`lottery_tls::winners_digest`).
        winners: [u8; 32],
        /// The number that won.
        winning_number: u16,
        /// With a committed winning number (the head's rules): the secret,
        /// revealed.
        secret: Option<[u8; 32]>,
        /// The chain the draw covered, with the signature over the draw
        /// (`lottery_tls::DrawStatement`).
        head: SignedHead,
    },
    /// The agency's winners; a long list spans several frames, the last with
    /// `last` set. [`crate::encode_winners`] splits a list.
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

impl CentralMessage {
    /// The message's name, as `PROTOCOL.md` and the logs spell it.
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Welcome { .. } => "Welcome",
            Self::Ack { .. } => "Ack",
            Self::Finished { .. } => "Finished",
            Self::SignedWelcome { .. } => "SignedWelcome",
            Self::SignedAck { .. } => "SignedAck",
            Self::SignedFinished { .. } => "SignedFinished",
            Self::SignedDraw { .. } => "SignedDraw",
            Self::Winners { .. } => "Winners",
            Self::NotDrawn => "NotDrawn",
            Self::Error(_) => "Error",
        }
    }
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

impl ErrorFrame {
    /// An error about no particular bet.
    ///
    /// ```
    /// use lottery_net::{ErrorCode, ErrorFrame};
    /// let error = ErrorFrame::new(ErrorCode::UnknownAgency, "agency 9 is not expected");
    /// assert!(error.code.closes_connection());
    /// ```
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            bet: None,
            message: message.into(),
        }
    }

    /// The error refusing a batch because its bet number `index` (from 0) is
    /// invalid: code [`ErrorCode::InvalidBet`], the fault, and a message
    /// naming the bet, the field and the reason.
    ///
    /// ```
    /// use lottery_bet::{Document, Field};
    /// use lottery_net::{ErrorCode, ErrorFrame};
    /// let error = ErrorFrame::invalid_bet(4, &Document::new("12a").unwrap_err());
    /// assert_eq!(error.code, ErrorCode::InvalidBet);
    /// assert_eq!(error.bet.unwrap().field_name(), "document");
    /// assert_eq!(error.message, "bet 4: document is not made of decimal digits");
    /// ```
    pub fn invalid_bet(index: u32, error: &FieldError) -> Self {
        Self {
            code: ErrorCode::InvalidBet,
            bet: Some(BetFault::new(index, error)),
            message: format!("bet {index}: {error}"),
        }
    }
}

impl fmt::Display for ErrorFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (code {})", self.code, self.code.code())?;
        if let Some(fault) = self.bet {
            write!(f, " at bet {} field {}", fault.index, fault.field_name())?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ErrorFrame {}

/// The bet that made a batch fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BetFault {
    /// The bet's index in its batch, from 0.
    pub index: u32,
    /// The field, numbered as in `PROTOCOL.md`: 1 first_name, 2 last_name,
    /// 3 document, 4 birthdate, 5 number; 0 for anything else.
    pub field: u8,
}

impl BetFault {
    /// The fault of bet `index` (from 0) refused with `error`.
    pub fn new(index: u32, error: &FieldError) -> Self {
        let field = match error.field {
            Field::FirstName => 1,
            Field::LastName => 2,
            Field::Document => 3,
            Field::Birthdate => 4,
            Field::Number => 5,
            // Agency, Row, and any field a later core version adds.
            _ => 0,
        };
        Self { index, field }
    }

    /// The field's name (`first_name`, ..., `number`; `other` for 0 and
    /// numbers this version does not know).
    pub const fn field_name(self) -> &'static str {
        match self.field {
            1 => "first_name",
            2 => "last_name",
            3 => "document",
            4 => "birthdate",
            5 => "number",
            _ => "other",
        }
    }
}

/// Stable error codes. Numbers never change meaning; new codes are added at the end.
///
/// ```
/// use lottery_net::ErrorCode;
/// assert_eq!(ErrorCode::InvalidBet.code(), 6);
/// assert_eq!(ErrorCode::from_code(6), ErrorCode::InvalidBet);
/// assert_eq!(ErrorCode::from_code(999), ErrorCode::Unknown(999));
/// ```
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
    /// The batch holds no bet; it was not stored and its number is still
    /// free.
    EmptyBatch,
    /// The connection may not act as the agency its `Hello` names: its TLS
    /// client certificate names another agency (or none). Closed.
    NotAuthorized,
    /// The batch's number is stored already with other bets (a resend
    /// that is not the stored batch, or another connection of the agency
    /// stored other bets under it): nothing was stored and it is not
    /// acknowledged. The agency's bets are not what the central holds under
    /// its numbers: sending them again cannot succeed.
    BatchConflict,
    /// A code this version does not know (from a newer central).
    Unknown(u16),
}

impl ErrorCode {
    /// Every code this version knows, in numeric order (1, 2, ...).
    pub const KNOWN: [ErrorCode; 18] = [
        Self::Malformed,
        Self::FrameTooLarge,
        Self::UnsupportedVersion,
        Self::UnknownAgency,
        Self::UnexpectedMessage,
        Self::InvalidBet,
        Self::AgencyFinished,
        Self::AlreadyDrawn,
        Self::OutOfOrder,
        Self::CountMismatch,
        Self::StorageFailure,
        Self::ShuttingDown,
        Self::Replaced,
        Self::TooManyConnections,
        Self::Timeout,
        Self::EmptyBatch,
        Self::NotAuthorized,
        Self::BatchConflict,
    ];

    /// The code's number on the wire.
    pub const fn code(self) -> u16 {
        match self {
            Self::Malformed => 1,
            Self::FrameTooLarge => 2,
            Self::UnsupportedVersion => 3,
            Self::UnknownAgency => 4,
            Self::UnexpectedMessage => 5,
            Self::InvalidBet => 6,
            Self::AgencyFinished => 7,
            Self::AlreadyDrawn => 8,
            Self::OutOfOrder => 9,
            Self::CountMismatch => 10,
            Self::StorageFailure => 11,
            Self::ShuttingDown => 12,
            Self::Replaced => 13,
            Self::TooManyConnections => 14,
            Self::Timeout => 15,
            Self::EmptyBatch => 16,
            Self::NotAuthorized => 17,
            Self::BatchConflict => 18,
            Self::Unknown(code) => code,
        }
    }

    /// The code a number stands for; [`ErrorCode::Unknown`] for numbers this
    /// version does not know (so `from_code(n).code() == n` for every `n`).
    pub const fn from_code(code: u16) -> Self {
        match code {
            1 => Self::Malformed,
            2 => Self::FrameTooLarge,
            3 => Self::UnsupportedVersion,
            4 => Self::UnknownAgency,
            5 => Self::UnexpectedMessage,
            6 => Self::InvalidBet,
            7 => Self::AgencyFinished,
            8 => Self::AlreadyDrawn,
            9 => Self::OutOfOrder,
            10 => Self::CountMismatch,
            11 => Self::StorageFailure,
            12 => Self::ShuttingDown,
            13 => Self::Replaced,
            14 => Self::TooManyConnections,
            15 => Self::Timeout,
            16 => Self::EmptyBatch,
            17 => Self::NotAuthorized,
            18 => Self::BatchConflict,
            other => Self::Unknown(other),
        }
    }

    /// The code's name, as `PROTOCOL.md` spells it.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Malformed => "Malformed",
            Self::FrameTooLarge => "FrameTooLarge",
            Self::UnsupportedVersion => "UnsupportedVersion",
            Self::UnknownAgency => "UnknownAgency",
            Self::UnexpectedMessage => "UnexpectedMessage",
            Self::InvalidBet => "InvalidBet",
            Self::AgencyFinished => "AgencyFinished",
            Self::AlreadyDrawn => "AlreadyDrawn",
            Self::OutOfOrder => "OutOfOrder",
            Self::CountMismatch => "CountMismatch",
            Self::StorageFailure => "StorageFailure",
            Self::ShuttingDown => "ShuttingDown",
            Self::Replaced => "Replaced",
            Self::TooManyConnections => "TooManyConnections",
            Self::Timeout => "Timeout",
            Self::EmptyBatch => "EmptyBatch",
            Self::NotAuthorized => "NotAuthorized",
            Self::BatchConflict => "BatchConflict",
            Self::Unknown(_) => "Unknown",
        }
    }

    /// Whether the central closes the connection after sending this error.
    /// Unknown codes count as closing: a client cannot know better.
    pub const fn closes_connection(self) -> bool {
        !matches!(
            self,
            Self::InvalidBet
                | Self::EmptyBatch
                | Self::AgencyFinished
                | Self::AlreadyDrawn
                | Self::OutOfOrder
                | Self::CountMismatch
                | Self::StorageFailure
                | Self::BatchConflict
        )
    }

    /// Whether a client should reconnect (with backoff) and resume after this
    /// error: the central is going away or could not store, not refusing.
    pub const fn is_retryable(self) -> bool {
        matches!(
            self,
            Self::StorageFailure | Self::ShuttingDown | Self::Timeout | Self::TooManyConnections
        )
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unknown(code) => write!(f, "Unknown({code})"),
            known => f.write_str(known.name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_code_maps_to_its_number_and_back() {
        for (position, code) in ErrorCode::KNOWN.iter().enumerate() {
            let number = u16::try_from(position + 1).unwrap();
            assert_eq!(code.code(), number);
            assert_eq!(ErrorCode::from_code(number), *code);
        }
        for number in [0, 19, 1000, u16::MAX] {
            assert_eq!(ErrorCode::from_code(number), ErrorCode::Unknown(number));
            assert_eq!(ErrorCode::from_code(number).code(), number);
        }
    }

    #[test]
    fn only_recoverable_refusals_keep_the_connection_open() {
        assert!(!ErrorCode::InvalidBet.closes_connection());
        assert!(!ErrorCode::EmptyBatch.closes_connection());
        assert!(!ErrorCode::EmptyBatch.is_retryable());
        assert!(!ErrorCode::CountMismatch.closes_connection());
        assert!(ErrorCode::Malformed.closes_connection());
        assert!(ErrorCode::Replaced.closes_connection());
        assert!(ErrorCode::NotAuthorized.closes_connection());
        assert!(!ErrorCode::NotAuthorized.is_retryable());
        assert!(ErrorCode::Unknown(77).closes_connection());
    }

    #[test]
    fn wire_bets_report_the_first_invalid_field() {
        let wire = WireBet {
            first_name: "Ana".into(),
            last_name: "Pérez".into(),
            document: "12".into(),
            birthdate: "1999-02-30".into(),
            number: 10_000,
        };
        let error = wire.clone().into_bet().unwrap_err();
        assert_eq!(error.field, Field::Birthdate);
        assert_eq!(BetFault::new(3, &error), BetFault { index: 3, field: 4 });
        let error = WireBet {
            birthdate: "1999-02-28".into(),
            ..wire
        }
        .into_bet()
        .unwrap_err();
        assert_eq!(BetFault::new(0, &error).field_name(), "number");
    }
}
