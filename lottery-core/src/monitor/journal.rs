//! The commit journal beside `bets.csv`: what was committed, where, and its
//! checksum chain.
//!
//! `bets.csv` must stay exactly what the course's Python writes (six columns,
//! nothing else), so everything a restart needs besides the bets lives here,
//! one text line a record (format 2; STORE.md has the whole story):
//!
//! ```text
//! lottery-journal 2
//! batch <agency> <batch seq> <bets> <end offset in bets.csv> <chain>
//! adopted <end offset in bets.csv> <chain>
//! finish <agency> <bets> <chain>
//! ```
//!
//! `<chain>` is 64 hex digits: a SHA-256 chain over every record, each link
//! also covering the CRC32C of the committed bytes of `bets.csv` the record
//! describes. A record's link is
//! `SHA-256(previous link ‖ the record's words ‖ CRC32C(its data), big-endian)`,
//! where the words are the line without its chain (`batch 3 7 150 12345`), the
//! data of a `batch` or `adopted` record is the bytes of `bets.csv` from the
//! previous record's end offset to its own (a `finish` has none), and the first
//! link's previous one is `SHA-256("lottery-journal 2\n")`. The last link (the
//! chain head) vouches for the whole committed store: change a byte of a
//! committed row, or a record, and that link and every later one disagree.
//!
//! Why CRC32C for the rows and not SHA-256: hashing every row with SHA-256 cost
//! about 10% of the ingest throughput on this project's machine (BENCHMARKS.md,
//! "Store integrity"), CRC32C (hardware-accelerated) costs nothing measurable.
//! CRC32C catches every accidental change (any burst up to 32 bits, and all
//! others but one in 2^32); what it does not stop is a deliberate edit of rows
//! made to keep their CRC32C. The records themselves (agency, batch, counts,
//! offsets) and their order are under SHA-256.
//!
//! An `adopted` record covers rows taken over from a `bets.csv` that had no
//! journal (written by the course's Python central). Records are appended in
//! the order of the data they describe, so end offsets never decrease, and the
//! journal's valid prefix (every whole line up to the first torn one) names
//! the committed prefix of `bets.csv`: the end offset of its last record.
//!
//! This module never does I/O on its own: it encodes records and reads lines
//! from any reader. Checking the chain against the data is recovery's job.

use std::io::{self, BufRead, BufReader, Read};

use sha2::{Digest as _, Sha256};

use lottery_bet::AgencyId;

/// The first line of every journal: names the format and its version.
pub(crate) const HEADER: &[u8] = b"lottery-journal 2\n";

/// The first line of the journals of format 1 (before checksums).
const HEADER_V1: &[u8] = b"lottery-journal 1\n";

/// A SHA-256 digest: a link of the chain.
pub(crate) type Digest = [u8; 32];

/// The link before the first record.
pub(crate) fn genesis() -> Digest {
    Sha256::digest(HEADER).into()
}

/// The checksum of a batch's rows: CRC32C, big-endian.
pub(crate) type DataSum = [u8; 4];

/// The checksum of `bytes` (a batch's rows; the monitor takes it from the
/// batch's [`lottery_bet::BatchDigest`]).
#[cfg(test)]
pub(crate) fn data_sum(bytes: &[u8]) -> DataSum {
    crc32c::crc32c(bytes).to_be_bytes()
}

/// Hex digits of a digest, lowercase.
pub(crate) fn to_hex(digest: &Digest) -> String {
    let mut text = String::with_capacity(64);
    for byte in digest {
        text.push(char::from(HEX[usize::from(byte >> 4)]));
        text.push(char::from(HEX[usize::from(byte & 15)]));
    }
    text
}

/// The digest written as 64 lowercase hex digits, if `text` is one.
pub(crate) fn from_hex(text: &[u8]) -> Option<Digest> {
    if text.len() != 64 {
        return None;
    }
    let value = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut digest = [0; 32];
    for (i, pair) in text.chunks_exact(2).enumerate() {
        digest[i] = value(pair[0])? << 4 | value(pair[1])?;
    }
    Some(digest)
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// One record of the journal (without its link).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Record {
    /// A batch was committed, and `bets.csv` ends at `end` after it.
    Batch {
        agency: AgencyId,
        batch: u64,
        bets: u64,
        end: u64,
    },
    /// Rows of a `bets.csv` written without a journal were taken over, up to
    /// `end`.
    Adopted { end: u64 },
    /// The agency finished, having `bets` bets stored.
    Finish { agency: AgencyId, bets: u64 },
}

impl Record {
    /// The data length after the record, for records that cover data.
    pub(crate) fn end(&self) -> Option<u64> {
        match *self {
            Record::Batch { end, .. } | Record::Adopted { end } => Some(end),
            Record::Finish { .. } => None,
        }
    }

    /// The record's words: its line without the link and the line end.
    fn words(&self, out: &mut Vec<u8>) {
        let mut text = itoa::Buffer::new();
        let mut number = |out: &mut Vec<u8>, value: u64| {
            out.push(b' ');
            out.extend_from_slice(text.format(value).as_bytes());
        };
        match *self {
            Record::Batch {
                agency,
                batch,
                bets,
                end,
            } => {
                out.extend_from_slice(b"batch");
                for value in [u64::from(agency.get()), batch, bets, end] {
                    number(out, value);
                }
            }
            Record::Adopted { end } => {
                out.extend_from_slice(b"adopted");
                number(out, end);
            }
            Record::Finish { agency, bets } => {
                out.extend_from_slice(b"finish");
                for value in [u64::from(agency.get()), bets] {
                    number(out, value);
                }
            }
        }
    }

    /// The link of this record after `previous`; `data` is the digest of the
    /// bytes it covers (`None` for a finish).
    pub(crate) fn link(&self, previous: &Digest, data: Option<&DataSum>) -> Digest {
        let mut words = Vec::with_capacity(64);
        self.words(&mut words);
        let mut hasher = Sha256::new();
        hasher.update(previous);
        hasher.update(&words);
        if let Some(data) = data {
            hasher.update(data);
        }
        hasher.finalize().into()
    }

    /// Appends the record's line, with its link, to `out` (one per batch the
    /// central stores: no formatting machinery).
    pub(crate) fn encode(&self, link: &Digest, out: &mut Vec<u8>) {
        self.words(out);
        out.push(b' ');
        for byte in link {
            out.push(HEX[usize::from(byte >> 4)]);
            out.push(HEX[usize::from(byte & 15)]);
        }
        out.push(b'\n');
    }

    /// Parses one line (without its `\n`); `None` when it is not a record.
    pub(crate) fn parse(line: &[u8]) -> Option<(Self, Digest)> {
        let line = std::str::from_utf8(line).ok()?;
        let mut words = line.split(' ');
        let kind = words.next()?;
        let mut number = || -> Option<u64> {
            let word = words.next()?;
            if word.is_empty() || !word.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            word.parse().ok()
        };
        let mut agency =
            || -> Option<AgencyId> { AgencyId::new(u32::try_from(number()?).ok()?).ok() };
        let record = match kind {
            "batch" => Record::Batch {
                agency: agency()?,
                batch: number()?,
                bets: number()?,
                end: number()?,
            },
            "adopted" => Record::Adopted { end: number()? },
            "finish" => Record::Finish {
                agency: agency()?,
                bets: number()?,
            },
            _ => return None,
        };
        let link = from_hex(words.next()?.as_bytes())?;
        words.next().is_none().then_some((record, link))
    }
}

/// One line of a journal, as read.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Line {
    /// A whole record: its place (line number from 1) and bytes (with `\n`).
    Record {
        record: Record,
        link: Digest,
        line: u64,
        len: u64,
    },
    /// The end of the journal's whole lines: what follows (`torn` bytes, if
    /// any) is a torn or damaged last line, which a crash can leave.
    End { torn: u64 },
}

/// Why a journal cannot be used.
#[derive(Debug)]
pub(crate) enum ReadError {
    Io(io::Error),
    /// A damaged line that is not the last one (or a broken header).
    Damaged {
        line: u64,
        problem: String,
    },
    /// The journal is of format 1 (written before the store kept checksums).
    OldFormat,
}

impl From<io::Error> for ReadError {
    fn from(error: io::Error) -> Self {
        Self::Io(error)
    }
}

/// Reads a journal's lines, one record at a time.
pub(crate) struct JournalLines<R: Read> {
    lines: BufReader<R>,
    line: Vec<u8>,
    number: u64,
    ended: bool,
}

impl<R: Read> JournalLines<R> {
    /// Checks the header of `journal` and gets ready to read its records.
    pub(crate) fn new(journal: R) -> Result<Self, ReadError> {
        let mut lines = BufReader::new(journal);
        let mut line = Vec::new();
        lines.read_until(b'\n', &mut line)?;
        if line == HEADER_V1 {
            return Err(ReadError::OldFormat);
        }
        if line != HEADER {
            return Err(ReadError::Damaged {
                line: 1,
                problem: "the first line is not `lottery-journal 2`".to_owned(),
            });
        }
        Ok(Self {
            lines,
            line,
            number: 1,
            ended: false,
        })
    }

    /// The next line: a whole record, or the end (after which `None`).
    pub(crate) fn next_line(&mut self) -> Result<Option<Line>, ReadError> {
        if self.ended {
            return Ok(None);
        }
        self.line.clear();
        self.number += 1;
        let read = self.lines.read_until(b'\n', &mut self.line)?;
        let parsed = self.line.strip_suffix(b"\n").and_then(Record::parse);
        let Some((record, link)) = parsed else {
            // Only the last line may be torn or damaged (a torn write padded
            // by the file system); a damaged line with more after it is
            // corruption.
            if read > 0 && self.line.ends_with(b"\n") && !self.lines.fill_buf()?.is_empty() {
                return Err(ReadError::Damaged {
                    line: self.number,
                    problem: format!(
                        "not a record: {:?}",
                        String::from_utf8_lossy(&self.line[..self.line.len() - 1])
                    ),
                });
            }
            self.ended = true;
            return Ok(Some(Line::End { torn: read as u64 }));
        };
        Ok(Some(Line::Record {
            record,
            link,
            line: self.number,
            len: read as u64,
        }))
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
        let mut link = genesis();
        for record in records {
            link = record.link(&link, None);
            record.encode(&link, &mut bytes);
        }
        bytes
    }

    fn lines(bytes: &[u8]) -> Result<Vec<Line>, ReadError> {
        let mut reader = JournalLines::new(bytes)?;
        let mut lines = Vec::new();
        while let Some(line) = reader.next_line()? {
            lines.push(line);
        }
        Ok(lines)
    }

    #[test]
    fn records_round_trip_through_their_lines() {
        let link = genesis();
        let records = [
            Record::Batch {
                agency: agency(3),
                batch: 7,
                bets: 150,
                end: 12_345,
            },
            Record::Adopted { end: 99 },
            Record::Finish {
                agency: agency(3),
                bets: 1050,
            },
        ];
        for record in records {
            let mut line = Vec::new();
            record.encode(&link, &mut line);
            assert_eq!(
                Record::parse(line.strip_suffix(b"\n").unwrap()),
                Some((record, link))
            );
        }
        let hex = to_hex(&link);
        for bad in [
            format!("batch 0 1 1 1 {hex}"),
            format!("batch 1 1 1 {hex}"),
            format!("batch 1 1 1 1 1 {hex}"),
            format!("batch 1 +1 1 1 {hex}"),
            "batch 1 1 1 1".to_owned(),
            format!("batch 1 1 1 1 {}", &hex[1..]),
            format!("batch 1 1 1 1 {}", hex.to_uppercase()),
            format!("finish 1 {hex}"),
            format!("adopted {hex}"),
            "\0\0\0".to_owned(),
            String::new(),
        ] {
            assert_eq!(Record::parse(bad.as_bytes()), None, "{bad:?}");
        }
    }

    #[test]
    fn a_link_depends_on_the_previous_link_the_words_and_the_data() {
        let record = Record::Batch {
            agency: agency(1),
            batch: 1,
            bets: 2,
            end: 100,
        };
        let start = genesis();
        let data = data_sum(b"rows");
        let link = record.link(&start, Some(&data));
        assert_ne!(link, record.link(&link, Some(&data)));
        assert_ne!(link, record.link(&start, Some(&data_sum(b"rowz"))));
        assert_ne!(link, record.link(&start, None));
        let other = Record::Batch {
            agency: agency(1),
            batch: 1,
            bets: 3,
            end: 100,
        };
        assert_ne!(link, other.link(&start, Some(&data)));
        assert_eq!(from_hex(to_hex(&link).as_bytes()), Some(link));
    }

    #[test]
    fn a_damaged_line_in_the_middle_is_corruption_but_at_the_end_is_a_torn_tail() {
        let record = Record::Finish {
            agency: agency(1),
            bets: 2,
        };
        let mut bytes = journal(&[record]);
        let whole = lines(&bytes).unwrap();
        assert!(matches!(
            whole[..],
            [Line::Record { line: 2, .. }, Line::End { torn: 0 }]
        ));
        bytes.extend_from_slice(b"\0\0\0\0\n");
        assert!(matches!(lines(&bytes).unwrap()[1], Line::End { torn: 5 }));
        let mut torn = bytes.clone();
        torn.truncate(bytes.len() - 1);
        assert!(matches!(lines(&torn).unwrap()[1], Line::End { torn: 4 }));
        bytes.extend_from_slice(b"finish 1 2\n");
        assert!(matches!(
            lines(&bytes),
            Err(ReadError::Damaged { line: 3, .. })
        ));
    }

    #[test]
    fn a_journal_of_format_one_is_recognised_and_a_strange_header_refused() {
        assert!(matches!(
            lines(b"lottery-journal 1\nbatch 1 1 2 100\n"),
            Err(ReadError::OldFormat)
        ));
        assert!(matches!(
            lines(b"lottery-journal 3\n"),
            Err(ReadError::Damaged { line: 1, .. })
        ));
    }
}
