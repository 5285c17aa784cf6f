//! Recovery: what opening a store finds, and the repairs a crash calls for.
//!
//! # Restart
//! [`crate::BetMonitor::open`] first inspects the store without changing it
//! (the private `inspect` module): it replays the journal, checks every
//! committed row and the checksum chain over them, and decides what the store
//! is. Anything wrong that no crash can produce (a checksum that fails, a
//! missing journal or manifest, a journal cut short under a recorded draw)
//! is refused there, with nothing changed.
//!
//! Then it repairs what a crash can leave, and only that:
//! - a torn or damaged last journal line, or last records naming rows a
//!   crash took (beyond the end of `bets.csv`, or not matching their
//!   CRC32C): the journal's tail. With `none` or `flush` a power cut leaves
//!   them; with `fsync` a crash between the end of the last group's journal
//!   sync and the end of its data sync (the two run together), before its
//!   ack;
//! - bytes of `bets.csv` beyond the committed part: a torn last line, or
//!   whole batches written but never committed, hence never acked.
//!
//! A tail is never simply deleted: its bytes are first written to a
//! quarantine file beside the store (`bets.csv.quarantine-N`,
//! `bets.csv.journal.quarantine-N`), durably, and only then cut. What was
//! cut is in [`Recovery::quarantined`] (and the server logs it). Per agency
//! the monitor recovers the bets stored, the last batch sequence number and
//! whether it finished, so a resent batch is recognised and not stored twice.
//!
//! A `bets.csv` without a journal or manifest (written by the course's Python
//! central) is adopted: a torn last line is quarantined and cut, its bets are
//! counted per agency (last batch 0: the rows carry no batch numbers), and a
//! manifest and a journal are started for it, the journal's `adopted` record
//! vouching for those rows.

use std::io::{self, Read};
use std::path::Path;

use lottery_bet::{StoreRows, StoredBet};

use crate::error::StoreError;
use crate::lottery::ledger::{Quarantined, Recovery};
use crate::monitor::inspect::{Inspection, Kind, Sources, inspect};
use crate::monitor::journal::{Digest, HEADER, Record};
use crate::monitor::manifest::Manifest;
use crate::monitor::store::{BetStore, StoreFile};

/// What the commit engine starts from: the recovered store's journal, its
/// committed head and its manifest.
pub(crate) struct Recovered {
    pub(crate) journal: Box<dyn StoreFile>,
    /// The link of the last committed record.
    pub(crate) chain: Digest,
    /// How many records the journal holds (the chain's length).
    pub(crate) records: u64,
    pub(crate) manifest: Manifest,
    pub(crate) recovery: Recovery,
}

/// Recovers what `store` holds: inspects it, refuses what no crash can
/// produce, quarantines and cuts what a crash can leave, and starts a
/// manifest and a journal where the store has none. `store` then holds
/// exactly its committed data, and the journal exactly its valid records.
///
/// # Errors
/// [`StoreError::Io`] when the store cannot be read or repaired; the errors
/// of inspection ([`StoreError::Inconsistent`], [`StoreError::Checksum`],
/// [`StoreError::Journal`], [`StoreError::Corrupt`]) with nothing changed.
pub(crate) fn recover_store(
    store: &mut dyn BetStore,
    path: &Path,
) -> Result<Recovered, StoreError> {
    let io_error = |action: &'static str| StoreError::io_at(path, action);
    let mut journal = store
        .open_journal()
        .map_err(io_error("open the journal of"))?;
    let sources = Sources {
        data: store.reader(store.len()).map_err(io_error("read"))?,
        data_len: store.len(),
        journal: match &journal {
            Some(journal) => Some((
                journal
                    .reader(journal.len())
                    .map_err(io_error("read the journal of"))?,
                journal.len(),
            )),
            None => None,
        },
        manifest: store
            .read_manifest()
            .map_err(io_error("read the manifest of"))?,
        keep_chain: false,
    };
    let inspection = inspect(sources, path)?;
    let mut quarantined = Vec::new();
    let has_manifest = store
        .read_manifest()
        .map_err(io_error("read the manifest of"))?
        .is_some();
    if inspection.kind != Kind::Journal && !has_manifest {
        // Written first, so that a store that later loses its journal is
        // never taken for a course store.
        store
            .write_manifest(&inspection.manifest.encode())
            .map_err(io_error("create the manifest of"))?;
    }
    if let Some(journal) = journal.as_mut()
        && inspection.journal_tail() > 0
    {
        let valid = inspection.journal_valid_len;
        let tail = tail_bytes(journal.as_ref(), valid).map_err(io_error("read the journal of"))?;
        let file = store
            .quarantine(true, &tail)
            .map_err(io_error("quarantine the journal tail of"))?;
        journal
            .truncate(valid)
            .and_then(|()| journal.syncer()?.sync())
            .map_err(io_error("repair the journal of"))?;
        quarantined.push(quarantine_entry(file, &tail, true));
    }
    if inspection.data_tail() > 0 {
        let end = inspection.committed_end;
        let tail = tail_bytes(store, end).map_err(io_error("read"))?;
        let file = store
            .quarantine(false, &tail)
            .map_err(io_error("quarantine the tail of"))?;
        store
            .truncate(end)
            .and_then(|()| store.syncer()?.sync())
            .map_err(io_error("repair"))?;
        quarantined.push(quarantine_entry(file, &tail, false));
    }
    let journal = match journal {
        Some(journal) if inspection.kind == Kind::Journal => journal,
        _ => start_journal(store, &inspection).map_err(io_error("create the journal of"))?,
    };
    let truncated_bytes = quarantined
        .iter()
        .filter(|q| !q.journal)
        .map(|q| q.bytes)
        .sum();
    Ok(Recovered {
        journal,
        chain: inspection.chain,
        records: inspection.records,
        recovery: Recovery {
            truncated_bytes,
            agencies: inspection.agencies.clone(),
            rules: inspection.manifest.rules,
            secret: inspection.manifest.secret,
            draw: inspection.manifest.draw.as_ref().map(|d| d.summary.clone()),
            quarantined,
            adopted: inspection.kind == Kind::Adopt,
            batches: inspection.digests.clone(),
        },
        manifest: inspection.manifest,
    })
}

/// Starts the journal of a new or adopted store: the header, and for adopted
/// rows the record vouching for them (made durable first).
fn start_journal(
    store: &mut dyn BetStore,
    inspection: &Inspection,
) -> io::Result<Box<dyn StoreFile>> {
    let mut contents = HEADER.to_vec();
    if inspection.kind == Kind::Adopt && inspection.committed_end > 0 {
        // The journal will vouch for these rows: they must be durable first.
        store.syncer()?.sync()?;
        Record::Adopted {
            end: inspection.committed_end,
        }
        .encode(&inspection.chain, &mut contents);
    }
    store.create_journal(&contents)
}

/// The bytes of `file` from offset `from` to its end.
fn tail_bytes(file: &dyn StoreFile, from: u64) -> io::Result<Vec<u8>> {
    let mut reader = file.reader(file.len())?;
    io::copy(&mut (&mut reader).take(from), &mut io::sink())?;
    let mut tail = Vec::new();
    reader.read_to_end(&mut tail)?;
    Ok(tail)
}

fn quarantine_entry(file: String, tail: &[u8], journal: bool) -> Quarantined {
    Quarantined {
        file,
        bytes: tail.len() as u64,
        journal,
        whole_lines: tail.contains(&b'\n'),
    }
}

/// Streams the rows of `reader` to `visit`; returns how many.
pub(crate) fn scan_rows(
    reader: impl io::Read,
    path: &Path,
    visit: &mut dyn FnMut(StoredBet),
) -> Result<u64, StoreError> {
    let mut count = 0;
    for row in StoreRows::new(reader) {
        let stored = row.map_err(|(line, error)| StoreError::Corrupt {
            path: path.to_path_buf(),
            line,
            error,
        })?;
        visit(stored);
        count += 1;
    }
    Ok(count)
}
