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
//! by an appender (the wait in `complete_append`).
//!
//! The `fsync` rows wait for the real disk, whose sync time on a shared
//! machine swings from a tenth of a millisecond to tens of them with what
//! other programs write. The `simsync` rows run the same `Fsync` commits on
//! a disk whose every sync takes exactly [`SIMULATED_SYNC`] and writes
//! nothing (the writes are real): they measure the group commit itself,
//! repeatably.
//!
//! Run: `cargo bench -p lottery-core --bench append`; words after `--` keep
//! only the matching rows (`-- fsync`, `-- none 1`, `-- simsync window`).

use std::io::{self, Read};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};
use std::{fs, thread};

use lottery_bet::{AgencyId, Bet};
use lottery_core::{
    BetMonitor, Durability,
    store::{BetStore, CsvFileStore, StoreFile, StoreSyncer},
};

/// How long a simulated sync takes: about an `fdatasync` on this machine's
/// disk when nothing else writes.
const SIMULATED_SYNC: Duration = Duration::from_micros(250);

/// A file whose syncs take [`SIMULATED_SYNC`] and do nothing else.
struct SimulatedSync<F: ?Sized>(Box<F>);

struct SleepingSyncer;

impl StoreSyncer for SleepingSyncer {
    fn sync(&mut self) -> io::Result<()> {
        thread::sleep(SIMULATED_SYNC);
        Ok(())
    }
}

impl<F: StoreFile + ?Sized> StoreFile for SimulatedSync<F> {
    fn len(&self) -> u64 {
        self.0.len()
    }

    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.0.append(bytes)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.0.truncate(len)
    }

    fn syncer(&self) -> io::Result<Box<dyn StoreSyncer>> {
        Ok(Box::new(SleepingSyncer))
    }

    fn reader(&self, len: u64) -> io::Result<Box<dyn Read + Send>> {
        self.0.reader(len)
    }
}

impl BetStore for SimulatedSync<CsvFileStore> {
    fn describe(&self) -> String {
        self.0.describe()
    }

    fn open_journal(&mut self) -> io::Result<Option<Box<dyn StoreFile>>> {
        Ok(self
            .0
            .open_journal()?
            .map(|journal| Box::new(SimulatedSync(journal)) as Box<dyn StoreFile>))
    }

    fn create_journal(&mut self, contents: &[u8]) -> io::Result<Box<dyn StoreFile>> {
        Ok(Box::new(SimulatedSync(self.0.create_journal(contents)?)))
    }

    fn read_manifest(&self) -> io::Result<Option<Vec<u8>>> {
        self.0.read_manifest()
    }

    fn write_manifest(&mut self, contents: &[u8]) -> io::Result<()> {
        self.0.write_manifest(contents)
    }

    fn quarantine(&mut self, journal: bool, bytes: &[u8]) -> io::Result<String> {
        self.0.quarantine(journal, bytes)
    }
}

const BATCH: usize = 150;
const RUNS: usize = 7;
/// Batches an appender begins before completing them, in `window` rows.
const WINDOW: usize = 8;

/// Batches per run, split between the appenders: fewer when each commit
/// waits for the disk.
fn batches_per_run(durability: Durability) -> usize {
    match durability {
        Durability::Fsync => 480,
        _ => 3200,
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

/// What the store syncs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Disk {
    Real,
    /// Every sync takes [`SIMULATED_SYNC`] (with `Fsync` only).
    Simulated,
}

/// How the appenders of one row append.
#[derive(Debug, Clone, Copy)]
struct Setup {
    durability: Durability,
    disk: Disk,
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
        let mode = match self.disk {
            Disk::Real => self.durability.to_string(),
            Disk::Simulated => "simsync".to_owned(),
        };
        format!("{mode:<7} {style:<9} {:>2}", self.appenders)
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
        disk,
        appenders,
        window,
    } = setup;
    let dir = std::env::temp_dir().join(format!(
        "lottery-bench-append-{}-{durability}-{disk:?}-{appenders}-{window}-{run}",
        std::process::id()
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("create the benchmark directory");
    let store = CsvFileStore::open(dir.join("bets.csv")).expect("open the store");
    let store: Box<dyn BetStore> = match disk {
        Disk::Real => Box::new(store),
        Disk::Simulated => Box::new(SimulatedSync(Box::new(store))),
    };
    let (monitor, _) = BetMonitor::open(store, durability).expect("open the store");
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
    let modes = [
        (Durability::None, Disk::Real),
        (Durability::Flush, Disk::Real),
        (Durability::Fsync, Disk::Real),
        (Durability::Fsync, Disk::Simulated),
    ];
    for (durability, disk) in modes {
        for window in [1, WINDOW] {
            for appenders in [1, 2, 4] {
                let setup = Setup {
                    durability,
                    disk,
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
