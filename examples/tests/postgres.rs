//! A central on PostgreSQL with real agencies: the `lottery-server` binary
//! with `--store postgres://...` (a schema of its own on the test server)
//! and five `lottery-agency` processes on the course data (or the synthetic
//! data set when it is absent): every agency gets its right winners, the
//! central draws once, and `lottery-admin export` writes the bytes Python's
//! `csv.writer` writes for those rows, each agency's in the order it sent
//! them.
//!
//! Then several centrals on one database: two centrals, five agencies with
//! `--server A,B`, the first central killed with SIGKILL mid-run (every
//! agency finishes on the second with its right winners, every bet stored
//! exactly once, one `sorteo` across both logs, the export byte-exact); and
//! the database restarted (`pg_ctl restart -m fast`) under a running
//! central: nothing lost or doubled.
//!
//! Needs `LOTTERY_TEST_POSTGRES` (and `python3` for the byte check; the
//! restart also `LOTTERY_TEST_POSTGRES_DATA` and `LOTTERY_TEST_POSTGRES_BIN`,
//! which `scripts/pg-test-cluster.sh` exports).

#[path = "../../lottery-pg/tests/common/mod.rs"]
mod pg_common;
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use lottery_bet::{AgencyFile, Bet, BetNumber};
use lottery_examples::synthetic::SyntheticDataSet;

use pg_common::{Schema, postgres_url};
use support::{Central, admin_bin, log_values, run, run_agency, workspace_root};

/// The test server, shared by the tests of this file, which run in
/// parallel: the one that restarts it holds it alone, so that no other
/// test's central sees the restart (its log would then show resends).
static SERVER: RwLock<()> = RwLock::new(());

/// The server, shared with the other tests that do not restart it.
fn shared_server() -> RwLockReadGuard<'static, ()> {
    SERVER
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The server, alone (to restart it).
fn server_alone() -> RwLockWriteGuard<'static, ()> {
    SERVER
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The agencies' input files: the course's when they are there.
fn input_files(generated: &Path) -> Vec<PathBuf> {
    let shared = workspace_root().join("../shared/data");
    if shared.join("agency-1.csv").is_file() {
        (1..=5)
            .map(|id| shared.join(format!("agency-{id}.csv")))
            .collect()
    } else {
        eprintln!(
            "{} not found: the synthetic data set instead",
            shared.display()
        );
        SyntheticDataSet::default()
            .write_agency_files(generated)
            .unwrap()
    }
}

fn read_bets(path: &Path) -> Vec<Bet> {
    AgencyFile::open(path)
        .unwrap()
        .map(|bet| bet.expect("the input is valid"))
        .collect()
}

/// What Python's `csv.writer` writes for `inputs` (agency `i + 1`'s bets,
/// in order), each row `agency,first_name,last_name,document,birthdate,number`.
fn python_csv(inputs: &[Vec<Bet>], dir: &Path) -> Vec<u8> {
    let rows = dir.join("rows.jsonl");
    let mut json = String::new();
    for (index, bets) in inputs.iter().enumerate() {
        for bet in bets {
            let row = serde_json::json!([
                index + 1,
                bet.first_name.as_str(),
                bet.last_name.as_str(),
                bet.document.as_str(),
                bet.birthdate.to_string(),
                bet.number.get(),
            ]);
            json.push_str(&row.to_string());
            json.push('\n');
        }
    }
    std::fs::write(&rows, json).unwrap();
    let out = dir.join("python.csv");
    let script = "import csv, json, sys\n\
        with open(sys.argv[1], encoding='utf-8') as rows, \
             open(sys.argv[2], 'w', newline='', encoding='utf-8') as out:\n\
        \x20   writer = csv.writer(out)\n\
        \x20   for line in rows:\n\
        \x20       writer.writerow(json.loads(line))\n";
    let status = Command::new("python3")
        .args(["-c", script])
        .arg(&rows)
        .arg(&out)
        .status()
        .expect("python3 runs (CI installs it)");
    assert!(status.success());
    std::fs::read(out).unwrap()
}

/// Runs the five agencies against `servers` (`A` or `A,B,...`); returns
/// each one's `cant_ganadores`.
pub fn run_agencies(files: &[PathBuf], servers: &str, extra: &[&str]) -> Vec<u64> {
    let agencies: Vec<_> = files
        .iter()
        .enumerate()
        .map(|(index, file)| {
            let id = (index + 1).to_string();
            let file = file.to_str().unwrap().to_owned();
            let servers = servers.to_owned();
            let extra: Vec<String> = extra.iter().map(|&arg| arg.to_owned()).collect();
            std::thread::spawn(move || {
                let mut args = vec!["--id", &id, "--server", &servers, "--data", &file];
                args.extend(extra.iter().map(String::as_str));
                run_agency(&args, &[])
            })
        })
        .collect();
    agencies
        .into_iter()
        .enumerate()
        .map(|(index, agency)| {
            let output = agency.join().unwrap();
            assert!(
                output.status.success(),
                "agency {} failed:\n{}",
                index + 1,
                output.log
            );
            let lines = log_values(
                &output.log,
                "action: consulta_ganadores | result: success | cant_ganadores: ",
            );
            assert_eq!(lines.len(), 1, "agency {}: {}", index + 1, output.log);
            lines[0]
        })
        .collect()
}

/// The inputs, their winners per agency and their bets in all.
struct Inputs {
    files: Vec<PathBuf>,
    bets: Vec<Vec<Bet>>,
    winners: Vec<u64>,
    total: u64,
}

impl Inputs {
    fn new(dir: &Path) -> Self {
        let files = input_files(dir);
        let bets: Vec<Vec<Bet>> = files.iter().map(|file| read_bets(file)).collect();
        let winners = bets
            .iter()
            .map(|bets| {
                bets.iter()
                    .filter(|bet| bet.number == BetNumber::DEFAULT_WINNING)
                    .count() as u64
            })
            .collect();
        let total = bets.iter().map(|bets| bets.len() as u64).sum();
        Self {
            files,
            bets,
            winners,
            total,
        }
    }
}

/// `lottery-admin export` of `url` equals Python's `csv.writer` on the
/// inputs: every bet stored exactly once, each agency's in its order.
fn assert_export_is_pythons(url: &str, inputs: &Inputs, dir: &Path) {
    let exported = dir.join("bets.csv");
    let output = run(Command::new(admin_bin())
        .args(["export", "--store", url, "--out"])
        .arg(&exported));
    assert!(output.status.success(), "{}", output.log);
    assert_eq!(
        output.stdout.trim(),
        format!("exported {} bets to {}", inputs.total, exported.display())
    );
    let exported = std::fs::read(&exported).unwrap();
    let python = python_csv(&inputs.bets, dir);
    assert!(
        exported == python,
        "the export differs from Python's csv.writer ({} bytes against {})",
        exported.len(),
        python.len()
    );
}

/// Waits until `central` logged at least `batches` stored batches.
fn until_batches(central: &Central, batches: usize) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let stored = central
            .log()
            .matches("action: apuesta_recibida | result: success")
            .count();
        if stored >= batches {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the central stored only {stored} batches"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn sorteos(log: &str) -> usize {
    log.matches("action: sorteo | result: success").count()
}

#[test]
fn the_first_of_two_centrals_killed_mid_run_the_agencies_finish_on_the_second() {
    let Some(base) =
        postgres_url("the_first_of_two_centrals_killed_mid_run_the_agencies_finish_on_the_second")
    else {
        return;
    };
    let _server = shared_server();
    let schema = Schema::new(&base);
    let dir = tempfile::tempdir().unwrap();
    let inputs = Inputs::new(dir.path());
    let mut first = Central::start_on(5, Some(schema.url()), &[]);
    let second = Central::start_on(5, Some(schema.url()), &[]);
    let servers = format!("{},{}", first.address(), second.address());
    let files = inputs.files.clone();
    let agencies =
        std::thread::spawn(move || run_agencies(&files, &servers, &["--batch-max-amount", "20"]));
    until_batches(&first, 30);
    first.kill();
    let first_log = first.log();
    assert_eq!(sorteos(&first_log), 0, "killed mid-run, before the draw");
    let winners = agencies.join().unwrap();
    assert_eq!(winners, inputs.winners);
    let exited = second.wait_for_exit();
    assert_eq!(
        sorteos(&first_log) + sorteos(&exited.log),
        1,
        "first:\n{first_log}\nsecond:\n{}",
        exited.log
    );
    assert_export_is_pythons(schema.url(), &inputs, dir.path());
}

#[test]
fn the_database_restarted_under_a_running_central_loses_and_doubles_nothing() {
    let test = "the_database_restarted_under_a_running_central_loses_and_doubles_nothing";
    let Some(base) = postgres_url(test) else {
        return;
    };
    let (Ok(data), Ok(bin)) = (
        std::env::var("LOTTERY_TEST_POSTGRES_DATA"),
        std::env::var("LOTTERY_TEST_POSTGRES_BIN"),
    ) else {
        eprintln!(
            "SKIPPED {test}: LOTTERY_TEST_POSTGRES_DATA and LOTTERY_TEST_POSTGRES_BIN are not set \
             (scripts/pg-test-cluster.sh exports them)"
        );
        return;
    };
    let _server = server_alone();
    let schema = Schema::new(&base);
    let dir = tempfile::tempdir().unwrap();
    let inputs = Inputs::new(dir.path());
    let central = Central::start_on(5, Some(schema.url()), &[]);
    let files = inputs.files.clone();
    let address = central.address();
    let agencies =
        std::thread::spawn(move || run_agencies(&files, &address, &["--batch-max-amount", "20"]));
    until_batches(&central, 30);
    let pg_ctl = Path::new(&bin).join("pg_ctl");
    let mut restart = if running_as_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(&pg_ctl);
        command
    } else {
        Command::new(&pg_ctl)
    };
    let restarted = restart
        .args(["restart", "-m", "fast", "-w", "-D", &data])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("pg_ctl runs");
    assert!(restarted.success(), "pg_ctl restart failed");
    let winners = agencies.join().unwrap();
    assert_eq!(winners, inputs.winners);
    let exited = central.wait_for_exit();
    assert_eq!(sorteos(&exited.log), 1, "{}", exited.log);
    assert_export_is_pythons(schema.url(), &inputs, dir.path());
}

/// Whether this runs as root (the server then runs as `postgres`).
fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

#[test]
fn five_agencies_on_a_postgres_central_get_their_winners_and_the_export_is_pythons_csv() {
    let Some(base) = postgres_url(
        "five_agencies_on_a_postgres_central_get_their_winners_and_the_export_is_pythons_csv",
    ) else {
        return;
    };
    let _server = shared_server();
    let schema = Schema::new(&base);
    let dir = tempfile::tempdir().unwrap();
    let inputs = Inputs::new(dir.path());
    let central = Central::start_on(5, Some(schema.url()), &[]);
    let winners = run_agencies(&inputs.files, &central.address(), &[]);
    assert_eq!(winners, inputs.winners);
    let exited = central.wait_for_exit();
    let log = &exited.log;
    assert_eq!(sorteos(log), 1, "{log}");
    let received: u64 = log_values(
        log,
        "action: apuesta_recibida | result: success | cantidad: ",
    )
    .iter()
    .sum();
    assert_eq!(received, inputs.total, "{log}");
    assert_export_is_pythons(schema.url(), &inputs, dir.path());
    assert_verify_sees_the_ledger_and_every_edit(&base, &schema, &inputs);
}

/// `lottery-admin verify --store URL`: its exit code, stdout, stderr.
fn verify(url: &str) -> (bool, String, String) {
    let output = run(Command::new(admin_bin()).args(["verify", "--store", url]));
    (output.status.success(), output.stdout, output.log)
}

/// `lottery-admin verify` finds the drawn ledger whole, with its counts and
/// draw; then each edit made with SQL behind the centrals' back (a bet's
/// number, a bet removed, a finish removed or its count changed, a chain
/// link changed, the winning number changed)
/// makes it fail, naming what changed, and undoing the edit makes it whole
/// again.
fn assert_verify_sees_the_ledger_and_every_edit(base: &str, schema: &Schema, inputs: &Inputs) {
    let (whole, stdout, log) = verify(schema.url());
    assert!(whole, "{log}");
    let winners: Vec<String> = inputs.winners.iter().map(u64::to_string).collect();
    for line in [
        "rules: 5 agencies, winning number 7574".to_owned(),
        format!("bets: {}", inputs.total),
        format!(
            "draw: {} bets, winners per agency {}",
            inputs.total,
            winners.join(",")
        ),
        "result: whole".to_owned(),
    ] {
        assert!(
            stdout.lines().any(|l| l == line),
            "no line {line:?} in:\n{stdout}"
        );
    }
    let mut client = schema.client();
    let the_bet = "agency = 2 AND batch = 1 AND position = 0";
    let number: i16 = client
        .query_one(&format!("SELECT number FROM bets WHERE {the_bet}"), &[])
        .unwrap()
        .get(0);
    let finished: i64 = client
        .query_one("SELECT bets FROM finishes WHERE agency = 3", &[])
        .unwrap()
        .get(0);
    let other = if number == 7574 { 1 } else { 7574 };
    // Each: the edit, what verify's error must name, the edit undone.
    let edits = [
        (
            format!("UPDATE bets SET number = {other} WHERE {the_bet}"),
            "agency 2's batch 1 holds",
            format!("UPDATE bets SET number = {number} WHERE {the_bet}"),
        ),
        (
            // Kept aside, and put back by the undo.
            format!(
                "CREATE TABLE removed AS SELECT * FROM bets WHERE {the_bet}; \
                 DELETE FROM bets WHERE {the_bet}"
            ),
            "agency 2's batch 1 has a bet at position 1 where position 0 is expected",
            "INSERT INTO bets SELECT * FROM removed; DROP TABLE removed".to_owned(),
        ),
        (
            // Kept aside with its place in the chain, and put back.
            "CREATE TABLE removed AS SELECT * FROM finishes WHERE agency = 3; \
             DELETE FROM finishes WHERE agency = 3"
                .to_owned(),
            "it records a draw, but 4 of the 5 agencies finished",
            "INSERT INTO finishes SELECT * FROM removed; DROP TABLE removed".to_owned(),
        ),
        (
            format!("UPDATE finishes SET bets = {finished} + 1 WHERE agency = 3"),
            "agency 3's finish counts",
            format!("UPDATE finishes SET bets = {finished} WHERE agency = 3"),
        ),
        (
            // A record's link: the chain breaks there.
            "CREATE TABLE kept AS SELECT link FROM batches WHERE agency = 4 AND batch = 2; \
             UPDATE batches SET link = sha256(link) WHERE agency = 4 AND batch = 2"
                .to_owned(),
            "the checksum chain breaks at position",
            "UPDATE batches SET link = (SELECT link FROM kept) WHERE agency = 4 AND batch = 2; \
             DROP TABLE kept"
                .to_owned(),
        ),
        (
            "UPDATE lottery SET winning_number = 1033".to_owned(),
            "it records a draw of",
            "UPDATE lottery SET winning_number = 7574".to_owned(),
        ),
    ];
    for (edit, named, undo) in &edits {
        client.batch_execute(edit).unwrap();
        let (whole, _, log) = verify(schema.url());
        assert!(!whole, "verify passed a ledger edited with `{edit}`");
        assert!(log.contains(named), "`{edit}`: no {named:?} in:\n{log}");
        client.batch_execute(undo).unwrap();
        let (whole, _, log) = verify(schema.url());
        assert!(whole, "`{edit}` undone, still refused: {log}");
    }
    // A database without a lottery is refused, not set up.
    let empty = Schema::new(base);
    let (whole, _, log) = verify(empty.url());
    assert!(!whole && log.contains("it holds no lottery"), "{log}");
}
