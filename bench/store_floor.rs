//! The CPU floor of storing the course run's bytes: what the kernel takes to
//! append `WRITES` blocks of `BYTES` to a fresh `bets.csv` (one write each)
//! and a journal line per block to a fresh journal (a group's lines in one
//! write), syncing both (`fdatasync`) every `WRITES / GROUPS` blocks, as the
//! central's group commit does, with no
//! central, no network and no lottery around it. Run it under
//! `perf stat -e task-clock` beside the central's own figure (BENCHMARKS.md,
//! "What sets each number"). Built with plain `rustc` (no dependencies).
//!
//! Usage: `store_floor DIR [WRITES] [BYTES] [GROUPS]` (defaults: the course
//! run's 414 batches of 9,213 bytes in 22 groups).

use std::fs::OpenOptions;
use std::io::Write;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or_else(|| ".".to_owned());
    let mut number = |default: usize| -> usize {
        args.next().and_then(|n| n.parse().ok()).unwrap_or(default)
    };
    let writes = number(414);
    let bytes = number(9_213);
    let groups = number(22).max(1);
    let open = |name: &str| {
        OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(std::path::Path::new(&dir).join(name))
    };
    let mut data = open("floor-bets.csv")?;
    let mut journal = open("floor-bets.csv.journal")?;
    let block = vec![b'x'; bytes];
    // A journal record a batch, the group's records in one write, as the
    // group commit's leader appends them.
    let mut records = Vec::new();
    let per_group = writes.div_ceil(groups);
    for taken in 1..=writes {
        data.write_all(&block)?;
        records.extend_from_slice(&[b'j'; 120]);
        if taken % per_group == 0 || taken == writes {
            journal.write_all(&records)?;
            records.clear();
            data.sync_data()?;
            journal.sync_data()?;
        }
    }
    Ok(())
}
