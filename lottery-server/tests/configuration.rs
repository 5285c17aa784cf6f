//! The central's and the admin tool's command lines as processes: the one
//! precedence of every program (flags > environment > RUST_LOG for the
//! level > the config file > defaults), clap's tips, RUST_LOG beside
//! LOGGING_LEVEL, and the admin's own help.

use std::path::{Path, PathBuf};
use std::process::Command;

const SERVER: &str = env!("CARGO_BIN_EXE_lottery-server");
const ADMIN: &str = env!("CARGO_BIN_EXE_lottery-admin");

/// A store the central cannot open: it logs its `config` line, then exits 1
/// without binding anything a test would have to stop.
const NO_STORE: &str = "/nonexistent/dir/bets.csv";

/// Runs the central with `args` and `envs` only (every `SERVER_*`,
/// `LOGGING_LEVEL` and `RUST_LOG` of the test's own environment removed):
/// its exit code and stderr.
fn server(args: &[&str], envs: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut command = Command::new(SERVER);
    for (name, _) in std::env::vars() {
        if name.starts_with("SERVER_") || name == "LOGGING_LEVEL" || name == "RUST_LOG" {
            command.env_remove(name);
        }
    }
    let output = command
        .args(["--listen", "127.0.0.1:0", "--store", NO_STORE])
        .args(args)
        .envs(envs.iter().copied())
        .output()
        .expect("run lottery-server");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The central's `config` line in `log`.
fn config_line(log: &str) -> &str {
    log.lines()
        .find(|line| line.contains("action: config | result: success | listen:"))
        .unwrap_or_else(|| panic!("no config line: {log}"))
}

/// A fresh directory of the test's own under cargo's temporary directory
/// for tests.
fn scratch_dir(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("configuration")
        .join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the scratch dir");
    dir
}

fn config_file(dir: &Path, text: &str) -> String {
    let path = dir.join("central.toml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn a_mistyped_flag_of_the_central_gets_clap_s_tip_on_its_one_line() {
    let (code, stderr) = server(&["--agences", "5"], &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.contains("unexpected argument '--agences' found")
            && stderr.contains("tip: a similar argument exists: '--agencies'"),
        "{stderr}"
    );
}

#[test]
fn agencies_come_from_the_flag_then_the_environment_then_the_file_then_the_default() {
    let dir = scratch_dir("agencies");
    let file = config_file(&dir, "agencies = 7\n");
    let env = [("SERVER_AGENCIES", "6")];
    for (args, envs, shown) in [
        (
            &["--config", &file, "--agencies", "8"][..],
            &env[..],
            "| agencies: 8 |",
        ),
        (&["--config", &file][..], &env[..], "| agencies: 6 |"),
        (&["--config", &file][..], &[][..], "| agencies: 7 |"),
        (&[][..], &[][..], "| agencies: 5 |"),
    ] {
        let (code, log) = server(args, envs);
        assert_eq!(code, Some(1), "the store cannot open: {log}");
        let line = config_line(&log);
        assert!(line.contains(shown), "{args:?} {envs:?}: {shown} in {line}");
    }
}

#[test]
fn rust_log_sets_the_level_below_logging_level_and_above_the_file() {
    let dir = scratch_dir("rust_log");
    let file = config_file(&dir, "log-level = \"ERROR\"\n");
    // RUST_LOG alone: the INFO config line is not written at warn.
    let (code, log) = server(&[], &[("RUST_LOG", "warn")]);
    assert_eq!(code, Some(1), "{log}");
    assert!(!log.contains("action: config"), "{log}");
    assert!(
        log.contains("ERROR    action: exit | result: fail"),
        "{log}"
    );
    // LOGGING_LEVEL wins over it.
    let (_, log) = server(&[], &[("RUST_LOG", "warn"), ("LOGGING_LEVEL", "INFO")]);
    assert!(config_line(&log).contains("| log_level: INFO |"), "{log}");
    // It wins over the file, and the flag over both.
    let (_, log) = server(&["--config", &file], &[("RUST_LOG", "debug")]);
    assert!(config_line(&log).contains("| log_level: DEBUG |"), "{log}");
    let (_, log) = server(
        &["--config", &file, "--log-level", "INFO"],
        &[("RUST_LOG", "debug")],
    );
    assert!(config_line(&log).contains("| log_level: INFO |"), "{log}");
}

#[test]
fn rust_log_directives_for_single_targets_are_ignored_with_a_warning_and_a_bad_level_refused() {
    let (_, log) = server(&[], &[("RUST_LOG", "info,hyper=debug")]);
    assert!(config_line(&log).contains("| log_level: INFO |"), "{log}");
    assert!(
        log.lines().any(|line| line.contains(
            "WARNING  action: config | result: success | RUST_LOG: hyper=debug | warning: "
        )),
        "{log}"
    );
    let (code, log) = server(&[], &[("RUST_LOG", "loud")]);
    assert_eq!(code, Some(2), "{log}");
    assert_eq!(log.lines().count(), 1, "{log}");
    assert!(
        log.contains("invalid value for setting RUST_LOG: unknown log level \"loud\""),
        "{log}"
    );
}

#[test]
fn the_central_s_tls_combination_in_its_file_is_refused_naming_all_three_ways() {
    let dir = scratch_dir("tls");
    let file = config_file(&dir, "tls-key = \"server.key\"\n");
    let (code, log) = server(&["--config", &file], &[]);
    assert_eq!(code, Some(2), "{log}");
    assert!(
        log.contains(
            "--tls-key (SERVER_TLS_KEY, `tls-key`) needs its certificate: --tls-cert (SERVER_TLS_CERT, `tls-cert`)"
        ),
        "{log}"
    );
}

#[test]
fn the_central_s_tls_combination_is_refused_in_the_same_words_by_flag_and_by_environment() {
    let base = ["--agencies", "1"];
    let by_flag = [&base[..], &["--tls-key", "server.key"]].concat();
    let by_flag_ca = [&base[..], &["--tls-client-ca", "ca.pem"]].concat();
    // (flags, environment, the message), one case per route.
    type Route<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let routes: [Route; 4] = [
        (
            &by_flag,
            &[],
            "--tls-key (SERVER_TLS_KEY, `tls-key`) needs its certificate: --tls-cert (SERVER_TLS_CERT, `tls-cert`)",
        ),
        (
            &base,
            &[("SERVER_TLS_CERT", "server.pem")],
            "--tls-cert (SERVER_TLS_CERT, `tls-cert`) needs its private key: --tls-key (SERVER_TLS_KEY, `tls-key`)",
        ),
        (
            &by_flag_ca,
            &[],
            "--tls-client-ca (SERVER_TLS_CLIENT_CA, `tls-client-ca`) needs the central's certificate: --tls-cert (SERVER_TLS_CERT, `tls-cert`)",
        ),
        (
            &base,
            &[("SERVER_HTTP_TLS_KEY", "http.key")],
            "--http-tls-key (SERVER_HTTP_TLS_KEY, `http-tls-key`) needs its certificate: --http-tls-cert (SERVER_HTTP_TLS_CERT, `http-tls-cert`)",
        ),
    ];
    for (args, env, expected) in routes {
        let (code, log) = server(args, env);
        assert_eq!(code, Some(2), "{args:?} {env:?}: {log}");
        assert!(log.contains(expected), "{args:?} {env:?}: {log}");
    }
}

#[test]
fn the_admin_s_help_opens_with_its_own_description_and_lists_its_commands_in_one_line_each() {
    let output = Command::new(ADMIN).arg("--help").output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    let first = help.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("The lottery operator's tool"),
        "first line: {first}\n{help}"
    );
    assert!(!help.contains("The lottery central"), "{help}");
    // Each command's summary is one line: the five follow each other.
    let lines: Vec<&str> = help.lines().map(str::trim_start).collect();
    let verify = lines
        .iter()
        .position(|line| line.starts_with("verify "))
        .unwrap_or_else(|| panic!("verify in {help}"));
    for (offset, command) in ["verify", "export", "certs", "status", "keys"]
        .iter()
        .enumerate()
    {
        let line = lines[verify + offset];
        assert!(
            line.starts_with(command) && line.len() > command.len() + 10,
            "{command}, summarized on one line: {line}\n{help}"
        );
    }
}

#[test]
fn a_mistyped_flag_of_the_admin_gets_clap_s_tip() {
    let output = Command::new(ADMIN)
        .args(["certs", "--agences", "5", "--out", "/nonexistent/x"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("tip: a similar argument exists: '--agencies'"),
        "{stderr}"
    );
}
