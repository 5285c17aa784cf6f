//! Which field of a bet was refused, and why: the errors of validation.
//!
//! The lowest layer of the crate: the validated types ([`crate::Bet`] and its
//! fields) produce these, and every other error that concerns a field carries
//! one. It imports nothing from the crate.

use std::fmt;
use std::path::PathBuf;

/// Which field of a bet (or row) an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Field {
    /// The agency id.
    Agency,
    /// The first name.
    FirstName,
    /// The last name.
    LastName,
    /// The document (DNI).
    Document,
    /// The date of birth.
    Birthdate,
    /// The number played.
    Number,
    /// The row as a whole (wrong number of fields, broken quoting).
    Row,
}

impl Field {
    /// The field's name as the files and logs spell it.
    pub const fn name(self) -> &'static str {
        match self {
            Field::Agency => "agency",
            Field::FirstName => "first_name",
            Field::LastName => "last_name",
            Field::Document => "document",
            Field::Birthdate => "birthdate",
            Field::Number => "number",
            Field::Row => "row",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a field was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum FieldReason {
    /// The field is empty.
    #[error("is empty")]
    Empty,
    /// The field is longer than allowed.
    #[error("is longer than {max} bytes")]
    TooLong {
        /// The largest accepted length.
        max: usize,
    },
    /// The field holds a control character (newline, tab, NUL, ...).
    #[error("contains a control character")]
    ControlCharacter,
    /// The field holds an invisible format or separator character (Unicode
    /// categories Cf, Zl, Zp: a right-to-left override, a zero-width space, a
    /// byte-order mark, a line separator, ...), which would make the stored
    /// name look like another.
    #[error("contains an invisible format or separator character (Unicode Cf, Zl or Zp)")]
    FormatCharacter,
    /// The field is nothing but spaces.
    #[error("is only spaces")]
    Blank,
    /// The name begins or ends with white space (a space, a no-break or
    /// ideographic space, ...): `"Ana "` would be stored as another name
    /// than `"Ana"` that looks the same.
    #[error("begins or ends with white space")]
    SurroundingSpace,
    /// The name holds no character of its own: only combining marks
    /// (Unicode M: U+0301 ...) or Hangul fillers (U+115F, U+1160, U+3164,
    /// U+FFA0), with spaces maybe, which show as nothing or as a mark on
    /// nothing.
    #[error("holds only combining marks or Hangul fillers, no letter they belong to")]
    NoBaseCharacter,
    /// The field must be decimal digits only.
    #[error("is not made of decimal digits")]
    NotDigits,
    /// The number is outside its range.
    #[error("is out of range")]
    OutOfRange,
    /// The text is not shaped `YYYY-MM-DD`.
    #[error("is not a date written YYYY-MM-DD")]
    NotADate,
    /// The date is shaped right but does not exist (February 30th, ...).
    #[error("is not a real calendar date")]
    InvalidDate,
    /// The date is after the current date of whoever checks it (a birthdate
    /// in the future): see [`crate::Birthdate::check_not_after`].
    #[error("is after today")]
    InFuture,
    /// The row has the wrong number of fields.
    #[error("has {found} fields, expected {expected}")]
    FieldCount {
        /// How many fields a row must have.
        expected: usize,
        /// How many it has.
        found: usize,
    },
    /// The row is not valid CSV or not valid UTF-8.
    #[error("is not valid UTF-8 CSV")]
    Malformed,
}

/// A refused field: which one, and why.
///
/// ```
/// use lottery_bet::{Document, Field};
/// let error = Document::new("12a").unwrap_err();
/// assert_eq!(error.field, Field::Document);
/// assert_eq!(error.to_string(), "document is not made of decimal digits");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[error("{field} {reason}")]
pub struct FieldError {
    /// The field.
    pub field: Field,
    /// The reason.
    pub reason: FieldReason,
}

impl FieldError {
    /// Builds a field error.
    pub const fn new(field: Field, reason: FieldReason) -> Self {
        Self { field, reason }
    }
}

/// A bad row in a file: where it is and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("{}:{line}: {error}", path.display())]
pub struct RowError {
    /// The file.
    pub path: PathBuf,
    /// The line, from 1.
    pub line: u64,
    /// What is wrong.
    pub error: FieldError,
}
