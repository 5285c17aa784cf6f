//! The one shape of a setting that cannot be used, for every program.

use std::error::Error;
use std::fmt;
use std::io;
use std::path::PathBuf;

/// A setting could not be read or is invalid. Each message names the
/// setting (as its flag is named, without dashes) or the file.
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
        /// What is wrong, naming the flag and the value (and clap's tip).
        message: String,
    },
    /// A required setting is given nowhere.
    #[error("missing {setting}")]
    Missing {
        /// Which setting, and where it may be given.
        setting: &'static str,
    },
    /// A setting has a value outside what it accepts.
    #[error("invalid value for setting {setting}: {reason}")]
    Invalid {
        /// The setting, named as its flag (without dashes).
        setting: &'static str,
        /// What is wrong and what is accepted.
        reason: String,
    },
    /// A setting's value is refused by a check that has its own error (its
    /// source says what).
    #[error("invalid {setting}")]
    Refused {
        /// The setting.
        setting: &'static str,
        /// Why.
        #[source]
        source: Box<dyn Error + Send + Sync>,
    },
    /// Settings that do not go together (a certificate without its key, a
    /// CA without a certificate, ...); the text names them ([`crate::requires`]).
    #[error("{0}")]
    TlsCombination(String),
    /// A TLS file cannot be read or used (the error names the file).
    #[error(transparent)]
    Tls(TlsSetting),
}

impl From<lottery_tls::TlsError> for ConfigError {
    fn from(error: lottery_tls::TlsError) -> Self {
        Self::Tls(TlsSetting(error))
    }
}

/// A TLS file that cannot be used, said as `invalid TLS setting: ` and the
/// TLS error (which names the file) on one line, its causes after it: the
/// file is in the message itself, not only in the chain `main` prints.
#[derive(Debug)]
pub struct TlsSetting(lottery_tls::TlsError);

impl TlsSetting {
    /// The TLS error.
    pub fn get(&self) -> &lottery_tls::TlsError {
        &self.0
    }
}

impl fmt::Display for TlsSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid TLS setting: {}", self.0)
    }
}

impl Error for TlsSetting {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.0.source()
    }
}
