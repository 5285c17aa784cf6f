//! What the two-step requests of the central hand out between their steps:
//! a begun batch ([`PendingSubmit`]) and a begun finish ([`PendingFinish`]).
//! Only the central reads what they hold.

use crate::bet::AgencyId;
use crate::ledger::Receipt;
use crate::lottery::{AckTicket, FinishTicket, Settled};
use crate::outcome::Submitted;

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
    pub(super) step: Pending,
}

#[derive(Debug)]
pub(super) enum Pending {
    /// Decided at once: nothing to wait for.
    Answered(Submitted),
    /// Written: wait until it is durable.
    Written { ticket: AckTicket, append: Receipt },
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
        ticket: FinishTicket,
        record: Receipt,
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
}
