//! The status port (`--http ADDR`): a thread of its own serving, with
//! `tiny_http`, what `status.rs` tells.
//!
//! | path | answer |
//! |---|---|
//! | `/metrics` | Prometheus metrics (the text format of `prometheus-client`) |
//! | `/status` | the same facts as JSON |
//! | `/` | one self-contained page that refreshes itself from `/status` |
//! | `/healthz` | 200 while the process serves |
//! | `/readyz` | 200 while the store is open and the agency port accepts, else 503 |
//!
//! The event loops never wait for it: it reads the central's books (one
//! short lock per look), the agency map (one short lock) and atomics, and
//! it answers one request at a time on its own thread (`tiny_http` reads
//! the requests on threads of its own). It only reads: nothing it is asked
//! changes the lottery. It stops with the server ([`StatusPort::stop`]).
//!
//! It is plain HTTP: `tiny_http`'s TLS is built on an older rustls (0.20)
//! than the agency port's (0.23), so the port carries no TLS, and the
//! configuration keeps it on loopback unless told otherwise (see
//! SECURITY.md). What it shows is counts only.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tiny_http::{Header, Method, Request, Response};

use crate::error::ServerError;
use crate::log_line;
use crate::shared::Shared;
use crate::status::Facts;
use crate::store_watch::StoreWatch;

/// The page at `/`: no external script, font or style.
const PAGE: &str = include_str!("status.html");

/// How long the thread pauses after `tiny_http` reports an accept error
/// (out of descriptors), so that it does not spin.
const ERROR_PAUSE: Duration = Duration::from_millis(100);

/// The status port, bound and not yet serving.
pub(crate) struct BoundPort {
    server: tiny_http::Server,
    addr: SocketAddr,
}

impl BoundPort {
    /// Binds `addr`.
    ///
    /// # Errors
    /// [`ServerError::Bind`] when the address cannot be bound.
    pub(crate) fn bind(addr: SocketAddr) -> Result<Self, ServerError> {
        let server = tiny_http::Server::http(addr).map_err(|error| ServerError::Bind {
            addr,
            source: io::Error::other(error),
        })?;
        let addr = server.server_addr().to_ip().unwrap_or(addr);
        Ok(Self { server, addr })
    }

    /// The address bound (its port, when `addr` asked for port 0).
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

/// Whether the server is ready (the agency port accepts), shared with the
/// server that sets it.
pub(crate) type Readiness = Arc<AtomicBool>;

/// The status port, serving on its thread.
pub(crate) struct StatusPort {
    server: Arc<tiny_http::Server>,
    stopping: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// What the thread looks at.
struct View {
    shared: Arc<Shared>,
    store: StoreWatch,
    ready: Readiness,
    started: Instant,
}

impl StatusPort {
    /// Starts serving `port` on a thread of its own.
    ///
    /// # Errors
    /// When the thread cannot be started.
    pub(crate) fn start(
        port: BoundPort,
        shared: Arc<Shared>,
        store: StoreWatch,
        ready: Readiness,
    ) -> io::Result<Self> {
        let server = Arc::new(port.server);
        let stopping = Arc::new(AtomicBool::new(false));
        let view = View {
            shared,
            store,
            ready,
            started: Instant::now(),
        };
        let thread = {
            let server = Arc::clone(&server);
            let stopping = Arc::clone(&stopping);
            std::thread::Builder::new()
                .name("lottery-http".to_owned())
                .spawn(move || serve(&server, &stopping, &view))?
        };
        Ok(Self {
            server,
            stopping,
            thread: Some(thread),
        })
    }

    /// Stops serving: the thread ends after the request it answers, and the
    /// port is closed (and says so).
    pub(crate) fn stop(mut self) {
        self.halt();
        log_line::http_closed();
    }

    fn halt(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.server.unblock();
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

/// Answers requests until stopped.
fn serve(server: &tiny_http::Server, stopping: &AtomicBool, view: &View) {
    loop {
        match server.recv() {
            Ok(request) => answer(request, view),
            Err(_) if stopping.load(Ordering::SeqCst) => return,
            Err(error) => {
                log_line::http_failed(&error);
                std::thread::sleep(ERROR_PAUSE);
            }
        }
    }
}

/// Answers one request (a peer that left meanwhile is no concern).
fn answer(request: Request, view: &View) {
    let path = request.url().split('?').next().unwrap_or("");
    let response = match (request.method(), path) {
        (Method::Get | Method::Head, "/metrics") => {
            let facts = Facts::gather(&view.shared, &view.store, view.started.elapsed());
            text(200, facts.metrics_text()).with_header(header(
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            ))
        }
        (Method::Get | Method::Head, "/status") => {
            let facts = Facts::gather(&view.shared, &view.store, view.started.elapsed());
            text(200, facts.status_json().to_string())
                .with_header(header("application/json"))
                .with_header(no_store())
        }
        (Method::Get | Method::Head, "/") => text(200, PAGE.to_owned())
            .with_header(header("text/html; charset=utf-8"))
            .with_header(no_store()),
        (Method::Get | Method::Head, "/healthz") => plain(200, "ok\n"),
        (Method::Get | Method::Head, "/readyz") => {
            if view.ready.load(Ordering::SeqCst) && !view.shared.is_stopping() {
                plain(200, "ready\n")
            } else {
                plain(503, "not ready\n")
            }
        }
        (Method::Get | Method::Head, _) => plain(404, "not found\n"),
        _ => plain(405, "method not allowed\n")
            .with_header(Header::from_bytes("Allow", "GET, HEAD").expect("a valid header")),
    };
    let _ = request.respond(response);
}

fn text(status: u16, body: String) -> Response<io::Cursor<Vec<u8>>> {
    Response::from_string(body).with_status_code(status)
}

fn plain(status: u16, body: &str) -> Response<io::Cursor<Vec<u8>>> {
    text(status, body.to_owned()).with_header(header("text/plain; charset=utf-8"))
}

fn header(content_type: &str) -> Header {
    Header::from_bytes("Content-Type", content_type).expect("a valid header")
}

fn no_store() -> Header {
    Header::from_bytes("Cache-Control", "no-store").expect("a valid header")
}
