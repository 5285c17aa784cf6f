//! The real `lottery-server` under floods, its stderr captured and
//! counted: refused handshakes from one address, a bound agency that
//! reconnects without end, and refused batches pipelined by one bound
//! agency (plaintext and mutual TLS). Its log stays small, says how much it
//! suppressed, `/metrics` still counts every refusal, and a well-behaved
//! agency still gets all its lines.
//!
//! The floods are short (5 s, 3 s) to keep the suite fast on two cores; the
//! issue's budget (100 KB of log per 15 s of flood) is scaled to them.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use common::{
    RawAgency, SAFETY_TIMEOUT, agency_batches, expected_winners, run_agency, scratch_dir,
};
use lottery_bet::AgencyId;
use lottery_net::{
    AgencyMessage, CentralMessage, DEFAULT_MAX_FRAME, ErrorCode, PROTOCOL_VERSION, WireBet,
    encode_agency_message,
};
use lottery_tls::{ClientTls, PkiFiles};

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

// --- a bound agency pipelining refused batches ----------------------------

/// How long the agency floods. The budget is 100 KB of log for 15 s
/// of flood; a 5 s flood keeps the test short, with the budget scaled to it.
const BATCH_FLOOD: Duration = Duration::from_secs(5);
/// The budget: bytes of log one peer may add in 15 s of flooding.
const BUDGET_PER_15_S: usize = 100_000;
/// Batches written at once, then their refusals read: pipelined, and the
/// central never waits for the test to read.
const PIPELINED: usize = 64;

/// The refusals the flood cycles through, one kind a batch (the limit knows
/// no code: a later kind is limited the same way): an invalid bet, an empty
/// batch, a batch number far ahead.
fn refused_batches() -> (Vec<u8>, [ErrorCode; 3]) {
    let invalid = WireBet {
        first_name: "Ana".to_owned(),
        last_name: "Pérez".to_owned(),
        document: "not a document".to_owned(),
        birthdate: "1990-01-01".to_owned(),
        number: 1,
    };
    let valid = WireBet {
        document: "30111222".to_owned(),
        ..invalid.clone()
    };
    let batches = [
        AgencyMessage::Batch {
            batch: 1,
            bets: vec![invalid],
        },
        AgencyMessage::Batch {
            batch: 1,
            bets: Vec::new(),
        },
        AgencyMessage::Batch {
            batch: 1_000_000,
            bets: vec![valid],
        },
    ];
    let mut bytes = Vec::new();
    for _ in 0..PIPELINED / batches.len() {
        for batch in &batches {
            encode_agency_message(batch, DEFAULT_MAX_FRAME, &mut bytes).expect("encode");
        }
    }
    let codes = [
        ErrorCode::InvalidBet,
        ErrorCode::EmptyBatch,
        ErrorCode::OutOfOrder,
    ];
    (bytes, codes)
}

/// The central's stderr, read as it comes: every line, and its bytes.
struct Log {
    lines: Arc<Mutex<Vec<String>>>,
    reader: Option<thread::JoinHandle<()>>,
}

impl Log {
    fn read(child: &mut Child) -> Self {
        let stderr = child.stderr.take().expect("piped stderr");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&lines);
        let reader = thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                kept.lock().unwrap().push(line);
            }
        });
        Self {
            lines,
            reader: Some(reader),
        }
    }

    /// The address after `prefix` in the first line that has it.
    fn address(&self, prefix: &str) -> SocketAddr {
        let deadline = Instant::now() + SAFETY_TIMEOUT;
        loop {
            let found = self.lines.lock().unwrap().iter().find_map(|line| {
                let rest = &line[line.find(prefix)? + prefix.len()..];
                let end = rest.find(' ').unwrap_or(rest.len());
                Some(rest[..end].parse().expect("an address"))
            });
            if let Some(address) = found {
                return address;
            }
            assert!(Instant::now() < deadline, "no `{prefix}` line");
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits until a line contains `text`.
    fn wait_for(&self, text: &str) {
        let deadline = Instant::now() + SAFETY_TIMEOUT;
        while !self
            .lines
            .lock()
            .unwrap()
            .iter()
            .any(|line| line.contains(text))
        {
            assert!(Instant::now() < deadline, "no `{text}` line");
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Every line, once the central closed its stderr.
    fn finish(mut self) -> Vec<String> {
        self.reader
            .take()
            .unwrap()
            .join()
            .expect("the reader thread");
        std::mem::take(&mut *self.lines.lock().unwrap())
    }
}

/// `/metrics`: the refusals counted, by code name.
fn refusals(http: SocketAddr) -> HashMap<String, u64> {
    let output = Command::new("curl")
        .args(["-sS", "--max-time", "30"])
        .arg(format!("http://{http}/metrics"))
        .output()
        .expect("run curl (.ci/run installs it when missing)");
    assert!(output.status.success(), "curl: {output:?}");
    let text = String::from_utf8(output.stdout).expect("UTF-8");
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|line| Ok(line.to_owned())))
        .expect("the metrics parse");
    scrape
        .samples
        .iter()
        .filter(|sample| sample.metric == "lottery_refusals_total")
        .map(|sample| {
            let (prometheus_parse::Value::Counter(count)
            | prometheus_parse::Value::Untyped(count)) = sample.value
            else {
                panic!("not a count: {sample:?}");
            };
            (sample.labels.get("code").expect("a code").to_owned(), count as u64)
        })
        .collect()
}

/// A `lottery-server` process expecting agencies 1 and 2 (so the draw
/// waits for both), its status port on, over mutual TLS when it has a PKI.
struct Central {
    child: Child,
    log: Log,
    addr: SocketAddr,
    http: SocketAddr,
    pki: Option<PkiFiles>,
}

impl Central {
    fn start(dir: &Path, tls: bool) -> Self {
        let store = dir.join("bets.csv").display().to_string();
        let pki = tls.then(|| {
            let agencies = [AgencyId::new(1).unwrap(), AgencyId::new(2).unwrap()];
            lottery_tls::write_pki(&dir.join("pki"), &agencies, &["localhost".to_owned()])
                .expect("write a PKI")
        });
        let mut command = Command::new(BINARY);
        command
            .args(["--listen", "127.0.0.1:0", "--http", "127.0.0.1:0"])
            .args(["--store", &store, "--agencies", "2", "--threads", "2"])
            .args(["--exit-when-done", "--log-level", "INFO"]);
        if let Some(pki) = &pki {
            let (cert, key) = pki.server();
            command
                .arg("--tls-cert")
                .arg(cert)
                .arg("--tls-key")
                .arg(key);
            command.arg("--tls-client-ca").arg(pki.ca());
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start lottery-server");
        let log = Log::read(&mut child);
        let addr = log.address("action: accept_connections | result: in_progress | listen: ");
        let http = log.address("action: serve_http | result: in_progress | listen: ");
        Self {
            child,
            log,
            addr,
            http,
            pki,
        }
    }

    /// A connection for `agency`, with its certificate over TLS.
    fn connect(&self, agency: u32) -> RawAgency {
        match &self.pki {
            Some(pki) => RawAgency::connect_tls(self.addr, &agency_tls(pki, agency)),
            None => RawAgency::connect(self.addr),
        }
    }

    /// Agency 1 does its whole job while `other` (agency 2's connection)
    /// finishes with no bets and takes its (no) winners; then the central
    /// exits by itself. Returns every line it logged.
    fn finish_run(mut self, mut other: RawAgency) -> Vec<String> {
        let batches = agency_batches(1, 2, 50);
        let expected = expected_winners(&batches);
        let honest = {
            let connection = self.connect(1);
            thread::spawn(move || run_agency(connection, 1, &batches))
        };
        // Its winners query waits for agency 2's finish.
        self.log
            .wait_for("action: consulta_ganadores | result: in_progress | agency: 1");
        other.send(&AgencyMessage::Finish { bets_sent: 0 });
        assert_eq!(
            other.recv(),
            Some(CentralMessage::Finished { bets_stored: 0 })
        );
        other.send(&AgencyMessage::WinnersQuery { wait: true });
        assert_eq!(other.winners(), Vec::<String>::new());
        other.close();
        assert_eq!(honest.join().expect("agency 1"), expected);
        let status = wait_with_deadline(&mut self.child);
        let lines = self.log.finish();
        assert!(status.success(), "{status:?}\n{}", lines.join("\n"));
        assert_whole_run_of_agency_1(&lines);
        lines
    }
}

/// Every line of agency 1's well-behaved run is in `lines`, once.
fn assert_whole_run_of_agency_1(lines: &[String]) {
    for line in [
        "action: handshake | result: success | agency: 1 |",
        "action: apuesta_recibida | result: success | cantidad: 50 | agency: 1 | batch: 1",
        "action: apuesta_recibida | result: success | cantidad: 50 | agency: 1 | batch: 2",
        "action: finish | result: success | agency: 1 |",
        "action: consulta_ganadores | result: in_progress | agency: 1",
        "action: sorteo | result: success",
        "action: winners_sent | result: success | agency: 1 |",
        "action: close_connection | result: success | agency: 1 |",
        "action: exit | result: success | reason: done",
    ] {
        assert_eq!(
            lines.iter().filter(|logged| logged.contains(line)).count(),
            1,
            "{line}"
        );
    }
}

/// Pipelines refused batches over `flooder` for `period`, reading every
/// refusal; returns how many came of each code.
fn pipeline_refused_batches(flooder: &mut RawAgency, period: Duration) -> HashMap<String, u64> {
    let (flood, codes) = refused_batches();
    let mut refused: HashMap<String, u64> = HashMap::new();
    let started = Instant::now();
    while started.elapsed() < period {
        flooder.send_raw(&flood);
        for index in 0..PIPELINED / codes.len() * codes.len() {
            let expected = codes[index % codes.len()];
            match flooder.recv() {
                Some(CentralMessage::Error(error)) if error.code == expected => {
                    *refused.entry(expected.name().to_owned()).or_default() += 1;
                }
                other => panic!("expected a {expected:?} refusal, got {other:?}"),
            }
        }
    }
    refused
}

/// The summarized counts of `log_suppressed` lines about agency `agency`.
fn suppressed_of_agency(lines: &[String], agency: u32) -> u64 {
    let prefix =
        format!("action: log_suppressed | result: success | agency: {agency} | suppressed: ");
    lines
        .iter()
        .filter_map(|line| {
            let (_, count) = line.split_once(&prefix)?;
            Some(count.parse::<u64>().expect("a count"))
        })
        .sum()
}

/// Floods as agency 2 for [`BATCH_FLOOD`], then agency 1 does its whole job
/// and agency 2 finishes empty-handed. Checks the refusal counts of
/// `/metrics`, and the log's size and content.
fn flood_of_refused_batches(test: &str, tls: bool) {
    let dir = scratch_dir(test);
    let central = Central::start(&dir, tls);
    let (mut flooder, welcome) = central.connect(2).welcome(2);
    assert_eq!(welcome, (0, 0, false));
    let started = Instant::now();
    let sent = pipeline_refused_batches(&mut flooder, BATCH_FLOOD);
    let flooded = started.elapsed();
    let refused: u64 = sent.values().sum();
    assert!(refused >= 1000, "a flood of {refused} refusals only");

    // `/metrics` counts every refusal, whatever the log wrote of them.
    let counted = refusals(central.http);
    assert_eq!(sent.len(), 3);
    for (code, count) in &sent {
        assert_eq!(counted[code], *count, "{code}: {counted:?}");
    }

    let lines = central.finish_run(flooder);

    // Agency 2's refusals: a few written, the rest counted in summaries
    // (with agency 2's few other lines: its handshake, finish, winners and
    // close).
    let failed = lines
        .iter()
        .filter(|line| line.contains("action: apuesta_recibida | result: fail | cantidad:"))
        .filter(|line| line.contains("| agency: 2 |"))
        .count() as u64;
    let summarized = suppressed_of_agency(&lines, 2);
    assert!(
        (refused..=refused + 4).contains(&(failed + summarized)),
        "{failed} written and {summarized} suppressed of {refused} refusals"
    );
    let elapsed = started.elapsed().as_secs() + 1;
    assert!(
        failed <= BURST + PER_SECOND * elapsed,
        "{failed} refusal lines in {elapsed} s"
    );

    // The log's size: the flood's budget, scaled to its length, and a few
    // kilobytes for everything else (the startup, agency 1, the shutdown).
    let bytes: usize = lines.iter().map(|line| line.len() + 1).sum();
    eprintln!(
        "{refused} refusals in {flooded:?}: {failed} written, {summarized} suppressed, {bytes} bytes of log"
    );
    let budget = BUDGET_PER_15_S * flooded.as_millis() as usize / 15_000 + 16_000;
    assert!(
        bytes <= budget,
        "{bytes} bytes of log for {refused} refusals in {flooded:?} (budget {budget}):\n{}",
        lines[..lines.len().min(60)].join("\n")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Agency `agency`'s TLS, its certificate from `pki`.
fn agency_tls(pki: &PkiFiles, agency: u32) -> ClientTls {
    let (cert, key) = pki.agency(AgencyId::new(agency).unwrap());
    ClientTls::load(&pki.ca(), Some((&cert, &key)), None).expect("load the agency's files")
}

#[test]
fn refused_batches_pipelined_by_a_bound_agency_are_logged_within_its_budget() {
    flood_of_refused_batches("log_flood_batches", false);
}

#[test]
fn refused_batches_over_mutual_tls_are_logged_within_the_agencys_budget() {
    flood_of_refused_batches("log_flood_batches_tls", true);
}

/// How long the peer of the reconnect flood reconnects.
const RECONNECT_FLOOD: Duration = Duration::from_secs(3);

#[test]
fn a_peer_reconnecting_as_an_agency_without_end_is_logged_within_the_agencys_budget() {
    let dir = scratch_dir("log_flood_reconnects");
    let central = Central::start(&dir, false);
    // Agency 2 says `Hello`, is welcomed and leaves, again and again: each
    // time a handshake and a close of a bound agency.
    let started = Instant::now();
    let mut connections = 0u64;
    while started.elapsed() < RECONNECT_FLOOD {
        let (agency, _) = central.connect(2).welcome(2);
        agency.close();
        connections += 1;
    }
    assert!(connections >= 100, "{connections} connections only");
    let (last, _) = central.connect(2).welcome(2);
    let lines = central.finish_run(last);

    // Agency 2's lines (its handshakes, closes and any replacement, and the
    // finish, winners and close of its last connection): a few written, the
    // rest summarized.
    let about_2 = |line: &&String| {
        [
            "handshake",
            "close_connection",
            "replace_connection",
            "finish",
            "winners_sent",
        ]
        .iter()
        .any(|action| line.contains(&format!("action: {action} | result: success | agency: 2 ")))
    };
    let written = lines.iter().filter(about_2).count() as u64;
    let summarized = suppressed_of_agency(&lines, 2);
    let caused = 2 * (connections + 1) + 2;
    assert!(
        (caused..=caused + connections + 1).contains(&(written + summarized)),
        "{written} written and {summarized} suppressed of {caused} or more"
    );
    let elapsed = started.elapsed().as_secs() + 1;
    assert!(
        written <= BURST + PER_SECOND * elapsed,
        "{written} lines about agency 2 in {elapsed} s"
    );
    let bytes: usize = lines.iter().map(|line| line.len() + 1).sum();
    eprintln!(
        "{connections} connections of agency 2: {written} lines written, {summarized} suppressed, {bytes} bytes of log"
    );
    assert!(
        bytes < 32_000,
        "{bytes} bytes of log:\n{}",
        lines.join("\n")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
