//! Where the bytes of `bets.csv` and of its commit journal live: the
//! [`BetStore`] trait, the CSV file store ([`CsvFileStore`]) and the in-memory
//! store ([`MemoryStore`], for loom, proptest and fault injection).
//!
//! A store knows bytes, not bets: the monitor encodes batches, writes the
//! journal records and decides when to sync. A store has two append-only
//! files: the data (`bets.csv`, the store itself, a [`StoreFile`]) and the
//! journal beside it (`bets.csv.journal`, another [`StoreFile`]).
//!
//! Beside them a store keeps its manifest (`bets.csv.lottery`, replaced whole)
//! and, after a recovery cut, quarantine files holding what was cut.
//!
//! Every [`StoreFile`] promises atomic appends: an append is one write of the
//! whole buffer, and if it fails the file is cut back to its previous length,
//! so nothing partial stays.

use std::io::{self, Read};
use std::str::FromStr;

mod file;
mod memory;

pub use file::CsvFileStore;
pub(crate) use file::link_target;
pub use memory::{MemoryHandle, MemoryStore};

/// What an ack promises about the batch it acknowledges.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Durability {
    /// Written into the process's view of the store; a process crash may lose it.
    None,
    /// Handed to the operating system; survives a process crash, not a power cut.
    Flush,
    /// On disk (`fdatasync`), shared by concurrent appenders (group commit).
    #[default]
    Fsync,
}

impl FromStr for Durability {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "none" => Ok(Self::None),
            "flush" => Ok(Self::Flush),
            "fsync" => Ok(Self::Fsync),
            other => Err(format!(
                "unknown durability {other:?} (expected none, flush or fsync)"
            )),
        }
    }
}

impl std::fmt::Display for Durability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::None => "none",
            Self::Flush => "flush",
            Self::Fsync => "fsync",
        })
    }
}

/// Makes appended bytes durable, independently of the append lock, so that
/// appenders can keep writing while a sync runs (group commit).
pub trait StoreSyncer: Send {
    /// Makes every byte appended before this call durable.
    ///
    /// # Errors
    /// The operating system's error.
    fn sync(&mut self) -> io::Result<()>;
}

/// One append-only file of a store: `bets.csv`, or its journal.
pub trait StoreFile: Send {
    /// The file's length in bytes.
    fn len(&self) -> u64;

    /// Whether the file is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends `bytes` with one write. On failure, the file is cut back to the
    /// length it had before and the error is returned: nothing partial stays.
    ///
    /// # Errors
    /// The write's error (after the cut back).
    fn append(&mut self, bytes: &[u8]) -> io::Result<()>;

    /// Hands appended bytes to the operating system (for [`Durability::Flush`]).
    ///
    /// # Errors
    /// The operating system's error.
    fn flush(&mut self) -> io::Result<()>;

    /// Cuts the file to `len` bytes (repair of a torn tail, undo of an
    /// uncommitted write).
    ///
    /// # Errors
    /// The operating system's error.
    fn truncate(&mut self, len: u64) -> io::Result<()>;

    /// A syncer usable while other threads append.
    ///
    /// # Errors
    /// The operating system's error (duplicating the file handle).
    fn syncer(&self) -> io::Result<Box<dyn StoreSyncer>>;

    /// A reader of the first `len` bytes, streaming (never the whole file in
    /// memory at once).
    ///
    /// # Errors
    /// The operating system's error.
    fn reader(&self, len: u64) -> io::Result<Box<dyn Read + Send>>;
}

/// A bet store: `bets.csv` (the store itself is its data file) and the commit
/// journal beside it.
pub trait BetStore: StoreFile {
    /// A name for messages: the data file's path, or `<memory>`.
    fn describe(&self) -> String;

    /// Opens the existing journal, or `None` when the store has none yet (a
    /// new store, or a `bets.csv` written by another program).
    ///
    /// # Errors
    /// The operating system's error.
    fn open_journal(&mut self) -> io::Result<Option<Box<dyn StoreFile>>>;

    /// Creates the journal holding `contents`, durably and atomically (a crash
    /// leaves either no journal or the whole one), replacing any previous one.
    ///
    /// # Errors
    /// The operating system's error.
    fn create_journal(&mut self, contents: &[u8]) -> io::Result<Box<dyn StoreFile>>;

    /// The manifest's bytes (`bets.csv.lottery`: the rules and the draw), or
    /// `None` when the store has none (a new store, or a course store).
    ///
    /// # Errors
    /// The operating system's error.
    fn read_manifest(&self) -> io::Result<Option<Vec<u8>>>;

    /// Replaces the manifest with `contents`, durably and atomically.
    ///
    /// # Errors
    /// The operating system's error.
    fn write_manifest(&mut self, contents: &[u8]) -> io::Result<()>;

    /// Keeps `bytes`, about to be cut off the store's data (`journal` false)
    /// or journal (`journal` true), in a new quarantine file beside the
    /// store, durably, before the cut. Returns the file's name.
    ///
    /// # Errors
    /// The operating system's error; then nothing may be cut.
    fn quarantine(&mut self, journal: bool, bytes: &[u8]) -> io::Result<String>;
}
