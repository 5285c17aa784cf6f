//! What each agency of a load run sends, encoded before the clock starts, so
//! the run measures the central and not the encoder.
//!
//! A `Batch` frame names its sequence number but not its agency (the
//! connection's handshake does), so agencies sending the same bets send the
//! very same bytes. A run encodes a few variants of the synthetic data set
//! once and shares them: memory grows with the bets per agency, not with the
//! number of agencies (10,000 connections need no more frames than 8).

use std::ops::Range;

use lottery_bet::{AgencyId, BetNumber};
use lottery_net::{BatchBuilder, EncodeError, Pushed};

use crate::synthetic::{DEFAULT_SEED, SyntheticDataSet};

/// Distinct bet sequences in a run; agency `i` sends variant `i % VARIANTS`.
pub const VARIANTS: u32 = 8;

/// The batches of one agency, pre-encoded back to back.
#[derive(Debug)]
pub struct SessionPlan {
    frames: Vec<u8>,
    /// Where each batch frame ends in `frames`.
    batch_ends: Vec<usize>,
    /// Bets in the batches up to each one, included.
    bets_through: Vec<u64>,
    bets: u64,
    winners: u64,
}

impl SessionPlan {
    /// Encodes `bets` synthetic bets of variant `variant` into batches of at
    /// most `batch_size` bets (fewer when the frame limit `max_frame` is
    /// reached first), and counts those playing `winning`.
    ///
    /// # Errors
    /// [`EncodeError`] when `max_frame` cannot hold even one bet.
    pub fn build(
        variant: u32,
        bets: u64,
        batch_size: usize,
        max_frame: usize,
        winning: BetNumber,
    ) -> Result<Self, EncodeError> {
        let data = SyntheticDataSet {
            agencies: 1,
            total_bets: bets,
            seed: DEFAULT_SEED ^ u64::from(variant).rotate_left(32),
        };
        let mut builder = BatchBuilder::new(max_frame, Some(batch_size));
        let mut plan = Self {
            frames: Vec::new(),
            batch_ends: Vec::new(),
            bets_through: Vec::new(),
            bets,
            winners: 0,
        };
        let first = AgencyId::new(1).expect("1 is an agency id");
        for bet in data.bets(first) {
            plan.winners += u64::from(bet.number == winning);
            if builder.try_push(&bet)? == Pushed::Full {
                plan.finish_batch(&mut builder);
                // An empty batch takes any bet that fits a frame alone, and
                // `try_push` already refused those that do not.
                let pushed = builder.try_push(&bet)?;
                debug_assert_eq!(pushed, Pushed::Added);
            }
        }
        if !builder.is_empty() {
            plan.finish_batch(&mut builder);
        }
        Ok(plan)
    }

    fn finish_batch(&mut self, builder: &mut BatchBuilder) {
        let sequence = self.batch_ends.len() as u64 + 1;
        let before = self.bets_through.last().copied().unwrap_or(0);
        self.bets_through.push(before + builder.len() as u64);
        builder.finish(sequence, &mut self.frames);
        self.batch_ends.push(self.frames.len());
    }

    /// Bets over all batches.
    pub fn bets(&self) -> u64 {
        self.bets
    }

    /// How many batches there are.
    pub fn batches(&self) -> usize {
        self.batch_ends.len()
    }

    /// Bets playing the winning number: the winners the central must answer.
    pub fn winners(&self) -> u64 {
        self.winners
    }

    /// Bets in the first `batches` batches.
    pub fn bets_through(&self, batches: usize) -> u64 {
        batches
            .checked_sub(1)
            .map_or(0, |last| self.bets_through[last])
    }

    /// The bytes of the first `batches` batches (all frames back to back).
    pub fn frames_through(&self, batches: usize) -> &[u8] {
        let end = batches
            .checked_sub(1)
            .map_or(0, |last| self.batch_ends[last]);
        &self.frames[..end]
    }

    /// The byte range of batch `index` (from 0).
    pub fn batch_range(&self, index: usize) -> Range<usize> {
        let start = index
            .checked_sub(1)
            .map_or(0, |previous| self.batch_ends[previous]);
        start..self.batch_ends[index]
    }

    /// Bytes of encoded frames.
    pub fn encoded_len(&self) -> usize {
        self.frames.len()
    }
}

#[cfg(test)]
mod tests {
    use lottery_net::{AgencyFrame, DEFAULT_MAX_FRAME, Decoder};

    use super::*;

    #[test]
    fn a_plan_decodes_as_numbered_batches_holding_every_bet() {
        let plan = SessionPlan::build(3, 1_000, 150, DEFAULT_MAX_FRAME, BetNumber::DEFAULT_WINNING)
            .unwrap();
        let mut decoder = Decoder::new(DEFAULT_MAX_FRAME);
        decoder.extend(plan.frames_through(plan.batches()));
        let mut bets = 0;
        for expected in 1..=plan.batches() as u64 {
            let Some(AgencyFrame::Batch(checked)) = decoder.next_agency_frame().unwrap() else {
                panic!("batch {expected} missing");
            };
            assert_eq!(checked.batch, expected);
            assert!(checked.count > 0 && checked.count <= 150);
            assert_eq!(checked.bets.map(|valid| valid.len()), Ok(checked.count));
            bets += checked.count as u64;
            // What the progress display counts when this batch is acked.
            assert_eq!(plan.bets_through(expected as usize), bets);
        }
        assert_eq!(plan.bets_through(0), 0);
        assert_eq!(decoder.buffered(), 0);
        assert_eq!(bets, 1_000);
        assert_eq!(plan.batches(), 7);
    }

    #[test]
    fn a_small_frame_limit_makes_smaller_batches_not_errors() {
        let plan = SessionPlan::build(0, 500, 150, 1024, BetNumber::DEFAULT_WINNING).unwrap();
        assert!(plan.batches() > 500 / 150 + 1);
        assert!((0..plan.batches()).all(|i| plan.batch_range(i).len() <= 1024));
        assert_eq!(plan.bets_through(plan.batches()), 500);
        assert!(SessionPlan::build(0, 5, 150, 20, BetNumber::DEFAULT_WINNING).is_err());
    }

    #[test]
    fn winners_are_counted_from_the_bets_encoded() {
        let winning = BetNumber::new(42).unwrap();
        let plan = SessionPlan::build(1, 50_000, 150, DEFAULT_MAX_FRAME, winning).unwrap();
        let data = SyntheticDataSet {
            agencies: 1,
            total_bets: 50_000,
            seed: DEFAULT_SEED ^ 1u64.rotate_left(32),
        };
        let expected = data
            .bets(AgencyId::new(1).unwrap())
            .filter(|bet| bet.number == winning)
            .count();
        assert_eq!(plan.winners(), expected as u64);
        assert!(plan.winners() > 0);
    }

    #[test]
    fn no_bets_means_no_batches() {
        let plan =
            SessionPlan::build(0, 0, 150, DEFAULT_MAX_FRAME, BetNumber::DEFAULT_WINNING).unwrap();
        assert_eq!(plan.batches(), 0);
        assert!(plan.frames_through(0).is_empty());
    }
}
