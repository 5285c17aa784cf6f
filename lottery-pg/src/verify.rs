//! Checking a PostgreSQL ledger offline: [`verify_ledger`], what
//! `lottery-admin verify --store postgres://...` runs.
//!
//! Each row of `batches` keeps the digest of the bets it stored (the
//! CRC32C of their rows as `bets.csv` would hold them, their length and
//! count), so the check reads every bet back, validates it again, and
//! recomputes each batch's digest against the one recorded when it was
//! acknowledged. A bet changed, added or removed with SQL after its ack
//! shows as a digest that differs. Then it walks the checksum chain (the
//! `chain` module) as the file store's verify walks its journal: every
//! batch and finish has a position, the positions are 1 to N without gaps
//! or repeats, each record's link is what its record and the link before
//! give, and the head row names the last. It also checks what a central
//! relies on when it opens the ledger: batch numbers without holes,
//! finishes that count the bets stored, agencies the rules expect, and a
//! recorded draw that the stored bets give.
//!
//! [`ledger_chain`] reads the chain the bets give instead, for receipts
//! (`lottery-admin verify --receipts`): each batch's digest taken from its
//! bets as they are now, every link recomputed over them, so that a receipt
//! whose batch, or any record before its head, changed no longer holds,
//! and is named, even when the ledger's own check already failed.
//!
//! It reads one snapshot (a read-only, repeatable-read transaction), so it
//! may run beside centrals that write.
//!
//! What it cannot see alone: an edit that rewrites a bet, its batch's
//! digest and every link after it consistently. A receipt signed before
//! the edit sees it (its signed link is no longer the chain's); without
//! receipts, the database's own access control is the guard (SECURITY.md).

use std::collections::BTreeMap;
use std::path::Path;

use lottery_bet::{AgencyId, BatchDigest, encode_store_rows};
use lottery_core::verify::{AgencyReport, ChainEntry, ChainRecord};
use lottery_core::{DrawSummary, LotteryRules, StoreError};
use postgres::fallible_iterator::FallibleIterator;

use crate::chain::{self, Record};
use crate::read::{connect_reader, db_error, snapshot};
use crate::rows::bet_from_row;
use crate::schema;

/// Every record of the chain, in chain order (a row without a position,
/// which no committed transaction leaves, first): position, link, agency,
/// batch (NULL: a finish), bets, rows' CRC32C and length (NULL: a finish).
const SELECT_CHAIN: &str = "
SELECT position, link, agency, batch, bets::bigint, rows_crc, rows_len FROM batches
UNION ALL
SELECT position, link, agency, NULL::bigint, bets, NULL::bigint, NULL::integer FROM finishes
ORDER BY 1 NULLS FIRST, 3, 4";

/// The chain's head row.
const SELECT_HEAD: &str = "SELECT position, link FROM chain_head";

/// Every stored bet with where it lies: the columns [`bet_from_row`] reads
/// (0 to 5), then its batch and position.
const SELECT_PLACED_BETS: &str = "SELECT agency, first_name, last_name, document, birthdate, \
     number, batch, position FROM bets ORDER BY agency, batch, position";

/// What [`verify_ledger`] found in a ledger whose checks all passed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LedgerReport {
    /// The rules the ledger records (`None`: no central used it yet).
    pub rules: Option<LotteryRules>,
    /// Per agency (agencies with nothing stored are absent).
    pub agencies: BTreeMap<AgencyId, AgencyReport>,
    /// The draw, when the ledger records one.
    pub draw: Option<DrawSummary>,
    /// Bets stored.
    pub bets: u64,
    /// Bytes the stored bets make as `bets.csv` (what `lottery-admin
    /// export` writes).
    pub rows_bytes: u64,
    /// Records in the checksum chain (every batch and finish).
    pub chain_records: u64,
    /// The chain's head: the link of its last record (of none: the link
    /// before the first), 64 hex digits.
    pub chain_head: String,
}

/// The chain the ledger's bets give, for checking receipts against
/// ([`ledger_chain`]): read leniently, so that a ledger whose own check
/// fails still says which receipts no longer hold.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LedgerChain {
    /// The rules the ledger records (`None`: none, or none that are rules).
    pub rules: Option<LotteryRules>,
    /// The draw, when the ledger records one.
    pub draw: Option<DrawSummary>,
    /// Every record with a position, in position order, numbered 1, 2, ...
    /// as read; each batch with the digest of its bets as they are now (a
    /// batch holding a bet that does not validate gets the digest of no
    /// bets), each link recomputed over them from the link before the
    /// first.
    pub chain: Vec<ChainEntry>,
    /// The link before the first record (the head a receipt signs at
    /// position 0: a welcome on a schema that holds no record yet).
    pub start: [u8; 32],
}

/// A batch as `batches` records it.
struct Recorded {
    digest: BatchDigest,
    /// Whether a bet of it was read (a recorded batch without bets is
    /// checked at the end).
    seen: bool,
}

/// The batch being read: its rows as `bets.csv` would hold them.
struct Reading {
    agency: AgencyId,
    batch: u64,
    rows: Vec<u8>,
    bets: u64,
}

/// Checks the lottery the database at `url` holds, changing nothing (one
/// read-only snapshot): every bet validates, every batch's bets give the
/// digest recorded when it was stored, each agency's batches are numbered
/// 1, 2, ... without holes, every finish counts the bets stored, every agency
/// is one the rules expect, and a recorded draw is what the stored bets
/// give with every expected agency finished.
///
/// # Errors
/// The first problem found, as [`StoreError::Inconsistent`] naming the
/// agency and batch (or [`StoreError::Corrupt`] for a bet that does not
/// validate); [`StoreError::Io`] when the URL does not parse or the
/// database fails. A database without the lottery's tables (or with
/// another layout version) is [`StoreError::Inconsistent`] too.
pub fn verify_ledger(url: &str) -> Result<LedgerReport, StoreError> {
    let (mut client, name) = connect_reader(url, &[schema::VERSION])?;
    let failed = |error| db_error("read", &name, error);
    let mut tx = snapshot(&mut client, &name)?;
    let mut check = Check::new(&name);

    if let Some(row) = tx
        .query_opt(
            "SELECT agencies, winning_number, draw_bets, draw_winners FROM lottery",
            &[],
        )
        .map_err(failed)?
    {
        check.rules(row.get(0), row.get(1))?;
        let bets: Option<i64> = row.get(2);
        let winners: Option<Vec<i64>> = row.get(3);
        check.report.draw = match (bets, winners) {
            (Some(bets), Some(winners)) => Some(DrawSummary {
                bets: u64::try_from(bets).unwrap_or(u64::MAX),
                winners_per_agency: winners
                    .into_iter()
                    .map(|w| u64::try_from(w).unwrap_or(u64::MAX))
                    .collect(),
            }),
            (None, None) => None,
            _ => return Err(check.problem("its draw is half recorded (bets or winners missing)")),
        };
    }
    for row in tx
        .query(
            "SELECT agency, batch, bets, rows_crc, rows_len FROM batches ORDER BY agency, batch",
            &[],
        )
        .map_err(failed)?
    {
        let digest = BatchDigest::from_parts(
            u32::try_from(row.get::<_, i64>(3)).unwrap_or(u32::MAX),
            u64::try_from(row.get::<_, i32>(4)).unwrap_or(u64::MAX),
            u64::try_from(row.get::<_, i32>(2)).unwrap_or(u64::MAX),
        );
        check.batch(row.get(0), row.get(1), digest)?;
    }
    let params: [&(dyn postgres::types::ToSql + Sync); 0] = [];
    let mut rows = tx.query_raw(SELECT_PLACED_BETS, params).map_err(failed)?;
    while let Some(row) = rows.next().map_err(failed)? {
        check.bet(&row)?;
    }
    drop(rows);
    for row in tx
        .query("SELECT agency, bets FROM finishes ORDER BY agency", &[])
        .map_err(failed)?
    {
        check.finish(row.get(0), row.get(1))?;
    }
    let chain = tx.query(SELECT_CHAIN, &[]).map_err(failed)?;
    let head = tx.query_one(SELECT_HEAD, &[]).map_err(failed)?;
    tx.commit().map_err(failed)?;
    let mut report = check.finish_reading()?;
    let (records, link) = check_chain(&name, &chain, &head)?;
    report.chain_records = records;
    report.chain_head = to_hex(&link);
    Ok(report)
}

/// A record of [`SELECT_CHAIN`]: its position (`None`: none), stored link,
/// and the record its link covers, with the digest its row keeps.
fn chain_row(row: &postgres::Row) -> Option<(Option<i64>, Option<Vec<u8>>, Record)> {
    let agency = AgencyId::new(u32::try_from(row.get::<_, i32>(2)).ok()?).ok()?;
    let bets = u64::try_from(row.get::<_, i64>(4)).ok()?;
    let record = match row.get::<_, Option<i64>>(3) {
        Some(batch) => Record::Batch {
            agency,
            batch: u64::try_from(batch).ok()?,
            digest: BatchDigest::from_parts(
                u32::try_from(row.get::<_, Option<i64>>(5)?).ok()?,
                u64::try_from(row.get::<_, Option<i32>>(6)?).ok()?,
                bets,
            ),
        },
        None => Record::Finish { agency, bets },
    };
    Some((row.get(0), row.get(1), record))
}

/// How a record is named in a problem.
fn describe_record(record: &Record) -> String {
    match *record {
        Record::Batch { agency, batch, .. } => format!("agency {agency}'s batch {batch}"),
        Record::Finish { agency, .. } => format!("agency {agency}'s finish"),
    }
}

/// The chain's own checks over the rows of [`SELECT_CHAIN`] and the head
/// row: every record has a position, positions run 1 to N, every stored link
/// is what its record (with the digest its row keeps, checked against its
/// bets already) and the link before give, and the head names record N and
/// its link. Returns N and the head's link.
fn check_chain(
    name: &Path,
    rows: &[postgres::Row],
    head: &postgres::Row,
) -> Result<(u64, chain::Link), StoreError> {
    let problem = |problem: String| StoreError::Inconsistent {
        path: name.to_path_buf(),
        problem,
        remedy: "the database holds rows no central writes (changed with SQL, or restored \
                 in part): compare it with a backup or an export",
    };
    let mut link = chain::genesis();
    let mut position = 0u64;
    for row in rows {
        let Some((at, stored, record)) = chain_row(row) else {
            return Err(problem(format!(
                "a record of its chain (agency {}) holds values no central writes",
                row.get::<_, i32>(2)
            )));
        };
        let what = describe_record(&record);
        let Some(at) = at else {
            return Err(problem(format!(
                "{what} has no place in the checksum chain (no position): it was stored outside a central's transaction"
            )));
        };
        let expected = position + 1;
        if u64::try_from(at).ok() != Some(expected) {
            return Err(problem(format!(
                "{what} is at position {at} of the checksum chain, where position {expected} is expected (a record removed, added or moved with SQL)"
            )));
        }
        position = expected;
        link = record.link(&link);
        if stored.as_deref() != Some(link.as_slice()) {
            return Err(problem(format!(
                "the checksum chain breaks at position {position} ({what}): its link is not what its record and the link before give (the record or its link changed after it was stored)"
            )));
        }
    }
    let (at, stored): (i64, &[u8]) = (head.get(0), head.get(1));
    if u64::try_from(at).ok() != Some(position) || stored != link.as_slice() {
        return Err(problem(format!(
            "the chain's head names position {at}, its records end at position {position} with another link (chain_head changed, or records removed, with SQL)"
        )));
    }
    Ok((position, link))
}

/// Hex digits, lowercase.
fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A batch being read again by [`ledger_chain`]: its key, and its rows as
/// `bets.csv` would hold them with their count (`None`: a bet of it does
/// not validate).
type Reread = ((i32, i64), Option<(Vec<u8>, u64)>);

/// Reads the chain the bets of the ledger at `url` give (one read-only
/// snapshot, changing nothing), for checking receipts: each batch's digest
/// recomputed from its bets, each link recomputed over the records in the
/// order of their positions. It checks nothing itself ([`verify_ledger`]
/// does); it fails only when the ledger cannot be read.
///
/// # Errors
/// [`StoreError::Io`] when the URL does not parse or the database fails;
/// [`StoreError::Inconsistent`] when it holds no lottery of this layout.
pub fn ledger_chain(url: &str) -> Result<LedgerChain, StoreError> {
    let (mut client, name) = connect_reader(url, &[schema::VERSION])?;
    let failed = |error| db_error("read", &name, error);
    let mut tx = snapshot(&mut client, &name)?;
    let lottery = tx
        .query_opt(
            "SELECT agencies, winning_number, draw_bets, draw_winners FROM lottery",
            &[],
        )
        .map_err(failed)?;
    let mut found = LedgerChain {
        rules: None,
        draw: None,
        chain: Vec::new(),
        start: crate::chain::genesis(),
    };
    if let Some(row) = lottery {
        let number = u32::try_from(row.get::<_, i32>(1))
            .ok()
            .and_then(|n| lottery_bet::BetNumber::new(n).ok());
        if let (Ok(agencies), Some(number)) = (u32::try_from(row.get::<_, i32>(0)), number) {
            found.rules = Some(LotteryRules {
                agencies,
                winning: lottery_core::Winning::Fixed(number),
            });
        }
        if let (Some(bets), Some(winners)) = (
            row.get::<_, Option<i64>>(2),
            row.get::<_, Option<Vec<i64>>>(3),
        ) {
            found.draw = Some(DrawSummary {
                bets: u64::try_from(bets).unwrap_or(u64::MAX),
                winners_per_agency: winners
                    .into_iter()
                    .map(|w| u64::try_from(w).unwrap_or(u64::MAX))
                    .collect(),
            });
        }
    }
    // Each batch's digest as its bets give it now (`None`: a bet of it does
    // not validate).
    let mut digests: BTreeMap<(i32, i64), Option<BatchDigest>> = BTreeMap::new();
    let mut reading: Option<Reread> = None;
    let mut close = |reading: Option<Reread>| {
        if let Some((key, rows)) = reading {
            digests.insert(
                key,
                rows.map(|(rows, bets)| BatchDigest::of_rows(&rows, bets)),
            );
        }
    };
    let params: [&(dyn postgres::types::ToSql + Sync); 0] = [];
    let mut rows = tx.query_raw(SELECT_PLACED_BETS, params).map_err(failed)?;
    while let Some(row) = rows.next().map_err(failed)? {
        let key = (row.get::<_, i32>(0), row.get::<_, i64>(6));
        if reading.as_ref().is_none_or(|(at, _)| *at != key) {
            close(reading.take());
            reading = Some((key, Some((Vec::new(), 0))));
        }
        let (_, batch) = reading.as_mut().expect("opened above");
        match (bet_from_row(&row), batch.as_mut()) {
            (Ok(stored), Some((rows, bets))) => {
                encode_store_rows(stored.agency, std::slice::from_ref(&stored.bet), rows);
                *bets += 1;
            }
            _ => *batch = None,
        }
    }
    drop(rows);
    close(reading.take());
    let chain = tx.query(SELECT_CHAIN, &[]).map_err(failed)?;
    tx.commit().map_err(failed)?;
    let mut link = chain::genesis();
    for row in &chain {
        let Some((Some(_), _, record)) = chain_row(row) else {
            continue;
        };
        let (record, entry) = match record {
            Record::Batch { agency, batch, .. } => {
                let key = (agency.get() as i32, batch as i64);
                // No bets left, or one that does not validate: the digest
                // of none (which no stored batch has: a batch holds a bet).
                let digest = digests
                    .get(&key)
                    .copied()
                    .flatten()
                    .unwrap_or_else(|| BatchDigest::of_rows(&[], 0));
                (
                    Record::Batch {
                        agency,
                        batch,
                        digest,
                    },
                    ChainRecord::Batch {
                        agency,
                        batch,
                        digest,
                    },
                )
            }
            Record::Finish { agency, bets } => (
                Record::Finish { agency, bets },
                ChainRecord::Finish { agency, bets },
            ),
        };
        link = record.link(&link);
        found.chain.push(ChainEntry {
            position: found.chain.len() as u64 + 1,
            record: entry,
            link,
        });
    }
    Ok(found)
}

/// The checks, fed the ledger's rows in order.
struct Check<'a> {
    name: &'a Path,
    report: LedgerReport,
    recorded: BTreeMap<(AgencyId, u64), Recorded>,
    reading: Option<Reading>,
    /// The next position expected in the batch being read.
    position: i32,
    /// Winners per agency, counted from the bets read.
    winners: BTreeMap<AgencyId, u64>,
}

impl<'a> Check<'a> {
    fn new(name: &'a Path) -> Self {
        Self {
            name,
            report: LedgerReport {
                rules: None,
                agencies: BTreeMap::new(),
                draw: None,
                bets: 0,
                rows_bytes: 0,
                chain_records: 0,
                chain_head: String::new(),
            },
            recorded: BTreeMap::new(),
            reading: None,
            position: 0,
            winners: BTreeMap::new(),
        }
    }

    fn problem(&self, problem: impl Into<String>) -> StoreError {
        StoreError::Inconsistent {
            path: self.name.to_path_buf(),
            problem: problem.into(),
            remedy: "the database holds rows no central writes (changed with SQL, or restored \
                     in part): compare it with a backup or an export",
        }
    }

    fn rules(&mut self, agencies: i32, winning: i32) -> Result<(), StoreError> {
        let number = u32::try_from(winning)
            .ok()
            .and_then(|n| lottery_bet::BetNumber::new(n).ok());
        match (u32::try_from(agencies), number) {
            (Ok(agencies), Some(winning_number))
                if (1..=lottery_core::MAX_AGENCIES).contains(&agencies) =>
            {
                self.report.rules = Some(LotteryRules {
                    agencies,
                    winning: lottery_core::Winning::Fixed(winning_number),
                });
                Ok(())
            }
            _ => Err(self.problem(format!(
                "its rules (agencies {agencies}, winning number {winning}) are not rules"
            ))),
        }
    }

    /// An agency id of the ledger, one the rules expect.
    fn agency(&self, id: i32) -> Result<AgencyId, StoreError> {
        let Some(rules) = self.report.rules else {
            return Err(self.problem(format!(
                "it holds rows of agency {id} but no rules (a central records the rules before any batch)"
            )));
        };
        match u32::try_from(id).ok().and_then(|id| AgencyId::new(id).ok()) {
            Some(agency) if agency.get() <= rules.agencies => Ok(agency),
            _ => Err(self.problem(format!(
                "it holds rows of agency {id}, the rules expect agencies 1 to {}",
                rules.agencies
            ))),
        }
    }

    fn batch(&mut self, agency: i32, batch: i64, digest: BatchDigest) -> Result<(), StoreError> {
        let agency = self.agency(agency)?;
        let books = self.report.agencies.entry(agency).or_default();
        let expected = books.last_batch + 1;
        if u64::try_from(batch).ok() != Some(expected) {
            return Err(self.problem(format!(
                "agency {agency}'s batch {batch} follows its batch {} (a hole: batch {expected} is missing)",
                expected - 1
            )));
        }
        books.last_batch = expected;
        books.batches += 1;
        books.bets += digest.bets();
        self.recorded.insert(
            (agency, expected),
            Recorded {
                digest,
                seen: false,
            },
        );
        Ok(())
    }

    fn bet(&mut self, row: &postgres::Row) -> Result<(), StoreError> {
        let agency = self.agency(row.get(0))?;
        let batch = u64::try_from(row.get::<_, i64>(6)).unwrap_or(0);
        let position: i32 = row.get(7);
        let stored = bet_from_row(row).map_err(|error| StoreError::Corrupt {
            path: self.name.to_path_buf(),
            line: self.report.bets + 1,
            error,
        })?;
        if self
            .reading
            .as_ref()
            .is_none_or(|reading| (reading.agency, reading.batch) != (agency, batch))
        {
            self.close_batch()?;
            let Some(recorded) = self.recorded.get_mut(&(agency, batch)) else {
                return Err(self.problem(format!(
                    "it holds bets of agency {agency}'s batch {batch}, which `batches` does not record (bets added with SQL)"
                )));
            };
            recorded.seen = true;
            self.reading = Some(Reading {
                agency,
                batch,
                rows: Vec::new(),
                bets: 0,
            });
            self.position = 0;
        }
        if position != self.position {
            return Err(self.problem(format!(
                "agency {agency}'s batch {batch} has a bet at position {position} where position {} is expected (a bet removed or added with SQL)",
                self.position
            )));
        }
        self.position += 1;
        let reading = self.reading.as_mut().expect("opened above");
        encode_store_rows(agency, std::slice::from_ref(&stored.bet), &mut reading.rows);
        reading.bets += 1;
        self.report.bets += 1;
        if self
            .report
            .rules
            .and_then(|rules| rules.fixed_number())
            .is_some_and(|number| stored.bet.number == number)
        {
            *self.winners.entry(agency).or_default() += 1;
        }
        Ok(())
    }

    /// The batch read so far against the digest recorded for it.
    fn close_batch(&mut self) -> Result<(), StoreError> {
        let Some(reading) = self.reading.take() else {
            return Ok(());
        };
        let found = BatchDigest::of_rows(&reading.rows, reading.bets);
        self.report.rows_bytes += reading.rows.len() as u64;
        let recorded = self.recorded[&(reading.agency, reading.batch)].digest;
        if found != recorded {
            return Err(self.problem(format!(
                "agency {}'s batch {} holds {} bets ({} bytes as bets.csv, CRC32C {:08x}), it was stored with {} ({} bytes, CRC32C {:08x}): its bets changed after they were acknowledged",
                reading.agency,
                reading.batch,
                found.bets(),
                found.rows_len(),
                found.rows_crc(),
                recorded.bets(),
                recorded.rows_len(),
                recorded.rows_crc()
            )));
        }
        Ok(())
    }

    fn finish(&mut self, agency: i32, bets: i64) -> Result<(), StoreError> {
        let agency = self.agency(agency)?;
        let books = self.report.agencies.entry(agency).or_default();
        if u64::try_from(bets).ok() != Some(books.bets) {
            let stored = books.bets;
            return Err(self.problem(format!(
                "agency {agency}'s finish counts {bets} bets, its batches hold {stored}"
            )));
        }
        books.finished = true;
        Ok(())
    }

    /// The checks that need everything read: batches recorded without
    /// bets, and the draw.
    fn finish_reading(mut self) -> Result<LedgerReport, StoreError> {
        self.close_batch()?;
        if let Some((&(agency, batch), _)) = self
            .recorded
            .iter()
            .find(|(_, recorded)| !recorded.seen && recorded.digest.bets() != 0)
        {
            let recorded = self.recorded[&(agency, batch)].digest.bets();
            return Err(self.problem(format!(
                "agency {agency}'s batch {batch} was stored with {recorded} bets, the ledger holds none of them (bets deleted with SQL)"
            )));
        }
        let (Some(draw), Some(rules)) = (&self.report.draw, self.report.rules) else {
            return Ok(self.report);
        };
        let finished = self
            .report
            .agencies
            .values()
            .filter(|books| books.finished)
            .count() as u64;
        if finished != u64::from(rules.agencies) {
            return Err(self.problem(format!(
                "it records a draw, but {finished} of the {} agencies finished",
                rules.agencies
            )));
        }
        let found = DrawSummary::from_counts(rules.agencies, self.report.bets, &self.winners);
        if *draw != found {
            return Err(self.problem(format!(
                "it records a draw of {} bets with winners {:?}, its bets give {} and {:?}",
                draw.bets, draw.winners_per_agency, found.bets, found.winners_per_agency
            )));
        }
        Ok(self.report)
    }
}
