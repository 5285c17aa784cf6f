//! A bet checked in place: its five fields validated where they lie (an
//! agency file's row, as the CSV parser wrote it), without building a
//! [`Bet`], so that an agency can write them straight into a frame.
//!
//! The rules are [`crate::field_bytes`]'s, the ones every constructor of
//! [`Bet`] calls; the fields are checked in agency-file order, so a row is
//! refused with the same field and reason as [`Bet::from_fields`] refuses
//! its text. Above `bet` (it makes [`Bet`]s), below `row`.

use crate::bet::{Bet, BetNumber, Birthdate, Document, Name};
use crate::field::{Field, FieldError};
use crate::field_bytes::{check_document, check_name};

/// A bet's fields, validated where they lie: the names and the document as
/// the bytes they were checked in (UTF-8, by then), the date and the number
/// parsed.
///
/// ```
/// use lottery_bet::{Bet, BetFields};
/// let fields = BetFields::check(b"Ana", "Pérez".as_bytes(), b"007", b"1999-03-17", b"42")?;
/// assert_eq!((fields.document(), fields.number().get()), (&b"007"[..], 42));
/// assert_eq!(fields.to_bet(), Bet::from_fields("Ana", "Pérez", "007", "1999-03-17", "42")?);
/// assert!(BetFields::check(b"Ana", b"   ", b"007", b"1999-03-17", b"42").is_err());
/// # Ok::<(), lottery_bet::FieldError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BetFields<'a> {
    first_name: &'a [u8],
    last_name: &'a [u8],
    document: &'a [u8],
    birthdate: Birthdate,
    /// The birthdate's bytes as they came: `birthdate.to_text()` exactly
    /// (a valid date has one spelling), kept so that writing the bet copies
    /// them instead of formatting the date again.
    birthdate_text: &'a [u8],
    number: BetNumber,
}

impl<'a> BetFields<'a> {
    /// Validates a bet's five fields given as bytes, in agency-file order,
    /// with the rules of [`Bet::from_fields`].
    ///
    /// # Errors
    /// The first invalid field, named, with its reason (a name whose bytes
    /// are not UTF-8: [`crate::FieldReason::Malformed`] on that field).
    #[inline]
    pub fn check(
        first_name: &'a [u8],
        last_name: &'a [u8],
        document: &'a [u8],
        birthdate: &'a [u8],
        number: &[u8],
    ) -> Result<Self, FieldError> {
        check_name(Field::FirstName, first_name)?;
        check_name(Field::LastName, last_name)?;
        check_document(document)?;
        let date = Birthdate::from_text(birthdate)?;
        let number = BetNumber::from_text(number)?;
        // The date's bytes as they came are its text (`checked` asserts it).
        Ok(Self::checked(
            first_name, last_name, document, date, birthdate, number,
        ))
    }

    /// Fields some other path checked with the rules of
    /// [`BetFields::check`] (`bet_row`, which a proptest compares with it).
    #[inline(always)]
    pub(crate) fn checked(
        first_name: &'a [u8],
        last_name: &'a [u8],
        document: &'a [u8],
        birthdate: Birthdate,
        birthdate_text: &'a [u8],
        number: BetNumber,
    ) -> Self {
        debug_assert_eq!(birthdate.to_text(), birthdate_text, "one spelling");
        Self {
            first_name,
            last_name,
            document,
            birthdate,
            birthdate_text,
            number,
        }
    }

    /// The first name's bytes (UTF-8).
    #[inline(always)]
    pub fn first_name(&self) -> &'a [u8] {
        self.first_name
    }

    /// The last name's bytes (UTF-8).
    #[inline(always)]
    pub fn last_name(&self) -> &'a [u8] {
        self.last_name
    }

    /// The document's bytes (ASCII digits).
    #[inline(always)]
    pub fn document(&self) -> &'a [u8] {
        self.document
    }

    /// The date of birth.
    #[inline(always)]
    pub fn birthdate(&self) -> Birthdate {
        self.birthdate
    }

    /// The date of birth as written, `YYYY-MM-DD`: the bytes of
    /// [`Birthdate::to_text`], without formatting them again (a valid date
    /// is written only one way).
    #[inline(always)]
    pub fn birthdate_text(&self) -> &'a [u8] {
        self.birthdate_text
    }

    /// The number played.
    #[inline(always)]
    pub fn number(&self) -> BetNumber {
        self.number
    }

    /// Refuses a bet whose player is born after `today`, as
    /// [`Bet::check_born_by`] does.
    ///
    /// # Errors
    /// [`crate::FieldReason::InFuture`] on the birthdate.
    #[inline]
    pub fn check_born_by(&self, today: Birthdate) -> Result<(), FieldError> {
        self.birthdate.check_not_after(today)
    }

    /// The same bet as a [`Bet`] (which owns its texts).
    pub fn to_bet(&self) -> Bet {
        let text = |bytes| std::str::from_utf8(bytes).expect("checked fields are UTF-8");
        Bet {
            first_name: Name::checked(text(self.first_name)),
            last_name: Name::checked(text(self.last_name)),
            document: Document::checked(text(self.document)),
            birthdate: self.birthdate,
            number: self.number,
        }
    }
}

/// A bet of a *plain* agency row (no quote, so its fields are the row's
/// bytes between single commas), checked where it lies: its
/// [`BetFields`], and the row's bytes from the first name to the end of
/// the birthdate, the commas between them included. An encoder may copy
/// that run once and write each field's length over the comma before it,
/// instead of copying the four texts one by one.
///
/// Made by [`crate::AgencyFile::read_plain_bets`] only, so `head` is
/// always `first_name,last_name,document,birthdate` of its fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlainBet<'a> {
    fields: BetFields<'a>,
    head: &'a [u8],
}

impl<'a> PlainBet<'a> {
    /// The fields of `head`, a row's `first_name,last_name,document,birthdate`.
    #[inline(always)]
    pub(crate) fn new(fields: BetFields<'a>, head: &'a [u8]) -> Self {
        debug_assert_eq!(
            head,
            [
                fields.first_name(),
                fields.last_name(),
                fields.document(),
                fields.birthdate_text()
            ]
            .join(&b","[..]),
            "the head is the four texts, comma separated"
        );
        Self { fields, head }
    }

    /// The bet's fields.
    #[inline(always)]
    pub fn fields(&self) -> &BetFields<'a> {
        &self.fields
    }

    /// `first_name,last_name,document,birthdate`, as the row holds them:
    /// the four texts of [`PlainBet::fields`], one comma between each.
    #[inline(always)]
    pub fn head(&self) -> &'a [u8] {
        self.head
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Text fields as adversarial as names get: ASCII with spaces and
    /// controls, accented letters, format and separator characters, CR/LF,
    /// spaces only, and anything printable.
    fn field() -> impl Strategy<Value = String> {
        prop_oneof![
            "[ a-zA-Z0-9,\"'\\-]{0,12}",
            "[ \\t\\r\\n\\x00\\x7f]{0,4}",
            " {0,300}",
            "[a-zñéÑ \\x{80}-\\x{9f}\\x{a0}\\x{ad}\\x{202e}\\x{feff}\\x{2028}\\x{2029}\\x{200b}\\x{3000}\\x{e0041}]{0,10}",
            "\\PC{0,12}",
            "[a-z]{250,260}",
            "[0-9]{0,22}",
            "[0-9]{4}-[0-9]{2}-[0-9]{2}",
            "0{0,6}[0-9]{0,6}",
        ]
    }

    proptest! {
        #[test]
        fn checking_bytes_agrees_with_building_a_bet(
            first in field(),
            last in field(),
            document in field(),
            birthdate in field(),
            number in field(),
        ) {
            let reference = Bet::from_fields(&first, &last, &document, &birthdate, &number);
            let checked = BetFields::check(
                first.as_bytes(),
                last.as_bytes(),
                document.as_bytes(),
                birthdate.as_bytes(),
                number.as_bytes(),
            );
            if let Ok(fields) = &checked {
                prop_assert_eq!(&fields.birthdate().to_text()[..], fields.birthdate_text());
            }
            prop_assert_eq!(checked.map(|fields| fields.to_bet()), reference);
        }

        #[test]
        fn an_accepted_birthdate_is_written_as_it_came(
            text in "[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{1,4}-[0-9]{1,2}-[0-9]{1,3}|[0-9 +-]{8,11}",
        ) {
            if let Ok(fields) = BetFields::check(b"Ana", b"Paz", b"1", text.as_bytes(), b"1") {
                prop_assert_eq!(fields.birthdate_text(), text.as_bytes());
                prop_assert_eq!(&fields.birthdate().to_text()[..], text.as_bytes());
            }
        }

        #[test]
        fn bytes_that_are_not_utf8_are_refused_on_their_field(
            prefix in "[a-z]{0,5}",
            bad in 0x80u8..=0xFF,
        ) {
            let mut name = prefix.into_bytes();
            name.push(bad);
            let error = BetFields::check(b"Ana", &name, b"1", b"2000-01-01", b"1").unwrap_err();
            prop_assert_eq!(error.field, Field::LastName);
        }
    }

    #[test]
    fn adversarial_names_are_refused_as_the_bet_refuses_them() {
        for name in [
            "",
            " ",
            "   ",
            "\u{3000}",
            "Ana\u{202E}",
            "\u{FEFF}Ana",
            "Ana\u{2028}Paz",
            "Ana\r\n",
            "Ana\r",
            "Ana\t",
            "a\u{7f}",
            "a\u{85}",
            "Ñandú",
            " de la Paz ",
        ] {
            let reference = Bet::from_fields(name, "Paz", "1", "2000-01-01", "1");
            let checked = BetFields::check(name.as_bytes(), b"Paz", b"1", b"2000-01-01", b"1");
            assert_eq!(checked.map(|fields| fields.to_bet()), reference, "{name:?}");
        }
    }
}
