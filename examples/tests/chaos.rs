//! `lottery-chaos` as a process: a short run under kills of the central
//! and of agencies passes its checks and prints its table; bad flags are
//! usage errors. (The checker's own tests, which make it fail, are unit
//! tests of `chaos::check`; `.ci/run` runs the program for longer.)

mod support;

use std::path::PathBuf;
use std::process::Command;

use support::{admin_bin, server_bin};

fn chaos_bin() -> PathBuf {
    // The central and the admin tool must sit beside it, as they do after
    // `cargo build --bins`.
    let _ = (server_bin(), admin_bin());
    PathBuf::from(env!("CARGO_BIN_EXE_lottery-chaos"))
}

#[test]
fn a_short_run_under_kills_passes_its_checks_and_prints_its_table() {
    let output = Command::new(chaos_bin())
        .args(["--seed", "0x24", "--duration", "1s"])
        .args(["--faults", "kill,agency-kill", "--log-level", "WARN"])
        .output()
        .expect("lottery-chaos runs");
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{table}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(table.starts_with("lottery-chaos: seed 0x24, "), "{table}");
    assert!(
        table.contains("file store, 1 central, plaintext"),
        "{table}"
    );
    for invariant in [
        "every acked bet stored exactly once, byte for byte",
        "exactly one draw per lottery",
        "each agency's winners = a scan of its own input",
        "lottery-admin verify passes",
    ] {
        let row = table
            .lines()
            .find(|line| line.starts_with(invariant))
            .unwrap_or_else(|| panic!("no row for {invariant}:\n{table}"));
        let counts: Vec<u64> = row[invariant.len()..]
            .split_whitespace()
            .map(|count| count.parse().expect("counts"))
            .collect();
        assert!(counts[0] >= 1 && counts[1] == 0, "{row}");
    }
    assert!(
        table.contains("result: pass (0 invariant failures)"),
        "{table}"
    );
}

#[test]
fn unknown_faults_and_stores_are_usage_errors() {
    let output = Command::new(chaos_bin())
        .args(["--faults", "kill,flood"])
        .output()
        .expect("lottery-chaos runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unknown fault `flood`"), "{stderr}");
    let output = Command::new(chaos_bin())
        .args(["--store", "mysql://db"])
        .output()
        .expect("lottery-chaos runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("'--store'"));
    let output = Command::new(chaos_bin())
        .args([
            "--committed",
            "--store",
            "postgres://nobody@127.0.0.1:1/none",
        ])
        .output()
        .expect("lottery-chaos runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--committed needs a file store"));
}
