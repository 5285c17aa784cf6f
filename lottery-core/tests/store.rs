//! The bet monitor over real files (in a fresh temporary directory per test)
//! and over the memory store: appends, scans, recovery, torn tails, faults.

use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use lottery_core::{AgencyId, AgencyRecord, Bet, BetMonitor, Durability, MemoryStore, StoredBet};

/// A directory under the system's temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let unique = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "lottery-store-{}-{name}-{unique}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn agency(id: u32) -> AgencyId {
    AgencyId::new(id).unwrap()
}

/// A deterministic, distinct bet; some names need quoting.
fn bet(agency: u32, batch: u64, index: usize) -> Bet {
    let first = match index % 3 {
        0 => "Ana María".to_owned(),
        1 => format!("Pérez, \"Pepe\" {index}"),
        _ => "Ñandú".to_owned(),
    };
    Bet::from_fields(
        &first,
        &format!("Agency{agency}"),
        &format!("{}{:03}{:03}", agency, batch, index),
        "1999-02-28",
        &((batch as usize * 31 + index) % 10_000).to_string(),
    )
    .unwrap()
}

fn batch(agency: u32, batch: u64, size: usize) -> Vec<Bet> {
    (0..size).map(|index| bet(agency, batch, index)).collect()
}

fn scan_all(monitor: &BetMonitor) -> Vec<StoredBet> {
    let mut bets = Vec::new();
    let count = monitor.scan(&mut |stored| bets.push(stored)).unwrap();
    assert_eq!(count, bets.len() as u64);
    bets
}

fn stored(agency_id: u32, bets: &[Bet]) -> Vec<StoredBet> {
    bets.iter()
        .map(|bet| StoredBet {
            agency: agency(agency_id),
            bet: bet.clone(),
        })
        .collect()
}

#[test]
fn appended_batches_are_scanned_back_in_stored_order_from_a_file() {
    let dir = TempDir::new("order");
    let path = dir.join("bets.csv");
    let (monitor, recovery) = BetMonitor::open_file(&path, Durability::Fsync).unwrap();
    assert_eq!(recovery.truncated_bytes, 0);
    assert!(recovery.agencies.is_empty());
    let first = batch(1, 1, 3);
    let second = batch(2, 1, 2);
    let appended = monitor.append(agency(1), 1, &first).unwrap();
    assert_eq!(appended.bets, 3);
    let appended_second = monitor.append(agency(2), 1, &second).unwrap();
    assert_eq!(
        appended_second.end_offset,
        fs::metadata(&path).unwrap().len()
    );
    assert!(appended_second.end_offset > appended.end_offset);
    let mut expected = stored(1, &first);
    expected.extend(stored(2, &second));
    assert_eq!(scan_all(&monitor), expected);
    assert!(dir.join("bets.csv.journal").exists());
}

#[test]
fn reopening_recovers_bets_last_batch_and_finish_per_agency() {
    for durability in [Durability::None, Durability::Flush, Durability::Fsync] {
        let dir = TempDir::new("recover");
        let path = dir.join("bets.csv");
        {
            let (monitor, _) = BetMonitor::open_file(&path, durability).unwrap();
            monitor.append(agency(1), 1, &batch(1, 1, 4)).unwrap();
            monitor.append(agency(2), 1, &batch(2, 1, 2)).unwrap();
            monitor.append(agency(1), 2, &batch(1, 2, 3)).unwrap();
            monitor.record_finish(agency(1), 7).unwrap();
            monitor.append(agency(2), 2, &batch(2, 2, 1)).unwrap();
        }
        let (monitor, recovery) = BetMonitor::open_file(&path, durability).unwrap();
        assert_eq!(recovery.truncated_bytes, 0, "{durability}");
        assert_eq!(
            recovery.agencies.get(&agency(1)),
            Some(&AgencyRecord {
                bets: 7,
                last_batch: 2,
                finished: true
            })
        );
        assert_eq!(
            recovery.agencies.get(&agency(2)),
            Some(&AgencyRecord {
                bets: 3,
                last_batch: 2,
                finished: false
            })
        );
        assert_eq!(scan_all(&monitor).len(), 10);
    }
}

#[test]
fn appends_after_a_reopen_continue_the_same_file() {
    let store = MemoryStore::new();
    let handle = store.handle();
    {
        let (monitor, _) = BetMonitor::open(Box::new(store), Durability::Fsync).unwrap();
        monitor.append(agency(3), 1, &batch(3, 1, 2)).unwrap();
    }
    let (monitor, recovery) =
        BetMonitor::open(Box::new(handle.store()), Durability::Fsync).unwrap();
    assert_eq!(recovery.agencies[&agency(3)].last_batch, 1);
    monitor.append(agency(3), 2, &batch(3, 2, 2)).unwrap();
    let mut expected = stored(3, &batch(3, 1, 2));
    expected.extend(stored(3, &batch(3, 2, 2)));
    assert_eq!(scan_all(&monitor), expected);
}

#[test]
fn the_memory_store_reports_what_a_completed_sync_covers() {
    let store = MemoryStore::new();
    let handle = store.handle();
    let (monitor, _) = BetMonitor::open(Box::new(store), Durability::Fsync).unwrap();
    let appended = monitor.append(agency(1), 1, &batch(1, 1, 5)).unwrap();
    assert_eq!(handle.bytes().len() as u64, appended.end_offset);
    assert!(handle.synced_len() >= appended.end_offset);
    assert!(handle.journal_synced_len() >= handle.journal_bytes().len() as u64);
    let journal = String::from_utf8(handle.journal_bytes()).unwrap();
    assert!(journal.ends_with(&format!("batch 1 1 5 {}\n", appended.end_offset)));
}
