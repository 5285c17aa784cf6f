//! `lottery-chaos`: runs real centrals and `lottery-agency` programs under
//! random faults drawn from `--seed` for `--duration`, lotteries one after
//! another, and checks each lottery's history afterwards (issue 24). Prints
//! a table of faults injected and invariants checked; exits 1 on any
//! failure, with the seed and the part of the history that shows it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use log::LevelFilter;
use lottery_examples::chaos::check::Bounds;
use lottery_examples::chaos::faults::{FaultKind, parse_duration, parse_faults};
use lottery_examples::chaos::pg::Postgres;
use lottery_examples::chaos::run::{ChaosConfig, run};
use lottery_examples::chaos::system::Binaries;
use lottery_examples::chaos::table::table;

/// Fault injection on real processes: lotteries under random faults, each
/// checked afterwards (every acked bet stored once as sent, nothing foreign,
/// one draw, each agency its own winners, `lottery-admin verify` clean,
/// centrals' memory and descriptors bounded).
///
/// The programs lottery-server, lottery-agency and lottery-admin are taken
/// from beside this one (`cargo build --bins`) or from --bin-dir.
#[derive(Debug, Parser)]
#[command(name = "lottery-chaos", version)]
struct ChaosArgs {
    /// Every random choice comes from it (decimal or 0x hex) [default: from
    /// the clock, printed].
    #[arg(long, value_parser = parse_seed)]
    seed: Option<u64>,
    /// Lotteries start until this much time passed: 90s, 30m, 2h.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    duration: Duration,
    /// The faults to inject, separated by commas: kill, stop, agency-kill,
    /// agency-stop, pg-restart (PostgreSQL runs), second-conn, hostile,
    /// disk-full (file stores, needs the right to mount a tmpfs), or all.
    #[arg(long, default_value = "all")]
    faults: String,
    /// Mean time between two faults.
    #[arg(long, default_value = "400ms", value_parser = parse_duration)]
    mean_gap: Duration,
    /// Resident memory a central may reach, MiB.
    #[arg(long, default_value_t = 256)]
    max_rss_mib: u64,
    /// Open descriptors a central may hold.
    #[arg(long, default_value_t = 256)]
    max_fds: u64,
    /// Where lottery-server, lottery-agency and lottery-admin are [default:
    /// beside lottery-chaos].
    #[arg(long, value_name = "DIR")]
    bin_dir: Option<PathBuf>,
    /// Where the run's files go (a directory per lottery: inputs, store,
    /// logs, histories) [default: a temporary directory, removed when every
    /// check passed]. A lottery's directory is removed once it passed its
    /// checks, kept when it failed.
    #[arg(long, value_name = "DIR")]
    work_dir: Option<PathBuf>,
    /// The ledger: `file` (one central on a bets.csv per lottery) or a
    /// PostgreSQL server, postgres://USER@HOST:PORT/DB, whose fresh schema
    /// each lottery's centrals share. pg-restart needs the cluster's
    /// LOTTERY_TEST_POSTGRES_DATA and LOTTERY_TEST_POSTGRES_BIN (as
    /// scripts/pg-test-cluster.sh exports them).
    #[arg(long, default_value = "file", value_name = "file|URL")]
    store: String,
    /// Centrals per lottery on PostgreSQL (2 or 3; a file store has one).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=3))]
    centrals: u8,
    /// Mutual TLS between every agency and central (a PKI made by
    /// `lottery-admin certs` for the run).
    #[arg(long)]
    tls: bool,
    /// Every central with `--winning-number committed` (file stores only):
    /// each agency's winners are checked against the number the revealed
    /// secret gave, and each lottery must keep one secret through its kills.
    #[arg(long)]
    committed: bool,
    /// INFO shows every fault as it is injected.
    #[arg(long, default_value = "INFO")]
    log_level: String,
}

fn parse_seed(text: &str) -> Result<u64, String> {
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.map_err(|error| format!("`{text}` is not a seed: {error}"))
}

fn main() -> ExitCode {
    let args = ChaosArgs::parse();
    let level = lottery_log::parse_level(&args.log_level).unwrap_or(LevelFilter::Info);
    lottery_log::init(level).expect("the first logger of the process");
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0x7574, |elapsed| elapsed.as_nanos() as u64)
    });
    let faults: Vec<FaultKind> = match parse_faults(&args.faults) {
        Ok(faults) => faults,
        Err(error) => {
            eprintln!(
                "lottery-chaos: invalid value '{}' for '--faults': {error}",
                args.faults
            );
            return ExitCode::from(2);
        }
    };
    let binaries = match Binaries::find(args.bin_dir.as_deref()) {
        Ok(binaries) => binaries,
        Err(error) => {
            eprintln!("lottery-chaos: {error}");
            return ExitCode::from(2);
        }
    };
    let postgres = if args.store == "file" {
        None
    } else if args.store.starts_with("postgres://") || args.store.starts_with("postgresql://") {
        let variable = |name| std::env::var_os(name).map(PathBuf::from);
        Some(Postgres {
            url: args.store.clone(),
            cluster: variable("LOTTERY_TEST_POSTGRES_DATA")
                .zip(variable("LOTTERY_TEST_POSTGRES_BIN")),
        })
    } else {
        eprintln!(
            "lottery-chaos: invalid value '{}' for '--store': say `file` or postgres://USER@HOST:PORT/DB",
            args.store
        );
        return ExitCode::from(2);
    };
    if args.committed && postgres.is_some() {
        eprintln!(
            "lottery-chaos: --committed needs a file store: the PostgreSQL ledger keeps no secret its centrals share"
        );
        return ExitCode::from(2);
    }
    if postgres.as_ref().is_some_and(|pg| pg.cluster.is_none())
        && faults.contains(&FaultKind::PgRestart)
    {
        log::warn!(
            "action: chaos | result: in_progress | warning: no pg-restart faults: LOTTERY_TEST_POSTGRES_DATA and LOTTERY_TEST_POSTGRES_BIN are not both set"
        );
    }
    let config = ChaosConfig {
        seed,
        duration: args.duration,
        binaries,
        faults,
        mean_gap: args.mean_gap,
        bounds: Bounds {
            rss_kib: args.max_rss_mib * 1024,
            fds: args.max_fds,
        },
        work_dir: args.work_dir,
        postgres,
        centrals: usize::from(args.centrals),
        tls: args.tls,
        committed: args.committed,
    };
    log::info!(
        "action: chaos | result: in_progress | seed: {seed:#x} | duration_s: {} | faults: {}",
        config.duration.as_secs_f64(),
        config
            .faults
            .iter()
            .map(|kind| kind.name())
            .collect::<Vec<_>>()
            .join(",")
    );
    match run(&config) {
        Ok(report) => {
            print!("{}", table(&report, &config.setup()));
            if report.failures().is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(error) => {
            println!("lottery-chaos: seed {seed:#x}: the run broke: {error}");
            println!("replay with --seed {seed:#x}");
            ExitCode::FAILURE
        }
    }
}
