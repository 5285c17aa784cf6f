//! What the central answers: where an agency stands, what a batch and a
//! finish came to. Plain values, produced by the state machine and handed out
//! by [`crate::Central`].

use crate::lottery::draw::{Draw, DrawSummary};

/// What a submitted batch came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
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
#[non_exhaustive]
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

/// The central's books at one moment, in counts only (no name, document or
/// birthdate): what a status page or a metrics scrape shows. Taken by
/// [`crate::Central::snapshot`] under the lottery lock, once.
///
/// ```
/// use lottery_bet::{AgencyId, Bet};
/// use lottery_core::{BetMonitor, Central, Durability, LotteryRules, store::MemoryStore};
///
/// let (monitor, recovery) = BetMonitor::open(Box::new(MemoryStore::new()), Durability::Fsync)?;
/// let central = Central::new(LotteryRules { agencies: 3, ..LotteryRules::default() }, monitor, &recovery)?;
/// let bet = Bet::from_fields("Ana", "Paz", "30904465", "1999-03-17", "7574")?;
/// central.submit(AgencyId::new(2)?, 1, &[bet])?;
/// let snapshot = central.snapshot();
/// assert_eq!(snapshot.agencies_expected, 3);
/// assert_eq!(snapshot.agencies.len(), 1, "only the agency that took part");
/// assert_eq!((snapshot.agencies[0].bets, snapshot.agencies[0].last_batch), (1, 1));
/// assert!(snapshot.draw.is_none(), "no winning number before the draw");
/// assert_eq!(snapshot.agencies[0].winners, None);
///
/// central.finish(AgencyId::new(1)?, 0)?;
/// central.finish(AgencyId::new(3)?, 0)?;
/// central.finish(AgencyId::new(2)?, 1)?;
/// let drawn = central.snapshot();
/// let draw = drawn.draw.expect("drawn");
/// assert_eq!((draw.winners, draw.winning_number.get(), draw.bets), (1, 7574, 1));
/// assert_eq!((drawn.agencies_finished, drawn.agencies.len()), (3, 3));
/// let winners: Vec<_> = drawn.agencies.iter().map(|a| (a.agency.get(), a.winners)).collect();
/// assert_eq!(winners, [(1, Some(0)), (2, Some(1)), (3, Some(0))]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// Agencies expected before the draw.
    pub agencies_expected: u32,
    /// Agencies whose finish is recorded.
    pub agencies_finished: u32,
    /// Every agency that took part (a batch, a finish, or anything in the
    /// recovered store), by id: never the expected agencies that did not,
    /// so its length grows with the agencies that took part.
    pub agencies: Vec<AgencySnapshot>,
    /// The draw, once it happened.
    pub draw: Option<DrawSnapshot>,
}

/// One agency's books in a [`Snapshot`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgencySnapshot {
    /// The agency.
    pub agency: lottery_bet::AgencyId,
    /// Bets of its acknowledged batches.
    pub bets: u64,
    /// Its last acknowledged batch (batches are numbered from 1, so also how
    /// many were acknowledged; 0 for rows adopted without a journal).
    pub last_batch: u64,
    /// Whether its finish is recorded.
    pub finished: bool,
    /// How many of its bets won, once drawn (`None` before the draw).
    pub winners: Option<u64>,
}

/// The draw in a [`Snapshot`]: only once it happened, so the winning number
/// cannot be read from a snapshot before (an agency that learned it could
/// bet on it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DrawSnapshot {
    /// The number drawn.
    pub winning_number: lottery_bet::BetNumber,
    /// Winning bets over every agency.
    pub winners: u64,
    /// Bets the draw covered.
    pub bets: u64,
}

impl DrawSnapshot {
    /// The snapshot of `draw` (`None` for a tally that picked no number:
    /// committed rules before the draw, never published).
    pub(crate) fn of(draw: &Draw) -> Option<Self> {
        Some(Self {
            winning_number: draw.winning_number()?,
            winners: draw.summary().winners_per_agency.iter().sum(),
            bets: draw.summary().bets,
        })
    }
}
