//! Several centrals on one PostgreSQL ledger, in-process: a handshake on
//! one central resumes from what another stored, a resend stored by another
//! central is acknowledged and not stored again, and the last two finishes
//! taken at once on two centrals draw exactly once, both centrals
//! publishing the same winners (the one that did not draw learns it from
//! the ledger's announcement).
//!
//! Needs `LOTTERY_TEST_POSTGRES`.

mod common;

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::{Schema, postgres_url};
use lottery_bet::{AgencyId, Bet, ResumePoint, append_rows_crc};
use lottery_core::{
    Central, Durability, Finish, LotteryRules, ResumeError, SubmitError, Submitted, Winners,
};
use lottery_pg::PgLedger;

fn central(schema: &Schema, agencies: u32) -> Central {
    let (ledger, recovery) = PgLedger::open(schema.url(), Durability::Fsync).unwrap();
    let rules = LotteryRules {
        agencies,
        ..LotteryRules::default()
    };
    Central::new(rules, ledger, &recovery).unwrap()
}

fn id(agency: u32) -> AgencyId {
    AgencyId::new(agency).unwrap()
}

/// `count` bets of `agency`, batch `batch`; bet `i` wins when `i % 3 == 0`.
fn batch(agency: u32, batch: u64, count: u16) -> Vec<Bet> {
    (0..count)
        .map(|i| {
            let document = format!("{agency}{batch:03}{i:03}");
            let number = if i % 3 == 0 { "7574" } else { "12" };
            Bet::from_fields("Ana", "Paz", &document, "1990-02-03", number).unwrap()
        })
        .collect()
}

fn winners(central: &Central, agency: u32) -> Vec<String> {
    match central.winners(id(agency)).unwrap() {
        Winners::Drawn(documents) => documents.iter().map(ToString::to_string).collect(),
        other => panic!("agency {agency}: not drawn: {other:?}"),
    }
}

/// Waits (polling, without asserting on time) until `central` publishes the
/// draw; gives up after a minute, saying so.
fn until_drawn(central: &Central) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !central.is_drawn() {
        assert!(Instant::now() < deadline, "the draw was never announced");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_handshake_on_another_central_resumes_from_what_the_database_holds() {
    let Some(base) =
        postgres_url("a_handshake_on_another_central_resumes_from_what_the_database_holds")
    else {
        return;
    };
    let schema = Schema::new(&base);
    let (a, b) = (central(&schema, 2), central(&schema, 2));
    for number in 1..=3 {
        let stored = a.submit(id(1), number, &batch(1, number, 4)).unwrap();
        assert_eq!(
            stored,
            Submitted::Stored {
                batch: number,
                bets: 4
            }
        );
    }
    // B never saw agency 1: its own books say nothing, the database says 3.
    assert_eq!(b.resume_point(id(1)).unwrap().last_batch, 0);
    let point = b.refresh_resume_point(id(1)).unwrap();
    assert_eq!(
        point,
        ResumePoint {
            last_batch: 3,
            bets_stored: 12,
            finished: false,
            // The rows A stored, as the agency computes them from its bets.
            rows_crc: Some((1..=3).fold(0, |crc, number| append_rows_crc(
                crc,
                id(1),
                &batch(1, number, 4)
            ))),
        }
    );
    // B adopted the digests with the record: a resend with other bets is
    // refused there, checked against what A stored.
    assert!(matches!(
        b.submit(id(1), 2, &batch(1, 7, 4)),
        Err(SubmitError::BatchConflict { batch: 2, .. })
    ));
    // A resend of batch 3 on B is acknowledged, not stored again; batch 4
    // follows on B.
    assert_eq!(
        b.submit(id(1), 3, &batch(1, 3, 4)).unwrap(),
        Submitted::AlreadyStored { batch: 3 }
    );
    assert_eq!(
        b.submit(id(1), 4, &batch(1, 4, 4)).unwrap(),
        Submitted::Stored { batch: 4, bets: 4 }
    );
    // A stale central (A still thinks batch 4 is next) is told it is stored.
    let resent = a.submit(id(1), 4, &batch(1, 4, 4)).unwrap();
    assert_eq!(resent, Submitted::Stored { batch: 4, bets: 4 });
    let mut stored = 0;
    b.scan(&mut |_| stored += 1).unwrap();
    assert_eq!(stored, 16, "every bet once");
    // The finish count is checked against the database, whichever central.
    assert!(b.finish(id(1), 15).is_err());
    assert_eq!(
        b.finish(id(1), 16).unwrap(),
        Finish::Waiting { remaining: 1 }
    );
    let point = a.refresh_resume_point(id(1)).unwrap();
    assert!(point.finished);
    assert_eq!(point.bets_stored, 16);
}

#[test]
fn the_last_two_finishes_on_two_centrals_at_once_draw_exactly_once() {
    let Some(base) =
        postgres_url("the_last_two_finishes_on_two_centrals_at_once_draw_exactly_once")
    else {
        return;
    };
    // Several rounds, each on a fresh schema, so the race runs both ways.
    for round in 0..8 {
        let schema = Schema::new(&base);
        let (a, b) = (central(&schema, 3), central(&schema, 3));
        for agency in 1..=3 {
            let on = if agency == 3 { &b } else { &a };
            on.submit(id(agency), 1, &batch(agency, 1, 5)).unwrap();
            on.submit(id(agency), 2, &batch(agency, 2, 3)).unwrap();
        }
        a.finish(id(1), 8).unwrap();
        let start = Arc::new(Barrier::new(2));
        let racers: Vec<_> = [(a.clone(), 2), (b.clone(), 3)]
            .into_iter()
            .map(|(central, agency)| {
                let start = Arc::clone(&start);
                std::thread::spawn(move || {
                    start.wait();
                    central.finish(id(agency), 8).unwrap()
                })
            })
            .collect();
        let answers: Vec<Finish> = racers.into_iter().map(|r| r.join().unwrap()).collect();
        let drew: Vec<_> = answers
            .iter()
            .filter(|answer| matches!(answer, Finish::Drew(_)))
            .collect();
        assert_eq!(drew.len(), 1, "round {round}: {answers:?}");
        let Finish::Drew(summary) = drew[0] else {
            unreachable!()
        };
        assert_eq!(summary.bets, 24);
        assert_eq!(summary.winners_per_agency, [3, 3, 3]);
        until_drawn(&a);
        until_drawn(&b);
        assert_eq!(a.draw_summary().as_ref(), Some(summary));
        assert_eq!(b.draw_summary().as_ref(), Some(summary));
        for agency in 1..=3 {
            let expected: Vec<String> = [(1, 0), (1, 3), (2, 0)]
                .iter()
                .map(|(number, i)| format!("{agency}{number:03}{i:03}"))
                .collect();
            assert_eq!(winners(&a, agency), expected, "round {round}");
            assert_eq!(winners(&b, agency), expected, "round {round}");
        }
        // Nothing more is taken, on either central (agency 2 connecting to
        // B, which never saw it, learns it finished).
        assert!(a.submit(id(1), 3, &batch(1, 3, 1)).is_err());
        assert!(b.refresh_resume_point(id(2)).unwrap().finished);
        assert_eq!(b.finish(id(2), 8).unwrap(), Finish::AlreadyDrawn);
    }
}

#[test]
fn pipelined_batches_of_several_agencies_share_one_transaction_in_their_order() {
    let Some(base) =
        postgres_url("pipelined_batches_of_several_agencies_share_one_transaction_in_their_order")
    else {
        return;
    };
    let schema = Schema::new(&base);
    let central = central(&schema, 2);
    // Begun together (queued, none durable yet), then completed: the first
    // completion commits them all in one transaction.
    let mut pending = Vec::new();
    for number in 1..=5 {
        for agency in [2, 1] {
            let bets = batch(agency, number, 2);
            pending.push(central.begin_submit(id(agency), number, &bets).unwrap());
        }
    }
    for pending in pending {
        let batch = pending.batch();
        let stored = central.complete_submit(pending).unwrap();
        assert_eq!(stored, Submitted::Stored { batch, bets: 2 });
    }
    let mut documents = Vec::new();
    central
        .scan(&mut |stored| documents.push(format!("{}:{}", stored.agency, stored.bet.document)))
        .unwrap();
    let expected: Vec<String> = [1, 2]
        .into_iter()
        .flat_map(|agency| {
            (1..=5u64).flat_map(move |number| {
                (0..2).map(move |i| format!("{agency}:{agency}{number:03}{i:03}"))
            })
        })
        .collect();
    assert_eq!(documents, expected);
    let other = self::central(&schema, 2);
    assert_eq!(other.refresh_resume_point(id(1)).unwrap().last_batch, 5);
    assert_eq!(other.refresh_resume_point(id(2)).unwrap().bets_stored, 10);
}

#[test]
fn the_remaining_of_a_finish_counts_the_finishes_taken_on_every_central() {
    let Some(base) =
        postgres_url("the_remaining_of_a_finish_counts_the_finishes_taken_on_every_central")
    else {
        return;
    };
    let schema = Schema::new(&base);
    let (a, b) = (central(&schema, 4), central(&schema, 4));
    for agency in 1..=4 {
        let on = if agency % 2 == 1 { &a } else { &b };
        on.submit(id(agency), 1, &batch(agency, 1, 2)).unwrap();
    }
    // Each central's books know only their own finishes; the answers count
    // the database's.
    assert_eq!(
        a.finish(id(1), 2).unwrap(),
        Finish::Waiting { remaining: 3 }
    );
    assert_eq!(
        b.finish(id(2), 2).unwrap(),
        Finish::Waiting { remaining: 2 }
    );
    assert_eq!(
        a.finish(id(3), 2).unwrap(),
        Finish::Waiting { remaining: 1 }
    );
    let Finish::Drew(summary) = b.finish(id(4), 2).unwrap() else {
        panic!("the last finish draws")
    };
    assert_eq!(summary.bets, 8);
}

#[test]
fn finishes_sharing_one_transaction_each_count_the_finishes_before_them() {
    let Some(base) =
        postgres_url("finishes_sharing_one_transaction_each_count_the_finishes_before_them")
    else {
        return;
    };
    let schema = Schema::new(&base);
    let (a, b) = (central(&schema, 4), central(&schema, 4));
    for agency in 1..=3 {
        a.submit(id(agency), 1, &batch(agency, 1, 2)).unwrap();
    }
    b.submit(id(4), 1, &batch(4, 1, 2)).unwrap();
    assert_eq!(
        b.finish(id(4), 2).unwrap(),
        Finish::Waiting { remaining: 3 }
    );
    // Begun together (queued, none durable yet): one transaction records
    // both, in order.
    let one = a.begin_finish(id(1), 2).unwrap();
    let two = a.begin_finish(id(2), 2).unwrap();
    assert_eq!(
        a.complete_finish(one).unwrap(),
        Finish::Waiting { remaining: 2 }
    );
    assert_eq!(
        a.complete_finish(two).unwrap(),
        Finish::Waiting { remaining: 1 }
    );
}

#[test]
fn two_centrals_taking_one_number_with_other_bets_store_one_and_refuse_the_other() {
    let Some(base) = postgres_url(
        "two_centrals_taking_one_number_with_other_bets_store_one_and_refuse_the_other",
    ) else {
        return;
    };
    let schema = Schema::new(&base);
    let (a, b) = (central(&schema, 2), central(&schema, 2));
    // Neither central's books know the other's batch: the database decides.
    let on_a = batch(2, 1, 3);
    let on_b = batch(2, 101, 3);
    assert_eq!(
        a.submit(id(2), 1, &on_a).unwrap(),
        Submitted::Stored { batch: 1, bets: 3 }
    );
    assert!(matches!(
        b.submit(id(2), 1, &on_b),
        Err(SubmitError::BatchConflict { batch: 1, .. })
    ));
    // The same bets through B are the stored batch: acknowledged, not stored.
    let resent = b.submit(id(2), 1, &on_a).unwrap();
    assert!(
        matches!(
            resent,
            Submitted::Stored { batch: 1, .. } | Submitted::AlreadyStored { batch: 1 }
        ),
        "{resent:?}"
    );
    let mut stored = Vec::new();
    a.scan(&mut |bet| stored.push(bet.bet)).unwrap();
    assert_eq!(stored, on_a);
}

/// Terminates every connection the server has from `application_name`, and
/// waits until they are gone (as a restart of the database would).
fn terminate_connections(schema: &Schema, application_name: &str) {
    let mut admin = schema.client();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let row = admin
            .query_one(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                 WHERE application_name = $1",
                &[&application_name],
            )
            .unwrap();
        if row.get::<_, i64>(0) == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "the connections never went away");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_handshake_whose_read_fails_is_refused_not_answered_from_the_books() {
    let Some(base) =
        postgres_url("a_handshake_whose_read_fails_is_refused_not_answered_from_the_books")
    else {
        return;
    };
    let schema = Schema::new(&base);
    let a = central(&schema, 2);
    // Central b's connections carry a name of their own, to cut them alone.
    let name = format!("{}_b", schema.name());
    let url = format!("{}&application_name={name}", schema.url());
    let (ledger, recovery) = PgLedger::open(&url, Durability::Fsync).unwrap();
    let rules = LotteryRules {
        agencies: 2,
        ..LotteryRules::default()
    };
    let b = Central::new(rules, ledger, &recovery).unwrap();
    // b's reader is connected.
    assert_eq!(b.refresh_resume_point(id(2)).unwrap().last_batch, 0);
    for number in 1..=3 {
        a.submit(id(1), number, &batch(1, number, 4)).unwrap();
    }
    terminate_connections(&schema, &name);
    // b's books know nothing of agency 1; the database holds 3 batches.
    match b.refresh_resume_point(id(1)) {
        Err(ResumeError::Store(_)) => {}
        Ok(point) => assert_eq!(
            point.last_batch, 3,
            "a handshake answered from b's books, not the database: {point:?}"
        ),
        Err(other) => panic!("{other}"),
    }
    // Asked again, b reads the database.
    let point = b.refresh_resume_point(id(1)).unwrap();
    assert_eq!((point.last_batch, point.bets_stored), (3, 12));
}
