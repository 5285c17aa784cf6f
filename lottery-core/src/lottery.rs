//! The lottery as a plain state machine: no lock, no I/O, no clock.
//!
//! [`Lottery`] decides what each request means (take this batch? is this
//! finish the last one?) and records outcomes; the caller ([`crate::Central`])
//! does the storing, the recording and the draw scan, and owns the lock.
//!
//! Every operation that needs I/O is split in two steps around it, and the
//! first step hands out a ticket that only the second step consumes:
//!
//! - a batch: [`Lottery::begin_submit`] reserves the next batch number
//!   ([`WriteTicket`]); once its bytes are written, [`Lottery::written`] turns
//!   it into an [`AckTicket`] (or [`Lottery::not_written`] releases the number);
//!   once they are durable, [`Lottery::acknowledge`] counts the batch as stored;
//! - a finish: [`Lottery::begin_finish`] checks the count and marks the agency
//!   as finishing ([`FinishTicket`]); [`Lottery::finish_recorded`] or
//!   [`Lottery::finish_not_recorded`] settle it;
//! - the draw: the finish that completes the set gets a [`DrawTicket`]; the
//!   caller scans the store into a [`DrawTally`] and hands the [`Draw`] to
//!   [`Lottery::draw_done`] (or [`Lottery::draw_failed`], and a later finish
//!   retries).
//!
//! # Invariants
//! - Batches of an agency are numbered from 1 and taken in order, each once:
//!   a batch number is either acknowledged (`<= last_batch`), pending (its
//!   bytes are being written or made durable), or not taken yet. A resend of
//!   an acknowledged batch is acknowledged again, never stored again.
//! - An agency finishes only with no batch pending and with the count of its
//!   acknowledged bets; after that (or after the draw) no batch is taken.
//! - Winners exist only in the drawn phase ([`Phase::Drawn`] holds them), so a
//!   partial list cannot be observed: the draw is published whole, once.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::bet::{AgencyId, BetNumber, Document, StoredBet};
use crate::error::{FinishError, RecoveryError, SubmitError, UnknownAgency};
use crate::monitor::Recovery;

/// The rules a central is started with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LotteryRules {
    /// The central expects agencies `1..=agencies`.
    pub agencies: u32,
    /// A bet wins when it plays this number.
    pub winning_number: BetNumber,
}

impl Default for LotteryRules {
    fn default() -> Self {
        Self {
            agencies: 5,
            winning_number: BetNumber::DEFAULT_WINNING,
        }
    }
}

/// Where an agency stands, as its handshake answer tells it (so that a
/// reconnecting agency resumes without resending or skipping).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResumePoint {
    /// The sequence number of the last batch stored for the agency (0: none).
    /// Batches are numbered from 1.
    pub last_batch: u64,
    /// Bets stored for the agency.
    pub bets_stored: u64,
    /// Whether the agency already finished.
    pub finished: bool,
}

/// What a submitted batch came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submitted {
    /// The batch was stored now.
    Stored {
        /// Its sequence number.
        batch: u64,
        /// Bets it held.
        bets: u64,
    },
    /// The batch had been stored before (a resend after a reconnect): it is
    /// acknowledged again and not stored again.
    AlreadyStored {
        /// Its sequence number.
        batch: u64,
    },
}

impl Submitted {
    /// The batch's sequence number.
    pub const fn batch(&self) -> u64 {
        match *self {
            Submitted::Stored { batch, .. } | Submitted::AlreadyStored { batch } => batch,
        }
    }
}

/// What a finish came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finish {
    /// Recorded; the draw has not happened yet. `remaining` counts the agencies
    /// that have not finished; it is 0 when every agency finished and the draw
    /// is under way on another thread (a repeated finish racing the last one).
    Waiting {
        /// How many agencies have not finished.
        remaining: u32,
    },
    /// This finish was the last one and this call performed the draw.
    Drew(DrawSummary),
    /// The draw had already happened (a repeated finish): nothing changed.
    AlreadyDrawn,
}

/// What the draw found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrawSummary {
    /// Bets scanned.
    pub bets: u64,
    /// Winners per agency, index 0 for agency 1.
    pub winners_per_agency: Vec<u64>,
}

/// The answer to a winners query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Winners {
    /// The draw has not happened yet.
    NotDrawn,
    /// The documents of the agency's winning bets, in stored order.
    Drawn(Arc<[Document]>),
}

/// The result of a draw: every agency's winners, complete.
///
/// Built by a [`DrawTally`] from a scan of the store; once handed to
/// [`Lottery::draw_done`] it is what winners queries answer from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draw {
    /// Index 0 for agency 1. Shared so that an answer is a cheap clone.
    winners: Vec<Arc<[Document]>>,
    summary: DrawSummary,
}

impl Draw {
    /// What the draw found, in numbers.
    pub fn summary(&self) -> &DrawSummary {
        &self.summary
    }

    /// The documents of `agency`'s winning bets, in stored order (`None` for
    /// an agency the rules do not expect).
    pub fn winners(&self, agency: AgencyId) -> Option<Arc<[Document]>> {
        self.winners.get(agency.index()).cloned()
    }
}

/// Collects the winners while the store is scanned, one bet at a time, so
/// the draw never needs the whole store in memory.
///
/// ```
/// use lottery_core::{AgencyId, Bet, LotteryRules, StoredBet};
/// use lottery_core::lottery::DrawTally;
///
/// let rules = LotteryRules { agencies: 2, ..LotteryRules::default() };
/// let mut tally = DrawTally::new(rules);
/// for (agency, document, number) in [(1, "1", "7574"), (2, "2", "12"), (1, "3", "7574")] {
///     let bet = Bet::from_fields("Ana", "Paz", document, "2000-01-01", number).unwrap();
///     tally.add(StoredBet { agency: AgencyId::new(agency).unwrap(), bet });
/// }
/// let draw = tally.finish();
/// assert_eq!(draw.summary().bets, 3);
/// assert_eq!(draw.summary().winners_per_agency, [2, 0]);
/// let first = draw.winners(AgencyId::new(1).unwrap()).unwrap();
/// assert_eq!(first.iter().map(|d| d.as_str()).collect::<Vec<_>>(), ["1", "3"]);
/// ```
#[derive(Debug, Clone)]
pub struct DrawTally {
    winning_number: BetNumber,
    winners: Vec<Vec<Document>>,
    bets: u64,
}

impl DrawTally {
    /// An empty tally for `rules`.
    pub fn new(rules: LotteryRules) -> Self {
        Self {
            winning_number: rules.winning_number,
            winners: vec![Vec::new(); rules.agencies as usize],
            bets: 0,
        }
    }

    /// Counts one stored bet; a winner is kept under its agency. A bet of an
    /// agency the rules do not expect is counted but cannot win anything: no
    /// one may ask for its winners.
    pub fn add(&mut self, stored: StoredBet) {
        let document = stored.bet.document;
        let added: Result<(), std::convert::Infallible> =
            self.add_fields(stored.agency, stored.bet.number, || Ok(document));
        let Ok(()) = added;
    }

    /// Counts one stored bet given by the fields the draw needs: like
    /// [`DrawTally::add`], but `document` is only called for a winning bet
    /// (a scan then reads no other document).
    ///
    /// # Errors
    /// `document`'s error.
    pub fn add_fields<E>(
        &mut self,
        agency: AgencyId,
        number: BetNumber,
        document: impl FnOnce() -> Result<Document, E>,
    ) -> Result<(), E> {
        self.bets += 1;
        if number == self.winning_number
            && let Some(documents) = self.winners.get_mut(agency.index())
        {
            documents.push(document()?);
        }
        Ok(())
    }

    /// The draw, complete.
    pub fn finish(self) -> Draw {
        let winners_per_agency = self.winners.iter().map(|w| w.len() as u64).collect();
        Draw {
            winners: self.winners.into_iter().map(Arc::from).collect(),
            summary: DrawSummary {
                bets: self.bets,
                winners_per_agency,
            },
        }
    }
}

/// A batch number reserved by [`Lottery::begin_submit`]: write the batch,
/// then hand the ticket to [`Lottery::written`] or [`Lottery::not_written`].
#[derive(Debug, PartialEq, Eq)]
#[must_use = "a reserved batch number stays reserved until its ticket is settled"]
pub struct WriteTicket {
    id: u64,
    agency: AgencyId,
    batch: u64,
    bets: u64,
}

impl WriteTicket {
    /// The agency.
    pub fn agency(&self) -> AgencyId {
        self.agency
    }

    /// The batch's sequence number.
    pub fn batch(&self) -> u64 {
        self.batch
    }
}

/// A batch whose bytes are in the store, waiting to be durable: hand it to
/// [`Lottery::acknowledge`] once they are, or to [`Lottery::not_durable`] if
/// its commit failed.
///
/// Dropping it instead leaves the batch pending: it is neither counted nor
/// taken again (a resend gets [`SubmitError::BatchPending`]) until a later
/// batch of the agency is acknowledged.
#[derive(Debug, PartialEq, Eq)]
#[must_use = "a written batch is counted only once it is acknowledged"]
pub struct AckTicket {
    id: u64,
    agency: AgencyId,
    batch: u64,
    bets: u64,
}

impl AckTicket {
    /// The agency.
    pub fn agency(&self) -> AgencyId {
        self.agency
    }

    /// The batch's sequence number.
    pub fn batch(&self) -> u64 {
        self.batch
    }
}

/// What [`Lottery::begin_submit`] decided.
#[derive(Debug, PartialEq, Eq)]
pub enum SubmitStep {
    /// The batch was acknowledged before: acknowledge it again, store nothing.
    AlreadyStored(Submitted),
    /// The batch is the agency's next: write it, then settle the ticket.
    Write(WriteTicket),
}

/// A finish waiting to be recorded durably: hand it to
/// [`Lottery::finish_recorded`] or [`Lottery::finish_not_recorded`].
#[derive(Debug, PartialEq, Eq)]
#[must_use = "the agency stays finishing until its ticket is settled"]
pub struct FinishTicket {
    agency: AgencyId,
    bets: u64,
}

impl FinishTicket {
    /// The agency.
    pub fn agency(&self) -> AgencyId {
        self.agency
    }

    /// The bets stored for it, to be recorded with the finish.
    pub fn bets(&self) -> u64 {
        self.bets
    }
}

/// The right (and duty) to perform the draw: scan the store into a
/// [`DrawTally`], then hand the result to [`Lottery::draw_done`], or call
/// [`Lottery::draw_failed`]. Only one exists at a time.
#[derive(Debug, PartialEq, Eq)]
#[must_use = "the draw stays under way until its ticket is settled"]
pub struct DrawTicket {
    _private: (),
}

/// What [`Lottery::begin_finish`] decided.
#[derive(Debug, PartialEq, Eq)]
pub enum FinishStep {
    /// A first finish: record it durably, then settle the ticket with
    /// [`Lottery::finish_recorded`] (or [`Lottery::finish_not_recorded`]).
    Record(FinishTicket),
    /// A repeated finish: nothing to record.
    Settled(Settled),
}

/// What a finish comes to once nothing is left to record.
#[derive(Debug, PartialEq, Eq)]
pub enum Settled {
    /// Answer the agency with this.
    Answer(Finish),
    /// Every agency finished: perform the draw, then settle the ticket.
    Draw(DrawTicket),
}

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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PendingBatch {
    /// Tells this taking of the number from a later one after a roll back, so
    /// a stale ticket never settles a newer batch.
    id: u64,
    batch: u64,
    bets: u64,
    /// Its bytes are in the store (false while the write runs).
    written: bool,
}

/// One agency's books.
#[derive(Debug, Clone, Default)]
struct AgencyState {
    /// The last acknowledged batch: every batch up to it is stored and durable.
    last_batch: u64,
    /// Bets of the acknowledged batches.
    bets: u64,
    /// Batches taken after `last_batch`, in number order (`last_batch + 1`,
    /// ...). Only the last one may still be being written.
    pending: VecDeque<PendingBatch>,
    stage: Stage,
}

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
        /// Whether a [`DrawTicket`] is out.
        drawing: bool,
    },
    /// The draw happened: its result, complete.
    Drawn(Draw),
}

/// The lottery state machine.
///
/// ```
/// use lottery_core::{AgencyId, Finish, LotteryRules, Submitted};
/// use lottery_core::lottery::{DrawTally, FinishStep, Lottery, Settled, SubmitStep};
///
/// let rules = LotteryRules { agencies: 1, ..LotteryRules::default() };
/// let mut lottery = Lottery::new(rules);
/// let agency = AgencyId::new(1).unwrap();
///
/// // Batch 1, two bets: reserve, write (elsewhere), acknowledge once durable.
/// let SubmitStep::Write(ticket) = lottery.begin_submit(agency, 1, 2).unwrap() else { panic!() };
/// let ack = lottery.written(ticket);
/// assert_eq!(lottery.acknowledge(ack), Submitted::Stored { batch: 1, bets: 2 });
///
/// // Finish with the right count: record (elsewhere), then draw.
/// let FinishStep::Record(ticket) = lottery.begin_finish(agency, 2).unwrap() else { panic!() };
/// let Settled::Draw(ticket) = lottery.finish_recorded(ticket) else { panic!() };
/// let summary = lottery.draw_done(ticket, DrawTally::new(rules).finish());
/// assert_eq!(summary.winners_per_agency, [0]);
/// assert!(lottery.is_drawn());
/// ```
#[derive(Debug)]
pub struct Lottery {
    rules: LotteryRules,
    /// Index 0 for agency 1.
    agencies: Vec<AgencyState>,
    /// How many agencies are [`Stage::Finished`].
    finished: u32,
    phase: Phase,
    /// The id of the last batch taken (see [`PendingBatch::id`]).
    last_id: u64,
}

impl Lottery {
    /// A lottery with nothing stored.
    pub fn new(rules: LotteryRules) -> Self {
        let mut lottery = Self {
            rules,
            agencies: vec![AgencyState::default(); rules.agencies as usize],
            finished: 0,
            phase: Phase::Open,
            last_id: 0,
        };
        lottery.close_if_complete();
        lottery
    }

    /// A lottery resuming what a store holds. When every agency had finished,
    /// the draw is due: take it with [`Lottery::begin_draw`].
    ///
    /// # Errors
    /// [`RecoveryError::UnknownAgency`] when the store holds bets of an agency
    /// the rules do not expect (the central is configured for fewer agencies
    /// than the store was written with).
    pub fn recover(rules: LotteryRules, recovery: &Recovery) -> Result<Self, RecoveryError> {
        let mut lottery = Self::new(rules);
        for (&agency, record) in &recovery.agencies {
            let Some(state) = lottery.agencies.get_mut(agency.index()) else {
                return Err(RecoveryError::UnknownAgency(UnknownAgency {
                    agency,
                    expected: rules.agencies,
                }));
            };
            state.last_batch = record.last_batch;
            state.bets = record.bets;
            if record.finished {
                state.stage = Stage::Finished;
                lottery.finished += 1;
            }
        }
        lottery.close_if_complete();
        Ok(lottery)
    }

    /// The rules.
    pub fn rules(&self) -> LotteryRules {
        self.rules
    }

    fn unknown(&self, agency: AgencyId) -> UnknownAgency {
        UnknownAgency {
            agency,
            expected: self.rules.agencies,
        }
    }

    fn agency(&self, agency: AgencyId) -> Option<&AgencyState> {
        self.agencies.get(agency.index())
    }

    fn agency_mut(&mut self, agency: AgencyId) -> Option<&mut AgencyState> {
        self.agencies.get_mut(agency.index())
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
        })
    }

    /// Decides about batch number `batch` of `agency`, holding `bets` bets.
    ///
    /// The order of the checks matters: a resend of an acknowledged batch is
    /// acknowledged again even after the agency finished or the draw (it
    /// changes nothing, and the agency learns it was stored); a resend of a
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
    ) -> Result<SubmitStep, SubmitError> {
        let unknown = self.unknown(agency);
        let drawn = !matches!(self.phase, Phase::Open);
        // The field, not `agency_mut`, so that `last_id` stays borrowable.
        let state = self.agencies.get_mut(agency.index()).ok_or(unknown)?;
        let next = state.next_batch();
        if batch == 0 {
            return Err(SubmitError::OutOfOrder {
                agency,
                expected: next,
                got: batch,
            });
        }
        if batch <= state.last_batch {
            return Ok(SubmitStep::AlreadyStored(Submitted::AlreadyStored {
                batch,
            }));
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
        state.pending.push_back(PendingBatch {
            id,
            batch,
            bets,
            written: false,
        });
        Ok(SubmitStep::Write(WriteTicket {
            id,
            agency,
            batch,
            bets,
        }))
    }

    /// The pending entry of a ticket, if it was not settled or rolled back.
    fn pending_mut(&mut self, agency: AgencyId, id: u64) -> Option<&mut PendingBatch> {
        self.agency_mut(agency)?
            .pending
            .iter_mut()
            .find(|pending| pending.id == id)
    }

    /// The batch's bytes are in the store; it now waits to be durable.
    pub fn written(&mut self, ticket: WriteTicket) -> AckTicket {
        if let Some(pending) = self.pending_mut(ticket.agency, ticket.id) {
            pending.written = true;
        }
        AckTicket {
            id: ticket.id,
            agency: ticket.agency,
            batch: ticket.batch,
            bets: ticket.bets,
        }
    }

    /// The batch could not be written and nothing of it is in the store: its
    /// number is free again.
    pub fn not_written(&mut self, ticket: WriteTicket) {
        if let Some(state) = self.agency_mut(ticket.agency)
            && state
                .pending
                .back()
                .is_some_and(|p| p.id == ticket.id && !p.written)
        {
            state.pending.pop_back();
        }
    }

    /// The batch is durable: it and every pending batch of the agency before
    /// it (they precede it in the store, and a commit covers a prefix of the
    /// store) count as stored.
    pub fn acknowledge(&mut self, ticket: AckTicket) -> Submitted {
        if self.pending_mut(ticket.agency, ticket.id).is_some()
            && let Some(state) = self.agency_mut(ticket.agency)
        {
            while let Some(pending) = state.pending.front().copied() {
                if pending.batch > ticket.batch || !pending.written {
                    break;
                }
                state.pending.pop_front();
                state.last_batch = pending.batch;
                state.bets += pending.bets;
            }
        }
        // Absent: a later batch's acknowledgement already counted it.
        Submitted::Stored {
            batch: ticket.batch,
            bets: ticket.bets,
        }
    }

    /// The batch's commit failed and the monitor cut it off the store, with
    /// everything written after it: the batch and every later pending batch of
    /// the agency are forgotten, and the agency's next batch is this one again.
    pub fn not_durable(&mut self, ticket: AckTicket) {
        if let Some(state) = self.agency_mut(ticket.agency)
            && let Some(position) = state.pending.iter().position(|p| p.id == ticket.id)
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
        let unknown = self.unknown(agency);
        let state = self.agency_mut(agency).ok_or(unknown)?;
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
            state.stage = Stage::Finishing;
            return Ok(FinishStep::Record(FinishTicket {
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

    fn take_draw(&mut self) -> DrawTicket {
        self.phase = Phase::Closed { drawing: true };
        DrawTicket { _private: () }
    }

    /// The finish is recorded durably: the agency is finished. When it was the
    /// last one, the draw is due.
    pub fn finish_recorded(&mut self, ticket: FinishTicket) -> Settled {
        if let Some(state) = self.agency_mut(ticket.agency)
            && state.stage == Stage::Finishing
        {
            state.stage = Stage::Finished;
            self.finished += 1;
        }
        self.close_if_complete();
        match self.phase {
            Phase::Closed { drawing: false } => Settled::Draw(self.take_draw()),
            _ => Settled::Answer(Finish::Waiting {
                remaining: self.remaining(),
            }),
        }
    }

    /// The finish could not be recorded: the agency is open again.
    pub fn finish_not_recorded(&mut self, ticket: FinishTicket) {
        if let Some(state) = self.agency_mut(ticket.agency)
            && state.stage == Stage::Finishing
        {
            state.stage = Stage::Open;
        }
    }

    /// The draw, when it is due and nobody performs it (after a recovery of a
    /// store where every agency had finished, or after a failed draw).
    pub fn begin_draw(&mut self) -> Option<DrawTicket> {
        match self.phase {
            Phase::Closed { drawing: false } => Some(self.take_draw()),
            _ => None,
        }
    }

    /// Publishes the draw, whole: from now on winners queries answer from it.
    pub fn draw_done(&mut self, ticket: DrawTicket, draw: Draw) -> DrawSummary {
        let DrawTicket { _private: () } = ticket;
        let summary = draw.summary.clone();
        self.phase = Phase::Drawn(draw);
        summary
    }

    /// The draw could not be performed: it is due again (a repeated finish of
    /// any agency retries it).
    pub fn draw_failed(&mut self, ticket: DrawTicket) {
        let DrawTicket { _private: () } = ticket;
        if matches!(self.phase, Phase::Closed { .. }) {
            self.phase = Phase::Closed { drawing: false };
        }
    }

    /// Whether the draw happened.
    pub fn is_drawn(&self) -> bool {
        matches!(self.phase, Phase::Drawn(_))
    }

    /// The draw's summary, once it happened.
    pub fn draw_summary(&self) -> Option<&DrawSummary> {
        match &self.phase {
            Phase::Drawn(draw) => Some(draw.summary()),
            _ => None,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bet::Bet;
    use crate::monitor::AgencyRecord;

    fn agency(id: u32) -> AgencyId {
        AgencyId::new(id).unwrap()
    }

    fn rules(agencies: u32) -> LotteryRules {
        LotteryRules {
            agencies,
            ..LotteryRules::default()
        }
    }

    fn stored(id: u32, document: &str, number: &str) -> StoredBet {
        StoredBet {
            agency: agency(id),
            bet: Bet::from_fields("Ana", "Paz", document, "1990-05-06", number).unwrap(),
        }
    }

    /// Takes, writes and acknowledges one batch.
    fn store(lottery: &mut Lottery, id: u32, batch: u64, bets: u64) -> Submitted {
        match lottery.begin_submit(agency(id), batch, bets).unwrap() {
            SubmitStep::Write(ticket) => {
                let ack = lottery.written(ticket);
                lottery.acknowledge(ack)
            }
            SubmitStep::AlreadyStored(submitted) => submitted,
        }
    }

    /// Finishes an agency through every step; returns the final answer and
    /// the draw ticket if this finish must draw.
    fn finish(lottery: &mut Lottery, id: u32, sent: u64) -> Result<Settled, FinishError> {
        Ok(match lottery.begin_finish(agency(id), sent)? {
            FinishStep::Record(ticket) => lottery.finish_recorded(ticket),
            FinishStep::Settled(settled) => settled,
        })
    }

    fn documents(winners: &Winners) -> Vec<&str> {
        match winners {
            Winners::Drawn(documents) => documents.iter().map(Document::as_str).collect(),
            Winners::NotDrawn => panic!("not drawn"),
        }
    }

    #[test]
    fn batches_are_taken_in_order_and_counted_once_acknowledged() {
        let mut lottery = Lottery::new(rules(2));
        assert_eq!(
            store(&mut lottery, 1, 1, 3),
            Submitted::Stored { batch: 1, bets: 3 }
        );
        assert_eq!(
            store(&mut lottery, 1, 2, 4),
            Submitted::Stored { batch: 2, bets: 4 }
        );
        assert_eq!(
            lottery.resume_point(agency(1)).unwrap(),
            ResumePoint {
                last_batch: 2,
                bets_stored: 7,
                finished: false
            }
        );
        assert_eq!(
            lottery.resume_point(agency(2)).unwrap(),
            ResumePoint::default()
        );
    }

    #[test]
    fn a_resent_batch_is_acknowledged_again_and_not_taken() {
        let mut lottery = Lottery::new(rules(1));
        store(&mut lottery, 1, 1, 3);
        store(&mut lottery, 1, 2, 3);
        assert_eq!(
            lottery.begin_submit(agency(1), 1, 3).unwrap(),
            SubmitStep::AlreadyStored(Submitted::AlreadyStored { batch: 1 })
        );
        assert_eq!(lottery.resume_point(agency(1)).unwrap().bets_stored, 6);
    }

    #[test]
    fn a_batch_skipping_ahead_or_numbered_zero_is_out_of_order() {
        let mut lottery = Lottery::new(rules(1));
        store(&mut lottery, 1, 1, 1);
        for got in [0, 3, u64::MAX] {
            assert!(matches!(
                lottery.begin_submit(agency(1), got, 1),
                Err(SubmitError::OutOfOrder { expected: 2, got: g, .. }) if g == got
            ));
        }
    }

    #[test]
    fn unknown_agencies_are_refused_everywhere() {
        let mut lottery = Lottery::new(rules(2));
        assert!(matches!(
            lottery.begin_submit(agency(3), 1, 1),
            Err(SubmitError::UnknownAgency(UnknownAgency {
                expected: 2,
                ..
            }))
        ));
        assert!(matches!(
            lottery.begin_finish(agency(3), 0),
            Err(FinishError::UnknownAgency(UnknownAgency {
                expected: 2,
                ..
            }))
        ));
        assert!(lottery.winners(agency(3)).is_err());
        assert!(lottery.resume_point(agency(3)).is_err());
    }

    #[test]
    fn pending_batches_reserve_their_numbers_and_block_the_finish() {
        let mut lottery = Lottery::new(rules(1));
        let SubmitStep::Write(first) = lottery.begin_submit(agency(1), 1, 2).unwrap() else {
            panic!("batch 1 is new")
        };
        // While batch 1 is being written, nothing else of the agency starts.
        assert!(matches!(
            lottery.begin_submit(agency(1), 2, 2),
            Err(SubmitError::AgencyBusy { .. })
        ));
        assert!(matches!(
            lottery.begin_finish(agency(1), 0),
            Err(FinishError::AgencyBusy { .. })
        ));
        let first = lottery.written(first);
        // Written, not durable: batch 2 may follow (pipelining), a resend of 1
        // may not be acknowledged yet, and the finish must wait.
        let SubmitStep::Write(second) = lottery.begin_submit(agency(1), 2, 5).unwrap() else {
            panic!("batch 2 is next")
        };
        let second = lottery.written(second);
        assert!(matches!(
            lottery.begin_submit(agency(1), 1, 2),
            Err(SubmitError::BatchPending { batch: 1, .. })
        ));
        assert!(matches!(
            lottery.begin_submit(agency(1), 4, 1),
            Err(SubmitError::OutOfOrder {
                expected: 3,
                got: 4,
                ..
            })
        ));
        assert!(matches!(
            lottery.begin_finish(agency(1), 7),
            Err(FinishError::BatchesPending { batches: 2, .. })
        ));
        assert_eq!(lottery.resume_point(agency(1)).unwrap().last_batch, 0);
        assert_eq!(
            lottery.acknowledge(first),
            Submitted::Stored { batch: 1, bets: 2 }
        );
        assert_eq!(lottery.resume_point(agency(1)).unwrap().bets_stored, 2);
        assert_eq!(
            lottery.acknowledge(second),
            Submitted::Stored { batch: 2, bets: 5 }
        );
        assert_eq!(
            lottery.resume_point(agency(1)).unwrap(),
            ResumePoint {
                last_batch: 2,
                bets_stored: 7,
                finished: false
            }
        );
    }

    #[test]
    fn acknowledging_a_later_batch_acknowledges_the_earlier_ones() {
        let mut lottery = Lottery::new(rules(1));
        let SubmitStep::Write(first) = lottery.begin_submit(agency(1), 1, 2).unwrap() else {
            panic!()
        };
        let first = lottery.written(first);
        let SubmitStep::Write(second) = lottery.begin_submit(agency(1), 2, 3).unwrap() else {
            panic!()
        };
        let second = lottery.written(second);
        lottery.acknowledge(second);
        assert_eq!(lottery.resume_point(agency(1)).unwrap().bets_stored, 5);
        // The earlier ticket settles without counting twice.
        assert_eq!(
            lottery.acknowledge(first),
            Submitted::Stored { batch: 1, bets: 2 }
        );
        assert_eq!(
            lottery.resume_point(agency(1)).unwrap(),
            ResumePoint {
                last_batch: 2,
                bets_stored: 5,
                finished: false
            }
        );
    }

    #[test]
    fn a_batch_that_was_not_written_frees_its_number() {
        let mut lottery = Lottery::new(rules(1));
        let SubmitStep::Write(ticket) = lottery.begin_submit(agency(1), 1, 2).unwrap() else {
            panic!()
        };
        lottery.not_written(ticket);
        assert_eq!(
            lottery.resume_point(agency(1)).unwrap(),
            ResumePoint::default()
        );
        assert_eq!(
            store(&mut lottery, 1, 1, 4),
            Submitted::Stored { batch: 1, bets: 4 }
        );
    }

    #[test]
    fn a_batch_never_acknowledged_stays_pending() {
        let mut lottery = Lottery::new(rules(1));
        let SubmitStep::Write(ticket) = lottery.begin_submit(agency(1), 1, 2).unwrap() else {
            panic!()
        };
        drop(lottery.written(ticket));
        assert!(matches!(
            lottery.begin_submit(agency(1), 1, 2),
            Err(SubmitError::BatchPending { batch: 1, .. })
        ));
        assert!(matches!(
            lottery.begin_finish(agency(1), 0),
            Err(FinishError::BatchesPending { batches: 1, .. })
        ));
    }

    #[test]
    fn a_failed_commit_forgets_the_batch_and_every_later_one() {
        let mut lottery = Lottery::new(rules(1));
        store(&mut lottery, 1, 1, 1);
        let mut acks = Vec::new();
        for batch in 2..=4 {
            let SubmitStep::Write(ticket) = lottery.begin_submit(agency(1), batch, 10).unwrap()
            else {
                panic!()
            };
            acks.push(lottery.written(ticket));
        }
        let [two, three, four] = <[AckTicket; 3]>::try_from(acks).unwrap();
        assert_eq!(
            lottery.acknowledge(two),
            Submitted::Stored { batch: 2, bets: 10 }
        );
        lottery.not_durable(three);
        // Batch 3 is the next one again; the stale ticket of batch 4 changes
        // nothing, not even a batch 4 taken again later.
        let SubmitStep::Write(again) = lottery.begin_submit(agency(1), 3, 5).unwrap() else {
            panic!("batch 3 is next again")
        };
        let again = lottery.written(again);
        let SubmitStep::Write(four_again) = lottery.begin_submit(agency(1), 4, 7).unwrap() else {
            panic!("batch 4 follows")
        };
        let four_again = lottery.written(four_again);
        lottery.not_durable(four);
        assert!(matches!(
            lottery.begin_finish(agency(1), 23),
            Err(FinishError::BatchesPending { batches: 2, .. })
        ));
        lottery.acknowledge(again);
        lottery.acknowledge(four_again);
        assert_eq!(
            lottery.resume_point(agency(1)).unwrap(),
            ResumePoint {
                last_batch: 4,
                bets_stored: 23,
                finished: false
            }
        );
    }

    #[test]
    fn finishing_checks_the_count_and_is_idempotent() {
        let mut lottery = Lottery::new(rules(2));
        store(&mut lottery, 1, 1, 3);
        assert!(matches!(
            lottery.begin_finish(agency(1), 2),
            Err(FinishError::CountMismatch {
                sent: 2,
                stored: 3,
                ..
            })
        ));
        assert_eq!(
            finish(&mut lottery, 1, 3).unwrap(),
            Settled::Answer(Finish::Waiting { remaining: 1 })
        );
        assert_eq!(
            finish(&mut lottery, 1, 3).unwrap(),
            Settled::Answer(Finish::Waiting { remaining: 1 })
        );
        assert!(matches!(
            lottery.begin_finish(agency(1), 4),
            Err(FinishError::CountMismatch { .. })
        ));
        assert!(lottery.resume_point(agency(1)).unwrap().finished);
    }

    #[test]
    fn a_finished_agency_takes_no_more_batches_but_acks_old_ones() {
        let mut lottery = Lottery::new(rules(2));
        store(&mut lottery, 1, 1, 3);
        finish(&mut lottery, 1, 3).unwrap();
        assert!(matches!(
            lottery.begin_submit(agency(1), 2, 1),
            Err(SubmitError::AgencyFinished { .. })
        ));
        assert!(matches!(
            lottery.begin_submit(agency(1), 1, 3),
            Ok(SubmitStep::AlreadyStored(_))
        ));
    }

    #[test]
    fn an_agency_being_finished_takes_no_batch_and_reopens_if_the_record_fails() {
        let mut lottery = Lottery::new(rules(1));
        let FinishStep::Record(ticket) = lottery.begin_finish(agency(1), 0).unwrap() else {
            panic!()
        };
        assert!(matches!(
            lottery.begin_submit(agency(1), 1, 1),
            Err(SubmitError::AgencyBusy { .. })
        ));
        assert_eq!(ticket.bets(), 0);
        lottery.finish_not_recorded(ticket);
        assert!(!lottery.resume_point(agency(1)).unwrap().finished);
        assert_eq!(
            store(&mut lottery, 1, 1, 1),
            Submitted::Stored { batch: 1, bets: 1 }
        );
    }

    #[test]
    fn draw_happens_once_when_the_last_agency_finishes() {
        let rules = rules(3);
        let mut lottery = Lottery::new(rules);
        assert!(matches!(
            finish(&mut lottery, 1, 0),
            Ok(Settled::Answer(Finish::Waiting { remaining: 2 }))
        ));
        assert!(matches!(
            finish(&mut lottery, 3, 0),
            Ok(Settled::Answer(Finish::Waiting { remaining: 1 }))
        ));
        let Ok(Settled::Draw(ticket)) = finish(&mut lottery, 2, 0) else {
            panic!("the last finish draws")
        };
        // While the draw runs: no winners, no second draw, no bets.
        assert_eq!(lottery.winners(agency(1)).unwrap(), Winners::NotDrawn);
        assert!(lottery.begin_draw().is_none());
        assert_eq!(
            finish(&mut lottery, 1, 0).unwrap(),
            Settled::Answer(Finish::Waiting { remaining: 0 })
        );
        assert!(matches!(
            lottery.begin_submit(agency(2), 1, 1),
            Err(SubmitError::AlreadyDrawn)
        ));
        let summary = lottery.draw_done(ticket, DrawTally::new(rules).finish());
        assert_eq!(summary.winners_per_agency, [0, 0, 0]);
        assert_eq!(lottery.draw_summary(), Some(&summary));
        assert_eq!(
            finish(&mut lottery, 2, 0).unwrap(),
            Settled::Answer(Finish::AlreadyDrawn)
        );
        assert!(lottery.begin_draw().is_none());
    }

    #[test]
    fn a_failed_draw_is_retried_by_a_repeated_finish() {
        let rules = rules(1);
        let mut lottery = Lottery::new(rules);
        let Ok(Settled::Draw(ticket)) = finish(&mut lottery, 1, 0) else {
            panic!()
        };
        lottery.draw_failed(ticket);
        assert!(!lottery.is_drawn());
        let Ok(Settled::Draw(ticket)) = finish(&mut lottery, 1, 0) else {
            panic!("the repeated finish retries the draw")
        };
        lottery.draw_done(ticket, DrawTally::new(rules).finish());
        assert!(lottery.is_drawn());
    }

    #[test]
    fn winners_are_each_agencys_own_documents_in_stored_order() {
        let rules = rules(3);
        let mut tally = DrawTally::new(rules);
        for bet in [
            stored(2, "20", "7574"),
            stored(1, "10", "7574"),
            stored(2, "21", "1"),
            stored(2, "22", "7574"),
            stored(9, "90", "7574"),
        ] {
            tally.add(bet);
        }
        let mut lottery = Lottery::new(rules);
        for id in 1..=2 {
            finish(&mut lottery, id, 0).unwrap();
        }
        let Ok(Settled::Draw(ticket)) = finish(&mut lottery, 3, 0) else {
            panic!()
        };
        let summary = lottery.draw_done(ticket, tally.finish());
        assert_eq!(summary.bets, 5);
        assert_eq!(summary.winners_per_agency, [1, 2, 0]);
        assert_eq!(documents(&lottery.winners(agency(1)).unwrap()), ["10"]);
        assert_eq!(
            documents(&lottery.winners(agency(2)).unwrap()),
            ["20", "22"]
        );
        assert!(documents(&lottery.winners(agency(3)).unwrap()).is_empty());
    }

    #[test]
    fn recovery_resumes_batches_counts_and_finishes() {
        let mut recovery = Recovery::default();
        recovery.agencies.insert(
            agency(1),
            AgencyRecord {
                bets: 10,
                last_batch: 4,
                finished: true,
            },
        );
        recovery.agencies.insert(
            agency(2),
            AgencyRecord {
                bets: 3,
                last_batch: 1,
                finished: false,
            },
        );
        let mut lottery = Lottery::recover(rules(2), &recovery).unwrap();
        assert_eq!(
            lottery.resume_point(agency(1)).unwrap(),
            ResumePoint {
                last_batch: 4,
                bets_stored: 10,
                finished: true
            }
        );
        assert!(lottery.begin_draw().is_none());
        assert!(matches!(
            lottery.begin_submit(agency(2), 1, 3),
            Ok(SubmitStep::AlreadyStored(_))
        ));
        assert!(matches!(
            lottery.begin_submit(agency(2), 2, 3),
            Ok(SubmitStep::Write(_))
        ));
    }

    #[test]
    fn recovery_of_a_finished_lottery_makes_the_draw_due() {
        let mut recovery = Recovery::default();
        for id in 1..=2 {
            recovery.agencies.insert(
                agency(id),
                AgencyRecord {
                    bets: 0,
                    last_batch: 0,
                    finished: true,
                },
            );
        }
        let mut lottery = Lottery::recover(rules(2), &recovery).unwrap();
        assert!(!lottery.is_drawn());
        let ticket = lottery.begin_draw().expect("the draw is due");
        assert!(lottery.begin_draw().is_none());
        lottery.draw_done(ticket, DrawTally::new(rules(2)).finish());
        assert!(lottery.is_drawn());
    }

    #[test]
    fn recovery_refuses_a_store_with_unexpected_agencies() {
        let mut recovery = Recovery::default();
        recovery.agencies.insert(agency(3), AgencyRecord::default());
        assert!(matches!(
            Lottery::recover(rules(2), &recovery),
            Err(RecoveryError::UnknownAgency(UnknownAgency {
                expected: 2,
                ..
            }))
        ));
    }
}
