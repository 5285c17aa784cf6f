//! How every lottery program is configured, written once.
//!
//! Each program (`lottery-server`, `lottery-agency`, ...) declares its
//! settings as one struct of optional fields that is both a clap `Parser`
//! (flags, each with its environment variable) and a serde `Deserialize`
//! (the `--config` TOML file, keys named as the flags: kebab-case). This
//! crate holds what those programs share, so that it is the same everywhere:
//!
//! - the precedence: flags > environment > TOML file > defaults. clap reads
//!   flags over environment; the program's `or` fills what both left unset
//!   from [`read_file`]'s settings; defaults come last;
//! - [`read_file`]: a TOML file read and checked, a problem said on one line
//!   naming the line as written; snake_case keys of a kebab-case setting
//!   still accepted (the agency's files used them) and reported as
//!   [`ConfigWarning`]s, which the program logs as a WARNING naming the new key once
//!   its logger is up ([`ConfigWarning::log`]);
//! - [`ConfigError`], the one error shape of a setting that cannot be used;
//! - [`Setting`] and [`requires`]: the combination checks (a certificate
//!   without its key, a CA without a certificate, ...), one message format;
//! - [`usage`]: a clap usage error on one line, clap's tip included;
//! - [`log_level`]: a program's level variable, then `RUST_LOG`, then the
//!   file, then the default.
//!
//! No program logic lives here: which settings exist, their defaults and
//! ranges are each program's.

#![deny(missing_docs)]

mod error;
mod file;
mod level;
mod rules;
mod warning;

pub use error::{ConfigError, TlsSetting};
pub use file::read_file;
pub use level::{RUST_LOG, log_level};
pub use rules::{Requirement, Setting, requires, usage};
pub use warning::ConfigWarning;
