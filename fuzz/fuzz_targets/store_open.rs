//! Opening a store of arbitrary bytes (its `bets.csv`, journal and manifest:
//! the journal, manifest and row parsers, the checksum chain, recovery): it
//! never panics, and a store that opens is whole afterwards: opening it again
//! repairs nothing and finds the same agencies.
//!
//! Input: a flags byte (bit 0: durability fsync; bit 1: a journal; bit 2: a
//! manifest), two little-endian `u16` lengths (journal, manifest), then the
//! journal, the manifest and the data.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lottery_core::{BetMonitor, Durability, store::MemoryStore};

fuzz_target!(|input: &[u8]| {
    let Some((&flags, rest)) = input.split_first() else { return };
    let Some((lengths, rest)) = rest.split_at_checked(4) else { return };
    let journal_len = usize::from(u16::from_le_bytes([lengths[0], lengths[1]])).min(rest.len());
    let (journal, rest) = rest.split_at(journal_len);
    let manifest_len = usize::from(u16::from_le_bytes([lengths[2], lengths[3]])).min(rest.len());
    let (manifest, data) = rest.split_at(manifest_len);
    let durability = if flags & 1 == 1 { Durability::Fsync } else { Durability::None };
    let store = MemoryStore::from_bytes(data.to_vec());
    let handle = store.handle();
    if flags & 2 == 2 {
        handle.set_journal_bytes(Some(journal.to_vec()));
    }
    if flags & 4 == 4 {
        handle.set_manifest_bytes(Some(manifest.to_vec()));
    }
    let Ok((monitor, recovery)) = BetMonitor::open(Box::new(store), durability) else {
        return;
    };
    let mut rows = 0u64;
    monitor.scan(&mut |_| rows += 1).expect("a store that opened scans");
    let counted: u64 = recovery.agencies.values().map(|record| record.bets).sum();
    assert_eq!(rows, counted, "the rows are what recovery counted");
    drop(monitor);
    let (_, again) = BetMonitor::open(Box::new(handle.store()), durability)
        .expect("a store that opened once opens again");
    assert!(again.quarantined.is_empty(), "the first open repaired it all");
    assert_eq!(again.agencies, recovery.agencies);
});
