//! The lottery as a plain state machine: no lock, no I/O, no clock.
//!
//! [`Lottery`] decides what each request means (take this batch? is this
//! finish the last one?) and records outcomes; the caller ([`crate::Central`])
//! does the storing and the recording, and owns the lock.
//!
//! Every operation that needs I/O is split in two steps around it, and the
//! first step hands out a pending handle that only the second step consumes:
//!
//! - a batch: [`Lottery::begin_submit`] reserves the next batch number
//!   ([`PendingBatchWrite`]); once its bytes are written, [`Lottery::written`] turns
//!   it into a [`PendingBatchAck`] (or [`Lottery::not_written`] releases the number);
//!   once they are durable, [`Lottery::acknowledge`] counts the batch as stored;
//! - a finish: [`Lottery::begin_finish`] checks the count and marks the agency
//!   as finishing ([`PendingFinishAck`]); [`Lottery::finish_recorded`] or
//!   [`Lottery::finish_not_recorded`] settle it;
//! - the draw: the finish that completes the set gets a [`DrawRight`]; the
//!   caller takes the [`Draw`] of the running tally ([`Lottery::tallied_draw`]),
//!   records it, and hands it to [`Lottery::draw_done`] (or calls
//!   [`Lottery::draw_failed`], and a later finish retries).
//!
//! # The running tally
//! The lottery keeps a [`DrawTally`] of the acknowledged batches: each
//! pending batch carries its winners' documents (picked by the caller before
//! the write), and [`Lottery::acknowledge`] adds a batch to the tally when,
//! and only when, it counts the batch as stored, in number order (an agency's
//! batches reach the store in number order, so its winners keep stored
//! order). A batch that is not written or not durable is dropped with its
//! winners. So the draw costs O(winners): once every agency finished, no
//! batch is pending and none is taken, and the tally is the store's. A
//! recovered lottery starts from the tally of the recovered store.
//!
//! # Invariants
//! - Batches of an agency are numbered from 1 and taken in order, each once:
//!   a batch number is either acknowledged (`<= last_batch`), pending (its
//!   bytes are being written or made durable), or not taken yet. A resend of
//!   an acknowledged batch is acknowledged again, never stored again, only
//!   when its [`BatchDigest`] is the one kept for the number (twelve bytes a
//!   batch; the caller compares, outside the lock): else it conflicts.
//! - An agency finishes only with no batch pending and with the count of its
//!   acknowledged bets; after that (or after the draw) no batch is taken.
//! - Winners exist only in the drawn phase ([`Phase::Drawn`] holds them), so a
//!   partial list cannot be observed: the draw is published whole, once.

use std::collections::{BTreeMap, VecDeque};

mod digests;
mod pending;
mod rows_crc;
mod shared;
#[cfg(test)]
mod tests;

pub(crate) use pending::{DrawRight, FinishStep, Settled, SubmitStep};
pub(crate) use pending::{PendingBatchAck, PendingBatchWrite, PendingFinishAck};

use lottery_bet::{AgencyId, BatchDigest, Document, ResumePoint};

use crate::error::{FinishError, RecoveryError, SubmitError, UnknownAgency};
use crate::lottery::draw::{Draw, DrawSummary, DrawTally, Winners};
use crate::lottery::ledger::Recovery;
use crate::lottery::outcome::{AgencySnapshot, DrawSnapshot, Finish, Snapshot, Submitted};
use crate::lottery::rules::LotteryRules;
use rows_crc::AgencyDigests;

/// Where an agency's finish stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Stage {
    /// Taking batches.
    #[default]
    Open,
    /// Its finish is being recorded: no batch is taken meanwhile.
    Finishing,
    /// Its finish is recorded.
    Finished,
}

/// A batch taken but not acknowledged yet.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PendingBatch {
    /// Tells this taking of the number from a later one after a roll back, so
    /// a stale pending handle never settles a newer batch.
    id: u64,
    batch: u64,
    bets: u64,
    /// Its bytes are in the store (false while the write runs).
    written: bool,
    /// Its content, as the ledger took it (known once written).
    digest: BatchDigest,
    /// The documents of its winning bets, in batch order: added to the
    /// running tally when the batch is acknowledged, dropped with it if not.
    winners: Vec<Document>,
}

/// One agency's books.
#[derive(Debug, Clone, Default)]
struct AgencyState {
    /// The last acknowledged batch: every batch up to it is stored and durable.
    last_batch: u64,
    /// Bets of the acknowledged batches.
    bets: u64,
    /// What its acknowledged batches hold (see the `digests` module).
    digests: AgencyDigests,
    /// Batches taken after `last_batch`, in number order (`last_batch + 1`,
    /// ...). Only the last one may still be being written.
    pending: VecDeque<PendingBatch>,
    stage: Stage,
}

/// The books of an agency that has not taken part yet: what
/// [`Lottery`] reads for an expected agency absent from its map.
static NEW_AGENCY: AgencyState = AgencyState {
    last_batch: 0,
    bets: 0,
    digests: AgencyDigests::new(),
    pending: VecDeque::new(),
    stage: Stage::Open,
};

impl AgencyState {
    /// The number the agency's next new batch must carry.
    fn next_batch(&self) -> u64 {
        self.pending.back().map_or(self.last_batch, |p| p.batch) + 1
    }

    /// Whether a two-step operation of this agency is between its steps in a
    /// way that forbids starting another one (a write or a finish record).
    fn busy(&self) -> bool {
        self.stage == Stage::Finishing || self.pending.back().is_some_and(|p| !p.written)
    }
}

/// The lottery's phase: winners exist only once drawn.
#[derive(Debug)]
enum Phase {
    /// Some agency has not finished.
    Open,
    /// Every agency finished; the draw is under way (`drawing`) or failed and
    /// awaits a retry.
    Closed {
        /// Whether a [`DrawRight`] is out.
        drawing: bool,
    },
    /// The draw happened: its result, complete.
    Drawn(Draw),
}

/// The lottery state machine (crate-private: [`crate::Central`] is its one
/// user, and the tests in `tests.rs` walk it step by step).
#[derive(Debug)]
pub(crate) struct Lottery {
    rules: LotteryRules,
    /// The books of every agency that took part (a batch, a finish, or
    /// anything in the recovered store): an expected agency absent here has
    /// [`NEW_AGENCY`]'s. So memory grows with the agencies that send
    /// something, not with the rules' count (a handshake adds nothing).
    agencies: BTreeMap<AgencyId, AgencyState>,
    /// How many agencies are [`Stage::Finished`].
    finished: u32,
    phase: Phase,
    /// The id of the last batch taken (see [`PendingBatch::id`]).
    last_id: u64,
    /// The running tally: the bets and winners of every acknowledged batch
    /// (and of the recovered store), per agency in stored order. Changed
    /// only by [`Lottery::acknowledge`] once recovered.
    tally: DrawTally,
}

impl Lottery {
    /// A lottery with nothing stored.
    pub fn new(rules: LotteryRules) -> Self {
        let mut lottery = Self {
            rules,
            agencies: BTreeMap::new(),
            finished: 0,
            phase: Phase::Open,
            last_id: 0,
            tally: DrawTally::new(rules),
        };
        lottery.close_if_complete();
        lottery
    }

    /// A lottery resuming what a store holds, with `tally` the store's
    /// tally (every stored bet added to a [`DrawTally`] for `rules`, in
    /// stored order). When every agency had finished, the draw is due: take
    /// it with [`Lottery::begin_draw`].
    ///
    /// # Errors
    /// [`RecoveryError::UnknownAgency`] when the store holds bets of an agency
    /// the rules do not expect (the central is configured for fewer agencies
    /// than the store was written with).
    pub fn recover(
        rules: LotteryRules,
        recovery: &Recovery,
        tally: DrawTally,
    ) -> Result<Self, RecoveryError> {
        let mut lottery = Self::new(rules);
        lottery.tally = tally;
        for (&agency, record) in &recovery.agencies {
            let Some(state) = lottery.agency_mut(agency) else {
                return Err(RecoveryError::UnknownAgency(UnknownAgency {
                    agency,
                    expected: rules.agencies,
                }));
            };
            state.last_batch = record.last_batch;
            state.bets = record.bets;
            state.recover_digests(recovery.batches.get(&agency));
            if record.finished {
                state.stage = Stage::Finished;
                lottery.finished += 1;
            }
        }
        lottery.close_if_complete();
        Ok(lottery)
    }

    fn unknown(&self, agency: AgencyId) -> UnknownAgency {
        UnknownAgency {
            agency,
            expected: self.rules.agencies,
        }
    }

    fn is_expected(&self, agency: AgencyId) -> bool {
        agency.get() <= self.rules.agencies
    }

    /// The books of an expected agency (`None` for one the rules do not
    /// expect).
    fn agency(&self, agency: AgencyId) -> Option<&AgencyState> {
        self.is_expected(agency)
            .then(|| self.agencies.get(&agency).unwrap_or(&NEW_AGENCY))
    }

    /// The books of an expected agency, added when it takes part for the
    /// first time (`None` for one the rules do not expect).
    fn agency_mut(&mut self, agency: AgencyId) -> Option<&mut AgencyState> {
        self.is_expected(agency)
            .then(|| self.agencies.entry(agency).or_default())
    }

    fn remaining(&self) -> u32 {
        self.rules.agencies - self.finished
    }

    fn close_if_complete(&mut self) {
        if self.remaining() == 0 && matches!(self.phase, Phase::Open) {
            self.phase = Phase::Closed { drawing: false };
        }
    }

    /// Where `agency` stands: its last acknowledged batch and bets.
    ///
    /// # Errors
    /// [`UnknownAgency`] outside `1..=N`.
    pub fn resume_point(&self, agency: AgencyId) -> Result<ResumePoint, UnknownAgency> {
        let state = self.agency(agency).ok_or(self.unknown(agency))?;
        Ok(ResumePoint {
            last_batch: state.last_batch,
            bets_stored: state.bets,
            finished: state.stage == Stage::Finished,
            rows_crc: state.stored_rows_crc(),
        })
    }

    /// Decides about batch number `batch` of `agency`, holding `bets` bets
    /// of which `winners` are the winning bets' documents (in batch order).
    ///
    /// The order of the checks matters: a resend of an acknowledged batch is
    /// acknowledged again even after the agency finished or the draw (it
    /// changes nothing, and the agency learns it was stored), once the
    /// caller found its digest to be the stored one
    /// ([`SubmitStep::AlreadyStored`]); a resend of a
    /// pending batch is refused (acknowledging it would promise a durability
    /// not reached yet, storing it again would duplicate it).
    ///
    /// # Errors
    /// [`SubmitError::UnknownAgency`], [`SubmitError::OutOfOrder`] (batch 0,
    /// or a number past the next one), [`SubmitError::BatchPending`],
    /// [`SubmitError::AgencyBusy`], [`SubmitError::AlreadyDrawn`],
    /// [`SubmitError::AgencyFinished`].
    pub fn begin_submit(
        &mut self,
        agency: AgencyId,
        batch: u64,
        bets: u64,
        winners: Vec<Document>,
    ) -> Result<SubmitStep, SubmitError> {
        let drawn = !matches!(self.phase, Phase::Open);
        // Decided on the books as they are; an agency's entry is added only
        // when a batch of it is taken (below).
        let state = self.agency(agency).ok_or(self.unknown(agency))?;
        let next = state.next_batch();
        if batch == 0 {
            return Err(SubmitError::OutOfOrder {
                agency,
                expected: next,
                got: batch,
            });
        }
        if batch <= state.last_batch {
            let stored = state.stored_digest(batch);
            return Ok(SubmitStep::AlreadyStored { batch, stored });
        }
        if batch < next {
            return Err(SubmitError::BatchPending { agency, batch });
        }
        // Every agency finished once the phase left `Open`, so the draw is the
        // more telling reason.
        if drawn {
            return Err(SubmitError::AlreadyDrawn);
        }
        if state.stage == Stage::Finished {
            return Err(SubmitError::AgencyFinished { agency });
        }
        if state.busy() {
            return Err(SubmitError::AgencyBusy { agency });
        }
        if batch > next {
            return Err(SubmitError::OutOfOrder {
                agency,
                expected: next,
                got: batch,
            });
        }
        self.last_id += 1;
        let id = self.last_id;
        let unknown = self.unknown(agency);
        let state = self.agency_mut(agency).ok_or(unknown)?;
        state.pending.push_back(PendingBatch {
            id,
            batch,
            bets,
            written: false,
            digest: BatchDigest::default(),
            winners,
        });
        Ok(SubmitStep::Write(PendingBatchWrite {
            id,
            agency,
            batch,
            bets,
        }))
    }

    /// The pending entry of a pending handle, if it was not settled or rolled back.
    fn pending_mut(&mut self, agency: AgencyId, id: u64) -> Option<&mut PendingBatch> {
        self.agencies
            .get_mut(&agency)?
            .pending
            .iter_mut()
            .find(|pending| pending.id == id)
    }

    /// The batch's bytes are in the store, with `digest` its content as the
    /// ledger took it; it now waits to be durable.
    pub fn written(&mut self, begun: PendingBatchWrite, digest: BatchDigest) -> PendingBatchAck {
        if let Some(pending) = self.pending_mut(begun.agency, begun.id) {
            pending.written = true;
            pending.digest = digest;
        }
        PendingBatchAck {
            id: begun.id,
            agency: begun.agency,
            batch: begun.batch,
            bets: begun.bets,
        }
    }

    /// The batch could not be written and nothing of it is in the store: its
    /// number is free again.
    pub fn not_written(&mut self, begun: PendingBatchWrite) {
        if let Some(state) = self.agencies.get_mut(&begun.agency)
            && state
                .pending
                .back()
                .is_some_and(|p| p.id == begun.id && !p.written)
        {
            state.pending.pop_back();
        }
    }

    /// The batch is durable: it and every pending batch of the agency before
    /// it (they precede it in the store, and a commit covers a prefix of the
    /// store) count as stored, and join the running tally, in number order.
    /// Each pending batch is counted once: it leaves `pending` as it is.
    pub fn acknowledge(&mut self, begun: PendingBatchAck) -> Submitted {
        if self.pending_mut(begun.agency, begun.id).is_some()
            && let Some(state) = self.agencies.get_mut(&begun.agency)
        {
            while state
                .pending
                .front()
                .is_some_and(|pending| pending.batch <= begun.batch && pending.written)
            {
                let Some(pending) = state.pending.pop_front() else {
                    break;
                };
                state.last_batch = pending.batch;
                state.bets += pending.bets;
                state.keep_digest(pending.batch, pending.digest);
                self.tally
                    .add_batch(begun.agency, pending.bets, pending.winners);
            }
        }
        // Absent: a later batch's acknowledgement already counted it.
        Submitted::Stored {
            batch: begun.batch,
            bets: begun.bets,
        }
    }

    /// The batch's commit failed and the monitor cut it off the store, with
    /// everything written after it: the batch and every later pending batch of
    /// the agency are forgotten, and the agency's next batch is this one again.
    pub fn not_durable(&mut self, begun: PendingBatchAck) {
        if let Some(state) = self.agencies.get_mut(&begun.agency)
            && let Some(position) = state.pending.iter().position(|p| p.id == begun.id)
        {
            state.pending.truncate(position);
        }
    }

    /// Decides about `agency`'s finish, having sent `bets_sent` bets.
    ///
    /// # Errors
    /// [`FinishError::UnknownAgency`], [`FinishError::AgencyBusy`],
    /// [`FinishError::BatchesPending`] (a batch is still being stored: its
    /// outcome decides the count), [`FinishError::CountMismatch`].
    pub fn begin_finish(
        &mut self,
        agency: AgencyId,
        bets_sent: u64,
    ) -> Result<FinishStep, FinishError> {
        let state = self.agency(agency).ok_or(self.unknown(agency))?;
        if state.busy() {
            return Err(FinishError::AgencyBusy { agency });
        }
        if !state.pending.is_empty() {
            return Err(FinishError::BatchesPending {
                agency,
                batches: state.pending.len() as u64,
            });
        }
        if bets_sent != state.bets {
            return Err(FinishError::CountMismatch {
                agency,
                sent: bets_sent,
                stored: state.bets,
            });
        }
        if state.stage == Stage::Open {
            if let Some(state) = self.agency_mut(agency) {
                state.stage = Stage::Finishing;
            }
            return Ok(FinishStep::Record(PendingFinishAck {
                agency,
                bets: bets_sent,
            }));
        }
        // A repeated finish.
        Ok(FinishStep::Settled(match self.phase {
            Phase::Open => Settled::Answer(Finish::Waiting {
                remaining: self.remaining(),
            }),
            Phase::Closed { drawing: true } => Settled::Answer(Finish::Waiting { remaining: 0 }),
            Phase::Closed { drawing: false } => Settled::Draw(self.take_draw()),
            Phase::Drawn(_) => Settled::Answer(Finish::AlreadyDrawn),
        }))
    }

    fn take_draw(&mut self) -> DrawRight {
        self.phase = Phase::Closed { drawing: true };
        DrawRight { _private: () }
    }

    /// The finish is recorded durably: the agency is finished. When it was the
    /// last one, the draw is due.
    pub fn finish_recorded(&mut self, begun: PendingFinishAck) -> Settled {
        if let Some(state) = self.agencies.get_mut(&begun.agency)
            && state.stage == Stage::Finishing
        {
            state.stage = Stage::Finished;
            self.finished += 1;
        }
        self.close_if_complete();
        match self.phase {
            Phase::Closed { drawing: false } => Settled::Draw(self.take_draw()),
            // Only over a shared ledger: another central drew meanwhile.
            Phase::Drawn(_) => Settled::Answer(Finish::AlreadyDrawn),
            _ => Settled::Answer(Finish::Waiting {
                remaining: self.remaining(),
            }),
        }
    }

    /// The finish could not be recorded: the agency is open again.
    pub fn finish_not_recorded(&mut self, begun: PendingFinishAck) {
        if let Some(state) = self.agencies.get_mut(&begun.agency)
            && state.stage == Stage::Finishing
        {
            state.stage = Stage::Open;
        }
    }

    /// The draw, when it is due and nobody performs it (after a recovery of a
    /// store where every agency had finished, or after a failed draw).
    pub fn begin_draw(&mut self) -> Option<DrawRight> {
        match self.phase {
            Phase::Closed { drawing: false } => Some(self.take_draw()),
            _ => None,
        }
    }

    /// The draw of the running tally (a copy of the winners: O(winners), no
    /// store read). Complete once a [`DrawRight`] is out: every agency
    /// finished, so no batch is pending and none is taken any more.
    pub fn tallied_draw(&self) -> Draw {
        self.tally.clone().finish()
    }

    /// Publishes the draw, whole: from now on winners queries answer from it.
    pub fn draw_done(&mut self, right: DrawRight, draw: Draw) -> DrawSummary {
        let DrawRight { _private: () } = right;
        let summary = draw.summary().clone();
        self.phase = Phase::Drawn(draw);
        summary
    }

    /// The draw could not be performed: it is due again (a repeated finish of
    /// any agency retries it).
    pub fn draw_failed(&mut self, right: DrawRight) {
        let DrawRight { _private: () } = right;
        if matches!(self.phase, Phase::Closed { .. }) {
            self.phase = Phase::Closed { drawing: false };
        }
    }

    /// Whether the draw happened.
    pub fn is_drawn(&self) -> bool {
        matches!(self.phase, Phase::Drawn(_))
    }

    /// The draw, once it happened.
    pub fn draw(&self) -> Option<&Draw> {
        match &self.phase {
            Phase::Drawn(draw) => Some(draw),
            _ => None,
        }
    }

    /// The books in counts: every agency that took part, the finishes, and
    /// the draw once it happened (O(agencies that took part)).
    pub fn snapshot(&self) -> Snapshot {
        let draw = match &self.phase {
            Phase::Drawn(draw) => Some(draw),
            _ => None,
        };
        let agencies = self
            .agencies
            .iter()
            .map(|(&agency, state)| AgencySnapshot {
                agency,
                bets: state.bets,
                last_batch: state.last_batch,
                finished: state.stage == Stage::Finished,
                winners: draw
                    .and_then(|draw| draw.winners(agency))
                    .map(|won| won.len() as u64),
            })
            .collect();
        Snapshot {
            agencies_expected: self.rules.agencies,
            agencies_finished: self.finished,
            agencies,
            draw: draw.and_then(DrawSnapshot::of),
        }
    }

    /// The winners of `agency`, or [`Winners::NotDrawn`].
    ///
    /// # Errors
    /// [`UnknownAgency`] outside `1..=N`.
    pub fn winners(&self, agency: AgencyId) -> Result<Winners, UnknownAgency> {
        let unknown = self.unknown(agency);
        self.agency(agency).ok_or(unknown)?;
        match &self.phase {
            Phase::Drawn(draw) => draw.winners(agency).map(Winners::Drawn).ok_or(unknown),
            _ => Ok(Winners::NotDrawn),
        }
    }
}
