//! Loom models of the central (draw once, winners never partial, submit vs finish).
//!
//! Each model runs the real [`Central`] over a [`MemoryStore`] with
//! `Durability::None` (the commit path has its own models in
//! `monitor_models.rs`), on 2 or 3 threads, and asserts its invariant after
//! join, for every interleaving loom explores.

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;

use lottery_bet::{AgencyId, Bet};
use lottery_core::{
    BetMonitor, Central, Durability, Finish, FinishError, LotteryRules, SubmitError, Submitted,
    Winners, store::MemoryStore,
};

fn id(agency: u32) -> AgencyId {
    AgencyId::new(agency).unwrap()
}

fn bet(document: &str, number: &str) -> Bet {
    Bet::from_fields("Ana", "Paz", document, "1990-02-03", number).unwrap()
}

fn central(agencies: u32) -> Central {
    let (monitor, recovery) =
        BetMonitor::open(Box::new(MemoryStore::new()), Durability::None).unwrap();
    let rules = LotteryRules {
        agencies,
        ..LotteryRules::default()
    };
    Central::new(rules, monitor, &recovery).unwrap()
}

fn documents(winners: &Winners) -> Option<Vec<String>> {
    match winners {
        Winners::NotDrawn => None,
        Winners::Drawn(documents) => Some(documents.iter().map(ToString::to_string).collect()),
        other => panic!("an answer this model does not know: {other:?}"),
    }
}

fn stored_bets(central: &Central) -> u64 {
    central.scan(&mut |_| {}).unwrap()
}

/// Three agencies finish at once: exactly one finish draws, the listener is
/// told exactly once, and afterwards everyone sees the draw.
#[test]
fn central_three_finishes_draw_exactly_once() {
    loom::model(|| {
        let central = central(3);
        central
            .submit(id(2), 1, &[bet("21", "7574"), bet("22", "1")])
            .unwrap();
        let told = Arc::new(AtomicUsize::new(0));
        {
            let told = Arc::clone(&told);
            central.on_draw(Box::new(move || {
                told.fetch_add(1, Ordering::SeqCst);
            }));
        }
        let finishers: Vec<_> = [(1, 0), (2, 2)]
            .into_iter()
            .map(|(agency, bets)| {
                let central = central.clone();
                thread::spawn(move || central.finish(id(agency), bets).unwrap())
            })
            .collect();
        let mut results = vec![central.finish(id(3), 0).unwrap()];
        results.extend(finishers.into_iter().map(|f| f.join().unwrap()));

        let drew: Vec<_> = results
            .iter()
            .filter_map(|r| match r {
                Finish::Drew(summary) => Some(summary.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(drew.len(), 1, "exactly one finish draws: {results:?}");
        assert_eq!(drew[0].bets, 2);
        assert_eq!(drew[0].winners_per_agency, [0, 1, 0]);
        assert!(
            results
                .iter()
                .all(|r| matches!(r, Finish::Drew(_) | Finish::Waiting { .. })),
            "{results:?}"
        );
        assert_eq!(told.load(Ordering::SeqCst), 1, "the listener is told once");
        assert!(central.is_drawn());
        assert_eq!(
            documents(&central.winners(id(2)).unwrap()),
            Some(vec!["21".to_owned()])
        );
        // A listener registered after the draw is told at once.
        let late = Arc::new(AtomicUsize::new(0));
        {
            let late = Arc::clone(&late);
            central.on_draw(Box::new(move || {
                late.fetch_add(1, Ordering::SeqCst);
            }));
        }
        assert_eq!(late.load(Ordering::SeqCst), 1);
    });
}

/// Two agencies finish in two steps (begin, then complete: the event loop's
/// way) on two threads: exactly one completion draws, with every bet.
#[test]
fn central_two_step_finishes_draw_exactly_once() {
    loom::model(|| {
        let central = central(2);
        central.submit(id(1), 1, &[bet("11", "7574")]).unwrap();
        let other = {
            let central = central.clone();
            thread::spawn(move || {
                let pending = central.begin_finish(id(2), 0).unwrap();
                central.complete_finish(pending).unwrap()
            })
        };
        let pending = central.begin_finish(id(1), 1).unwrap();
        let mine = central.complete_finish(pending).unwrap();
        let theirs = other.join().unwrap();

        let drew = [&mine, &theirs]
            .iter()
            .filter(|finish| matches!(finish, Finish::Drew(_)))
            .count();
        assert_eq!(drew, 1, "{mine:?} / {theirs:?}");
        assert!(central.is_drawn());
        assert_eq!(
            documents(&central.winners(id(1)).unwrap()),
            Some(vec!["11".to_owned()])
        );
    });
}

/// A reader asks for winners while the last two agencies finish: it sees
/// "not drawn" or the complete list (of both agencies), never a part, and
/// never goes back to "not drawn"; a listener told of the draw sees it too.
#[test]
fn central_winners_are_never_partial() {
    loom::model(|| {
        let central = central(2);
        // Agency 1 wins twice, in two batches, so a partial list is possible
        // in principle; agency 2 once.
        central.submit(id(1), 1, &[bet("11", "7574")]).unwrap();
        central
            .submit(id(2), 1, &[bet("21", "7574"), bet("22", "5")])
            .unwrap();
        central.submit(id(1), 2, &[bet("12", "7574")]).unwrap();
        let complete_one = vec!["11".to_owned(), "12".to_owned()];
        let complete_two = vec!["21".to_owned()];

        let seen_by_listener = Arc::new(AtomicUsize::new(0));
        {
            let reader = central.clone();
            let seen = Arc::clone(&seen_by_listener);
            let complete_one = complete_one.clone();
            central.on_draw(Box::new(move || {
                // Told outside every lock, after the draw is published.
                assert_eq!(
                    documents(&reader.winners(id(1)).unwrap()),
                    Some(complete_one.clone())
                );
                seen.fetch_add(1, Ordering::SeqCst);
            }));
        }

        let finisher = {
            let central = central.clone();
            thread::spawn(move || central.finish(id(1), 2).unwrap())
        };
        let reader = {
            let central = central.clone();
            let (complete_one, complete_two) = (complete_one.clone(), complete_two.clone());
            thread::spawn(move || {
                let first = documents(&central.winners(id(1)).unwrap());
                assert!(first.is_none() || first == Some(complete_one.clone()));
                let second = documents(&central.winners(id(2)).unwrap());
                assert!(second.is_none() || second == Some(complete_two));
                if first.is_some() {
                    assert!(
                        second.is_some(),
                        "the draw is published for every agency at once"
                    );
                }
                let again = documents(&central.winners(id(1)).unwrap());
                if first.is_some() {
                    assert_eq!(again, first, "a published draw stays published");
                }
            })
        };
        let last = central.finish(id(2), 2).unwrap();
        let first = finisher.join().unwrap();
        reader.join().unwrap();

        assert!(matches!(
            (&first, &last),
            (Finish::Drew(_), Finish::Waiting { .. }) | (Finish::Waiting { .. }, Finish::Drew(_))
        ));
        assert_eq!(seen_by_listener.load(Ordering::SeqCst), 1);
        assert_eq!(
            documents(&central.winners(id(1)).unwrap()),
            Some(complete_one)
        );
        assert_eq!(
            documents(&central.winners(id(2)).unwrap()),
            Some(complete_two)
        );
    });
}

/// A batch races the finish of its own agency (which says it sent nothing):
/// either the batch is stored and counted and the finish is refused, or the
/// finish wins and the batch is refused and absent. Never stored but refused,
/// never counted but absent.
#[test]
fn central_submit_racing_the_finish_of_its_agency() {
    loom::model(|| {
        // Two agencies, so that the finish does not draw: the model stays small.
        let central = central(2);
        let submitter = {
            let central = central.clone();
            thread::spawn(move || central.submit(id(1), 1, &[bet("11", "7574")]))
        };
        let finish = central.finish(id(1), 0);
        let submitted = submitter.join().unwrap();

        let point = central.resume_point(id(1)).unwrap();
        let stored = stored_bets(&central);
        match (&submitted, &finish) {
            (Ok(Submitted::Stored { batch: 1, bets: 1 }), Err(refusal)) => {
                assert!(
                    matches!(
                        refusal,
                        FinishError::CountMismatch {
                            sent: 0,
                            stored: 1,
                            ..
                        } | FinishError::BatchesPending { batches: 1, .. }
                    ),
                    "{refusal:?}"
                );
                assert_eq!(stored, 1);
                assert_eq!(point.bets_stored, 1);
                assert_eq!(point.last_batch, 1);
                assert!(!point.finished);
            }
            (Err(SubmitError::AgencyFinished { .. }), Ok(Finish::Waiting { remaining: 1 })) => {
                assert_eq!(stored, 0);
                assert_eq!(point.bets_stored, 0);
                assert_eq!(point.last_batch, 0);
                assert!(point.finished);
            }
            other => panic!("impossible outcome: {other:?}"),
        }
    });
}

/// The same race where the agency says it sent the batch: the finish
/// succeeds only once the batch is stored and counted.
#[test]
fn central_finish_counting_a_racing_submit() {
    loom::model(|| {
        let central = central(2);
        let submitter = {
            let central = central.clone();
            thread::spawn(move || central.submit(id(1), 1, &[bet("11", "7574")]).unwrap())
        };
        let finish = central.finish(id(1), 1);
        let submitted = submitter.join().unwrap();
        assert_eq!(submitted, Submitted::Stored { batch: 1, bets: 1 });

        let point = central.resume_point(id(1)).unwrap();
        assert_eq!(stored_bets(&central), 1);
        assert_eq!(point.bets_stored, 1);
        match finish {
            Ok(Finish::Waiting { remaining: 1 }) => assert!(point.finished),
            Err(
                FinishError::CountMismatch {
                    sent: 1, stored: 0, ..
                }
                | FinishError::BatchesPending { .. },
            ) => assert!(!point.finished),
            other => panic!("impossible outcome: {other:?}"),
        }
    });
}

/// Two connections of one agency (an old one and its replacement) send the
/// same batch at once: it is stored exactly once; the other copy is
/// acknowledged as already stored or refused as still being stored, never
/// stored again.
#[test]
fn central_a_batch_sent_twice_at_once_is_stored_once() {
    loom::model(|| {
        let central = central(2);
        let resend = {
            let central = central.clone();
            thread::spawn(move || central.submit(id(1), 1, &[bet("11", "7574")]))
        };
        let first = central.submit(id(1), 1, &[bet("11", "7574")]);
        let second = resend.join().unwrap();

        let stored_once = |r: &Result<Submitted, SubmitError>| {
            matches!(r, Ok(Submitted::Stored { batch: 1, bets: 1 }))
        };
        let not_again = |r: &Result<Submitted, SubmitError>| {
            matches!(
                r,
                Ok(Submitted::AlreadyStored { batch: 1 })
                    | Err(SubmitError::BatchPending { batch: 1, .. })
            )
        };
        assert!(
            (stored_once(&first) && not_again(&second))
                || (stored_once(&second) && not_again(&first)),
            "{first:?} / {second:?}"
        );
        assert_eq!(stored_bets(&central), 1);
        let point = central.resume_point(id(1)).unwrap();
        assert_eq!((point.last_batch, point.bets_stored), (1, 1));
    });
}

/// Two connections of one agency send batch 1 at once with other bets: one
/// copy is stored, the other is refused (a conflict, or still being
/// stored), never acknowledged: an ack always means these bets are stored.
#[test]
fn central_one_number_sent_twice_with_other_bets_is_acked_once() {
    loom::model(|| {
        let central = central(2);
        let other = {
            let central = central.clone();
            thread::spawn(move || central.submit(id(1), 1, &[bet("22", "1")]))
        };
        let first = central.submit(id(1), 1, &[bet("11", "7574")]);
        let second = other.join().unwrap();

        let stored = |r: &Result<Submitted, SubmitError>| {
            matches!(r, Ok(Submitted::Stored { batch: 1, bets: 1 }))
        };
        let refused = |r: &Result<Submitted, SubmitError>| {
            matches!(
                r,
                Err(SubmitError::BatchConflict { batch: 1, .. }
                    | SubmitError::BatchPending { batch: 1, .. })
            )
        };
        assert!(
            (stored(&first) && refused(&second)) || (stored(&second) && refused(&first)),
            "{first:?} / {second:?}"
        );
        assert_eq!(stored_bets(&central), 1);
    });
}

/// Two agencies sharing an agency lock stripe (1 and 65 of 65: there are 64
/// stripes) race: a one-step finish of one, holding the stripe until its
/// record is durable, and a batch of the other. Neither deadlocks nor is
/// refused, and each outcome is the one it has alone.
#[test]
fn central_agencies_sharing_a_lock_stripe_only_wait_for_each_other() {
    loom::model(|| {
        let central = central(65);
        let submitter = {
            let central = central.clone();
            thread::spawn(move || central.submit(id(65), 1, &[bet("651", "7574")]))
        };
        let finish = central.finish(id(1), 0).unwrap();
        let submitted = submitter.join().unwrap().unwrap();

        assert_eq!(finish, Finish::Waiting { remaining: 64 });
        assert_eq!(submitted, Submitted::Stored { batch: 1, bets: 1 });
        assert_eq!(stored_bets(&central), 1);
        assert_eq!(central.resume_point(id(65)).unwrap().bets_stored, 1);
        assert!(central.resume_point(id(1)).unwrap().finished);
    });
}

/// The running tally: agency 1's two pipelined batches are completed on two
/// threads at once (either may count both), while agency 2 submits and
/// finishes on a third. Whoever draws, the draw holds every committed
/// batch's winners exactly once, in batch order.
#[test]
fn central_batches_completed_at_once_join_the_tally_once_in_order() {
    loom::model(|| {
        let central = central(2);
        let first = central
            .begin_submit(id(1), 1, &[bet("11", "7574")])
            .unwrap();
        let second = central
            .begin_submit(id(1), 2, &[bet("12", "7574"), bet("13", "1")])
            .unwrap();
        let completer = {
            let central = central.clone();
            thread::spawn(move || central.complete_submit(second).unwrap())
        };
        let other = {
            let central = central.clone();
            thread::spawn(move || {
                central.submit(id(2), 1, &[bet("21", "7574")]).unwrap();
                central.finish(id(2), 1).unwrap()
            })
        };
        central.complete_submit(first).unwrap();
        completer.join().unwrap();
        let mine = central.finish(id(1), 3).unwrap();
        let theirs = other.join().unwrap();
        let drew = [&mine, &theirs]
            .into_iter()
            .filter(|finish| matches!(finish, Finish::Drew(_)))
            .count();
        assert_eq!(drew, 1, "{mine:?} {theirs:?}");
        let summary = central.draw_summary().unwrap();
        assert_eq!(summary.bets, 4);
        assert_eq!(summary.winners_per_agency, [2, 1]);
        assert_eq!(
            documents(&central.winners(id(1)).unwrap()).unwrap(),
            ["11", "12"]
        );
        assert_eq!(documents(&central.winners(id(2)).unwrap()).unwrap(), ["21"]);
    });
}
