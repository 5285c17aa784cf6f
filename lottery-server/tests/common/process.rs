//! A `lottery-server` binary run as a process by a test: its log lines as
//! they come, the address a line names, SIGTERM and its exit.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use super::SAFETY_TIMEOUT;

/// The binary under test.
pub const BINARY: &str = env!("CARGO_BIN_EXE_lottery-server");

/// A running `lottery-server` and the lines it logged so far.
pub struct Process {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Process {
    /// Starts the binary with `args`.
    pub fn start(args: &[&str]) -> Self {
        let mut command = Command::new(BINARY);
        command.args(args);
        Self::spawn(command)
    }

    /// Starts `command` (the binary, or a wrapper running it, such as
    /// `prlimit`), its stderr read line by line.
    pub fn spawn(mut command: Command) -> Self {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .env_remove("LOGGING_LEVEL")
            .env_remove("SERVER_HTTP_LISTEN")
            .env_remove("SERVER_HTTP_ALLOW_REMOTE")
            .spawn()
            .expect("start lottery-server");
        let stderr = child.stderr.take().expect("piped stderr");
        let (send, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    return;
                }
            }
        });
        Self {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// The first line holding `text` (waiting for it).
    pub fn wait_for_line(&mut self, text: &str) -> String {
        if let Some(line) = self.seen.iter().find(|line| line.contains(text)) {
            return line.clone();
        }
        let deadline = Instant::now() + SAFETY_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(_) => panic!("no line with {text:?}; got:\n{}", self.seen.join("\n")),
            }
        }
    }

    /// The address a line starting with `action` names after `listen: `.
    pub fn address(&mut self, action: &str) -> SocketAddr {
        let line = self.wait_for_line(action);
        let start = line.find("listen: ").expect("the line names the address") + "listen: ".len();
        let end = line[start..]
            .find(' ')
            .map_or(line.len(), |end| start + end);
        line[start..end].parse().expect("an address")
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM.
    pub fn sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    /// Waits up to `limit` for the process to exit: its status, or `None`.
    pub fn exit_within(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the child") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// The lines logged so far (without waiting).
    pub fn lines_so_far(&mut self) -> Vec<String> {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
        self.seen.clone()
    }

    /// SIGTERM, then its exit status and every line it logged.
    pub fn terminate(mut self) -> (ExitStatus, Vec<String>) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
        let deadline = Instant::now() + SAFETY_TIMEOUT;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("poll the child") {
                break status;
            }
            assert!(Instant::now() < deadline, "lottery-server did not exit");
            thread::sleep(Duration::from_millis(10));
        };
        while let Ok(line) = self.lines.recv_timeout(SAFETY_TIMEOUT) {
            self.seen.push(line);
        }
        (status, std::mem::take(&mut self.seen))
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
