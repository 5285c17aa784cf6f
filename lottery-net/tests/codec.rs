//! Property tests of the codec: every message round-trips, any chunking of a
//! stream decodes the same frames, and arbitrary bytes never panic the
//! decoder nor make it hold more than its bound.

use std::io::{self, Read};

use lottery_bet::ResumePoint;
use lottery_net::{
    AgencyMessage, BatchBuilder, BetFault, CentralMessage, DEFAULT_MAX_FRAME, DecodeError, Decoder,
    EncodeError, ErrorCode, ErrorFrame, Pushed, WireBet, encode_agency_message,
    encode_central_message, encode_winners,
};
use proptest::prelude::*;

/// Text of up to `max_chars` characters of any kind (so up to 4 bytes each).
fn text(max_chars: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("(?s).{{0,{max_chars}}}")).expect("valid regex")
}

fn wire_bet() -> impl Strategy<Value = WireBet> {
    (text(63), text(20), "[0-9]{0,20}", text(10), any::<u16>()).prop_map(
        |(first_name, last_name, document, birthdate, number)| WireBet {
            first_name,
            last_name,
            document,
            birthdate,
            number,
        },
    )
}

fn agency_message() -> impl Strategy<Value = AgencyMessage> {
    prop_oneof![
        (any::<u16>(), any::<u32>())
            .prop_map(|(version, agency)| AgencyMessage::Hello { version, agency }),
        (any::<u64>(), prop::collection::vec(wire_bet(), 0..24))
            .prop_map(|(batch, bets)| AgencyMessage::Batch { batch, bets }),
        any::<u64>().prop_map(|bets_sent| AgencyMessage::Finish { bets_sent }),
        any::<bool>().prop_map(|wait| AgencyMessage::WinnersQuery { wait }),
    ]
}

fn error_frame() -> impl Strategy<Value = ErrorFrame> {
    (
        any::<u16>(),
        proptest::option::of((any::<u32>(), any::<u8>())),
        text(120),
    )
        .prop_map(|(code, bet, message)| ErrorFrame {
            code: ErrorCode::from_code(code),
            bet: bet.map(|(index, field)| BetFault { index, field }),
            message,
        })
}

/// Any signed head (the codec carries it; it does not check signatures).
fn signed_head() -> impl Strategy<Value = lottery_tls::SignedHead> {
    let winning = prop_oneof![
        any::<u16>().prop_map(lottery_tls::WinningRule::Fixed),
        any::<[u8; 32]>().prop_map(lottery_tls::WinningRule::Committed),
    ];
    (
        any::<u32>(),
        winning,
        any::<u64>(),
        any::<[u8; 32]>(),
        prop::collection::vec(any::<u8>(), 64),
    )
        .prop_map(
            |(agencies, winning, position, chain, signature)| lottery_tls::SignedHead {
                statement: lottery_tls::ChainStatement {
                    agencies,
                    winning,
                    position,
                    chain,
                },
                signature: signature.try_into().expect("64 bytes"),
            },
        )
}

fn central_message() -> impl Strategy<Value = CentralMessage> {
    prop_oneof![
        (
            any::<u64>(),
            any::<u64>(),
            any::<bool>(),
            any::<Option<u32>>()
        )
            .prop_map(|(last_batch, bets_stored, finished, rows_crc)| {
                CentralMessage::Welcome {
                    last_batch,
                    bets_stored,
                    finished,
                    rows_crc,
                }
            }),
        (
            any::<u64>(),
            any::<u64>(),
            any::<bool>(),
            any::<Option<u32>>(),
            signed_head()
        )
            .prop_map(|(last_batch, bets_stored, finished, rows_crc, head)| {
                CentralMessage::SignedWelcome {
                    resume: ResumePoint {
                        last_batch,
                        bets_stored,
                        finished,
                        rows_crc,
                    },
                    head,
                }
            }),
        (any::<u64>(), any::<u64>())
            .prop_map(|(batch, bets_stored)| CentralMessage::Ack { batch, bets_stored }),
        any::<u64>().prop_map(|bets_stored| CentralMessage::Finished { bets_stored }),
        (
            any::<u64>(),
            any::<u64>(),
            (any::<u32>(), any::<u32>(), any::<u32>()),
            signed_head()
        )
            .prop_map(|(batch, bets_stored, (crc, len, bets), head)| {
                CentralMessage::SignedAck {
                    batch,
                    bets_stored,
                    digest: lottery_bet::BatchDigest::from_parts(
                        crc,
                        u64::from(len),
                        u64::from(bets),
                    ),
                    head,
                }
            }),
        (any::<u64>(), signed_head())
            .prop_map(|(bets_stored, head)| CentralMessage::SignedFinished { bets_stored, head }),
        (
            any::<u64>(),
            any::<[u8; 32]>(),
            any::<u16>(),
            any::<Option<[u8; 32]>>(),
            signed_head()
        )
            .prop_map(|(bets, winners, winning_number, secret, head)| {
                CentralMessage::SignedDraw {
                    bets,
                    winners,
                    winning_number,
                    secret,
                    head,
                }
            }),
        (prop::collection::vec("[0-9]{1,20}", 0..40), any::<bool>())
            .prop_map(|(documents, last)| CentralMessage::Winners { documents, last }),
        Just(CentralMessage::NotDrawn),
        error_frame().prop_map(CentralMessage::Error),
    ]
}

/// A reader handing out `bytes` in pieces of the given sizes (cycled), as a
/// socket might.
struct Chunked<'a> {
    bytes: &'a [u8],
    sizes: Vec<usize>,
    next: usize,
}

impl<'a> Chunked<'a> {
    fn new(bytes: &'a [u8], sizes: Vec<usize>) -> Self {
        Self {
            bytes,
            sizes,
            next: 0,
        }
    }
}

impl Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let size = self.sizes[self.next % self.sizes.len()]
            .min(buf.len())
            .min(self.bytes.len());
        self.next += 1;
        buf[..size].copy_from_slice(&self.bytes[..size]);
        self.bytes = &self.bytes[size..];
        Ok(size)
    }
}

/// Reads `source` to its end through a decoder, decoding after every read.
fn decode_stream<M>(
    decoder: &mut Decoder,
    source: &mut impl Read,
    mut next: impl FnMut(&mut Decoder) -> Result<Option<M>, DecodeError>,
) -> Vec<M> {
    let mut messages = Vec::new();
    loop {
        let read = decoder.read_from(source).expect("reading a slice");
        while let Some(message) = next(decoder).expect("valid frames") {
            messages.push(message);
        }
        if read == 0 {
            return messages;
        }
    }
}

proptest! {
    #[test]
    fn agency_messages_round_trip(message in agency_message()) {
        let mut out = vec![0xAA]; // encoding appends: earlier bytes stay
        let predicted = message.encoded_len().unwrap();
        let written = encode_agency_message(&message, usize::MAX, &mut out).unwrap();
        prop_assert_eq!(written, predicted);
        prop_assert_eq!(out.len(), 1 + written);
        let mut decoder = Decoder::new(written);
        decoder.extend(&out[1..]);
        prop_assert_eq!(decoder.next_agency_message().unwrap(), Some(message));
        prop_assert_eq!(decoder.buffered(), 0);
    }

    #[test]
    fn central_messages_round_trip(message in central_message()) {
        let mut out = vec![0xAA];
        let predicted = message.encoded_len().unwrap();
        let written = encode_central_message(&message, usize::MAX, &mut out).unwrap();
        prop_assert_eq!(written, predicted);
        prop_assert_eq!(out.len(), 1 + written);
        let mut decoder = Decoder::new(written);
        decoder.extend(&out[1..]);
        prop_assert_eq!(decoder.next_central_message().unwrap(), Some(message));
        prop_assert_eq!(decoder.buffered(), 0);
    }

    #[test]
    fn an_incomplete_frame_is_not_a_message_yet(message in agency_message(), cut in any::<prop::sample::Index>()) {
        let mut out = Vec::new();
        let written = encode_agency_message(&message, usize::MAX, &mut out).unwrap();
        let cut = cut.index(written);
        let mut decoder = Decoder::new(written);
        decoder.extend(&out[..cut]);
        prop_assert_eq!(decoder.next_agency_message().unwrap(), None);
        prop_assert_eq!(decoder.buffered(), cut);
        decoder.extend(&out[cut..]);
        prop_assert_eq!(decoder.next_agency_message().unwrap(), Some(message));
    }

    #[test]
    fn any_chunking_of_an_agency_stream_decodes_the_same_frames(
        messages in prop::collection::vec(agency_message(), 0..12),
        sizes in prop::collection::vec(1usize..300, 1..8),
    ) {
        let mut stream = Vec::new();
        for message in &messages {
            encode_agency_message(message, DEFAULT_MAX_FRAME, &mut stream).unwrap();
        }
        let mut decoder = Decoder::new(DEFAULT_MAX_FRAME);
        let decoded = decode_stream(&mut decoder, &mut Chunked::new(&stream, sizes.clone()), Decoder::next_agency_message);
        prop_assert_eq!(&decoded, &messages);
        prop_assert_eq!(decoder.buffered(), 0);

        // The same through `extend`, one chunk at a time.
        let mut decoder = Decoder::new(DEFAULT_MAX_FRAME);
        let mut decoded = Vec::new();
        let mut rest = &stream[..];
        for size in sizes.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (chunk, tail) = rest.split_at((*size).min(rest.len()));
            rest = tail;
            decoder.extend(chunk);
            while let Some(message) = decoder.next_agency_message().unwrap() {
                decoded.push(message);
            }
        }
        prop_assert_eq!(decoded, messages);
    }

    #[test]
    fn any_chunking_of_a_central_stream_decodes_the_same_frames(
        messages in prop::collection::vec(central_message(), 0..12),
        sizes in prop::collection::vec(1usize..300, 1..8),
    ) {
        let mut stream = Vec::new();
        for message in &messages {
            encode_central_message(message, DEFAULT_MAX_FRAME, &mut stream).unwrap();
        }
        let mut decoder = Decoder::new(DEFAULT_MAX_FRAME);
        let decoded = decode_stream(&mut decoder, &mut Chunked::new(&stream, sizes), Decoder::next_central_message);
        prop_assert_eq!(decoded, messages);
    }

    #[test]
    fn arbitrary_bytes_never_panic_nor_overfill_the_decoder(
        bytes in prop::collection::vec(any::<u8>(), 0..4096),
        sizes in prop::collection::vec(1usize..2048, 1..8),
        max_frame in 1usize..1024,
        as_agency in any::<bool>(),
    ) {
        let mut decoder = Decoder::new(max_frame);
        let mut source = Chunked::new(&bytes, sizes);
        'stream: loop {
            let read = decoder.read_from(&mut source).unwrap();
            prop_assert!(decoder.buffered() <= decoder.max_buffered());
            loop {
                let next = if as_agency {
                    decoder.next_agency_message().map(|m| m.is_some())
                } else {
                    decoder.next_central_message().map(|m| m.is_some())
                };
                match next {
                    Ok(true) => {}
                    // Drained: what is left is part of one frame within the limit.
                    Ok(false) => {
                        prop_assert!(decoder.buffered() < max_frame.max(4));
                        break;
                    }
                    Err(_) => break 'stream,
                }
            }
            if read == 0 {
                break;
            }
        }
    }

    #[test]
    fn winners_lists_split_into_frames_within_the_limit(
        documents in prop::collection::vec("[0-9]{1,20}", 0..200),
        max_frame in 31usize..600,
    ) {
        let mut out = Vec::new();
        let written = encode_winners(&documents, max_frame, &mut out).unwrap();
        prop_assert_eq!(written, out.len());
        let mut decoder = Decoder::new(max_frame);
        decoder.extend(&out);
        let mut received = Vec::new();
        let mut frames = 0;
        while let Some(message) = decoder.next_central_message().unwrap() {
            frames += 1;
            let CentralMessage::Winners { documents, last } = message else {
                panic!("not a Winners frame: {message:?}");
            };
            received.extend(documents);
            prop_assert_eq!(last, decoder.buffered() == 0, "only the final frame is last");
        }
        prop_assert!(frames >= 1);
        prop_assert_eq!(received, documents);
    }

    #[test]
    fn batch_builders_pack_every_bet_once_in_frames_within_the_limit(
        bets in prop::collection::vec(wire_bet(), 0..120),
        max_frame in 700usize..3000,
        max_bets in proptest::option::of(1usize..40),
    ) {
        let mut builder = BatchBuilder::new(max_frame, max_bets);
        let mut frames = Vec::new();
        let mut batch = 0;
        for bet in &bets {
            if builder.try_push(bet).unwrap() == Pushed::Full {
                batch += 1;
                builder.finish(batch, &mut frames);
                prop_assert_eq!(builder.try_push(bet).unwrap(), Pushed::Added);
            }
        }
        if !builder.is_empty() {
            batch += 1;
            builder.finish(batch, &mut frames);
        }
        let mut decoder = Decoder::new(max_frame);
        decoder.extend(&frames);
        let mut received = Vec::new();
        let mut expected_batch = 0;
        while let Some(message) = decoder.next_agency_message().unwrap() {
            let AgencyMessage::Batch { batch, bets } = message else {
                panic!("not a Batch frame: {message:?}");
            };
            expected_batch += 1;
            prop_assert_eq!(batch, expected_batch);
            prop_assert!(!bets.is_empty());
            prop_assert!(max_bets.is_none_or(|max| bets.len() <= max));
            received.extend(bets);
        }
        prop_assert_eq!(expected_batch, batch);
        prop_assert_eq!(received, bets);
    }
}

#[test]
fn a_frame_over_the_limit_is_refused_from_its_length_alone() {
    let mut decoder = Decoder::new(DEFAULT_MAX_FRAME);
    decoder.extend(&[0xFF, 0xFF, 0xFF, 0xFF]);
    assert_eq!(
        decoder.next_agency_message(),
        Err(DecodeError::FrameTooLarge {
            declared: 4 + u64::from(u32::MAX),
            max: DEFAULT_MAX_FRAME,
        })
    );
    // One byte over the limit is over it; the limit itself is not.
    let mut decoder = Decoder::new(DEFAULT_MAX_FRAME);
    decoder.extend(&u32::try_from(DEFAULT_MAX_FRAME - 3).unwrap().to_be_bytes());
    assert!(matches!(
        decoder.next_central_message(),
        Err(DecodeError::FrameTooLarge { declared: 8193, .. })
    ));
    let mut decoder = Decoder::new(DEFAULT_MAX_FRAME);
    decoder.extend(&u32::try_from(DEFAULT_MAX_FRAME - 4).unwrap().to_be_bytes());
    assert_eq!(decoder.next_central_message(), Ok(None));
}

#[test]
fn the_decoder_buffers_only_what_it_reads() {
    let mut decoder = Decoder::new(DEFAULT_MAX_FRAME);
    let mut source = io::repeat(0x7F);
    assert_eq!(decoder.read_from(&mut source).unwrap(), DEFAULT_MAX_FRAME);
    assert_eq!(decoder.buffered(), DEFAULT_MAX_FRAME);
    assert!(decoder.next_agency_message().is_err());
    // The caller kept reading without decoding: the bound holds.
    assert_eq!(decoder.read_from(&mut source).unwrap(), DEFAULT_MAX_FRAME);
    assert!(decoder.read_from(&mut source).is_err());
    assert_eq!(decoder.buffered(), decoder.max_buffered());
}

#[test]
fn malformed_frames_name_the_message_and_field() {
    let cases: [(&[u8], DecodeError); 5] = [
        (&[0, 0, 0, 0], DecodeError::EmptyFrame),
        (&[0, 0, 0, 1, 0x42], DecodeError::UnknownType { kind: 0x42 }),
        (
            &[0, 0, 0, 3, 0x01, 0, 1],
            DecodeError::Truncated {
                message: "Hello",
                field: "agency",
            },
        ),
        (
            &[0, 0, 0, 2, 0x04, 2],
            DecodeError::InvalidFlag {
                message: "WinnersQuery",
                field: "wait",
                value: 2,
            },
        ),
        (
            &[0, 0, 0, 3, 0x04, 1, 0],
            DecodeError::TrailingBytes {
                message: "WinnersQuery",
                extra: 1,
            },
        ),
    ];
    for (bytes, error) in cases {
        let mut decoder = Decoder::new(DEFAULT_MAX_FRAME);
        decoder.extend(bytes);
        assert_eq!(decoder.next_agency_message(), Err(error), "{bytes:?}");
    }
    // A central frame is an unknown type to an agency decoder, and back.
    let mut decoder = Decoder::new(DEFAULT_MAX_FRAME);
    decoder.extend(&[0, 0, 0, 1, 0x85]);
    assert_eq!(
        decoder.next_agency_message(),
        Err(DecodeError::UnknownType { kind: 0x85 })
    );
}

#[test]
fn a_welcome_whose_absent_rows_crc_is_not_zero_is_malformed() {
    // One value, one encoding: an absent CRC is sent as 0.
    let mut frame = vec![0, 0, 0, 23, 0x81];
    frame.extend_from_slice(&[0; 17]);
    frame.extend_from_slice(&[0, 0, 0, 0, 1]);
    let mut decoder = Decoder::new(DEFAULT_MAX_FRAME);
    decoder.extend(&frame);
    assert_eq!(
        decoder.next_central_message(),
        Err(DecodeError::AbsentNotZero {
            message: "Welcome",
            field: "rows_crc"
        })
    );
}

/// A `SignedWelcome` with a committed rule, encoded.
fn signed_welcome_frame() -> Vec<u8> {
    let message = CentralMessage::SignedWelcome {
        resume: ResumePoint {
            last_batch: 3,
            bets_stored: 300,
            finished: false,
            rows_crc: None,
        },
        head: lottery_tls::SignedHead {
            statement: lottery_tls::ChainStatement {
                agencies: 5,
                winning: lottery_tls::WinningRule::Committed([0xc1; 32]),
                position: 0,
                chain: [0xc0; 32],
            },
            signature: [0x5e; 64],
        },
    };
    let mut frame = Vec::new();
    encode_central_message(&message, DEFAULT_MAX_FRAME, &mut frame).unwrap();
    frame
}

#[test]
fn a_signed_welcome_cut_anywhere_is_truncated_naming_the_field_it_ends_in() {
    let frame = signed_welcome_frame();
    // Header 5, welcome 22, agencies 4, committed 1, commitment 32,
    // position 8, chain 32, signature 64.
    assert_eq!(frame.len(), 5 + 22 + 4 + 1 + 32 + 8 + 32 + 64);
    let fields = [
        (5, "last_batch"),
        (13, "bets_stored"),
        (21, "finished"),
        (22, "rows_crc_known"),
        (23, "rows_crc"),
        (27, "agencies"),
        (31, "committed"),
        (32, "commitment"),
        (64, "position"),
        (72, "chain"),
        (104, "signature"),
    ];
    for end in 5..frame.len() {
        // The body cut at `end`, its length prefix saying so: a whole frame
        // whose fields stop short.
        let mut cut = frame[..end].to_vec();
        cut[..4].copy_from_slice(&u32::try_from(end - 4).unwrap().to_be_bytes());
        let field = fields
            .iter()
            .rev()
            .find(|(start, _)| *start <= end)
            .map(|(_, field)| *field)
            .unwrap();
        let mut decoder = Decoder::new(DEFAULT_MAX_FRAME);
        decoder.extend(&cut);
        assert_eq!(
            decoder.next_central_message(),
            Err(DecodeError::Truncated {
                message: "SignedWelcome",
                field
            }),
            "cut at byte {end}"
        );
    }
    // One byte more is trailing, and the absent CRC's rule holds here too.
    let mut long = frame.clone();
    long.push(0);
    let body = u32::try_from(long.len() - 4).unwrap();
    long[..4].copy_from_slice(&body.to_be_bytes());
    let mut decoder = Decoder::new(DEFAULT_MAX_FRAME);
    decoder.extend(&long);
    assert_eq!(
        decoder.next_central_message(),
        Err(DecodeError::TrailingBytes {
            message: "SignedWelcome",
            extra: 1
        })
    );
    let mut crc = frame;
    crc[26] = 1;
    let mut decoder = Decoder::new(DEFAULT_MAX_FRAME);
    decoder.extend(&crc);
    assert_eq!(
        decoder.next_central_message(),
        Err(DecodeError::AbsentNotZero {
            message: "SignedWelcome",
            field: "rows_crc"
        })
    );
}

#[test]
fn a_malformed_body_is_consumed_so_the_next_frame_still_decodes() {
    let mut decoder = Decoder::new(DEFAULT_MAX_FRAME);
    decoder.extend(&[0, 0, 0, 2, 0x04, 9, 0, 0, 0, 2, 0x04, 1]);
    assert!(decoder.next_agency_message().is_err());
    assert_eq!(
        decoder.next_agency_message(),
        Ok(Some(AgencyMessage::WinnersQuery { wait: true }))
    );
}

#[test]
fn a_declared_count_larger_than_the_frame_allocates_nothing() {
    // A Batch claiming u32::MAX bets in a 17-byte frame.
    let mut frame = vec![0, 0, 0, 13, 0x02];
    frame.extend_from_slice(&7u64.to_be_bytes());
    frame.extend_from_slice(&u32::MAX.to_be_bytes());
    let mut decoder = Decoder::new(DEFAULT_MAX_FRAME);
    decoder.extend(&frame);
    assert_eq!(
        decoder.next_agency_message(),
        Err(DecodeError::CountTooLarge {
            message: "Batch",
            field: "count",
            count: u64::from(u32::MAX),
            items: "bets",
            room: 0,
            most: 0,
        })
    );
}

/// A `Batch` frame (batch 9) whose count says `count` bets and whose body
/// holds one whole bet of 25 bytes, and the body's length.
fn one_bet_batch_frame(count: u32) -> (Vec<u8>, usize) {
    let mut body = vec![0x02];
    body.extend_from_slice(&9u64.to_be_bytes());
    body.extend_from_slice(&count.to_be_bytes());
    for text in [&b"Ana"[..], b"Paz", b"123", b"2000-01-01"] {
        body.push(u8::try_from(text.len()).unwrap());
        body.extend_from_slice(text);
    }
    body.extend_from_slice(&7u16.to_be_bytes());
    let mut frame = u32::try_from(body.len()).unwrap().to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    (frame, body.len())
}

/// The error decoding `frame` gives, by the checked decoding or the plain one.
fn decode_error(frame: &[u8], checked: bool) -> DecodeError {
    let mut decoder = Decoder::new(DEFAULT_MAX_FRAME);
    decoder.extend(frame);
    if checked {
        decoder.next_agency_frame().map(drop).unwrap_err()
    } else {
        decoder.next_agency_message().map(drop).unwrap_err()
    }
}

#[test]
fn a_batch_whose_count_exceeds_its_bets_says_so_with_both_numbers() {
    // Count 5, but the 25 bytes after it hold one bet (of 6 + 19 bytes):
    // four 6-byte bets at most, fewer than 5. (Before, it was refused as
    // "ends inside its count field", which the count field does not.)
    let (frame, body_len) = one_bet_batch_frame(5);
    let room = body_len - 1 - 8 - 4;
    for checked in [false, true] {
        let error = decode_error(&frame, checked);
        assert_eq!(
            error,
            DecodeError::CountTooLarge {
                message: "Batch",
                field: "count",
                count: 5,
                items: "bets",
                room,
                most: room / 6,
            }
        );
        assert_eq!(
            error.to_string(),
            format!(
                "the Batch frame's count says 5 bets, more than the {room} bytes after it can hold (at most {} bets)",
                room / 6
            )
        );
        assert!(!error.to_string().contains("ends inside"), "{error}");
    }
}

#[test]
fn a_batch_whose_bets_end_before_its_count_names_the_bet_it_ends_inside() {
    // Count 2, one whole bet of 25 bytes: room for four of the smallest, so
    // not `CountTooLarge`, but the frame ends where bet 2 begins. Both
    // decodings say the count is at fault, with the bet and the field.
    let (frame, _) = one_bet_batch_frame(2);
    for checked in [false, true] {
        let error = decode_error(&frame, checked);
        assert_eq!(
            error,
            DecodeError::ItemCutShort {
                message: "Batch",
                item: "bet",
                number: 2,
                count: 2,
                field: "first_name",
            }
        );
        assert_eq!(
            error.to_string(),
            "the Batch frame ends inside bet 2 of the 2 its count declares (in its first_name field)"
        );
    }
}

#[test]
fn encoding_over_the_limit_writes_nothing() {
    let bet = WireBet {
        first_name: "A".repeat(200),
        last_name: "B".repeat(200),
        document: "1".into(),
        birthdate: "2000-01-01".into(),
        number: 1,
    };
    let batch = AgencyMessage::Batch {
        batch: 1,
        bets: vec![bet.clone(); 30],
    };
    let mut out = vec![1, 2, 3];
    assert!(matches!(
        encode_agency_message(&batch, DEFAULT_MAX_FRAME, &mut out),
        Err(EncodeError::FrameTooLarge {
            message: "Batch",
            max: DEFAULT_MAX_FRAME,
            ..
        })
    ));
    let too_long = AgencyMessage::Batch {
        batch: 1,
        bets: vec![WireBet {
            document: "9".repeat(256),
            ..bet
        }],
    };
    assert!(matches!(
        encode_agency_message(&too_long, DEFAULT_MAX_FRAME, &mut out),
        Err(EncodeError::FieldTooLong {
            field: "document",
            len: 256,
            max: 255
        })
    ));
    assert!(matches!(
        encode_winners(&["1".repeat(300)], DEFAULT_MAX_FRAME, &mut out),
        Err(EncodeError::FieldTooLong { .. })
    ));
    assert!(matches!(
        encode_winners(&["12345678"], 16, &mut out),
        Err(EncodeError::FrameTooLarge { .. })
    ));
    assert_eq!(out, [1, 2, 3]);
}

#[test]
fn an_empty_winners_list_is_one_empty_last_frame() {
    let mut out = Vec::new();
    encode_winners(&[] as &[&str], DEFAULT_MAX_FRAME, &mut out).unwrap();
    let mut decoder = Decoder::new(DEFAULT_MAX_FRAME);
    decoder.extend(&out);
    assert_eq!(
        decoder.next_central_message(),
        Ok(Some(CentralMessage::Winners {
            documents: vec![],
            last: true
        }))
    );
    assert_eq!(decoder.buffered(), 0);
}
