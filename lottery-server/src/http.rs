//! The status port (`--http ADDR`): a thread of its own serving, with
//! hyper's HTTP/1.1 server on a current-thread tokio runtime, what
//! `status.rs` tells.
//!
//! | path | answer |
//! |---|---|
//! | `/metrics` | Prometheus metrics (the text format of `prometheus-client`) |
//! | `/status` | the same facts as JSON |
//! | `/` | one self-contained page that refreshes itself from `/status`, its charts inline SVG |
//! | `/healthz` | 200 while the process serves (never asks for the token) |
//! | `/readyz` | 200 while the store is open and the agency port accepts, else 503 |
//!
//! The event loops never wait for it: it reads the central's books (one
//! short lock per look, taken between two awaits, never across one), the
//! agency map (one short lock) and atomics. It only reads: nothing it is
//! asked changes the lottery. Once a second, between two requests, it also
//! samples the run for the page's charts (`history.rs`): one more short
//! lock of the central, O(1), and atomics.
//!
//! # What a client can cost (SECURITY.md)
//! Every connection is a task on the port's one thread, never a thread of
//! its own, and each is bounded ([`HttpSettings`], each limit a flag):
//! - a request head is at most `max_head` bytes (hyper's read buffer is
//!   capped there; a longer head gets `431` and the connection closes);
//! - a head must arrive within `head_timeout` (hyper's header read timeout,
//!   which also runs while a kept-alive connection waits for its next
//!   request, so it is the idle timeout too; and the TLS handshake's);
//! - a response that the client takes nothing of for `write_timeout` drops
//!   the connection (`guard.rs`): a client that pipelines and never reads
//!   holds one response, for a bounded time;
//! - a connection makes at most `max_requests` requests; responses are
//!   written one at a time (hyper writes the next head only once the last
//!   body left its queue: vectored writes are forced on for that);
//! - at most `max_connections` at once (`slots.rs`): at the cap a new
//!   connection closes the least recently active one, so a fresh
//!   `/healthz` is answered whatever other clients do.
//!
//! Stopping ([`StatusPort::stop`]) stops accepting, lets the connections
//! finish what they write for at most [`SHUTDOWN_GRACE`], then drops them
//! with the runtime: no HTTP client delays the central's exit by more.
//!
//! # TLS and the token
//! With [`HttpSettings::tls`], the port speaks only HTTPS (tokio-rustls over
//! the agency port's rustls and ring; no client certificates). With
//! [`HttpSettings::token`], every path but `/healthz` needs
//! `Authorization: Bearer <token>`, else `401`.

mod answer;
mod guard;
mod slots;

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hyper::header::{self, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

pub(crate) use self::answer::Readiness;
use self::answer::{View, answer};
use self::guard::Guarded;
use self::slots::{Admitted, Slots};
use crate::error::ServerError;
use crate::history::{SAMPLE_INTERVAL, Sampler};
use crate::http_counters::{Cut, HttpCounters};
use crate::http_settings::HttpSettings;
use crate::log_line;
use crate::shared::Shared;
use crate::store_watch::StoreWatch;

/// How long a stopping port lets its connections finish what they write.
pub(crate) const SHUTDOWN_GRACE: Duration = Duration::from_millis(500);

/// How long the port pauses after an accept error (out of descriptors), so
/// that it does not spin.
const ERROR_PAUSE: Duration = Duration::from_millis(100);

/// The status port, bound and not yet serving.
pub(crate) struct BoundPort {
    listener: std::net::TcpListener,
    addr: SocketAddr,
}

impl BoundPort {
    /// Binds `addr`.
    ///
    /// # Errors
    /// [`ServerError::Bind`] when the address cannot be bound.
    pub(crate) fn bind(addr: SocketAddr) -> Result<Self, ServerError> {
        let bind_error = |source| ServerError::Bind { addr, source };
        // std's listen backlog (128) on purpose: a burst of connections
        // beyond it waits in the clients' SYN retries, not in a queue that
        // a fresh `/healthz` would wait behind.
        let listener = std::net::TcpListener::bind(addr).map_err(bind_error)?;
        listener.set_nonblocking(true).map_err(bind_error)?;
        let addr = listener.local_addr().map_err(bind_error)?;
        Ok(Self { listener, addr })
    }

    /// The address bound (its port, when `addr` asked for port 0).
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

/// The status port, serving on its thread.
pub(crate) struct StatusPort {
    stop: watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
}

/// What every connection of the port shares.
struct Port {
    view: View,
    settings: HttpSettings,
    tls: Option<TlsAcceptor>,
    slots: Arc<Slots>,
}

impl StatusPort {
    /// Starts serving `port` on a thread of its own.
    ///
    /// # Errors
    /// When the runtime or the thread cannot be started.
    pub(crate) fn start(
        port: BoundPort,
        shared: Arc<Shared>,
        store: StoreWatch,
        ready: Readiness,
    ) -> io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()?;
        let settings = shared.config().http_settings.clone();
        let slots = Slots::new(settings.max_connections);
        let started = Instant::now();
        let state = Arc::new(Port {
            tls: settings
                .tls
                .as_ref()
                .map(|tls| TlsAcceptor::from(tls.rustls_config())),
            slots: Arc::clone(&slots),
            view: View {
                shared,
                store,
                ready,
                started,
                token: settings.token.clone(),
                slots,
                counters: Arc::default(),
                sampler: Mutex::new(Sampler::new(started)),
            },
            settings,
        });
        let (stop, stopping) = watch::channel(false);
        let listener = port.listener;
        let thread = std::thread::Builder::new()
            .name("lottery-http".to_owned())
            .spawn(move || {
                runtime.block_on(serve(listener, state, stopping));
                // Dropping the runtime drops every connection still open.
            })?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }

    /// Stops serving: no more accepts, the connections get
    /// [`SHUTDOWN_GRACE`] to finish, the port is closed (and says so).
    pub(crate) fn stop(mut self) {
        self.halt();
        log_line::http_closed();
    }

    fn halt(&mut self) {
        let _ = self.stop.send(true);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for StatusPort {
    fn drop(&mut self) {
        self.halt();
    }
}

/// Accepts until stopped, then gives the connections their grace.
async fn serve(
    listener: std::net::TcpListener,
    port: Arc<Port>,
    mut stopping: watch::Receiver<bool>,
) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(listener) => listener,
        Err(error) => {
            log_line::http_failed(&error);
            return;
        }
    };
    let mut connections = JoinSet::new();
    let mut sampling = tokio::time::interval(SAMPLE_INTERVAL);
    // A late tick (a long answer) is taken late, not twice: each sample
    // divides by the time it really covers.
    sampling.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stopped(&mut stopping) => break,
            _ = sampling.tick() => port.view.sample(),
            // Reaps finished connections, so the set holds live ones only.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let (admitted, evicted) = port.slots.admit(peer);
                    if let Some(evicted) = evicted {
                        port.counters().cut(Cut::Evicted);
                        log_line::http_evicted(evicted, port.settings.max_connections);
                    }
                    let evicting = evicted.is_some();
                    let port = Arc::clone(&port);
                    let stopping = stopping.clone();
                    connections.spawn(connection(stream, admitted, port, stopping));
                    if evicting {
                        // Lets the evicted connection's task run and close
                        // its socket before the next accept: the cap holds
                        // in descriptors too, not only in slots.
                        tokio::task::yield_now().await;
                    }
                }
                Err(error) => {
                    log_line::http_failed(&error);
                    tokio::time::sleep(ERROR_PAUSE).await;
                }
            },
        }
    }
    drop(listener);
    let finished = async { while connections.join_next().await.is_some() {} };
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, finished).await;
}

/// Serves one connection until it ends, is evicted, or the port stops.
async fn connection(
    stream: TcpStream,
    admitted: Admitted,
    port: Arc<Port>,
    stopping: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let slot = Arc::clone(&admitted.slot);
    let guarded = Guarded::new(stream, Arc::clone(&slot), port.settings.write_timeout);
    let Some(acceptor) = &port.tls else {
        return drive(guarded, &admitted, &port, stopping).await;
    };
    let handshake = tokio::time::timeout(port.settings.head_timeout, acceptor.accept(guarded));
    tokio::select! {
        done = handshake => match done {
            Ok(Ok(tls)) => drive(tls, &admitted, &port, stopping).await,
            _ => port.counters().cut(Cut::TlsHandshake),
        },
        () = slot.evicted() => {}
    }
}

impl Port {
    fn counters(&self) -> &HttpCounters {
        &self.view.counters
    }
}

/// The limit at which hyper's connection ended with `error`, if any.
fn cut_of(error: &hyper::Error) -> Option<Cut> {
    if error.is_parse_too_large() {
        return Some(Cut::HeadTooLarge);
    }
    if error.is_timeout() {
        return Some(Cut::HeadTimeout);
    }
    // The write timeout is `guard.rs`'s io error, under hyper's.
    let io = std::error::Error::source(error)?.downcast_ref::<io::Error>()?;
    (io.kind() == io::ErrorKind::TimedOut).then_some(Cut::WriteTimeout)
}

/// Runs hyper's HTTP/1.1 connection over `io` with the port's limits.
async fn drive<I>(io: I, admitted: &Admitted, port: &Port, mut stopping: watch::Receiver<bool>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let settings = &port.settings;
    let requests = AtomicU32::new(0);
    let service = service_fn(|request| {
        admitted.slot.progressed();
        let made = requests.fetch_add(1, Ordering::Relaxed).saturating_add(1);
        let mut response = answer(&request, &port.view);
        if made >= settings.max_requests {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        async move { Ok::<_, Infallible>(response) }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(settings.head_timeout)
        .max_buf_size(settings.max_head)
        .max_header_size(settings.max_head)
        // Queued (vectored) writes: the next response's head waits until
        // the last body left the queue, so responses do not pile up.
        .writev(true)
        .keep_alive(true);
    let conn = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    tokio::select! {
        ended = conn.as_mut() => {
            if let Some(cut) = ended.as_ref().err().and_then(cut_of) {
                port.counters().cut(cut);
            }
        }
        () = admitted.slot.evicted() => {}
        () = stopped(&mut stopping) => {
            // Bounded by the port's grace: the runtime drops what is left.
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// Resolves once the port is told to stop (or its handle is gone).
async fn stopped(stopping: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is dropped here, not held by a caller.
    let _ = stopping.wait_for(|stop| *stop).await;
}
