//! `Batch` frames: the one place their bytes are written. [`BatchBuilder`]
//! packs bets into frames, as many as fit the frame limit (or a configured
//! maximum of bets), for agencies and load generators;
//! [`encode_agency_message`](crate::encode_agency_message) writes an
//! `AgencyMessage::Batch` with the same functions (a bet's length, a bet, the
//! frame's header), so the two cannot disagree on a byte.
//!
//! The builder encodes each bet as it is pushed, so filling a frame costs
//! one pass over the bets and no intermediate `Vec<WireBet>`. One generic
//! encoding serves raw and validated bets (`BatchBet`); its small
//! accessors are `#[inline(always)]` because a release build splits the
//! crate into several codegen units, and a call per field costs more than
//! the field's copy (measured with callgrind when it was written).

use lottery_bet::{Bet, BetFields, Birthdate, PlainBet, frame_bet};

use crate::error::EncodeError;
use crate::frame::{
    BATCH_HEADER_LEN, LENGTH_PREFIX, MAX_SHORT_TEXT, checked_short_len, kind, put_header,
    put_short_text, put_u16, put_u32, put_u64,
};
use crate::message::WireBet;

/// A bet as a `Batch` frame carries it: a raw [`WireBet`] or a validated
/// [`Bet`] ([`ValidBet`]). Its fields are read as they are written (not
/// copied out first), so encoding one is a straight run of copies.
trait BatchBet {
    /// Whether the texts are known to fit their one-byte lengths (a
    /// validated bet's names have at most 255 bytes, its document 20): their
    /// lengths are then not checked again.
    const VALIDATED: bool;

    /// Field 1.
    fn first_name(&self) -> &[u8];
    /// Field 2.
    fn last_name(&self) -> &[u8];
    /// Field 3.
    fn document(&self) -> &[u8];
    /// Field 4, the text `YYYY-MM-DD` in a valid bet.
    fn birthdate(&self) -> impl AsRef<[u8]>;
    /// The length of [`BatchBet::birthdate`], without making the text (a
    /// validated date is written only once, as it is encoded).
    fn birthdate_len(&self) -> usize;
    /// Field 5.
    fn number(&self) -> u16;
}

impl BatchBet for WireBet {
    const VALIDATED: bool = false;

    #[inline(always)]
    fn first_name(&self) -> &[u8] {
        self.first_name.as_bytes()
    }

    #[inline(always)]
    fn last_name(&self) -> &[u8] {
        self.last_name.as_bytes()
    }

    #[inline(always)]
    fn document(&self) -> &[u8] {
        self.document.as_bytes()
    }

    #[inline(always)]
    fn birthdate(&self) -> impl AsRef<[u8]> {
        self.birthdate.as_bytes()
    }

    #[inline(always)]
    fn birthdate_len(&self) -> usize {
        self.birthdate.len()
    }

    #[inline(always)]
    fn number(&self) -> u16 {
        self.number
    }
}

/// A validated [`Bet`] with its texts looked up once (a compact string
/// takes a few instructions to find its bytes, and each text is read twice:
/// for its length, then to copy it).
struct ValidBet<'a> {
    first_name: &'a [u8],
    last_name: &'a [u8],
    document: &'a [u8],
    bet: &'a Bet,
}

impl<'a> ValidBet<'a> {
    #[inline(always)]
    fn new(bet: &'a Bet) -> Self {
        Self {
            first_name: bet.first_name.as_str().as_bytes(),
            last_name: bet.last_name.as_str().as_bytes(),
            document: bet.document.as_str().as_bytes(),
            bet,
        }
    }
}

impl BatchBet for ValidBet<'_> {
    const VALIDATED: bool = true;

    #[inline(always)]
    fn first_name(&self) -> &[u8] {
        self.first_name
    }

    #[inline(always)]
    fn last_name(&self) -> &[u8] {
        self.last_name
    }

    #[inline(always)]
    fn document(&self) -> &[u8] {
        self.document
    }

    #[inline(always)]
    fn birthdate(&self) -> impl AsRef<[u8]> {
        self.bet.birthdate.to_text()
    }

    #[inline(always)]
    fn birthdate_len(&self) -> usize {
        Birthdate::TEXT_LEN
    }

    #[inline(always)]
    fn number(&self) -> u16 {
        self.bet.number.get()
    }
}

/// Bet fields checked where they lie (an agency file's row): validated, so
/// their lengths fit.
impl BatchBet for BetFields<'_> {
    const VALIDATED: bool = true;

    #[inline(always)]
    fn first_name(&self) -> &[u8] {
        BetFields::first_name(self)
    }

    #[inline(always)]
    fn last_name(&self) -> &[u8] {
        BetFields::last_name(self)
    }

    #[inline(always)]
    fn document(&self) -> &[u8] {
        BetFields::document(self)
    }

    #[inline(always)]
    fn birthdate(&self) -> impl AsRef<[u8]> {
        BetFields::birthdate_text(self)
    }

    #[inline(always)]
    fn birthdate_len(&self) -> usize {
        Birthdate::TEXT_LEN
    }

    #[inline(always)]
    fn number(&self) -> u16 {
        BetFields::number(self).get()
    }
}

/// The bytes text `field` of a bet of type `B` takes.
#[inline(always)]
fn text_len<B: BatchBet>(field: &'static str, len: usize) -> Result<usize, EncodeError> {
    if B::VALIDATED {
        debug_assert!(len <= MAX_SHORT_TEXT, "a validated {field} fits");
        Ok(1 + len)
    } else {
        checked_short_len(field, len)
    }
}

/// The bytes `bet` takes in a `Batch` frame.
///
/// # Errors
/// [`EncodeError::FieldTooLong`] when a text is over 255 bytes.
#[inline(always)]
fn bet_len<B: BatchBet>(bet: &B) -> Result<usize, EncodeError> {
    Ok(text_len::<B>("first_name", bet.first_name().len())?
        + text_len::<B>("last_name", bet.last_name().len())?
        + text_len::<B>("document", bet.document().len())?
        + text_len::<B>("birthdate", bet.birthdate_len())?
        + frame_bet::NUMBER_LEN)
}

/// Writes `bet` in frame order; the caller checked its [`bet_len`].
#[inline(always)]
fn put_bet<B: BatchBet>(out: &mut Vec<u8>, bet: &B) {
    put_short_text(out, bet.first_name());
    put_short_text(out, bet.last_name());
    put_short_text(out, bet.document());
    put_short_text(out, bet.birthdate().as_ref());
    put_u16(out, bet.number());
}

/// The bytes `bet` takes in a `Batch` frame.
///
/// # Errors
/// [`EncodeError::FieldTooLong`] when a text is over 255 bytes.
#[inline]
pub(crate) fn wire_bet_len(bet: &WireBet) -> Result<usize, EncodeError> {
    bet_len(bet)
}

/// Writes `bet`; the caller checked its [`wire_bet_len`].
#[inline]
pub(crate) fn put_wire_bet(out: &mut Vec<u8>, bet: &WireBet) {
    put_bet(out, bet);
}

/// Writes the header of a `Batch` frame of `len` bytes (length prefix
/// included, checked against the limit) holding `count` bets.
#[inline]
pub(crate) fn put_batch_header(out: &mut Vec<u8>, len: usize, batch: u64, count: usize) {
    put_header(out, len, kind::BATCH);
    put_u64(out, batch);
    put_u32(
        out,
        u32::try_from(count).expect("bets take bytes of a bounded frame"),
    );
}

/// Whether a pushed bet went into the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a full batch did not take the bet: finish it and push the bet again"]
#[non_exhaustive]
pub enum Pushed {
    /// The bet is in the batch.
    Added,
    /// The batch is full (the frame limit or the bet maximum); the bet was not
    /// added. Finish the batch and push the bet into the next one.
    Full,
}

/// Packs bets into one `Batch` frame at a time.
///
/// ```
/// use lottery_bet::Bet;
/// use lottery_net::{AgencyFrame, BatchBuilder, Decoder, Pushed, DEFAULT_MAX_FRAME};
/// let bet = Bet::from_fields("Ana", "Pérez", "30904465", "1999-03-17", "7574").unwrap();
/// let mut batch = BatchBuilder::new(DEFAULT_MAX_FRAME, Some(2));
/// assert_eq!(batch.try_push(&bet).unwrap(), Pushed::Added);
/// assert_eq!(batch.try_push(&bet).unwrap(), Pushed::Added);
/// assert_eq!(batch.try_push(&bet).unwrap(), Pushed::Full);
///
/// let mut frame = Vec::new();
/// let written = batch.finish(1, &mut frame);
/// assert_eq!(written, frame.len());
/// assert!(batch.is_empty());
/// let mut decoder = Decoder::new(DEFAULT_MAX_FRAME);
/// decoder.extend(&frame);
/// match decoder.next_agency_frame().unwrap() {
///     Some(AgencyFrame::Batch(checked)) => {
///         assert_eq!((checked.batch, checked.count), (1, 2));
///         assert_eq!(checked.bets.unwrap().to_bets(), [bet.clone(), bet]);
///     }
///     other => panic!("{other:?}"),
/// }
/// ```
#[derive(Debug, Clone)]
pub struct BatchBuilder {
    max_frame: usize,
    max_bets: usize,
    /// The encoded bets of the batch being filled.
    bets: Vec<u8>,
    count: usize,
}

impl BatchBuilder {
    /// A builder filling frames up to `max_frame` bytes and, when given, up
    /// to `max_bets` bets (at least 1).
    pub fn new(max_frame: usize, max_bets: Option<usize>) -> Self {
        let max_frame = max_frame.min(LENGTH_PREFIX + u32::MAX as usize);
        Self {
            max_frame,
            max_bets: max_bets.map_or(usize::MAX, |max| max.max(1)),
            bets: Vec::with_capacity(max_frame.min(64 * 1024).saturating_sub(BATCH_HEADER_LEN)),
            count: 0,
        }
    }

    /// Bets in the batch.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether the batch holds no bet.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The size the batch's frame has now, length prefix included.
    pub fn frame_len(&self) -> usize {
        BATCH_HEADER_LEN + self.bets.len()
    }

    fn admit(&self, bet_len: usize) -> Result<Pushed, EncodeError> {
        if BATCH_HEADER_LEN + bet_len > self.max_frame {
            return Err(EncodeError::FrameTooLarge {
                message: "Batch",
                len: BATCH_HEADER_LEN + bet_len,
                max: self.max_frame,
            });
        }
        if self.count >= self.max_bets || self.frame_len() + bet_len > self.max_frame {
            return Ok(Pushed::Full);
        }
        Ok(Pushed::Added)
    }

    /// Adds a bet if it fits: a raw [`WireBet`] (its texts' lengths
    /// checked), a validated [`Bet`], a bet checked where it lies
    /// ([`BetFields`]: an agency file's row, never made a `Bet`), each
    /// encoded straight from its fields, or a bet encoded already
    /// ([`EncodedBet`]), copied.
    ///
    /// # Errors
    /// [`EncodeError`] when the bet could never fit a frame (a raw bet's
    /// text over 255 bytes, or a frame limit too small for this bet alone).
    #[inline]
    pub fn try_push<B: ToBatch + ?Sized>(&mut self, bet: &B) -> Result<Pushed, EncodeError> {
        bet.push_to(self)
    }

    /// [`BatchBuilder::try_push`] of a bet encoded already: a copy of its
    /// bytes.
    #[inline]
    fn push_encoded(&mut self, bet: EncodedBet<'_>) -> Result<Pushed, EncodeError> {
        let pushed = self.admit(bet.bytes.len())?;
        if pushed == Pushed::Added {
            self.bets.extend_from_slice(bet.bytes);
            self.count += 1;
        }
        Ok(pushed)
    }

    /// Adds as many bets from the front of `bets` as fit (the frame limit
    /// and the bet maximum), with one copy, and takes them from `bets`:
    /// the batch [`BatchBuilder::try_push`] would build from the
    /// same bets one by one (a proptest compares them), without a call and
    /// a copy per bet. [`Pushed::Added`] once `bets` is empty,
    /// [`Pushed::Full`] when its next bet did not fit.
    ///
    /// # Errors
    /// [`EncodeError::FrameTooLarge`] when the frame limit is too small for
    /// the next bet alone (the bets before it stay in the batch).
    pub fn try_push_encoded_run(
        &mut self,
        bets: &mut EncodedIter<'_>,
    ) -> Result<Pushed, EncodeError> {
        let rest = bets.rest;
        // `admit`'s tests, for the bets after the ones taken so far.
        let room = self.max_frame.saturating_sub(self.frame_len());
        let most = self.max_bets.saturating_sub(self.count);
        let (mut len, mut count) = (0, 0);
        let outcome = loop {
            if len == rest.len() {
                break Ok(Pushed::Added);
            }
            let bet_len = frame_bet::len_at(&rest[len..]);
            if BATCH_HEADER_LEN + bet_len > self.max_frame {
                break Err(EncodeError::FrameTooLarge {
                    message: "Batch",
                    len: BATCH_HEADER_LEN + bet_len,
                    max: self.max_frame,
                });
            }
            if count >= most || len + bet_len > room {
                break Ok(Pushed::Full);
            }
            len += bet_len;
            count += 1;
        };
        self.bets.extend_from_slice(&rest[..len]);
        self.count += count;
        bets.rest = &rest[len..];
        outcome
    }

    #[inline(always)]
    fn push<B: BatchBet>(&mut self, bet: &B) -> Result<Pushed, EncodeError> {
        let pushed = self.admit(bet_len(bet)?)?;
        if pushed == Pushed::Added {
            put_bet(&mut self.bets, bet);
            self.count += 1;
        }
        Ok(pushed)
    }

    /// Appends the batch as frame number `batch` to `out`, empties the
    /// builder for the next batch, and returns the frame's size.
    pub fn finish(&mut self, batch: u64, out: &mut Vec<u8>) -> usize {
        let len = self.frame_len();
        out.reserve(len);
        put_batch_header(out, len, batch, self.count);
        out.extend_from_slice(&self.bets);
        self.bets.clear();
        self.count = 0;
        len
    }
}

/// Validated bets in their `Batch` encoding, back to back: what an agency
/// holds between checking its file and sending it, so that each row is
/// parsed, checked and encoded once ([`EncodedBets::push_fields`]) and
/// sending copies bytes ([`BatchBuilder::try_push`]).
///
/// ```
/// use lottery_bet::{Bet, BetFields};
/// use lottery_net::{BatchBuilder, EncodedBets, Pushed, DEFAULT_MAX_FRAME};
/// let mut bets = EncodedBets::default();
/// bets.push_fields(&BetFields::check(b"Ana", b"Paz", b"007", b"1999-03-17", b"42")?);
/// let bet = bets.iter().next().unwrap();
/// assert_eq!((bet.document(), bet.number()), ("007", 42));
///
/// let (mut encoded, mut built) = (BatchBuilder::new(DEFAULT_MAX_FRAME, None), BatchBuilder::new(DEFAULT_MAX_FRAME, None));
/// assert_eq!(encoded.try_push(&bet).unwrap(), Pushed::Added);
/// let same = Bet::from_fields("Ana", "Paz", "007", "1999-03-17", "42")?;
/// assert_eq!(built.try_push(&same).unwrap(), Pushed::Added);
/// let (mut a, mut b) = (Vec::new(), Vec::new());
/// encoded.finish(1, &mut a);
/// built.finish(1, &mut b);
/// assert_eq!(a, b);
/// # Ok::<(), lottery_bet::FieldError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EncodedBets {
    bytes: Vec<u8>,
    count: usize,
}

impl EncodedBets {
    /// Room for about `bytes` bytes of encoded bets.
    pub fn with_capacity(bytes: usize) -> Self {
        Self {
            bytes: Vec::with_capacity(bytes),
            count: 0,
        }
    }

    /// Appends a bet checked where it lies.
    #[inline]
    pub fn push_fields(&mut self, bet: &BetFields<'_>) {
        put_bet(&mut self.bytes, bet);
        self.count += 1;
    }

    /// Appends a bet of a plain row ([`PlainBet`]), with the encoding of
    /// [`EncodedBets::push_fields`] (a test compares them) at the cost of
    /// one copy ([`frame_bet::put_plain`]).
    #[inline]
    pub fn push_plain(&mut self, bet: &PlainBet<'_>) {
        frame_bet::put_plain(&mut self.bytes, bet);
        self.count += 1;
    }

    /// Appends a validated bet.
    pub fn push_bet(&mut self, bet: &Bet) {
        put_bet(&mut self.bytes, &ValidBet::new(bet));
        self.count += 1;
    }

    /// How many bets there are.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether there is no bet.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The bets, in the order they were pushed.
    pub fn iter(&self) -> EncodedIter<'_> {
        EncodedIter { rest: &self.bytes }
    }
}

/// The bets of [`EncodedBets::iter`].
#[derive(Debug, Clone)]
pub struct EncodedIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for EncodedIter<'a> {
    type Item = EncodedBet<'a>;

    #[inline]
    fn next(&mut self) -> Option<EncodedBet<'a>> {
        if self.rest.is_empty() {
            return None;
        }
        let (bet, rest) = self.rest.split_at(frame_bet::len_at(self.rest));
        self.rest = rest;
        Some(EncodedBet { bytes: bet })
    }
}

/// One bet of [`EncodedBets`]: its bytes as a `Batch` frame carries them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodedBet<'a> {
    bytes: &'a [u8],
}

impl<'a> EncodedBet<'a> {
    /// The document (DNI).
    pub fn document(&self) -> &'a str {
        std::str::from_utf8(frame_bet::document(self.bytes))
            .expect("a validated document is ASCII digits")
    }

    /// The number played.
    pub fn number(&self) -> u16 {
        frame_bet::number(self.bytes)
    }
}

/// A bet a [`BatchBuilder`] can take ([`BatchBuilder::try_push`]): a raw
/// [`WireBet`], a validated [`Bet`], a [`BetFields`], or one encoded
/// already ([`EncodedBet`]). What [`crate::AgencyClient::send_bets`] sends.
pub trait ToBatch {
    /// Adds the bet to `builder` if it fits.
    ///
    /// # Errors
    /// [`EncodeError`] when the bet could never fit a frame (a raw bet's
    /// text over 255 bytes, or a frame limit too small for this bet alone).
    fn push_to(&self, builder: &mut BatchBuilder) -> Result<Pushed, EncodeError>;
}

impl ToBatch for WireBet {
    #[inline]
    fn push_to(&self, builder: &mut BatchBuilder) -> Result<Pushed, EncodeError> {
        builder.push(self)
    }
}

impl ToBatch for Bet {
    #[inline]
    fn push_to(&self, builder: &mut BatchBuilder) -> Result<Pushed, EncodeError> {
        builder.push(&ValidBet::new(self))
    }
}

impl ToBatch for BetFields<'_> {
    #[inline]
    fn push_to(&self, builder: &mut BatchBuilder) -> Result<Pushed, EncodeError> {
        builder.push(self)
    }
}

impl ToBatch for EncodedBet<'_> {
    #[inline]
    fn push_to(&self, builder: &mut BatchBuilder) -> Result<Pushed, EncodeError> {
        builder.push_encoded(*self)
    }
}

/// Bets as [`crate::AgencyClient::send_from`] takes them: a sequence it
/// packs into batches, either a bet at a time ([`PerBet`], over any
/// iterator of [`ToBatch`] items) or as many as fit at once (an
/// [`EncodedIter`]: the bets an agency holds encoded).
pub trait BatchSource {
    /// Skips the first `count` bets (the central stored them already);
    /// returns how many there were to skip (fewer at the end).
    fn skip_bets(&mut self, count: u64) -> u64;

    /// Fills `builder` with the next bets, as many as fit; returns how many
    /// it added and whether the source has no more.
    ///
    /// # Errors
    /// [`EncodeError::FrameTooLarge`] when the frame limit is too small for
    /// the next bet alone.
    fn fill(&mut self, builder: &mut BatchBuilder) -> Result<(u64, bool), EncodeError>;
}

impl BatchSource for EncodedIter<'_> {
    fn skip_bets(&mut self, count: u64) -> u64 {
        skip(self, count)
    }

    #[inline]
    fn fill(&mut self, builder: &mut BatchBuilder) -> Result<(u64, bool), EncodeError> {
        let before = builder.len();
        let pushed = builder.try_push_encoded_run(self)?;
        Ok(((builder.len() - before) as u64, pushed == Pushed::Added))
    }
}

/// Takes up to `count` items from `items`; returns how many there were
/// (fewer at the end): a [`BatchSource::skip_bets`] of an iterator.
fn skip(items: impl Iterator, count: u64) -> u64 {
    let taken = items
        .take(usize::try_from(count).unwrap_or(usize::MAX))
        .count();
    u64::try_from(taken).expect("a count of items fits u64")
}

/// Any iterator of bets as a [`BatchSource`], a bet at a time: what
/// [`crate::AgencyClient::send_bets`] sends.
#[derive(Debug)]
pub struct PerBet<I: Iterator> {
    bets: I,
    /// A bet that did not fit the last batch: it opens the next one.
    carried: Option<I::Item>,
}

impl<I: Iterator> PerBet<I> {
    /// The bets of `bets`, in order.
    pub fn new(bets: I) -> Self {
        Self {
            bets,
            carried: None,
        }
    }
}

impl<I> BatchSource for PerBet<I>
where
    I: Iterator,
    I::Item: ToBatch,
{
    fn skip_bets(&mut self, count: u64) -> u64 {
        let bets = std::iter::from_fn(|| self.carried.take().or_else(|| self.bets.next()));
        skip(bets, count)
    }

    #[inline]
    fn fill(&mut self, builder: &mut BatchBuilder) -> Result<(u64, bool), EncodeError> {
        let mut added = 0;
        while let Some(bet) = self.carried.take().or_else(|| self.bets.next()) {
            match bet.push_to(builder)? {
                Pushed::Added => added += 1,
                Pushed::Full => {
                    self.carried = Some(bet);
                    break;
                }
            }
        }
        Ok((added, self.carried.is_none()))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::message::AgencyMessage;
    use crate::{DEFAULT_MAX_FRAME, encode_agency_message};

    fn bet(document: &str) -> Bet {
        Bet::from_fields("Ana María", "Núñez", document, "0987-01-05", "42").unwrap()
    }

    #[test]
    fn a_validated_bet_encodes_like_its_wire_bet() {
        let bets = [bet("1"), bet("0012345678")];
        let mut from_bets = BatchBuilder::new(DEFAULT_MAX_FRAME, None);
        let mut from_wire = BatchBuilder::new(DEFAULT_MAX_FRAME, None);
        for bet in &bets {
            assert_eq!(from_bets.try_push(bet).unwrap(), Pushed::Added);
            assert_eq!(
                from_wire.try_push(&WireBet::from_bet(bet)).unwrap(),
                Pushed::Added
            );
        }
        let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
        from_bets.finish(9, &mut a);
        from_wire.finish(9, &mut b);
        let message = AgencyMessage::Batch {
            batch: 9,
            bets: bets.iter().map(WireBet::from_bet).collect(),
        };
        encode_agency_message(&message, DEFAULT_MAX_FRAME, &mut c).unwrap();
        assert_eq!(a, c);
        assert_eq!(b, c);
    }

    #[test]
    fn batches_fill_up_to_the_frame_limit_and_no_further() {
        let max_frame = 300;
        let mut builder = BatchBuilder::new(max_frame, None);
        let mut pushed = 0;
        while builder.try_push(&bet("123")).unwrap() == Pushed::Added {
            pushed += 1;
        }
        let bet_len = builder.frame_len().saturating_sub(BATCH_HEADER_LEN) / pushed;
        assert!(builder.frame_len() <= max_frame);
        assert!(builder.frame_len() + bet_len > max_frame);
        let mut frame = Vec::new();
        assert_eq!(builder.finish(1, &mut frame), frame.len());
        assert!(frame.len() <= max_frame);
    }

    #[test]
    fn a_bet_that_cannot_fit_any_frame_is_an_error_not_a_full_batch() {
        let mut builder = BatchBuilder::new(BATCH_HEADER_LEN + 10, None);
        assert!(matches!(
            builder.try_push(&bet("1")),
            Err(EncodeError::FrameTooLarge { .. })
        ));
        let long = WireBet {
            first_name: "x".repeat(256),
            ..WireBet::from_bet(&bet("1"))
        };
        let mut builder = BatchBuilder::new(DEFAULT_MAX_FRAME, None);
        assert!(matches!(
            builder.try_push(&long),
            Err(EncodeError::FieldTooLong {
                field: "first_name",
                ..
            })
        ));
        assert!(builder.is_empty());
    }

    /// The frames of `bets` packed a bet at a time, as `send_bets` packs
    /// them, or a run at a time, as `send_from` packs held bets.
    fn packed(
        bets: &EncodedBets,
        builder: &mut BatchBuilder,
        runs: bool,
    ) -> Result<Vec<u8>, EncodeError> {
        let (mut out, mut batch) = (Vec::new(), 1);
        let mut source: Box<dyn BatchSource> = if runs {
            Box::new(bets.iter())
        } else {
            Box::new(PerBet::new(bets.iter()))
        };
        loop {
            let (_, done) = source.fill(builder)?;
            if builder.is_empty() {
                break;
            }
            builder.finish(batch, &mut out);
            batch += 1;
            if done {
                break;
            }
        }
        Ok(out)
    }

    proptest::proptest! {
        #[test]
        fn a_run_of_encoded_bets_fills_the_batches_one_by_one_would(
            lens in proptest::collection::vec((1usize..40, 1usize..40, 1usize..21), 0..60),
            max_frame in prop_oneof![Just(BATCH_HEADER_LEN + 30), 60usize..400, Just(DEFAULT_MAX_FRAME)],
            max_bets in proptest::option::of(0usize..8),
            skip in 0u64..70,
        ) {
            let mut bets = EncodedBets::default();
            for (first, last, document) in lens {
                let bet = Bet::from_fields(&"a".repeat(first), &"b".repeat(last), &"1".repeat(document), "2000-01-01", "7").unwrap();
                bets.push_bet(&bet);
            }
            let one_by_one = packed(&bets, &mut BatchBuilder::new(max_frame, max_bets), false);
            let runs = packed(&bets, &mut BatchBuilder::new(max_frame, max_bets), true);
            proptest::prop_assert_eq!(runs.map_err(|e| e.to_string()), one_by_one.map_err(|e| e.to_string()));
            // Skipping walks the same bets either way.
            let (mut a, mut b) = (bets.iter(), PerBet::new(bets.iter()));
            proptest::prop_assert_eq!(a.skip_bets(skip), b.skip_bets(skip));
            let rest_a: Vec<_> = a.collect();
            let rest_b: Vec<_> = std::iter::from_fn(|| {
                let mut builder = BatchBuilder::new(DEFAULT_MAX_FRAME, Some(1));
                match b.fill(&mut builder).unwrap() {
                    (1, _) => { let mut frame = Vec::new(); builder.finish(0, &mut frame); Some(frame[BATCH_HEADER_LEN..].to_vec()) }
                    _ => None,
                }
            }).collect();
            let rest_a: Vec<Vec<u8>> = rest_a.iter().map(|bet| bet.bytes.to_vec()).collect();
            proptest::prop_assert_eq!(rest_a, rest_b);
        }
    }

    #[test]
    fn a_plain_bet_encodes_as_its_fields() {
        let text = "x,y,1,2000-01-01,1\r\nAna María,Núñez,0012345678,0987-01-05,42\r\n\
                    A,B,1,1999-12-31,0\nSantiago Lionel,Lorca,30904465,1999-03-17,2201\r\n\
                    Ñandú Tomás,de la Paz Ríos,99999999999999999999,2024-02-29,9999\r\nend,,,,\n";
        let mut rows = lottery_bet::AgencyFile::from_reader("x", text.as_bytes());
        rows.next_fields().unwrap().unwrap();
        let (mut plain, mut fields) = (EncodedBets::default(), EncodedBets::default());
        let taken = rows.read_plain_bets(|bet| {
            plain.push_plain(&bet);
            fields.push_fields(bet.fields());
        });
        assert_eq!(taken, 4);
        assert_eq!(plain, fields);
    }

    #[test]
    fn a_bet_maximum_of_zero_still_takes_one_bet() {
        let mut builder = BatchBuilder::new(DEFAULT_MAX_FRAME, Some(0));
        assert_eq!(builder.try_push(&bet("1")).unwrap(), Pushed::Added);
        assert_eq!(builder.try_push(&bet("1")).unwrap(), Pushed::Full);
    }
}
