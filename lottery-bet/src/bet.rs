//! Validated bet types: what a bet is, and what makes one acceptable.
//!
//! Every constructor checks its value once, so code holding a [`Bet`] never
//! checks again. Errors name the field and the reason ([`FieldError`]). One
//! rule depends on the day, so no constructor can check it: a birthdate after
//! today, which whoever takes a bet in checks with its own date
//! ([`Bet::check_born_by`]; the core has no clock).

use std::fmt;
use std::num::NonZeroU32;
use std::str::FromStr;

use compact_str::CompactString;

use crate::field::{Field, FieldError, FieldReason};
pub use crate::field_bytes::{MAX_BET_NUMBER, MAX_DOCUMENT_DIGITS, MAX_NAME_BYTES};
use crate::field_bytes::{check_document, check_name_text, parse_decimal};
use crate::swar::{HIGHS, ONES};

/// An agency's id: a positive integer.
///
/// ```
/// use lottery_bet::AgencyId;
/// assert_eq!(AgencyId::new(3).unwrap().get(), 3);
/// assert!(AgencyId::new(0).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AgencyId(NonZeroU32);

impl AgencyId {
    /// Validates an agency id.
    ///
    /// # Errors
    /// [`FieldReason::OutOfRange`] when `id` is 0.
    pub fn new(id: u32) -> Result<Self, FieldError> {
        NonZeroU32::new(id)
            .map(Self)
            .ok_or(FieldError::new(Field::Agency, FieldReason::OutOfRange))
    }

    /// The id as a number.
    pub const fn get(self) -> u32 {
        self.0.get()
    }

    /// The zero-based position of this agency in `1..=N` tables.
    pub const fn index(self) -> usize {
        (self.0.get() - 1) as usize
    }
}

impl fmt::Display for AgencyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl AgencyId {
    /// Parses an agency id written in decimal digits (leading zeros
    /// allowed), as an agency file's name and a store row hold it: the one
    /// parser of an agency id (`str::parse` calls it too).
    ///
    /// ```
    /// use lottery_bet::AgencyId;
    /// assert_eq!(AgencyId::from_text(b"007").unwrap().get(), 7);
    /// assert!(AgencyId::from_text(b"0").is_err());
    /// ```
    ///
    /// # Errors
    /// [`FieldReason::Empty`], [`FieldReason::NotDigits`] or
    /// [`FieldReason::OutOfRange`] (0 or above `u32::MAX`), on
    /// [`Field::Agency`].
    pub fn from_text(bytes: &[u8]) -> Result<Self, FieldError> {
        let id = parse_decimal(bytes, Field::Agency, 10)?;
        let id = u32::try_from(id)
            .map_err(|_| FieldError::new(Field::Agency, FieldReason::OutOfRange))?;
        Self::new(id)
    }
}

impl FromStr for AgencyId {
    type Err = FieldError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::from_text(text.as_bytes())
    }
}

/// A first or last name: UTF-8 that is not empty and not only spaces, holds
/// no control character (Unicode Cc) and no invisible format or separator
/// character (Cf, Zl, Zp), has no white space at either end, holds a
/// character of its own (not only combining marks, Unicode M, or Hangul
/// fillers), at most [`MAX_NAME_BYTES`] bytes.
///
/// Up to 24 bytes (nearly every real name) it is kept inline, not on the
/// heap: the central validates every bet it receives only to store it and
/// drop it, so a bet that allocates nothing is what keeps that path cheap.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Name(CompactString);

impl Name {
    /// Validates a name; `field` says which one it is, for the error.
    ///
    /// ```
    /// use lottery_bet::{Field, FieldReason, Name};
    /// assert!(Name::new(Field::FirstName, "Ana María").is_ok());
    /// let refused = |text| Name::new(Field::FirstName, text).unwrap_err().reason;
    /// assert_eq!(refused("   "), FieldReason::Blank);
    /// assert_eq!(refused("Ana\u{202E}"), FieldReason::FormatCharacter);
    /// assert_eq!(refused("Ana\n"), FieldReason::ControlCharacter);
    /// assert_eq!(refused("Ana "), FieldReason::SurroundingSpace);
    /// assert_eq!(refused("\u{301}"), FieldReason::NoBaseCharacter);
    /// ```
    ///
    /// # Errors
    /// [`FieldReason::Empty`], [`FieldReason::Blank`], [`FieldReason::TooLong`],
    /// [`FieldReason::ControlCharacter`], [`FieldReason::FormatCharacter`],
    /// [`FieldReason::SurroundingSpace`] (white space at either end) or
    /// [`FieldReason::NoBaseCharacter`] (only combining marks or Hangul
    /// fillers).
    pub fn new(field: Field, text: impl AsRef<str>) -> Result<Self, FieldError> {
        let text = text.as_ref();
        check_name_text(field, text)?;
        Ok(Self::checked(text))
    }
}

/// What the validated texts ([`Name`], [`Document`]) share beside their
/// rules: made from a text that passed its rule, read as that text, shown
/// as it is. Written once for both.
macro_rules! checked_text {
    ($text:ident) => {
        impl $text {
            /// One whose text passed its rule already (its `new`, or
            /// `crate::BetFields`).
            #[inline]
            pub(crate) fn checked(text: &str) -> Self {
                Self(CompactString::new(text))
            }

            /// The text, as it was given.
            #[inline]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $text {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

checked_text!(Name);

/// A document (DNI): 1 to [`MAX_DOCUMENT_DIGITS`] ASCII digits, kept as text so
/// leading zeros survive (always inline, never on the heap, like a short
/// [`Name`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Document(CompactString);

impl Document {
    /// Validates a document.
    ///
    /// # Errors
    /// [`FieldReason::Empty`], [`FieldReason::TooLong`] or [`FieldReason::NotDigits`].
    pub fn new(text: impl AsRef<str>) -> Result<Self, FieldError> {
        let text = text.as_ref();
        check_document(text.as_bytes())?;
        Ok(Self::checked(text))
    }
}

checked_text!(Document);

/// A calendar date of birth, written `YYYY-MM-DD` (proleptic Gregorian, years
/// 0001 to 9999).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Birthdate {
    year: u16,
    month: u8,
    day: u8,
}

impl Birthdate {
    /// Validates a date.
    ///
    /// ```
    /// use lottery_bet::Birthdate;
    /// assert!(Birthdate::new(2000, 2, 29).is_ok());
    /// assert!(Birthdate::new(1900, 2, 29).is_err());
    /// ```
    ///
    /// # Errors
    /// [`FieldReason::InvalidDate`] when the day does not exist.
    #[inline]
    pub fn new(year: u16, month: u8, day: u8) -> Result<Self, FieldError> {
        let invalid = || FieldError::new(Field::Birthdate, FieldReason::InvalidDate);
        if !(1..=9999).contains(&year) || !(1..=12).contains(&month) {
            return Err(invalid());
        }
        // A table instead of a match: no branch but February's leap year.
        let last = DAYS_IN_MONTH[usize::from(month)] + u8::from(month == 2 && is_leap_year(year));
        if day == 0 || day > last {
            return Err(invalid());
        }
        Ok(Self { year, month, day })
    }

    /// The year.
    pub const fn year(self) -> u16 {
        self.year
    }

    /// The month, 1 to 12.
    pub const fn month(self) -> u8 {
        self.month
    }

    /// The day of the month, from 1.
    pub const fn day(self) -> u8 {
        self.day
    }

    /// The latest birthdate a bet may carry on the calendar day `(year,
    /// month, day)` (as `lottery_log::utc_date` gives it): that date, or
    /// [`Birthdate::LAST`] for a day past it (or not a date, which no clock
    /// gives).
    ///
    /// ```
    /// use lottery_bet::Birthdate;
    /// assert_eq!(Birthdate::latest_on((2026, 12, 1)), Birthdate::new(2026, 12, 1).unwrap());
    /// assert_eq!(Birthdate::latest_on((70_000, 1, 1)), Birthdate::LAST);
    /// ```
    pub fn latest_on((year, month, day): (u64, u64, u64)) -> Birthdate {
        match (u16::try_from(year), u8::try_from(month), u8::try_from(day)) {
            (Ok(year), Ok(month), Ok(day)) => {
                Birthdate::new(year, month, day).unwrap_or(Birthdate::LAST)
            }
            _ => Birthdate::LAST,
        }
    }

    /// The latest date there is, 9999-12-31: no date is after it.
    pub const LAST: Birthdate = Birthdate {
        year: 9999,
        month: 12,
        day: 31,
    };

    /// Refuses a date after `today`. The core has no clock: whoever checks
    /// says what today is (the central its own date, an agency its own).
    ///
    /// ```
    /// use lottery_bet::{Birthdate, Field, FieldReason};
    /// let today = Birthdate::new(2025, 6, 1)?;
    /// assert!(Birthdate::new(2025, 6, 1)?.check_not_after(today).is_ok());
    /// let error = Birthdate::new(2025, 6, 2)?.check_not_after(today).unwrap_err();
    /// assert_eq!((error.field, error.reason), (Field::Birthdate, FieldReason::InFuture));
    /// assert_eq!(error.to_string(), "birthdate is after today");
    /// # Ok::<(), lottery_bet::FieldError>(())
    /// ```
    ///
    /// # Errors
    /// [`FieldReason::InFuture`] when the date is after `today`.
    #[inline]
    pub fn check_not_after(self, today: Birthdate) -> Result<(), FieldError> {
        if self > today {
            Err(FieldError::new(Field::Birthdate, FieldReason::InFuture))
        } else {
            Ok(())
        }
    }
}

/// The days of a month, as first written: the oracle of [`Birthdate::new`]'s
/// table.
#[cfg(test)]
fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 31,
    }
}

/// The days of each month outside a leap year (February has 28), indexed
/// by the month from 1; 0 for the indexes that are no month.
const DAYS_IN_MONTH: [u8; 16] = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31, 0, 0, 0];

#[inline]
fn is_leap_year(year: u16) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

impl Birthdate {
    /// Bytes of a date written `YYYY-MM-DD`.
    pub const TEXT_LEN: usize = 10;

    /// The date written `YYYY-MM-DD`, as ASCII bytes, without formatting
    /// machinery (encoders write one per bet).
    ///
    /// ```
    /// use lottery_bet::Birthdate;
    /// assert_eq!(&Birthdate::new(987, 1, 5).unwrap().to_text(), b"0987-01-05");
    /// ```
    #[inline]
    pub fn to_text(self) -> [u8; Self::TEXT_LEN] {
        let digit = |value: u16, unit: u16| {
            b'0' + u8::try_from(value / unit % 10).expect("a decimal digit fits in u8")
        };
        let (year, month, day) = (self.year, u16::from(self.month), u16::from(self.day));
        [
            digit(year, 1000),
            digit(year, 100),
            digit(year, 10),
            digit(year, 1),
            b'-',
            digit(month, 10),
            digit(month, 1),
            b'-',
            digit(day, 10),
            digit(day, 1),
        ]
    }

    /// Parses a date written `YYYY-MM-DD` from raw bytes (as a wire field
    /// arrives), with the same rules as [`str::parse`].
    ///
    /// # Errors
    /// [`FieldReason::NotADate`] when the shape is wrong,
    /// [`FieldReason::InvalidDate`] when the day does not exist.
    #[inline]
    pub fn from_text(bytes: &[u8]) -> Result<Self, FieldError> {
        let not_a_date = || FieldError::new(Field::Birthdate, FieldReason::NotADate);
        let Ok(text) = <&[u8; Self::TEXT_LEN]>::try_from(bytes) else {
            return Err(not_a_date());
        };
        // The shape checked a word at a time (the central checks a date per
        // bet): `YYYY-MM-` XOR `0000-00-` (little-endian) leaves each digit
        // its value and each dash 0, so the shape holds when no byte has its
        // high bit, none is above 9 (adding 0x76 sets the high bit of those
        // and, below 0x80, carries into no other byte), and the dashes are 0.
        const DASHES: u64 = (0xFF << 32) | (0xFF << 56);
        let pattern = u64::from_le_bytes(*b"0000-00-");
        let head = u64::from_le_bytes(text[..8].try_into().expect("eight bytes")) ^ pattern;
        let tail = u64::from(u16::from_le_bytes([text[8], text[9]]) ^ 0x3030);
        let shape_ok = (head & HIGHS == 0)
            & (head.wrapping_add(ONES * 0x76) & HIGHS == 0)
            & (head & DASHES == 0)
            & (tail & 0x8080 == 0)
            & ((tail + 0x7676) & 0x8080 == 0);
        if !shape_ok {
            return Err(not_a_date());
        }
        // Each byte is now a digit's value (or 0 for a dash), so ten times a
        // byte plus the next one is at most 99 and carries into no other
        // byte: bytes 0, 2 and 5 of `pairs` are the two-digit numbers
        // starting there (the year's halves, the month).
        let pairs = head.wrapping_mul(10).wrapping_add(head >> 8);
        let byte = |word: u64, at: u32| (word >> (8 * at)) as u8;
        let year = u16::from(byte(pairs, 0)) * 100 + u16::from(byte(pairs, 2));
        let month = byte(pairs, 5);
        let day = byte(tail, 0) * 10 + byte(tail, 1);
        // Four digits are at most 9999: only year 0 is out of range. One
        // branch for every rule of `new`; the table's index is masked (any
        // month past 12 is refused by the month test).
        let last =
            DAYS_IN_MONTH[usize::from(month & 15)] + u8::from(month == 2 && is_leap_year(year));
        let valid = (year != 0) & (month.wrapping_sub(1) < 12) & (day.wrapping_sub(1) < last);
        if !valid {
            return Err(FieldError::new(Field::Birthdate, FieldReason::InvalidDate));
        }
        Ok(Self { year, month, day })
    }
}

impl fmt::Display for Birthdate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.to_text();
        f.write_str(std::str::from_utf8(&text).expect("a written date is ASCII"))
    }
}

impl FromStr for Birthdate {
    type Err = FieldError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::from_text(text.as_bytes())
    }
}

/// The number a bet plays: 0 to [`MAX_BET_NUMBER`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BetNumber(u16);

impl BetNumber {
    /// The winning number when none is configured.
    pub const DEFAULT_WINNING: BetNumber = BetNumber(7574);

    /// Validates a bet number.
    ///
    /// # Errors
    /// [`FieldReason::OutOfRange`] above [`MAX_BET_NUMBER`].
    #[inline]
    pub fn new(number: u32) -> Result<Self, FieldError> {
        u16::try_from(number)
            .ok()
            .filter(|n| *n <= MAX_BET_NUMBER)
            .map(Self)
            .ok_or(FieldError::new(Field::Number, FieldReason::OutOfRange))
    }

    /// The number.
    pub const fn get(self) -> u16 {
        self.0
    }

    /// Parses a number written in decimal digits (leading zeros allowed),
    /// from raw bytes, with the same rules as [`str::parse`].
    ///
    /// ```
    /// use lottery_bet::BetNumber;
    /// assert_eq!(BetNumber::from_text(b"0042").unwrap().get(), 42);
    /// assert!(BetNumber::from_text(b"10000").is_err());
    /// ```
    ///
    /// # Errors
    /// [`FieldReason::Empty`], [`FieldReason::NotDigits`] or
    /// [`FieldReason::OutOfRange`].
    #[inline]
    pub fn from_text(bytes: &[u8]) -> Result<Self, FieldError> {
        // One to four digits (every bet a course file holds) are a number
        // of at most 9999, summed in one pass; anything else takes the
        // general parser for its value or its error.
        if (1..=4).contains(&bytes.len()) {
            let (number, digits) = bytes.iter().fold((0u16, true), |(number, digits), &byte| {
                let digit = byte.wrapping_sub(b'0');
                (number * 10 + u16::from(digit.min(9)), digits & (digit < 10))
            });
            if digits {
                return Ok(Self(number));
            }
        }
        let number = parse_decimal(bytes, Field::Number, 4)?;
        Self::new(
            u32::try_from(number)
                .map_err(|_| FieldError::new(Field::Number, FieldReason::OutOfRange))?,
        )
    }
}

impl fmt::Display for BetNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for BetNumber {
    type Err = FieldError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::from_text(text.as_bytes())
    }
}

/// One bet as an agency sends it: who plays, and which number.
///
/// The agency is not part of it: an agency file and a wire batch belong to one
/// agency. A bet with its agency is a [`StoredBet`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Bet {
    /// The player's first name(s).
    pub first_name: Name,
    /// The player's last name(s).
    pub last_name: Name,
    /// The player's document (DNI).
    pub document: Document,
    /// The player's date of birth.
    pub birthdate: Birthdate,
    /// The number played.
    pub number: BetNumber,
}

impl Bet {
    /// Validates a bet from its five text fields, in agency-file order.
    ///
    /// ```
    /// use lottery_bet::Bet;
    /// let bet = Bet::from_fields("Ana María", "Pérez", "30904465", "1999-03-17", "7574").unwrap();
    /// assert_eq!(bet.number.get(), 7574);
    /// ```
    ///
    /// # Errors
    /// The first invalid field, named, with its reason.
    pub fn from_fields(
        first_name: &str,
        last_name: &str,
        document: &str,
        birthdate: &str,
        number: &str,
    ) -> Result<Self, FieldError> {
        Ok(Self {
            first_name: Name::new(Field::FirstName, first_name)?,
            last_name: Name::new(Field::LastName, last_name)?,
            document: Document::new(document)?,
            birthdate: birthdate.parse()?,
            number: number.parse()?,
        })
    }

    /// Validates a bet from fields already split out of their container (a
    /// wire frame): the names and the document as text, the birthdate as the
    /// bytes of `YYYY-MM-DD`, the number as an integer. The fields are checked
    /// in agency-file order with the rules of [`Bet::from_fields`], so both
    /// report the same first invalid field.
    ///
    /// ```
    /// use lottery_bet::{Bet, Field};
    /// let bet = Bet::from_parts("Ana", "Pérez", "30904465", b"1999-03-17", 7574).unwrap();
    /// assert_eq!(bet, Bet::from_fields("Ana", "Pérez", "30904465", "1999-03-17", "7574").unwrap());
    /// let error = Bet::from_parts("Ana", "", "30904465", b"1999-02-30", 10_000).unwrap_err();
    /// assert_eq!(error.field, Field::LastName);
    /// ```
    ///
    /// # Errors
    /// The first invalid field, named, with its reason.
    pub fn from_parts(
        first_name: &str,
        last_name: &str,
        document: &str,
        birthdate: &[u8],
        number: u32,
    ) -> Result<Self, FieldError> {
        Ok(Self {
            first_name: Name::new(Field::FirstName, first_name)?,
            last_name: Name::new(Field::LastName, last_name)?,
            document: Document::new(document)?,
            birthdate: Birthdate::from_text(birthdate)?,
            number: BetNumber::new(number)?,
        })
    }

    /// Refuses a bet whose player is born after `today` (the date of whoever
    /// checks: the core has no clock). Every other rule is checked when the
    /// bet is built; this one depends on the day, so it is checked where a
    /// bet is taken in (the central, for every bet of a batch; an agency,
    /// for every row of its file), not in the store, which keeps what was
    /// taken.
    ///
    /// ```
    /// use lottery_bet::{Bet, Birthdate, Field};
    /// let bet = Bet::from_fields("Ana", "Paz", "1", "9999-12-31", "7574")?;
    /// let error = bet.check_born_by(Birthdate::new(2025, 6, 1)?).unwrap_err();
    /// assert_eq!(error.field, Field::Birthdate);
    /// assert!(bet.check_born_by(Birthdate::LAST).is_ok());
    /// # Ok::<(), lottery_bet::FieldError>(())
    /// ```
    ///
    /// # Errors
    /// [`FieldReason::InFuture`] on the birthdate.
    // Inlined across crates: the central calls it for every bet it takes.
    #[inline]
    pub fn check_born_by(&self, today: Birthdate) -> Result<(), FieldError> {
        self.birthdate.check_not_after(today)
    }
}

/// A bet as the store holds it: with the agency that took it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StoredBet {
    /// The agency that took the bet.
    pub agency: AgencyId,
    /// The bet.
    pub bet: Bet,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::name_chars::{character_refusal, is_format_or_separator, refused_character};
    use proptest::prelude::*;

    /// What the refusals must be: the character walk alone, without the
    /// byte prefilter.
    fn expected_refusal(text: &str) -> Option<FieldReason> {
        character_refusal(text)
    }

    proptest! {
        #[test]
        fn the_fast_check_finds_exactly_the_refused_characters(text in "\\PC{0,12}|[\\x00-\\x{a0}]{0,12}|\\PC*[\\x{80}-\\x{9f}\\x{200b}-\\x{202e}\\x{feff}]\\PC*") {
            prop_assert_eq!(refused_character(&text), expected_refusal(&text));
        }
    }

    #[test]
    fn c1_controls_format_characters_and_their_neighbours_are_told_apart() {
        use FieldReason::{ControlCharacter, FormatCharacter};
        for (text, refused) in [
            ("a\u{80}", Some(ControlCharacter)),
            ("\u{9f}", Some(ControlCharacter)),
            ("\u{a0}", None),
            ("\u{7f}", Some(ControlCharacter)),
            ("\u{100}", None),
            ("é", None),
            ("Ana\u{202E}", Some(FormatCharacter)),
            ("\u{FEFF}Ana", Some(FormatCharacter)),
            ("Ana\u{2028}Paz", Some(FormatCharacter)),
            ("Ana\u{2029}", Some(FormatCharacter)),
            ("Ana\u{200B}", Some(FormatCharacter)),
            ("\u{AD}", Some(FormatCharacter)),
            ("\u{E0041}", Some(FormatCharacter)),
            ("\u{3000}", None),
        ] {
            assert_eq!(refused_character(text), refused, "{text:?}");
        }
    }

    #[test]
    fn the_fast_check_agrees_with_the_slow_one_on_every_character() {
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            let text = format!("a{c}b");
            assert_eq!(
                refused_character(&text),
                expected_refusal(&text),
                "U+{:04X}",
                u32::from(c)
            );
        }
    }

    #[test]
    fn names_of_only_spaces_are_refused_but_inner_spaces_are_fine() {
        for text in [" ", "   ", "\u{3000}"] {
            assert_eq!(
                Name::new(Field::LastName, text).unwrap_err(),
                FieldError::new(Field::LastName, FieldReason::Blank),
                "{text:?}"
            );
        }
        assert!(Name::new(Field::LastName, "de la Paz").is_ok());
    }

    #[test]
    fn names_with_white_space_at_an_end_or_no_letter_of_their_own_are_refused_naming_the_field() {
        use FieldReason::{NoBaseCharacter, SurroundingSpace};
        let cases = [
            (" de la Paz", SurroundingSpace),
            ("de la Paz ", SurroundingSpace),
            (" Ana ", SurroundingSpace),
            ("\u{A0}Ana", SurroundingSpace),
            ("Ana\u{3000}", SurroundingSpace),
            ("Gómez ", SurroundingSpace),
            (" Ñandú", SurroundingSpace),
            ("Жанна\u{2003}", SurroundingSpace),
            ("\u{301}", NoBaseCharacter),
            ("\u{301}\u{302}\u{36F}", NoBaseCharacter),
            ("\u{301} \u{301}", NoBaseCharacter),
            ("\u{5B0}\u{5B1}", NoBaseCharacter),
            ("\u{115F}", NoBaseCharacter),
            ("\u{1160}", NoBaseCharacter),
            ("\u{3164}", NoBaseCharacter),
            ("\u{FFA0}", NoBaseCharacter),
            ("\u{3164}\u{301}\u{FFA0}", NoBaseCharacter),
        ];
        for (text, reason) in cases {
            for field in [Field::FirstName, Field::LastName] {
                let error = Name::new(field, text).unwrap_err();
                assert_eq!(error, FieldError::new(field, reason), "{text:?}");
                assert!(error.to_string().starts_with(field.name()), "{error}");
            }
        }
        assert_eq!(
            Name::new(Field::FirstName, "\u{301}")
                .unwrap_err()
                .to_string(),
            "first_name holds only combining marks or Hangul fillers, no letter they belong to"
        );
        assert_eq!(
            Name::new(Field::LastName, "Paz ").unwrap_err().to_string(),
            "last_name begins or ends with white space"
        );
        // A mark on a letter, a letter among fillers, inner spaces: fine.
        for text in [
            "e\u{301}",
            "Jose\u{301} Mari\u{301}a",
            "\u{3164}한",
            "\u{5E9}\u{5C1}",
            "Ana María",
        ] {
            assert!(Name::new(Field::FirstName, text).is_ok(), "{text:?}");
        }
    }

    /// The Cf, Zl and Zp table against Python's `unicodedata` (when a
    /// python3 is installed): every character Python puts in those
    /// categories is refused, and every character refused is in them, or
    /// was added to Cf by a Unicode version newer than Python's.
    #[test]
    fn the_format_character_table_agrees_with_pythons_unicodedata() {
        let script = "import unicodedata\nprint(unicodedata.unidata_version)\nprint(' '.join(str(c) for c in range(0x110000) if unicodedata.category(chr(c)) in ('Cf', 'Zl', 'Zp')))";
        let Ok(output) = std::process::Command::new("python3")
            .args(["-c", script])
            .output()
        else {
            eprintln!("skipped: no python3 to compare the Unicode table with");
            return;
        };
        let text = String::from_utf8(output.stdout).unwrap();
        let mut lines = text.lines();
        let version = lines.next().unwrap().to_owned();
        let python: std::collections::BTreeSet<u32> = lines
            .next()
            .unwrap()
            .split(' ')
            .map(|c| c.parse().unwrap())
            .collect();
        // Egyptian hieroglyph format controls added in Unicode 15.0.
        let newer = 0x13439..=0x1343F;
        for code in 0..=0x10FFFFu32 {
            let Some(c) = char::from_u32(code) else {
                continue;
            };
            let ours = is_format_or_separator(c);
            let theirs = python.contains(&code);
            assert!(
                ours == theirs || (ours && newer.contains(&code)),
                "U+{code:04X}: ours {ours}, Python's (Unicode {version}) {theirs}"
            );
        }
    }

    /// The first version of [`Birthdate::from_text`], byte by byte: the
    /// oracle of the word-at-a-time one.
    fn date_byte_by_byte(bytes: &[u8]) -> Result<Birthdate, FieldError> {
        let shape_ok = bytes.len() == 10
            && bytes[4] == b'-'
            && bytes[7] == b'-'
            && bytes
                .iter()
                .enumerate()
                .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
        if !shape_ok {
            return Err(FieldError::new(Field::Birthdate, FieldReason::NotADate));
        }
        let digits = |range: std::ops::Range<usize>| {
            bytes[range]
                .iter()
                .fold(0u16, |acc, b| acc * 10 + u16::from(b - b'0'))
        };
        let month = u8::try_from(digits(5..7)).unwrap();
        let day = u8::try_from(digits(8..10)).unwrap();
        Birthdate::new(digits(0..4), month, day)
    }

    proptest! {
        #[test]
        fn dates_are_read_as_the_byte_by_byte_rule_reads_them(
            bytes in prop_oneof![
                "[0-9]{4}-[0-9]{2}-[0-9]{2}".prop_map(String::into_bytes),
                proptest::collection::vec(
                    prop_oneof![
                        4 => proptest::sample::select(b"0123456789-".to_vec()),
                        1 => any::<u8>(),
                    ],
                    8..12,
                ),
            ],
        ) {
            prop_assert_eq!(Birthdate::from_text(&bytes), date_byte_by_byte(&bytes));
        }
    }

    #[test]
    fn every_date_of_digits_is_read_as_the_byte_by_byte_rule_reads_it() {
        // Every year with the months and days around the valid ones, and
        // every month and day for years of each leap rule.
        let check = |year: u16, month: u8, day: u8| {
            let text = format!("{year:04}-{month:02}-{day:02}");
            assert_eq!(
                Birthdate::from_text(text.as_bytes()),
                date_byte_by_byte(text.as_bytes()),
                "{text}"
            );
        };
        for year in 0..=9999 {
            for month in 0..=13 {
                for day in [0, 1, 27, 28, 29, 30, 31, 32] {
                    check(year, month, day);
                }
            }
        }
        for year in [0, 1, 4, 100, 400, 1900, 1999, 2000, 2024, 9996, 9999] {
            for month in 0..=99 {
                for day in 0..=99 {
                    check(year, month, day);
                }
            }
        }
    }

    #[test]
    fn every_byte_in_every_place_of_a_date_is_told_apart() {
        for base in [b"2000-02-29", b"1900-02-28", b"0001-12-31", b"9999-10-09"] {
            for at in 0..10 {
                for byte in 0..=255u8 {
                    let mut bytes = *base;
                    bytes[at] = byte;
                    assert_eq!(
                        Birthdate::from_text(&bytes),
                        date_byte_by_byte(&bytes),
                        "{byte:#x} at {at} of {base:?}"
                    );
                }
            }
        }
    }

    /// [`BetNumber::from_text`] before its one-pass path: the general
    /// parser, then the range.
    fn number_by_the_general_parser(bytes: &[u8]) -> Result<BetNumber, FieldError> {
        let number = parse_decimal(bytes, Field::Number, 4)?;
        BetNumber::new(
            u32::try_from(number)
                .map_err(|_| FieldError::new(Field::Number, FieldReason::OutOfRange))?,
        )
    }

    proptest! {
        #[test]
        fn numbers_are_read_as_the_general_parser_reads_them(
            bytes in proptest::collection::vec(
                prop_oneof![
                    4 => proptest::sample::select(b"0123456789".to_vec()),
                    1 => any::<u8>(),
                ],
                0..=64,
            ),
        ) {
            prop_assert_eq!(BetNumber::from_text(&bytes), number_by_the_general_parser(&bytes));
        }
    }

    #[test]
    fn every_byte_in_every_place_of_a_short_number_is_told_apart() {
        for len in 0..=6 {
            for at in 0..len {
                for byte in 0..=255u8 {
                    for base in [b'0', b'9'] {
                        let mut bytes = vec![base; len];
                        bytes[at] = byte;
                        assert_eq!(
                            BetNumber::from_text(&bytes),
                            number_by_the_general_parser(&bytes),
                            "{byte:#x} at {at} of {len}"
                        );
                    }
                }
            }
        }
        assert_eq!(BetNumber::from_text(b""), number_by_the_general_parser(b""));
    }

    #[test]
    fn every_day_of_every_month_of_every_year_is_told_apart_as_the_month_rule_does() {
        for year in 0..=10_000u16 {
            for month in 0..=13u8 {
                for day in 0..=32u8 {
                    let valid = (1..=9999).contains(&year)
                        && (1..=12).contains(&month)
                        && day >= 1
                        && day <= days_in_month(year, month);
                    assert_eq!(
                        Birthdate::new(year, month, day).is_ok(),
                        valid,
                        "{year}-{month}-{day}"
                    );
                }
            }
        }
        assert!(Birthdate::new(u16::MAX, 1, 1).is_err());
        assert!(Birthdate::new(2000, u8::MAX, 1).is_err());
        assert!(Birthdate::new(2000, 1, u8::MAX).is_err());
    }

    #[test]
    fn leap_years_follow_the_gregorian_rule() {
        assert!("2024-02-29".parse::<Birthdate>().is_ok());
        assert!("2000-02-29".parse::<Birthdate>().is_ok());
        assert!("1900-02-29".parse::<Birthdate>().is_err());
        assert!("2023-02-29".parse::<Birthdate>().is_err());
        assert!("2023-04-31".parse::<Birthdate>().is_err());
        assert!("2023-12-31".parse::<Birthdate>().is_ok());
    }

    #[test]
    fn malformed_dates_are_refused_with_the_field_named() {
        for text in [
            "1999-3-17",
            "1999/03/17",
            "99-03-17",
            "1999-03-17 ",
            "0000-01-01",
            "1999-13-01",
            "1999-00-10",
        ] {
            let error = text.parse::<Birthdate>().unwrap_err();
            assert_eq!(error.field, Field::Birthdate, "{text}");
        }
    }

    #[test]
    fn birthdates_after_today_are_refused_and_today_itself_is_fine() {
        let today: Birthdate = "2025-06-15".parse().unwrap();
        for fine in [
            "2025-06-15",
            "2025-06-14",
            "2025-05-31",
            "2024-12-31",
            "0001-01-01",
        ] {
            let date: Birthdate = fine.parse().unwrap();
            assert_eq!(date.check_not_after(today), Ok(()), "{fine}");
        }
        for late in ["2025-06-16", "2025-07-01", "2026-01-01", "9999-12-31"] {
            let error = late.parse::<Birthdate>().unwrap().check_not_after(today);
            assert_eq!(
                error,
                Err(FieldError::new(Field::Birthdate, FieldReason::InFuture)),
                "{late}"
            );
        }
        let bet = Bet::from_fields("Ana", "Paz", "1", "9999-12-31", "1").unwrap();
        assert_eq!(bet.check_born_by(Birthdate::LAST), Ok(()));
        assert_eq!(
            bet.check_born_by(today).unwrap_err().to_string(),
            "birthdate is after today"
        );
    }

    #[test]
    fn birthdate_displays_as_it_was_written() {
        let date: Birthdate = "0987-01-05".parse().unwrap();
        assert_eq!(date.to_string(), "0987-01-05");
    }

    #[test]
    fn documents_are_digits_and_keep_leading_zeros() {
        assert_eq!(Document::new("0012").unwrap().as_str(), "0012");
        assert_eq!(Document::new("").unwrap_err().reason, FieldReason::Empty);
        assert_eq!(
            Document::new("12a").unwrap_err().reason,
            FieldReason::NotDigits
        );
        assert!(Document::new("1".repeat(20)).is_ok());
        assert!(Document::new("1".repeat(21)).is_err());
    }

    #[test]
    fn names_refuse_empty_control_and_oversized_text() {
        assert!(Name::new(Field::FirstName, "José, \"Pepe\"").is_ok());
        assert_eq!(
            Name::new(Field::LastName, "").unwrap_err().field,
            Field::LastName
        );
        assert_eq!(
            Name::new(Field::FirstName, "a\nb").unwrap_err().reason,
            FieldReason::ControlCharacter
        );
        assert!(Name::new(Field::FirstName, "é".repeat(127)).is_ok());
        assert!(Name::new(Field::FirstName, "é".repeat(128)).is_err());
    }

    #[test]
    fn numbers_are_bounded() {
        assert_eq!("0".parse::<BetNumber>().unwrap().get(), 0);
        assert_eq!("09999".parse::<BetNumber>().unwrap().get(), 9999);
        assert!("10000".parse::<BetNumber>().is_err());
        assert!("-1".parse::<BetNumber>().is_err());
        assert!("99999999999999999999999".parse::<BetNumber>().is_err());
    }

    #[test]
    fn agency_zero_is_not_an_agency() {
        assert!("0".parse::<AgencyId>().is_err());
        assert_eq!("7".parse::<AgencyId>().unwrap().get(), 7);
        assert!("4294967296".parse::<AgencyId>().is_err());
    }
}
