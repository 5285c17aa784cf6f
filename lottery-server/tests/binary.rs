//! The `lottery-server` binary as a process: flags, signals, exit codes and
//! log lines.

mod common;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::{
    RawAgency, SAFETY_TIMEOUT, agency_batches, expected_winners, scratch_dir, stored_rows,
};
use lottery_net::{AgencyMessage, CentralMessage, ErrorCode};

const BINARY: &str = env!("CARGO_BIN_EXE_lottery-server");

/// A running `lottery-server` and the lines it logged so far.
struct Process {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Process {
    fn start(args: &[&str], envs: &[(&str, &str)]) -> Self {
        let mut command = Command::new(BINARY);
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .env_remove("LOGGING_LEVEL");
        for (key, value) in envs {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("start lottery-server");
        let stderr = child.stderr.take().expect("piped stderr");
        let (send, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    return;
                }
            }
        });
        Self {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a line containing `text`; returns it.
    fn wait_for_line(&mut self, text: &str) -> String {
        if let Some(line) = self.seen.iter().find(|line| line.contains(text)) {
            return line.clone();
        }
        let deadline = Instant::now() + SAFETY_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(_) => panic!("no line with {text:?}; got:\n{}", self.seen.join("\n")),
            }
        }
    }

    /// The address the server listens on, from its log.
    fn address(&mut self) -> SocketAddr {
        let line = self.wait_for_line("action: accept_connections | result: in_progress");
        let start = line.find("listen: ").expect("the line names the address") + "listen: ".len();
        let end = line[start..]
            .find(' ')
            .map_or(line.len(), |end| start + end);
        line[start..end].parse().expect("an address")
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([format!("-{signal}"), self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    /// Waits for the process to exit; returns its status and every line it
    /// logged.
    fn wait(mut self) -> (ExitStatus, Vec<String>) {
        let deadline = Instant::now() + SAFETY_TIMEOUT;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("poll the child") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "lottery-server did not exit; log:\n{}",
                    self.seen.join("\n")
                );
            }
            thread::sleep(Duration::from_millis(10));
        };
        // The reader thread ends with the pipe.
        while let Ok(line) = self.lines.recv_timeout(SAFETY_TIMEOUT) {
            self.seen.push(line);
        }
        (status, std::mem::take(&mut self.seen))
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn count(lines: &[String], text: &str) -> usize {
    lines.iter().filter(|line| line.contains(text)).count()
}

fn store_arg(dir: &Path) -> String {
    dir.join("bets.csv").display().to_string()
}

#[test]
fn sigterm_mid_run_acks_what_arrived_tells_the_agencies_and_exits_zero() {
    let dir = scratch_dir("binary_sigterm");
    let store = store_arg(&dir);
    let mut server = Process::start(
        &[
            "--listen",
            "127.0.0.1:0",
            "--agencies",
            "2",
            "--store",
            &store,
            "--threads",
            "2",
        ],
        &[],
    );
    let addr = server.address();

    // Agency 1 sends every batch at once, and the central is stopped after the
    // first acks, while agency 2 waits connected.
    let batches = agency_batches(1, 40, 100);
    let (mut agency, _) = RawAgency::hello(addr, 1);
    let (mut waiting, _) = RawAgency::hello(addr, 2);
    for (index, bets) in batches.iter().enumerate() {
        agency.send(&AgencyMessage::Batch {
            batch: index as u64 + 1,
            bets: bets.clone(),
        });
    }
    let mut acked = HashSet::new();
    let mut codes = Vec::new();
    while let Some(message) = agency.recv() {
        match message {
            CentralMessage::Ack { batch, .. } => {
                acked.insert(batch);
                if acked.len() == 3 {
                    server.signal("TERM");
                }
            }
            CentralMessage::Error(error) => codes.push(error.code),
            other => panic!("{other:?}"),
        }
    }
    assert!(acked.len() >= 3);
    assert_eq!(codes.last(), Some(&ErrorCode::ShuttingDown));
    assert_eq!(waiting.codes_until_closed(), [ErrorCode::ShuttingDown]);

    let (status, lines) = server.wait();
    assert!(status.success(), "{status:?}\n{}", lines.join("\n"));
    for line in [
        "action: shutdown | result: in_progress | reason: SIGTERM",
        "action: close_store | result: success",
        "action: exit | result: success",
    ] {
        assert_eq!(count(&lines, line), 1, "{line}:\n{}", lines.join("\n"));
    }
    assert_eq!(
        count(&lines, "action: close_connection | result: success"),
        2
    );
    assert_eq!(
        count(
            &lines,
            "action: apuesta_recibida | result: success | cantidad: 100 | agency: 1"
        ),
        acked.len()
    );

    // The store holds exactly the acked batches, whole.
    let rows = stored_rows(Path::new(&store));
    let mut per_batch: HashMap<u64, usize> = HashMap::new();
    for (agency, document) in &rows {
        assert_eq!(*agency, 1);
        let batch: u64 = document[3..7]
            .parse()
            .expect("the batch is in the document");
        *per_batch.entry(batch).or_default() += 1;
    }
    assert_eq!(per_batch.keys().copied().collect::<HashSet<_>>(), acked);
    assert!(
        per_batch.values().all(|bets| *bets == 100),
        "whole batches only"
    );
}

#[test]
fn exit_when_done_exits_zero_once_the_last_agency_leaves() {
    let dir = scratch_dir("binary_exit_when_done");
    let store = store_arg(&dir);
    let mut server = Process::start(
        &[
            "--listen",
            "127.0.0.1:0",
            "--store",
            &store,
            "--exit-when-done",
        ],
        &[("SERVER_AGENCIES", "2"), ("SERVER_THREADS", "2")],
    );
    let addr = server.address();
    let agencies: Vec<_> = (1..=2)
        .map(|agency| {
            thread::spawn(move || {
                let batches = agency_batches(agency, 3, 50);
                let (mut connection, _) = RawAgency::hello(addr, agency);
                for (index, bets) in batches.iter().enumerate() {
                    connection.send(&AgencyMessage::Batch {
                        batch: index as u64 + 1,
                        bets: bets.clone(),
                    });
                    assert!(matches!(
                        connection.recv(),
                        Some(CentralMessage::Ack { .. })
                    ));
                }
                connection.send(&AgencyMessage::Finish { bets_sent: 150 });
                assert!(matches!(
                    connection.recv(),
                    Some(CentralMessage::Finished { .. })
                ));
                connection.send(&AgencyMessage::WinnersQuery { wait: true });
                assert_eq!(connection.winners(), expected_winners(&batches));
                connection.close();
            })
        })
        .collect();
    for agency in agencies {
        agency.join().expect("the agency succeeds");
    }
    let (status, lines) = server.wait();
    assert!(status.success(), "{status:?}\n{}", lines.join("\n"));
    let log = lines.join("\n");
    assert_eq!(
        count(&lines, "action: sorteo | result: success"),
        1,
        "{log}"
    );
    assert_eq!(
        count(
            &lines,
            "action: apuesta_recibida | result: success | cantidad: 50"
        ),
        6,
        "{log}"
    );
    assert_eq!(
        count(&lines, "action: winners_sent | result: success"),
        2,
        "{log}"
    );
    assert_eq!(
        count(&lines, "action: exit | result: success | reason: done"),
        1,
        "{log}"
    );
    // Every line is in the course format.
    for line in &lines {
        let (time, rest) = line.split_at(19);
        assert!(
            time.as_bytes().iter().enumerate().all(|(i, b)| match i {
                4 | 7 => *b == b'-',
                10 => *b == b' ',
                13 | 16 => *b == b':',
                _ => b.is_ascii_digit(),
            }),
            "{line}"
        );
        assert!(
            rest.starts_with(" INFO     action: ") || rest.starts_with(" WARNING  action: "),
            "{line}"
        );
    }
}

#[test]
fn flags_win_over_the_environment_which_wins_over_the_config_file() {
    let dir = scratch_dir("binary_precedence");
    let config = dir.join("central.toml");
    std::fs::write(
        &config,
        format!(
            "agencies = 7\nwinning-number = 42\nthreads = 3\nstore = \"{}\"\nlisten = \"127.0.0.1:0\"\n",
            store_arg(&dir)
        ),
    )
    .unwrap();
    let mut server = Process::start(
        &[
            "--config",
            config.to_str().unwrap(),
            "--winning-number",
            "99",
        ],
        &[("SERVER_WINNING_NUMBER", "55"), ("SERVER_AGENCIES", "4")],
    );
    let line = server.wait_for_line("action: config | result: success");
    assert!(line.contains("| agencies: 4 |"), "env over file: {line}");
    assert!(
        line.contains("| winning_number: 99 |"),
        "flag over env: {line}"
    );
    assert!(line.contains("| threads: 3 |"), "file over default: {line}");
    assert!(line.contains("| durability: fsync |"), "default: {line}");
    server.address();
    server.signal("INT");
    let (status, lines) = server.wait();
    assert!(status.success(), "{status:?}");
    assert_eq!(
        count(
            &lines,
            "action: shutdown | result: in_progress | reason: SIGINT"
        ),
        1
    );
}

#[test]
fn bad_settings_exit_non_zero_naming_the_setting() {
    let dir = scratch_dir("binary_bad_flags");
    let bad_file = dir.join("bad.toml");
    std::fs::write(&bad_file, "agencies = \"many\"\n").unwrap();
    let bad_file = bad_file.display().to_string();
    for (args, envs, named) in [
        (vec!["--agencies", "0"], vec![], "--agencies"),
        (vec!["--durability", "sometimes"], vec![], "--durability"),
        (vec!["--listen", "here"], vec![], "--listen"),
        (
            vec![],
            vec![("SERVER_WINNING_NUMBER", "10000")],
            "--winning-number",
        ),
        (vec!["--no-such-flag"], vec![], "--no-such-flag"),
        (
            vec!["--config", "/nonexistent/central.toml"],
            vec![],
            "/nonexistent/central.toml",
        ),
        (vec!["--config", bad_file.as_str()], vec![], "agencies"),
        (vec!["--max-frame", "10"], vec![], "max-frame"),
    ] {
        let output = Command::new(BINARY)
            .args(&args)
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .output()
            .expect("run lottery-server");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} {envs:?}");
        assert!(stderr.contains(named), "{args:?} {envs:?}: {stderr}");
    }
}

/// Environment variables to set.
type Envs<'a> = Vec<(&'a str, &'a str)>;

/// Runs the binary to its end with `args` and `envs`; its exit code and
/// stderr.
fn run_to_exit(args: &[&str], envs: &[(&str, &str)]) -> (Option<i32>, String) {
    let output = Command::new(BINARY)
        .args(args)
        .envs(envs.iter().copied())
        .env_remove("LOGGING_LEVEL")
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run lottery-server");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn absurd_agency_counts_exit_2_with_one_line_and_no_panic() {
    let dir = scratch_dir("binary_absurd_agencies");
    let store = store_arg(&dir);
    let values = [
        "0",
        "1000001",
        "4294967295",
        "18446744073709551616",
        "-1",
        "many",
    ];
    for value in values {
        let file = dir.join("central.toml");
        let toml_value = if value.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
            value.to_owned()
        } else {
            format!("{value:?}")
        };
        std::fs::write(&file, format!("agencies = {toml_value}\n")).unwrap();
        let file = file.display().to_string();
        let ways: [(Vec<&str>, Envs); 3] = [
            (vec!["--agencies", value], vec![]),
            (vec![], vec![("SERVER_AGENCIES", value)]),
            (vec!["--config", file.as_str()], vec![]),
        ];
        for (mut args, envs) in ways {
            args.extend(["--listen", "127.0.0.1:0", "--store", store.as_str()]);
            let (code, stderr) = run_to_exit(&args, &envs);
            assert_eq!(code, Some(2), "{args:?} {envs:?}: {stderr}");
            assert_eq!(stderr.lines().count(), 1, "{args:?} {envs:?}: {stderr}");
            assert!(stderr.contains("agencies"), "{args:?} {envs:?}: {stderr}");
            for word in ["panicked", "backtrace", "memory allocation"] {
                assert!(!stderr.contains(word), "{args:?} {envs:?}: {stderr}");
            }
        }
    }
    assert!(
        !dir.join("bets.csv").exists(),
        "nothing is created for a refused setting"
    );
}

/// The peak resident set of process `pid` (`VmHWM`), in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc");
    let line = status
        .lines()
        .find(|line| line.starts_with("VmHWM:"))
        .expect("a VmHWM line");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|kib| kib.parse().ok())
        .expect("VmHWM in kB");
    kib * 1024
}

#[test]
fn the_maximum_of_agencies_starts_small_and_serves_agency_999999() {
    let dir = scratch_dir("binary_max_agencies");
    let store = store_arg(&dir);
    let mut server = Process::start(
        &[
            "--agencies",
            "1000000",
            "--listen",
            "127.0.0.1:0",
            "--store",
            &store,
            "--threads",
            "2",
        ],
        &[],
    );
    let addr = server.address();
    let (mut agency, welcome) = RawAgency::hello(addr, 999_999);
    assert_eq!(welcome, (0, 0, false));
    let bets = agency_batches(999_999, 1, 3).remove(0);
    agency.send(&AgencyMessage::Batch { batch: 1, bets });
    assert_eq!(
        agency.recv(),
        Some(CentralMessage::Ack {
            batch: 1,
            bets_stored: 3
        })
    );
    let mut beyond = RawAgency::connect(addr);
    beyond.send(&AgencyMessage::Hello {
        version: lottery_net::PROTOCOL_VERSION,
        agency: 1_000_001,
    });
    assert_eq!(beyond.codes_until_closed(), [ErrorCode::UnknownAgency]);
    let peak = peak_rss(server.child.id());
    assert!(
        peak < 100 * 1024 * 1024,
        "a central expecting a million agencies peaked at {} MiB",
        peak / (1024 * 1024)
    );
    agency.close();
    server.signal("TERM");
    let (status, lines) = server.wait();
    assert!(status.success(), "{}", lines.join("\n"));
}

#[test]
fn refused_batches_are_logged_as_the_courses_failed_apuesta_recibida() {
    let dir = scratch_dir("binary_refused_batches");
    let store = store_arg(&dir);
    let mut server = Process::start(
        &[
            "--agencies",
            "1",
            "--listen",
            "127.0.0.1:0",
            "--store",
            &store,
        ],
        &[],
    );
    let (mut agency, _) = RawAgency::hello(server.address(), 1);
    agency.send(&AgencyMessage::Batch {
        batch: 1,
        bets: Vec::new(),
    });
    let mut future = agency_batches(1, 1, 1).remove(0);
    future[0].birthdate = "9999-12-31".to_owned();
    agency.send(&AgencyMessage::Batch {
        batch: 1,
        bets: future,
    });
    for expected in [ErrorCode::EmptyBatch, ErrorCode::InvalidBet] {
        match agency.recv() {
            Some(CentralMessage::Error(error)) => assert_eq!(error.code, expected, "{error}"),
            other => panic!("expected {expected}, got {other:?}"),
        }
    }
    let empty = server.wait_for_line("cantidad: 0 | agency: 1 | batch: 1");
    assert!(
        empty.contains(
            "WARNING  action: apuesta_recibida | result: fail | cantidad: 0 | agency: 1 | batch: 1 | error: agency 1 sent batch 1 with no bets"
        ),
        "{empty}"
    );
    let born = server.wait_for_line("birthdate is after today");
    assert!(
        born.contains(
            "WARNING  action: apuesta_recibida | result: fail | cantidad: 1 | agency: 1 | batch: 1 | error: bet 0: birthdate is after today"
        ),
        "{born}"
    );
    agency.close();
    server.signal("TERM");
    let (status, lines) = server.wait();
    assert!(status.success(), "{}", lines.join("\n"));
    assert_eq!(std::fs::read(dir.join("bets.csv")).unwrap(), b"");
}

#[test]
fn a_store_that_cannot_be_opened_exits_non_zero_with_the_cause() {
    let output = Command::new(BINARY)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--store",
            "/nonexistent/dir/bets.csv",
        ])
        .stdin(Stdio::null())
        .output()
        .expect("run lottery-server");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let line = stderr
        .lines()
        .find(|line| line.contains("action: exit | result: fail"))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(line.contains("/nonexistent/dir/bets.csv"), "{line}");
    assert!(
        line.contains("No such file"),
        "the cause chain is printed: {line}"
    );
}

#[test]
fn help_lists_every_setting_with_its_environment_variable() {
    let output = Command::new(BINARY)
        .arg("--help")
        .output()
        .expect("run lottery-server");
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for (flag, env) in [
        ("--listen", "SERVER_LISTEN"),
        ("--port", "SERVER_PORT"),
        ("--backlog", "SERVER_LISTEN_BACKLOG"),
        ("--agencies", "SERVER_AGENCIES"),
        ("--store", "SERVER_STORE"),
        ("--durability", "SERVER_DURABILITY"),
        ("--winning-number", "SERVER_WINNING_NUMBER"),
        ("--threads", "SERVER_THREADS"),
        ("--exit-when-done", "SERVER_EXIT_WHEN_DONE"),
        ("--log-level", "LOGGING_LEVEL"),
        ("--config", "SERVER_CONFIG"),
        ("--max-connections", "SERVER_MAX_CONNECTIONS"),
        ("--handshake-timeout", "SERVER_HANDSHAKE_TIMEOUT"),
        ("--idle-timeout", "SERVER_IDLE_TIMEOUT"),
        ("--max-frame", "SERVER_MAX_FRAME"),
    ] {
        assert!(
            help.contains(flag) && help.contains(env),
            "{flag} {env}:\n{help}"
        );
    }
}

#[test]
fn an_agency_leaving_while_its_winners_query_waits_is_let_go_at_once() {
    let dir = scratch_dir("binary_leaves_while_waiting");
    let store = store_arg(&dir);
    let mut server = Process::start(
        &[
            "--listen",
            "127.0.0.1:0",
            "--store",
            &store,
            "--exit-when-done",
        ],
        &[("SERVER_AGENCIES", "2"), ("SERVER_THREADS", "2")],
    );
    let addr = server.address();
    // Agency 1 finishes, asks for its winners (held until the draw), asks
    // again (held behind the first query), and leaves before the draw.
    let (mut one, _) = RawAgency::hello(addr, 1);
    one.send(&AgencyMessage::Finish { bets_sent: 0 });
    assert_eq!(
        one.recv(),
        Some(CentralMessage::Finished { bets_stored: 0 })
    );
    one.send(&AgencyMessage::WinnersQuery { wait: true });
    one.send(&AgencyMessage::WinnersQuery { wait: false });
    server.wait_for_line("action: consulta_ganadores | result: in_progress | agency: 1");
    drop(one);
    // Noticed now, not at the draw.
    let line = server.wait_for_line("action: close_connection | result: success | agency: 1 |");
    assert!(line.contains("while waiting for the draw"), "{line}");
    assert!(!server.seen.iter().any(|line| line.contains("sorteo")));

    // It comes back for its winners; agency 2 finishes: both are served and
    // the central exits by itself.
    let (mut one, _) = RawAgency::hello(addr, 1);
    one.send(&AgencyMessage::WinnersQuery { wait: true });
    let (mut two, _) = RawAgency::hello(addr, 2);
    two.send(&AgencyMessage::Finish { bets_sent: 0 });
    assert_eq!(
        two.recv(),
        Some(CentralMessage::Finished { bets_stored: 0 })
    );
    two.send(&AgencyMessage::WinnersQuery { wait: true });
    assert!(two.winners().is_empty());
    assert!(one.winners().is_empty());
    one.close();
    two.close();
    let (status, lines) = server.wait();
    assert!(status.success(), "{status:?}\n{}", lines.join("\n"));
    assert_eq!(
        count(&lines, "action: exit | result: success | reason: done"),
        1
    );
}

#[test]
fn tls_flags_serve_mutual_tls_and_the_startup_says_what_the_port_protects() {
    let dir = scratch_dir("binary_tls");
    let agencies = [lottery_bet::AgencyId::new(1).unwrap()];
    let pki = lottery_tls::write_pki(&dir.join("pki"), &agencies, &["localhost".to_owned()])
        .expect("write a PKI");
    let (cert, key) = pki.server();
    let (cert, key, ca) = (
        cert.display().to_string(),
        key.display().to_string(),
        pki.ca().display().to_string(),
    );
    let store = store_arg(&dir);
    let mut server = Process::start(
        &[
            "--listen",
            "127.0.0.1:0",
            "--store",
            &store,
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
        ],
        &[("SERVER_TLS_CLIENT_CA", &ca), ("SERVER_AGENCIES", "1")],
    );
    let addr = server.address();
    let line = server.wait_for_line("action: security");
    assert!(
        line.contains("INFO")
            && line.contains("result: success | ")
            && line.contains("tls: mutual"),
        "{line}"
    );
    assert!(
        server
            .wait_for_line("action: config")
            .contains("tls: mutual")
    );
    let (agency_cert, agency_key) = pki.agency(agencies[0]);
    let tls = lottery_tls::ClientTls::load(&pki.ca(), Some((&agency_cert, &agency_key)), None)
        .expect("load the agency's files");
    let (agency, welcome) = RawAgency::connect_tls(addr, &tls).welcome(1);
    assert_eq!(welcome, (0, 0, false));
    agency.close();
    server.signal("TERM");
    let (status, _) = server.wait();
    assert!(status.success());

    // Without TLS off loopback: a WARNING says what anyone can do.
    let mut plain = Process::start(
        &[
            "--listen",
            "0.0.0.0:0",
            "--store",
            &store_arg(&scratch_dir("binary_tls_plain")),
        ],
        &[("SERVER_AGENCIES", "1")],
    );
    let line = plain.wait_for_line("action: security");
    assert!(
        line.contains("WARNING") && line.contains("result: fail") && line.contains("tls: off"),
        "{line}"
    );
    assert!(line.contains("any peer can act as any agency"), "{line}");
    plain.signal("TERM");
    assert!(plain.wait().0.success());

    // Without TLS on loopback (the demo): said, and not as a failure.
    let mut local = Process::start(
        &[
            "--listen",
            "127.0.0.1:0",
            "--store",
            &store_arg(&scratch_dir("binary_tls_loopback")),
        ],
        &[("SERVER_AGENCIES", "1")],
    );
    let line = local.wait_for_line("action: security");
    assert!(
        line.contains(" INFO ")
            && line.contains("result: success | ")
            && line.contains("tls: off")
            && line.contains("plaintext on loopback"),
        "{line}"
    );
    local.signal("TERM");
    let (status, log) = local.wait();
    assert!(status.success());
    assert!(
        !log.iter().any(|line| line.contains("result: fail")),
        "{log:#?}"
    );
}

#[test]
fn bad_tls_settings_exit_2_naming_the_file_or_the_flag() {
    let dir = scratch_dir("binary_tls_bad");
    std::fs::write(dir.join("empty.pem"), "").unwrap();
    let store = store_arg(&dir);
    let missing = dir.join("missing.pem").display().to_string();
    let empty = dir.join("empty.pem").display().to_string();
    let cases: [(&[&str], &str); 4] = [
        (
            &["--tls-cert", &missing, "--tls-key", &missing],
            "missing.pem",
        ),
        (
            &["--tls-cert", &empty, "--tls-key", &empty],
            "no CERTIFICATE",
        ),
        (&["--tls-client-ca", &empty], "--tls-cert"),
        (&["--tls-cert", &empty], "--tls-key"),
    ];
    for (flags, named) in cases {
        let mut args = vec!["--listen", "127.0.0.1:0", "--store", &store];
        args.extend_from_slice(flags);
        let (code, stderr) = run_to_exit(&args, &[]);
        assert_eq!(code, Some(2), "{flags:?}: {stderr}");
        assert!(stderr.contains(named), "{flags:?} names {named}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    assert!(!dir.join("bets.csv").exists(), "nothing started");
}
