//! The CSV file store: `bets.csv` on disk, with `bets.csv.journal` beside it.
//!
//! Each file is opened once for appending; its length is tracked here so that
//! a failed write can be cut back to exactly where it started. Syncers are
//! duplicated handles (`fdatasync` on them needs no lock), and readers open
//! the file again, so a scan never competes with appenders for a handle.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use super::{BetStore, StoreFile, StoreSyncer};
use crate::error::StoreError;

/// `bets.csv` on disk, with its journal `bets.csv.journal` beside it.
///
/// ```no_run
/// use lottery_core::{BetMonitor, CsvFileStore, Durability};
/// let store = CsvFileStore::open("bets.csv")?;
/// let (monitor, recovery) = BetMonitor::open(Box::new(store), Durability::Fsync)?;
/// # Ok::<(), lottery_core::StoreError>(())
/// ```
#[derive(Debug)]
pub struct CsvFileStore {
    data: AppendFile,
}

impl CsvFileStore {
    /// Opens `path` for appending, creating it if missing.
    ///
    /// # Errors
    /// [`StoreError::Io`] when the file cannot be opened or created.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        let data = AppendFile::open(path.clone(), true).map_err(|source| StoreError::Io {
            action: "open",
            path,
            source,
        })?;
        Ok(Self {
            data: data.expect("a created file exists"),
        })
    }

    /// The path of `bets.csv`.
    pub fn path(&self) -> &Path {
        &self.data.path
    }

    /// The path of the journal beside `bets.csv`: `bets.csv.journal`.
    pub fn journal_path(&self) -> PathBuf {
        with_suffix(&self.data.path, ".journal")
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(suffix);
    PathBuf::from(name)
}

impl StoreFile for CsvFileStore {
    fn len(&self) -> u64 {
        self.data.len()
    }

    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.data.append(bytes)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.data.flush()
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.data.truncate(len)
    }

    fn syncer(&self) -> io::Result<Box<dyn StoreSyncer>> {
        self.data.syncer()
    }

    fn reader(&self, len: u64) -> io::Result<Box<dyn Read + Send>> {
        self.data.reader(len)
    }
}

impl BetStore for CsvFileStore {
    fn describe(&self) -> String {
        self.data.path.display().to_string()
    }

    fn open_journal(&mut self) -> io::Result<Option<Box<dyn StoreFile>>> {
        Ok(AppendFile::open(self.journal_path(), false)?
            .map(|journal| Box::new(journal) as Box<dyn StoreFile>))
    }

    fn create_journal(&mut self, contents: &[u8]) -> io::Result<Box<dyn StoreFile>> {
        // Written aside, synced, then renamed into place: a crash leaves the
        // old state (no journal) or the whole new journal, never half of it.
        let journal = self.journal_path();
        let temporary = with_suffix(&self.data.path, ".journal.tmp");
        {
            let mut file = File::create(&temporary)?;
            file.write_all(contents)?;
            file.sync_all()?;
        }
        fs::rename(&temporary, &journal)?;
        sync_parent_directory(&journal)?;
        let opened = AppendFile::open(journal, false)?
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "the new journal vanished"))?;
        Ok(Box::new(opened))
    }
}

/// Makes a rename durable: the directory entry lives in the parent directory.
fn sync_parent_directory(path: &Path) -> io::Result<()> {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    File::open(parent)?.sync_all()
}

/// One append-only file and its tracked length.
#[derive(Debug)]
struct AppendFile {
    path: PathBuf,
    file: File,
    /// The length after the last successful append or cut: where a failed
    /// write is cut back to.
    len: u64,
}

impl AppendFile {
    /// Opens `path` for appending; `None` when it is missing and `create` is off.
    fn open(path: PathBuf, create: bool) -> io::Result<Option<Self>> {
        let opened = OpenOptions::new()
            .read(true)
            .append(true)
            .create(create)
            .open(&path);
        let file = match opened {
            Ok(file) => file,
            Err(error) if !create && error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(error),
        };
        let len = file.metadata()?.len();
        Ok(Some(Self { path, file, len }))
    }
}

impl StoreFile for AppendFile {
    fn len(&self) -> u64 {
        self.len
    }

    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self.file.write_all(bytes) {
            Ok(()) => {
                self.len += bytes.len() as u64;
                Ok(())
            }
            Err(error) => {
                // A short write may have left part of the buffer: cut it off.
                // If even that fails, the monitor sees the wrong length and
                // repairs before its next append.
                let _ = self.file.set_len(self.len);
                Err(error)
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        // Appends go straight to the file (no user-space buffer): each write is
        // already in the operating system's hands.
        self.file.flush()
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.file.set_len(len)?;
        self.len = len;
        Ok(())
    }

    fn syncer(&self) -> io::Result<Box<dyn StoreSyncer>> {
        Ok(Box::new(FileSyncer(self.file.try_clone()?)))
    }

    fn reader(&self, len: u64) -> io::Result<Box<dyn Read + Send>> {
        let file = File::open(&self.path)?;
        Ok(Box::new(BufReader::with_capacity(
            64 * 1024,
            file.take(len),
        )))
    }
}

/// A duplicated handle whose `fdatasync` covers every write made before it.
struct FileSyncer(File);

impl StoreSyncer for FileSyncer {
    fn sync(&mut self) -> io::Result<()> {
        self.0.sync_data()
    }
}
