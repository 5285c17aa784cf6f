//! The central: the lottery behind its lock, with its ledger beside it.
//!
//! A cheap, cloneable handle shared by every thread (event loops, tests,
//! embedding programs). It turns each request into the steps of the pure
//! state machine around the ledger's I/O, so that no lock of the lottery is
//! held while the store writes, syncs or is scanned.
//!
//! # Locks (see the crate docs for the order)
//! - the *agency lock* of an agency (a stripe shared with other agencies:
//!   at most 64 locks whatever the agencies expected, and a thread holds at
//!   most one, see the private `agency_locks` module): held across the
//!   decision about a batch and its write (so an agency's batches reach the
//!   store in number order), and across the recording of its finish (so the
//!   finish never overlaps the agency's own write). The two-step finish
//!   ([`Central::begin_finish`]) holds it only while the record is queued;
//!   until the record is durable the lottery marks the agency finishing,
//!   which refuses its batches. Requests of one agency (two connections
//!   racing after a reconnect) wait for each other instead of failing.
//! - the *lottery lock*: the state machine, held only for its decisions, never
//!   across I/O; the `drawn` condition variable goes with it.
//! - the *listeners lock*: the draw listeners, taken alone.
//!
//! # What a pending batch means
//! Between [`Central::begin_submit`] and [`Central::complete_submit`] a batch is
//! written but not acknowledged. Its number is reserved (the agency's next
//! batch may follow at once: pipelining), a resend of it is refused with
//! [`SubmitError::BatchPending`] (acknowledging it would promise a durability
//! not reached yet; storing it again would duplicate it), and the agency's
//! finish is refused with [`FinishError::BatchesPending`] (the batch's fate
//! decides the count). When its commit fails the ledger cuts it, and every
//! batch written after it, off the store, so the lottery forgets it and every
//! later pending batch of the agency, and the agency resends from the failed
//! one. A batch of the same agency begun after the cut but before the failure
//! reaches this central is refused by the ledger
//! ([`StoreError::PredecessorLost`]; the test
//! `a_batch_begun_after_a_failed_commit_cut_its_predecessor_is_not_stored`
//! says so).

mod books;
mod opening;
mod pending;
mod shared;

pub use pending::{PendingFinish, PendingSubmit};
pub use shared::{PendingResume, ResumeStep};

use lottery_bet::{AgencyId, AsBetBatch, BetBatch, BetNumber, ResumePoint, StoredBet};

use crate::error::{FinishError, RecoveryError, StoreError, SubmitError, UnknownAgency};
use crate::lottery::agency_locks::AgencyLocks;
use crate::lottery::committed::draw_due;
use crate::lottery::draw::{DrawSummary, DrawTally, Winners, winning_documents};
use crate::lottery::ledger::{FinishRecorded, Ledger, Recovery};
use crate::lottery::machine::{DrawRight, FinishStep, Lottery, Settled, SubmitStep};
use crate::lottery::outcome::{Finish, Snapshot, Submitted};
use crate::lottery::rules::LotteryRules;
use crate::lottery::secret::DrawSecret;
use crate::sync::{Arc, Condvar, Mutex};
use opening::{adopt_rules, recover_draw};
use pending::{FinishPending, Pending};

/// A callback told once, after the draw, outside every lock.
pub type DrawListener = Box<dyn Fn() + Send + Sync>;

/// The shared lottery central.
///
/// ```
/// use lottery_bet::Bet;
/// use lottery_bet::AgencyId;
/// use lottery_core::store::MemoryStore;
/// use lottery_core::{BetMonitor, Central, Durability, Finish, LotteryRules, Submitted, Winners};
///
/// let (monitor, recovery) = BetMonitor::open(Box::new(MemoryStore::new()), Durability::Fsync)?;
/// let rules = LotteryRules { agencies: 2, ..LotteryRules::default() };
/// let central = Central::new(rules, monitor, &recovery)?;
///
/// let (one, two) = (AgencyId::new(1)?, AgencyId::new(2)?);
/// let winner = Bet::from_fields("Ana", "Paz", "30904465", "1999-03-17", "7574")?;
/// let loser = Bet::from_fields("Luis", "Sosa", "12345678", "1980-01-02", "12")?;
///
/// let batch = [winner.clone(), loser];
/// assert_eq!(central.submit(one, 1, &batch)?, Submitted::Stored { batch: 1, bets: 2 });
/// // A resend after a reconnect is acknowledged again, not stored again...
/// assert_eq!(central.submit(one, 1, &batch)?, Submitted::AlreadyStored { batch: 1 });
/// // ...and only with the stored bets: other bets under the number conflict.
/// assert!(central.submit(one, 1, &[winner.clone()]).is_err());
/// // A batch without bets is refused, whatever its number.
/// assert!(central.submit(one, 2, &[]).is_err());
/// assert_eq!(central.winners(one)?, Winners::NotDrawn);
///
/// assert_eq!(central.finish(one, 2)?, Finish::Waiting { remaining: 1 });
/// let Finish::Drew(summary) = central.finish(two, 0)? else { panic!("the last finish draws") };
/// assert_eq!(summary.winners_per_agency, [1, 0]);
///
/// let Winners::Drawn(documents) = central.winners(one)? else { panic!("drawn") };
/// assert_eq!(documents[..], [winner.document]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Central {
    shared: Arc<Shared>,
}

/// What every handle shares.
struct Shared {
    rules: LotteryRules,
    /// The secret of committed rules, from the store (or recorded in it now).
    secret: Option<DrawSecret>,
    /// See the module docs: serializes one agency's writes and finish (and
    /// those of the agencies sharing its stripe), and nothing else.
    agency_locks: AgencyLocks,
    /// The state machine; never held across I/O.
    lottery: Mutex<Lottery>,
    /// Signalled (with `lottery`) when the draw is published.
    drawn: Condvar,
    listeners: Mutex<Listeners>,
    /// Where the bets are kept; never called with the lottery lock held.
    ledger: Box<dyn Ledger>,
}

/// The draw listeners: waiting for the draw, or already told.
enum Listeners {
    Waiting(Vec<DrawListener>),
    /// The draw is published and every listener registered before was called
    /// (or is being called); later ones are called at once.
    Told,
}

impl std::fmt::Debug for Central {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Central")
            .field("rules", &self.shared.rules)
            .field("ledger", &self.shared.ledger)
            .finish_non_exhaustive()
    }
}

impl Central {
    /// Builds a central over an opened ledger (the file monitor,
    /// [`crate::BetMonitor`], or any other [`Ledger`]) and what opening it
    /// recovered (bets, last batches and finishes per agency, the rules,
    /// the draw). A store without rules (a new one) records `rules` first; a
    /// store with other rules is refused. A ledger holding bets is scanned
    /// once ([`Ledger::tally`]) to rebuild the running tally that the draw
    /// comes from (from then on batches join it as they commit; nothing
    /// reads the store again). A store that records a draw is drawn again
    /// from that tally, which must give exactly the recorded draw, and stays
    /// drawn; when every agency had finished but no draw was recorded (a
    /// crash in between), the draw is performed and recorded now.
    ///
    /// # Errors
    /// [`RecoveryError::AgenciesOutOfRange`] when `rules` expect no agency or
    /// more than [`crate::MAX_AGENCIES`] (checked first: the ledger is not
    /// touched); [`RecoveryError::RulesMismatch`] when the store was created
    /// with other rules; [`RecoveryError::UnknownAgency`] when the store holds bets of an
    /// agency outside `1..=N`; [`RecoveryError::Inconsistent`] when a recorded
    /// draw disagrees with the store, or a store without rules records
    /// finishes (nothing is written then); [`RecoveryError::Draw`] when the store
    /// cannot be scanned to rebuild the tally (or the draw recorded); [`RecoveryError::Store`] when the
    /// rules cannot be recorded.
    pub fn new(
        rules: LotteryRules,
        ledger: impl Ledger + 'static,
        recovery: &Recovery,
    ) -> Result<Self, RecoveryError> {
        Self::open(rules, ledger, recovery, None)
    }

    /// As [`Central::new`], with the secret a new store of committed rules
    /// ([`crate::Winning::Committed`]) records: 32 bytes from the operating
    /// system's random generator. A store that has rules keeps its own
    /// secret and ignores `fresh` (a restart never makes a second one).
    ///
    /// # Errors
    /// As [`Central::new`]; [`RecoveryError::Committed`] when the ledger
    /// keeps no checksum chain to derive the number from, or is shared by
    /// several centrals (no secret they share).
    pub fn with_fresh_secret(
        rules: LotteryRules,
        ledger: impl Ledger + 'static,
        recovery: &Recovery,
        fresh: DrawSecret,
    ) -> Result<Self, RecoveryError> {
        Self::open(rules, ledger, recovery, Some(fresh))
    }

    fn open(
        rules: LotteryRules,
        ledger: impl Ledger + 'static,
        recovery: &Recovery,
        fresh: Option<DrawSecret>,
    ) -> Result<Self, RecoveryError> {
        let secret = adopt_rules(rules, &ledger, recovery, fresh)?;
        let mut tally = DrawTally::new(rules);
        if recovery.agencies.values().any(|agency| agency.bets > 0) {
            ledger.tally(&mut tally).map_err(RecoveryError::Draw)?;
        }
        let mut lottery = Lottery::recover(rules, recovery, tally)?;
        recover_draw(&mut lottery, rules, &ledger, recovery, secret.as_ref())?;
        let listeners = if lottery.is_drawn() {
            Listeners::Told
        } else {
            Listeners::Waiting(Vec::new())
        };
        let central = Self {
            shared: Arc::new(Shared {
                rules,
                secret,
                agency_locks: AgencyLocks::new(rules.agencies),
                lottery: Mutex::new(lottery),
                drawn: Condvar::new(),
                listeners: Mutex::new(listeners),
                ledger: Box::new(ledger),
            }),
        };
        central.watch_ledger();
        Ok(central)
    }

    /// The rules.
    pub fn rules(&self) -> LotteryRules {
        self.shared.rules
    }

    /// Streams every durable bet, in stored order, to `visit` (a read-only
    /// view of the ledger: checks, exports). Returns how many.
    ///
    /// # Errors
    /// [`StoreError`] when the ledger cannot be read or does not parse.
    pub fn scan(&self, visit: &mut dyn FnMut(StoredBet)) -> Result<u64, StoreError> {
        self.shared.ledger.scan(visit)
    }

    /// Where `agency` stands: its handshake answer. `last_batch` and
    /// `bets_stored` count acknowledged batches only, so an agency resuming
    /// from it neither skips a batch whose commit might still fail nor
    /// duplicates one (a resend of an acknowledged batch is acknowledged again);
    /// `rows_crc` lets it check that its bets are the stored ones.
    ///
    /// # Errors
    /// [`UnknownAgency`] outside `1..=N`.
    pub fn resume_point(&self, agency: AgencyId) -> Result<ResumePoint, UnknownAgency> {
        let mut lottery = self.shared.lottery.lock();
        lottery.fold_rows_crc(agency);
        lottery.resume_point(agency)
    }

    /// Stores batch number `batch` of `agency`, all or nothing, and returns once
    /// it is as durable as the ledger's durability promises. A batch already stored
    /// (same agency, same number) is acknowledged again without being stored when
    /// it holds the stored bets, and refused ([`SubmitError::BatchConflict`])
    /// when it holds others.
    /// Same as [`Central::begin_submit`] then [`Central::complete_submit`].
    ///
    /// # Errors
    /// See [`SubmitError`]; on any error nothing of the batch is stored.
    pub fn submit<B: AsBetBatch + ?Sized>(
        &self,
        agency: AgencyId,
        batch: u64,
        bets: &B,
    ) -> Result<Submitted, SubmitError> {
        let pending = self.begin_submit(agency, batch, bets)?;
        self.complete_submit(pending)
    }

    /// The first half of [`Central::submit`]: decides about the batch and, if
    /// it is the agency's next, writes it, without waiting for it to be
    /// durable. An event loop begins every batch of one poll iteration, then
    /// completes them all, so one group commit covers them.
    ///
    /// Batches of one agency must be completed in the order they were begun
    /// when they come from one connection (their answers go out in order);
    /// the central itself copes with any order.
    ///
    /// # Errors
    /// [`SubmitError::UnknownAgency`], [`SubmitError::EmptyBatch`] (no bets:
    /// refused before any lock is taken, so nothing is reserved or written
    /// and the batch number stays free), [`SubmitError::OutOfOrder`] (batch 0,
    /// or past the agency's next batch), [`SubmitError::BatchPending`] (a
    /// resend of a batch begun but not completed), [`SubmitError::AlreadyDrawn`],
    /// [`SubmitError::AgencyFinished`], [`SubmitError::Store`] (the write
    /// failed: nothing of it stays, the batch may be sent again).
    pub fn begin_submit<B: AsBetBatch + ?Sized>(
        &self,
        agency: AgencyId,
        batch: u64,
        bets: &B,
    ) -> Result<PendingSubmit, SubmitError> {
        self.begin_batch(agency, batch, &bets.as_bet_batch())
    }

    /// [`Central::begin_submit`] of a batch.
    fn begin_batch(
        &self,
        agency: AgencyId,
        batch: u64,
        bets: &BetBatch,
    ) -> Result<PendingSubmit, SubmitError> {
        let agency_lock = self.shared.agency_locks.of(agency)?;
        if bets.is_empty() {
            return Err(SubmitError::EmptyBatch { agency, batch });
        }
        // Picked outside every lock; they join the running tally only if the
        // batch is acknowledged (see the `lottery` module).
        let winners = winning_documents(bets, self.shared.rules.fixed_number());
        let _agency = agency_lock.lock();
        let step =
            self.shared
                .lottery
                .lock()
                .begin_submit(agency, batch, bets.len() as u64, winners)?;
        let begun = match step {
            SubmitStep::AlreadyStored { batch, stored } => {
                return PendingSubmit::resend(agency, batch, stored, bets);
            }
            SubmitStep::Write(begun) => begun,
        };
        match self.shared.ledger.begin_append(agency, batch, bets) {
            Ok((append, digest)) => {
                let begun = self.shared.lottery.lock().written(begun, digest);
                Ok(PendingSubmit {
                    agency,
                    batch,
                    digest,
                    step: Pending::Written { begun, append },
                })
            }
            Err(error) => {
                self.shared.lottery.lock().not_written(begun);
                Err(error.into())
            }
        }
    }

    /// The second half of [`Central::submit`]: waits until the batch is as
    /// durable as the monitor's mode promises (leading a group commit if none
    /// runs), then counts it as stored.
    ///
    /// # Errors
    /// [`SubmitError::Store`] when its commit failed: the ledger cut it (and
    /// any later batch of the agency) off the store, and the agency may send it
    /// again.
    pub fn complete_submit(&self, pending: PendingSubmit) -> Result<Submitted, SubmitError> {
        let (begun, append) = match pending.step {
            Pending::Answered(submitted) => return Ok(submitted),
            Pending::Written { begun, append } => (begun, append),
        };
        match self.shared.ledger.wait_durable(append) {
            Ok(()) => Ok(self.shared.lottery.lock().acknowledge(begun)),
            Err(error) => {
                let bets = begun.bets();
                self.shared.lottery.lock().not_durable(begun);
                Err(SubmitError::of_store(error, bets))
            }
        }
    }

    /// Records that `agency` finished having sent `bets_sent` bets (durably,
    /// before answering). Idempotent: a repeated finish with the same count
    /// changes nothing. The last expected agency's finish performs the draw,
    /// exactly once, and learns it from [`Finish::Drew`]; other threads learn
    /// it from [`Central::on_draw`] and [`Central::wait_for_draw`]. Same as
    /// [`Central::begin_finish`] then [`Central::complete_finish`].
    ///
    /// The draw reads no store: it is the running tally of the acknowledged
    /// batches (O(winners)). It is recorded durably without the lottery lock
    /// held: meanwhile winners queries answer [`Winners::NotDrawn`], and the
    /// complete winners are published at once when the record is durable.
    ///
    /// # Errors
    /// [`FinishError::UnknownAgency`], [`FinishError::BatchesPending`] (a batch
    /// of the agency is begun and not completed), [`FinishError::AgencyBusy`]
    /// (its finish is begun and not completed), [`FinishError::CountMismatch`],
    /// [`FinishError::Store`] (the finish could not be recorded, or it was and
    /// the draw could not be recorded: a repeated finish retries the draw).
    pub fn finish(&self, agency: AgencyId, bets_sent: u64) -> Result<Finish, FinishError> {
        let agency_lock = self.shared.agency_locks.of(agency)?;
        let settled = {
            // Held until the record is durable, so that a racing request of
            // the agency waits for the outcome instead of finding it busy.
            let _agency = agency_lock.lock();
            let pending = self.queue_finish(agency, bets_sent)?;
            self.finish_durable(pending)?
        };
        self.settle_finish(settled)
    }

    /// The first half of [`Central::finish`]: decides about the finish and,
    /// for a first one, queues its record without waiting for it to be
    /// durable. An event loop begins every finish (and batch) of one poll
    /// iteration, then completes them all, so one group commit covers them.
    /// Until it is completed the agency is finishing: its batches and
    /// repeated finishes are refused with [`SubmitError::AgencyBusy`] and
    /// [`FinishError::AgencyBusy`] rather than waiting.
    ///
    /// # Errors
    /// As [`Central::finish`], except the draw's.
    pub fn begin_finish(
        &self,
        agency: AgencyId,
        bets_sent: u64,
    ) -> Result<PendingFinish, FinishError> {
        let agency_lock = self.shared.agency_locks.of(agency)?;
        let _agency = agency_lock.lock();
        self.queue_finish(agency, bets_sent)
    }

    /// The second half of [`Central::finish`]: waits until the finish record
    /// is durable (leading a group commit if none runs), counts the agency as
    /// finished, and performs the draw when it was the last one (on this
    /// thread).
    ///
    /// # Errors
    /// [`FinishError::Store`] when the record's commit failed (the agency is
    /// open again and may finish again) or the draw could not be recorded.
    pub fn complete_finish(&self, pending: PendingFinish) -> Result<Finish, FinishError> {
        let settled = self.finish_durable(pending)?;
        self.settle_finish(settled)
    }

    /// Decides about a finish and queues its record; the caller holds the
    /// agency lock.
    fn queue_finish(&self, agency: AgencyId, bets_sent: u64) -> Result<PendingFinish, FinishError> {
        let step = self.shared.lottery.lock().begin_finish(agency, bets_sent)?;
        let begun = match step {
            FinishStep::Settled(settled) => {
                return Ok(PendingFinish(FinishPending::Settled(settled)));
            }
            FinishStep::Record(begun) => begun,
        };
        match self.shared.ledger.begin_finish(agency, begun.bets()) {
            Ok(record) => Ok(PendingFinish(FinishPending::Recording { begun, record })),
            Err(error) => {
                self.shared.lottery.lock().finish_not_recorded(begun);
                Err(error.into())
            }
        }
    }

    /// Waits for a queued finish record and settles the lottery's begun.
    fn finish_durable(
        &self,
        pending: PendingFinish,
    ) -> Result<(Settled, FinishRecorded), FinishError> {
        match pending.0 {
            FinishPending::Settled(settled) => Ok((settled, FinishRecorded::Recorded)),
            FinishPending::Recording { begun, record } => {
                match self.shared.ledger.wait_finish(record) {
                    Ok(recorded) => {
                        Ok((self.shared.lottery.lock().finish_recorded(begun), recorded))
                    }
                    Err(error) => {
                        self.shared.lottery.lock().finish_not_recorded(begun);
                        Err(error.into())
                    }
                }
            }
        }
    }

    /// The answer to a finish, performing the draw when it is due; no lock
    /// held.
    fn settle_finish(
        &self,
        (settled, recorded): (Settled, FinishRecorded),
    ) -> Result<Finish, FinishError> {
        if self.shared.ledger.is_shared() {
            return self.settle_shared(settled, recorded);
        }
        match settled {
            Settled::Answer(finish) => Ok(finish),
            Settled::Draw(right) => self.perform_draw(right).map(Finish::Drew),
        }
    }

    /// Takes the draw from the running tally, records it, publishes it
    /// whole, wakes the waiters, then tells the listeners, outside every lock.
    ///
    /// Race-free: the tally changes only under the lottery lock (in
    /// `acknowledge`), and the draw is taken under it with the draw right out,
    /// that is once every agency's finish was recorded; an agency finishes
    /// only with no batch pending and takes none afterwards, so every
    /// committed batch is in the tally and no later acknowledgement changes it.
    fn perform_draw(&self, right: DrawRight) -> Result<DrawSummary, FinishError> {
        let shared = &self.shared;
        let recorded = draw_due(
            || shared.lottery.lock().tallied_draw(),
            &*shared.ledger,
            shared.rules,
            shared.secret.as_ref(),
        )
        .and_then(|draw| shared.ledger.record_draw(draw.summary()).map(|()| draw));
        let summary = match recorded.map_err(FinishError::from) {
            Ok(draw) => {
                let summary = self.shared.lottery.lock().draw_done(right, draw);
                self.shared.drawn.notify_all();
                summary
            }
            Err(error) => {
                self.shared.lottery.lock().draw_failed(right);
                return Err(error);
            }
        };
        self.tell_listeners();
        Ok(summary)
    }

    /// Calls the draw listeners once, with no lock held.
    fn tell_listeners(&self) {
        let listeners = std::mem::replace(&mut *self.shared.listeners.lock(), Listeners::Told);
        if let Listeners::Waiting(listeners) = listeners {
            for listener in listeners {
                listener();
            }
        }
    }

    /// The winners of `agency`, or [`Winners::NotDrawn`]: never a partial
    /// list. The documents are shared, so an answer is a cheap clone.
    ///
    /// # Errors
    /// [`UnknownAgency`] outside `1..=N`.
    pub fn winners(&self, agency: AgencyId) -> Result<Winners, UnknownAgency> {
        self.shared.lottery.lock().winners(agency)
    }

    /// The books in counts ([`Snapshot`]), under the lottery lock once:
    /// for status pages and metrics, once per look, never per batch.
    pub fn snapshot(&self) -> Snapshot {
        self.shared.lottery.lock().snapshot()
    }

    /// Whether the draw happened (and its winners are published).
    pub fn is_drawn(&self) -> bool {
        self.shared.lottery.lock().is_drawn()
    }

    /// What the draw found, once it happened (also after a restart that
    /// performed it again).
    pub fn draw_summary(&self) -> Option<DrawSummary> {
        Some(self.shared.lottery.lock().draw()?.summary().clone())
    }

    /// The number that won, once drawn (a committed one is known only
    /// then).
    pub fn winning_number(&self) -> Option<BetNumber> {
        self.shared.lottery.lock().draw()?.winning_number()
    }

    /// With a committed winning number ([`crate::Winning::Committed`]): the
    /// commitment, SHA-256 of the store's secret, which may be given to
    /// every agency before it bets.
    pub fn commitment(&self) -> Option<[u8; 32]> {
        self.shared.secret.as_ref().map(DrawSecret::commitment)
    }

    /// With a committed winning number, once drawn: the secret, with which
    /// anyone holding the commitment and the store's chain head can check
    /// the number. `None` before the draw: a secret known early would let
    /// the last bettor steer the number.
    pub fn revealed_secret(&self) -> Option<DrawSecret> {
        self.shared.secret.filter(|_| self.is_drawn())
    }

    /// Registers `listener`, called once after the draw, outside every lock, on
    /// the thread that performed it (or at once, here, if the draw already
    /// happened). The server uses it to wake its event loops. When it is
    /// called, [`Central::winners`] already answers with the draw.
    pub fn on_draw(&self, listener: DrawListener) {
        let mut listeners = self.shared.listeners.lock();
        match &mut *listeners {
            Listeners::Waiting(waiting) => waiting.push(listener),
            Listeners::Told => {
                drop(listeners);
                listener();
            }
        }
    }

    /// Blocks until the draw happened.
    pub fn wait_for_draw(&self) {
        let mut lottery = self.shared.lottery.lock();
        while !lottery.is_drawn() {
            lottery = self.shared.drawn.wait(lottery);
        }
    }
}
