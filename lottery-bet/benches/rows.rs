//! Reading rows, in rows per second: [`StoreRows`] over a `bets.csv` (what
//! recovery and `BetMonitor::scan` read) and [`AgencyFile`] over an agency
//! file, both generated in memory from course-like bets, with CRLF line ends
//! as Python writes them.
//!
//! Each reader runs [`RUNS`] times over the same bytes; the table shows the
//! median run (and the slowest and fastest). Wall time on a shared machine
//! moves; the instructions do not:
//!
//! ```sh
//! cargo bench -p lottery-core --bench rows --no-run
//! valgrind --tool=callgrind --toggle-collect='rows::scan_store' \
//!     target/release/deps/rows-HASH store
//! ```
//!
//! Run: `cargo bench -p lottery-core --bench rows`; `-- store` or `-- agency`
//! keeps one reader; `ROWS_BENCH_BETS=N` sets the rows per file (100,000).

use std::hint::black_box;
use std::time::Instant;

use lottery_bet::{AgencyFile, AgencyId, Bet, StoreRows, encode_store_rows};

/// Runs of each reader.
const RUNS: usize = 7;

/// Names of the course's files: most ASCII, some accented.
const FIRST_NAMES: [&str; 6] = [
    "Santiago Lionel",
    "Agustin Emanuel",
    "Tiago Nicolás",
    "María José",
    "Joaquín",
    "Valentina",
];

/// Last names; one in ten rows has one that must be quoted.
const LAST_NAMES: [&str; 5] = ["Lorca", "Zambrano", "Rivera", "Gómez", "Núñez"];

/// `count` course-like bets, the same on every run.
fn bets(count: usize) -> Vec<Bet> {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        // xorshift64: deterministic and dependency-free.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..count)
        .map(|index| {
            let first = FIRST_NAMES[(next() % 6) as usize];
            let last = if index % 10 == 0 {
                "Pérez, \"Pepe\""
            } else {
                LAST_NAMES[(next() % 5) as usize]
            };
            let document = 20_000_000 + next() % 30_000_000;
            let birthdate = format!(
                "{}-{:02}-{:02}",
                1950 + next() % 55,
                1 + next() % 12,
                1 + next() % 28
            );
            let number = next() % 10_000;
            Bet::from_fields(
                first,
                last,
                &document.to_string(),
                &birthdate,
                &number.to_string(),
            )
            .expect("a valid bet")
        })
        .collect()
}

/// A reader of rows from bytes; returns how many parsed.
type Reader = fn(&[u8]) -> usize;

/// Reads every row of a `bets.csv`; returns how many parsed.
#[inline(never)]
fn scan_store(bytes: &[u8]) -> usize {
    let mut rows = 0;
    for row in StoreRows::new(bytes) {
        black_box(row.expect("a row we wrote parses"));
        rows += 1;
    }
    rows
}

/// Reads every row of an agency file; returns how many parsed.
#[inline(never)]
fn read_agency(bytes: &[u8]) -> usize {
    let mut rows = 0;
    for row in AgencyFile::from_reader("agency-1.csv", bytes) {
        black_box(row.expect("a row we wrote parses"));
        rows += 1;
    }
    rows
}

fn main() {
    // `cargo bench` passes `--bench`; every other word filters the readers.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|word| !word.starts_with("--"))
        .collect();
    let count = std::env::var("ROWS_BENCH_BETS")
        .ok()
        .map_or(100_000, |text| {
            text.parse().expect("ROWS_BENCH_BETS is a count")
        });
    let bets = bets(count);
    let mut store = Vec::new();
    encode_store_rows(AgencyId::new(1).expect("1 is an agency"), &bets, &mut store);
    // An agency row is a store row without its agency (`1,`).
    let agency: Vec<u8> = store
        .split_inclusive(|&byte| byte == b'\n')
        .flat_map(|row| &row[2..])
        .copied()
        .collect();
    println!("reading rows, {count} rows a file, median of {RUNS} runs (min .. max)");
    println!("{:<7} {:>12} {:>27}", "reader", "rows/s", "range");
    let readers: [(&str, Reader, &[u8]); 2] = [
        ("store", scan_store, &store),
        ("agency", read_agency, &agency),
    ];
    for (label, read, bytes) in readers {
        if !filters.is_empty() && !filters.iter().any(|filter| filter == label) {
            continue;
        }
        let mut rates: Vec<f64> = (0..RUNS)
            .map(|_| {
                let start = Instant::now();
                assert_eq!(read(bytes), count);
                count as f64 / start.elapsed().as_secs_f64()
            })
            .collect();
        rates.sort_by(f64::total_cmp);
        println!(
            "{label:<7} {:>12.0} {:>12.0} .. {:>12.0}",
            rates[RUNS / 2],
            rates[0],
            rates[RUNS - 1]
        );
    }
}
