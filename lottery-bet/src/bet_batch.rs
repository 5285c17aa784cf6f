//! A batch of validated bets in one buffer: what the central takes, stores
//! and tallies, without a [`Bet`] (two names, a document) per bet.
//!
//! A [`BetBatch`] is the bytes its bets' texts lie in (for the central's
//! decoder, the `Batch` frame's body, copied once) and, per bet, where each
//! text lies plus the parsed date and number. It is made only by
//! validation: [`BetBatchBuilder::push`] checks the five fields where they
//! lie, with the rules of [`Bet::from_parts`] (the core's one set,
//! [`crate::field_bytes`]), or by [`BetBatch::from_bets`] from bets that are
//! validated already. So no allocation is made per bet. The checks also
//! settle what the store row needs (whether a name is quoted, and whether
//! the texts lie one byte apart, as a frame lays them), and a slot keeps
//! it, so a ledger writes its rows ([`crate::encode_store_rows`]) as
//! copies of the batch's bytes with no second look at any field. A ledger
//! that needs each bet's fields reads them as [`BetView`]s.
//!
//! Above `bet` and `field_bytes`; below `row`, `draw` and the ledgers.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use crate::bet::{AgencyId, Bet, BetNumber, Birthdate};
use crate::field::{Field, FieldError};
use crate::field_bytes::{Quoting, TEXT_PAD, check_document_in, check_name_in};
use crate::frame_bet;

mod store_row;
mod view;

pub use view::{BetBatchIter, BetView};

use store_row::{
    COPY, ROW_FIXED, ROW_SLACK, RowFields, put_row, put_spanned_row, quoted_extra, room_to,
};

/// Validated bets, their texts in one buffer.
///
/// ```
/// use lottery_bet::{Bet, BetBatch};
/// // A buffer holding the texts (here with bytes around them, as a frame).
/// let bytes = b"#Ana#P\xc3\xa9rez#007#1999-03-17#".to_vec();
/// let mut batch = BetBatch::builder(bytes, 1);
/// batch.push(1..4, 5..11, 12..15, 16..26, 42)?;
/// let batch = batch.finish();
/// let bet = batch.iter().next().unwrap();
/// assert_eq!((bet.last_name(), bet.document(), bet.number().get()), ("Pérez", "007", 42));
/// assert_eq!(batch, BetBatch::from_bets(&[Bet::from_fields("Ana", "Pérez", "007", "1999-03-17", "42")?]));
/// # Ok::<(), lottery_bet::FieldError>(())
/// ```
#[derive(Clone)]
pub struct BetBatch {
    /// The bytes the texts lie in (other bytes may lie between them), then
    /// [`TEXT_PAD`] zeros, so that checks and writers read whole words.
    bytes: Vec<u8>,
    /// Where each bet's texts lie in `bytes`, and its date and number.
    slots: Vec<Slot>,
    /// The most every bet's store row without its agency can take, added
    /// up (what a writer of rows makes room for).
    rows_bound: usize,
}

impl Default for BetBatch {
    fn default() -> Self {
        Self::from_bets(&[])
    }
}

/// One bet of a [`BetBatch`]: where its texts are, and what they parsed to.
#[derive(Debug, Clone, Copy)]
struct Slot {
    first_name: u32,
    last_name: u32,
    document: u32,
    /// The date's text, `YYYY-MM-DD` (a date that parses is written exactly
    /// so: a store row copies it).
    birthdate_text: u32,
    first_name_len: u8,
    last_name_len: u8,
    document_len: u8,
    birthdate: Birthdate,
    number: BetNumber,
    /// How the store row is written, as the checks found.
    row: RowShape,
}

/// How a bet's store row is written from the batch's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RowShape {
    /// The names are bare and the four texts lie one byte apart (as a
    /// `Batch` frame lays them, a length byte before each): the row up to
    /// the date is those bytes copied at once, three of them made commas.
    Spanned,
    /// Field by field, each name bare or quoted as given.
    Fields([Quoting; 2]),
}

impl BetBatch {
    /// A builder of a batch whose texts lie in `bytes` (a frame's body,
    /// say), with room for `capacity` bets (only a hint). A few zero bytes
    /// are added after them, so that the checks read whole words.
    ///
    /// # Panics
    /// When `bytes` holds 4 GiB or more (a frame's body holds at most a
    /// frame limit's worth).
    pub fn builder(mut bytes: Vec<u8>, capacity: usize) -> BetBatchBuilder {
        let len = bytes.len();
        assert!(
            u32::try_from(len + TEXT_PAD).is_ok(),
            "a batch's buffer holds less than 4 GiB"
        );
        bytes.resize(len + TEXT_PAD, 0);
        BetBatchBuilder {
            len,
            batch: BetBatch {
                bytes,
                slots: Vec::with_capacity(capacity),
                rows_bound: 0,
            },
        }
    }

    /// [`BetBatch::builder`] over a copy of `bytes` (a frame's body in a
    /// decoder's buffer, say), made with room for the padding, so that the
    /// bytes are copied once and never moved.
    pub fn builder_of_copy(bytes: &[u8], capacity: usize) -> BetBatchBuilder {
        let mut buffer = Vec::with_capacity(bytes.len() + TEXT_PAD);
        buffer.extend_from_slice(bytes);
        Self::builder(buffer, capacity)
    }

    /// The batch of `bets`, validated already: their texts are copied into
    /// one buffer (one byte apart, as a frame lays them).
    pub fn from_bets(bets: &[Bet]) -> Self {
        let texts: usize = bets
            .iter()
            .map(|bet| {
                bet.first_name.as_str().len()
                    + bet.last_name.as_str().len()
                    + bet.document.as_str().len()
                    + Birthdate::TEXT_LEN
                    + 4
            })
            .sum();
        let mut bytes = Vec::with_capacity(texts + TEXT_PAD);
        let mut put = |text: &[u8]| {
            let start = bytes.len();
            bytes.extend_from_slice(text);
            bytes.push(b',');
            start..start + text.len()
        };
        let ranges: Vec<[Range<usize>; 4]> = bets
            .iter()
            .map(|bet| {
                [
                    put(bet.first_name.as_str().as_bytes()),
                    put(bet.last_name.as_str().as_bytes()),
                    put(bet.document.as_str().as_bytes()),
                    put(&bet.birthdate.to_text()),
                ]
            })
            .collect();
        let mut builder = BetBatch::builder(bytes, bets.len());
        for (bet, [first_name, last_name, document, birthdate]) in bets.iter().zip(ranges) {
            let bytes = builder.bytes();
            let quoting = [
                Quoting::of(&bytes[first_name.clone()]),
                Quoting::of(&bytes[last_name.clone()]),
            ];
            let texts = [first_name, last_name, document, birthdate];
            builder.add(texts, quoting, bet.birthdate, bet.number);
        }
        builder.finish()
    }

    /// Appends the store rows of the bets, taken by `agency`, to `out`, as
    /// Python's `csv.writer` writes them (see the private `store_row`
    /// module).
    ///
    /// `out` grows once (its zeroing is the only pass over it before the
    /// rows); each row is then copies of whole words by index from the
    /// batch's padded bytes, shaped as the checks found ([`RowShape`]).
    pub(crate) fn write_store_rows(&self, agency: AgencyId, out: &mut Vec<u8>) {
        let mut agency_text = itoa::Buffer::new();
        let agency = agency_text.format(agency.get()).as_bytes();
        // The agency and its comma, copied as one word per row.
        let mut prefix = [0u8; COPY];
        prefix[..agency.len()].copy_from_slice(agency);
        prefix[agency.len()] = b',';
        let prefix_len = agency.len() + 1;
        let base = out.len();
        room_to(
            out,
            base + self.len() * prefix_len + self.rows_bound + ROW_SLACK,
        );
        let mut at = base;
        for slot in &self.slots {
            out[at..at + COPY].copy_from_slice(&prefix);
            at += prefix_len;
            let view = BetView {
                bytes: &self.bytes,
                slot,
            };
            at = match slot.row {
                RowShape::Spanned => {
                    let start = slot.first_name as usize;
                    let first_len = usize::from(slot.first_name_len);
                    let commas = [
                        first_len,
                        first_len + 1 + usize::from(slot.last_name_len),
                        slot.document as usize - start + usize::from(slot.document_len),
                    ];
                    let end = slot.birthdate_text as usize + Birthdate::TEXT_LEN;
                    put_spanned_row(
                        out,
                        at,
                        &self.bytes[start..end + TEXT_PAD],
                        commas,
                        slot.number,
                    )
                }
                RowShape::Fields([first_quoting, last_quoting]) => {
                    let fields = RowFields {
                        first_name_padded: view.padded(slot.first_name, slot.first_name_len),
                        first_quoting,
                        last_name_padded: view.padded(slot.last_name, slot.last_name_len),
                        last_quoting,
                        document_padded: view.padded(slot.document, slot.document_len),
                        birthdate_padded: view
                            .padded(slot.birthdate_text, Birthdate::TEXT_LEN as u8),
                        number: slot.number,
                    };
                    put_row(out, at, &fields)
                }
            };
        }
        out.truncate(at);
    }

    /// How many bets there are.
    #[inline]
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether there is no bet.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The bets, in batch order.
    #[inline]
    pub fn iter(&self) -> BetBatchIter<'_> {
        BetBatchIter {
            bytes: &self.bytes,
            slots: self.slots.iter(),
        }
    }

    /// The bet at `index` (from 0), if there is one.
    #[inline]
    pub fn get(&self, index: usize) -> Option<BetView<'_>> {
        self.slots.get(index).map(|slot| BetView {
            bytes: &self.bytes,
            slot,
        })
    }

    /// The first bet born after `today` (its index, and the error), if one
    /// is: as [`Bet::check_born_by`] refuses each.
    ///
    /// # Errors
    /// The index of the first bet born after `today`, with
    /// [`crate::FieldReason::InFuture`] on its birthdate.
    #[inline]
    pub fn check_born_by(&self, today: Birthdate) -> Result<(), (usize, FieldError)> {
        for (index, slot) in self.slots.iter().enumerate() {
            slot.birthdate
                .check_not_after(today)
                .map_err(|error| (index, error))?;
        }
        Ok(())
    }

    /// The bets as [`Bet`]s (each owning its texts).
    pub fn to_bets(&self) -> Vec<Bet> {
        self.iter().map(|bet| bet.to_bet()).collect()
    }
}

impl PartialEq for BetBatch {
    /// Two batches are equal when they hold the same bets in the same order,
    /// wherever their texts lie.
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for BetBatch {}

impl fmt::Debug for BetBatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'a> IntoIterator for &'a BetBatch {
    type Item = BetView<'a>;
    type IntoIter = BetBatchIter<'a>;

    fn into_iter(self) -> BetBatchIter<'a> {
        self.iter()
    }
}

impl From<&[Bet]> for BetBatch {
    fn from(bets: &[Bet]) -> Self {
        Self::from_bets(bets)
    }
}

/// A position in a batch's buffer, which holds less than `u32::MAX` bytes
/// ([`BetBatch::builder`] refuses a longer one, and every position a slot
/// keeps lies inside the buffer), so the cast loses nothing.
#[inline(always)]
fn offset(position: usize) -> u32 {
    debug_assert!(
        u32::try_from(position).is_ok(),
        "a batch's buffer holds less than 4 GiB"
    );
    position as u32
}

/// The length of a validated text (a name, at most 255 bytes; a document,
/// at most 20: their checks refuse longer ones), so the cast loses nothing.
#[inline(always)]
fn text_len(len: usize) -> u8 {
    debug_assert!(
        u8::try_from(len).is_ok(),
        "a validated text is at most 255 bytes"
    );
    len as u8
}

/// Makes a [`BetBatch`], validating each bet where it lies in the buffer.
#[derive(Debug)]
pub struct BetBatchBuilder {
    /// The buffer's length before its padding: every text lies below.
    len: usize,
    batch: BetBatch,
}

impl BetBatchBuilder {
    /// The buffer the bets' texts lie in.
    #[inline]
    pub fn bytes(&self) -> &[u8] {
        &self.batch.bytes[..self.len]
    }

    /// Validates a bet whose texts are the given ranges of the buffer (the
    /// names and the document as bytes of UTF-8, the date `YYYY-MM-DD`) and
    /// whose number is `number`, with the rules of [`Bet::from_parts`], in
    /// its order; adds it when it is valid.
    ///
    /// # Errors
    /// The first invalid field, named, with its reason; a name whose bytes
    /// are not UTF-8 is [`crate::FieldReason::Malformed`] on its field
    /// (`from_parts` takes text, so it cannot see one). A document that is
    /// not UTF-8 is refused as not digits. Nothing is added.
    ///
    /// # Panics
    /// When a range does not lie inside the buffer.
    #[inline]
    pub fn push(
        &mut self,
        first_name: Range<usize>,
        last_name: Range<usize>,
        document: Range<usize>,
        birthdate: Range<usize>,
        number: u32,
    ) -> Result<(), FieldError> {
        let inside = |range: &Range<usize>| range.start <= range.end && range.end <= self.len;
        assert!(
            inside(&first_name) & inside(&last_name) & inside(&document) & inside(&birthdate),
            "a bet's texts lie inside the batch's buffer"
        );
        self.check_add([first_name, last_name, document, birthdate], number, false)
    }

    /// [`BetBatchBuilder::push`] of the bet whose texts lie as a `Batch`
    /// frame lays them: the first name at `at`, then the last name, the
    /// document and the date, each one byte (its length byte, in a frame)
    /// after the one before, `lens` bytes long ([`frame_bet::texts`]). The same checks in the same
    /// order, with one bounds check for the four texts instead of eight,
    /// and no look at where they lie (the store row copies them at once).
    ///
    /// ```
    /// use lottery_bet::{Bet, BetBatch};
    /// let bytes = b"\x03Ana\x03Paz\x011\x0a2000-01-01".to_vec();
    /// let mut batch = BetBatch::builder(bytes, 1);
    /// batch.push_framed(1, [3, 3, 1, 10], 7)?;
    /// let batch = batch.finish();
    /// assert_eq!(batch, BetBatch::from_bets(&[Bet::from_fields("Ana", "Paz", "1", "2000-01-01", "7")?]));
    /// # Ok::<(), lottery_bet::FieldError>(())
    /// ```
    ///
    /// # Errors
    /// As [`BetBatchBuilder::push`]. Nothing is added.
    ///
    /// # Panics
    /// When the texts do not lie inside the buffer.
    #[inline]
    pub fn push_framed(&mut self, at: usize, lens: [u8; 4], number: u32) -> Result<(), FieldError> {
        let texts = frame_bet::texts(at, lens);
        // `at` is below the buffer's length (under 4 GiB), so no end
        // overflows, and each text ends before the next begins.
        assert!(
            (at <= self.len) & (texts[3].end <= self.len),
            "a bet's texts lie inside the batch's buffer"
        );
        self.check_add(texts, number, true)
    }

    /// The five checks of [`BetBatchBuilder::push`], in its order, then
    /// the bet added; `framed` says the texts lie as a frame lays them
    /// (known, so not looked at again). Inlined into both pushes, so the
    /// central's path (`push_framed`) keeps its constant.
    #[inline(always)]
    fn check_add(
        &mut self,
        texts: [Range<usize>; 4],
        number: u32,
        framed: bool,
    ) -> Result<(), FieldError> {
        let [first_name, last_name, document, birthdate] = &texts;
        let bytes = &self.batch.bytes;
        let first_quoting = check_name_in(Field::FirstName, bytes, first_name.clone())?;
        let last_quoting = check_name_in(Field::LastName, bytes, last_name.clone())?;
        check_document_in(bytes, document.clone())?;
        let date = Birthdate::from_text(&bytes[birthdate.clone()])?;
        let number = BetNumber::new(number)?;
        let one_apart = framed || frame_bet::lie_framed(&texts);
        self.add_laid(
            texts,
            [first_quoting, last_quoting],
            date,
            number,
            one_apart,
        );
        Ok(())
    }

    /// Adds a valid bet whose texts lie at `texts` (first name, last name,
    /// document, the date's text), its names quoted as `quoting` says.
    #[inline(always)]
    fn add(
        &mut self,
        texts: [Range<usize>; 4],
        quoting: [Quoting; 2],
        birthdate: Birthdate,
        number: BetNumber,
    ) {
        let one_apart = frame_bet::lie_framed(&texts);
        self.add_laid(texts, quoting, birthdate, number, one_apart);
    }

    /// [`BetBatchBuilder::add`] of texts that lie one byte apart when
    /// `one_apart` says so.
    #[inline(always)]
    fn add_laid(
        &mut self,
        texts: [Range<usize>; 4],
        quoting: [Quoting; 2],
        birthdate: Birthdate,
        number: BetNumber,
        one_apart: bool,
    ) {
        let [first_name, last_name, document, birthdate_text] = texts;
        let [first_quoting, last_quoting] = quoting;
        // The ranges are in order (the callers checked them): their
        // lengths are subtractions.
        let [first_len, last_len, document_len] =
            [&first_name, &last_name, &document].map(|text| text.end - text.start);
        let batch = &mut self.batch;
        batch.rows_bound += first_len
            + last_len
            + document_len
            + quoted_extra(first_quoting, first_len)
            + quoted_extra(last_quoting, last_len)
            + ROW_FIXED;
        let bare = (first_quoting == Quoting::Bare) & (last_quoting == Quoting::Bare);
        let row = if one_apart & bare {
            RowShape::Spanned
        } else {
            RowShape::Fields(quoting)
        };
        batch.slots.push(Slot {
            first_name: offset(first_name.start),
            last_name: offset(last_name.start),
            document: offset(document.start),
            birthdate_text: offset(birthdate_text.start),
            first_name_len: text_len(first_len),
            last_name_len: text_len(last_len),
            document_len: text_len(document_len),
            birthdate,
            number,
            row,
        });
    }

    /// How many bets were added.
    #[inline]
    pub fn len(&self) -> usize {
        self.batch.len()
    }

    /// Whether no bet was added.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.batch.is_empty()
    }

    /// The batch of the bets added.
    #[inline]
    pub fn finish(self) -> BetBatch {
        self.batch
    }
}

/// Bets a central or ledger can take as a batch: a [`BetBatch`] itself (the
/// central's decoder makes one per frame), or validated [`Bet`]s (a slice,
/// an array, a `Vec`), which are copied into one first.
///
/// ```
/// use lottery_bet::{AsBetBatch, Bet, BetBatch};
/// let bet = Bet::from_fields("Ana", "Paz", "1", "2000-01-01", "7")?;
/// let batch = BetBatch::from_bets(std::slice::from_ref(&bet));
/// assert_eq!(*[bet].as_bet_batch(), batch);
/// # Ok::<(), lottery_bet::FieldError>(())
/// ```
pub trait AsBetBatch {
    /// The bets as a batch: borrowed when they are one already.
    fn as_bet_batch(&self) -> Cow<'_, BetBatch>;
}

impl AsBetBatch for BetBatch {
    #[inline]
    fn as_bet_batch(&self) -> Cow<'_, BetBatch> {
        Cow::Borrowed(self)
    }
}

impl AsBetBatch for [Bet] {
    fn as_bet_batch(&self) -> Cow<'_, BetBatch> {
        Cow::Owned(BetBatch::from_bets(self))
    }
}

impl<const N: usize> AsBetBatch for [Bet; N] {
    fn as_bet_batch(&self) -> Cow<'_, BetBatch> {
        Cow::Owned(BetBatch::from_bets(self))
    }
}

impl AsBetBatch for Vec<Bet> {
    fn as_bet_batch(&self) -> Cow<'_, BetBatch> {
        Cow::Owned(BetBatch::from_bets(self))
    }
}

#[cfg(test)]
mod tests;
