//! What the client threads of a load run share (the settings, the barrier
//! that starts the clock, the count of open connections) and what each one
//! hands back. Below both the client loop (`driver`) and the connections it
//! drives (`connection`), which read and update them.

use std::net::SocketAddr;

use lottery_tls::{ClientConnection, ClientTls};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier, OnceLock};
use std::time::{Duration, Instant};

use crate::progress::ProgressCounters;

/// What every client thread shares.
#[derive(Debug)]
pub struct RunShared {
    /// The central.
    pub server: SocketAddr,
    /// Batches in flight per agency at most.
    pub in_flight: usize,
    /// Offered bets/s over all agencies (0: no pacing).
    pub rate: u64,
    /// Agencies over all threads (the rate schedule spreads over them).
    pub agencies: u32,
    /// Connections opening at once per thread.
    pub connect_burst: usize,
    /// Every thread waits here once its agencies are handshaken.
    pub ready: Barrier,
    /// When batches started flowing (set by the first thread past `ready`).
    pub ingest_start: OnceLock<Instant>,
    /// Connections open now, over all threads.
    pub open: AtomicU64,
    /// The most connections open at once.
    pub open_peak: AtomicU64,
    /// TLS to the central (`None`: plaintext).
    pub tls: Option<RunTls>,
    /// Ask for receipts (protocol version 3); their signatures are not
    /// checked.
    pub receipts: bool,
    /// Bets acknowledged and agencies finished so far, for the progress
    /// display.
    pub progress: Arc<ProgressCounters>,
}

/// The TLS of a load run: the address whose host the central's certificate
/// must name, and each agency's configuration (by position).
#[derive(Debug)]
pub struct RunTls {
    /// The central's address as given (`host:port`).
    pub server: String,
    /// Agency `position`'s TLS at index `position`.
    pub agencies: Vec<ClientTls>,
}

impl RunShared {
    pub(super) fn opened(&self) {
        let open = self.open.fetch_add(1, Ordering::Relaxed) + 1;
        self.open_peak.fetch_max(open, Ordering::Relaxed);
    }

    pub(super) fn closed(&self) {
        self.open.fetch_sub(1, Ordering::Relaxed);
    }

    /// A new TLS session for the agency at `position` (`None`: plaintext).
    pub(super) fn session(&self, position: u32) -> Result<Option<ClientConnection>, String> {
        let Some(tls) = &self.tls else {
            return Ok(None);
        };
        let config = tls
            .agencies
            .get(position as usize)
            .ok_or_else(|| format!("no TLS configuration for agency position {position}"))?;
        config
            .connect(&tls.server)
            .map(Some)
            .map_err(|error| lottery_log::chain(&error))
    }
}

/// One client thread's results.
#[derive(Debug, Default)]
pub struct ThreadReport {
    /// Latency of every acknowledged batch.
    pub latencies: Vec<Duration>,
    /// Bets acknowledged.
    pub bets: u64,
    /// When the last batch of this thread was acknowledged.
    pub last_ack: Option<Instant>,
    /// When the last agency of this thread got its winners.
    pub last_winners: Option<Instant>,
    /// Winners answered.
    pub winners: u64,
    /// Agencies that failed, with why.
    pub failures: Vec<String>,
}
