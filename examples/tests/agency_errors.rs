//! The agency's connection errors as processes: a peer that accepts and
//! never answers, a closed port (the attempt counts agree in every line),
//! and five agencies that lose the central together pausing differently.

mod support;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use support::{exit_failure, log_values, one_bet_file, run_agency};

/// The attempt numbers of the `reconnect | result: in_progress` lines, the
/// count of the `reconnect | result: fail` line, and the exit line.
fn counts(log: &str) -> (Vec<u64>, Vec<u64>, String) {
    let progress = log_values(
        log,
        "action: reconnect | result: in_progress | agency: 1 | attempt: ",
    );
    let given_up = log_values(
        log,
        "action: reconnect | result: fail | agency: 1 | attempts: ",
    );
    (progress, given_up, exit_failure(log).to_string())
}

#[test]
fn an_agency_against_a_peer_that_accepts_and_never_answers_says_so_within_seconds() {
    // Accepts every connection and holds it open, silent.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let data = one_bet_file(dir.path());
    let started = Instant::now();
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
    let took = started.elapsed();
    assert_eq!(output.status.code(), Some(1), "{}", output.log);
    let (progress, given_up, failure) = counts(&output.log);
    assert_eq!(progress, [2], "{}", output.log);
    assert_eq!(given_up, [2], "{}", output.log);
    assert!(
        failure.contains(&format!(
            "the peer at {server} accepted the connection but did not answer like a central within 5 s, 2 attempts in a row: check that --server names the central's agency port"
        )),
        "{failure}"
    );
    // Two attempts of 5 s and one pause of at most 100 ms: not minutes.
    assert!(took < Duration::from_secs(20), "{took:?}");
}

#[test]
fn an_agency_against_a_closed_port_counts_its_attempts_alike_in_every_line() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = format!("127.0.0.1:{port}");
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
            "3",
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(1), "{}", output.log);
    let (progress, given_up, failure) = counts(&output.log);
    // The first connect is attempt 1, then three reconnects.
    assert_eq!(progress, [2, 3, 4], "{}", output.log);
    assert_eq!(given_up, [4], "{}", output.log);
    assert!(
        failure.contains(&format!(
            "cannot connect to the central at {server} after 4 attempts: "
        )),
        "{failure}"
    );
    // Each progress line names its attempt's own failure, with no count of
    // its own to contradict the line's.
    for line in output
        .log
        .lines()
        .filter(|line| line.contains("result: in_progress"))
    {
        assert!(
            line.contains(&format!(
                "| error: cannot connect to the central at {server}: "
            )),
            "{line}"
        );
    }
    // Every count of attempts in the log is the same 4.
    assert_eq!(
        log_values(&output.log, "after "),
        [4, 4],
        "the fail line and the exit line: {}",
        output.log
    );
}

#[test]
fn five_agencies_that_lose_the_central_together_pause_differently() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = format!("127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    let data = one_bet_file(dir.path());
    let agencies: Vec<_> = (1..=5)
        .map(|_| {
            let server = server.clone();
            let data = data.clone();
            std::thread::spawn(move || {
                // The same agency number for all five: only the seed the
                // program draws tells them apart.
                run_agency(
                    &[
                        "--id",
                        "1",
                        "--server",
                        &server,
                        "--data",
                        data.to_str().unwrap(),
                        "--reconnect-attempts",
                        "4",
                    ],
                    &[],
                )
            })
        })
        .collect();
    let mut sequences = Vec::new();
    for agency in agencies {
        let output = agency.join().unwrap();
        assert_eq!(output.status.code(), Some(1), "{}", output.log);
        let pauses = log_values(&output.log, "| pause_ms: ");
        let ceilings = log_values(&output.log, "| pause_max_ms: ");
        assert_eq!(ceilings, [100, 200, 400, 800], "{}", output.log);
        assert!(
            pauses
                .iter()
                .zip(&ceilings)
                .all(|(pause, most)| pause <= most),
            "{pauses:?} over {ceilings:?}"
        );
        sequences.push(pauses);
    }
    let mut distinct = sequences.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 5, "{sequences:?}");
}
