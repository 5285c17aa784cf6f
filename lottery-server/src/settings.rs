//! The knobs of a running server (as opposed to [`crate::config`], which reads
//! them from flags, environment and file).

use std::time::Duration;

/// Most connections held at once, by default (above the 10,000 agencies the
/// central is sized for).
pub const DEFAULT_MAX_CONNECTIONS: usize = 16_384;
/// How long a new connection may take to send its handshake, by default.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an agency may go without sending a whole frame, by default (an
/// agency waiting for the draw is never idle).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// How a [`crate::Server`] runs.
///
/// ```
/// use lottery_server::ServerSettings;
/// let settings = ServerSettings { threads: 2, exit_when_done: true, ..ServerSettings::default() };
/// assert_eq!(settings.max_frame, lottery_net::DEFAULT_MAX_FRAME);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSettings {
    /// Event-loop threads (default: the number of cores).
    pub threads: usize,
    /// Most connections held at once; one over it is told
    /// `TooManyConnections` and closed, and the central keeps serving.
    pub max_connections: usize,
    /// A connection that has not completed its handshake by then is told
    /// `Timeout` and closed.
    pub handshake_timeout: Duration,
    /// An agency that sends no whole frame for this long (while it has
    /// nothing in progress and is not waiting for the draw) is told `Timeout`
    /// and closed: a peer dribbling half a frame cannot hold a connection.
    pub idle_timeout: Duration,
    /// The largest frame accepted or sent, in bytes.
    pub max_frame: usize,
    /// Exit once the draw is done, every agency received its winners, and
    /// every connection closed.
    pub exit_when_done: bool,
    /// Shut down gracefully on SIGTERM/SIGINT (and at once on a second one).
    /// Process-wide, so only the binary turns it on; embedders and tests use
    /// a [`crate::ShutdownHandle`].
    pub handle_signals: bool,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            threads: default_threads(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_frame: lottery_net::DEFAULT_MAX_FRAME,
            exit_when_done: false,
            handle_signals: false,
        }
    }
}

/// The number of cores (1 when it cannot be known).
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}
