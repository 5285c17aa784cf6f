//! The real `lottery-agency` against a hostile central: a listener in the
//! test that speaks the wire protocol (`Welcome`, an `Ack` for every batch,
//! `Finished`), then answers the winners query with `Winners` frames that
//! never say `last`, for as long as the agency reads. The agency must exit 1
//! with a clear error, its memory small all along (its `VmRSS`, read from
//! `/proc` while it runs).

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use lottery_net::{
    AgencyFrame, CentralMessage, DEFAULT_MAX_FRAME, Decoder, encode_central_message,
};

/// Bets in the agency's file.
const BETS: usize = 1000;
/// The agency's resident memory may not pass this (it needs a few MiB; on
/// a client that keeps every frame's winners it passed 4 GB in 15 s).
const MAX_RSS_KIB: u64 = 64 * 1024;
/// How long the agency may take to give up (it gives up after a few
/// frames; the safety net of a hung test, not a timing assert).
const DEADLINE: Duration = Duration::from_secs(20);

/// Serves one agency as a central would, until its winners query; then
/// sends full `Winners` frames, never the last, until the agency is gone.
/// Returns how many it sent.
fn hostile_central(mut stream: TcpStream) -> u64 {
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut decoder = Decoder::new(DEFAULT_MAX_FRAME);
    let mut stored = 0;
    let mut buf = [0u8; 8192];
    let mut out = Vec::new();
    loop {
        let Some(frame) = decoder.next_agency_frame().unwrap() else {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => return 0,
                Ok(read) => decoder.extend(&buf[..read]),
            }
            continue;
        };
        let reply = match frame {
            AgencyFrame::Hello { .. } => CentralMessage::Welcome {
                last_batch: 0,
                bets_stored: 0,
                finished: false,
                rows_crc: None,
            },
            AgencyFrame::Batch(batch) => {
                stored += batch.count as u64;
                CentralMessage::Ack {
                    batch: batch.batch,
                    bets_stored: stored,
                }
            }
            AgencyFrame::Finish { .. } => CentralMessage::Finished {
                bets_stored: stored,
            },
            AgencyFrame::WinnersQuery { .. } => break,
            other => panic!("unexpected {other:?}"),
        };
        out.clear();
        encode_central_message(&reply, DEFAULT_MAX_FRAME, &mut out).unwrap();
        stream.write_all(&out).unwrap();
    }
    // As many 20-digit documents as fill a frame, again and again.
    let documents: Vec<String> = (0..380).map(|i| format!("{:020}", 10_000 + i)).collect();
    out.clear();
    encode_central_message(
        &CentralMessage::Winners {
            documents,
            last: false,
        },
        DEFAULT_MAX_FRAME,
        &mut out,
    )
    .unwrap();
    let mut sent = 0;
    loop {
        match stream.write_all(&out) {
            Ok(()) => sent += 1,
            Err(error) => {
                assert!(
                    matches!(
                        error.kind(),
                        ErrorKind::BrokenPipe | ErrorKind::ConnectionReset
                    ),
                    "{error}"
                );
                return sent;
            }
        }
    }
}

/// The resident memory of process `pid` in KiB, while it runs.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn winners_frames_that_never_say_last_make_the_agency_exit_1_with_its_memory_small() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("agency-1.csv");
    let rows: String = (0..BETS)
        .map(|i| format!("Ana,Pérez,{},2000-01-01,{}\n", 30_000_000 + i, i % 10_000))
        .collect();
    std::fs::write(&data, rows).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server = listener.local_addr().unwrap().to_string();
    let central = thread::spawn(move || hostile_central(listener.accept().unwrap().0));

    let mut agency = Command::new(env!("CARGO_BIN_EXE_lottery-agency"))
        .args(["--id", "1", "--server", &server])
        .arg("--data")
        .arg(&data)
        .env_remove("CLI_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start lottery-agency");
    let started = Instant::now();
    let mut peak = 0;
    let status = loop {
        if let Some(status) = agency.try_wait().unwrap() {
            break status;
        }
        if let Some(rss) = rss_kib(agency.id()) {
            peak = peak.max(rss);
        }
        if peak > MAX_RSS_KIB || started.elapsed() > DEADLINE {
            let _ = agency.kill();
            let _ = agency.wait();
            panic!(
                "the agency reached {peak} KiB resident after {:?}, still reading winners",
                started.elapsed()
            );
        }
        thread::sleep(Duration::from_millis(5));
    };
    let mut log = String::new();
    agency
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    let frames = central.join().unwrap();

    assert_eq!(status.code(), Some(1), "{log}");
    let failure = log
        .lines()
        .find(|line| line.contains("action: exit | result: fail | agency: 1 | error: "))
        .unwrap_or_else(|| panic!("no failure line: {log}"));
    assert!(
        failure.contains(&format!(
            "the central broke the protocol: the winners of agency 1 run to 1140 documents or more, but it sent {BETS} bets"
        )),
        "{failure}"
    );
    assert!(
        !log.contains("consulta_ganadores | result: success"),
        "{log}"
    );
    assert!(peak <= MAX_RSS_KIB, "{peak} KiB");
    // It read a few frames, then stopped reading and closed.
    assert!(frames >= 3, "{frames} frames");
}
