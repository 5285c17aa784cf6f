//! The progress of a run (the demo's, the load generator's) on stderr: bets
//! acknowledged so far of the total, bets/s, agencies finished.
//!
//! When stderr is a terminal it is an `indicatif` progress bar, redrawn in
//! place; otherwise (a pipe, a file, CI) it is a plain line in the course
//! log format when the run starts, about every second, and when it ends:
//!
//! ```text
//! 2026-12-01 13:20:07 INFO     action: progress | result: in_progress | bets_acked: 12000 | bets: 30000 | percent: 40 | bets_per_s: 24810 | agencies_finished: 1 | agencies: 3
//! ```
//!
//! Progress never goes to stdout, where the programs print their results
//! (the demo's table, the load generator's report or `--json`), and it is
//! shown whatever `--log-level` says: `--progress off` silences it.
//!
//! The agencies' threads only bump two atomic counters
//! ([`ProgressCounters`]); one display thread reads them and draws, so
//! progress costs the hot path one relaxed atomic add per acknowledgement.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use indicatif::{HumanCount, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often a plain line is written.
const LINE_INTERVAL: Duration = Duration::from_secs(1);

/// How often the bar is redrawn.
const BAR_INTERVAL: Duration = Duration::from_millis(100);

/// How progress is shown (`--progress`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
#[non_exhaustive]
pub enum ProgressMode {
    /// A progress bar when stderr is a terminal, plain lines otherwise.
    #[default]
    Auto,
    /// Plain lines, even on a terminal.
    Lines,
    /// Nothing.
    Off,
}

/// What the agencies' threads count; shared with the display thread.
#[derive(Debug, Default)]
pub struct ProgressCounters {
    bets_acked: AtomicU64,
    agencies_finished: AtomicU64,
}

impl ProgressCounters {
    /// Counts `bets` more bets acknowledged by the central.
    pub fn acked(&self, bets: u64) {
        self.bets_acked.fetch_add(bets, Ordering::Relaxed);
    }

    /// Counts one more agency whose finish the central answered.
    pub fn finished(&self) {
        self.agencies_finished.fetch_add(1, Ordering::Relaxed);
    }

    /// Bets acknowledged so far.
    pub fn bets_acked(&self) -> u64 {
        self.bets_acked.load(Ordering::Relaxed)
    }

    /// Agencies finished so far.
    pub fn agencies_finished(&self) -> u64 {
        self.agencies_finished.load(Ordering::Relaxed)
    }
}

/// What a run will have done at its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProgressTotals {
    /// Bets over all agencies.
    pub bets: u64,
    /// Agencies.
    pub agencies: u64,
}

/// The counters at one moment of a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProgressSnapshot {
    /// Bets acknowledged.
    pub bets_acked: u64,
    /// Agencies finished.
    pub agencies_finished: u64,
    /// Since the display started.
    pub elapsed: Duration,
}

impl ProgressSnapshot {
    /// The counters now.
    pub fn of(counters: &ProgressCounters, started: Instant) -> Self {
        Self {
            bets_acked: counters.bets_acked(),
            agencies_finished: counters.agencies_finished(),
            elapsed: started.elapsed(),
        }
    }

    /// Bets acknowledged per second since the start (0 at the start).
    pub fn bets_per_s(&self) -> u64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 {
            (self.bets_acked as f64 / seconds) as u64
        } else {
            0
        }
    }

    /// The plain line's text (after the time and level): `result:
    /// in_progress` while running; at the `end`, `success` when every bet
    /// was acknowledged and every agency finished, `fail` otherwise.
    pub fn line(&self, totals: ProgressTotals, end: bool) -> String {
        let complete = self.bets_acked >= totals.bets && self.agencies_finished >= totals.agencies;
        let result = match (end, complete) {
            (false, _) => "in_progress",
            (true, true) => "success",
            (true, false) => "fail",
        };
        let percent = (self.bets_acked.saturating_mul(100))
            .checked_div(totals.bets)
            .unwrap_or(100);
        format!(
            "action: progress | result: {result} | bets_acked: {} | bets: {} | percent: {percent} | bets_per_s: {} | agencies_finished: {} | agencies: {}",
            self.bets_acked,
            totals.bets,
            self.bets_per_s(),
            self.agencies_finished,
            totals.agencies
        )
    }

    /// The bar's message: `12,345 bets/s, 1/3 agencies done` (finished).
    pub fn bar_message(&self, totals: ProgressTotals) -> String {
        format!(
            "{} bets/s, {}/{} agencies done",
            HumanCount(self.bets_per_s()),
            self.agencies_finished,
            totals.agencies
        )
    }
}

/// The display thread of a run. [`ProgressDisplay::finish`] (or dropping it)
/// draws the final state and stops it.
#[derive(Debug)]
pub struct ProgressDisplay {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl ProgressDisplay {
    /// Starts showing `counters` against `totals` as `mode` says: with
    /// [`ProgressMode::Auto`], a bar when stderr is a terminal
    /// ([`IsTerminal`]), plain lines otherwise.
    pub fn start(
        mode: ProgressMode,
        totals: ProgressTotals,
        counters: Arc<ProgressCounters>,
    ) -> Self {
        let bar = match mode {
            ProgressMode::Off => return Self::idle(),
            ProgressMode::Auto => std::io::stderr().is_terminal(),
            ProgressMode::Lines => false,
        };
        let started = Instant::now();
        if !bar {
            // Written here, before the caller starts its agencies: the first
            // line is the state before anything was sent.
            write_line(&ProgressSnapshot::of(&counters, started).line(totals, false));
        }
        let (stop, stopped) = mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("progress".into())
            .spawn(move || {
                if bar {
                    show_bar(started, totals, &counters, &stopped);
                } else {
                    show_lines(started, totals, &counters, &stopped);
                }
            });
        match spawned {
            Ok(thread) => Self {
                stop: Some(stop),
                thread: Some(thread),
            },
            // Progress is a courtesy: a run does not fail for want of it.
            Err(_) => Self::idle(),
        }
    }

    fn idle() -> Self {
        Self {
            stop: None,
            thread: None,
        }
    }

    /// Draws the final state and stops the display.
    pub fn finish(mut self) {
        self.stop_thread();
    }

    fn stop_thread(&mut self) {
        // Closing the channel is the stop signal.
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for ProgressDisplay {
    fn drop(&mut self) {
        self.stop_thread();
    }
}

/// Waits `interval` or until stopped; `true` when stopped.
fn stopped_within(stopped: &mpsc::Receiver<()>, interval: Duration) -> bool {
    matches!(
        stopped.recv_timeout(interval),
        Err(RecvTimeoutError::Disconnected) | Ok(())
    )
}

/// A line every [`LINE_INTERVAL`] and one at the end (the first one,
/// [`ProgressDisplay::start`] wrote).
fn show_lines(
    started: Instant,
    totals: ProgressTotals,
    counters: &ProgressCounters,
    stopped: &mpsc::Receiver<()>,
) {
    loop {
        let end = stopped_within(stopped, LINE_INTERVAL);
        write_line(&ProgressSnapshot::of(counters, started).line(totals, end));
        if end {
            return;
        }
    }
}

/// Writes one course-format line to stderr, with one `write` call (so it
/// never interleaves with the log's lines).
fn write_line(text: &str) {
    let unix_seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    let mut line = String::new();
    lottery_log::format_line(
        unix_seconds,
        log::Level::Info,
        format_args!("{text}"),
        &mut line,
    );
    // Nothing useful can be done when stderr is gone.
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// The bar, redrawn every [`BAR_INTERVAL`], left drawn at its final state.
fn show_bar(
    started: Instant,
    totals: ProgressTotals,
    counters: &ProgressCounters,
    stopped: &mpsc::Receiver<()>,
) {
    let bar = ProgressBar::with_draw_target(Some(totals.bets), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "{elapsed_precise} [{wide_bar}] {human_pos}/{human_len} bets acked {percent:>3}%, {msg}",
    )
    .expect("a valid template")
    .progress_chars("=> ");
    bar.set_style(style);
    loop {
        let end = stopped_within(stopped, BAR_INTERVAL);
        let now = ProgressSnapshot::of(counters, started);
        bar.set_position(now.bets_acked);
        bar.set_message(now.bar_message(totals));
        if end {
            bar.finish();
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOTALS: ProgressTotals = ProgressTotals {
        bets: 30_000,
        agencies: 3,
    };

    fn at(bets_acked: u64, agencies_finished: u64, millis: u64) -> ProgressSnapshot {
        ProgressSnapshot {
            bets_acked,
            agencies_finished,
            elapsed: Duration::from_millis(millis),
        }
    }

    #[test]
    fn a_line_says_how_far_the_run_is() {
        assert_eq!(
            at(12_000, 1, 500).line(TOTALS, false),
            "action: progress | result: in_progress | bets_acked: 12000 | bets: 30000 | percent: 40 | bets_per_s: 24000 | agencies_finished: 1 | agencies: 3"
        );
        assert_eq!(at(0, 0, 0).bets_per_s(), 0);
    }

    #[test]
    fn the_last_line_says_whether_everything_was_acknowledged() {
        assert!(
            at(30_000, 3, 2_000)
                .line(TOTALS, true)
                .starts_with("action: progress | result: success | bets_acked: 30000")
        );
        assert!(
            at(29_999, 3, 2_000)
                .line(TOTALS, true)
                .contains("result: fail")
        );
        assert!(
            at(30_000, 2, 2_000)
                .line(TOTALS, true)
                .contains("result: fail")
        );
        let nothing = ProgressTotals {
            bets: 0,
            agencies: 1,
        };
        assert!(at(0, 1, 1).line(nothing, true).contains("percent: 100"));
    }

    #[test]
    fn the_bar_message_groups_the_rate() {
        assert_eq!(
            at(1_234_567, 2, 1_000).bar_message(TOTALS),
            "1,234,567 bets/s, 2/3 agencies done"
        );
    }

    #[test]
    fn counters_add_up_from_several_threads() {
        let counters = Arc::new(ProgressCounters::default());
        std::thread::scope(|scope| {
            for _ in 0..4 {
                let counters = Arc::clone(&counters);
                scope.spawn(move || {
                    for _ in 0..1_000 {
                        counters.acked(3);
                    }
                    counters.finished();
                });
            }
        });
        assert_eq!(counters.bets_acked(), 12_000);
        assert_eq!(counters.agencies_finished(), 4);
    }
}
