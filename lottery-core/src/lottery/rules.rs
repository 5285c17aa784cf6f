//! The rules a lottery runs by: which agencies it expects and what number
//! wins. Plain values, below everything that needs them (the draw, the state
//! machine, the central).

use lottery_bet::BetNumber;

/// The most agencies a central expects (`--agencies` above it is refused, and
/// so is [`crate::Central::new`] with such rules).
///
/// The central's memory grows with the agencies that actually send it
/// something, not with this maximum; only the draw's result has one entry
/// per expected agency ([`crate::DrawSummary::winners_per_agency`], 8 bytes
/// each, and its copy in the store's manifest), so the maximum bounds what a
/// draw costs. A million is a hundred times the 10,000 agencies the central
/// is sized for.
pub const MAX_AGENCIES: u32 = 1_000_000;

/// The rules a central is started with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LotteryRules {
    /// The central expects agencies `1..=agencies` (at least 1, at most
    /// [`MAX_AGENCIES`]).
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
