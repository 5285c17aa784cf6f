//! Append throughput of the file store, in bets per second, for each
//! durability mode with 1, 2 and 4 concurrent appenders and 150-bet batches.
//!
//! Each configuration runs several times on a fresh `bets.csv` in the system's
//! temporary directory; the table shows the median run (and the slowest and
//! fastest). Run: `cargo bench -p lottery-core --bench append`.

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};
use std::{fs, thread};

use lottery_core::{AgencyId, Bet, BetMonitor, Durability};

const BATCH: usize = 150;
const RUNS: usize = 7;

/// Batches per run, split between the appenders: fewer when each commit
/// waits for the disk.
fn batches_per_run(durability: Durability) -> usize {
    match durability {
        Durability::None | Durability::Flush => 1600,
        Durability::Fsync => 240,
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

/// One run: returns the bets per second.
fn run(durability: Durability, appenders: u32, run: usize) -> f64 {
    let dir = std::env::temp_dir().join(format!(
        "lottery-bench-append-{}-{durability}-{appenders}-{run}",
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
                start.wait();
                for seq in 1..=per_appender as u64 {
                    monitor.append(agency, seq, &bets).expect("append");
                }
            })
        })
        .collect();
    start.wait();
    let began = Instant::now();
    for thread in threads {
        thread.join().expect("an appender panicked");
    }
    let elapsed = began.elapsed().max(Duration::from_micros(1));
    drop(monitor);
    let _ = fs::remove_dir_all(&dir);
    (per_appender * appenders as usize * BATCH) as f64 / elapsed.as_secs_f64()
}

fn main() {
    println!(
        "append throughput, file store, {BATCH}-bet batches, median of {RUNS} runs (min .. max)"
    );
    println!(
        "{:<11} {:>9} {:>14} {:>27}",
        "durability", "appenders", "bets/s", "range"
    );
    for durability in [Durability::None, Durability::Flush, Durability::Fsync] {
        for appenders in [1, 2, 4] {
            let mut rates: Vec<f64> = (0..RUNS).map(|r| run(durability, appenders, r)).collect();
            rates.sort_by(f64::total_cmp);
            println!(
                "{:<11} {:>9} {:>14.0} {:>12.0} .. {:>12.0}",
                durability.to_string(),
                appenders,
                rates[RUNS / 2],
                rates[0],
                rates[RUNS - 1]
            );
        }
    }
}
