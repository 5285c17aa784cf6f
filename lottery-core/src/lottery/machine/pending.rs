//! The pending handles of the state machine's two-step operations: what the
//! first step hands out (begun, not yet durable) and only the second step
//! consumes (see the parent module). Their fields are the state machine's
//! alone.

use lottery_bet::{AgencyId, BatchDigest};

use crate::lottery::outcome::Finish;

/// A batch number reserved by [`Lottery::begin_submit`](super::Lottery::begin_submit): write the batch,
/// then hand it to [`Lottery::written`](super::Lottery::written) or [`Lottery::not_written`](super::Lottery::not_written).
#[derive(Debug, PartialEq, Eq)]
#[must_use = "a reserved batch number stays reserved until it is settled"]
pub(crate) struct PendingBatchWrite {
    pub(super) id: u64,
    pub(super) agency: AgencyId,
    pub(super) batch: u64,
    pub(super) bets: u64,
}

/// A batch whose bytes are in the store, waiting to be durable: hand it to
/// [`Lottery::acknowledge`](super::Lottery::acknowledge) once they are, or to [`Lottery::not_durable`](super::Lottery::not_durable) if
/// its commit failed.
///
/// Dropping it instead leaves the batch pending: it is neither counted nor
/// taken again (a resend gets [`SubmitError::BatchPending`](crate::SubmitError::BatchPending)) until a later
/// batch of the agency is acknowledged.
#[derive(Debug, PartialEq, Eq)]
#[must_use = "a written batch is counted only once it is acknowledged"]
pub(crate) struct PendingBatchAck {
    pub(super) id: u64,
    pub(super) agency: AgencyId,
    pub(super) batch: u64,
    pub(super) bets: u64,
}

impl PendingBatchAck {
    /// Bets of the batch.
    pub(crate) fn bets(&self) -> u64 {
        self.bets
    }
}

/// What [`Lottery::begin_submit`](super::Lottery::begin_submit) decided.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SubmitStep {
    /// The batch was acknowledged before: acknowledge it again, storing
    /// nothing, if and only if its digest is `stored` (else it conflicts;
    /// `None`: the books do not know the stored batch's digest, so nothing
    /// vouches for a resend of it).
    AlreadyStored {
        /// Its sequence number.
        batch: u64,
        /// The digest of the batch stored under that number.
        stored: Option<BatchDigest>,
    },
    /// The batch is the agency's next: write it, then settle its pending write.
    Write(PendingBatchWrite),
}

/// A finish waiting to be recorded durably: hand it to
/// [`Lottery::finish_recorded`](super::Lottery::finish_recorded) or [`Lottery::finish_not_recorded`](super::Lottery::finish_not_recorded).
#[derive(Debug, PartialEq, Eq)]
#[must_use = "the agency stays finishing until its pending finish is settled"]
pub(crate) struct PendingFinishAck {
    pub(super) agency: AgencyId,
    pub(super) bets: u64,
}

impl PendingFinishAck {
    /// The bets stored for it, to be recorded with the finish.
    pub(crate) fn bets(&self) -> u64 {
        self.bets
    }
}

/// The right (and duty) to perform the draw: take the running tally's draw
/// ([`Lottery::tallied_draw`](super::Lottery::tallied_draw)), record it,
/// then hand it to [`Lottery::draw_done`](super::Lottery::draw_done), or call
/// [`Lottery::draw_failed`](super::Lottery::draw_failed). Only one exists at a time.
#[derive(Debug, PartialEq, Eq)]
#[must_use = "the draw stays under way until its right is settled"]
pub(crate) struct DrawRight {
    pub(super) _private: (),
}

/// What [`Lottery::begin_finish`](super::Lottery::begin_finish) decided.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum FinishStep {
    /// A first finish: record it durably, then settle the pending finish with
    /// [`Lottery::finish_recorded`](super::Lottery::finish_recorded) (or [`Lottery::finish_not_recorded`](super::Lottery::finish_not_recorded)).
    Record(PendingFinishAck),
    /// A repeated finish: nothing to record.
    Settled(Settled),
}

/// What a finish comes to once nothing is left to record.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Settled {
    /// Answer the agency with this.
    Answer(Finish),
    /// Every agency finished: perform the draw, then settle the right.
    Draw(DrawRight),
}
