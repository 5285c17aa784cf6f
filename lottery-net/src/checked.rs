//! The central's way of reading agency frames: a `Batch` frame's bets are
//! validated as they are decoded, where they lie in the frame's bytes, into
//! one [`BetBatch`], so no bet ever exists as a [`WireBet`](crate::WireBet)
//! with a `String` per field (nor as a `lottery_bet::Bet`), and no frame
//! holds a batch that was not checked.
//!
//! [`Decoder::next_agency_frame`](crate::Decoder::next_agency_frame) yields an
//! [`AgencyFrame`]: the one way agency frames are decoded. A batch with an
//! invalid bet is refused whole, by the first invalid bet's index and field.

use lottery_bet::{BetBatch, FieldError};

use crate::message::ErrorFrame;

/// A frame from an agency, as the central reads it: a `Batch` arrives with
/// its bets validated ([`CheckedBatch`]); there is no way to hold an
/// unchecked one.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AgencyFrame {
    /// The first frame of a connection: who is speaking, in which version.
    Hello {
        /// The protocol version the agency speaks.
        version: u16,
        /// The agency id.
        agency: u32,
    },
    /// A batch of bets, validated.
    Batch(CheckedBatch),
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

impl AgencyFrame {
    /// The frame's message name, as `PROTOCOL.md` and the logs spell it (the
    /// same as [`AgencyMessage::name`](crate::AgencyMessage::name)).
    ///
    /// ```
    /// use lottery_net::AgencyFrame;
    /// assert_eq!(AgencyFrame::Finish { bets_sent: 3 }.name(), "Finish");
    /// ```
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Hello { .. } => "Hello",
            Self::Batch(_) => "Batch",
            Self::Finish { .. } => "Finish",
            Self::WinnersQuery { .. } => "WinnersQuery",
        }
    }
}

/// A `Batch` frame whose bets were validated as they were decoded.
///
/// ```
/// use lottery_bet::Bet;
/// use lottery_net::{AgencyFrame, BatchBuilder, Decoder, Pushed, DEFAULT_MAX_FRAME};
/// let bet = Bet::from_fields("Ana", "Pérez", "30904465", "1999-03-17", "7574").unwrap();
/// let mut batch = BatchBuilder::new(DEFAULT_MAX_FRAME, None);
/// assert_eq!(batch.try_push(&bet).unwrap(), Pushed::Added);
/// let mut frame = Vec::new();
/// batch.finish(7, &mut frame);
///
/// let mut decoder = Decoder::new(DEFAULT_MAX_FRAME);
/// decoder.extend(&frame);
/// let Some(AgencyFrame::Batch(checked)) = decoder.next_agency_frame().unwrap() else {
///     panic!("a batch");
/// };
/// assert_eq!((checked.batch, checked.count), (7, 1));
/// assert_eq!(checked.bets.unwrap().to_bets(), [bet]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedBatch {
    /// The batch's sequence number.
    pub batch: u64,
    /// How many bets the frame held (valid or not).
    pub count: usize,
    /// Every bet, validated, in one buffer (the frame's bytes); or the first
    /// invalid one (the batch is then refused whole).
    pub bets: Result<BetBatch, InvalidBet>,
}

/// The first invalid bet of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidBet {
    /// The bet's index in its batch, from 0.
    pub index: u32,
    /// Which field is wrong, and why.
    pub error: FieldError,
}

impl InvalidBet {
    /// The `Error` frame that refuses the batch because of this bet.
    pub fn error_frame(&self) -> ErrorFrame {
        ErrorFrame::invalid_bet(self.index, &self.error)
    }
}
