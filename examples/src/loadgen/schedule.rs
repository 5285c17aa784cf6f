//! The rate schedule of a paced load run (`--rate`): when each agency may
//! send its next batch, so that the offered load is spread evenly over the
//! agencies and over time.

use std::time::Duration;

/// The rate schedule: batch `k` of the agency at global position `i` (of
/// `n`) is released at `start + (k * n + i) * interval / n`, where `interval`
/// is one agency's time between batches. Agencies are thus spread evenly in
/// time, and so is the offered load.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    /// One agency's time between two batches.
    pub interval: Duration,
    agencies: u32,
}

impl Schedule {
    /// The schedule offering `rate` bets/s over `agencies` agencies sending
    /// `batch_size` bets a batch; `None` for `rate` 0 (no pacing).
    pub fn new(rate: u64, agencies: u32, batch_size: usize) -> Option<Self> {
        (rate > 0).then(|| Self {
            interval: Duration::from_secs_f64(
                batch_size as f64 * f64::from(agencies) / rate as f64,
            ),
            agencies,
        })
    }

    /// When the agency at `position` gets its batch number `released` (from 0).
    pub fn next_release(&self, position: u32, released: usize) -> Duration {
        let offset = self
            .interval
            .mul_f64(f64::from(position) / f64::from(self.agencies));
        offset + self.interval.mul_f64(released as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_spreads_agencies_evenly_over_one_interval() {
        // 4 agencies, 10 bets a batch, 400 bets/s: each agency sends a batch
        // every 100 ms, and the four are 25 ms apart.
        let schedule = Schedule::new(400, 4, 10).unwrap();
        assert_eq!(schedule.interval, Duration::from_millis(100));
        assert_eq!(schedule.next_release(0, 0), Duration::ZERO);
        assert_eq!(schedule.next_release(1, 0), Duration::from_millis(25));
        assert_eq!(schedule.next_release(3, 1), Duration::from_millis(175));
        assert_eq!(schedule.next_release(2, 3), Duration::from_millis(350));
        assert!(Schedule::new(0, 4, 10).is_none());
    }

    #[test]
    fn the_schedule_offers_the_requested_rate() {
        let schedule = Schedule::new(1_000_000, 1_000, 150).unwrap();
        let second = Duration::from_secs(1);
        let batches = (0..1_000)
            .map(|i| {
                (0..)
                    .take_while(|&k| schedule.next_release(i, k) < second)
                    .count()
            })
            .sum::<usize>();
        let bets = batches * 150;
        assert!((999_000..=1_001_000).contains(&bets), "{bets}");
    }
}
