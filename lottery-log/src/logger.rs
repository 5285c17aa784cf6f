//! The logger: course-format lines, on stderr.
//!
//! Cheap on the hot path: the level check is `log`'s global filter (a
//! disabled line is never formatted), the time text is cached per thread for
//! the current second, the line is built in a per-thread buffer, and it
//! reaches stderr with one `write` call (so lines from several threads never
//! interleave). An event-loop thread defers its lines ([`defer_lines`]) and
//! writes them all with one call per loop iteration ([`write_deferred`]):
//! one `apuesta_recibida` line per batch then costs no system call of its own.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::io::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use log::{Level, LevelFilter, Log, Metadata, Record};

use crate::level::level_name;

/// The logger behind [`init`]. Stateless: the level lives in `log`'s global
/// filter, so there is one source of truth for it.
#[derive(Debug, Clone, Copy, Default)]
struct CourseLogger;

static LOGGER: CourseLogger = CourseLogger;

/// Installs the course-format logger for the whole process, showing `level`
/// and above.
///
/// ```
/// lottery_log::init(log::LevelFilter::Info).unwrap();
/// log::info!("action: config | result: success | agencies: 5");
/// ```
///
/// # Errors
/// When a logger is already installed in this process.
pub fn init(level: LevelFilter) -> Result<(), log::SetLoggerError> {
    log::set_logger(&LOGGER)?;
    log::set_max_level(level);
    Ok(())
}

impl Log for CourseLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let unix_seconds = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs());
        LINE.with(|line| {
            let mut line = line.borrow_mut();
            let line = &mut *line;
            if !line.deferred {
                line.text.clear();
            }
            line.clock.write_time(unix_seconds, &mut line.text);
            if is_ours(record.target()) {
                format_rest(record.level(), *record.args(), &mut line.text);
            } else {
                format_foreign(record, &mut line.text);
            }
            if !line.deferred || line.text.len() >= DEFERRED_LIMIT {
                write_out(&mut line.text);
            }
        });
    }

    fn flush(&self) {
        let _ = std::io::stderr().flush();
    }
}

/// Deferred lines are written once they take this many bytes, whatever the
/// loop is doing.
const DEFERRED_LIMIT: usize = 64 * 1024;

/// Per-thread state of the logger: the line being built (or, deferred, the
/// lines not yet written) and the time text of the current second (reused by
/// every line within that second).
struct Line {
    text: String,
    clock: Clock,
    /// Lines wait in `text` for [`write_deferred`].
    deferred: bool,
}

thread_local! {
    static LINE: RefCell<Line> = const {
        RefCell::new(Line {
            text: String::new(),
            clock: Clock { second: u64::MAX, text: String::new() },
            deferred: false,
        })
    };
}

/// Makes this thread's lines wait for [`write_deferred`] (an event loop
/// calls it once per iteration), instead of one `write` each.
pub fn defer_lines() {
    LINE.with(|line| line.borrow_mut().deferred = true);
}

/// Writes this thread's deferred lines, with one `write` call.
///
/// ```
/// lottery_log::defer_lines();
/// log::info!("action: example | result: success"); // not written yet
/// lottery_log::write_deferred(); // now it is
/// ```
pub fn write_deferred() {
    LINE.with(|line| {
        // Not while a line is being formatted (a panic in the middle of one).
        if let Ok(mut line) = line.try_borrow_mut()
            && !line.text.is_empty()
        {
            write_out(&mut line.text);
        }
    });
}

/// Writes `text` to stderr and empties it.
fn write_out(text: &mut String) {
    // Nothing useful can be done when stderr is gone.
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
    text.clear();
}

/// The `YYYY-MM-DD HH:MM:SS` text of one second, cached.
struct Clock {
    second: u64,
    text: String,
}

impl Clock {
    fn write_time(&mut self, unix_seconds: u64, out: &mut String) {
        if self.second != unix_seconds {
            self.second = unix_seconds;
            self.text.clear();
            write_utc_time(unix_seconds, &mut self.text);
        }
        out.push_str(&self.text);
    }
}

/// Formats one whole line, time included: what the logger [`init`] installs
/// writes.
///
/// ```
/// use lottery_log::format_line;
/// let mut line = String::new();
/// format_line(86_400 * 365, log::Level::Warn, format_args!("action: exit | result: success"), &mut line);
/// assert_eq!(line, "1971-01-01 00:00:00 WARNING  action: exit | result: success\n");
/// ```
pub fn format_line(
    unix_seconds: u64,
    level: Level,
    message: std::fmt::Arguments<'_>,
    out: &mut String,
) {
    write_utc_time(unix_seconds, out);
    format_rest(level, message, out);
}

/// Whether a record comes from the project's own code (every crate and
/// binary of the workspace is named `lottery-...`), whose lines are written
/// in the course format already.
fn is_ours(target: &str) -> bool {
    target.starts_with("lottery")
}

/// A dependency's record (the postgres client's statements at DEBUG,
/// rustls's alerts, ...) as a course-format line, its text made one field:
/// the tools that parse the log read every line.
fn format_foreign(record: &Record<'_>, out: &mut String) {
    let message: String = record
        .args()
        .to_string()
        .chars()
        .map(|c| if c == '|' || c.is_control() { ' ' } else { c })
        .collect();
    format_rest(
        record.level(),
        format_args!(
            "action: library_log | result: success | target: {} | message: {message}",
            record.target()
        ),
        out,
    );
}

fn format_rest(level: Level, message: std::fmt::Arguments<'_>, out: &mut String) {
    // Writing into a String cannot fail.
    let _ = writeln!(out, " {:<8} {}", level_name(level), message);
}

/// Writes `YYYY-MM-DD HH:MM:SS` (UTC) for a time in seconds since 1970.
fn write_utc_time(unix_seconds: u64, out: &mut String) {
    let seconds_of_day = unix_seconds % 86_400;
    let (year, month, day) = utc_date(unix_seconds);
    let _ = write!(
        out,
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        seconds_of_day / 3600,
        seconds_of_day % 3600 / 60,
        seconds_of_day % 60
    );
}

/// The UTC calendar date `(year, month, day)` of a time in seconds since
/// 1970 (the date the log lines show): the one place of the workspace that
/// turns a clock reading into a date, so a central's "today" is the date of
/// its log lines.
///
/// ```
/// assert_eq!(lottery_log::utc_date(0), (1970, 1, 1));
/// assert_eq!(lottery_log::utc_date(951_827_696), (2000, 2, 29));
/// ```
pub fn utc_date(unix_seconds: u64) -> (u64, u64, u64) {
    civil_from_days(unix_seconds / 86_400)
}

/// Today's UTC date by the system clock ([`utc_date`] of now); `None` for a
/// clock before 1970, which is not believed.
pub fn utc_today() -> Option<(u64, u64, u64)> {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    Some(utc_date(since_epoch.as_secs()))
}

/// The proleptic Gregorian date `days` days after 1970-01-01.
///
/// Howard Hinnant's `civil_from_days`: count in 400-year eras (146,097 days
/// each) starting on March 1st, so that the leap day is the last day of a
/// "year" and month lengths follow a fixed pattern.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Shift the epoch from 1970-01-01 to 0000-03-01.
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    // Months counted from March: 0 = March ... 11 = February.
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(unix_seconds: u64, level: Level, message: &str) -> String {
        let mut out = String::new();
        format_line(unix_seconds, level, format_args!("{message}"), &mut out);
        out
    }

    #[test]
    fn levels_are_padded_to_eight_like_python_logging() {
        assert_eq!(
            line(0, Level::Info, "action: sorteo | result: success"),
            "1970-01-01 00:00:00 INFO     action: sorteo | result: success\n"
        );
        for (level, padded) in [
            (Level::Warn, "WARNING  "),
            (Level::Error, "ERROR    "),
            (Level::Debug, "DEBUG    "),
        ] {
            assert_eq!(
                line(0, level, "x"),
                format!("1970-01-01 00:00:00 {padded}x\n")
            );
        }
    }

    #[test]
    fn a_dependencys_record_becomes_one_course_format_line() {
        let foreign = |target: &str, text: &str| {
            let mut out = String::new();
            format_foreign(
                &Record::builder()
                    .level(Level::Debug)
                    .target(target)
                    .args(format_args!("{text}"))
                    .build(),
                &mut out,
            );
            out
        };
        assert_eq!(
            foreign(
                "postgres::client",
                "executing statement batch: START | x\nTRANSACTION"
            ),
            " DEBUG    action: library_log | result: success | target: postgres::client | \
             message: executing statement batch: START   x TRANSACTION\n"
        );
        assert!(is_ours("lottery_server::http") && is_ours("lottery_agency"));
        assert!(!is_ours("rustls::conn") && !is_ours("postgres"));
    }

    #[test]
    fn known_instants_format_as_utc_dates() {
        // 2000-02-29 12:34:56 UTC, a leap day in a year divisible by 400.
        assert!(line(951_827_696, Level::Info, "x").starts_with("2000-02-29 12:34:56 "));
        // 2024-12-31 23:59:59 UTC, the last second of a leap year.
        assert!(line(1_735_689_599, Level::Info, "x").starts_with("2024-12-31 23:59:59 "));
        // 2100-03-01 00:00:00 UTC: 2100 is not a leap year.
        assert!(line(4_107_542_400, Level::Info, "x").starts_with("2100-03-01 00:00:00 "));
    }

    #[test]
    fn every_day_follows_the_previous_one() {
        // Walk 800 years day by day from 1970 and check each date is the day
        // after the previous one, by the Gregorian month lengths.
        let mut previous = civil_from_days(0);
        assert_eq!(previous, (1970, 1, 1));
        for days in 1..(800 * 366) {
            let (year, month, day) = civil_from_days(days);
            let (p_year, p_month, p_day) = previous;
            let leap = (p_year % 4 == 0 && p_year % 100 != 0) || p_year % 400 == 0;
            let month_length = match p_month {
                4 | 6 | 9 | 11 => 30,
                2 if leap => 29,
                2 => 28,
                _ => 31,
            };
            let expected = if p_day < month_length {
                (p_year, p_month, p_day + 1)
            } else if p_month < 12 {
                (p_year, p_month + 1, 1)
            } else {
                (p_year + 1, 1, 1)
            };
            assert_eq!((year, month, day), expected, "day {days}");
            previous = (year, month, day);
        }
    }
}
