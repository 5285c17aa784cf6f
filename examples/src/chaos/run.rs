//! A chaos run: lotteries one after another until the duration is spent,
//! each a fresh store (a file, or a fresh PostgreSQL schema) with its own
//! centrals and agencies, faults injected at moments drawn from the seed;
//! after each lottery its record is collected and judged by [`check`].
//!
//! The seed fixes every choice the run makes (agencies, bets, batch sizes,
//! which fault when, pauses); the interleaving of real processes still
//! varies between replays, as in any test of real processes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use log::{info, warn};
use lottery_bet::{Bet, BetNumber};

use super::check::{self, Bounds, ConflictProbe, ResourceSample, Verdict};
use super::faults::{FaultKind, Injected};
use super::pg::Postgres;
use super::system::{
    Agency, AgencySetup, Binaries, Central, free_port, mount_tmpfs, resources, unmount,
};
use crate::agency::history::{HistoryEvent, parse_history};
use crate::synthetic::{SplitMix64, synthetic_bet, write_agency_file};

mod collect;
mod inject;

pub use collect::{agency_record, split_rows};

/// A lottery that is not over by then has hung: a failure.
const LOTTERY_TIMEOUT: Duration = Duration::from_secs(300);
/// How often the run looks at its processes.
const TICK: Duration = Duration::from_millis(10);
/// How often it samples the centrals' resources.
const SAMPLE_EVERY: Duration = Duration::from_millis(250);
/// The central's idle timeout in a run: short, so that pauses outlast it.
const IDLE_TIMEOUT_S: &str = "3";
/// The tmpfs a file store lives on when disk-full faults are on: a
/// lottery's store (at most 100,000 bets) takes a few MiB of it.
const STORE_DISK_MIB: u64 = 64;
/// The file that fills the store's disk.
const FILLER: &str = "filler";
/// Runs of one agency program before the run gives up on it.
const MAX_AGENCY_RUNS: usize = 40;

/// What a run is asked to do.
#[derive(Debug, Clone)]
pub struct ChaosConfig {
    /// Every random choice comes from it.
    pub seed: u64,
    /// Lotteries start until this much time has passed (the last one runs
    /// to its end).
    pub duration: Duration,
    /// The programs to run.
    pub binaries: Binaries,
    /// The kinds of fault to inject.
    pub faults: Vec<FaultKind>,
    /// Mean time between two faults.
    pub mean_gap: Duration,
    /// The centrals' bounds.
    pub bounds: Bounds,
    /// Where the run's files go (a temporary directory when `None`). A
    /// lottery's directory is removed once it passed its checks, kept when
    /// it failed.
    pub work_dir: Option<PathBuf>,
    /// The PostgreSQL server whose fresh schema each lottery's centrals
    /// share (`None`: one central on a file store).
    pub postgres: Option<Postgres>,
    /// Centrals per lottery on PostgreSQL (a file store has one).
    pub centrals: usize,
    /// Mutual TLS everywhere, with a PKI `lottery-admin certs` writes for
    /// the run.
    pub tls: bool,
    /// Every central with `--winning-number committed` (file stores): the
    /// winners are checked against the number the revealed secret gave,
    /// and one secret per lottery ([`crate::chaos::check::Invariant::OneSecret`]).
    pub committed: bool,
}

impl ChaosConfig {
    /// What the run runs, for the table's first line.
    pub fn setup(&self) -> String {
        let ledger = match &self.postgres {
            Some(postgres) => format!(
                "PostgreSQL ({}, a schema per lottery), {} centrals",
                postgres.url, self.centrals
            ),
            None => "file store, 1 central".to_owned(),
        };
        format!(
            "{ledger}, {}{}",
            if self.tls { "mutual TLS" } else { "plaintext" },
            if self.committed {
                ", committed winning number"
            } else {
                ""
            }
        )
    }
}

/// What a run did, and what it found.
#[derive(Debug, Clone)]
pub struct ChaosReport {
    /// The seed.
    pub seed: u64,
    /// Lotteries run.
    pub lotteries: usize,
    /// Agencies over all lotteries.
    pub agencies: usize,
    /// Bets over all lotteries.
    pub bets: u64,
    /// Every fault injected, in order.
    pub faults: Vec<Injected>,
    /// Every verdict, lottery by lottery.
    pub verdicts: Vec<Verdict>,
    /// Things worth knowing that are no invariant (agency runs that failed
    /// and were started again, faults that found no target).
    pub notes: Vec<String>,
    /// How long it took.
    pub elapsed: Duration,
    /// The run's directory (logs, stores, histories).
    pub dir: PathBuf,
}

impl ChaosReport {
    /// The verdicts that failed.
    pub fn failures(&self) -> Vec<&Verdict> {
        self.verdicts
            .iter()
            .filter(|verdict| verdict.failure.is_some())
            .collect()
    }
}

/// One lottery's shape, drawn from the seed.
#[derive(Debug)]
struct Plan {
    lottery: usize,
    bets: Vec<Vec<Bet>>,
    batch_max: Vec<u32>,
}

impl Plan {
    fn draw(rng: &mut SplitMix64, lottery: usize) -> Self {
        let agencies = rng.between(2, 5) as usize;
        let mut bets = Vec::new();
        let mut batch_max = Vec::new();
        for _ in 0..agencies {
            let count = rng.between(2_000, 20_000);
            bets.push(
                (0..count)
                    .map(|_| {
                        let mut bet = synthetic_bet(rng);
                        // Winners often enough that every agency has some
                        // to get right (or wrong).
                        if rng.one_in(60) {
                            bet.number = BetNumber::DEFAULT_WINNING;
                        }
                        bet
                    })
                    .collect(),
            );
            // At most 100 bets a batch: they always fit in one frame, so batch
            // n is bets (n-1)*B.. of the input, which a second connection
            // resends.
            batch_max.push(u32::try_from(rng.between(8, 100)).expect("small"));
        }
        Self {
            lottery,
            bets,
            batch_max,
        }
    }
}

/// A pause to end, or a restart to make, at a moment.
#[derive(Debug)]
enum Pending {
    ResumeCentral(usize),
    RestartCentral(usize),
    ResumeAgency(usize),
    FreeDisk,
}

/// Runs `config`: returns the report (its verdicts say whether the
/// invariants held).
///
/// # Errors
/// The run itself could not go on (a program missing or not starting, a
/// central that exited by itself, a lottery that never ended): that too is a
/// failure, said with the seed.
pub fn run(config: &ChaosConfig) -> Result<ChaosReport, String> {
    let started = Instant::now();
    let dir = match &config.work_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|error| format!("create {}: {error}", dir.display()))?;
            dir.clone()
        }
        None => tempfile::Builder::new()
            .prefix("lottery-chaos-")
            .tempdir()
            .map_err(|error| format!("create a temporary directory: {error}"))?
            .keep(),
    };
    let mut report = ChaosReport {
        seed: config.seed,
        lotteries: 0,
        agencies: 0,
        bets: 0,
        faults: Vec::new(),
        verdicts: Vec::new(),
        notes: Vec::new(),
        elapsed: Duration::ZERO,
        dir: dir.clone(),
    };
    let pki = if config.tls {
        Some(make_pki(&config.binaries, &dir.join("pki"))?)
    } else {
        None
    };
    // Disk-full faults until a tmpfs cannot be mounted (then skipped, said once).
    let mut disk_full = config.postgres.is_none() && config.faults.contains(&FaultKind::DiskFull);
    let mut rng = SplitMix64::new(config.seed);
    while report.lotteries == 0 || started.elapsed() < config.duration {
        let lottery = report.lotteries + 1;
        let plan = Plan::draw(&mut rng, lottery);
        let lottery_dir = dir.join(format!("lottery-{lottery}"));
        std::fs::create_dir_all(&lottery_dir)
            .map_err(|error| format!("create {}: {error}", lottery_dir.display()))?;
        let mut run = LotteryRun::start(
            config,
            &plan,
            &lottery_dir,
            pki.as_deref(),
            &mut disk_full,
            &mut rng,
            started,
        )?;
        report.notes.append(&mut run.notes);
        run.drive(&mut rng, &mut report)?;
        let schema = run.schema.clone();
        let record = run.finish(&plan)?;
        report.lotteries += 1;
        report.agencies += plan.bets.len();
        report.bets += plan.bets.iter().map(|bets| bets.len() as u64).sum::<u64>();
        let verdicts = check::check(&record, config.bounds);
        let failed = verdicts.iter().filter(|v| v.failure.is_some()).count();
        info!(
            "action: lottery | result: {} | lottery: {lottery} | agencies: {} | bets: {} | faults: {} | invariants_failed: {failed}",
            if failed == 0 { "success" } else { "fail" },
            plan.bets.len(),
            plan.bets.iter().map(Vec::len).sum::<usize>(),
            report
                .faults
                .iter()
                .filter(|f| f.lottery == lottery)
                .count(),
        );
        report.verdicts.extend(verdicts);
        if failed == 0 {
            // Only a failure's files are worth their space: an hour's run
            // writes gigabytes of inputs, stores and logs.
            if let (Some(postgres), Some(schema)) = (&config.postgres, schema) {
                postgres.drop_schema(&schema)?;
            }
            std::fs::remove_dir_all(&lottery_dir)
                .map_err(|error| format!("remove {}: {error}", lottery_dir.display()))?;
        }
    }
    report.elapsed = started.elapsed();
    if report.failures().is_empty() && config.work_dir.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(report)
}

/// One lottery under way.
struct LotteryRun<'a> {
    config: &'a ChaosConfig,
    lottery: usize,
    dir: PathBuf,
    /// `bets.csv`, or the PostgreSQL URL of the lottery's schema.
    store: String,
    /// The lottery's PostgreSQL schema.
    schema: Option<String>,
    centrals: Vec<Central>,
    agencies: Vec<Agency>,
    pending: Vec<(Instant, Pending)>,
    next_fault: Instant,
    /// The acknowledged bets at which a kill is aimed at the end of the
    /// ingest (`u64::MAX`: none, or done).
    aim: u64,
    peaks: BTreeMap<String, ResourceSample>,
    /// Each agency's input and batch size (what a second connection resends).
    inputs: Vec<(Vec<Bet>, u32)>,
    /// Conflicting resends tried, and their answers.
    conflicts: Vec<ConflictProbe>,
    /// Notes for the report.
    notes: Vec<String>,
    /// The run's PKI directory, for TLS.
    pki: Option<PathBuf>,
    /// The tmpfs the file store is on, when disk-full faults are on.
    disk: Option<PathBuf>,
    run_started: Instant,
    started: Instant,
}

impl<'a> LotteryRun<'a> {
    fn start(
        config: &'a ChaosConfig,
        plan: &Plan,
        dir: &Path,
        pki: Option<&Path>,
        disk_full: &mut bool,
        rng: &mut SplitMix64,
        run_started: Instant,
    ) -> Result<Self, String> {
        let mut notes = Vec::new();
        let mut disk = None;
        let (store, schema) = match &config.postgres {
            Some(postgres) => {
                let schema = format!("chaos_{:x}_{}", config.seed, plan.lottery);
                (postgres.fresh_schema(&schema)?, Some(schema))
            }
            None if *disk_full => {
                let mount = dir.join("disk");
                match mount_tmpfs(&mount, STORE_DISK_MIB) {
                    Ok(()) => {
                        disk = Some(mount.clone());
                        (mount.join("bets.csv").display().to_string(), None)
                    }
                    Err(error) => {
                        *disk_full = false;
                        notes.push(format!(
                            "disk-full faults skipped: the store needs a tmpfs and {error}"
                        ));
                        (dir.join("bets.csv").display().to_string(), None)
                    }
                }
            }
            None => (dir.join("bets.csv").display().to_string(), None),
        };
        let agencies_count = plan.bets.len();
        let mut args = vec![
            "--agencies".to_owned(),
            agencies_count.to_string(),
            "--store".to_owned(),
            store.clone(),
            "--threads".to_owned(),
            "1".to_owned(),
            "--idle-timeout".to_owned(),
            IDLE_TIMEOUT_S.to_owned(),
            "--handshake-timeout".to_owned(),
            IDLE_TIMEOUT_S.to_owned(),
        ];
        if config.committed {
            args.extend(["--winning-number".to_owned(), "committed".to_owned()]);
        }
        if let Some(pki) = pki {
            for (flag, file) in [
                ("--tls-cert", "server.pem"),
                ("--tls-key", "server.key"),
                ("--tls-client-ca", "ca.pem"),
            ] {
                args.push(flag.to_owned());
                args.push(pki.join(file).display().to_string());
            }
        }
        let count = if config.postgres.is_some() {
            config.centrals.max(1)
        } else {
            1
        };
        let mut centrals = Vec::new();
        for index in 0..count {
            let mut central = Central::new(
                format!("central-{}", index + 1),
                free_port(rng)?,
                args.clone(),
                dir,
                &config.binaries.server,
            );
            central.start()?;
            centrals.push(central);
        }
        let addresses: Vec<String> = centrals.iter().map(Central::address).collect();
        let mut agencies = Vec::new();
        for (index, bets) in plan.bets.iter().enumerate() {
            let id = u32::try_from(index + 1).expect("few agencies");
            // Each agency starts on another central of the list, so that
            // all of them take batches.
            let mut servers = addresses.clone();
            servers.rotate_left(index % addresses.len());
            let servers = servers.join(",");
            let data = dir.join(format!("agency-{id}.csv"));
            write_agency_file(&data, bets.iter().cloned())
                .map_err(|error| format!("write {}: {error}", data.display()))?;
            let mut agency = Agency::new(AgencySetup {
                id,
                servers: servers.clone(),
                data,
                history: dir.join(format!("agency-{id}.history.jsonl")),
                log: dir.join(format!("agency-{id}.log")),
                batch_max: plan.batch_max[index],
                tls: pki.map_or_else(Vec::new, |pki| {
                    [
                        ("--tls-ca", "ca.pem".to_owned()),
                        ("--tls-cert", format!("agency-{id}.pem")),
                        ("--tls-key", format!("agency-{id}.key")),
                    ]
                    .into_iter()
                    .flat_map(|(flag, file)| {
                        [flag.to_owned(), pki.join(file).display().to_string()]
                    })
                    .collect()
                }),
            });
            agency.start(&config.binaries.agency)?;
            agencies.push(agency);
        }
        let now = Instant::now();
        let total: u64 = plan.bets.iter().map(|bets| bets.len() as u64).sum();
        // Half the lotteries aim a kill at their last batches and finishes.
        let aim = if rng.one_in(2) {
            total - total * rng.below(50) / 1000
        } else {
            u64::MAX
        };
        Ok(Self {
            config,
            lottery: plan.lottery,
            dir: dir.to_path_buf(),
            store,
            schema,
            centrals,
            agencies,
            pending: Vec::new(),
            // The first fault early: an ingest may last well under a second.
            next_fault: now + Duration::from_millis(rng.below(300)),
            aim,
            peaks: BTreeMap::new(),
            inputs: plan
                .bets
                .iter()
                .cloned()
                .zip(plan.batch_max.iter().copied())
                .collect(),
            conflicts: Vec::new(),
            notes,
            pki: pki.map(Path::to_path_buf),
            disk,
            run_started,
            started: now,
        })
    }

    /// Runs the lottery to its end: every agency done.
    fn drive(&mut self, rng: &mut SplitMix64, report: &mut ChaosReport) -> Result<(), String> {
        let mut last_sample = Instant::now() - SAMPLE_EVERY;
        while !self.agencies.iter().all(|agency| agency.done) {
            if self.started.elapsed() > LOTTERY_TIMEOUT {
                return Err(format!(
                    "lottery {} did not end within {LOTTERY_TIMEOUT:?} (files in {})",
                    self.lottery,
                    self.dir.display()
                ));
            }
            std::thread::sleep(TICK);
            if last_sample.elapsed() >= SAMPLE_EVERY {
                self.sample();
                last_sample = Instant::now();
            }
            self.tend_centrals()?;
            self.tend_agencies(report)?;
            self.run_pending()?;
            let aimed = self.aim_at_last_finish();
            if aimed || Instant::now() >= self.next_fault {
                let forced = aimed.then_some(FaultKind::Kill);
                if let Some(fault) = self.inject(rng, forced)? {
                    info!(
                        "action: fault | result: success | at_s: {:.3} | lottery: {} | kind: {} | detail: {}",
                        fault.at.as_secs_f64(),
                        fault.lottery,
                        fault.kind,
                        fault.detail
                    );
                    report.faults.push(fault);
                }
                report.notes.append(&mut self.notes);
                self.next_fault = Instant::now() + gap(rng, self.config.mean_gap);
            }
        }
        Ok(())
    }

    /// Once per lottery, when the agencies' acknowledged bets reach the
    /// lottery's `aim` (drawn between 95% and all of its bets: the last
    /// batches, the finishes and the draw), a kill of the central may be
    /// aimed at that moment.
    fn aim_at_last_finish(&mut self) -> bool {
        if self.aim == u64::MAX || !self.config.faults.contains(&FaultKind::Kill) {
            return false;
        }
        let acked: u64 = self
            .agencies
            .iter()
            .map(|agency| {
                std::fs::read_to_string(&agency.setup.history).map_or(0, |text| {
                    parse_history(&text)
                        .iter()
                        .filter_map(|line| match line.event {
                            HistoryEvent::Stored { bets } | HistoryEvent::Sent { bets } => {
                                Some(bets)
                            }
                            _ => None,
                        })
                        .max()
                        .unwrap_or(0)
                })
            })
            .sum();
        if acked < self.aim {
            return false;
        }
        self.aim = u64::MAX;
        true
    }

    fn sample(&mut self) {
        for central in &self.centrals {
            let Some(sample) = central.pid().and_then(|pid| resources(pid, &central.name)) else {
                continue;
            };
            let peak = self
                .peaks
                .entry(central.name.clone())
                .or_insert_with(|| sample.clone());
            peak.rss_kib = peak.rss_kib.max(sample.rss_kib);
            peak.fds = peak.fds.max(sample.fds);
        }
    }

    fn tend_centrals(&mut self) -> Result<(), String> {
        for central in &mut self.centrals {
            if let Some(status) = central.exited() {
                return Err(format!(
                    "{} of lottery {} exited by itself ({status}); its log: {}",
                    central.name,
                    self.lottery,
                    central
                        .logs
                        .last()
                        .map_or(String::new(), |p| p.display().to_string())
                ));
            }
        }
        Ok(())
    }

    fn tend_agencies(&mut self, report: &mut ChaosReport) -> Result<(), String> {
        let now = Instant::now();
        for agency in &mut self.agencies {
            if agency.reap() == Some(false) {
                // Why, in the run's own words: its history's last exit.
                let why = std::fs::read_to_string(&agency.setup.history)
                    .ok()
                    .and_then(|text| {
                        parse_history(&text)
                            .into_iter()
                            .rev()
                            .find_map(|line| match line.event {
                                HistoryEvent::Exit { error, .. } => error,
                                _ => None,
                            })
                    })
                    .unwrap_or_else(|| "no exit in its history".to_owned());
                let note = format!(
                    "lottery {}: agency {} {}: {why}; started again",
                    self.lottery,
                    agency.setup.id,
                    agency.failed_runs.last().map_or("", String::as_str),
                );
                warn!("action: agency_exit | result: fail | detail: {note}");
                report.notes.push(note);
                agency.restart_at = Some(now + Duration::from_millis(200));
            }
            if !agency.done && !agency.alive() && agency.restart_at.is_some_and(|at| at <= now) {
                if agency.runs >= MAX_AGENCY_RUNS {
                    return Err(format!(
                        "lottery {}: agency {} failed {} runs: {:?}",
                        self.lottery, agency.setup.id, agency.runs, agency.failed_runs
                    ));
                }
                agency.start(&self.config.binaries.agency)?;
            }
        }
        Ok(())
    }

    fn run_pending(&mut self) -> Result<(), String> {
        let now = Instant::now();
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|(at, _)| *at <= now);
        self.pending = later;
        for (_, pending) in due {
            match pending {
                Pending::ResumeCentral(index) => self.centrals[index].pause(false)?,
                Pending::RestartCentral(index) => self.restart_central(index)?,
                Pending::ResumeAgency(index) => self.agencies[index].pause(false)?,
                Pending::FreeDisk => self.free_disk()?,
            }
        }
        Ok(())
    }
}

impl Drop for LotteryRun<'_> {
    /// A lottery left by an error leaves no process running and nothing
    /// mounted (after `finish`, there is nothing left to do).
    fn drop(&mut self) {
        for central in &mut self.centrals {
            central.kill();
        }
        for agency in &mut self.agencies {
            agency.kill();
        }
        if let Some(disk) = self.disk.take() {
            let _ = unmount(&disk);
        }
    }
}

/// The run's PKI in `dir`: `lottery-admin certs` for the most agencies a
/// lottery has (5), the central's certificate for 127.0.0.1.
fn make_pki(binaries: &Binaries, dir: &Path) -> Result<PathBuf, String> {
    let output = Command::new(&binaries.admin)
        .args(["certs", "--agencies", "5", "--out"])
        .arg(dir)
        .output()
        .map_err(|error| format!("run lottery-admin certs: {error}"))?;
    if output.status.success() {
        Ok(dir.to_path_buf())
    } else {
        Err(format!(
            "lottery-admin certs failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// The time to the next fault: uniform over twice the mean.
fn gap(rng: &mut SplitMix64, mean: Duration) -> Duration {
    let mean_ms = u64::try_from(mean.as_millis()).unwrap_or(u64::MAX).max(1);
    Duration::from_millis(rng.between(mean_ms / 10, mean_ms * 2))
}
