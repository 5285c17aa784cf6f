//! Watching the store from outside the core: how long each sync of its
//! files takes, how many batches each sync of `bets.csv` covers, and how
//! large `bets.csv` is, for the status port.
//!
//! The core's group commit syncs through the [`StoreSyncer`]s its store
//! hands out, and the core keeps no clock. So the watch wraps the file store
//! ([`WatchedStore`]) and times each sync there, on the thread that leads the
//! group commit, once per sync: nothing is added per batch but one relaxed
//! add (the batch's append, counted for its group). Everything else is
//! passed through unchanged, so the store behaves exactly as the bare
//! [`CsvFileStore`] (recovery, locking, quarantine).

use std::fmt;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use lottery_core::store::{BetStore, CsvFileStore, StoreFile, StoreSyncer};

use crate::metrics::{GROUP_BOUNDS, Histogram, HistogramSnapshot};

/// What the status port shows of a server's store: its path and size, and
/// the syncs of its group commit. Get one from
/// [`crate::open_watched_central`] and hand it to
/// [`crate::Server::watch_store`]; a server without one shows no store
/// figures. A cheap handle (clones share the counters).
#[derive(Clone, Default)]
pub struct StoreWatch {
    inner: Arc<Watched>,
}

impl fmt::Debug for StoreWatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreWatch")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Watched {
    /// `bets.csv` (`None`: no store is watched).
    path: Option<PathBuf>,
    /// Its length after the last append or cut.
    bytes: AtomicU64,
    /// Batches appended since the last sync of `bets.csv` began.
    appended: AtomicU64,
    /// Each sync of `bets.csv` or its journal, in seconds.
    syncs: Option<Histogram>,
    /// Batches covered by each sync of `bets.csv`.
    groups: Option<Histogram>,
}

impl StoreWatch {
    /// A watch of the store at `path`.
    pub(crate) fn of(path: &Path) -> Self {
        Self {
            inner: Arc::new(Watched {
                path: Some(path.to_owned()),
                bytes: AtomicU64::new(0),
                appended: AtomicU64::new(0),
                syncs: Some(Histogram::seconds()),
                groups: Some(Histogram::counts(GROUP_BOUNDS)),
            }),
        }
    }

    /// `store`, wrapped so that this watch sees its syncs and size.
    pub(crate) fn wrap(&self, store: CsvFileStore) -> WatchedStore {
        self.inner.bytes.store(store.len(), Ordering::Relaxed);
        WatchedStore {
            store,
            watch: self.clone(),
        }
    }

    /// The store's path, if one is watched.
    pub(crate) fn path(&self) -> Option<&Path> {
        self.inner.path.as_deref()
    }

    /// The size of `bets.csv`, if a store is watched.
    pub(crate) fn bytes(&self) -> Option<u64> {
        self.inner
            .path
            .as_ref()
            .map(|_| self.inner.bytes.load(Ordering::Relaxed))
    }

    /// Each sync's duration, in seconds.
    pub(crate) fn syncs(&self) -> HistogramSnapshot {
        self.inner.syncs.as_ref().map_or_else(
            || HistogramSnapshot::empty(crate::metrics::LATENCY_BOUNDS),
            Histogram::read,
        )
    }

    /// Batches per sync of `bets.csv`.
    pub(crate) fn groups(&self) -> HistogramSnapshot {
        self.inner
            .groups
            .as_ref()
            .map_or_else(|| HistogramSnapshot::empty(GROUP_BOUNDS), Histogram::read)
    }

    fn synced(&self, data: bool, started: Instant, covered: u64) {
        if let Some(syncs) = &self.inner.syncs {
            syncs.observe_duration(started.elapsed(), 1);
        }
        if data
            && covered > 0
            && let Some(groups) = &self.inner.groups
        {
            groups.observe_count(covered);
        }
    }
}

/// A [`CsvFileStore`] whose syncs and size a [`StoreWatch`] sees.
pub(crate) struct WatchedStore {
    store: CsvFileStore,
    watch: StoreWatch,
}

impl StoreFile for WatchedStore {
    fn len(&self) -> u64 {
        self.store.len()
    }

    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        let appended = self.store.append(bytes);
        let watched = &self.watch.inner;
        watched.bytes.store(self.store.len(), Ordering::Relaxed);
        if appended.is_ok() {
            watched.appended.fetch_add(1, Ordering::Relaxed);
        }
        appended
    }

    fn flush(&mut self) -> io::Result<()> {
        self.store.flush()
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        let cut = self.store.truncate(len);
        self.watch
            .inner
            .bytes
            .store(self.store.len(), Ordering::Relaxed);
        cut
    }

    fn syncer(&self) -> io::Result<Box<dyn StoreSyncer>> {
        Ok(Box::new(TimedSyncer {
            syncer: self.store.syncer()?,
            watch: self.watch.clone(),
            data: true,
        }))
    }

    fn reader(&self, len: u64) -> io::Result<Box<dyn Read + Send>> {
        self.store.reader(len)
    }
}

impl BetStore for WatchedStore {
    fn describe(&self) -> String {
        self.store.describe()
    }

    fn open_journal(&mut self) -> io::Result<Option<Box<dyn StoreFile>>> {
        let journal = self.store.open_journal()?;
        Ok(journal.map(|file| self.journal(file)))
    }

    fn create_journal(&mut self, contents: &[u8]) -> io::Result<Box<dyn StoreFile>> {
        let file = self.store.create_journal(contents)?;
        Ok(self.journal(file))
    }

    fn read_manifest(&self) -> io::Result<Option<Vec<u8>>> {
        self.store.read_manifest()
    }

    fn write_manifest(&mut self, contents: &[u8]) -> io::Result<()> {
        self.store.write_manifest(contents)
    }

    fn quarantine(&mut self, journal: bool, bytes: &[u8]) -> io::Result<String> {
        self.store.quarantine(journal, bytes)
    }
}

impl WatchedStore {
    fn journal(&self, file: Box<dyn StoreFile>) -> Box<dyn StoreFile> {
        Box::new(WatchedJournal {
            file,
            watch: self.watch.clone(),
        })
    }
}

/// The journal of a [`WatchedStore`]: only its syncs are watched.
struct WatchedJournal {
    file: Box<dyn StoreFile>,
    watch: StoreWatch,
}

impl StoreFile for WatchedJournal {
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
        Ok(Box::new(TimedSyncer {
            syncer: self.file.syncer()?,
            watch: self.watch.clone(),
            data: false,
        }))
    }

    fn reader(&self, len: u64) -> io::Result<Box<dyn Read + Send>> {
        self.file.reader(len)
    }
}

/// A syncer that times each sync (and, for `bets.csv`, counts the batches
/// appended before it began: those it covers).
struct TimedSyncer {
    syncer: Box<dyn StoreSyncer>,
    watch: StoreWatch,
    data: bool,
}

impl StoreSyncer for TimedSyncer {
    fn sync(&mut self) -> io::Result<()> {
        let covered = if self.data {
            self.watch.inner.appended.swap(0, Ordering::Relaxed)
        } else {
            0
        };
        let started = Instant::now();
        let synced = self.syncer.sync();
        if synced.is_ok() {
            self.watch.synced(self.data, started, covered);
        }
        synced
    }
}
