//! A bet's store row after its agency, written from the batch's bytes as
//! its checks shaped it: `first_name,last_name,document,birthdate,number`
//! and CRLF, as Python's
//! `csv.writer` writes them by default (a name between quotes, its quotes
//! doubled, only when it holds the delimiter or the quote; the other fields
//! are digits and a date, which never need quotes).
//!
//! The writers copy whole words: the texts come from a buffer that holds
//! [`TEXT_PAD`] bytes past each of them, and the row is written into a
//! buffer with [`ROW_SLACK`] bytes of room past its end ([`room_to`]), so
//! a text of up to sixteen bytes is one sixteen-byte copy (and the four
//! texts of a frame's bet, up to 48 bytes with the bytes between them, one
//! 48-byte copy), whatever its length, with no call and no capacity check
//! per field. Each copy may spill past its end; the next field overwrites
//! the spill.
//!
//! `row::encode_store_rows` puts the agency before each of these rows; the
//! `csv` crate's writer, which agrees with Python's byte for byte, is the
//! oracle of its tests.

use crate::bet::{BetNumber, Birthdate};
use crate::field_bytes::{Quoting, TEXT_PAD};

/// Bytes copied at once: a text of up to this many is one copy.
pub(super) const COPY: usize = 16;

/// Bytes of a bet's four texts copied at once when they lie one byte apart
/// ([`put_spanned_row`]).
const SPAN_COPY: usize = 48;

/// The room a row buffer keeps past a row's end, for the copies' spill.
pub(super) const ROW_SLACK: usize = SPAN_COPY;

const _: () = assert!(TEXT_PAD >= SPAN_COPY && SPAN_COPY >= COPY);

/// The bytes of a row after its agency beyond its names and document: four
/// commas, the date, up to four digits, CRLF.
pub(super) const ROW_FIXED: usize = 4 + Birthdate::TEXT_LEN + 4 + 2;

/// The room a row takes past its names and document, at most: their quotes
/// (two a name) and doubled quotes (up to each name's length again) are
/// added by the caller for a quoted name.
#[inline(always)]
pub(super) fn quoted_extra(quoting: Quoting, len: usize) -> usize {
    match quoting {
        Quoting::Bare => 0,
        Quoting::Quoted => len + 2,
    }
}

/// The texts of one valid bet, each given as its bytes and [`TEXT_PAD`]
/// more (`*_padded`), and what the row needs beside them.
pub(super) struct RowFields<'a> {
    pub(super) first_name_padded: &'a [u8],
    pub(super) first_quoting: Quoting,
    pub(super) last_name_padded: &'a [u8],
    pub(super) last_quoting: Quoting,
    pub(super) document_padded: &'a [u8],
    pub(super) birthdate_padded: &'a [u8],
    pub(super) number: BetNumber,
}

/// Writes the row of `fields` at `at` of `out`, which has room for it and
/// [`COPY`] bytes more; returns where the row ends.
#[inline(always)]
pub(super) fn put_row(out: &mut [u8], at: usize, fields: &RowFields<'_>) -> usize {
    let mut at = put_name(out, at, fields.first_name_padded, fields.first_quoting);
    out[at] = b',';
    at = put_name(out, at + 1, fields.last_name_padded, fields.last_quoting);
    out[at] = b',';
    at = put_text(out, at + 1, fields.document_padded);
    out[at] = b',';
    at += 1;
    out[at..at + COPY].copy_from_slice(&fields.birthdate_padded[..COPY]);
    out[at + Birthdate::TEXT_LEN] = b',';
    at += Birthdate::TEXT_LEN + 1;
    at = put_number(out, at, fields.number.get());
    out[at..at + 2].copy_from_slice(b"\r\n");
    at + 2
}

/// Writes at `at` of `out` (which has room for the row and [`COPY`] bytes
/// more) the row of a bet whose names are bare and whose texts lie one
/// byte apart at the start of `span` (first name, last name, document,
/// date, then [`TEXT_PAD`] bytes): the texts are copied with the bytes
/// between them at once, the bytes at `commas` (from the span's start)
/// made commas, then the number and CRLF. Returns where the row ends.
#[inline(always)]
pub(super) fn put_spanned_row(
    out: &mut [u8],
    at: usize,
    span: &[u8],
    commas: [usize; 3],
    number: BetNumber,
) -> usize {
    let len = span.len() - TEXT_PAD;
    let end = if len <= SPAN_COPY {
        // The commas made in a copy whose size is a power of two: each
        // comma lies below `len`, so masking its place changes nothing
        // and takes the bounds check's place.
        let mut row = [0u8; SPAN_COPY.next_power_of_two()];
        row[..SPAN_COPY].copy_from_slice(&span[..SPAN_COPY]);
        for comma in commas {
            row[comma & (row.len() - 1)] = b',';
        }
        out[at..at + SPAN_COPY].copy_from_slice(&row[..SPAN_COPY]);
        at + len
    } else {
        out[at..at + SPAN_COPY].copy_from_slice(&span[..SPAN_COPY]);
        let end = put_text(out, at + SPAN_COPY, &span[SPAN_COPY..]);
        // After the copies, which hold the bytes that become commas.
        for comma in commas {
            out[at + comma] = b',';
        }
        end
    };
    put_number_line(out, end, number.get())
}

/// Writes `,`, `number` (at most 9999) in decimal and CRLF at `at`, as
/// one word of eight bytes of which the first three to seven count;
/// returns where they end. No branch: the four digits from the table, the
/// leading zeros shifted out.
#[inline(always)]
fn put_number_line(out: &mut [u8], at: usize, number: u16) -> usize {
    debug_assert!(number <= 9999, "a bet number has at most four digits");
    let pair = |value: u16| {
        let at = 2 * usize::from(value);
        u64::from(u16::from_le_bytes([DIGIT_PAIRS[at], DIGIT_PAIRS[at + 1]]))
    };
    // The four digits, the most significant in the lowest byte.
    let digits = pair(number / 100) | pair(number % 100) << 16;
    let len = 1 + usize::from(number > 9) + usize::from(number > 99) + usize::from(number > 999);
    let digits = digits >> (8 * (4 - len));
    let word =
        u64::from(b',') | digits << 8 | u64::from(u16::from_le_bytes(*b"\r\n")) << (8 * (len + 1));
    out[at..at + 8].copy_from_slice(&word.to_le_bytes());
    at + len + 3
}

/// Makes `out` at least `len` bytes long, zeroing what it adds: rows are
/// written into its bytes by index (a copy of a constant length and a
/// bounds check each, no capacity check and no call per field). The zeros
/// are added at most [`ZEROS_AT_ONCE`] at a time: glibc's `memset` zeroes
/// more than 2 KiB with `rep stosb`, which callgrind counts as one
/// instruction per byte (a CPU stores tens of bytes a cycle either way),
/// and the counts are how this path is measured.
#[inline]
pub(super) fn room_to(out: &mut Vec<u8>, len: usize) {
    if out.len() >= len {
        return;
    }
    out.reserve(len - out.len());
    while out.len() < len {
        let step = (len - out.len()).min(ZEROS_AT_ONCE);
        out.resize(out.len() + step, 0);
    }
}

/// The most [`room_to`] zeroes in one `memset`.
const ZEROS_AT_ONCE: usize = 1024;

/// Writes at `at` the text whose bytes begin `padded` (which holds
/// [`TEXT_PAD`] bytes past the text's end), a word of [`COPY`] bytes at a
/// time; returns where the text ends.
#[inline(always)]
pub(super) fn put_text(out: &mut [u8], at: usize, padded: &[u8]) -> usize {
    let len = padded.len() - TEXT_PAD;
    let mut copied = 0;
    loop {
        out[at + copied..at + copied + COPY].copy_from_slice(&padded[copied..copied + COPY]);
        copied += COPY;
        if copied >= len {
            return at + len;
        }
    }
}

/// Writes a name (its UTF-8 bytes, padded as in [`put_text`]) bare or
/// quoted, as `quoting` (from the name's check) says; returns where it
/// ends.
#[inline(always)]
fn put_name(out: &mut [u8], at: usize, padded: &[u8], quoting: Quoting) -> usize {
    let len = padded.len() - TEXT_PAD;
    debug_assert_eq!(
        quoting,
        Quoting::of(&padded[..len]),
        "the name's check tells"
    );
    match quoting {
        Quoting::Bare => put_text(out, at, padded),
        Quoting::Quoted => put_quoted(out, at, &padded[..len]),
    }
}

#[cold]
fn put_quoted(out: &mut [u8], mut at: usize, name: &[u8]) -> usize {
    out[at] = b'"';
    at += 1;
    for &byte in name {
        out[at] = byte;
        at += 1;
        if byte == b'"' {
            out[at] = b'"';
            at += 1;
        }
    }
    out[at] = b'"';
    at + 1
}

/// `00` to `99`, two ASCII digits each.
const DIGIT_PAIRS: &[u8; 200] = b"\
    0001020304050607080910111213141516171819\
    2021222324252627282930313233343536373839\
    4041424344454647484950515253545556575859\
    6061626364656667686970717273747576777879\
    8081828384858687888990919293949596979899";

/// Writes `number` (at most 9999) in decimal at `at`, as four bytes of
/// which the first `len` count; returns where it ends.
#[inline(always)]
fn put_number(out: &mut [u8], at: usize, number: u16) -> usize {
    debug_assert!(number <= 9999, "a bet number has at most four digits");
    // Two digits at a time from a table: one division per number.
    let pair = |value: u16| {
        let at = 2 * usize::from(value % 100);
        [DIGIT_PAIRS[at], DIGIT_PAIRS[at + 1]]
    };
    let [a, b] = pair(number / 100);
    let [c, d] = pair(number % 100);
    let (len, text) = match number {
        0..=9 => (1, [d, 0, 0, 0]),
        10..=99 => (2, [c, d, 0, 0]),
        100..=999 => (3, [b, c, d, 0]),
        _ => (4, [a, b, c, d]),
    };
    out[at..at + 4].copy_from_slice(&text);
    at + len
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bet_number_is_written_in_decimal() {
        let mut out = [0u8; 8];
        for number in 0..=9999u16 {
            let end = put_number(&mut out, 0, number);
            assert_eq!(&out[..end], number.to_string().as_bytes());
            let end = put_number_line(&mut out, 0, number);
            assert_eq!(&out[..end], format!(",{number}\r\n").as_bytes());
        }
    }
}
