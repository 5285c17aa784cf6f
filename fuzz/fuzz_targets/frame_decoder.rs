//! The frame decoder on a whole input, read both as agency frames and as
//! central frames: it never panics, never consumes more than it holds, and
//! every frame it accepts encodes back to exactly the bytes it consumed (the
//! encoding is canonical, so nothing is lost or invented in decoding). The
//! one agency decode path (`next_agency_frame`, bets validated as decoded)
//! reads the input exactly like the reference decoding of the
//! `test-support` feature (`next_agency_message`, a `String` per field, then
//! `AgencyFrame::from`, which validates each bet with `WireBet::into_bet`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use lottery_net::{AgencyFrame, Decoder, encode_agency_message, encode_central_message};

/// Small enough that the limit is hit often, large enough for real frames.
const MAX_FRAME: usize = 1024;

/// The decode path and the reference agree on every frame, error and byte.
fn decode_path_agrees_with_the_reference(data: &[u8]) {
    let mut reference = Decoder::new(MAX_FRAME);
    let mut decoder = Decoder::new(MAX_FRAME);
    reference.extend(data);
    decoder.extend(data);
    loop {
        let expected = reference
            .next_agency_message()
            .map(|message| message.map(AgencyFrame::from));
        let actual = decoder.next_agency_frame();
        assert_eq!(actual, expected);
        assert_eq!(decoder.buffered(), reference.buffered());
        if !matches!(actual, Ok(Some(_))) {
            return;
        }
    }
}

fuzz_target!(|data: &[u8]| {
    decode_path_agrees_with_the_reference(data);
    for as_agency in [true, false] {
        let mut decoder = Decoder::new(MAX_FRAME);
        decoder.extend(data);
        let mut offset = 0;
        loop {
            let before = decoder.buffered();
            let mut encoded = Vec::new();
            let decoded = if as_agency {
                decoder.next_agency_message().map(|message| {
                    message.map(|m| encode_agency_message(&m, MAX_FRAME, &mut encoded))
                })
            } else {
                decoder.next_central_message().map(|message| {
                    message.map(|m| encode_central_message(&m, MAX_FRAME, &mut encoded))
                })
            };
            let consumed = before - decoder.buffered();
            match decoded {
                Ok(Some(written)) => {
                    let written = written.expect("a decoded frame re-encodes within the limit");
                    assert_eq!(written, consumed);
                    assert_eq!(&encoded[..], &data[offset..offset + consumed]);
                    offset += consumed;
                }
                Ok(None) => {
                    assert_eq!(consumed, 0);
                    assert!(decoder.buffered() < MAX_FRAME);
                    break;
                }
                Err(_) => break,
            }
        }
    }
});
