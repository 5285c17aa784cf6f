//! Store integrity with the real binaries: what a careless operator or a
//! hostile disk does to a store is refused loudly and changes nothing; what a
//! crash leaves is repaired without losing a byte (the cut bytes are kept in
//! quarantine); a drawn store is never drawn again.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
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
    server_command_at(&dir.join("bets.csv"), agencies, extra)
}

/// A `lottery-server` on `store`, any name of a store.
fn server_command_at(store: &Path, agencies: u32, extra: &[&str]) -> Command {
    let mut command = Command::new(SERVER);
    command
        .args(["--listen", "127.0.0.1:0", "--threads", "1"])
        .args(["--agencies", &agencies.to_string()])
        .arg("--store")
        .arg(store)
        .args(["--log-level", "INFO"])
        .args(extra)
        .env_remove("LOGGING_LEVEL")
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    command
}

impl Central {
    fn start(dir: &Path, agencies: u32, name: &str) -> Self {
        Self::start_at(&dir.join("bets.csv"), agencies, name)
    }

    fn start_at(store: &Path, agencies: u32, name: &str) -> Self {
        let dir = store.parent().expect("a store in a directory");
        let log = dir.join(format!("{name}.log"));
        let child = server_command_at(store, agencies, &[])
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
    run_to_exit(server_command(dir, agencies, extra), dir)
}

/// Runs `command` (a central) to its exit: its exit code and log. One that
/// is still running after the safety timeout (it started, where it should
/// have refused) is killed, and its code is `None`: the test fails instead
/// of waiting for ever.
fn run_to_exit(mut command: Command, dir: &Path) -> (Option<i32>, String) {
    let log = dir.join(format!("refused-{}.log", std::process::id()));
    let mut child = command
        .stderr(fs::File::create(&log).expect("create the log"))
        .spawn()
        .expect("run lottery-server");
    let deadline = Instant::now() + SAFETY_TIMEOUT;
    let code = loop {
        if let Some(status) = child.try_wait().expect("poll the child") {
            break status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(10));
    };
    let text = fs::read_to_string(&log).unwrap_or_default();
    let _ = fs::remove_file(&log);
    (code, text)
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

/// Runs a central on `store` (any name of a store) that must refuse to
/// start: returns its exit code and log.
fn refused_at(store: &Path, agencies: u32) -> (Option<i32>, String) {
    let command = server_command_at(store, agencies, &[]);
    run_to_exit(command, store.parent().expect("a store in a directory"))
}

#[test]
fn a_second_central_on_another_name_of_the_store_exits_at_once_and_changes_nothing() {
    let dir = scratch_dir("integrity_other_name");
    let mut first = Central::start(&dir, 2, "first");
    let addr = first.address();
    send(addr, 1, 3, 20);
    let other = dir.join("other");
    fs::create_dir(&other).unwrap();
    std::os::unix::fs::symlink(dir.join("bets.csv"), other.join("alias.csv")).unwrap();
    std::os::unix::fs::symlink(&dir, other.join("up")).unwrap();
    fs::hard_link(dir.join("bets.csv"), other.join("hard.csv")).unwrap();
    let before = snapshot(&dir);
    // A link to the file, a path through a linked directory, a hard link:
    // each is the same store, held by the first central. (Before, a link
    // was taken for a course store without journal and adopted beside it.)
    for name in ["alias.csv", "up/bets.csv", "hard.csv"] {
        let store = other.join(name);
        let (code, log) = refused_at(&store, 2);
        assert_eq!(code, Some(1), "{name}: {log}");
        assert!(log.contains("in use by another central"), "{name}: {log}");
        assert!(log.contains(&store.display().to_string()), "{name}: {log}");
        if name != "hard.csv" {
            // Only a hard link's lock file is not the holder's.
            let holder = format!("process {}", first.child.id());
            assert!(log.contains(&holder), "{name}: {log}");
        }
        assert_eq!(snapshot(&dir), before, "{name}");
    }
    let names: Vec<String> = fs::read_dir(&other)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains(".journal") || name.contains(".lottery"))
        .collect();
    assert!(
        names.is_empty(),
        "no store started beside a link: {names:?}"
    );
    // The first central goes on as if nothing happened.
    assert_eq!(send(addr, 2, 2, 20), 40);
    first.stop();
    let (code, report) = verify(&dir);
    assert_eq!(code, Some(0), "{report}");
    assert!(report.contains("bets: 100"), "{report}");
}

#[test]
fn a_manifest_that_lost_its_rules_is_refused_whatever_the_rules_given() {
    for drawn in [false, true] {
        let dir = store_with_bets("integrity_rules_lost", drawn);
        // A central records its rules before any bet, so a journal with
        // finishes under a manifest without rules is no crash's doing: with
        // other rules, the drawn store would be drawn anew.
        finish_all_but_drawn(&dir, drawn);
        fs::write(dir.join("bets.csv.lottery"), b"lottery-store 1\n").unwrap();
        let before = snapshot(&dir);
        for (agencies, extra) in [
            (2, &["--winning-number", "1234"][..]),
            (7, &[][..]),
            (2, &[][..]),
        ] {
            let case = format!("drawn {drawn}, {agencies} agencies {extra:?}");
            let (code, log) = refused(&dir, agencies, extra);
            assert_eq!(code, Some(1), "{case}: {log}");
            assert!(log.contains("holds no rules"), "{case}: {log}");
            assert!(
                !log.contains("sorteo") && !log.contains("recover_draw"),
                "{case}: {log}"
            );
            assert_eq!(snapshot(&dir), before, "{case}");
        }
        let (code, report) = verify(&dir);
        assert_eq!(code, Some(1), "drawn {drawn}: {report}");
        assert!(report.contains("holds no rules"), "drawn {drawn}: {report}");
    }
}

/// Finishes agency 1 of an undrawn store from `store_with_bets` (a drawn
/// one has every finish already), so that the journal records a finish.
fn finish_all_but_drawn(dir: &Path, drawn: bool) {
    if drawn {
        return;
    }
    let mut central = Central::start(dir, 2, "finish");
    let addr = central.address();
    finish(addr, 1, 6 * 20);
    central.stop();
}

#[test]
fn a_central_refused_for_too_few_agencies_leaves_no_rules_behind() {
    let dir = store_with_bets("integrity_rules_not_left", false);
    // A course store (its rows alone) adopted by a central expecting fewer
    // agencies than it holds: refused, and the right count still opens it.
    for file in ["bets.csv.journal", "bets.csv.lottery"] {
        fs::remove_file(dir.join(file)).unwrap();
    }
    let (code, log) = refused(&dir, 1, &[]);
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("agency 2 is not expected"), "{log}");
    let manifest = fs::read_to_string(dir.join("bets.csv.lottery")).unwrap();
    assert!(!manifest.contains("rules"), "{manifest}");
    let mut central = Central::start(&dir, 2, "right");
    central.address();
    let log = central.stop();
    assert!(log.contains("bets: 200"), "{log}");
    let (code, report) = verify(&dir);
    assert_eq!(code, Some(0), "{report}");
    assert!(report.contains("rules: 2 agencies"), "{report}");
}

#[test]
fn verify_refuses_a_draw_record_that_the_rows_do_not_give() {
    let dir = store_with_bets("integrity_draw_record", true);
    let manifest = fs::read_to_string(dir.join("bets.csv.lottery")).unwrap();
    let rules = manifest.lines().nth(1).unwrap().to_owned();
    let draw = manifest.lines().nth(2).unwrap().to_owned();
    let mut fields: Vec<&str> = draw.split(' ').collect();
    let bets: u64 = fields[1].parse().unwrap();
    let one_less = (bets - 1).to_string();
    let mut counted = fields.clone();
    counted[1] = &one_less;
    let winners = "9,9".to_owned();
    fields[4] = &winners;
    // Each edit keeps the chain head (it is not under the chain), and the
    // central refuses each: verify must too, naming the draw.
    let edits = [
        (
            "bets counted",
            format!("lottery-store 1\n{rules}\n{}\n", counted.join(" ")),
            &[][..],
        ),
        (
            "winners",
            format!("lottery-store 1\n{rules}\n{}\n", fields.join(" ")),
            &[][..],
        ),
        (
            "winning number",
            format!("lottery-store 1\n{}\n{draw}\n", rules.replace("7574", "1")),
            &["--winning-number", "1"][..],
        ),
    ];
    for (what, text, extra) in edits {
        fs::write(dir.join("bets.csv.lottery"), text).unwrap();
        let before = snapshot(&dir);
        let (code, report) = verify(&dir);
        assert_eq!(code, Some(1), "{what}: {report}");
        assert!(report.contains("it records a draw of"), "{what}: {report}");
        let (code, log) = refused(&dir, 2, extra);
        assert_eq!(code, Some(1), "{what}: {log}");
        assert!(log.contains("it records a draw of"), "{what}: {log}");
        assert_eq!(snapshot(&dir), before, "{what}");
    }
    fs::write(dir.join("bets.csv.lottery"), &manifest).unwrap();
    assert_eq!(verify(&dir).0, Some(0));
}

#[test]
fn verify_refuses_a_draw_record_with_an_agency_unfinished() {
    let drawn = store_with_bets("integrity_draw_unfinished_drawn", true);
    let dir = store_with_bets("integrity_draw_unfinished", false);
    // The undrawn store with agency 1 finished, under a draw line that
    // vouches for its very journal: agency 2 never finished.
    finish_all_but_drawn(&dir, false);
    let (_, report) = verify(&dir);
    let head = report
        .lines()
        .find_map(|line| line.strip_prefix("chain head: "))
        .unwrap()
        .to_owned();
    let manifest = fs::read_to_string(drawn.join("bets.csv.lottery")).unwrap();
    let draw: Vec<&str> = manifest.lines().nth(2).unwrap().split(' ').collect();
    let text = format!(
        "lottery-store 1\nrules 2 7574\ndraw {} {} {head} {}\n",
        draw[1], draw[2], draw[4]
    );
    fs::write(dir.join("bets.csv.lottery"), text).unwrap();
    let before = snapshot(&dir);
    let (code, report) = verify(&dir);
    assert_eq!(code, Some(1), "{report}");
    assert!(
        report.contains("only 1 of its 2 agencies finished"),
        "{report}"
    );
    let (code, log) = refused(&dir, 2, &[]);
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("not every agency's finish"), "{log}");
    assert_eq!(snapshot(&dir), before);
}

#[test]
fn a_store_opened_through_a_link_to_its_data_file_is_the_store_itself() {
    let dir = store_with_bets("integrity_through_a_link", true);
    std::os::unix::fs::symlink("bets.csv", dir.join("alias.csv")).unwrap();
    let before = snapshot(&dir);
    // Its journal and manifest are found beside where the link leads: the
    // drawn store stays drawn (before, a link's name found no journal, the
    // rows were adopted as a course store's, and the lottery reopened).
    let alias = dir.join("alias.csv");
    let (code, report) = {
        let output = Command::new(ADMIN)
            .args(["verify", "--store"])
            .arg(&alias)
            .output()
            .expect("run lottery-admin");
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
        )
    };
    assert_eq!(code, Some(0), "{report}");
    assert!(report.contains("draw: 200 bets"), "{report}");
    let mut central = Central::start_at(&alias, 2, "through-link");
    let addr = central.address();
    let (raw, welcome) = RawAgency::hello(addr, 1);
    assert_eq!(welcome, (6, 120, true), "agency 1 as the store holds it");
    raw.close();
    let log = central.stop();
    assert!(
        log.contains("action: recover_draw | result: success"),
        "{log}"
    );
    assert!(
        !log.contains("adopt_store") && !log.contains("sorteo"),
        "{log}"
    );
    assert_eq!(snapshot(&dir), before);
    assert!(!dir.join("alias.csv.journal").exists());
}

#[test]
fn an_edited_finish_record_is_refused_naming_the_agency_and_its_finish() {
    let dir = store_with_bets("integrity_finish_edited", false);
    finish_all_but_drawn(&dir, false);
    let journal = fs::read_to_string(dir.join("bets.csv.journal")).unwrap();
    let edited = journal.replace("\nfinish 1 120 ", "\nfinish 1 119 ");
    assert_ne!(edited, journal, "{journal}");
    fs::write(dir.join("bets.csv.journal"), edited).unwrap();
    let before = snapshot(&dir);
    let (code, log) = refused(&dir, 2, &[]);
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("(agency 1, its finish record)"), "{log}");
    let (code, report) = verify(&dir);
    assert_eq!(code, Some(1), "{report}");
    assert!(report.contains("(agency 1, its finish record)"), "{report}");
    assert_eq!(snapshot(&dir), before);
}
