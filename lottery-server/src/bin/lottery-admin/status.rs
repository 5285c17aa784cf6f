//! `lottery-admin status --http ADDR`: the central's `/status` document
//! (README, "Watching a run"), fetched over HTTP, or HTTPS with `--ca FILE` (the CA
//! the status port's certificate must chain to), with the port's bearer
//! token from `--token-file FILE` when it asks for one, and printed as a
//! table, or as the raw JSON with `--json`.
//!
//! The document's shape is the one the central's HTTP listener serves; fields
//! may be added to it, never renamed, so unknown fields are ignored here and
//! only the ones the table shows are required. Nothing here writes HTTP by
//! hand: `ureq` does the request.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};

use serde::Deserialize;

/// How long the whole request may take: a central that accepts and then says
/// nothing must not hang the operator's terminal.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the status could not be shown. Each message says what failed and
/// where; `main` prints it with its source chain.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// Nothing answered at the address (refused, unreachable, timed out).
    #[error("cannot reach the central's HTTP listener at {url}")]
    Unreachable {
        /// What was asked for.
        url: String,
        /// What the client answered.
        #[source]
        source: Box<ureq::Error>,
    },
    /// Something answered, but not `200 OK`.
    #[error("{url} answered HTTP {code}, not 200 OK{}", reason_text(reason))]
    NotOk {
        /// What was asked for.
        url: String,
        /// The HTTP status code.
        code: u16,
        /// The start of the response body, if any.
        reason: String,
    },
    /// The `--ca` or `--token-file` file cannot be used.
    #[error("{0}")]
    Setup(String),
    /// The answer is not the `/status` document: not JSON, or JSON missing a
    /// field the table needs (the message names it).
    #[error("{url} did not answer a /status document")]
    Shape {
        /// What was asked for.
        url: String,
        /// Where the parse stopped.
        #[source]
        source: serde_json::Error,
    },
}

fn reason_text(reason: &str) -> String {
    if reason.is_empty() {
        String::new()
    } else {
        format!(": {reason}")
    }
}

/// Where `--http` points: its scheme when it names one, and `HOST:PORT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusAddr {
    /// `Some(true)` for `https://`, `Some(false)` for `http://`, `None` for
    /// a bare `HOST:PORT` (https when `--ca` is given).
    https: Option<bool>,
    authority: String,
}

/// `--http`: `HOST:PORT`, `http://HOST:PORT` or `https://HOST:PORT` (a
/// trailing `/` or `/status` allowed).
pub fn parse_status_addr(text: &str) -> Result<StatusAddr, String> {
    let text = text.trim();
    let (https, rest) = match text.find("://") {
        Some(at) if text[..at].eq_ignore_ascii_case("http") => (Some(false), &text[at + 3..]),
        Some(at) if text[..at].eq_ignore_ascii_case("https") => (Some(true), &text[at + 3..]),
        Some(at) => {
            return Err(format!(
                "unknown scheme {:?} (expected http or https)",
                &text[..at]
            ));
        }
        None => (None, text),
    };
    let rest = rest.strip_suffix("/status").unwrap_or(rest);
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.is_empty() || authority.contains('/') {
        return Err("expected HOST:PORT, http://HOST:PORT or https://HOST:PORT (no path)".into());
    }
    Ok(StatusAddr {
        https,
        authority: authority.to_owned(),
    })
}

impl StatusAddr {
    /// The URL of `/status`: https exactly when a CA is given (`with_ca`).
    ///
    /// # Errors
    /// `https://` without a CA to check the port's certificate, or
    /// `http://` with one (a usage error: exit 2).
    pub fn url(&self, with_ca: bool) -> Result<String, String> {
        match (self.https, with_ca) {
            (Some(true), false) => Err("https needs --ca FILE: the CA the status port's \
                 certificate must chain to (there are no built-in roots)"
                .into()),
            (Some(false), true) => {
                Err("--ca is for https: give https://HOST:PORT or HOST:PORT".into())
            }
            (_, true) => Ok(format!("https://{}/status", self.authority)),
            (_, false) => Ok(format!("http://{}/status", self.authority)),
        }
    }
}

/// The bearer token of `path` (surrounding whitespace dropped).
///
/// # Errors
/// [`StatusError::Setup`]: the file cannot be read or holds no token.
pub fn read_token(path: &Path) -> Result<String, StatusError> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        StatusError::Setup(format!(
            "cannot read the token file {}: {error}",
            path.display()
        ))
    })?;
    let token = text.trim();
    if token.is_empty() {
        return Err(StatusError::Setup(format!(
            "the token file {} is empty",
            path.display()
        )));
    }
    Ok(token.to_owned())
}

/// The client: plain, or TLS with `ca`'s certificates as its only roots
/// (rustls with the ring provider, handed over explicitly: the build has
/// no other provider, and no built-in roots).
fn agent(ca: Option<&Path>) -> Result<ureq::Agent, StatusError> {
    let mut config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(REQUEST_TIMEOUT));
    if let Some(ca) = ca {
        let roots = lottery_tls::load_certificates(ca, "CA")
            .map_err(|error| StatusError::Setup(lottery_log::chain(&error)))?;
        let roots: Vec<Certificate<'static>> = roots
            .iter()
            .map(|der| Certificate::from_der(der.as_ref()).to_owned())
            .collect();
        config = config.tls_config(
            TlsConfig::builder()
                .provider(TlsProvider::Rustls)
                .root_certs(RootCerts::Specific(Arc::new(roots)))
                .unversioned_rustls_crypto_provider(Arc::new(
                    rustls::crypto::ring::default_provider(),
                ))
                .build(),
        );
    }
    Ok(config.build().into())
}

/// Fetches `url` (checking its certificate against `ca`, sending `token`)
/// and returns its body, checked to be a `/status` document.
///
/// # Errors
/// [`StatusError`]: the CA cannot be loaded, nothing answered, the answer
/// was not `200 OK`, or the body is not a `/status` document.
pub fn fetch(
    url: &str,
    ca: Option<&Path>,
    token: Option<&str>,
) -> Result<(String, Status), StatusError> {
    let agent = agent(ca)?;
    let unreachable = |source| StatusError::Unreachable {
        url: url.to_string(),
        source: Box::new(source),
    };
    let mut request = agent.get(url);
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    let mut response = request.call().map_err(unreachable)?;
    let code = response.status().as_u16();
    let body = response.body_mut().read_to_string().map_err(unreachable)?;
    if code != 200 {
        /// Enough of an error body to say why, never a page of HTML.
        const REASON_CHARS: usize = 200;
        let reason: String = body.trim().chars().take(REASON_CHARS).collect();
        return Err(StatusError::NotOk {
            url: url.to_string(),
            code,
            reason: reason.replace(['\r', '\n'], " "),
        });
    }
    let status = serde_json::from_str(&body).map_err(|source| StatusError::Shape {
        url: url.to_string(),
        source,
    })?;
    Ok((body, status))
}

/// The `/status` document: what the table shows of it.
#[derive(Debug, Deserialize)]
pub struct Status {
    lottery: Lottery,
    latency: Latency,
    agencies: Vec<Agency>,
    /// Absent from a central older than the field: then no line for it.
    #[serde(default)]
    waiting: Option<Waiting>,
}

/// The agencies the draw waits for: not connected, or connected and not
/// finished, each as the first few numbers and a count.
#[derive(Debug, Deserialize)]
struct Waiting {
    agencies: u64,
    not_connected: Listed,
    connected: Listed,
}

/// The first few agencies of a kind, and how many there are.
#[derive(Debug, Deserialize)]
struct Listed {
    count: u64,
    first: Vec<u64>,
}

impl Listed {
    /// `1, 2, 3`, `1, 2 and 8 more`, `10 agencies` (none listed), or `none`.
    fn describe(&self) -> String {
        if self.count == 0 {
            return "none".to_string();
        }
        if self.first.is_empty() {
            return format!("{} agencies", self.count);
        }
        let listed: Vec<String> = self.first.iter().map(u64::to_string).collect();
        let rest = self.count.saturating_sub(self.first.len() as u64);
        match rest {
            0 => listed.join(", "),
            _ => format!("{} and {rest} more", listed.join(", ")),
        }
    }
}

#[derive(Debug, Deserialize)]
struct Lottery {
    agencies_expected: u64,
    agencies_connected: u64,
    agencies_finished: u64,
    bets_stored: u64,
    batches_acked: u64,
    connections: u64,
    draw: Draw,
    store: Store,
    tls: String,
    uptime_seconds: f64,
}

#[derive(Debug, Deserialize)]
struct Draw {
    done: bool,
    winners: Option<u64>,
    winning_number: Option<u64>,
}

/// The store; either fact may be unknown (`null`: a store that is no file,
/// a size not read yet).
#[derive(Debug, Deserialize)]
struct Store {
    path: Option<String>,
    bytes: Option<u64>,
}

impl Store {
    /// `PATH (N bytes)`, with what is known of it; `-` for nothing.
    fn describe(&self) -> String {
        match (&self.path, self.bytes) {
            (Some(path), Some(bytes)) => format!("{path} ({bytes} bytes)"),
            (Some(path), None) => path.clone(),
            (None, Some(bytes)) => format!("{bytes} bytes"),
            (None, None) => "-".to_string(),
        }
    }
}

#[derive(Debug, Deserialize)]
struct Latency {
    ack_seconds: Quantiles,
    sync_seconds: Quantiles,
}

#[derive(Debug, Deserialize)]
struct Quantiles {
    count: u64,
    p50: Option<f64>,
    p99: Option<f64>,
    /// Absent from a central older than the field (shown as `-`).
    #[serde(default)]
    p999: Option<f64>,
    max: Option<f64>,
}

#[derive(Debug, Deserialize)]
struct Agency {
    agency: u64,
    connected: bool,
    bets: u64,
    last_batch: u64,
    finished: bool,
    winners: Option<u64>,
}

/// The status as a table, for terminals and scripts: one fact a line
/// (`name: value`), then one row per agency. Numbers are plain (no thousands
/// separators); a value not known yet (winners before the draw, a quantile
/// of no samples) is `-`.
pub fn table(url: &str, status: &Status) -> String {
    let lottery = &status.lottery;
    let mut out = String::new();
    let _ = writeln!(out, "status: {url}");
    let _ = writeln!(
        out,
        "agencies: {} expected, {} connected, {} finished",
        lottery.agencies_expected, lottery.agencies_connected, lottery.agencies_finished
    );
    let _ = writeln!(out, "bets stored: {}", lottery.bets_stored);
    let _ = writeln!(out, "batches acked: {}", lottery.batches_acked);
    let _ = writeln!(out, "connections: {}", lottery.connections);
    let draw = &lottery.draw;
    if draw.done {
        let _ = writeln!(
            out,
            "draw: done, winning number {}, {} winners",
            known(draw.winning_number),
            known(draw.winners)
        );
    } else {
        out.push_str("draw: not yet\n");
        if let Some(waiting) = &status.waiting {
            let _ = writeln!(
                out,
                "draw waits for: {} agencies (not connected: {}; connected, not finished: {})",
                waiting.agencies,
                waiting.not_connected.describe(),
                waiting.connected.describe()
            );
        }
    }
    let _ = writeln!(out, "store: {}", lottery.store.describe());
    let _ = writeln!(out, "tls: {}", lottery.tls);
    let _ = writeln!(out, "uptime: {:.1} s", lottery.uptime_seconds);
    latency_line(
        &mut out,
        "ack latency",
        "batches",
        &status.latency.ack_seconds,
    );
    latency_line(
        &mut out,
        "sync latency",
        "syncs",
        &status.latency.sync_seconds,
    );
    agencies_table(&status.agencies, &mut out);
    out
}

/// `NAME: p50 X ms, p99 Y ms, p99.9 Z ms, max M ms (N WHAT)`.
fn latency_line(out: &mut String, name: &str, what: &str, quantiles: &Quantiles) {
    let millis = |seconds: Option<f64>| {
        seconds.map_or_else(|| "-".to_string(), |s| format!("{:.3} ms", s * 1_000.0))
    };
    let _ = writeln!(
        out,
        "{name}: p50 {}, p99 {}, p99.9 {}, max {} ({} {what})",
        millis(quantiles.p50),
        millis(quantiles.p99),
        millis(quantiles.p999),
        millis(quantiles.max),
        quantiles.count
    );
}

/// One row per agency: connected, bets, last batch, finished, winners.
fn agencies_table(agencies: &[Agency], out: &mut String) {
    let _ = writeln!(
        out,
        "{:>8} {:>10} {:>12} {:>11} {:>9} {:>8}",
        "agency", "connected", "bets", "last_batch", "finished", "winners"
    );
    for agency in agencies {
        let _ = writeln!(
            out,
            "{:>8} {:>10} {:>12} {:>11} {:>9} {:>8}",
            agency.agency,
            yes_no(agency.connected),
            agency.bets,
            agency.last_batch,
            yes_no(agency.finished),
            known(agency.winners)
        );
    }
}

fn yes_no(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}

fn known(value: Option<u64>) -> String {
    value.map_or_else(|| "-".to_string(), |value| value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(given: &str, with_ca: bool) -> Result<String, String> {
        parse_status_addr(given)?.url(with_ca)
    }

    #[test]
    fn addresses_become_the_url_of_status() {
        for given in [
            "127.0.0.1:9100",
            "http://127.0.0.1:9100",
            "http://127.0.0.1:9100/",
            "HTTP://127.0.0.1:9100",
            "http://127.0.0.1:9100/status",
        ] {
            assert_eq!(
                url(given, false).as_deref(),
                Ok("http://127.0.0.1:9100/status"),
                "{given}"
            );
        }
        for given in ["127.0.0.1:9100", "https://127.0.0.1:9100/status"] {
            assert_eq!(
                url(given, true).as_deref(),
                Ok("https://127.0.0.1:9100/status"),
                "{given}"
            );
        }
        assert_eq!(
            url("localhost:80", false).as_deref(),
            Ok("http://localhost:80/status")
        );
    }

    #[test]
    fn https_without_a_ca_other_schemes_and_paths_are_refused_saying_why() {
        let https = url("https://central:9100", false).unwrap_err();
        assert!(https.contains("--ca"), "{https}");
        let http = url("http://central:9100", true).unwrap_err();
        assert!(http.contains("https"), "{http}");
        assert!(parse_status_addr("ftp://central:21").is_err());
        assert!(parse_status_addr("http://central:9100/metrics").is_err());
        assert!(parse_status_addr("").is_err());
        assert!(parse_status_addr("http://").is_err());
    }
}
