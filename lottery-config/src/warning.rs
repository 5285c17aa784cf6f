//! What a configuration accepted but the operator should change: logged as
//! a WARNING in the course format once the program's logger is up (a
//! setting is read before the logger exists, since it chooses its level).

use std::path::PathBuf;

/// A setting accepted with a warning.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigWarning {
    /// The config file used an old key (snake_case) of a setting now named
    /// as its flag (kebab-case).
    OldKey {
        /// The file.
        file: PathBuf,
        /// The key as written.
        old: String,
        /// Its name now.
        new: String,
    },
    /// `RUST_LOG` held directives for single targets (`hyper=debug`), which
    /// the course-format logger cannot honour: only a bare level applies.
    RustLogTargets {
        /// The directives ignored, as written.
        ignored: String,
    },
}

impl ConfigWarning {
    /// Logs the warning: one `WARNING action: config | result: success |
    /// ...` line naming what to change.
    pub fn log(&self) {
        match self {
            Self::OldKey { file, old, new } => log::warn!(
                "action: config | result: success | file: {} | key: {old} | new_key: {new} | warning: the config key {old} is now named {new}, as its flag --{new}; rename it (the old name is still read)",
                file.display()
            ),
            Self::RustLogTargets { ignored } => log::warn!(
                "action: config | result: success | RUST_LOG: {ignored} | warning: RUST_LOG directives for single targets are ignored: one level applies to every line (a bare level such as RUST_LOG=debug)"
            ),
        }
    }
}
