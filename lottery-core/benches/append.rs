//! Append throughput of the file store, in bets per second, for each
//! durability mode with 1, 2 and 4 concurrent appenders and 150-bet batches.
//!
//! Two ways of appending are measured:
//! - `append`: each appender calls [`BetMonitor::append`] once per batch, as
//!   a blocking program would;
//! - `window 8`: each appender begins 8 batches, then completes them (one
//!   group commit covers them), as the server's event loop does per poll
//!   iteration.
//!
//! Each configuration runs several times on a fresh `bets.csv` in the system's
//! temporary directory; the table shows the median run (and the slowest and
//! fastest), and, with `fsync`, the median time of one group commit as seen
//! by an appender (the wait in `complete_append`). Run:
//! `cargo bench -p lottery-core --bench append`; words after `--` keep only
//! the matching rows (`-- fsync`, `-- none 1`, `-- window`).

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};
use std::{fs, thread};

use lottery_core::{AgencyId, Bet, BetMonitor, Durability};

const BATCH: usize = 150;
const RUNS: usize = 7;
/// Batches an appender begins before completing them, in `window` rows.
const WINDOW: usize = 8;

/// Batches per run, split between the appenders: fewer when each commit
/// waits for the disk.
fn batches_per_run(durability: Durability) -> usize {
    match durability {
        Durability::None | Durability::Flush => 3200,
        Durability::Fsync => 480,
    }
}

fn batch(agency: u32) -> Vec<Bet> {
    (0..BATCH)
        .map(|index| {
            Bet::from_fields(
                "Santiago Lionel",
                if index % 10 == 0 {
                    "Pérez, \"Pepe\""
                } else {
                    "Lorca"
                },
                &format!("{agency}{index:06}"),
                "1999-03-17",
                &(index % 10_000).to_string(),
            )
            .expect("a valid bet")
        })
        .collect()
}

/// How the appenders of one row append.
#[derive(Debug, Clone, Copy)]
struct Setup {
    durability: Durability,
    appenders: u32,
    /// Batches begun before completing them (1: plain `append`).
    window: usize,
}

impl Setup {
    fn label(self) -> String {
        let style = if self.window == 1 {
            "append".to_owned()
        } else {
            format!("window {}", self.window)
        };
        format!("{:<7} {style:<9} {:>2}", self.durability, self.appenders)
    }
}

/// What one run measured.
struct Run {
    bets_per_second: f64,
    /// Every wait in `complete_append` (one per window).
    waits: Vec<Duration>,
}

/// One run on a fresh store.
fn run(setup: Setup, run: usize) -> Run {
    let Setup {
        durability,
        appenders,
        window,
    } = setup;
    let dir = std::env::temp_dir().join(format!(
        "lottery-bench-append-{}-{durability}-{appenders}-{window}-{run}",
        std::process::id()
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("create the benchmark directory");
    let (monitor, _) =
        BetMonitor::open_file(dir.join("bets.csv"), durability).expect("open the store");
    let monitor = Arc::new(monitor);
    let per_appender = batches_per_run(durability) / appenders as usize;
    let start = Arc::new(Barrier::new(appenders as usize + 1));
    let threads: Vec<_> = (1..=appenders)
        .map(|id| {
            let monitor = Arc::clone(&monitor);
            let start = Arc::clone(&start);
            let agency = AgencyId::new(id).expect("agencies are numbered from 1");
            let bets = batch(id);
            thread::spawn(move || {
                let mut waits = Vec::with_capacity(per_appender);
                let mut pending = Vec::with_capacity(window);
                start.wait();
                for seq in 1..=per_appender as u64 {
                    pending.push(monitor.begin_append(agency, seq, &bets).expect("append"));
                    if pending.len() == window || seq == per_appender as u64 {
                        let waited = Instant::now();
                        for append in pending.drain(..) {
                            monitor.complete_append(append).expect("commit");
                        }
                        waits.push(waited.elapsed());
                    }
                }
                waits
            })
        })
        .collect();
    start.wait();
    let began = Instant::now();
    let mut waits = Vec::new();
    for thread in threads {
        waits.extend(thread.join().expect("an appender panicked"));
    }
    let elapsed = began.elapsed().max(Duration::from_micros(1));
    drop(monitor);
    let _ = fs::remove_dir_all(&dir);
    Run {
        bets_per_second: (per_appender * appenders as usize * BATCH) as f64 / elapsed.as_secs_f64(),
        waits,
    }
}

fn main() {
    // `cargo bench` passes `--bench`; every other word filters the rows.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|word| !word.starts_with("--"))
        .collect();
    println!(
        "append throughput, file store, {BATCH}-bet batches, median of {RUNS} runs (min .. max)"
    );
    println!(
        "{:<7} {:<9} {:>2} {:>12} {:>27} {:>12}",
        "mode", "style", "n", "bets/s", "range", "commit wait"
    );
    for durability in [Durability::None, Durability::Flush, Durability::Fsync] {
        for window in [1, WINDOW] {
            for appenders in [1, 2, 4] {
                let setup = Setup {
                    durability,
                    appenders,
                    window,
                };
                let label = setup.label();
                let words: Vec<&str> = label.split_whitespace().collect();
                if !filters
                    .iter()
                    .all(|filter| words.contains(&filter.as_str()))
                {
                    continue;
                }
                let runs: Vec<Run> = (0..RUNS).map(|r| run(setup, r)).collect();
                let mut rates: Vec<f64> = runs.iter().map(|run| run.bets_per_second).collect();
                rates.sort_by(f64::total_cmp);
                let mut waits: Vec<Duration> = runs.into_iter().flat_map(|run| run.waits).collect();
                waits.sort();
                let wait = if durability == Durability::Fsync {
                    format!("{:.3} ms", waits[waits.len() / 2].as_secs_f64() * 1e3)
                } else {
                    String::new()
                };
                println!(
                    "{label} {:>12.0} {:>12.0} .. {:>12.0} {wait:>12}",
                    rates[RUNS / 2],
                    rates[0],
                    rates[RUNS - 1]
                );
            }
        }
    }
}
