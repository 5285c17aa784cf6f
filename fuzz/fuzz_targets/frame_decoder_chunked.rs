//! The frame decoder fed through `read_from` in chunks whose sizes come from
//! the input: it never holds more than its bound, and the one agency decode
//! path (`next_agency_frame`) decodes exactly the frames a one-piece
//! decoding of the same bytes by the reference (`next_agency_message`, then
//! `AgencyFrame::from`, of the `test-support` feature) gives.
#![no_main]

use std::io::{self, Read};

use libfuzzer_sys::fuzz_target;
use lottery_net::{AgencyFrame, DecodeError, Decoder};

const MAX_FRAME: usize = 1024;

/// Hands out `bytes` in pieces of the given sizes (cycled).
struct Chunked<'a> {
    bytes: &'a [u8],
    sizes: &'a [u8],
    next: usize,
}

impl Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let size = usize::from(self.sizes[self.next % self.sizes.len()]) * 8 + 1;
        self.next += 1;
        let size = size.min(buf.len()).min(self.bytes.len());
        buf[..size].copy_from_slice(&self.bytes[..size]);
        self.bytes = &self.bytes[size..];
        Ok(size)
    }
}

/// Every frame of `data` decoded in one piece by the reference, then the
/// error, if any.
fn whole(data: &[u8]) -> (Vec<AgencyFrame>, Option<DecodeError>) {
    let mut decoder = Decoder::new(MAX_FRAME);
    decoder.extend(data);
    let mut messages = Vec::new();
    loop {
        match decoder.next_agency_message() {
            Ok(Some(message)) => messages.push(AgencyFrame::from(message)),
            Ok(None) => return (messages, None),
            Err(error) => return (messages, Some(error)),
        }
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&count, rest)) = input.split_first() else {
        return;
    };
    let count = usize::from(count % 16) + 1;
    if rest.len() < count {
        return;
    }
    let (sizes, data) = rest.split_at(count);

    let mut decoder = Decoder::new(MAX_FRAME);
    let mut source = Chunked {
        bytes: data,
        sizes,
        next: 0,
    };
    let mut messages = Vec::new();
    let mut failure = None;
    'stream: loop {
        let read = decoder.read_from(&mut source).expect("reading a slice");
        assert!(decoder.buffered() <= decoder.max_buffered());
        loop {
            match decoder.next_agency_frame() {
                Ok(Some(frame)) => messages.push(frame),
                Ok(None) => {
                    assert!(decoder.buffered() < MAX_FRAME);
                    break;
                }
                Err(error) => {
                    failure = Some(error);
                    break 'stream;
                }
            }
        }
        if read == 0 {
            break;
        }
    }
    assert_eq!((messages, failure), whole(data));
});
