//! The frame layout: a big-endian `u32` length prefix, a type byte, then the
//! message's fields (see `PROTOCOL.md`).
//!
//! This module holds the layout constants and the field primitives both the
//! encoder and the decoder use, so the two cannot disagree on a field's shape.
//! Reading never panics and never allocates more than the bytes at hand.

use std::ops::Range;

use crate::error::{DecodeError, EncodeError};

/// The default limit of a whole frame, length prefix included: the course's
/// 8 KiB packet limit.
pub const DEFAULT_MAX_FRAME: usize = 8192;

/// Bytes of the length prefix.
pub(crate) const LENGTH_PREFIX: usize = 4;

/// Bytes before the first field: the length prefix and the type byte.
pub(crate) const HEADER_LEN: usize = LENGTH_PREFIX + 1;

/// The longest text a one-byte length prefix can carry (names, documents,
/// birthdates).
pub(crate) const MAX_SHORT_TEXT: usize = u8::MAX as usize;

/// The longest text a two-byte length prefix can carry (error messages).
pub(crate) const MAX_LONG_TEXT: usize = u16::MAX as usize;

/// Bytes of a `Batch` frame before its first bet (header, batch, count).
pub(crate) const BATCH_HEADER_LEN: usize = HEADER_LEN + 8 + 4;

/// The smallest a bet can take in a `Batch` frame (four empty texts and the
/// number); the decoder bounds a declared count with it before allocating.
pub(crate) const MIN_BET_LEN: usize = 4 + 2;

/// The type bytes. Agency-to-central types are below 0x80, central-to-agency
/// types at or above it, so a frame sent the wrong way is an unknown type.
pub(crate) mod kind {
    /// `Hello` (agency).
    pub const HELLO: u8 = 0x01;
    /// `Batch` (agency).
    pub const BATCH: u8 = 0x02;
    /// `Finish` (agency).
    pub const FINISH: u8 = 0x03;
    /// `WinnersQuery` (agency).
    pub const WINNERS_QUERY: u8 = 0x04;
    /// `Welcome` (central).
    pub const WELCOME: u8 = 0x81;
    /// `Ack` (central).
    pub const ACK: u8 = 0x82;
    /// `Finished` (central).
    pub const FINISHED: u8 = 0x83;
    /// `Winners` (central).
    pub const WINNERS: u8 = 0x84;
    /// `NotDrawn` (central).
    pub const NOT_DRAWN: u8 = 0x85;
    /// `SignedAck` (central, receipts version).
    pub const SIGNED_ACK: u8 = 0x86;
    /// `SignedFinished` (central, receipts version).
    pub const SIGNED_FINISHED: u8 = 0x87;
    /// `SignedDraw` (central, receipts version).
    pub const SIGNED_DRAW: u8 = 0x88;
    /// `SignedWelcome` (central, receipts version).
    pub const SIGNED_WELCOME: u8 = 0x89;
    /// `Error` (central).
    pub const ERROR: u8 = 0xFF;
}

/// The bytes a short text takes: its one-byte length and itself.
pub(crate) const fn short_text_len(text: &[u8]) -> usize {
    1 + text.len()
}

/// The bytes a short text of `len` bytes takes (its one-byte length and
/// itself), after checking that the text `field` fits that length.
///
/// # Errors
/// [`EncodeError::FieldTooLong`] when the text is over 255 bytes.
#[inline]
pub(crate) fn checked_short_len(field: &'static str, len: usize) -> Result<usize, EncodeError> {
    if len > MAX_SHORT_TEXT {
        return Err(EncodeError::FieldTooLong {
            field,
            len,
            max: MAX_SHORT_TEXT,
        });
    }
    Ok(1 + len)
}

/// Reads the fields of one frame body, in order.
pub(crate) struct FieldReader<'a> {
    /// The bytes not read yet.
    bytes: &'a [u8],
    /// The body's length: `len - bytes.len()` bytes were read.
    len: usize,
    message: &'static str,
}

impl<'a> FieldReader<'a> {
    #[inline]
    pub(crate) fn new(message: &'static str, bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            len: bytes.len(),
            message,
        }
    }

    #[inline]
    fn take(&mut self, len: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.bytes.len() < len {
            return Err(DecodeError::Truncated {
                message: self.message,
                field,
            });
        }
        let (head, tail) = self.bytes.split_at(len);
        self.bytes = tail;
        Ok(head)
    }

    #[inline]
    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], DecodeError> {
        let bytes = self.take(N, field)?;
        Ok(bytes.try_into().expect("take returned exactly N bytes"))
    }

    /// `N` raw bytes (a hash, a signature).
    #[inline]
    pub(crate) fn bytes<const N: usize>(
        &mut self,
        field: &'static str,
    ) -> Result<[u8; N], DecodeError> {
        self.array(field)
    }

    #[inline]
    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(field)?[0])
    }

    #[inline]
    pub(crate) fn u16(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        self.array(field).map(u16::from_be_bytes)
    }

    #[inline]
    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        self.array(field).map(u32::from_be_bytes)
    }

    #[inline]
    pub(crate) fn u64(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        self.array(field).map(u64::from_be_bytes)
    }

    #[inline]
    pub(crate) fn flag(&mut self, field: &'static str) -> Result<bool, DecodeError> {
        match self.u8(field)? {
            0 => Ok(false),
            1 => Ok(true),
            value => Err(DecodeError::InvalidFlag {
                message: self.message,
                field,
                value,
            }),
        }
    }

    #[inline]
    fn text(&mut self, len: usize, field: &'static str) -> Result<&'a str, DecodeError> {
        let bytes = self.take(len, field)?;
        self.utf8(bytes, field)
    }

    /// Checks that `bytes`, the text `field` of this frame, are UTF-8.
    #[inline]
    pub(crate) fn utf8(
        &self,
        bytes: &'a [u8],
        field: &'static str,
    ) -> Result<&'a str, DecodeError> {
        std::str::from_utf8(bytes).map_err(|_| DecodeError::InvalidUtf8 {
            message: self.message,
            field,
        })
    }

    /// Where the bytes of a text with a one-byte length prefix lie in the
    /// body, not checked as UTF-8: the caller checks them with
    /// [`FieldReader::utf8`] unless it proved them UTF-8 otherwise.
    #[inline]
    pub(crate) fn short_range(&mut self, field: &'static str) -> Result<Range<usize>, DecodeError> {
        let truncated = || DecodeError::Truncated {
            message: self.message,
            field,
        };
        let (&len, rest) = self.bytes.split_first().ok_or_else(truncated)?;
        let len = usize::from(len);
        let text = rest.get(..len).ok_or_else(truncated)?;
        let start = self.len - rest.len();
        self.bytes = &rest[text.len()..];
        Ok(start..start + len)
    }

    /// A text with a one-byte length prefix, borrowed from the frame.
    #[inline]
    pub(crate) fn short_str(&mut self, field: &'static str) -> Result<&'a str, DecodeError> {
        let len = self.u8(field)?;
        self.text(usize::from(len), field)
    }

    /// A text with a one-byte length prefix.
    #[inline]
    pub(crate) fn short_text(&mut self, field: &'static str) -> Result<String, DecodeError> {
        self.short_str(field).map(str::to_owned)
    }

    /// A text with a two-byte length prefix.
    #[inline]
    pub(crate) fn long_text(&mut self, field: &'static str) -> Result<String, DecodeError> {
        let len = self.u16(field)?;
        self.text(usize::from(len), field).map(str::to_owned)
    }

    /// A count of `items` each taking at least `min_item_len` bytes, checked
    /// against the bytes left so that no caller allocates for items that
    /// cannot be there.
    #[inline]
    pub(crate) fn count(
        &mut self,
        field: &'static str,
        items: &'static str,
        min_item_len: usize,
    ) -> Result<usize, DecodeError> {
        let declared = self.u32(field)?;
        let count = usize::try_from(declared).unwrap_or(usize::MAX);
        if count.saturating_mul(min_item_len) > self.bytes.len() {
            // Not `Truncated`: the count field is whole, it is the items
            // that cannot all be there.
            return Err(DecodeError::CountTooLarge {
                message: self.message,
                field,
                count: u64::from(declared),
                items,
                room: self.bytes.len(),
                most: self.bytes.len() / min_item_len.max(1),
            });
        }
        Ok(count)
    }

    /// Ends the body: every byte must have been read.
    #[inline]
    pub(crate) fn finish(self) -> Result<(), DecodeError> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes {
                message: self.message,
                extra: self.bytes.len(),
            })
        }
    }
}

#[inline(always)]
pub(crate) fn put_u8(out: &mut Vec<u8>, value: u8) {
    out.push(value);
}

#[inline(always)]
pub(crate) fn put_u16(out: &mut Vec<u8>, value: u16) {
    out.extend_from_slice(&value.to_be_bytes());
}

#[inline(always)]
pub(crate) fn put_u32(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_be_bytes());
}

#[inline(always)]
pub(crate) fn put_u64(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(&value.to_be_bytes());
}

/// Writes the length prefix of a frame of `len` bytes (length prefix
/// included, checked against the limit) and its type.
#[inline]
pub(crate) fn put_header(out: &mut Vec<u8>, len: usize, kind: u8) {
    let body = u32::try_from(len - LENGTH_PREFIX).expect("frame length checked against the limit");
    put_u32(out, body);
    put_u8(out, kind);
}

/// Writes a short text (the bytes of UTF-8 text); the caller checked its
/// length.
#[inline(always)]
pub(crate) fn put_short_text(out: &mut Vec<u8>, text: &[u8]) {
    let len = u8::try_from(text.len()).expect("short text length checked before writing");
    out.push(len);
    out.extend_from_slice(text);
}

/// Writes a long text; the caller checked its length.
#[inline]
pub(crate) fn put_long_text(out: &mut Vec<u8>, text: &str) {
    let len = u16::try_from(text.len()).expect("long text length checked before writing");
    put_u16(out, len);
    out.extend_from_slice(text.as_bytes());
}
