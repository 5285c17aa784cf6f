//! Configuration: the knobs of a running [`crate::Server`] ([`ServerConfig`]),
//! and how the binary reads everything it needs ([`Config`]) from flags,
//! environment variables, a TOML file and defaults ([`ServerArgs`]).
//!
//! Precedence, as in every program (`lottery_config`): a flag wins over its
//! environment variable (clap reads both into [`ServerArgs`]), which wins
//! over `RUST_LOG` for the log level, which wins over the `--config` file (the
//! same [`ServerArgs`], read with serde by `lottery_config::read_file`),
//! which wins over the defaults. Every value is checked once, here, and a bad
//! one is refused naming its setting, before anything starts.
//!
//! The file uses the flags' names without dashes, for example:
//!
//! ```toml
//! listen = "0.0.0.0:12345"
//! agencies = 5
//! store = "./bets.csv"
//! durability = "fsync"
//! winning-number = 7574
//! idle-timeout = 30.0
//! tls-cert = "/etc/lottery/server.pem"
//! tls-key = "/etc/lottery/server.key"
//! tls-client-ca = "/etc/lottery/ca.pem"
//! receipt-key = "/etc/lottery/receipt-key.pem"
//! http = "127.0.0.1:9100"
//! http-max-connections = 64
//! http-tls-cert = "/etc/lottery/status.pem"
//! http-tls-key = "/etc/lottery/status.key"
//! http-token-file = "/etc/lottery/status.token"
//! ```

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use clap::builder::BoolishValueParser;
use log::LevelFilter;
use lottery_bet::BetNumber;
use lottery_config::{ConfigWarning, Requirement, Setting, requires, usage};
use lottery_core::{Durability, LotteryRules, MAX_AGENCIES, Winning};
use lottery_tls::{ReceiptKey, ServerTls};
use serde::Deserialize;

use crate::error::ConfigError;
use crate::http_settings::{
    BearerToken, DEFAULT_HTTP_HEAD_TIMEOUT, DEFAULT_HTTP_MAX_CONNECTIONS, DEFAULT_HTTP_MAX_HEAD,
    DEFAULT_HTTP_MAX_REQUESTS, DEFAULT_HTTP_WRITE_TIMEOUT, HttpSettings, MAX_HTTP_MAX_HEAD,
    MIN_HTTP_MAX_HEAD,
};
/// Most connections held at once, by default (above the 10,000 agencies the
/// central is sized for).
pub const DEFAULT_MAX_CONNECTIONS: usize = 16_384;
/// How long a new connection may take to send its handshake, by default.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an agency may go without sending a whole frame, by default (an
/// agency waiting for the draw is never idle).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// How a [`crate::Server`] runs: its knobs, whoever sets them (the binary
/// through [`Config`], an embedder or a test directly).
///
/// ```
/// use lottery_server::ServerConfig;
/// let config = ServerConfig { threads: 2, exit_when_done: true, ..ServerConfig::default() };
/// assert_eq!(config.max_frame, lottery_net::DEFAULT_MAX_FRAME);
/// assert!(config.tls.is_none(), "plaintext unless TLS is configured");
/// ```
#[derive(Debug, Clone)]
pub struct ServerConfig {
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
    /// TLS on the agency port (`None`: plaintext, where any peer can act as
    /// any agency). With a client CA, a peer acts only as the agency its
    /// certificate names.
    pub tls: Option<ServerTls>,
    /// Where the status port listens (`None`: off): `/metrics`, `/status`,
    /// `/`, `/healthz` and `/readyz` over HTTP (or HTTPS, see
    /// [`HttpSettings::tls`]), served by a thread of its own.
    pub http: Option<SocketAddr>,
    /// The status port's limits, TLS and token.
    pub http_settings: HttpSettings,
    /// The key that signs receipts (`None`: receipts off, every ack as in
    /// protocol version 2). With it, an agency that asks for the receipts
    /// version gets, with every ack and finish, the chain head signed once
    /// per completed group (SECURITY.md, "Receipts").
    pub receipt_key: Option<Arc<ReceiptKey>>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            threads: default_threads(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_frame: lottery_net::DEFAULT_MAX_FRAME,
            exit_when_done: false,
            handle_signals: false,
            tls: None,
            http: None,
            http_settings: HttpSettings::default(),
            receipt_key: None,
        }
    }
}

/// The number of cores (1 when it cannot be known).
pub(crate) fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// The address bound when none is given.
pub const DEFAULT_LISTEN: &str = "0.0.0.0:12345";
/// The listen backlog when none is given.
pub const DEFAULT_BACKLOG: u32 = 1024;
/// The store when none is given.
pub const DEFAULT_STORE: &str = "./bets.csv";
/// The smallest frame limit accepted: room for a handshake, an error with its
/// message, and a batch of one bet with long names.
pub const MIN_MAX_FRAME: usize = 1024;
/// The largest frame limit accepted (a frame is buffered whole).
pub const MAX_MAX_FRAME: usize = 16 * 1024 * 1024;
/// The most event-loop threads accepted.
pub const MAX_THREADS: usize = 1024;

/// The settings as given: by flags and environment (parsed by clap) or by the
/// config file (parsed by serde). Absent means "not given here".
#[derive(Debug, Default, Clone, Parser, Deserialize)]
#[command(
    name = "lottery-server",
    version,
    about = "The lottery central: takes bets from the agencies, stores them in bets.csv, draws once every agency finished, and tells each agency its winners.",
    after_help = "Precedence: flags > environment variables > RUST_LOG (the log level only) > \
                  --config file > defaults. The file is TOML with the flags' names as keys \
                  (winning-number = 7574)."
)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ServerArgs {
    /// A TOML file with settings (flags and environment variables win over it).
    #[arg(long, value_name = "PATH", env = "SERVER_CONFIG")]
    #[serde(skip)]
    pub config: Option<PathBuf>,

    /// Address to bind [default: 0.0.0.0:12345].
    #[arg(long, value_name = "ADDR", env = "SERVER_LISTEN")]
    pub listen: Option<SocketAddr>,

    /// Overrides the port of --listen.
    #[arg(long, value_name = "PORT", env = "SERVER_PORT")]
    pub port: Option<u16>,

    /// Listen backlog [default: 1024].
    #[arg(long, value_name = "N", env = "SERVER_LISTEN_BACKLOG",
          value_parser = clap::value_parser!(u32).range(1..=i32::MAX as i64))]
    pub backlog: Option<u32>,

    /// Agencies expected before the draw (agencies 1 to N), at most 1000000
    /// [default: 5].
    #[arg(long, value_name = "N", env = "SERVER_AGENCIES",
          allow_negative_numbers = true, value_parser = parse_agencies)]
    pub agencies: Option<u32>,

    /// The store of bets: a file, or a PostgreSQL database
    /// postgres://USER@HOST:PORT/DB (several centrals may share one)
    /// [default: ./bets.csv].
    #[arg(long, value_name = "PATH|URL", env = "SERVER_STORE")]
    pub store: Option<PathBuf>,

    /// What an ack promises: none, flush (survives a process crash) or fsync
    /// (on disk) [default: fsync].
    #[arg(long, value_name = "MODE", env = "SERVER_DURABILITY")]
    pub durability: Option<Durability>,

    /// The winning number, 0 to 9999, or `committed`: derived at the draw
    /// from a secret the new store commits to and the store's final chain
    /// head, so nobody can choose it (file stores only) [default: 7574].
    #[arg(long, value_name = "N|committed", env = "SERVER_WINNING_NUMBER")]
    pub winning_number: Option<WinningSetting>,

    /// Event-loop threads [default: the number of cores].
    #[arg(long, value_name = "N", env = "SERVER_THREADS",
          value_parser = clap::value_parser!(u32).range(1..=MAX_THREADS as i64))]
    pub threads: Option<u32>,

    /// Exit 0 once the draw is done, every agency got its winners and closed.
    #[arg(long, value_name = "BOOL", env = "SERVER_EXIT_WHEN_DONE",
          num_args = 0..=1, default_missing_value = "true",
          value_parser = BoolishValueParser::new())]
    pub exit_when_done: Option<bool>,

    /// Log level: TRACE, DEBUG, INFO, WARNING, ERROR, CRITICAL or OFF [default: INFO].
    #[arg(long, value_name = "LEVEL", env = "LOGGING_LEVEL")]
    pub log_level: Option<LogLevel>,

    /// Most connections held at once; more are refused politely [default: 16384].
    #[arg(long, value_name = "N", env = "SERVER_MAX_CONNECTIONS",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: Option<u32>,

    /// Seconds a new connection has to send its handshake [default: 10].
    #[arg(long, value_name = "SECS", env = "SERVER_HANDSHAKE_TIMEOUT")]
    pub handshake_timeout: Option<Seconds>,

    /// Seconds an agency may go without sending a whole frame (not counting
    /// waiting for the draw) [default: 60].
    #[arg(long, value_name = "SECS", env = "SERVER_IDLE_TIMEOUT")]
    pub idle_timeout: Option<Seconds>,

    /// Largest frame accepted or sent, in bytes, 1024 to 16777216 [default: 8192].
    #[arg(long, value_name = "BYTES", env = "SERVER_MAX_FRAME")]
    pub max_frame: Option<usize>,

    /// The central's TLS certificate chain, PEM (leaf first); with
    /// --tls-key, the agency port speaks only TLS.
    #[arg(long, value_name = "PEM", env = "SERVER_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,

    /// The private key of --tls-cert, PEM (PKCS#8, EC or RSA).
    #[arg(long, value_name = "PEM", env = "SERVER_TLS_KEY")]
    pub tls_key: Option<PathBuf>,

    /// The CA the agencies' client certificates must chain to: each agency
    /// is then whoever its certificate names (subjectAltName DNS agency-N).
    #[arg(long, value_name = "PEM", env = "SERVER_TLS_CLIENT_CA")]
    pub tls_client_ca: Option<PathBuf>,

    /// The Ed25519 key (PKCS#8 PEM, `lottery-admin keys`) that signs a
    /// receipt for every ack [default: off: acks carry no receipts].
    #[arg(long, value_name = "PEM", env = "SERVER_RECEIPT_KEY")]
    pub receipt_key: Option<PathBuf>,

    /// Serve the status port at ADDR: /metrics (Prometheus), /status (JSON),
    /// / (a page), /healthz, /readyz; counts only [default: off].
    /// A non-loopback ADDR needs --http-allow-remote.
    #[arg(long, value_name = "ADDR", env = "SERVER_HTTP_LISTEN")]
    pub http: Option<SocketAddr>,

    /// Let --http listen on an address other than loopback (without
    /// --http-tls-cert and --http-token-file the central warns at startup).
    #[arg(long, value_name = "BOOL", env = "SERVER_HTTP_ALLOW_REMOTE",
          num_args = 0..=1, default_missing_value = "true",
          value_parser = BoolishValueParser::new())]
    pub http_allow_remote: Option<bool>,

    /// Largest HTTP request head (request line and headers), 8192 to 1048576
    /// bytes; a longer one is answered 431 and closed [default: 16384].
    #[arg(long, value_name = "BYTES", env = "SERVER_HTTP_MAX_HEAD")]
    pub http_max_head: Option<usize>,

    /// Seconds an HTTP client has to send a whole request head (also the
    /// keep-alive idle timeout and the TLS handshake's) [default: 5].
    #[arg(long, value_name = "SECS", env = "SERVER_HTTP_HEAD_TIMEOUT")]
    pub http_head_timeout: Option<Seconds>,

    /// Seconds an HTTP response may wait on a client that takes none of it;
    /// then the connection is dropped [default: 5].
    #[arg(long, value_name = "SECS", env = "SERVER_HTTP_WRITE_TIMEOUT")]
    pub http_write_timeout: Option<Seconds>,

    /// Most HTTP connections at once; at the cap a new one closes the least
    /// recently active [default: 64].
    #[arg(long, value_name = "N", env = "SERVER_HTTP_MAX_CONNECTIONS",
          value_parser = clap::value_parser!(u32).range(1..=65536))]
    pub http_max_connections: Option<u32>,

    /// Most requests on one HTTP connection (kept alive or pipelined)
    /// [default: 1000].
    #[arg(long, value_name = "N", env = "SERVER_HTTP_MAX_REQUESTS",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub http_max_requests: Option<u32>,

    /// The status port's TLS certificate chain, PEM (leaf first); with
    /// --http-tls-key, the status port speaks only HTTPS.
    #[arg(long, value_name = "PEM", env = "SERVER_HTTP_TLS_CERT")]
    pub http_tls_cert: Option<PathBuf>,

    /// The private key of --http-tls-cert, PEM (PKCS#8, EC or RSA).
    #[arg(long, value_name = "PEM", env = "SERVER_HTTP_TLS_KEY")]
    pub http_tls_key: Option<PathBuf>,

    /// A file holding the status port's bearer token: every path but
    /// /healthz then requires `Authorization: Bearer TOKEN` (401 otherwise).
    #[arg(long, value_name = "PATH", env = "SERVER_HTTP_TOKEN_FILE")]
    pub http_token_file: Option<PathBuf>,
}

impl ServerArgs {
    /// Reads the settings of a TOML file.
    ///
    /// # Errors
    /// [`ConfigError::ReadFile`] or [`ConfigError::ParseFile`] (which names the
    /// bad key).
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        // Without the old-key warnings: `Config::from_args` keeps them.
        lottery_config::read_file(path).map(|(args, _)| args)
    }

    /// These settings, with each one not given here taken from `lower`.
    pub fn or(self, lower: ServerArgs) -> ServerArgs {
        ServerArgs {
            config: self.config.or(lower.config),
            listen: self.listen.or(lower.listen),
            port: self.port.or(lower.port),
            backlog: self.backlog.or(lower.backlog),
            agencies: self.agencies.or(lower.agencies),
            store: self.store.or(lower.store),
            durability: self.durability.or(lower.durability),
            winning_number: self.winning_number.or(lower.winning_number),
            threads: self.threads.or(lower.threads),
            exit_when_done: self.exit_when_done.or(lower.exit_when_done),
            log_level: self.log_level.or(lower.log_level),
            max_connections: self.max_connections.or(lower.max_connections),
            handshake_timeout: self.handshake_timeout.or(lower.handshake_timeout),
            idle_timeout: self.idle_timeout.or(lower.idle_timeout),
            max_frame: self.max_frame.or(lower.max_frame),
            tls_cert: self.tls_cert.or(lower.tls_cert),
            tls_key: self.tls_key.or(lower.tls_key),
            tls_client_ca: self.tls_client_ca.or(lower.tls_client_ca),
            receipt_key: self.receipt_key.or(lower.receipt_key),
            http: self.http.or(lower.http),
            http_allow_remote: self.http_allow_remote.or(lower.http_allow_remote),
            http_max_head: self.http_max_head.or(lower.http_max_head),
            http_head_timeout: self.http_head_timeout.or(lower.http_head_timeout),
            http_write_timeout: self.http_write_timeout.or(lower.http_write_timeout),
            http_max_connections: self.http_max_connections.or(lower.http_max_connections),
            http_max_requests: self.http_max_requests.or(lower.http_max_requests),
            http_tls_cert: self.http_tls_cert.or(lower.http_tls_cert),
            http_tls_key: self.http_tls_key.or(lower.http_tls_key),
            http_token_file: self.http_token_file.or(lower.http_token_file),
        }
    }
}

/// Everything the binary needs, resolved and checked.
#[derive(Debug, Clone)]
pub struct Config {
    /// The address to bind (with `--port` applied).
    pub listen: SocketAddr,
    /// The listen backlog.
    pub backlog: u32,
    /// The store's path.
    pub store: PathBuf,
    /// What an ack promises.
    pub durability: Durability,
    /// Agencies expected and the winning number.
    pub rules: LotteryRules,
    /// The log level.
    pub log_level: LevelFilter,
    /// How the server runs.
    pub server: ServerConfig,
    /// What was accepted with a warning (a `RUST_LOG` directive ignored),
    /// for the binary to log once its logger is up.
    pub warnings: Vec<ConfigWarning>,
}

impl Config {
    /// Reads the process's flags, environment and config file. Prints help or
    /// version and exits 0, as clap does; every other problem is an error, so
    /// that the binary says it on one line and exits 2.
    ///
    /// # Errors
    /// [`ConfigError::Usage`] for an unknown flag or a value a flag (or its
    /// environment variable) does not accept; a config file that cannot be
    /// read; a setting out of its range.
    pub fn from_process() -> Result<Self, ConfigError> {
        let mut args = match ServerArgs::try_parse() {
            Ok(args) => args,
            // Help and version: not errors, printed to stdout.
            Err(error) if !error.use_stderr() => error.exit(),
            Err(error) => return Err(usage(&error)),
        };
        // RUST_LOG sits between LOGGING_LEVEL (clap read it) and the file.
        let rust_log = std::env::var(lottery_config::RUST_LOG).ok();
        let (level, warning) = lottery_config::log_level(rust_log.as_deref())?;
        args.log_level = args.log_level.or(level.map(LogLevel));
        let mut config = Self::from_args(args)?;
        config.warnings.extend(warning);
        Ok(config)
    }

    /// Resolves flags-and-environment `args` over its `--config` file (if it
    /// names one) over the defaults.
    ///
    /// ```
    /// use clap::Parser;
    /// use lottery_server::{Config, ServerArgs};
    /// let args = ServerArgs::try_parse_from(["lottery-server", "--agencies", "3", "--port", "9000"]).unwrap();
    /// let config = Config::from_args(args).unwrap();
    /// assert_eq!(config.rules.agencies, 3);
    /// assert_eq!(config.listen.to_string(), "0.0.0.0:9000");
    /// ```
    ///
    /// # Errors
    /// A config file that cannot be read, or a setting out of its range.
    pub fn from_args(args: ServerArgs) -> Result<Self, ConfigError> {
        let (file, warnings) = match &args.config {
            Some(path) => lottery_config::read_file(path)?,
            None => (ServerArgs::default(), Vec::new()),
        };
        let mut config = Self::resolve(args.or(file))?;
        config.warnings = warnings;
        Ok(config)
    }

    /// Applies the defaults to what `args` leaves out and checks every value.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the first setting out of its range.
    pub fn resolve(args: ServerArgs) -> Result<Self, ConfigError> {
        let mut listen = args.listen.unwrap_or_else(|| {
            DEFAULT_LISTEN
                .parse()
                .expect("the default listen address parses")
        });
        if let Some(port) = args.port {
            listen.set_port(port);
        }
        let backlog = args.backlog.unwrap_or(DEFAULT_BACKLOG);
        check(
            "backlog",
            backlog >= 1 && i32::try_from(backlog).is_ok(),
            || format!("{backlog} (expected 1 to {})", i32::MAX),
        )?;
        // In this order, so the first setting out of range is the one named.
        let rules = resolve_rules(&args)?;
        let server = resolve_server(&args)?;
        Ok(Config {
            listen,
            backlog,
            store: args.store.unwrap_or_else(|| PathBuf::from(DEFAULT_STORE)),
            durability: args.durability.unwrap_or_default(),
            rules,
            log_level: args.log_level.map_or(LevelFilter::Info, |level| level.0),
            server,
            warnings: Vec::new(),
        })
    }
}

/// The agencies expected and the winning number of `args`, checked.
fn resolve_rules(args: &ServerArgs) -> Result<LotteryRules, ConfigError> {
    let agencies = args.agencies.unwrap_or(LotteryRules::default().agencies);
    check("agencies", (1..=MAX_AGENCIES).contains(&agencies), || {
        format!("{agencies} (expected 1 to {MAX_AGENCIES})")
    })?;
    let winning = match args.winning_number {
        None => Winning::Fixed(BetNumber::DEFAULT_WINNING),
        Some(WinningSetting(winning)) => winning,
    };
    Ok(LotteryRules { agencies, winning })
}

/// The server's knobs of `args`, checked; the binary handles signals.
fn resolve_server(args: &ServerArgs) -> Result<ServerConfig, ConfigError> {
    let threads = args
        .threads
        .map_or_else(default_threads, |threads| threads as usize);
    check("threads", (1..=MAX_THREADS).contains(&threads), || {
        format!("{threads} (expected 1 to {MAX_THREADS})")
    })?;
    let max_connections = args
        .max_connections
        .map_or(DEFAULT_MAX_CONNECTIONS, |max| max as usize);
    check("max-connections", max_connections >= 1, || {
        format!("{max_connections} (expected at least 1)")
    })?;
    let max_frame = args.max_frame.unwrap_or(lottery_net::DEFAULT_MAX_FRAME);
    check(
        "max-frame",
        (MIN_MAX_FRAME..=MAX_MAX_FRAME).contains(&max_frame),
        || format!("{max_frame} (expected {MIN_MAX_FRAME} to {MAX_MAX_FRAME} bytes)"),
    )?;
    Ok(ServerConfig {
        threads,
        max_connections,
        handshake_timeout: args
            .handshake_timeout
            .map_or(DEFAULT_HANDSHAKE_TIMEOUT, |secs| secs.0),
        idle_timeout: args
            .idle_timeout
            .map_or(DEFAULT_IDLE_TIMEOUT, |secs| secs.0),
        max_frame,
        exit_when_done: args.exit_when_done.unwrap_or(false),
        handle_signals: true,
        tls: resolve_tls(args)?,
        http: resolve_http(args)?,
        http_settings: resolve_http_settings(args)?,
        receipt_key: resolve_receipt_key(args)?,
    })
}

/// `--receipt-key`, loaded (a bad file stops the start, naming it). On
/// either ledger: receipts sign the chain head of the file store's journal,
/// or of the PostgreSQL ledger's chain (one chain for every central sharing
/// it, so each may have its own key or all one; SECURITY.md, "The receipt
/// key").
fn resolve_receipt_key(args: &ServerArgs) -> Result<Option<Arc<ReceiptKey>>, ConfigError> {
    let Some(path) = &args.receipt_key else {
        return Ok(None);
    };
    Ok(Some(Arc::new(ReceiptKey::load(path)?)))
}

/// The status port's address of `args`: loopback, unless remote access is
/// allowed explicitly (see SECURITY.md; the central warns at startup when
/// such a port lacks TLS or a token).
fn resolve_http(args: &ServerArgs) -> Result<Option<SocketAddr>, ConfigError> {
    let Some(addr) = args.http else {
        return Ok(None);
    };
    let allowed = args.http_allow_remote.unwrap_or(false);
    check("http", addr.ip().is_loopback() || allowed, || {
        format!(
            "{addr} is not a loopback address: bind the status port to 127.0.0.1 or ::1, or \
             allow it with --http-allow-remote (and protect it with --http-tls-cert, \
             --http-tls-key and --http-token-file)"
        )
    })?;
    Ok(Some(addr))
}

/// The status port's limits, TLS (loaded) and token (read) of `args`.
fn resolve_http_settings(args: &ServerArgs) -> Result<HttpSettings, ConfigError> {
    let max_head = args.http_max_head.unwrap_or(DEFAULT_HTTP_MAX_HEAD);
    check(
        "http-max-head",
        (MIN_HTTP_MAX_HEAD..=MAX_HTTP_MAX_HEAD).contains(&max_head),
        || format!("{max_head} (expected {MIN_HTTP_MAX_HEAD} to {MAX_HTTP_MAX_HEAD} bytes)"),
    )?;
    let max_connections = args
        .http_max_connections
        .map_or(DEFAULT_HTTP_MAX_CONNECTIONS, |max| max as usize);
    check("http-max-connections", max_connections >= 1, || {
        format!("{max_connections} (expected at least 1)")
    })?;
    let max_requests = args.http_max_requests.unwrap_or(DEFAULT_HTTP_MAX_REQUESTS);
    check("http-max-requests", max_requests >= 1, || {
        format!("{max_requests} (expected at least 1)")
    })?;
    let tls = resolve_http_tls(args)?;
    let token = args
        .http_token_file
        .as_deref()
        .map(|path| BearerToken::read(path, "http-token-file"))
        .transpose()?;
    // Protection asked for a port that is off is a mistake, not a no-op.
    for (setting, given) in [
        ("http-tls-cert", tls.is_some()),
        ("http-token-file", token.is_some()),
    ] {
        check(setting, !given || args.http.is_some(), || {
            "given without --http: the status port is off".to_owned()
        })?;
    }
    Ok(HttpSettings {
        max_head,
        head_timeout: args
            .http_head_timeout
            .map_or(DEFAULT_HTTP_HEAD_TIMEOUT, |secs| secs.0),
        write_timeout: args
            .http_write_timeout
            .map_or(DEFAULT_HTTP_WRITE_TIMEOUT, |secs| secs.0),
        max_connections,
        max_requests,
        tls,
        token,
    })
}

/// The status port's TLS of `args`: a certificate and its key, loaded, or
/// neither.
fn resolve_http_tls(args: &ServerArgs) -> Result<Option<ServerTls>, ConfigError> {
    requires(&[
        Requirement::new(
            HTTP_TLS_CERT,
            args.http_tls_cert.is_some(),
            "needs its key:",
            HTTP_TLS_KEY,
            args.http_tls_key.is_some(),
        ),
        Requirement::new(
            HTTP_TLS_KEY,
            args.http_tls_key.is_some(),
            "needs its certificate:",
            HTTP_TLS_CERT,
            args.http_tls_cert.is_some(),
        ),
    ])?;
    match (&args.http_tls_cert, &args.http_tls_key) {
        (Some(cert), Some(key)) => Ok(Some(ServerTls::load(cert, key, None)?)),
        _ => Ok(None),
    }
}

const TLS_CERT: Setting = Setting::new("tls-cert", "SERVER_TLS_CERT");
const TLS_KEY: Setting = Setting::new("tls-key", "SERVER_TLS_KEY");
const TLS_CLIENT_CA: Setting = Setting::new("tls-client-ca", "SERVER_TLS_CLIENT_CA");
const HTTP_TLS_CERT: Setting = Setting::new("http-tls-cert", "SERVER_HTTP_TLS_CERT");
const HTTP_TLS_KEY: Setting = Setting::new("http-tls-key", "SERVER_HTTP_TLS_KEY");

/// The TLS files of `args`, loaded (so that a bad one stops the start, naming
/// it). A client CA, or a certificate without its key, is refused without
/// the other TLS settings: here, once for flags, environment and file alike
/// (clap's `requires` would answer flags and variables in other words).
fn resolve_tls(args: &ServerArgs) -> Result<Option<ServerTls>, ConfigError> {
    let (cert, key) = (args.tls_cert.is_some(), args.tls_key.is_some());
    requires(&[
        Requirement::new(
            TLS_CLIENT_CA,
            args.tls_client_ca.is_some(),
            "needs the central's certificate:",
            TLS_CERT,
            cert,
        ),
        Requirement::new(TLS_KEY, key, "needs its certificate:", TLS_CERT, cert),
        Requirement::new(TLS_CERT, cert, "needs its private key:", TLS_KEY, key),
    ])?;
    match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Ok(Some(ServerTls::load(
            cert,
            key,
            args.tls_client_ca.as_deref(),
        )?)),
        _ => Ok(None),
    }
}

/// What TLS the agency port speaks: `off`, `server-only` or `mutual` (the
/// `config` line, the status port).
pub(crate) fn tls_mode(tls: Option<&ServerTls>) -> &'static str {
    match tls {
        None => "off",
        Some(tls) if tls.authenticates_agencies() => "mutual",
        Some(_) => "server-only",
    }
}

/// The store as the `config` line names it: a path as it is, a PostgreSQL
/// URL without its password (logs are read by more people than the
/// database's credentials are for).
fn store_for_log(store: &Path) -> String {
    match store.to_str() {
        Some(url) if lottery_pg::is_postgres_url(url) => lottery_pg::redacted_url(url),
        _ => store.display().to_string(),
    }
}

impl fmt::Display for Config {
    /// The details of the `config` log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "listen: {} | backlog: {} | agencies: {} | store: {} | durability: {} | \
             winning_number: {} | threads: {} | exit_when_done: {} | log_level: {} | \
             max_connections: {} | handshake_timeout: {}s | idle_timeout: {}s | max_frame: {} | \
             http: {} | {} | tls: {}",
            self.listen,
            self.backlog,
            self.rules.agencies,
            store_for_log(&self.store),
            self.durability,
            self.rules.winning,
            self.server.threads,
            self.server.exit_when_done,
            lottery_log::filter_name(self.log_level),
            self.server.max_connections,
            self.server.handshake_timeout.as_secs_f64(),
            self.server.idle_timeout.as_secs_f64(),
            self.server.max_frame,
            self.server
                .http
                .map_or_else(|| "off".to_owned(), |addr| addr.to_string()),
            self.server.http_settings,
            tls_mode(self.server.tls.as_ref()),
        )
    }
}

fn check(
    setting: &'static str,
    ok: bool,
    reason: impl FnOnce() -> String,
) -> Result<(), ConfigError> {
    if ok {
        Ok(())
    } else {
        Err(ConfigError::Invalid {
            setting,
            reason: reason(),
        })
    }
}

/// `--agencies` (and `SERVER_AGENCIES`): 1 to [`MAX_AGENCIES`]. Any other
/// text, however long or negative, is refused with the range, never parsed
/// into something that could allocate.
fn parse_agencies(text: &str) -> Result<u32, String> {
    let digits = !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit());
    match text.parse::<u32>() {
        Ok(agencies) if (1..=MAX_AGENCIES).contains(&agencies) => Ok(agencies),
        Ok(0) => Err(format!("expected 1 to {MAX_AGENCIES} agencies")),
        // Above the maximum, also past what a u32 holds.
        _ if digits && text.bytes().any(|byte| byte != b'0') => {
            Err(format!("more than the maximum of {MAX_AGENCIES} agencies"))
        }
        _ => Err(format!(
            "not a number of agencies (expected 1 to {MAX_AGENCIES})"
        )),
    }
}

/// A winning number setting: `0` to `9999`, or `committed` (a TOML file
/// may give the number as an integer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WinningSetting(pub Winning);

impl FromStr for WinningSetting {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text == "committed" {
            return Ok(Self(Winning::Committed));
        }
        text.parse::<u32>()
            .ok()
            .and_then(|number| BetNumber::new(number).ok())
            .map(|number| Self(Winning::Fixed(number)))
            .ok_or_else(|| {
                format!("{text:?} is not a winning number (expected 0 to 9999, or committed)")
            })
    }
}

impl<'de> Deserialize<'de> for WinningSetting {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        /// An integer or a word, as TOML gives it.
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Given {
            Number(i64),
            Word(String),
        }
        let text = match Given::deserialize(deserializer)? {
            Given::Number(number) => number.to_string(),
            Given::Word(word) => word,
        };
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A log level setting (`INFO`, `WARNING`, ...), see [`lottery_log::parse_level`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogLevel(pub LevelFilter);

impl FromStr for LogLevel {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        lottery_log::parse_level(text).map(Self)
    }
}

impl<'de> Deserialize<'de> for LogLevel {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A duration setting written in seconds, fractions allowed (`10`, `0.5`);
/// more than zero, at most a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seconds(pub Duration);

impl Seconds {
    const MAX: f64 = 86_400.0;

    fn new(seconds: f64) -> Result<Self, String> {
        if seconds.is_finite() && seconds > 0.0 && seconds <= Self::MAX {
            Ok(Self(Duration::from_secs_f64(seconds)))
        } else {
            Err(format!(
                "{seconds} seconds is out of range (expected more than 0, at most {})",
                Self::MAX
            ))
        }
    }
}

impl FromStr for Seconds {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let seconds: f64 = text
            .trim()
            .parse()
            .map_err(|_| format!("{text:?} is not a number of seconds"))?;
        Self::new(seconds)
    }
}

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let seconds = f64::deserialize(deserializer)?;
        Self::new(seconds).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(flags: &[&str]) -> ServerArgs {
        let mut argv = vec!["lottery-server"];
        argv.extend_from_slice(flags);
        ServerArgs::try_parse_from(argv).expect("flags parse")
    }

    fn file(text: &str) -> ServerArgs {
        toml::from_str(text).expect("file parses")
    }

    #[test]
    fn defaults_follow_the_spec_table() {
        let config = Config::resolve(ServerArgs::default()).unwrap();
        assert_eq!(config.listen, "0.0.0.0:12345".parse().unwrap());
        assert_eq!(config.backlog, 1024);
        assert_eq!(config.rules.agencies, 5);
        assert_eq!(config.rules.fixed_number().unwrap().get(), 7574);
        assert_eq!(config.store, PathBuf::from("./bets.csv"));
        assert_eq!(config.durability, Durability::Fsync);
        assert_eq!(config.server.threads, default_threads());
        assert!(!config.server.exit_when_done);
        assert_eq!(config.log_level, LevelFilter::Info);
        assert_eq!(config.server.max_frame, 8192);
    }

    #[test]
    fn flags_win_over_the_file_which_wins_over_defaults() {
        let flags = parse(&["--agencies", "3", "--durability", "none"]);
        let lower = file("agencies = 9\nwinning-number = 42\nthreads = 3\ndurability = \"flush\"");
        let config = Config::resolve(flags.or(lower)).unwrap();
        assert_eq!(config.rules.agencies, 3, "flag over file");
        assert_eq!(config.durability, Durability::None, "flag over file");
        assert_eq!(
            config.rules.fixed_number().unwrap().get(),
            42,
            "file over default"
        );
        assert_eq!(config.server.threads, 3, "file over default");
        assert_eq!(config.backlog, DEFAULT_BACKLOG, "default");
    }

    #[test]
    fn the_winning_number_is_a_number_or_committed_by_flag_and_by_file() {
        let committed = |args: ServerArgs| Config::resolve(args).unwrap().rules.winning;
        assert_eq!(
            committed(parse(&["--winning-number", "committed"])),
            Winning::Committed
        );
        assert_eq!(
            committed(file("winning-number = \"committed\"")),
            Winning::Committed
        );
        assert_eq!(
            committed(file("winning-number = \"12\"")),
            Winning::Fixed(BetNumber::new(12).unwrap())
        );
        for bad in [
            "winning-number = \"Committed\"",
            "winning-number = -1",
            "winning-number = 1.5",
        ] {
            assert!(toml::from_str::<ServerArgs>(bad).is_err(), "{bad}");
        }
        let config = Config::resolve(parse(&["--winning-number", "committed"])).unwrap();
        assert!(
            config.to_string().contains("winning_number: committed"),
            "{config}"
        );
    }

    #[test]
    fn port_overrides_the_port_of_listen() {
        let config =
            Config::resolve(parse(&["--listen", "127.0.0.1:1", "--port", "4242"])).unwrap();
        assert_eq!(config.listen, "127.0.0.1:4242".parse().unwrap());
        // A port from a higher layer overrides a listen address from a lower one.
        let config =
            Config::resolve(parse(&["--port", "7"]).or(file("listen = \"10.0.0.1:9\""))).unwrap();
        assert_eq!(config.listen, "10.0.0.1:7".parse().unwrap());
    }

    #[test]
    fn exit_when_done_is_a_flag_that_also_takes_a_boolean() {
        assert_eq!(parse(&["--exit-when-done"]).exit_when_done, Some(true));
        assert_eq!(
            parse(&["--exit-when-done=false"]).exit_when_done,
            Some(false)
        );
        assert_eq!(parse(&[]).exit_when_done, None);
        let config = Config::resolve(parse(&[]).or(file("exit-when-done = true"))).unwrap();
        assert!(config.server.exit_when_done);
    }

    #[test]
    fn durations_are_seconds_with_fractions() {
        let config =
            Config::resolve(parse(&["--handshake-timeout", "0.25"]).or(file("idle-timeout = 3")))
                .unwrap();
        assert_eq!(config.server.handshake_timeout, Duration::from_millis(250));
        assert_eq!(config.server.idle_timeout, Duration::from_secs(3));
    }

    #[test]
    fn invalid_flags_are_refused_naming_the_flag() {
        for (flags, named) in [
            (&["--agencies", "0"][..], "--agencies"),
            (&["--winning-number", "10000"], "--winning-number"),
            (&["--durability", "sometimes"], "--durability"),
            (&["--listen", "nowhere"], "--listen"),
            (&["--log-level", "loud"], "--log-level"),
            (&["--idle-timeout", "0"], "--idle-timeout"),
            (&["--threads", "0"], "--threads"),
            (&["--bogus"], "--bogus"),
        ] {
            let mut argv = vec!["lottery-server"];
            argv.extend_from_slice(flags);
            let error = ServerArgs::try_parse_from(argv).unwrap_err().to_string();
            assert!(error.contains(named), "{flags:?}: {error}");
        }
    }

    #[test]
    fn invalid_file_values_are_refused_naming_the_setting() {
        let error = toml::from_str::<ServerArgs>("winning-number = 12345").unwrap_err();
        assert!(error.to_string().contains("winning-number"), "{error}");
        assert!(error.to_string().contains("expected 0 to 9999"), "{error}");
        let error = Config::resolve(file("agencies = 0")).unwrap_err();
        assert!(error.to_string().contains("agencies"), "{error}");
        let error = Config::resolve(file("max-frame = 10")).unwrap_err();
        assert!(error.to_string().contains("max-frame"), "{error}");
        let error = toml::from_str::<ServerArgs>("agences = 3").unwrap_err();
        assert!(error.to_string().contains("agences"), "{error}");
        let error = toml::from_str::<ServerArgs>("idle-timeout = 0").unwrap_err();
        assert!(error.to_string().contains("idle-timeout"), "{error}");
    }

    #[test]
    fn agencies_above_the_maximum_are_refused_by_flag_environment_and_file() {
        assert_eq!(
            parse(&["--agencies", "1000000"]).agencies,
            Some(MAX_AGENCIES)
        );
        for value in [
            "0",
            "1000001",
            "4294967295",
            "18446744073709551616",
            "-1",
            "many",
            "",
        ] {
            let error = ServerArgs::try_parse_from(["lottery-server", "--agencies", value])
                .unwrap_err()
                .to_string();
            assert!(error.contains("--agencies"), "{value}: {error}");
            assert!(error.contains("1000000"), "{value}: {error}");
            let ConfigError::Usage { message } = usage(
                &ServerArgs::try_parse_from(["lottery-server", "--agencies", value]).unwrap_err(),
            ) else {
                panic!("a usage error");
            };
            assert!(!message.contains('\n'), "one line: {message}");
            assert!(message.starts_with("invalid value"), "{message}");
        }
        let error = Config::resolve(file("agencies = 1000001")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid value for setting agencies: 1000001 (expected 1 to 1000000)"
        );
    }

    #[test]
    fn a_config_file_error_is_one_line_naming_the_line_as_written() {
        let dir = std::env::temp_dir().join(format!("lottery-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("central.toml");
        std::fs::write(&path, "threads = 2\nagencies = 4294967296\n").unwrap();
        let error = ServerArgs::from_file(&path).unwrap_err();
        let text = lottery_log::chain(&error);
        assert!(!text.contains('\n'), "one line: {text}");
        assert!(
            text.contains("line 2 (agencies = 4294967296)"),
            "names the line: {text}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_config_file_is_an_error_naming_it() {
        let args = parse(&["--config", "/nonexistent/lottery.toml"]);
        let error = Config::from_args(args).unwrap_err();
        assert!(
            error.to_string().contains("/nonexistent/lottery.toml"),
            "{error}"
        );
    }

    #[test]
    fn the_status_port_is_off_by_default_and_on_loopback_unless_remote_is_allowed() {
        let config = Config::resolve(parse(&[])).unwrap();
        assert_eq!(config.server.http, None);
        assert!(config.to_string().contains("| http: off |"), "{config}");
        let config = Config::resolve(parse(&["--http", "127.0.0.1:9100"])).unwrap();
        assert_eq!(config.server.http, Some("127.0.0.1:9100".parse().unwrap()));
        assert!(
            config.to_string().contains("| http: 127.0.0.1:9100 |"),
            "{config}"
        );
        let config = Config::resolve(parse(&[]).or(file("http = \"[::1]:9100\"\n"))).unwrap();
        assert_eq!(config.server.http, Some("[::1]:9100".parse().unwrap()));
        // Off loopback: refused, naming the flag that allows it.
        let error = Config::resolve(parse(&["--http", "0.0.0.0:9100"])).unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("http") && text.contains("--http-allow-remote"),
            "{text}"
        );
        let allowed = parse(&["--http", "0.0.0.0:9100", "--http-allow-remote"]);
        let config = Config::resolve(allowed).unwrap();
        assert_eq!(config.server.http, Some("0.0.0.0:9100".parse().unwrap()));
        let file_allows = file("http = \"0.0.0.0:9100\"\nhttp-allow-remote = true\n");
        assert!(Config::resolve(parse(&[]).or(file_allows)).is_ok());
    }

    #[test]
    fn the_status_port_limits_have_documented_defaults_in_the_config_line() {
        let config = Config::resolve(parse(&[])).unwrap();
        let http = &config.server.http_settings;
        assert_eq!(http.max_head, 16 * 1024);
        assert_eq!(http.head_timeout, Duration::from_secs(5));
        assert_eq!(http.write_timeout, Duration::from_secs(5));
        assert_eq!(http.max_connections, 64);
        assert_eq!(http.max_requests, 1000);
        assert!(
            config.to_string().contains(
                "| http_max_head: 16384 | http_head_timeout: 5s | http_write_timeout: 5s | \
                 http_max_connections: 64 | http_max_requests: 1000 | http_tls: off | \
                 http_token: off |"
            ),
            "{config}"
        );
    }

    #[test]
    fn the_status_port_settings_come_from_flags_over_the_file_and_are_checked() {
        let flags = parse(&["--http-max-head", "9000", "--http-head-timeout", "0.5"]);
        let lower = file(
            "http-max-head = 20000\nhttp-write-timeout = 2\nhttp-max-connections = 8\n\
             http-max-requests = 3\n",
        );
        let http = Config::resolve(flags.or(lower))
            .unwrap()
            .server
            .http_settings;
        assert_eq!(http.max_head, 9000, "flag over file");
        assert_eq!(http.head_timeout, Duration::from_millis(500));
        assert_eq!(
            http.write_timeout,
            Duration::from_secs(2),
            "file over default"
        );
        assert_eq!((http.max_connections, http.max_requests), (8, 3));
        for (text, named) in [
            ("http-max-head = 100", "http-max-head"),
            ("http-max-head = 2000000", "http-max-head"),
            ("http-max-connections = 0", "http-max-connections"),
            ("http-tls-key = \"k.pem\"", "http-tls-cert"),
            ("http-tls-cert = \"c.pem\"", "http-tls-key"),
            (
                "http-token-file = \"/nonexistent/token\"",
                "http-token-file",
            ),
        ] {
            let error = Config::resolve(parse(&[]).or(file(text))).unwrap_err();
            assert!(error.to_string().contains(named), "{text}: {error}");
        }
        let dir = std::env::temp_dir().join(format!("lottery-config-token-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let token = dir.join("status.token");
        std::fs::write(&token, "t0ken\n").unwrap();
        let without_http = format!("http-token-file = {:?}\n", token.display().to_string());
        let error = Config::resolve(parse(&[]).or(file(&without_http))).unwrap_err();
        assert!(error.to_string().contains("without --http"), "{error}");
        let with_http = parse(&["--http", "127.0.0.1:9100"]).or(file(&without_http));
        let config = Config::resolve(with_http).unwrap();
        assert!(config.server.http_settings.token.is_some());
        assert!(config.to_string().contains("http_token: on"), "{config}");
        assert!(!config.to_string().contains("t0ken"), "{config}");
        std::fs::remove_dir_all(&dir).unwrap();
        let error = ServerArgs::try_parse_from(["lottery-server", "--http-max-connections", "0"])
            .unwrap_err();
        assert!(
            error.to_string().contains("--http-max-connections"),
            "{error}"
        );
    }

    #[test]
    fn the_tls_settings_of_the_config_file_load_and_yield_to_the_flags() {
        let dir = std::env::temp_dir().join(format!("lottery-config-tls-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let one = [lottery_bet::AgencyId::new(1).unwrap()];
        let pki = lottery_tls::write_pki(&dir, &one, &["localhost".to_owned()]).unwrap();
        let (cert, key) = pki.server();
        let text = format!(
            "tls-cert = {:?}\ntls-key = {:?}\ntls-client-ca = {:?}\n",
            cert.display().to_string(),
            key.display().to_string(),
            pki.ca().display().to_string()
        );
        let config = Config::resolve(parse(&[]).or(file(&text))).unwrap();
        assert_eq!(tls_mode(config.server.tls.as_ref()), "mutual");
        assert!(config.to_string().ends_with("| tls: mutual"), "{config}");
        // A flag wins over the file: a missing certificate named by the flag
        // is the one refused.
        let missing = dir.join("missing.pem");
        let flags = parse(&["--tls-cert", missing.to_str().unwrap(), "--tls-key", "x"]);
        let error = Config::resolve(flags.or(file(&text))).unwrap_err();
        assert!(error.to_string().contains("missing.pem"), "{error}");
        // A client CA in the file without the central's certificate.
        let ca_only = format!("tls-client-ca = {:?}\n", pki.ca().display().to_string());
        let error = Config::resolve(parse(&[]).or(file(&ca_only))).unwrap_err();
        assert!(error.to_string().contains("tls-cert"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_config_line_names_every_setting() {
        let line = Config::resolve(ServerArgs::default()).unwrap().to_string();
        for key in [
            "listen: 0.0.0.0:12345",
            "agencies: 5",
            "durability: fsync",
            "winning_number: 7574",
            "exit_when_done: false",
            "log_level: INFO",
        ] {
            assert!(line.contains(key), "{key} in {line}");
        }
    }

    #[test]
    fn the_config_line_never_shows_a_database_password() {
        for (store, shown) in [
            (
                "postgres://ana:s3cret@db.example:5433/lottery",
                "store: postgres://ana@db.example:5433/lottery |",
            ),
            (
                "postgresql://ana:s3cret@db.example/lottery?sslmode=disable",
                "store: postgres://ana@db.example:5432/lottery |",
            ),
            (
                "postgres://ana:s3cret@[bad",
                "store: postgres://(a URL that does not parse) |",
            ),
            (
                "/var/lib/lottery/bets.csv",
                "store: /var/lib/lottery/bets.csv |",
            ),
        ] {
            let args = ServerArgs {
                store: Some(PathBuf::from(store)),
                ..ServerArgs::default()
            };
            let line = Config::resolve(args).unwrap().to_string();
            assert!(line.contains(shown), "{shown} in {line}");
            assert!(!line.contains("s3cret"), "{line}");
        }
    }
}
