//! The real `lottery-server` under a flood of refused handshakes from one
//! address: its log stays small, says how much it suppressed, and a
//! well-behaved agency from the same address still gets its course lines.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Instant;

use common::{RawAgency, SAFETY_TIMEOUT, agency_batches, expected_winners, scratch_dir};
use lottery_net::{AgencyMessage, CentralMessage, ErrorCode, PROTOCOL_VERSION};

const BINARY: &str = env!("CARGO_BIN_EXE_lottery-server");

/// Bad handshakes the flood makes, one connection each.
const FLOOD: usize = 2000;
/// Lines about one peer the central may write at once (`log_limit.rs`).
const BURST: u64 = 20;
/// Lines about one peer it may write per second, sustained.
const PER_SECOND: u64 = 2;

/// The lines about a peer that the limit covers: its connection accepted,
/// its handshake refused, its connection closed without ever binding.
fn is_limited(line: &str) -> bool {
    line.contains("action: accept_connections | result: success | peer: 127.0.0.1:")
        || line.contains("action: handshake | result: fail |")
        || line.contains(
            "action: close_connection | result: success | agency: none | peer: 127.0.0.1:",
        )
}

/// The count of a `log_suppressed` line about 127.0.0.1.
fn suppressed(line: &str) -> Option<u64> {
    let (_, count) = line
        .split_once("action: log_suppressed | result: success | peer: 127.0.0.1 | suppressed: ")?;
    Some(count.parse().expect("a count"))
}

#[test]
fn a_flood_of_refused_handshakes_is_logged_within_the_peers_budget() {
    let dir = scratch_dir("log_flood");
    let store = dir.join("bets.csv").display().to_string();
    let started = Instant::now();
    let mut child = Command::new(BINARY)
        .args(["--listen", "127.0.0.1:0", "--store", &store])
        .args(["--agencies", "1", "--threads", "2", "--exit-when-done"])
        .args(["--log-level", "INFO"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start lottery-server");
    let stderr = child.stderr.take().expect("piped stderr");
    let (send, lines) = mpsc::channel();
    let reader = thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = send.send(line);
        }
    });
    let addr = listening(&lines);

    for attempt in 0..FLOOD {
        let mut bad = RawAgency::connect(addr);
        let (version, agency) = if attempt % 2 == 0 {
            (PROTOCOL_VERSION, 99) // an agency the central does not expect
        } else {
            (PROTOCOL_VERSION.wrapping_add(1), 1) // another protocol version
        };
        bad.send(&AgencyMessage::Hello { version, agency });
        let codes = bad.codes_until_closed();
        assert_eq!(codes.len(), 1, "one refusal, then closed: {codes:?}");
        assert_ne!(codes[0], ErrorCode::ShuttingDown);
    }

    // A well-behaved agency from the same address, after the flood.
    let batches = agency_batches(1, 2, 50);
    let (mut agency, _) = RawAgency::hello(addr, 1);
    for (index, bets) in batches.iter().enumerate() {
        agency.send(&AgencyMessage::Batch {
            batch: index as u64 + 1,
            bets: bets.clone(),
        });
        assert!(matches!(agency.recv(), Some(CentralMessage::Ack { .. })));
    }
    agency.send(&AgencyMessage::Finish { bets_sent: 100 });
    assert!(matches!(
        agency.recv(),
        Some(CentralMessage::Finished { .. })
    ));
    agency.send(&AgencyMessage::WinnersQuery { wait: true });
    assert_eq!(agency.winners(), expected_winners(&batches));
    agency.close();

    let status = wait_with_deadline(&mut child);
    let elapsed = started.elapsed().as_secs() + 1;
    reader.join().expect("the reader thread");
    let lines: Vec<String> = lines.try_iter().collect();
    let log = lines.join("\n");
    assert!(status.success(), "{status:?}\n{log}");

    // The well-behaved agency's lines are all there: a bound agency is not
    // limited.
    for line in [
        "action: handshake | result: success | agency: 1 |",
        "action: apuesta_recibida | result: success | cantidad: 50 | agency: 1 | batch: 1",
        "action: apuesta_recibida | result: success | cantidad: 50 | agency: 1 | batch: 2",
        "action: sorteo | result: success",
        "action: winners_sent | result: success | agency: 1",
        "action: close_connection | result: success | agency: 1 | peer: 127.0.0.1:",
        "action: exit | result: success | reason: done",
    ] {
        assert_eq!(
            lines.iter().filter(|logged| logged.contains(line)).count(),
            1,
            "{line}"
        );
    }

    // Every line the limit covers is either written or counted in a summary
    // (three per bad connection, and the agency's own accept line).
    let written = lines.iter().filter(|line| is_limited(line)).count() as u64;
    let summaries: Vec<u64> = lines.iter().filter_map(|line| suppressed(line)).collect();
    let counted: u64 = summaries.iter().sum();
    assert_eq!(
        written + counted,
        3 * FLOOD as u64 + 1,
        "written {written}, suppressed {counted}:\n{log}"
    );
    // What was written fits the peer's budget for the time the run took
    // (a bound from the run's own length, so a slow machine only allows
    // more, never fails), far below the flood.
    let budget = BURST + PER_SECOND * elapsed + 1;
    assert!(
        written <= budget,
        "{written} lines over {elapsed} s:\n{log}"
    );
    assert!(counted >= 3 * FLOOD as u64 + 1 - budget, "{counted}");
    assert!(!summaries.is_empty());
    // A summary comes only with a written line, or once at shutdown.
    assert!(summaries.len() as u64 <= written + 1, "{log}");
    for line in lines.iter().filter(|line| line.contains("log_suppressed")) {
        assert!(line.contains(" WARNING  action: log_suppressed"), "{line}");
    }
    let bytes: usize = lines.iter().map(|line| line.len() + 1).sum();
    assert!(
        bytes < 400 * (budget as usize + 40),
        "{bytes} bytes of log:\n{log}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The address the central listens on, from its log.
fn listening(lines: &mpsc::Receiver<String>) -> SocketAddr {
    const LISTEN: &str = "action: accept_connections | result: in_progress | listen: ";
    loop {
        let line = lines
            .recv_timeout(SAFETY_TIMEOUT)
            .expect("the central says where it listens");
        if let Some(at) = line.find(LISTEN) {
            let rest = &line[at + LISTEN.len()..];
            let end = rest.find(' ').unwrap_or(rest.len());
            return rest[..end].parse().expect("an address");
        }
    }
}

fn wait_with_deadline(child: &mut std::process::Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + SAFETY_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().expect("poll the central") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the central did not exit once its agency was served");
        }
        thread::sleep(std::time::Duration::from_millis(10));
    }
}
