//! Logging for the example programs, in the course format (SPEC section 6).
//!
//! Every program of the workspace logs the same way, so the format lives in
//! one place. Until `lottery_server::logging` lands, this module formats the
//! lines itself; once it does, [`init`] only delegates to it.

use std::io::Write;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use log::{LevelFilter, Log, Metadata, Record};

/// Parses a log level (`INFO`, `debug`, `off`, ...), as the `--log-level`
/// flags take it.
///
/// # Errors
/// A message naming the accepted levels.
pub fn parse_level(text: &str) -> Result<LevelFilter, String> {
    LevelFilter::from_str(text).map_err(|_| {
        format!("unknown log level {text:?} (expected OFF, ERROR, WARN, INFO, DEBUG or TRACE)")
    })
}

/// Sends log lines at `level` and above to stderr, in the course format.
/// Calling it again does nothing.
pub fn init(level: LevelFilter) {
    static LOGGER: CourseLogger = CourseLogger;
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(level);
    }
}

struct CourseLogger;

impl Log for CourseLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let line = format!(
            "{} {:<8} {}\n",
            timestamp(),
            record.level().as_str(),
            record.args()
        );
        // One write per line, so lines of concurrent threads never interleave.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn flush(&self) {}
}

/// `YYYY-MM-DD HH:MM:SS` in UTC.
fn timestamp() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}
