//! Log levels as the course spells them: Python's names, parsed from a
//! setting and printed in every line.
//!
//! Knows nothing of the logger or of where lines go: the logger and the
//! programs' configurations both read it.

use log::{Level, LevelFilter};

/// Parses a level as the course's programs spell it (`LOGGING_LEVEL=INFO`):
/// Python's names (`DEBUG`, `INFO`, `WARNING`, `ERROR`, `CRITICAL`), plus
/// `TRACE`, `WARN` and `OFF`, in any case.
///
/// ```
/// use lottery_log::parse_level;
/// assert_eq!(parse_level("warning"), Ok(log::LevelFilter::Warn));
/// assert!(parse_level("loud").is_err());
/// ```
///
/// # Errors
/// A message listing the accepted names.
pub fn parse_level(text: &str) -> Result<LevelFilter, String> {
    match text.trim().to_ascii_uppercase().as_str() {
        "OFF" => Ok(LevelFilter::Off),
        // Python's CRITICAL is above ERROR; `log` has nothing above Error.
        "CRITICAL" | "ERROR" => Ok(LevelFilter::Error),
        "WARNING" | "WARN" => Ok(LevelFilter::Warn),
        "INFO" => Ok(LevelFilter::Info),
        "DEBUG" => Ok(LevelFilter::Debug),
        "TRACE" => Ok(LevelFilter::Trace),
        _ => Err(format!(
            "unknown log level {text:?} (expected one of TRACE, DEBUG, INFO, WARNING, ERROR, CRITICAL, OFF)"
        )),
    }
}

/// The name of `level` as Python's logging prints it.
///
/// ```
/// assert_eq!(lottery_log::level_name(log::Level::Warn), "WARNING");
/// ```
pub const fn level_name(level: Level) -> &'static str {
    match level {
        Level::Error => "ERROR",
        Level::Warn => "WARNING",
        Level::Info => "INFO",
        Level::Debug => "DEBUG",
        Level::Trace => "TRACE",
    }
}

/// The name of `filter` as the configuration spells it (for the config line).
///
/// ```
/// assert_eq!(lottery_log::filter_name(log::LevelFilter::Info), "INFO");
/// assert_eq!(lottery_log::filter_name(log::LevelFilter::Off), "OFF");
/// ```
pub fn filter_name(filter: LevelFilter) -> &'static str {
    match filter.to_level() {
        Some(level) => level_name(level),
        None => "OFF",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_level_names_parse() {
        assert_eq!(parse_level("INFO"), Ok(LevelFilter::Info));
        assert_eq!(parse_level("debug"), Ok(LevelFilter::Debug));
        assert_eq!(parse_level("CRITICAL"), Ok(LevelFilter::Error));
        assert_eq!(parse_level("Warn"), Ok(LevelFilter::Warn));
        assert_eq!(parse_level("off"), Ok(LevelFilter::Off));
        let error = parse_level("verbose").unwrap_err();
        assert!(
            error.contains("verbose") && error.contains("WARNING"),
            "{error}"
        );
        assert_eq!(filter_name(LevelFilter::Warn), "WARNING");
        assert_eq!(filter_name(LevelFilter::Off), "OFF");
    }
}
