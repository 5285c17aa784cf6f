//! Batches the central refuses, over a real socket on 127.0.0.1:0: the
//! refusal's code, nothing stored, no ack, the connection goes on, and the
//! batch number is still free for the agency's next batch.

mod common;

use common::{RawAgency, TestCentral, agency_batches, scratch_dir, settings, stored_rows};
use lottery_net::{AgencyMessage, CentralMessage, ErrorCode};

/// The one answer to the message just sent: an error, by its code.
fn refusal(agency: &mut RawAgency) -> lottery_net::ErrorFrame {
    match agency.recv() {
        Some(CentralMessage::Error(error)) => error,
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn an_empty_batch_gets_its_code_is_not_acked_and_leaves_batch_1_free() {
    let dir = scratch_dir("refusals_empty_batch");
    let central = TestCentral::start(&dir, 2, settings(2));
    let (mut agency, welcome) = RawAgency::hello(central.addr, 1);
    assert_eq!(welcome, (0, 0, false));

    agency.send(&AgencyMessage::Batch {
        batch: 1,
        bets: Vec::new(),
    });
    let error = refusal(&mut agency);
    assert_eq!(error.code, ErrorCode::EmptyBatch, "{error}");
    assert_eq!(error.bet, None);
    assert!(error.message.contains("no bets"), "{error}");
    assert!(!error.code.closes_connection());
    assert!(stored_rows(&central.store).is_empty());

    // The connection goes on, and batch 1 is still the next one.
    let bets = agency_batches(1, 1, 3).remove(0);
    agency.send(&AgencyMessage::Batch { batch: 1, bets });
    assert_eq!(
        agency.recv(),
        Some(CentralMessage::Ack {
            batch: 1,
            bets_stored: 3
        })
    );
    // An empty resend of it is refused too, and changes nothing.
    agency.send(&AgencyMessage::Batch {
        batch: 1,
        bets: Vec::new(),
    });
    assert_eq!(refusal(&mut agency).code, ErrorCode::EmptyBatch);
    agency.send(&AgencyMessage::Finish { bets_sent: 3 });
    assert_eq!(
        agency.recv(),
        Some(CentralMessage::Finished { bets_stored: 3 })
    );
    assert_eq!(stored_rows(&central.store).len(), 3);

    // A reconnecting agency is told batch 1 is its last.
    agency.close();
    let (_again, welcome) = RawAgency::hello(central.addr, 1);
    assert_eq!(welcome, (1, 3, true));
}

#[test]
fn a_birthdate_after_today_refuses_the_batch_with_invalid_bet_naming_the_field() {
    let dir = scratch_dir("refusals_future_birthdate");
    let central = TestCentral::start(&dir, 2, settings(2));
    let (mut agency, _) = RawAgency::hello(central.addr, 2);

    let mut bets = agency_batches(2, 1, 4).remove(0);
    bets[2].birthdate = "9999-12-31".to_owned();
    agency.send(&AgencyMessage::Batch {
        batch: 1,
        bets: bets.clone(),
    });
    let error = refusal(&mut agency);
    assert_eq!(error.code, ErrorCode::InvalidBet, "{error}");
    let fault = error.bet.expect("the refused bet is named");
    assert_eq!((fault.index, fault.field_name()), (2, "birthdate"));
    assert_eq!(error.message, "bet 2: birthdate is after today");
    assert!(stored_rows(&central.store).is_empty(), "refused whole");

    // The same batch, born in time, is batch 1 and is stored.
    bets[2].birthdate = "1999-12-31".to_owned();
    agency.send(&AgencyMessage::Batch { batch: 1, bets });
    assert_eq!(
        agency.recv(),
        Some(CentralMessage::Ack {
            batch: 1,
            bets_stored: 4
        })
    );
    assert_eq!(stored_rows(&central.store).len(), 4);
}

#[test]
fn names_with_space_at_an_end_or_only_marks_or_fillers_are_refused_naming_the_field() {
    let dir = scratch_dir("refusals_names");
    let central = TestCentral::start(&dir, 2, settings(2));
    let (mut agency, _) = RawAgency::hello(central.addr, 1);

    // (field, the name sent, what the refusal says of it)
    let cases = [
        ("first_name", " Ana", "white space"),
        ("last_name", "Paz ", "white space"),
        ("first_name", "\u{301}\u{301}", "combining marks"),
        ("last_name", "\u{3164}", "Hangul fillers"),
        ("first_name", "\u{115f}\u{1160}", "Hangul fillers"),
        ("last_name", "\u{ffa0} \u{301}", "Hangul fillers"),
    ];
    for (field, name, says) in cases {
        let mut bets = agency_batches(1, 1, 3).remove(0);
        if field == "first_name" {
            bets[1].first_name = name.to_owned();
        } else {
            bets[1].last_name = name.to_owned();
        }
        agency.send(&AgencyMessage::Batch { batch: 1, bets });
        let error = refusal(&mut agency);
        assert_eq!(error.code, ErrorCode::InvalidBet, "{name:?}: {error}");
        let fault = error.bet.expect("the refused bet is named");
        assert_eq!((fault.index, fault.field_name()), (1, field), "{name:?}");
        assert!(error.message.contains(says), "{name:?}: {error}");
    }
    assert!(stored_rows(&central.store).is_empty(), "refused whole");

    // Marks on a letter, and spaces inside a name, are names.
    let mut bets = agency_batches(1, 1, 2).remove(0);
    bets[0].first_name = "Jose\u{301} Mari\u{301}a".to_owned();
    bets[1].last_name = "De La  Paz".to_owned();
    agency.send(&AgencyMessage::Batch { batch: 1, bets });
    assert_eq!(
        agency.recv(),
        Some(CentralMessage::Ack {
            batch: 1,
            bets_stored: 2
        })
    );
    assert_eq!(stored_rows(&central.store).len(), 2);
}
