//! The state machine, step by step, without a store.
use lottery_bet::{Bet, Document, StoredBet};

use super::*;
use crate::lottery::draw::DrawTally;
use crate::lottery::ledger::AgencyRecord;

fn agency(id: u32) -> AgencyId {
    AgencyId::new(id).unwrap()
}

fn rules(agencies: u32) -> LotteryRules {
    LotteryRules {
        agencies,
        ..LotteryRules::default()
    }
}

fn stored(id: u32, document: &str, number: &str) -> StoredBet {
    StoredBet {
        agency: agency(id),
        bet: Bet::from_fields("Ana", "Paz", document, "1990-05-06", number).unwrap(),
    }
}

/// Takes, writes and acknowledges one batch.
fn store(lottery: &mut Lottery, id: u32, batch: u64, bets: u64) -> Submitted {
    match lottery
        .begin_submit(agency(id), batch, bets, Vec::new())
        .unwrap()
    {
        SubmitStep::Write(begun) => {
            let ack = write(lottery, begun);
            lottery.acknowledge(ack)
        }
        SubmitStep::AlreadyStored { batch, .. } => Submitted::AlreadyStored { batch },
    }
}

/// A made-up digest of batch `batch` of `bets` bets (the ledger's job in
/// a central).
fn digest(batch: u64, bets: u64) -> BatchDigest {
    BatchDigest::from_parts(batch as u32 * 7919 + 1, bets * 40, bets)
}

/// [`Lottery::written`], with the batch's made-up digest.
fn write(lottery: &mut Lottery, begun: PendingBatchWrite) -> PendingBatchAck {
    let digest = digest(begun.batch, begun.bets);
    lottery.written(begun, digest)
}

/// A resume point without its rows' CRC32C, for tests about counts.
fn counts(point: ResumePoint) -> ResumePoint {
    ResumePoint {
        rows_crc: None,
        ..point
    }
}

/// Finishes an agency through every step; returns the final answer and
/// the draw right if this finish must draw.
fn finish(lottery: &mut Lottery, id: u32, sent: u64) -> Result<Settled, FinishError> {
    Ok(match lottery.begin_finish(agency(id), sent)? {
        FinishStep::Record(begun) => lottery.finish_recorded(begun),
        FinishStep::Settled(settled) => settled,
    })
}

fn documents(winners: &Winners) -> Vec<&str> {
    match winners {
        Winners::Drawn(documents) => documents.iter().map(Document::as_str).collect(),
        Winners::NotDrawn => panic!("not drawn"),
    }
}

#[test]
fn batches_are_taken_in_order_and_counted_once_acknowledged() {
    let mut lottery = Lottery::new(rules(2));
    assert_eq!(
        store(&mut lottery, 1, 1, 3),
        Submitted::Stored { batch: 1, bets: 3 }
    );
    assert_eq!(
        store(&mut lottery, 1, 2, 4),
        Submitted::Stored { batch: 2, bets: 4 }
    );
    assert_eq!(
        counts(lottery.resume_point(agency(1)).unwrap()),
        ResumePoint {
            last_batch: 2,
            bets_stored: 7,
            finished: false,
            rows_crc: None
        }
    );
    assert_eq!(
        lottery.resume_point(agency(2)).unwrap(),
        ResumePoint::default()
    );
}

#[test]
fn a_resent_batch_is_acknowledged_again_and_not_taken() {
    let mut lottery = Lottery::new(rules(1));
    store(&mut lottery, 1, 1, 3);
    store(&mut lottery, 1, 2, 3);
    assert_eq!(
        lottery.begin_submit(agency(1), 1, 3, Vec::new()).unwrap(),
        SubmitStep::AlreadyStored {
            batch: 1,
            stored: Some(digest(1, 3))
        }
    );
    assert_eq!(lottery.resume_point(agency(1)).unwrap().bets_stored, 6);
}

#[test]
fn a_batch_skipping_ahead_or_numbered_zero_is_out_of_order() {
    let mut lottery = Lottery::new(rules(1));
    store(&mut lottery, 1, 1, 1);
    for got in [0, 3, u64::MAX] {
        assert!(matches!(
            lottery.begin_submit(agency(1), got, 1, Vec::new()),
            Err(SubmitError::OutOfOrder { expected: 2, got: g, .. }) if g == got
        ));
    }
}

#[test]
fn unknown_agencies_are_refused_everywhere() {
    let mut lottery = Lottery::new(rules(2));
    assert!(matches!(
        lottery.begin_submit(agency(3), 1, 1, Vec::new()),
        Err(SubmitError::UnknownAgency(UnknownAgency {
            expected: 2,
            ..
        }))
    ));
    assert!(matches!(
        lottery.begin_finish(agency(3), 0),
        Err(FinishError::UnknownAgency(UnknownAgency {
            expected: 2,
            ..
        }))
    ));
    assert!(lottery.winners(agency(3)).is_err());
    assert!(lottery.resume_point(agency(3)).is_err());
}

#[test]
fn pending_batches_reserve_their_numbers_and_block_the_finish() {
    let mut lottery = Lottery::new(rules(1));
    let SubmitStep::Write(first) = lottery.begin_submit(agency(1), 1, 2, Vec::new()).unwrap()
    else {
        panic!("batch 1 is new")
    };
    // While batch 1 is being written, nothing else of the agency starts.
    assert!(matches!(
        lottery.begin_submit(agency(1), 2, 2, Vec::new()),
        Err(SubmitError::AgencyBusy { .. })
    ));
    assert!(matches!(
        lottery.begin_finish(agency(1), 0),
        Err(FinishError::AgencyBusy { .. })
    ));
    let first = write(&mut lottery, first);
    // Written, not durable: batch 2 may follow (pipelining), a resend of 1
    // may not be acknowledged yet, and the finish must wait.
    let SubmitStep::Write(second) = lottery.begin_submit(agency(1), 2, 5, Vec::new()).unwrap()
    else {
        panic!("batch 2 is next")
    };
    let second = write(&mut lottery, second);
    assert!(matches!(
        lottery.begin_submit(agency(1), 1, 2, Vec::new()),
        Err(SubmitError::BatchPending { batch: 1, .. })
    ));
    assert!(matches!(
        lottery.begin_submit(agency(1), 4, 1, Vec::new()),
        Err(SubmitError::OutOfOrder {
            expected: 3,
            got: 4,
            ..
        })
    ));
    assert!(matches!(
        lottery.begin_finish(agency(1), 7),
        Err(FinishError::BatchesPending { batches: 2, .. })
    ));
    assert_eq!(lottery.resume_point(agency(1)).unwrap().last_batch, 0);
    assert_eq!(
        lottery.acknowledge(first),
        Submitted::Stored { batch: 1, bets: 2 }
    );
    assert_eq!(lottery.resume_point(agency(1)).unwrap().bets_stored, 2);
    assert_eq!(
        lottery.acknowledge(second),
        Submitted::Stored { batch: 2, bets: 5 }
    );
    assert_eq!(
        counts(lottery.resume_point(agency(1)).unwrap()),
        ResumePoint {
            last_batch: 2,
            bets_stored: 7,
            finished: false,
            rows_crc: None
        }
    );
}

#[test]
fn acknowledging_a_later_batch_acknowledges_the_earlier_ones() {
    let mut lottery = Lottery::new(rules(1));
    let SubmitStep::Write(first) = lottery.begin_submit(agency(1), 1, 2, Vec::new()).unwrap()
    else {
        panic!()
    };
    let first = write(&mut lottery, first);
    let SubmitStep::Write(second) = lottery.begin_submit(agency(1), 2, 3, Vec::new()).unwrap()
    else {
        panic!()
    };
    let second = write(&mut lottery, second);
    lottery.acknowledge(second);
    assert_eq!(lottery.resume_point(agency(1)).unwrap().bets_stored, 5);
    // The earlier pending handle settles without counting twice.
    assert_eq!(
        lottery.acknowledge(first),
        Submitted::Stored { batch: 1, bets: 2 }
    );
    assert_eq!(
        counts(lottery.resume_point(agency(1)).unwrap()),
        ResumePoint {
            last_batch: 2,
            bets_stored: 5,
            finished: false,
            rows_crc: None
        }
    );
}

#[test]
fn a_batch_that_was_not_written_frees_its_number() {
    let mut lottery = Lottery::new(rules(1));
    let SubmitStep::Write(begun) = lottery.begin_submit(agency(1), 1, 2, Vec::new()).unwrap()
    else {
        panic!()
    };
    lottery.not_written(begun);
    assert_eq!(
        counts(lottery.resume_point(agency(1)).unwrap()),
        ResumePoint::default()
    );
    assert_eq!(
        store(&mut lottery, 1, 1, 4),
        Submitted::Stored { batch: 1, bets: 4 }
    );
}

#[test]
fn a_batch_never_acknowledged_stays_pending() {
    let mut lottery = Lottery::new(rules(1));
    let SubmitStep::Write(begun) = lottery.begin_submit(agency(1), 1, 2, Vec::new()).unwrap()
    else {
        panic!()
    };
    drop(write(&mut lottery, begun));
    assert!(matches!(
        lottery.begin_submit(agency(1), 1, 2, Vec::new()),
        Err(SubmitError::BatchPending { batch: 1, .. })
    ));
    assert!(matches!(
        lottery.begin_finish(agency(1), 0),
        Err(FinishError::BatchesPending { batches: 1, .. })
    ));
}

#[test]
fn a_failed_commit_forgets_the_batch_and_every_later_one() {
    let mut lottery = Lottery::new(rules(1));
    store(&mut lottery, 1, 1, 1);
    let mut acks = Vec::new();
    for batch in 2..=4 {
        let SubmitStep::Write(begun) = lottery
            .begin_submit(agency(1), batch, 10, Vec::new())
            .unwrap()
        else {
            panic!()
        };
        acks.push(write(&mut lottery, begun));
    }
    let [two, three, four] = <[PendingBatchAck; 3]>::try_from(acks).unwrap();
    assert_eq!(
        lottery.acknowledge(two),
        Submitted::Stored { batch: 2, bets: 10 }
    );
    lottery.not_durable(three);
    // Batch 3 is the next one again; the stale pending handle of batch 4 changes
    // nothing, not even a batch 4 taken again later.
    let SubmitStep::Write(again) = lottery.begin_submit(agency(1), 3, 5, Vec::new()).unwrap()
    else {
        panic!("batch 3 is next again")
    };
    let again = write(&mut lottery, again);
    let SubmitStep::Write(four_again) = lottery.begin_submit(agency(1), 4, 7, Vec::new()).unwrap()
    else {
        panic!("batch 4 follows")
    };
    let four_again = write(&mut lottery, four_again);
    lottery.not_durable(four);
    assert!(matches!(
        lottery.begin_finish(agency(1), 23),
        Err(FinishError::BatchesPending { batches: 2, .. })
    ));
    lottery.acknowledge(again);
    lottery.acknowledge(four_again);
    assert_eq!(
        counts(lottery.resume_point(agency(1)).unwrap()),
        ResumePoint {
            last_batch: 4,
            bets_stored: 23,
            finished: false,
            rows_crc: None
        }
    );
}

#[test]
fn finishing_checks_the_count_and_is_idempotent() {
    let mut lottery = Lottery::new(rules(2));
    store(&mut lottery, 1, 1, 3);
    assert!(matches!(
        lottery.begin_finish(agency(1), 2),
        Err(FinishError::CountMismatch {
            sent: 2,
            stored: 3,
            ..
        })
    ));
    assert_eq!(
        finish(&mut lottery, 1, 3).unwrap(),
        Settled::Answer(Finish::Waiting { remaining: 1 })
    );
    assert_eq!(
        finish(&mut lottery, 1, 3).unwrap(),
        Settled::Answer(Finish::Waiting { remaining: 1 })
    );
    assert!(matches!(
        lottery.begin_finish(agency(1), 4),
        Err(FinishError::CountMismatch { .. })
    ));
    assert!(lottery.resume_point(agency(1)).unwrap().finished);
}

#[test]
fn a_finished_agency_takes_no_more_batches_but_acks_old_ones() {
    let mut lottery = Lottery::new(rules(2));
    store(&mut lottery, 1, 1, 3);
    finish(&mut lottery, 1, 3).unwrap();
    assert!(matches!(
        lottery.begin_submit(agency(1), 2, 1, Vec::new()),
        Err(SubmitError::AgencyFinished { .. })
    ));
    assert!(matches!(
        lottery.begin_submit(agency(1), 1, 3, Vec::new()),
        Ok(SubmitStep::AlreadyStored { .. })
    ));
}

#[test]
fn an_agency_being_finished_takes_no_batch_and_reopens_if_the_record_fails() {
    let mut lottery = Lottery::new(rules(1));
    let FinishStep::Record(begun) = lottery.begin_finish(agency(1), 0).unwrap() else {
        panic!()
    };
    assert!(matches!(
        lottery.begin_submit(agency(1), 1, 1, Vec::new()),
        Err(SubmitError::AgencyBusy { .. })
    ));
    assert_eq!(begun.bets(), 0);
    lottery.finish_not_recorded(begun);
    assert!(!lottery.resume_point(agency(1)).unwrap().finished);
    assert_eq!(
        store(&mut lottery, 1, 1, 1),
        Submitted::Stored { batch: 1, bets: 1 }
    );
}

#[test]
fn draw_happens_once_when_the_last_agency_finishes() {
    let rules = rules(3);
    let mut lottery = Lottery::new(rules);
    assert!(matches!(
        finish(&mut lottery, 1, 0),
        Ok(Settled::Answer(Finish::Waiting { remaining: 2 }))
    ));
    assert!(matches!(
        finish(&mut lottery, 3, 0),
        Ok(Settled::Answer(Finish::Waiting { remaining: 1 }))
    ));
    let Ok(Settled::Draw(right)) = finish(&mut lottery, 2, 0) else {
        panic!("the last finish draws")
    };
    // While the draw runs: no winners, no second draw, no bets.
    assert_eq!(lottery.winners(agency(1)).unwrap(), Winners::NotDrawn);
    assert!(lottery.begin_draw().is_none());
    assert_eq!(
        finish(&mut lottery, 1, 0).unwrap(),
        Settled::Answer(Finish::Waiting { remaining: 0 })
    );
    assert!(matches!(
        lottery.begin_submit(agency(2), 1, 1, Vec::new()),
        Err(SubmitError::AlreadyDrawn)
    ));
    let summary = lottery.draw_done(right, DrawTally::new(rules).finish());
    assert_eq!(summary.winners_per_agency, [0, 0, 0]);
    assert_eq!(lottery.draw().map(Draw::summary), Some(&summary));
    assert_eq!(
        finish(&mut lottery, 2, 0).unwrap(),
        Settled::Answer(Finish::AlreadyDrawn)
    );
    assert!(lottery.begin_draw().is_none());
}

#[test]
fn a_failed_draw_is_retried_by_a_repeated_finish() {
    let rules = rules(1);
    let mut lottery = Lottery::new(rules);
    let Ok(Settled::Draw(right)) = finish(&mut lottery, 1, 0) else {
        panic!()
    };
    lottery.draw_failed(right);
    assert!(!lottery.is_drawn());
    let Ok(Settled::Draw(right)) = finish(&mut lottery, 1, 0) else {
        panic!("the repeated finish retries the draw")
    };
    lottery.draw_done(right, DrawTally::new(rules).finish());
    assert!(lottery.is_drawn());
}

#[test]
fn winners_are_each_agencys_own_documents_in_stored_order() {
    let rules = rules(3);
    let mut tally = DrawTally::new(rules);
    for bet in [
        stored(2, "20", "7574"),
        stored(1, "10", "7574"),
        stored(2, "21", "1"),
        stored(2, "22", "7574"),
        stored(9, "90", "7574"),
    ] {
        tally.add(bet);
    }
    let mut lottery = Lottery::new(rules);
    for id in 1..=2 {
        finish(&mut lottery, id, 0).unwrap();
    }
    let Ok(Settled::Draw(right)) = finish(&mut lottery, 3, 0) else {
        panic!()
    };
    let summary = lottery.draw_done(right, tally.finish());
    assert_eq!(summary.bets, 5);
    assert_eq!(summary.winners_per_agency, [1, 2, 0]);
    assert_eq!(documents(&lottery.winners(agency(1)).unwrap()), ["10"]);
    assert_eq!(
        documents(&lottery.winners(agency(2)).unwrap()),
        ["20", "22"]
    );
    assert!(documents(&lottery.winners(agency(3)).unwrap()).is_empty());
}

#[test]
fn recovery_resumes_batches_counts_and_finishes() {
    let mut recovery = Recovery::default();
    recovery.agencies.insert(
        agency(1),
        AgencyRecord {
            bets: 10,
            last_batch: 4,
            finished: true,
        },
    );
    recovery.agencies.insert(
        agency(2),
        AgencyRecord {
            bets: 3,
            last_batch: 1,
            finished: false,
        },
    );
    let mut lottery = Lottery::recover(rules(2), &recovery, DrawTally::new(rules(2))).unwrap();
    assert_eq!(
        counts(lottery.resume_point(agency(1)).unwrap()),
        ResumePoint {
            last_batch: 4,
            bets_stored: 10,
            finished: true,
            rows_crc: None
        }
    );
    assert!(lottery.begin_draw().is_none());
    assert!(matches!(
        lottery.begin_submit(agency(2), 1, 3, Vec::new()),
        Ok(SubmitStep::AlreadyStored { .. })
    ));
    assert!(matches!(
        lottery.begin_submit(agency(2), 2, 3, Vec::new()),
        Ok(SubmitStep::Write(_))
    ));
}

#[test]
fn recovery_of_a_finished_lottery_makes_the_draw_due() {
    let mut recovery = Recovery::default();
    for id in 1..=2 {
        recovery.agencies.insert(
            agency(id),
            AgencyRecord {
                bets: 0,
                last_batch: 0,
                finished: true,
            },
        );
    }
    let mut lottery = Lottery::recover(rules(2), &recovery, DrawTally::new(rules(2))).unwrap();
    assert!(!lottery.is_drawn());
    let right = lottery.begin_draw().expect("the draw is due");
    assert!(lottery.begin_draw().is_none());
    lottery.draw_done(right, DrawTally::new(rules(2)).finish());
    assert!(lottery.is_drawn());
}

#[test]
fn recovery_refuses_a_store_with_unexpected_agencies() {
    let mut recovery = Recovery::default();
    recovery.agencies.insert(agency(3), AgencyRecord::default());
    assert!(matches!(
        Lottery::recover(rules(2), &recovery, DrawTally::new(rules(2))),
        Err(RecoveryError::UnknownAgency(UnknownAgency {
            expected: 2,
            ..
        }))
    ));
}

#[test]
fn a_batch_and_a_finish_in_two_steps_each_lead_to_the_draw() {
    let rules = rules(1);
    let mut lottery = Lottery::new(rules);
    // Batch 1, two bets: reserve, write (elsewhere), acknowledge once durable.
    let SubmitStep::Write(begun) = lottery.begin_submit(agency(1), 1, 2, Vec::new()).unwrap()
    else {
        panic!("batch 1 is new")
    };
    let ack = write(&mut lottery, begun);
    assert_eq!(
        lottery.acknowledge(ack),
        Submitted::Stored { batch: 1, bets: 2 }
    );
    // Finish with the right count: record (elsewhere), then draw.
    let FinishStep::Record(begun) = lottery.begin_finish(agency(1), 2).unwrap() else {
        panic!("a first finish is recorded")
    };
    let Settled::Draw(right) = lottery.finish_recorded(begun) else {
        panic!("the last finish draws")
    };
    let summary = lottery.draw_done(right, DrawTally::new(rules).finish());
    assert_eq!(summary.winners_per_agency, [0]);
    assert!(lottery.is_drawn());
}

#[test]
fn books_exist_only_for_agencies_that_took_part() {
    let mut lottery = Lottery::new(rules(crate::lottery::rules::MAX_AGENCIES));
    assert!(lottery.agencies.is_empty());
    // Asking where an agency stands, or refusing it, adds nothing.
    assert_eq!(
        counts(lottery.resume_point(agency(999_999)).unwrap()),
        ResumePoint::default()
    );
    assert!(
        lottery
            .begin_submit(agency(999_999), 2, 1, Vec::new())
            .is_err()
    );
    assert!(lottery.begin_finish(agency(7), 3).is_err());
    assert!(lottery.winners(agency(7)).is_ok());
    assert!(
        lottery
            .begin_submit(agency(1_000_001), 1, 1, Vec::new())
            .is_err()
    );
    assert!(lottery.agencies.is_empty());
    // A batch, or a finish, does.
    store(&mut lottery, 999_999, 1, 2);
    finish(&mut lottery, 7, 0).unwrap();
    assert_eq!(
        lottery.agencies.keys().copied().collect::<Vec<_>>(),
        [agency(7), agency(999_999)]
    );
    assert_eq!(
        lottery.resume_point(agency(999_999)).unwrap(),
        ResumePoint {
            last_batch: 1,
            bets_stored: 2,
            finished: false,
            // One batch: the CRC32C of all rows is the batch's.
            rows_crc: Some(digest(1, 2).rows_crc())
        }
    );
    assert_eq!(lottery.remaining(), crate::lottery::rules::MAX_AGENCIES - 1);
}

#[test]
fn the_tally_keeps_only_agencies_with_winners_and_answers_every_expected_one() {
    let mut tally = DrawTally::new(rules(crate::lottery::rules::MAX_AGENCIES));
    tally.add(stored(999_999, "1", "7574"));
    tally.add(stored(3, "2", "12"));
    let draw = tally.finish();
    assert_eq!(draw.summary().bets, 2);
    assert_eq!(draw.summary().winners_per_agency.len(), 1_000_000);
    assert_eq!(draw.summary().winners_per_agency[999_998], 1);
    assert_eq!(draw.summary().winners_per_agency.iter().sum::<u64>(), 1);
    let winners = |id| draw.winners(agency(id)).map(|d| d.len());
    assert_eq!(winners(999_999), Some(1));
    assert_eq!(winners(3), Some(0));
    assert_eq!(winners(1_000_000), Some(0));
    assert_eq!(winners(1_000_001), None);
}

fn docs(documents: &[&str]) -> Vec<Document> {
    documents
        .iter()
        .map(|d| Document::new(d).unwrap())
        .collect()
}

#[test]
fn the_running_tally_takes_each_acknowledged_batch_once_in_number_order() {
    let rules = rules(2);
    let mut lottery = Lottery::new(rules);
    let take = |lottery: &mut Lottery, id: u32, batch: u64, winners: &[&str]| {
        let SubmitStep::Write(begun) = lottery
            .begin_submit(agency(id), batch, 4, docs(winners))
            .unwrap()
        else {
            panic!("a new batch")
        };
        write(lottery, begun)
    };
    let first = take(&mut lottery, 1, 1, &["1"]);
    let second = take(&mut lottery, 1, 2, &["2", "3"]);
    // Acknowledging batch 2 counts batch 1 before it; batch 1's own pending handle
    // then adds nothing.
    lottery.acknowledge(second);
    lottery.acknowledge(first);
    // A batch whose commit failed adds nothing, and its number is taken again
    // with other bets.
    let lost = take(&mut lottery, 1, 3, &["999"]);
    lottery.not_durable(lost);
    let third = take(&mut lottery, 1, 3, &["4"]);
    lottery.acknowledge(third);
    // A batch that could not be written adds nothing.
    let SubmitStep::Write(unwritten) = lottery
        .begin_submit(agency(2), 1, 4, docs(&["999"]))
        .unwrap()
    else {
        panic!("a new batch")
    };
    lottery.not_written(unwritten);
    let draw = lottery.tallied_draw();
    assert_eq!(draw.summary().bets, 12);
    assert_eq!(draw.summary().winners_per_agency, [4, 0]);
    let first: Vec<_> = draw
        .winners(agency(1))
        .unwrap()
        .iter()
        .map(|d| d.to_string())
        .collect();
    assert_eq!(first, ["1", "2", "3", "4"]);
}

#[test]
fn a_recovered_lottery_continues_the_recovered_tally() {
    let rules = rules(1);
    let mut tally = DrawTally::new(rules);
    tally.add(stored(1, "10", "7574"));
    tally.add(stored(1, "11", "1"));
    let recovery = Recovery {
        agencies: [(
            agency(1),
            AgencyRecord {
                bets: 2,
                last_batch: 1,
                finished: false,
            },
        )]
        .into(),
        ..Recovery::default()
    };
    let mut lottery = Lottery::recover(rules, &recovery, tally).unwrap();
    let SubmitStep::Write(begun) = lottery
        .begin_submit(agency(1), 2, 1, docs(&["12"]))
        .unwrap()
    else {
        panic!("a new batch")
    };
    let ack = write(&mut lottery, begun);
    lottery.acknowledge(ack);
    let Settled::Draw(right) = finish(&mut lottery, 1, 3).unwrap() else {
        panic!("the last finish draws")
    };
    let draw = lottery.tallied_draw();
    lottery.draw_done(right, draw);
    assert_eq!(lottery.draw().unwrap().summary().bets, 3);
    assert_eq!(
        documents(&lottery.winners(agency(1)).unwrap()),
        ["10", "12"]
    );
}

#[test]
fn a_resend_carries_the_digest_of_the_stored_batch_and_the_handshake_their_rows_crc() {
    let mut lottery = Lottery::new(rules(1));
    store(&mut lottery, 1, 1, 3);
    store(&mut lottery, 1, 2, 4);
    for (batch, bets) in [(1, 3), (2, 4)] {
        assert_eq!(
            lottery
                .begin_submit(agency(1), batch, 9, Vec::new())
                .unwrap(),
            SubmitStep::AlreadyStored {
                batch,
                stored: Some(digest(batch, bets))
            }
        );
    }
    let mut crc = super::rows_crc::RowsCrc::new();
    let expected = crc.fold(&[digest(1, 3), digest(2, 4)]);
    assert_eq!(
        lottery.resume_point(agency(1)).unwrap().rows_crc,
        Some(expected)
    );
    lottery.fold_rows_crc(agency(1));
    assert_eq!(
        lottery.resume_point(agency(1)).unwrap().rows_crc,
        Some(expected)
    );
}

#[test]
fn rows_adopted_without_batches_leave_the_rows_crc_unknown() {
    let recovery = Recovery {
        agencies: [(
            agency(1),
            AgencyRecord {
                bets: 5,
                last_batch: 0,
                finished: false,
            },
        )]
        .into(),
        ..Recovery::default()
    };
    let lottery = Lottery::recover(rules(1), &recovery, DrawTally::new(rules(1))).unwrap();
    assert_eq!(lottery.resume_point(agency(1)).unwrap().rows_crc, None);
}
