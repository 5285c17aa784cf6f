//! The slow reference path for agency frames, an oracle for tests,
//! benchmarks and fuzz targets only: compiled under `cfg(test)` or the
//! `test-support` feature (which only dev-dependencies and the fuzz crate
//! enable), never into the central.
//!
//! It decodes an agency frame to an [`AgencyMessage`], a `String` per text
//! field ([`Decoder::next_agency_message`]), validates wire bets one by one
//! ([`WireBet::into_bet`], [`CheckedBatch::from_wire`]), and turns a message
//! into the frame the central's path yields (`From<AgencyMessage> for
//! AgencyFrame`). That path, [`Decoder::next_agency_frame`], must agree with
//! it on every input: the same frames, the same errors, the same bytes
//! consumed, the same bets or the same first invalid bet (`tests/checked.rs`
//! and the `frame_decoder` fuzz target check it). Each message type is
//! parsed here on its own, field by field, so the two paths share only the
//! field primitives of [`crate::frame`].

use lottery_bet::{Bet, BetBatch, FieldError};

use crate::checked::{AgencyFrame, CheckedBatch, InvalidBet};
use crate::decoder::Decoder;
use crate::error::DecodeError;
use crate::frame::{FieldReader, MIN_BET_LEN, kind};
use crate::message::{AgencyMessage, WireBet};

impl Decoder {
    /// The next message from an agency, once its whole frame is buffered;
    /// `Ok(None)` while it is incomplete. Consumes exactly one frame.
    ///
    /// # Errors
    /// [`DecodeError`] when the bytes are not a valid agency frame.
    pub fn next_agency_message(&mut self) -> Result<Option<AgencyMessage>, DecodeError> {
        self.next_with(parse_agency)
    }
}

fn parse_agency(kind: u8, body: &[u8]) -> Result<AgencyMessage, DecodeError> {
    let message = match kind {
        kind::HELLO => {
            let mut fields = FieldReader::new("Hello", body);
            let message = AgencyMessage::Hello {
                version: fields.u16("version")?,
                agency: fields.u32("agency")?,
            };
            fields.finish()?;
            message
        }
        kind::BATCH => {
            let mut fields = FieldReader::new("Batch", body);
            let batch = fields.u64("batch")?;
            let count = fields.count("count", "bets", MIN_BET_LEN)?;
            let mut bets = Vec::with_capacity(count);
            for index in 0..count {
                let mut bet = || {
                    Ok(WireBet {
                        first_name: fields.short_text("first_name")?,
                        last_name: fields.short_text("last_name")?,
                        document: fields.short_text("document")?,
                        birthdate: fields.short_text("birthdate")?,
                        number: fields.u16("number")?,
                    })
                };
                bets.push(bet().map_err(|e: DecodeError| e.inside_item("bet", index, count))?);
            }
            fields.finish()?;
            AgencyMessage::Batch { batch, bets }
        }
        kind::FINISH => {
            let mut fields = FieldReader::new("Finish", body);
            let message = AgencyMessage::Finish {
                bets_sent: fields.u64("bets_sent")?,
            };
            fields.finish()?;
            message
        }
        kind::WINNERS_QUERY => {
            let mut fields = FieldReader::new("WinnersQuery", body);
            let message = AgencyMessage::WinnersQuery {
                wait: fields.flag("wait")?,
            };
            fields.finish()?;
            message
        }
        kind => return Err(DecodeError::UnknownType { kind }),
    };
    Ok(message)
}

impl WireBet {
    /// Validates the fields into a [`Bet`].
    ///
    /// # Errors
    /// The first invalid field, in the order first name, last name, document,
    /// birthdate, number.
    pub fn into_bet(self) -> Result<Bet, FieldError> {
        Bet::from_parts(
            &self.first_name,
            &self.last_name,
            &self.document,
            self.birthdate.as_bytes(),
            u32::from(self.number),
        )
    }
}

impl CheckedBatch {
    /// Validates decoded wire bets the slow way (one `String` per field
    /// first): the same value [`Decoder::next_agency_frame`] yields for the
    /// frame of `AgencyMessage::Batch { batch, bets }`.
    pub fn from_wire(batch: u64, bets: Vec<WireBet>) -> Self {
        let count = bets.len();
        let mut valid = Vec::with_capacity(count);
        for (index, wire) in bets.into_iter().enumerate() {
            match wire.into_bet() {
                Ok(bet) => valid.push(bet),
                Err(error) => {
                    let index = u32::try_from(index).unwrap_or(u32::MAX);
                    return Self {
                        batch,
                        count,
                        bets: Err(InvalidBet { index, error }),
                    };
                }
            }
        }
        Self {
            batch,
            count,
            bets: Ok(BetBatch::from_bets(&valid)),
        }
    }
}

impl From<AgencyMessage> for AgencyFrame {
    fn from(message: AgencyMessage) -> Self {
        match message {
            AgencyMessage::Hello { version, agency } => Self::Hello { version, agency },
            AgencyMessage::Batch { batch, bets } => {
                Self::Batch(CheckedBatch::from_wire(batch, bets))
            }
            AgencyMessage::Finish { bets_sent } => Self::Finish { bets_sent },
            AgencyMessage::WinnersQuery { wait } => Self::WinnersQuery { wait },
        }
    }
}
