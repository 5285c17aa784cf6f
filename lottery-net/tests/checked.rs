//! The central's path (`Decoder::next_agency_frame`) against the slow
//! reference of the `test-support` oracle (`next_agency_message`, then
//! `WireBet::into_bet` per bet): on every input they accept the same frames,
//! refuse them with the same errors, consume the same bytes, and validate
//! batches to the same bets or the same first invalid bet.

use lottery_core::{Bet, BetBatch, Field, FieldReason};
use lottery_net::{
    AgencyFrame, AgencyMessage, CheckedBatch, DEFAULT_MAX_FRAME, Decoder, ErrorCode, InvalidBet,
    WireBet, encode_agency_message,
};
use proptest::prelude::*;

/// Texts that are often valid fields and often not.
fn field(valid: &'static str) -> impl Strategy<Value = String> {
    prop_oneof![
        3 => Just(valid.to_owned()),
        1 => proptest::string::string_regex("(?s).{0,12}").expect("valid regex"),
        1 => "[0-9-]{0,12}",
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
