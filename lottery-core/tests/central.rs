//! The central in scenarios the generated model does not reach: pipelined
//! batches, store failures between the steps of a submit, restarts, threads
//! waiting for the draw, and the course's real data set over a real file.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use lottery_bet::{AgencyFile, AgencyId, Bet, ResumePoint, StoredBet, encode_store_rows};
use lottery_core::{
    BetMonitor, Central, Durability, Finish, FinishError, LotteryRules, MAX_AGENCIES,
    RecoveryError, SubmitError, Submitted, UnknownAgency, Winners,
    store::{MemoryHandle, MemoryStore},
};

fn id(agency: u32) -> AgencyId {
    AgencyId::new(agency).unwrap()
}

fn bet(document: &str, number: &str) -> Bet {
    Bet::from_fields("Ana", "Paz", document, "1990-02-03", number).unwrap()
}

/// The CRC32C of the store rows of `batches`, one after another: what a
/// handshake tells the agency about its stored rows.
fn rows_crc(agency: AgencyId, batches: &[&[Bet]]) -> u32 {
    let mut rows = Vec::new();
    for batch in batches {
        encode_store_rows(agency, *batch, &mut rows);
    }
    crc32c::crc32c(&rows)
}

fn rules(agencies: u32) -> LotteryRules {
    LotteryRules {
        agencies,
        ..LotteryRules::default()
    }
}

fn open(handle: &MemoryHandle, agencies: u32, durability: Durability) -> Central {
    let (monitor, recovery) = BetMonitor::open(Box::new(handle.store()), durability).unwrap();
    Central::new(rules(agencies), monitor, &recovery).unwrap()
}

fn memory(agencies: u32, durability: Durability) -> (Central, MemoryHandle) {
    let handle = MemoryStore::new().handle();
    (open(&handle, agencies, durability), handle)
}

fn documents(winners: Winners) -> Vec<String> {
    match winners {
        Winners::Drawn(documents) => documents.iter().map(ToString::to_string).collect(),
        other => panic!("not drawn: {other:?}"),
    }
}

/// Every stored bet, in stored order.
fn stored(central: &Central) -> Vec<StoredBet> {
    let mut bets = Vec::new();
    central.scan(&mut |bet| bets.push(bet)).unwrap();
    bets
}

#[test]
fn a_resent_pending_batch_is_refused_until_it_is_acknowledged() {
    let (central, _) = memory(2, Durability::Fsync);
    let pending = central.begin_submit(id(1), 1, &[bet("1", "7574")]).unwrap();
    assert_eq!((pending.agency(), pending.batch()), (id(1), 1));
    assert!(matches!(
        central.begin_submit(id(1), 1, &[bet("1", "7574")]),
        Err(SubmitError::BatchPending { batch: 1, .. })
    ));
    assert!(matches!(
        central.finish(id(1), 1),
        Err(FinishError::BatchesPending { batches: 1, .. })
    ));
    assert_eq!(central.resume_point(id(1)).unwrap(), ResumePoint::default());
    assert_eq!(
        central.complete_submit(pending).unwrap(),
        Submitted::Stored { batch: 1, bets: 1 }
    );
    assert_eq!(
        central.submit(id(1), 1, &[bet("1", "7574")]).unwrap(),
        Submitted::AlreadyStored { batch: 1 }
    );
    assert_eq!(stored(&central).len(), 1);
}

#[test]
fn an_empty_batch_is_refused_and_its_number_stays_free() {
    let (central, handle) = memory(2, Durability::Fsync);
    let error = central.begin_submit(id(1), 1, &[]).unwrap_err();
    assert!(
        matches!(error, SubmitError::EmptyBatch { agency, batch: 1 } if agency == id(1)),
        "{error:?}"
    );
    assert!(!error.is_retryable());
    assert_eq!(
        error.to_string(),
        "agency 1 sent batch 1 with no bets; a batch holds at least one bet"
    );
    assert_eq!(central.resume_point(id(1)).unwrap(), ResumePoint::default());
    assert!(handle.bytes().is_empty(), "nothing written");
    // Batch 1 is still the next one, and nothing is pending: it is stored now.
    assert_eq!(
        central.submit(id(1), 1, &[bet("1", "7574")]).unwrap(),
        Submitted::Stored { batch: 1, bets: 1 }
    );
    // An empty resend of a stored batch, or an empty next batch, is refused too.
    for batch in [1, 2] {
        assert!(matches!(
            central.submit(id(1), batch, &[]),
            Err(SubmitError::EmptyBatch { .. })
        ));
    }
    assert_eq!(
        central.submit(id(1), 2, &[bet("2", "1")]).unwrap(),
        Submitted::Stored { batch: 2, bets: 1 }
    );
    // An unknown agency is told so first.
    assert!(matches!(
        central.submit(id(3), 1, &[]),
        Err(SubmitError::UnknownAgency(_))
    ));
    assert_eq!(
        central.finish(id(1), 2).unwrap(),
        Finish::Waiting { remaining: 1 }
    );
}

#[test]
fn finishes_begun_together_share_one_commit_and_the_last_one_draws() {
    let (central, handle) = memory(3, Durability::Fsync);
    central.submit(id(2), 1, &[bet("21", "7574")]).unwrap();
    let syncs = handle.syncs();
    let first = central.begin_finish(id(1), 0).unwrap();
    let second = central.begin_finish(id(2), 1).unwrap();
    // Finishing: the agency takes no batch and no second finish meanwhile.
    assert!(matches!(
        central.begin_submit(id(1), 1, &[bet("11", "1")]),
        Err(SubmitError::AgencyBusy { .. })
    ));
    assert!(matches!(
        central.begin_finish(id(1), 0),
        Err(FinishError::AgencyBusy { .. })
    ));
    assert!(!central.resume_point(id(1)).unwrap().finished);
    assert_eq!(
        central.complete_finish(first).unwrap(),
        Finish::Waiting { remaining: 2 }
    );
    let after_first = handle.syncs();
    assert_eq!(
        central.complete_finish(second).unwrap(),
        Finish::Waiting { remaining: 1 }
    );
    assert_eq!(handle.syncs(), after_first, "the first commit covered both");
    assert!(after_first > syncs);
    let Finish::Drew(summary) = central
        .complete_finish(central.begin_finish(id(3), 0).unwrap())
        .unwrap()
    else {
        panic!("the last finish draws");
    };
    assert_eq!(summary.winners_per_agency, [0, 1, 0]);
    assert_eq!(documents(central.winners(id(2)).unwrap()), ["21"]);
}

#[test]
fn pipelined_batches_share_one_commit_and_are_acknowledged_in_order() {
    let (central, handle) = memory(2, Durability::Fsync);
    let syncs = handle.syncs();
    let pending: Vec<_> = [(1, 1), (2, 1), (1, 2), (1, 3), (2, 2)]
        .into_iter()
        .map(|(agency, batch)| {
            central
                .begin_submit(id(agency), batch, &[bet(&format!("{agency}{batch}"), "1")])
                .unwrap()
        })
        .collect();
    for pending in pending {
        let batch = pending.batch();
        assert_eq!(
            central.complete_submit(pending).unwrap(),
            Submitted::Stored { batch, bets: 1 }
        );
    }
    // One group commit: the data and the journal synced once each.
    assert_eq!(handle.syncs() - syncs, 2);
    assert_eq!(central.resume_point(id(1)).unwrap().last_batch, 3);
    assert_eq!(central.resume_point(id(2)).unwrap().bets_stored, 2);
}

#[test]
fn a_failed_write_stores_nothing_and_the_batch_can_be_sent_again() {
    let (central, handle) = memory(1, Durability::Fsync);
    handle.fail_next_appends(1);
    let error = central.submit(id(1), 1, &[bet("1", "7574")]).unwrap_err();
    assert!(matches!(error, SubmitError::Store(_)));
    assert!(error.is_retryable());
    assert_eq!(central.resume_point(id(1)).unwrap(), ResumePoint::default());
    assert!(handle.bytes().is_empty());
    assert_eq!(
        central.submit(id(1), 1, &[bet("1", "7574")]).unwrap(),
        Submitted::Stored { batch: 1, bets: 1 }
    );
}

#[test]
fn a_failed_commit_forgets_every_batch_it_cut_and_they_can_be_sent_again() {
    let (central, handle) = memory(2, Durability::Fsync);
    central.submit(id(1), 1, &[bet("10", "7574")]).unwrap();
    let pending: Vec<_> = [(1, 2), (1, 3), (2, 1)]
        .into_iter()
        .map(|(agency, batch)| {
            central
                .begin_submit(id(agency), batch, &[bet(&format!("{agency}{batch}"), "1")])
                .unwrap()
        })
        .collect();
    handle.fail_next_syncs(1);
    for pending in pending {
        assert!(matches!(
            central.complete_submit(pending),
            Err(SubmitError::Store(_))
        ));
    }
    assert_eq!(
        central.resume_point(id(1)).unwrap(),
        ResumePoint {
            last_batch: 1,
            bets_stored: 1,
            finished: false,
            rows_crc: Some(rows_crc(id(1), &[&[bet("10", "7574")]])),
        }
    );
    assert_eq!(central.resume_point(id(2)).unwrap(), ResumePoint::default());
    assert_eq!(stored(&central).len(), 1);
    // The agencies resume where the central says, and nothing is doubled.
    for (agency, batch) in [(1, 2), (1, 3), (2, 1)] {
        central
            .submit(id(agency), batch, &[bet(&format!("{agency}{batch}"), "1")])
            .unwrap();
    }
    let documents: Vec<_> = stored(&central)
        .into_iter()
        .map(|s| s.bet.document.to_string())
        .collect();
    assert_eq!(documents, ["10", "12", "13", "21"]);
}

/// One event loop begins agency 1's batch 1; another loop's commit fails and
/// cuts it; then the first loop begins agency 1's batch 2 (read in the same
/// poll iteration) before learning of the failure. Batch 2 must not end up
/// stored without batch 1, or the agency's numbering has a hole that resume
/// and recovery cannot see.
#[test]
fn a_batch_begun_after_a_failed_commit_cut_its_predecessor_is_not_stored() {
    let (central, handle) = memory(2, Durability::Fsync);
    let first = central.begin_submit(id(1), 1, &[bet("11", "1")]).unwrap();
    let other = central.begin_submit(id(2), 1, &[bet("21", "1")]).unwrap();
    handle.fail_next_syncs(1);
    assert!(central.complete_submit(other).is_err());
    let second = central.begin_submit(id(1), 2, &[bet("12", "1")]);
    assert!(central.complete_submit(first).is_err());
    if let Ok(second) = second {
        assert!(central.complete_submit(second).is_err());
    }
    assert_eq!(central.resume_point(id(1)).unwrap(), ResumePoint::default());
    assert!(
        stored(&central).is_empty(),
        "batch 2 stored without batch 1"
    );
}

#[test]
fn a_failed_finish_record_leaves_the_agency_open() {
    let (central, handle) = memory(2, Durability::None);
    handle.fail_next_journal_appends(1);
    assert!(matches!(
        central.finish(id(1), 0),
        Err(FinishError::Store(_))
    ));
    assert!(!central.resume_point(id(1)).unwrap().finished);
    assert_eq!(
        central.submit(id(1), 1, &[bet("1", "1")]).unwrap(),
        Submitted::Stored { batch: 1, bets: 1 }
    );
    assert_eq!(
        central.finish(id(1), 1).unwrap(),
        Finish::Waiting { remaining: 1 }
    );
}

#[test]
fn a_restart_resumes_every_agency_and_performs_the_same_draw() {
    let handle = MemoryStore::new().handle();
    let central = open(&handle, 2, Durability::Fsync);
    central
        .submit(id(1), 1, &[bet("11", "7574"), bet("12", "5")])
        .unwrap();
    central.submit(id(2), 1, &[bet("21", "7574")]).unwrap();
    central.submit(id(1), 2, &[bet("13", "7574")]).unwrap();
    central.finish(id(2), 1).unwrap();
    drop(central);
    handle.crash();

    let central = open(&handle, 2, Durability::Fsync);
    assert_eq!(
        central.resume_point(id(1)).unwrap(),
        ResumePoint {
            last_batch: 2,
            bets_stored: 3,
            finished: false,
            // Recovered from the journal's checked rows.
            rows_crc: Some(rows_crc(
                id(1),
                &[&[bet("11", "7574"), bet("12", "5")], &[bet("13", "7574")]]
            )),
        }
    );
    assert!(central.resume_point(id(2)).unwrap().finished);
    assert_eq!(
        central.submit(id(1), 2, &[bet("13", "7574")]).unwrap(),
        Submitted::AlreadyStored { batch: 2 }
    );
    let Finish::Drew(summary) = central.finish(id(1), 3).unwrap() else {
        panic!("the last finish draws")
    };
    assert_eq!(summary.winners_per_agency, [2, 1]);
    drop(central);
    handle.crash();

    let central = open(&handle, 2, Durability::Fsync);
    assert!(central.is_drawn());
    assert_eq!(central.draw_summary(), Some(summary));
    assert_eq!(documents(central.winners(id(1)).unwrap()), ["11", "13"]);
    assert_eq!(documents(central.winners(id(2)).unwrap()), ["21"]);
    assert_eq!(central.finish(id(1), 3).unwrap(), Finish::AlreadyDrawn);
    let told = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&told);
    central.on_draw(Box::new(move || {
        counter.fetch_add(1, Ordering::SeqCst);
    }));
    assert_eq!(
        told.load(Ordering::SeqCst),
        1,
        "told at once after the draw"
    );
}

#[test]
fn a_store_with_more_agencies_than_expected_is_refused() {
    // A store a central made records its rules: other rules are refused.
    let handle = MemoryStore::new().handle();
    open(&handle, 3, Durability::None)
        .submit(id(3), 1, &[bet("1", "1")])
        .unwrap();
    let (monitor, recovery) = BetMonitor::open(Box::new(handle.store()), Durability::None).unwrap();
    assert!(matches!(
        Central::new(rules(2), monitor, &recovery),
        Err(RecoveryError::RulesMismatch { stored, configured })
            if stored == rules(3) && configured == rules(2)
    ));
    // A store without rules (written by a bare monitor) holding bets of an
    // agency the rules do not expect is refused too.
    let bare = MemoryStore::new().handle();
    let (monitor, _) = BetMonitor::open(Box::new(bare.store()), Durability::None).unwrap();
    monitor.append(id(3), 1, &[bet("1", "1")]).unwrap();
    drop(monitor);
    let (monitor, recovery) = BetMonitor::open(Box::new(bare.store()), Durability::None).unwrap();
    assert!(matches!(
        Central::new(rules(2), monitor, &recovery),
        Err(RecoveryError::UnknownAgency(UnknownAgency {
            expected: 2,
            ..
        }))
    ));
}

#[test]
fn rules_without_agencies_or_above_the_maximum_are_refused_before_the_store_is_touched() {
    let handle = MemoryStore::new().handle();
    for agencies in [0, MAX_AGENCIES + 1, u32::MAX] {
        let (monitor, recovery) =
            BetMonitor::open(Box::new(handle.store()), Durability::Fsync).unwrap();
        let error = Central::new(rules(agencies), monitor, &recovery).unwrap_err();
        assert!(
            matches!(error, RecoveryError::AgenciesOutOfRange { agencies: refused } if refused == agencies),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            format!("the rules expect {agencies} agencies; a central expects 1 to 1000000")
        );
    }
    // No rules were recorded: the store is still new.
    let (_, recovery) = BetMonitor::open(Box::new(handle.store()), Durability::Fsync).unwrap();
    assert_eq!(recovery.rules, None);
}

#[test]
fn a_central_expecting_the_maximum_serves_its_last_agencies() {
    let (central, _) = memory(MAX_AGENCIES, Durability::Fsync);
    for agency in [1, 64, 65, 999_999, MAX_AGENCIES] {
        assert_eq!(
            central.submit(id(agency), 1, &[bet("1", "7574")]).unwrap(),
            Submitted::Stored { batch: 1, bets: 1 },
            "agency {agency}"
        );
        assert_eq!(central.resume_point(id(agency)).unwrap().bets_stored, 1);
    }
    assert_eq!(
        central.finish(id(999_999), 1).unwrap(),
        Finish::Waiting {
            remaining: MAX_AGENCIES - 1
        }
    );
    let beyond = id(MAX_AGENCIES + 1);
    assert!(matches!(
        central.submit(beyond, 1, &[bet("1", "1")]),
        Err(SubmitError::UnknownAgency(_))
    ));
    assert!(matches!(
        central.finish(beyond, 0),
        Err(FinishError::UnknownAgency(_))
    ));
    assert!(central.resume_point(beyond).is_err());
    assert_eq!(stored(&central).len(), 5);
}

#[test]
fn threads_waiting_for_the_draw_and_listeners_learn_it_once() {
    let (central, _) = memory(2, Durability::Fsync);
    let told = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&told);
    let listener_view = central.clone();
    central.on_draw(Box::new(move || {
        // The winners are published before any listener is told.
        assert!(listener_view.is_drawn());
        counter.fetch_add(1, Ordering::SeqCst);
    }));
    let waiters: Vec<_> = (0..3)
        .map(|_| {
            let central = central.clone();
            std::thread::spawn(move || {
                central.wait_for_draw();
                documents(central.winners(id(1)).unwrap())
            })
        })
        .collect();
    central.submit(id(1), 1, &[bet("7", "7574")]).unwrap();
    let finishers: Vec<_> = [(1, 1), (2, 0)]
        .into_iter()
        .map(|(agency, bets)| {
            let central = central.clone();
            std::thread::spawn(move || central.finish(id(agency), bets).unwrap())
        })
        .collect();
    let draws = finishers
        .into_iter()
        .map(|f| f.join().unwrap())
        .filter(|f| matches!(f, Finish::Drew(_)))
        .count();
    assert_eq!(draws, 1);
    for waiter in waiters {
        assert_eq!(waiter.join().unwrap(), ["7"]);
    }
    assert_eq!(told.load(Ordering::SeqCst), 1);
}

/// A fresh directory under the system's temporary directory, removed on drop.
fn temp_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("lottery-central-{name}-"))
        .tempdir()
        .expect("create a temporary directory")
}

/// The course's data set, beside the workspace, when present.
fn course_data() -> Option<PathBuf> {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data");
    data.join("agency-1.csv").is_file().then_some(data)
}

#[test]
fn the_course_data_set_draws_the_known_winners_also_after_a_restart() {
    let Some(data) = course_data() else {
        eprintln!("skipped: the course data set (../shared/data beside the workspace) is absent");
        return;
    };
    let dir = temp_dir("course");
    let path = dir.path().join("bets.csv");
    let (monitor, recovery) = BetMonitor::open_file(&path, Durability::Flush).unwrap();
    let central = Central::new(LotteryRules::default(), monitor, &recovery).unwrap();
    let agencies: Vec<_> = (1..=5u32)
        .map(|agency| {
            let central = central.clone();
            let file = data.join(format!("agency-{agency}.csv"));
            std::thread::spawn(move || {
                let bets: Vec<Bet> = AgencyFile::open(file)
                    .unwrap()
                    .map(Result::unwrap)
                    .collect();
                for (batch, chunk) in (1..).zip(bets.chunks(150)) {
                    central.submit(id(agency), batch, chunk).unwrap();
                }
                central.finish(id(agency), bets.len() as u64).unwrap();
                central.wait_for_draw();
                bets.len() as u64
            })
        })
        .collect();
    let total: u64 = agencies.into_iter().map(|a| a.join().unwrap()).sum();
    assert_eq!(total, 78_697);
    let summary = central.draw_summary().unwrap();
    assert_eq!(summary.bets, 78_697);
    assert_eq!(summary.winners_per_agency, [2, 3, 3, 2, 0]);
    let before: Vec<_> = (1..=5)
        .map(|agency| documents(central.winners(id(agency)).unwrap()))
        .collect();
    drop(central);

    let (monitor, recovery) = BetMonitor::open_file(&path, Durability::Flush).unwrap();
    let central = Central::new(LotteryRules::default(), monitor, &recovery).unwrap();
    assert_eq!(central.draw_summary(), Some(summary));
    for (agency, documents_before) in (1..=5).zip(before) {
        assert_eq!(
            documents(central.winners(id(agency)).unwrap()),
            documents_before
        );
    }
}

#[test]
fn a_resend_with_the_stored_bets_is_acknowledged_again_and_one_with_other_bets_is_a_conflict() {
    let (central, _handle) = memory(1, Durability::Fsync);
    let first = [bet("11", "7574"), bet("12", "5")];
    central.submit(id(1), 1, &first).unwrap();
    central.submit(id(1), 2, &[bet("13", "1")]).unwrap();
    assert_eq!(
        central.submit(id(1), 1, &first).unwrap(),
        Submitted::AlreadyStored { batch: 1 }
    );
    // Another document, another order, a bet fewer: none is what is stored.
    for other in [
        vec![bet("11", "7574"), bet("19", "5")],
        vec![bet("12", "5"), bet("11", "7574")],
        vec![bet("11", "7574")],
    ] {
        let refused = central.submit(id(1), 1, &other).unwrap_err();
        assert!(
            matches!(
                refused,
                SubmitError::BatchConflict { batch: 1, stored_bets: 2, sent_bets, .. }
                    if sent_bets == other.len() as u64
            ),
            "{refused:?}"
        );
        assert!(!refused.is_retryable());
    }
    assert_eq!(stored(&central).len(), 3);
    assert_eq!(central.resume_point(id(1)).unwrap().bets_stored, 3);
}

#[test]
fn after_a_restart_a_resend_is_checked_against_the_journal() {
    let handle = MemoryStore::new().handle();
    let central = open(&handle, 1, Durability::Fsync);
    let first = [bet("11", "7574")];
    central.submit(id(1), 1, &first).unwrap();
    drop(central);
    handle.crash();
    let central = open(&handle, 1, Durability::Fsync);
    assert_eq!(
        central.submit(id(1), 1, &first).unwrap(),
        Submitted::AlreadyStored { batch: 1 }
    );
    assert!(matches!(
        central.submit(id(1), 1, &[bet("21", "7574")]),
        Err(SubmitError::BatchConflict { batch: 1, .. })
    ));
}
