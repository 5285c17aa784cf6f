//! Power cuts between the two syncs of an `fsync` group commit (issue 26):
//! the data's `fdatasync` (on the engine's data sync thread) and the
//! journal's (on the leader) run together, so either may end first. A test
//! store holds one of them at its start, lets the other end, and takes what
//! a power cut would leave (each file's synced bytes, plus what the file
//! system may show of the rest: nothing, a part, zeros, or other bytes);
//! that is reopened. The appender, meanwhile, must not have been acked; once
//! the held sync is let go it is, and a cut then keeps its batch.

use std::io::{self, Read};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

use lottery_bet::{AgencyId, Bet, StoreRows};
use lottery_core::{
    BetMonitor, Durability, StoreError,
    ledger::Recovery,
    store::{BetStore, MemoryHandle, MemoryStore, StoreFile, StoreSyncer},
};

fn agency(id: u32) -> AgencyId {
    AgencyId::new(id).unwrap()
}

fn batch(agency: u32, seq: u64) -> Vec<Bet> {
    (0..3)
        .map(|index| {
            Bet::from_fields(
                "Ana María",
                "Pérez",
                &format!("{agency}{seq:03}{index:03}"),
                "1999-02-28",
                &(seq * 7 + index).to_string(),
            )
            .unwrap()
        })
        .collect()
}

/// Which sync the gate holds back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Held {
    Data,
    Journal,
}

/// The gate: while `closed`, a sync of the held file waits at its start
/// (and says so in `waiting`).
#[derive(Default)]
struct Gate {
    state: Mutex<GateState>,
    changed: Condvar,
}

#[derive(Default)]
struct GateState {
    closed: Option<Held>,
    waiting: bool,
}

impl Gate {
    fn pass(&self, which: Held) {
        let mut state = self.state.lock().unwrap();
        if state.closed != Some(which) {
            return;
        }
        state.waiting = true;
        self.changed.notify_all();
        while state.closed == Some(which) {
            state = self.changed.wait(state).unwrap();
        }
        state.waiting = false;
    }

    fn close(&self, which: Held) {
        self.state.lock().unwrap().closed = Some(which);
    }

    fn open(&self) {
        self.state.lock().unwrap().closed = None;
        self.changed.notify_all();
    }

    /// Waits until a sync of the held file waits at the gate.
    fn wait_for_waiter(&self) {
        let mut state = self.state.lock().unwrap();
        while !state.waiting {
            state = self.changed.wait(state).unwrap();
        }
    }
}

struct OpenOnDrop<'a>(&'a Gate);

impl Drop for OpenOnDrop<'_> {
    fn drop(&mut self) {
        self.0.open();
    }
}

struct GatedSyncer {
    inner: Box<dyn StoreSyncer>,
    gate: Arc<Gate>,
    which: Held,
}

impl StoreSyncer for GatedSyncer {
    fn sync(&mut self) -> io::Result<()> {
        self.gate.pass(self.which);
        self.inner.sync()
    }
}

/// A file of the memory store whose syncers pass the gate.
struct GatedFile<F: ?Sized> {
    inner: Box<F>,
    gate: Arc<Gate>,
    which: Held,
}

impl<F: StoreFile + ?Sized> StoreFile for GatedFile<F> {
    fn len(&self) -> u64 {
        self.inner.len()
    }
    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.inner.append(bytes)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.inner.truncate(len)
    }
    fn syncer(&self) -> io::Result<Box<dyn StoreSyncer>> {
        Ok(Box::new(GatedSyncer {
            inner: self.inner.syncer()?,
            gate: Arc::clone(&self.gate),
            which: self.which,
        }))
    }
    fn reader(&self, len: u64) -> io::Result<Box<dyn Read + Send>> {
        self.inner.reader(len)
    }
}

impl<F: BetStore + ?Sized> BetStore for GatedFile<F> {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn open_journal(&mut self) -> io::Result<Option<Box<dyn StoreFile>>> {
        let journal = self.inner.open_journal()?;
        Ok(journal.map(|inner| self.gated_journal(inner)))
    }
    fn create_journal(&mut self, contents: &[u8]) -> io::Result<Box<dyn StoreFile>> {
        let inner = self.inner.create_journal(contents)?;
        Ok(self.gated_journal(inner))
    }
    fn read_manifest(&self) -> io::Result<Option<Vec<u8>>> {
        self.inner.read_manifest()
    }
    fn write_manifest(&mut self, contents: &[u8]) -> io::Result<()> {
        self.inner.write_manifest(contents)
    }
    fn quarantine(&mut self, journal: bool, bytes: &[u8]) -> io::Result<String> {
        self.inner.quarantine(journal, bytes)
    }
}

impl<F: ?Sized> GatedFile<F> {
    fn gated_journal(&self, inner: Box<dyn StoreFile>) -> Box<dyn StoreFile> {
        Box::new(GatedFile::<dyn StoreFile> {
            inner,
            gate: Arc::clone(&self.gate),
            which: Held::Journal,
        })
    }
}

/// What the file system may show, after the cut, of the data bytes written
/// but not covered by a completed sync.
#[derive(Debug, Clone, Copy)]
enum Unsynced {
    /// Nothing: the file ends where the last completed sync did.
    Gone,
    /// The first half of them.
    Half,
    /// As many zeros (blocks given to the file, never written).
    Zeros,
    /// All of them, as written.
    All,
    /// All of them, one byte changed: what no crash leaves.
    Changed,
}

/// A power cut now: each file's synced bytes, the data's unsynced bytes as
/// `unsynced` says (the journal's unsynced bytes are lost), in a new store.
fn power_cut(handle: &MemoryHandle, unsynced: Unsynced) -> MemoryHandle {
    let bytes = handle.bytes();
    let synced = handle.synced_len() as usize;
    let mut data = bytes[..synced].to_vec();
    let rest = &bytes[synced..];
    match unsynced {
        Unsynced::Gone => {}
        Unsynced::Half => data.extend_from_slice(&rest[..rest.len() / 2]),
        Unsynced::Zeros => data.resize(bytes.len(), 0),
        Unsynced::All => data.extend_from_slice(rest),
        Unsynced::Changed => {
            data.extend_from_slice(rest);
            let at = data.len() - 3;
            data[at] = if data[at] == b'1' { b'2' } else { b'1' };
        }
    }
    let journal = handle.journal_bytes();
    let journal = journal[..handle.journal_synced_len() as usize].to_vec();
    let after = MemoryStore::from_bytes(data).handle();
    after.set_journal_bytes(Some(journal));
    after.set_manifest_bytes(handle.manifest_bytes());
    after
}

/// The agencies' bets a reopened store recovered, by agency.
fn bets_of(recovery: &Recovery) -> Vec<(u32, u64)> {
    recovery
        .agencies
        .iter()
        .map(|(id, record)| (id.get(), record.bets))
        .collect()
}

/// Reopens the store a cut left and checks it holds exactly agency 1's
/// first batch (the committed one) and quarantined `cut` data bytes.
fn assert_reopens_without_the_group(after: &MemoryHandle, cut: u64, case: &str) {
    let (monitor, recovery) = BetMonitor::open(Box::new(after.store()), Durability::Fsync)
        .unwrap_or_else(|error| panic!("{case}: {error}"));
    assert_eq!(bets_of(&recovery), [(1, 3)], "{case}");
    assert_eq!(recovery.truncated_bytes, cut, "{case}");
    assert_eq!(
        recovery.quarantined.iter().any(|q| !q.journal),
        cut > 0,
        "{case}: the cut data is quarantined"
    );
    let mut rows = 0;
    monitor.scan(&mut |_| rows += 1).unwrap();
    assert_eq!(rows, 3, "{case}");
    // The repair is durable: a second open finds nothing to cut.
    drop(monitor);
    let (_, again) = BetMonitor::open(Box::new(after.store()), Durability::Fsync).unwrap();
    assert_eq!(again.truncated_bytes, 0, "{case}: second open");
    assert_eq!(bets_of(&again), [(1, 3)], "{case}: second open");
}

/// One group commit (agency 2's batch, after agency 1's committed one) with
/// the `held` sync stopped at its start while the other one ends; `check`
/// sees the store meanwhile, and where the committed data ends.
fn with_one_sync_held(held: Held, check: impl FnOnce(&MemoryHandle, u64)) {
    let store = MemoryStore::new();
    let handle = store.handle();
    let gate = Arc::new(Gate::default());
    let gated = GatedFile {
        inner: Box::new(store),
        gate: Arc::clone(&gate),
        which: Held::Data,
    };
    let (monitor, _) = BetMonitor::open(Box::new(gated), Durability::Fsync).unwrap();
    let monitor = Arc::new(monitor);
    let first = monitor.append(agency(1), 1, &batch(1, 1)).unwrap();
    gate.close(held);
    // Opens the gate however this ends: a failed assertion must not leave
    // the data sync thread (joined when the monitor drops) waiting forever.
    let _opened = OpenOnDrop(&gate);
    let appender = {
        let monitor = Arc::clone(&monitor);
        thread::spawn(move || monitor.append(agency(2), 1, &batch(2, 1)))
    };
    gate.wait_for_waiter();
    // The other sync ends on its own; wait until it has.
    let written = loop {
        let bytes = handle.bytes().len() as u64;
        let journal = handle.journal_bytes().len() as u64;
        let done = match held {
            Held::Data => handle.journal_synced_len() == journal && bytes > first.end_offset,
            Held::Journal => handle.synced_len() == bytes && bytes > first.end_offset,
        };
        if done {
            break bytes;
        }
        thread::sleep(Duration::from_millis(1));
    };
    match held {
        Held::Data => assert_eq!(handle.synced_len(), first.end_offset),
        Held::Journal => assert_eq!(handle.synced_len(), written),
    }
    thread::sleep(Duration::from_millis(20));
    assert!(
        !appender.is_finished(),
        "acked with the {held:?} sync not done"
    );
    check(&handle, first.end_offset);
    gate.open();
    let appended = appender.join().unwrap().expect("the held sync succeeds");
    assert_eq!(appended.end_offset, written);
    assert!(handle.synced_len() >= appended.end_offset);
    // Acked: from now on a cut keeps it.
    let after = power_cut(&handle, Unsynced::Gone);
    let (_, recovery) = BetMonitor::open(Box::new(after.store()), Durability::Fsync).unwrap();
    assert_eq!(
        bets_of(&recovery),
        [(1, 3), (2, 3)],
        "{held:?}: after the ack"
    );
    assert_eq!(recovery.truncated_bytes, 0);
}

#[test]
fn a_cut_after_the_journal_sync_and_before_the_data_sync_drops_the_unacked_group() {
    with_one_sync_held(Held::Data, |handle, committed| {
        let group = handle.bytes().len() as u64 - committed;
        // The record is durable, its rows not: whatever of them the file
        // system shows (none, a part, zeros), the group goes, its records
        // as the journal's tail, its rows as the data's.
        for (unsynced, cut) in [
            (Unsynced::Gone, 0),
            (Unsynced::Half, group / 2),
            (Unsynced::Zeros, group),
        ] {
            let case = format!("journal synced, data not, its rows {unsynced:?}");
            let after = power_cut(handle, unsynced);
            assert!(
                String::from_utf8(after.journal_bytes())
                    .unwrap()
                    .contains("\nbatch 2 1 3 "),
                "{case}: the record is durable"
            );
            assert_reopens_without_the_group(&after, cut, &case);
            let journal_cut: Vec<_> = after
                .quarantined()
                .into_iter()
                .filter(|(name, _)| name.contains(".journal"))
                .collect();
            assert_eq!(journal_cut.len(), 1, "{case}: the record is quarantined");
            assert!(
                String::from_utf8_lossy(&journal_cut[0].1).starts_with("batch 2 1 3 "),
                "{case}"
            );
        }
        // The rows all there (the data's writeback came first): kept, as
        // the agency sent them (its resend is recognised).
        let after = power_cut(handle, Unsynced::All);
        let (_, recovery) = BetMonitor::open(Box::new(after.store()), Durability::Fsync).unwrap();
        assert_eq!(bets_of(&recovery), [(1, 3), (2, 3)]);
        // Other rows under the durable record: no crash writes those.
        let after = power_cut(handle, Unsynced::Changed);
        let error = BetMonitor::open(Box::new(after.store()), Durability::Fsync).unwrap_err();
        assert!(matches!(error, StoreError::Checksum { .. }), "{error}");
        assert!(after.quarantined().is_empty(), "nothing changed");
    });
}

#[test]
fn a_cut_after_the_data_sync_and_before_the_journal_sync_cuts_the_rows_without_a_record() {
    with_one_sync_held(Held::Journal, |handle, committed| {
        let after = power_cut(handle, Unsynced::Gone);
        assert!(
            !String::from_utf8(after.journal_bytes())
                .unwrap()
                .contains("batch 2 "),
            "the record is not durable"
        );
        let rows: Vec<_> = StoreRows::new(&after.bytes()[..])
            .map(|row| row.unwrap().agency.get())
            .collect();
        assert_eq!(rows, [1, 1, 1, 2, 2, 2], "the rows are durable");
        // Rows without a record: never committed, the data's tail.
        let group = after.bytes().len() as u64 - committed;
        assert_reopens_without_the_group(&after, group, "data synced, journal not");
    });
}
