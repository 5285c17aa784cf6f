//! The agency's settings: flags, then environment variables, then `RUST_LOG`
//! (the log level only), then a TOML config file, then defaults: the order
//! of every program (`lottery_config`).
//!
//! clap reads flags and their environment variables; the config file fills
//! what both left unset. Its keys are the flags' names (`batch-max-amount`);
//! the snake_case keys of before (`batch_max_amount`) are still read, with a
//! WARNING naming the new key. The course's single-bet variables (`NOMBRE`,
//! `APELLIDO`, `DOCUMENTO`, `NACIMIENTO`, `NUMERO`) are read here too, through
//! a lookup function so tests need not touch the process environment.

use std::num::NonZeroUsize;
use std::path::PathBuf;

use clap::Parser;
use log::LevelFilter;
use lottery_bet::{AgencyId, Bet, Birthdate};
use lottery_config::{ConfigWarning, Requirement, Setting, requires};
use serde::Deserialize;

use crate::error::{ConfigError, InputError};
use crate::input::AgencyInput;
use lottery_log::parse_level;

/// The server address when none is given.
pub const DEFAULT_SERVER: &str = "127.0.0.1:12345";
/// Batches an agency keeps in flight (sent, not yet acknowledged) by default:
/// the client's own default.
pub const DEFAULT_IN_FLIGHT: usize = lottery_net::DEFAULT_IN_FLIGHT;
/// Reconnection attempts after a dropped connection, by default.
pub const DEFAULT_RECONNECT_ATTEMPTS: u32 = 10;

/// The course's single-bet variables, in bet-field order.
pub const SINGLE_BET_VARIABLES: [&str; 5] =
    ["NOMBRE", "APELLIDO", "DOCUMENTO", "NACIMIENTO", "NUMERO"];

/// A lottery agency: sends its bets to the central, finishes, waits for the
/// draw and logs how many of its bets won.
///
/// With the course's single-bet variables (NOMBRE, APELLIDO, DOCUMENTO,
/// NACIMIENTO, NUMERO) set and no data file configured, it sends that one bet.
///
/// The config file (TOML) takes the flags' names as keys: `id = 1`,
/// `batch-max-amount = 100` (the old `batch_max_amount` is still read, with
/// a warning).
#[derive(Debug, Clone, Default, Parser, Deserialize)]
#[command(name = "lottery-agency", version)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct AgencyArgs {
    /// The agency id (required, here, in CLI_ID or in the config file).
    #[arg(long, env = "CLI_ID", value_name = "N")]
    pub id: Option<u32>,
    /// The central's address, or several separated by commas (centrals
    /// sharing one ledger), tried in order on every connect and reconnect
    /// [default: 127.0.0.1:12345].
    #[arg(long, env = "CLI_SERVER_ADDRESS", value_name = "ADDR[,ADDR...]")]
    pub server: Option<String>,
    /// The agency's bets [default: .data/agency-{id}.csv].
    #[arg(long, env = "CLI_DATA_FILE", value_name = "PATH")]
    pub data: Option<PathBuf>,
    /// Bets per batch at most [default: as many as fill a frame].
    #[arg(long, env = "CLI_BATCH_MAXAMOUNT", value_name = "N")]
    pub batch_max_amount: Option<NonZeroUsize>,
    /// Batches sent ahead of their acknowledgements [default: 32].
    #[arg(long, env = "CLI_IN_FLIGHT", value_name = "N")]
    pub in_flight: Option<NonZeroUsize>,
    /// Reconnection attempts when the connection drops [default: 10].
    #[arg(long, env = "CLI_RECONNECT_ATTEMPTS", value_name = "N")]
    pub reconnect_attempts: Option<u32>,
    /// OFF, ERROR, WARN, INFO, DEBUG or TRACE [default: INFO].
    #[arg(long, env = "CLI_LOG_LEVEL", value_name = "LEVEL")]
    pub log_level: Option<String>,
    /// Speak TLS, trusting this CA (PEM) for the central's certificate
    /// [default: plaintext].
    #[arg(long, env = "CLI_TLS_CA", value_name = "PEM")]
    pub tls_ca: Option<PathBuf>,
    /// The agency's certificate (PEM), for a central that authenticates
    /// agencies; needs --tls-key and --tls-ca.
    #[arg(long, env = "CLI_TLS_CERT", value_name = "PEM")]
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, env = "CLI_TLS_KEY", value_name = "PEM")]
    pub tls_key: Option<PathBuf>,
    /// The name the central's certificate must carry [default: the host of
    /// --server]; needs --tls-ca.
    #[arg(long, env = "CLI_TLS_SERVER_NAME", value_name = "NAME")]
    pub tls_server_name: Option<String>,
    /// The central's receipt public key (PEM, `lottery-admin keys`): ask
    /// for receipts, check the welcome's (before any bet is sent), every
    /// ack's and the finish's signed receipt, each naming the welcome's
    /// rules, and stop (exit 1) at one that does not hold [default: no
    /// receipts].
    #[arg(long, env = "CLI_RECEIPT_PUBKEY", value_name = "PEM")]
    pub receipt_pubkey: Option<PathBuf>,
    /// Append every checked receipt to this file, one JSON line each
    /// (lottery-core/STORE.md, "Receipts"), for `lottery-admin verify
    /// --receipts`; needs --receipt-pubkey [default: none].
    #[arg(long, env = "CLI_RECEIPTS", value_name = "FILE")]
    pub receipts: Option<PathBuf>,
    /// Append the session's history to this file as JSON lines (one object
    /// a line: what the agency loaded, every acknowledged running total, its
    /// finish, its winners, how it exited) [default: none]. Read by
    /// `lottery-chaos`; the format is documented in `agency::history`.
    #[arg(long, env = "CLI_HISTORY", value_name = "FILE")]
    pub history: Option<PathBuf>,
    /// A TOML file with any of the settings above, keys named as the flags:
    /// `id`, `server`, `data`, `batch-max-amount`, ...
    #[arg(long, env = "CLI_CONFIG", value_name = "PATH")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
}

impl AgencyArgs {
    /// These settings, with each one not given here taken from `lower`.
    pub fn or(self, lower: AgencyArgs) -> AgencyArgs {
        AgencyArgs {
            id: self.id.or(lower.id),
            server: self.server.or(lower.server),
            data: self.data.or(lower.data),
            batch_max_amount: self.batch_max_amount.or(lower.batch_max_amount),
            in_flight: self.in_flight.or(lower.in_flight),
            reconnect_attempts: self.reconnect_attempts.or(lower.reconnect_attempts),
            log_level: self.log_level.or(lower.log_level),
            tls_ca: self.tls_ca.or(lower.tls_ca),
            tls_cert: self.tls_cert.or(lower.tls_cert),
            tls_key: self.tls_key.or(lower.tls_key),
            tls_server_name: self.tls_server_name.or(lower.tls_server_name),
            receipt_pubkey: self.receipt_pubkey.or(lower.receipt_pubkey),
            receipts: self.receipts.or(lower.receipts),
            history: self.history.or(lower.history),
            config: self.config.or(lower.config),
        }
    }
}

/// Where the agency's bets come from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BetSource {
    /// An agency file.
    File(PathBuf),
    /// One bet from the course's single-bet variables.
    Single(Box<Bet>),
}

impl BetSource {
    /// How the agency's log lines name the source: the file's path, or
    /// `<environment>` for the single-bet variables.
    pub fn name(&self) -> String {
        match self {
            Self::File(path) => path.display().to_string(),
            Self::Single(_) => "<environment>".to_string(),
        }
    }

    /// The one bet of the single-bet variables (`None` for a file).
    pub fn single(&self) -> Option<&Bet> {
        match self {
            Self::File(_) => None,
            Self::Single(bet) => Some(bet),
        }
    }

    /// The bets: a file read whole and checked (birthdates against
    /// `today`) before anything is sent, or the one bet.
    ///
    /// # Errors
    /// [`InputError`] when the file cannot be read or holds an invalid row.
    pub fn load(&self, today: Birthdate) -> Result<AgencyInput, InputError> {
        match self {
            Self::File(path) => AgencyInput::load(path, today),
            Self::Single(bet) => Ok(AgencyInput::single((**bet).clone())),
        }
    }
}

/// The agency's TLS, its files loaded.
#[derive(Debug, Clone)]
pub struct AgencyTls {
    /// The CA trusted for the central's certificate.
    pub ca: PathBuf,
    /// The agency's certificate and key, when it presents one.
    pub identity: Option<(PathBuf, PathBuf)>,
    /// The name the central's certificate must carry (`None`: the host of
    /// the server address).
    pub server_name: Option<String>,
    /// The loaded configuration, for [`lottery_net::ClientConfig::tls`].
    pub client: lottery_tls::ClientTls,
}

impl AgencyTls {
    /// `mutual` when the agency presents a certificate, else `server-only`
    /// (the words of the central's config line).
    pub fn mode(&self) -> &'static str {
        if self.identity.is_some() {
            "mutual"
        } else {
            "server-only"
        }
    }
}

/// The agency's resolved settings.
#[derive(Debug, Clone)]
pub struct AgencySettings {
    /// Accepted with a warning, for `main` to log once its logger is up.
    pub warnings: Vec<ConfigWarning>,
    /// The agency id.
    pub id: AgencyId,
    /// The central's address.
    pub server: String,
    /// Where the bets come from.
    pub source: BetSource,
    /// Bets per batch at most (`None`: fill each frame).
    pub batch_max_amount: Option<NonZeroUsize>,
    /// Batches in flight at most.
    pub in_flight: NonZeroUsize,
    /// Reconnection attempts after a dropped connection.
    pub reconnect_attempts: u32,
    /// The log level.
    pub log_level: LevelFilter,
    /// TLS to the central (`None`: plaintext).
    pub tls: Option<AgencyTls>,
    /// Where the session's history goes as JSON lines (`None`: nowhere).
    pub history: Option<PathBuf>,
    /// The central's receipt public key and its file (`None`: no receipts).
    pub receipt_pubkey: Option<(lottery_tls::ReceiptPubkey, PathBuf)>,
    /// Where checked receipts are appended (`None`: not kept).
    pub receipts: Option<PathBuf>,
}

impl AgencySettings {
    /// Resolves `args` (flags and their environment variables) over the config
    /// file they name and the defaults; `variable` looks up the single-bet
    /// variables.
    ///
    /// The single-bet mode applies when any single-bet variable is set and no
    /// data file was configured (by flag, `CLI_DATA_FILE` or the config file);
    /// a configured data file wins over the variables.
    ///
    /// # Errors
    /// See [`ConfigError`].
    pub fn resolve(
        args: AgencyArgs,
        variable: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let (file, mut warnings) = match &args.config {
            Some(path) => lottery_config::read_file(path)?,
            None => (AgencyArgs::default(), Vec::new()),
        };
        // RUST_LOG sits between CLI_LOG_LEVEL (clap read it) and the file.
        let (rust_log, warning) = lottery_config::log_level(variable(RUST_LOG).as_deref())?;
        warnings.extend(warning);
        let rust_log = rust_log.map(|level| lottery_log::filter_name(level).to_owned());
        let given = args.log_level.clone().or(rust_log);
        let args = AgencyArgs {
            log_level: given,
            ..args
        }
        .or(file);
        let id = args.id.ok_or(ConfigError::Missing {
            setting: "the agency id (--id, CLI_ID or `id` in the config file)",
        })?;
        let id = AgencyId::new(id).map_err(|error| ConfigError::Invalid {
            setting: "id",
            reason: format!("{id}: {error}"),
        })?;
        let log_level = args.log_level.map_or(Ok(LevelFilter::Info), |text| {
            parse_level(&text).map_err(|reason| ConfigError::Invalid {
                setting: "log-level",
                reason,
            })
        })?;
        let server = args.server.unwrap_or_else(|| DEFAULT_SERVER.to_string());
        let tls = resolve_tls(
            &server,
            args.tls_ca,
            args.tls_cert,
            args.tls_key,
            args.tls_server_name,
        )?;
        requires(&[Requirement::new(
            RECEIPTS,
            args.receipts.is_some(),
            "needs the central's public key to check them:",
            RECEIPT_PUBKEY,
            args.receipt_pubkey.is_some(),
        )])?;
        let receipt_pubkey = match args.receipt_pubkey {
            Some(path) => Some((lottery_tls::ReceiptPubkey::load(&path)?, path)),
            None => None,
        };
        let source = match args.data {
            Some(path) => BetSource::File(path),
            None => match single_bet(&variable)? {
                Some(bet) => BetSource::Single(Box::new(bet)),
                None => BetSource::File(PathBuf::from(format!(".data/agency-{id}.csv"))),
            },
        };
        Ok(Self {
            id,
            server,
            source,
            batch_max_amount: args.batch_max_amount,
            in_flight: args
                .in_flight
                .unwrap_or(NonZeroUsize::new(DEFAULT_IN_FLIGHT).expect("the default is positive")),
            reconnect_attempts: args
                .reconnect_attempts
                .unwrap_or(DEFAULT_RECONNECT_ATTEMPTS),
            log_level,
            tls,
            history: args.history,
            receipt_pubkey,
            receipts: args.receipts,
            warnings,
        })
    }
}

/// The TLS settings, checked together and their files loaded: a
/// certificate needs its key and a CA, a key its certificate, a server name
/// a CA; the name the central's certificate must carry must be one a
/// certificate can carry (the host of `server` when none is set).
fn resolve_tls(
    server: &str,
    ca: Option<PathBuf>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    server_name: Option<String>,
) -> Result<Option<AgencyTls>, ConfigError> {
    let rule = Requirement::new;
    let (has_cert, has_key, has_ca) = (cert.is_some(), key.is_some(), ca.is_some());
    requires(&[
        rule(TLS_CERT, has_cert, "needs its key:", TLS_KEY, has_key),
        rule(
            TLS_KEY,
            has_key,
            "needs its certificate:",
            TLS_CERT,
            has_cert,
        ),
        rule(
            TLS_CERT,
            has_cert,
            "needs the CA the central's certificate must chain to:",
            TLS_CA,
            has_ca,
        ),
        rule(
            TLS_SERVER_NAME,
            server_name.is_some(),
            "applies to TLS only: it needs",
            TLS_CA,
            has_ca,
        ),
    ])?;
    let identity = cert.zip(key);
    let Some(ca) = ca else {
        return Ok(None);
    };
    let client = lottery_tls::ClientTls::load(
        &ca,
        identity
            .as_ref()
            .map(|(cert, key)| (cert.as_path(), key.as_path())),
        server_name.as_deref(),
    )?;
    // Each central of a list must carry a name a certificate can carry.
    for entry in server.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        client.server_name_for(entry)?;
    }
    Ok(Some(AgencyTls {
        ca,
        identity,
        server_name,
        client,
    }))
}

const TLS_CA: Setting = Setting::new("tls-ca", "CLI_TLS_CA");
const TLS_CERT: Setting = Setting::new("tls-cert", "CLI_TLS_CERT");
const TLS_KEY: Setting = Setting::new("tls-key", "CLI_TLS_KEY");
const RECEIPT_PUBKEY: Setting = Setting::new("receipt-pubkey", "CLI_RECEIPT_PUBKEY");
const RECEIPTS: Setting = Setting::new("receipts", "CLI_RECEIPTS");
const TLS_SERVER_NAME: Setting = Setting::new("tls-server-name", "CLI_TLS_SERVER_NAME");

/// The Rust ecosystem's log variable, read beside CLI_LOG_LEVEL.
const RUST_LOG: &str = lottery_config::RUST_LOG;

/// The bet of the single-bet variables: `None` when none is set; an error
/// when only some are, or when the bet is invalid.
fn single_bet(variable: &impl Fn(&str) -> Option<String>) -> Result<Option<Bet>, ConfigError> {
    let values = SINGLE_BET_VARIABLES.map(variable);
    if values.iter().all(Option::is_none) {
        return Ok(None);
    }
    let missing: Vec<&str> = SINGLE_BET_VARIABLES
        .iter()
        .zip(&values)
        .filter(|(_, value)| value.is_none())
        .map(|(name, _)| *name)
        .collect();
    if !missing.is_empty() {
        return Err(ConfigError::Invalid {
            setting: "single bet",
            reason: format!(
                "single-bet mode needs all of NOMBRE, APELLIDO, DOCUMENTO, NACIMIENTO, NUMERO; missing {}",
                missing.join(", ")
            ),
        });
    }
    let [first, last, document, birthdate, number] = values.map(Option::unwrap_or_default);
    Bet::from_fields(&first, &last, &document, &birthdate, &number)
        .map(Some)
        .map_err(|error| ConfigError::Refused {
            setting: "single bet",
            source: Box::new(error),
        })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::io::Write;

    use super::*;

    fn args(flags: &[&str]) -> AgencyArgs {
        let mut argv = vec!["lottery-agency"];
        argv.extend_from_slice(flags);
        AgencyArgs::try_parse_from(argv).unwrap()
    }

    fn no_variables(_: &str) -> Option<String> {
        None
    }

    fn config_file(text: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(text.as_bytes()).unwrap();
        file
    }

    #[test]
    fn flags_alone_give_the_spec_defaults() {
        let settings = AgencySettings::resolve(args(&["--id", "3"]), no_variables).unwrap();
        assert_eq!(settings.id.get(), 3);
        assert_eq!(settings.server, "127.0.0.1:12345");
        assert_eq!(
            settings.source,
            BetSource::File(PathBuf::from(".data/agency-3.csv"))
        );
        assert_eq!(settings.batch_max_amount, None);
        assert_eq!(settings.in_flight.get(), DEFAULT_IN_FLIGHT);
        assert_eq!(settings.log_level, LevelFilter::Info);
    }

    #[test]
    fn every_flag_is_read() {
        let settings = AgencySettings::resolve(
            args(&[
                "--id=2",
                "--server=central:4000",
                "--data=bets/a.csv",
                "--batch-max-amount=150",
                "--in-flight=3",
                "--reconnect-attempts=0",
                "--log-level=debug",
            ]),
            no_variables,
        )
        .unwrap();
        assert_eq!(settings.server, "central:4000");
        assert_eq!(
            settings.source,
            BetSource::File(PathBuf::from("bets/a.csv"))
        );
        assert_eq!(settings.batch_max_amount.map(NonZeroUsize::get), Some(150));
        assert_eq!(settings.in_flight.get(), 3);
        assert_eq!(settings.reconnect_attempts, 0);
        assert_eq!(settings.log_level, LevelFilter::Debug);
    }

    #[test]
    fn the_id_is_required_and_positive() {
        let missing = AgencySettings::resolve(args(&[]), no_variables).unwrap_err();
        assert!(matches!(missing, ConfigError::Missing { .. }), "{missing}");
        let zero = AgencySettings::resolve(args(&["--id", "0"]), no_variables).unwrap_err();
        assert!(
            matches!(zero, ConfigError::Invalid { setting: "id", .. }),
            "{zero}"
        );
        assert!(AgencyArgs::try_parse_from(["lottery-agency", "--id", "x"]).is_err());
        assert!(AgencyArgs::try_parse_from(["lottery-agency", "--batch-max-amount", "0"]).is_err());
    }

    #[test]
    fn flags_win_over_the_config_file_which_wins_over_defaults() {
        let file = config_file(
            "id = 4\nserver = \"file:1\"\nbatch_max_amount = 50\nlog_level = \"warn\"\n",
        );
        let path = file.path().to_str().unwrap();
        let settings = AgencySettings::resolve(
            args(&["--config", path, "--server", "flag:2"]),
            no_variables,
        )
        .unwrap();
        assert_eq!(settings.id.get(), 4);
        assert_eq!(settings.server, "flag:2");
        assert_eq!(settings.batch_max_amount.map(NonZeroUsize::get), Some(50));
        assert_eq!(settings.log_level, LevelFilter::Warn);
        assert_eq!(settings.in_flight.get(), DEFAULT_IN_FLIGHT);
    }

    #[test]
    fn a_config_file_with_an_unknown_key_is_refused() {
        let file = config_file("id = 1\nservr = \"typo:1\"\n");
        let path = file.path().to_str().unwrap();
        let error = AgencySettings::resolve(args(&["--config", path]), no_variables).unwrap_err();
        assert!(matches!(error, ConfigError::ParseFile { .. }), "{error}");
    }

    fn pki() -> (tempfile::TempDir, lottery_tls::PkiFiles) {
        let dir = tempfile::tempdir().unwrap();
        let files = lottery_tls::write_pki(
            dir.path(),
            &[AgencyId::new(2).unwrap()],
            &["central".to_string()],
        )
        .unwrap();
        (dir, files)
    }

    #[test]
    fn tls_is_off_unless_a_ca_is_given() {
        let settings = AgencySettings::resolve(args(&["--id", "2"]), no_variables).unwrap();
        assert!(settings.tls.is_none());
    }

    #[test]
    fn the_tls_flags_load_a_mutual_setup() {
        let (_dir, files) = pki();
        let (cert, key) = files.agency(AgencyId::new(2).unwrap());
        let flags = [
            "--id=2".to_string(),
            format!("--tls-ca={}", files.ca().display()),
            format!("--tls-cert={}", cert.display()),
            format!("--tls-key={}", key.display()),
            "--tls-server-name=central".to_string(),
        ];
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        let settings = AgencySettings::resolve(args(&flags), no_variables).unwrap();
        let tls = settings.tls.expect("TLS is on");
        assert_eq!(tls.mode(), "mutual");
        assert_eq!(tls.ca, files.ca());
        assert_eq!(tls.identity, Some((cert, key)));
        assert_eq!(tls.server_name.as_deref(), Some("central"));
        assert_eq!(
            tls.client.server_name_for("10.0.0.1:1").unwrap().to_str(),
            "central"
        );
    }

    #[test]
    fn the_tls_keys_of_the_config_file_yield_to_the_flags() {
        let (_dir, files) = pki();
        let (cert, key) = files.agency(AgencyId::new(2).unwrap());
        let file = config_file(&format!(
            "id = 2\ntls_ca = {:?}\ntls_cert = {:?}\ntls_key = {:?}\ntls_server_name = \"file-name\"\n",
            files.ca(),
            cert,
            key
        ));
        let path = file.path().to_str().unwrap();
        let settings = AgencySettings::resolve(
            args(&["--config", path, "--tls-server-name", "flag-name"]),
            no_variables,
        )
        .unwrap();
        let tls = settings.tls.expect("TLS is on");
        assert_eq!(tls.mode(), "mutual");
        assert_eq!(tls.server_name.as_deref(), Some("flag-name"));
        // A CA alone authenticates the central only.
        let ca = format!("--tls-ca={}", files.ca().display());
        let settings = AgencySettings::resolve(args(&["--id=2", &ca]), no_variables).unwrap();
        assert_eq!(settings.tls.expect("TLS is on").mode(), "server-only");
    }

    #[test]
    fn tls_settings_that_do_not_go_together_are_refused_naming_them() {
        for (flags, named) in [
            (&["--tls-ca=a", "--tls-cert=c"][..], "--tls-cert"),
            (&["--tls-ca=a", "--tls-key=k"][..], "--tls-key"),
            (&["--tls-cert=c", "--tls-key=k"][..], "--tls-ca"),
            (&["--tls-server-name=central"][..], "--tls-ca"),
        ] {
            let mut all = vec!["--id=1"];
            all.extend_from_slice(flags);
            let error = AgencySettings::resolve(args(&all), no_variables).unwrap_err();
            assert!(
                matches!(error, ConfigError::TlsCombination(_)),
                "{flags:?}: {error}"
            );
            assert!(error.to_string().contains(named), "{flags:?}: {error}");
        }
    }

    #[test]
    fn a_server_host_no_certificate_can_name_is_refused_with_tls() {
        let (_dir, files) = pki();
        let ca = format!("--tls-ca={}", files.ca().display());
        let error =
            AgencySettings::resolve(args(&["--id=1", &ca, "--server=bad_host!:1"]), no_variables)
                .unwrap_err();
        assert!(
            lottery_log::chain(&error).contains("`bad_host!`"),
            "{error}"
        );
        // Plaintext does not care, and a server name given instead is used.
        assert!(
            AgencySettings::resolve(args(&["--id=1", "--server=bad_host!:1"]), no_variables)
                .is_ok()
        );
        let settings = AgencySettings::resolve(
            args(&[
                "--id=1",
                &ca,
                "--server=bad_host!:1",
                "--tls-server-name=central",
            ]),
            no_variables,
        )
        .unwrap();
        assert!(settings.tls.is_some());
    }

    #[test]
    fn an_unreadable_tls_file_is_refused_naming_it() {
        let (dir, files) = pki();
        let missing = dir.path().join("missing.pem");
        let flag = format!("--tls-ca={}", missing.display());
        let error = AgencySettings::resolve(args(&["--id=1", &flag]), no_variables).unwrap_err();
        assert!(matches!(error, ConfigError::Tls(_)), "{error}");
        let text = lottery_log::chain(&error);
        assert!(text.contains("missing.pem"), "{text}");
        // A key given as the certificate holds no certificate.
        let (_, key) = files.agency(AgencyId::new(2).unwrap());
        let flags = [
            format!("--tls-ca={}", files.ca().display()),
            format!("--tls-cert={}", key.display()),
            format!("--tls-key={}", key.display()),
        ];
        let mut all = vec!["--id=2"];
        all.extend(flags.iter().map(String::as_str));
        let error = AgencySettings::resolve(args(&all), no_variables).unwrap_err();
        assert!(
            lottery_log::chain(&error).contains("agency-2.key"),
            "{error}"
        );
    }

    fn course_variables() -> HashMap<&'static str, String> {
        [
            ("NOMBRE", "Santiago Lionel"),
            ("APELLIDO", "Lorca"),
            ("DOCUMENTO", "30904465"),
            ("NACIMIENTO", "1999-03-17"),
            ("NUMERO", "7574"),
        ]
        .into_iter()
        .map(|(name, value)| (name, value.to_string()))
        .collect()
    }

    #[test]
    fn the_course_variables_give_the_single_bet_mode() {
        let variables = course_variables();
        let settings =
            AgencySettings::resolve(args(&["--id", "1"]), |name| variables.get(name).cloned())
                .unwrap();
        let BetSource::Single(bet) = settings.source else {
            panic!("expected the single-bet mode, got {:?}", settings.source);
        };
        assert_eq!(bet.document.as_str(), "30904465");
        assert_eq!(bet.number.get(), 7574);
    }

    #[test]
    fn a_configured_data_file_wins_over_the_course_variables() {
        let variables = course_variables();
        let settings = AgencySettings::resolve(args(&["--id", "1", "--data", "a.csv"]), |name| {
            variables.get(name).cloned()
        })
        .unwrap();
        assert_eq!(settings.source, BetSource::File(PathBuf::from("a.csv")));
    }

    #[test]
    fn incomplete_or_invalid_course_variables_are_refused() {
        let mut variables = course_variables();
        variables.remove("NACIMIENTO");
        let error =
            AgencySettings::resolve(args(&["--id", "1"]), |name| variables.get(name).cloned())
                .unwrap_err();
        assert!(error.to_string().ends_with("missing NACIMIENTO"), "{error}");
        variables.insert("NACIMIENTO", "1999-02-30".to_string());
        let error =
            AgencySettings::resolve(args(&["--id", "1"]), |name| variables.get(name).cloned())
                .unwrap_err();
        // Said once: the message does not repeat its source.
        assert_eq!(
            lottery_log::chain(&error),
            "invalid single bet: birthdate is not a real calendar date"
        );
    }
}
