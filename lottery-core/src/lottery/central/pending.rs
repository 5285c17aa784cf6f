//! What the two-step requests of the central hand out between their steps:
//! a begun batch ([`PendingSubmit`]) and a begun finish ([`PendingFinish`]).
//! Only the central reads what they hold.

use lottery_bet::{AgencyId, BatchDigest, BetBatch};

use crate::error::SubmitError;
use crate::lottery::ledger::PendingWrite;
use crate::lottery::machine::{PendingBatchAck, PendingFinishAck, Settled};
use crate::lottery::outcome::Submitted;

/// A batch begun by [`Central::begin_submit`](crate::Central::begin_submit):
/// hand it to [`Central::complete_submit`](crate::Central::complete_submit)
/// (of the same central) for its answer.
///
/// Dropping it instead leaves the batch pending (written, never acknowledged:
/// its resends are refused and the agency cannot finish) until a later batch of
/// the agency is acknowledged or the central restarts.
#[derive(Debug)]
#[must_use = "a begun batch is answered only by complete_submit"]
pub struct PendingSubmit {
    pub(super) agency: AgencyId,
    pub(super) batch: u64,
    /// Its rows' digest (the ledger's, or the resend's own): what a receipt
    /// names.
    pub(super) digest: BatchDigest,
    pub(super) step: Pending,
}

#[derive(Debug)]
pub(super) enum Pending {
    /// Decided at once: nothing to wait for.
    Answered(Submitted),
    /// Written: wait until it is durable.
    Written {
        begun: PendingBatchAck,
        append: PendingWrite,
    },
}

/// A finish begun by [`Central::begin_finish`](crate::Central::begin_finish):
/// hand it to [`Central::complete_finish`](crate::Central::complete_finish)
/// (of the same central) for its answer.
///
/// Dropping it instead leaves the agency finishing (its batches and finishes
/// refused as busy) until the central restarts.
#[derive(Debug)]
#[must_use = "a begun finish is answered only by complete_finish"]
pub struct PendingFinish(pub(super) FinishPending);

#[derive(Debug)]
pub(super) enum FinishPending {
    /// Decided at once (a repeated finish): nothing to wait for.
    Settled(Settled),
    /// A first finish: its record is queued; wait until it is durable.
    Recording {
        begun: PendingFinishAck,
        record: PendingWrite,
    },
}

impl PendingSubmit {
    /// The agency.
    pub fn agency(&self) -> AgencyId {
        self.agency
    }

    /// The batch's sequence number.
    pub fn batch(&self) -> u64 {
        self.batch
    }

    /// The digest of the batch's rows (CRC32C, length, bets): once it is
    /// acknowledged, the digest the store holds for it.
    pub fn digest(&self) -> BatchDigest {
        self.digest
    }
}

impl PendingSubmit {
    /// The answer to a resend of acknowledged batch number `batch`, whose
    /// digest the books keep as `stored`: acknowledged again when `bets`
    /// are the stored bets, refused as a conflict otherwise. Its rows are
    /// encoded and checksummed here, off the lottery lock (the path of a new
    /// batch never does it: the ledger's write gives its digest).
    pub(super) fn resend(
        agency: AgencyId,
        batch: u64,
        stored: Option<BatchDigest>,
        bets: &BetBatch,
    ) -> Result<Self, SubmitError> {
        let sent = BatchDigest::of(agency, bets);
        if stored != Some(sent) {
            return Err(SubmitError::BatchConflict {
                agency,
                batch,
                stored_bets: stored.map_or(0, |stored| stored.bets()),
                sent_bets: sent.bets(),
            });
        }
        Ok(Self {
            agency,
            batch,
            digest: sent,
            step: Pending::Answered(Submitted::AlreadyStored { batch }),
        })
    }
}
