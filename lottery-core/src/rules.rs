//! The rules a lottery runs by: which agencies it expects and what number
//! wins. Plain values, below everything that needs them (the draw, the state
//! machine, the central).

use crate::bet::BetNumber;

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
