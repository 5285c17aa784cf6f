//! Errors of the lottery core, one enum per concern.
//!
//! Expected states are values, not errors (a query before the draw gets
//! `Winners::NotDrawn`); these enums are for what went wrong, and each variant
//! says where (agency, batch, bet index, field). Why a single field is refused
//! ([`FieldError`]) lives below the bet types, in the `field` module, since
//! the validated types produce it and these errors carry them.

use std::io;
use std::path::{Path, PathBuf};

use lottery_bet::{AgencyId, FieldError};

use crate::lottery::rules::{LotteryRules, MAX_AGENCIES};

/// A failure of the bet store (`bets.csv` and its journal).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The operating system refused an operation on the store.
    #[error("cannot {action} the store {}", path.display())]
    Io {
        /// What was being done ("open", "append to", "sync", "read", ...).
        action: &'static str,
        /// The store's path (or `<memory>`).
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A committed row of the store does not parse: the file was edited or is
    /// not a store.
    #[error("the store {} is corrupt at line {line}: {error}", path.display())]
    Corrupt {
        /// The store's path.
        path: PathBuf,
        /// The line, from 1.
        line: u64,
        /// What is wrong with it.
        error: FieldError,
    },
    /// The commit journal beside the store is damaged before its last line, or
    /// disagrees with the rows of the store.
    #[error("the journal of the store {} is inconsistent at line {line}: {problem}", path.display())]
    Journal {
        /// The store's path.
        path: PathBuf,
        /// The journal line, from 1 (0: the journal as a whole).
        line: u64,
        /// What is wrong.
        problem: String,
    },
    /// Another process (another central) holds the store's lock: one central
    /// per store. Nothing was read or changed.
    #[error("the store {} is in use by another central{}", path.display(), holder.as_ref().map(|h| format!(" ({h})")).unwrap_or_default())]
    Locked {
        /// The store's path.
        path: PathBuf,
        /// Who holds it, when the lock file says (`process 1234`).
        holder: Option<String>,
    },
    /// A committed batch does not match its checksum: the bytes of
    /// `bets.csv` (or the journal) changed after they were committed.
    /// Nothing was changed.
    #[error(
        "the store {} fails its checksum at journal line {journal_line}{}: its bytes changed after they were committed (bets.csv from line {data_line})",
        path.display(),
        agency.map(|a| match batch {
            // Batches are numbered from 1: 0 is the agency's finish record.
            0 => format!(" (agency {a}, its finish record)"),
            _ => format!(" (agency {a}, batch {batch})"),
        }).unwrap_or_default()
    )]
    Checksum {
        /// The store's path.
        path: PathBuf,
        /// The agency of the batch (`None` for rows adopted without a journal,
        /// or a finish record).
        agency: Option<AgencyId>,
        /// The batch's sequence number (0 for adopted rows or a finish).
        batch: u64,
        /// The journal line of its record, from 1.
        journal_line: u64,
        /// The first line of `bets.csv` the record covers, from 1.
        data_line: u64,
    },
    /// The store is in a state no crash can produce (a file missing, a
    /// journal cut short, records beyond the data): refused as it is, with
    /// nothing changed, for the operator to look at.
    #[error("the store {} is inconsistent: {problem}; {remedy}", path.display())]
    Inconsistent {
        /// The store's path.
        path: PathBuf,
        /// What is inconsistent.
        problem: String,
        /// What the operator can do.
        remedy: &'static str,
    },
    /// A batch was refused because an earlier batch of the same agency was cut
    /// off by a failed commit and has not been written again: storing this one
    /// would leave a hole. The agency resends from `lost`.
    #[error(
        "batch {batch} of agency {agency} was not stored: its earlier batch {lost} was lost to a failed commit; resend from batch {lost}"
    )]
    PredecessorLost {
        /// The agency.
        agency: AgencyId,
        /// The refused batch.
        batch: u64,
        /// The first batch of the agency that a failed commit cut off.
        lost: u64,
    },
    /// A shared ledger holds this batch (same agency, same number, stored
    /// through another central) with other bets: nothing was stored, and
    /// the batch is refused, never acknowledged.
    #[error(
        "batch {batch} of agency {agency} is stored already with other bets; nothing was stored"
    )]
    BatchConflict {
        /// The agency.
        agency: AgencyId,
        /// The batch's sequence number.
        batch: u64,
    },
}

impl StoreError {
    /// What a failed `action` on the file at `path` becomes, for `map_err`
    /// (the path is copied: the error outlives the caller's borrow).
    pub(crate) fn io_at(
        path: &Path,
        action: &'static str,
    ) -> impl FnOnce(io::Error) -> Self + use<> {
        let path = path.to_path_buf();
        move |source| Self::Io {
            action,
            path,
            source,
        }
    }
}

/// Why a batch was refused by the lottery.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SubmitError {
    /// The agency is not one of `1..=N`.
    #[error(transparent)]
    UnknownAgency(#[from] UnknownAgency),
    /// The agency already said it finished.
    #[error("agency {agency} already finished; no more bets are taken from it")]
    AgencyFinished {
        /// The agency.
        agency: AgencyId,
    },
    /// The draw already happened.
    #[error("the draw already happened; no more bets are taken")]
    AlreadyDrawn,
    /// The batch holds no bet: refused before anything is decided, so its
    /// number stays free (and a resend of a stored batch must carry its bets
    /// too).
    #[error("agency {agency} sent batch {batch} with no bets; a batch holds at least one bet")]
    EmptyBatch {
        /// The agency.
        agency: AgencyId,
        /// The batch's sequence number.
        batch: u64,
    },
    /// The batch's sequence number skips ahead of the next expected one.
    #[error("agency {agency} sent batch {got}, expected batch {expected}")]
    OutOfOrder {
        /// The agency.
        agency: AgencyId,
        /// The sequence number the central expects next.
        expected: u64,
        /// The one it got.
        got: u64,
    },
    /// The batch was taken before and is still being stored (written, not yet
    /// durable). It is neither acknowledged (that would promise a durability
    /// not reached yet) nor stored again; try again later.
    #[error("agency {agency} batch {batch} is still being stored; try again later")]
    BatchPending {
        /// The agency.
        agency: AgencyId,
        /// The batch's sequence number.
        batch: u64,
    },
    /// Another request of the same agency is between its steps: its finish,
    /// begun with [`crate::Central::begin_finish`], is not completed yet.
    /// ([`crate::Central`] otherwise serializes the requests of one agency.)
    #[error("agency {agency} has another request under way; try again")]
    AgencyBusy {
        /// The agency.
        agency: AgencyId,
    },
    /// The batch (same agency, same number) is stored already with other
    /// bets: its digest ([`lottery_bet::BatchDigest`]) is not the stored batch's.
    /// Nothing of it is stored, and it is never acknowledged: an agency
    /// whose batches conflict sends other bets under numbers already used
    /// (an edited file, or two programs acting as one agency).
    #[error(
        "agency {agency} batch {batch} is stored already with other bets ({stored_bets} bets stored, {sent_bets} sent); nothing was stored"
    )]
    BatchConflict {
        /// The agency.
        agency: AgencyId,
        /// The batch's sequence number.
        batch: u64,
        /// Bets of the stored batch (0 when a shared ledger refused it and
        /// its count is not known here).
        stored_bets: u64,
        /// Bets of the batch sent.
        sent_bets: u64,
    },
    /// The store could not take the batch: its write or its commit failed.
    /// Either way nothing of it was kept (a failed commit cuts the batch, and
    /// every later batch of the agency, off the store), and the agency may
    /// send it again.
    #[error("the batch could not be stored")]
    Store(#[from] StoreError),
}

impl SubmitError {
    /// The error of a batch that failed in the ledger: a shared ledger's
    /// [`StoreError::BatchConflict`] is the batch's refusal
    /// ([`SubmitError::BatchConflict`]), not a storage failure to retry.
    pub(crate) fn of_store(error: StoreError, sent_bets: u64) -> Self {
        match error {
            StoreError::BatchConflict { agency, batch } => SubmitError::BatchConflict {
                agency,
                batch,
                stored_bets: 0,
                sent_bets,
            },
            other => SubmitError::Store(other),
        }
    }
}

impl SubmitError {
    /// Whether the same batch may succeed if sent again later (a storage
    /// failure or a batch still under way), as opposed to a refusal that will
    /// not change.
    pub const fn is_retryable(&self) -> bool {
        matches!(
            self,
            SubmitError::BatchPending { .. }
                | SubmitError::AgencyBusy { .. }
                | SubmitError::Store(_)
        )
    }
}

/// Why a finish was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FinishError {
    /// The agency is not one of `1..=N`.
    #[error(transparent)]
    UnknownAgency(#[from] UnknownAgency),
    /// The agency says it sent a number of bets other than what was stored.
    #[error("agency {agency} says it sent {sent} bets, but {stored} are stored for it")]
    CountMismatch {
        /// The agency.
        agency: AgencyId,
        /// What the agency says it sent.
        sent: u64,
        /// What the central stored for it.
        stored: u64,
    },
    /// A batch of the agency is still being stored: its outcome decides the
    /// count, so the finish must wait for its acknowledgement.
    #[error("agency {agency} has {batches} batches still being stored; finish after their acks")]
    BatchesPending {
        /// The agency.
        agency: AgencyId,
        /// How many of its batches are pending.
        batches: u64,
    },
    /// Another request of the same agency is between its steps: its finish,
    /// begun with [`crate::Central::begin_finish`], is not completed yet.
    /// ([`crate::Central`] otherwise serializes the requests of one agency.)
    #[error("agency {agency} has another request under way; try again")]
    AgencyBusy {
        /// The agency.
        agency: AgencyId,
    },
    /// The store failed: either the finish could not be recorded (the agency
    /// is not finished and may finish again), or it was recorded but the draw
    /// could not read the store (the draw is due again, and a repeated finish
    /// of any agency retries it).
    #[error("the store failed while finishing")]
    Store(#[from] StoreError),
}

/// Why a handshake's resume point could not be given (over a shared ledger,
/// [`crate::Central::complete_resume`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResumeError {
    /// The agency is not one of `1..=N`.
    #[error(transparent)]
    UnknownAgency(#[from] UnknownAgency),
    /// The shared ledger could not be read: the books may be behind what
    /// other centrals stored, so they do not answer; the agency may try
    /// again.
    #[error("the agency's record could not be read from the store")]
    Store(#[from] StoreError),
}

/// An agency outside the `1..=N` the central expects: refused by every
/// request that names it (a batch, a finish, a winners query, a handshake).
///
/// ```
/// use lottery_bet::AgencyId;
/// use lottery_core::UnknownAgency;
/// let error = UnknownAgency { agency: AgencyId::new(9)?, expected: 5 };
/// assert_eq!(error.to_string(), "agency 9 is not expected (the central expects agencies 1 to 5)");
/// # Ok::<(), lottery_bet::FieldError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{}", UnknownAgency::message(.agency.get(), *.expected))]
pub struct UnknownAgency {
    /// The agency.
    pub agency: AgencyId,
    /// How many agencies the central expects.
    pub expected: u32,
}

impl UnknownAgency {
    /// The refusal's words for any agency number, also one that is not an
    /// [`AgencyId`] at all (0, which a handshake may name), so that every
    /// refusal of an agency the central does not expect reads alike: this is
    /// the one place its text is written.
    ///
    /// ```
    /// use lottery_core::UnknownAgency;
    /// assert_eq!(
    ///     UnknownAgency::message(0, 5).to_string(),
    ///     "agency 0 is not expected (the central expects agencies 1 to 5)"
    /// );
    /// ```
    pub fn message(agency: u32, expected: u32) -> impl std::fmt::Display {
        UnexpectedAgency { agency, expected }
    }
}

/// The text of [`UnknownAgency::message`].
struct UnexpectedAgency {
    agency: u32,
    expected: u32,
}

impl std::fmt::Display for UnexpectedAgency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "agency {} is not expected (the central expects agencies 1 to {})",
            self.agency, self.expected
        )
    }
}

/// Why a central could not be built over what its store recovered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecoveryError {
    /// The store holds bets or finishes of an agency the rules do not expect
    /// (the central is configured for fewer agencies than the store was
    /// written with).
    #[error("the store holds records of an agency the rules do not expect")]
    UnknownAgency(#[source] UnknownAgency),
    /// The store's bets could not be read to rebuild the draw's running
    /// tally, or every agency had finished and the draw could not be
    /// recorded.
    #[error("the draw's tally could not be rebuilt from the store, or the draw recorded")]
    Draw(#[source] StoreError),
    /// The store was created with other rules than the central's.
    #[error(
        "the store was created for {} agencies and winning number {}, the central is configured for {} agencies and winning number {}",
        stored.agencies, stored.winning, configured.agencies, configured.winning
    )]
    RulesMismatch {
        /// The rules the store records.
        stored: LotteryRules,
        /// The rules the central was given.
        configured: LotteryRules,
    },
    /// The recovered state contradicts itself (a draw recorded with agencies
    /// not finished, a draw that counts other winners than the store holds).
    #[error("the store is inconsistent: {0}")]
    Inconsistent(String),
    /// The ledger could not record the rules of a new store.
    #[error("the rules could not be recorded in the store")]
    Store(#[source] StoreError),
    /// The rules expect no agency, or more than [`crate::MAX_AGENCIES`].
    /// Nothing was read from or written to the store.
    #[error(
        "the rules expect {agencies} agencies; a central expects 1 to {max}",
        max = MAX_AGENCIES
    )]
    AgenciesOutOfRange {
        /// How many agencies the rules expect.
        agencies: u32,
    },
    /// Committed rules ([`crate::Winning::Committed`]) the central cannot
    /// serve: over a ledger that keeps no checksum chain, or one several
    /// centrals share (the PostgreSQL ledger: no secret they share), or a
    /// new store without a fresh secret. Nothing was written.
    #[error("a committed winning number {0}")]
    Committed(&'static str),
}
