//! Reading a store without changing it: what it holds, whether its checksums
//! hold, and what a crash left beyond its committed part.
//!
//! Both opening a store (recovery, which then repairs what a crash can leave)
//! and `lottery-admin verify` (which only reports) start here. The whole
//! committed region is read once, in a streaming pass: every journal record's
//! rows are parsed (they must be the record's agency's, as many as it says)
//! and checksummed (CRC32C), and the record's link of the SHA-256 chain
//! recomputed. Any
//! mismatch is an error naming the record, and nothing has been changed.
//!
//! The cases, decided from which files exist (STORE.md tells why each is
//! what it is):
//!
//! | manifest | journal | `bets.csv` | what it is |
//! |---|---|---|---|
//! | none, or without rules | none | empty | a new store |
//! | none, or without rules | none | rows | a course store to adopt (or an adoption a crash cut short) |
//! | with rules | none | empty | a new store a crash cut short |
//! | with rules | none | rows | refused: the journal is missing |
//! | none | present | any | refused: the manifest is missing |
//! | present | present | any | replayed and checked |

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::path::Path;

use lottery_bet::{AgencyId, BatchDigest, StoreRows};

use crate::error::StoreError;
use crate::lottery::ledger::AgencyRecord;
use crate::monitor::journal::{DataSum, Digest, JournalLines, Line, ReadError, Record, genesis};
use crate::monitor::manifest::Manifest;

/// What a store is made of, to be read: its data, journal and manifest.
pub(crate) struct Sources {
    /// `bets.csv`, from its start.
    pub(crate) data: Box<dyn Read + Send>,
    pub(crate) data_len: u64,
    /// The journal, from its start, and its length.
    pub(crate) journal: Option<(Box<dyn Read + Send>, u64)>,
    pub(crate) manifest: Option<Vec<u8>>,
    /// Keep every record and its link ([`Inspection::chain_records`]).
    pub(crate) keep_chain: bool,
}

/// What kind of store was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Nothing stored yet: a journal is to be started.
    New,
    /// Rows without a journal: to be adopted up to `committed_end`.
    Adopt,
    /// A journal, replayed.
    Journal,
}

/// What reading a store found, before any repair.
#[derive(Debug, Clone)]
pub(crate) struct Inspection {
    pub(crate) kind: Kind,
    /// The manifest as found (empty for a new or course store).
    pub(crate) manifest: Manifest,
    /// Per agency: bets, last batch, finished.
    pub(crate) agencies: BTreeMap<AgencyId, AgencyRecord>,
    /// Per agency: how many batch records.
    pub(crate) batches: BTreeMap<AgencyId, u64>,
    /// Per agency: the digest of each committed batch, in journal order.
    pub(crate) digests: BTreeMap<AgencyId, Vec<BatchDigest>>,
    /// Per agency: committed bets that play the manifest's winning number
    /// (none counted without rules): what a recorded draw must say.
    pub(crate) winners: BTreeMap<AgencyId, u64>,
    /// Where the committed data ends (what the journal covers, or the last
    /// whole line of a store to adopt).
    pub(crate) committed_end: u64,
    /// The chain's head: the link of the last valid record (or, for a store
    /// to adopt, of the `adopted` record to write).
    pub(crate) chain: Digest,
    /// How many records the chain holds (for a store to adopt: 1, the
    /// `adopted` record to write).
    pub(crate) records: u64,
    /// Every valid record with its link, in journal order: kept only when
    /// [`Sources::keep_chain`] asks (`lottery-admin verify` checks receipts
    /// against them; a central opening a store needs only the count).
    pub(crate) chain_records: Vec<(Record, Digest)>,
    pub(crate) data_len: u64,
    /// The journal's bytes that hold valid records (0 without a journal).
    pub(crate) journal_valid_len: u64,
    pub(crate) journal_len: u64,
}

impl Inspection {
    /// Bytes of `bets.csv` beyond the committed part (a crash's tail).
    pub(crate) fn data_tail(&self) -> u64 {
        self.data_len - self.committed_end
    }

    /// Bytes of the journal beyond its valid records (a torn last line, or
    /// records naming data a power cut took).
    pub(crate) fn journal_tail(&self) -> u64 {
        self.journal_len - self.journal_valid_len
    }
}

/// Reads the store's files and checks them; changes nothing. The journal's
/// last records may name rows a crash took (every durability: with `fsync`
/// the last group's journal sync may end before its data sync, STORE.md):
/// from the first record whose rows are beyond the end of `bets.csv` or
/// zeros, every record is the journal's tail, provided that every later
/// record's rows are missing too (else that is damage, not a crash).
///
/// # Errors
/// [`StoreError::Inconsistent`], [`StoreError::Checksum`],
/// [`StoreError::Journal`], [`StoreError::Corrupt`] or [`StoreError::Io`], as
/// found.
pub(crate) fn inspect(sources: Sources, path: &Path) -> Result<Inspection, StoreError> {
    let manifest = match &sources.manifest {
        Some(bytes) => {
            Some(
                Manifest::parse(bytes).map_err(|problem| StoreError::Inconsistent {
                    path: path.to_path_buf(),
                    problem: format!("its manifest (bets.csv.lottery) is damaged: {problem}"),
                    remedy: "restore bets.csv.lottery from a backup",
                })?,
            )
        }
        None => None,
    };
    let has_rules = manifest.as_ref().is_some_and(|m| m.rules.is_some());
    let mut inspection = Inspection {
        kind: Kind::New,
        manifest: manifest.clone().unwrap_or_default(),
        agencies: BTreeMap::new(),
        batches: BTreeMap::new(),
        digests: BTreeMap::new(),
        winners: BTreeMap::new(),
        committed_end: 0,
        chain: genesis(),
        records: 0,
        chain_records: Vec::new(),
        data_len: sources.data_len,
        journal_valid_len: 0,
        journal_len: 0,
    };
    match (manifest, sources.journal) {
        (None, None) => {
            if sources.data_len > 0 {
                adopt(sources.data, &mut inspection, path)?;
            }
            Ok(inspection)
        }
        (Some(manifest), None) if !has_rules && manifest.draw.is_none() => {
            // A new store, or an adoption a crash cut short (the manifest is
            // written first): no central has used it yet.
            if sources.data_len > 0 {
                adopt(sources.data, &mut inspection, path)?;
            }
            Ok(inspection)
        }
        (Some(manifest), None) => {
            if sources.data_len > 0 || manifest.draw.is_some() {
                return Err(inconsistent(
                    path,
                    "its journal (bets.csv.journal) is missing".to_owned(),
                    "restore bets.csv.journal from a backup; `lottery-admin verify` checks the result",
                ));
            }
            Ok(inspection)
        }
        (None, Some(_)) => Err(inconsistent(
            path,
            "its manifest (bets.csv.lottery) is missing, its journal is there".to_owned(),
            "restore bets.csv.lottery from a backup",
        )),
        (Some(manifest), Some((journal, journal_len))) => {
            inspection.kind = Kind::Journal;
            inspection.journal_len = journal_len;
            replay(
                journal,
                sources.data,
                &mut inspection,
                path,
                sources.keep_chain,
            )?;
            check_draw(&manifest, &inspection, path)?;
            Ok(inspection)
        }
    }
}

fn inconsistent(path: &Path, problem: String, remedy: &'static str) -> StoreError {
    StoreError::Inconsistent {
        path: path.to_path_buf(),
        problem,
        remedy,
    }
}

/// A drawn store must be whole up to its draw and hold nothing after it.
fn check_draw(manifest: &Manifest, inspection: &Inspection, path: &Path) -> Result<(), StoreError> {
    let Some(draw) = &manifest.draw else {
        return Ok(());
    };
    if inspection.committed_end != draw.end || inspection.chain != draw.chain {
        return Err(inconsistent(
            path,
            format!(
                "its draw covers {} bytes of bets.csv, its journal vouches for {} (or for other bytes): the journal was cut or replaced after the draw",
                draw.end, inspection.committed_end
            ),
            "restore bets.csv.journal from a backup; a drawn lottery is never drawn again",
        ));
    }
    if inspection.data_tail() > 0 || inspection.journal_tail() > 0 {
        return Err(inconsistent(
            path,
            "bytes were written after its draw".to_owned(),
            "restore the store from a backup; a drawn lottery takes no more bets",
        ));
    }
    Ok(())
}

/// Replays the journal over the data, checking every record's rows and link.
///
/// A record whose rows are not on disk (they end beyond the data, or hold
/// zero bytes, which no row holds: blocks a crash left unwritten) starts the
/// journal's tail. A crash explains that only for the last records: the
/// replay goes on reading, and a later record whose rows are on disk means
/// the earlier ones were damaged after their commit, refused with the first
/// one's error. Rows that are all there but fail their checks (they do not
/// parse, are another agency's or not as many, or their CRC32C disagrees
/// with the link) are refused at once: a crash does not write other rows.
fn replay(
    journal: Box<dyn Read + Send>,
    mut data: Box<dyn Read + Send>,
    inspection: &mut Inspection,
    path: &Path,
    keep_chain: bool,
) -> Result<(), StoreError> {
    let read_error = |error: ReadError| match error {
        ReadError::Io(source) => StoreError::io_at(path, "read the journal of")(source),
        ReadError::Damaged { line, problem } => StoreError::Journal {
            path: path.to_path_buf(),
            line,
            problem,
        },
        ReadError::OldFormat => inconsistent(
            path,
            "its journal is of format 1, written by a version without checksums".to_owned(),
            "move bets.csv.journal and bets.csv.lottery away to adopt bets.csv as a course store (batch numbers restart), or keep using the version that wrote it",
        ),
    };
    let mut lines = JournalLines::new(journal).map_err(read_error)?;
    inspection.journal_valid_len = crate::monitor::journal::HEADER.len() as u64;
    let mut rows_before = 0u64;
    // Once a record failed: its error, and where the records read since
    // end (their rows are read only to see whether they match).
    let mut failed: Option<StoreError> = None;
    let mut end_read = 0u64;
    let mut previous_link = inspection.chain;
    while let Some(line) = lines.next_line().map_err(read_error)? {
        let Line::Record {
            record,
            link,
            line,
            len,
        } = line
        else {
            break;
        };
        let after = previous_link;
        previous_link = link;
        // The first line of bets.csv the record covers, for messages.
        let data_line = rows_before + 1;
        let mut region_len = 0;
        let mut region = None;
        if let Some(end) = record.end() {
            if end < end_read {
                return Err(StoreError::Journal {
                    path: path.to_path_buf(),
                    line,
                    problem: format!("end offset {end} is before the previous one {end_read}"),
                });
            }
            if end > inspection.data_len {
                // The rows it names are not all on disk: a crash took them
                // before they were durable, so it was never acked. It and
                // every later record (whose rows end later still) are the
                // journal's tail.
                break;
            }
            region_len = end - end_read;
            let checked = check_region(
                &mut data,
                region_len,
                &record,
                rows_before,
                line,
                inspection,
                path,
            );
            end_read = end;
            match checked {
                Err((error @ StoreError::Io { .. }, _)) => return Err(error),
                // Zeros where its rows should be: blocks the file system
                // gave the file but the crash kept the rows from. Not on
                // disk either, never acked.
                Err((error, true)) => {
                    failed.get_or_insert(error);
                    continue;
                }
                Err((error, false)) => return Err(failed.unwrap_or(error)),
                Ok(checked) => region = Some(checked),
            }
        }
        let data_digest = region.as_ref().map(|(digest, _, _)| *digest);
        if record.link(&after, data_digest.as_ref()) != link {
            let (agency, batch) = match record {
                Record::Batch { agency, batch, .. } => (Some(agency), batch),
                Record::Finish { agency, .. } => (Some(agency), 0),
                Record::Adopted { .. } => (None, 0),
            };
            // Whole rows that are not those summed: changed after their
            // commit (a crash leaves rows missing or zeros, not other rows).
            return Err(failed.unwrap_or(StoreError::Checksum {
                path: path.to_path_buf(),
                agency,
                batch,
                journal_line: line,
                data_line,
            }));
        }
        if let Some(error) = failed.take() {
            if region.is_some() {
                // Rows on disk after rows that are not: no crash leaves that
                // (the records of a group follow its data's order, and the
                // next group's are written after this one's data sync).
                return Err(error);
            }
            // A finish after the missing rows: part of the tail.
            failed = Some(error);
            continue;
        }
        if let Some((_, rows, counted)) = region {
            rows_before += rows;
            inspection.committed_end = end_read;
            counted.apply(inspection);
        }
        if let (Record::Batch { agency, bets, .. }, Some(sum)) = (record, data_digest) {
            // What a resend of the batch is checked against (see the
            // `digest` module): the CRC32C just checked, kept.
            let digest = BatchDigest::from_parts(u32::from_be_bytes(sum), region_len, bets);
            inspection.digests.entry(agency).or_default().push(digest);
        }
        apply(&record, inspection);
        inspection.chain = link;
        inspection.records += 1;
        if keep_chain {
            inspection.chain_records.push((record, link));
        }
        inspection.journal_valid_len += len;
    }
    Ok(())
}

/// Counts a checked record into the per-agency books.
fn apply(record: &Record, inspection: &mut Inspection) {
    match *record {
        Record::Batch {
            agency,
            batch,
            bets,
            ..
        } => {
            let entry = inspection.agencies.entry(agency).or_default();
            entry.bets += bets;
            entry.last_batch = entry.last_batch.max(batch);
            *inspection.batches.entry(agency).or_default() += 1;
        }
        Record::Adopted { .. } => {}
        // The count a finish names is the central's business (it checked it
        // against its books before recording); the chain vouches for it.
        Record::Finish { agency, .. } => {
            inspection.agencies.entry(agency).or_default().finished = true;
        }
    }
}

/// What a region's rows add to the books once its record holds: winners per
/// agency, and for adopted rows the bets per agency (a failed record, the
/// start of a crash's tail, adds nothing).
struct Counted {
    winners: BTreeMap<AgencyId, u64>,
    adopted: BTreeMap<AgencyId, u64>,
}

impl Counted {
    fn apply(self, inspection: &mut Inspection) {
        for (agency, count) in self.winners {
            *inspection.winners.entry(agency).or_default() += count;
        }
        for (agency, count) in self.adopted {
            inspection.agencies.entry(agency).or_default().bets += count;
        }
    }
}

/// Reads the `region` bytes of `record` from `data`: parses its rows (a
/// batch's must all be its agency's, as many as it says; adopted rows are
/// counted per agency) and checksums them. Returns the CRC32C, the row count
/// and what they add to the books. The whole region is read, also when it
/// fails (the next record's rows follow it); an error comes with whether the
/// region holds a zero byte.
fn check_region(
    data: &mut Box<dyn Read + Send>,
    region: u64,
    record: &Record,
    rows_before: u64,
    journal_line: u64,
    inspection: &Inspection,
    path: &Path,
) -> Result<(DataSum, u64, Counted), (StoreError, bool)> {
    let mut hashing = Hashing {
        inner: data.take(region),
        crc: 0,
        zeros: false,
    };
    let mut rows = 0u64;
    let mut agencies: BTreeMap<AgencyId, u64> = BTreeMap::new();
    let mut winners: BTreeMap<AgencyId, u64> = BTreeMap::new();
    let winning = inspection.manifest.winning_number();
    let mut corrupt = None;
    for row in StoreRows::new(&mut hashing) {
        let stored = match row {
            Ok(stored) => stored,
            Err((line, error)) => {
                corrupt = Some(StoreError::Corrupt {
                    path: path.to_path_buf(),
                    line: rows_before + line,
                    error,
                });
                break;
            }
        };
        rows += 1;
        *agencies.entry(stored.agency).or_default() += 1;
        if Some(stored.bet.number) == winning {
            *winners.entry(stored.agency).or_default() += 1;
        }
    }
    io::copy(&mut hashing, &mut io::sink())
        .map_err(|error| (StoreError::io_at(path, "read")(error), false))?;
    if hashing.inner.limit() > 0 {
        return Err((
            StoreError::io_at(path, "read")(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "bets.csv ended while it was read",
            )),
            false,
        ));
    }
    let zeros = hashing.zeros;
    if let Some(error) = corrupt {
        return Err((error, zeros));
    }
    let mut adopted = BTreeMap::new();
    match *record {
        Record::Batch {
            agency,
            bets,
            batch,
            ..
        } => {
            let others = agencies.keys().find(|&&other| other != agency);
            if others.is_some() || rows != bets {
                let error = StoreError::Journal {
                    path: path.to_path_buf(),
                    line: journal_line,
                    problem: format!(
                        "it names {bets} bets of agency {agency} (batch {batch}) from line {} of bets.csv, the store holds {rows} rows there ({})",
                        rows_before + 1,
                        describe(&agencies)
                    ),
                };
                return Err((error, zeros));
            }
        }
        Record::Adopted { .. } => adopted = agencies,
        Record::Finish { .. } => {}
    }
    Ok((
        hashing.crc.to_be_bytes(),
        rows,
        Counted { winners, adopted },
    ))
}

fn describe(agencies: &BTreeMap<AgencyId, u64>) -> String {
    let parts: Vec<String> = agencies
        .iter()
        .map(|(agency, count)| format!("{count} of agency {agency}"))
        .collect();
    if parts.is_empty() {
        "none".to_owned()
    } else {
        parts.join(", ")
    }
}

/// Takes over a store without journal: its whole lines are adopted (the rows
/// checked and counted), a torn last line is its tail.
fn adopt(
    mut data: Box<dyn Read + Send>,
    inspection: &mut Inspection,
    path: &Path,
) -> Result<(), StoreError> {
    // Rows never hold a line break (names refuse control characters), so a
    // last line without one was torn. The data is read twice (its length up
    // to the last line end, then its rows): adoption happens once.
    let mut bytes = Vec::new();
    data.read_to_end(&mut bytes)
        .map_err(StoreError::io_at(path, "read"))?;
    let whole = bytes
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |last| last + 1);
    inspection.kind = Kind::Adopt;
    let record = Record::Adopted { end: whole as u64 };
    let mut region: Box<dyn Read + Send> = Box::new(io::Cursor::new(bytes));
    let (data_digest, _, counted) =
        check_region(&mut region, whole as u64, &record, 0, 0, inspection, path)
            .map_err(|(error, _)| error)?;
    counted.apply(inspection);
    inspection.committed_end = whole as u64;
    inspection.chain = record.link(&genesis(), Some(&data_digest));
    inspection.records = u64::from(whole > 0);
    Ok(())
}

/// Hashes what is read through it, and notes zero bytes.
struct Hashing<R> {
    inner: R,
    crc: u32,
    /// A zero byte went through (no row holds one).
    zeros: bool,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buffer)?;
        self.crc = crc32c::crc32c_append(self.crc, &buffer[..read]);
        self.zeros |= memchr::memchr(0, &buffer[..read]).is_some();
        Ok(read)
    }
}
