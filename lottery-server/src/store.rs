//! Opening the store and building the central over it, saying what opening
//! found.

use std::path::Path;

use lottery_core::{BetMonitor, Central, Durability, LotteryRules};

use crate::error::ServerError;
use crate::log_line;

/// Opens (or creates) the store at `path` and builds the central over it,
/// logging what opening found: the bytes cut off its tail (a torn line, or
/// batches written but never committed, so never acked), what it holds, and a
/// draw performed again because every agency had finished before a restart.
///
/// # Errors
/// [`ServerError::Store`] when the store cannot be opened or repaired;
/// [`ServerError::Recover`] when a draw recorded in it cannot be redone.
pub fn open_central(
    path: &Path,
    durability: Durability,
    rules: LotteryRules,
) -> Result<Central, ServerError> {
    let (monitor, recovery) = BetMonitor::open_file(path, durability)?;
    let bets: u64 = recovery.agencies.values().map(|record| record.bets).sum();
    if recovery.truncated_bytes > 0 {
        log_line::store_repaired(path, recovery.truncated_bytes);
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
    let central = Central::new(rules, monitor, &recovery)?;
    if let Some(summary) = central.draw_summary() {
        // The draw happened before the restart; this is the same draw
        // recomputed from the store (deterministically).
        log_line::draw_recovered(&summary);
    }
    Ok(central)
}
