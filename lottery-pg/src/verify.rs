//! Checking a PostgreSQL ledger offline: [`verify_ledger`], what
//! `lottery-admin verify --store postgres://...` runs.
//!
//! The file store's verify walks its checksum chain; the database has no
//! chain, but each row of `batches` keeps the digest of the bets it stored
//! (the CRC32C of their rows as `bets.csv` would hold them, their length and
//! count), so the check reads every bet back, validates it again, and
//! recomputes each batch's digest against the one recorded when it was
//! acknowledged. A bet changed, added or removed with SQL after its ack
//! shows as a digest that differs. It also checks what a central relies on
//! when it opens the ledger: batch numbers without holes, finishes that
//! count the bets stored, agencies the rules expect, and a recorded draw
//! that the stored bets give.
//!
//! It reads one snapshot (a read-only, repeatable-read transaction), so it
//! may run beside centrals that write.
//!
//! What it cannot see: an edit that rewrites a bet *and* its batch's digest
//! consistently. The database's own access control is the guard there
//! (SECURITY.md).

use std::collections::BTreeMap;
use std::path::Path;

use lottery_bet::{AgencyId, BatchDigest, encode_store_rows};
use lottery_core::verify::AgencyReport;
use lottery_core::{DrawSummary, LotteryRules, StoreError};
use postgres::fallible_iterator::FallibleIterator;

use crate::read::{connect_reader, db_error, snapshot};
use crate::rows::bet_from_row;

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
    let (mut client, name) = connect_reader(url)?;
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
    tx.commit().map_err(failed)?;
    check.finish_reading()
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
