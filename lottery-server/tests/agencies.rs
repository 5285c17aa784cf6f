//! Whole runs against an in-process central on 127.0.0.1:0: many agencies at
//! once, held winners queries, and reconnecting agencies.

mod common;

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::thread;

use common::{
    RawAgency, TestCentral, agency_batches, expected_winners, rows_per_agency, scratch_dir,
    settings, stored_rows,
};
use lottery_net::{AgencyMessage, CentralMessage, ErrorCode};

/// One agency's whole job: handshake, every batch pipelined, finish, winners.
/// Returns the winners it received.
fn run_agency(
    addr: std::net::SocketAddr,
    agency: u32,
    batches: &[Vec<lottery_net::WireBet>],
) -> Vec<String> {
    common::run_agency(RawAgency::connect(addr), agency, batches)
}

#[test]
fn fifty_agencies_at_once_store_every_bet_once_and_get_exactly_their_winners() {
    const AGENCIES: u32 = 50;
    const BATCHES: u64 = 8;
    const PER_BATCH: usize = 100;
    let dir = scratch_dir("fifty_agencies");
    let central = TestCentral::start(&dir, AGENCIES, settings(2));
    let addr = central.addr;
    let agencies: Vec<_> = (1..=AGENCIES)
        .map(|agency| {
            thread::spawn(move || {
                let batches = agency_batches(agency, BATCHES, PER_BATCH);
                let winners = run_agency(addr, agency, &batches);
                (agency, winners, expected_winners(&batches))
            })
        })
        .collect();
    let mut winners_total = 0;
    for agency in agencies {
        let (agency, winners, expected) = agency.join().expect("the agency thread succeeds");
        assert_eq!(
            winners, expected,
            "agency {agency} gets exactly its winners"
        );
        winners_total += winners.len();
    }
    assert!(winners_total > 0, "the data set has winners");

    assert_eq!(central.draws.load(Ordering::SeqCst), 1, "exactly one draw");
    let summary = central.central.draw_summary().expect("drawn");
    let total = u64::from(AGENCIES) * BATCHES * PER_BATCH as u64;
    assert_eq!(summary.bets, total);
    let store = central.store.clone();
    central.stop();

    let rows = stored_rows(&store);
    assert_eq!(rows.len() as u64, total, "every bet stored");
    let unique: HashSet<_> = rows.iter().collect();
    assert_eq!(unique.len(), rows.len(), "no bet stored twice");
    let per_agency = rows_per_agency(&rows);
    for agency in 1..=AGENCIES {
        assert_eq!(per_agency[&agency], BATCHES as usize * PER_BATCH);
    }
    // Each agency's bets are in its own batch order.
    for agency in 1..=AGENCIES {
        let documents: Vec<&String> = rows
            .iter()
            .filter(|(owner, _)| *owner == agency)
            .map(|(_, document)| document)
            .collect();
        let mut sorted = documents.clone();
        sorted.sort();
        assert_eq!(documents, sorted, "agency {agency}'s batches in order");
    }
}

/// The central takes at most 64 batches of one connection at a time; a
/// client that keeps far more in flight (here all 600, written before it
/// reads a single ack) waits in the socket, and every batch is still stored
/// once and acked in order.
#[test]
fn a_window_far_past_the_centrals_limit_is_served_in_order() {
    const BATCHES: u64 = 600;
    const PER_BATCH: usize = 10;
    let dir = scratch_dir("window_past_limit");
    let central = TestCentral::start(&dir, 1, settings(2));
    let batches = agency_batches(1, BATCHES, PER_BATCH);
    let winners = run_agency(central.addr, 1, &batches);
    assert_eq!(winners, expected_winners(&batches));
    let store = central.store.clone();
    central.stop();
    let rows = stored_rows(&store);
    assert_eq!(
        rows.len(),
        BATCHES as usize * PER_BATCH,
        "every bet stored once"
    );
    let documents: Vec<&String> = rows.iter().map(|(_, document)| document).collect();
    let mut sorted = documents.clone();
    sorted.sort();
    assert_eq!(documents, sorted, "in batch order");
}

#[test]
fn a_winners_query_sent_before_the_draw_is_answered_when_the_last_agency_finishes() {
    let dir = scratch_dir("held_winners_query");
    let central = TestCentral::start(&dir, 2, settings(2));
    let one_batches = agency_batches(1, 2, 60);
    let (mut one, _) = RawAgency::hello(central.addr, 1);
    for (index, bets) in one_batches.iter().enumerate() {
        one.send(&AgencyMessage::Batch {
            batch: index as u64 + 1,
            bets: bets.clone(),
        });
        assert!(matches!(one.recv(), Some(CentralMessage::Ack { .. })));
    }
    one.send(&AgencyMessage::Finish { bets_sent: 120 });
    assert_eq!(
        one.recv(),
        Some(CentralMessage::Finished { bets_stored: 120 })
    );

    // Both queries in one write: the second (do not wait) is answered
    // `NotDrawn` at once, which shows the first (wait) was taken before the
    // draw; its own answer must come first, so the central holds both.
    let mut queries = Vec::new();
    for wait in [false, true] {
        lottery_net::encode_agency_message(
            &AgencyMessage::WinnersQuery { wait },
            lottery_net::DEFAULT_MAX_FRAME,
            &mut queries,
        )
        .unwrap();
    }
    one.send_raw(&queries);
    assert_eq!(one.recv(), Some(CentralMessage::NotDrawn));
    assert!(!central.central.is_drawn());

    // The last agency finishes; agency 1 is answered without asking again.
    let two_batches = agency_batches(2, 1, 30);
    let (mut two, _) = RawAgency::hello(central.addr, 2);
    two.send(&AgencyMessage::Batch {
        batch: 1,
        bets: two_batches[0].clone(),
    });
    assert!(matches!(two.recv(), Some(CentralMessage::Ack { .. })));
    two.send(&AgencyMessage::Finish { bets_sent: 30 });
    assert_eq!(
        two.recv(),
        Some(CentralMessage::Finished { bets_stored: 30 })
    );

    assert_eq!(one.winners(), expected_winners(&one_batches));
    two.send(&AgencyMessage::WinnersQuery { wait: false });
    assert_eq!(two.winners(), expected_winners(&two_batches));
    assert_eq!(central.draws.load(Ordering::SeqCst), 1);
}

#[test]
fn a_newer_connection_replaces_the_older_and_the_agency_resumes_without_duplicates() {
    let dir = scratch_dir("replacement");
    let central = TestCentral::start(&dir, 1, settings(2));
    let batches = agency_batches(1, 5, 40);
    let (mut older, _) = RawAgency::hello(central.addr, 1);
    for batch in 1..=3u64 {
        older.send(&AgencyMessage::Batch {
            batch,
            bets: batches[batch as usize - 1].clone(),
        });
        assert!(matches!(older.recv(), Some(CentralMessage::Ack { .. })));
    }

    let (mut newer, welcome) = RawAgency::hello(central.addr, 1);
    assert_eq!(
        welcome,
        (3, 120, false),
        "the newer connection resumes after batch 3"
    );
    assert_eq!(older.codes_until_closed(), [ErrorCode::Replaced]);

    // A resend of the last acked batch is acked again, not stored again.
    for batch in 3..=5u64 {
        newer.send(&AgencyMessage::Batch {
            batch,
            bets: batches[batch as usize - 1].clone(),
        });
        assert!(
            matches!(newer.recv(), Some(CentralMessage::Ack { batch: acked, .. }) if acked == batch)
        );
    }
    newer.send(&AgencyMessage::Finish { bets_sent: 200 });
    assert_eq!(
        newer.recv(),
        Some(CentralMessage::Finished { bets_stored: 200 })
    );
    newer.send(&AgencyMessage::WinnersQuery { wait: true });
    assert_eq!(newer.winners(), expected_winners(&batches));
    let store = central.store.clone();
    central.stop();

    let rows = stored_rows(&store);
    assert_eq!(rows.len(), 200);
    assert_eq!(rows.iter().collect::<HashSet<_>>().len(), 200);
}

#[test]
fn exit_when_done_stops_the_server_once_every_agency_is_served_and_gone() {
    let dir = scratch_dir("exit_when_done");
    let mut server_settings = settings(2);
    server_settings.exit_when_done = true;
    let central = TestCentral::start(&dir, 3, server_settings);
    let addr = central.addr;
    let agencies: Vec<_> = (1..=3)
        .map(|agency| {
            thread::spawn(move || run_agency(addr, agency, &agency_batches(agency, 2, 50)))
        })
        .collect();
    for agency in agencies {
        agency.join().expect("the agency succeeds");
    }
    assert_eq!(central.join(), lottery_server::StopReason::Done);
}
