//! The one-command demo: a central in-process, every agency concurrently,
//! and a check of everything the central answered against the input itself.
//!
//! Checks, per agency: the central stored exactly as many bets for it as its
//! input holds (counted in `bets.csv` after the run), and its winners are
//! exactly the documents of its input's bets playing the winning number, in
//! input order (a direct scan, independent of the central).

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::BufReader;
use std::num::{NonZeroU32, NonZeroUsize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use log::info;
use lottery_bet::{AgencyId, BetNumber, StoreRows};
use lottery_core::{Durability, LotteryRules};
use lottery_log::chain;
use lottery_net::{ClientConfig, Interrupter};

use crate::agency::{SessionEvent, run_session};
use crate::central::InProcessCentral;
use crate::error::DemoError;
use crate::input::{self, AgencyInput};
use crate::pki::MemoryPki;
use crate::progress::{ProgressCounters, ProgressDisplay, ProgressMode, ProgressTotals};
use crate::synthetic::{DEFAULT_AGENCIES, DEFAULT_SEED, DEFAULT_TOTAL_BETS, SyntheticDataSet};

/// Runs the lottery's main job in one command: a central on a free loopback
/// port, every agency at once, and a check of the winners against the input.
///
/// With no arguments it generates a deterministic synthetic data set; with
/// --data-dir it runs on the agency-N.csv files there.
#[derive(Debug, Clone, Parser)]
#[command(name = "lottery-demo", version)]
pub struct DemoArgs {
    /// A directory of agency-1.csv, agency-2.csv, ... (for example
    /// ../shared/data) instead of the synthetic data set.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Agencies of the synthetic data set.
    #[arg(long, default_value_t = NonZeroU32::new(DEFAULT_AGENCIES).expect("positive"), value_name = "N")]
    pub agencies: NonZeroU32,
    /// Bets of the synthetic data set, over all agencies.
    #[arg(long, default_value_t = DEFAULT_TOTAL_BETS, value_name = "N")]
    pub bets: u64,
    /// Seed of the synthetic data set.
    #[arg(long, default_value_t = DEFAULT_SEED, value_name = "N")]
    pub seed: u64,
    /// What an ack promises.
    #[arg(long, default_value_t = Durability::Fsync, value_name = "none|flush|fsync")]
    pub durability: Durability,
    /// Bets per batch at most [default: as many as fill a frame].
    #[arg(long, value_name = "N")]
    pub batch_max_amount: Option<NonZeroUsize>,
    /// OFF, ERROR, WARN, INFO, DEBUG or TRACE (INFO shows the central's and
    /// agencies' course log lines).
    // Parsed by clap, as every other flag: a bad level is a usage error.
    #[arg(long, default_value = "WARN", value_name = "LEVEL", value_parser = lottery_log::parse_level)]
    pub log_level: log::LevelFilter,
    /// Run everything over mutual TLS, with certificates generated in memory
    /// for the run (a CA, the central's, one per agency).
    #[arg(long)]
    pub tls: bool,
    /// Progress on stderr: auto (a bar on a terminal, plain lines
    /// otherwise), lines, or off.
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto, value_name = "auto|lines|off")]
    pub progress: ProgressMode,
    /// After the summary, keep the central up for SECONDS (its status page
    /// and agencies' winners queries stay answered; SIGINT or SIGTERM ends
    /// it sooner). 0: stop at once, as without it.
    #[arg(long, value_name = "SECONDS")]
    pub serve_status: Option<u64>,
    /// Write the synthetic data set (--agencies, --bets, --seed) as
    /// agency-1.csv, agency-2.csv, ... into DIR and exit, running nothing:
    /// the files for lottery-agency or the Docker route. A DIR already
    /// holding one of them is refused.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["data_dir", "tls", "serve_status"])]
    pub write_data: Option<PathBuf>,
}

/// A finished demo: its report and, with `--serve-status`, its central,
/// still running.
#[derive(Debug)]
pub struct DemoRun {
    /// What the demo found.
    pub report: DemoReport,
    /// The central, kept up for `--serve-status` (`None` without it: then it
    /// was stopped before `bets.csv` was counted).
    pub central: Option<InProcessCentral>,
}

/// What the demo found for one agency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgencyResult {
    /// The agency.
    pub agency: AgencyId,
    /// Bets in its input.
    pub input_bets: u64,
    /// Bets its session sent (and the central acknowledged).
    pub bets_sent: u64,
    /// Bets `bets.csv` holds for it after the run.
    pub bets_stored: u64,
    /// Winners the central answered.
    pub winners: Vec<String>,
    /// Winners a direct scan of the input finds.
    pub expected_winners: Vec<String>,
    /// Why its session failed, if it did.
    pub error: Option<String>,
}

impl AgencyResult {
    /// Why the agency's checks failed; `None` when they passed.
    pub fn problem(&self) -> Option<String> {
        if let Some(error) = &self.error {
            return Some(error.clone());
        }
        if self.bets_sent != self.input_bets {
            return Some(format!(
                "sent {} of {} bets",
                self.bets_sent, self.input_bets
            ));
        }
        if self.bets_stored != self.input_bets {
            return Some(format!(
                "bets.csv holds {} of {} bets",
                self.bets_stored, self.input_bets
            ));
        }
        if self.winners != self.expected_winners {
            return Some(format!(
                "winners {:?}, the input says {:?}",
                self.winners, self.expected_winners
            ));
        }
        None
    }
}

/// The demo's summary.
#[derive(Debug, Clone)]
pub struct DemoReport {
    /// Where the data came from.
    pub source: String,
    /// The central's address and durability.
    pub central: String,
    /// One result per agency, in agency order.
    pub agencies: Vec<AgencyResult>,
    /// From the first agency's start to the last agency's winners.
    pub elapsed: Duration,
}

impl DemoReport {
    /// Whether every check passed.
    pub fn passed(&self) -> bool {
        !self.agencies.is_empty()
            && self
                .agencies
                .iter()
                .all(|result| result.problem().is_none())
    }

    /// Bets stored over all agencies.
    pub fn bets_stored(&self) -> u64 {
        self.agencies.iter().map(|result| result.bets_stored).sum()
    }
}

impl fmt::Display for DemoReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "lottery-demo: {}", self.source)?;
        writeln!(f, "central: {}", self.central)?;
        writeln!(f)?;
        writeln!(
            f,
            "{:>6}  {:>11}  {:>11}  {:>7}  {:>8}  check",
            "agency", "bets sent", "bets stored", "winners", "expected"
        )?;
        let row =
            |f: &mut fmt::Formatter<'_>, name: &str, r: (u64, u64, usize, usize), check: &str| {
                writeln!(
                    f,
                    "{name:>6}  {:>11}  {:>11}  {:>7}  {:>8}  {check}",
                    grouped(r.0),
                    grouped(r.1),
                    r.2,
                    r.3
                )
            };
        let mut total = (0, 0, 0, 0);
        for result in &self.agencies {
            let counts = (
                result.bets_sent,
                result.bets_stored,
                result.winners.len(),
                result.expected_winners.len(),
            );
            total = (
                total.0 + counts.0,
                total.1 + counts.1,
                total.2 + counts.2,
                total.3 + counts.3,
            );
            let check = result
                .problem()
                .map_or_else(|| "ok".to_string(), |why| format!("FAILED: {why}"));
            row(f, &result.agency.to_string(), counts, &check)?;
        }
        row(
            f,
            "total",
            total,
            if self.passed() { "ok" } else { "FAILED" },
        )?;
        writeln!(f)?;
        let seconds = self.elapsed.as_secs_f64();
        let rate = if seconds > 0.0 {
            self.bets_stored() as f64 / seconds
        } else {
            0.0
        };
        write!(
            f,
            "elapsed {seconds:.3} s, {} bets/s; {}",
            grouped(rate as u64),
            if self.passed() {
                "every check passed"
            } else {
                "SOME CHECKS FAILED"
            }
        )
    }
}

/// `1234567` as `1,234,567`.
pub fn grouped(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// The agency files of `dir`: `agency-1.csv`, `agency-2.csv`, ... up to the
/// first missing one.
///
/// # Errors
/// [`DemoError::NoAgencyFiles`] when there is no `agency-1.csv`.
pub fn agency_files(dir: &Path) -> Result<Vec<PathBuf>, DemoError> {
    let files: Vec<PathBuf> = (1..)
        .map(|id| dir.join(format!("agency-{id}.csv")))
        .take_while(|path| path.is_file())
        .collect();
    if files.is_empty() {
        return Err(DemoError::NoAgencyFiles(dir.to_path_buf()));
    }
    Ok(files)
}

/// Writes the synthetic data set `args` describes into `dir` (`--write-data`)
/// and says what it wrote, in one line.
///
/// # Errors
/// [`DemoError::DataExists`] when `dir` holds one of the files already (they
/// are never replaced: they may be someone's real data), or
/// [`DemoError::Generate`] when they cannot be written.
pub fn write_data(args: &DemoArgs, dir: &Path) -> Result<String, DemoError> {
    let set = SyntheticDataSet {
        agencies: args.agencies.get(),
        total_bets: args.bets,
        seed: args.seed,
    };
    for id in 1..=set.agencies {
        let path = dir.join(format!("agency-{id}.csv"));
        if path.symlink_metadata().is_ok() {
            return Err(DemoError::DataExists(path));
        }
    }
    let files = set.write_agency_files(dir).map_err(DemoError::Generate)?;
    Ok(format!(
        "lottery-demo: wrote {} agency files to {} (synthetic data set, {} agencies, {} bets, seed {:#x})",
        files.len(),
        dir.display(),
        set.agencies,
        grouped(set.total_bets),
        set.seed
    ))
}

/// Runs the demo described by `args`; with `--serve-status` its central is
/// handed back still running (see [`serve_status`]).
///
/// # Errors
/// [`DemoError`] when the data cannot be prepared or read, or the central
/// cannot run. A failed agency does not stop the demo: it is reported.
pub fn run(args: &DemoArgs) -> Result<DemoRun, DemoError> {
    // Generated files live as long as the run.
    let mut generated = None;
    let (files, source) = match &args.data_dir {
        Some(dir) => {
            let files = agency_files(dir)?;
            let source = format!("{} agency files in {}", files.len(), dir.display());
            (files, source)
        }
        None => {
            let set = SyntheticDataSet {
                agencies: args.agencies.get(),
                total_bets: args.bets,
                seed: args.seed,
            };
            let dir = tempfile::Builder::new()
                .prefix("lottery-demo-")
                .tempdir()
                .map_err(DemoError::Generate)?;
            let files = set
                .write_agency_files(dir.path())
                .map_err(DemoError::Generate)?;
            generated = Some(dir);
            let source = format!(
                "synthetic data set, {} agencies, {} bets, seed {:#x}",
                set.agencies,
                grouped(set.total_bets),
                set.seed
            );
            (files, source)
        }
    };
    let agencies = u32::try_from(files.len()).map_err(|_| DemoError::TooManyAgencies)?;
    let rules = LotteryRules {
        agencies,
        ..LotteryRules::default()
    };
    let mut inputs = Vec::with_capacity(files.len());
    let today = input::today();
    for path in &files {
        let input = AgencyInput::load(path, today)?;
        let expected: Vec<String> = input
            .winners(BetNumber::DEFAULT_WINNING)?
            .into_iter()
            .map(|document| document.as_str().to_string())
            .collect();
        inputs.push((input, expected));
    }

    let pki = args.tls.then(MemoryPki::new).transpose()?;
    let central_tls = pki.as_ref().map(MemoryPki::central).transpose()?;
    let mut agency_tls = Vec::with_capacity(inputs.len());
    for index in 0..agencies {
        let agency = AgencyId::new(index + 1).expect("ids from 1 are valid");
        agency_tls.push(pki.as_ref().map(|pki| pki.agency(agency)).transpose()?);
    }
    let serve = args.serve_status.is_some_and(|seconds| seconds > 0);
    let mut central = InProcessCentral::start(rules, args.durability, None, central_tls, serve)?;
    let mut central_name = format!(
        "in-process on {}, durability {}",
        central.addr(),
        args.durability
    );
    if args.tls {
        central_name.push_str(", TLS on (mutual, certificates generated for the run)");
    }
    info!(
        "action: demo | result: in_progress | agencies: {agencies} | central: {}",
        central.addr()
    );
    let counters = Arc::new(ProgressCounters::default());
    let totals = ProgressTotals {
        bets: inputs.iter().map(|(input, _)| input.count()).sum(),
        agencies: u64::from(agencies),
    };
    let progress = ProgressDisplay::start(args.progress, totals, Arc::clone(&counters));
    let started = Instant::now();
    let sessions: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> =
            inputs
                .into_iter()
                .zip(agency_tls)
                .enumerate()
                .map(|(index, ((input, expected), tls))| {
                    let agency =
                        AgencyId::new(u32::try_from(index + 1).expect("agencies fit in u32"))
                            .expect("ids from 1 are valid");
                    let mut config = ClientConfig::new(central.addr().to_string(), agency);
                    config.batch_max = args.batch_max_amount.map(NonZeroUsize::get);
                    config.tls = tls;
                    let input_bets = input.count();
                    let counters = Arc::clone(&counters);
                    let handle =
                        scope.spawn(move || {
                            let mut counted = 0;
                            run_session(config, input, Interrupter::new(), false, |event| {
                                match event {
                                    SessionEvent::Stored { stored } => {
                                        counters.acked(stored.saturating_sub(counted));
                                        counted = counted.max(stored);
                                    }
                                    SessionEvent::Finished => counters.finished(),
                                    _ => {}
                                }
                            })
                        });
                    (agency, input_bets, expected, handle)
                })
                .collect();
        handles
            .into_iter()
            .map(|(agency, input_bets, expected, handle)| {
                let outcome = match handle.join() {
                    Ok(outcome) => outcome.map_err(|error| chain(&error)),
                    Err(_) => Err("the agency's thread panicked".to_string()),
                };
                (agency, input_bets, expected, outcome)
            })
            .collect()
    });
    let elapsed = started.elapsed();
    progress.finish();
    // Every agency is done and every ack meant a write: a central kept up
    // for --serve-status writes nothing more to its bets.csv.
    if !serve {
        central.stop()?;
    }
    let stored = stored_per_agency(central.store_path())?;
    drop(generated);

    let agencies = sessions
        .into_iter()
        .map(|(agency, input_bets, expected_winners, outcome)| {
            let (bets_sent, winners, error) = match outcome {
                Ok(outcome) => (outcome.bets_sent, outcome.winners, None),
                Err(error) => (0, Vec::new(), Some(error)),
            };
            AgencyResult {
                agency,
                input_bets,
                bets_sent,
                bets_stored: stored.get(&agency).copied().unwrap_or(0),
                winners,
                expected_winners,
                error,
            }
        })
        .collect();
    let report = DemoReport {
        source,
        central: central_name,
        agencies,
        elapsed,
    };
    Ok(DemoRun {
        report,
        central: serve.then_some(central),
    })
}

/// What `--serve-status` prints after the summary: where the central still
/// listens, for how long, and its status page (or that it has none: it was
/// not asked for).
pub fn serving_lines(central: &InProcessCentral, seconds: u64) -> String {
    let mut text = format!(
        "central: still up on {} for {seconds} s (SIGINT or SIGTERM stops it sooner)\n",
        central.addr()
    );
    match central.status_addr() {
        Some(status) => text.push_str(&format!(
            "status: http://{status}/ (the page), http://{status}/status (JSON), http://{status}/metrics\n"
        )),
        None => text.push_str("status: no HTTP status listener (not asked for)\n"),
    }
    text
}

/// Keeps `central` up for `seconds`, or until SIGINT or SIGTERM, then stops
/// it (and removes its store). Once the signals are watched, it writes
/// [`serving_lines`] to `out` (after a blank line), so whoever reads them may
/// signal at once.
///
/// # Errors
/// [`DemoError`] when the signal handlers cannot be installed, `out` cannot
/// be written, or the central fails to stop.
pub fn serve_status(
    mut central: InProcessCentral,
    seconds: u64,
    out: &mut impl std::io::Write,
) -> Result<(), DemoError> {
    /// How often the wait looks at the signal flag.
    const POLL: Duration = Duration::from_millis(50);
    let signalled = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&signalled)).map_err(DemoError::Signals)?;
    }
    write!(out, "\n{}", serving_lines(&central, seconds))
        .and_then(|()| out.flush())
        .map_err(DemoError::Print)?;
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while !signalled.load(Ordering::Relaxed) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        std::thread::sleep(left.min(POLL));
    }
    central.stop()?;
    Ok(())
}

/// Counts the bets of each agency in a `bets.csv`.
///
/// # Errors
/// [`DemoError::Store`] when it cannot be read or a row does not parse.
pub fn stored_per_agency(store: &Path) -> Result<BTreeMap<AgencyId, u64>, DemoError> {
    let file = File::open(store).map_err(|source| DemoError::Store {
        path: store.to_path_buf(),
        detail: source.to_string(),
    })?;
    let mut counts = BTreeMap::new();
    for row in StoreRows::new(BufReader::new(file)) {
        let stored = row.map_err(|(line, error)| DemoError::Store {
            path: store.to_path_buf(),
            detail: format!("line {line}: {error}"),
        })?;
        *counts.entry(stored.agency).or_insert(0) += 1;
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_by_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_000), "1,000");
        assert_eq!(grouped(78_697), "78,697");
        assert_eq!(grouped(1_234_567), "1,234,567");
    }

    #[test]
    fn agency_files_are_taken_up_to_the_first_gap() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            agency_files(dir.path()),
            Err(DemoError::NoAgencyFiles(_))
        ));
        for id in [1, 2, 4] {
            std::fs::write(dir.path().join(format!("agency-{id}.csv")), "").unwrap();
        }
        let files = agency_files(dir.path()).unwrap();
        assert_eq!(files.len(), 2);
        assert!(files[1].ends_with("agency-2.csv"));
    }

    fn result(winners: &[&str], expected: &[&str]) -> AgencyResult {
        AgencyResult {
            agency: AgencyId::new(1).unwrap(),
            input_bets: 10,
            bets_sent: 10,
            bets_stored: 10,
            winners: winners.iter().map(ToString::to_string).collect(),
            expected_winners: expected.iter().map(ToString::to_string).collect(),
            error: None,
        }
    }

    #[test]
    fn a_result_passes_only_when_counts_and_winners_match() {
        assert_eq!(result(&["1", "2"], &["1", "2"]).problem(), None);
        assert!(result(&["2", "1"], &["1", "2"]).problem().is_some());
        assert!(result(&[], &["1"]).problem().is_some());
        let short = AgencyResult {
            bets_stored: 9,
            ..result(&[], &[])
        };
        assert!(short.problem().unwrap().contains("bets.csv holds 9 of 10"));
        let failed = AgencyResult {
            error: Some("refused".into()),
            ..result(&[], &[])
        };
        assert_eq!(failed.problem().as_deref(), Some("refused"));
    }

    #[test]
    fn the_table_shows_every_agency_and_the_totals() {
        let report = DemoReport {
            source: "test".into(),
            central: "here".into(),
            agencies: vec![result(&["7"], &["7"])],
            elapsed: Duration::from_millis(500),
        };
        assert!(report.passed());
        let table = report.to_string();
        assert!(
            table.contains("     1           10           10        1         1  ok"),
            "{table}"
        );
        assert!(
            table.contains(" total           10           10        1         1  ok"),
            "{table}"
        );
        assert!(
            table.ends_with("elapsed 0.500 s, 20 bets/s; every check passed"),
            "{table}"
        );
    }
}
