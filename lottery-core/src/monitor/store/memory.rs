//! The in-memory store: `bets.csv` and its journal as byte vectors, for loom,
//! proptest and fault injection.
//!
//! A [`MemoryHandle`] shares the bytes with the store, so a test can look at
//! what was written and synced, make the next writes or syncs fail, simulate a
//! power cut ([`MemoryHandle::crash`]) and reopen the same bytes
//! ([`MemoryHandle::store`]). Every lock comes from `crate::sync`, so loom sees
//! the store's synchronisation too.
//!
//! A sync takes two steps under the lock (pick what it covers, then mark it
//! synced): bytes appended between the steps are not covered, as with a real
//! `fdatasync` that is already running.

use std::io::{self, Read};

use super::{BetStore, StoreFile, StoreSyncer};
use crate::sync::{Arc, Mutex};

/// Which of the two files an operation is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    Data,
    Journal,
}

#[derive(Debug, Default)]
struct Bytes {
    bytes: Vec<u8>,
    /// How many leading bytes a completed sync covers.
    synced: u64,
    /// Bumped by every cut, so a sync that straddles a cut does not claim the
    /// bytes appended after it.
    cuts: u64,
}

#[derive(Debug, Default)]
struct State {
    data: Bytes,
    /// `None` until a journal is created.
    journal: Option<Bytes>,
    manifest: Option<Vec<u8>>,
    /// What recoveries cut, in order: (name, bytes).
    quarantined: Vec<(String, Vec<u8>)>,
    fail_appends: u32,
    fail_journal_appends: u32,
    fail_syncs: u32,
    syncs: u64,
    /// Bytes handed out by readers, so a test can see that a scan streams.
    read: u64,
}

impl State {
    fn file(&mut self, which: Which) -> io::Result<&mut Bytes> {
        match which {
            Which::Data => Ok(&mut self.data),
            Which::Journal => self.journal.as_mut().ok_or_else(no_journal),
        }
    }
}

fn no_journal() -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, "the memory store has no journal")
}

fn injected(what: &str) -> io::Error {
    io::Error::other(format!("injected {what} failure"))
}

/// An in-memory bet store.
///
/// ```
/// use lottery_bet::{AgencyId, Bet};
/// use lottery_core::{BetMonitor, Durability, store::MemoryStore};
/// let store = MemoryStore::new();
/// let handle = store.handle();
/// let (monitor, _) = BetMonitor::open(Box::new(store), Durability::Fsync)?;
/// let bet = Bet::from_fields("Ana", "Pérez", "1", "2000-01-01", "7574")?;
/// let appended = monitor.append(AgencyId::new(1)?, 1, &[bet])?;
/// assert!(handle.synced_len() >= appended.end_offset);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct MemoryStore {
    file: MemoryFile,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// An empty store, without a journal.
    pub fn new() -> Self {
        Self::from_bytes(Vec::new())
    }

    /// A store holding `bytes` and no journal, like a `bets.csv` written by
    /// another program (the course's Python central).
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        let synced = bytes.len() as u64;
        let state = State {
            data: Bytes {
                bytes,
                synced,
                cuts: 0,
            },
            ..State::default()
        };
        Self {
            file: MemoryFile {
                shared: Arc::new(Mutex::new(state)),
                which: Which::Data,
            },
        }
    }

    /// A handle to look at the bytes and inject faults; it outlives the store.
    pub fn handle(&self) -> MemoryHandle {
        MemoryHandle {
            shared: Arc::clone(&self.file.shared),
        }
    }
}

impl StoreFile for MemoryStore {
    fn len(&self) -> u64 {
        self.file.len()
    }

    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.file.append(bytes)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.file.truncate(len)
    }

    fn syncer(&self) -> io::Result<Box<dyn StoreSyncer>> {
        self.file.syncer()
    }

    fn reader(&self, len: u64) -> io::Result<Box<dyn Read + Send>> {
        self.file.reader(len)
    }
}

impl BetStore for MemoryStore {
    fn describe(&self) -> String {
        "<memory>".to_owned()
    }

    fn open_journal(&mut self) -> io::Result<Option<Box<dyn StoreFile>>> {
        let exists = self.file.shared.lock().journal.is_some();
        Ok(exists.then(|| Box::new(self.file.sibling(Which::Journal)) as Box<dyn StoreFile>))
    }

    fn create_journal(&mut self, contents: &[u8]) -> io::Result<Box<dyn StoreFile>> {
        let mut state = self.file.shared.lock();
        if state.fail_journal_appends > 0 {
            state.fail_journal_appends -= 1;
            return Err(injected("journal write"));
        }
        state.journal = Some(Bytes {
            bytes: contents.to_vec(),
            synced: contents.len() as u64,
            cuts: 0,
        });
        drop(state);
        Ok(Box::new(self.file.sibling(Which::Journal)))
    }

    fn read_manifest(&self) -> io::Result<Option<Vec<u8>>> {
        Ok(self.file.shared.lock().manifest.clone())
    }

    fn write_manifest(&mut self, contents: &[u8]) -> io::Result<()> {
        let mut state = self.file.shared.lock();
        if state.fail_journal_appends > 0 {
            state.fail_journal_appends -= 1;
            return Err(injected("manifest write"));
        }
        state.manifest = Some(contents.to_vec());
        Ok(())
    }

    fn quarantine(&mut self, journal: bool, bytes: &[u8]) -> io::Result<String> {
        let mut state = self.file.shared.lock();
        let name = format!(
            "<memory>{}.quarantine-{}",
            if journal { ".journal" } else { "" },
            state.quarantined.len() + 1
        );
        state.quarantined.push((name.clone(), bytes.to_vec()));
        Ok(name)
    }
}

/// A cloneable view of a [`MemoryStore`]'s bytes, with fault injection.
#[derive(Debug, Clone)]
pub struct MemoryHandle {
    shared: Arc<Mutex<State>>,
}

impl MemoryHandle {
    /// A copy of the data (`bets.csv`).
    pub fn bytes(&self) -> Vec<u8> {
        self.shared.lock().data.bytes.clone()
    }

    /// How many leading data bytes a completed sync covers.
    pub fn synced_len(&self) -> u64 {
        self.shared.lock().data.synced
    }

    /// A copy of the journal (empty when there is none).
    pub fn journal_bytes(&self) -> Vec<u8> {
        self.shared
            .lock()
            .journal
            .as_ref()
            .map_or_else(Vec::new, |journal| journal.bytes.clone())
    }

    /// How many leading journal bytes a completed sync covers.
    pub fn journal_synced_len(&self) -> u64 {
        self.shared
            .lock()
            .journal
            .as_ref()
            .map_or(0, |journal| journal.synced)
    }

    /// How many syncs (of either file) completed.
    pub fn syncs(&self) -> u64 {
        self.shared.lock().syncs
    }

    /// How many bytes readers (scans, recovery) have read so far.
    pub fn bytes_read(&self) -> u64 {
        self.shared.lock().read
    }

    #[cfg(any(test, feature = "test-support"))]
    /// Makes the next `count` data appends fail (after writing half of their
    /// bytes, which the store then cuts back, as a real short write would).
    pub fn fail_next_appends(&self, count: u32) {
        self.shared.lock().fail_appends = count;
    }

    #[cfg(any(test, feature = "test-support"))]
    /// Makes the next `count` journal writes fail.
    pub fn fail_next_journal_appends(&self, count: u32) {
        self.shared.lock().fail_journal_appends = count;
    }

    #[cfg(any(test, feature = "test-support"))]
    /// Makes the next `count` syncs (of either file) fail.
    pub fn fail_next_syncs(&self, count: u32) {
        self.shared.lock().fail_syncs = count;
    }

    #[cfg(any(test, feature = "test-support"))]
    /// Simulates a power cut: every byte not covered by a completed sync is lost.
    pub fn crash(&self) {
        let mut state = self.shared.lock();
        let synced = state.data.synced;
        state.data.bytes.truncate(synced as usize);
        if let Some(journal) = state.journal.as_mut() {
            journal.bytes.truncate(journal.synced as usize);
        }
    }

    #[cfg(any(test, feature = "test-support"))]
    /// Replaces the data bytes (a test's torn or edited `bets.csv`); they
    /// count as synced.
    pub fn set_bytes(&self, bytes: Vec<u8>) {
        let mut state = self.shared.lock();
        state.data.synced = bytes.len() as u64;
        state.data.bytes = bytes;
        state.data.cuts += 1;
    }

    #[cfg(any(test, feature = "test-support"))]
    /// Replaces the journal bytes (`None`: remove it); they count as synced.
    pub fn set_journal_bytes(&self, bytes: Option<Vec<u8>>) {
        self.shared.lock().journal = bytes.map(|bytes| Bytes {
            synced: bytes.len() as u64,
            bytes,
            cuts: 1,
        });
    }

    /// A copy of the manifest (`None` when there is none).
    pub fn manifest_bytes(&self) -> Option<Vec<u8>> {
        self.shared.lock().manifest.clone()
    }

    #[cfg(any(test, feature = "test-support"))]
    /// Replaces the manifest (`None`: remove it).
    pub fn set_manifest_bytes(&self, bytes: Option<Vec<u8>>) {
        self.shared.lock().manifest = bytes;
    }

    /// What recoveries moved to quarantine, in order: (name, bytes).
    pub fn quarantined(&self) -> Vec<(String, Vec<u8>)> {
        self.shared.lock().quarantined.clone()
    }

    /// A new store over the same bytes: what reopening the files gives.
    pub fn store(&self) -> MemoryStore {
        MemoryStore {
            file: MemoryFile {
                shared: Arc::clone(&self.shared),
                which: Which::Data,
            },
        }
    }
}

/// One of the two byte vectors, seen as a [`StoreFile`].
#[derive(Debug)]
struct MemoryFile {
    shared: Arc<Mutex<State>>,
    which: Which,
}

impl MemoryFile {
    fn sibling(&self, which: Which) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
            which,
        }
    }
}

impl StoreFile for MemoryFile {
    fn len(&self) -> u64 {
        let mut state = self.shared.lock();
        state
            .file(self.which)
            .map_or(0, |file| file.bytes.len() as u64)
    }

    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        let mut state = self.shared.lock();
        let failing = match self.which {
            Which::Data => &mut state.fail_appends,
            Which::Journal => &mut state.fail_journal_appends,
        };
        let fail = *failing > 0;
        if fail {
            *failing -= 1;
        }
        let file = state.file(self.which)?;
        if fail {
            // A short write, then the cut back the trait promises.
            let before = file.bytes.len();
            file.bytes.extend_from_slice(&bytes[..bytes.len() / 2]);
            file.bytes.truncate(before);
            return Err(injected("write"));
        }
        file.bytes.extend_from_slice(bytes);
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        let mut state = self.shared.lock();
        let file = state.file(self.which)?;
        let len = usize::try_from(len).map_err(io::Error::other)?;
        file.bytes.truncate(len);
        file.synced = file.synced.min(len as u64);
        file.cuts += 1;
        Ok(())
    }

    fn syncer(&self) -> io::Result<Box<dyn StoreSyncer>> {
        Ok(Box::new(MemorySyncer {
            file: self.sibling(self.which),
        }))
    }

    fn reader(&self, len: u64) -> io::Result<Box<dyn Read + Send>> {
        Ok(Box::new(MemoryReader {
            file: self.sibling(self.which),
            position: 0,
            end: len,
        }))
    }
}

struct MemorySyncer {
    file: MemoryFile,
}

impl StoreSyncer for MemorySyncer {
    fn sync(&mut self) -> io::Result<()> {
        let (target, cuts) = {
            let mut state = self.file.shared.lock();
            if state.fail_syncs > 0 {
                state.fail_syncs -= 1;
                return Err(injected("sync"));
            }
            let file = state.file(self.file.which)?;
            (file.bytes.len() as u64, file.cuts)
        };
        // The sync is under way: appends landing now are not covered by it.
        let mut state = self.file.shared.lock();
        state.syncs += 1;
        let file = state.file(self.file.which)?;
        if file.cuts == cuts {
            file.synced = file.synced.max(target);
        }
        Ok(())
    }
}

/// Copies out one chunk at a time, so a scan of the memory store streams too.
struct MemoryReader {
    file: MemoryFile,
    position: u64,
    end: u64,
}

impl Read for MemoryReader {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let mut state = self.file.shared.lock();
        let file = state.file(self.file.which)?;
        let end = self.end.min(file.bytes.len() as u64);
        if self.position >= end || buffer.is_empty() {
            return Ok(0);
        }
        let count = usize::try_from(end - self.position)
            .unwrap_or(usize::MAX)
            .min(buffer.len());
        let start = self.position as usize;
        buffer[..count].copy_from_slice(&file.bytes[start..start + count]);
        self.position += count as u64;
        state.read += count as u64;
        Ok(count)
    }
}
