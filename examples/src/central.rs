//! A central started in-process, on a free loopback port, with its store in a
//! temporary directory: what the demo and the load generator (without
//! `--server`) run against.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use lottery_core::{Durability, LotteryRules};
use lottery_server::{
    DEFAULT_BACKLOG, Server, ServerConfig, ServerError, ShutdownHandle, StopReason,
};
use tempfile::TempDir;

use crate::error::CentralError;

/// A running in-process central. Dropping it stops the central and removes
/// its store.
#[derive(Debug)]
pub struct InProcessCentral {
    addr: SocketAddr,
    /// Its HTTP status listener, when it has one (see [`status_listener`]).
    status: Option<SocketAddr>,
    store: PathBuf,
    shutdown: ShutdownHandle,
    running: Option<JoinHandle<Result<StopReason, ServerError>>>,
    // Last: dropped after the server stopped writing into it.
    _dir: TempDir,
}

impl InProcessCentral {
    /// Starts a central with `rules` and `durability` on `127.0.0.1:0`, with
    /// `threads` event loops (the server's default when `None`), speaking
    /// TLS when `tls` is given, and with an HTTP status listener on a
    /// loopback port when `status_http` (see [`InProcessCentral::status_addr`]).
    ///
    /// # Errors
    /// [`CentralError`] when the directory, the store, the listener or the
    /// server cannot be set up.
    pub fn start(
        rules: LotteryRules,
        durability: Durability,
        threads: Option<usize>,
        tls: Option<lottery_tls::ServerTls>,
        status_http: bool,
    ) -> Result<Self, CentralError> {
        let dir = tempfile::Builder::new()
            .prefix("lottery-central-")
            .tempdir()
            .map_err(CentralError::TempDir)?;
        let store = dir.path().join("bets.csv");
        let (central, watch) = lottery_server::open_watched_central(&store, durability, rules)?;
        let mut settings = ServerConfig {
            tls,
            ..ServerConfig::default()
        };
        if let Some(threads) = threads {
            settings.threads = threads;
        }
        // The server's cap on connections must not refuse a big load run.
        settings.max_connections = settings.max_connections.max(
            usize::try_from(rules.agencies)
                .unwrap_or(usize::MAX)
                .saturating_add(64),
        );
        let (server, status) = bind_with_status(central, watch, settings, status_http)?;
        let addr = server.local_addr();
        let shutdown = server.shutdown_handle();
        let running = std::thread::Builder::new()
            .name("central".into())
            .spawn(move || server.run())
            .map_err(CentralError::Thread)?;
        Ok(Self {
            addr,
            status,
            store,
            shutdown,
            running: Some(running),
            _dir: dir,
        })
    }

    /// Where agencies connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where its HTTP status listener (`/`, `/status`, `/metrics`) listens;
    /// `None` when it was not asked for.
    pub fn status_addr(&self) -> Option<SocketAddr> {
        self.status
    }

    /// The central's `bets.csv`.
    pub fn store_path(&self) -> &Path {
        &self.store
    }

    /// Stops the central gracefully and waits for it; the store stays readable
    /// until `self` is dropped.
    ///
    /// # Errors
    /// The server's error, or [`CentralError::Panicked`].
    pub fn stop(&mut self) -> Result<(), CentralError> {
        let Some(running) = self.running.take() else {
            return Ok(());
        };
        self.shutdown.shutdown();
        running.join().map_err(|_| CentralError::Panicked)??;
        Ok(())
    }
}

/// Binds the central on a free loopback port, with its HTTP status listener
/// (`/`, `/status`, `/metrics`: issue 15) on another one when
/// `status_http`, and returns the server with the status listener's address.
/// The status port reports the store's size through `watch`.
fn bind_with_status(
    central: lottery_core::Central,
    watch: lottery_server::StoreWatch,
    mut settings: ServerConfig,
    status_http: bool,
) -> Result<(Server, Option<SocketAddr>), CentralError> {
    // Not `std`'s bind: its backlog of 128 drops SYNs when a load run
    // opens hundreds of connections at once (each drop costs a second).
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    if status_http {
        settings.http = Some(loopback);
    }
    let server = Server::bind(loopback, DEFAULT_BACKLOG, central, settings)?.watch_store(watch);
    let status = server.http_addr();
    Ok((server, status))
}

impl Drop for InProcessCentral {
    fn drop(&mut self) {
        // A failure here was already logged by the server.
        let _ = self.stop();
    }
}
