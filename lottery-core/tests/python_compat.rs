//! `bets.csv` is byte-for-byte what Python's `csv.writer` writes by default,
//! so the course's Python central reads our store and we read theirs.
//!
//! The vectors in `tests/data/` were generated once by
//! `tests/data/make_vectors.py` (checked in with them). When `python3` is on
//! the `PATH`, a live test also has Python read a store we wrote and write one
//! we adopt.

use std::fs;
use std::io::{self, Read};
use std::path::Path;
use std::process::Command;

use lottery_bet::{AgencyId, Bet, Birthdate, StoreRows, StoredBet, encode_store_rows};
use lottery_core::{BetMonitor, Durability};
use proptest::prelude::*;

const FIELDS: &str = include_str!("data/vectors_fields.tsv");
const PYTHON_CSV: &[u8] = include_bytes!("data/vectors_python.csv");

/// The six fields of each vector row, as text.
fn vector_fields() -> Vec<Vec<String>> {
    FIELDS
        .lines()
        .map(|line| line.split('\t').map(str::to_owned).collect())
        .collect()
}

fn stored_bet(fields: &[String]) -> StoredBet {
    let [agency, first, last, document, birthdate, number] = fields else {
        panic!("a vector row has six fields: {fields:?}");
    };
    StoredBet {
        agency: agency.parse().unwrap(),
        bet: Bet::from_fields(first, last, document, birthdate, number).unwrap(),
    }
}

fn fields_of(stored: &StoredBet) -> Vec<String> {
    vec![
        stored.agency.to_string(),
        stored.bet.first_name.to_string(),
        stored.bet.last_name.to_string(),
        stored.bet.document.to_string(),
        stored.bet.birthdate.to_string(),
        stored.bet.number.to_string(),
    ]
}

/// Consecutive rows of one agency, as the batches the monitor appends.
fn vector_batches() -> Vec<(AgencyId, Vec<Bet>)> {
    let mut batches: Vec<(AgencyId, Vec<Bet>)> = Vec::new();
    for fields in vector_fields() {
        let stored = stored_bet(&fields);
        match batches.last_mut() {
            Some((agency, bets)) if *agency == stored.agency => bets.push(stored.bet),
            _ => batches.push((stored.agency, vec![stored.bet])),
        }
    }
    batches
}

fn read_store_rows(bytes: impl Read) -> Vec<Vec<String>> {
    StoreRows::new(bytes)
        .map(|row| fields_of(&row.expect("the row parses")))
        .collect()
}

/// A fresh directory under the system's temporary directory, removed on drop.
fn temp_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("lottery-python-{name}-"))
        .tempdir()
        .expect("create a temporary directory")
}

#[test]
fn our_encoder_writes_the_python_vectors_byte_for_byte() {
    let mut ours = Vec::new();
    for (agency, bets) in vector_batches() {
        encode_store_rows(agency, &bets, &mut ours);
    }
    assert_eq!(
        String::from_utf8_lossy(&ours),
        String::from_utf8_lossy(PYTHON_CSV)
    );
    assert_eq!(ours, PYTHON_CSV);
}

#[test]
fn we_read_the_python_vectors_with_identical_fields() {
    assert_eq!(read_store_rows(PYTHON_CSV), vector_fields());
}

#[test]
fn the_monitor_writes_exactly_the_python_bytes_and_adopts_a_python_store() {
    let dir = temp_dir("monitor");
    let ours = dir.path().join("ours.csv");
    {
        let (monitor, _) = BetMonitor::open_file(&ours, Durability::Fsync).unwrap();
        for (index, (agency, bets)) in vector_batches().into_iter().enumerate() {
            monitor.append(agency, index as u64 + 1, &bets).unwrap();
        }
    }
    assert_eq!(fs::read(&ours).unwrap(), PYTHON_CSV);

    let theirs = dir.path().join("theirs.csv");
    fs::write(&theirs, PYTHON_CSV).unwrap();
    let (monitor, recovery) = BetMonitor::open_file(&theirs, Durability::Fsync).unwrap();
    assert_eq!(recovery.truncated_bytes, 0);
    let mut seen = Vec::new();
    monitor
        .scan(&mut |stored| seen.push(fields_of(&stored)))
        .unwrap();
    assert_eq!(seen, vector_fields());
    // Adopting never changes the course's file.
    assert_eq!(fs::read(&theirs).unwrap(), PYTHON_CSV);
}

fn python3() -> Option<Command> {
    let found = Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success());
    found.then(|| {
        let mut command = Command::new("python3");
        command
            .env("PYTHONUTF8", "1")
            .env("PYTHONIOENCODING", "utf-8");
        command
    })
}

/// The course's `load_bets`: `open(path, 'r')` and `csv.reader`; the rows are
/// printed tab-separated.
const PYTHON_LOAD_BETS: &str = r#"
import csv, sys
with open(sys.argv[1], 'r') as file:
    for row in csv.reader(file, quoting=csv.QUOTE_MINIMAL):
        sys.stdout.write('\t'.join(row) + '\n')
"#;

/// The course's `store_bets`: `open(path, 'a+')` and `csv.writer`, one
/// `writerow` a bet (the bets come tab-separated).
const PYTHON_STORE_BETS: &str = r#"
import csv, sys
with open(sys.argv[1], encoding='utf-8') as rows:
    bets = [line.rstrip('\n').split('\t') for line in rows]
with open(sys.argv[2], 'a+') as file:
    writer = csv.writer(file, quoting=csv.QUOTE_MINIMAL)
    for bet in bets:
        writer.writerow(bet)
"#;

fn run_python(mut python: Command, script: &str, args: &[&Path]) -> io::Result<String> {
    let output = python.arg("-c").arg(script).args(args).output()?;
    assert!(
        output.status.success(),
        "python3 failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8(output.stdout).expect("python printed UTF-8"))
}

#[test]
fn python_reads_our_store_and_we_read_a_store_python_wrote() {
    let Some(python) = python3() else {
        eprintln!("skipped: python3 is not on the PATH (the checked-in vectors still ran)");
        return;
    };
    let dir = temp_dir("live");

    let ours = dir.path().join("bets.csv");
    {
        let (monitor, _) = BetMonitor::open_file(&ours, Durability::Flush).unwrap();
        for (index, (agency, bets)) in vector_batches().into_iter().enumerate() {
            monitor.append(agency, index as u64 + 1, &bets).unwrap();
        }
    }
    let read_by_python = run_python(python, PYTHON_LOAD_BETS, &[&ours]).unwrap();
    assert_eq!(read_by_python, FIELDS);

    let tsv = dir.path().join("fields.tsv");
    fs::write(&tsv, FIELDS).unwrap();
    let theirs = dir.path().join("python-bets.csv");
    run_python(python3().unwrap(), PYTHON_STORE_BETS, &[&tsv, &theirs]).unwrap();
    assert_eq!(fs::read(&theirs).unwrap(), PYTHON_CSV);
    let (monitor, recovery) = BetMonitor::open_file(&theirs, Durability::Fsync).unwrap();
    let agency_one = recovery.agencies[&AgencyId::new(1).unwrap()];
    assert_eq!((agency_one.bets, agency_one.last_batch), (2, 0));
    let mut seen = Vec::new();
    monitor
        .scan(&mut |stored| seen.push(fields_of(&stored)))
        .unwrap();
    assert_eq!(seen, vector_fields());
}

/// A reader that hands out its bytes in the given chunk sizes (cycled).
struct Chunked<'a> {
    bytes: &'a [u8],
    sizes: Vec<usize>,
    next: usize,
}

impl Read for Chunked<'_> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let size = self.sizes[self.next % self.sizes.len()]
            .min(buffer.len())
            .min(self.bytes.len());
        self.next += 1;
        buffer[..size].copy_from_slice(&self.bytes[..size]);
        self.bytes = &self.bytes[size..];
        Ok(size)
    }
}

fn name() -> impl Strategy<Value = String> {
    // Commas, quotes, spaces, accents, wide characters: everything a name may
    // hold that CSV must quote or carry through.
    "[a-zA-Z ,\"'#;áéíóúñÑüÆß你好🎲\\\\]{1,40}"
        .prop_filter("a valid name: no space at an end", |text| {
            text.trim() == text
        })
}

fn bet() -> impl Strategy<Value = Bet> {
    (
        name(),
        name(),
        "[0-9]{1,20}",
        (1u16..=9999, 1u8..=12, 1u8..=31),
        0u32..=9999,
    )
        .prop_filter_map(
            "a real date",
            |(first, last, document, (year, month, day), number)| {
                let birthdate = Birthdate::new(year, month, day).ok()?;
                Bet::from_fields(
                    &first,
                    &last,
                    &document,
                    &birthdate.to_string(),
                    &number.to_string(),
                )
                .ok()
            },
        )
}

proptest! {
    #[test]
    fn arbitrary_bets_round_trip_through_store_rows_in_any_chunking(
        batches in prop::collection::vec((1u32..=u32::MAX, prop::collection::vec(bet(), 0..6)), 1..5),
        sizes in prop::collection::vec(1usize..64, 1..8),
    ) {
        let mut bytes = Vec::new();
        let mut expected = Vec::new();
        for (agency, bets) in &batches {
            let agency = AgencyId::new(*agency).unwrap();
            let before = bytes.len();
            encode_store_rows(agency, bets, &mut bytes);
            // Every row ends with CRLF and nothing else does.
            let rows = &bytes[before..];
            prop_assert_eq!(rows.windows(2).filter(|pair| pair == b"\r\n").count(), bets.len());
            prop_assert_eq!(rows.iter().filter(|&&b| b == b'\n').count(), bets.len());
            expected.extend(bets.iter().map(|bet| StoredBet { agency, bet: bet.clone() }));
        }
        let whole: Vec<StoredBet> = StoreRows::new(&bytes[..]).map(Result::unwrap).collect();
        prop_assert_eq!(&whole, &expected);
        let chunked: Vec<StoredBet> = StoreRows::new(Chunked { bytes: &bytes, sizes, next: 0 })
            .map(Result::unwrap)
            .collect();
        prop_assert_eq!(&chunked, &expected);
    }
}
