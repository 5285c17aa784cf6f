//! The lottery central as a library: a mio event-loop server over
//! [`lottery_core::Central`], its configuration and its course-format logs.
//!
//! # Layers
//! Each module uses only those below it (`scripts/layers.py` checks that no
//! two import each other):
//! - [`Server`] (`server.rs`): builds the polls, wakers and shared state,
//!   starts the event-loop threads, runs the acceptor, and stops (one path
//!   whatever the reason).
//! - `acceptor.rs`: accepts, spreads connections over the loops, refuses
//!   those over the limit, and decides when the server stops.
//! - `event_loop.rs`: one loop thread, its connections, the rhythm of an
//!   iteration (read all, begin all batches, hand them to the completer,
//!   write the acks it sent back); only it registers and removes
//!   connections.
//! - `connection.rs`: a socket, its buffers, its session and its lifecycle,
//!   behind `on_readable` / `on_writable`, which report a status.
//! - `transport.rs`: what a connection's bytes travel over: the socket, or
//!   TLS over it (rustls, non-blocking); the peer's certificate.
//! - `session.rs`: one connection's protocol state, socket-free.
//! - `completer.rs`: the thread beside each loop that completes begun
//!   batches and finishes (the group commit, the draw), so the loop never
//!   waits for the disk; and the work it completes.
//! - `shared.rs`: the state every thread shares (the central, the loops'
//!   inboxes, which connection speaks for each agency, stopping).
//! - `refusal.rs`: every error frame the central sends; `log_line.rs`: every
//!   log line it writes (the course's format is [`lottery_log`]'s), every
//!   line a peer can cause within the per-address and per-agency budgets of
//!   `log_limit.rs`.
//! - `http.rs`: the status port (`--http`), hyper on a current-thread
//!   tokio runtime of its own thread, answering `/metrics`, `/status`, `/`
//!   (`status.html`), `/healthz` and `/readyz` within the limits, TLS and
//!   token of `http_settings.rs` ([`HttpSettings`]); `status.rs`: what they tell, from one look at the server
//!   (the central's [`lottery_core::Central::snapshot`], the loops' and the
//!   store's counters), as Prometheus text (`prometheus-client`) or JSON;
//!   `metrics.rs`: the counters each loop keeps in atomics (refusals by
//!   code, ack latency), added up on scrape; `history.rs`: the last minutes
//!   for the page's charts, a bounded ring the port's thread fills once a
//!   second from counters that exist already; `store_watch.rs`
//!   ([`StoreWatch`]): the store's syncs and size, timed around the core's
//!   file store.
//! - [`ShutdownHandle`], [`StopReason`] and the signal watch (`shutdown.rs`);
//!   [`open_central`] and [`open_watched_central`] (`store.rs`).
//! - `config.rs`: the knobs of a running server ([`ServerConfig`]) and the
//!   binary's flags, environment and file ([`ServerArgs`], [`Config`]);
//!   `error.rs`: [`ConfigError`], [`ServerError`].
//!
//! Every public item has one path, at the crate's root (the modules are
//! private).
//!
//! # Example
//! ```
//! use lottery_core::{BetMonitor, Central, Durability, LotteryRules};
//! use lottery_server::{Server, ServerConfig};
//!
//! # let dir = std::env::temp_dir().join(format!("lottery-server-doc-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir)?;
//! let (monitor, recovery) = BetMonitor::open_file(&dir.join("bets.csv"), Durability::Fsync)?;
//! let central = Central::new(LotteryRules::default(), monitor, &recovery)?;
//! let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
//! let server = Server::new(listener, central, ServerConfig { threads: 2, ..ServerConfig::default() })?;
//! let shutdown = server.shutdown_handle();
//! let running = std::thread::spawn(move || server.run());
//! // ... agencies connect to the server's address ...
//! shutdown.shutdown();
//! assert_eq!(running.join().unwrap()?, lottery_server::StopReason::Requested);
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]

mod acceptor;
mod completer;
mod config;
mod connection;
mod error;
mod event_loop;
mod history;
mod http;
mod http_counters;
mod http_settings;
mod log_limit;
mod log_line;
mod metrics;
mod receipt;
mod refusal;
mod server;
mod session;
mod shared;
mod shutdown;
mod status;
mod store;
mod store_watch;
mod transport;

pub use config::{
    Config, DEFAULT_BACKLOG, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_IDLE_TIMEOUT, DEFAULT_LISTEN,
    DEFAULT_MAX_CONNECTIONS, DEFAULT_STORE, LogLevel, MAX_MAX_FRAME, MAX_THREADS, MIN_MAX_FRAME,
    Seconds, ServerArgs, ServerConfig,
};
pub use error::{ConfigError, ServerError};
pub use http_settings::{
    BearerToken, DEFAULT_HTTP_HEAD_TIMEOUT, DEFAULT_HTTP_MAX_CONNECTIONS, DEFAULT_HTTP_MAX_HEAD,
    DEFAULT_HTTP_MAX_REQUESTS, DEFAULT_HTTP_WRITE_TIMEOUT, HttpSettings, MAX_HTTP_MAX_HEAD,
    MIN_HTTP_MAX_HEAD,
};
pub use server::Server;
pub use shutdown::{ShutdownHandle, StopReason};
pub use store::{open_central, open_watched_central};
pub use store_watch::StoreWatch;
