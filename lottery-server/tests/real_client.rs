//! The server with the real blocking agency client of `lottery-net`: the
//! course data set, and a graceful restart in the middle of a run.

mod common;

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::Duration;

use common::{TestCentral, scratch_dir, settings, stored_rows};
use lottery_bet::{AgencyFile, AgencyId, Bet};
use lottery_core::{BetMonitor, Central, Durability, LotteryRules};
use lottery_net::{AgencyClient, ClientConfig};
use lottery_server::{Server, StopReason};

fn client_config(addr: std::net::SocketAddr, agency: u32) -> ClientConfig {
    let mut config = ClientConfig::new(addr.to_string(), AgencyId::new(agency).unwrap());
    config.reconnect_attempts = 100;
    config.backoff_initial = Duration::from_millis(10);
    config.backoff_max = Duration::from_millis(100);
    config
}

/// Sends every bet, finishes, and waits for the winners.
fn run_client(config: ClientConfig, bets: Vec<Bet>) -> Vec<String> {
    let mut client = AgencyClient::connect(config).expect("connect");
    let sent = client.send_bets(bets, |_| {}).expect("send every bet");
    client.finish(sent).expect("finish");
    let winners = client.winners(true).expect("winners").expect("drawn");
    client.close();
    winners
}

#[test]
fn the_course_data_set_gives_the_known_winners() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data");
    if !data.join("agency-1.csv").exists() {
        eprintln!("skipped: the course data set (../shared/data beside the workspace) is absent");
        return;
    }
    let dir = scratch_dir("course_data");
    let central = TestCentral::start(&dir, 5, settings(2));
    let addr = central.addr;
    let agencies: Vec<_> = (1..=5u32)
        .map(|agency| {
            let path = data.join(format!("agency-{agency}.csv"));
            thread::spawn(move || {
                let bets = AgencyFile::open(&path)
                    .expect("open the agency file")
                    .collect::<Result<Vec<_>, _>>()
                    .expect("valid bets");
                run_client(client_config(addr, agency), bets).len()
            })
        })
        .collect();
    let winners: Vec<usize> = agencies
        .into_iter()
        .map(|agency| agency.join().expect("the agency succeeds"))
        .collect();
    assert_eq!(winners, [2, 3, 3, 2, 0]);
    assert_eq!(central.draws.load(Ordering::SeqCst), 1);
    let store = central.store.clone();
    central.stop();
    assert_eq!(stored_rows(&store).len(), 78_697);
}

fn synthetic_bets(agency: u32, count: usize) -> Vec<Bet> {
    common::agency_batches(agency, 1, count)
        .remove(0)
        .into_iter()
        .map(|wire| wire.into_bet().expect("valid bet"))
        .collect()
}

fn serve(
    store: &Path,
    addr: std::net::SocketAddr,
    agencies: u32,
) -> (
    Central,
    lottery_server::ShutdownHandle,
    thread::JoinHandle<StopReason>,
) {
    let (monitor, recovery) =
        BetMonitor::open_file(store, Durability::Fsync).expect("open the store");
    let rules = LotteryRules {
        agencies,
        ..LotteryRules::default()
    };
    let central = Central::new(rules, monitor, &recovery).expect("build the central");
    let server = Server::bind(addr, 128, central.clone(), settings(2)).expect("bind");
    let shutdown = server.shutdown_handle();
    let running = thread::spawn(move || server.run().expect("the server stops cleanly"));
    (central, shutdown, running)
}

#[test]
fn a_graceful_restart_mid_run_loses_and_duplicates_nothing() {
    const AGENCIES: u32 = 3;
    const BETS: usize = 6_000;
    let dir = scratch_dir("graceful_restart");
    let store = dir.join("bets.csv");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (central, shutdown, running) = serve(&store, port, AGENCIES);

    let clients: Vec<_> = (1..=AGENCIES)
        .map(|agency| {
            thread::spawn(move || {
                let bets = synthetic_bets(agency, BETS);
                let mut config = client_config(port, agency);
                config.batch_max = Some(50);
                config.in_flight = 2;
                run_client(config, bets)
            })
        })
        .collect();

    // Stop the central once every agency has some bets stored (the clients
    // are still sending), then start a new one on the same store and port.
    let first = AgencyId::new(1).unwrap();
    while central.resume_point(first).unwrap().bets_stored == 0 {
        thread::sleep(Duration::from_millis(1));
    }
    shutdown.shutdown();
    assert_eq!(running.join().unwrap(), StopReason::Requested);
    let stored_before = central.resume_point(first).unwrap().bets_stored;
    drop(central);
    let (central, shutdown, running) = serve(&store, port, AGENCIES);

    for client in clients {
        client
            .join()
            .expect("the agency finishes despite the restart");
    }
    assert!(central.is_drawn());
    assert_eq!(
        central.draw_summary().unwrap().bets,
        u64::from(AGENCIES) * BETS as u64
    );
    shutdown.shutdown();
    running.join().unwrap();
    drop(central);

    let rows = stored_rows(&store);
    assert_eq!(
        rows.len(),
        AGENCIES as usize * BETS,
        "stored before the restart: {stored_before}"
    );
    assert_eq!(
        rows.iter().collect::<HashSet<_>>().len(),
        rows.len(),
        "nothing stored twice"
    );
}
