//! Store integrity with the real binaries: what a careless operator or a
//! hostile disk does to a store is refused loudly and changes nothing; what a
//! crash leaves is repaired without losing a byte (the cut bytes are kept in
//! quarantine); a drawn store is never drawn again.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::{RawAgency, SAFETY_TIMEOUT, agency_batches, scratch_dir};
use lottery_net::{AgencyMessage, CentralMessage};

const SERVER: &str = env!("CARGO_BIN_EXE_lottery-server");
const ADMIN: &str = env!("CARGO_BIN_EXE_lottery-admin");

/// A `lottery-server` on `dir/bets.csv`, logging to a file.
struct Central {
    child: Child,
    log: PathBuf,
}

fn server_command(dir: &Path, agencies: u32, extra: &[&str]) -> Command {
    let mut command = Command::new(SERVER);
    command
        .args(["--listen", "127.0.0.1:0", "--threads", "1"])
        .args(["--agencies", &agencies.to_string()])
        .arg("--store")
        .arg(dir.join("bets.csv"))
        .args(["--log-level", "INFO"])
        .args(extra)
        .env_remove("LOGGING_LEVEL")
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    command
}

impl Central {
    fn start(dir: &Path, agencies: u32, name: &str) -> Self {
        let log = dir.join(format!("{name}.log"));
        let child = server_command(dir, agencies, &[])
            .stderr(fs::File::create(&log).expect("create the log"))
            .spawn()
            .expect("start lottery-server");
        Self { child, log }
    }

    fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn address(&mut self) -> std::net::SocketAddr {
        const LISTEN: &str = "action: accept_connections | result: in_progress | listen: ";
        let deadline = Instant::now() + SAFETY_TIMEOUT;
        loop {
            let log = self.log();
            if let Some(at) = log.find(LISTEN) {
                let rest = &log[at + LISTEN.len()..];
                let end = rest.find([' ', '\n']).unwrap_or(rest.len());
                return rest[..end].parse().expect("an address");
            }
            if let Some(status) = self.child.try_wait().expect("poll the child") {
                panic!("lottery-server exited ({status}):\n{log}");
            }
            assert!(Instant::now() < deadline, "no start:\n{log}");
            thread::sleep(Duration::from_millis(10));
        }
    }

    fn stop(mut self) -> String {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
        let status = self.child.wait().expect("wait for the central");
        assert!(status.success(), "exit {status}:\n{}", self.log());
        self.log()
    }
}

impl Drop for Central {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a central that must refuse to start: returns its exit code and log.
fn refused(dir: &Path, agencies: u32, extra: &[&str]) -> (Option<i32>, String) {
    let Output { status, stderr, .. } = server_command(dir, agencies, extra)
        .stderr(Stdio::piped())
        .output()
        .expect("run lottery-server");
    (status.code(), String::from_utf8_lossy(&stderr).into_owned())
}

fn verify(dir: &Path) -> (Option<i32>, String) {
    let output = Command::new(ADMIN)
        .args(["verify", "--store"])
        .arg(dir.join("bets.csv"))
        .output()
        .expect("run lottery-admin");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code(), text)
}

/// Every file of the store, by name, with its bytes.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with("bets.csv") && !name.ends_with(".lock")
        })
        .map(|path| {
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                fs::read(&path).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

/// Sends `batches` batches of `per_batch` bets as `agency`; returns the
/// bets acked.
fn send(addr: std::net::SocketAddr, agency: u32, batches: u64, per_batch: usize) -> u64 {
    let (mut raw, _) = RawAgency::hello(addr, agency);
    let mut acked = 0;
    for (index, bets) in agency_batches(agency, batches, per_batch)
        .into_iter()
        .enumerate()
    {
        raw.send(&AgencyMessage::Batch {
            batch: index as u64 + 1,
            bets,
        });
        match raw.recv() {
            Some(CentralMessage::Ack { bets_stored, .. }) => acked = bets_stored,
            other => panic!("agency {agency}: expected an Ack, got {other:?}"),
        }
    }
    raw.close();
    acked
}

/// Finishes `agency` with `bets` bets and, when `last`, reads its winners.
fn finish(addr: std::net::SocketAddr, agency: u32, bets: u64) {
    let (mut raw, _) = RawAgency::hello(addr, agency);
    raw.send(&AgencyMessage::Finish { bets_sent: bets });
    match raw.recv() {
        Some(CentralMessage::Finished { .. }) => {}
        other => panic!("agency {agency}: expected Finished, got {other:?}"),
    }
    raw.close();
}

/// A store of 2 agencies with a few batches each; drawn when `drawn`.
fn store_with_bets(test: &str, drawn: bool) -> PathBuf {
    let dir = scratch_dir(test);
    let mut central = Central::start(&dir, 2, "first");
    let addr = central.address();
    let first = send(addr, 1, 6, 20);
    let second = send(addr, 2, 4, 20);
    if drawn {
        finish(addr, 1, first);
        finish(addr, 2, second);
    }
    let log = central.stop();
    assert_eq!(
        log.contains("action: sorteo | result: success"),
        drawn,
        "{log}"
    );
    dir
}

fn lines_with<'a>(log: &'a str, text: &str) -> Vec<&'a str> {
    log.lines().filter(|line| line.contains(text)).collect()
}

#[test]
fn a_second_central_on_a_store_in_use_exits_at_once_and_changes_nothing() {
    let dir = scratch_dir("integrity_second_central");
    let mut first = Central::start(&dir, 2, "first");
    let addr = first.address();
    // Ingest keeps going while a second central is started on the store,
    // over and over: each must exit 1 naming the store and the holder.
    let ingest = thread::spawn(move || send(addr, 1, 60, 30));
    let store = dir.join("bets.csv");
    let mut refusals = 0;
    while !ingest.is_finished() || refusals == 0 {
        let (code, log) = refused(&dir, 2, &[]);
        assert_eq!(code, Some(1), "{log}");
        assert!(log.contains("in use by another central"), "{log}");
        assert!(log.contains(&store.display().to_string()), "{log}");
        assert!(
            log.contains(&format!("process {}", first.child.id())),
            "{log}"
        );
        refusals += 1;
    }
    let acked = ingest.join().unwrap();
    assert_eq!(acked, 60 * 30);
    let second = send(addr, 2, 2, 30);
    finish(addr, 1, acked);
    finish(addr, 2, second);
    first.stop();
    // Every acked bet is there, the store is whole, nothing was repaired.
    let (code, report) = verify(&dir);
    assert_eq!(code, Some(0), "{report}");
    assert!(report.contains("bets: 1860"), "{report}");
    assert!(report.contains("draw: 1860 bets"), "{report}");
    assert!(
        !snapshot(&dir)
            .iter()
            .any(|(name, _)| name.contains("quarantine"))
    );
}

#[test]
fn a_store_reopened_with_other_rules_is_refused_and_left_as_it_is() {
    for drawn in [false, true] {
        let dir = store_with_bets("integrity_rules", drawn);
        let before = snapshot(&dir);
        for extra in [&["--winning-number", "1234"][..], &[][..]] {
            let agencies = if extra.is_empty() { 7 } else { 2 };
            let (code, log) = refused(&dir, agencies, extra);
            assert_eq!(code, Some(1), "drawn {drawn}, {extra:?}: {log}");
            assert!(
                log.contains("the store was created for 2 agencies and winning number 7574"),
                "drawn {drawn}, {extra:?}: {log}"
            );
            assert_eq!(snapshot(&dir), before, "drawn {drawn}, {extra:?}");
        }
    }
}

#[test]
fn a_changed_byte_in_a_committed_row_is_refused_naming_the_batch() {
    let dir = store_with_bets("integrity_flip", true);
    let store = dir.join("bets.csv");
    let mut bytes = fs::read(&store).unwrap();
    // The last digit of the number of a row in the middle (rows end in CRLF).
    let middle = bytes.len() / 2;
    let line_end = middle + bytes[middle..].iter().position(|&b| b == b'\r').unwrap();
    bytes[line_end - 1] = if bytes[line_end - 1] == b'1' {
        b'2'
    } else {
        b'1'
    };
    fs::write(&store, &bytes).unwrap();
    let before = snapshot(&dir);
    let (code, log) = refused(&dir, 2, &[]);
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("fails its checksum at journal line"), "{log}");
    assert!(log.contains("(agency "), "{log}");
    let (code, report) = verify(&dir);
    assert_eq!(code, Some(1), "{report}");
    assert!(report.contains("fails its checksum"), "{report}");
    assert_eq!(snapshot(&dir), before);
}

#[test]
fn a_missing_data_file_or_journal_is_refused_and_nothing_is_created() {
    for drawn in [false, true] {
        // bets.csv deleted, its journal kept.
        let dir = store_with_bets("integrity_missing_data", drawn);
        fs::remove_file(dir.join("bets.csv")).unwrap();
        let before = snapshot(&dir);
        let (code, log) = refused(&dir, 2, &[]);
        assert_eq!(code, Some(1), "{log}");
        assert!(log.contains("bets.csv is missing"), "{log}");
        assert_eq!(snapshot(&dir), before, "nothing created");
        assert_eq!(verify(&dir).0, Some(1));
        // The journal deleted, bets.csv kept: never reopened as a new
        // lottery (and a drawn one never drawn again).
        let dir = store_with_bets("integrity_missing_journal", drawn);
        fs::remove_file(dir.join("bets.csv.journal")).unwrap();
        let before = snapshot(&dir);
        let (code, log) = refused(&dir, 2, &[]);
        assert_eq!(code, Some(1), "{log}");
        assert!(
            log.contains("journal (bets.csv.journal) is missing"),
            "{log}"
        );
        assert_eq!(snapshot(&dir), before);
        assert_eq!(verify(&dir).0, Some(1));
    }
}

#[test]
fn a_cut_journal_loses_no_byte_and_never_draws_twice() {
    for drawn in [false, true] {
        let dir = store_with_bets("integrity_cut_journal_probe", drawn);
        let journal = fs::read(dir.join("bets.csv.journal")).unwrap();
        let data = fs::read(dir.join("bets.csv")).unwrap();
        let manifest = fs::read(dir.join("bets.csv.lottery")).unwrap();
        // Cut inside the header, after a few records, in the middle of one.
        for cut in [
            5,
            journal.len() / 3,
            journal.len() / 2 + 7,
            journal.len() - 1,
        ] {
            let case = format!("drawn {drawn}, journal cut at {cut}");
            let dir = scratch_dir("integrity_cut_journal");
            fs::write(dir.join("bets.csv"), &data).unwrap();
            fs::write(dir.join("bets.csv.lottery"), &manifest).unwrap();
            fs::write(dir.join("bets.csv.journal"), &journal[..cut]).unwrap();
            if drawn || cut < 18 {
                // Under a recorded draw (or with a broken header) no crash
                // explains it: refused, nothing changed.
                let before = snapshot(&dir);
                let (code, log) = refused(&dir, 2, &[]);
                assert_eq!(code, Some(1), "{case}: {log}");
                let (code, report) = verify(&dir);
                assert_eq!(code, Some(1), "{case}: {report}");
                assert_eq!(snapshot(&dir), before, "{case}");
                continue;
            }
            // Before the central: verify sees the tail and says the store is
            // not whole (and changes nothing).
            let (code, report) = verify(&dir);
            assert_eq!(code, Some(1), "{case}: {report}");
            assert!(report.contains("not whole"), "{case}: {report}");
            let mut central = Central::start(&dir, 2, "reopened");
            central.address();
            let log = central.stop();
            assert!(!log.contains("sorteo"), "{case}: {log}");
            let repairs = lines_with(&log, "action: repair_store | result: success");
            assert_eq!(repairs.len(), 1, "{case}: {log}");
            // Whole batches went: at ERROR, and every byte is in quarantine.
            assert!(repairs[0].contains("ERROR"), "{case}: {log}");
            let kept = fs::read(dir.join("bets.csv")).unwrap();
            let quarantine = fs::read(dir.join("bets.csv.quarantine-1")).unwrap();
            assert_eq!([&kept[..], &quarantine[..]].concat(), data, "{case}");
            assert_eq!(verify(&dir).0, Some(0), "{case}");
        }
    }
}
