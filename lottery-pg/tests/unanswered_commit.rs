//! The answer to the COMMIT that drew is lost (the database restarted, the
//! connection broke), though the COMMIT was taken: the central that drew
//! must still know it drew, so that exactly one central announces the draw
//! (`sorteo`). It asks the database what became of its transaction
//! (`txid_status`) instead of giving the finish up as failed, after which
//! the agency's retry would find the draw recorded and no central would
//! say it drew. (Found by `lottery-chaos --seed 0x2a2a --faults
//! pg-restart,kill,stop --centrals 3` on PostgreSQL.)
//!
//! A real TCP proxy between the central and the database forwards the
//! writer connection's COMMIT and drops the database's answer, closing
//! both sides: what a restart does at the worst moment. Or it cuts the
//! read of the draw that follows a COMMIT that was answered.
//!
//! Needs `LOTTERY_TEST_POSTGRES`.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use common::{Schema, postgres_url};
use lottery_bet::{AgencyId, Bet};
use lottery_core::{Central, Durability, Finish, LotteryRules};
use lottery_pg::PgLedger;

/// The simple-protocol message the postgres client sends to commit.
const COMMIT: &[u8] = b"Q\0\0\0\x0bCOMMIT\0";
/// A statement the writer connection (and only it) prepares when it
/// connects: how the proxy tells the writer from the readers.
const WRITER_MARK: &[u8] = b"FROM lottery FOR UPDATE";
/// The query that reads the recorded draw (on a reader connection).
const DRAW_READ: &[u8] = b"SELECT draw_bets, draw_winners FROM lottery";

/// Forwards connections to `upstream`; when armed, cuts the next writer
/// connection that sends a COMMIT: after the COMMIT reached the database
/// and before its answer comes back, or (`swallow_commit`) before the
/// COMMIT reaches the database. While `cut_draw_reads` is above 0, cuts
/// each connection that reads the recorded draw, before the query reaches
/// the database, counting down.
struct Proxy {
    port: u16,
    armed: Arc<AtomicBool>,
    swallow_commit: Arc<AtomicBool>,
    cut_draw_reads: Arc<AtomicU32>,
    cut: Arc<AtomicU32>,
}

impl Proxy {
    fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let armed = Arc::new(AtomicBool::new(false));
        let swallow_commit = Arc::new(AtomicBool::new(false));
        let cut_draw_reads = Arc::new(AtomicU32::new(0));
        let cut = Arc::new(AtomicU32::new(0));
        let (armed_, swallow_, read_, cut_) = (
            Arc::clone(&armed),
            Arc::clone(&swallow_commit),
            Arc::clone(&cut_draw_reads),
            Arc::clone(&cut),
        );
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                let faults = Faults {
                    armed: Arc::clone(&armed_),
                    swallow_commit: Arc::clone(&swallow_),
                    cut_draw_reads: Arc::clone(&read_),
                    cut: Arc::clone(&cut_),
                };
                pipe(client, server, faults);
            }
        });
        Self {
            port,
            armed,
            swallow_commit,
            cut_draw_reads,
            cut,
        }
    }
}

/// The proxy's switches, shared by its connections.
struct Faults {
    armed: Arc<AtomicBool>,
    swallow_commit: Arc<AtomicBool>,
    cut_draw_reads: Arc<AtomicU32>,
    cut: Arc<AtomicU32>,
}

/// One proxied connection: a thread each way.
fn pipe(client: TcpStream, server: TcpStream, faults: Faults) {
    let Faults {
        armed,
        swallow_commit,
        cut_draw_reads,
        cut,
    } = faults;
    let committing = Arc::new(AtomicBool::new(false));
    let (mut from_client, mut to_server) =
        (client.try_clone().unwrap(), server.try_clone().unwrap());
    let (mut from_server, mut to_client) = (server, client);
    let committing_ = Arc::clone(&committing);
    let cut_ = Arc::clone(&cut);
    std::thread::spawn(move || {
        let mut writer = false;
        // The last bytes seen, so that a mark split across reads is found.
        let mut seen: Vec<u8> = Vec::new();
        let mut buf = [0u8; 64 * 1024];
        loop {
            let n = match from_client.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            seen.extend_from_slice(&buf[..n]);
            writer |= contains(&seen, WRITER_MARK);
            if contains(&buf[..n], DRAW_READ)
                && cut_draw_reads
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok()
            {
                // The database never sees the read; the connection is gone.
                cut_.fetch_add(1, Ordering::SeqCst);
                let _ = to_server.shutdown(Shutdown::Both);
                let _ = from_client.shutdown(Shutdown::Both);
                break;
            }
            // In this read alone: the tail kept may hold an earlier COMMIT
            // (the client writes each message whole).
            if writer && contains(&buf[..n], COMMIT) && armed.swap(false, Ordering::SeqCst) {
                if swallow_commit.load(Ordering::SeqCst) {
                    // The database never sees the COMMIT: it rolls back
                    // when the connection goes.
                    cut_.fetch_add(1, Ordering::SeqCst);
                    let _ = to_server.shutdown(Shutdown::Both);
                    let _ = from_client.shutdown(Shutdown::Both);
                    break;
                }
                committing_.store(true, Ordering::SeqCst);
            }
            let keep = seen.len().saturating_sub(64);
            seen.drain(..keep);
            if to_server.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to_server.shutdown(Shutdown::Write);
    });
    std::thread::spawn(move || {
        let mut buf = [0u8; 64 * 1024];
        loop {
            let n = match from_server.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if committing.load(Ordering::SeqCst) {
                // The COMMIT's answer: the database took it; the central
                // never hears so.
                cut.fetch_add(1, Ordering::SeqCst);
                break;
            }
            if to_client.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to_client.shutdown(Shutdown::Both);
        let _ = from_server.shutdown(Shutdown::Both);
    });
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn id(agency: u32) -> AgencyId {
    AgencyId::new(agency).unwrap()
}

/// `count` bets of `agency`; bet `i` wins when `i % 2 == 0`.
fn bets(agency: u32, count: u16) -> Vec<Bet> {
    (0..count)
        .map(|i| {
            let document = format!("{agency}{i:04}");
            let number = if i % 2 == 0 { "7574" } else { "12" };
            Bet::from_fields("Ana", "Paz", &document, "1990-02-03", number).unwrap()
        })
        .collect()
}

/// A central expecting two agencies, on a fresh schema, through a proxy;
/// both agencies' bets are stored and agency 1 finished.
fn two_agencies_one_finished(base: &str) -> (Schema, Proxy, Central) {
    let schema = Schema::new(base);
    let config: postgres::Config = base.parse().unwrap();
    let host = match &config.get_hosts()[0] {
        postgres::config::Host::Tcp(host) => host.clone(),
        other => panic!("the test server is reached over TCP, not {other:?}"),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let proxy = Proxy::start(format!("{host}:{port}"));
    let url = schema.url().replacen(
        &format!("{host}:{port}"),
        &format!("127.0.0.1:{}", proxy.port),
        1,
    );
    assert_ne!(url, schema.url(), "the ledger goes through the proxy");
    let (ledger, recovery) = PgLedger::open(&url, Durability::Fsync).unwrap();
    let rules = LotteryRules {
        agencies: 2,
        ..LotteryRules::default()
    };
    let central = Central::new(rules, ledger, &recovery).unwrap();
    central.submit(id(1), 1, &bets(1, 6)).unwrap();
    central.submit(id(2), 1, &bets(2, 4)).unwrap();
    assert!(matches!(
        central.finish(id(1), 6).unwrap(),
        Finish::Waiting { .. }
    ));
    (schema, proxy, central)
}

/// The draw the database holds: bets and winners per agency.
fn recorded_draw(schema: &Schema) -> (Option<i64>, Option<Vec<i64>>) {
    let row = schema
        .client()
        .query_one("SELECT draw_bets, draw_winners FROM lottery", &[])
        .unwrap();
    (row.get(0), row.get(1))
}

#[test]
fn the_central_whose_commit_drew_knows_it_drew_when_the_answer_is_lost() {
    let Some(base) =
        postgres_url("the_central_whose_commit_drew_knows_it_drew_when_the_answer_is_lost")
    else {
        return;
    };
    let (schema, proxy, central) = two_agencies_one_finished(&base);
    proxy.armed.store(true, Ordering::SeqCst);
    let answer = central.finish(id(2), 4);
    assert_eq!(
        proxy.cut.load(Ordering::SeqCst),
        1,
        "the COMMIT's answer was cut"
    );
    match answer {
        Ok(Finish::Drew(summary)) => {
            assert_eq!(summary.bets, 10);
            assert_eq!(summary.winners_per_agency, [3, 2]);
        }
        other => panic!("the central that drew does not know it: {other:?}"),
    }
    // The draw is recorded once in the database, as the central says.
    assert_eq!(recorded_draw(&schema), (Some(10), Some(vec![3, 2])));
    assert_eq!(central.draw_summary().map(|s| s.bets), Some(10));
}

#[test]
fn a_commit_that_never_reached_the_database_fails_and_the_retry_draws() {
    let Some(base) =
        postgres_url("a_commit_that_never_reached_the_database_fails_and_the_retry_draws")
    else {
        return;
    };
    let (schema, proxy, central) = two_agencies_one_finished(&base);
    proxy.swallow_commit.store(true, Ordering::SeqCst);
    proxy.armed.store(true, Ordering::SeqCst);
    let answer = central.finish(id(2), 4);
    assert_eq!(proxy.cut.load(Ordering::SeqCst), 1, "the COMMIT was cut");
    assert!(
        answer.is_err(),
        "a finish that was never stored is refused: {answer:?}"
    );
    assert_eq!(recorded_draw(&schema), (None, None), "nothing was drawn");
    // The agency's retry draws, on the same central, once.
    match central.finish(id(2), 4) {
        Ok(Finish::Drew(summary)) => assert_eq!(summary.winners_per_agency, [3, 2]),
        other => panic!("the retry did not draw: {other:?}"),
    }
    assert_eq!(recorded_draw(&schema), (Some(10), Some(vec![3, 2])));
}

#[test]
fn the_central_that_drew_reads_the_draw_again_when_the_read_is_cut() {
    let Some(base) =
        postgres_url("the_central_that_drew_reads_the_draw_again_when_the_read_is_cut")
    else {
        return;
    };
    let (schema, proxy, central) = two_agencies_one_finished(&base);
    // The finish's COMMIT is answered; the read of the draw that follows,
    // on the reader connection, is cut (found by lottery-chaos --seed
    // 0x3131, lottery 111: `cannot read the store ...: connection closed`,
    // and no central logged `sorteo`).
    // Two reads follow the draw: the finish's own and the one the ledger's
    // announcement (LISTEN) makes; both are cut, in whichever order.
    proxy.cut_draw_reads.store(2, Ordering::SeqCst);
    let answer = central.finish(id(2), 4);
    assert_eq!(proxy.cut.load(Ordering::SeqCst), 2, "both reads were cut");
    match answer {
        Ok(Finish::Drew(summary)) => assert_eq!(summary.winners_per_agency, [3, 2]),
        other => panic!("the central that drew does not know it: {other:?}"),
    }
    assert_eq!(recorded_draw(&schema), (Some(10), Some(vec![3, 2])));
}
