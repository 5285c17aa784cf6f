//! Messages to bytes, appended to a caller's buffer.
//!
//! Every encoder computes the frame's size first and checks it (and every
//! field's length) before writing, so an error leaves the buffer untouched.
//! No sockets here: the caller writes the buffer however it likes.

use lottery_bet::ResumePoint;

use crate::batch::{put_batch_header, put_wire_bet, wire_bet_len};
use crate::error::EncodeError;
use crate::frame::{
    BATCH_HEADER_LEN, HEADER_LEN, LENGTH_PREFIX, MAX_LONG_TEXT, checked_short_len, kind,
    put_header, put_long_text, put_short_text, put_u8, put_u16, put_u32, put_u64, short_text_len,
};
use crate::message::{AgencyMessage, CentralMessage, ErrorFrame};

/// Bytes of a `Winners` frame before its first document (header, last, count).
pub(crate) const WINNERS_HEADER_LEN: usize = HEADER_LEN + 1 + 4;

/// The largest frame the length prefix can describe.
const MAX_DESCRIBABLE: usize = LENGTH_PREFIX + u32::MAX as usize;

fn check_limit(message: &'static str, len: usize, max_frame: usize) -> Result<(), EncodeError> {
    let max = max_frame.min(MAX_DESCRIBABLE);
    if len > max {
        return Err(EncodeError::FrameTooLarge { message, len, max });
    }
    Ok(())
}

/// A count of items in a checked frame: bounded by the frame's length.
fn count(items: usize) -> u32 {
    u32::try_from(items).expect("items take a byte or more of a checked frame")
}

impl AgencyMessage {
    /// The size of this message's frame, length prefix included.
    ///
    /// # Errors
    /// [`EncodeError::FieldTooLong`] when a text is over its prefix's limit.
    pub fn encoded_len(&self) -> Result<usize, EncodeError> {
        Ok(match self {
            Self::Hello { .. } => HEADER_LEN + 2 + 4,
            Self::Batch { bets, .. } => bets
                .iter()
                .try_fold(BATCH_HEADER_LEN, |len, bet| Ok(len + wire_bet_len(bet)?))?,
            Self::Finish { .. } => HEADER_LEN + 8,
            Self::WinnersQuery { .. } => HEADER_LEN + 1,
        })
    }
}

impl CentralMessage {
    /// The size of this message's frame, length prefix included.
    ///
    /// # Errors
    /// [`EncodeError::FieldTooLong`] when a text is over its prefix's limit.
    pub fn encoded_len(&self) -> Result<usize, EncodeError> {
        Ok(match self {
            Self::Welcome { .. } => HEADER_LEN + WELCOME_LEN,
            Self::SignedWelcome { head, .. } => HEADER_LEN + WELCOME_LEN + signed_head_len(head),
            Self::Ack { .. } => HEADER_LEN + 8 + 8,
            Self::Finished { .. } => HEADER_LEN + 8,
            Self::SignedAck { head, .. } => HEADER_LEN + 8 + 8 + DIGEST_LEN + signed_head_len(head),
            Self::SignedFinished { head, .. } => HEADER_LEN + 8 + signed_head_len(head),
            Self::SignedDraw { secret, head, .. } => {
                HEADER_LEN
                    + 8
                    + 32
                    + 2
                    + 1
                    + secret.map_or(0, |secret| secret.len())
                    + signed_head_len(head)
            }
            Self::Winners { documents, .. } => documents
                .iter()
                .try_fold(WINNERS_HEADER_LEN, |len, document| {
                    Ok(len + checked_short_len("document", document.len())?)
                })?,
            Self::NotDrawn => HEADER_LEN,
            Self::Error(error) => error_len(error)?,
        })
    }
}

fn error_len(error: &ErrorFrame) -> Result<usize, EncodeError> {
    if error.message.len() > MAX_LONG_TEXT {
        return Err(EncodeError::FieldTooLong {
            field: "message",
            len: error.message.len(),
            max: MAX_LONG_TEXT,
        });
    }
    let fault = if error.bet.is_some() { 4 + 1 } else { 0 };
    Ok(HEADER_LEN + 2 + 1 + fault + 2 + error.message.len())
}

/// Appends `message` as one frame to `out` and returns the frame's size.
///
/// ```
/// use lottery_net::{encode_agency_message, AgencyMessage, DEFAULT_MAX_FRAME};
/// let mut out = Vec::new();
/// let hello = AgencyMessage::Hello { version: 2, agency: 3 };
/// let written = encode_agency_message(&hello, DEFAULT_MAX_FRAME, &mut out).unwrap();
/// assert_eq!(written, out.len());
/// assert_eq!(out, [0, 0, 0, 7, 0x01, 0, 2, 0, 0, 0, 3]);
/// ```
///
/// # Errors
/// [`EncodeError`] when the frame would be over `max_frame` or a field over its
/// prefix's limit; `out` is then unchanged.
pub fn encode_agency_message(
    message: &AgencyMessage,
    max_frame: usize,
    out: &mut Vec<u8>,
) -> Result<usize, EncodeError> {
    let len = message.encoded_len()?;
    check_limit(message.name(), len, max_frame)?;
    out.reserve(len);
    match message {
        AgencyMessage::Hello { version, agency } => {
            put_header(out, len, kind::HELLO);
            put_u16(out, *version);
            put_u32(out, *agency);
        }
        AgencyMessage::Batch { batch, bets } => {
            put_batch_header(out, len, *batch, bets.len());
            for bet in bets {
                put_wire_bet(out, bet);
            }
        }
        AgencyMessage::Finish { bets_sent } => {
            put_header(out, len, kind::FINISH);
            put_u64(out, *bets_sent);
        }
        AgencyMessage::WinnersQuery { wait } => {
            put_header(out, len, kind::WINNERS_QUERY);
            put_u8(out, u8::from(*wait));
        }
    }
    Ok(len)
}

/// Appends `message` as one frame to `out` and returns the frame's size.
///
/// ```
/// use lottery_net::{encode_central_message, CentralMessage, DEFAULT_MAX_FRAME};
/// let mut out = Vec::new();
/// let ack = CentralMessage::Ack { batch: 2, bets_stored: 300 };
/// assert_eq!(encode_central_message(&ack, DEFAULT_MAX_FRAME, &mut out).unwrap(), 21);
/// ```
///
/// # Errors
/// [`EncodeError`] when the frame would be over `max_frame` or a field over its
/// prefix's limit; `out` is then unchanged. A winners list too long for one
/// frame is split by [`encode_winners`].
pub fn encode_central_message(
    message: &CentralMessage,
    max_frame: usize,
    out: &mut Vec<u8>,
) -> Result<usize, EncodeError> {
    let len = message.encoded_len()?;
    check_limit(message.name(), len, max_frame)?;
    out.reserve(len);
    match message {
        CentralMessage::Welcome {
            last_batch,
            bets_stored,
            finished,
            rows_crc,
        } => {
            put_header(out, len, kind::WELCOME);
            put_welcome(
                out,
                &ResumePoint {
                    last_batch: *last_batch,
                    bets_stored: *bets_stored,
                    finished: *finished,
                    rows_crc: *rows_crc,
                },
            );
        }
        CentralMessage::SignedWelcome { resume, head } => {
            put_header(out, len, kind::SIGNED_WELCOME);
            put_welcome(out, resume);
            put_signed_head(out, head);
        }
        CentralMessage::Ack { batch, bets_stored } => {
            put_header(out, len, kind::ACK);
            put_u64(out, *batch);
            put_u64(out, *bets_stored);
        }
        CentralMessage::Finished { bets_stored } => {
            put_header(out, len, kind::FINISHED);
            put_u64(out, *bets_stored);
        }
        CentralMessage::SignedAck {
            batch,
            bets_stored,
            digest,
            head,
        } => {
            put_header(out, len, kind::SIGNED_ACK);
            put_u64(out, *batch);
            put_u64(out, *bets_stored);
            put_u32(out, digest.rows_crc());
            put_u32(out, u32::try_from(digest.rows_len()).unwrap_or(u32::MAX));
            put_u32(out, u32::try_from(digest.bets()).unwrap_or(u32::MAX));
            put_signed_head(out, head);
        }
        CentralMessage::SignedFinished { bets_stored, head } => {
            put_header(out, len, kind::SIGNED_FINISHED);
            put_u64(out, *bets_stored);
            put_signed_head(out, head);
        }
        CentralMessage::SignedDraw {
            bets,
            winners,
            winning_number,
            secret,
            head,
        } => {
            put_header(out, len, kind::SIGNED_DRAW);
            put_u64(out, *bets);
            out.extend_from_slice(winners);
            put_u16(out, *winning_number);
            put_u8(out, u8::from(secret.is_some()));
            if let Some(secret) = secret {
                out.extend_from_slice(secret);
            }
            put_signed_head(out, head);
        }
        CentralMessage::Winners { documents, last } => {
            put_winners(out, len, documents, *last);
        }
        CentralMessage::NotDrawn => put_header(out, len, kind::NOT_DRAWN),
        CentralMessage::Error(error) => {
            put_header(out, len, kind::ERROR);
            put_u16(out, error.code.code());
            match error.bet {
                Some(fault) => {
                    put_u8(out, 1);
                    put_u32(out, fault.index);
                    put_u8(out, fault.field);
                }
                None => put_u8(out, 0),
            }
            put_long_text(out, &error.message);
        }
    }
    Ok(len)
}

/// A welcome's fields' bytes: `last_batch`, `bets_stored`, the `finished`
/// and `rows_crc_known` flags, `rows_crc`.
const WELCOME_LEN: usize = 8 + 8 + 1 + 1 + 4;

/// Writes a welcome's fields (`Welcome`, and `SignedWelcome` before its
/// head): an unknown CRC is sent as 0, flagged unknown.
fn put_welcome(out: &mut Vec<u8>, resume: &ResumePoint) {
    put_u64(out, resume.last_batch);
    put_u64(out, resume.bets_stored);
    put_u8(out, u8::from(resume.finished));
    put_u8(out, u8::from(resume.rows_crc.is_some()));
    put_u32(out, resume.rows_crc.unwrap_or(0));
}

/// A batch digest's bytes: rows' CRC32C, their length, the bets (`u32`
/// each; a batch fits a frame, so both counts fit).
const DIGEST_LEN: usize = 4 + 4 + 4;
/// A signed head's bytes: agencies `u32`, the `committed` flag, then the
/// winning number `u16` or the commitment's 32 bytes, position `u64`, chain
/// 32 bytes, signature 64 bytes.
fn signed_head_len(head: &lottery_tls::SignedHead) -> usize {
    4 + head.statement.winning.encoded_len() + 8 + 32 + 64
}

fn put_signed_head(out: &mut Vec<u8>, head: &lottery_tls::SignedHead) {
    let statement = &head.statement;
    put_u32(out, statement.agencies);
    statement.winning.put(out);
    put_u64(out, statement.position);
    out.extend_from_slice(&statement.chain);
    out.extend_from_slice(&head.signature);
}

fn put_winners(out: &mut Vec<u8>, len: usize, documents: &[impl AsRef<str>], last: bool) {
    put_header(out, len, kind::WINNERS);
    put_u8(out, u8::from(last));
    put_u32(out, count(documents.len()));
    for document in documents {
        put_short_text(out, document.as_ref().as_bytes());
    }
}

/// Appends an agency's whole winners list to `out` as `Winners` frames, as
/// many as needed to stay within `max_frame`, the last one flagged; an empty
/// list is one empty last frame. Returns the bytes written.
///
/// ```
/// use lottery_net::{encode_winners, Decoder, CentralMessage};
/// let documents: Vec<String> = (0..100).map(|n| format!("{n:08}")).collect();
/// let mut out = Vec::new();
/// let written = encode_winners(&documents, 256, &mut out).unwrap();
/// assert_eq!(written, out.len());
/// let mut decoder = Decoder::new(256);
/// decoder.extend(&out);
/// let mut received = Vec::new();
/// while let Some(CentralMessage::Winners { documents, last }) = decoder.next_central_message().unwrap() {
///     received.extend(documents);
///     if last { break; }
/// }
/// assert_eq!(received, documents);
/// ```
///
/// # Errors
/// [`EncodeError`] when a document is over 255 bytes or cannot fit a frame
/// even alone; `out` is then unchanged.
pub fn encode_winners(
    documents: &[impl AsRef<str>],
    max_frame: usize,
    out: &mut Vec<u8>,
) -> Result<usize, EncodeError> {
    check_limit("Winners", WINNERS_HEADER_LEN, max_frame)?;
    for document in documents {
        let len = checked_short_len("document", document.as_ref().len())?;
        check_limit("Winners", WINNERS_HEADER_LEN + len, max_frame)?;
    }
    let max = max_frame.min(MAX_DESCRIBABLE);
    let before = out.len();
    let mut rest = documents;
    loop {
        let mut len = WINNERS_HEADER_LEN;
        let mut take = 0;
        for document in rest {
            let document_len = short_text_len(document.as_ref().as_bytes());
            if len + document_len > max {
                break;
            }
            len += document_len;
            take += 1;
        }
        let (frame, tail) = rest.split_at(take);
        put_winners(out, len, frame, tail.is_empty());
        rest = tail;
        if rest.is_empty() {
            break;
        }
    }
    Ok(out.len() - before)
}
