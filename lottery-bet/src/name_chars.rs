//! Which characters a name may hold, by Unicode category: the character
//! rules of the name check in `field_bytes`, looked up only on its exact
//! (non-ASCII) path. Refused anywhere: controls (Cc), format and separator
//! characters (Cf, Zl, Zp). Needed once: a character of its own, not white
//! space, a combining mark (M) or a Hangul filler.

use crate::field::FieldReason;

/// Nearly every name is printable ASCII or Latin letters; one pass over its
/// bytes (which the compiler vectorizes) looks for a byte that can start a
/// refused character in UTF-8, and only a name holding one is walked
/// character by character. Those bytes: below 0x20 and 0x7F (C0 controls),
/// 0xC2 (C1 controls, U+00AD), 0xD8 to 0xDC (U+0600 to U+070F), 0xE0 to 0xE2
/// (U+0890 to U+206F), 0xEF (U+FEFF, U+FFF9 to U+FFFB), 0xF0 (U+110BD to
/// U+1D17A) and 0xF3 (U+E0001 to U+E007F). Accented Latin letters (0xC3,
/// 0xC4, 0xC5 ...) are not among them.
pub(crate) fn refused_character(text: &str) -> Option<FieldReason> {
    let suspect = text.as_bytes().iter().fold(false, |seen, &byte| {
        seen | (byte < 0x20)
            | (byte == 0x7F)
            | (byte == 0xC2)
            | (0xD8..=0xDC).contains(&byte)
            | (0xE0..=0xE2).contains(&byte)
            | (byte == 0xEF)
            | (byte == 0xF0)
            | (byte == 0xF3)
    });
    if !suspect {
        return None;
    }
    character_refusal(text)
}

/// Why a name's characters are refused, walking them one by one: the rule
/// itself, which [`refused_character`] only spares most names.
pub(crate) fn character_refusal(text: &str) -> Option<FieldReason> {
    text.chars().find_map(|c| {
        if c.is_control() {
            Some(FieldReason::ControlCharacter)
        } else if is_format_or_separator(c) {
            Some(FieldReason::FormatCharacter)
        } else {
            None
        }
    })
}

/// Whether `c` is of Unicode category Cf (format), Zl (line separator) or Zp
/// (paragraph separator), as of Unicode 15.1. The table is short and fixed
/// (new Cf characters are rare); a test checks it against Python's
/// `unicodedata` where one is installed.
pub(crate) fn is_format_or_separator(c: char) -> bool {
    const RANGES: &[(u32, u32)] = &[
        (0x00AD, 0x00AD),
        (0x0600, 0x0605),
        (0x061C, 0x061C),
        (0x06DD, 0x06DD),
        (0x070F, 0x070F),
        (0x0890, 0x0891),
        (0x08E2, 0x08E2),
        (0x180E, 0x180E),
        (0x200B, 0x200F),
        (0x2028, 0x202E),
        (0x2060, 0x2064),
        (0x2066, 0x206F),
        (0xFEFF, 0xFEFF),
        (0xFFF9, 0xFFFB),
        (0x110BD, 0x110BD),
        (0x110CD, 0x110CD),
        (0x13430, 0x1343F),
        (0x1BCA0, 0x1BCA3),
        (0x1D173, 0x1D17A),
        (0xE0001, 0xE0001),
        (0xE0020, 0xE007F),
    ];
    let c = u32::from(c);
    RANGES
        .iter()
        .any(|&(first, last)| (first..=last).contains(&c))
}

/// Whether `c` is a character of its own in a name: not white space, not a
/// combining mark (Unicode M: Mn, Mc, Me, which show on the character
/// before them, or on nothing) and not a Hangul filler (U+115F, U+1160,
/// U+3164, U+FFA0: letters that show as nothing). A name needs one.
pub(crate) fn is_base_character(c: char) -> bool {
    use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};
    !c.is_whitespace()
        && !matches!(c, '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}')
        && c.general_category_group() != GeneralCategoryGroup::Mark
}
