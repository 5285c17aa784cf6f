//! An agency file's usual row split and checked in one pass, where it lies
//! in the read buffer: the fast path of [`crate::AgencyFile::read_plain_bets`].
//!
//! The general path splits a row (`row_reader`'s `split_plain`: every
//! comma and the first control byte, a word at a time), then checks each
//! field again from its first byte ([`BetFields::check`]). But the fields
//! of a valid bet say where they end: the document's digits end at its
//! comma, the date is ten bytes and a comma, the number's digits end at the
//! line end. So here only the two names are searched for their commas;
//! the document and the number are found by the same word test that
//! checks their digits, and the date is checked where it must lie.
//!
//! [`split_bet`] returns a row only when it is a valid bet (every rule of
//! [`BetFields::check`]) and a plain row that `split_plain` would split
//! the same way: then its fields and their ends are those of the general
//! path. Anything else (`None`) is no verdict: the row is read again by the
//! general path, which takes it or reports it as before. The proptest
//! `split_bet_agrees_with_the_general_path` compares the two on arbitrary
//! rows. What it never decides itself is left to the rules' own functions:
//! the lengths take `check_name_len` and `check_document_len`, a name's
//! ends [`spaced_verdict`], its letters [`is_ascii_and_letters_in`], any
//! other name [`check_name`]; the date takes [`Birthdate::from_text`], the
//! number [`BetNumber::new`].

use crate::bet::{BetNumber, Birthdate, MAX_DOCUMENT_DIGITS, MAX_NAME_BYTES};
use crate::bet_fields::BetFields;
use crate::field::Field;
use crate::field_bytes::{
    check_document_len, check_name, check_name_len, is_ascii_and_letters_in, spaced_verdict,
};
use crate::row_reader::{LineEnd, RowEnd};
use crate::swar::{HIGHS, ONES, bytes_below, bytes_equal, not_digits, word_within};

/// Where the run of ASCII digits at `at` ends (the first byte that is not
/// one), if that is within `max` bytes and the buffer's whole words (a
/// longer run is no verdict: the general path refuses or takes it).
#[inline(always)]
fn digits_end(input: &[u8], at: usize, max: usize) -> Option<usize> {
    let mut pos = at;
    loop {
        let stops = not_digits(word_within(input, pos)?);
        if stops != 0 {
            let end = pos + stops.trailing_zeros() as usize / 8;
            return (end - at <= max).then_some(end);
        }
        pos += 8;
        if pos - at > max {
            return None;
        }
    }
}

/// Where the name at `at` ends (at a comma: anything else is left to the
/// general path, as is a name the search does not reach within a word past
/// [`MAX_NAME_BYTES`]) and whether its bytes are all printable ASCII, a
/// word at a time; its length is the name rule's to judge. A byte below
/// 0x20 stops the search (it would end a plain row, or keep the row from
/// being plain); before it, a byte is printable
/// unless it is 0x7F or above, which `(word | word + 0x01..) & 0x80..`
/// tells for a whole word (no printable byte carries; the lowest other
/// byte sets a high bit itself).
#[inline(always)]
fn name_end(input: &[u8], at: usize) -> Option<(usize, bool)> {
    let mut pos = at;
    let mut beyond_ascii = 0;
    loop {
        let word = word_within(input, pos)?;
        let stops = bytes_below(word, 0x20) | bytes_equal(word, b',');
        if stops != 0 {
            let end = pos + stops.trailing_zeros() as usize / 8;
            if input[end] != b',' {
                return None;
            }
            // The bytes up to the stop, the stop (a comma) included.
            let kept = word & (stops ^ (stops - 1));
            beyond_ascii |= kept | kept.wrapping_add(ONES);
            return Some((end, beyond_ascii & HIGHS == 0));
        }
        beyond_ascii |= word | word.wrapping_add(ONES);
        pos += 8;
        if pos - at > MAX_NAME_BYTES {
            return None;
        }
    }
}

/// Checks the name at `start..end` of `input` (none of its bytes below
/// 0x20, and at least seven bytes of the row after it): its length by the
/// rule, then at once when it is printable ASCII (`printable`, from the
/// search for its end) or printable ASCII and accented letters
/// ([`is_ascii_and_letters_in`]), by its ends ([`spaced_verdict`]: a blank
/// name begins with a space, refused all the same); else with the rule
/// itself.
#[inline(always)]
fn name_ok(field: Field, input: &[u8], start: usize, end: usize, printable: bool) -> bool {
    if check_name_len(field, end - start).is_err() {
        return false;
    }
    if printable || is_ascii_and_letters_in(input, &(start..end)) {
        return spaced_verdict(field, input[start], input[end - 1], false).is_ok();
    }
    check_name(field, &input[start..end]).is_ok()
}

/// The row at the front of `input` (which holds no `"` in its first
/// `quote_free` bytes), if it is a plain row holding a valid bet: its
/// fields checked, where its first four texts end (the run
/// `first_name,last_name,document,birthdate` is `input[..head]`), and
/// where the row ends. `None` leaves the row to the general path.
#[inline(always)]
pub(crate) fn split_bet(input: &[u8], quote_free: usize) -> Option<(BetFields<'_>, usize, RowEnd)> {
    let (first_end, first_printable) = name_end(input, 0)?;
    let last_start = first_end + 1;
    let (last_end, last_printable) = name_end(input, last_start)?;
    let document_start = last_end + 1;
    let document_end = digits_end(input, document_start, MAX_DOCUMENT_DIGITS)?;
    check_document_len(document_end - document_start).ok()?;
    if input[document_end] != b',' {
        return None;
    }
    let birthdate_start = document_end + 1;
    let birthdate_end = birthdate_start + Birthdate::TEXT_LEN;
    let number_start = birthdate_end + 1;
    if input.get(birthdate_end) != Some(&b',') {
        return None;
    }
    // One to four digits, then the line end.
    let number_end = digits_end(input, number_start, 4)?;
    let line_end = match (input[number_end], input.get(number_end + 1)) {
        (b'\r', Some(b'\n')) => LineEnd::CrLf,
        (b'\r', _) => LineEnd::Cr,
        (b'\n', _) => LineEnd::Lf,
        _ => return None,
    };
    if number_end == number_start || number_end > quote_free {
        return None;
    }
    // Both names lie before the document, the date and the number: the
    // seven bytes that the letters' word check may read past a name's end
    // are the row's.
    debug_assert!(last_end + 7 < input.len(), "the row follows the names");
    if !(name_ok(Field::FirstName, input, 0, first_end, first_printable)
        && name_ok(Field::LastName, input, last_start, last_end, last_printable))
    {
        return None;
    }
    let birthdate_text = &input[birthdate_start..birthdate_end];
    let birthdate = Birthdate::from_text(birthdate_text).ok()?;
    let number = input[number_start..number_end]
        .iter()
        .fold(0, |value, &digit| value * 10 + u32::from(digit - b'0'));
    let fields = BetFields::checked(
        &input[..first_end],
        &input[last_start..last_end],
        &input[document_start..document_end],
        birthdate,
        birthdate_text,
        BetNumber::new(number).ok()?,
    );
    let end = RowEnd {
        len: number_end,
        line_end,
    };
    Some((fields, birthdate_end, end))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use crate::chunked::Chunked;
    use crate::field_bytes::is_ascii_and_letters;
    use crate::{AgencyFile, Bet, Birthdate, FieldError};

    /// What a reader makes of an agency file: each bet, or each refused
    /// row's line and error, then the bytes read.
    type Outcome = (Vec<Result<Bet, (u64, FieldError)>>, u64);

    fn by_next_fields_alone(source: Chunked<'_>, today: Birthdate) -> Outcome {
        let mut rows = AgencyFile::from_reader("x", source);
        rows.born_by(today);
        let mut out = Vec::new();
        while let Some(row) = rows.next_fields() {
            out.push(
                row.map(|fields| fields.to_bet())
                    .map_err(|e| (e.line, e.error)),
            );
        }
        (out, rows.bytes_read())
    }

    fn by_plain_runs(source: Chunked<'_>, today: Birthdate) -> Outcome {
        let mut rows = AgencyFile::from_reader("x", source);
        rows.born_by(today);
        let mut out = Vec::new();
        loop {
            rows.read_plain_bets(|bet| {
                let fields = bet.fields();
                let head = [
                    fields.first_name(),
                    fields.last_name(),
                    fields.document(),
                    fields.birthdate_text(),
                ]
                .join(&b","[..]);
                assert_eq!(bet.head(), head, "the head is the four texts");
                out.push(Ok(fields.to_bet()));
            });
            match rows.next_fields() {
                Some(row) => {
                    out.push(
                        row.map(|fields| fields.to_bet())
                            .map_err(|e| (e.line, e.error)),
                    );
                }
                None => break,
            }
        }
        (out, rows.bytes_read())
    }

    /// Fields as they come in agency files and as they go wrong.
    fn field() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            4 => "[A-Za-z]{1,12}( [A-Za-z]{1,9})?".prop_map(String::into_bytes),
            2 => "[a-zñéÑáÍü ]{0,10}".prop_map(String::into_bytes),
            1 => "[ a-z0-9,\"'\\-\\t\\x7f]{0,6}".prop_map(String::into_bytes),
            1 => "[a-z\\x{80}-\\x{9f}\\x{a0}\\x{ad}\\x{202e}\\x{feff}\\x{2028}\\x{600}\\x{3000}]{0,4}".prop_map(String::into_bytes),
            1 => proptest::collection::vec(any::<u8>(), 0..5),
            1 => "[a-z]{250,258}".prop_map(String::into_bytes),
            4 => "[0-9]{1,9}".prop_map(String::into_bytes),
            1 => "[0-9]{18,22}".prop_map(String::into_bytes),
            4 => "(19[0-9]{2}|20[0-2][0-9])-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])".prop_map(String::into_bytes),
            1 => "[0-9]{4}-[0-9]{2}-[0-9]{2}".prop_map(String::into_bytes),
            1 => "[0-9]{2,4}[-/][0-9]{1,2}[-/][0-9]{1,3}".prop_map(String::into_bytes),
            4 => "[0-9]{1,4}".prop_map(String::into_bytes),
            1 => "0{0,4}[0-9]{1,6}".prop_map(String::into_bytes),
        ]
    }

    /// A row of (mostly) five fields, some quoted, with a line end.
    fn row() -> impl Strategy<Value = Vec<u8>> {
        let fields = prop_oneof![
            8 => proptest::collection::vec(field(), 5..=5),
            1 => proptest::collection::vec(field(), 0..8),
        ];
        let end =
            proptest::sample::select(vec![&b"\r\n"[..], b"\r\n", b"\n", b"\r", b"\r\n\r\n", b""]);
        (fields, any::<bool>(), end).prop_map(|(fields, quote, end)| {
            let mut row = Vec::new();
            for (at, field) in fields.iter().enumerate() {
                if at > 0 {
                    row.push(b',');
                }
                if quote && at == 1 {
                    row.push(b'"');
                    row.extend(
                        field
                            .iter()
                            .flat_map(|&b| if b == b'"' { vec![b'"', b'"'] } else { vec![b] }),
                    );
                    row.push(b'"');
                } else {
                    row.extend(field);
                }
            }
            row.extend_from_slice(end);
            row
        })
    }

    proptest! {
        #[test]
        fn split_bet_agrees_with_the_general_path(
            rows in proptest::collection::vec(row(), 0..40),
            chunk in prop_oneof![1usize..8, 8usize..100, Just(usize::MAX)],
            born_by_2020 in any::<bool>(),
        ) {
            let bytes = rows.concat();
            let today = if born_by_2020 { Birthdate::new(2020, 1, 1).unwrap() } else { Birthdate::LAST };
            let source = || Chunked::new(&bytes, chunk);
            prop_assert_eq!(by_plain_runs(source(), today), by_next_fields_alone(source(), today));
        }
    }

    #[test]
    fn every_two_byte_character_is_judged_as_the_rule_judges_it() {
        use crate::Field;
        use crate::field_bytes::{check_name, spaced_verdict};
        // Every two-byte sequence, and a lone byte, alone and among ASCII
        // (spaces included): the shortcut (the letters, then the ends)
        // never accepts what the rule refuses, and takes every character of
        // its range.
        for lead in 0x80..=0xFFu8 {
            for next in (0x00..=0xFFu8).map(Some).chain([None]) {
                let character: Vec<u8> = [Some(lead), next].into_iter().flatten().collect();
                for (before, after) in [("", ""), ("a", ""), (" ", " "), ("Ana ", "z"), ("~", "!")]
                {
                    let name = [before.as_bytes(), &character, after.as_bytes()].concat();
                    if name.iter().any(|&byte| byte < 0x20) {
                        continue;
                    }
                    let (first, last) = (name[0], name[name.len() - 1]);
                    let shortcut = is_ascii_and_letters(&name)
                        && spaced_verdict(Field::FirstName, first, last, false).is_ok();
                    if shortcut {
                        assert!(check_name(Field::FirstName, &name).is_ok(), "{name:x?}");
                    }
                    let range =
                        lead == 0xC3 && next.is_some_and(|next| (0x80..=0xBF).contains(&next));
                    assert_eq!(
                        is_ascii_and_letters(&name),
                        range && !name.contains(&0x7F),
                        "{name:x?}"
                    );
                }
            }
        }
        for name in ["Ñandú", "José María", "Gómez-Ríos", "ÀÿÑñ"] {
            assert!(is_ascii_and_letters(name.as_bytes()), "{name}");
        }
        // Letters beyond `C3` (the rule accepts them), refused characters,
        // white space, combining marks (and their leads), and what lies
        // beyond: the exact rule's to judge.
        for name in [
            "Āſ",
            "ԱՠՖ",
            "Ωμέγα",
            "Жанна",
            "Ana\u{AD}",
            "\u{600}",
            "\u{A0}",
            "日本",
            "\u{301}",
            "a\u{301}",
            "\u{483}",
            "װ",
            "\u{730}",
        ] {
            assert!(!is_ascii_and_letters(name.as_bytes()), "{name}");
        }
        // A name of those letters spaced at an end is refused by its ends.
        for name in ["Ana ", " Ana", "José "] {
            assert!(is_ascii_and_letters(name.as_bytes()), "{name}");
            let bytes = name.as_bytes();
            let verdict = spaced_verdict(Field::FirstName, bytes[0], bytes[bytes.len() - 1], false);
            assert_eq!(verdict, check_name(Field::FirstName, bytes), "{name}");
            assert!(verdict.is_err(), "{name}");
        }
    }

    #[test]
    fn usual_rows_take_the_fast_path_and_the_others_the_general_one() {
        let text = "Ana,Paz,1,2000-01-01,7\r\n\
                    Luis,Sosa,30904465,1999-03-17,7574\r\n\
                    Ñandú,Gómez,002,1990-12-31,0\n\
                    \"Rey, Ema\",Gil,3,2000-01-01,9\r\n\
                    Eva,Ríos,4,2000-02-30,9\r\n\
                    Eva,Ríos,5,2000-02-28,00009\r\n\
                    Eva,Ríos,6,2000-02-28,9\r\n\
                    Ema,Paz,7,2000-01-01,1\r\n";
        let mut rows = AgencyFile::from_reader("x", text.as_bytes());
        let mut documents = Vec::new();
        let mut runs = Vec::new();
        loop {
            runs.push(rows.read_plain_bets(|bet| documents.push(bet.fields().document().to_vec())));
            match rows.next_fields() {
                Some(Ok(fields)) => documents.push(fields.document().to_vec()),
                Some(Err(error)) => documents.push(format!("line {}", error.line).into_bytes()),
                None => break,
            }
        }
        let documents: Vec<String> = documents
            .into_iter()
            .map(|d| String::from_utf8(d).unwrap())
            .collect();
        assert_eq!(
            documents,
            ["1", "30904465", "002", "3", "line 5", "5", "6", "7"]
        );
        // Before each `next_fields`: before the first row (never fast: a
        // byte order mark), two fast rows before the quoted one, none
        // before the bad date, none before the long number, one fast row
        // before the last one (too near the end for whole words), none
        // before the end.
        assert_eq!(runs, [0, 2, 0, 0, 1, 0]);
    }
}
