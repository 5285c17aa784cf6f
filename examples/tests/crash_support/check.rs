//! What must hold after a crash trial, and what each restart of the central
//! must have found.
//!
//! - Each restart: the bytes cut off `bets.csv` are the ones the central
//!   logged (`repair_store | ... | truncated_bytes: N`), what remains is whole
//!   rows, as many as it reports (`open_store | ... | bets: B`), and it holds
//!   every bet the killed central had logged as stored (an ack is never lost).
//! - At the end: each agency logged the winners count of its input; each
//!   agency's rows in `bets.csv` are its input, each bet exactly once, in
//!   order; what a restart kept was never rewritten; the draw was logged once
//!   (`sorteo`) and every later run recovered it (`recover_draw`) with the same
//!   numbers; the store reopens whole, with every agency finished.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use lottery_bet::{AgencyId, Bet, StoreRows};
use lottery_core::{BetMonitor, Durability};

use super::data::DataSet;
use super::plan::Progress;

const STORED: &str = "action: apuesta_recibida | result: success | cantidad: ";
const FINISHED: &str = "action: finish | result: success";
const SORTEO: &str = "action: sorteo | result: success";
const RECOVER_DRAW: &str = "action: recover_draw | result: success";
const WINNERS_SENT: &str = "action: winners_sent | result: success";
const REPAIR: &str = "action: repair_store | result: success";
const OPEN: &str = "action: open_store | result: success";
const WINNERS: &str = "action: consulta_ganadores | result: success | cant_ganadores: ";

/// The number after `key: ` in `line`.
fn value(line: &str, key: &str) -> Option<u64> {
    let needle = format!("| {key}: ");
    let rest = &line[line.find(&needle)? + needle.len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Takes one central log line into the progress.
pub fn count_line(line: &str, progress: &mut Progress) {
    if line.contains(STORED) {
        let bets = value(line, "cantidad").unwrap_or(0);
        progress.acked_bets += bets;
        if let Some(agency) = value(line, "agency")
            && let Some(slot) = progress.acked_per_agency.get_mut(agency as usize - 1)
        {
            *slot += bets;
        }
    } else if line.contains(FINISHED) {
        progress.finishes += 1;
    } else if line.contains(SORTEO) || line.contains(RECOVER_DRAW) {
        progress.drawn = true;
    } else if line.contains(WINNERS_SENT) {
        progress.winners_sent += 1;
    }
}

/// Each agency's rows in store bytes, in stored order.
fn rows_per_agency(bytes: &[u8]) -> Result<HashMap<AgencyId, Vec<Bet>>, String> {
    let mut rows: HashMap<AgencyId, Vec<Bet>> = HashMap::new();
    for row in StoreRows::new(bytes) {
        let row = row.map_err(|(line, error)| format!("bets.csv line {line}: {error}"))?;
        rows.entry(row.agency).or_default().push(row.bet);
    }
    Ok(rows)
}

/// One restart of the central, as checked when it happened.
#[derive(Debug)]
pub struct Restart {
    /// Which run of the central it started.
    pub run: usize,
    /// Bets the killed central had logged as stored, over all its runs.
    pub acked_at_kill: u64,
    /// Bytes the new central cut off, as it logged them.
    pub truncated_bytes: u64,
    /// Bets the new central found, as it logged them.
    pub bets_on_open: u64,
    /// It found every agency finished and redid the draw.
    pub recovered_draw: bool,
    /// `bets.csv` as the new central kept it: must never be rewritten.
    committed: Vec<u8>,
}

impl Restart {
    /// Checks a restart: `left` is `bets.csv` as the kill left it, `progress`
    /// what the killed central had logged, `opening` the new central's first
    /// lines.
    ///
    /// # Errors
    /// What does not hold.
    pub fn new(
        run: usize,
        mut left: Vec<u8>,
        progress: &Progress,
        opening: &[String],
    ) -> Result<Self, String> {
        let log = opening.join("\n");
        let truncated_bytes = opening
            .iter()
            .find(|line| line.contains(REPAIR))
            .map_or(Some(0), |line| value(line, "truncated_bytes"))
            .ok_or_else(|| format!("run {run}: a repair line without its byte count:\n{log}"))?;
        let bets_on_open = opening
            .iter()
            .find(|line| line.contains(OPEN))
            .and_then(|line| value(line, "bets"))
            .ok_or_else(|| format!("run {run}: no open_store line with its bets:\n{log}"))?;
        let recovered_draw = opening.iter().any(|line| line.contains(RECOVER_DRAW));
        let kept = (left.len() as u64)
            .checked_sub(truncated_bytes)
            .ok_or_else(|| {
                format!(
                    "run {run}: cut {truncated_bytes} bytes off a store of {}",
                    left.len()
                )
            })?;
        left.truncate(usize::try_from(kept).expect("the store fits in memory"));
        if left.last().is_some_and(|&byte| byte != b'\n') {
            return Err(format!(
                "run {run}: the store kept after the cut ends mid-row"
            ));
        }
        let rows = rows_per_agency(&left)?;
        let held: u64 = rows.values().map(|bets| bets.len() as u64).sum();
        if held != bets_on_open {
            return Err(format!(
                "run {run}: the central reports {bets_on_open} bets on open, the store it kept holds {held}"
            ));
        }
        for (index, &acked) in progress.acked_per_agency.iter().enumerate() {
            let agency =
                AgencyId::new(u32::try_from(index + 1).expect("few agencies")).expect("ids from 1");
            let kept = rows.get(&agency).map_or(0, |bets| bets.len() as u64);
            if kept < acked {
                return Err(format!(
                    "run {run}: agency {agency} had {acked} bets acked before the kill, the store kept {kept}"
                ));
            }
        }
        Ok(Self {
            run,
            acked_at_kill: progress.acked_bets,
            truncated_bytes,
            bets_on_open,
            recovered_draw,
            committed: left,
        })
    }
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|error| format!("read {}: {error}", path.display()))
}

/// The checks once every agency is done and the central stopped.
///
/// # Errors
/// The first thing that does not hold.
pub fn check_trial(
    store: &Path,
    data: &DataSet,
    central_logs: &[PathBuf],
    agency_logs: &[PathBuf],
    restarts: &[Restart],
) -> Result<(), String> {
    for (index, log) in agency_logs.iter().enumerate() {
        let text = read(log)?;
        let counts: Vec<u64> = text
            .lines()
            .filter(|line| line.contains(WINNERS))
            .filter_map(|line| value(line, "cant_ganadores"))
            .collect();
        if counts != [data.winners[index]] {
            return Err(format!(
                "agency {} logged winners {counts:?}, its input has {}:\n{text}",
                index + 1,
                data.winners[index]
            ));
        }
    }

    let bytes = std::fs::read(store).map_err(|error| format!("read the store: {error}"))?;
    let mut rows = rows_per_agency(&bytes)?;
    for (index, input) in data.bets.iter().enumerate() {
        let agency =
            AgencyId::new(u32::try_from(index + 1).expect("few agencies")).expect("ids from 1");
        let stored = rows.remove(&agency).unwrap_or_default();
        if multiset(&stored) != multiset(input) {
            return Err(format!(
                "agency {agency}: bets.csv holds {} bets, not its {} input bets each exactly once",
                stored.len(),
                input.len()
            ));
        }
        if &stored != input {
            return Err(format!(
                "agency {agency}: bets.csv holds its bets out of order"
            ));
        }
    }
    if !rows.is_empty() {
        return Err(format!(
            "bets.csv holds bets of unknown agencies {:?}",
            rows.keys()
        ));
    }
    for restart in restarts {
        if !bytes.starts_with(&restart.committed) {
            return Err(format!(
                "what run {} kept of the store was rewritten later",
                restart.run
            ));
        }
    }

    check_draw(central_logs, data)?;

    let (_, recovery) = BetMonitor::open_file(store, Durability::Fsync)
        .map_err(|error| format!("reopen the store: {error}"))?;
    if recovery.truncated_bytes != 0 {
        return Err(format!(
            "the store of a cleanly stopped central reopens with {} bytes to cut",
            recovery.truncated_bytes
        ));
    }
    for (index, input) in data.bets.iter().enumerate() {
        let agency =
            AgencyId::new(u32::try_from(index + 1).expect("few agencies")).expect("ids from 1");
        let record = recovery.agencies.get(&agency).copied().unwrap_or_default();
        if !record.finished || record.bets != input.len() as u64 {
            return Err(format!(
                "the journal says agency {agency} has {} bets (finished: {}), it sent {}",
                record.bets,
                record.finished,
                input.len()
            ));
        }
    }
    Ok(())
}

/// The draw happened once: logged as `sorteo` by at most one run (none when
/// the kill came after the last finish was recorded and before the draw was
/// logged), and recovered by every run after the one that had it; each line
/// with the whole store and the right winners.
fn check_draw(central_logs: &[PathBuf], data: &DataSet) -> Result<(), String> {
    let winners: u64 = data.winners.iter().sum();
    let mut drawn_in: Option<usize> = None;
    for (run, path) in central_logs.iter().enumerate() {
        let text = read(path)?;
        let draws: Vec<&str> = text
            .lines()
            .filter(|line| line.contains(SORTEO) || line.contains(RECOVER_DRAW))
            .collect();
        let recovered = draws
            .iter()
            .filter(|line| line.contains(RECOVER_DRAW))
            .count();
        for line in &draws {
            if value(line, "bets") != Some(data.total_bets())
                || value(line, "winners") != Some(winners)
            {
                return Err(format!(
                    "run {run}: the draw does not cover the {} bets and {winners} winners: {line}",
                    data.total_bets()
                ));
            }
        }
        let sorteo = draws.len() - recovered;
        match (drawn_in, sorteo, recovered) {
            (None, 0, 0) | (Some(_), 0, 1) => {}
            (None, 1, 0) => drawn_in = Some(run),
            // The kill came after the last finish was recorded, before the
            // draw was logged: this run redid it.
            (None, 0, 1) if run > 0 => drawn_in = Some(run),
            _ => {
                return Err(format!(
                    "run {run} logged {sorteo} sorteo and {recovered} recover_draw lines; the draw was first known in run {drawn_in:?}"
                ));
            }
        }
    }
    if drawn_in.is_none() {
        return Err("no run of the central logged the draw".to_owned());
    }
    Ok(())
}

fn multiset(bets: &[Bet]) -> HashMap<&Bet, usize> {
    let mut counts = HashMap::new();
    for bet in bets {
        *counts.entry(bet).or_insert(0) += 1;
    }
    counts
}
