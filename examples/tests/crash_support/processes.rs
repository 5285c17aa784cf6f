//! The real programs as processes for the crash trials: a `lottery-server`
//! on a fixed port (so it can be restarted on the same one), `lottery-agency`
//! programs, killing them with SIGKILL, and following their log files.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use lottery_examples::synthetic::SplitMix64;

use super::data::AGENCIES;
use crate::support::{agency_bin, server_bin};

/// How long the central may take to listen after it starts (it replays the
/// journal and checks every committed row first).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A port for the central that no agency's outgoing connection can take
/// while the central is down: below the kernel's ephemeral range (a client
/// connecting to a closed port inside it may get that very port as its own
/// and connect to itself), and free now.
pub fn free_port(rng: &mut SplitMix64) -> u16 {
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32_768);
    let low = ephemeral_low.saturating_sub(12_000).max(1_024);
    for _ in 0..200 {
        let port = u16::try_from(rng.between(u64::from(low), u64::from(ephemeral_low) - 1))
            .expect("a port");
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port below {ephemeral_low}");
}

/// New whole lines of a log file that another process appends to.
#[derive(Debug)]
pub struct LogFollower {
    path: PathBuf,
    offset: u64,
    /// A line not yet ended by `\n` (still being written, or torn by a kill).
    partial: Vec<u8>,
}

impl LogFollower {
    /// Follows `path` from its start.
    pub fn new(path: &Path) -> Self {
        Self {
            path: path.to_path_buf(),
            offset: 0,
            partial: Vec::new(),
        }
    }

    /// The whole lines appended since the last call.
    pub fn new_lines(&mut self) -> Vec<String> {
        let Ok(mut file) = File::open(&self.path) else {
            return Vec::new();
        };
        let mut bytes = Vec::new();
        if file.seek(SeekFrom::Start(self.offset)).is_err() || file.read_to_end(&mut bytes).is_err()
        {
            return Vec::new();
        }
        self.offset += bytes.len() as u64;
        self.partial.extend_from_slice(&bytes);
        let Some(end) = self.partial.iter().rposition(|&b| b == b'\n') else {
            return Vec::new();
        };
        let whole: Vec<u8> = self.partial.drain(..=end).collect();
        String::from_utf8_lossy(&whole)
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

/// One run of `lottery-server`.
#[derive(Debug)]
pub struct CentralProcess {
    child: Child,
    /// Its log file.
    pub log: PathBuf,
}

impl CentralProcess {
    /// Starts the central on `127.0.0.1:port` over `dir/bets.csv`, durability
    /// `fsync`, logging to `dir/central-{run}.log`, and waits until it listens.
    ///
    /// # Errors
    /// The log, when the central exits or does not listen in time.
    pub fn start(dir: &Path, port: u16, run: usize) -> Result<Self, String> {
        let log = dir.join(format!("central-{run}.log"));
        let child = Command::new(server_bin())
            .env_clear()
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--agencies", &AGENCIES.to_string()])
            .arg("--store")
            .arg(dir.join("bets.csv"))
            .args([
                "--durability",
                "fsync",
                "--threads",
                "2",
                "--log-level",
                "INFO",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(
                File::create(&log).map_err(|error| format!("create {}: {error}", log.display()))?,
            )
            .spawn()
            .map_err(|error| format!("start lottery-server: {error}"))?;
        let mut central = Self { child, log };
        central.wait_until_listening()?;
        Ok(central)
    }

    fn wait_until_listening(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            if log.contains("action: accept_connections | result: in_progress") {
                return Ok(());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "the central exited ({status}) before listening:\n{log}"
                ));
            }
            if Instant::now() > deadline {
                return Err(format!("the central did not listen in time:\n{log}"));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Whether it exited (it never should by itself: no `--exit-when-done`).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// SIGKILL, and waits for the process to be gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM (a graceful shutdown), and waits for the exit.
    ///
    /// # Errors
    /// When it does not exit in time.
    pub fn terminate(&mut self) -> Result<ExitStatus, String> {
        terminate(&mut self.child)
    }
}

impl Drop for CentralProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Sends SIGTERM to `child` and waits for it to exit.
fn terminate(child: &mut Child) -> Result<ExitStatus, String> {
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .map_err(|error| format!("run kill: {error}"))?;
    if !sent.success() {
        return Err(format!("kill -TERM {} failed", child.id()));
    }
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Ok(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return Err("no exit after SIGTERM".to_owned());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// One run of `lottery-agency`.
#[derive(Debug)]
pub struct AgencyProcess {
    child: Child,
    /// Its log file.
    pub log: PathBuf,
}

impl AgencyProcess {
    /// Starts agency `agency` sending `data` to `127.0.0.1:port`, logging to
    /// `dir/agency-{agency}-{run}.log`. Its reconnect window is wide: it must
    /// outlast every restart of the central.
    ///
    /// # Errors
    /// When the program cannot be started.
    pub fn start(
        dir: &Path,
        port: u16,
        agency: u32,
        data: &Path,
        run: usize,
    ) -> Result<Self, String> {
        let log = dir.join(format!("agency-{agency}-{run}.log"));
        let child = Command::new(agency_bin())
            .env_clear()
            .args(["--id", &agency.to_string()])
            .args(["--server", &format!("127.0.0.1:{port}")])
            .arg("--data")
            .arg(data)
            .args(["--reconnect-attempts", "1000", "--log-level", "INFO"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(
                File::create(&log).map_err(|error| format!("create {}: {error}", log.display()))?,
            )
            .spawn()
            .map_err(|error| format!("start lottery-agency: {error}"))?;
        Ok(Self { child, log })
    }

    /// Its exit status, once it exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// SIGKILL, and waits for the process to be gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for AgencyProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
