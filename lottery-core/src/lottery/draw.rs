//! The draw: its tally, its result and what winners queries answer.
//!
//! Below both the state machine (which publishes a [`Draw`] once, whole) and
//! the ledgers (which feed every stored bet to a [`DrawTally`]); it knows
//! neither. A bet wins when it plays the rules' winning number; an agency's
//! winners are the documents of its winning bets, in stored order.
//!
//! The central keeps a running [`DrawTally`] fed with each batch as it
//! commits ([`winning_documents`] picks a batch's winners before it is
//! written); the ledgers' scan feeds one only when a store is reopened.

use std::collections::BTreeMap;
use std::sync::Arc;

use lottery_bet::{AgencyId, BetBatch, BetNumber, Document, StoredBet};

use crate::lottery::rules::LotteryRules;

/// The documents of the bets of `bets` that play `winning_number`, in the
/// batch's order (no allocation when none does, the common case; none
/// without a number: committed rules before the draw).
pub(crate) fn winning_documents(
    bets: &BetBatch,
    winning_number: Option<BetNumber>,
) -> Vec<Document> {
    let Some(winning_number) = winning_number else {
        return Vec::new();
    };
    bets.iter()
        .filter(|bet| bet.number() == winning_number)
        .map(|bet| bet.to_document())
        .collect()
}

/// What the draw found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrawSummary {
    /// Bets scanned.
    pub bets: u64,
    /// Winners per agency, index 0 for agency 1: one entry per *expected*
    /// agency, whether it took part or not. The one table of the core sized
    /// by the rules' count rather than by the agencies that took part; it
    /// exists only once drawn (8 bytes an agency, at most 8 MB with
    /// [`crate::MAX_AGENCIES`]).
    pub winners_per_agency: Vec<u64>,
}

impl DrawSummary {
    /// The summary of `bets` bets whose winners per agency are counted in
    /// `winners` (agencies absent from it: none), over agencies
    /// `1..=agencies`: what an offline check compares a recorded draw with.
    pub fn from_counts(agencies: u32, bets: u64, winners: &BTreeMap<AgencyId, u64>) -> Self {
        Self {
            bets,
            winners_per_agency: (1..=agencies)
                .map(|id| {
                    AgencyId::new(id)
                        .ok()
                        .and_then(|agency| winners.get(&agency).copied())
                        .unwrap_or(0)
                })
                .collect(),
        }
    }
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
/// Built by a [`DrawTally`] (the central's running one); once the state machine
/// publishes it, it is what winners queries answer from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draw {
    /// The agencies with at least one winner; every other expected agency
    /// has `none`. Shared so that an answer is a cheap clone.
    winners: BTreeMap<AgencyId, Arc<[Document]>>,
    /// The answer of an expected agency without winners (one allocation for
    /// all of them).
    none: Arc<[Document]>,
    /// Agencies `1..=agencies` are expected.
    agencies: u32,
    /// The number that won (`None`: a tally of committed rules before the
    /// number is known, which picks no winners and is never published).
    winning_number: Option<BetNumber>,
    summary: DrawSummary,
}

impl Draw {
    /// The number that won.
    pub fn winning_number(&self) -> Option<BetNumber> {
        self.winning_number
    }

    /// What the draw found, in numbers.
    pub fn summary(&self) -> &DrawSummary {
        &self.summary
    }

    /// The documents of `agency`'s winning bets, in stored order (`None` for
    /// an agency the rules do not expect).
    pub fn winners(&self, agency: AgencyId) -> Option<Arc<[Document]>> {
        if agency.get() > self.agencies {
            return None;
        }
        Some(Arc::clone(self.winners.get(&agency).unwrap_or(&self.none)))
    }
}

/// Collects the winners: while the store is scanned, one bet at a time (so
/// a recovery never needs the whole store in memory), or a committed batch
/// at a time ([`DrawTally::add_batch`]: the central's running tally, so the
/// draw costs O(winners), not a scan). It holds the winners' documents and
/// counts, never the bets.
///
/// ```
/// use lottery_bet::{AgencyId, Bet, StoredBet};
/// use lottery_core::{DrawTally, LotteryRules};
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
    /// `None` with committed rules: the number is not known while bets are
    /// stored, so this tally only counts (the draw scans the store again
    /// with a tally of the derived number).
    winning_number: Option<BetNumber>,
    /// Agencies `1..=agencies` are expected.
    agencies: u32,
    /// The winners of each agency that has any, so the tally grows with the
    /// winners, not with the agencies expected.
    winners: BTreeMap<AgencyId, Vec<Document>>,
    bets: u64,
}

impl DrawTally {
    /// An empty tally for `rules` (with a committed winning number, one
    /// that counts bets and picks no winners: give it
    /// `Winning::Fixed(derived)` rules to pick them).
    pub fn new(rules: LotteryRules) -> Self {
        Self {
            winning_number: rules.fixed_number(),
            agencies: rules.agencies,
            winners: BTreeMap::new(),
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
        if Some(number) == self.winning_number && agency.get() <= self.agencies {
            let document = document()?;
            self.winners.entry(agency).or_default().push(document);
        }
        Ok(())
    }

    /// Counts a committed batch of `agency` holding `bets` bets, of which
    /// `winners` are the winning bets' documents in the batch's order: how
    /// the central keeps its running tally as batches commit, so that the
    /// draw reads no store. Batches must be added in the order they were
    /// stored (per agency), so that the winners keep stored order. Winners of
    /// an agency the rules do not expect are dropped, as in
    /// [`DrawTally::add_fields`].
    pub fn add_batch(&mut self, agency: AgencyId, bets: u64, winners: Vec<Document>) {
        self.bets += bets;
        if !winners.is_empty() && agency.get() <= self.agencies {
            self.winners.entry(agency).or_default().extend(winners);
        }
    }

    /// The bets counted so far.
    pub fn bets(&self) -> u64 {
        self.bets
    }

    /// The draw, complete.
    pub fn finish(self) -> Draw {
        let mut winners_per_agency = vec![0; self.agencies as usize];
        for (agency, documents) in &self.winners {
            // Every agency in the map is expected (see `add_fields`).
            if let Some(count) = winners_per_agency.get_mut(agency.index()) {
                *count = documents.len() as u64;
            }
        }
        Draw {
            winners: self
                .winners
                .into_iter()
                .map(|(agency, documents)| (agency, Arc::from(documents)))
                .collect(),
            none: Arc::from(Vec::new()),
            agencies: self.agencies,
            winning_number: self.winning_number,
            summary: DrawSummary {
                bets: self.bets,
                winners_per_agency,
            },
        }
    }
}
