//! The crash trials: the real `lottery-server` and five `lottery-agency`
//! processes, the central killed with SIGKILL at moments drawn from a seed
//! (and agencies too, in some trials), restarted on the same store and port;
//! then everything the issue promises is checked (see `check`).
//!
//! - `plan`: the kills a seed stands for.
//! - `data`: the agencies' input files.
//! - `processes`: starting, killing and following the programs.
//! - `check`: what must hold once the agencies are done.

pub mod check;
pub mod data;
pub mod plan;
pub mod processes;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use lottery_examples::synthetic::SplitMix64;

use check::{Restart, check_trial};
use data::{AGENCIES, data_set};
use plan::{Kind, Plan, Progress};
use processes::{AgencyProcess, CentralProcess, LogFollower, free_port};

/// A trial that is not over by then has hung.
const TRIAL_TIMEOUT: Duration = Duration::from_secs(240);
/// How often the trial looks at the logs and the processes.
const POLL: Duration = Duration::from_millis(2);

/// What a trial did, for its summary line.
#[derive(Debug)]
pub struct Report {
    /// The plan it followed.
    pub plan: Plan,
    /// The restarts of the central: what each found.
    pub restarts: Vec<Restart>,
    /// Agency kills carried out.
    pub agency_kills: usize,
    /// Kills whose moment the run never reached (the run was over first).
    pub missed: Vec<String>,
    /// How long the trial took.
    pub elapsed: Duration,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "crash trial ok: {} | central restarts:", self.plan)?;
        for restart in &self.restarts {
            write!(
                f,
                " [killed at {} acked bets, cut {} bytes, reopened with {} bets{}]",
                restart.acked_at_kill,
                restart.truncated_bytes,
                restart.bets_on_open,
                if restart.recovered_draw {
                    ", draw recovered"
                } else {
                    ""
                }
            )?;
        }
        write!(f, " | agency kills: {}", self.agency_kills)?;
        if !self.missed.is_empty() {
            write!(f, " | not reached: {}", self.missed.join(", "))?;
        }
        write!(f, " | {:.1} s", self.elapsed.as_secs_f64())
    }
}

/// Runs the trial of `kind` drawn from `seed`; panics with the seed, the
/// trial's directory (kept) and the reason when anything is wrong.
pub fn run(seed: u64, kind: Kind) -> Report {
    // Trials run one at a time: two at once on two cores would measure the
    // machine, not the central.
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let data = data_set();
    let plan = Plan::new(seed, kind, AGENCIES, data.total_bets());
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("crash")
        .join(format!("trial-{seed:016x}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the trial directory");
    eprintln!(
        "crash trial: {plan}\n  replay: CRASH_SEED={seed:#x} (directory {})",
        dir.display()
    );
    match Trial::new(plan, &dir).and_then(Trial::run) {
        Ok(report) => {
            let _ = std::fs::remove_dir_all(&dir);
            report
        }
        Err(failure) => panic!(
            "crash trial with CRASH_SEED={seed:#x} failed (logs and store kept in {}):\n{failure}",
            dir.display()
        ),
    }
}

/// One agency program across its runs.
struct Agency {
    id: u32,
    data: PathBuf,
    runs: usize,
    process: Option<AgencyProcess>,
    /// When a killed agency is to be started again.
    restart_at: Option<Instant>,
    /// The log of its last run, once that run exited 0.
    done: Option<PathBuf>,
}

/// A trial under way.
struct Trial {
    plan: Plan,
    dir: PathBuf,
    port: u16,
    central: CentralProcess,
    central_runs: usize,
    follower: LogFollower,
    progress: Progress,
    agencies: Vec<Agency>,
    restarts: Vec<Restart>,
    agency_kills: usize,
    /// Agency kills whose agency had already exited.
    missed: Vec<String>,
    started: Instant,
}

impl Trial {
    fn new(plan: Plan, dir: &Path) -> Result<Self, String> {
        let mut rng = SplitMix64::new(plan.seed ^ 0x0050_0127);
        let port = free_port(&mut rng);
        let central = CentralProcess::start(dir, port, 0)?;
        let follower = LogFollower::new(&central.log);
        let data = data_set();
        let mut agencies = Vec::new();
        for (index, file) in data.files.iter().enumerate() {
            let id = u32::try_from(index + 1).expect("few agencies");
            agencies.push(Agency {
                id,
                data: file.clone(),
                runs: 1,
                process: Some(AgencyProcess::start(dir, port, id, file, 0)?),
                restart_at: None,
                done: None,
            });
        }
        Ok(Self {
            plan,
            dir: dir.to_path_buf(),
            port,
            central,
            central_runs: 1,
            follower,
            progress: Progress {
                acked_per_agency: vec![0; AGENCIES as usize],
                ..Progress::default()
            },
            agencies,
            restarts: Vec::new(),
            agency_kills: 0,
            missed: Vec::new(),
            started: Instant::now(),
        })
    }

    fn run(mut self) -> Result<Report, String> {
        let mut central_kills = self.plan.central_kills.clone().into_iter().peekable();
        let mut agency_kills = self.plan.agency_kills.clone();
        while self.agencies.iter().any(|agency| agency.done.is_none()) {
            if self.started.elapsed() > TRIAL_TIMEOUT {
                return Err(format!("the trial did not end in {TRIAL_TIMEOUT:?}"));
            }
            self.read_central_log();
            if let Some(status) = self.central.exited() {
                return Err(format!("the central exited by itself ({status})"));
            }
            if central_kills
                .peek()
                .is_some_and(|kill| kill.at.reached(&self.progress))
            {
                let kill = central_kills.next().expect("peeked");
                self.restart_central(kill.down)?;
            }
            let progress = &self.progress;
            let (due, later): (Vec<_>, Vec<_>) = agency_kills
                .into_iter()
                .partition(|kill| kill.at.reached(progress));
            agency_kills = later;
            for kill in due {
                let agency = &mut self.agencies[kill.agency as usize - 1];
                if let Some(mut process) = agency.process.take() {
                    process.kill();
                    agency.restart_at = Some(Instant::now() + kill.down);
                    self.agency_kills += 1;
                } else if agency.restart_at.is_none() {
                    self.missed.push(format!(
                        "agency {} at {} (it was done)",
                        kill.agency, kill.at
                    ));
                }
            }
            self.tend_agencies()?;
            std::thread::sleep(POLL);
        }
        let status = self.central.terminate()?;
        self.read_central_log();
        if !status.success() {
            return Err(format!("the central's graceful shutdown exited {status}"));
        }
        let mut missed = std::mem::take(&mut self.missed);
        missed.extend(central_kills.map(|kill| format!("central at {}", kill.at)));
        missed.extend(
            agency_kills
                .iter()
                .map(|kill| format!("agency {} at {}", kill.agency, kill.at)),
        );
        let central_logs: Vec<PathBuf> = (0..self.central_runs)
            .map(|run| self.dir.join(format!("central-{run}.log")))
            .collect();
        let agency_logs: Vec<PathBuf> = self
            .agencies
            .iter()
            .map(|agency| agency.done.clone().expect("every agency is done"))
            .collect();
        check_trial(
            &self.dir.join("bets.csv"),
            data_set(),
            &central_logs,
            &agency_logs,
            &self.restarts,
        )?;
        Ok(Report {
            plan: self.plan,
            restarts: self.restarts,
            agency_kills: self.agency_kills,
            missed,
            elapsed: self.started.elapsed(),
        })
    }

    /// Takes the central's new log lines into the progress.
    fn read_central_log(&mut self) {
        for line in self.follower.new_lines() {
            check::count_line(&line, &mut self.progress);
        }
    }

    /// Kills the central, keeps what the kill left on disk, and starts a new
    /// central on the same store and port after `down`.
    fn restart_central(&mut self, down: Duration) -> Result<(), String> {
        self.central.kill();
        // Lines written up to the kill count: each was logged after its
        // batch was durable.
        self.read_central_log();
        let left = std::fs::read(self.dir.join("bets.csv")).unwrap_or_default();
        std::thread::sleep(down);
        let run = self.central_runs;
        self.central = CentralProcess::start(&self.dir, self.port, run)?;
        self.central_runs += 1;
        self.follower = LogFollower::new(&self.central.log);
        // The lines of the restart itself (repair, open_store, recover_draw).
        let opening: Vec<String> = self.follower.new_lines();
        let restart = Restart::new(run, left, &self.progress, &opening)?;
        for line in &opening {
            check::count_line(line, &mut self.progress);
        }
        self.restarts.push(restart);
        Ok(())
    }

    /// Notes agencies that exited, and starts again those whose time came.
    fn tend_agencies(&mut self) -> Result<(), String> {
        for agency in &mut self.agencies {
            if let Some(process) = agency.process.as_mut()
                && let Some(status) = process.exited()
            {
                let log = process.log.clone();
                agency.process = None;
                if !status.success() {
                    let text = std::fs::read_to_string(&log).unwrap_or_default();
                    return Err(format!(
                        "agency {} exited {status}; its log:\n{text}",
                        agency.id
                    ));
                }
                agency.done = Some(log);
            }
            if agency.restart_at.is_some_and(|at| Instant::now() >= at) {
                agency.restart_at = None;
                let run = agency.runs;
                agency.runs += 1;
                agency.process = Some(AgencyProcess::start(
                    &self.dir,
                    self.port,
                    agency.id,
                    &agency.data,
                    run,
                )?);
            }
        }
        Ok(())
    }
}

/// Seeds for `count` trials from one base seed: trial `i` of a failing run
/// is replayed with its own seed, which the trial prints.
pub fn seeds(base: u64, count: usize) -> Vec<u64> {
    let mut rng = SplitMix64::new(base);
    (0..count).map(|_| rng.next_u64()).collect()
}
