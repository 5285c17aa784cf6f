//! Word-at-a-time (SWAR) primitives: eight bytes of a field in one `u64`,
//! every byte tested at once. The one home of the tricks and their
//! constants (defined here only); the field rules (`field_bytes`: the
//! name's printable ASCII and Latin letters, the document's digits), the
//! date's shape (`bet`) and the row scanners (`row_reader`, `bet_row`)
//! combine these.
//!
//! Every word is read little-endian, so byte `i` of the text is bits
//! `8 i .. 8 i + 8` and "the lowest flagged byte" is the first one in the
//! text. Each primitive's test compares it with its plain byte-by-byte
//! reference (the `reference` module below) on every byte value in every
//! lane and on random words: a shortcut is only as good as that proptest.
//!
//! It imports nothing from the crate: it is the bottom layer.

use std::ops::Range;

/// `0x01` in every byte: multiplied by a byte, that byte in every lane.
pub(crate) const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
/// The high bit of every byte, where the primitives answer.
pub(crate) const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
/// The low seven bits of every byte.
const LOW_SEVEN: u64 = !HIGHS;

/// The eight bytes of `buffer` at `at`, little-endian (the first byte
/// lowest).
#[inline(always)]
pub(crate) fn word_at(buffer: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(
        buffer[at..at + 8]
            .try_into()
            .expect("a slice of eight bytes"),
    )
}

/// The eight bytes of `input` at `at`, if it holds them.
#[inline(always)]
pub(crate) fn word_within(input: &[u8], at: usize) -> Option<u64> {
    let bytes: [u8; 8] = input.get(at..at + 8)?.try_into().ok()?;
    Some(u64::from_le_bytes(bytes))
}

/// Folds `visit` over words of `bytes` that together cover every byte, some
/// of them more than once (the last word overlaps the one before it; a
/// text of under eight bytes is spread over one word), with no byte-by-byte
/// tail and no read past `bytes`: exact for any rule that asks whether some
/// byte (or every byte) is of a kind.
#[inline(always)]
pub(crate) fn fold_covering<T>(bytes: &[u8], init: T, mut visit: impl FnMut(T, u64) -> T) -> T {
    let len = bytes.len();
    if len >= 8 {
        // The whole words as `fold_filled` takes them (it has no tail
        // here), then the last eight bytes for the rest.
        let acc = fold_filled(&bytes[..len - len % 8], 0, init, &mut visit);
        if len.is_multiple_of(8) {
            return acc;
        }
        let last: &[u8; 8] = bytes[len - 8..].try_into().expect("eight bytes");
        visit(acc, u64::from_le_bytes(*last))
    } else if len >= 4 {
        let low: &[u8; 4] = bytes[..4].try_into().expect("four bytes");
        let high: &[u8; 4] = bytes[len - 4..].try_into().expect("four bytes");
        let word = u64::from(u32::from_le_bytes(*low)) | u64::from(u32::from_le_bytes(*high)) << 32;
        visit(init, word)
    } else if len > 0 {
        // One to three bytes: the first, the middle and the last are all.
        let (a, b, c) = (bytes[0], bytes[len / 2], bytes[len - 1]);
        visit(init, u64::from_le_bytes([a, b, c, a, a, a, a, a]))
    } else {
        init
    }
}

/// Folds `visit` over the words of `bytes` in order, each byte once: the
/// whole words, then the last one to seven bytes (if any) in a word whose
/// other bytes are `fill`. No read past `bytes` (the tail is copied): for a
/// rule that follows the bytes in order across words, on a text with no
/// padding after it.
#[inline(always)]
pub(crate) fn fold_filled<T>(
    bytes: &[u8],
    fill: u8,
    init: T,
    mut visit: impl FnMut(T, u64) -> T,
) -> T {
    let mut words = bytes.chunks_exact(8);
    let mut acc = init;
    for word in words.by_ref() {
        acc = visit(
            acc,
            u64::from_le_bytes(word.try_into().expect("eight bytes")),
        );
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        let mut last = [fill; 8];
        last[..rest.len()].copy_from_slice(rest);
        acc = visit(acc, u64::from_le_bytes(last));
    }
    acc
}

/// Folds the words of the text at `range` of `buffer` (which holds at
/// least seven bytes past it: the buffers keep `TEXT_PAD`) with `visit`; the bytes of the last word
/// past the text's end are replaced by `fill`. No byte-by-byte tail: a text
/// of a few bytes is one word.
#[inline(always)]
pub(crate) fn fold_words<T>(
    buffer: &[u8],
    range: &Range<usize>,
    fill: u8,
    init: T,
    mut visit: impl FnMut(T, u64) -> T,
) -> T {
    let (mut at, end) = (range.start, range.end);
    let fill = ONES * u64::from(fill);
    // A text of up to sixteen bytes (nearly every name and document) is
    // one or two masked words, with no loop.
    let len = end - at;
    if len <= 16 {
        if len == 0 {
            return init;
        }
        let low = word_at(buffer, at);
        if len <= 8 {
            let keep = u64::MAX >> (64 - 8 * len);
            return visit(init, (low & keep) | (fill & !keep));
        }
        let keep = u64::MAX >> (128 - 8 * len);
        let high = word_at(buffer, at + 8);
        let acc = visit(init, low);
        return visit(acc, (high & keep) | (fill & !keep));
    }
    let mut acc = init;
    while at + 8 <= end {
        acc = visit(acc, word_at(buffer, at));
        at += 8;
    }
    let rest = end - at;
    if rest > 0 {
        // `rest` is 1 to 7: keep its bytes, fill the others.
        let keep = u64::MAX >> (64 - 8 * rest);
        let word = word_at(buffer, at);
        acc = visit(acc, (word & keep) | (fill & !keep));
    }
    acc
}

/// Not zero when some byte of `word` is not printable ASCII (0x20 to
/// 0x7E), zero when every byte is. Exact as a whole, not byte by byte: a
/// word of printable bytes neither borrows in `word - 0x20..` nor carries
/// in `word + 0x01..`, and no byte of either has its high bit; the lowest
/// byte that is not printable receives no borrow or carry from the bytes
/// below it, so it sets a high bit itself: its own (0x80 and above), that
/// of `byte - 0x20` (below 0x20) or that of `byte + 1` (0x7F).
#[inline(always)]
pub(crate) fn refused_ascii(word: u64) -> u64 {
    (word | word.wrapping_sub(ONES * 0x20) | word.wrapping_add(ONES)) & HIGHS
}

/// The high bit of the first byte of `word` that is not an ASCII digit, and
/// maybe of later bytes (none below it): a digit neither borrows in
/// `byte - 0x30` nor reaches 0x80 in `byte + 0x46`, so the lowest byte that
/// is not a digit receives no borrow or carry and sets its own high bit (its
/// own, of `byte - 0x30` below 0x30, of `byte + 0x46` from 0x3A). Zero when
/// every byte is a digit.
#[inline(always)]
pub(crate) fn not_digits(word: u64) -> u64 {
    (word | word.wrapping_sub(ONES * 0x30) | word.wrapping_add(ONES * 0x46)) & HIGHS
}

/// Not zero when some byte of `word` is `,` (0x2C) or `"` (0x22), zero
/// when none is; exact as a whole, as [`refused_ascii`] is: XOR with the
/// byte turns it to 0, and the classic zero-byte test (`z - 0x01.. & !z &
/// 0x80..`) is exact for the lowest zero byte, which is all a "some byte"
/// answer needs.
#[inline(always)]
pub(crate) fn quote_or_delimiter(word: u64) -> u64 {
    let zero_byte = |z: u64| z.wrapping_sub(ONES) & !z & HIGHS;
    zero_byte(word ^ (ONES * u64::from(b','))) | zero_byte(word ^ (ONES * u64::from(b'"')))
}

/// The high bit of each byte of `word` below `limit` (at most 0x80), and
/// no other bit: `byte | 0x80` less `limit` keeps its high bit unless the
/// byte's low seven bits are below it, and never borrows from the next
/// byte; a byte with its own high bit set is not below.
#[inline(always)]
pub(crate) fn bytes_below(word: u64, limit: u8) -> u64 {
    !(((word | HIGHS) - ONES * u64::from(limit)) | word) & HIGHS
}

/// The high bit of each byte of `word` that equals `byte`, and no other bit.
///
/// Exact, without the borrows of the usual "has a zero byte" trick: a byte
/// of `word ^ byte` is 0 when neither its low seven bits (`+ 0x7F` would
/// carry into its high bit) nor its high bit are set, and no sum carries
/// into the next byte.
#[inline(always)]
pub(crate) fn bytes_equal(word: u64, byte: u8) -> u64 {
    let x = word ^ (ONES * u64::from(byte));
    !(((x & LOW_SEVEN) + LOW_SEVEN) | x) & !LOW_SEVEN
}

/// One word of the rule "printable ASCII (0x20 to 0x7E) and two-byte
/// characters `C3 80..BF` (U+00C0 to U+00FF: á é ñ Ñ ...) only", the words
/// taken in order: `carried` is what the word before returned as its
/// second value (0 before the first word). Returns what is wrong in this
/// word (not zero: the text breaks the rule) and what this word carries to
/// the next (a lead in its last byte, whose continuation must come first
/// there); the text keeps the rule when no word is wrong and the last one
/// carries nothing (with the bytes after the text filled with spaces, a
/// lead as the text's last byte finds no continuation).
///
/// Exact byte by byte: the high bit of each byte of `printable`, `lead`
/// (`C3`) and `next` (`80` to `BF`) says what the byte is; every byte must
/// be one of the three, and the continuation bytes must be exactly those
/// after a lead.
#[inline(always)]
pub(crate) fn ascii_and_c3_letters(word: u64, carried: u64) -> (u64, u64) {
    let low = word & LOW_SEVEN;
    // Below 0x80 (its high bit clear), from 0x20 (adding 0x60 to its low
    // seven bits reaches 0x80), not 0x7F (adding 1 does not reach 0x80);
    // neither sum carries out of its byte.
    let printable = !word & low.wrapping_add(ONES * 0x60) & !low.wrapping_add(ONES) & HIGHS;
    // `C3`: XOR leaves a zero byte, told exactly (its low seven bits plus
    // 0x7F reach 0x80 unless they are zero, with no carry out).
    let xor = word ^ (ONES * 0xC3);
    let lead = !((xor & LOW_SEVEN).wrapping_add(LOW_SEVEN) | xor) & HIGHS;
    // `10xx_xxxx`: the high bit set, the next one (shifted up) clear.
    let next = word & !(word << 1) & HIGHS;
    let after_lead = (lead << 8) | carried;
    (
        (next ^ after_lead) | ((printable | lead | next) ^ HIGHS),
        lead >> 56,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The plain versions the primitives are checked against: one byte at
    /// a time, the high bit of each byte that is of the kind.
    mod reference {
        pub(super) fn mask(word: u64, test: impl Fn(u8) -> bool) -> u64 {
            word.to_le_bytes()
                .iter()
                .enumerate()
                .fold(0, |mask, (at, &byte)| {
                    mask | (u64::from(test(byte)) << (8 * at + 7))
                })
        }

        /// The lowest flagged byte's high bit: what the "some byte" primitives
        /// answer exactly (bytes above it may be flagged or not).
        pub(super) fn lowest(mask: u64) -> u64 {
            mask & mask.wrapping_neg()
        }

        /// Whether the eight bytes are printable ASCII and `C3 80..BF`
        /// pairs only, one byte at a time: what a word that carries
        /// nothing in and out answers.
        pub(super) fn ascii_and_c3_letters(bytes: [u8; 8]) -> bool {
            let mut at = 0;
            while at < 8 {
                if (0x20..0x7F).contains(&bytes[at]) {
                    at += 1;
                } else if bytes[at] == 0xC3 && at < 7 && (0x80..0xC0).contains(&bytes[at + 1]) {
                    at += 2;
                } else {
                    return false;
                }
            }
            true
        }
    }

    fn check(word: u64) {
        use reference::{lowest, mask};
        assert_eq!(
            bytes_equal(word, b','),
            mask(word, |b| b == b','),
            "{word:x}"
        );
        assert_eq!(
            bytes_below(word, 0x20),
            mask(word, |b| b < 0x20),
            "{word:x}"
        );
        let lowest_of = |found: u64| lowest(found);
        assert_eq!(
            lowest_of(not_digits(word)),
            lowest(mask(word, |b| !b.is_ascii_digit())),
            "{word:x}"
        );
        assert_eq!(
            lowest_of(refused_ascii(word)),
            lowest(mask(word, |b| !(0x20..=0x7E).contains(&b))),
            "{word:x}"
        );
        assert_eq!(
            quote_or_delimiter(word) != 0,
            mask(word, |b| b == b',' || b == b'"') != 0,
            "{word:x}"
        );
        let (wrong, carried) = ascii_and_c3_letters(word, 0);
        assert_eq!(
            wrong | carried == 0,
            reference::ascii_and_c3_letters(word.to_le_bytes()),
            "{word:x}"
        );
    }

    #[test]
    fn every_byte_value_in_every_lane_is_told_apart() {
        for lane in 0..8 {
            for value in 0..=255u8 {
                for around in [
                    0u8, b'0', b'9', 0x1F, 0x20, 0x22, 0x2C, 0x2D, 0x7E, 0x7F, 0x80, 0xFF,
                ] {
                    let mut bytes = [around; 8];
                    bytes[lane] = value;
                    check(u64::from_le_bytes(bytes));
                }
            }
        }
    }

    proptest! {
        #[test]
        fn the_primitives_answer_as_their_references(word in any::<u64>()) {
            check(word);
        }

        #[test]
        fn the_folds_see_every_byte(bytes in proptest::collection::vec(any::<u8>(), 0..40), fill in any::<u8>()) {
            let covered = fold_covering(&bytes, 0, |seen, word| seen | bytes_equal(word, 0));
            prop_assert_eq!(covered != 0, bytes.contains(&0));
            let mut padded = bytes.clone();
            padded.extend_from_slice(&[0xAA; 8]);
            let range = 0..bytes.len();
            let folded = fold_words(&padded, &range, fill, Vec::new(), |mut seen, word| {
                seen.extend_from_slice(&word.to_le_bytes());
                seen
            });
            prop_assert_eq!(&folded[..bytes.len()], &bytes[..]);
            prop_assert!(folded[bytes.len()..].iter().all(|&b| b == fill));
            prop_assert_eq!(word_within(&bytes, 0).is_some(), bytes.len() >= 8);
            let filled = fold_filled(&bytes, fill, Vec::new(), |mut seen, word| {
                seen.extend_from_slice(&word.to_le_bytes());
                seen
            });
            prop_assert_eq!(filled.len(), bytes.len().div_ceil(8) * 8);
            prop_assert_eq!(&filled[..bytes.len()], &bytes[..]);
            prop_assert!(filled[bytes.len()..].iter().all(|&b| b == fill));
        }
    }
}
