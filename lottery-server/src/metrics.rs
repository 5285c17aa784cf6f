//! What the central counts for its status port beyond the central's own
//! books: refusals by code and ack latency per event loop, sync times and
//! group sizes of the store, each in plain atomics that a scrape reads and
//! adds up.
//!
//! # Cost on the hot path
//! Nothing here takes a lock. Each loop (and the acceptor) owns its
//! [`LoopMetrics`]: the loop's thread is the only writer, with relaxed
//! atomic adds (an ack is one add to a bucket, one to the sum, one
//! compare-and-max), and a scrape reads every loop's atomics and adds them
//! up ([`Metrics`]). No counter is shared by all loops, so loops never
//! contend on a cache line per batch. The store's sync histograms are
//! written by whichever thread leads a group commit, once per sync.
//!
//! A refusal is counted where its frame is encoded, on the thread that
//! encodes it, through that thread's counters ([`count_on_this_thread`],
//! [`refused`]): the session and the connection code need no handle to
//! count, and a thread without counters (a unit test) counts nothing.
//!
//! The buckets are counted here; their exposition in Prometheus's text
//! format is `prometheus-client`'s (see `status.rs`).

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use lottery_net::ErrorCode;

/// Upper bounds of the latency buckets, in seconds (from 50 µs: a sync on a
/// fast disk; to 10 s: a stalled one). Beyond the last, `+Inf`. Dense from
/// 1 to 50 ms, where an ack's p99 and p99.9 over fsync lie, so that their
/// estimates are within a few ms (the targets are 5 and 20 ms).
pub(crate) const LATENCY_BOUNDS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.001_5, 0.002, 0.002_5, 0.003, 0.004, 0.005,
    0.006, 0.007_5, 0.01, 0.015, 0.02, 0.025, 0.035, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Upper bounds of the group-size buckets, in batches per sync.
pub(crate) const GROUP_BOUNDS: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 4096.0,
];

/// Nanoseconds in a second, the scale of the latency histograms.
const NANOS: f64 = 1e9;

/// A histogram in atomics: a count per bucket, the sum and the largest
/// value, as integers (`scale` of them make one unit: nanoseconds for
/// seconds, 1 for counts). Lock-free; written by one thread or a few.
#[derive(Debug)]
pub(crate) struct Histogram {
    bounds: &'static [f64],
    /// Per bucket, not cumulative; the last one is `+Inf`.
    counts: Box<[AtomicU64]>,
    sum: AtomicU64,
    max: AtomicU64,
    scale: f64,
}

impl Histogram {
    /// A histogram of durations, in seconds.
    pub(crate) fn seconds() -> Self {
        Self::new(LATENCY_BOUNDS, NANOS)
    }

    /// A histogram of counts, over `bounds`.
    pub(crate) fn counts(bounds: &'static [f64]) -> Self {
        Self::new(bounds, 1.0)
    }

    fn new(bounds: &'static [f64], scale: f64) -> Self {
        Self {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0),
            max: AtomicU64::new(0),
            scale,
        }
    }

    /// Counts a duration `times` times (a histogram of seconds).
    pub(crate) fn observe_duration(&self, duration: Duration, times: u64) {
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        self.observe_raw(nanos, times);
    }

    /// Counts `value` once (a histogram of counts).
    pub(crate) fn observe_count(&self, value: u64) {
        self.observe_raw(value, 1);
    }

    fn observe_raw(&self, raw: u64, times: u64) {
        if times == 0 {
            return;
        }
        let value = raw as f64 / self.scale;
        let bucket = self
            .bounds
            .iter()
            .position(|&bound| value <= bound)
            .unwrap_or(self.bounds.len());
        self.counts[bucket].fetch_add(times, Ordering::Relaxed);
        self.sum
            .fetch_add(raw.saturating_mul(times), Ordering::Relaxed);
        self.max.fetch_max(raw, Ordering::Relaxed);
    }

    /// What it holds now (each atomic read once; a scrape racing an
    /// observation may see its bucket and not yet its sum, which the next
    /// scrape sees).
    pub(crate) fn read(&self) -> HistogramSnapshot {
        HistogramSnapshot {
            bounds: self.bounds,
            counts: self
                .counts
                .iter()
                .map(|count| count.load(Ordering::Relaxed))
                .collect(),
            sum: self.sum.load(Ordering::Relaxed) as f64 / self.scale,
            max: self.max.load(Ordering::Relaxed) as f64 / self.scale,
        }
    }
}

/// A histogram read at one moment, in units (seconds, batches).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HistogramSnapshot {
    /// The buckets' upper bounds (the last bucket, beyond them, is `+Inf`).
    pub bounds: &'static [f64],
    /// Per bucket, not cumulative: one more than `bounds`.
    pub counts: Vec<u64>,
    /// The sum of the values.
    pub sum: f64,
    /// The largest value (0 when empty).
    pub max: f64,
}

impl HistogramSnapshot {
    /// An empty histogram over `bounds`.
    pub(crate) fn empty(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: vec![0; bounds.len() + 1],
            sum: 0.0,
            max: 0.0,
        }
    }

    /// How many values.
    pub(crate) fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Adds `other` (same bounds) in.
    pub(crate) fn add(&mut self, other: &HistogramSnapshot) {
        debug_assert_eq!(self.bounds, other.bounds);
        for (count, more) in self.counts.iter_mut().zip(&other.counts) {
            *count += more;
        }
        self.sum += other.sum;
        self.max = self.max.max(other.max);
    }

    /// What was counted after `earlier` (a read of the same histogram, no
    /// later than this one): the counts and sum of the difference. Its
    /// largest value is this read's, an upper bound (the histogram keeps no
    /// largest value per interval), so its quantiles stay within the buckets.
    pub(crate) fn since(&self, earlier: &HistogramSnapshot) -> HistogramSnapshot {
        debug_assert_eq!(self.bounds, earlier.bounds);
        HistogramSnapshot {
            bounds: self.bounds,
            counts: self
                .counts
                .iter()
                .zip(&earlier.counts)
                .map(|(now, before)| now.saturating_sub(*before))
                .collect(),
            sum: (self.sum - earlier.sum).max(0.0),
            max: self.max,
        }
    }

    /// `(upper bound, count)` per bucket, the last bound `f64::MAX` (which
    /// prometheus-client writes `+Inf`).
    pub(crate) fn buckets(&self) -> Vec<(f64, u64)> {
        self.bounds
            .iter()
            .copied()
            .chain(std::iter::once(f64::MAX))
            .zip(self.counts.iter().copied())
            .collect()
    }

    /// The `q` quantile (0 to 1) estimated from the buckets, as Prometheus's
    /// `histogram_quantile` does: linear within the bucket that holds it,
    /// from the bucket's lower bound (0 for the first); never above the
    /// largest value seen (which also stands for the `+Inf` bucket's
    /// upper bound). `None` when empty.
    pub(crate) fn quantile(&self, q: f64) -> Option<f64> {
        let count = self.count();
        if count == 0 {
            return None;
        }
        let rank = q.clamp(0.0, 1.0) * count as f64;
        let mut below = 0u64;
        for (index, &in_bucket) in self.counts.iter().enumerate() {
            if in_bucket == 0 || ((below + in_bucket) as f64) < rank {
                below += in_bucket;
                continue;
            }
            let lower = if index == 0 {
                0.0
            } else {
                self.bounds[index - 1]
            };
            let upper = self.bounds.get(index).copied().unwrap_or(self.max);
            let within = ((rank - below as f64) / in_bucket as f64).clamp(0.0, 1.0);
            let estimate = lower + (upper.max(lower) - lower) * within;
            return Some(estimate.min(self.max));
        }
        Some(self.max)
    }
}

/// The slot of a refusal code among the counters: [`ErrorCode::KNOWN`]'s
/// order, then one for the codes this version does not know.
fn refusal_slot(code: ErrorCode) -> usize {
    ErrorCode::KNOWN
        .iter()
        .position(|&known| known == code)
        .unwrap_or(ErrorCode::KNOWN.len())
}

/// What one event loop (or the acceptor) counts; only its thread writes it.
#[derive(Debug)]
pub(crate) struct LoopMetrics {
    /// Error frames encoded, per [`refusal_slot`].
    refusals: Box<[AtomicU64]>,
    /// From the start of the loop iteration that read a batch to its ack
    /// being handed to the connection's output.
    acks: Histogram,
}

impl LoopMetrics {
    /// Counters at zero.
    pub(crate) fn new() -> Self {
        Self {
            refusals: (0..=ErrorCode::KNOWN.len())
                .map(|_| AtomicU64::new(0))
                .collect(),
            acks: Histogram::seconds(),
        }
    }

    /// Counts `acks` batches acked `latency` after they were read.
    pub(crate) fn acked(&self, acks: u64, latency: Duration) {
        self.acks.observe_duration(latency, acks);
    }

    fn refused(&self, code: ErrorCode) {
        self.refusals[refusal_slot(code)].fetch_add(1, Ordering::Relaxed);
    }
}

thread_local! {
    /// The counters of the loop (or acceptor) running on this thread.
    static THIS_THREAD: RefCell<Option<Arc<LoopMetrics>>> = const { RefCell::new(None) };
}

/// Makes this thread count its refusals in `metrics` (each loop thread and
/// the acceptor's, at their start).
pub(crate) fn count_on_this_thread(metrics: Arc<LoopMetrics>) {
    THIS_THREAD.with(|slot| *slot.borrow_mut() = Some(metrics));
}

/// Counts an error frame with `code`, in this thread's counters (none on a
/// thread without them).
pub(crate) fn refused(code: ErrorCode) {
    THIS_THREAD.with(|slot| {
        if let Some(metrics) = &*slot.borrow() {
            metrics.refused(code);
        }
    });
}

/// Every loop's counters, and the acceptor's; read and added up on scrape.
#[derive(Debug)]
pub(crate) struct Metrics {
    /// One per loop, then the acceptor's.
    loops: Vec<Arc<LoopMetrics>>,
}

impl Metrics {
    /// Counters for `loops` event loops and the acceptor.
    pub(crate) fn new(loops: usize) -> Self {
        Self {
            loops: (0..=loops).map(|_| Arc::new(LoopMetrics::new())).collect(),
        }
    }

    /// The counters of loop `index`.
    pub(crate) fn of_loop(&self, index: usize) -> &Arc<LoopMetrics> {
        &self.loops[index]
    }

    /// The acceptor's counters.
    pub(crate) fn of_acceptor(&self) -> &Arc<LoopMetrics> {
        self.loops.last().expect("the acceptor has counters")
    }

    /// Error frames sent, per code: every known code (0 included), then the
    /// unknown ones if any were counted.
    pub(crate) fn refusals(&self) -> Vec<(&'static str, u64)> {
        let mut totals = vec![0u64; ErrorCode::KNOWN.len() + 1];
        for metrics in &self.loops {
            for (total, count) in totals.iter_mut().zip(metrics.refusals.iter()) {
                *total += count.load(Ordering::Relaxed);
            }
        }
        let mut named: Vec<(&'static str, u64)> = ErrorCode::KNOWN
            .iter()
            .zip(&totals)
            .map(|(code, &count)| (code.name(), count))
            .collect();
        let unknown = totals[ErrorCode::KNOWN.len()];
        if unknown > 0 {
            named.push(("unknown", unknown));
        }
        named
    }

    /// The ack latencies of every loop, added up.
    pub(crate) fn acks(&self) -> HistogramSnapshot {
        let mut total = HistogramSnapshot::empty(LATENCY_BOUNDS);
        for metrics in &self.loops {
            total.add(&metrics.acks.read());
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_counts_each_value_in_the_first_bucket_that_holds_it() {
        let histogram = Histogram::seconds();
        histogram.observe_duration(Duration::from_micros(700), 2);
        histogram.observe_duration(Duration::from_millis(20), 1);
        histogram.observe_duration(Duration::from_secs(30), 1);
        let read = histogram.read();
        assert_eq!(read.count(), 4);
        let at = |bound: f64| LATENCY_BOUNDS.iter().position(|&b| b == bound).unwrap();
        assert_eq!(read.counts[at(0.001)], 2);
        assert_eq!(read.counts[at(0.02)], 1);
        assert_eq!(read.counts[LATENCY_BOUNDS.len()], 1, "+Inf");
        assert!(
            (read.sum - (0.0014 + 0.02 + 30.0)).abs() < 1e-9,
            "{}",
            read.sum
        );
        assert!((read.max - 30.0).abs() < 1e-9);
        let cumulative: u64 = read.buckets().iter().map(|(_, count)| count).sum();
        assert_eq!(cumulative, 4);
        assert_eq!(read.buckets().last().unwrap().0, f64::MAX);
    }

    #[test]
    fn quantiles_interpolate_within_a_bucket_and_never_pass_the_largest_value() {
        let histogram = Histogram::counts(GROUP_BOUNDS);
        assert_eq!(histogram.read().quantile(0.5), None, "empty");
        for value in [3, 3, 3, 3] {
            histogram.observe_count(value);
        }
        let read = histogram.read();
        // All four in the (2, 4] bucket: the median halfway, capped at 3.
        assert_eq!(read.quantile(0.5), Some(3.0));
        assert_eq!(read.quantile(0.25), Some(2.5));
        assert_eq!(read.quantile(1.0), Some(3.0));
        histogram.observe_count(100_000);
        assert_eq!(
            histogram.read().quantile(1.0),
            Some(100_000.0),
            "+Inf bucket"
        );
    }

    #[test]
    fn the_difference_of_two_reads_holds_only_what_was_counted_between_them() {
        let histogram = Histogram::seconds();
        histogram.observe_duration(Duration::from_millis(200), 50);
        let earlier = histogram.read();
        histogram.observe_duration(Duration::from_micros(700), 3);
        let between = histogram.read().since(&earlier);
        assert_eq!(between.count(), 3);
        assert!((between.sum - 0.0021).abs() < 1e-9, "{}", between.sum);
        // The median of the three, not of all 53 (which is 200 ms).
        let median = between.quantile(0.5).unwrap();
        assert!(median > 0.0005 && median <= 0.001, "{median}");
        assert_eq!(
            histogram.read().since(&histogram.read()).quantile(0.5),
            None
        );
    }

    #[test]
    fn loops_count_apart_and_a_scrape_adds_them_up() {
        let metrics = Metrics::new(2);
        metrics.of_loop(0).acked(3, Duration::from_millis(2));
        metrics.of_loop(1).acked(1, Duration::from_millis(4));
        let acks = metrics.acks();
        assert_eq!(acks.count(), 4);
        assert!((acks.sum - 0.010).abs() < 1e-9);
        let on_thread = Arc::clone(metrics.of_acceptor());
        std::thread::spawn(move || {
            refused(ErrorCode::InvalidBet);
            count_on_this_thread(on_thread);
            refused(ErrorCode::TooManyConnections);
            refused(ErrorCode::TooManyConnections);
            refused(ErrorCode::Unknown(999));
        })
        .join()
        .unwrap();
        let refusals = metrics.refusals();
        let count = |name: &str| refusals.iter().find(|(n, _)| *n == name).unwrap().1;
        assert_eq!(count(ErrorCode::TooManyConnections.name()), 2);
        assert_eq!(
            count(ErrorCode::InvalidBet.name()),
            0,
            "before counting began"
        );
        assert_eq!(count("unknown"), 1);
        assert_eq!(refusals.len(), ErrorCode::KNOWN.len() + 1);
    }
}
