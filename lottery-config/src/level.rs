//! The log level: each program's own setting (`--log-level`, its variable
//! `LOGGING_LEVEL` or `CLI_LOG_LEVEL`), then `RUST_LOG`, then the config
//! file, then the default (INFO).
//!
//! `RUST_LOG` is the Rust ecosystem's variable (env_logger's syntax:
//! `debug`, or `warn,hyper=debug`). The course-format logger has one level
//! for every line, so only a bare level applies; directives for single
//! targets are ignored with a warning. The program's own variable wins over
//! it: it is the more specific of the two, and the one the course's
//! deployments (docker compose files) set.

use log::LevelFilter;

use crate::error::ConfigError;
use crate::warning::ConfigWarning;

/// The name of the Rust ecosystem's log variable.
pub const RUST_LOG: &str = "RUST_LOG";

/// The level of a `RUST_LOG` value (`None` when it names none: unset, empty,
/// or only single-target directives), and a warning if it holds directives
/// that are ignored. Of several bare levels, the last wins (as in
/// env_logger).
///
/// ```
/// use log::LevelFilter;
/// let (level, warning) = lottery_config::log_level(Some("warn,hyper=debug")).unwrap();
/// assert_eq!(level, Some(LevelFilter::Warn));
/// assert!(warning.is_some(), "hyper=debug is ignored");
/// assert_eq!(lottery_config::log_level(None).unwrap(), (None, None));
/// ```
///
/// # Errors
/// [`ConfigError::Invalid`] (setting `RUST_LOG`) for a bare word that is no
/// level.
pub fn log_level(
    rust_log: Option<&str>,
) -> Result<(Option<LevelFilter>, Option<ConfigWarning>), ConfigError> {
    let Some(text) = rust_log else {
        return Ok((None, None));
    };
    let mut level = None;
    let mut ignored = Vec::new();
    for directive in text.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        // A bare level has no target: no `=`, and it parses as a level.
        if directive.contains('=') || directive.contains('/') {
            ignored.push(directive);
            continue;
        }
        match lottery_log::parse_level(directive) {
            Ok(parsed) => level = Some(parsed),
            // A lone identifier is env_logger's "this target, every level".
            Err(_) if directive.contains("::") || directive.contains('_') => {
                ignored.push(directive)
            }
            Err(reason) => {
                return Err(ConfigError::Invalid {
                    setting: RUST_LOG,
                    reason,
                });
            }
        }
    }
    let warning = (!ignored.is_empty()).then(|| ConfigWarning::RustLogTargets {
        ignored: ignored.join(","),
    });
    Ok((level, warning))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_level_is_the_level() {
        assert_eq!(
            log_level(Some("debug")).unwrap(),
            (Some(LevelFilter::Debug), None)
        );
        assert_eq!(
            log_level(Some("WARNING")).unwrap(),
            (Some(LevelFilter::Warn), None)
        );
        assert_eq!(log_level(Some("")).unwrap(), (None, None));
    }

    #[test]
    fn target_directives_are_ignored_with_a_warning() {
        let (level, warning) = log_level(Some("lottery_server=trace,info")).unwrap();
        assert_eq!(level, Some(LevelFilter::Info));
        assert_eq!(
            warning,
            Some(ConfigWarning::RustLogTargets {
                ignored: "lottery_server=trace".into()
            })
        );
        let (level, warning) = log_level(Some("lottery_server")).unwrap();
        assert_eq!(level, None);
        assert!(warning.is_some());
    }

    #[test]
    fn a_word_that_is_no_level_is_refused_naming_rust_log() {
        let error = log_level(Some("loud")).unwrap_err();
        assert!(error.to_string().contains("RUST_LOG"), "{error}");
    }
}
