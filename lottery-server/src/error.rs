//! Errors of the server crate: configuration, start-up and running.
//!
//! What a peer does wrong is never one of these: it is answered with an error
//! frame (see `session`) and, at worst, that peer's connection is closed. These
//! enums are for what stops the central itself.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

use lottery_core::{RecoveryError, StoreError};

/// A setting could not be read or is invalid.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The `--config` file could not be read.
    #[error("cannot read the config file {}", path.display())]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The `--config` file is not valid TOML or holds an unknown or mistyped
    /// setting.
    #[error("the config file {} is invalid: {problem}", path.display())]
    ParseFile {
        /// The file.
        path: PathBuf,
        /// Where and what, on one line: the line (as written, so that it
        /// names the setting) and what is wrong with it.
        problem: String,
    },
    /// A flag is unknown, or a flag (or its environment variable) has a value
    /// it does not accept.
    #[error("{message}")]
    Usage {
        /// What is wrong, naming the flag and the value.
        message: String,
    },
    /// A setting has a value outside what it accepts.
    #[error("invalid value for setting {setting}: {reason}")]
    Invalid {
        /// The setting, named as its flag (without dashes).
        setting: &'static str,
        /// What is wrong and what is accepted.
        reason: String,
    },
    /// A TLS file could not be loaded (the error names it).
    #[error(transparent)]
    Tls(#[from] lottery_tls::TlsError),
}

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
