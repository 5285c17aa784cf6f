//! One load run: set up the central (or reach it), encode the plans, start the
//! client threads, merge what they measured.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier, OnceLock};
use std::time::{Duration, Instant};

use log::info;
use lottery_bet::{AgencyId, BetNumber};
use lottery_core::{LotteryRules, Winning};
use lottery_net::DEFAULT_MAX_FRAME;
use lottery_tls::ClientTls;

use super::config::LoadgenArgs;
use super::driver::drive;
use super::plan::{SessionPlan, VARIANTS};
use super::report::{LatencySummary, Report};
use super::shared::{RunShared, RunTls, ThreadReport};
use crate::central::InProcessCentral;
use crate::error::LoadgenError;
use crate::pki::MemoryPki;
use crate::progress::{ProgressCounters, ProgressDisplay, ProgressTotals};

/// File descriptors a process needs beyond its connections (stdio, polls,
/// wakers, the store, the listener).
const SPARE_DESCRIPTORS: u64 = 64;

/// At most this many failures are listed in the report (all are counted).
const LISTED_FAILURES: usize = 10;

/// Runs the load described by `args` to its end.
///
/// # Errors
/// [`LoadgenError`] when the run cannot start (the central, the address, the
/// descriptor limit, the plans) or a client thread's poller fails. Agencies
/// that fail are counted in the report instead.
pub fn run(args: &LoadgenArgs) -> Result<Report, LoadgenError> {
    let agencies = args.agencies.get();
    let rules = LotteryRules {
        agencies,
        winning: Winning::Fixed(BetNumber::DEFAULT_WINNING),
    };
    let in_process = args.server.is_none();
    check_descriptors(u64::from(agencies) * if in_process { 2 } else { 1 })?;
    let mut central = None;
    let pki = args.tls.then(MemoryPki::new).transpose()?;
    let (server, central_name) = match &args.server {
        Some(address) => (resolve(address)?, address.clone()),
        None => {
            let started = InProcessCentral::start(
                rules,
                args.durability,
                args.server_threads.map(std::num::NonZeroUsize::get),
                pki.as_ref().map(MemoryPki::central).transpose()?,
                false,
            )?;
            let addr = started.addr();
            central = Some(started);
            (
                addr,
                format!("in-process on {addr} (durability {})", args.durability),
            )
        }
    };

    let variants = VARIANTS.min(agencies);
    let plans = (0..variants)
        .map(|variant| {
            SessionPlan::build(
                variant,
                args.bets_per_agency,
                args.batch_size.get(),
                DEFAULT_MAX_FRAME,
                BetNumber::DEFAULT_WINNING,
            )
            .map(Arc::new)
        })
        .collect::<Result<Vec<_>, _>>()?;
    info!(
        "action: encode_plans | result: success | variants: {variants} | batches_per_agency: {} | bytes: {}",
        plans[0].batches(),
        plans.iter().map(|plan| plan.encoded_len()).sum::<usize>()
    );

    let threads = args.threads.get().min(agencies as usize);
    let mut shares = vec![Vec::new(); threads];
    for position in 0..agencies {
        let id = AgencyId::new(position + 1).expect("ids from 1 are valid");
        let plan = Arc::clone(&plans[(position % variants) as usize]);
        shares[position as usize % threads].push((position, id, plan));
    }
    let shared = RunShared {
        server,
        in_flight: args.in_flight.get(),
        rate: args.rate,
        agencies,
        connect_burst: args.connect_burst.get(),
        ready: Barrier::new(threads),
        ingest_start: OnceLock::new(),
        open: AtomicU64::new(0),
        open_peak: AtomicU64::new(0),
        tls: run_tls(args, server, pki.as_ref())?,
        receipts: args.receipts,
        progress: Arc::new(ProgressCounters::default()),
    };
    info!(
        "action: load | result: in_progress | agencies: {agencies} | bets_per_agency: {} | central: {central_name}",
        args.bets_per_agency
    );
    let totals = ProgressTotals {
        bets: u64::from(agencies).saturating_mul(args.bets_per_agency),
        agencies: u64::from(agencies),
    };
    let progress = ProgressDisplay::start(args.progress, totals, Arc::clone(&shared.progress));
    let started = Instant::now();
    let reports = std::thread::scope(|scope| {
        let handles: Vec<_> = shares
            .into_iter()
            .map(|share| {
                let shared = &shared;
                scope.spawn(move || drive(shared, share, args.batch_size.get()))
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                handle
                    .join()
                    .map_err(|_| LoadgenError::ClientPanicked)?
                    .map_err(LoadgenError::Poll)
            })
            .collect::<Result<Vec<_>, _>>()
    });
    progress.finish();
    let reports = reports?;
    if let Some(mut central) = central.take() {
        central.stop()?;
    }
    let ingest_start = shared.ingest_start.get().copied().unwrap_or(started);
    let report = merge(
        args,
        reports,
        started,
        ingest_start,
        shared.open_peak.load(Ordering::Relaxed),
        central_name,
    );
    info!(
        "action: load | result: success | bets: {} | bets_per_s: {:.0} | failed_agencies: {}",
        report.bets, report.bets_per_s, report.failed_agencies
    );
    Ok(report)
}

/// `off`, `server-only` or `mutual`: what the report says.
fn tls_mode(args: &LoadgenArgs) -> &'static str {
    if args.tls || args.tls_cert_dir.is_some() {
        "mutual"
    } else if args.tls_ca.is_some() {
        "server-only"
    } else {
        "off"
    }
}

/// Each agency's TLS: from the in-memory PKI of `--tls`, or from
/// `--tls-ca` (and `--tls-cert-dir`) for a central elsewhere.
fn run_tls(
    args: &LoadgenArgs,
    server: SocketAddr,
    pki: Option<&MemoryPki>,
) -> Result<Option<RunTls>, LoadgenError> {
    let ids = (1..=args.agencies.get()).map(|id| AgencyId::new(id).expect("ids from 1 are valid"));
    let (server, agencies) = match (pki, &args.tls_ca) {
        (Some(pki), _) => (
            server.to_string(),
            ids.map(|id| pki.agency(id))
                .collect::<Result<Vec<_>, _>>()?,
        ),
        (None, Some(ca)) => {
            let server = args.server.clone().unwrap_or_else(|| server.to_string());
            let agencies = match &args.tls_cert_dir {
                Some(dir) => ids
                    .map(|id| {
                        let name = lottery_tls::agency_name(id);
                        let (cert, key) = (
                            dir.join(format!("{name}.pem")),
                            dir.join(format!("{name}.key")),
                        );
                        ClientTls::load(ca, Some((&cert, &key)), args.tls_server_name.as_deref())
                    })
                    .collect::<Result<Vec<_>, _>>()?,
                None => {
                    let shared = ClientTls::load(ca, None, args.tls_server_name.as_deref())?;
                    ids.map(|_| shared.clone()).collect()
                }
            };
            (server, agencies)
        }
        (None, None) => return Ok(None),
    };
    Ok(Some(RunTls { server, agencies }))
}

fn merge(
    args: &LoadgenArgs,
    reports: Vec<ThreadReport>,
    started: Instant,
    ingest_start: Instant,
    connections_held: u64,
    central: String,
) -> Report {
    let mut latencies = Vec::new();
    let mut failures = Vec::new();
    let (mut bets, mut winners) = (0, 0);
    let (mut last_ack, mut last_winners) = (ingest_start, ingest_start);
    for report in reports {
        latencies.extend(report.latencies);
        failures.extend(report.failures);
        bets += report.bets;
        winners += report.winners;
        last_ack = last_ack.max(report.last_ack.unwrap_or(ingest_start));
        last_winners = last_winners.max(report.last_winners.unwrap_or(ingest_start));
    }
    let elapsed = last_ack - ingest_start;
    let failed_agencies = failures.len() as u64;
    failures.truncate(LISTED_FAILURES);
    Report {
        agencies: args.agencies.get(),
        bets,
        elapsed_s: elapsed.as_secs_f64(),
        bets_per_s: per_second(bets, elapsed),
        batches: latencies.len() as u64,
        ack_latency_ms: LatencySummary::of(&mut latencies),
        connections_held,
        batch_size: args.batch_size.get(),
        in_flight: args.in_flight.get(),
        rate: args.rate,
        connect_s: (ingest_start - started).as_secs_f64(),
        total_s: (last_winners.max(last_ack) - started).as_secs_f64(),
        finish_s: last_winners
            .saturating_duration_since(last_ack)
            .as_secs_f64(),
        winners,
        central,
        failures,
        failed_agencies,
        tls: tls_mode(args).to_string(),
    }
}

fn per_second(count: u64, elapsed: Duration) -> f64 {
    if elapsed.is_zero() {
        0.0
    } else {
        count as f64 / elapsed.as_secs_f64()
    }
}

fn resolve(address: &str) -> Result<SocketAddr, LoadgenError> {
    address
        .to_socket_addrs()
        .map_err(|source| LoadgenError::Resolve {
            address: address.to_string(),
            source,
        })?
        .next()
        .ok_or_else(|| LoadgenError::Resolve {
            address: address.to_string(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no address"),
        })
}

/// Refuses a run that would exhaust the process's file descriptors halfway
/// through, with a message that says what to do instead.
fn check_descriptors(connections: u64) -> Result<(), LoadgenError> {
    let Some(limit) = open_files_limit() else {
        return Ok(());
    };
    let needed = connections + SPARE_DESCRIPTORS;
    if needed > limit {
        return Err(LoadgenError::DescriptorLimit { needed, limit });
    }
    Ok(())
}

/// The soft limit on open files, from `/proc/self/limits` (Linux); `None`
/// when unknown or unlimited.
fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_open_files_limit_is_read_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(open_files_limit().is_some_and(|limit| limit >= 64));
        }
    }

    #[test]
    fn a_run_beyond_the_descriptor_limit_is_refused_up_front() {
        let Some(limit) = open_files_limit() else {
            return;
        };
        let error = check_descriptors(limit).unwrap_err();
        assert!(error.to_string().contains("file descriptors"), "{error}");
        assert!(check_descriptors(0).is_ok());
    }
}
