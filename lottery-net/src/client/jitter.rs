//! The spread of the pauses between reconnect attempts ("full jitter": each
//! pause drawn uniformly between zero and its ceiling).
//!
//! The ceilings double up to a cap ([`ClientConfig::backoff`](super::ClientConfig::backoff));
//! without a spread, agencies that lost the central at the same moment would
//! all come back at the same moments too (200 ms, 400 ms, ... after it), a
//! fleet of thousands hammering a central that just restarted. Drawing each
//! pause below its ceiling keeps the cap and the average doubling, and
//! spreads the fleet over the whole interval.
//!
//! The draws come from a small seeded generator (SplitMix64), never from a
//! hidden source: the seed is [`ClientConfig::jitter_seed`](super::ClientConfig::jitter_seed),
//! so a test replays the same pauses, and a program that wants agencies to
//! differ seeds them differently. Not for anything secret.

use std::time::Duration;

/// A seeded source of pauses below their ceilings.
#[derive(Debug, Clone)]
pub(crate) struct Jitter {
    /// SplitMix64's state: advanced by a constant at each draw.
    state: u64,
}

impl Jitter {
    /// A source whose draws are fixed by `seed`.
    pub(crate) fn seeded(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits (SplitMix64, Steele, Lea and Flood 2014: a
    /// full-period sequence whose outputs pass BigCrush; enough to spread
    /// pauses).
    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A pause drawn uniformly from 0 to `ceiling` (both included), to the
    /// millisecond.
    pub(crate) fn pause(&mut self, ceiling: Duration) -> Duration {
        let most = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        // The multiply-shift maps 64 random bits onto 0..=most without the
        // modulo's bias toward small values.
        let span = u128::from(most) + 1;
        let drawn = (u128::from(self.next_u64()) * span) >> 64;
        Duration::from_millis(u64::try_from(drawn).expect("below a u64 ceiling"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_stay_within_their_ceiling_and_spread_over_it() {
        let mut jitter = Jitter::seeded(7);
        let ceiling = Duration::from_millis(800);
        let pauses: Vec<Duration> = (0..1000).map(|_| jitter.pause(ceiling)).collect();
        assert!(pauses.iter().all(|pause| *pause <= ceiling));
        let shortest = pauses.iter().min().unwrap();
        let longest = pauses.iter().max().unwrap();
        assert!(*shortest < Duration::from_millis(100), "{shortest:?}");
        assert!(*longest > Duration::from_millis(700), "{longest:?}");
        let mut distinct = pauses.clone();
        distinct.sort();
        distinct.dedup();
        assert!(distinct.len() > 500, "{} distinct pauses", distinct.len());
        let mean = pauses.iter().map(Duration::as_millis).sum::<u128>() / 1000;
        assert!((300..500).contains(&mean), "mean {mean} ms");
    }

    #[test]
    fn one_seed_gives_one_sequence_and_two_seeds_two() {
        let draws = |seed| {
            let mut jitter = Jitter::seeded(seed);
            (0..20)
                .map(|_| jitter.pause(Duration::from_secs(5)))
                .collect::<Vec<_>>()
        };
        assert_eq!(draws(1), draws(1));
        assert_ne!(draws(1), draws(2));
    }

    #[test]
    fn a_zero_ceiling_gives_no_pause_and_a_huge_one_does_not_overflow() {
        let mut jitter = Jitter::seeded(3);
        assert_eq!(jitter.pause(Duration::ZERO), Duration::ZERO);
        for _ in 0..100 {
            assert!(jitter.pause(Duration::MAX) <= Duration::MAX);
        }
    }
}
