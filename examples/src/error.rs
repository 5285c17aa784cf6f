//! Errors of the example programs. Each says what failed and where; `main`
//! logs the whole source chain and exits non-zero.

use std::io;
use std::path::PathBuf;

use lottery_core::{FieldError, RowError};

/// A setting that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A required setting is missing.
    #[error("missing {setting}")]
    Missing {
        /// Which setting, and where it may be given.
        setting: &'static str,
    },
    /// A setting's value is refused.
    #[error("invalid {setting} {value:?}: {reason}")]
    Invalid {
        /// The setting.
        setting: &'static str,
        /// Its value.
        value: String,
        /// Why it is refused.
        reason: String,
    },
    /// The config file cannot be read.
    #[error("cannot read the config file {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The config file is not valid TOML or has unknown keys.
    #[error("invalid config file {}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: Box<toml::de::Error>,
    },
    /// Some single-bet variables are set, others not.
    #[error(
        "single-bet mode needs all of NOMBRE, APELLIDO, DOCUMENTO, NACIMIENTO, NUMERO; missing {missing}"
    )]
    IncompleteSingleBet {
        /// The unset variables, comma-separated.
        missing: String,
    },
    /// The single-bet variables do not make a valid bet.
    #[error("invalid single bet: {0}")]
    InvalidSingleBet(#[source] FieldError),
}

/// An agency file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The file cannot be opened or read.
    #[error("cannot read the agency file {}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A row is invalid: the message names the file, the line and the field.
    #[error("bad row: {0}")]
    Row(#[from] RowError),
}
