//! Errors of the server crate: configuration, start-up and running.
//!
//! What a peer does wrong is never one of these: it is answered with an error
//! frame (see `session`) and, at worst, that peer's connection is closed. These
//! enums are for what stops the central itself.

use std::io;
use std::net::SocketAddr;

use lottery_core::{RecoveryError, StoreError};

/// A setting could not be read or is invalid: the one shape every program
/// of the workspace uses (`lottery_config`).
pub use lottery_config::ConfigError;

/// The central could not start or stopped on an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The store could not be opened or repaired.
    #[error("cannot open the store")]
    Store(#[from] StoreError),
    /// The lottery could not be rebuilt from the store (a recovered draw).
    #[error("cannot recover the lottery from the store")]
    Recover(#[from] RecoveryError),
    /// The operating system refused an event-loop resource (poll, waker,
    /// registration, thread).
    #[error("cannot {action}")]
    EventLoop {
        /// What was being set up.
        action: &'static str,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The signal handlers could not be installed.
    #[error("cannot install the SIGTERM/SIGINT handlers")]
    Signals(#[source] io::Error),
    /// An event-loop thread died from a bug (a panic); the others were
    /// stopped.
    #[error("event loop {index} panicked")]
    LoopPanicked {
        /// Which loop.
        index: usize,
    },
}

impl ServerError {
    pub(crate) fn event_loop(action: &'static str) -> impl FnOnce(io::Error) -> Self {
        move |source| Self::EventLoop { action, source }
    }
}
