//! The draw: its tally, its result and what winners queries answer.
//!
//! Below both the state machine (which publishes a [`Draw`] once, whole) and
//! the ledgers (which feed every stored bet to a [`DrawTally`]); it knows
//! neither. A bet wins when it plays the rules' winning number; an agency's
//! winners are the documents of its winning bets, in stored order.

use std::sync::Arc;

use crate::bet::{AgencyId, BetNumber, Document, StoredBet};
use crate::rules::LotteryRules;

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
#[non_exhaustive]
pub enum Winners {
    /// The draw has not happened yet.
    NotDrawn,
    /// The documents of the agency's winning bets, in stored order.
    Drawn(Arc<[Document]>),
}

/// The result of a draw: every agency's winners, complete.
///
/// Built by a [`DrawTally`] from a scan of the store; once the state machine
/// publishes it, it is what winners queries answer from.
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
/// use lottery_core::{AgencyId, Bet, DrawTally, LotteryRules, StoredBet};
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
