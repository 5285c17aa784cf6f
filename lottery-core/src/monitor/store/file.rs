//! The CSV file store: `bets.csv` on disk, with `bets.csv.journal`,
//! `bets.csv.lottery` (the manifest) and `bets.csv.lock` beside it.
//!
//! Opening takes an exclusive OS lock on `bets.csv.lock` before anything else
//! (before the store is read, created or repaired), and holds it as long as
//! the store is open: one central per store. The lock file holds the
//! holder's process id, for the message a second central gets; it lies
//! beside the store's real file (symbolic links resolved), and `bets.csv`
//! itself is locked as well, so that no other name of the store (a link)
//! escapes the lock.
//!
//! No file of the store is ever opened through a symbolic link placed at
//! its name (SECURITY.md): the lock, journal, manifest and their temporary
//! files are opened with `O_NOFOLLOW` (a link there is refused, naming it),
//! a temporary file left behind is unlinked and created anew
//! (`create_new`), and quarantine files are created new. The one link
//! followed is the one the operator names: `--store` itself may be a link
//! to an existing `bets.csv` (then opened where it leads, `O_NOFOLLOW`
//! again); a new store is never created through one.
//!
//! Each file is opened once for appending; its length is tracked here so that
//! a failed write can be cut back to exactly where it started. Syncers are
//! duplicated handles (`fdatasync` on them needs no lock), and readers open
//! the file again, so a scan never competes with appenders for a handle.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::{BetStore, StoreFile, StoreSyncer};
use crate::error::StoreError;

/// `bets.csv` on disk, with its journal `bets.csv.journal` beside it.
///
/// ```no_run
/// use lottery_core::{BetMonitor, Durability, store::CsvFileStore};
/// let store = CsvFileStore::open("bets.csv")?;
/// let (monitor, recovery) = BetMonitor::open(Box::new(store), Durability::Fsync)?;
/// # Ok::<(), lottery_core::StoreError>(())
/// ```
#[derive(Debug)]
pub struct CsvFileStore {
    data: AppendFile,
    /// `bets.csv` as the caller named it (a link's name, when it is one),
    /// for messages.
    given: PathBuf,
    /// The name the journal, manifest and quarantine files are named after:
    /// `bets.csv` as given, or where it leads when it is a symbolic link, so
    /// that every name of a store finds the same files beside it.
    files: PathBuf,
    /// Held (locked) while the store is open; unlocked when dropped.
    _lock: File,
}

impl CsvFileStore {
    /// Locks the store at `path`, then opens it for appending, creating it if
    /// missing (a new store).
    ///
    /// # Errors
    /// [`StoreError::Locked`] when another process holds the store;
    /// [`StoreError::Inconsistent`] when `bets.csv` is missing but its
    /// journal or manifest is there (nothing is created then);
    /// [`StoreError::Io`] when a file cannot be opened or created.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        let io_error = |action: &'static str| StoreError::io_at(&path, action);
        let lock = lock_store(&path)?;
        let files = link_target(&path);
        if !path.exists() {
            for sibling in [".journal", ".lottery"] {
                let sibling = with_suffix(&files, sibling);
                if sibling.exists() {
                    return Err(StoreError::Inconsistent {
                        path,
                        problem: format!("bets.csv is missing but {} is there", sibling.display()),
                        remedy: "restore bets.csv from a backup; to start a new lottery, use another --store",
                    });
                }
            }
        }
        // Opened where a link at `path` leads (no link followed then), and
        // created only at a name that is no link: a dangling link would
        // have the store created wherever it points.
        let is_link = fs::symlink_metadata(&path).is_ok_and(|meta| meta.file_type().is_symlink());
        let data = AppendFile::open(files.clone(), !is_link)
            .map_err(io_error("open"))?
            .ok_or_else(|| StoreError::Inconsistent {
                path: path.clone(),
                problem: format!(
                    "it is a symbolic link to {}, which does not exist",
                    files.display()
                ),
                remedy: "a new store is never created through a link: name a file that is not one, or restore the file the link leads to",
            })?;
        // The data file is locked too: a second central that names it
        // otherwise (a hard link, a path the lock's name misses) finds it
        // held. The lock goes with this handle, which the store keeps.
        match data.file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(StoreError::Locked { path, holder: None });
            }
            Err(fs::TryLockError::Error(source)) => return Err(io_error("lock")(source)),
        }
        Ok(Self {
            data,
            given: path,
            files,
            _lock: lock,
        })
    }

    /// The path of `bets.csv`.
    pub fn path(&self) -> &Path {
        &self.given
    }

    /// The path of the journal beside `bets.csv`: `bets.csv.journal`.
    pub fn journal_path(&self) -> PathBuf {
        with_suffix(&self.files, ".journal")
    }
}

/// Takes the store's lock (`PATH.lock`), without waiting. `PATH` is the
/// store's real place (symbolic links resolved), so that every name of one
/// store leads to one lock file, and the holder's id to the next central.
fn lock_store(path: &Path) -> Result<File, StoreError> {
    let lock_path = with_suffix(&real_path(path), ".lock");
    let io_error = |source| StoreError::Io {
        action: "lock",
        path: path.to_path_buf(),
        source,
    };
    let mut lock = no_follow()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .map_err(|error| named_link(&lock_path, error))
        .map_err(io_error)?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = lock.read_to_string(&mut holder);
            let holder = holder.trim();
            return Err(StoreError::Locked {
                path: path.to_path_buf(),
                holder: (!holder.is_empty()).then(|| format!("process {holder}")),
            });
        }
        Err(fs::TryLockError::Error(source)) => return Err(io_error(source)),
    }
    // Who holds it, for the next one's message (best effort).
    let _ = lock
        .set_len(0)
        .and_then(|()| lock.write_all(std::process::id().to_string().as_bytes()));
    Ok(lock)
}

/// `path` with its symbolic links resolved, the file's own included; for a
/// file not there yet, its directory's resolved and its name kept.
fn real_path(path: &Path) -> PathBuf {
    if let Ok(real) = fs::canonicalize(path) {
        return real;
    }
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    match (fs::canonicalize(parent), path.file_name()) {
        (Ok(parent), Some(name)) => parent.join(name),
        _ => path.to_path_buf(),
    }
}

/// Where `path` leads when it is a symbolic link (followed, relative to its
/// directory, up to 40 times: a dangling link's target too); else `path`
/// itself, as given. The store's other files are named after it.
pub(crate) fn link_target(path: &Path) -> PathBuf {
    let mut path = path.to_path_buf();
    for _ in 0..40 {
        let Ok(target) = fs::read_link(&path) else {
            break;
        };
        path = match path.parent() {
            Some(parent) => parent.join(target),
            None => target,
        };
    }
    path
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
        self.given.display().to_string()
    }

    fn open_journal(&mut self) -> io::Result<Option<Box<dyn StoreFile>>> {
        Ok(AppendFile::open(self.journal_path(), false)?
            .map(|journal| Box::new(journal) as Box<dyn StoreFile>))
    }

    fn create_journal(&mut self, contents: &[u8]) -> io::Result<Box<dyn StoreFile>> {
        let journal = self.journal_path();
        replace_durably(&journal, contents)?;
        let opened = AppendFile::open(journal, false)?
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "the new journal vanished"))?;
        Ok(Box::new(opened))
    }

    fn read_manifest(&self) -> io::Result<Option<Vec<u8>>> {
        let manifest = with_suffix(&self.files, ".lottery");
        let opened = no_follow()
            .read(true)
            .open(&manifest)
            .map_err(|error| named_link(&manifest, error));
        match opened {
            Ok(mut file) => {
                let mut bytes = Vec::new();
                file.read_to_end(&mut bytes)?;
                Ok(Some(bytes))
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    }

    fn write_manifest(&mut self, contents: &[u8]) -> io::Result<()> {
        replace_durably(&with_suffix(&self.files, ".lottery"), contents)
    }

    fn quarantine(&mut self, journal: bool, bytes: &[u8]) -> io::Result<String> {
        let base = if journal {
            ".journal.quarantine-"
        } else {
            ".quarantine-"
        };
        for number in 1u32.. {
            let path = with_suffix(&self.files, &format!("{base}{number}"));
            let mut file = match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => file,
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(error) => return Err(error),
            };
            file.write_all(bytes)?;
            file.sync_all()?;
            sync_parent_directory(&path)?;
            return Ok(path.display().to_string());
        }
        Err(io::Error::other("no free quarantine file name"))
    }
}

/// Writes `contents` aside, syncs, then renames into `target`: a crash
/// leaves the old file or the whole new one, never half of it. The
/// temporary file is created new: whatever is at its name (one a crash
/// left, or a symbolic link placed there) is unlinked first, never written
/// through; the rename replaces a link at `target` itself, not what it
/// points to.
fn replace_durably(target: &Path, contents: &[u8]) -> io::Result<()> {
    let temporary = {
        let mut name = OsString::from(target.as_os_str());
        name.push(".tmp");
        PathBuf::from(name)
    };
    {
        match fs::remove_file(&temporary) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => return Err(error),
        }
        // Owner-only: a committed winning number's secret lives in the
        // manifest until the draw reveals it (STORE.md), and nobody else
        // needs to write these files.
        let mut file = no_follow()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temporary)?;
        file.write_all(contents)?;
        file.sync_all()?;
    }
    fs::rename(&temporary, target)?;
    sync_parent_directory(target)
}

/// Options that refuse a symbolic link at the last component of the name
/// (`O_NOFOLLOW`: the open fails with `ELOOP`); see [`named_link`].
fn no_follow() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.custom_flags(libc::O_NOFOLLOW);
    options
}

/// The error of an open refused by [`no_follow`], saying so and naming the
/// link; other errors unchanged.
fn named_link(path: &Path, error: io::Error) -> io::Error {
    if error.raw_os_error() == Some(libc::ELOOP) {
        io::Error::new(
            error.kind(),
            format!(
                "{} is a symbolic link, and the store's files are never opened through one (remove the link)",
                path.display()
            ),
        )
    } else {
        error
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
        let opened = no_follow()
            .read(true)
            .append(true)
            .create(create)
            .open(&path)
            .map_err(|error| named_link(&path, error));
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
        let file = no_follow()
            .read(true)
            .open(&self.path)
            .map_err(|error| named_link(&self.path, error))?;
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
