//! The central: the lottery behind its lock, with the monitor beside it.
//!
//! A cheap, cloneable handle shared by every thread (event loops, tests,
//! embedding programs). See the crate docs for the lock order.

use crate::bet::{AgencyId, Bet};
use crate::error::{FinishError, SubmitError, WinnersError};
use crate::lottery::{Finish, LotteryRules, ResumePoint, Submitted, Winners};
use crate::monitor::{BetMonitor, Recovery};

/// A callback told once, after the draw, outside every lock.
pub type DrawListener = Box<dyn Fn() + Send + Sync>;

/// The shared lottery central.
#[derive(Clone)]
pub struct Central {
    _private: (),
}

impl std::fmt::Debug for Central {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Central").finish_non_exhaustive()
    }
}

impl Central {
    /// Builds a central over an opened monitor and what opening it recovered
    /// (bets, last batches and finishes per agency; a draw that had happened is
    /// performed again from the store, deterministically).
    ///
    /// # Errors
    /// [`FinishError::Store`] when a recovered draw cannot scan the store.
    pub fn new(
        rules: LotteryRules,
        monitor: BetMonitor,
        recovery: &Recovery,
    ) -> Result<Self, FinishError> {
        let _ = (rules, monitor, recovery);
        todo!("lottery-core: Central::new")
    }

    /// The rules.
    pub fn rules(&self) -> LotteryRules {
        todo!()
    }

    /// Where `agency` stands: its handshake answer.
    ///
    /// # Errors
    /// [`WinnersError::UnknownAgency`] outside `1..=N`.
    pub fn resume_point(&self, agency: AgencyId) -> Result<ResumePoint, WinnersError> {
        let _ = agency;
        todo!()
    }

    /// Stores batch number `batch` of `agency`, all or nothing, and returns once
    /// it is as durable as the monitor's mode promises. A batch already stored
    /// (same agency, same number) is acknowledged again without being stored.
    ///
    /// # Errors
    /// See [`SubmitError`]; on any error nothing of the batch is stored.
    pub fn submit(
        &self,
        agency: AgencyId,
        batch: u64,
        bets: &[Bet],
    ) -> Result<Submitted, SubmitError> {
        let _ = (agency, batch, bets);
        todo!()
    }

    /// Records that `agency` finished having sent `bets_sent` bets. Idempotent.
    /// The last expected agency's finish performs the draw, exactly once, and
    /// learns it from [`Finish::Drew`].
    ///
    /// # Errors
    /// See [`FinishError`].
    pub fn finish(&self, agency: AgencyId, bets_sent: u64) -> Result<Finish, FinishError> {
        let _ = (agency, bets_sent);
        todo!()
    }

    /// The winners of `agency`, or [`Winners::NotDrawn`].
    ///
    /// # Errors
    /// [`WinnersError::UnknownAgency`] outside `1..=N`.
    pub fn winners(&self, agency: AgencyId) -> Result<Winners, WinnersError> {
        let _ = agency;
        todo!()
    }

    /// Whether the draw happened.
    pub fn is_drawn(&self) -> bool {
        todo!()
    }

    /// Registers `listener`, called once after the draw, outside every lock, on
    /// the thread that performed it (or at once, here, if the draw already
    /// happened). The server uses it to wake its event loops.
    pub fn on_draw(&self, listener: DrawListener) {
        let _ = listener;
        todo!()
    }

    /// Blocks until the draw happened.
    pub fn wait_for_draw(&self) {
        todo!()
    }
}
