//! The kinds of fault a chaos run injects, how `--faults` names them, and
//! the log of those it injected (each with its time, so a failure can be
//! read against it).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// One kind of fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum FaultKind {
    /// SIGKILL a central, then start it again on the same store and port
    /// (during ingest, or just as the last finish arrives, before the draw).
    Kill,
    /// SIGSTOP a central, SIGCONT it later (pauses up to longer than the
    /// central's idle timeout and the agencies' patience).
    Stop,
    /// SIGKILL an agency, then start it again: it must resume.
    AgencyKill,
    /// SIGSTOP an agency, SIGCONT it later (past the central's idle timeout).
    AgencyStop,
    /// Restart the PostgreSQL cluster (`pg_ctl restart -m fast` or
    /// `-m immediate`); PostgreSQL runs only.
    PgRestart,
    /// A second connection for a live agency, resending its first batch with
    /// other bets: the central must refuse it, never acknowledge it.
    SecondConn,
    /// A hostile peer: garbage frames, or a slowloris that sends its
    /// handshake one byte at a time, or one that connects and says nothing.
    Hostile,
    /// The disk of a file store full for a while (the store on a small
    /// tmpfs, filled, then freed); skipped, with the reason, where the run
    /// cannot mount one.
    DiskFull,
}

impl FaultKind {
    /// Every kind, in table order.
    pub const ALL: [FaultKind; 8] = [
        Self::Kill,
        Self::Stop,
        Self::AgencyKill,
        Self::AgencyStop,
        Self::PgRestart,
        Self::SecondConn,
        Self::Hostile,
        Self::DiskFull,
    ];

    /// Its name in `--faults` and in the table.
    pub fn name(self) -> &'static str {
        match self {
            Self::Kill => "kill",
            Self::Stop => "stop",
            Self::AgencyKill => "agency-kill",
            Self::AgencyStop => "agency-stop",
            Self::PgRestart => "pg-restart",
            Self::SecondConn => "second-conn",
            Self::Hostile => "hostile",
            Self::DiskFull => "disk-full",
        }
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for FaultKind {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.name() == text)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|kind| kind.name()).collect();
                format!(
                    "unknown fault `{text}` (known: {}, or all)",
                    names.join(", ")
                )
            })
    }
}

/// Parses `--faults`: kinds separated by commas, or `all`.
///
/// # Errors
/// An unknown kind, or an empty list.
pub fn parse_faults(text: &str) -> Result<Vec<FaultKind>, String> {
    let mut kinds = Vec::new();
    for name in text
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
    {
        if name == "all" {
            kinds.extend(FaultKind::ALL);
        } else {
            kinds.push(name.parse()?);
        }
    }
    kinds.sort();
    kinds.dedup();
    if kinds.is_empty() {
        return Err("no fault named (say `all`, or e.g. `kill,stop`)".into());
    }
    Ok(kinds)
}

/// Parses a duration: a number with `ms`, `s`, `m` or `h` (`90s`, `2h`,
/// `1.5m`); a bare number is seconds.
///
/// # Errors
/// What is not such a duration.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration (e.g. 90s, 30m, 2h)"))?;
    let seconds = match unit {
        "ms" => number / 1000.0,
        "" | "s" => number,
        "m" | "min" => number * 60.0,
        "h" => number * 3600.0,
        _ => return Err(format!("`{text}`: unknown unit `{unit}` (ms, s, m or h)")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|error| format!("`{text}`: {error}"))
}

/// One fault injected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Injected {
    /// Since the run started.
    pub at: Duration,
    /// The lottery it hit.
    pub lottery: usize,
    /// What kind.
    pub kind: FaultKind,
    /// What it hit and how (`central-1 killed, restarted after 120 ms`).
    pub detail: String,
}

impl fmt::Display for Injected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:>9.3} s  lottery {}  {:<12} {}",
            self.at.as_secs_f64(),
            self.lottery,
            self.kind.name(),
            self.detail
        )
    }
}

/// Faults injected, counted by kind.
pub fn count_by_kind(faults: &[Injected]) -> BTreeMap<FaultKind, usize> {
    let mut counts = BTreeMap::new();
    for fault in faults {
        *counts.entry(fault.kind).or_insert(0) += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_lists_parse_and_unknown_kinds_are_named() {
        assert_eq!(
            parse_faults("stop, kill,stop").expect("valid"),
            [FaultKind::Kill, FaultKind::Stop]
        );
        assert_eq!(parse_faults("all").expect("valid"), FaultKind::ALL);
        let error = parse_faults("kill,flood").expect_err("unknown");
        assert!(
            error.contains("`flood`") && error.contains("agency-kill"),
            "{error}"
        );
        assert!(parse_faults(" , ").is_err());
    }

    #[test]
    fn durations_take_their_units() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("1.5m"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("12"), Ok(Duration::from_secs(12)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("3d").is_err());
    }
}
