//! The last minutes of a run, for the status page's charts: one [`Sample`]
//! a second (bets stored per second, the ack latency's p50 and p99 over that
//! second, the connections held) in a ring of [`HISTORY_SAMPLES`] that drops
//! the oldest ([`History`]).
//!
//! # Cost on the hot path
//! None per batch: the [`Sampler`] runs on the status port's thread, once a
//! second, and reads only what exists already: the central's running count
//! of bets ([`lottery_core::Central::bets_stored`], one short lock, O(1)),
//! the loops' ack histograms (atomics, the same read as a scrape's) and the
//! count of live connections (one atomic). The latency of a second is the
//! difference of two reads of the cumulative histogram, so no loop ever
//! resets or rotates anything.
//!
//! # Bounded
//! The ring holds at most [`HISTORY_SAMPLES`] samples, whatever the run's
//! length or the agencies' count: about 40 bytes each.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::metrics::HistogramSnapshot;
use crate::shared::Shared;

/// Samples kept: ten minutes at one a second.
pub(crate) const HISTORY_SAMPLES: usize = 600;

/// How often the sampler looks.
pub(crate) const SAMPLE_INTERVAL: Duration = Duration::from_secs(1);

/// One second of a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Sample {
    /// When it was taken, since the status port started.
    pub(crate) at: Duration,
    /// Bets stored since the previous sample, per second.
    pub(crate) bets_per_second: f64,
    /// The median ack latency since the previous sample, in seconds (`None`
    /// when nothing was acked).
    pub(crate) ack_p50: Option<f64>,
    /// Its 99th percentile.
    pub(crate) ack_p99: Option<f64>,
    /// Connections held when it was taken.
    pub(crate) connections: u64,
}

/// The last [`History::capacity`] samples, oldest first.
#[derive(Debug)]
pub(crate) struct History {
    samples: VecDeque<Sample>,
    capacity: usize,
}

impl History {
    /// An empty history that keeps at most `capacity` samples (at least 1).
    pub(crate) fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            samples: VecDeque::with_capacity(capacity),
            capacity,
        }
    }

    /// Adds `sample` as the newest, dropping the oldest when full.
    pub(crate) fn push(&mut self, sample: Sample) {
        if self.samples.len() == self.capacity {
            self.samples.pop_front();
        }
        self.samples.push_back(sample);
    }

    /// The samples, oldest first.
    pub(crate) fn samples(&self) -> impl ExactSizeIterator<Item = &Sample> {
        self.samples.iter()
    }

    /// The most samples it keeps.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }
}

/// The counters as the sampler last read them.
#[derive(Debug)]
struct Reading {
    at: Instant,
    bets: u64,
    acks: HistogramSnapshot,
}

impl Reading {
    fn now(shared: &Shared) -> Self {
        Self {
            at: Instant::now(),
            bets: shared.central().total_bets_stored(),
            acks: shared.metrics().acks(),
        }
    }
}

/// Takes a sample a second into a [`History`]: what changed since its last
/// reading.
#[derive(Debug)]
pub(crate) struct Sampler {
    started: Instant,
    last: Option<Reading>,
    history: History,
}

impl Sampler {
    /// A sampler with an empty history of [`HISTORY_SAMPLES`]; times are
    /// counted from `started`.
    pub(crate) fn new(started: Instant) -> Self {
        Self {
            started,
            last: None,
            history: History::new(HISTORY_SAMPLES),
        }
    }

    /// Reads the counters; from the second reading on, adds a sample of
    /// what changed since the one before.
    pub(crate) fn sample(&mut self, shared: &Shared) {
        let now = Reading::now(shared);
        if let Some(last) = &self.last {
            let seconds = now.at.duration_since(last.at).as_secs_f64();
            let acks = now.acks.since(&last.acks);
            self.history.push(Sample {
                at: now.at.duration_since(self.started),
                bets_per_second: if seconds > 0.0 {
                    now.bets.saturating_sub(last.bets) as f64 / seconds
                } else {
                    0.0
                },
                ack_p50: acks.quantile(0.5),
                ack_p99: acks.quantile(0.99),
                connections: shared.live_connections() as u64,
            });
        }
        self.last = Some(now);
    }

    /// What it sampled.
    pub(crate) fn history(&self) -> &History {
        &self.history
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(second: u64) -> Sample {
        Sample {
            at: Duration::from_secs(second),
            bets_per_second: second as f64 * 10.0,
            ack_p50: Some(0.001),
            ack_p99: None,
            connections: second,
        }
    }

    fn seconds(history: &History) -> Vec<u64> {
        history
            .samples()
            .map(|sample| sample.at.as_secs())
            .collect()
    }

    #[test]
    fn the_history_keeps_samples_oldest_first_until_it_is_full() {
        let mut history = History::new(4);
        assert_eq!(history.samples().len(), 0);
        for second in 1..=3 {
            history.push(at(second));
        }
        assert_eq!(seconds(&history), [1, 2, 3]);
        assert_eq!(history.samples().nth(1), Some(&at(2)), "kept as pushed");
    }

    #[test]
    fn a_full_history_drops_its_oldest_sample_and_never_grows() {
        let mut history = History::new(3);
        let allocated = history.samples.capacity();
        for second in 1..=1000 {
            history.push(at(second));
            assert!(history.samples().len() <= 3);
        }
        assert_eq!(seconds(&history), [998, 999, 1000]);
        assert_eq!(history.capacity(), 3);
        assert_eq!(history.samples.capacity(), allocated, "no reallocation");
    }

    #[test]
    fn a_history_of_no_room_still_keeps_the_newest_sample() {
        let mut history = History::new(0);
        history.push(at(1));
        history.push(at(2));
        assert_eq!(seconds(&history), [2]);
    }
}
