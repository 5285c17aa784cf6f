//! The PostgreSQL side of a chaos run: a fresh schema per lottery on the
//! server of `--store postgres://...` (the throwaway cluster of
//! `scripts/pg-test-cluster.sh`), the draw record read back, and restarts of
//! the cluster with `pg_ctl` (its data directory and programs from
//! `LOTTERY_TEST_POSTGRES_DATA` and `LOTTERY_TEST_POSTGRES_BIN`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The database server of a run.
#[derive(Debug, Clone)]
pub struct Postgres {
    /// `postgres://USER@HOST:PORT/DB`, without a schema.
    pub url: String,
    /// The cluster's data directory and its programs' directory, when the
    /// run may restart it.
    pub cluster: Option<(PathBuf, PathBuf)>,
}

fn connect(url: &str) -> Result<postgres::Client, String> {
    postgres::Client::connect(url, postgres::NoTls)
        .map_err(|error| format!("connect to {url}: {error}"))
}

impl Postgres {
    /// A fresh, empty schema `name` (dropped first if a previous run left
    /// it), and the URL whose connections use it.
    ///
    /// # Errors
    /// The server cannot be reached or refuses.
    pub fn fresh_schema(&self, name: &str) -> Result<String, String> {
        connect(&self.url)?
            .batch_execute(&format!(
                "DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}"
            ))
            .map_err(|error| format!("create schema {name}: {error}"))?;
        let separator = if self.url.contains('?') { '&' } else { '?' };
        Ok(format!(
            "{}{separator}options=-csearch_path%3D{name}",
            self.url
        ))
    }

    /// Drops schema `name`.
    ///
    /// # Errors
    /// The server cannot be reached or refuses.
    pub fn drop_schema(&self, name: &str) -> Result<(), String> {
        connect(&self.url)?
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
            .map_err(|error| format!("drop schema {name}: {error}"))
    }

    /// The bets the draw record of the ledger at `url` counts (`None`: no
    /// draw recorded).
    ///
    /// # Errors
    /// The server cannot be reached, or the ledger has no lottery row.
    pub fn draw_bets(&self, url: &str) -> Result<Option<i64>, String> {
        connect(url)?
            .query_one("SELECT draw_bets FROM lottery", &[])
            .map(|row| row.get(0))
            .map_err(|error| format!("read the draw record: {error}"))
    }

    /// Restarts the cluster: `pg_ctl restart -m MODE -w` (`fast` or
    /// `immediate`), as the `postgres` user when run as root.
    ///
    /// # Errors
    /// No cluster to restart, or `pg_ctl` failed.
    pub fn restart(&self, mode: &str) -> Result<(), String> {
        let (data, bin) = self
            .cluster
            .as_ref()
            .ok_or("pg-restart needs LOTTERY_TEST_POSTGRES_DATA and LOTTERY_TEST_POSTGRES_BIN")?;
        let pg_ctl = bin.join("pg_ctl");
        let mut command = if running_as_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(&pg_ctl);
            command
        } else {
            Command::new(&pg_ctl)
        };
        let output = command
            .args(["restart", "-m", mode, "-w", "-D"])
            .arg(data)
            .args(["-l"])
            .arg(log_beside(data))
            .stdin(Stdio::null())
            .output()
            .map_err(|error| format!("run {}: {error}", pg_ctl.display()))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "pg_ctl restart -m {mode} failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    }
}

/// The server log the cluster script gives the cluster: `server.log` beside
/// its data directory.
fn log_beside(data: &Path) -> PathBuf {
    data.parent().unwrap_or(data).join("server.log")
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}
