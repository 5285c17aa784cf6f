//! The agency's history (`lottery-agency --history FILE`): what one run of
//! the program did, as JSON lines appended to `FILE`, so that a checker
//! (`lottery-chaos`) can compare what the central acknowledged with what it
//! stored, across kills and restarts of the agency.
//!
//! One JSON object a line, each with `t_ms` (milliseconds since the Unix
//! epoch), `pid` (the process, so that the runs of a restarted agency are
//! told apart), `agency` and `event`:
//!
//! | `event` | further keys | written when |
//! |---|---|---|
//! | `loaded` | `bets` | the input was read and checked, before connecting |
//! | `stored` | `bets` | the central acknowledged a batch: the first `bets` bets of the input are stored (a running total, resume point included) |
//! | `sent` | `bets` | every bet is acknowledged |
//! | `finished` | | the central took the finish |
//! | `winners` | `documents` (array of strings) | the central answered the winners |
//! | `exit` | `result` (`success` or `fail`), `error` (when `fail`) | the session ended |
//!
//! Each line is written with one `write` call on a file opened for
//! appending, so a killed agency leaves at most a torn last line, which
//! readers skip. A history that cannot be written never stops the agency: the
//! first failure is logged and the history is dropped.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use lottery_bet::AgencyId;
use serde::{Deserialize, Serialize};

/// One event of a history line, its `event` key naming the variant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum HistoryEvent {
    /// The input holds `bets` valid bets.
    Loaded {
        /// Bets in the input.
        bets: u64,
    },
    /// The first `bets` bets of the input are acknowledged as stored.
    Stored {
        /// Running total of bets stored.
        bets: u64,
    },
    /// Every one of the `bets` bets is acknowledged.
    Sent {
        /// Bets sent.
        bets: u64,
    },
    /// The central took the finish.
    Finished,
    /// The central's winners answer.
    Winners {
        /// The winning documents, in the order received.
        documents: Vec<String>,
    },
    /// The session ended.
    Exit {
        /// `success` or `fail`.
        result: String,
        /// What failed, when `result` is `fail`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
}

/// One line of a history file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryLine {
    /// Milliseconds since the Unix epoch.
    pub t_ms: u64,
    /// The agency program's process id.
    pub pid: u32,
    /// The agency.
    pub agency: u32,
    /// What happened.
    #[serde(flatten)]
    pub event: HistoryEvent,
}

/// Appends history lines to a file; a no-op without one.
#[derive(Debug)]
pub struct HistoryWriter {
    file: Option<(PathBuf, File)>,
    agency: AgencyId,
}

impl HistoryWriter {
    /// A writer appending to `path` (created if missing), or one that
    /// writes nothing when `path` is `None`.
    ///
    /// # Errors
    /// The file cannot be opened for appending.
    pub fn open(path: Option<&Path>, agency: AgencyId) -> std::io::Result<Self> {
        let file = match path {
            Some(path) => Some((
                path.to_path_buf(),
                OpenOptions::new().create(true).append(true).open(path)?,
            )),
            None => None,
        };
        Ok(Self { file, agency })
    }

    /// Appends `event` as one line. A write that fails is logged once and
    /// the history is dropped: the agency's job matters more than its diary.
    pub fn record(&mut self, event: HistoryEvent) {
        let Some((path, file)) = &mut self.file else {
            return;
        };
        let line = HistoryLine {
            t_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |elapsed| {
                    u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
                }),
            pid: std::process::id(),
            agency: self.agency.get(),
            event,
        };
        let mut text = serde_json::to_string(&line).expect("a history line serializes");
        text.push('\n');
        if let Err(error) = file.write_all(text.as_bytes()) {
            super::log::history_failed(self.agency, path, &error);
            self.file = None;
        }
    }
}

/// The lines of a history file's text, skipping a torn or unreadable line
/// (a kill in the middle of a write leaves at most the last one torn).
pub fn parse_history(text: &str) -> Vec<HistoryLine> {
    text.lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip_and_torn_lines_are_skipped() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("history.jsonl");
        let agency = AgencyId::new(3).expect("a valid id");
        let mut writer = HistoryWriter::open(Some(&path), agency).expect("open");
        writer.record(HistoryEvent::Loaded { bets: 10 });
        writer.record(HistoryEvent::Stored { bets: 4 });
        writer.record(HistoryEvent::Winners {
            documents: vec!["0123".into()],
        });
        writer.record(HistoryEvent::Exit {
            result: "success".into(),
            error: None,
        });
        let mut text = std::fs::read_to_string(&path).expect("read");
        text.push_str("{\"t_ms\":1,\"pid\":2,\"agen");
        let lines = parse_history(&text);
        let events: Vec<_> = lines.iter().map(|line| line.event.clone()).collect();
        assert_eq!(
            events,
            [
                HistoryEvent::Loaded { bets: 10 },
                HistoryEvent::Stored { bets: 4 },
                HistoryEvent::Winners {
                    documents: vec!["0123".into()]
                },
                HistoryEvent::Exit {
                    result: "success".into(),
                    error: None
                },
            ]
        );
        assert!(lines.iter().all(|line| line.agency == 3));
        assert!(text.contains("\"event\":\"stored\",\"bets\":4"));
    }
}
