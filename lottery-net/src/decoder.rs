//! The incremental decoder: bytes in as they arrive, whole messages out.
//!
//! Decoding is two steps (is a whole frame buffered? then parse it and
//! consume exactly its bytes). "Not enough bytes yet" is `Ok(None)`. The
//! declared length is checked against the limit as soon as the four length
//! bytes are in, and nothing is ever allocated from a declared length or
//! count: the buffer only grows by what was actually read, and never beyond
//! the current frame plus one read chunk ([`Decoder::max_buffered`]).

use std::io::{self, Read};
use std::ops::Range;

use lottery_bet::{BetBatch, BetBatchBuilder, ResumePoint, frame_bet};

use crate::checked::{AgencyFrame, CheckedBatch, InvalidBet};
use crate::error::DecodeError;
use crate::frame::{
    BATCH_HEADER_LEN, FieldReader, HEADER_LEN, LENGTH_PREFIX, MAX_SHORT_TEXT, MIN_BET_LEN, kind,
};
use crate::message::{BetFault, CentralMessage, ErrorCode, ErrorFrame};

/// The smallest and largest read a decoder asks of its source.
const MIN_READ_CHUNK: usize = 512;
const MAX_READ_CHUNK: usize = 64 * 1024;

/// Buffers bytes of one connection and yields its frames as messages.
///
/// ```
/// use lottery_net::{encode_agency_message, AgencyFrame, AgencyMessage, Decoder, DEFAULT_MAX_FRAME};
/// let mut bytes = Vec::new();
/// let finish = AgencyMessage::Finish { bets_sent: 12 };
/// encode_agency_message(&finish, DEFAULT_MAX_FRAME, &mut bytes).unwrap();
///
/// let mut decoder = Decoder::new(DEFAULT_MAX_FRAME);
/// decoder.extend(&bytes[..5]);
/// assert_eq!(decoder.next_agency_frame().unwrap(), None); // incomplete
/// decoder.extend(&bytes[5..]);
/// assert_eq!(decoder.next_agency_frame().unwrap(), Some(AgencyFrame::Finish { bets_sent: 12 }));
/// assert_eq!(decoder.buffered(), 0);
/// ```
#[derive(Debug)]
pub struct Decoder {
    max_frame: usize,
    read_chunk: usize,
    /// Bytes `start..end` are buffered; the rest is room already initialized
    /// (so reads go straight into it without zeroing each time).
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl Decoder {
    /// A decoder refusing frames over `max_frame` bytes (length prefix
    /// included). Each read asks for up to `max_frame` bytes (at least 512, at
    /// most 64 KiB). No memory is taken until bytes arrive.
    pub fn new(max_frame: usize) -> Self {
        Self {
            max_frame,
            read_chunk: max_frame.clamp(MIN_READ_CHUNK, MAX_READ_CHUNK),
            buf: Vec::new(),
            start: 0,
            end: 0,
        }
    }

    /// The frame limit.
    pub fn max_frame(&self) -> usize {
        self.max_frame
    }

    /// Bytes buffered and not yet decoded.
    pub fn buffered(&self) -> usize {
        self.end - self.start
    }

    /// The most [`Decoder::read_from`] ever buffers: one frame and one read
    /// chunk.
    pub fn max_buffered(&self) -> usize {
        self.max_frame.saturating_add(self.read_chunk)
    }

    /// Makes `room` bytes writable after the buffered ones, moving the
    /// buffered bytes to the front first when that is what makes room.
    fn make_room(&mut self, room: usize) {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.start > 0 && self.end + room > self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end + room > self.buf.len() {
            self.buf.resize(self.end + room, 0);
        }
    }

    /// Makes one `read` call on `source`, straight into the buffer, and
    /// returns its result: `Ok(0)` is the end of the stream; `WouldBlock` and
    /// `Interrupted` pass through for the caller to handle.
    ///
    /// # Errors
    /// The read's error; or, when the buffer already holds
    /// [`Decoder::max_buffered`] bytes because the caller did not decode the
    /// frames it holds, an error of kind `Other` (nothing is read).
    pub fn read_from(&mut self, source: &mut impl Read) -> io::Result<usize> {
        let room = self.read_chunk.min(self.max_buffered() - self.buffered());
        if room == 0 {
            return Err(io::Error::other(
                "the decoder is full: decode the buffered frames before reading more",
            ));
        }
        self.make_room(room);
        let read = source.read(&mut self.buf[self.end..self.end + room])?;
        // A reader claiming more than it was given breaks `Read`'s contract;
        // clamp rather than trust it.
        self.end += read.min(room);
        Ok(read)
    }

    /// Appends bytes that arrived some other way. Unlike
    /// [`Decoder::read_from`], this buffers whatever it is given: decode the
    /// frames in between to keep memory bounded.
    pub fn extend(&mut self, bytes: &[u8]) {
        self.make_room(bytes.len());
        self.buf[self.end..self.end + bytes.len()].copy_from_slice(bytes);
        self.end += bytes.len();
    }

    /// The type byte and body range of the next whole frame, if one is
    /// buffered.
    fn peek_frame(&self) -> Result<Option<(u8, Range<usize>)>, DecodeError> {
        let buffered = &self.buf[self.start..self.end];
        let Some(prefix) = buffered.first_chunk::<LENGTH_PREFIX>() else {
            return Ok(None);
        };
        let body_len = u32::from_be_bytes(*prefix);
        let declared = u64::from(body_len) + LENGTH_PREFIX as u64;
        if declared > self.max_frame as u64 {
            return Err(DecodeError::FrameTooLarge {
                declared,
                max: self.max_frame,
            });
        }
        if body_len == 0 {
            return Err(DecodeError::EmptyFrame);
        }
        // `declared` fits in usize: it is at most `max_frame`.
        let frame_len = declared as usize;
        if buffered.len() < frame_len {
            return Ok(None);
        }
        let body = self.start + LENGTH_PREFIX + 1..self.start + frame_len;
        Ok(Some((buffered[LENGTH_PREFIX], body)))
    }

    /// Decodes the next whole frame with `parse` and consumes it, even when
    /// its body does not parse (so the stream stays aligned on frames). A
    /// frame over the limit or of length 0 is not consumed: there is no way
    /// to trust what follows it.
    pub(crate) fn next_with<M>(
        &mut self,
        parse: impl FnOnce(u8, &[u8]) -> Result<M, DecodeError>,
    ) -> Result<Option<M>, DecodeError> {
        let Some((kind, body)) = self.peek_frame()? else {
            return Ok(None);
        };
        let end = body.end;
        let message = parse(kind, &self.buf[body]);
        self.start = end;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        message.map(Some)
    }

    /// The next frame from an agency, once its whole frame is buffered;
    /// `Ok(None)` while it is incomplete. Consumes exactly one frame. A
    /// batch's bets are validated as they are decoded, where they lie in
    /// the frame's bytes, into one [`BetBatch`] (see [`CheckedBatch`]).
    ///
    /// # Errors
    /// [`DecodeError`] when the bytes are not a valid agency frame (an
    /// invalid bet in a well-formed batch is not an error here: it is in
    /// [`CheckedBatch::bets`]). The connection should then be closed (see
    /// [`DecodeError::code`]).
    pub fn next_agency_frame(&mut self) -> Result<Option<AgencyFrame>, DecodeError> {
        self.next_with(parse_agency_frame)
    }

    /// The next message from the central, once its whole frame is buffered;
    /// `Ok(None)` while it is incomplete. Consumes exactly one frame.
    ///
    /// # Errors
    /// [`DecodeError`] when the bytes are not a valid central frame.
    pub fn next_central_message(&mut self) -> Result<Option<CentralMessage>, DecodeError> {
        self.next_with(parse_central)
    }
}

fn parse_agency_frame(kind: u8, body: &[u8]) -> Result<AgencyFrame, DecodeError> {
    let frame = match kind {
        kind::HELLO => {
            let mut fields = FieldReader::new("Hello", body);
            let frame = AgencyFrame::Hello {
                version: fields.u16("version")?,
                agency: fields.u32("agency")?,
            };
            fields.finish()?;
            frame
        }
        kind::BATCH => AgencyFrame::Batch(parse_checked_batch(body)?),
        kind::FINISH => {
            let mut fields = FieldReader::new("Finish", body);
            let frame = AgencyFrame::Finish {
                bets_sent: fields.u64("bets_sent")?,
            };
            fields.finish()?;
            frame
        }
        kind::WINNERS_QUERY => {
            let mut fields = FieldReader::new("WinnersQuery", body);
            let frame = AgencyFrame::WinnersQuery {
                wait: fields.flag("wait")?,
            };
            fields.finish()?;
            frame
        }
        kind => return Err(DecodeError::UnknownType { kind }),
    };
    Ok(frame)
}

/// A `Batch` body read field by field, each bet validated where its bytes
/// lie: the body is copied once into the batch's buffer
/// ([`BetBatch::builder_of_copy`]) and each bet's texts are checked there, in place
/// ([`lottery_bet::BetBatchBuilder::push`]: the core's rules, names by their
/// ASCII fast path, eight bytes at a time). A bet that passes holds only
/// UTF-8 texts, so a valid batch needs no separate UTF-8 pass; after the
/// first invalid bet the rest is still read and its texts checked UTF-8, so
/// a malformed frame is refused as malformed whatever its bets hold, with
/// the error the reference decoding (a `String` per field, read in order)
/// gives.
fn parse_checked_batch(body: &[u8]) -> Result<CheckedBatch, DecodeError> {
    let mut fields = FieldReader::new("Batch", body);
    let batch = fields.u64("batch")?;
    let count = fields.count("count", "bets", MIN_BET_LEN)?;
    let mut bets = BetBatch::builder_of_copy(body, count);
    let mut invalid = None;
    // While a whole bet of any length fits in what is left, its fields are
    // read from a window of that size with no truncation check; the rest
    // of the body (its last kilobyte at most) is read field by field, from
    // where the window stopped, with the reference's errors.
    // The bets start after the batch number and the count.
    let mut at = BATCH_HEADER_LEN - HEADER_LEN;
    let mut tail: Option<FieldReader<'_>> = None;
    for index in 0..count {
        if tail.is_none()
            && let Some((bet, next)) = read_bet_in_window(body, at)
        {
            at = next;
            check_framed_bet(&mut bets, &mut invalid, &fields, body, bet, index)?;
            continue;
        }
        let rest = &body[at..];
        let fields_left = tail.get_or_insert_with(|| FieldReader::new("Batch", rest));
        let mut bet =
            read_bet(fields_left, rest).map_err(|error| error.inside_item("bet", index, count))?;
        for text in &mut bet.texts {
            *text = at + text.start..at + text.end;
        }
        check_bet(&mut bets, &mut invalid, &fields, body, bet, index)?;
    }
    tail.unwrap_or_else(|| FieldReader::new("Batch", &body[at..]))
        .finish()?;
    let bets = match invalid {
        None => Ok(bets.finish()),
        Some(invalid) => Err(invalid),
    };
    Ok(CheckedBatch { batch, count, bets })
}

/// The most bytes a bet takes in a `Batch` frame: four texts of the
/// longest, each after its length byte, and the number.
const MAX_BET_LEN: usize = 4 * (1 + MAX_SHORT_TEXT) + 2;

/// The bet at `at` of `body` and where the next one starts, when
/// [`MAX_BET_LEN`] bytes are left there (so none of its fields can be cut
/// short: the reading needs no check but the window's); `None` otherwise.
#[inline(always)]
fn read_bet_in_window(body: &[u8], at: usize) -> Option<(FramedBet, usize)> {
    let window: &[u8; MAX_BET_LEN] = body.get(at..at + MAX_BET_LEN)?.try_into().ok()?;
    let mut lens = [0u8; 4];
    let mut read = 0;
    for len in &mut lens {
        *len = window[read];
        read += 1 + usize::from(*len);
    }
    let number = u16::from_be_bytes([window[read], window[read + 1]]);
    let bet = FramedBet {
        start: at + 1,
        lens,
        number,
    };
    Some((bet, at + read + 2))
}

/// One bet as a `Batch` frame lays it: its first name at `start`, each
/// text after the one before and its length byte, `lens` bytes long.
struct FramedBet {
    start: usize,
    lens: [u8; 4],
    number: u16,
}

impl FramedBet {
    /// Where its texts lie.
    fn ranges(&self) -> [Range<usize>; 4] {
        frame_bet::texts(self.start, self.lens)
    }
}

/// [`check_bet`] of a bet read from the window: its texts lie as a frame
/// lays them ([`BetBatchBuilder::push_framed`]).
///
/// # Errors
/// As [`check_bet`].
#[inline(always)]
fn check_framed_bet(
    bets: &mut BetBatchBuilder,
    invalid: &mut Option<InvalidBet>,
    fields: &FieldReader<'_>,
    body: &[u8],
    bet: FramedBet,
    index: usize,
) -> Result<(), DecodeError> {
    if invalid.is_none() {
        match bets.push_framed(bet.start, bet.lens, bet.number.into()) {
            Ok(()) => return Ok(()),
            Err(error) => {
                let index = u32::try_from(index).expect("the count is a u32");
                *invalid = Some(InvalidBet { index, error });
            }
        }
    }
    match first_not_utf8(fields, body, &bet.ranges()) {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

/// Checks one bet read from the frame (the `index`th) into `bets`, unless
/// one before it was invalid; the first invalid one is kept in `invalid`.
///
/// # Errors
/// The protocol's error when a text of a bet that is not checked (the
/// refused one and those after it) is not UTF-8.
#[inline(always)]
fn check_bet(
    bets: &mut BetBatchBuilder,
    invalid: &mut Option<InvalidBet>,
    fields: &FieldReader<'_>,
    body: &[u8],
    bet: BetRanges,
    index: usize,
) -> Result<(), DecodeError> {
    if invalid.is_none() {
        let [first_name, last_name, document, birthdate] = bet.texts.clone();
        match bets.push(
            first_name,
            last_name,
            document,
            birthdate,
            bet.number.into(),
        ) {
            Ok(()) => return Ok(()),
            Err(error) => {
                let index = u32::try_from(index).expect("the count is a u32");
                *invalid = Some(InvalidBet { index, error });
            }
        }
    }
    // The refused bet and every one after it: only the protocol's check
    // (text is UTF-8) is left.
    match first_not_utf8(fields, body, &bet.texts) {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

/// The text fields of a bet, in frame order.
const TEXT_FIELDS: [&str; 4] = ["first_name", "last_name", "document", "birthdate"];

/// One bet's fields as the frame holds them: where its texts lie in the
/// body, and its number.
struct BetRanges {
    texts: [Range<usize>; 4],
    number: u16,
}

/// Reads one bet's fields. When one is cut short, a text before it in the
/// bet that is not UTF-8 is the error instead (the reference checks each
/// text as it reads it).
#[inline(always)]
fn read_bet(fields: &mut FieldReader<'_>, body: &[u8]) -> Result<BetRanges, DecodeError> {
    let mut texts = [0..0, 0..0, 0..0, 0..0];
    for (read, field) in TEXT_FIELDS.into_iter().enumerate() {
        match fields.short_range(field) {
            Ok(range) => texts[read] = range,
            Err(error) => return Err(cut_short(fields, body, &texts[..read], error)),
        }
    }
    match fields.u16("number") {
        Ok(number) => Ok(BetRanges { texts, number }),
        Err(error) => Err(cut_short(fields, body, &texts, error)),
    }
}

/// The error of a bet cut short after the texts `read`.
#[cold]
fn cut_short(
    fields: &FieldReader<'_>,
    body: &[u8],
    read: &[Range<usize>],
    error: DecodeError,
) -> DecodeError {
    first_not_utf8(fields, body, read).unwrap_or(error)
}

/// The first of the texts `texts` (of [`TEXT_FIELDS`], in order) that is
/// not UTF-8, as the protocol's error.
fn first_not_utf8(
    fields: &FieldReader<'_>,
    body: &[u8],
    texts: &[Range<usize>],
) -> Option<DecodeError> {
    texts
        .iter()
        .zip(TEXT_FIELDS)
        .find_map(|(range, field)| fields.utf8(&body[range.clone()], field).err())
}

/// A signed chain head's fields (`PROTOCOL.md`, `SignedAck`).
fn signed_head(fields: &mut FieldReader<'_>) -> Result<lottery_tls::SignedHead, DecodeError> {
    Ok(lottery_tls::SignedHead {
        statement: lottery_tls::ChainStatement {
            agencies: fields.u32("agencies")?,
            winning: if fields.flag("committed")? {
                lottery_tls::WinningRule::Committed(fields.bytes::<32>("commitment")?)
            } else {
                lottery_tls::WinningRule::Fixed(fields.u16("winning_number")?)
            },
            position: fields.u64("position")?,
            chain: fields.bytes::<32>("chain")?,
        },
        signature: fields.bytes::<64>("signature")?,
    })
}

/// A welcome's fields (`PROTOCOL.md`, `Welcome`), of the frame `message`:
/// `last_batch`, `bets_stored`, `finished`, `rows_crc`.
fn welcome(
    fields: &mut FieldReader<'_>,
    message: &'static str,
) -> Result<ResumePoint, DecodeError> {
    let last_batch = fields.u64("last_batch")?;
    let bets_stored = fields.u64("bets_stored")?;
    let finished = fields.flag("finished")?;
    let known = fields.flag("rows_crc_known")?;
    let crc = fields.u32("rows_crc")?;
    // An unknown CRC is sent as 0: anything else is not a frame this
    // version writes.
    let rows_crc = match (known, crc) {
        (true, crc) => Some(crc),
        (false, 0) => None,
        (false, _) => {
            return Err(DecodeError::AbsentNotZero {
                message,
                field: "rows_crc",
            });
        }
    };
    Ok(ResumePoint {
        last_batch,
        bets_stored,
        finished,
        rows_crc,
    })
}

fn parse_central(kind: u8, body: &[u8]) -> Result<CentralMessage, DecodeError> {
    let message = match kind {
        kind::WELCOME => {
            let mut fields = FieldReader::new("Welcome", body);
            let ResumePoint {
                last_batch,
                bets_stored,
                finished,
                rows_crc,
            } = welcome(&mut fields, "Welcome")?;
            fields.finish()?;
            CentralMessage::Welcome {
                last_batch,
                bets_stored,
                finished,
                rows_crc,
            }
        }
        kind::SIGNED_WELCOME => {
            let mut fields = FieldReader::new("SignedWelcome", body);
            let resume = welcome(&mut fields, "SignedWelcome")?;
            let head = signed_head(&mut fields)?;
            fields.finish()?;
            CentralMessage::SignedWelcome { resume, head }
        }
        kind::ACK => {
            let mut fields = FieldReader::new("Ack", body);
            let message = CentralMessage::Ack {
                batch: fields.u64("batch")?,
                bets_stored: fields.u64("bets_stored")?,
            };
            fields.finish()?;
            message
        }
        kind::FINISHED => {
            let mut fields = FieldReader::new("Finished", body);
            let message = CentralMessage::Finished {
                bets_stored: fields.u64("bets_stored")?,
            };
            fields.finish()?;
            message
        }
        kind::SIGNED_ACK => {
            let mut fields = FieldReader::new("SignedAck", body);
            let message = CentralMessage::SignedAck {
                batch: fields.u64("batch")?,
                bets_stored: fields.u64("bets_stored")?,
                digest: {
                    let crc = fields.u32("rows_crc")?;
                    let len = fields.u32("rows_len")?;
                    let bets = fields.u32("bets")?;
                    lottery_bet::BatchDigest::from_parts(crc, u64::from(len), u64::from(bets))
                },
                head: signed_head(&mut fields)?,
            };
            fields.finish()?;
            message
        }
        kind::SIGNED_FINISHED => {
            let mut fields = FieldReader::new("SignedFinished", body);
            let message = CentralMessage::SignedFinished {
                bets_stored: fields.u64("bets_stored")?,
                head: signed_head(&mut fields)?,
            };
            fields.finish()?;
            message
        }
        kind::SIGNED_DRAW => {
            let mut fields = FieldReader::new("SignedDraw", body);
            let message = CentralMessage::SignedDraw {
                bets: fields.u64("bets")?,
                winners: fields.bytes::<32>("winners")?,
                winning_number: fields.u16("winning_number")?,
                secret: if fields.flag("has_secret")? {
                    Some(fields.bytes::<32>("secret")?)
                } else {
                    None
                },
                head: signed_head(&mut fields)?,
            };
            fields.finish()?;
            message
        }
        kind::WINNERS => {
            let mut fields = FieldReader::new("Winners", body);
            let last = fields.flag("last")?;
            // A document takes at least its length byte.
            let count = fields.count("count", "documents", 1)?;
            let mut documents = Vec::with_capacity(count);
            for index in 0..count {
                let document = fields.short_text("document");
                documents.push(document.map_err(|e| e.inside_item("document", index, count))?);
            }
            fields.finish()?;
            CentralMessage::Winners { documents, last }
        }
        kind::NOT_DRAWN => {
            FieldReader::new("NotDrawn", body).finish()?;
            CentralMessage::NotDrawn
        }
        kind::ERROR => {
            let mut fields = FieldReader::new("Error", body);
            let code = ErrorCode::from_code(fields.u16("code")?);
            let bet = if fields.flag("has_bet")? {
                Some(BetFault {
                    index: fields.u32("bet_index")?,
                    field: fields.u8("bet_field")?,
                })
            } else {
                None
            };
            let message = fields.long_text("message")?;
            fields.finish()?;
            CentralMessage::Error(ErrorFrame { code, bet, message })
        }
        kind => return Err(DecodeError::UnknownType { kind }),
    };
    Ok(message)
}
