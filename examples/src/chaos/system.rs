//! The real programs of a chaos run as processes: `lottery-server` centrals
//! (each restartable on its store and port), `lottery-agency` programs
//! writing their `--history`, signals (SIGKILL, SIGSTOP, SIGCONT, SIGTERM,
//! sent with the system's `kill` command: the workspace forbids `unsafe`,
//! and so a direct `kill(2)`), and the resources of a process from `/proc`.

use std::fs::{File, OpenOptions};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::check::ResourceSample;
use crate::synthetic::SplitMix64;

/// How long a central may take to listen after it starts (it checks the
/// whole store first).
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a central may take to stop on SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(20);

/// The three programs a run starts, found beside `lottery-chaos` itself
/// (`cargo build --bins` builds them together) or in `--bin-dir`.
#[derive(Debug, Clone)]
pub struct Binaries {
    /// `lottery-server`.
    pub server: PathBuf,
    /// `lottery-agency`.
    pub agency: PathBuf,
    /// `lottery-admin`.
    pub admin: PathBuf,
}

impl Binaries {
    /// The binaries in `dir`, or beside the running program when `None`.
    ///
    /// # Errors
    /// A binary that is not there, named with the command that builds it.
    pub fn find(dir: Option<&Path>) -> Result<Self, String> {
        let dir = match dir {
            Some(dir) => dir.to_path_buf(),
            None => std::env::current_exe()
                .map_err(|error| format!("cannot find the running program: {error}"))?
                .parent()
                .ok_or("the running program is in no directory")?
                .to_path_buf(),
        };
        let find = |name: &str| {
            let path = dir.join(name);
            if path.is_file() {
                Ok(path)
            } else {
                Err(format!(
                    "{} is missing: build the programs first (`cargo build --bins`, with --release for a release run) or name their directory with --bin-dir",
                    path.display()
                ))
            }
        };
        Ok(Self {
            server: find("lottery-server")?,
            agency: find("lottery-agency")?,
            admin: find("lottery-admin")?,
        })
    }
}

/// Sends `signal` (`KILL`, `STOP`, `CONT`, `TERM`) to process `pid`.
pub fn signal(pid: u32, signal: &str) -> Result<(), String> {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|error| format!("run kill -{signal} {pid}: {error}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("kill -{signal} {pid} failed ({status})"))
    }
}

/// A port for a central that no agency's outgoing connection can take
/// while the central is down: below the kernel's ephemeral range (a client
/// connecting to a closed port inside it may get that very port as its own
/// and connect to itself), and free now.
pub fn free_port(rng: &mut SplitMix64) -> Result<u16, String> {
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32_768);
    let low = ephemeral_low.saturating_sub(12_000).max(1_024);
    for _ in 0..200 {
        let port = u16::try_from(rng.between(u64::from(low), u64::from(ephemeral_low) - 1))
            .expect("the range is of ports");
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    Err(format!("no free port below {ephemeral_low}"))
}

/// Resident memory (KiB) and open descriptors of process `pid`, from
/// `/proc`; `None` once it is gone.
pub fn resources(pid: u32, name: &str) -> Option<ResourceSample> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count() as u64;
    Some(ResourceSample {
        central: name.to_owned(),
        rss_kib,
        fds,
    })
}

fn log_file(path: &Path) -> Result<File, String> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|error| format!("open {}: {error}", path.display()))
}

/// One central of a lottery, across its runs.
#[derive(Debug)]
pub struct Central {
    /// Its name in the run's log and table (`central-1`, ...).
    pub name: String,
    /// Its agency port on 127.0.0.1.
    pub port: u16,
    /// Every flag but the port and the log level.
    args: Vec<String>,
    dir: PathBuf,
    server: PathBuf,
    child: Option<Child>,
    /// Its log files, one a run.
    pub logs: Vec<PathBuf>,
    /// Whether it is SIGSTOPped now.
    pub stopped: bool,
}

impl Central {
    /// A central named `name` on `port` with `args` (store, agencies, TLS,
    /// ...), logging into `dir`; not started yet.
    pub fn new(name: String, port: u16, args: Vec<String>, dir: &Path, server: &Path) -> Self {
        Self {
            name,
            port,
            args,
            dir: dir.to_path_buf(),
            server: server.to_path_buf(),
            child: None,
            logs: Vec::new(),
            stopped: false,
        }
    }

    /// Its address.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Starts a new run and waits until it listens.
    ///
    /// # Errors
    /// Its log when it exits or does not listen in time.
    pub fn start(&mut self) -> Result<(), String> {
        let log = self
            .dir
            .join(format!("{}-run-{}.log", self.name, self.logs.len() + 1));
        let child = Command::new(&self.server)
            .args(["--listen", &self.address(), "--log-level", "INFO"])
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file(&log)?)
            .spawn()
            .map_err(|error| format!("start {}: {error}", self.server.display()))?;
        self.child = Some(child);
        self.logs.push(log.clone());
        self.stopped = false;
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if text.contains("action: accept_connections | result: in_progress") {
                return Ok(());
            }
            if let Some(status) = self.exited() {
                return Err(format!(
                    "{} exited ({status}) before listening:\n{text}",
                    self.name
                ));
            }
            if Instant::now() > deadline {
                return Err(format!("{} did not listen in time:\n{text}", self.name));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Its process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether its current run exited (it never should by itself), and how.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        let status = self.child.as_mut()?.try_wait().ok().flatten()?;
        self.child = None;
        Some(status)
    }

    /// SIGKILL, and waits until it is gone.
    pub fn kill(&mut self) {
        kill_and_reap(&mut self.child, &mut self.stopped);
    }

    /// SIGSTOP (`pause`) or SIGCONT.
    ///
    /// # Errors
    /// The signal could not be sent.
    pub fn pause(&mut self, pause: bool) -> Result<(), String> {
        pause_child(self.child.as_ref(), pause, &mut self.stopped)
    }

    /// SIGCONT if stopped, SIGTERM, and waits for the exit.
    ///
    /// # Errors
    /// It did not stop in time (it is then killed) or exited non-zero.
    pub fn terminate(&mut self) -> Result<(), String> {
        if self.stopped {
            self.pause(false)?;
        }
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        signal(child.id(), "TERM")?;
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait().map_err(|error| error.to_string())? {
                return if status.success() {
                    Ok(())
                } else {
                    Err(format!("{} exited {status} on SIGTERM", self.name))
                };
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{} did not stop within {STOP_TIMEOUT:?} of SIGTERM",
                    self.name
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// The flags of one agency program.
#[derive(Debug, Clone)]
pub struct AgencySetup {
    /// Its id.
    pub id: u32,
    /// `--server`: one address or several.
    pub servers: String,
    /// Its input file.
    pub data: PathBuf,
    /// Its `--history` file (appended to by every run).
    pub history: PathBuf,
    /// Its log file (appended to by every run).
    pub log: PathBuf,
    /// `--batch-max-amount`.
    pub batch_max: u32,
    /// TLS flags (empty for plaintext).
    pub tls: Vec<String>,
}

/// One agency program, across its runs.
#[derive(Debug)]
pub struct Agency {
    /// Its flags.
    pub setup: AgencySetup,
    child: Option<Child>,
    /// Runs started.
    pub runs: usize,
    /// Whether it is SIGSTOPped now.
    pub stopped: bool,
    /// When a killed or failed run is to be followed by another.
    pub restart_at: Option<Instant>,
    /// Whether a run exited 0 (it got its winners).
    pub done: bool,
    /// Runs that exited non-zero, with their status.
    pub failed_runs: Vec<String>,
}

impl Agency {
    /// An agency with `setup`, not started yet.
    pub fn new(setup: AgencySetup) -> Self {
        Self {
            setup,
            child: None,
            runs: 0,
            stopped: false,
            restart_at: None,
            done: false,
            failed_runs: Vec::new(),
        }
    }

    /// Starts a run.
    ///
    /// # Errors
    /// The program cannot be started.
    pub fn start(&mut self, binary: &Path) -> Result<(), String> {
        let setup = &self.setup;
        let child = Command::new(binary)
            .args(["--id", &setup.id.to_string(), "--server", &setup.servers])
            .arg("--data")
            .arg(&setup.data)
            .arg("--history")
            .arg(&setup.history)
            .args(["--batch-max-amount", &setup.batch_max.to_string()])
            // Patient: a central paused or down for seconds is a fault the
            // run injects on purpose, not a reason to give up.
            .args(["--reconnect-attempts", "60", "--log-level", "INFO"])
            .args(&setup.tls)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file(&setup.log)?)
            .spawn()
            .map_err(|error| format!("start {}: {error}", binary.display()))?;
        self.child = Some(child);
        self.runs += 1;
        self.stopped = false;
        self.restart_at = None;
        Ok(())
    }

    /// Whether a run is alive (possibly stopped).
    pub fn alive(&self) -> bool {
        self.child.is_some()
    }

    /// Takes the exit of a run that ended: `Some(true)` for 0.
    pub fn reap(&mut self) -> Option<bool> {
        let status = self.child.as_mut()?.try_wait().ok().flatten()?;
        self.child = None;
        self.stopped = false;
        if status.success() {
            self.done = true;
        } else {
            self.failed_runs
                .push(format!("run {}: {status}", self.runs));
        }
        Some(status.success())
    }

    /// SIGKILL the current run, and waits until it is gone.
    pub fn kill(&mut self) {
        kill_and_reap(&mut self.child, &mut self.stopped);
    }

    /// SIGSTOP (`pause`) or SIGCONT the current run.
    ///
    /// # Errors
    /// The signal could not be sent.
    pub fn pause(&mut self, pause: bool) -> Result<(), String> {
        pause_child(self.child.as_ref(), pause, &mut self.stopped)
    }
}

/// SIGKILLs `child`, if running, and reaps it; it is then neither running
/// nor stopped (a central's or an agency's process alike).
fn kill_and_reap(child: &mut Option<Child>, stopped: &mut bool) {
    if let Some(mut child) = child.take() {
        let _ = child.kill();
        let _ = child.wait();
    }
    *stopped = false;
}

/// SIGSTOP (`pause`) or SIGCONT to `child`, if running, and `stopped` says so.
fn pause_child(child: Option<&Child>, pause: bool, stopped: &mut bool) -> Result<(), String> {
    if let Some(child) = child {
        signal(child.id(), if pause { "STOP" } else { "CONT" })?;
        *stopped = pause;
    }
    Ok(())
}

/// Mounts a tmpfs of `size_mib` MiB on `dir` (created), for a store whose
/// disk the run can fill.
///
/// # Errors
/// `mount` failed (not root, or no right to mount in this container).
pub fn mount_tmpfs(dir: &Path, size_mib: u64) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|error| format!("create {}: {error}", dir.display()))?;
    let output = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size_mib}m"), "tmpfs"])
        .arg(dir)
        .output()
        .map_err(|error| format!("run mount: {error}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "mount -t tmpfs failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// Unmounts the tmpfs on `dir`.
///
/// # Errors
/// `umount` failed.
pub fn unmount(dir: &Path) -> Result<(), String> {
    let output = Command::new("umount")
        .arg(dir)
        .output()
        .map_err(|error| format!("run umount: {error}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "umount {} failed: {}",
            dir.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// Fills the file system of `filler`'s directory: writes `filler` until
/// the disk is full. Returns the bytes written.
///
/// # Errors
/// A write failed for another reason than a full disk.
pub fn fill_disk(filler: &Path) -> Result<u64, String> {
    use std::io::Write;
    let mut file =
        File::create(filler).map_err(|error| format!("create {}: {error}", filler.display()))?;
    let chunk = vec![0u8; 1 << 20];
    let mut written = 0u64;
    loop {
        match file.write(&chunk) {
            Ok(0) => return Ok(written),
            Ok(count) => written += count as u64,
            Err(error) if error.raw_os_error() == Some(28) => return Ok(written),
            Err(error) => return Err(format!("fill {}: {error}", filler.display())),
        }
    }
}
