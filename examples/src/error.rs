//! Errors of the example programs. Each says what failed and where; `main`
//! logs the whole source chain and exits non-zero.

use std::io;
use std::path::PathBuf;

use lottery_bet::RowError;
use lottery_net::{ClientError, ErrorCode};
use lottery_server::ServerError;

/// A setting that cannot be used: the one shape of every program
/// (`lottery_config`).
pub use lottery_config::ConfigError;

/// An agency file that cannot be used.
///
/// Each message says what is wrong once: the logs print an error with its
/// source chain, so no message repeats its source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// The file cannot be opened: it does not exist, is a directory, may not
    /// be read, ...
    #[error("cannot read the agency file {}: {}", path.display(), open_problem(cause))]
    Open {
        /// The file.
        path: PathBuf,
        /// What the operating system answered. Not a `source`: the message
        /// already says it, in words naming the usual problems.
        cause: io::Error,
    },
    /// A row is invalid: its message names the file, the line and the field.
    #[error("bad row")]
    Row(#[from] RowError),
}

/// What is wrong with an agency file that cannot be opened, in words.
fn open_problem(cause: &io::Error) -> String {
    match cause.kind() {
        io::ErrorKind::NotFound => "it does not exist".to_string(),
        io::ErrorKind::IsADirectory => "it is a directory, not a file".to_string(),
        io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => cause.to_string(),
    }
}

/// An in-process central that cannot run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CentralError {
    /// The temporary directory for its store cannot be made.
    #[error("cannot create a temporary directory for the store")]
    TempDir(#[source] io::Error),
    /// The central's thread cannot be started.
    #[error("cannot start the central's thread")]
    Thread(#[source] io::Error),
    /// The server failed.
    #[error("the central failed")]
    Server(#[from] ServerError),
    /// The server's thread panicked.
    #[error("the central's thread panicked")]
    Panicked,
}

/// A load run that cannot start or cannot go on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadgenError {
    /// The in-process central cannot run.
    #[error("the in-process central failed")]
    Central(#[from] CentralError),
    /// `--server` does not resolve.
    #[error("cannot resolve the central's address {address:?}")]
    Resolve {
        /// The address given.
        address: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The run needs more file descriptors than the process may open.
    #[error(
        "the run needs about {needed} file descriptors but the limit is {limit}: raise it (ulimit -n), use fewer agencies, or run the central as its own process and pass --server"
    )]
    DescriptorLimit {
        /// Descriptors needed.
        needed: u64,
        /// The soft limit.
        limit: u64,
    },
    /// The frames cannot be encoded.
    #[error("cannot encode the agencies' batches")]
    Encode(#[from] lottery_net::EncodeError),
    /// A client thread's poller failed.
    #[error("a client thread's poller failed")]
    Poll(#[source] io::Error),
    /// A client thread panicked.
    #[error("a client thread panicked")]
    ClientPanicked,
    /// The TLS certificates cannot be generated or loaded (the error names
    /// the file).
    #[error("cannot set up TLS")]
    Tls(#[from] lottery_tls::TlsError),
}

/// An agency session that could not complete.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgencyError {
    /// The agency's bets cannot be read.
    #[error("cannot read the agency's bets")]
    Input(#[from] InputError),
    /// The central could not be reached or refused something.
    #[error("the session with the central failed")]
    Client(#[from] ClientError),
    /// The winners query was answered "not drawn" although it asked to wait.
    #[error("the central answered the winners query without the winners")]
    NoWinnersAnswer,
    /// The central stores, under this agency's batch numbers, bets that are
    /// not the ones of its file: found at the handshake (the CRC32C of the
    /// rows stored is not that of the file's first bets) or when a batch
    /// was refused as a conflict. Nothing more was sent.
    #[error(
        "{} does not hold the bets the central stores for this agency (was it edited after they were sent?)",
        file.display()
    )]
    NotTheStoredBets {
        /// The agency's file.
        file: PathBuf,
        /// What the client found (boxed: a `ClientError` beside a path
        /// would make every `AgencyError` large).
        #[source]
        source: Box<ClientError>,
    },
}

impl AgencyError {
    /// The error of sending the bets of `file`: a mismatch with what the
    /// central stores names the file.
    pub fn of_send(error: ClientError, file: &std::path::Path) -> Self {
        let conflict = match &error {
            ClientError::StoredBetsDiffer { .. } => true,
            ClientError::Refused(refusal) => refusal.code == ErrorCode::BatchConflict,
            _ => false,
        };
        if conflict {
            Self::NotTheStoredBets {
                file: file.to_path_buf(),
                source: Box::new(error),
            }
        } else {
            Self::Client(error)
        }
    }

    /// Whether the session stopped because it was interrupted (SIGTERM), not
    /// because something failed.
    pub fn is_interrupted(&self) -> bool {
        matches!(self, Self::Client(ClientError::Interrupted))
    }
}

/// A demo that cannot run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DemoError {
    /// The synthetic data set cannot be written.
    #[error("cannot write the synthetic data set")]
    Generate(#[source] io::Error),
    /// `--write-data` found one of the files it would write.
    #[error("{} exists already: --write-data never replaces a file", .0.display())]
    DataExists(PathBuf),
    /// `--data-dir` holds no `agency-1.csv`.
    #[error("{} holds no agency-1.csv", .0.display())]
    NoAgencyFiles(PathBuf),
    /// More agency files than agency ids.
    #[error("too many agency files")]
    TooManyAgencies,
    /// An agency file is unusable.
    #[error("an agency's input is unusable")]
    Input(#[from] InputError),
    /// The central cannot run.
    #[error("the central failed")]
    Central(#[from] CentralError),
    /// The certificates of `--tls` cannot be generated.
    #[error("cannot generate the certificates of --tls")]
    Tls(#[from] lottery_tls::TlsError),
    /// The store cannot be read back for the checks.
    #[error("cannot read the store {} back: {detail}", path.display())]
    Store {
        /// The store.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// `--serve-status` cannot watch SIGINT and SIGTERM.
    #[error("cannot install the SIGINT and SIGTERM handlers")]
    Signals(#[source] io::Error),
    /// What `--serve-status` says cannot be printed.
    #[error("cannot print to stdout")]
    Print(#[source] io::Error),
}
