//! One bet of a [`BetBatch`](super::BetBatch), borrowed ([`BetView`]), and the batch's
//! iterator: read access to what validation laid out, for the ledgers that
//! need each bet's fields (the draw's winners, a database's `COPY`).

use std::fmt;

use crate::bet::{Bet, BetNumber, Birthdate, Document, Name};
use crate::field::FieldError;
use crate::field_bytes::TEXT_PAD;

use super::Slot;

/// One bet of a [`BetBatch`](super::BetBatch), borrowed: its fields as the batch holds them.
#[derive(Clone, Copy)]
pub struct BetView<'a> {
    pub(super) bytes: &'a [u8],
    pub(super) slot: &'a Slot,
}

impl<'a> BetView<'a> {
    #[inline(always)]
    pub(super) fn field(&self, start: u32, len: u8) -> &'a [u8] {
        let start = start as usize;
        &self.bytes[start..start + usize::from(len)]
    }

    /// The first name's bytes (UTF-8), as the store writes them.
    #[inline(always)]
    pub fn first_name_bytes(&self) -> &'a [u8] {
        self.field(self.slot.first_name, self.slot.first_name_len)
    }

    /// The last name's bytes (UTF-8).
    #[inline(always)]
    pub fn last_name_bytes(&self) -> &'a [u8] {
        self.field(self.slot.last_name, self.slot.last_name_len)
    }

    /// The document's bytes (ASCII digits).
    #[inline(always)]
    pub fn document_bytes(&self) -> &'a [u8] {
        self.field(self.slot.document, self.slot.document_len)
    }

    /// The date's text, `YYYY-MM-DD` (what [`Birthdate::to_text`] writes).
    #[inline(always)]
    pub fn birthdate_text(&self) -> &'a [u8; Birthdate::TEXT_LEN] {
        let start = self.slot.birthdate_text as usize;
        self.bytes[start..start + Birthdate::TEXT_LEN]
            .try_into()
            .expect("a date's text has ten bytes")
    }

    /// The bytes from the text at `start` on, [`TEXT_PAD`] past its end at
    /// least: what a writer copies a word at a time.
    #[inline(always)]
    pub(super) fn padded(&self, start: u32, len: u8) -> &'a [u8] {
        let start = start as usize;
        &self.bytes[start..start + usize::from(len) + TEXT_PAD]
    }

    /// The first name. (Its bytes were checked; safe Rust checks them again
    /// to lend them as text, so a writer of bytes takes
    /// [`BetView::first_name_bytes`].)
    #[inline]
    pub fn first_name(&self) -> &'a str {
        as_text(self.first_name_bytes())
    }

    /// The last name.
    #[inline]
    pub fn last_name(&self) -> &'a str {
        as_text(self.last_name_bytes())
    }

    /// The document (DNI).
    #[inline]
    pub fn document(&self) -> &'a str {
        as_text(self.document_bytes())
    }

    /// The date of birth.
    #[inline(always)]
    pub fn birthdate(&self) -> Birthdate {
        self.slot.birthdate
    }

    /// The number played.
    #[inline(always)]
    pub fn number(&self) -> BetNumber {
        self.slot.number
    }

    /// Refuses a bet whose player is born after `today`, as
    /// [`Bet::check_born_by`] does.
    ///
    /// # Errors
    /// [`crate::FieldReason::InFuture`] on the birthdate.
    #[inline]
    pub fn check_born_by(&self, today: Birthdate) -> Result<(), FieldError> {
        self.slot.birthdate.check_not_after(today)
    }

    /// The document as a [`Document`] (a winner's, for the tally).
    #[inline]
    pub fn to_document(&self) -> Document {
        Document::checked(self.document())
    }

    /// The same bet as a [`Bet`] (which owns its texts).
    pub fn to_bet(&self) -> Bet {
        Bet {
            first_name: Name::checked(self.first_name()),
            last_name: Name::checked(self.last_name()),
            document: self.to_document(),
            birthdate: self.birthdate(),
            number: self.number(),
        }
    }
}

/// Validated bytes as text.
#[inline]
fn as_text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).expect("a batch's texts were validated UTF-8")
}

impl PartialEq for BetView<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.first_name_bytes() == other.first_name_bytes()
            && self.last_name_bytes() == other.last_name_bytes()
            && self.document_bytes() == other.document_bytes()
            && self.birthdate() == other.birthdate()
            && self.number() == other.number()
    }
}

impl Eq for BetView<'_> {}

impl fmt::Debug for BetView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BetView")
            .field("first_name", &self.first_name())
            .field("last_name", &self.last_name())
            .field("document", &self.document())
            .field("birthdate", &self.birthdate())
            .field("number", &self.number())
            .finish()
    }
}

/// The bets of [`BetBatch::iter`](super::BetBatch::iter).
#[derive(Debug, Clone)]
pub struct BetBatchIter<'a> {
    pub(super) bytes: &'a [u8],
    pub(super) slots: std::slice::Iter<'a, Slot>,
}

impl<'a> Iterator for BetBatchIter<'a> {
    type Item = BetView<'a>;

    #[inline(always)]
    fn next(&mut self) -> Option<BetView<'a>> {
        let slot = self.slots.next()?;
        Some(BetView {
            bytes: self.bytes,
            slot,
        })
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.slots.size_hint()
    }
}

impl ExactSizeIterator for BetBatchIter<'_> {}
