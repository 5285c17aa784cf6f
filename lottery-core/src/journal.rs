//! The commit journal beside `bets.csv`: what was committed, and where.
//!
//! `bets.csv` must stay exactly what the course's Python writes (six columns,
//! nothing else), so everything a restart needs besides the bets lives here,
//! one text line a record:
//!
//! ```text
//! lottery-journal 1
//! batch <agency> <batch seq> <bets> <end offset in bets.csv>
//! finish <agency> <bets>
//! ```
//!
//! A `batch` record with sequence 0 stands for rows adopted from a `bets.csv`
//! that had no journal. Records are appended in the order of the data they
//! describe, so end offsets never decrease, and the journal's valid prefix
//! (every whole line up to the first torn one) names the committed prefix of
//! `bets.csv`: the end offset of its last `batch` record.
//!
//! This module never does I/O on its own: it encodes records and reads a
//! journal from any reader.

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Read};

use crate::bet::AgencyId;
use crate::ledger::AgencyRecord;

/// The first line of every journal: names the format and its version.
pub(crate) const HEADER: &[u8] = b"lottery-journal 1\n";

/// One line of the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Record {
    /// A batch was committed, and `bets.csv` ends at `end` after it.
    Batch {
        agency: AgencyId,
        batch: u64,
        bets: u64,
        end: u64,
    },
    /// The agency finished, having `bets` bets stored.
    Finish { agency: AgencyId, bets: u64 },
}

impl Record {
    /// Appends the record's line to `out` (one per batch the central
    /// stores: no allocation, no formatting machinery).
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        let (kind, agency, numbers) = match *self {
            Record::Batch {
                agency,
                batch,
                bets,
                end,
            } => ("batch", agency, &[batch, bets, end][..]),
            Record::Finish { agency, bets } => ("finish", agency, &[bets][..]),
        };
        let mut text = itoa::Buffer::new();
        out.extend_from_slice(kind.as_bytes());
        out.push(b' ');
        out.extend_from_slice(text.format(agency.get()).as_bytes());
        for &number in numbers {
            out.push(b' ');
            out.extend_from_slice(text.format(number).as_bytes());
        }
        out.push(b'\n');
    }

    /// Parses one line (without its `\n`); `None` when it is not a record.
    fn parse(line: &[u8]) -> Option<Self> {
        let line = std::str::from_utf8(line).ok()?;
        let mut words = line.split(' ');
        let kind = words.next()?;
        let agency: AgencyId = words.next()?.parse().ok()?;
        let mut number = || -> Option<u64> {
            let word = words.next()?;
            if word.is_empty() || !word.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            word.parse().ok()
        };
        let record = match kind {
            "batch" => Record::Batch {
                agency,
                batch: number()?,
                bets: number()?,
                end: number()?,
            },
            "finish" => Record::Finish {
                agency,
                bets: number()?,
            },
            _ => return None,
        };
        words.next().is_none().then_some(record)
    }
}

/// What a journal says, once read.
#[derive(Debug, Default)]
pub(crate) struct Replay {
    /// Bytes of the journal that hold whole, usable records (what to keep).
    pub(crate) valid_len: u64,
    /// The committed length of `bets.csv`.
    pub(crate) committed_end: u64,
    /// Per-agency totals.
    pub(crate) agencies: BTreeMap<AgencyId, AgencyRecord>,
}

/// Why a journal cannot be used.
#[derive(Debug)]
pub(crate) enum ReplayError {
    Io(io::Error),
    /// A damaged line that is not the last one (or a broken header).
    Damaged {
        line: u64,
        problem: String,
    },
}

impl From<io::Error> for ReplayError {
    fn from(error: io::Error) -> Self {
        Self::Io(error)
    }
}

/// Reads a journal. `data_len` is the length of `bets.csv`: records pointing
/// beyond it describe data lost in a power cut (possible with durability
/// `none` or `flush`), so they and everything after them are dropped.
pub(crate) fn replay(journal: impl Read, data_len: u64) -> Result<Replay, ReplayError> {
    let mut lines = BufReader::new(journal);
    let mut line = Vec::new();
    lines.read_until(b'\n', &mut line)?;
    if line != HEADER {
        return Err(ReplayError::Damaged {
            line: 1,
            problem: "the first line is not `lottery-journal 1`".to_owned(),
        });
    }
    let mut replay = Replay {
        valid_len: HEADER.len() as u64,
        ..Replay::default()
    };
    let mut number = 1;
    loop {
        line.clear();
        number += 1;
        if lines.read_until(b'\n', &mut line)? == 0 {
            return Ok(replay);
        }
        let Some(whole) = line.strip_suffix(b"\n") else {
            // Torn: the crash hit while this record was being written.
            return Ok(replay);
        };
        let Some(record) = Record::parse(whole) else {
            // Only the last line may be damaged (a torn write padded by the
            // file system); a damaged line with more after it is corruption.
            if lines.fill_buf()?.is_empty() {
                return Ok(replay);
            }
            return Err(ReplayError::Damaged {
                line: number,
                problem: format!("not a record: {:?}", String::from_utf8_lossy(whole)),
            });
        };
        match record {
            Record::Batch {
                agency,
                batch,
                bets,
                end,
            } => {
                if end < replay.committed_end {
                    return Err(ReplayError::Damaged {
                        line: number,
                        problem: format!(
                            "end offset {end} is before the previous one {}",
                            replay.committed_end
                        ),
                    });
                }
                if end > data_len {
                    return Ok(replay);
                }
                let entry = replay.agencies.entry(agency).or_default();
                entry.bets += bets;
                entry.last_batch = entry.last_batch.max(batch);
                replay.committed_end = end;
            }
            Record::Finish { agency, .. } => {
                replay.agencies.entry(agency).or_default().finished = true;
            }
        }
        replay.valid_len += line.len() as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agency(id: u32) -> AgencyId {
        AgencyId::new(id).unwrap()
    }

    fn journal(records: &[Record]) -> Vec<u8> {
        let mut bytes = HEADER.to_vec();
        for record in records {
            record.encode(&mut bytes);
        }
        bytes
    }

    #[test]
    fn records_round_trip_through_their_lines() {
        let records = [
            Record::Batch {
                agency: agency(3),
                batch: 7,
                bets: 150,
                end: 12_345,
            },
            Record::Finish {
                agency: agency(3),
                bets: 1050,
            },
        ];
        for record in records {
            let mut line = Vec::new();
            record.encode(&mut line);
            assert_eq!(
                Record::parse(line.strip_suffix(b"\n").unwrap()),
                Some(record)
            );
        }
        for bad in [
            &b"batch 0 1 1 1"[..],
            b"batch 1 1 1",
            b"batch 1 1 1 1 1",
            b"batch 1 +1 1 1",
            b"finish 1",
            b"\0\0\0",
            b"",
        ] {
            assert_eq!(Record::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn replay_sums_per_agency_and_drops_records_beyond_the_data() {
        let bytes = journal(&[
            Record::Batch {
                agency: agency(1),
                batch: 1,
                bets: 2,
                end: 100,
            },
            Record::Batch {
                agency: agency(2),
                batch: 1,
                bets: 3,
                end: 250,
            },
            Record::Finish {
                agency: agency(1),
                bets: 2,
            },
            Record::Batch {
                agency: agency(2),
                batch: 2,
                bets: 1,
                end: 300,
            },
        ]);
        let replay = replay(&bytes[..], 299).unwrap();
        assert_eq!(replay.committed_end, 250);
        let first = replay.agencies[&agency(1)];
        assert_eq!((first.bets, first.last_batch, first.finished), (2, 1, true));
        let second = replay.agencies[&agency(2)];
        assert_eq!(
            (second.bets, second.last_batch, second.finished),
            (3, 1, false)
        );
        let kept = b"lottery-journal 1\nbatch 1 1 2 100\nbatch 2 1 3 250\nfinish 1 2\n";
        assert_eq!(replay.valid_len, kept.len() as u64);
    }

    #[test]
    fn a_damaged_line_in_the_middle_is_corruption_but_at_the_end_is_a_torn_tail() {
        let mut bytes = journal(&[Record::Batch {
            agency: agency(1),
            batch: 1,
            bets: 2,
            end: 100,
        }]);
        let whole = bytes.len() as u64;
        bytes.extend_from_slice(b"\0\0\0\0\n");
        assert_eq!(replay(&bytes[..], 100).unwrap().valid_len, whole);
        bytes.extend_from_slice(b"finish 1 2\n");
        assert!(matches!(
            replay(&bytes[..], 100),
            Err(ReplayError::Damaged { line: 3, .. })
        ));
    }
}
