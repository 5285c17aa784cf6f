//! What the status port tells: the facts of one look at the server
//! ([`Facts`]), written as Prometheus metrics (`/metrics`, with
//! `prometheus-client`) or as the JSON of `/status`, from the same look so
//! that both always agree.
//!
//! A look reads the central's books once ([`lottery_core::Central::snapshot`],
//! one lock), which connections speak for which agency (one short lock),
//! and the counters of every loop and of the store (atomics). Nothing here
//! runs on an event loop, and nothing is counted twice: bets, batches,
//! finishes and winners are the central's own.
//!
//! # What is never shown
//! No name, document or birthdate: only counts. The winning number only
//! once the draw happened (before, an agency that learned it could bet on
//! it), and never in `/metrics`.
//!
//! # Bounded cost
//! The agencies listed are those that took part (stored something or
//! finished) or are connected now, never every expected one: with a million
//! expected agencies a look costs what the agencies that took part cost.
//! So do the agencies the draw waits for ([`Waiting`]): counted, and named
//! only the first [`WAITING_NAMED`] of each kind. The history of the last
//! minutes (`history.rs`) is bounded too, and only copied into the JSON.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use lottery_bet::AgencyId;
use lottery_core::Snapshot;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use serde_json::{Value, json};

use crate::config::tls_mode;
use crate::history::{History, SAMPLE_INTERVAL};
use crate::http_counters::HttpCounts;
use crate::metrics::HistogramSnapshot;
use crate::shared::Shared;
use crate::store_watch::StoreWatch;

/// One agency as the status port lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct AgencyRow {
    agency: AgencyId,
    /// A connection speaks for it now.
    connected: bool,
    bets: u64,
    last_batch: u64,
    finished: bool,
    /// Its winning bets, once drawn.
    winners: Option<u64>,
}

/// How many agencies of each kind [`Waiting`] names at most.
pub(crate) const WAITING_NAMED: usize = 10;

/// Some agencies: how many, and the first few by id.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Named {
    count: u64,
    /// At most [`WAITING_NAMED`], ascending.
    first: Vec<AgencyId>,
}

/// The expected agencies the draw waits for (not finished), by whether a
/// connection speaks for them now: what an operator chases.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Waiting {
    connected: Named,
    /// Never connected, or gone without finishing.
    not_connected: Named,
}

/// One look at a server.
#[derive(Debug)]
pub(crate) struct Facts {
    snapshot: Snapshot,
    /// Every agency that took part or is connected, by id.
    agencies: Vec<AgencyRow>,
    waiting: Waiting,
    agencies_connected: usize,
    connections: usize,
    refusals: Vec<(&'static str, u64)>,
    acks: HistogramSnapshot,
    syncs: HistogramSnapshot,
    groups: HistogramSnapshot,
    store_path: Option<PathBuf>,
    store_bytes: Option<u64>,
    tls: &'static str,
    uptime: Duration,
    /// The status port's own connections and what its limits did.
    http: HttpCounts,
}

impl Facts {
    /// Looks at the server once.
    pub(crate) fn gather(
        shared: &Shared,
        store: &StoreWatch,
        uptime: Duration,
        http: HttpCounts,
    ) -> Self {
        let snapshot = shared.central().snapshot();
        let connected = shared.connected_agencies();
        let agencies = merge(&snapshot, &connected);
        let waiting = waiting(&snapshot, &connected);
        let metrics = shared.metrics();
        Self {
            agencies,
            waiting,
            agencies_connected: connected.len(),
            connections: shared.live_connections(),
            refusals: metrics.refusals(),
            acks: metrics.acks(),
            syncs: store.syncs(),
            groups: store.groups(),
            store_path: store.path().map(ToOwned::to_owned),
            store_bytes: store.bytes(),
            tls: tls_mode(shared.config().tls.as_ref()),
            uptime,
            http,
            snapshot,
        }
    }

    /// The metrics, in the text format `prometheus-client` writes
    /// (OpenMetrics: Prometheus's text format, ending with `# EOF`).
    pub(crate) fn metrics_text(self) -> String {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(self));
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry)
            .expect("writing to a String cannot fail");
        text
    }

    /// The JSON of `/status`, with the samples of `history`.
    pub(crate) fn status_json(&self, history: &History) -> Value {
        let snapshot = &self.snapshot;
        let draw = match &snapshot.draw {
            Some(draw) => json!({
                "done": true,
                "winners": draw.winners,
                "winning_number": draw.winning_number.get(),
                "bets": draw.bets,
            }),
            None => json!({ "done": false, "winners": null, "winning_number": null }),
        };
        let agencies: Vec<Value> = self
            .agencies
            .iter()
            .map(|row| {
                json!({
                    "agency": row.agency.get(),
                    "connected": row.connected,
                    "bets": row.bets,
                    "last_batch": row.last_batch,
                    "finished": row.finished,
                    "winners": row.winners,
                })
            })
            .collect();
        let refusals: serde_json::Map<String, Value> = self
            .refusals
            .iter()
            .filter(|(_, count)| *count > 0)
            .map(|(code, count)| ((*code).to_owned(), json!(count)))
            .collect();
        json!({
            "lottery": {
                "agencies_expected": snapshot.agencies_expected,
                "agencies_connected": self.agencies_connected,
                "agencies_finished": snapshot.agencies_finished,
                "bets_stored": self.agencies.iter().map(|row| row.bets).sum::<u64>(),
                "batches_acked": self.agencies.iter().map(|row| row.last_batch).sum::<u64>(),
                "connections": self.connections,
                "draw": draw,
                "store": {
                    "path": self.store_path.as_ref().map(|path| path.display().to_string()),
                    "bytes": self.store_bytes,
                },
                "tls": self.tls,
                "uptime_seconds": self.uptime.as_secs_f64(),
                "refusals": refusals,
            },
            "latency": {
                "ack_seconds": summary(&self.acks),
                "sync_seconds": summary(&self.syncs),
            },
            "commit_group_batches": summary(&self.groups),
            "agencies": agencies,
            "waiting": waiting_json(&self.waiting),
            "history": history_json(history),
        })
    }
}

fn waiting_json(waiting: &Waiting) -> Value {
    json!({
        "agencies": waiting.connected.count + waiting.not_connected.count,
        "connected": named(&waiting.connected),
        "not_connected": named(&waiting.not_connected),
    })
}

fn named(named: &Named) -> Value {
    json!({
        "count": named.count,
        "first": named.first.iter().map(|agency| agency.get()).collect::<Vec<_>>(),
    })
}

/// The samples as columns (one array per series, oldest first): a chart
/// reads one array, and the JSON says each key once, not once a second.
fn history_json(history: &History) -> Value {
    let samples: Vec<_> = history.samples().collect();
    let column = |value: &dyn Fn(&crate::history::Sample) -> Value| -> Vec<Value> {
        samples.iter().map(|sample| value(sample)).collect()
    };
    json!({
        "interval_seconds": SAMPLE_INTERVAL.as_secs_f64(),
        "capacity": history.capacity(),
        "at_seconds": column(&|sample| json!(round(sample.at.as_secs_f64(), 1e3))),
        "bets_per_second": column(&|sample| json!(round(sample.bets_per_second, 10.0))),
        "ack_p50_seconds": column(&|sample| json!(sample.ack_p50)),
        "ack_p99_seconds": column(&|sample| json!(sample.ack_p99)),
        "connections": column(&|sample| json!(sample.connections)),
    })
}

/// `value` rounded to `1 / per` (a chart needs no more, the JSON is smaller).
fn round(value: f64, per: f64) -> f64 {
    (value * per).round() / per
}

/// The agencies the draw waits for. Costs what `snapshot` and `connected`
/// cost, plus [`WAITING_NAMED`]: the walk for the first agencies not
/// connected skips only finished or connected ones, and stops once it named
/// all it may.
fn waiting(snapshot: &Snapshot, connected: &[AgencyId]) -> Waiting {
    let expected = snapshot.agencies_expected;
    let finished: Vec<AgencyId> = snapshot
        .agencies
        .iter()
        .filter(|books| books.finished)
        .map(|books| books.agency)
        .collect();
    let is_finished = |agency: &AgencyId| finished.binary_search(agency).is_ok();
    let connected: Vec<AgencyId> = connected
        .iter()
        .copied()
        .filter(|agency| agency.get() <= expected && !is_finished(agency))
        .collect();
    let unfinished = u64::from(expected).saturating_sub(finished.len() as u64);
    let absent = unfinished.saturating_sub(connected.len() as u64);
    let wanted = usize::try_from(absent).map_or(WAITING_NAMED, |absent| absent.min(WAITING_NAMED));
    let mut first = Vec::with_capacity(wanted);
    for id in 1..=expected {
        if first.len() == wanted {
            break;
        }
        let agency = AgencyId::new(id).expect("ids from 1 are agency ids");
        if !is_finished(&agency) && connected.binary_search(&agency).is_err() {
            first.push(agency);
        }
    }
    Waiting {
        connected: Named {
            count: connected.len() as u64,
            first: connected.into_iter().take(WAITING_NAMED).collect(),
        },
        not_connected: Named {
            count: absent,
            first,
        },
    }
}

/// The agencies of `snapshot` and the `connected` ones (both sorted), as
/// one sorted list.
fn merge(snapshot: &Snapshot, connected: &[AgencyId]) -> Vec<AgencyRow> {
    let drawn = snapshot.draw.is_some();
    let mut rows = Vec::with_capacity(snapshot.agencies.len() + connected.len());
    let mut connected = connected.iter().copied().peekable();
    for books in &snapshot.agencies {
        while let Some(agency) = connected.next_if(|&agency| agency < books.agency) {
            rows.push(AgencyRow::idle(agency, drawn));
        }
        rows.push(AgencyRow {
            agency: books.agency,
            connected: connected.next_if_eq(&books.agency).is_some(),
            bets: books.bets,
            last_batch: books.last_batch,
            finished: books.finished,
            winners: books.winners,
        });
    }
    rows.extend(connected.map(|agency| AgencyRow::idle(agency, drawn)));
    rows
}

impl AgencyRow {
    /// A connected agency that has not taken part.
    fn idle(agency: AgencyId, drawn: bool) -> Self {
        Self {
            agency,
            connected: true,
            bets: 0,
            last_batch: 0,
            finished: false,
            winners: drawn.then_some(0),
        }
    }
}

/// Count, p50, p99, p99.9 and max of a histogram; the figures `null` when
/// empty.
/// The quantiles are estimated from the buckets
/// ([`HistogramSnapshot::quantile`]).
fn summary(histogram: &HistogramSnapshot) -> Value {
    let count = histogram.count();
    json!({
        "count": count,
        "p50": histogram.quantile(0.5),
        "p99": histogram.quantile(0.99),
        "p999": histogram.quantile(0.999),
        "max": (count > 0).then_some(histogram.max),
    })
}

impl Collector for Facts {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let agency = |row: &AgencyRow| [("agency", row.agency.get().to_string())];
        let mut bets = encoder.encode_descriptor(
            "lottery_bets_stored",
            "Bets stored (acknowledged) per agency.",
            None,
            MetricType::Counter,
        )?;
        for row in &self.agencies {
            ConstCounter::new(row.bets).encode(bets.encode_family(&agency(row))?)?;
        }
        let mut batches = encoder.encode_descriptor(
            "lottery_batches_acked",
            "Batches acknowledged per agency.",
            None,
            MetricType::Counter,
        )?;
        for row in &self.agencies {
            ConstCounter::new(row.last_batch).encode(batches.encode_family(&agency(row))?)?;
        }
        let mut refusals = encoder.encode_descriptor(
            "lottery_refusals",
            "Error frames sent, per error code.",
            None,
            MetricType::Counter,
        )?;
        for &(code, count) in &self.refusals {
            ConstCounter::new(count).encode(refusals.encode_family(&[("code", code)])?)?;
        }
        self.encode_gauges(&mut encoder)?;
        self.encode_http(&mut encoder)?;
        self.encode_histograms(&mut encoder)
    }
}

impl Facts {
    /// The status port's own: its connections, what its limits cut.
    fn encode_http(&self, encoder: &mut DescriptorEncoder) -> Result<(), fmt::Error> {
        let connections = encoder.encode_descriptor(
            "lottery_http_connections",
            "Status-port connections held now (at most --http-max-connections).",
            None,
            MetricType::Gauge,
        )?;
        ConstGauge::new(self.http.connections as i64).encode(connections)?;
        let mut cuts = encoder.encode_descriptor(
            "lottery_http_connections_cut",
            "Status-port connections closed at a limit, per limit: evicted (the connection cap), \
             head_too_large, head_timeout, write_timeout, tls_handshake.",
            None,
            MetricType::Counter,
        )?;
        for &(reason, count) in &self.http.cuts {
            ConstCounter::new(count).encode(cuts.encode_family(&[("reason", reason)])?)?;
        }
        let unauthorized = encoder.encode_descriptor(
            "lottery_http_unauthorized",
            "Status-port requests answered 401 (no or another bearer token).",
            None,
            MetricType::Counter,
        )?;
        ConstCounter::new(self.http.unauthorized).encode(unauthorized)
    }

    /// The winners per agency (after the draw only) and the histograms.
    fn encode_histograms(&self, encoder: &mut DescriptorEncoder) -> Result<(), fmt::Error> {
        let agency = |row: &AgencyRow| [("agency", row.agency.get().to_string())];
        if self.snapshot.draw.is_some() {
            let mut winners = encoder.encode_descriptor(
                "lottery_winners",
                "Winning bets per agency (after the draw).",
                None,
                MetricType::Gauge,
            )?;
            for row in &self.agencies {
                let won = row.winners.unwrap_or(0);
                ConstGauge::new(won as i64).encode(winners.encode_family(&agency(row))?)?;
            }
        }
        let histograms = [
            (
                "lottery_ack_latency_seconds",
                "From the loop iteration that read a batch to its ack handed to the connection.",
                &self.acks,
            ),
            (
                "lottery_commit_sync_seconds",
                "Each sync of the store's files (bets.csv and its journal) by a group commit.",
                &self.syncs,
            ),
            (
                "lottery_commit_group_batches",
                "Batches appended before each sync of bets.csv began (the batches it covers).",
                &self.groups,
            ),
        ];
        for (name, help, histogram) in histograms {
            let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Histogram)?;
            metric.encode_histogram::<NoLabelSet>(
                histogram.sum,
                histogram.count(),
                &histogram.buckets(),
                None,
            )?;
        }
        Ok(())
    }

    fn encode_gauges(&self, encoder: &mut DescriptorEncoder) -> Result<(), fmt::Error> {
        let snapshot = &self.snapshot;
        let mut gauges = vec![
            (
                "lottery_connections",
                "Connections accepted and not yet closed.",
                self.connections as i64,
            ),
            (
                "lottery_agencies_expected",
                "Agencies expected before the draw.",
                i64::from(snapshot.agencies_expected),
            ),
            (
                "lottery_agencies_connected",
                "Agencies a connection speaks for now.",
                self.agencies_connected as i64,
            ),
            (
                "lottery_agencies_finished",
                "Agencies whose finish is recorded.",
                i64::from(snapshot.agencies_finished),
            ),
            (
                "lottery_draw_done",
                "1 once the draw happened, else 0.",
                i64::from(snapshot.draw.is_some()),
            ),
        ];
        if let Some(bytes) = self.store_bytes {
            gauges.push((
                "lottery_store_bytes",
                "Size of bets.csv.",
                i64::try_from(bytes).unwrap_or(i64::MAX),
            ));
        }
        for (name, help, value) in gauges {
            let metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
            ConstGauge::new(value).encode(metric)?;
        }
        let uptime = encoder.encode_descriptor(
            "lottery_uptime_seconds",
            "Seconds since the server started serving.",
            None,
            MetricType::Gauge,
        )?;
        ConstGauge::new(self.uptime.as_secs_f64()).encode(uptime)
    }
}

#[cfg(test)]
mod tests {
    use lottery_bet::BetNumber;
    use lottery_core::{AgencySnapshot, DrawSnapshot};

    use super::*;

    fn id(agency: u32) -> AgencyId {
        AgencyId::new(agency).unwrap()
    }

    fn books(agency: u32, bets: u64, winners: Option<u64>) -> AgencySnapshot {
        AgencySnapshot {
            agency: id(agency),
            bets,
            last_batch: bets / 10,
            finished: false,
            winners,
        }
    }

    fn finished(agency: u32) -> AgencySnapshot {
        AgencySnapshot {
            finished: true,
            ..books(agency, 10, None)
        }
    }

    fn ids(named: &Named) -> (u64, Vec<u32>) {
        (
            named.count,
            named.first.iter().map(|agency| agency.get()).collect(),
        )
    }

    #[test]
    fn the_draw_waits_for_the_unfinished_agencies_connected_or_not() {
        let mut snapshot = Snapshot {
            agencies_expected: 5,
            agencies_finished: 3,
            agencies: vec![finished(1), finished(2), finished(3), books(4, 20, None)],
            draw: None,
        };
        let some = waiting(&snapshot, &[id(2), id(4)]);
        assert_eq!(ids(&some.connected), (1, vec![4]));
        assert_eq!(ids(&some.not_connected), (1, vec![5]));
        // Once every agency finished, it waits for none.
        snapshot.agencies = (1..=5).map(finished).collect();
        snapshot.agencies_finished = 5;
        let none = waiting(&snapshot, &[id(4)]);
        assert_eq!(ids(&none.connected), (0, vec![]));
        assert_eq!(ids(&none.not_connected), (0, vec![]));
    }

    #[test]
    fn of_a_million_waiting_agencies_only_the_first_few_are_named_and_all_are_counted() {
        let snapshot = Snapshot {
            agencies_expected: 1_000_000,
            agencies_finished: 2,
            agencies: vec![
                finished(1),
                books(2, 5, None),
                finished(3),
                books(7, 5, None),
            ],
            draw: None,
        };
        let connected: Vec<AgencyId> = [2, 3, 12].into_iter().chain(100..200).map(id).collect();
        let many = waiting(&snapshot, &connected);
        assert_eq!(many.connected.count, 102, "2, 12 and 100 to 199");
        assert_eq!(
            ids(&many.connected).1,
            [2, 12, 100, 101, 102, 103, 104, 105, 106, 107]
        );
        assert_eq!(
            ids(&many.not_connected),
            (999_896, vec![4, 5, 6, 7, 8, 9, 10, 11, 13, 14])
        );
    }

    #[test]
    fn the_list_holds_the_agencies_that_took_part_and_those_connected_once_each_in_order() {
        let mut snapshot = Snapshot {
            agencies_expected: 1_000_000,
            agencies_finished: 0,
            agencies: vec![books(2, 20, None), books(5, 50, None)],
            draw: None,
        };
        let connected = [id(1), id(5), id(9)];
        let rows = merge(&snapshot, &connected);
        let listed: Vec<(u32, bool, u64, Option<u64>)> = rows
            .iter()
            .map(|row| (row.agency.get(), row.connected, row.bets, row.winners))
            .collect();
        assert_eq!(
            listed,
            [
                (1, true, 0, None),
                (2, false, 20, None),
                (5, true, 50, None),
                (9, true, 0, None)
            ]
        );
        // After the draw, a connected agency that sent nothing won nothing.
        snapshot.agencies = vec![books(2, 20, Some(1))];
        snapshot.draw = Some(DrawSnapshot {
            winning_number: BetNumber::DEFAULT_WINNING,
            winners: 1,
            bets: 20,
        });
        let rows = merge(&snapshot, &[id(3)]);
        let winners: Vec<_> = rows
            .iter()
            .map(|row| (row.agency.get(), row.winners))
            .collect();
        assert_eq!(winners, [(2, Some(1)), (3, Some(0))]);
    }
}
