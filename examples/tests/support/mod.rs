//! Running the programs as processes: finding (or building) the binaries,
//! a `lottery-server` process on a free port, agencies, and reading logs.

#![allow(dead_code)] // Each test file uses its own part of this module.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The workspace's root directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the examples package sits in the workspace")
        .to_path_buf()
}

/// The `lottery-agency` binary cargo built for these tests.
pub fn agency_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_lottery-agency"))
}

/// The `lottery-server` binary, next to `lottery-agency`. Cargo builds
/// other packages' binaries only when their own tests run, and an old one may
/// be lying there, so the tests build it once with `cargo build` (a quick
/// no-op when it is fresh), into the same target directory and profile.
pub fn server_bin() -> PathBuf {
    static SERVER: OnceLock<PathBuf> = OnceLock::new();
    SERVER
        .get_or_init(|| build_server_bin("lottery-server"))
        .clone()
}

/// The `lottery-admin` binary, built as [`server_bin`] is.
pub fn admin_bin() -> PathBuf {
    static ADMIN: OnceLock<PathBuf> = OnceLock::new();
    ADMIN
        .get_or_init(|| build_server_bin("lottery-admin"))
        .clone()
}

/// Builds binary `name` of the `lottery-server` package next to
/// `lottery-agency` and returns its path.
fn build_server_bin(name: &str) -> PathBuf {
    let dir = agency_bin()
        .parent()
        .expect("binaries live in a directory")
        .to_path_buf();
    let profile = dir
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or("debug");
    let target_dir = dir
        .parent()
        .expect("profile directories sit in the target directory");
    let mut build = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    build
        .current_dir(workspace_root())
        .args(["build", "--quiet", "-p", "lottery-server", "--bin", name])
        .arg("--target-dir")
        .arg(target_dir);
    if profile == "release" {
        build.arg("--release");
    }
    let status = build.status().expect("cargo runs");
    let binary = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        status.success() && binary.is_file(),
        "could not build {name} ({status}): run `cargo build -p lottery-server` and retry"
    );
    binary
}

/// A finished program: its exit status and everything it logged on stderr.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub log: String,
    pub stdout: String,
}

/// Runs `lottery-agency` with `args` and extra environment variables.
pub fn run_agency(args: &[&str], env: &[(&str, &str)]) -> Output {
    run(Command::new(agency_bin())
        .args(args)
        .envs(env.iter().copied()))
}

/// Runs a command to its end, with a clean `CLI_*` environment (and no
/// `RUST_LOG`, which the agency reads too).
pub fn run(command: &mut Command) -> Output {
    for variable in [
        "RUST_LOG",
        "CLI_IN_FLIGHT",
        "CLI_RECONNECT_ATTEMPTS",
        "CLI_HISTORY",
        "CLI_ID",
        "CLI_SERVER_ADDRESS",
        "CLI_DATA_FILE",
        "CLI_BATCH_MAXAMOUNT",
        "CLI_LOG_LEVEL",
        "CLI_CONFIG",
        "CLI_TLS_CA",
        "CLI_TLS_CERT",
        "CLI_TLS_KEY",
        "CLI_TLS_SERVER_NAME",
        "CLI_RECEIPT_PUBKEY",
        "CLI_RECEIPTS",
    ] {
        if !command.get_envs().any(|(name, _)| name == variable) {
            command.env_remove(variable);
        }
    }
    let output = command
        .stdin(Stdio::null())
        .output()
        .expect("the program starts");
    Output {
        status: output.status,
        log: String::from_utf8_lossy(&output.stderr).into_owned(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
    }
}

/// A file of one valid bet, `agency-1.csv` in `dir`.
pub fn one_bet_file(dir: &Path) -> PathBuf {
    let data = dir.join("agency-1.csv");
    std::fs::write(&data, "Ana,Pérez,1,2000-01-01,1\n").unwrap();
    data
}

/// Agency 1's `action: exit | result: fail` line in `log`.
pub fn exit_failure(log: &str) -> &str {
    log.lines()
        .find(|line| line.contains("action: exit | result: fail | agency: 1 | error: "))
        .unwrap_or_else(|| panic!("no failure line: {log}"))
}

/// The numbers that follow `prefix` in the lines of `log` holding it.
pub fn log_values(log: &str, prefix: &str) -> Vec<u64> {
    log.lines()
        .filter_map(|line| {
            let rest = &line[line.find(prefix)? + prefix.len()..];
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .collect()
}

/// A `lottery-server` process with its store in a temporary directory,
/// started with `--exit-when-done`.
pub struct Central {
    child: Child,
    address: String,
    dir: PathBuf,
    /// Removes `dir` when dropped; handed to the caller with the store.
    owner: Option<tempfile::TempDir>,
}

/// A central that exited by itself.
pub struct Exited {
    /// Its `bets.csv`.
    pub store: PathBuf,
    /// Everything it logged.
    pub log: String,
    /// Keeps the store until the caller is done with it.
    pub _dir: tempfile::TempDir,
}

impl Central {
    /// Starts a central expecting `agencies` and waits until it accepts
    /// connections.
    pub fn start(agencies: u32) -> Self {
        Self::start_with(agencies, &[])
    }

    /// [`Central::start`] with more flags (`--tls-cert ...`, say).
    pub fn start_with(agencies: u32, flags: &[&str]) -> Self {
        Self::start_on(agencies, None, flags)
    }

    /// [`Central::start_with`] on the store `store` (a `postgres://` URL,
    /// say) instead of a `bets.csv` in its directory.
    pub fn start_on(agencies: u32, store: Option<&str>, flags: &[&str]) -> Self {
        let owner = tempfile::tempdir().unwrap();
        let dir = owner.path().to_path_buf();
        let log = std::fs::File::create(dir.join("central.log")).unwrap();
        let store = store.map_or_else(|| dir.join("bets.csv").into_os_string(), Into::into);
        let child = Command::new(server_bin())
            .args(["--listen", "127.0.0.1:0"])
            .args(["--agencies", &agencies.to_string()])
            .arg("--store")
            .arg(store)
            .args(["--exit-when-done", "--log-level", "INFO", "--threads", "2"])
            .args(flags)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("lottery-server starts");
        let mut central = Self {
            child,
            address: String::new(),
            dir,
            owner: Some(owner),
        };
        central.address = central.wait_until_listening();
        central
    }

    /// Waits for the line telling where the central listens (it binds port
    /// 0, so the kernel picks a free port) and returns the address.
    fn wait_until_listening(&mut self) -> String {
        const LISTENING: &str = "action: accept_connections | result: in_progress | listen: ";
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let log = self.log();
            if let Some(at) = log.find(LISTENING) {
                let rest = &log[at + LISTENING.len()..];
                let end = rest.find([' ', '\n']).unwrap_or(rest.len());
                return rest[..end].to_string();
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("the central exited ({status}):\n{log}");
            }
            assert!(
                Instant::now() < deadline,
                "the central did not start:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Where agencies connect: `127.0.0.1:PORT`.
    pub fn address(&self) -> String {
        self.address.clone()
    }

    /// Its `bets.csv` (when it runs on a file store).
    pub fn store(&self) -> PathBuf {
        self.dir.join("bets.csv")
    }

    /// What the central logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("central.log")).unwrap_or_default()
    }

    /// The log once it holds `text` (waiting up to 30 s: an event loop
    /// writes its lines after the answers they describe, so a line may
    /// reach the file a moment after the peer saw the answer); the log as
    /// it is, if it never does.
    pub fn log_with(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let log = self.log();
            if log.contains(text) || Instant::now() >= deadline {
                return log;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Kills the central with SIGKILL and reaps it: nothing of it runs on.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for the central to exit by itself (every agency served and
    /// gone).
    pub fn wait_for_exit(mut self) -> Exited {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(
                    status.success(),
                    "the central failed ({status}):\n{}",
                    self.log()
                );
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the central did not exit:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Exited {
            store: self.dir.join("bets.csv"),
            log: self.log(),
            _dir: self.owner.take().expect("the directory is handed out once"),
        }
    }
}

impl Drop for Central {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
