//! Loom models of the bet monitor (group commit, atomic appends) on the
//! memory store, whose locks loom sees too. Every interleaving of two or
//! three appenders; the invariants are checked by each appender when its
//! append returns (covered by a completed sync) and after join (no
//! interleaved bytes, every acked batch present exactly once, journaled).

use loom::sync::Arc;
use loom::thread;
use lottery_bet::{AgencyId, Bet, StoreRows};
use lottery_core::{
    BetMonitor, Durability,
    store::{Appended, MemoryStore},
};

fn agency(id: u32) -> AgencyId {
    AgencyId::new(id).expect("agencies are numbered from 1")
}

/// Two bets of `agency`: a batch whose rows could interleave with another's.
fn batch(agency: u32) -> Vec<Bet> {
    (0..2)
        .map(|index| {
            Bet::from_fields(
                "Ana, María",
                "Pérez",
                &format!("{agency}{index}"),
                "1999-03-17",
                "7574",
            )
            .expect("a valid bet")
        })
        .collect()
}

/// Checks the store after join: its rows are exactly the acked batches, each
/// whole and contiguous, each ending at its acked end offset, each covered by
/// a completed data sync and by a synced journal record, and recovered by a
/// reopen.
fn check_store(handle: &lottery_core::store::MemoryHandle, acked: &[(u32, Appended)]) {
    let bytes = handle.bytes();
    let rows: Vec<_> = StoreRows::new(&bytes[..])
        .map(|row| row.expect("no torn or interleaved row"))
        .collect();
    assert_eq!(
        rows.len(),
        acked.len() * 2,
        "every acked batch exactly once"
    );
    let journal = String::from_utf8(handle.journal_bytes()).expect("the journal is text");
    let synced_journal = &journal[..handle.journal_synced_len() as usize];
    // Nothing of a refused batch stays: the journal names the acked batches
    // and no other.
    let mut journaled: Vec<u32> = journal
        .lines()
        .filter_map(|line| line.strip_prefix("batch "))
        .map(|rest| rest.split(' ').next().and_then(|id| id.parse().ok()))
        .map(|id| id.expect("a batch record starts with its agency"))
        .collect();
    let mut acked_ids: Vec<u32> = acked.iter().map(|&(id, _)| id).collect();
    journaled.sort_unstable();
    acked_ids.sort_unstable();
    assert_eq!(journaled, acked_ids, "journal {journal:?}");
    for &(id, appended) in acked {
        assert!(handle.synced_len() >= appended.end_offset);
        let mut expected = Vec::new();
        lottery_bet::encode_store_rows(agency(id), &batch(id), &mut expected);
        let end = appended.end_offset as usize;
        assert_eq!(
            &bytes[end - expected.len()..end],
            &expected[..],
            "batch of agency {id} is whole and contiguous"
        );
        // The whole record (its words, then its link of the chain) is synced.
        let record = format!("batch {id} 1 2 {end} ");
        assert!(
            synced_journal
                .split_inclusive('\n')
                .any(|line| line.starts_with(&record) && line.ends_with('\n')),
            "journal record {record:?} missing from {synced_journal:?}"
        );
    }
    // A restart recovers exactly the acked batches, cutting nothing. Opened
    // with `None`: recovery is the same in every mode, and `None` starts no
    // data sync thread (loom models at most five threads: the model's, three
    // appenders and the first monitor's data sync thread).
    let (_, recovery) =
        BetMonitor::open(Box::new(handle.store()), Durability::None).expect("the store reopens");
    assert_eq!(recovery.truncated_bytes, 0);
    let mut recovered: Vec<u32> = recovery.agencies.keys().map(|id| id.get()).collect();
    let mut expected: Vec<u32> = acked.iter().map(|&(id, _)| id).collect();
    recovered.sort_unstable();
    expected.sort_unstable();
    assert_eq!(recovered, expected);
}

fn concurrent_appenders(count: u32) {
    loom::model(move || {
        let store = MemoryStore::new();
        let handle = store.handle();
        let (monitor, _) =
            BetMonitor::open(Box::new(store), Durability::Fsync).expect("a new store opens");
        let monitor = Arc::new(monitor);
        let appenders: Vec<_> = (1..=count)
            .map(|id| {
                let monitor = Arc::clone(&monitor);
                let handle = handle.clone();
                thread::spawn(move || {
                    let appended = monitor
                        .append(agency(id), 1, &batch(id))
                        .expect("the memory store does not fail");
                    // The ack promise: a completed sync already covers it.
                    assert!(
                        handle.synced_len() >= appended.end_offset,
                        "agency {id} acked at {} but only {} synced",
                        appended.end_offset,
                        handle.synced_len()
                    );
                    (id, appended)
                })
            })
            .collect();
        let acked: Vec<_> = appenders
            .into_iter()
            .map(|appender| appender.join().expect("an appender panicked"))
            .collect();
        check_store(&handle, &acked);
    });
}

#[test]
fn two_appenders_share_group_commits_without_interleaving() {
    concurrent_appenders(2);
}

#[test]
fn three_appenders_share_group_commits_without_interleaving() {
    concurrent_appenders(3);
}

#[test]
fn a_failed_sync_fails_exactly_the_batches_it_cuts_off() {
    loom::model(|| {
        let store = MemoryStore::new();
        let handle = store.handle();
        let (monitor, _) =
            BetMonitor::open(Box::new(store), Durability::Fsync).expect("a new store opens");
        handle.fail_next_syncs(1);
        let monitor = Arc::new(monitor);
        let appenders: Vec<_> = (1..=2)
            .map(|id| {
                let monitor = Arc::clone(&monitor);
                thread::spawn(move || (id, monitor.append(agency(id), 1, &batch(id))))
            })
            .collect();
        let results: Vec<_> = appenders
            .into_iter()
            .map(|appender| appender.join().expect("an appender panicked"))
            .collect();
        assert!(
            results.iter().any(|(_, result)| result.is_err()),
            "the failed sync failed somebody"
        );
        let acked: Vec<_> = results
            .into_iter()
            .filter_map(|(id, result)| result.ok().map(|appended| (id, appended)))
            .collect();
        // Nothing of a refused batch stays; every acked one is whole and synced.
        check_store(&handle, &acked);
    });
}

#[test]
fn batches_resent_after_a_failed_sync_are_stored_once_whatever_groups_were_in_flight() {
    loom::model(|| {
        let store = MemoryStore::new();
        let handle = store.handle();
        let (monitor, _) =
            BetMonitor::open(Box::new(store), Durability::Fsync).expect("a new store opens");
        handle.fail_next_syncs(1);
        let monitor = Arc::new(monitor);
        let appenders: Vec<_> = (1..=2)
            .map(|id| {
                let monitor = Arc::clone(&monitor);
                thread::spawn(move || {
                    // One sync fails, so a second try always succeeds.
                    let appended = monitor
                        .append(agency(id), 1, &batch(id))
                        .or_else(|_| monitor.append(agency(id), 1, &batch(id)))
                        .expect("only one sync fails");
                    (id, appended)
                })
            })
            .collect();
        let acked: Vec<_> = appenders
            .into_iter()
            .map(|appender| appender.join().expect("an appender panicked"))
            .collect();
        check_store(&handle, &acked);
    });
}
