//! The agency's configuration as a process: the config file's kebab-case
//! keys (the flags' names), its old snake_case keys still read with a
//! WARNING naming the new key, the one precedence of every program (flags >
//! environment > RUST_LOG for the level > the file > defaults), and
//! RUST_LOG beside CLI_LOG_LEVEL.

mod support;

use std::path::{Path, PathBuf};

use support::{Central, log_values, run_agency};

/// Two valid bets in `dir`: with one bet a batch, two batches.
fn two_bets(dir: &Path) -> PathBuf {
    let data = dir.join("agency-1.csv");
    std::fs::write(
        &data,
        "Ana,Pérez,1,2000-01-01,7574\nLía,Ríos,2,1980-06-15,12\n",
    )
    .unwrap();
    data
}

fn config_file(dir: &Path, text: &str) -> String {
    let path = dir.join("agency.toml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// The agency's `config | result: success` line in `log`.
fn config_line(log: &str) -> &str {
    log.lines()
        .find(|line| line.contains("action: config | result: success | id: "))
        .unwrap_or_else(|| panic!("no config line: {log}"))
}

/// Runs agency 1 against `central` with the config file `text` (the
/// central's address and the data file are the file's too).
fn run_with_file(central: &Central, dir: &Path, keys: &str) -> support::Output {
    let data = two_bets(dir);
    let text = format!(
        "id = 1\nserver = \"{}\"\ndata = \"{}\"\n{keys}",
        central.address(),
        data.display()
    );
    let file = config_file(dir, &text);
    run_agency(&["--config", &file], &[])
}

fn batches_stored(central: Central) -> Vec<u64> {
    log_values(
        &central.wait_for_exit().log,
        "action: apuesta_recibida | result: success | cantidad: ",
    )
}

#[test]
fn an_agency_config_file_with_kebab_case_keys_is_read_without_a_warning() {
    let central = Central::start(1);
    let dir = tempfile::tempdir().unwrap();
    let output = run_with_file(
        &central,
        dir.path(),
        "batch-max-amount = 1\nin-flight = 2\nreconnect-attempts = 3\nlog-level = \"INFO\"\n",
    );
    assert!(output.status.success(), "{}", output.log);
    let line = config_line(&output.log);
    assert!(
        line.contains("| batch_max_amount: 1 | in_flight: 2 | reconnect_attempts: 3 |"),
        "{line}"
    );
    assert!(!output.log.contains("WARNING"), "{}", output.log);
    assert_eq!(batches_stored(central), [1, 1], "one bet a batch");
}

#[test]
fn an_agency_config_file_with_a_snake_case_key_works_and_warns_naming_the_new_key() {
    let central = Central::start(1);
    let dir = tempfile::tempdir().unwrap();
    let output = run_with_file(&central, dir.path(), "batch_max_amount = 1\n");
    assert!(output.status.success(), "{}", output.log);
    assert!(
        config_line(&output.log).contains("| batch_max_amount: 1 |"),
        "{}",
        output.log
    );
    let warning = output
        .log
        .lines()
        .find(|line| line.contains("WARNING  action: config | result: success | file: "))
        .unwrap_or_else(|| panic!("no warning: {}", output.log));
    assert!(
        warning.contains("| key: batch_max_amount | new_key: batch-max-amount |"),
        "{warning}"
    );
    assert!(warning.contains("--batch-max-amount"), "{warning}");
    assert_eq!(batches_stored(central), [1, 1], "the old key took effect");
}

#[test]
fn an_unknown_key_of_an_agency_config_file_is_refused_naming_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = config_file(dir.path(), "id = 1\nbatch-max-amout = 1\n");
    let output = run_agency(&["--config", &file], &[]);
    assert_eq!(output.status.code(), Some(2), "{}", output.log);
    assert!(
        output
            .log
            .contains("is invalid: line 2 (batch-max-amout = 1): unknown field `batch-max-amout`"),
        "{}",
        output.log
    );
}

/// Runs agency 1 with no central and no data file: it logs its `config`
/// line, then exits 1 as it cannot load its bets.
fn config_of(args: &[&str], env: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.csv");
    let mut all = vec!["--id", "1", "--data", missing.to_str().unwrap()];
    all.extend_from_slice(args);
    let output = run_agency(&all, env);
    assert_eq!(output.status.code(), Some(1), "{}", output.log);
    output.log
}

#[test]
fn in_flight_comes_from_the_flag_then_the_environment_then_the_file_then_the_default() {
    let dir = tempfile::tempdir().unwrap();
    let file = config_file(dir.path(), "in-flight = 5\n");
    let env = [("CLI_IN_FLIGHT", "4")];
    for (args, envs, shown) in [
        (
            &["--config", &file, "--in-flight", "3"][..],
            &env[..],
            "| in_flight: 3 |",
        ),
        (&["--config", &file][..], &env[..], "| in_flight: 4 |"),
        (&["--config", &file][..], &[][..], "| in_flight: 5 |"),
        (&[][..], &[][..], "| in_flight: 32 |"),
    ] {
        let log = config_of(args, envs);
        let line = config_line(&log);
        assert!(line.contains(shown), "{args:?} {envs:?}: {shown} in {line}");
    }
}

#[test]
fn rust_log_sets_the_agency_s_level_below_cli_log_level_and_above_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = config_file(dir.path(), "log-level = \"ERROR\"\n");
    // RUST_LOG alone: at warn, the INFO config line is not written.
    let log = config_of(&[], &[("RUST_LOG", "warn")]);
    assert!(!log.contains("action: config"), "{log}");
    assert!(
        log.contains("ERROR    action: load_bets | result: fail"),
        "{log}"
    );
    // CLI_LOG_LEVEL wins over it, RUST_LOG over the file, the flag over all.
    let log = config_of(&[], &[("RUST_LOG", "warn"), ("CLI_LOG_LEVEL", "INFO")]);
    assert!(config_line(&log).contains("| log_level: INFO"), "{log}");
    let log = config_of(&["--config", &file], &[("RUST_LOG", "debug")]);
    assert!(config_line(&log).contains("| log_level: DEBUG"), "{log}");
    let log = config_of(
        &["--config", &file, "--log-level", "INFO"],
        &[("RUST_LOG", "debug")],
    );
    assert!(config_line(&log).contains("| log_level: INFO"), "{log}");
}
