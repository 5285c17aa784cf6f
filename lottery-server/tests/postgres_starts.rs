//! Centrals starting together on a fresh PostgreSQL schema: real
//! `lottery-server` processes, started at the same moment, all create (or
//! find) the tables and record (or find) the rules; none exits. Before,
//! two centrals started together failed about one time in six
//! (`cannot record the rules in the store ...: query returned an unexpected
//! number of rows`): the loser's `INSERT ... ON CONFLICT DO NOTHING` waited
//! for the winner's row, skipped it, and its statement's snapshot did not
//! see the row either.
//!
//! Needs `LOTTERY_TEST_POSTGRES` (skipped, saying so, without it).

mod common;
#[path = "../../lottery-pg/tests/common/mod.rs"]
mod pg_common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use pg_common::{Schema, postgres_url};

const BINARY: &str = env!("CARGO_BIN_EXE_lottery-server");

/// Long enough for a loaded machine, short enough to fail a hung start.
const SAFETY_TIMEOUT: Duration = Duration::from_secs(20);

/// How many centrals start together, and how many times.
const CENTRALS: usize = 4;
const ROUNDS: usize = 20;

/// A `lottery-server` on a PostgreSQL store, logging to a file.
struct Process {
    child: Child,
    log: PathBuf,
}

impl Process {
    fn start(dir: &Path, name: &str, url: &str, agencies: u32) -> Self {
        let log = dir.join(format!("{name}.log"));
        let child = Command::new(BINARY)
            .args(["--listen", "127.0.0.1:0", "--threads", "1"])
            .args(["--agencies", &agencies.to_string()])
            .args(["--store", url])
            .args(["--log-level", "INFO"])
            .env_remove("LOGGING_LEVEL")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("create the log"))
            .spawn()
            .expect("start lottery-server");
        Self { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the central listens (`Ok`) or exits (`Err` with its exit
    /// code and log).
    fn started(&mut self) -> Result<(), (Option<i32>, String)> {
        let deadline = Instant::now() + SAFETY_TIMEOUT;
        loop {
            if self
                .log()
                .contains("action: accept_connections | result: in_progress")
            {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait().expect("poll the child") {
                return Err((status.code(), self.log()));
            }
            assert!(
                Instant::now() < deadline,
                "lottery-server neither started nor exited:\n{}",
                self.log()
            );
            thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The rules rows the schema holds: (agencies, winning number).
fn recorded_rules(schema: &Schema) -> Vec<(i32, i32)> {
    schema
        .client()
        .query("SELECT agencies, winning_number FROM lottery", &[])
        .expect("the lottery table is there")
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
}

#[test]
fn centrals_started_together_on_a_fresh_schema_all_start_on_one_set_of_rules() {
    let test = "centrals_started_together_on_a_fresh_schema_all_start_on_one_set_of_rules";
    let Some(base) = postgres_url(test) else {
        return;
    };
    let dir = common::scratch_dir("postgres_starts_together");
    for round in 0..ROUNDS {
        let schema = Schema::new(&base);
        // Spawned one right after another, before any is waited for: they
        // reach the empty schema within a few milliseconds of each other.
        let mut centrals: Vec<Process> = (0..CENTRALS)
            .map(|n| Process::start(&dir, &format!("round{round}-central{n}"), schema.url(), 3))
            .collect();
        for (n, central) in centrals.iter_mut().enumerate() {
            if let Err((code, log)) = central.started() {
                panic!("round {round}: central {n} exited {code:?} instead of starting:\n{log}");
            }
        }
        assert_eq!(recorded_rules(&schema), [(3, 7574)], "round {round}");
        drop(centrals);
    }
}

#[test]
fn a_central_with_other_rules_than_the_schema_records_is_refused_clearly() {
    let test = "a_central_with_other_rules_than_the_schema_records_is_refused_clearly";
    let Some(base) = postgres_url(test) else {
        return;
    };
    let dir = common::scratch_dir("postgres_starts_other_rules");
    let schema = Schema::new(&base);
    // Two started together with the same rules, a third at the same time
    // with other rules: whoever records first, the rules recorded are one
    // set, and every central holding the other set exits 1 saying both.
    let mut centrals = [
        Process::start(&dir, "three-a", schema.url(), 3),
        Process::start(&dir, "three-b", schema.url(), 3),
        Process::start(&dir, "four", schema.url(), 4),
    ];
    let outcomes: Vec<_> = centrals.iter_mut().map(Process::started).collect();
    let rules = recorded_rules(&schema);
    assert_eq!(rules.len(), 1, "{rules:?}");
    let recorded = rules[0].0;
    for (outcome, agencies) in outcomes.iter().zip([3, 3, 4]) {
        match outcome {
            Ok(()) => assert_eq!(agencies, recorded, "a central started on other rules"),
            Err((code, log)) => {
                assert_ne!(agencies, recorded, "refused on the recorded rules:\n{log}");
                assert_eq!(*code, Some(1), "{log}");
                assert!(log.contains("result: fail"), "{log}");
                assert!(
                    log.contains(&format!("created for {recorded} agencies"))
                        && log.contains(&format!("configured for {agencies} agencies")),
                    "the refusal names both rules:\n{log}"
                );
            }
        }
    }
    drop(centrals);
    // And one started later with other rules is refused the same way.
    let other = if recorded == 3 { 5 } else { 3 };
    let mut late = Process::start(&dir, "late", schema.url(), other);
    let Err((code, log)) = late.started() else {
        panic!("a central with other rules started");
    };
    assert_eq!(code, Some(1), "{log}");
    assert!(
        log.contains(&format!("created for {recorded} agencies"))
            && log.contains(&format!("configured for {other} agencies")),
        "{log}"
    );
    assert_eq!(recorded_rules(&schema).len(), 1);
}

/// Whether `line` is one of the course's log lines: `DATE TIME LEVEL
/// action: NAME | result: RESULT ...`.
#[test]
fn a_committed_winning_number_on_postgres_is_refused_clearly_and_records_no_rules() {
    let Some(base) = postgres_url(
        "a_committed_winning_number_on_postgres_is_refused_clearly_and_records_no_rules",
    ) else {
        return;
    };
    let schema = Schema::new(&base);
    let output = Command::new(BINARY)
        .args(["--listen", "127.0.0.1:0", "--threads", "1"])
        .args(["--store", schema.url(), "--winning-number", "committed"])
        .env_remove("LOGGING_LEVEL")
        .stdin(Stdio::null())
        .output()
        .expect("run lottery-server");
    let log = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{log}");
    assert!(
        log.contains(
            "a committed winning number needs a file store: a ledger shared by several centrals (PostgreSQL) keeps no secret they share"
        ),
        "{log}"
    );
    assert!(recorded_rules(&schema).is_empty(), "no rules recorded");
}

fn course_format(line: &str) -> bool {
    let mut words = line.splitn(4, ' ');
    let (Some(date), Some(time), Some(level), Some(rest)) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return false;
    };
    let digits = |text: &str, shape: &str| {
        text.len() == shape.len()
            && text
                .chars()
                .zip(shape.chars())
                .all(|(c, s)| if s == '9' { c.is_ascii_digit() } else { c == s })
    };
    let Some((action, result)) = rest.trim_start().split_once(" | ") else {
        return false;
    };
    digits(date, "9999-99-99")
        && digits(time, "99:99:99")
        && ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"].contains(&level)
        && action.strip_prefix("action: ").is_some_and(|name| {
            !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '_')
        })
        && result.starts_with("result: ")
}

#[test]
fn the_databases_notices_are_logged_in_the_course_format() {
    let test = "the_databases_notices_are_logged_in_the_course_format";
    let Some(base) = postgres_url(test) else {
        return;
    };
    let dir = common::scratch_dir("postgres_notices");
    let schema = Schema::new(&base);
    let mut first = Process::start(&dir, "first", schema.url(), 3);
    if let Err((code, log)) = first.started() {
        panic!("the first central exited {code:?}:\n{log}");
    }
    drop(first);
    // The database speaks to the next central that records the rules: a
    // trigger raises a warning (with a `|` in it) and a notice, as a
    // restart of the database or a DBA's trigger would.
    let name = schema.name();
    schema
        .client()
        .batch_execute(&format!(
            "DELETE FROM {name}.lottery;
             CREATE FUNCTION {name}.note() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
                 RAISE WARNING 'a warning | with a bar';
                 RAISE NOTICE 'a notice';
                 RETURN NEW;
             END $$;
             CREATE TRIGGER note AFTER INSERT ON {name}.lottery
                 FOR EACH ROW EXECUTE FUNCTION {name}.note();"
        ))
        .expect("the trigger is made");
    let log = dir.join("second.log");
    let mut second = Process {
        child: Command::new(BINARY)
            .args([
                "--listen",
                "127.0.0.1:0",
                "--threads",
                "1",
                "--agencies",
                "3",
            ])
            .args(["--store", schema.url(), "--log-level", "DEBUG"])
            .env_remove("LOGGING_LEVEL")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("create the log"))
            .spawn()
            .expect("start lottery-server"),
        log,
    };
    if let Err((code, log)) = second.started() {
        panic!("the second central exited {code:?}:\n{log}");
    }
    let log = second.log();
    assert!(
        log.contains(
            "WARNING  action: database_notice | result: success | severity: WARNING | code: 01000 | message: a warning   with a bar\n"
        ),
        "the warning is logged, at WARNING:\n{log}"
    );
    assert!(
        log.contains(
            "DEBUG    action: database_notice | result: success | severity: NOTICE | code: 00000 | message: a notice\n"
        ),
        "the notice is logged, at DEBUG:\n{log}"
    );
    for line in log.lines() {
        assert!(
            course_format(line),
            "not a course-format line: {line:?}\n{log}"
        );
    }
}
