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
