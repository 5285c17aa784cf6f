//! Peers that misbehave while real agencies run: each bad peer is answered
//! or dropped, and the real run's result is unchanged.

mod common;

use std::collections::HashSet;
use std::io::Write;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use common::{
    RawAgency, TestCentral, agency_batches, expected_winners, rows_per_agency, scratch_dir,
    settings, stored_rows,
};
use lottery_net::{
    AgencyMessage, CentralMessage, DEFAULT_MAX_FRAME, ErrorCode, PROTOCOL_VERSION,
    encode_agency_message,
};
use lottery_server::ServerConfig;

const AGENCIES: u32 = 4;
const BATCHES: u64 = 6;
const PER_BATCH: usize = 80;
/// Refused batches the bound bad peer pipelines.
const REFUSED_BATCHES: usize = 300;

/// Short deadlines so stalled peers are dropped quickly (the real agencies
/// never pause that long).
fn strict_settings() -> ServerConfig {
    ServerConfig {
        handshake_timeout: Duration::from_millis(500),
        idle_timeout: Duration::from_secs(2),
        ..settings(2)
    }
}

/// An agency that waits for `go` before it connects (so a bad peer can take
/// its place first), then does its whole job. Returns its winners.
fn real_agency(addr: std::net::SocketAddr, agency: u32, go: mpsc::Receiver<()>) -> Vec<String> {
    go.recv().expect("the start signal");
    let batches = agency_batches(agency, BATCHES, PER_BATCH);
    let (mut connection, _) = RawAgency::hello(addr, agency);
    let mut sent = 0;
    for (index, bets) in batches.iter().enumerate() {
        connection.send(&AgencyMessage::Batch {
            batch: index as u64 + 1,
            bets: bets.clone(),
        });
        sent += bets.len() as u64;
        assert!(
            matches!(connection.recv(), Some(CentralMessage::Ack { bets_stored, .. }) if bets_stored == sent),
            "agency {agency}"
        );
    }
    connection.send(&AgencyMessage::Finish { bets_sent: sent });
    assert_eq!(
        connection.recv(),
        Some(CentralMessage::Finished { bets_stored: sent })
    );
    connection.send(&AgencyMessage::WinnersQuery { wait: true });
    let winners = connection.winners();
    assert_eq!(winners, expected_winners(&batches), "agency {agency}");
    connection.close();
    winners
}

/// A tiny deterministic generator for garbage bytes.
fn garbage(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

#[test]
fn garbage_peers_during_a_real_run_are_dropped_and_change_nothing() {
    let dir = scratch_dir("garbage_peers");
    // One more agency than the real ones: a bad peer speaks for it, and it
    // finishes last, empty-handed.
    let last = AGENCIES + 1;
    let central = TestCentral::start(&dir, last, strict_settings());
    let addr = central.addr;

    let mut starts = Vec::new();
    let mut agencies = Vec::new();
    for agency in 1..=AGENCIES {
        let (go, wait) = mpsc::channel();
        starts.push(go);
        agencies.push(thread::spawn(move || real_agency(addr, agency, wait)));
    }

    // An intruder takes agency 4's place before it connects; the real agency
    // replaces it.
    let (mut intruder, _) = RawAgency::hello(addr, AGENCIES);
    for go in &starts {
        go.send(()).unwrap();
    }

    let bad_peers = vec![
        // Random bytes.
        thread::spawn(move || {
            let mut peer = RawAgency::connect(addr);
            let _ = peer.stream.write_all(&garbage(7, 4096));
            peer.codes_until_closed()
        }),
        // More random bytes, after a proper handshake.
        thread::spawn(move || {
            let (mut peer, _) = RawAgency::hello(addr, last);
            let _ = peer.stream.write_all(&garbage(11, 4096));
            peer.codes_until_closed()
        }),
        // A length prefix far over the limit.
        thread::spawn(move || {
            let mut peer = RawAgency::connect(addr);
            peer.send_raw(&[0xFF, 0xFF, 0xFF, 0xF0, 0x01, 0x00]);
            peer.codes_until_closed()
        }),
        // Half a handshake, then silence.
        thread::spawn(move || {
            let mut hello = Vec::new();
            let message = AgencyMessage::Hello {
                version: PROTOCOL_VERSION,
                agency: 1,
            };
            encode_agency_message(&message, DEFAULT_MAX_FRAME, &mut hello).unwrap();
            let mut peer = RawAgency::connect(addr);
            peer.send_raw(&hello[..hello.len() / 2]);
            peer.codes_until_closed()
        }),
        // An agency the central does not expect.
        thread::spawn(move || {
            let mut peer = RawAgency::connect(addr);
            peer.send(&AgencyMessage::Hello {
                version: PROTOCOL_VERSION,
                agency: last + 1,
            });
            peer.codes_until_closed()
        }),
        // A protocol version the central does not speak.
        thread::spawn(move || {
            let mut peer = RawAgency::connect(addr);
            peer.send(&AgencyMessage::Hello {
                version: PROTOCOL_VERSION + 7,
                agency: 1,
            });
            peer.codes_until_closed()
        }),
        // A batch before any handshake.
        thread::spawn(move || {
            let mut peer = RawAgency::connect(addr);
            peer.send(&AgencyMessage::Batch {
                batch: 1,
                bets: agency_batches(1, 1, 3).remove(0),
            });
            peer.codes_until_closed()
        }),
    ];
    let mut answered = Vec::new();
    for peer in bad_peers {
        answered.push(peer.join().expect("the bad peer's thread succeeds"));
    }
    // A bound agency pipelining refused batches (empty ones, and ones far
    // ahead of its next batch): each refused, the session goes on. It speaks
    // for `last` too, so it runs once the peer above that did is gone: a
    // second connection for an agency replaces the first.
    let refused: Vec<ErrorCode> = {
        let (mut peer, _) = RawAgency::hello(addr, last);
        let mut bytes = Vec::new();
        for index in 0..REFUSED_BATCHES {
            let batch = if index % 2 == 0 {
                AgencyMessage::Batch {
                    batch: 1,
                    bets: Vec::new(),
                }
            } else {
                AgencyMessage::Batch {
                    batch: 1000,
                    bets: agency_batches(last, 1, 2).remove(0),
                }
            };
            encode_agency_message(&batch, DEFAULT_MAX_FRAME, &mut bytes).unwrap();
        }
        peer.send_raw(&bytes);
        let codes = (0..REFUSED_BATCHES)
            .map(|_| match peer.recv() {
                Some(CentralMessage::Error(error)) => error.code,
                other => panic!("expected a refusal, got {other:?}"),
            })
            .collect();
        peer.close();
        codes
    };
    answered.push(refused);

    // The last agency finishes with nothing: the draw.
    let (mut empty, _) = RawAgency::hello(addr, last);
    empty.send(&AgencyMessage::Finish { bets_sent: 0 });
    assert_eq!(
        empty.recv(),
        Some(CentralMessage::Finished { bets_stored: 0 })
    );
    empty.send(&AgencyMessage::WinnersQuery { wait: true });
    assert_eq!(empty.winners(), Vec::<String>::new());

    let mut winners = 0;
    for agency in agencies {
        winners += agency.join().expect("the real agency succeeds").len();
    }
    assert_eq!(intruder.codes_until_closed(), [ErrorCode::Replaced]);

    // Every bad peer was disconnected; each got the error it deserved.
    let [
        random,
        random_after_hello,
        huge,
        half,
        unknown,
        version,
        early,
        refused,
    ] = &answered[..]
    else {
        panic!("{answered:?}")
    };
    assert!(random.len() <= 1, "{random:?}");
    assert_eq!(random_after_hello.len(), 1, "{random_after_hello:?}");
    assert_eq!(huge, &[ErrorCode::FrameTooLarge]);
    assert_eq!(half, &[ErrorCode::Timeout]);
    assert_eq!(unknown, &[ErrorCode::UnknownAgency]);
    assert_eq!(version, &[ErrorCode::UnsupportedVersion]);
    assert_eq!(early, &[ErrorCode::UnexpectedMessage]);
    let expected: Vec<ErrorCode> = (0..REFUSED_BATCHES)
        .map(|index| {
            if index % 2 == 0 {
                ErrorCode::EmptyBatch
            } else {
                ErrorCode::OutOfOrder
            }
        })
        .collect();
    assert_eq!(refused, &expected);

    // The real run is untouched.
    assert!(winners > 0);
    assert!(central.central.is_drawn());
    let store = central.store.clone();
    central.stop();
    let rows = stored_rows(&store);
    let total = AGENCIES as usize * BATCHES as usize * PER_BATCH;
    assert_eq!(rows.len(), total);
    assert_eq!(rows.iter().collect::<HashSet<_>>().len(), total);
    let per_agency = rows_per_agency(&rows);
    assert_eq!(per_agency.len(), AGENCIES as usize);
}

#[test]
fn a_peer_that_never_reads_its_answers_does_not_delay_the_others() {
    let dir = scratch_dir("stalled_reader");
    let central = TestCentral::start(&dir, 2, strict_settings());
    let addr = central.addr;
    // Agency 1 holds 2,000 winners, so each winners answer is about 22 KiB.
    let mut winning = agency_batches(1, 20, 100);
    for bet in winning.iter_mut().flatten() {
        bet.number = 7574;
    }
    let (mut greedy, _) = RawAgency::hello(addr, 1);
    for (index, bets) in winning.iter().enumerate() {
        greedy.send(&AgencyMessage::Batch {
            batch: index as u64 + 1,
            bets: bets.clone(),
        });
        assert!(matches!(greedy.recv(), Some(CentralMessage::Ack { .. })));
    }
    greedy.send(&AgencyMessage::Finish { bets_sent: 2000 });
    assert!(matches!(
        greedy.recv(),
        Some(CentralMessage::Finished { .. })
    ));
    let other_batches = agency_batches(2, 1, 50);
    let (mut other, _) = RawAgency::hello(addr, 2);
    other.send(&AgencyMessage::Batch {
        batch: 1,
        bets: other_batches[0].clone(),
    });
    assert!(matches!(other.recv(), Some(CentralMessage::Ack { .. })));
    other.send(&AgencyMessage::Finish { bets_sent: 50 });
    assert!(matches!(
        other.recv(),
        Some(CentralMessage::Finished { .. })
    ));

    // Agency 1 now asks for its winners over and over and never reads: its
    // answers back up, the central stops reading it, and its writes stall.
    let mut queries = Vec::new();
    while queries.len() < 60_000 {
        encode_agency_message(
            &AgencyMessage::WinnersQuery { wait: false },
            DEFAULT_MAX_FRAME,
            &mut queries,
        )
        .unwrap();
    }
    greedy
        .stream
        .set_write_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut stalled = false;
    for _ in 0..2_000 {
        if greedy.stream.write_all(&queries).is_err() {
            stalled = true;
            break;
        }
    }
    assert!(
        stalled,
        "the central stopped reading a peer that does not read"
    );

    // Agency 2 is served all the same.
    other.send(&AgencyMessage::WinnersQuery { wait: true });
    assert_eq!(other.winners(), expected_winners(&other_batches));

    // The greedy peer leaves without reading; the central lets it go and
    // stops cleanly.
    drop(greedy);
    central.stop();
}

#[test]
fn connections_over_the_limit_are_refused_politely_and_serving_goes_on() {
    let dir = scratch_dir("too_many_connections");
    let limited = ServerConfig {
        max_connections: 2,
        ..settings(1)
    };
    let central = TestCentral::start(&dir, 3, limited);
    let (mut one, _) = RawAgency::hello(central.addr, 1);
    let (mut two, _) = RawAgency::hello(central.addr, 2);
    let mut third = RawAgency::connect(central.addr);
    assert_eq!(third.codes_until_closed(), [ErrorCode::TooManyConnections]);

    // The two held connections are served as usual; once one leaves, there
    // is room again.
    one.send(&AgencyMessage::Finish { bets_sent: 0 });
    assert_eq!(
        one.recv(),
        Some(CentralMessage::Finished { bets_stored: 0 })
    );
    one.close();
    let mut admitted = None;
    for _ in 0..100 {
        // The close is seen by the central asynchronously: retry briefly.
        let mut candidate = RawAgency::connect(central.addr);
        candidate.send(&AgencyMessage::Hello {
            version: PROTOCOL_VERSION,
            agency: 3,
        });
        match candidate.recv() {
            Some(CentralMessage::Welcome { .. }) => {
                admitted = Some(candidate);
                break;
            }
            Some(CentralMessage::Error(error)) => {
                assert_eq!(error.code, ErrorCode::TooManyConnections);
                thread::sleep(Duration::from_millis(20));
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(
        admitted.is_some(),
        "a freed slot is given to the next agency"
    );
    two.send(&AgencyMessage::Finish { bets_sent: 0 });
    assert_eq!(
        two.recv(),
        Some(CentralMessage::Finished { bets_stored: 0 })
    );
}
