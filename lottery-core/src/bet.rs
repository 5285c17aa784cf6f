//! Validated bet types: what a bet is, and what makes one acceptable.
//!
//! Every constructor checks its value once, so code holding a [`Bet`] never
//! checks again. Errors name the field and the reason ([`FieldError`]).

use std::fmt;
use std::num::NonZeroU32;
use std::str::FromStr;

use crate::error::{Field, FieldError, FieldReason};

/// Longest accepted name, in bytes of UTF-8.
pub const MAX_NAME_BYTES: usize = 255;
/// Longest accepted document (DNI), in ASCII digits.
pub const MAX_DOCUMENT_DIGITS: usize = 20;
/// Largest bet number.
pub const MAX_BET_NUMBER: u16 = 9999;

/// An agency's id: a positive integer.
///
/// ```
/// use lottery_core::AgencyId;
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

impl FromStr for AgencyId {
    type Err = FieldError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let id = parse_decimal(text, Field::Agency, 10)?;
        let id = u32::try_from(id)
            .map_err(|_| FieldError::new(Field::Agency, FieldReason::OutOfRange))?;
        Self::new(id)
    }
}

/// A first or last name: non-empty UTF-8, no control characters, at most
/// [`MAX_NAME_BYTES`] bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Name(String);

impl Name {
    /// Validates a name; `field` says which one it is, for the error.
    ///
    /// # Errors
    /// [`FieldReason::Empty`], [`FieldReason::TooLong`] or
    /// [`FieldReason::ControlCharacter`].
    pub fn new(field: Field, text: impl Into<String>) -> Result<Self, FieldError> {
        let text = text.into();
        if text.is_empty() {
            return Err(FieldError::new(field, FieldReason::Empty));
        }
        if text.len() > MAX_NAME_BYTES {
            return Err(FieldError::new(
                field,
                FieldReason::TooLong {
                    max: MAX_NAME_BYTES,
                },
            ));
        }
        if text.chars().any(char::is_control) {
            return Err(FieldError::new(field, FieldReason::ControlCharacter));
        }
        Ok(Self(text))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A document (DNI): 1 to [`MAX_DOCUMENT_DIGITS`] ASCII digits, kept as text so
/// leading zeros survive.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Document(String);

impl Document {
    /// Validates a document.
    ///
    /// # Errors
    /// [`FieldReason::Empty`], [`FieldReason::TooLong`] or [`FieldReason::NotDigits`].
    pub fn new(text: impl Into<String>) -> Result<Self, FieldError> {
        let text = text.into();
        if text.is_empty() {
            return Err(FieldError::new(Field::Document, FieldReason::Empty));
        }
        if text.len() > MAX_DOCUMENT_DIGITS {
            return Err(FieldError::new(
                Field::Document,
                FieldReason::TooLong {
                    max: MAX_DOCUMENT_DIGITS,
                },
            ));
        }
        if !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(FieldError::new(Field::Document, FieldReason::NotDigits));
        }
        Ok(Self(text))
    }

    /// The document as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Document {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

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
    /// use lottery_core::Birthdate;
    /// assert!(Birthdate::new(2000, 2, 29).is_ok());
    /// assert!(Birthdate::new(1900, 2, 29).is_err());
    /// ```
    ///
    /// # Errors
    /// [`FieldReason::InvalidDate`] when the day does not exist.
    pub fn new(year: u16, month: u8, day: u8) -> Result<Self, FieldError> {
        let invalid = || FieldError::new(Field::Birthdate, FieldReason::InvalidDate);
        if !(1..=9999).contains(&year) || !(1..=12).contains(&month) {
            return Err(invalid());
        }
        if day == 0 || day > days_in_month(year, month) {
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
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 31,
    }
}

fn is_leap_year(year: u16) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

impl fmt::Display for Birthdate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl FromStr for Birthdate {
    type Err = FieldError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bytes = text.as_bytes();
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
        // Month and day have two digits, so they fit in u8.
        let month = u8::try_from(digits(5..7)).expect("two digits fit in u8");
        let day = u8::try_from(digits(8..10)).expect("two digits fit in u8");
        Self::new(digits(0..4), month, day)
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
}

impl fmt::Display for BetNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for BetNumber {
    type Err = FieldError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let number = parse_decimal(text, Field::Number, 4)?;
        Self::new(
            u32::try_from(number)
                .map_err(|_| FieldError::new(Field::Number, FieldReason::OutOfRange))?,
        )
    }
}

/// Parses plain decimal digits (no sign, no spaces) of at most `max_digits`.
fn parse_decimal(text: &str, field: Field, max_digits: usize) -> Result<u64, FieldError> {
    if text.is_empty() {
        return Err(FieldError::new(field, FieldReason::Empty));
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FieldError::new(field, FieldReason::NotDigits));
    }
    // Leading zeros are allowed ("0042"), so only significant digits count.
    let significant = text.trim_start_matches('0');
    if significant.len() > max_digits {
        return Err(FieldError::new(field, FieldReason::OutOfRange));
    }
    Ok(significant
        .bytes()
        .fold(0u64, |acc, b| acc * 10 + u64::from(b - b'0')))
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
    /// use lottery_core::Bet;
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

    /// Parses one row of an agency file:
    /// `first_name,last_name,document,birthdate,number`.
    ///
    /// # Errors
    /// [`FieldReason::FieldCount`] on a row with other than 5 fields, else the
    /// first invalid field.
    pub fn from_agency_row(record: &csv::StringRecord) -> Result<Self, FieldError> {
        match record.iter().collect::<Vec<_>>()[..] {
            [first, last, document, birthdate, number] => {
                Self::from_fields(first, last, document, birthdate, number)
            }
            _ => Err(FieldError::new(
                Field::Row,
                FieldReason::FieldCount {
                    expected: 5,
                    found: record.len(),
                },
            )),
        }
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

impl StoredBet {
    /// Parses one row of `bets.csv`:
    /// `agency,first_name,last_name,document,birthdate,number`.
    ///
    /// # Errors
    /// [`FieldReason::FieldCount`] on a row with other than 6 fields, else the
    /// first invalid field.
    pub fn from_store_row(record: &csv::StringRecord) -> Result<Self, FieldError> {
        match record.iter().collect::<Vec<_>>()[..] {
            [agency, first, last, document, birthdate, number] => Ok(Self {
                agency: agency.parse()?,
                bet: Bet::from_fields(first, last, document, birthdate, number)?,
            }),
            _ => Err(FieldError::new(
                Field::Row,
                FieldReason::FieldCount {
                    expected: 6,
                    found: record.len(),
                },
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn rows_with_the_wrong_field_count_are_refused() {
        let row = csv::StringRecord::from(vec!["a", "b", "1", "2000-01-01"]);
        let error = Bet::from_agency_row(&row).unwrap_err();
        assert_eq!(
            error.reason,
            FieldReason::FieldCount {
                expected: 5,
                found: 4
            }
        );
    }
}
