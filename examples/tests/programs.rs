//! The programs as processes: flags, exit codes, signals and log lines.

mod support;

use std::io::Read;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lottery_examples::agency::history::{HistoryEvent, parse_history};

use support::{
    Central, Output, exit_failure, log_values, one_bet_file, run, run_agency, workspace_root,
};

#[test]
fn every_program_prints_its_help() {
    for (bin, flag) in [
        (env!("CARGO_BIN_EXE_lottery-agency"), "--batch-max-amount"),
        (env!("CARGO_BIN_EXE_lottery-agency"), "--history"),
        (env!("CARGO_BIN_EXE_lottery-demo"), "--data-dir"),
        (env!("CARGO_BIN_EXE_lottery-loadgen"), "--bets-per-agency"),
        (env!("CARGO_BIN_EXE_lottery-chaos"), "--faults"),
    ] {
        let output = run(Command::new(bin).arg("--help"));
        assert!(output.status.success(), "{bin}");
        assert!(output.stdout.contains(flag), "{bin}: {}", output.stdout);
    }
}

#[test]
fn an_agency_without_an_id_says_so_in_the_log_format() {
    let output = run_agency(&[], &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        output
            .log
            .contains("action: config | result: fail | error: missing the agency id"),
        "{}",
        output.log
    );
}

#[test]
fn an_agency_with_a_bad_row_stops_before_connecting_and_names_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("agency-1.csv");
    std::fs::write(&data, "Ana,Pérez,1,2000-01-01,1\nBob,Ray,2,2000-02-30,2\n").unwrap();
    // A listener that records whether anyone connected.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let server = listener.local_addr().unwrap().to_string();
    let output = run_agency(
        &[
            "--id",
            "1",
            "--server",
            &server,
            "--data",
            data.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(1));
    let expected = format!(
        "{}:2: birthdate is not a real calendar date",
        data.display()
    );
    assert!(output.log.contains(&expected), "{}", output.log);
    assert!(
        output.log.contains("action: load_bets | result: fail"),
        "{}",
        output.log
    );
    assert!(
        listener.accept().is_err(),
        "the agency connected although its file is bad"
    );
}

/// Runs an agency on `data` against a listener that records whether anyone
/// connected; returns what it did and whether it connected.
fn run_agency_offline(data: &Path) -> (Output, bool) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let server = listener.local_addr().unwrap().to_string();
    let output = run_agency(
        &[
            "--id",
            "1",
            "--server",
            &server,
            "--data",
            data.to_str().unwrap(),
        ],
        &[],
    );
    (output, listener.accept().is_ok())
}

/// Checks that an agency stopped on an input error before connecting, with
/// exit code 1 and `message` in one `load_bets` failure line, said once.
fn assert_input_error_once((output, connected): (Output, bool), message: &str) {
    assert_eq!(output.status.code(), Some(1), "{}", output.log);
    assert!(!connected, "the agency connected although its input is bad");
    let errors: Vec<&str> = output
        .log
        .lines()
        .filter(|line| line.contains(" ERROR "))
        .collect();
    assert_eq!(errors.len(), 1, "{}", output.log);
    let prefix = "action: load_bets | result: fail | agency: 1 | error: ";
    assert!(
        errors[0].ends_with(&format!("{prefix}{message}")),
        "{}",
        output.log
    );
    assert_eq!(output.log.matches(message).count(), 1, "{}", output.log);
}

#[test]
fn an_agency_names_the_line_of_a_bad_row_of_a_crlf_file_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("agency-1.csv");
    std::fs::write(
        &data,
        "Ana,Pérez,1,2000-01-01,1\r\n\"Juan, Jr.\",\"Gómez, Díaz\",2,1990-12-31,12\r\n\"Bob, Jr.\",Ray,3,2000-02-30,2\r\nLía,Ríos,4,1980-06-15,7574\r\n",
    )
    .unwrap();
    let message = format!(
        "bad row: {}:3: birthdate is not a real calendar date",
        data.display()
    );
    assert_input_error_once(run_agency_offline(&data), &message);
}

#[test]
fn an_agency_refuses_a_birthdate_after_today_naming_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("agency-1.csv");
    std::fs::write(
        &data,
        "Ana,Pérez,1,2000-01-01,1\nLía,Ríos,2,1980-06-15,7574\nBob,Ray,3,9999-12-31,2\n",
    )
    .unwrap();
    let message = format!("bad row: {}:3: birthdate is after today", data.display());
    assert_input_error_once(run_agency_offline(&data), &message);
}

#[test]
fn an_agency_names_a_directory_given_as_its_data_file() {
    let dir = tempfile::tempdir().unwrap();
    let message = format!(
        "cannot read the agency file {}: it is a directory, not a file",
        dir.path().display()
    );
    assert_input_error_once(run_agency_offline(dir.path()), &message);
}

#[test]
fn an_agency_names_a_missing_data_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("agency-1.csv");
    let message = format!(
        "cannot read the agency file {}: it does not exist",
        data.display()
    );
    assert_input_error_once(run_agency_offline(&data), &message);
}

#[test]
fn an_agency_names_a_data_file_it_may_not_read() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = one_bet_file(dir.path());
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::File::open(&data).is_ok() {
        eprintln!("skipped: this user reads a file of mode 000 (root?)");
        return;
    }
    let message = format!(
        "cannot read the agency file {}: permission denied",
        data.display()
    );
    assert_input_error_once(run_agency_offline(&data), &message);
}

#[test]
fn an_agency_with_an_empty_file_warns_and_finishes_with_no_bets() {
    let central = Central::start(1);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("agency-1.csv");
    std::fs::write(&data, "").unwrap();
    let output = run_agency(
        &[
            "--id",
            "1",
            "--server",
            &central.address(),
            "--data",
            data.to_str().unwrap(),
        ],
        &[],
    );
    assert!(output.status.success(), "{}", output.log);
    let warning = format!(
        "WARNING  action: load_bets | result: success | agency: 1 | data: {0} | bets: 0 | warning: {0} holds no bets",
        data.display()
    );
    assert!(output.log.contains(&warning), "{}", output.log);
    assert!(
        output
            .log
            .contains("action: consulta_ganadores | result: success | cant_ganadores: 0\n"),
        "{}",
        output.log
    );
    let exited = central.wait_for_exit();
    assert!(
        exited
            .log
            .contains("action: finish | result: success | agency: 1 | bets: 0 | remaining: 0"),
        "{}",
        exited.log
    );
    // No batch at all, not even an empty one (the central refuses those).
    assert!(!exited.log.contains("apuesta_recibida"), "{}", exited.log);
    assert!(
        exited.log.contains("action: sorteo | result: success"),
        "{}",
        exited.log
    );
    assert_eq!(std::fs::read(&exited.store).unwrap(), b"");
}

#[test]
fn an_agency_with_history_writes_its_session_as_json_lines() {
    let central = Central::start(1);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("agency-1.csv");
    std::fs::write(
        &data,
        "Ana,Pérez,30904465,1999-03-17,7574\nBruno,Díaz,21689196,2000-05-10,1234\nCarla,Gómez,007,1980-01-02,7574\n",
    )
    .unwrap();
    let history = dir.path().join("history.jsonl");
    let output = run_agency(
        &[
            "--id",
            "1",
            "--server",
            &central.address(),
            "--data",
            data.to_str().unwrap(),
            "--batch-max-amount",
            "2",
            "--history",
            history.to_str().unwrap(),
        ],
        &[],
    );
    assert!(output.status.success(), "{}", output.log);
    let lines = parse_history(&std::fs::read_to_string(&history).unwrap());
    let events: Vec<HistoryEvent> = lines.iter().map(|line| line.event.clone()).collect();
    assert_eq!(
        events,
        [
            HistoryEvent::Loaded { bets: 3 },
            HistoryEvent::Stored { bets: 2 },
            HistoryEvent::Stored { bets: 3 },
            HistoryEvent::Sent { bets: 3 },
            HistoryEvent::Finished,
            HistoryEvent::Winners {
                documents: vec!["30904465".into(), "007".into()]
            },
            HistoryEvent::Exit {
                result: "success".into(),
                error: None
            },
        ]
    );
    assert!(lines.iter().all(|line| line.agency == 1 && line.pid > 0));
    assert!(lines.windows(2).all(|pair| pair[0].t_ms <= pair[1].t_ms));
    central.wait_for_exit();
}

#[test]
fn an_agency_names_line_701_of_a_course_file_broken_there() {
    // The course data set is not part of the repository; it sits beside it.
    let course = workspace_root().join("../shared/data/agency-1.csv");
    let Ok(text) = std::fs::read_to_string(&course) else {
        eprintln!(
            "skipped: no course data at {} (its lines end with CRLF)",
            course.display()
        );
        return;
    };
    let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
    assert!(
        lines.len() > 701 && lines[700].ends_with("\r\n"),
        "not a CRLF course file"
    );
    lines[700] = "Broken,Row\r\n";
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("agency-1.csv");
    std::fs::write(&data, lines.concat()).unwrap();
    let message = format!(
        "bad row: {}:701: row has 2 fields, expected 5",
        data.display()
    );
    assert_input_error_once(run_agency_offline(&data), &message);
}

#[test]
fn an_agency_names_line_701_of_a_course_file_made_lf_whose_name_holds_a_format_character() {
    // The course file with LF line ends: its 700 rows before the bad one
    // take the one-pass reader, and the name refused there (a right-to-left
    // override after Latin letters) must be named on its own line, once.
    let course = workspace_root().join("../shared/data/agency-1.csv");
    let Ok(text) = std::fs::read_to_string(&course) else {
        eprintln!("skipped: no course data at {}", course.display());
        return;
    };
    let text = text.replace("\r\n", "\n");
    let mut lines: Vec<String> = text.split_inclusive('\n').map(str::to_owned).collect();
    assert!(lines.len() > 701, "not the course file");
    let rest = lines[700].split_once(',').expect("a row").1.to_owned();
    lines[700] = format!("Ñandú\u{202E}Ríos,{rest}");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("agency-1.csv");
    std::fs::write(&data, lines.concat()).unwrap();
    let message = format!(
        "bad row: {}:701: first_name contains an invisible format or separator character (Unicode Cf, Zl or Zp)",
        data.display()
    );
    assert_input_error_once(run_agency_offline(&data), &message);
}

#[test]
fn an_agency_gives_up_clearly_when_the_central_stays_away() {
    let dir = tempfile::tempdir().unwrap();
    let data = one_bet_file(dir.path());
    // A port nobody listens on: bound, then released.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = format!("127.0.0.1:{port}");
    let output = run_agency(
        &[
            "--id",
            "1",
            "--server",
            &server,
            "--data",
            data.to_str().unwrap(),
            "--reconnect-attempts",
            "2",
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(1), "{}", output.log);
    let failure = exit_failure(&output.log);
    assert!(
        failure.contains("refused") || failure.contains("connect"),
        "{failure}"
    );
}

#[test]
fn an_agency_exits_cleanly_on_sigterm_while_it_waits() {
    let dir = tempfile::tempdir().unwrap();
    let data = one_bet_file(dir.path());
    // A central that accepts and never answers: the agency waits for its welcome.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server = listener.local_addr().unwrap().to_string();
    let mut agency = Command::new(env!("CARGO_BIN_EXE_lottery-agency"))
        .args([
            "--id",
            "1",
            "--server",
            &server,
            "--data",
            data.to_str().unwrap(),
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (mut connection, _) = listener.accept().unwrap();
    let status = Command::new("kill")
        .args(["-TERM", &agency.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(exit) = agency.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "the agency ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut log = String::new();
    agency
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert!(exit.success(), "{exit}: {log}");
    for action in [
        "shutdown | result: in_progress",
        "close_connection | result: success",
        "exit | result: success",
    ] {
        assert!(
            log.contains(&format!("action: {action}")),
            "{action} missing: {log}"
        );
    }
    // The connection is closed: the central reads the end of the stream.
    connection
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut rest = Vec::new();
    connection.read_to_end(&mut rest).unwrap();
}

#[test]
fn an_agency_waiting_for_the_draw_closes_its_connection_on_sigterm() {
    // Two agencies expected, one comes: the draw never happens, so the agency
    // blocks in its winners query until the signal.
    let central = Central::start(2);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("agency-1.csv");
    std::fs::write(&data, "Ana,Pérez,1,2000-01-01,7574\n").unwrap();
    let log_path = dir.path().join("agency.log");
    let mut agency = Command::new(env!("CARGO_BIN_EXE_lottery-agency"))
        .args([
            "--id",
            "1",
            "--server",
            &central.address(),
            "--data",
            data.to_str().unwrap(),
        ])
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !log().contains("action: finish | result: success") {
        assert!(
            Instant::now() < deadline,
            "the agency did not finish: {}",
            log()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let kill = Command::new("kill")
        .args(["-TERM", &agency.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let exit = agency.wait().unwrap();
    let log = log();
    assert!(exit.success(), "{exit}: {log}");
    assert!(
        log.contains("action: shutdown | result: in_progress | agency: 1 | signal: SIGTERM"),
        "{log}"
    );
    assert!(
        log.contains("action: close_connection | result: success | agency: 1"),
        "{log}"
    );
    assert!(!log.contains("consulta_ganadores"), "{log}");
}

#[test]
fn the_course_single_bet_variables_send_one_bet_and_log_it() {
    let central = Central::start(1);
    let output = run_agency(
        &["--id", "1", "--server", &central.address()],
        &[
            ("NOMBRE", "Santiago Lionel"),
            ("APELLIDO", "Lorca"),
            ("DOCUMENTO", "30904465"),
            ("NACIMIENTO", "1999-03-17"),
            ("NUMERO", "7574"),
        ],
    );
    assert!(output.status.success(), "{}", output.log);
    assert!(
        output
            .log
            .contains("action: apuesta_enviada | result: success | dni: 30904465 | numero: 7574\n"),
        "{}",
        output.log
    );
    assert!(
        output
            .log
            .contains("action: consulta_ganadores | result: success | cant_ganadores: 1\n"),
        "{}",
        output.log
    );
    let exited = central.wait_for_exit();
    assert_eq!(
        std::fs::read_to_string(&exited.store).unwrap(),
        "1,Santiago Lionel,Lorca,30904465,1999-03-17,7574\r\n"
    );
}

#[test]
fn agency_flags_win_over_environment_variables() {
    // CLI_SERVER_ADDRESS points nowhere useful; the flag points at the central.
    let central = Central::start(1);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("bets.csv");
    std::fs::write(
        &data,
        "Ana,Pérez,1,2000-01-01,7574\nLía,Ríos,2,1980-06-15,12\n",
    )
    .unwrap();
    let output = run_agency(
        &["--server", &central.address(), "--batch-max-amount", "1"],
        &[
            ("CLI_ID", "1"),
            ("CLI_SERVER_ADDRESS", "127.0.0.1:1"),
            ("CLI_DATA_FILE", data.to_str().unwrap()),
        ],
    );
    assert!(output.status.success(), "{}", output.log);
    assert_eq!(log_values(&output.log, "cant_ganadores: "), [1]);
    let exited = central.wait_for_exit();
    // One bet per batch: two batches.
    assert_eq!(
        log_values(
            &exited.log,
            "action: apuesta_recibida | result: success | cantidad: "
        ),
        [1, 1]
    );
}

/// `--write-data` writes the synthetic data set, the same bytes on every
/// call, that `--data-dir` then runs on; it never replaces a file.
#[test]
fn the_demo_writes_its_synthetic_data_set_and_never_replaces_a_file() {
    let demo = env!("CARGO_BIN_EXE_lottery-demo");
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (dir.path().join("first"), dir.path().join("second"));
    let set = ["--agencies", "3", "--bets", "3000"];
    for out in [&first, &second] {
        let output = run(Command::new(demo).args(set).arg("--write-data").arg(out));
        assert!(output.status.success(), "{}", output.log);
        let said = format!(
            "lottery-demo: wrote 3 agency files to {} (synthetic data set, 3 agencies, 3,000 bets, seed ",
            out.display()
        );
        assert!(output.stdout.starts_with(&said), "{}", output.stdout);
    }
    let mut lines = 0;
    for id in 1..=3 {
        let name = format!("agency-{id}.csv");
        let bytes = std::fs::read(first.join(&name)).unwrap();
        assert_eq!(bytes, std::fs::read(second.join(&name)).unwrap(), "{name}");
        lines += bytes.iter().filter(|&&byte| byte == b'\n').count();
    }
    assert_eq!(lines, 3000);
    assert!(!first.join("agency-4.csv").exists());

    let output = run(Command::new(demo)
        .arg("--data-dir")
        .arg(&first)
        .args(["--durability", "none"]));
    assert!(output.status.success(), "{}\n{}", output.stdout, output.log);
    assert!(
        output.stdout.ends_with("every check passed\n"),
        "{}",
        output.stdout
    );

    // Agency 2's file stands for someone's real data: refused, untouched.
    std::fs::remove_file(second.join("agency-1.csv")).unwrap();
    std::fs::write(second.join("agency-2.csv"), "mine\n").unwrap();
    let output = run(Command::new(demo)
        .args(set)
        .arg("--write-data")
        .arg(&second));
    assert_eq!(output.status.code(), Some(1), "{}", output.log);
    assert!(
        output.log.contains(&format!(
            "ERROR    action: write_data | result: fail | error: {} exists already: --write-data never replaces a file",
            second.join("agency-2.csv").display()
        )),
        "{}",
        output.log
    );
    assert_eq!(
        std::fs::read(second.join("agency-2.csv")).unwrap(),
        b"mine\n"
    );
    assert!(!second.join("agency-1.csv").exists());
}

#[test]
fn the_demo_checks_a_small_synthetic_run_and_prints_its_table() {
    let output = run(Command::new(env!("CARGO_BIN_EXE_lottery-demo")).args([
        "--agencies",
        "3",
        "--bets",
        "30000",
        "--durability",
        "none",
    ]));
    assert!(output.status.success(), "{}\n{}", output.stdout, output.log);
    assert!(
        output.stdout.contains(" total       30,000       30,000"),
        "{}",
        output.stdout
    );
    assert!(
        output.stdout.contains("every check passed"),
        "{}",
        output.stdout
    );
    // stderr is a pipe here: progress is plain course-format lines there,
    // from the start to the end, and the table on stdout is only the table.
    assert_plain_progress(&output, 30_000, 3);
    assert!(
        output
            .stdout
            .starts_with("lottery-demo: synthetic data set, 3 agencies, 30,000 bets"),
        "{}",
        output.stdout
    );
    assert!(
        output.stdout.ends_with("every check passed\n"),
        "{}",
        output.stdout
    );
}

/// Progress on a non-terminal stderr: plain lines in the course format, the
/// first at 0 bets and the last, `success`, at every bet and agency; no
/// terminal escape code anywhere, and nothing of it on stdout.
fn assert_plain_progress(output: &Output, bets: u64, agencies: u64) {
    let lines: Vec<&str> = output
        .log
        .lines()
        .filter(|line| line.contains(" INFO     action: progress | "))
        .collect();
    assert!(lines.len() >= 2, "{}", output.log);
    assert!(
        lines[0].ends_with(&format!(
            "action: progress | result: in_progress | bets_acked: 0 | bets: {bets} | percent: 0 | bets_per_s: 0 | agencies_finished: 0 | agencies: {agencies}"
        )),
        "{}",
        output.log
    );
    let last = lines[lines.len() - 1];
    assert!(
        last.contains(&format!(
            "action: progress | result: success | bets_acked: {bets} | bets: {bets} | percent: 100 | bets_per_s: "
        )) && last.ends_with(&format!(" | agencies_finished: {agencies} | agencies: {agencies}")),
        "{}",
        output.log
    );
    // Each acked count is at least the one before (the counters only grow).
    let acked = log_values(&output.log, "| bets_acked: ");
    assert!(acked.windows(2).all(|pair| pair[0] <= pair[1]), "{acked:?}");
    for (name, text) in [("stderr", &output.log), ("stdout", &output.stdout)] {
        assert!(!text.contains('\x1b'), "an escape code on {name}: {text:?}");
        assert!(
            !text.contains('\r'),
            "a carriage return on {name}: {text:?}"
        );
    }
    assert!(!output.stdout.contains("progress"), "{}", output.stdout);
}

#[test]
fn the_demo_runs_over_mutual_tls_and_says_so() {
    let output = run(Command::new(env!("CARGO_BIN_EXE_lottery-demo")).args([
        "--agencies",
        "3",
        "--bets",
        "3000",
        "--durability",
        "none",
        "--tls",
    ]));
    assert!(output.status.success(), "{}\n{}", output.stdout, output.log);
    assert!(
        output
            .stdout
            .contains("TLS on (mutual, certificates generated for the run)"),
        "{}",
        output.stdout
    );
    assert!(
        output.stdout.contains(" total        3,000        3,000"),
        "{}",
        output.stdout
    );
    assert!(
        output.stdout.contains("every check passed"),
        "{}",
        output.stdout
    );
}

#[test]
fn the_demo_draws_a_progress_bar_when_stderr_is_a_terminal() {
    // util-linux `script` runs the demo on a pseudo-terminal and copies what
    // it shows (stdout and stderr alike) to our pipe.
    let demo = env!("CARGO_BIN_EXE_lottery-demo");
    let shown = match Command::new("script")
        .args(["-q", "-e", "-c"])
        .arg(format!(
            "'{demo}' --agencies 3 --bets 30000 --durability none --log-level OFF"
        ))
        .arg("/dev/null")
        .stdin(Stdio::null())
        .output()
    {
        Ok(output) => output,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("no `script` command: the terminal case is not checked here");
            return;
        }
        Err(error) => panic!("run script: {error}"),
    };
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.status.success(), "{text}");
    assert!(text.contains("every check passed"), "{text}");
    // A bar redrawn in place (escape codes), ending full, and no plain lines.
    assert!(text.contains('\x1b'), "{text:?}");
    assert!(text.contains("30,000/30,000 bets acked 100%"), "{text:?}");
    assert!(text.contains("3/3 agencies done"), "{text:?}");
    assert!(!text.contains("action: progress"), "{text:?}");
}

/// A child process killed when the test ends, passed or not.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_demo_keeps_its_central_up_after_the_summary_with_serve_status() {
    let mut demo = Command::new(env!("CARGO_BIN_EXE_lottery-demo"))
        .args(["--agencies", "2", "--bets", "2000", "--durability", "none"])
        .args(["--serve-status", "600", "--progress", "off"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(demo.stdout.take().unwrap());
    // Should an assertion fail, the demo must not stay up for 600 s.
    let mut demo = KillOnDrop(demo);
    let demo = &mut demo.0;
    let mut printed = String::new();
    const UP: &str = "central: still up on ";
    let address = loop {
        let mut line = String::new();
        let read = std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
        assert!(read > 0, "the demo ended before serving:\n{printed}");
        printed.push_str(&line);
        if let Some(rest) = line.strip_prefix(UP) {
            break rest.split(' ').next().unwrap().to_string();
        }
    };
    assert!(printed.contains("every check passed\n\n"), "{printed}");
    assert!(
        printed.contains(" for 600 s (SIGINT or SIGTERM"),
        "{printed}"
    );
    // The central is the demo's, drawn: agency 1 is answered its winners at
    // once, as many as the table says.
    let agency = lottery_bet::AgencyId::new(1).unwrap();
    let mut client =
        lottery_net::AgencyClient::connect(lottery_net::ClientConfig::new(address, agency))
            .unwrap();
    let winners = client.winners(false).unwrap().expect("drawn");
    client.close();
    let row = printed
        .lines()
        .find(|line| line.split_whitespace().next() == Some("1"))
        .unwrap();
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells[3], winners.len().to_string(), "{printed}");
    let status = Command::new("kill")
        .args(["-TERM", &demo.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let exit = loop {
        if let Some(exit) = demo.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "the demo ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(exit.success(), "{exit}");
}

#[test]
fn the_demo_kept_up_says_where_its_status_is_and_lottery_admin_reads_it_there() {
    let mut demo = Command::new(env!("CARGO_BIN_EXE_lottery-demo"))
        .args(["--agencies", "3", "--bets", "3000", "--durability", "none"])
        .args(["--serve-status", "600", "--progress", "off"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(demo.stdout.take().unwrap());
    let _demo = KillOnDrop(demo);
    let mut printed = String::new();
    let status = loop {
        let mut line = String::new();
        let read = std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
        assert!(read > 0, "the demo ended before serving:\n{printed}");
        printed.push_str(&line);
        if let Some(rest) = line.strip_prefix("status: ") {
            break rest.trim_end().to_string();
        }
    };
    // The central kept up names its page, and lottery-admin reads the same
    // lottery there as the table.
    let page = status
        .strip_prefix("http://")
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("no status address in {status:?}"));
    let admin = run(Command::new(support::admin_bin())
        .args(["status", "--http", page])
        .env_remove("SERVER_HTTP_LISTEN"));
    assert!(admin.status.success(), "{}{}", admin.stdout, admin.log);
    assert!(
        admin.stdout.contains("bets stored: 3000\n"),
        "{}",
        admin.stdout
    );
    assert!(
        admin
            .stdout
            .contains("agencies: 3 expected, 0 connected, 3 finished\n"),
        "{}",
        admin.stdout
    );
    assert!(
        admin.stdout.contains("draw: done, winning number 7574, "),
        "{}",
        admin.stdout
    );
    for agency in ["1", "2", "3"] {
        let demo_row: Vec<&str> = printed
            .lines()
            .find(|line| line.split_whitespace().next() == Some(agency))
            .unwrap()
            .split_whitespace()
            .collect();
        let admin_row: Vec<&str> = admin
            .stdout
            .lines()
            .find(|line| line.split_whitespace().next() == Some(agency))
            .unwrap()
            .split_whitespace()
            .collect();
        // bets (grouped in the demo's table, plain in the admin's), winners.
        assert_eq!(
            demo_row[2].replace(',', ""),
            admin_row[2],
            "{printed}{}",
            admin.stdout
        );
        assert_eq!(demo_row[3], admin_row[5], "{printed}{}", admin.stdout);
        assert_eq!(admin_row[4], "yes", "{}", admin.stdout);
    }
}

#[test]
fn the_demo_fails_on_a_directory_without_agency_files() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(Command::new(env!("CARGO_BIN_EXE_lottery-demo"))
        .arg("--data-dir")
        .arg(dir.path()));
    assert_eq!(output.status.code(), Some(1));
    assert!(
        output.log.contains("holds no agency-1.csv"),
        "{}",
        output.log
    );
}

#[test]
fn the_loadgen_reports_one_json_object_for_a_small_run() {
    let output = run(Command::new(env!("CARGO_BIN_EXE_lottery-loadgen")).args([
        "--agencies",
        "20",
        "--bets-per-agency",
        "450",
        "--batch-size",
        "100",
        "--durability",
        "none",
        "--threads",
        "2",
        "--json",
    ]));
    assert!(output.status.success(), "{}\n{}", output.stdout, output.log);
    // One JSON object on one line, progress on stderr only.
    assert_eq!(output.stdout.lines().count(), 1, "{}", output.stdout);
    assert_plain_progress(&output, 20 * 450, 20);
    let report: serde_json::Value = serde_json::from_str(output.stdout.trim()).unwrap();
    assert_eq!(report["agencies"], 20);
    assert_eq!(report["bets"], 20 * 450);
    assert_eq!(report["batches"], 20 * 5);
    assert_eq!(report["connections_held"], 20);
    assert_eq!(report["failed_agencies"], 0);
    assert!(report["bets_per_s"].as_f64().unwrap() > 0.0);
    let latency = &report["ack_latency_ms"];
    assert!(latency["p50"].as_f64().unwrap() <= latency["p99"].as_f64().unwrap());
    assert!(latency["p99"].as_f64().unwrap() <= latency["max"].as_f64().unwrap());
}

#[test]
fn the_loadgen_paces_an_offered_rate() {
    // 20 agencies x 300 bets at 20,000 bets/s offered: about 0.3 s of sending.
    let output = run(Command::new(env!("CARGO_BIN_EXE_lottery-loadgen")).args([
        "--agencies",
        "20",
        "--bets-per-agency",
        "300",
        "--batch-size",
        "50",
        "--rate",
        "20000",
        "--durability",
        "none",
        "--json",
        "--progress",
        "off",
    ]));
    assert!(output.status.success(), "{}\n{}", output.stdout, output.log);
    assert!(!output.log.contains("action: progress"), "{}", output.log);
    let report: serde_json::Value = serde_json::from_str(output.stdout.trim()).unwrap();
    assert_eq!(report["bets"], 6_000);
    // The last batches are released 0.25 s after the first: pacing cannot
    // finish sooner (a lower bound, not a timing assertion on speed).
    assert!(report["elapsed_s"].as_f64().unwrap() >= 0.25, "{report}");
}

/// A CA, the central's certificate (for `127.0.0.1` and `localhost`) and
/// agency 1's, written as `lottery-admin certs` writes them.
fn tls_files() -> (tempfile::TempDir, lottery_tls::PkiFiles) {
    let dir = tempfile::tempdir().unwrap();
    let files = lottery_tls::write_pki(
        dir.path(),
        &[lottery_bet::AgencyId::new(1).unwrap()],
        &["127.0.0.1".to_string(), "localhost".to_string()],
    )
    .unwrap();
    (dir, files)
}

#[test]
fn an_agency_refuses_tls_settings_that_do_not_go_together() {
    let (_dir, files) = tls_files();
    let (cert, _) = files.agency(lottery_bet::AgencyId::new(1).unwrap());
    let ca = files.ca();
    let output = run_agency(
        &["--id", "1"],
        &[
            ("CLI_TLS_CA", ca.to_str().unwrap()),
            ("CLI_TLS_CERT", cert.to_str().unwrap()),
        ],
    );
    assert_eq!(output.status.code(), Some(2), "{}", output.log);
    assert!(
        output.log.contains(
            "action: config | result: fail | error: --tls-cert (CLI_TLS_CERT, `tls-cert`) needs its key: --tls-key"
        ),
        "{}",
        output.log
    );
    let output = run_agency(&["--id", "1", "--tls-server-name", "central"], &[]);
    assert_eq!(output.status.code(), Some(2), "{}", output.log);
    assert!(output.log.contains("it needs --tls-ca"), "{}", output.log);
}

#[test]
fn an_agency_refuses_a_missing_tls_file_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-ca.pem");
    let output = run_agency(&["--id", "1", "--tls-ca", missing.to_str().unwrap()], &[]);
    assert_eq!(output.status.code(), Some(2), "{}", output.log);
    let line = output
        .log
        .lines()
        .find(|line| line.contains("action: config | result: fail | error: invalid TLS setting"))
        .unwrap_or_else(|| panic!("no config failure: {}", output.log));
    assert!(line.contains("no-such-ca.pem"), "{line}");
}

#[test]
fn a_tls_agency_against_a_plaintext_central_fails_at_once_saying_so() {
    let (dir, files) = tls_files();
    let central = Central::start(1);
    let data = one_bet_file(dir.path());
    let output = run_agency(
        &[
            "--id",
            "1",
            "--server",
            &central.address(),
            "--data",
            data.to_str().unwrap(),
            "--tls-ca",
            files.ca().to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(1), "{}", output.log);
    assert!(
        output.log.contains("| tls: server-only | tls_ca: "),
        "{}",
        output.log
    );
    let failure = exit_failure(&output.log);
    assert!(failure.contains("does not seem to speak TLS"), "{failure}");
    assert!(
        !output.log.contains("action: reconnect"),
        "not retried: {}",
        output.log
    );
}

#[test]
fn a_plaintext_agency_closed_before_every_welcome_is_told_tls_is_probably_required() {
    // What a TLS central does to plaintext: close without a word.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            drop(stream);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let data = one_bet_file(dir.path());
    let output = run_agency(
        &[
            "--id",
            "1",
            "--server",
            &server,
            "--data",
            data.to_str().unwrap(),
            "--reconnect-attempts",
            "1",
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(1), "{}", output.log);
    let failure = exit_failure(&output.log);
    assert!(
        failure.contains("it probably requires TLS (--tls-ca"),
        "{failure}"
    );
    assert!(!output.log.contains("| tls: "), "{}", output.log);
}

/// A central over mutual TLS with the certificates of `files`.
fn tls_central(files: &lottery_tls::PkiFiles, agencies: u32) -> Central {
    let (cert, key) = files.server();
    Central::start_with(
        agencies,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
            "--tls-client-ca",
            files.ca().to_str().unwrap(),
        ],
    )
}

#[test]
fn an_agency_over_mutual_tls_sends_its_bets_and_gets_its_winners() {
    let (dir, files) = tls_files();
    let central = tls_central(&files, 1);
    let data = dir.path().join("agency-1.csv");
    std::fs::write(
        &data,
        "Ana,Pérez,1,2000-01-01,7574\nLía,Ríos,2,1980-06-15,12\n",
    )
    .unwrap();
    let (cert, key) = files.agency(lottery_bet::AgencyId::new(1).unwrap());
    let ca = files.ca();
    // The files through the environment, as the compose file sets them.
    let output = run_agency(
        &[
            "--id",
            "1",
            "--server",
            &central.address(),
            "--data",
            data.to_str().unwrap(),
        ],
        &[
            ("CLI_TLS_CA", ca.to_str().unwrap()),
            ("CLI_TLS_CERT", cert.to_str().unwrap()),
            ("CLI_TLS_KEY", key.to_str().unwrap()),
        ],
    );
    assert!(output.status.success(), "{}", output.log);
    assert!(
        output.log.contains("| tls: mutual | tls_ca: "),
        "{}",
        output.log
    );
    assert_eq!(log_values(&output.log, "cant_ganadores: "), [1]);
    let exited = central.wait_for_exit();
    assert_eq!(
        log_values(
            &exited.log,
            "action: apuesta_recibida | result: success | cantidad: "
        ),
        [2]
    );
}

#[test]
fn an_agency_with_another_agencys_certificate_is_not_authorized_and_not_retried() {
    let (dir, files) = tls_files();
    let central = tls_central(&files, 2);
    let data = dir.path().join("agency-2.csv");
    std::fs::write(&data, "Ana,Pérez,1,2000-01-01,7574\n").unwrap();
    let (cert, key) = files.agency(lottery_bet::AgencyId::new(1).unwrap());
    let output = run_agency(
        &[
            "--id",
            "2",
            "--server",
            &central.address(),
            "--data",
            data.to_str().unwrap(),
            "--tls-ca",
            files.ca().to_str().unwrap(),
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(1), "{}", output.log);
    let failure = output
        .log
        .lines()
        .find(|line| line.contains("action: exit | result: fail | agency: 2 | error: "))
        .unwrap_or_else(|| panic!("no failure line: {}", output.log));
    assert!(failure.contains("NotAuthorized"), "{failure}");
    assert!(!output.log.contains("action: reconnect"), "{}", output.log);
}

#[test]
fn a_plaintext_agency_against_a_tls_central_is_told_tls_is_probably_required() {
    let (dir, files) = tls_files();
    let central = tls_central(&files, 1);
    let data = dir.path().join("agency-1.csv");
    std::fs::write(&data, "Ana,Pérez,1,2000-01-01,7574\n").unwrap();
    let output = run_agency(
        &[
            "--id",
            "1",
            "--server",
            &central.address(),
            "--data",
            data.to_str().unwrap(),
            "--reconnect-attempts",
            "1",
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(1), "{}", output.log);
    assert!(
        output.log.contains("it probably requires TLS (--tls-ca"),
        "{}",
        output.log
    );
}

#[test]
fn an_agency_without_a_certificate_is_refused_by_a_mutual_tls_central_at_once() {
    let (dir, files) = tls_files();
    let central = tls_central(&files, 1);
    let data = dir.path().join("agency-1.csv");
    std::fs::write(&data, "Ana,Pérez,1,2000-01-01,7574\n").unwrap();
    let output = run_agency(
        &[
            "--id",
            "1",
            "--server",
            &central.address(),
            "--data",
            data.to_str().unwrap(),
            "--tls-ca",
            files.ca().to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(1), "{}", output.log);
    assert!(
        output
            .log
            .contains("the central requires a client certificate (--tls-cert, --tls-key) (received fatal alert: CertificateRequired)"),
        "{}",
        output.log
    );
    assert!(!output.log.contains("action: reconnect"), "{}", output.log);
}

/// Runs `lottery-loadgen --json` with `flags` and returns its JSON report.
fn loadgen_json(flags: &[&str]) -> serde_json::Value {
    let output = run(Command::new(env!("CARGO_BIN_EXE_lottery-loadgen"))
        .args(["--bets-per-agency", "600", "--batch-size", "50", "--json"])
        .args(flags));
    assert!(output.status.success(), "{}\n{}", output.stdout, output.log);
    serde_json::from_str(&output.stdout)
        .unwrap_or_else(|error| panic!("{error}: {}", output.stdout))
}

#[test]
fn the_load_generator_runs_its_own_central_over_mutual_tls_and_reports_it() {
    let report = loadgen_json(&["--agencies", "4", "--durability", "none", "--tls"]);
    assert_eq!(report["tls"], "mutual");
    assert_eq!(report["bets"], 2400);
    assert_eq!(report["failed_agencies"], 0);
    let plain = loadgen_json(&["--agencies", "2", "--durability", "none"]);
    assert_eq!(plain["tls"], "off");
}

#[test]
fn the_load_generator_speaks_mutual_tls_to_a_central_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let ids: Vec<lottery_bet::AgencyId> = (1..=3)
        .map(|id| lottery_bet::AgencyId::new(id).unwrap())
        .collect();
    // A certificate for `central` only: the name is given, not the host.
    let files = lottery_tls::write_pki(dir.path(), &ids, &["central".to_string()]).unwrap();
    let central = tls_central(&files, 3);
    let report = loadgen_json(&[
        "--agencies",
        "3",
        "--server",
        &central.address(),
        "--tls-ca",
        files.ca().to_str().unwrap(),
        "--tls-cert-dir",
        dir.path().to_str().unwrap(),
        "--tls-server-name",
        "central",
    ]);
    assert_eq!(report["tls"], "mutual");
    assert_eq!(report["bets"], 1800);
    assert_eq!(report["failed_agencies"], 0);
    let exited = central.wait_for_exit();
    assert_eq!(
        log_values(
            &exited.log,
            "action: apuesta_recibida | result: success | cantidad: "
        )
        .iter()
        .sum::<u64>(),
        1800
    );
}

#[test]
fn the_load_generator_reports_agencies_a_mutual_tls_central_refuses() {
    let (_dir, files) = tls_files();
    let central = tls_central(&files, 1);
    // The CA alone: no agency certificate, so the central refuses each.
    let output = run(Command::new(env!("CARGO_BIN_EXE_lottery-loadgen")).args([
        "--agencies",
        "1",
        "--bets-per-agency",
        "10",
        "--server",
        &central.address(),
        "--tls-ca",
        files.ca().to_str().unwrap(),
    ]));
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}\n{}",
        output.stdout,
        output.log
    );
    assert!(
        output.stdout.contains("TLS server-only"),
        "{}",
        output.stdout
    );
    assert!(
        output.stdout.contains("CertificateRequired"),
        "{}",
        output.stdout
    );
}
