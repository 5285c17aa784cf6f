//! Where bytes of `bets.csv` live: the [`BetStore`] trait, the CSV file store and
//! the in-memory store (for loom, proptest and fault injection).
//!
//! A store knows bytes, not bets: the monitor encodes batches and decides when
//! to sync. Its one promise is atomic appends: an append is one write of the
//! whole batch, and if it fails the store is cut back to its previous length.

use std::io::{self, Read};
use std::str::FromStr;

/// What an ack promises about the batch it acknowledges.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
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

/// The bytes of a store, append-only.
pub trait BetStore: Send {
    /// A name for messages: the file's path, or `<memory>`.
    fn describe(&self) -> String;

    /// The store's length in bytes.
    fn len(&self) -> u64;

    /// Whether the store is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends `bytes` with one write. On failure, the store is cut back to the
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

    /// Cuts the store to `len` bytes (repair of a torn tail on open).
    ///
    /// # Errors
    /// The operating system's error.
    fn truncate(&mut self, len: u64) -> io::Result<()>;

    /// A syncer usable while other threads append.
    ///
    /// # Errors
    /// The operating system's error (duplicating the file handle).
    fn syncer(&self) -> io::Result<Box<dyn StoreSyncer>>;

    /// A reader of the first `len` bytes, streaming (never the whole store in
    /// memory at once for the file store).
    ///
    /// # Errors
    /// The operating system's error.
    fn reader(&self, len: u64) -> io::Result<Box<dyn Read + Send>>;
}
