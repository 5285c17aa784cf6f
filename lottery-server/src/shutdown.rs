//! How a server is asked to stop: a [`ShutdownHandle`] from any thread, or
//! `SIGTERM`/`SIGINT` when the process lets the server handle signals; and
//! why it stopped ([`StopReason`]).
//!
//! The first signal starts the graceful shutdown (the acceptor hears it
//! through signal-hook's mio source). A second signal exits the process at
//! once, with status 128 + the signal number as shells report it: an operator
//! who asks twice does not want to wait.

use std::fmt;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use mio::{Interest, Registry, Token, Waker};
use signal_hook::SigId;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;

use crate::log_line;

/// Why a server stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StopReason {
    /// A [`ShutdownHandle`] asked for it.
    Requested,
    /// A signal (`SIGTERM` or `SIGINT`) asked for it.
    Signal(&'static str),
    /// `exit_when_done`: the draw is done, every agency received its winners
    /// and every connection closed.
    Done,
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopReason::Requested => f.write_str("requested"),
            StopReason::Signal(name) => f.write_str(name),
            StopReason::Done => f.write_str("done"),
        }
    }
}

/// Stops a running [`crate::Server`] gracefully. Cheap to clone; usable from
/// any thread, before or while the server runs.
#[derive(Debug, Clone)]
pub struct ShutdownHandle {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    requested: AtomicBool,
    acceptor: Arc<Waker>,
}

impl ShutdownHandle {
    pub(crate) fn new(acceptor: Arc<Waker>) -> Self {
        Self {
            inner: Arc::new(Inner {
                requested: AtomicBool::new(false),
                acceptor,
            }),
        }
    }

    /// Asks the server to stop: it stops accepting, stores and acks the
    /// batches it already received, tells connected agencies it is shutting
    /// down, closes everything, and [`crate::Server::run`] returns.
    pub fn shutdown(&self) {
        self.inner.requested.store(true, Ordering::SeqCst);
        if let Err(error) = self.inner.acceptor.wake() {
            log_line::shutdown_wake_failed(&error);
        }
    }

    /// Whether a shutdown was asked for.
    pub fn is_requested(&self) -> bool {
        self.inner.requested.load(Ordering::SeqCst)
    }
}

/// `SIGTERM` and `SIGINT` as a mio source, plus the "second signal exits at
/// once" handlers. Dropping it removes the handlers.
pub(crate) struct SignalWatch {
    signals: Signals,
    handlers: Vec<SigId>,
}

impl SignalWatch {
    /// Installs the handlers and registers the source under `token`.
    pub(crate) fn install(registry: &Registry, token: Token) -> io::Result<Self> {
        let mut watch = Self {
            signals: Signals::new([SIGTERM, SIGINT])?,
            handlers: Vec::new(),
        };
        let signalled = Arc::new(AtomicBool::new(false));
        for signal in [SIGTERM, SIGINT] {
            // Order matters: the conditional exit runs first and sees the flag
            // only from the second signal on; the flag is set right after.
            watch
                .handlers
                .push(signal_hook::flag::register_conditional_shutdown(
                    signal,
                    128 + signal,
                    Arc::clone(&signalled),
                )?);
            watch
                .handlers
                .push(signal_hook::flag::register(signal, Arc::clone(&signalled))?);
        }
        registry.register(&mut watch.signals, token, Interest::READABLE)?;
        Ok(watch)
    }

    /// The name of a signal received since the last call, if any.
    pub(crate) fn received(&mut self) -> Option<&'static str> {
        let mut name = None;
        for signal in self.signals.pending() {
            name = name.or(match signal {
                SIGTERM => Some("SIGTERM"),
                SIGINT => Some("SIGINT"),
                _ => None,
            });
        }
        name
    }
}

impl Drop for SignalWatch {
    fn drop(&mut self) {
        for handler in self.handlers.drain(..) {
            signal_hook::low_level::unregister(handler);
        }
    }
}
