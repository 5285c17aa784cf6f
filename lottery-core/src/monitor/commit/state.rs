//! The group-commit engine's bookkeeping: the state under each of its locks
//! (see the parent module for who holds which, and in what order).

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use lottery_bet::AgencyId;

use crate::error::StoreError;
use crate::lottery::ledger::PendingWrite;
use crate::monitor::journal::{Digest, Record};
use crate::monitor::manifest::Manifest;
use crate::monitor::store::{BetStore, StoreFile, StoreSyncer};

/// Where a journal record stands in the commit order: what a
/// [`PendingWrite`] of the file monitor carries.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PendingCommit {
    /// Its position among all records (from 1).
    pub(super) seq: u64,
    /// The commit epoch it was written in (bumped by every failed commit).
    pub(super) epoch: usize,
}

impl PendingCommit {
    /// The write that hands this ticket through the [`crate::Ledger`] seam.
    pub(crate) fn into_write(self) -> PendingWrite {
        PendingWrite::new(self.seq, self.epoch as u64)
    }

    /// The ticket a write of this engine carries.
    pub(crate) fn from_write(write: PendingWrite) -> Self {
        Self {
            seq: write.sequence(),
            epoch: usize::try_from(write.epoch()).unwrap_or(usize::MAX),
        }
    }
}

/// State under the append lock.
pub(super) struct Writer {
    pub(super) store: Box<dyn BetStore>,
    /// The data length the monitor vouches for; when the store's own length
    /// differs (a failed cut back), the next append repairs it first.
    pub(super) len: u64,
    /// Records written but not yet committed (`Fsync` mode), in data order:
    /// commit leaders copy those they take (`Commit::taken_seq` says how
    /// far), and remove them once committed; a failed commit cuts them all.
    pub(super) queued: Vec<(u64, Record, Digest)>,
    /// The link of the last record handed out (the chain's head, counting
    /// records not yet committed); a failed commit takes it back to the
    /// committed head.
    pub(super) chain: Digest,
    /// The store's manifest as last written.
    pub(super) manifest: Manifest,
    /// The last record sequence number handed out.
    pub(super) last_seq: u64,
    /// The current commit epoch.
    pub(super) epoch: usize,
    /// Per agency, the first batch a failed commit cut off. A later batch of
    /// that agency must not be written before that one is written again: the
    /// store would hold a hole that neither resume nor recovery can see.
    pub(super) cut_batches: BTreeMap<AgencyId, u64>,
}

/// State under the journal lock.
pub(super) struct JournalWriter {
    pub(super) file: Box<dyn StoreFile>,
    pub(super) syncer: Box<dyn StoreSyncer>,
    /// The journal length a completed sync covers (where a failure cuts back).
    pub(super) durable_len: u64,
}

/// Group-commit bookkeeping, under the commit lock.
#[derive(Debug, Default)]
pub(super) struct Commit {
    /// Every record up to this sequence number is committed (current epoch).
    pub(super) committed_seq: u64,
    /// The data length the committed records cover: what a scan may read.
    pub(super) committed_end: u64,
    /// The link of the last committed record.
    pub(super) committed_chain: Digest,
    /// How many records the journal holds up to it (receipts name the
    /// chain's head by this position).
    pub(super) committed_records: u64,
    /// The current epoch; `failed_epochs[e]` tells how epoch `e` ended.
    pub(super) epoch: usize,
    pub(super) failed_epochs: Vec<FailedEpoch>,
    /// Every record up to this sequence number belongs to a group (committed
    /// or being committed): its appender waits rather than leads.
    pub(super) taken_seq: u64,
    /// A leader is committing a group (one at a time: the next group's
    /// records may reach the journal only once this group's data is durable).
    pub(super) syncing_data: bool,
    /// The number the next group gets.
    pub(super) next_group: u64,
    /// The group whose turn it is to be journaled and synced.
    pub(super) journal_turn: u64,
}

/// The records one leader commits.
pub(super) struct Group {
    /// Its place in the journal stage's order.
    pub(super) number: u64,
    pub(super) records: Vec<(Record, Digest)>,
    /// The sequence number of its last record.
    pub(super) last_seq: u64,
    /// The data length its records cover.
    pub(super) end: u64,
    /// The epoch its records were written in.
    pub(super) epoch: usize,
}

/// How a failed commit ended an epoch: records up to `committed_seq` had been
/// committed, the rest were cut off, because of `error`.
#[derive(Debug)]
pub(super) struct FailedEpoch {
    pub(super) committed_seq: u64,
    pub(super) action: &'static str,
    pub(super) kind: io::ErrorKind,
    pub(super) message: String,
}

pub(super) enum Status {
    Committed,
    Pending,
    Failed(StoreError),
}

impl Commit {
    pub(super) fn status(&self, ticket: PendingCommit, path: &Path) -> Status {
        if ticket.epoch < self.epoch {
            let failed = &self.failed_epochs[ticket.epoch];
            if ticket.seq <= failed.committed_seq {
                return Status::Committed;
            }
            return Status::Failed(StoreError::Io {
                action: failed.action,
                path: path.to_path_buf(),
                source: io::Error::new(failed.kind, failed.message.clone()),
            });
        }
        if ticket.seq <= self.committed_seq {
            Status::Committed
        } else {
            Status::Pending
        }
    }
}
