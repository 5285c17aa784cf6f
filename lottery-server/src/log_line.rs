//! Every log line the server library writes, one typed function each: a
//! line's text (its action, its result, the order and names of its details)
//! is written here and nowhere else in the library. The binary's own three
//! (`config` once the settings are read, `exit` with its reason or error)
//! are in `main.rs`, which cannot reach this crate-private module.
//!
//! The lines follow SPEC 6 (`action: NAME | result: success|fail|in_progress
//! | key: value ...`); the course's own checks read `apuesta_recibida`,
//! `sorteo` and `consulta_ganadores` exactly, and the tests and benchmarks
//! pin others, so a change of text here is a change of the product. The
//! logger behind the `log` macros (the time, the level, the deferred writes
//! of an event loop) is `lottery_log`'s.
//!
//! A disabled level costs nothing: a function formats only inside its `log`
//! macro, and no argument is built beforehand (an agency that may be missing
//! is shown through [`AgencyOr`], not a `String`).
//!
//! Lines about a peer not bound to an agency (accepted, refused at the
//! handshake or over the connection limit, timed out, closed without ever
//! binding) and protocol errors (malformed frames, whoever sent them) are
//! rate limited per peer address (`log_limit.rs`, through [`limited`]): what
//! is suppressed is summarized in `log_suppressed` lines, so no
//! unauthenticated peer can fill the disk. A bound agency's lines (its
//! handshake, batches, finish, winners, close) are never limited.

use std::fmt::{self, Display};
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use log::{Level, debug, error, info, log, log_enabled, warn};
use lottery_core::{
    AgencyId, DrawSummary, Durability, Finish, Quarantined, ResumePoint, StoreError, SubmitError,
    Submitted,
};
use lottery_log::chain;
use lottery_net::{DecodeError, EncodeError};

use crate::error::ServerError;
use crate::log_limit::{LIMITS, LogLimit, Suppressed};

/// The process's limiter of lines about untrusted peers: one for the process,
/// since what it protects (the log and its disk) is the process's.
static LIMIT: LazyLock<LogLimit> = LazyLock::new(|| LogLimit::new(LIMITS, Instant::now()));

/// `log_suppressed` summaries written one by one at once; more are added up
/// in one line (an eviction or a shutdown may hand back many).
const SUMMARIES_LISTED: usize = 20;

/// An agency, or the word standing in its place when there is none.
struct AgencyOr(Option<AgencyId>, &'static str);

impl Display for AgencyOr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(agency) => agency.fmt(f),
            None => f.write_str(self.1),
        }
    }
}

/// No agency yet (before the handshake).
fn or_none(agency: Option<AgencyId>) -> AgencyOr {
    AgencyOr(agency, "none")
}

// --- the limit on lines about untrusted peers ------------------------------

/// Writes a line about `peer` at `level` (`line` writes it) if the peer's
/// budget allows, after the summary of what it suppressed before. Nothing is
/// spent when `level` is disabled.
fn limited(level: Level, peer: SocketAddr, line: impl FnOnce()) {
    if !log_enabled!(level) {
        return;
    }
    let decision = LIMIT.check(peer.ip(), Instant::now());
    suppressed(&decision.summaries);
    if decision.write {
        line();
    }
}

/// `log_suppressed`: how many lines about a peer were not written.
fn suppressed(summaries: &[Suppressed]) {
    for summary in summaries.iter().take(SUMMARIES_LISTED) {
        warn!(
            "action: log_suppressed | result: success | peer: {} | suppressed: {}",
            summary.peer, summary.lines
        );
    }
    let rest = summaries.get(SUMMARIES_LISTED..).unwrap_or_default();
    if !rest.is_empty() {
        let lines: u64 = rest.iter().map(|summary| summary.lines).sum();
        warn!(
            "action: log_suppressed | result: success | peer: many | peers: {} | suppressed: {lines}",
            rest.len()
        );
    }
}

/// At shutdown: the counts of suppressed lines not summarized yet.
pub(crate) fn suppressed_at_shutdown() {
    suppressed(&LIMIT.drain());
}

// --- the store ---------------------------------------------------------------

/// Opening the store cut a tail off `bets.csv` (`repair_store`) or its
/// journal (`repair_journal`), kept in a quarantine file. At ERROR when more
/// than a torn line went: batches written but never committed (so never
/// acked), or records of data a power cut took; kept, and worth a look.
pub(crate) fn store_repaired(path: &Path, cut: &Quarantined) {
    let action = if cut.journal {
        "repair_journal"
    } else {
        "repair_store"
    };
    let (level, note) = if cut.whole_lines {
        (Level::Error, " | note: more than a torn line was cut")
    } else {
        (Level::Warn, "")
    };
    log!(
        level,
        "action: {action} | result: success | path: {} | truncated_bytes: {} | quarantine: {}{note}",
        path.display(),
        cut.bytes,
        cut.file
    );
}

/// Opening the store adopted a `bets.csv` without journal (a course store).
pub(crate) fn store_adopted(path: &Path, bets: u64) {
    warn!(
        "action: adopt_store | result: success | path: {} | bets: {bets} | note: a bets.csv without journal (a course store); its rows are now vouched for by a new journal",
        path.display()
    );
}

/// What the opened store holds.
pub(crate) fn store_opened(
    path: &Path,
    durability: Durability,
    bets: u64,
    agencies_with_bets: usize,
    finished: usize,
) {
    info!(
        "action: open_store | result: success | path: {} | durability: {durability} | bets: {bets} | agencies_with_bets: {agencies_with_bets} | agencies_finished: {finished}",
        path.display()
    );
}

/// Where one agency stands in the opened store.
pub(crate) fn agency_recovered(agency: AgencyId, last_batch: u64, bets: u64, finished: bool) {
    debug!(
        "action: recover_agency | result: success | agency: {agency} | last_batch: {last_batch} | bets: {bets} | finished: {finished}"
    );
}

/// The draw, done before a restart, recomputed from the store (not `sorteo`:
/// that is the draw happening).
pub(crate) fn draw_recovered(summary: &DrawSummary) {
    let winners: u64 = summary.winners_per_agency.iter().sum();
    info!(
        "action: recover_draw | result: success | bets: {} | winners: {winners}",
        summary.bets
    );
}

// --- the server and its acceptor ----------------------------------------------

/// The server listens.
pub(crate) fn accepting(listen: SocketAddr, threads: usize) {
    info!(
        "action: accept_connections | result: in_progress | listen: {listen} | threads: {threads}"
    );
}

/// The status port serves (said once at startup, after `accept_connections`).
pub(crate) fn serving_http(listen: SocketAddr) {
    info!(
        "action: serve_http | result: in_progress | listen: {listen} | paths: /metrics /status / \
         /healthz /readyz"
    );
}

/// The status port could not take a request (it goes on).
pub(crate) fn http_failed(error: &io::Error) {
    error!("action: serve_http | result: fail | error: {error}");
}

/// The status port could not start (the server stops).
pub(crate) fn http_start_failed(error: &io::Error) {
    error!("action: serve_http | result: fail | error: cannot start its thread: {error}");
}

/// The status port's connections were all in use: the least recently
/// active one, `peer`'s, was closed for a new one.
pub(crate) fn http_evicted(peer: SocketAddr, max: usize) {
    limited(Level::Warn, peer, || {
        warn!(
            "action: http_connection | result: fail | peer: {peer} | error: closed for a new \
             connection: the status port's {max} connections were in use and this one was the \
             least recently active (see --http-max-connections)"
        );
    });
}

/// What protects the status port, said once at startup: a WARNING when it
/// listens off loopback without both TLS and a token.
pub(crate) fn http_security(listen: SocketAddr, tls: bool, token: bool) {
    let on_off = |on: bool| if on { "on" } else { "off" };
    if listen.ip().is_loopback() || (tls && token) {
        info!(
            "action: http_security | result: success | listen: {listen} | tls: {} | token: {}",
            on_off(tls),
            on_off(token)
        );
    } else {
        warn!(
            "action: http_security | result: fail | listen: {listen} | tls: {} | token: {} | \
             warning: the status port listens off loopback without both TLS and a token: \
             anyone who reaches it can read the lottery's counts{}; give --http-tls-cert, \
             --http-tls-key and --http-token-file (see SECURITY.md)",
            on_off(tls),
            on_off(token),
            if tls {
                ""
            } else {
                " and the token on the wire"
            }
        );
    }
}

/// The status port is closed.
pub(crate) fn http_closed() {
    info!("action: close_http | result: success");
}

/// What the agency port protects, said once at startup: a WARNING unless
/// agencies are authenticated by certificate.
pub(crate) fn security(listen: SocketAddr, tls: Option<&lottery_tls::ServerTls>) {
    match tls {
        None => warn!(
            "action: security | result: fail | listen: {listen} | tls: off | warning: plaintext: \
             any peer can act as any agency (send its bets, finish it, read its winners) and \
             read the bets on the wire; see SECURITY.md for TLS with client certificates"
        ),
        Some(tls) if !tls.authenticates_agencies() => warn!(
            "action: security | result: fail | listen: {listen} | tls: server-only | warning: \
             no client certificates: any peer can act as any agency; give --tls-client-ca to \
             authenticate agencies (see SECURITY.md)"
        ),
        Some(_) => info!(
            "action: security | result: success | listen: {listen} | tls: mutual | agencies: \
             authenticated by client certificate (subjectAltName DNS agency-N)"
        ),
    }
}

/// A connection was accepted.
pub(crate) fn accepted(peer: SocketAddr) {
    limited(Level::Info, peer, || {
        info!("action: accept_connections | result: success | peer: {peer}");
    });
}

/// Accepting failed (out of file descriptors, say); the acceptor retries.
pub(crate) fn accept_failed(error: &io::Error) {
    error!("action: accept_connections | result: fail | error: {error}");
}

/// A connection over the limit was refused.
pub(crate) fn over_connection_limit(peer: SocketAddr, max: usize) {
    limited(Level::Warn, peer, || {
        warn!(
            "action: accept_connections | result: fail | peer: {peer} | error: too many connections (limit {max})"
        );
    });
}

/// An accepted connection could not be registered with its loop.
pub(crate) fn register_failed(peer: SocketAddr, error: &io::Error) {
    warn!("action: accept_connections | result: fail | peer: {peer} | error: {error}");
}

/// A signal asked the server to stop.
pub(crate) fn signal_received(name: &str) {
    info!("action: signal | result: success | signal: {name}");
}

/// `exit_when_done`: every agency was served and left.
pub(crate) fn done(agencies: u32) {
    info!("action: exit_when_done | result: success | agencies: {agencies}");
}

/// A newer connection of `agency` replaces the one it had.
pub(crate) fn connection_replaced(agency: AgencyId) {
    info!("action: replace_connection | result: in_progress | agency: {agency}");
}

/// A loop's waker failed.
pub(crate) fn wake_failed(error: &io::Error) {
    error!("action: wake_loop | result: fail | error: {error}");
}

/// A shutdown request could not wake the acceptor.
pub(crate) fn shutdown_wake_failed(error: &io::Error) {
    error!("action: shutdown | result: fail | error: cannot wake the acceptor: {error}");
}

/// The server starts stopping.
pub(crate) fn shutdown_started(reason: impl Display) {
    info!("action: shutdown | result: in_progress | reason: {reason}");
}

/// The server's handle on the store is closed.
pub(crate) fn store_closed() {
    info!("action: close_store | result: success");
}

/// The server stopped cleanly.
pub(crate) fn shutdown_done(reason: impl Display) {
    info!("action: shutdown | result: success | reason: {reason}");
}

/// The server stopped on an error.
pub(crate) fn shutdown_failed(error: &ServerError) {
    error!("action: shutdown | result: fail | error: {}", chain(error));
}

// --- the event loops ------------------------------------------------------------

/// A connection is gone (`agency` is the one its handshake bound it to;
/// limited when there is none).
pub(crate) fn connection_closed(agency: Option<AgencyId>, peer: SocketAddr, reason: &str) {
    let line = || {
        info!(
            "action: close_connection | result: success | agency: {} | peer: {peer} | reason: {reason}",
            or_none(agency)
        );
    };
    match agency {
        Some(_) => line(),
        None => limited(Level::Info, peer, line),
    }
}

/// A connection missed its handshake or idle deadline (limited before the
/// handshake).
pub(crate) fn timed_out(agency: Option<AgencyId>, peer: SocketAddr, why: impl Display) {
    let line = || {
        warn!(
            "action: timeout | result: fail | agency: {} | peer: {peer} | error: {why}",
            or_none(agency)
        );
    };
    match agency {
        Some(_) => line(),
        None => limited(Level::Warn, peer, line),
    }
}

/// An event loop's thread ends.
pub(crate) fn event_loop_exited(index: usize) {
    debug!("action: event_loop_exit | result: success | loop: {index}");
}

// --- the sessions ---------------------------------------------------------------

/// A handshake in another protocol version (limited).
pub(crate) fn handshake_unsupported_version(agency: u32, peer: SocketAddr, version: u16) {
    handshake_refused(
        agency,
        peer,
        format_args!("unsupported protocol version {version}"),
    );
}

/// A handshake refused for `why` (the refusal's own text; limited).
pub(crate) fn handshake_refused(agency: u32, peer: SocketAddr, why: impl Display) {
    limited(Level::Warn, peer, || {
        warn!("action: handshake | result: fail | agency: {agency} | peer: {peer} | error: {why}");
    });
}

/// A handshake bound a connection to `agency`, which stands at `point`.
pub(crate) fn handshake(agency: AgencyId, point: &ResumePoint) {
    info!(
        "action: handshake | result: success | agency: {agency} | last_batch: {} | bets_stored: {} | finished: {}",
        point.last_batch, point.bets_stored, point.finished
    );
}

/// A batch with an invalid bet, refused whole (`why` names the bet).
pub(crate) fn batch_invalid(agency: AgencyId, batch: u64, bets: u64, why: &str) {
    batch_failed(Level::Warn, agency, batch, bets, why);
}

/// A batch the lottery refused as it was begun; a store failure is an error,
/// anything else the agency's mistake.
pub(crate) fn batch_refused(agency: AgencyId, batch: u64, bets: u64, refused: &SubmitError) {
    let level = if matches!(refused, SubmitError::Store(_)) {
        Level::Error
    } else {
        Level::Warn
    };
    batch_failed(level, agency, batch, bets, chain(refused));
}

/// What a begun batch came to: the course's `apuesta_recibida` line (with the
/// count stored), or `batch_resent` for one stored before. `agency` is
/// `None` when the session ended meanwhile.
pub(crate) fn batch_received(
    agency: Option<AgencyId>,
    batch: u64,
    bets: u64,
    outcome: &Result<Submitted, SubmitError>,
) {
    let agency = AgencyOr(agency, "ended");
    match outcome {
        Ok(Submitted::Stored { bets, .. }) => info!(
            "action: apuesta_recibida | result: success | cantidad: {bets} | agency: {agency} | batch: {batch}"
        ),
        // Stored before (and whatever a later core adds: acked, not stored now).
        Ok(_) => info!(
            "action: batch_resent | result: success | cantidad: {bets} | agency: {agency} | batch: {batch} | note: stored before, acked again"
        ),
        Err(refused) => batch_failed(Level::Error, agency, batch, bets, chain(refused)),
    }
}

fn batch_failed(level: Level, agency: impl Display, batch: u64, bets: u64, error: impl Display) {
    log!(
        level,
        "action: apuesta_recibida | result: fail | cantidad: {bets} | agency: {agency} | batch: {batch} | error: {error}"
    );
}

/// A finish recorded, and for the last one the course's draw line, with what
/// the draw found and how long completing the finish took (its record's
/// commit, and the draw's: taken from the central's running tally, then
/// recorded).
pub(crate) fn finished(agency: AgencyId, bets_sent: u64, finish: &Finish, took: Duration) {
    match finish {
        Finish::Waiting { remaining } => info!(
            "action: finish | result: success | agency: {agency} | bets: {bets_sent} | remaining: {remaining}"
        ),
        Finish::Drew(summary) => {
            info!(
                "action: finish | result: success | agency: {agency} | bets: {bets_sent} | remaining: 0"
            );
            let winners: u64 = summary.winners_per_agency.iter().sum();
            info!(
                "action: sorteo | result: success | bets: {} | winners: {winners} | duration_ms: {:.1}",
                summary.bets,
                took.as_secs_f64() * 1000.0
            );
        }
        Finish::AlreadyDrawn => info!(
            "action: finish | result: success | agency: {agency} | bets: {bets_sent} | note: already drawn"
        ),
        // Whatever a later core adds.
        _ => info!("action: finish | result: success | agency: {agency} | bets: {bets_sent}"),
    }
}

/// The store failed recording a finish (logged before the refusal).
pub(crate) fn finish_failed(agency: AgencyId, cause: &StoreError) {
    error!(
        "action: finish | result: fail | agency: {agency} | error: {}",
        chain(cause)
    );
}

/// A finish refused (`why` is the refusal's text).
pub(crate) fn finish_refused(agency: AgencyId, bets_sent: u64, why: &str) {
    warn!("action: finish | result: fail | agency: {agency} | bets: {bets_sent} | error: {why}");
}

/// A winners query waits for the draw.
pub(crate) fn winners_waiting(agency: AgencyId) {
    info!("action: consulta_ganadores | result: in_progress | agency: {agency}");
}

/// An agency's winners are in its output.
pub(crate) fn winners_sent(agency: AgencyId, winners: usize) {
    info!("action: winners_sent | result: success | agency: {agency} | cant_ganadores: {winners}");
}

/// An agency's winners could not be encoded (a bug).
pub(crate) fn winners_unencodable(agency: AgencyId, error: &EncodeError) {
    error!("action: winners_sent | result: fail | agency: {agency} | error: {error}");
}

/// The peer sent bytes that are not a frame (limited, bound or not: the
/// text quotes what the peer sent).
pub(crate) fn malformed(agency: Option<AgencyId>, peer: SocketAddr, error: &DecodeError) {
    limited(Level::Warn, peer, || {
        warn!(
            "action: receive_message | result: fail | agency: {} | peer: {peer} | error: {error}",
            or_none(agency)
        );
    });
}

/// One of the central's own messages could not be encoded.
pub(crate) fn send_failed(message: &str, error: &EncodeError) {
    error!("action: send_message | result: fail | message: {message} | error: {error}");
}

/// rustls could not set up the TLS side of a connection just accepted (it
/// is dropped). Limited like every line about an unbound peer.
pub(crate) fn tls_setup_failed(peer: SocketAddr, error: &lottery_tls::TlsError) {
    limited(Level::Error, peer, || {
        error!(
            "action: accept_connection | result: fail | peer: {peer} | error: {}",
            chain(error)
        );
    });
}
