//! The status port (`--http`) of the `lottery-server` binary, as a process:
//! `/metrics` parsed as Prometheus's text format and `/status` as JSON,
//! during and after a real run of five agencies, checked against the store;
//! the page at `/` rendered by a real headless Chromium.
//!
//! HTTP requests are made by `curl` (a real client; no HTTP is written
//! here); the page by `chromium` (`.ci/run` installs both when missing).

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::process::{BINARY, Process};
use common::{
    RawAgency, SAFETY_TIMEOUT, agency_batches, expected_winners, rows_per_agency, run_agency,
    scratch_dir, stored_rows,
};
use lottery_net::{AgencyMessage, CentralMessage, ErrorCode, WireBet};
use prometheus_parse::{Scrape, Value};

const AGENCIES: u32 = 5;
const BATCHES: u64 = 12;
const PER_BATCH: usize = 40;

/// Starts a central with the status port on loopback; returns it, its
/// agency port and its status port.
fn start_central(dir: &Path) -> (Process, SocketAddr, SocketAddr) {
    start_central_for(dir, AGENCIES)
}

/// [`start_central`] expecting `agencies`.
fn start_central_for(dir: &Path, agencies: u32) -> (Process, SocketAddr, SocketAddr) {
    let store = dir.join("bets.csv").display().to_string();
    let agencies = agencies.to_string();
    let mut central = Process::start(&[
        "--listen",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
        "--agencies",
        &agencies,
        "--threads",
        "2",
        "--store",
        &store,
    ]);
    let agency_port = central.address("action: accept_connections | result: in_progress");
    let status_port = central.address("action: serve_http | result: in_progress");
    (central, agency_port, status_port)
}

/// `GET http://addr/path` with curl: the status code and the body.
fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let output = Command::new("curl")
        .args(["-sS", "--max-time", "30", "-w", "\n%{http_code}"])
        .arg(format!("http://{addr}{path}"))
        .output()
        .expect("run curl (.ci/run installs it when missing)");
    assert!(output.status.success(), "curl {path}: {output:?}");
    let text = String::from_utf8(output.stdout).expect("UTF-8");
    let (body, code) = text.rsplit_once('\n').expect("the status code line");
    (code.parse().expect("a status code"), body.to_owned())
}

/// `/metrics`, parsed by the format's rules (prometheus-parse); also the text.
fn scrape(addr: SocketAddr) -> (Scrape, String) {
    let (code, text) = get(addr, "/metrics");
    assert_eq!(code, 200);
    let scrape = Scrape::parse(text.lines().map(|line| Ok(line.to_owned()))).expect("parses");
    (scrape, text)
}

fn status(addr: SocketAddr) -> (serde_json::Value, String) {
    let (code, text) = get(addr, "/status");
    assert_eq!(code, 200);
    (serde_json::from_str(&text).expect("JSON"), text)
}

fn number(value: &Value) -> f64 {
    match value {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
        other => panic!("not a number: {other:?}"),
    }
}

/// The value of the one sample `metric` has without labels.
fn single(scrape: &Scrape, metric: &str) -> f64 {
    let samples: Vec<_> = scrape
        .samples
        .iter()
        .filter(|s| s.metric == metric)
        .collect();
    assert_eq!(samples.len(), 1, "{metric}: {samples:?}");
    number(&samples[0].value)
}

/// The samples of `metric`, by the value of `label`.
fn by_label(scrape: &Scrape, metric: &str, label: &str) -> HashMap<String, f64> {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == metric)
        .map(|s| {
            let key = s.labels.get(label).expect("the label").to_owned();
            (key, number(&s.value))
        })
        .collect()
}

/// The `+Inf` bucket (the count) of histogram `metric`.
fn histogram_count(scrape: &Scrape, metric: &str) -> f64 {
    let sample = scrape
        .samples
        .iter()
        .find(|s| s.metric == metric)
        .unwrap_or_else(|| panic!("no {metric}"));
    let Value::Histogram(buckets) = &sample.value else {
        panic!("{metric} is not a histogram: {:?}", sample.value)
    };
    let inf = buckets
        .iter()
        .find(|bucket| bucket.less_than.is_infinite())
        .expect("a +Inf bucket");
    // Cumulative: every bucket at most the +Inf one.
    assert!(buckets.iter().all(|bucket| bucket.count <= inf.count));
    assert_eq!(single(scrape, &format!("{metric}_count")), inf.count);
    inf.count
}

/// Checks `/metrics` and `/status` against the store and each other.
fn check_against_store(
    addr: SocketAddr,
    store: &Path,
    batches_acked: &HashMap<u32, u64>,
) -> (Scrape, serde_json::Value, Vec<String>) {
    let rows = rows_per_agency(&stored_rows(store));
    let (metrics, metrics_text) = scrape(addr);
    let (status, status_text) = status(addr);
    let bets = by_label(&metrics, "lottery_bets_stored_total", "agency");
    let batches = by_label(&metrics, "lottery_batches_acked_total", "agency");
    assert_eq!(bets.len(), rows.len(), "{bets:?} {rows:?}");
    let listed = status["agencies"].as_array().expect("agencies");
    for (agency, &count) in &rows {
        assert_eq!(bets[&agency.to_string()], count as f64, "agency {agency}");
        let entry = listed
            .iter()
            .find(|entry| entry["agency"] == *agency)
            .unwrap_or_else(|| panic!("agency {agency} in {status}"));
        assert_eq!(entry["bets"], count as u64);
        assert_eq!(entry["last_batch"], batches_acked[agency]);
        assert_eq!(batches[&agency.to_string()], batches_acked[agency] as f64);
    }
    let agencies: Vec<u64> = listed
        .iter()
        .map(|e| e["agency"].as_u64().unwrap())
        .collect();
    let mut sorted = agencies.clone();
    sorted.sort_unstable();
    assert_eq!(agencies, sorted, "sorted by agency");
    let total: usize = rows.values().sum();
    assert_eq!(status["lottery"]["bets_stored"], total as u64);
    let acked: u64 = batches_acked.values().sum();
    assert_eq!(status["lottery"]["batches_acked"], acked);
    // Every acked batch counted its latency once.
    let acks = histogram_count(&metrics, "lottery_ack_latency_seconds");
    assert_eq!(acks, acked as f64);
    assert_eq!(status["latency"]["ack_seconds"]["count"], acked);
    let syncs = histogram_count(&metrics, "lottery_commit_sync_seconds");
    assert!(syncs > 0.0, "fsync durability syncs");
    assert_eq!(status["latency"]["sync_seconds"]["count"], syncs as u64);
    assert!(histogram_count(&metrics, "lottery_commit_group_batches") > 0.0);
    let store_bytes = std::fs::metadata(store).expect("the store").len();
    assert_eq!(single(&metrics, "lottery_store_bytes"), store_bytes as f64);
    assert_eq!(status["lottery"]["store"]["bytes"], store_bytes);
    assert_eq!(
        single(&metrics, "lottery_agencies_expected"),
        f64::from(AGENCIES)
    );
    assert_eq!(status["lottery"]["agencies_expected"], AGENCIES);
    assert_eq!(status["lottery"]["tls"], "off");
    let (_, page) = get(addr, "/");
    (metrics, status, vec![metrics_text, status_text, page])
}

/// Waits until `/status` says `done` (a safety deadline, not a timing
/// assert).
fn wait_for_status(addr: SocketAddr, done: impl Fn(&serde_json::Value) -> bool) {
    let deadline = Instant::now() + SAFETY_TIMEOUT;
    loop {
        let (status, _) = status(addr);
        if done(&status) {
            return;
        }
        assert!(Instant::now() < deadline, "status never came: {status}");
        thread::sleep(Duration::from_millis(20));
    }
}

/// No document of the input appears in any response.
fn assert_no_document(responses: &[String], batches: &HashMap<u32, Vec<Vec<WireBet>>>) {
    for bet in batches.values().flatten().flatten() {
        for response in responses {
            assert!(
                !response.contains(&bet.document),
                "document {} leaked",
                bet.document
            );
            assert!(!response.contains(&bet.first_name));
        }
    }
}

/// Agencies 1 to 4 run to the end (they finish and wait for the draw);
/// agency 5 sends half its batches and waits for `go`. Returns the threads
/// and agency 5's connection.
fn run_until_the_last_agency_is_half_way(
    agency_port: SocketAddr,
    batches: &HashMap<u32, Vec<Vec<WireBet>>>,
) -> (Vec<thread::JoinHandle<Vec<String>>>, RawAgency) {
    let threads = (1..AGENCIES)
        .map(|agency| {
            let mine = batches[&agency].clone();
            thread::spawn(move || run_agency(RawAgency::connect(agency_port), agency, &mine))
        })
        .collect();
    let (mut last, welcome) = RawAgency::hello(agency_port, AGENCIES);
    assert_eq!(welcome, (0, 0, false));
    let half = &batches[&AGENCIES][..BATCHES as usize / 2];
    let mut stored = 0;
    for (index, bets) in half.iter().enumerate() {
        let batch = index as u64 + 1;
        last.send(&AgencyMessage::Batch {
            batch,
            bets: bets.clone(),
        });
        stored += bets.len() as u64;
        assert_eq!(
            last.recv(),
            Some(CentralMessage::Ack {
                batch,
                bets_stored: stored
            })
        );
    }
    (threads, last)
}

/// Agency 5 sends the rest of its batches, finishes and gets its winners.
fn finish_the_last_agency(mut last: RawAgency, batches: &[Vec<WireBet>]) -> Vec<String> {
    let mut stored: u64 = batches[..BATCHES as usize / 2]
        .iter()
        .map(|bets| bets.len() as u64)
        .sum();
    for (index, bets) in batches.iter().enumerate().skip(BATCHES as usize / 2) {
        let batch = index as u64 + 1;
        last.send(&AgencyMessage::Batch {
            batch,
            bets: bets.clone(),
        });
        stored += bets.len() as u64;
        assert_eq!(
            last.recv(),
            Some(CentralMessage::Ack {
                batch,
                bets_stored: stored
            })
        );
    }
    last.send(&AgencyMessage::Finish { bets_sent: stored });
    assert_eq!(
        last.recv(),
        Some(CentralMessage::Finished {
            bets_stored: stored
        })
    );
    last.send(&AgencyMessage::WinnersQuery { wait: true });
    let winners = last.winners();
    last.close();
    winners
}

fn all_batches() -> HashMap<u32, Vec<Vec<WireBet>>> {
    (1..=AGENCIES)
        .map(|agency| (agency, agency_batches(agency, BATCHES, PER_BATCH)))
        .collect()
}

#[test]
fn metrics_and_status_match_the_store_during_and_after_a_run_of_five_agencies() {
    let dir = scratch_dir("status_port_run");
    let store = dir.join("bets.csv");
    let (central, agency_port, http) = start_central(&dir);
    assert_eq!(get(http, "/healthz"), (200, "ok\n".to_owned()));
    assert_eq!(get(http, "/readyz"), (200, "ready\n".to_owned()));
    assert_eq!(get(http, "/nothing").0, 404);

    // A peer naming an agency the central does not expect is refused.
    let mut stranger = RawAgency::connect(agency_port);
    match stranger.try_hello(AGENCIES + 4).expect("an answer") {
        Some(CentralMessage::Error(refusal)) => assert_eq!(refusal.code, ErrorCode::UnknownAgency),
        other => panic!("expected a refusal, got {other:?}"),
    }
    stranger.close();

    let batches = all_batches();
    let (threads, last) = run_until_the_last_agency_is_half_way(agency_port, &batches);
    wait_for_status(http, |status| {
        status["lottery"]["agencies_finished"] == AGENCIES - 1
    });

    // During the run: four agencies finished and wait, the fifth is half way.
    let mut acked: HashMap<u32, u64> = (1..AGENCIES).map(|agency| (agency, BATCHES)).collect();
    acked.insert(AGENCIES, BATCHES / 2);
    let (metrics, during, responses) = check_against_store(http, &store, &acked);
    assert_no_document(&responses, &batches);
    assert_eq!(single(&metrics, "lottery_draw_done"), 0.0);
    assert_eq!(single(&metrics, "lottery_agencies_finished"), 4.0);
    assert_eq!(single(&metrics, "lottery_connections"), f64::from(AGENCIES));
    assert_eq!(single(&metrics, "lottery_agencies_connected"), 5.0);
    assert!(
        metrics
            .samples
            .iter()
            .all(|s| s.metric != "lottery_winners")
    );
    let refusals = by_label(&metrics, "lottery_refusals_total", "code");
    assert_eq!(refusals[ErrorCode::UnknownAgency.name()], 1.0);
    assert_eq!(refusals[ErrorCode::InvalidBet.name()], 0.0);
    assert_eq!(
        during["lottery"]["draw"],
        serde_json::json!({ "done": false, "winners": null, "winning_number": null })
    );
    assert_eq!(during["lottery"]["connections"], AGENCIES);
    assert_eq!(during["lottery"]["agencies_connected"], AGENCIES);
    for entry in during["agencies"].as_array().unwrap() {
        assert_eq!(entry["connected"], true);
        assert_eq!(entry["winners"], serde_json::Value::Null);
        assert_eq!(entry["finished"], entry["agency"] != AGENCIES);
    }
    assert_eq!(
        during["lottery"]["store"]["path"],
        store.display().to_string()
    );

    // After the draw.
    let winners_of_last = finish_the_last_agency(last, &batches[&AGENCIES]);
    let mut winners: HashMap<u32, Vec<String>> = threads
        .into_iter()
        .zip(1..)
        .map(|(thread, agency)| (agency, thread.join().expect("agency thread")))
        .collect();
    winners.insert(AGENCIES, winners_of_last);
    for (agency, got) in &winners {
        assert_eq!(*got, expected_winners(&batches[agency]), "agency {agency}");
    }
    acked.insert(AGENCIES, BATCHES);
    wait_for_status(http, |status| status["lottery"]["connections"] == 0);
    let (metrics, after, responses) = check_against_store(http, &store, &acked);
    assert_no_document(&responses, &batches);
    assert_eq!(single(&metrics, "lottery_draw_done"), 1.0);
    assert_eq!(single(&metrics, "lottery_agencies_finished"), 5.0);
    assert_eq!(single(&metrics, "lottery_connections"), 0.0);
    let won = by_label(&metrics, "lottery_winners", "agency");
    let total: usize = winners.values().map(Vec::len).sum();
    assert!(total > 0, "the data set has winners");
    for (agency, got) in &winners {
        assert_eq!(
            won[&agency.to_string()],
            got.len() as f64,
            "agency {agency}"
        );
        let entry = after["agencies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|entry| entry["agency"] == *agency)
            .unwrap();
        assert_eq!(entry["winners"], got.len() as u64);
        assert_eq!(entry["finished"], true);
        assert_eq!(entry["connected"], false);
    }
    assert_eq!(after["lottery"]["draw"]["done"], true);
    assert_eq!(after["lottery"]["draw"]["winners"], total as u64);
    assert_eq!(after["lottery"]["draw"]["winning_number"], 7574);
    assert!(
        !responses[0].contains("7574"),
        "the winning number is never in /metrics"
    );
    for figure in ["p50", "p99", "p999", "max"] {
        let ack = after["latency"]["ack_seconds"][figure].as_f64().unwrap();
        let sync = after["latency"]["sync_seconds"][figure].as_f64().unwrap();
        assert!(ack > 0.0 && sync > 0.0, "{figure}: {ack} {sync}");
    }
    let max = after["latency"]["ack_seconds"]["max"].as_f64().unwrap();
    let p99 = after["latency"]["ack_seconds"]["p99"].as_f64().unwrap();
    let p999 = after["latency"]["ack_seconds"]["p999"].as_f64().unwrap();
    assert!(after["latency"]["ack_seconds"]["p50"].as_f64().unwrap() <= max);
    assert!(p99 <= p999 && p999 <= max, "{p99} {p999} {max}");

    let (exit, log) = central.terminate();
    assert!(exit.success(), "{exit:?}");
    assert!(
        log.iter()
            .any(|line| line.contains("action: close_http | result: success")),
        "{log:?}"
    );
}

#[test]
fn a_status_port_off_loopback_is_refused_without_the_explicit_flag() {
    let output = Command::new(BINARY)
        .args(["--listen", "127.0.0.1:0", "--http", "0.0.0.0:0"])
        .env_remove("SERVER_HTTP_ALLOW_REMOTE")
        .stdin(Stdio::null())
        .output()
        .expect("run lottery-server");
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("http"), "{stderr}");
    assert!(stderr.contains("--http-allow-remote"), "{stderr}");
}

/// Where the browser test leaves its screenshot: `LOTTERY_SCREENSHOT_OUT`
/// when set (the README's `docs/status-page.png` is made so), else the
/// test's scratch directory.
fn screenshot_path(dir: &Path) -> PathBuf {
    std::env::var_os("LOTTERY_SCREENSHOT_OUT")
        .map_or_else(|| dir.join("status-page.png"), PathBuf::from)
}

/// The flags every headless Chromium run here takes: no sandbox (root in
/// CI), no GPU, nothing fetched from outside, a fresh profile.
fn chromium(profile: &Path, extra: &[String], url: &str) -> std::process::Output {
    let found = Command::new("sh")
        .args(["-c", "command -v chromium"])
        .output()
        .expect("run sh");
    assert!(
        found.status.success(),
        "no chromium on this machine: .ci/run installs Debian's chromium package when it is \
         missing (apt-get install chromium)"
    );
    let output = Command::new("timeout")
        .arg("120")
        .arg("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .stdin(Stdio::null())
        .output()
        .expect("run chromium");
    assert!(output.status.success(), "chromium failed: {output:?}");
    output
}

/// The page at `/` after its script ran (virtual time lets it fetch
/// `/status` and render, several times over).
fn rendered_page(profile: &Path, http: SocketAddr) -> String {
    let output = chromium(
        profile,
        &[
            "--virtual-time-budget=4000".to_owned(),
            "--dump-dom".to_owned(),
        ],
        &format!("http://{http}/"),
    );
    String::from_utf8(output.stdout).expect("UTF-8 DOM")
}

/// The rows of the agencies table in a dumped DOM: `(agency, row html)`.
fn agency_rows(dom: &str) -> Vec<(u32, String)> {
    dom.split("<tr data-agency=\"")
        .skip(1)
        .map(|rest| {
            let (id, row) = rest.split_once('"').expect("a quoted agency");
            let row = row.split("</tr>").next().expect("a row");
            (id.parse().expect("an agency id"), row.to_owned())
        })
        .collect()
}

#[test]
fn the_page_renders_every_agency_and_the_draw_in_headless_chromium() {
    let dir = scratch_dir("status_port_page");
    let (central, agency_port, http) = start_central(&dir);
    let batches = all_batches();
    let (threads, last) = run_until_the_last_agency_is_half_way(agency_port, &batches);
    wait_for_status(http, |status| {
        status["lottery"]["agencies_finished"] == AGENCIES - 1
    });

    // During the run.
    let dom = rendered_page(&dir.join("profile-during"), http);
    let rows = agency_rows(&dom);
    assert_eq!(
        rows.iter().map(|(agency, _)| *agency).collect::<Vec<_>>(),
        (1..=AGENCIES).collect::<Vec<_>>(),
        "{dom}"
    );
    assert!(dom.contains("data-state=\"pending\""), "{dom}");
    assert!(dom.contains("4 of 5 agencies finished"), "{dom}");
    let half = (BATCHES as usize / 2 * PER_BATCH).to_string();
    assert!(
        rows[4].1.contains(&format!("<td>{half}</td>")),
        "{}",
        rows[4].1
    );
    assert!(!dom.contains("7574"), "no winning number before the draw");
    assert!(
        dom.contains("Connected, not finished: <span class=\"ids\">5</span>"),
        "{dom}"
    );

    // After the draw.
    let last_won = finish_the_last_agency(last, &batches[&AGENCIES]).len();
    let mut winners = Vec::new();
    for thread in threads {
        winners.push(thread.join().expect("agency thread").len());
    }
    winners.push(last_won);
    wait_for_status(http, |status| status["lottery"]["draw"]["done"] == true);
    let dom = rendered_page(&dir.join("profile-after"), http);
    assert!(dom.contains("data-state=\"done\""), "{dom}");
    assert!(dom.contains("The draw waits for no agency."), "{dom}");
    assert!(dom.contains("Winning number 7574"), "{dom}");
    let rows = agency_rows(&dom);
    assert_eq!(rows.len(), AGENCIES as usize, "{dom}");
    let all = (BATCHES as usize * PER_BATCH).to_string();
    for ((agency, row), won) in rows.iter().zip(&winners) {
        assert!(
            row.contains(&format!("<td>{all}</td>")),
            "agency {agency}: {row}"
        );
        assert!(
            row.starts_with(" class=\"finished\""),
            "agency {agency}: {row}"
        );
        assert!(
            row.contains(&format!("<td>{won}</td>")),
            "agency {agency} won {won}: {row}"
        );
    }
    let (exit, _) = central.terminate();
    assert!(exit.success());
}

/// The `points` of every polyline in the `<svg id="ID">` of a dumped DOM,
/// each as its `(x, y)` pairs.
fn chart_lines(dom: &str, id: &str) -> Vec<Vec<(f64, f64)>> {
    let start = dom
        .find(&format!("<svg id=\"{id}\""))
        .unwrap_or_else(|| panic!("no chart {id}: {dom}"));
    let chart = &dom[start..];
    let chart = &chart[..chart.find("</svg>").expect("a closed svg")];
    chart
        .split("<polyline ")
        .skip(1)
        .map(|line| {
            let points = line.split("points=\"").nth(1).expect("points");
            let points = &points[..points.find('"').expect("quoted points")];
            points
                .split(' ')
                .map(|pair| {
                    let (x, y) = pair.split_once(',').expect("x,y");
                    (x.parse().expect("x"), y.parse().expect("y"))
                })
                .collect()
        })
        .collect()
}

/// The number arrays of `/status`'s `history.KEY` (nulls as `None`).
fn series(status: &serde_json::Value, key: &str) -> Vec<Option<f64>> {
    status["history"][key]
        .as_array()
        .unwrap_or_else(|| panic!("history.{key}: {status}"))
        .iter()
        .map(serde_json::Value::as_f64)
        .collect()
}

#[test]
fn the_page_names_the_agencies_the_draw_waits_for_and_charts_the_run_in_headless_chromium() {
    let dir = scratch_dir("status_port_waiting");
    let (central, agency_port, http) = start_central(&dir);
    let batches = all_batches();
    // Agencies 1 to 3 finish (and wait for the draw, connected).
    let threads: Vec<_> = (1..=3)
        .map(|agency| {
            let mine = batches[&agency].clone();
            thread::spawn(move || run_agency(RawAgency::connect(agency_port), agency, &mine))
        })
        .collect();
    // Agency 4 sends half its batches, a few a second, so that the charts
    // span several samples; agency 5 never connects.
    let (mut fourth, welcome) = RawAgency::hello(agency_port, 4);
    assert_eq!(welcome, (0, 0, false));
    let mut stored = 0;
    for (index, bets) in batches[&4][..BATCHES as usize / 2].iter().enumerate() {
        let batch = index as u64 + 1;
        fourth.send(&AgencyMessage::Batch {
            batch,
            bets: bets.clone(),
        });
        stored += bets.len() as u64;
        assert_eq!(
            fourth.recv(),
            Some(CentralMessage::Ack {
                batch,
                bets_stored: stored
            })
        );
        thread::sleep(Duration::from_millis(400));
    }
    wait_for_status(http, |status| {
        status["lottery"]["agencies_finished"] == 3
            && status["history"]["at_seconds"]
                .as_array()
                .is_some_and(|at| at.len() >= 4)
    });

    let (look, _) = status(http);
    let waiting = &look["waiting"];
    assert_eq!(waiting["agencies"], 2, "{look}");
    assert_eq!(waiting["connected"]["count"], 1);
    assert_eq!(waiting["connected"]["first"], serde_json::json!([4]));
    assert_eq!(waiting["not_connected"]["count"], 1);
    assert_eq!(waiting["not_connected"]["first"], serde_json::json!([5]));
    let history = &look["history"];
    assert_eq!(history["interval_seconds"], 1.0);
    let at = series(&look, "at_seconds");
    assert!(
        at.windows(2).all(|pair| pair[0] < pair[1]),
        "ordered: {at:?}"
    );
    let rates = series(&look, "bets_per_second");
    assert_eq!(rates.len(), at.len());
    assert!(rates.iter().any(|rate| rate.unwrap() > 0.0), "{rates:?}");
    assert!(
        series(&look, "ack_p99_seconds").iter().any(Option::is_some),
        "some second acked: {history}"
    );
    assert_eq!(
        series(&look, "connections").last(),
        Some(&Some(4.0)),
        "1 to 4 are connected: {history}"
    );

    let dom = rendered_page(&dir.join("profile-waiting"), http);
    assert!(dom.contains("The draw waits for 2 agencies:"), "{dom}");
    assert!(
        dom.contains("Not connected: <span class=\"ids\">5</span>"),
        "{dom}"
    );
    assert!(
        dom.contains("Connected, not finished: <span class=\"ids\">4</span>"),
        "{dom}"
    );
    for (chart, lines) in [
        ("chart-bets", 1),
        ("chart-ack", 2),
        ("chart-connections", 1),
    ] {
        let drawn = chart_lines(&dom, chart);
        assert!(drawn.len() >= lines, "{chart}: {drawn:?}");
        let points: usize = drawn.iter().map(Vec::len).sum();
        assert!(points >= 2, "{chart} has data points: {drawn:?}");
        for (x, y) in drawn.into_iter().flatten() {
            assert!(
                (0.0..=300.0).contains(&x) && (0.0..=110.0).contains(&y),
                "{chart}: {x},{y}"
            );
        }
    }
    for external in ["src=\"http", "href=\"http", "url(http", "@import"] {
        assert!(!dom.contains(external), "no external resource ({external})");
    }
    let screenshot = screenshot_path(&dir);
    if let Some(parent) = screenshot.parent() {
        std::fs::create_dir_all(parent).expect("the screenshot's directory");
    }
    let _ = std::fs::remove_file(&screenshot);
    chromium(
        &dir.join("profile-shot"),
        &[
            "--virtual-time-budget=4000".to_owned(),
            format!("--screenshot={}", screenshot.display()),
            "--window-size=900,900".to_owned(),
        ],
        &format!("http://{http}/"),
    );
    let png = std::fs::read(&screenshot).expect("chromium wrote the screenshot");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");

    // Agency 5 runs, agency 4 finishes: the draw waits for none.
    let fifth = {
        let mine = batches[&5].clone();
        thread::spawn(move || run_agency(RawAgency::connect(agency_port), 5, &mine))
    };
    for (index, bets) in batches[&4].iter().enumerate().skip(BATCHES as usize / 2) {
        let batch = index as u64 + 1;
        fourth.send(&AgencyMessage::Batch {
            batch,
            bets: bets.clone(),
        });
        stored += bets.len() as u64;
        assert_eq!(
            fourth.recv(),
            Some(CentralMessage::Ack {
                batch,
                bets_stored: stored
            })
        );
    }
    fourth.send(&AgencyMessage::Finish { bets_sent: stored });
    assert_eq!(
        fourth.recv(),
        Some(CentralMessage::Finished {
            bets_stored: stored
        })
    );
    fourth.close();
    for thread in threads.into_iter().chain([fifth]) {
        thread.join().expect("agency thread");
    }
    wait_for_status(http, |status| status["lottery"]["draw"]["done"] == true);
    let (after, _) = status(http);
    assert_eq!(after["waiting"]["agencies"], 0, "{after}");
    assert_eq!(
        after["waiting"]["not_connected"]["first"],
        serde_json::json!([])
    );
    let (exit, _) = central.terminate();
    assert!(exit.success());
}

#[test]
fn of_a_million_expected_agencies_status_names_the_first_few_it_waits_for_and_counts_all() {
    let dir = scratch_dir("status_port_million");
    let (central, agency_port, http) = start_central_for(&dir, 1_000_000);
    // Agency 2 finishes with nothing; agencies 3 and 7 stay connected.
    let (mut second, _) = RawAgency::hello(agency_port, 2);
    second.send(&AgencyMessage::Finish { bets_sent: 0 });
    assert_eq!(
        second.recv(),
        Some(CentralMessage::Finished { bets_stored: 0 })
    );
    let (third, _) = RawAgency::hello(agency_port, 3);
    let (seventh, _) = RawAgency::hello(agency_port, 7);
    wait_for_status(http, |status| status["lottery"]["agencies_connected"] == 3);

    let (look, text) = status(http);
    let waiting = &look["waiting"];
    assert_eq!(waiting["agencies"], 999_999, "{waiting}");
    assert_eq!(waiting["connected"]["count"], 2);
    assert_eq!(waiting["connected"]["first"], serde_json::json!([3, 7]));
    assert_eq!(waiting["not_connected"]["count"], 999_997);
    assert_eq!(
        waiting["not_connected"]["first"],
        serde_json::json!([1, 4, 5, 6, 8, 9, 10, 11, 12, 13])
    );
    assert!(
        text.len() < 64 * 1024,
        "a bounded answer: {} bytes",
        text.len()
    );
    drop((second, third, seventh));
    let (exit, _) = central.terminate();
    assert!(exit.success());
}

#[test]
fn the_status_port_serves_while_the_server_runs_and_closes_with_it() {
    use lottery_core::{Durability, LotteryRules};
    use lottery_server::{Server, ServerConfig, StopReason, open_watched_central};

    let dir = scratch_dir("status_port_in_process");
    let store = dir.join("bets.csv");
    let rules = LotteryRules {
        agencies: 2,
        ..LotteryRules::default()
    };
    let (central, watch) =
        open_watched_central(&store, Durability::Fsync, rules).expect("open the store");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let config = ServerConfig {
        threads: 1,
        http: Some("127.0.0.1:0".parse().unwrap()),
        ..ServerConfig::default()
    };
    let server = Server::new(listener, central, config)
        .expect("build the server")
        .watch_store(watch);
    let http = server.http_addr().expect("the status port is bound");
    assert_ne!(http.port(), 0);
    let shutdown = server.shutdown_handle();
    let running = thread::spawn(move || server.run());
    // Bound before run, served once the agency port accepts.
    wait_for_status(http, |status| status["lottery"]["agencies_expected"] == 2);
    assert_eq!(get(http, "/readyz"), (200, "ready\n".to_owned()));
    let (status, _) = status(http);
    assert_eq!(
        status["lottery"]["store"]["path"],
        store.display().to_string()
    );
    assert_eq!(status["agencies"], serde_json::json!([]));

    shutdown.shutdown();
    let stopped = running.join().expect("no panic").expect("a clean stop");
    assert_eq!(stopped, StopReason::Requested);
    // Closed with the server (its accept thread may take a moment to let go
    // of the socket: a safety deadline, not a timing assert).
    let deadline = Instant::now() + SAFETY_TIMEOUT;
    while std::net::TcpStream::connect(http).is_ok() {
        assert!(Instant::now() < deadline, "the status port still accepts");
        thread::sleep(Duration::from_millis(10));
    }
}

/// `curl` with `args` (the URL among them): the status code and the body;
/// `None` when curl could not make the request (a TLS failure, say).
fn curl(args: &[&str]) -> Option<(u16, String)> {
    let output = Command::new("curl")
        .args(["-sS", "--max-time", "30", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("run curl (.ci/run installs it when missing)");
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).expect("UTF-8");
    let (body, code) = text.rsplit_once('\n').expect("the status code line");
    Some((code.parse().expect("a status code"), body.to_owned()))
}

/// A PKI for `127.0.0.1` (its CA, the status port's certificate and key)
/// and a token file, in `dir`.
fn tls_and_token(dir: &Path) -> (lottery_tls::PkiFiles, PathBuf) {
    let agency = [lottery_bet::AgencyId::new(1).unwrap()];
    let pki = lottery_tls::write_pki(&dir.join("pki"), &agency, &["127.0.0.1".to_owned()])
        .expect("write a PKI");
    let token = dir.join("status.token");
    std::fs::write(&token, "4f7c1e-status-token\n").expect("write the token");
    (pki, token)
}

fn admin_status(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lottery-admin"))
        .arg("status")
        .args(args)
        .env_remove("SERVER_HTTP_LISTEN")
        .output()
        .expect("run lottery-admin")
}

#[test]
fn the_status_port_speaks_https_and_asks_for_its_token_everywhere_but_healthz() {
    let dir = scratch_dir("status_port_tls_token");
    let (pki, token) = tls_and_token(&dir);
    let (cert, key) = pki.server();
    let ca = pki.ca().display().to_string();
    let store = dir.join("bets.csv").display().to_string();
    let mut central = Process::start(&[
        "--listen",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
        "--agencies",
        "1",
        "--store",
        &store,
        "--http-tls-cert",
        cert.to_str().unwrap(),
        "--http-tls-key",
        key.to_str().unwrap(),
        "--http-token-file",
        token.to_str().unwrap(),
    ]);
    let http = central.address("action: serve_http | result: in_progress");
    let config = central.wait_for_line("action: config");
    assert!(config.contains("http_tls: on | http_token: on"), "{config}");
    assert!(
        !config.contains("4f7c1e"),
        "the token is never logged: {config}"
    );
    let base = format!("https://{http}");
    let bearer = "Authorization: Bearer 4f7c1e-status-token";

    // /healthz is open; everything else needs the token.
    let healthz = curl(&["--cacert", &ca, &format!("{base}/healthz")]);
    assert_eq!(healthz, Some((200, "ok\n".to_owned())));
    for path in ["/status", "/metrics", "/readyz", "/"] {
        let url = format!("{base}{path}");
        assert_eq!(
            curl(&["--cacert", &ca, &url]).map(|(code, _)| code),
            Some(401)
        );
        let wrong = "Authorization: Bearer 4f7c1e-status-tokeN";
        let refused = curl(&["--cacert", &ca, "-H", wrong, &url]);
        assert_eq!(refused.map(|(code, _)| code), Some(401), "{path}");
        let (code, _) = curl(&["--cacert", &ca, "-H", bearer, &url]).expect("an answer");
        assert_eq!(code, 200, "{path}");
    }
    let (_, body) = curl(&["--cacert", &ca, "-H", bearer, &format!("{base}/status")]).unwrap();
    let status: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(status["lottery"]["agencies_expected"], 1);
    let (_, metrics) = curl(&["--cacert", &ca, "-H", bearer, &format!("{base}/metrics")]).unwrap();
    assert!(
        metrics.contains("\nlottery_http_unauthorized_total 8\n"),
        "{metrics}"
    );
    // Only TLS: a certificate from no trusted CA, or plain HTTP, gets nothing.
    assert_eq!(curl(&[&format!("{base}/healthz")]), None);
    assert_eq!(curl(&[&format!("http://{http}/healthz")]), None);

    // lottery-admin over https, with and without the token.
    let addr = http.to_string();
    let token = token.to_str().unwrap();
    let output = admin_status(&["--http", &addr, "--ca", &ca, "--token-file", token]);
    let table = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{table}{output:?}");
    assert!(
        table.contains(&format!("status: https://{http}/status\n")),
        "{table}"
    );
    assert!(table.contains("agencies: 1 expected"), "{table}");
    let output = admin_status(&["--http", &format!("https://{http}"), "--ca", &ca]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("answered HTTP 401"));

    let (exit, _) = central.terminate();
    assert!(exit.success(), "{exit:?}");
}

#[test]
fn a_token_alone_guards_a_plain_status_port_and_an_empty_one_is_refused_at_startup() {
    let dir = scratch_dir("status_port_token");
    let (_, token) = tls_and_token(&dir);
    let store = dir.join("bets.csv").display().to_string();
    let token_flag = token.to_str().unwrap();
    let mut args = vec![
        "--listen",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
        "--agencies",
        "1",
        "--store",
        &store,
        "--http-token-file",
        token_flag,
    ];
    let mut central = Process::start(&args);
    let http = central.address("action: serve_http | result: in_progress");
    assert_eq!(get(http, "/healthz"), (200, "ok\n".to_owned()));
    assert_eq!(get(http, "/status").0, 401);
    let bearer = "Authorization: bearer 4f7c1e-status-token";
    let url = format!("http://{http}/status");
    assert_eq!(curl(&["-H", bearer, &url]).map(|(code, _)| code), Some(200));
    let (exit, _) = central.terminate();
    assert!(exit.success(), "{exit:?}");

    let empty = dir.join("empty.token");
    std::fs::write(&empty, " \n").unwrap();
    let last = args.len() - 1;
    args[last] = empty.to_str().unwrap();
    let output = Command::new(BINARY)
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .expect("run lottery-server");
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("http-token-file") && stderr.contains("empty"),
        "{stderr}"
    );
}

#[test]
fn a_status_port_allowed_off_loopback_without_tls_and_token_is_a_startup_warning() {
    let dir = scratch_dir("status_port_remote_warning");
    let store = dir.join("bets.csv").display().to_string();
    let mut central = Process::start(&[
        "--listen",
        "127.0.0.1:0",
        "--http",
        "0.0.0.0:0",
        "--http-allow-remote",
        "--agencies",
        "1",
        "--store",
        &store,
    ]);
    let line = central.wait_for_line("action: http_security");
    assert!(
        line.contains(" WARNING  action: http_security | result: fail | listen: 0.0.0.0:")
            && line.contains("tls: off | token: off | warning: "),
        "{line}"
    );
    let (exit, _) = central.terminate();
    assert!(exit.success(), "{exit:?}");
}
