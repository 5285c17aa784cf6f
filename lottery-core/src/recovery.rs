//! Recovery: what opening a store finds, and the repairs a crash calls for.
//!
//! # Restart
//! [`crate::BetMonitor::open`] replays the journal: the end offset of its last whole
//! record is the committed length of `bets.csv`; anything beyond (a torn
//! line, or whole batches written but never committed, hence never acked) is
//! cut off and counted in [`Recovery::truncated_bytes`]. A torn journal line
//! is cut too. The committed rows are then scanned and must agree with the
//! journal's per-agency counts. Per agency the monitor recovers the bets
//! stored, the last batch sequence number and whether it finished, so a
//! resent batch is recognised and not stored twice.
//!
//! With `None` or `Flush`, a power cut may lose data the journal already
//! names; such records (ending beyond `bets.csv`) are dropped with everything
//! after them, so the store reopens to its last whole batch still on disk.
//! Opening reads the whole committed store once (the row check), in a
//! streaming pass.
//!
//! A `bets.csv` without a journal (written by the course's Python central) is
//! adopted: a torn last line is cut, its bets are counted per agency (last
//! batch 0: the rows carry no batch numbers) and a journal is started for it.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use crate::bet::{AgencyId, StoredBet};
use crate::error::StoreError;
use crate::journal::{self, HEADER, Record, Replay, ReplayError};
use crate::ledger::{AgencyRecord, Recovery};
use crate::row::StoreRows;
use crate::store::{BetStore, StoreFile};

/// Recovers what `store` holds: replays its journal (or adopts a `bets.csv`
/// without one), cuts off anything not committed, and checks the committed
/// rows against the journal. Returns the journal, holding exactly its valid
/// records, and what was found; `store` then holds exactly the committed data.
///
/// # Errors
/// [`StoreError::Io`] when the store cannot be read or repaired;
/// [`StoreError::Corrupt`] when a committed row does not parse;
/// [`StoreError::Journal`] when the journal is damaged or disagrees with the
/// rows.
pub(crate) fn recover_store(
    store: &mut dyn BetStore,
    path: &Path,
) -> Result<(Box<dyn StoreFile>, Recovery), StoreError> {
    let data_len = store.len();
    let opened = store.open_journal().map_err(|source| StoreError::Io {
        action: "open the journal of",
        path: path.to_path_buf(),
        source,
    })?;
    match opened {
        Some(journal) => recover(store, journal, data_len, path),
        None => adopt(store, data_len, path),
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

/// Counts the committed rows per agency.
fn count_rows(
    store: &dyn BetStore,
    len: u64,
    path: &Path,
) -> Result<BTreeMap<AgencyId, u64>, StoreError> {
    let reader = store.reader(len).map_err(|source| StoreError::Io {
        action: "read",
        path: path.to_path_buf(),
        source,
    })?;
    let mut counts = BTreeMap::new();
    scan_rows(reader, path, &mut |stored| {
        *counts.entry(stored.agency).or_insert(0) += 1;
    })?;
    Ok(counts)
}

/// Cuts `bets.csv` to `len`, durably; returns how many bytes went.
fn cut_data(store: &mut dyn BetStore, len: u64, path: &Path) -> Result<u64, StoreError> {
    let before = store.len();
    if before <= len {
        return Ok(0);
    }
    store
        .truncate(len)
        .and_then(|()| store.syncer()?.sync())
        .map_err(|source| StoreError::Io {
            action: "repair",
            path: path.to_path_buf(),
            source,
        })?;
    Ok(before - len)
}

/// Replays the journal, cuts what it does not cover, checks the rows.
fn recover(
    store: &mut dyn BetStore,
    mut journal: Box<dyn StoreFile>,
    data_len: u64,
    path: &Path,
) -> Result<(Box<dyn StoreFile>, Recovery), StoreError> {
    let io_error = |action: &'static str| {
        move |source| StoreError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    };
    let reader = journal
        .reader(journal.len())
        .map_err(io_error("read the journal of"))?;
    let Replay {
        valid_len,
        committed_end,
        agencies,
    } = journal::replay(reader, data_len).map_err(|error| match error {
        ReplayError::Io(source) => io_error("read the journal of")(source),
        ReplayError::Damaged { line, problem } => StoreError::Journal {
            path: path.to_path_buf(),
            line,
            problem,
        },
    })?;
    if journal.len() > valid_len {
        journal
            .truncate(valid_len)
            .and_then(|()| journal.syncer()?.sync())
            .map_err(io_error("repair the journal of"))?;
    }
    let truncated_bytes = cut_data(store, committed_end, path)?;
    let counts = count_rows(store, committed_end, path)?;
    for (agency, rows) in &counts {
        let journaled = agencies.get(agency).map_or(0, |record| record.bets);
        if journaled != *rows {
            return Err(StoreError::Journal {
                path: path.to_path_buf(),
                line: 0,
                problem: format!(
                    "it counts {journaled} bets of agency {agency}, the store holds {rows}"
                ),
            });
        }
    }
    if let Some((agency, record)) = agencies
        .iter()
        .find(|(agency, record)| record.bets > 0 && !counts.contains_key(agency))
    {
        return Err(StoreError::Journal {
            path: path.to_path_buf(),
            line: 0,
            problem: format!(
                "it counts {} bets of agency {agency}, the store holds none",
                record.bets
            ),
        });
    }
    Ok((
        journal,
        Recovery {
            truncated_bytes,
            agencies,
        },
    ))
}

/// Adopts a `bets.csv` without a journal: cuts a torn last line, counts the
/// rows per agency, and starts a journal saying so.
fn adopt(
    store: &mut dyn BetStore,
    data_len: u64,
    path: &Path,
) -> Result<(Box<dyn StoreFile>, Recovery), StoreError> {
    let io_error = |action: &'static str| {
        move |source| StoreError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    };
    let whole = end_of_last_line(store, data_len).map_err(io_error("read"))?;
    let truncated_bytes = cut_data(store, whole, path)?;
    let counts = count_rows(store, whole, path)?;
    // The journal will vouch for these rows: they must be durable first.
    store
        .syncer()
        .and_then(|mut syncer| syncer.sync())
        .map_err(io_error("sync"))?;
    let mut contents = HEADER.to_vec();
    let mut agencies = BTreeMap::new();
    for (&agency, &bets) in &counts {
        Record::Batch {
            agency,
            batch: 0,
            bets,
            end: whole,
        }
        .encode(&mut contents);
        agencies.insert(
            agency,
            AgencyRecord {
                bets,
                ..AgencyRecord::default()
            },
        );
    }
    let journal = store
        .create_journal(&contents)
        .map_err(io_error("create the journal of"))?;
    Ok((
        journal,
        Recovery {
            truncated_bytes,
            agencies,
        },
    ))
}

/// The length of the first `len` bytes up to and including their last `\n`:
/// rows never hold a line break (names refuse control characters), so a last
/// line without one was torn.
fn end_of_last_line(store: &dyn BetStore, len: u64) -> io::Result<u64> {
    let mut reader = store.reader(len)?;
    let mut buffer = vec![0; 64 * 1024];
    let mut position = 0u64;
    let mut whole = 0u64;
    loop {
        let read = match reader.read(&mut buffer) {
            Ok(0) => return Ok(whole),
            Ok(read) => read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        if let Some(last) = buffer[..read].iter().rposition(|&b| b == b'\n') {
            whole = position + last as u64 + 1;
        }
        position += read as u64;
    }
}
