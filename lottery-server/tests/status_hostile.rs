//! The status port (`--http`) of the `lottery-server` binary, as a process,
//! against hostile HTTP clients (issue 23): an endless request head, 2,000
//! slowloris connections during a course run, a client that pipelines and
//! never reads during shutdown, and `/healthz` from a fresh client while
//! they are all connected.
//!
//! What is measured is the central's own view: its RSS and its open
//! descriptors (from `/proc/PID`), its log, its store, its exit. The time
//! bounds (`/healthz` within 100 ms, an exit within 2 s) are what the port
//! promises, not speed measurements.

mod common;

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use common::process::{BINARY, Process};
use common::{
    RawAgency, SAFETY_TIMEOUT, TestCentral, agency_batches, expected_winners, run_agency,
    scratch_dir, settings,
};
use lottery_net::WireBet;

/// One test of this file at a time: each holds a central to a time bound
/// (`/healthz` within 100 ms, an exit within 2 s) that another test's
/// flood of connections on the same cores should not eat into.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The central's resident memory, in bytes (`VmRSS` of `/proc/PID/status`).
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// The central's open descriptors (the entries of `/proc/PID/fd`).
fn open_descriptors(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count)
}

/// A thread sampling `measure(pid)` every 20 ms until `stop`; the largest.
fn sample_max(
    pid: u32,
    stop: &Arc<AtomicBool>,
    measure: fn(u32) -> u64,
) -> thread::JoinHandle<u64> {
    let stop = Arc::clone(stop);
    thread::spawn(move || {
        let mut max = 0;
        while !stop.load(Ordering::SeqCst) {
            max = max.max(measure(pid));
            thread::sleep(Duration::from_millis(20));
        }
        max
    })
}

/// Starts a central expecting `agencies`, status port on loopback, with
/// `extra` flags, under `prlimit` when `descriptors` is given (its soft and
/// hard limit on open files); returns it, its agency and status ports.
fn start_central(
    dir: &Path,
    agencies: u32,
    extra: &[&str],
    descriptors: Option<u64>,
) -> (Process, SocketAddr, SocketAddr) {
    let store = dir.join("bets.csv").display().to_string();
    let agencies = agencies.to_string();
    let mut args = vec![
        "--listen",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
        "--agencies",
        &agencies,
        "--threads",
        "2",
        "--store",
        &store,
    ];
    args.extend_from_slice(extra);
    let command = match descriptors {
        None => {
            let mut command = Command::new(BINARY);
            command.args(&args);
            command
        }
        Some(limit) => {
            let mut command = Command::new("prlimit");
            command
                .arg(format!("--nofile={limit}:{limit}"))
                .arg("--")
                .arg(BINARY)
                .args(&args);
            command
        }
    };
    let mut central = Process::spawn(command);
    let agency_port = central.address("action: accept_connections | result: in_progress");
    let status_port = central.address("action: serve_http | result: in_progress");
    (central, agency_port, status_port)
}

/// Each agency's batches (small: what matters is who else is connected).
fn batches_of(agencies: u32) -> HashMap<u32, Vec<Vec<WireBet>>> {
    (1..=agencies)
        .map(|agency| (agency, agency_batches(agency, 20, 25)))
        .collect()
}

/// Runs every agency of `batches` on threads; checks each one's winners.
fn run_agencies(agency_port: SocketAddr, batches: &HashMap<u32, Vec<Vec<WireBet>>>) {
    let threads: Vec<_> = batches
        .iter()
        .map(|(&agency, mine)| {
            let mine = mine.clone();
            thread::spawn(move || {
                let winners = run_agency(RawAgency::connect(agency_port), agency, &mine);
                assert_eq!(winners, expected_winners(&mine), "agency {agency}");
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("an agency finished with its winners");
    }
}

/// `GET path` from a fresh connection: the time until the whole answer
/// was read, and the answer.
fn fresh_get(http: SocketAddr, path: &str) -> (Duration, String) {
    let started = Instant::now();
    let mut stream = TcpStream::connect(http).expect("connect to the status port");
    stream.set_read_timeout(Some(SAFETY_TIMEOUT)).unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: central\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .expect("send the request");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    (started.elapsed(), answer)
}

/// The value of the sample `series` (name and labels, as written) in
/// `/metrics`.
fn metric(http: SocketAddr, series: &str) -> f64 {
    let (_, text) = fresh_get(http, "/metrics");
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {series} in {text}"))
        .parse()
        .expect("a number")
}

/// `/healthz` answers a fresh client `ok` within 100 ms, `times` times.
fn assert_healthz_answers_promptly(http: SocketAddr, times: usize) {
    for _ in 0..times {
        let (took, answer) = fresh_get(http, "/healthz");
        assert!(
            answer.starts_with("HTTP/1.1 200") && answer.ends_with("ok\n"),
            "{answer:?}"
        );
        assert!(
            took < Duration::from_millis(100),
            "/healthz took {took:?} with hostile clients connected"
        );
    }
}

/// A request head that never ends: `GET /status`, then a header whose
/// value goes on, sent on `stream` in 64 KiB writes until the central
/// stops taking them; the bytes it took.
fn send_endless_header(stream: &mut TcpStream, budget: u64) -> u64 {
    let chunk = vec![b'a'; 64 * 1024];
    let mut sent = 0;
    if stream
        .write_all(b"GET /status HTTP/1.1\r\nHost: central\r\nX-a: ")
        .is_err()
    {
        return 0;
    }
    while sent < budget {
        match stream.write(&chunk) {
            Ok(0) | Err(_) => break,
            Ok(written) => sent += written as u64,
        }
    }
    sent
}

#[test]
fn an_endless_request_head_is_cut_at_its_limit_and_the_central_stays_small() {
    let _serial = one_at_a_time();
    let dir = scratch_dir("status_hostile_endless_head");
    let (central, agency_port, http) = start_central(&dir, 2, &[], None);

    // A head over the limit (16 KiB) is answered 431 and closed.
    let mut stream = TcpStream::connect(http).unwrap();
    stream.set_read_timeout(Some(SAFETY_TIMEOUT)).unwrap();
    let mut head = b"GET /status HTTP/1.1\r\nHost: central\r\nX-a: ".to_vec();
    head.resize(17 * 1024, b'a');
    stream.write_all(&head).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    assert!(
        answer.starts_with(b"HTTP/1.1 431"),
        "{:?}",
        String::from_utf8_lossy(&answer)
    );

    // 100+ MiB of endless header while the agencies run.
    let stop = Arc::new(AtomicBool::new(false));
    let largest = sample_max(central.pid(), &stop, rss);
    let sent = Arc::new(AtomicU64::new(0));
    let sender = {
        let sent = Arc::clone(&sent);
        thread::spawn(move || {
            const TOTAL: u64 = 101 * 1024 * 1024;
            let deadline = Instant::now() + SAFETY_TIMEOUT;
            while sent.load(Ordering::SeqCst) < TOTAL && Instant::now() < deadline {
                let Ok(mut stream) = TcpStream::connect(http) else {
                    continue;
                };
                let left = TOTAL - sent.load(Ordering::SeqCst);
                sent.fetch_add(send_endless_header(&mut stream, left), Ordering::SeqCst);
            }
        })
    };
    run_agencies(agency_port, &batches_of(2));
    sender.join().unwrap();
    stop.store(true, Ordering::SeqCst);
    let largest = largest.join().unwrap();
    let sent = sent.load(Ordering::SeqCst);
    assert!(sent > 100 * 1024 * 1024, "sent {sent} bytes of header");
    assert!(
        largest < 50 * 1024 * 1024,
        "the central's RSS reached {largest} bytes while it was sent {sent} bytes of header"
    );
    assert_healthz_answers_promptly(http, 1);
    let cut = metric(
        http,
        "lottery_http_connections_cut_total{reason=\"head_too_large\"}",
    );
    assert!(cut >= 2.0, "{cut} heads cut");
    let (exit, _) = central.terminate();
    assert!(exit.success(), "{exit:?}");
}

/// Raises this process's soft limit on open files as far as its hard limit
/// allows; the limit now.
fn raise_descriptor_limit() -> u64 {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    limit.current = limit.maximum;
    let _ = setrlimit(Resource::Nofile, limit);
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

/// Opens `count` slowloris connections to `http`: each sends the start of
/// a request head and then nothing. Kept open until dropped.
fn slowloris(http: SocketAddr, count: usize) -> Vec<TcpStream> {
    let mut held = Vec::with_capacity(count);
    for _ in 0..count {
        match TcpStream::connect(http) {
            Ok(mut stream) => {
                let _ = stream.write_all(b"GET /status HTTP/1.1\r\nHost: central\r\nX-a: a");
                held.push(stream);
            }
            // The backlog is full for a moment: the central is closing
            // the ones it evicts.
            Err(error) if error.kind() == ErrorKind::ConnectionRefused => {
                thread::sleep(Duration::from_millis(1));
            }
            Err(error) => panic!("connect to the status port: {error}"),
        }
    }
    held
}

/// The lines of `store` grouped by agency (its first field), in order.
fn lines_by_agency(store: &Path) -> HashMap<String, Vec<String>> {
    let text = std::fs::read_to_string(store).expect("read the store");
    let mut lines: HashMap<String, Vec<String>> = HashMap::new();
    for line in text.lines() {
        let agency = line.split(',').next().unwrap_or("").to_owned();
        lines.entry(agency).or_default().push(line.to_owned());
    }
    lines
}

#[test]
fn two_thousand_slowloris_connections_leave_the_agency_port_and_the_store_untouched() {
    let _serial = one_at_a_time();
    let dir = scratch_dir("status_hostile_slowloris");
    let limit = raise_descriptor_limit();
    // 2,000 connections, or as many as this process can hold beside what
    // it needs for itself.
    let connections = 2_000.min(usize::try_from(limit.saturating_sub(200)).unwrap_or(2_000));
    if connections < 2_000 {
        eprintln!(
            "note: {connections} slowloris connections, not 2000: this process may open only \
             {limit} files (its hard limit)"
        );
    }
    assert!(
        connections > 200,
        "a hard limit of {limit} files is too low for this test"
    );
    // The central runs with 1,024 descriptors (a common default), far fewer
    // than the connections.
    let (mut central, agency_port, http) = start_central(&dir, 3, &[], Some(1024));
    let pid = central.pid();
    let before = open_descriptors(pid);
    let stop = Arc::new(AtomicBool::new(false));
    let largest = sample_max(pid, &stop, |pid| open_descriptors(pid) as u64);

    let batches = batches_of(3);
    let agencies = {
        let batches = batches.clone();
        thread::spawn(move || run_agencies(agency_port, &batches))
    };
    let held = slowloris(http, connections);
    agencies.join().expect("every agency finished");
    assert_healthz_answers_promptly(http, 3);
    stop.store(true, Ordering::SeqCst);
    let largest = largest.join().unwrap() as usize;

    let evicted = metric(
        http,
        "lottery_http_connections_cut_total{reason=\"evicted\"}",
    );
    assert!(evicted >= (connections - 64) as f64, "{evicted} evicted");
    assert!(metric(http, "lottery_http_connections") <= 64.0);
    // Bounded: the status port's 64 connections, the agencies, a margin.
    assert!(
        largest <= before + 64 + 3 + 16,
        "the central held {largest} descriptors ({before} before {connections} slowloris \
         connections)"
    );
    let lines = central.lines_so_far();
    assert!(
        !lines
            .iter()
            .any(|line| line.contains("action: accept_connections | result: fail")),
        "an accept failed: {lines:?}"
    );
    // The store holds what a run without slowloris stores, byte for byte
    // (agency by agency: their order among each other is the run's).
    let reference = scratch_dir("status_hostile_slowloris_reference");
    let quiet = TestCentral::start(&reference, 3, settings(2));
    run_agencies(quiet.addr, &batches);
    quiet.stop();
    assert_eq!(
        lines_by_agency(&dir.join("bets.csv")),
        lines_by_agency(&reference.join("bets.csv"))
    );
    drop(held);
    let (exit, _) = central.terminate();
    assert!(exit.success(), "{exit:?}");
}

/// A client that pipelines `GET /metrics` as fast as the central takes
/// them and never reads an answer, until `stop`; returns once its writes
/// block (its requests fill every buffer between it and the central).
fn never_reading_pipeliner(http: SocketAddr, stop: &Arc<AtomicBool>) -> thread::JoinHandle<()> {
    let stop = Arc::clone(stop);
    let (blocked, is_blocked) = std::sync::mpsc::channel();
    let thread = thread::spawn(move || {
        let mut stream = TcpStream::connect(http).expect("connect to the status port");
        stream.set_nonblocking(true).unwrap();
        let requests = b"GET /metrics HTTP/1.1\r\nHost: central\r\n\r\n".repeat(64);
        let mut since_blocked: Option<Instant> = None;
        while !stop.load(Ordering::SeqCst) {
            match stream.write(&requests) {
                Ok(_) => since_blocked = None,
                Err(error) if error.kind() == ErrorKind::WouldBlock => {
                    let since = *since_blocked.get_or_insert_with(Instant::now);
                    if since.elapsed() > Duration::from_millis(300) {
                        let _ = blocked.send(());
                    }
                    thread::sleep(Duration::from_millis(5));
                }
                // Dropped by the central (its write timeout): connect
                // again, unless it is gone.
                Err(_) => match TcpStream::connect(http) {
                    Ok(again) => {
                        stream = again;
                        stream.set_nonblocking(true).unwrap();
                    }
                    Err(_) => return,
                },
            }
        }
    });
    is_blocked
        .recv_timeout(SAFETY_TIMEOUT)
        .expect("the pipeliner's writes block");
    thread
}

#[test]
fn a_client_that_pipelines_and_never_reads_delays_neither_sigterm_nor_healthz() {
    let _serial = one_at_a_time();
    let dir = scratch_dir("status_hostile_pipeliner_sigterm");
    let (mut central, _, http) = start_central(&dir, 1, &[], None);
    let stop = Arc::new(AtomicBool::new(false));
    let pipeliner = never_reading_pipeliner(http, &stop);
    assert_healthz_answers_promptly(http, 3);
    let (_, ready) = fresh_get(http, "/readyz");
    assert!(ready.ends_with("\r\n\r\nready\n"), "{ready:?}");
    central.sigterm();
    let exit = central.exit_within(Duration::from_secs(2));
    stop.store(true, Ordering::SeqCst);
    pipeliner.join().unwrap();
    let exit = exit.expect("the central exits within 2 s of SIGTERM");
    assert!(exit.success(), "{exit:?}");
}

#[test]
fn a_client_that_pipelines_and_never_reads_does_not_keep_a_done_central_up() {
    let _serial = one_at_a_time();
    let dir = scratch_dir("status_hostile_pipeliner_done");
    let (mut central, agency_port, http) = start_central(&dir, 1, &["--exit-when-done"], None);
    let stop = Arc::new(AtomicBool::new(false));
    let pipeliner = never_reading_pipeliner(http, &stop);
    run_agencies(agency_port, &batches_of(1));
    // The agency got its winners and closed: the central is done.
    let exit = central.exit_within(Duration::from_secs(2));
    stop.store(true, Ordering::SeqCst);
    pipeliner.join().unwrap();
    let exit = exit.expect("the central exits within 2 s of the last agency's close");
    assert!(exit.success(), "{exit:?}");
}

#[test]
fn healthz_answers_a_fresh_client_within_100_ms_while_hostile_clients_hold_the_port() {
    let _serial = one_at_a_time();
    let dir = scratch_dir("status_hostile_healthz");
    let (central, _, http) = start_central(&dir, 1, &[], None);
    let stop = Arc::new(AtomicBool::new(false));
    // More slowloris connections than the port holds, a client that
    // pipelines and never reads, and one that sent most of a head (12 KiB,
    // under the limit) and stalls.
    let held = slowloris(http, 200);
    let pipeliner = never_reading_pipeliner(http, &stop);
    let mut stalled = TcpStream::connect(http).unwrap();
    let mut head = b"GET /status HTTP/1.1\r\nHost: central\r\nX-a: ".to_vec();
    head.resize(12 * 1024, b'a');
    stalled.write_all(&head).unwrap();
    assert_healthz_answers_promptly(http, 10);
    stop.store(true, Ordering::SeqCst);
    pipeliner.join().unwrap();
    drop(held);
    let (exit, _) = central.terminate();
    assert!(exit.success(), "{exit:?}");
}

/// Reads `stream` until the central closes it (EOF or a reset); how long
/// that took.
fn until_closed(stream: &mut TcpStream) -> Duration {
    let started = Instant::now();
    stream.set_read_timeout(Some(SAFETY_TIMEOUT)).unwrap();
    let mut buffer = [0u8; 64 * 1024];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return started.elapsed(),
            Ok(_) => {}
            Err(error) if error.kind() == ErrorKind::WouldBlock => {
                panic!("still open after {SAFETY_TIMEOUT:?}")
            }
            Err(_) => return started.elapsed(),
        }
    }
}

#[test]
fn a_slow_head_an_idle_keep_alive_and_an_unread_response_are_dropped_after_their_timeouts() {
    let _serial = one_at_a_time();
    let dir = scratch_dir("status_hostile_timeouts");
    let timeouts = ["--http-head-timeout", "0.5", "--http-write-timeout", "0.5"];
    let (central, _, http) = start_central(&dir, 1, &timeouts, None);
    // A head that never ends, and a connection kept alive after a request.
    let slow = slowloris(http, 1).pop().unwrap();
    let mut idle = TcpStream::connect(http).unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: central\r\n\r\n")
        .unwrap();
    for mut stream in [slow, idle] {
        let took = until_closed(&mut stream);
        assert!(took < Duration::from_secs(3), "closed after {took:?}");
    }
    // A client that pipelines and never reads: once the buffers between
    // it and the central are full, the central drops the connection.
    let mut stream = TcpStream::connect(http).unwrap();
    stream.set_nonblocking(true).unwrap();
    let requests = b"GET /metrics HTTP/1.1\r\nHost: central\r\n\r\n".repeat(64);
    let started = Instant::now();
    let dropped = loop {
        match stream.write(&requests) {
            Ok(_) => {}
            Err(error) if error.kind() == ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(5));
            }
            Err(_) => break started.elapsed(),
        }
        assert!(started.elapsed() < SAFETY_TIMEOUT, "never dropped");
    };
    assert!(
        dropped < Duration::from_secs(5),
        "dropped after {dropped:?}"
    );
    let cut = |reason: &str| {
        metric(
            http,
            &format!("lottery_http_connections_cut_total{{reason=\"{reason}\"}}"),
        )
    };
    assert!(cut("head_timeout") >= 2.0 && cut("write_timeout") >= 1.0);
    let (exit, _) = central.terminate();
    assert!(exit.success(), "{exit:?}");
}

#[test]
fn a_connection_makes_at_most_its_requests_and_the_last_answer_says_close() {
    let _serial = one_at_a_time();
    let dir = scratch_dir("status_hostile_max_requests");
    let (central, _, http) = start_central(&dir, 1, &["--http-max-requests", "2"], None);
    let mut stream = TcpStream::connect(http).unwrap();
    stream.set_read_timeout(Some(SAFETY_TIMEOUT)).unwrap();
    let requests = b"GET /healthz HTTP/1.1\r\nHost: central\r\n\r\n".repeat(3);
    stream.write_all(&requests).unwrap();
    let mut answers = String::new();
    let _ = stream.read_to_string(&mut answers);
    assert_eq!(answers.matches("HTTP/1.1 200 OK").count(), 2, "{answers}");
    let last = answers.rsplit("HTTP/1.1 200 OK").next().unwrap();
    assert!(last.contains("connection: close"), "{answers}");
    let (exit, _) = central.terminate();
    assert!(exit.success(), "{exit:?}");
}
