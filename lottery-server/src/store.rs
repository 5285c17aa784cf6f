//! Opening the store and building the central over it, saying what opening
//! found. The store is a file (`bets.csv` and its journal, the file
//! monitor) or, given a `postgres://` URL, a PostgreSQL database
//! ([`lottery_pg::PgLedger`]).

use std::path::Path;

use lottery_core::{
    BetMonitor, Central, DrawSecret, Durability, LotteryRules, StoreError, Winning,
    ledger::{Ledger, Recovery},
    store::CsvFileStore,
};
use lottery_pg::{PgLedger, is_postgres_url};

use crate::error::ServerError;
use crate::log_line;
use crate::store_watch::StoreWatch;

/// Locks and opens (or creates) the store at `path` and builds the central
/// over it, logging what opening found: the bytes cut off its tail and where
/// they are kept (a torn line, or batches written but never committed, so
/// never acked), what it holds, and the draw it records.
///
/// A `path` that is a `postgres://USER@HOST:PORT/DB` URL (or
/// `postgresql://`) names a database instead: its tables are created on
/// first use, and several centrals may share it.
///
/// The store is locked and recovered before the port is bound: a second
/// central on the same store file fails here, at once, having touched nothing.
///
/// # Errors
/// [`ServerError::Store`] when the store is locked by another central,
/// inconsistent, fails its checksums, or cannot be opened or repaired (the
/// database cannot be reached);
/// [`ServerError::Recover`] when its rules differ from `rules` or a draw
/// recorded in it cannot be redone.
pub fn open_central(
    path: &Path,
    durability: Durability,
    rules: LotteryRules,
) -> Result<Central, ServerError> {
    open_watched_central(path, durability, rules).map(|(central, _)| central)
}

/// [`open_central`], with a [`StoreWatch`] of the store for the status port
/// ([`crate::Server::watch_store`]): for a file store, its size, each sync's
/// time and the batches each sync covers; a PostgreSQL ledger is not watched
/// (the database has its own statistics), so the status port shows no store
/// figures for it.
///
/// # Errors
/// As [`open_central`].
pub fn open_watched_central(
    path: &Path,
    durability: Durability,
    rules: LotteryRules,
) -> Result<(Central, StoreWatch), ServerError> {
    if let Some(url) = path.to_str().filter(|store| is_postgres_url(store)) {
        let (ledger, recovery) = PgLedger::open(url, durability)?;
        let name = ledger.name().to_path_buf();
        let central = central_over(&name, ledger, &recovery, durability, rules)?;
        return Ok((central, StoreWatch::default()));
    }
    let watch = StoreWatch::of(&std::path::absolute(path).unwrap_or_else(|_| path.to_owned()));
    let store = watch.wrap(CsvFileStore::open(path)?);
    let (monitor, recovery) = BetMonitor::open(Box::new(store), durability)?;
    let central = central_over(path, monitor, &recovery, durability, rules)?;
    Ok((central, watch))
}

/// Logs what opening `ledger` found, then builds the central over it.
fn central_over(
    path: &Path,
    ledger: impl Ledger + 'static,
    recovery: &Recovery,
    durability: Durability,
    rules: LotteryRules,
) -> Result<Central, ServerError> {
    let bets: u64 = recovery.agencies.values().map(|record| record.bets).sum();
    for cut in &recovery.quarantined {
        log_line::store_repaired(path, cut);
    }
    if recovery.adopted {
        log_line::store_adopted(path, bets);
    }
    let finished = recovery
        .agencies
        .values()
        .filter(|record| record.finished)
        .count();
    log_line::store_opened(path, durability, bets, recovery.agencies.len(), finished);
    for (agency, record) in &recovery.agencies {
        log_line::agency_recovered(*agency, record.last_batch, record.bets, record.finished);
    }
    let central = match rules.winning {
        Winning::Committed => {
            // Drawn now and used only if the store has no secret yet: a
            // store keeps the one it was created with.
            let mut fresh = [0u8; 32];
            getrandom::getrandom(&mut fresh).map_err(|error| {
                ServerError::Store(StoreError::Io {
                    action: "draw a secret from the operating system for",
                    path: path.to_path_buf(),
                    source: std::io::Error::other(error.to_string()),
                })
            })?;
            Central::with_fresh_secret(rules, ledger, recovery, DrawSecret::from_bytes(fresh))?
        }
        _ => Central::new(rules, ledger, recovery)?,
    };
    if let Some(commitment) = central.commitment() {
        log_line::winning_number_committed(&commitment, recovery.rules.is_none());
    }
    if let Some(summary) = central.draw_summary() {
        // The draw happened before the restart; this is the same draw
        // recomputed from the store (deterministically).
        log_line::draw_recovered(&summary);
        log_line::secret_revealed(&central);
    }
    Ok(central)
}
