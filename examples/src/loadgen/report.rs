//! What a load run measured, as text for people and as one JSON object for
//! scripts (`--json`).

use std::fmt;
use std::time::Duration;

use serde::Serialize;

/// Batch acknowledgement latencies, in milliseconds, by nearest rank.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LatencySummary {
    /// The median.
    pub p50: f64,
    /// The 99th percentile.
    pub p99: f64,
    /// The largest.
    pub max: f64,
}

impl LatencySummary {
    /// Summarizes `latencies` (sorted in place); all zero when empty.
    pub fn of(latencies: &mut [Duration]) -> Self {
        latencies.sort_unstable();
        let rank = |fraction: f64| {
            // Nearest rank: the smallest value with at least `fraction` of
            // the samples at or below it.
            let index = ((fraction * latencies.len() as f64).ceil() as usize).saturating_sub(1);
            latencies.get(index).map_or(0.0, |latency| millis(*latency))
        };
        Self {
            p50: rank(0.50),
            p99: rank(0.99),
            max: latencies.last().map_or(0.0, |latency| millis(*latency)),
        }
    }
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1_000.0
}

/// The result of a load run. The first keys are the ones issue 7's scripts
/// read; the rest describe the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Report {
    /// Agencies (connections) in the run.
    pub agencies: u32,
    /// Bets acknowledged by the central.
    pub bets: u64,
    /// Seconds from the first batch sent to the last acknowledged (every
    /// agency connected and handshaken before the clock starts).
    pub elapsed_s: f64,
    /// `bets / elapsed_s`.
    pub bets_per_s: f64,
    /// Batch acknowledgement latency: from the batch's last byte handed to
    /// the kernel to its ack read.
    pub ack_latency_ms: LatencySummary,
    /// The most connections open at once.
    pub connections_held: u64,
    /// Batches acknowledged.
    pub batches: u64,
    /// Bets per batch at most.
    pub batch_size: usize,
    /// Batches in flight per agency at most.
    pub in_flight: usize,
    /// Offered load in bets/s (0: as fast as possible).
    pub rate: u64,
    /// Seconds to connect and handshake every agency.
    pub connect_s: f64,
    /// Seconds from the first connection to the last agency's winners.
    pub total_s: f64,
    /// Seconds from the last batch acknowledged to the last agency's
    /// winners: the finishes, the draw and the winners.
    pub finish_s: f64,
    /// Winners answered over all agencies (each checked against the bets).
    pub winners: u64,
    /// The central: its address, or `in-process (durability ...)`.
    pub central: String,
    /// Agencies that failed, with why (at most a few, see `failed_agencies`).
    pub failures: Vec<String>,
    /// How many agencies failed.
    pub failed_agencies: u64,
    /// TLS to the central: `off`, `server-only` (the central's certificate
    /// checked) or `mutual` (every agency with its own certificate too).
    pub tls: String,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let latency = &self.ack_latency_ms;
        if self.tls.is_empty() || self.tls == "off" {
            writeln!(f, "central           {}", self.central)?;
        } else {
            writeln!(f, "central           {}, TLS {}", self.central, self.tls)?;
        }
        writeln!(
            f,
            "agencies          {} ({} connections held at most)",
            self.agencies, self.connections_held
        )?;
        writeln!(
            f,
            "bets              {} in {} batches of at most {}, {} in flight, offered {}",
            self.bets,
            self.batches,
            self.batch_size,
            self.in_flight,
            if self.rate == 0 {
                "as fast as possible".to_string()
            } else {
                format!("{} bets/s", self.rate)
            }
        )?;
        writeln!(
            f,
            "throughput        {:.0} bets/s over {:.3} s",
            self.bets_per_s, self.elapsed_s
        )?;
        writeln!(
            f,
            "ack latency       p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
            latency.p50, latency.p99, latency.max
        )?;
        writeln!(
            f,
            "session           connect {:.3} s, finish and draw {:.3} s, total {:.3} s, {} winners",
            self.connect_s, self.finish_s, self.total_s, self.winners
        )?;
        write!(f, "failed agencies   {}", self.failed_agencies)?;
        for failure in &self.failures {
            write!(f, "\n  {failure}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let mut latencies: Vec<Duration> = (1..=200).map(Duration::from_millis).collect();
        latencies.reverse();
        let summary = LatencySummary::of(&mut latencies);
        assert_eq!(summary.p50, 100.0);
        assert_eq!(summary.p99, 198.0);
        assert_eq!(summary.max, 200.0);
        assert_eq!(LatencySummary::of(&mut []), LatencySummary::default());
        let one = LatencySummary::of(&mut [Duration::from_micros(1_500)]);
        assert_eq!((one.p50, one.p99, one.max), (1.5, 1.5, 1.5));
    }

    #[test]
    fn the_json_object_has_the_keys_scripts_read() {
        let report = Report {
            agencies: 3,
            bets: 30,
            elapsed_s: 0.5,
            bets_per_s: 60.0,
            connections_held: 3,
            ..Report::default()
        };
        let json: serde_json::Value = serde_json::to_value(&report).unwrap();
        for key in [
            "agencies",
            "bets",
            "elapsed_s",
            "bets_per_s",
            "ack_latency_ms",
            "connections_held",
            "tls",
        ] {
            assert!(json.get(key).is_some(), "{key} missing from {json}");
        }
        for key in ["p50", "p99", "max"] {
            assert!(json["ack_latency_ms"].get(key).is_some(), "{key} missing");
        }
        assert_eq!(json["bets_per_s"], 60.0);
    }
}
