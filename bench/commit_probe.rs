//! The disk's floor under the central's latency: how long one group commit
//! takes here, measured without the central.
//!
//! A commit of the bet monitor (`Durability::Fsync`) is two `fdatasync`s: the
//! data (`bets.csv`), then the journal line naming it. This probe appends a
//! batch-sized block to one file and a journal-sized line to another, syncing
//! each, `COMMITS` times, and prints the commit latency percentiles as one
//! JSON object. Built by `bench/run.sh` with plain `rustc` (no dependencies).
//!
//! Usage: `commit_probe DIR [COMMITS] [BATCH_BYTES]`

use std::fs::OpenOptions;
use std::io::Write;
use std::time::{Duration, Instant};

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or_else(|| ".".to_owned());
    let commits: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(500);
    let batch_bytes: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(60_000);
    let open = |name: &str| {
        OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(std::path::Path::new(&dir).join(name))
    };
    let mut data = open("probe-bets.csv")?;
    let mut journal = open("probe-bets.csv.journal")?;
    let block = vec![b'x'; batch_bytes];
    let line = [b'j'; 40];
    let mut commits_taken = Vec::with_capacity(commits);
    let mut data_syncs = Vec::with_capacity(commits);
    for _ in 0..commits {
        data.write_all(&block)?;
        let start = Instant::now();
        data.sync_data()?;
        let data_synced = Instant::now();
        journal.write_all(&line)?;
        journal.sync_data()?;
        data_syncs.push(data_synced - start);
        commits_taken.push(start.elapsed());
    }
    drop((data, journal));
    for name in ["probe-bets.csv", "probe-bets.csv.journal"] {
        std::fs::remove_file(std::path::Path::new(&dir).join(name))?;
    }
    println!(
        "{{\"commits\": {commits}, \"batch_bytes\": {batch_bytes}, \"commit_ms\": {}, \"data_fdatasync_ms\": {}}}",
        summary(&mut commits_taken),
        summary(&mut data_syncs)
    );
    Ok(())
}

/// `{"p50": .., "p90": .., "p99": .., "max": ..}` in milliseconds.
fn summary(samples: &mut [Duration]) -> String {
    samples.sort_unstable();
    let rank = |fraction: f64| {
        let index = ((fraction * samples.len() as f64).ceil() as usize).saturating_sub(1);
        samples.get(index).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    format!(
        "{{\"p50\": {:.3}, \"p90\": {:.3}, \"p99\": {:.3}, \"max\": {:.3}}}",
        rank(0.50),
        rank(0.90),
        rank(0.99),
        rank(1.0)
    )
}
