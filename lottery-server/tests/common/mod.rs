//! Shared pieces of the server tests: an in-process central on 127.0.0.1:0,
//! a raw-frame agency over a blocking socket, deterministic bets, and a
//! reader of the store.
//!
//! Timeouts here are safety nets against a hung test, never assertions.

#![allow(dead_code)] // each test file uses a different part

pub mod process;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use lottery_bet::StoreRows;
use lottery_core::{BetMonitor, Central, Durability, LotteryRules};
use lottery_net::{
    AgencyMessage, CentralMessage, DEFAULT_MAX_FRAME, Decoder, ErrorCode, PROTOCOL_VERSION,
    WireBet, encode_agency_message,
};
use lottery_server::{Server, ServerConfig, ServerError, ShutdownHandle, StopReason};
use lottery_tls::{ClientConnection, ClientTls};

/// A blocking byte stream, plain or TLS.
trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// How long a test waits for any one answer before it gives up (a hang, not a
/// slow machine).
pub const SAFETY_TIMEOUT: Duration = Duration::from_secs(60);

/// A directory of its own for one test, emptied.
pub fn scratch_dir(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("server-tests")
        .join(test);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).expect("clear the scratch dir");
    }
    std::fs::create_dir_all(&dir).expect("create the scratch dir");
    dir
}

/// Shows the server's log lines when `LOTTERY_TEST_LOG=LEVEL` is set.
fn init_logging() {
    if let Ok(level) = std::env::var("LOTTERY_TEST_LOG")
        && let Ok(level) = lottery_log::parse_level(&level)
    {
        let _ = lottery_log::init(level);
    }
}

/// A central served in-process.
pub struct TestCentral {
    pub addr: SocketAddr,
    pub central: Central,
    pub store: PathBuf,
    pub shutdown: ShutdownHandle,
    /// How many times the draw listener was told.
    pub draws: Arc<AtomicUsize>,
    running: Option<JoinHandle<Result<StopReason, ServerError>>>,
}

impl TestCentral {
    /// Starts a central expecting `agencies`, with a fresh store in `dir`.
    pub fn start(dir: &Path, agencies: u32, settings: ServerConfig) -> Self {
        init_logging();
        let store = dir.join("bets.csv");
        let (monitor, recovery) =
            BetMonitor::open_file(&store, Durability::Fsync).expect("open the store");
        let rules = LotteryRules {
            agencies,
            ..LotteryRules::default()
        };
        let central = Central::new(rules, monitor, &recovery).expect("build the central");
        Self::serve(central, store, settings)
    }

    /// Serves `central` (over any ledger; `store` names it for the tests
    /// that read it).
    pub fn serve(central: Central, store: PathBuf, settings: ServerConfig) -> Self {
        init_logging();
        let draws = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&draws);
        central.on_draw(Box::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        }));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let server = Server::new(listener, central.clone(), settings).expect("build the server");
        let addr = server.local_addr();
        let shutdown = server.shutdown_handle();
        let running = std::thread::spawn(move || server.run());
        Self {
            addr,
            central,
            store,
            shutdown,
            draws,
            running: Some(running),
        }
    }

    /// Asks for a shutdown and waits for the server to stop.
    pub fn stop(self) -> StopReason {
        self.shutdown.shutdown();
        self.join()
    }

    /// Waits for the server to stop by itself.
    pub fn join(mut self) -> StopReason {
        self.running
            .take()
            .expect("joined once")
            .join()
            .expect("the server thread does not panic")
            .expect("the server stops cleanly")
    }
}

impl Drop for TestCentral {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            self.shutdown.shutdown();
            let _ = running.join();
        }
    }
}

/// A settings value for tests: `threads` loops, everything else default.
pub fn settings(threads: usize) -> ServerConfig {
    ServerConfig {
        threads,
        ..ServerConfig::default()
    }
}

/// An agency speaking raw frames over a blocking socket (and TLS over it,
/// when connected with [`RawAgency::connect_tls`]).
pub struct RawAgency {
    pub stream: TcpStream,
    tls: Option<ClientConnection>,
    decoder: Decoder,
}

impl RawAgency {
    /// Connects over TLS (the handshake completes with the first read or
    /// write), checking the central's certificate against `localhost`.
    pub fn connect_tls(addr: SocketAddr, tls: &ClientTls) -> Self {
        let mut this = Self::connect(addr);
        this.tls = Some(tls.connect("localhost:0").expect("a TLS client connection"));
        this
    }

    /// Completes the TLS handshake (client certificates are checked by the
    /// central after it: its verdict arrives with the first read).
    pub fn handshake(&mut self) -> std::io::Result<()> {
        let tls = self.tls.as_mut().expect("a TLS agency");
        while tls.is_handshaking() {
            tls.complete_io(&mut self.stream)?;
        }
        Ok(())
    }

    /// Sends `Hello` and returns the first answer: the `Welcome`, an error
    /// frame, `Ok(None)` when the central closed, or the TLS error.
    pub fn try_hello(&mut self, agency: u32) -> std::io::Result<Option<CentralMessage>> {
        let mut bytes = Vec::new();
        let hello = AgencyMessage::Hello {
            version: PROTOCOL_VERSION,
            agency,
        };
        encode_agency_message(&hello, DEFAULT_MAX_FRAME, &mut bytes).expect("encode");
        self.io().write_all(&bytes)?;
        self.try_recv()
    }

    /// The next message, `Ok(None)` once the central closed, or the read's
    /// error (a TLS alert, say).
    pub fn try_recv(&mut self) -> std::io::Result<Option<CentralMessage>> {
        loop {
            if let Some(message) = self.decoder.next_central_message().expect("a valid frame") {
                return Ok(Some(message));
            }
            let Self {
                stream,
                tls,
                decoder,
            } = self;
            let read = match tls {
                Some(tls) => decoder.read_from(&mut rustls::Stream::new(tls, stream)),
                None => decoder.read_from(stream),
            };
            match read {
                Ok(0) => return Ok(None),
                Ok(_) => {}
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => {
                    return Ok(None);
                }
                Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => {
                    return Ok(None);
                }
                Err(error) => return Err(error),
            }
        }
    }

    fn io(&mut self) -> Box<dyn ReadWrite + '_> {
        match &mut self.tls {
            Some(tls) => Box::new(rustls::Stream::new(tls, &mut self.stream)),
            None => Box::new(&mut self.stream),
        }
    }

    pub fn connect(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).expect("connect to the central");
        stream
            .set_read_timeout(Some(SAFETY_TIMEOUT))
            .expect("set a read timeout");
        stream
            .set_write_timeout(Some(SAFETY_TIMEOUT))
            .expect("set a write timeout");
        Self {
            stream,
            tls: None,
            decoder: Decoder::new(DEFAULT_MAX_FRAME),
        }
    }

    /// Connects and completes the handshake; returns the `Welcome` fields
    /// `(last_batch, bets_stored, finished)`.
    pub fn hello(addr: SocketAddr, agency: u32) -> (Self, (u64, u64, bool)) {
        Self::connect(addr).welcome(agency)
    }

    /// Sends `Hello` on a connected agency and expects the `Welcome`.
    pub fn welcome(mut self, agency: u32) -> (Self, (u64, u64, bool)) {
        match self.try_hello(agency).expect("handshake") {
            Some(CentralMessage::Welcome {
                last_batch,
                bets_stored,
                finished,
                ..
            }) => (self, (last_batch, bets_stored, finished)),
            other => panic!("agency {agency}: expected Welcome, got {other:?}"),
        }
    }

    pub fn send(&mut self, message: &AgencyMessage) {
        let mut bytes = Vec::new();
        encode_agency_message(message, DEFAULT_MAX_FRAME, &mut bytes).expect("encode");
        self.send_raw(&bytes);
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.io().write_all(bytes).expect("send to the central");
    }

    /// The next message, or `None` once the central closed the connection.
    pub fn recv(&mut self) -> Option<CentralMessage> {
        // A signal (a child process of the test exiting) is no error: see
        // `try_recv`.
        self.try_recv()
            .unwrap_or_else(|error| panic!("reading from the central: {error}"))
    }

    /// Reads until the central closes; returns the error codes it sent.
    pub fn codes_until_closed(&mut self) -> Vec<ErrorCode> {
        let mut codes = Vec::new();
        while let Some(message) = self.recv() {
            if let CentralMessage::Error(error) = message {
                codes.push(error.code);
            }
        }
        codes
    }

    /// Reads a whole winners answer (one or more frames).
    pub fn winners(&mut self) -> Vec<String> {
        let mut documents = Vec::new();
        loop {
            match self.recv() {
                Some(CentralMessage::Winners {
                    documents: part,
                    last,
                }) => {
                    documents.extend(part);
                    if last {
                        return documents;
                    }
                }
                other => panic!("expected Winners, got {other:?}"),
            }
        }
    }

    /// Closes the write side and reads until the central closes too.
    pub fn close(mut self) {
        if let Some(tls) = &mut self.tls {
            tls.send_close_notify();
            let _ = tls.complete_io(&mut self.stream);
        }
        let _ = self.stream.shutdown(Shutdown::Write);
        let mut rest = Vec::new();
        let _ = self.stream.read_to_end(&mut rest);
    }
}

/// One agency's whole job: handshake, every batch pipelined, finish, winners.
/// Returns the winners it received. Over `connection`, plain or TLS.
pub fn run_agency(connection: RawAgency, agency: u32, batches: &[Vec<WireBet>]) -> Vec<String> {
    let (mut connection, welcome) = connection.welcome(agency);
    assert_eq!(welcome, (0, 0, false));
    for (index, bets) in batches.iter().enumerate() {
        connection.send(&AgencyMessage::Batch {
            batch: index as u64 + 1,
            bets: bets.clone(),
        });
    }
    let mut stored = 0;
    for (index, bets) in batches.iter().enumerate() {
        stored += bets.len() as u64;
        assert_eq!(
            connection.recv(),
            Some(CentralMessage::Ack {
                batch: index as u64 + 1,
                bets_stored: stored
            }),
            "agency {agency}"
        );
    }
    connection.send(&AgencyMessage::Finish { bets_sent: stored });
    assert_eq!(
        connection.recv(),
        Some(CentralMessage::Finished {
            bets_stored: stored
        })
    );
    connection.send(&AgencyMessage::WinnersQuery { wait: true });
    let winners = connection.winners();
    connection.close();
    winners
}

/// Deterministic bets: batch `b` (from 1) of agency `a` holds `per_batch`
/// bets with unique documents; about one bet in 29 plays the winning number.
pub fn agency_batches(agency: u32, batches: u64, per_batch: usize) -> Vec<Vec<WireBet>> {
    (1..=batches)
        .map(|batch| {
            (0..per_batch)
                .map(|index| {
                    let seed = u64::from(agency) * 7 + batch * 13 + index as u64;
                    let number = if seed.is_multiple_of(29) {
                        7574
                    } else {
                        (seed * 31 % 7000) as u16
                    };
                    WireBet {
                        first_name: format!("Nombre {agency}"),
                        last_name: "Pérez, \"el\" Segundo".to_owned(),
                        document: format!("{agency:03}{batch:04}{index:04}"),
                        birthdate: format!("19{:02}-0{}-1{}", seed % 100, 1 + seed % 9, seed % 10),
                        number,
                    }
                })
                .collect()
        })
        .collect()
}

/// The winning documents among `batches`, in order.
pub fn expected_winners(batches: &[Vec<WireBet>]) -> Vec<String> {
    batches
        .iter()
        .flatten()
        .filter(|bet| bet.number == 7574)
        .map(|bet| bet.document.clone())
        .collect()
}

/// Every row of the store: `(agency, document)` in stored order. Panics on a
/// row that does not parse (a torn or interleaved batch).
pub fn stored_rows(store: &Path) -> Vec<(u32, String)> {
    let file = std::fs::File::open(store).expect("open the store");
    StoreRows::new(file)
        .map(|row| {
            let row = row.unwrap_or_else(|(line, error)| panic!("store line {line}: {error}"));
            (row.agency.get(), row.bet.document.as_str().to_owned())
        })
        .collect()
}

/// Rows per agency.
pub fn rows_per_agency(rows: &[(u32, String)]) -> HashMap<u32, usize> {
    let mut counts = HashMap::new();
    for (agency, _) in rows {
        *counts.entry(*agency).or_default() += 1;
    }
    counts
}
