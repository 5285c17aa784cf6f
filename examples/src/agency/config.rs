//! The agency's settings: flags, then environment variables, then a TOML
//! config file, then defaults (SPEC section 5).
//!
//! clap reads flags and their environment variables; the config file fills
//! what both left unset. The course's single-bet variables (`NOMBRE`,
//! `APELLIDO`, `DOCUMENTO`, `NACIMIENTO`, `NUMERO`) are read here too, through
//! a lookup function so tests need not touch the process environment.

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use clap::Parser;
use log::LevelFilter;
use lottery_core::{AgencyId, Bet};
use serde::Deserialize;

use crate::error::ConfigError;
use lottery_log::parse_level;

/// The server address when none is given.
pub const DEFAULT_SERVER: &str = "127.0.0.1:12345";
/// Batches an agency keeps in flight (sent, not yet acknowledged) by default.
pub const DEFAULT_IN_FLIGHT: usize = 8;
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
#[derive(Debug, Clone, Default, Parser)]
#[command(name = "lottery-agency", version)]
pub struct AgencyArgs {
    /// The agency id (required, here, in CLI_ID or in the config file).
    #[arg(long, env = "CLI_ID", value_name = "N")]
    pub id: Option<u32>,
    /// The central's address [default: 127.0.0.1:12345].
    #[arg(long, env = "CLI_SERVER_ADDRESS", value_name = "ADDR")]
    pub server: Option<String>,
    /// The agency's bets [default: .data/agency-{id}.csv].
    #[arg(long, env = "CLI_DATA_FILE", value_name = "PATH")]
    pub data: Option<PathBuf>,
    /// Bets per batch at most [default: as many as fill a frame].
    #[arg(long, env = "CLI_BATCH_MAXAMOUNT", value_name = "N")]
    pub batch_max_amount: Option<NonZeroUsize>,
    /// Batches sent ahead of their acknowledgements [default: 8].
    #[arg(long, env = "CLI_IN_FLIGHT", value_name = "N")]
    pub in_flight: Option<NonZeroUsize>,
    /// Reconnection attempts when the connection drops [default: 10].
    #[arg(long, env = "CLI_RECONNECT_ATTEMPTS", value_name = "N")]
    pub reconnect_attempts: Option<u32>,
    /// OFF, ERROR, WARN, INFO, DEBUG or TRACE [default: INFO].
    #[arg(long, env = "CLI_LOG_LEVEL", value_name = "LEVEL")]
    pub log_level: Option<String>,
    /// A TOML file with any of the settings above (keys like the flags, with
    /// underscores: `id`, `server`, `data`, `batch_max_amount`, ...).
    #[arg(long, env = "CLI_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
}

/// The config file's keys: the flags' names with underscores.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    id: Option<u32>,
    server: Option<String>,
    data: Option<PathBuf>,
    batch_max_amount: Option<NonZeroUsize>,
    in_flight: Option<NonZeroUsize>,
    reconnect_attempts: Option<u32>,
    log_level: Option<String>,
}

/// Where the agency's bets come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BetSource {
    /// An agency file.
    File(PathBuf),
    /// One bet from the course's single-bet variables.
    Single(Box<Bet>),
}

/// The agency's resolved settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgencySettings {
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
        let file = match &args.config {
            Some(path) => read_config(path)?,
            None => FileSettings::default(),
        };
        let id = args.id.or(file.id).ok_or(ConfigError::Missing {
            setting: "the agency id (--id, CLI_ID or `id` in the config file)",
        })?;
        let id = AgencyId::new(id).map_err(|error| ConfigError::Invalid {
            setting: "id",
            value: id.to_string(),
            reason: error.to_string(),
        })?;
        let log_level =
            args.log_level
                .or(file.log_level)
                .map_or(Ok(LevelFilter::Info), |text| {
                    parse_level(&text).map_err(|reason| ConfigError::Invalid {
                        setting: "log_level",
                        value: text,
                        reason,
                    })
                })?;
        let source = match args.data.or(file.data) {
            Some(path) => BetSource::File(path),
            None => match single_bet(&variable)? {
                Some(bet) => BetSource::Single(Box::new(bet)),
                None => BetSource::File(PathBuf::from(format!(".data/agency-{id}.csv"))),
            },
        };
        Ok(Self {
            id,
            server: args
                .server
                .or(file.server)
                .unwrap_or_else(|| DEFAULT_SERVER.to_string()),
            source,
            batch_max_amount: args.batch_max_amount.or(file.batch_max_amount),
            in_flight: args
                .in_flight
                .or(file.in_flight)
                .unwrap_or(NonZeroUsize::new(DEFAULT_IN_FLIGHT).expect("the default is positive")),
            reconnect_attempts: args
                .reconnect_attempts
                .or(file.reconnect_attempts)
                .unwrap_or(DEFAULT_RECONNECT_ATTEMPTS),
            log_level,
        })
    }
}

fn read_config(path: &Path) -> Result<FileSettings, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    toml::from_str(&text).map_err(|source| ConfigError::Parse {
        path: path.to_path_buf(),
        source: Box::new(source),
    })
}

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
        return Err(ConfigError::IncompleteSingleBet {
            missing: missing.join(", "),
        });
    }
    let [first, last, document, birthdate, number] = values.map(Option::unwrap_or_default);
    Bet::from_fields(&first, &last, &document, &birthdate, &number)
        .map(Some)
        .map_err(ConfigError::InvalidSingleBet)
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
        assert!(matches!(error, ConfigError::Parse { .. }), "{error}");
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
