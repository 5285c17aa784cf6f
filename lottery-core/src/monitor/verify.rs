//! Checking a store offline: [`verify_store`], read-only and lock-free.
//!
//! It reads a store as opening it would (the private `inspect` module): the
//! manifest, every journal record, every committed row and the checksum chain
//! over them; it changes nothing and takes no lock, so it may run beside a
//! central (it then sees the store as of some moment of its writing).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};

use lottery_bet::{AgencyId, BatchDigest, BetNumber};

use crate::error::StoreError;
use crate::lottery::draw::DrawSummary;
use crate::lottery::rules::LotteryRules;
use crate::monitor::inspect::{Inspection, Kind, Sources, inspect};
use crate::monitor::journal::{Record, genesis, to_hex};
use crate::monitor::store::link_target;

/// What a store holds for one agency, as [`verify_store`] found it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AgencyReport {
    /// Bets stored for the agency.
    pub bets: u64,
    /// Batch records of the agency in the journal.
    pub batches: u64,
    /// The sequence number of its last batch (0: none, or adopted rows only).
    pub last_batch: u64,
    /// Whether its finish is recorded.
    pub finished: bool,
}

/// One record of a store's checksum chain, as [`verify_store`] found it:
/// what a receipt is checked against (`lottery-admin verify --receipts`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainEntry {
    /// Its position in the chain (the first record after the journal's
    /// header is 1).
    pub position: u64,
    /// What it records.
    pub record: ChainRecord,
    /// Its SHA-256 link: the chain's head as of this record.
    pub link: [u8; 32],
}

/// What a [`ChainEntry`] records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChainRecord {
    /// Batch number `batch` of `agency`, whose rows have `digest`.
    Batch {
        /// The agency.
        agency: AgencyId,
        /// Its number.
        batch: u64,
        /// Its rows' CRC32C, length and bet count.
        digest: BatchDigest,
    },
    /// `agency` finished with `bets` bets stored.
    Finish {
        /// The agency.
        agency: AgencyId,
        /// Its bets.
        bets: u64,
    },
    /// Rows of a course `bets.csv` adopted.
    Adopted,
}

/// What [`verify_store`] found in a store whose checks passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreReport {
    /// The rules the store records (`None`: no central used it yet).
    pub rules: Option<LotteryRules>,
    /// Per agency (agencies with nothing stored are absent).
    pub agencies: BTreeMap<AgencyId, AgencyReport>,
    /// The draw, when the store records one.
    pub draw: Option<DrawSummary>,
    /// The number that wins: the rules' fixed one, or the one a committed
    /// draw derived (`None`: committed rules, not drawn yet).
    pub winning_number: Option<BetNumber>,
    /// With a committed winning number: the commitment (SHA-256 of the
    /// secret), 64 hex digits.
    pub commitment: Option<String>,
    /// With a committed winning number, once drawn: the secret, 64 hex
    /// digits (before the draw it is kept back). With it and the chain head
    /// anyone can recompute the number: SHA-256(secret ‖ chain head), reduced
    /// as `DrawSecret::winning_number` says.
    pub secret: Option<String>,
    /// The journal's chain head, 64 hex digits: it vouches for every
    /// committed byte (an auditor may keep it and compare later).
    pub chain_head: String,
    /// Bytes of `bets.csv` the journal vouches for.
    pub committed_bytes: u64,
    /// Bytes of `bets.csv` beyond them (a crash's tail: the next open moves
    /// them to quarantine).
    pub data_tail: u64,
    /// Bytes of the journal beyond its valid records (likewise).
    pub journal_tail: u64,
    /// Whether the store has a journal (else it is a course store, not yet
    /// adopted, or a new one).
    pub journaled: bool,
    /// Every valid record of the journal, in order (empty without one).
    pub chain: Vec<ChainEntry>,
}

impl StoreReport {
    /// Whether the store is whole: journaled, and nothing beyond what its
    /// journal vouches for.
    pub fn is_whole(&self) -> bool {
        self.journaled && self.data_tail == 0 && self.journal_tail == 0
    }
}

/// The link of the chain before its first record: SHA-256 of the journal's
/// header line, `lottery-journal 2\n` (lottery-core/STORE.md). The head of a
/// store without records is position 0 with this link: what a central with
/// receipts signs in the welcome of a fresh store.
///
/// ```
/// use lottery_core::verify::chain_start;
/// assert_ne!(chain_start(), [0; 32]);
/// ```
pub fn chain_start() -> [u8; 32] {
    genesis()
}

/// Checks the store at `path` (its `bets.csv`, journal and manifest) without
/// changing anything or taking its lock.
///
/// # Errors
/// The first problem found: [`StoreError::Checksum`] (naming the record and
/// line), [`StoreError::Corrupt`], [`StoreError::Journal`],
/// [`StoreError::Inconsistent`] (a file missing, the journal cut under a
/// recorded draw, a draw that the committed rows do not give or with
/// agencies unfinished, finishes without rules, ...), or [`StoreError::Io`].
pub fn verify_store(path: impl AsRef<Path>) -> Result<StoreReport, StoreError> {
    let path = path.as_ref();
    // Named as the central names them: after where a link leads.
    let files = link_target(path);
    let beside = |suffix: &str| -> PathBuf {
        let mut name = files.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    let io_error = |action: &'static str| StoreError::io_at(path, action);
    let open = |file: &Path| -> io::Result<Option<(File, u64)>> {
        match File::open(file) {
            Ok(opened) => {
                let len = opened.metadata()?.len();
                Ok(Some((opened, len)))
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    };
    let manifest = match std::fs::read(beside(".lottery")) {
        Ok(bytes) => Some(bytes),
        Err(error) if error.kind() == io::ErrorKind::NotFound => None,
        Err(error) => return Err(io_error("read the manifest of")(error)),
    };
    let journal = open(&beside(".journal")).map_err(io_error("open the journal of"))?;
    let Some((data, data_len)) = open(path).map_err(io_error("open"))? else {
        let problem = if journal.is_some() || manifest.is_some() {
            "bets.csv is missing but its journal or manifest is there"
        } else {
            "there is no store there"
        };
        return Err(StoreError::Inconsistent {
            path: path.to_path_buf(),
            problem: problem.to_owned(),
            remedy: "check the path, or restore bets.csv from a backup",
        });
    };
    let sources = Sources {
        data: Box::new(BufReader::with_capacity(64 * 1024, data)),
        data_len,
        journal: journal.map(|(file, len)| {
            (
                Box::new(BufReader::new(file)) as Box<dyn io::Read + Send>,
                len,
            )
        }),
        manifest,
        keep_chain: true,
    };
    // A record beyond the data, or the last records' rows not matching, is
    // reported as a journal tail (what a crash leaves, in every mode).
    let inspection = inspect(sources, path)?;
    check_rules_and_draw(&inspection, path)?;
    let agencies = inspection
        .agencies
        .iter()
        .map(|(&agency, record)| {
            (
                agency,
                AgencyReport {
                    bets: record.bets,
                    batches: inspection.batches.get(&agency).copied().unwrap_or(0),
                    last_batch: record.last_batch,
                    finished: record.finished,
                },
            )
        })
        .collect();
    let chain = chain_entries(&inspection);
    Ok(StoreReport {
        chain,
        rules: inspection.manifest.rules,
        agencies,
        draw: inspection.manifest.draw.as_ref().map(|d| d.summary.clone()),
        winning_number: inspection.manifest.winning_number(),
        commitment: inspection
            .manifest
            .secret
            .map(|secret| to_hex(&secret.commitment())),
        secret: inspection
            .manifest
            .secret
            .filter(|_| inspection.manifest.draw.is_some())
            .map(|secret| to_hex(secret.as_bytes())),
        chain_head: to_hex(&inspection.chain),
        committed_bytes: inspection.committed_end,
        data_tail: inspection.data_tail(),
        journal_tail: inspection.journal_tail(),
        journaled: inspection.kind == Kind::Journal,
    })
}

/// The inspection's records with their positions, each batch with the
/// digest replay computed for it (kept per agency, in journal order).
fn chain_entries(inspection: &Inspection) -> Vec<ChainEntry> {
    let mut next_digest: BTreeMap<AgencyId, usize> = BTreeMap::new();
    let mut position = 0;
    inspection
        .chain_records
        .iter()
        .map(|&(record, link)| {
            position += 1;
            let record = match record {
                Record::Batch { agency, batch, .. } => {
                    let index = next_digest.entry(agency).or_default();
                    let digest = inspection
                        .digests
                        .get(&agency)
                        .and_then(|digests| digests.get(*index))
                        .copied()
                        .unwrap_or_default();
                    *index += 1;
                    ChainRecord::Batch {
                        agency,
                        batch,
                        digest,
                    }
                }
                Record::Finish { agency, bets } => ChainRecord::Finish { agency, bets },
                Record::Adopted { .. } => ChainRecord::Adopted,
            };
            ChainEntry {
                position,
                record,
                link,
            }
        })
        .collect()
}

/// What a central checks of the rules and the draw when it opens a store
/// (`Central::new`), here from the rows the inspection counted: finishes
/// and a draw need rules (a central records them before any bet); a draw
/// needs every expected agency finished, and the bets and the winners per
/// agency that the committed rows give.
fn check_rules_and_draw(inspection: &Inspection, path: &Path) -> Result<(), StoreError> {
    let inconsistent = |problem: String| StoreError::Inconsistent {
        path: path.to_path_buf(),
        problem,
        remedy: "restore bets.csv.lottery and bets.csv.journal from a backup",
    };
    let manifest = &inspection.manifest;
    let Some(rules) = manifest.rules else {
        if manifest.draw.is_some() || inspection.agencies.values().any(|a| a.finished) {
            return Err(inconsistent(
                "its journal records finished agencies (or its manifest a draw), but its manifest (bets.csv.lottery) holds no rules: it was cut or replaced".to_owned(),
            ));
        }
        return Ok(());
    };
    if let Some(agency) = inspection
        .agencies
        .keys()
        .find(|a| a.get() > rules.agencies)
    {
        return Err(inconsistent(format!(
            "it holds records of agency {agency}, its rules expect agencies 1 to {}",
            rules.agencies
        )));
    }
    let Some(draw) = &manifest.draw else {
        return Ok(());
    };
    let finished = inspection.agencies.values().filter(|a| a.finished).count();
    if finished != rules.agencies as usize {
        return Err(inconsistent(format!(
            "it records a draw, but only {finished} of its {} agencies finished",
            rules.agencies
        )));
    }
    let bets: u64 = inspection.agencies.values().map(|a| a.bets).sum();
    let found = DrawSummary::from_counts(rules.agencies, bets, &inspection.winners);
    if draw.summary != found {
        return Err(inconsistent(format!(
            "it records a draw of {} bets with winners {:?} per agency, its bets give {bets} bets and {:?}",
            draw.summary.bets, draw.summary.winners_per_agency, found.winners_per_agency
        )));
    }
    Ok(())
}
