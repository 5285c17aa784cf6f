//! Storage faults under a real in-process server with real agency clients:
//! the store (a real `bets.csv` behind a wrapper that makes writes and syncs
//! fail) refuses batches and finish records mid-run; the central answers them
//! with `StorageFailure` and keeps serving; the clients retry later (they
//! reconnect and resume); in the end every bet is stored exactly once, in
//! order, and the winners are right.

mod common;

use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use common::{SAFETY_TIMEOUT, agency_batches, scratch_dir, settings};
use lottery_bet::{AgencyId, Bet, StoreRows};
use lottery_core::{
    BetMonitor, Central, Durability, LotteryRules,
    store::{BetStore, CsvFileStore, StoreFile, StoreSyncer},
};
use lottery_net::{
    AgencyClient, AgencyMessage, CentralMessage, ClientConfig, Connection, ErrorCode,
};
use lottery_server::{Server, StopReason};

/// Which faults to inject, and how many were.
#[derive(Debug, Default)]
struct Faults {
    /// Faults are injected only once armed (not while the store opens).
    armed: AtomicBool,
    /// A disk-full spell: every append (data or journal) fails.
    full: AtomicBool,
    /// Fail every n-th data append / data sync / journal sync (0: never).
    append_every: u64,
    sync_every: u64,
    journal_sync_every: u64,
    appends: AtomicU64,
    syncs: AtomicU64,
    journal_syncs: AtomicU64,
    /// Faults injected so far.
    injected: AtomicU64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    Data,
    Journal,
}

impl Faults {
    fn append_fails(&self, which: Which) -> bool {
        if !self.armed.load(Ordering::SeqCst) {
            return false;
        }
        let fail = self.full.load(Ordering::SeqCst)
            || (which == Which::Data && nth(&self.appends, self.append_every));
        if fail {
            self.injected.fetch_add(1, Ordering::SeqCst);
        }
        fail
    }

    fn sync_fails(&self, which: Which) -> bool {
        if !self.armed.load(Ordering::SeqCst) {
            return false;
        }
        let fail = match which {
            Which::Data => nth(&self.syncs, self.sync_every),
            Which::Journal => nth(&self.journal_syncs, self.journal_sync_every),
        };
        if fail {
            self.injected.fetch_add(1, Ordering::SeqCst);
        }
        fail
    }
}

/// Counts one more operation; whether it is an n-th one.
fn nth(counter: &AtomicU64, every: u64) -> bool {
    let count = counter.fetch_add(1, Ordering::SeqCst) + 1;
    every > 0 && count.is_multiple_of(every)
}

fn disk_full() -> io::Error {
    io::Error::new(
        io::ErrorKind::StorageFull,
        "injected: no space left on device",
    )
}

/// Appends to `file`, unless a fault is due: then a short write, and the cut
/// back the [`StoreFile`] trait promises.
fn append(file: &mut dyn StoreFile, bytes: &[u8], which: Which, faults: &Faults) -> io::Result<()> {
    if faults.append_fails(which) {
        let before = file.len();
        file.append(&bytes[..bytes.len() / 2])?;
        file.truncate(before)?;
        return Err(disk_full());
    }
    file.append(bytes)
}

fn syncer(inner: Box<dyn StoreSyncer>, which: Which, faults: &Arc<Faults>) -> Box<dyn StoreSyncer> {
    Box::new(FaultySyncer {
        inner,
        which,
        faults: Arc::clone(faults),
    })
}

/// The journal with faults injected in front of it.
struct FaultyFile {
    inner: Box<dyn StoreFile>,
    which: Which,
    faults: Arc<Faults>,
}

impl StoreFile for FaultyFile {
    fn len(&self) -> u64 {
        self.inner.len()
    }

    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        append(self.inner.as_mut(), bytes, self.which, &self.faults)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.inner.truncate(len)
    }

    fn syncer(&self) -> io::Result<Box<dyn StoreSyncer>> {
        Ok(syncer(self.inner.syncer()?, self.which, &self.faults))
    }

    fn reader(&self, len: u64) -> io::Result<Box<dyn Read + Send>> {
        self.inner.reader(len)
    }
}

struct FaultySyncer {
    inner: Box<dyn StoreSyncer>,
    which: Which,
    faults: Arc<Faults>,
}

impl StoreSyncer for FaultySyncer {
    fn sync(&mut self) -> io::Result<()> {
        if self.faults.sync_fails(self.which) {
            return Err(io::Error::other("injected: fdatasync failed"));
        }
        self.inner.sync()
    }
}

/// A real `bets.csv` (and journal) with faults injected in front of it.
struct FaultyStore {
    inner: CsvFileStore,
    faults: Arc<Faults>,
}

impl FaultyStore {
    fn journal(&self, inner: Box<dyn StoreFile>) -> Box<dyn StoreFile> {
        Box::new(FaultyFile {
            inner,
            which: Which::Journal,
            faults: Arc::clone(&self.faults),
        })
    }
}

impl StoreFile for FaultyStore {
    fn len(&self) -> u64 {
        self.inner.len()
    }

    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        append(&mut self.inner, bytes, Which::Data, &self.faults)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.inner.truncate(len)
    }

    fn syncer(&self) -> io::Result<Box<dyn StoreSyncer>> {
        Ok(syncer(self.inner.syncer()?, Which::Data, &self.faults))
    }

    fn reader(&self, len: u64) -> io::Result<Box<dyn Read + Send>> {
        self.inner.reader(len)
    }
}

impl BetStore for FaultyStore {
    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn open_journal(&mut self) -> io::Result<Option<Box<dyn StoreFile>>> {
        Ok(self.inner.open_journal()?.map(|file| self.journal(file)))
    }

    fn create_journal(&mut self, contents: &[u8]) -> io::Result<Box<dyn StoreFile>> {
        let file = self.inner.create_journal(contents)?;
        Ok(self.journal(file))
    }

    // The manifest and the quarantine are not where these faults are aimed.
    fn read_manifest(&self) -> io::Result<Option<Vec<u8>>> {
        self.inner.read_manifest()
    }

    fn write_manifest(&mut self, contents: &[u8]) -> io::Result<()> {
        self.inner.write_manifest(contents)
    }

    fn quarantine(&mut self, journal: bool, bytes: &[u8]) -> io::Result<String> {
        self.inner.quarantine(journal, bytes)
    }
}

const AGENCIES: u32 = 5;

/// A central over a faulty store, served in-process on 127.0.0.1:0.
struct FaultyCentral {
    central: Central,
    addr: std::net::SocketAddr,
    shutdown: lottery_server::ShutdownHandle,
    running: thread::JoinHandle<Result<StopReason, lottery_server::ServerError>>,
}

fn serve(store: &Path, faults: &Arc<Faults>, agencies: u32) -> FaultyCentral {
    let (monitor, recovery) = BetMonitor::open(
        Box::new(FaultyStore {
            inner: CsvFileStore::open(store).expect("open bets.csv"),
            faults: Arc::clone(faults),
        }),
        Durability::Fsync,
    )
    .expect("open the store");
    faults.armed.store(true, Ordering::SeqCst);
    let rules = LotteryRules {
        agencies,
        ..LotteryRules::default()
    };
    let central = Central::new(rules, monitor, &recovery).expect("build the central");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let server = Server::new(listener, central.clone(), settings(2)).expect("build the server");
    let addr = server.local_addr();
    let shutdown = server.shutdown_handle();
    let running = thread::spawn(move || server.run());
    FaultyCentral {
        central,
        addr,
        shutdown,
        running,
    }
}

impl FaultyCentral {
    fn stop(self) {
        self.shutdown.shutdown();
        let stopped = self
            .running
            .join()
            .expect("the server thread does not panic");
        assert_eq!(stopped.expect("a clean stop"), StopReason::Requested);
    }

    fn bets_stored(&self) -> u64 {
        (1..=AGENCIES)
            .map(|agency| {
                let agency = AgencyId::new(agency).unwrap();
                self.central.resume_point(agency).unwrap().bets_stored
            })
            .sum()
    }
}

/// Each agency's bets: unique documents, a few winners.
fn agency_bets(agency: u32, count: usize) -> Vec<Bet> {
    agency_batches(agency, 1, count)
        .remove(0)
        .into_iter()
        .map(|wire| wire.into_bet().expect("valid test bets"))
        .collect()
}

fn client_config(addr: std::net::SocketAddr, agency: u32) -> ClientConfig {
    let mut config = ClientConfig::new(addr.to_string(), AgencyId::new(agency).unwrap());
    config.batch_max = Some(40);
    config.in_flight = 4;
    // Refusals make the client reconnect and resume: plenty of attempts, and
    // short pauses so the test stays quick.
    config.reconnect_attempts = 10_000;
    config.backoff_initial = Duration::from_millis(5);
    config.backoff_max = Duration::from_millis(50);
    config.io_timeout = Some(SAFETY_TIMEOUT);
    config
}

/// Runs one agency's whole session in a thread; it returns the winners the
/// agency received.
fn run_agency(
    addr: std::net::SocketAddr,
    agency: u32,
    bets: Vec<Bet>,
) -> thread::JoinHandle<Vec<String>> {
    thread::spawn(move || {
        let mut client = AgencyClient::connect(client_config(addr, agency))
            .unwrap_or_else(|error| panic!("agency {agency} connects: {error}"));
        let sent = client
            .send_bets(bets, |_| {})
            .unwrap_or_else(|error| panic!("agency {agency} sends: {error}"));
        client
            .finish(sent)
            .unwrap_or_else(|error| panic!("agency {agency} finishes: {error}"));
        let winners = client
            .winners(true)
            .unwrap_or_else(|error| panic!("agency {agency} asks: {error}"))
            .expect("a waiting query gets the winners");
        client.close();
        winners
    })
}

/// Runs agencies `1..=bets.len()`, each with its bets.
fn run_agencies(
    addr: std::net::SocketAddr,
    bets: &[Vec<Bet>],
) -> Vec<thread::JoinHandle<Vec<String>>> {
    (1..)
        .zip(bets)
        .map(|(agency, bets)| run_agency(addr, agency, bets.clone()))
        .collect()
}

/// The checks common to every run: each agency got its own winners; the
/// store, reopened without faults, holds each agency's bets exactly once and
/// in order, nothing uncommitted, every agency finished.
fn check_outcome(store: &Path, bets: &[Vec<Bet>], winners: &[Vec<String>]) {
    for (index, (bets, winners)) in bets.iter().zip(winners).enumerate() {
        let expected: Vec<String> = bets
            .iter()
            .filter(|bet| bet.number.get() == 7574)
            .map(|bet| bet.document.as_str().to_owned())
            .collect();
        assert!(
            bets.is_empty() || !expected.is_empty(),
            "the test data has winners"
        );
        assert_eq!(winners, &expected, "agency {}", index + 1);
    }
    let (_, recovery) = BetMonitor::open_file(store, Durability::Fsync).expect("reopen");
    assert_eq!(recovery.truncated_bytes, 0, "every cut was made at once");
    assert_eq!(recovery.agencies.len(), bets.len());
    assert!(recovery.agencies.values().all(|record| record.finished));
    let mut stored: Vec<Vec<Bet>> = vec![Vec::new(); bets.len()];
    let file = std::fs::File::open(store).expect("open bets.csv");
    for row in StoreRows::new(io::BufReader::new(file)) {
        let row = row.unwrap_or_else(|(line, error)| panic!("bets.csv line {line}: {error}"));
        stored[row.agency.index()].push(row.bet);
    }
    for (index, (stored, sent)) in stored.iter().zip(bets).enumerate() {
        assert_eq!(
            stored.len(),
            sent.len(),
            "agency {}: bets stored",
            index + 1
        );
        assert!(
            stored == sent,
            "agency {}: bets.csv differs from what it sent (order, loss or duplicate)",
            index + 1
        );
    }
}

#[test]
fn writes_and_syncs_failing_mid_run_are_refused_retried_and_nothing_is_lost_or_duplicated() {
    let dir = scratch_dir("faults_every_kth");
    let store = dir.join("bets.csv");
    let faults = Arc::new(Faults {
        append_every: 7,
        sync_every: 5,
        journal_sync_every: 11,
        ..Faults::default()
    });
    let central = serve(&store, &faults, AGENCIES);
    let bets: Vec<Vec<Bet>> = (1..=AGENCIES)
        .map(|agency| agency_bets(agency, 2_000))
        .collect();
    let winners: Vec<Vec<String>> = run_agencies(central.addr, &bets)
        .into_iter()
        .map(|agency| agency.join().expect("the agency gets past every fault"))
        .collect();
    let injected = faults.injected.load(Ordering::SeqCst);
    assert!(injected >= 20, "only {injected} faults were injected");
    assert!(central.central.is_drawn());
    central.stop();
    check_outcome(&store, &bets, &winners);
    eprintln!("storage faults: {injected} injected; every agency finished");
}

#[test]
fn a_disk_full_spell_refuses_batches_while_the_central_keeps_serving_then_all_resume() {
    let dir = scratch_dir("faults_disk_full");
    let store = dir.join("bets.csv");
    let faults = Arc::new(Faults::default());
    // Agency 6 sends nothing: it probes the central during the spell, then
    // finishes like the others.
    let central = serve(&store, &faults, AGENCIES + 1);
    let bets: Vec<Vec<Bet>> = (1..=AGENCIES)
        .map(|agency| agency_bets(agency, 3_000))
        .collect();
    let total: u64 = bets.iter().map(|bets| bets.len() as u64).sum();
    let agencies = run_agencies(central.addr, &bets);

    // The disk fills up once a third of the bets are stored.
    let deadline = Instant::now() + SAFETY_TIMEOUT;
    while central.bets_stored() < total / 3 {
        assert!(Instant::now() < deadline, "the agencies made no progress");
        thread::sleep(Duration::from_millis(1));
    }
    faults.full.store(true, Ordering::SeqCst);
    let injected_before = faults.injected.load(Ordering::SeqCst);
    // Batches whose commit was under way may still be acked; then the store
    // holds still.
    thread::sleep(Duration::from_millis(100));
    let stored_in_spell = central.bets_stored();
    assert!(
        stored_in_spell < total,
        "the agencies were done before the spell"
    );

    // The central keeps serving: a new agency is welcomed, its query answered,
    // and its finish refused as a storage failure it may retry.
    let mut config = client_config(central.addr, AGENCIES + 1);
    config.reconnect_attempts = 0;
    let (mut probe, resume) = Connection::open(&config).expect("a handshake in the spell");
    assert_eq!(resume.bets_stored, 0);
    probe
        .send(&AgencyMessage::WinnersQuery { wait: false })
        .expect("send a query");
    assert_eq!(
        probe.receive().expect("an answer"),
        CentralMessage::NotDrawn
    );
    probe
        .send(&AgencyMessage::Finish { bets_sent: 0 })
        .expect("send a finish");
    match probe.receive().expect("an answer") {
        CentralMessage::Error(error) => assert_eq!(error.code, ErrorCode::StorageFailure),
        other => panic!("a finish with the disk full was answered {other:?}"),
    }
    drop(probe);

    thread::sleep(Duration::from_millis(200));
    let stored_after = central.bets_stored();
    assert_eq!(
        stored_after, stored_in_spell,
        "bets were stored while every write fails"
    );
    let refused = faults.injected.load(Ordering::SeqCst) - injected_before;
    assert!(refused > 1, "no batch was attempted during the spell");
    faults.full.store(false, Ordering::SeqCst);

    let mut agencies = agencies;
    agencies.push(run_agency(central.addr, AGENCIES + 1, Vec::new()));
    let winners: Vec<Vec<String>> = agencies
        .into_iter()
        .map(|agency| agency.join().expect("the agency resumes after the spell"))
        .collect();
    let mut bets = bets;
    bets.push(Vec::new());
    central.stop();
    check_outcome(&store, &bets, &winners);
    eprintln!("disk full: {refused} writes refused during the spell; every agency finished");
}
