//! The rules of a bet's fields, written once, over bytes.
//!
//! Every constructor of the validated types ([`crate::Name`],
//! [`crate::Document`], [`crate::BetNumber`], ...) and every path that checks
//! fields in place (an agency file's row straight into a frame:
//! [`crate::BetFields`]) calls these functions, so a field is accepted or
//! refused, with the same reason, whichever way it comes in. Below `bet`: it
//! imports only the field errors.
//!
//! The name rule, in order: not empty, at most [`MAX_NAME_BYTES`] bytes,
//! UTF-8, no Unicode Cc, Cf, Zl or Zp character, not only white space, no
//! white space at either end, and a character of its own: not only
//! combining marks (Unicode M) and Hangul fillers (`name_chars`).
//!
//! One route per check: a name is checked by [`check_name`] (bytes) or
//! [`check_name_in`] (a text in a padded buffer, the same rule a word at a
//! time), both deciding by the same three ways ([`spaced_verdict`] on
//! printable ASCII, then on ASCII and letters, else the exact rule); every
//! length by `check_text_len`, which the agency rows' fast path (`bet_row`)
//! calls too. A name takes a fast path, eight bytes at a time: a name made
//! only of printable ASCII (0x20 to 0x7E) holds no refused character, its
//! only whitespace is the space (so its ends are told by its first and last
//! byte), and it has a character of its own unless it is blank. Else a name of printable ASCII
//! and `C3` letters (`é`, `ñ`: [`is_ascii_and_letters`], one word rule
//! folded over the bytes or over the buffer) is told the same way (those
//! letters are neither marks nor white space). Any other name takes the
//! exact rule, from its first byte that is not printable ASCII: the ASCII
//! before it can change none of the answers but the last three. Combining
//! marks and fillers are looked up only on the exact path.

use std::ops::Range;

use crate::field::{Field, FieldError, FieldReason};
use crate::name_chars::{is_base_character, refused_character};
use crate::swar::{
    ONES, ascii_and_c3_letters, fold_covering, fold_filled, fold_words, not_digits,
    quote_or_delimiter, refused_ascii,
};

/// Longest accepted name, in bytes of UTF-8.
pub const MAX_NAME_BYTES: usize = 255;
/// Longest accepted document (DNI), in ASCII digits.
pub const MAX_DOCUMENT_DIGITS: usize = 20;
/// Largest bet number.
pub const MAX_BET_NUMBER: u16 = 9999;

/// Checks a name given as bytes (`field` says which one it is, for the
/// error): the rules of [`crate::Name::new`], which calls this too.
///
/// # Errors
/// [`FieldReason::Empty`], [`FieldReason::TooLong`],
/// [`FieldReason::Malformed`] (bytes that are not UTF-8),
/// [`FieldReason::ControlCharacter`], [`FieldReason::FormatCharacter`],
/// [`FieldReason::Blank`], [`FieldReason::SurroundingSpace`] or
/// [`FieldReason::NoBaseCharacter`], in that order.
#[inline]
pub(crate) fn check_name(field: Field, bytes: &[u8]) -> Result<(), FieldError> {
    check_name_len(field, bytes.len())?;
    // One pass: whether any byte is not printable ASCII, and whether any
    // is not a space (the blank rule on printable ASCII).
    let spaces = ONES * u64::from(b' ');
    let (refused, not_space) = fold_covering(bytes, (0, 0), |(r, s), word| {
        (r | refused_ascii(word), s | (word ^ spaces))
    });
    // The three ways of every name check (as in `check_name_in`): printable
    // ASCII and then printable ASCII and `C3` letters take the one verdict
    // on such names, any other the exact rule.
    let (first, last) = (bytes[0], bytes[bytes.len() - 1]);
    if refused == 0 {
        return spaced_verdict(field, first, last, not_space == 0);
    }
    if is_ascii_and_letters(bytes) {
        // A byte that is not printable ASCII is one of the letters: not
        // blank.
        return spaced_verdict(field, first, last, false);
    }
    check_name_beyond_ascii(field, bytes)
}

/// The rule on a name of printable ASCII and `C3` letters, of a valid
/// length: it holds no refused character, its only white space is the
/// ASCII space, and it has a character of its own unless it is `blank`
/// (only spaces), so it is refused as blank, or as beginning or ending with
/// a space (its `first` and `last` bytes), or accepted. The agency rows'
/// fast path (`bet_row`) asks it too.
#[inline(always)]
pub(crate) fn spaced_verdict(
    field: Field,
    first: u8,
    last: u8,
    blank: bool,
) -> Result<(), FieldError> {
    if blank {
        return Err(FieldError::new(field, FieldReason::Blank));
    }
    if first == b' ' || last == b' ' {
        return Err(FieldError::new(field, FieldReason::SurroundingSpace));
    }
    Ok(())
}

/// The exact rule on a name that holds a byte other than printable ASCII
/// (and is not only printable ASCII and `C3` letters), from that byte on:
/// the bytes before it are printable ASCII, which is UTF-8, holds no
/// refused character, and whose only whitespace is the space, so the name is UTF-8 when the rest is, holds a refused character
/// when the rest does, is blank when the bytes before are spaces and the
/// rest is whitespace, begins with white space when its first byte is a
/// space (or, with no ASCII before, the rest begins so), ends with white
/// space when the rest does, and has a character of its own when the
/// bytes before are not all spaces (then, not beginning with a space, they
/// hold another byte) or the rest holds one.
#[inline(never)]
fn check_name_beyond_ascii(field: Field, bytes: &[u8]) -> Result<(), FieldError> {
    let first = bytes
        .iter()
        .position(|byte| !(0x20..0x7F).contains(byte))
        .unwrap_or(bytes.len());
    let (ascii, rest) = bytes.split_at(first);
    let rest =
        std::str::from_utf8(rest).map_err(|_| FieldError::new(field, FieldReason::Malformed))?;
    if let Some(reason) = refused_character(rest) {
        return Err(FieldError::new(field, reason));
    }
    if ascii.iter().all(|&byte| byte == b' ') && rest.trim().is_empty() {
        return Err(FieldError::new(field, FieldReason::Blank));
    }
    let begins = match ascii.first() {
        Some(&byte) => byte == b' ',
        None => rest.starts_with(char::is_whitespace),
    };
    if begins || rest.ends_with(char::is_whitespace) {
        return Err(FieldError::new(field, FieldReason::SurroundingSpace));
    }
    if ascii.is_empty() && !rest.chars().any(is_base_character) {
        return Err(FieldError::new(field, FieldReason::NoBaseCharacter));
    }
    Ok(())
}

/// Whether `bytes` are printable ASCII (0x20 to 0x7E) and two-byte
/// characters `C3 80..BF` (U+00C0 to U+00FF: á é ñ Ñ ...) only, a word at a
/// time ([`ascii_and_c3_letters`] folded over the bytes, the last few
/// copied into a word of spaces): the letters of nearly every name that is
/// not ASCII, none of them a control, format or separator character, white
/// space or a combining mark, so the rule decides such a name by its ends
/// ([`spaced_verdict`]), with no `from_utf8` and no walk by characters.
/// `false` is no verdict: the exact rule decides. [`is_ascii_and_letters_in`]
/// is the same rule over a text in a padded buffer.
#[inline]
pub(crate) fn is_ascii_and_letters(bytes: &[u8]) -> bool {
    let (wrong, carried) = fold_filled(bytes, b' ', (0, 0), |(wrong, carried), word| {
        let (now, next) = ascii_and_c3_letters(word, carried);
        (wrong | now, next)
    });
    (wrong | carried) == 0
}

/// [`check_name`] of a name already known to be UTF-8.
#[inline]
pub(crate) fn check_name_text(field: Field, text: &str) -> Result<(), FieldError> {
    check_name(field, text.as_bytes())
}

/// The length rule of a name: not empty, at most [`MAX_NAME_BYTES`].
#[inline(always)]
pub(crate) fn check_name_len(field: Field, len: usize) -> Result<(), FieldError> {
    check_text_len(field, MAX_NAME_BYTES, len)
}

/// The length rule of a document: not empty, at most
/// [`MAX_DOCUMENT_DIGITS`].
#[inline(always)]
pub(crate) fn check_document_len(len: usize) -> Result<(), FieldError> {
    check_text_len(Field::Document, MAX_DOCUMENT_DIGITS, len)
}

/// The length rule of a text field, for every route that checks one (a
/// name's, a document's): not empty, at most `max` bytes.
#[inline(always)]
fn check_text_len(field: Field, max: usize, len: usize) -> Result<(), FieldError> {
    if len == 0 {
        return Err(FieldError::new(field, FieldReason::Empty));
    }
    if len > max {
        return Err(FieldError::new(field, FieldReason::TooLong { max }));
    }
    Ok(())
}

/// Whether every byte is printable ASCII (0x20 to 0x7E), a word at a time:
/// the covering fold and the word rule that [`check_name`] runs.
#[cfg(test)]
fn is_printable_ascii(bytes: &[u8]) -> bool {
    fold_covering(bytes, 0, |refused, word| refused | refused_ascii(word)) == 0
}

/// Bytes a buffer keeps after its last text so that the checks (and
/// writers) may read whole words past a text's end: [`check_name_in`],
/// [`check_document_in`] (a word), and the store rows' writer (which
/// copies a bet's texts as one block of 48 bytes).
pub(crate) const TEXT_PAD: usize = 48;

/// The length of a text's range, whose start is not after its end (the
/// callers check the ranges they are given): a subtraction, where
/// `Range::len` also tests the order.
#[inline(always)]
fn text_len(range: &Range<usize>) -> usize {
    debug_assert!(range.start <= range.end, "a text's range is in order");
    range.end - range.start
}

/// How a valid name is written in a store row, as Python's `csv.writer`
/// (`QUOTE_MINIMAL`) writes it: bare, or between quotes (its quotes
/// doubled) when it holds the delimiter or the quote. (A line break would
/// be quoted too; a valid name refuses control characters, so holds none.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Quoting {
    /// Written as it is.
    Bare,
    /// Written between quotes, its quotes doubled.
    Quoted,
}

impl Quoting {
    /// How a valid name of these bytes is written, byte by byte: what
    /// [`check_name_in`] tells a word at a time.
    #[inline]
    pub(crate) fn of(name: &[u8]) -> Self {
        if name.iter().any(|&byte| byte == b',' || byte == b'"') {
            Quoting::Quoted
        } else {
            Quoting::Bare
        }
    }
}

/// [`check_name`] of the text at `range` of `buffer`, which holds
/// [`TEXT_PAD`] bytes past it: the same rules (a proptest checks it against
/// [`crate::Bet::from_parts`]), the ASCII fast path a word at a time with no
/// byte-by-byte tail, and the blank check in the same pass. A valid name's
/// [`Quoting`] comes from the same pass (the delimiter and the quote are
/// ASCII, and no byte of a longer UTF-8 sequence is), so that the store
/// row's writer does not scan the name again.
///
/// # Errors
/// As [`check_name`].
#[inline(always)]
pub(crate) fn check_name_in(
    field: Field,
    buffer: &[u8],
    range: Range<usize>,
) -> Result<Quoting, FieldError> {
    check_name_len(field, text_len(&range))?;
    let spaces = ONES * u64::from(b' ');
    let (refused, not_space, special) =
        fold_words(buffer, &range, b' ', (0, 0, 0), |(r, s, q), word| {
            (
                r | refused_ascii(word),
                s | (word ^ spaces),
                q | quote_or_delimiter(word),
            )
        });
    let quoting = if special == 0 {
        Quoting::Bare
    } else {
        Quoting::Quoted
    };
    // The three ways of `check_name`, with early returns (a shared function
    // taking the letters check and the exact rule as closures cost the
    // central's path some twenty instructions a bet).
    if refused == 0 {
        let (first, last) = (buffer[range.start], buffer[range.end - 1]);
        return spaced_verdict(field, first, last, not_space == 0).map(|()| quoting);
    }
    if is_ascii_and_letters_in(buffer, &range) {
        let (first, last) = (buffer[range.start], buffer[range.end - 1]);
        return spaced_verdict(field, first, last, false).map(|()| quoting);
    }
    check_name_beyond_ascii(field, &buffer[range]).map(|()| quoting)
}

/// [`is_ascii_and_letters`] of the text at `range` of `buffer` (which
/// holds at least seven bytes past it: the buffers keep [`TEXT_PAD`]): the
/// same word rule, the last word masked where it lies instead of copied
/// (the bytes after the text read as spaces, so a lead as the text's last
/// byte finds none after it).
#[inline(always)]
pub(crate) fn is_ascii_and_letters_in(buffer: &[u8], range: &Range<usize>) -> bool {
    let (wrong, carried) = fold_words(buffer, range, b' ', (0, 0), |(wrong, carried), word| {
        let (now, next) = ascii_and_c3_letters(word, carried);
        (wrong | now, next)
    });
    (wrong | carried) == 0
}

/// [`check_document`] of the text at `range` of `buffer`, which holds
/// [`TEXT_PAD`] bytes past it, a word at a time.
///
/// # Errors
/// As [`check_document`].
#[inline(always)]
pub(crate) fn check_document_in(buffer: &[u8], range: Range<usize>) -> Result<(), FieldError> {
    check_document_len(text_len(&range))?;
    let not_digits = fold_words(buffer, &range, b'0', 0, |seen, word| {
        seen | not_digits(word)
    });
    if not_digits != 0 {
        return Err(FieldError::new(Field::Document, FieldReason::NotDigits));
    }
    Ok(())
}

/// Checks a document (DNI) given as bytes: the rules of
/// [`crate::Document::new`], which calls this too.
///
/// # Errors
/// [`FieldReason::Empty`], [`FieldReason::TooLong`] or
/// [`FieldReason::NotDigits`].
#[inline]
pub(crate) fn check_document(bytes: &[u8]) -> Result<(), FieldError> {
    check_document_len(bytes.len())?;
    if !all_digits(bytes) {
        return Err(FieldError::new(Field::Document, FieldReason::NotDigits));
    }
    Ok(())
}

/// Whether every byte is an ASCII digit, a word at a time.
#[inline(always)]
fn all_digits(bytes: &[u8]) -> bool {
    fold_covering(bytes, 0, |seen, word| seen | not_digits(word)) == 0
}

/// Parses plain decimal digits (no sign, no spaces) of at most `max_digits`
/// significant ones (leading zeros are allowed: "0042").
///
/// # Errors
/// [`FieldReason::Empty`], [`FieldReason::NotDigits`] or
/// [`FieldReason::OutOfRange`], on `field`.
#[inline]
pub(crate) fn parse_decimal(
    bytes: &[u8],
    field: Field,
    max_digits: usize,
) -> Result<u64, FieldError> {
    if bytes.is_empty() {
        return Err(FieldError::new(field, FieldReason::Empty));
    }
    if !bytes.iter().all(u8::is_ascii_digit) {
        return Err(FieldError::new(field, FieldReason::NotDigits));
    }
    let zeros = bytes.iter().take_while(|&&byte| byte == b'0').count();
    let significant = &bytes[zeros..];
    if significant.len() > max_digits {
        return Err(FieldError::new(field, FieldReason::OutOfRange));
    }
    Ok(significant
        .iter()
        .fold(0u64, |acc, b| acc * 10 + u64::from(b - b'0')))
}

/// Why a name's characters are refused, if they are: a control character
/// (Unicode Cc), or an invisible format or separator character (Cf, Zl, Zp).
///
#[cfg(test)]
mod tests {
    use super::*;
    use crate::name_chars::character_refusal;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn the_eight_byte_ascii_check_is_the_byte_by_byte_one(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            let slow = bytes.iter().all(|byte| (0x20..0x7F).contains(byte));
            prop_assert_eq!(is_printable_ascii(&bytes), slow);
        }
    }

    /// The name rule as first written, byte by byte and character by
    /// character: the oracle of [`check_name`]'s one pass and of its
    /// non-ASCII path from the first such byte.
    fn name_reference(field: Field, bytes: &[u8]) -> Result<(), FieldError> {
        check_name_len(field, bytes.len())?;
        let text = std::str::from_utf8(bytes)
            .map_err(|_| FieldError::new(field, FieldReason::Malformed))?;
        if let Some(reason) = character_refusal(text) {
            return Err(FieldError::new(field, reason));
        }
        if text.trim().is_empty() {
            return Err(FieldError::new(field, FieldReason::Blank));
        }
        if text.starts_with(char::is_whitespace) || text.ends_with(char::is_whitespace) {
            return Err(FieldError::new(field, FieldReason::SurroundingSpace));
        }
        if !text.chars().any(is_base_character) {
            return Err(FieldError::new(field, FieldReason::NoBaseCharacter));
        }
        Ok(())
    }

    /// The document rule byte by byte: the oracle of [`check_document`].
    fn document_reference(bytes: &[u8]) -> Result<(), FieldError> {
        if bytes.is_empty() {
            return Err(FieldError::new(Field::Document, FieldReason::Empty));
        }
        if bytes.len() > MAX_DOCUMENT_DIGITS {
            let reason = FieldReason::TooLong {
                max: MAX_DOCUMENT_DIGITS,
            };
            return Err(FieldError::new(Field::Document, reason));
        }
        if !bytes.iter().all(u8::is_ascii_digit) {
            return Err(FieldError::new(Field::Document, FieldReason::NotDigits));
        }
        Ok(())
    }

    /// Bytes as names and documents get tricky: any byte, the space and
    /// digits (blank and digit runs across word boundaries), and pieces of
    /// UTF-8 (accented letters, a refused format character, a lone lead or
    /// continuation byte, whitespace beyond ASCII).
    fn tricky_bytes() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            3 => any::<u8>().prop_map(|byte| vec![byte]),
            3 => proptest::sample::select(b" 05a,\"\t\x7f".to_vec()).prop_map(|byte| vec![byte]),
            1 => proptest::sample::select(vec!["é", "Ñ", "\u{202E}", "\u{3000}", "\u{85}", "\u{FEFF}", "\u{2028}", "\u{e0041}",
                "\u{301}", "\u{36F}", "\u{3164}", "\u{115F}", "\u{1160}", "\u{FFA0}", "\u{A0}", "\u{5D0}", "\u{5B0}", "\u{483}", "\u{1AB0}", "Ж"])
                .prop_map(|text| text.as_bytes().to_vec()),
            1 => Just(vec![0xC3]),
        ];
        proptest::collection::vec(piece, 0..=64).prop_map(|pieces| {
            let mut bytes = pieces.concat();
            bytes.truncate(64);
            bytes
        })
    }

    proptest! {
        #[test]
        fn the_one_pass_name_check_is_the_reference_rule(bytes in tricky_bytes()) {
            for field in [Field::FirstName, Field::LastName] {
                prop_assert_eq!(check_name(field, &bytes), name_reference(field, &bytes));
                let (buffer, range) = in_junk(&bytes, 5, 0xFF);
                let in_buffer = check_name_in(field, &buffer, range);
                prop_assert_eq!(in_buffer.map(|_| ()), name_reference(field, &bytes));
                if let Ok(quoting) = in_buffer {
                    prop_assert_eq!(quoting, Quoting::of(&bytes));
                }
            }
        }

        #[test]
        fn the_covering_document_check_is_the_byte_by_byte_rule(bytes in tricky_bytes()) {
            prop_assert_eq!(check_document(&bytes), document_reference(&bytes));
        }
    }

    #[test]
    fn every_byte_value_at_every_place_of_every_length_is_told_apart() {
        // Lengths 0 to 64, every place, every byte value, in texts of
        // letters, of spaces (blank unless the byte says otherwise), of
        // digits, and after an accented letter (the non-ASCII path).
        for len in 0..=64usize {
            for at in 0..len.max(1) {
                for byte in 0..=255u8 {
                    for base in [&b"a"[..], b" ", b"5", "é".as_bytes()] {
                        let mut bytes: Vec<u8> = base.iter().copied().cycle().take(len).collect();
                        if at < len {
                            bytes[at] = byte;
                        }
                        let name = check_name(Field::FirstName, &bytes);
                        assert_eq!(
                            name,
                            name_reference(Field::FirstName, &bytes),
                            "{byte:#x} at {at} of {len}"
                        );
                        assert_eq!(
                            check_document(&bytes),
                            document_reference(&bytes),
                            "{byte:#x} at {at} of {len}"
                        );
                    }
                }
            }
        }
    }

    /// `bytes` at `start` of a buffer of junk, with [`TEXT_PAD`] of junk
    /// after it.
    fn in_junk(bytes: &[u8], start: usize, junk: u8) -> (Vec<u8>, Range<usize>) {
        let mut buffer = vec![junk; start];
        buffer.extend_from_slice(bytes);
        buffer.extend(std::iter::repeat_n(junk, TEXT_PAD));
        (buffer, start..start + bytes.len())
    }

    proptest! {
        #[test]
        fn checking_words_in_a_buffer_is_checking_the_bytes(
            bytes in proptest::collection::vec(
                prop_oneof![any::<u8>(), proptest::sample::select(b" 09a,\"".to_vec())],
                0..40,
            ),
            start in 0usize..9,
            junk in any::<u8>(),
        ) {
            let (buffer, range) = in_junk(&bytes, start, junk);
            for field in [Field::FirstName, Field::LastName] {
                let in_buffer = check_name_in(field, &buffer, range.clone());
                prop_assert_eq!(in_buffer.map(|_| ()), check_name(field, &bytes));
                if let Ok(quoting) = in_buffer {
                    prop_assert_eq!(quoting, Quoting::of(&bytes));
                }
            }
            prop_assert_eq!(check_document_in(&buffer, range), check_document(&bytes));
        }
    }

    #[test]
    fn every_byte_value_in_every_lane_of_a_buffer_is_told_apart() {
        for len in 1..=17 {
            for position in 0..len {
                for byte in 0..=255u8 {
                    let mut bytes = vec![b'5'; len];
                    bytes[position] = byte;
                    for junk in [0, b'5', b' ', 0xFF] {
                        let (buffer, range) = in_junk(&bytes, 3, junk);
                        assert_eq!(
                            check_document_in(&buffer, range.clone()),
                            check_document(&bytes),
                            "{byte:#x} at {position} of {len}"
                        );
                        let in_buffer = check_name_in(Field::FirstName, &buffer, range);
                        assert_eq!(
                            in_buffer.map(|_| ()),
                            check_name(Field::FirstName, &bytes),
                            "{byte:#x} at {position} of {len}"
                        );
                        if let Ok(quoting) = in_buffer {
                            assert_eq!(
                                quoting,
                                Quoting::of(&bytes),
                                "{byte:#x} at {position} of {len}"
                            );
                        }
                    }
                }
            }
        }
    }

    /// [`is_ascii_and_letters`] byte by byte: printable ASCII, and `C3`
    /// followed by one of 0x80 to 0xBF.
    fn ascii_and_c3_letters_reference(bytes: &[u8]) -> bool {
        let mut at = 0;
        while let Some(&byte) = bytes.get(at) {
            if (0x20..0x7F).contains(&byte) {
                at += 1;
            } else if byte == 0xC3
                && bytes
                    .get(at + 1)
                    .is_some_and(|next| (0x80..0xC0).contains(next))
            {
                at += 2;
            } else {
                return false;
            }
        }
        true
    }

    #[test]
    fn the_word_latin_letter_check_is_the_byte_by_byte_one_for_every_pair_everywhere() {
        // Every pair of bytes whose first is a lead or continuation byte
        // (and every first byte before a few telling ones) at every place
        // of texts of 1 to 26 bytes (the one- and two-word forms and the
        // loop, across word boundaries), among ASCII letters or `é`s, with
        // junk after the text that a careless check would read.
        const AT: usize = 3;
        let telling = [0x80, 0xA9, 0xBF, 0xC0, 0xC3, b'a', b' ', 0x7F];
        let pairs = (0..=0xFFu8).flat_map(|first| {
            let all = (0x80..0xC0).contains(&first) || first == 0xC3;
            let seconds: Vec<u8> = if all {
                (0..=0xFF).collect()
            } else {
                telling.to_vec()
            };
            seconds.into_iter().map(move |second| (first, second))
        });
        let pairs: Vec<(u8, u8)> = pairs.collect();
        let mut buffer = [0u8; AT + 26 + TEXT_PAD];
        for len in 1..=26usize {
            for at in 0..len {
                for base in [&b"ab"[..], "é".as_bytes()] {
                    for (index, &(first, second)) in pairs.iter().enumerate() {
                        let junk = [0x80, 0xA9, b' '][index % 3];
                        buffer.fill(junk);
                        let text = &mut buffer[AT..AT + len];
                        for (byte, &letter) in text.iter_mut().zip(base.iter().cycle()) {
                            *byte = letter;
                        }
                        text[at] = first;
                        if at + 1 < len {
                            text[at + 1] = second;
                        }
                        let text = &buffer[AT..AT + len];
                        let expected = ascii_and_c3_letters_reference(text);
                        assert_eq!(is_ascii_and_letters(text), expected, "{text:x?}");
                        assert_eq!(
                            is_ascii_and_letters_in(&buffer, &(AT..AT + len)),
                            expected,
                            "{:x?}",
                            &buffer[AT..AT + len]
                        );
                    }
                }
            }
        }
    }

    proptest! {
        #[test]
        fn the_word_latin_letter_check_is_the_byte_by_byte_one(
            bytes in tricky_bytes(),
            start in 0usize..9,
            junk in any::<u8>(),
        ) {
            let (buffer, range) = in_junk(&bytes, start, junk);
            let expected = ascii_and_c3_letters_reference(&bytes);
            prop_assert_eq!(is_ascii_and_letters_in(&buffer, &range), expected);
            prop_assert_eq!(is_ascii_and_letters(&bytes), expected);
        }
    }

    #[test]
    fn every_two_byte_sequence_after_ascii_is_told_apart() {
        // The Latin-letter paths: each pair of bytes (a lead byte and what
        // follows it) after ASCII letters or spaces, alone or followed by
        // more text, as the reference rule decides.
        for lead in 0x80..=0xFFu8 {
            for next in 0..=0xFFu8 {
                for before in [&b""[..], b"a", b"  ", b"Jos"] {
                    for after in [&b""[..], b" ", "é".as_bytes(), b"\xc3"] {
                        let bytes = [before, &[lead, next], after].concat();
                        let expected = name_reference(Field::LastName, &bytes);
                        assert_eq!(check_name(Field::LastName, &bytes), expected, "{bytes:x?}");
                        // And in a buffer, as the central checks it (the
                        // word-at-a-time Latin letters first).
                        let (buffer, range) = in_junk(&bytes, 1, 0xA9);
                        let in_buffer = check_name_in(Field::LastName, &buffer, range);
                        assert_eq!(in_buffer.map(|_| ()), expected, "{bytes:x?}");
                    }
                }
            }
        }
    }

    #[test]
    fn every_byte_value_in_every_lane_is_told_apart() {
        for position in 0..16 {
            for byte in 0..=255u8 {
                let mut bytes = [b'a'; 16];
                bytes[position] = byte;
                let expected = (0x20..0x7F).contains(&byte);
                assert_eq!(
                    is_printable_ascii(&bytes),
                    expected,
                    "{byte:#x} at {position}"
                );
            }
        }
    }
}
