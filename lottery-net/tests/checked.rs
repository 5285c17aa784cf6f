//! The central's path (`Decoder::next_agency_frame`: bets checked where
//! they lie in the frame, into a `BetBatch`) against the slow reference of
//! the `test-support` oracle (`next_agency_message`, then `WireBet::into_bet`
//! per bet): on every input they accept the same frames, refuse them with
//! the same errors, consume the same bytes, validate batches to the same
//! bets or the same first invalid bet, and a valid batch's store rows
//! (written from the frame's bytes) are those of the reference's bets.

use lottery_bet::{AgencyId, Bet, BetBatch, Field, FieldReason, encode_store_rows};
use lottery_net::{
    AgencyFrame, AgencyMessage, CheckedBatch, DEFAULT_MAX_FRAME, DecodeError, Decoder, ErrorCode,
    InvalidBet, WireBet, encode_agency_message,
};
use proptest::prelude::*;

/// Texts that are often valid fields and often not.
fn field(valid: &'static str) -> impl Strategy<Value = String> {
    prop_oneof![
        3 => Just(valid.to_owned()),
        1 => proptest::string::string_regex("(?s).{0,12}").expect("valid regex"),
        1 => "[0-9-]{0,12}",
        // Around the checks' eight-byte words, with what quoting sees.
        1 => "[a-zé ,\"]{6,18}",
    ]
}

fn wire_bet() -> impl Strategy<Value = WireBet> {
    (
        field("Ana María"),
        field("Pérez, \"Pepe\""),
        field("0030904465"),
        field("2000-02-29"),
        prop_oneof![0u16..=9999, any::<u16>()],
    )
        .prop_map(
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
        4 => (any::<u64>(), prop::collection::vec(wire_bet(), 0..12))
            .prop_map(|(batch, bets)| AgencyMessage::Batch { batch, bets }),
        1 => (any::<u16>(), any::<u32>())
            .prop_map(|(version, agency)| AgencyMessage::Hello { version, agency }),
        1 => any::<u64>().prop_map(|bets_sent| AgencyMessage::Finish { bets_sent }),
        1 => any::<bool>().prop_map(|wait| AgencyMessage::WinnersQuery { wait }),
    ]
}

/// Decodes `bytes` both ways, frame by frame, and checks they agree.
fn assert_both_ways_agree(bytes: &[u8], max_frame: usize) -> Result<usize, TestCaseError> {
    let mut slow = Decoder::new(max_frame);
    let mut fast = Decoder::new(max_frame);
    slow.extend(bytes);
    fast.extend(bytes);
    let mut frames = 0;
    loop {
        let expected = slow.next_agency_message().map(|m| m.map(AgencyFrame::from));
        let actual = fast.next_agency_frame();
        prop_assert_eq!(&actual, &expected);
        prop_assert_eq!(fast.buffered(), slow.buffered());
        if let (Ok(Some(AgencyFrame::Batch(fast))), Ok(Some(AgencyFrame::Batch(slow)))) =
            (&actual, &expected)
            && let (Ok(fast), Ok(slow)) = (&fast.bets, &slow.bets)
        {
            let agency = AgencyId::new(3).expect("an agency");
            let (mut from_frame, mut from_bets) = (Vec::new(), Vec::new());
            encode_store_rows(agency, fast, &mut from_frame);
            encode_store_rows(agency, &slow.to_bets(), &mut from_bets);
            prop_assert_eq!(from_frame, from_bets);
        }
        match actual {
            Ok(Some(_)) => frames += 1,
            Ok(None) | Err(_) => return Ok(frames),
        }
    }
}

proptest! {
    #[test]
    fn the_fast_path_reads_every_stream_of_frames_like_the_slow_one(
        messages in prop::collection::vec(agency_message(), 0..6),
    ) {
        let mut bytes = Vec::new();
        for message in &messages {
            encode_agency_message(message, usize::MAX, &mut bytes).unwrap();
        }
        let frames = assert_both_ways_agree(&bytes, usize::MAX)?;
        prop_assert_eq!(frames, messages.len());
    }

    #[test]
    fn the_fast_path_refuses_arbitrary_bytes_like_the_slow_one(
        prefix in prop::collection::vec(agency_message(), 0..2),
        garbage in prop::collection::vec(any::<u8>(), 0..512),
        max_frame in 5usize..1024,
    ) {
        let mut bytes = Vec::new();
        for message in &prefix {
            encode_agency_message(message, usize::MAX, &mut bytes).unwrap();
        }
        bytes.extend(garbage);
        assert_both_ways_agree(&bytes, max_frame)?;
    }

    #[test]
    fn a_damaged_batch_frame_is_refused_like_the_slow_one(
        bets in prop::collection::vec(wire_bet(), 1..6),
        position in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut bytes = Vec::new();
        encode_agency_message(&AgencyMessage::Batch { batch: 1, bets }, usize::MAX, &mut bytes)
            .unwrap();
        // Damage one byte of the body (not the length prefix).
        let at = 4 + position.index(bytes.len() - 4);
        bytes[at] = byte;
        assert_both_ways_agree(&bytes, usize::MAX)?;
    }
}

/// Bets whose texts are sometimes long (up to the 255 bytes of a length
/// byte), so that a frame of a few dozen holds more than the decoder's
/// window of one bet of any length, and less, at different places.
fn long_wire_bet() -> impl Strategy<Value = WireBet> {
    let long = || prop_oneof![3 => field("Ana"), 1 => "[a-z ,]{200,255}", 1 => "[a-zé\"]{100,127}"];
    (
        long(),
        long(),
        field("0030904465"),
        field("2000-02-29"),
        any::<u16>(),
    )
        .prop_map(
            |(first_name, last_name, document, birthdate, number)| WireBet {
                first_name,
                last_name,
                document,
                birthdate,
                number,
            },
        )
}

proptest! {
    #[test]
    fn a_long_batch_frame_damaged_or_cut_is_refused_like_the_slow_one(
        bets in prop::collection::vec(long_wire_bet(), 1..48),
        position in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        cut in proptest::option::of(any::<prop::sample::Index>()),
    ) {
        let mut bytes = Vec::new();
        encode_agency_message(&AgencyMessage::Batch { batch: 1, bets }, usize::MAX, &mut bytes)
            .unwrap();
        let at = 4 + position.index(bytes.len() - 4);
        bytes[at] = byte;
        if let Some(cut) = cut {
            // Cut the body short, its length prefix saying so: every field
            // may be the one cut.
            let len = 5 + cut.index(bytes.len() - 5);
            bytes.truncate(len);
            let body = u32::try_from(len - 4).unwrap();
            bytes[..4].copy_from_slice(&body.to_be_bytes());
        }
        assert_both_ways_agree(&bytes, usize::MAX)?;
    }
}

fn bet() -> WireBet {
    WireBet::from_bet(
        &Bet::from_fields("Ana", "Pérez", "30904465", "1999-03-17", "7574").expect("a valid bet"),
    )
}

#[test]
fn the_first_invalid_bet_refuses_the_batch_with_its_index_and_field() {
    let bad_date = WireBet {
        birthdate: "1999-02-30".to_owned(),
        ..bet()
    };
    let bad_number = WireBet {
        number: 10_000,
        ..bet()
    };
    let mut frame = Vec::new();
    let message = AgencyMessage::Batch {
        batch: 4,
        bets: vec![bet(), bad_date, bad_number],
    };
    encode_agency_message(&message, DEFAULT_MAX_FRAME, &mut frame).unwrap();
    let mut decoder = Decoder::new(DEFAULT_MAX_FRAME);
    decoder.extend(&frame);
    let Some(AgencyFrame::Batch(checked)) = decoder.next_agency_frame().unwrap() else {
        panic!("a batch");
    };
    let refusal = checked.bets.unwrap_err();
    assert_eq!(refusal.index, 1);
    assert_eq!(refusal.error.field, Field::Birthdate);
    assert_eq!(refusal.error.reason, FieldReason::InvalidDate);
    let error = refusal.error_frame();
    assert_eq!(error.code, ErrorCode::InvalidBet);
    assert_eq!(
        error.bet.map(|fault| (fault.index, fault.field)),
        Some((1, 4))
    );
    assert_eq!(checked.count, 3);
    assert_eq!(decoder.buffered(), 0);
}

#[test]
fn messages_other_than_batches_pass_through_unchanged() {
    let finish = AgencyMessage::Finish { bets_sent: 9 };
    let mut frame = Vec::new();
    encode_agency_message(&finish, DEFAULT_MAX_FRAME, &mut frame).unwrap();
    let mut decoder = Decoder::new(DEFAULT_MAX_FRAME);
    decoder.extend(&frame);
    assert_eq!(
        decoder.next_agency_frame().unwrap(),
        Some(AgencyFrame::Finish { bets_sent: 9 })
    );
}

#[test]
fn a_batch_validated_the_slow_way_equals_the_fast_one() {
    let checked = CheckedBatch::from_wire(2, vec![bet(), bet()]);
    assert_eq!(checked.count, 2);
    assert_eq!(checked.bets.as_ref().map(BetBatch::len), Ok(2));
    let refused = CheckedBatch::from_wire(
        2,
        vec![WireBet {
            document: "12a".to_owned(),
            ..bet()
        }],
    );
    assert!(matches!(
        refused.bets,
        Err(InvalidBet { index: 0, error }) if error.field == Field::Document
    ));
}

/// A bet as raw bytes: four texts (any bytes) and a number.
type RawBet<'a> = ([&'a [u8]; 4], u16);

/// A `Batch` frame of raw bets, cut to `keep` bytes of body when given.
fn raw_batch(bets: &[RawBet<'_>], keep: Option<usize>) -> Vec<u8> {
    let mut body = vec![0x02];
    body.extend_from_slice(&1u64.to_be_bytes());
    body.extend_from_slice(&u32::try_from(bets.len()).unwrap().to_be_bytes());
    for (texts, number) in bets {
        for text in texts {
            body.push(u8::try_from(text.len()).unwrap());
            body.extend_from_slice(text);
        }
        body.extend_from_slice(&number.to_be_bytes());
    }
    if let Some(keep) = keep {
        body.truncate(keep);
    }
    let mut frame = u32::try_from(body.len()).unwrap().to_be_bytes().to_vec();
    frame.extend(body);
    frame
}

/// The fast path's answer to `frame`, after checking it is the reference's.
fn decoded(frame: &[u8]) -> Result<Option<AgencyFrame>, DecodeError> {
    let (mut fast, mut slow) = (
        Decoder::new(DEFAULT_MAX_FRAME),
        Decoder::new(DEFAULT_MAX_FRAME),
    );
    fast.extend(frame);
    slow.extend(frame);
    let actual = fast.next_agency_frame();
    assert_eq!(
        actual,
        slow.next_agency_message().map(|m| m.map(AgencyFrame::from))
    );
    actual
}

#[test]
fn text_that_is_not_utf8_makes_the_frame_malformed_even_after_an_invalid_bet() {
    let good: [&[u8]; 4] = [b"Ana", b"Paz", b"1", b"2000-01-01"];
    let cases: [(&[RawBet<'_>], Option<usize>, &str); 4] = [
        // An empty first name (an invalid bet) before a last name that is
        // not UTF-8: the frame is malformed.
        (
            &[([b"", b"P\xffz", b"1", b"2000-01-01"], 1)],
            None,
            "last_name",
        ),
        // An invalid bet, then a later bet whose document is not UTF-8.
        (
            &[
                (good, 10_000),
                ([b"Ana", b"Paz", b"1\xc3", b"2000-01-01"], 1),
            ],
            None,
            "document",
        ),
        // A first name that is not UTF-8 in a frame cut in its last name:
        // the text comes first.
        (
            &[([b"\xc3(", b"Pazzzzzz", b"1", b"2000-01-01"], 1)],
            Some(13 + 1 + 2 + 1 + 4),
            "first_name",
        ),
        // A date that is not UTF-8 before a number cut short.
        (
            &[([b"Ana", b"Paz", b"1", b"2000-01-0\xff"], 1)],
            Some(13 + 4 + 4 + 2 + 11 + 1),
            "birthdate",
        ),
    ];
    for (bets, keep, field) in cases {
        assert_eq!(
            decoded(&raw_batch(bets, keep)),
            Err(DecodeError::InvalidUtf8 {
                message: "Batch",
                field
            })
        );
    }
}

#[test]
fn a_frame_cut_short_after_good_texts_is_cut_short_not_an_invalid_bet() {
    let bets: [RawBet<'_>; 1] = [([b"", b"Paz", b"1", b"2000-01-01"], 1)];
    assert_eq!(
        decoded(&raw_batch(&bets, Some(13 + 1 + 4 + 1))),
        Err(DecodeError::ItemCutShort {
            message: "Batch",
            item: "bet",
            number: 1,
            count: 1,
            field: "document"
        })
    );
    // Whole, the same frame is a batch refused by its first bet.
    let Ok(Some(AgencyFrame::Batch(checked))) = decoded(&raw_batch(&bets, None)) else {
        panic!("a batch");
    };
    assert_eq!(
        checked.bets.unwrap_err(),
        InvalidBet {
            index: 0,
            error: lottery_bet::FieldError::new(Field::FirstName, FieldReason::Empty)
        }
    );
}
