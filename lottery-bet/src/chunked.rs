//! A test reader that hands out its bytes at most `chunk` at a time (and,
//! when told, fails once they are out): how the readers of agency files and
//! of the store are shown to give the same answer however their input
//! arrives. For tests only: this crate's, and those of the crates above it
//! (the `test-support` feature).

use std::io::{self, Read};

/// A reader handing out at most `chunk` bytes per read, then failing if
/// `fails`.
pub struct Chunked<'a> {
    /// What is left to hand out.
    pub bytes: &'a [u8],
    /// The most bytes one read hands out.
    pub chunk: usize,
    /// Whether a read fails once `bytes` is out (instead of ending the stream).
    pub fails: bool,
}

impl<'a> Chunked<'a> {
    /// `bytes`, at most `chunk` a read, then the end of the stream.
    pub fn new(bytes: &'a [u8], chunk: usize) -> Self {
        Self {
            bytes,
            chunk,
            fails: false,
        }
    }
}

impl Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.bytes.is_empty() && self.fails {
            return Err(io::Error::other("unplugged"));
        }
        let len = self.chunk.min(buf.len()).min(self.bytes.len());
        buf[..len].copy_from_slice(&self.bytes[..len]);
        self.bytes = &self.bytes[len..];
        Ok(len)
    }
}
