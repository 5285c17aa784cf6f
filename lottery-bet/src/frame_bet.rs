//! A bet's bytes in a `Batch` frame (`lottery-net/PROTOCOL.md`), the one
//! place that knows them: four texts, each its length byte then its bytes (the first
//! name, the last name, the document, the date `YYYY-MM-DD`), then the
//! number, two bytes big-endian.
//!
//! ```text
//! len first_name len last_name len document len birthdate number(u16 BE)
//! ```
//!
//! The wire encoder (`lottery-net`) writes and walks encoded bets with it,
//! the central's decoder and the store writer ([`crate::BetBatch`]) find the
//! texts where a frame lays them with it, and an agency file's plain row
//! becomes a frame's bet here ([`put_plain`]), so that neither side of the
//! wire knows the other's layout.

use std::ops::Range;

use crate::bet_fields::PlainBet;

/// The bytes of a bet's number, after its four texts.
pub const NUMBER_LEN: usize = 2;

/// Where a bet's four texts lie when the first begins at `at` and they are
/// `lens` bytes long: each one byte (the next text's length byte) after the
/// one before.
///
/// ```
/// use lottery_bet::frame_bet;
/// assert_eq!(frame_bet::texts(1, [3, 3, 1, 10]), [1..4, 5..8, 9..10, 11..21]);
/// ```
#[inline(always)]
pub fn texts(at: usize, lens: [u8; 4]) -> [Range<usize>; 4] {
    let mut start = at;
    lens.map(|len| {
        let text = start..start + usize::from(len);
        start = text.end + 1;
        text
    })
}

/// Whether `texts` (first name, last name, document, date) lie as a frame
/// lays them: each one byte after the one before.
#[inline(always)]
pub(crate) fn lie_framed(texts: &[Range<usize>; 4]) -> bool {
    let [first_name, last_name, document, birthdate] = texts;
    (last_name.start == first_name.end + 1)
        & (document.start == last_name.end + 1)
        & (birthdate.start == document.end + 1)
}

/// The length of the encoded bet at the front of `bytes`: its four texts,
/// each with its length byte, and its number.
///
/// # Panics
/// When `bytes` does not begin with a whole encoded bet's lengths.
#[inline(always)]
pub fn len_at(bytes: &[u8]) -> usize {
    let mut len = 0;
    for _ in 0..4 {
        len += 1 + usize::from(bytes[len]);
    }
    len + NUMBER_LEN
}

/// The document's bytes of the encoded bet `bet` (the third text).
///
/// # Panics
/// When `bet` is not a whole encoded bet.
#[inline]
pub fn document(bet: &[u8]) -> &[u8] {
    let mut start = 0;
    for _ in 0..2 {
        start += 1 + usize::from(bet[start]);
    }
    let len = usize::from(bet[start]);
    &bet[start + 1..start + 1 + len]
}

/// The number of the encoded bet `bet` (its last two bytes).
///
/// # Panics
/// When `bet` is shorter than a number.
#[inline]
pub fn number(bet: &[u8]) -> u16 {
    let [.., high, low] = *bet else {
        panic!("an encoded bet ends with its number")
    };
    u16::from_be_bytes([high, low])
}

/// Appends the frame's bytes of a plain row's bet to `out`, with one copy:
/// the row's run `first_name,last_name,document,birthdate` is copied after
/// the first name's length byte, each comma is then overwritten by the
/// length of the text after it, and the number follows. (`lottery-net`'s
/// proptest compares it with its field-by-field encoder.)
#[inline(always)]
pub fn put_plain(out: &mut Vec<u8>, bet: &PlainBet<'_>) {
    let (fields, head) = (bet.fields(), bet.head());
    let start = out.len();
    out.reserve(head.len() + 1 + NUMBER_LEN);
    out.push(short_len(fields.first_name()));
    out.extend_from_slice(head);
    let last = start + 1 + fields.first_name().len();
    let document = last + 1 + fields.last_name().len();
    let birthdate = document + 1 + fields.document().len();
    out[last] = short_len(fields.last_name());
    out[document] = short_len(fields.document());
    out[birthdate] = short_len(fields.birthdate_text());
    out.extend_from_slice(&fields.number().get().to_be_bytes());
}

/// The length byte of a validated text (a name has at most 255 bytes, a
/// document 20, a date 10).
#[inline(always)]
fn short_len(text: &[u8]) -> u8 {
    u8::try_from(text.len()).expect("a validated text fits its length byte")
}
