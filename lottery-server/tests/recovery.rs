//! The `lottery-server` binary started again on a store a crash left behind:
//! it cuts what was never committed and logs how many bytes, resumes every
//! agency where its acknowledged batches end, and redoes a draw that had
//! happened, without drawing anew.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::{
    RawAgency, SAFETY_TIMEOUT, agency_batches, expected_winners, scratch_dir, stored_rows,
};
use lottery_bet::{AgencyId, Bet};
use lottery_core::{BetMonitor, Central, Durability, LotteryRules};
use lottery_net::{AgencyMessage, CentralMessage, WireBet};

const BINARY: &str = env!("CARGO_BIN_EXE_lottery-server");

/// A `lottery-server` logging to a file in its directory.
struct Process {
    child: Child,
    log: std::path::PathBuf,
}

impl Process {
    fn start(dir: &Path, agencies: u32) -> Self {
        let log = dir.join("central.log");
        let child = Command::new(BINARY)
            .args(["--listen", "127.0.0.1:0", "--threads", "1"])
            .args(["--agencies", &agencies.to_string()])
            .arg("--store")
            .arg(dir.join("bets.csv"))
            .args(["--log-level", "INFO"])
            .env_remove("LOGGING_LEVEL")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("create the log"))
            .spawn()
            .expect("start lottery-server");
        Self { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the server listens; returns its address.
    fn address(&mut self) -> std::net::SocketAddr {
        const LISTEN: &str = "action: accept_connections | result: in_progress | listen: ";
        let deadline = Instant::now() + SAFETY_TIMEOUT;
        loop {
            let log = self.log();
            if let Some(at) = log.find(LISTEN) {
                let rest = &log[at + LISTEN.len()..];
                let end = rest.find([' ', '\n']).unwrap_or(rest.len());
                return rest[..end].parse().expect("an address");
            }
            if let Some(status) = self.child.try_wait().expect("poll the child") {
                panic!("lottery-server exited ({status}):\n{log}");
            }
            assert!(
                Instant::now() < deadline,
                "lottery-server did not start:\n{log}"
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGTERM, then waits for a clean exit; returns the whole log.
    fn stop(mut self) -> String {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
        let deadline = Instant::now() + SAFETY_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the child") {
                assert!(status.success(), "exit {status}:\n{}", self.log());
                return self.log();
            }
            assert!(Instant::now() < deadline, "no exit:\n{}", self.log());
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn bets(wire: &[WireBet]) -> Vec<Bet> {
    wire.iter()
        .map(|bet| bet.clone().into_bet().expect("valid test bets"))
        .collect()
}

fn id(agency: u32) -> AgencyId {
    AgencyId::new(agency).unwrap()
}

fn lines_with<'a>(log: &'a str, text: &str) -> Vec<&'a str> {
    log.lines().filter(|line| line.contains(text)).collect()
}

#[test]
fn a_restart_cuts_uncommitted_bytes_logs_how_many_and_resumes_each_agency() {
    let dir = scratch_dir("recovery_cut");
    let store = dir.join("bets.csv");
    let first = agency_batches(1, 3, 4);
    let second = agency_batches(2, 1, 5);
    {
        let (monitor, _) = BetMonitor::open_file(&store, Durability::Fsync).unwrap();
        monitor.append(id(1), 1, &bets(&first[0])).unwrap();
        monitor.append(id(2), 1, &bets(&second[0])).unwrap();
        monitor.append(id(1), 2, &bets(&first[1])).unwrap();
    }
    let committed = std::fs::metadata(&store).unwrap().len();
    // What a kill between the write of batch 3 and its commit leaves: whole
    // rows the journal does not cover, the last one torn.
    let uncommitted =
        b"1,Nombre 1,P\xc3\xa9rez,00100030000,1990-01-10,7574\r\n1,Nombre 1,P\xc3\xa9";
    std::fs::OpenOptions::new()
        .append(true)
        .open(&store)
        .unwrap()
        .write_all(uncommitted)
        .unwrap();

    let mut central = Process::start(&dir, 2);
    let addr = central.address();
    let (agency, (last_batch, bets_stored, finished)) = RawAgency::hello(addr, 1);
    assert_eq!((last_batch, bets_stored, finished), (2, 8, false));
    agency.close();
    let (agency, welcome) = RawAgency::hello(addr, 2);
    assert_eq!(welcome, (1, 5, false));
    agency.close();
    let log = central.stop();

    let repair = format!(
        "action: repair_store | result: success | path: {} | truncated_bytes: {}",
        store.display(),
        uncommitted.len()
    );
    assert_eq!(lines_with(&log, &repair).len(), 1, "{log}");
    assert_eq!(
        lines_with(
            &log,
            "| bets: 13 | agencies_with_bets: 2 | agencies_finished: 0"
        )
        .len(),
        1,
        "{log}"
    );
    assert!(lines_with(&log, "recover_draw").is_empty(), "{log}");
    assert_eq!(std::fs::metadata(&store).unwrap().len(), committed);
}

#[test]
fn a_restart_after_the_draw_recomputes_it_without_drawing_again() {
    let dir = scratch_dir("recovery_drawn");
    let store = dir.join("bets.csv");
    let batches: Vec<Vec<Vec<WireBet>>> = (1..=2).map(|a| agency_batches(a, 4, 30)).collect();
    {
        let (monitor, recovery) = BetMonitor::open_file(&store, Durability::Fsync).unwrap();
        let rules = LotteryRules {
            agencies: 2,
            ..LotteryRules::default()
        };
        let central = Central::new(rules, monitor, &recovery).unwrap();
        for (index, agency) in batches.iter().enumerate() {
            let agency_id = id(index as u32 + 1);
            for (seq, batch) in agency.iter().enumerate() {
                central
                    .submit(agency_id, seq as u64 + 1, &bets(batch))
                    .unwrap();
            }
            central.finish(agency_id, 120).unwrap();
        }
        assert!(central.is_drawn());
    }
    let expected: Vec<Vec<String>> = batches.iter().map(|b| expected_winners(b)).collect();
    assert!(expected.iter().all(|winners| !winners.is_empty()));

    let mut central = Process::start(&dir, 2);
    let addr = central.address();
    for (index, winners) in expected.iter().enumerate() {
        let (mut agency, welcome) = RawAgency::hello(addr, index as u32 + 1);
        assert_eq!(welcome, (4, 120, true));
        // The draw is there at once: a query that does not wait gets it.
        agency.send(&AgencyMessage::WinnersQuery { wait: false });
        assert_eq!(&agency.winners(), winners);
        // A resend of a stored batch (with its bets: an empty batch is
        // refused whatever its number) is acknowledged again, not stored.
        agency.send(&AgencyMessage::Batch {
            batch: 4,
            bets: batches[index][3].clone(),
        });
        assert!(matches!(
            agency.recv(),
            Some(CentralMessage::Ack { batch: 4, .. })
        ));
        agency.close();
    }
    let log = central.stop();

    assert!(lines_with(&log, "repair_store").is_empty(), "{log}");
    let total: usize = expected.iter().map(Vec::len).sum();
    assert_eq!(
        lines_with(
            &log,
            &format!("action: recover_draw | result: success | bets: 240 | winners: {total}")
        )
        .len(),
        1,
        "{log}"
    );
    assert!(lines_with(&log, "action: sorteo").is_empty(), "{log}");
    assert_eq!(lines_with(&log, "| agencies_finished: 2").len(), 1, "{log}");
    assert_eq!(stored_rows(&store).len(), 240, "the resends stored nothing");
}
