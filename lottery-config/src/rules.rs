//! Settings named the same way in every message, the combination checks
//! (the TLS ones of every program), and clap's usage errors on one line.

use std::fmt;

use crate::error::ConfigError;

/// A setting as an operator can give it: its flag, its environment variable
/// and its config file key (the flag without dashes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    /// The flag without its dashes, which is also the file's key
    /// (`tls-cert`).
    pub flag: &'static str,
    /// The environment variable (`CLI_TLS_CERT`).
    pub env: &'static str,
}

impl Setting {
    /// The setting of flag `--flag` (given without its dashes) and variable
    /// `env`.
    pub const fn new(flag: &'static str, env: &'static str) -> Self {
        Self { flag, env }
    }
}

impl fmt::Display for Setting {
    /// `--tls-cert (CLI_TLS_CERT, `tls-cert`)`: the three ways to give it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "--{} ({}, `{}`)", self.flag, self.env, self.flag)
    }
}

/// One rule of [`requires`]: `given`, when set, needs `needed` set too;
/// `why` says how (`needs its key:`).
#[derive(Debug, Clone, Copy)]
pub struct Requirement {
    /// The setting that needs another.
    pub given: Setting,
    /// Whether it is set.
    pub is_given: bool,
    /// How it needs the other, in words that read between the two names
    /// (`needs its key:`, `applies to TLS only: it needs`).
    pub why: &'static str,
    /// The setting it needs.
    pub needed: Setting,
    /// Whether that one is set.
    pub is_needed: bool,
}

impl Requirement {
    /// `given` (set when `is_given`) `why` `needed` (set when `is_needed`):
    /// `Requirement::new(CERT, has_cert, "needs its key:", KEY, has_key)`.
    pub const fn new(
        given: Setting,
        is_given: bool,
        why: &'static str,
        needed: Setting,
        is_needed: bool,
    ) -> Self {
        Self {
            given,
            is_given,
            why,
            needed,
            is_needed,
        }
    }
}

/// Checks settings that only go together (a TLS certificate and its key, a
/// CA and a certificate, ...), in order, after every layer (flags,
/// environment, file) is merged: the first rule broken is refused, naming
/// both settings the three ways they can be given.
///
/// ```
/// use lottery_config::{Requirement, Setting, requires};
/// const CERT: Setting = Setting::new("tls-cert", "CLI_TLS_CERT");
/// const KEY: Setting = Setting::new("tls-key", "CLI_TLS_KEY");
/// let rule = |is_given, is_needed| Requirement::new(CERT, is_given, "needs its key:", KEY, is_needed);
/// assert!(requires(&[rule(true, true), rule(false, false)]).is_ok());
/// let error = requires(&[rule(true, false)]).unwrap_err();
/// assert_eq!(
///     error.to_string(),
///     "--tls-cert (CLI_TLS_CERT, `tls-cert`) needs its key: --tls-key (CLI_TLS_KEY, `tls-key`)"
/// );
/// ```
///
/// # Errors
/// [`ConfigError::TlsCombination`] for the first rule broken.
pub fn requires(rules: &[Requirement]) -> Result<(), ConfigError> {
    match rules.iter().find(|rule| rule.is_given && !rule.is_needed) {
        None => Ok(()),
        Some(rule) => Err(ConfigError::TlsCombination(format!(
            "{} {} {}",
            rule.given, rule.why, rule.needed
        ))),
    }
}

/// A usage error of clap (an unknown flag, a value refused by its parser) on
/// one line: clap's first paragraph, which names the flag and the value,
/// without its `error: ` prefix, and clap's tips (`a similar argument
/// exists: '--agencies'`) in parentheses after it.
///
/// ```
/// use clap::Parser;
/// #[derive(Parser)]
/// struct Args {
///     #[arg(long)]
///     agencies: Option<u32>,
/// }
/// let error = Args::try_parse_from(["x", "--agences", "5"]).err().unwrap();
/// assert_eq!(
///     lottery_config::usage(&error).to_string(),
///     "unexpected argument '--agences' found (tip: a similar argument exists: '--agencies')"
/// );
/// ```
pub fn usage(error: &clap::Error) -> ConfigError {
    let text = error.to_string();
    // The first paragraph, on one line: a message ending in a colon (the
    // required arguments not provided) goes on with what it lists.
    let paragraph: Vec<&str> = text
        .lines()
        .skip_while(|line| line.trim().is_empty())
        .take_while(|line| !line.trim().is_empty())
        .map(str::trim)
        .collect();
    let first = paragraph.join(" ");
    let mut message = first.strip_prefix("error: ").unwrap_or(&first).to_owned();
    for tip in text
        .lines()
        .map(str::trim)
        .filter(|line| line.starts_with("tip: "))
    {
        message.push_str(&format!(" ({tip})"));
    }
    ConfigError::Usage { message }
}
