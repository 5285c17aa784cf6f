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

/// How the winning number is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Winning {
    /// This number wins, known from the start (the course's 7574 by
    /// default).
    Fixed(BetNumber),
    /// The number is derived at the draw from a secret committed when the
    /// store was created and the store's final chain head
    /// ([`crate::DrawSecret`]): nobody knows it before, and nobody can
    /// choose it.
    Committed,
}

/// The rules a central is started with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LotteryRules {
    /// The central expects agencies `1..=agencies` (at least 1, at most
    /// [`MAX_AGENCIES`]).
    pub agencies: u32,
    /// What number wins.
    pub winning: Winning,
}

impl LotteryRules {
    /// The winning number when it is fixed from the start (`None` for a
    /// committed one, known only at the draw).
    pub const fn fixed_number(&self) -> Option<BetNumber> {
        match self.winning {
            Winning::Fixed(number) => Some(number),
            Winning::Committed => None,
        }
    }
}

impl Default for LotteryRules {
    fn default() -> Self {
        Self {
            agencies: 5,
            winning: Winning::Fixed(BetNumber::DEFAULT_WINNING),
        }
    }
}

impl std::fmt::Display for Winning {
    /// `7574`, or `committed`: as the flag `--winning-number` takes it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Fixed(number) => write!(f, "{}", number.get()),
            Self::Committed => f.write_str("committed"),
        }
    }
}
