//! The load generator's flags.

use std::num::{NonZeroU32, NonZeroUsize};
use std::path::PathBuf;

use clap::Parser;
use lottery_core::Durability;

use crate::progress::ProgressMode;

/// A benchmark client: many agencies, each running the whole session
/// (handshake, batches, finish, winners) against a central, measuring bets/s
/// and batch acknowledgement latency.
///
/// Without --server it starts a central in-process on a free loopback port,
/// with its store in a temporary directory.
#[derive(Debug, Clone, Parser)]
#[command(name = "lottery-loadgen", version)]
pub struct LoadgenArgs {
    /// Agencies (one connection each); the central must expect exactly these.
    #[arg(long, default_value_t = NonZeroU32::new(100).expect("positive"), value_name = "N")]
    pub agencies: NonZeroU32,
    /// Bets each agency sends.
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    pub bets_per_agency: u64,
    /// Bets per batch (frames must stay within the frame limit: 150 course
    /// bets take about 6.5 KiB of the default 8 KiB).
    #[arg(long, default_value_t = NonZeroUsize::new(150).expect("positive"), value_name = "N")]
    pub batch_size: NonZeroUsize,
    /// Batches each agency keeps in flight (sent, not yet acknowledged).
    #[arg(long, default_value_t = NonZeroUsize::new(4).expect("positive"), value_name = "N")]
    pub in_flight: NonZeroUsize,
    /// Offered load in bets per second over all agencies, spread evenly over
    /// them and over time; 0 sends as fast as the central acknowledges.
    #[arg(long, default_value_t = 0, value_name = "BETS_PER_S")]
    pub rate: u64,
    /// The central's address; without it a central is started in-process.
    #[arg(long, value_name = "ADDR")]
    pub server: Option<String>,
    /// Client threads, each driving its share of the connections.
    #[arg(long, default_value_t = NonZeroUsize::new(1).expect("positive"), value_name = "N")]
    pub threads: NonZeroUsize,
    /// Durability of the in-process central (ignored with --server).
    #[arg(long, default_value_t = Durability::Fsync, value_name = "none|flush|fsync")]
    pub durability: Durability,
    /// Event-loop threads of the in-process central (ignored with --server)
    /// [default: number of cores].
    #[arg(long, value_name = "N")]
    pub server_threads: Option<NonZeroUsize>,
    /// Connections opening at once per client thread (a burst of thousands
    /// would overflow the central's listen backlog).
    #[arg(long, default_value_t = NonZeroUsize::new(256).expect("positive"), value_name = "N")]
    pub connect_burst: NonZeroUsize,
    /// Speak TLS to --server, trusting this CA (PEM) for its certificate
    /// (whose name must be the host of --server).
    #[arg(long, value_name = "PEM", requires = "server")]
    pub tls_ca: Option<PathBuf>,
    /// With --tls-ca: every agency presents its own certificate,
    /// agency-N.pem and agency-N.key in DIR (as `lottery-admin certs`
    /// writes them).
    #[arg(long, value_name = "DIR", requires = "tls_ca")]
    pub tls_cert_dir: Option<PathBuf>,
    /// With --tls-ca: the name the central's certificate must carry
    /// [default: the host of --server].
    #[arg(long, value_name = "NAME", requires = "tls_ca")]
    pub tls_server_name: Option<String>,
    /// Run the in-process central over mutual TLS, with certificates
    /// generated in memory for the run (not with --server: see --tls-ca).
    #[arg(long, conflicts_with_all = ["server", "tls_ca"])]
    pub tls: bool,
    /// Ask --server for receipts (protocol version 3: a central with
    /// --receipt-key), so that the welcome and every ack carry a signed
    /// head. The
    /// signatures are not checked here: the load generator measures the
    /// central (an agency checks its own on its own machine).
    #[arg(long, requires = "server")]
    pub receipts: bool,
    /// Print one JSON object on stdout instead of the text report.
    #[arg(long)]
    pub json: bool,
    /// Progress on stderr: auto (a bar on a terminal, plain lines
    /// otherwise), lines, or off. Never on stdout, so --json stays one
    /// object.
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto, value_name = "auto|lines|off")]
    pub progress: ProgressMode,
    /// OFF, ERROR, WARN, INFO, DEBUG or TRACE (the in-process central's log
    /// lines too).
    // Parsed by clap, as every other flag: a bad level is a usage error.
    #[arg(long, default_value = "WARN", value_name = "LEVEL", value_parser = lottery_log::parse_level)]
    pub log_level: log::LevelFilter,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(flags: &[&str]) -> Result<LoadgenArgs, clap::Error> {
        LoadgenArgs::try_parse_from(std::iter::once("lottery-loadgen").chain(flags.iter().copied()))
    }

    #[test]
    fn defaults_send_as_fast_as_possible_to_an_in_process_central() {
        let args = parse(&[]).unwrap();
        assert_eq!(args.agencies.get(), 100);
        assert_eq!(args.batch_size.get(), 150);
        assert_eq!(args.rate, 0);
        assert_eq!(args.server, None);
        assert_eq!(args.durability, Durability::Fsync);
        assert!(!args.json);
    }

    #[test]
    fn every_flag_is_read() {
        let args = parse(&[
            "--agencies=10000",
            "--bets-per-agency=7",
            "--batch-size=3",
            "--in-flight=2",
            "--rate=1000000",
            "--server=10.0.0.1:12345",
            "--threads=2",
            "--durability=none",
            "--json",
        ])
        .unwrap();
        assert_eq!(args.agencies.get(), 10_000);
        assert_eq!(args.bets_per_agency, 7);
        assert_eq!(args.batch_size.get(), 3);
        assert_eq!(args.in_flight.get(), 2);
        assert_eq!(args.rate, 1_000_000);
        assert_eq!(args.server.as_deref(), Some("10.0.0.1:12345"));
        assert_eq!(args.threads.get(), 2);
        assert_eq!(args.durability, Durability::None);
        assert!(args.json);
    }

    #[test]
    fn zero_agencies_batches_or_windows_are_refused() {
        for flag in [
            "--agencies=0",
            "--batch-size=0",
            "--in-flight=0",
            "--threads=0",
        ] {
            assert!(parse(&[flag]).is_err(), "{flag}");
        }
        assert!(parse(&["--durability=sometimes"]).is_err());
    }

    #[test]
    fn tls_flags_go_with_the_central_they_are_for() {
        assert!(!parse(&[]).unwrap().tls);
        assert!(parse(&["--tls"]).unwrap().tls);
        let args = parse(&[
            "--server=c:1",
            "--tls-ca=ca.pem",
            "--tls-cert-dir=certs",
            "--tls-server-name=central",
        ])
        .unwrap();
        assert_eq!(args.tls_server_name.as_deref(), Some("central"));
        assert_eq!(args.tls_ca, Some(PathBuf::from("ca.pem")));
        assert_eq!(args.tls_cert_dir, Some(PathBuf::from("certs")));
        // --tls makes its own certificates for its own central; --tls-ca
        // is for a central elsewhere; a certificate directory needs a CA.
        assert!(parse(&["--tls", "--server=c:1"]).is_err());
        assert!(parse(&["--tls-ca=ca.pem"]).is_err());
        assert!(parse(&["--server=c:1", "--tls-cert-dir=certs"]).is_err());
        assert!(parse(&["--server=c:1", "--tls-server-name=central"]).is_err());
    }
}
