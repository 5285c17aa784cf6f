//! Handshakes over a shared PostgreSQL ledger, with real sockets: two
//! in-process centrals on one schema. The `Hello` reads the agency's record
//! from the database on the loop's completer, never on the event loop, and
//! everything around it keeps its order: frames sent right behind the
//! `Hello` are answered after the `Welcome`, a newer connection of the
//! agency replaces the older one, a peer that leaves while its `Hello` is
//! being read is forgotten, and a shutdown answers a pending `Hello` before
//! its goodbye.
//!
//! Needs `LOTTERY_TEST_POSTGRES` (skipped, saying so, without it).

mod common;
#[path = "../../lottery-pg/tests/common/mod.rs"]
mod pg_common;

use std::net::Shutdown;

use common::{RawAgency, TestCentral, agency_batches, settings};
use lottery_core::{Central, Durability, LotteryRules};
use lottery_net::{
    AgencyMessage, CentralMessage, DEFAULT_MAX_FRAME, ErrorCode, PROTOCOL_VERSION,
    encode_agency_message,
};
use lottery_pg::PgLedger;
use lottery_server::StopReason;
use pg_common::{Schema, postgres_url};

/// A central on `schema`, expecting `agencies`, served with one loop (so
/// every connection of it shares one completer).
fn central(schema: &Schema, agencies: u32) -> TestCentral {
    let (ledger, recovery) = PgLedger::open(schema.url(), Durability::Fsync).unwrap();
    let rules = LotteryRules {
        agencies,
        ..LotteryRules::default()
    };
    let central = Central::new(rules, ledger, &recovery).unwrap();
    TestCentral::serve(central, schema.url().into(), settings(1))
}

/// The bytes of `messages`, encoded one after another (sent in one write).
fn frames(messages: &[AgencyMessage]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for message in messages {
        encode_agency_message(message, DEFAULT_MAX_FRAME, &mut bytes).unwrap();
    }
    bytes
}

fn hello(agency: u32) -> AgencyMessage {
    AgencyMessage::Hello {
        version: PROTOCOL_VERSION,
        agency,
    }
}

/// Every message until the central closes the connection.
fn until_closed(agency: &mut RawAgency) -> Vec<CentralMessage> {
    let mut messages = Vec::new();
    while let Some(message) = agency.recv() {
        messages.push(message);
    }
    messages
}

fn is_error(message: &CentralMessage, code: ErrorCode) -> bool {
    matches!(message, CentralMessage::Error(error) if error.code == code)
}

#[test]
fn a_hello_read_from_the_database_keeps_the_order_of_everything_around_it() {
    let Some(base) =
        postgres_url("a_hello_read_from_the_database_keeps_the_order_of_everything_around_it")
    else {
        return;
    };
    let schema = Schema::new(&base);
    let (a, b) = (central(&schema, 2), central(&schema, 2));
    let batches = agency_batches(1, 4, 3);

    // Agency 1 stores batches 1 and 2 through A.
    let (mut on_a, welcome) = RawAgency::hello(a.addr, 1);
    assert_eq!(welcome, (0, 0, false));
    for (number, bets) in (1..=2).zip(&batches) {
        on_a.send(&AgencyMessage::Batch {
            batch: number,
            bets: bets.clone(),
        });
        assert_eq!(
            on_a.recv(),
            Some(CentralMessage::Ack {
                batch: number,
                bets_stored: 3 * number
            })
        );
    }
    on_a.close();

    // On B, which never saw agency 1, the Hello and the next two batches go
    // in one write: the Welcome (from the database) comes first, then the
    // acks, in order.
    let mut on_b = RawAgency::connect(b.addr);
    on_b.send_raw(&frames(&[
        hello(1),
        AgencyMessage::Batch {
            batch: 3,
            bets: batches[2].clone(),
        },
        AgencyMessage::Batch {
            batch: 4,
            bets: batches[3].clone(),
        },
    ]));
    assert_eq!(
        counts(on_b.recv()),
        Some(CentralMessage::Welcome {
            last_batch: 2,
            bets_stored: 6,
            finished: false,
            rows_crc: None
        })
    );
    for number in 3..=4 {
        assert_eq!(
            on_b.recv(),
            Some(CentralMessage::Ack {
                batch: number,
                bets_stored: 3 * number
            })
        );
    }

    // A newer connection of agency 1 on B replaces the older one once its
    // Hello is answered; a finish right behind its Hello follows the
    // Welcome.
    let mut newer = RawAgency::connect(b.addr);
    newer.send_raw(&frames(&[
        hello(1),
        AgencyMessage::Finish { bets_sent: 12 },
    ]));
    assert_eq!(
        counts(newer.recv()),
        Some(CentralMessage::Welcome {
            last_batch: 4,
            bets_stored: 12,
            finished: false,
            rows_crc: None
        })
    );
    assert_eq!(
        newer.recv(),
        Some(CentralMessage::Finished { bets_stored: 12 })
    );
    let older = until_closed(&mut on_b);
    assert!(
        matches!(&older[..], [error] if is_error(error, ErrorCode::Replaced)),
        "{older:?}"
    );

    // A peer that leaves right after its Hello (read from the database or
    // not yet, whichever came first) is closed, and binds nothing that
    // stays: agency 2 is welcomed on B again, and A learns agency 1's
    // finish from the database.
    let mut gone = RawAgency::connect(b.addr);
    gone.send_raw(&frames(&[hello(2)]));
    gone.stream.shutdown(Shutdown::Write).unwrap();
    let seen = until_closed(&mut gone);
    assert!(
        matches!(&seen[..], [] | [CentralMessage::Welcome { .. }]),
        "{seen:?}"
    );
    let (again, welcome) = RawAgency::hello(b.addr, 2);
    assert_eq!(welcome, (0, 0, false));
    again.close();
    let (on_a, welcome) = RawAgency::hello(a.addr, 1);
    assert_eq!(welcome, (4, 12, true));
    on_a.close();
    newer.close();
    assert_eq!(a.stop(), StopReason::Requested);
    assert_eq!(b.stop(), StopReason::Requested);
}

#[test]
fn a_shutdown_answers_a_hello_being_read_from_the_database_before_its_goodbye() {
    let Some(base) =
        postgres_url("a_shutdown_answers_a_hello_being_read_from_the_database_before_its_goodbye")
    else {
        return;
    };
    let schema = Schema::new(&base);
    // Several rounds: the shutdown lands before, during or after the read.
    for round in 0..6 {
        let central = central(&schema, 2);
        let mut agency = RawAgency::connect(central.addr);
        agency.send_raw(&frames(&[hello(1)]));
        let shutdown = central.shutdown.clone();
        if round % 2 == 1 {
            // Most likely after the central took the connection in.
            let (other, _) = RawAgency::hello(central.addr, 2);
            other.close();
        }
        shutdown.shutdown();
        let seen = until_closed(&mut agency);
        // A Welcome (the Hello was taken before the goodbye) comes first;
        // then the goodbye, or nothing when the connection was never taken.
        let welcomed = matches!(seen.first(), Some(CentralMessage::Welcome { .. }));
        let rest = &seen[usize::from(welcomed)..];
        assert!(
            matches!(rest, [] | [_]) && rest.iter().all(|m| is_error(m, ErrorCode::ShuttingDown)),
            "round {round}: {seen:?}"
        );
        drop(agency);
        assert_eq!(central.join(), StopReason::Requested, "round {round}");
    }
}

/// A `Welcome` without its rows' CRC32C (these tests are about counts).
fn counts(message: Option<CentralMessage>) -> Option<CentralMessage> {
    match message {
        Some(CentralMessage::Welcome {
            last_batch,
            bets_stored,
            finished,
            rows_crc,
        }) => {
            assert_eq!(rows_crc.is_some(), bets_stored > 0, "rows_crc {rows_crc:?}");
            Some(CentralMessage::Welcome {
                last_batch,
                bets_stored,
                finished,
                rows_crc: None,
            })
        }
        other => other,
    }
}
