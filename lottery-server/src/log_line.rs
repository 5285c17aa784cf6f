//! Every log line the server library writes, one typed function each: a
//! line's text (its action, its result, the order and names of its details)
//! is written here and nowhere else in the library. The binary's own three
//! (`config` once the settings are read, `exit` with its reason or error)
//! are in `main.rs`, which cannot reach this crate-private module.
//!
//! The lines follow the course format (README, "Logs": `action: NAME |
//! result: success|fail|in_progress | key: value ...`); the course's own checks read `apuesta_recibida`,
//! `sorteo` and `consulta_ganadores` exactly, and the tests and benchmarks
//! pin others, so a change of text here is a change of the product. The
//! logger behind the `log` macros (the time, the level, the deferred writes
//! of an event loop) is `lottery_log`'s.
//!
//! A disabled level costs nothing: a function formats only inside its `log`
//! macro, and no argument is built beforehand (an agency that may be missing
//! is shown through [`AgencyOr`], not a `String`).
//!
//! Every line a peer can cause is rate limited (`log_limit.rs`, through
//! [`limited`], which names the line's [`Subject`]), bound to an agency or
//! not: lines about a peer not bound to an agency (accepted, refused at the
//! handshake or over the connection limit, timed out, closed without ever
//! binding) per address; a bound agency's lines per agency (its handshake,
//! finish, winners, close: a well-behaved agency's few stay whole); its
//! refusals and failures (refused batches of any code, refused finishes,
//! malformed frames) per agency and per address. What is suppressed is
//! summarized in `log_suppressed` lines (`peer: ADDRESS` or `agency: N`),
//! so no peer can fill the disk. Never limited: the course's
//! `apuesta_recibida | result: success` of every stored batch (other tools
//! count them) and `sorteo`, and the lines no peer causes (startup,
//! shutdown, the store).

use std::fmt::{self, Display};
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use log::{Level, debug, error, info, log, log_enabled, warn};
use lottery_bet::{AgencyId, ResumePoint};
use lottery_core::{
    Central, DrawSummary, Durability, Finish, StoreError, SubmitError, Submitted,
    ledger::Quarantined,
};
use lottery_log::chain;
use lottery_net::{DecodeError, EncodeError};

use crate::error::ServerError;
use crate::log_limit::{LIMITS, LogLimit, Subject, Suppressed};

/// The process's limiter of lines peers cause: one for the process,
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

// --- the limit on lines peers cause -----------------------------------------

/// Writes a line about `subject` at `level` (`line` writes it) if its
/// budget allows, after the summary of what it suppressed before. Nothing is
/// spent when `level` is disabled.
fn limited(level: Level, subject: Subject, line: impl FnOnce()) {
    if !log_enabled!(level) {
        return;
    }
    let decision = LIMIT.check(subject, Instant::now());
    suppressed(&decision.summaries);
    if decision.write {
        line();
    }
}

/// A peer not bound to an agency, by its address.
fn unbound(peer: SocketAddr) -> Subject {
    Subject::Unbound(peer.ip())
}

/// A refusal or failure of `agency`, over a connection from `peer`.
fn fault(agency: AgencyId, peer: SocketAddr) -> Subject {
    Subject::AgencyFault {
        agency,
        address: peer.ip(),
    }
}

/// `log_suppressed`: how many lines about a peer (`peer: ADDRESS`) or an
/// agency (`agency: N`) were not written.
fn suppressed(summaries: &[Suppressed]) {
    for summary in summaries.iter().take(SUMMARIES_LISTED) {
        warn!(
            "action: log_suppressed | result: success | {}: {} | suppressed: {}",
            summary.peer.key(),
            summary.peer,
            summary.lines
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

/// The store's committed winning number: its commitment (SHA-256 of the
/// secret), at every start; `new` when this start created it.
pub(crate) fn winning_number_committed(commitment: &[u8; 32], new: bool) {
    info!(
        "action: commit_winning_number | result: success | commitment: {} | store: {}",
        Hex(commitment),
        if new { "new" } else { "existing" }
    );
}

/// Once drawn with a committed winning number: the number and the secret it
/// came from, so that anyone holding the commitment can check it.
pub(crate) fn secret_revealed(central: &Central) {
    if let (Some(secret), Some(number)) = (central.revealed_secret(), central.winning_number()) {
        info!(
            "action: reveal_secret | result: success | winning_number: {number} | secret: {}",
            Hex(secret.as_bytes())
        );
    }
}

/// Bytes as lower-case hex digits.
struct Hex<'a>(&'a [u8]);

impl Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
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
    limited(Level::Warn, unbound(peer), || {
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

/// Whether acks carry signed receipts (said once at startup): with a key,
/// its public half (what agencies and auditors must be given); without
/// one, that receipts are off.
pub(crate) fn receipts(key: Option<&lottery_tls::ReceiptKey>) {
    match key {
        Some(key) => info!(
            "action: receipts | result: success | receipts: on | public_key: {} | note: every \
             ack and finish of a receipts agency carries the signed chain head covering it",
            key.public_key()
        ),
        None => info!(
            "action: receipts | result: success | receipts: off | note: acks carry no signed \
             receipts; give --receipt-key to sign them (see SECURITY.md, Receipts)"
        ),
    }
}

/// What the agency port protects, said once at startup: a WARNING unless
/// agencies are authenticated by certificate, or the port is plaintext on
/// loopback (the demo, a test: only programs of this machine reach it),
/// which is said at INFO without `result: fail`, since nothing failed.
pub(crate) fn security(listen: SocketAddr, tls: Option<&lottery_tls::ServerTls>) {
    match tls {
        None if listen.ip().is_loopback() => info!(
            "action: security | result: success | listen: {listen} | tls: off | note: plaintext \
             on loopback: only programs on this machine can reach the agency port; listen off \
             loopback only with TLS and client certificates (see SECURITY.md)"
        ),
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
    limited(Level::Info, unbound(peer), || {
        info!("action: accept_connections | result: success | peer: {peer}");
    });
}

/// Accepting failed (out of file descriptors, say); the acceptor retries.
pub(crate) fn accept_failed(error: &io::Error) {
    error!("action: accept_connections | result: fail | error: {error}");
}

/// A connection over the limit was refused.
pub(crate) fn over_connection_limit(peer: SocketAddr, max: usize) {
    limited(Level::Warn, unbound(peer), || {
        warn!(
            "action: accept_connections | result: fail | peer: {peer} | error: too many connections (limit {max})"
        );
    });
}

/// An accepted connection could not be registered with its loop (limited:
/// a flood of connections may cause it).
pub(crate) fn register_failed(peer: SocketAddr, error: &io::Error) {
    limited(Level::Warn, unbound(peer), || {
        warn!("action: accept_connections | result: fail | peer: {peer} | error: {error}");
    });
}

/// A signal asked the server to stop.
pub(crate) fn signal_received(name: &str) {
    info!("action: signal | result: success | signal: {name}");
}

/// `exit_when_done`: every agency was served and left.
pub(crate) fn done(agencies: u32) {
    info!("action: exit_when_done | result: success | agencies: {agencies}");
}

/// A newer connection of `agency` replaces the one it had (limited per
/// agency: a peer can reconnect without end).
pub(crate) fn connection_replaced(agency: AgencyId) {
    limited(Level::Info, Subject::Agency(agency), || {
        info!("action: replace_connection | result: in_progress | agency: {agency}");
    });
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

/// Who a line about a connection is about: the agency its handshake bound
/// it to, else its address.
fn connection_subject(agency: Option<AgencyId>, peer: SocketAddr) -> Subject {
    agency.map_or_else(|| unbound(peer), Subject::Agency)
}

/// A connection is gone (`agency` is the one its handshake bound it to;
/// limited per agency, or per address when there is none).
pub(crate) fn connection_closed(agency: Option<AgencyId>, peer: SocketAddr, reason: &str) {
    limited(Level::Info, connection_subject(agency, peer), || {
        info!(
            "action: close_connection | result: success | agency: {} | peer: {peer} | reason: {reason}",
            or_none(agency)
        );
    });
}

/// A connection missed its handshake or idle deadline (limited like
/// [`connection_closed`]).
pub(crate) fn timed_out(agency: Option<AgencyId>, peer: SocketAddr, why: impl Display) {
    limited(Level::Warn, connection_subject(agency, peer), || {
        warn!(
            "action: timeout | result: fail | agency: {} | peer: {peer} | error: {why}",
            or_none(agency)
        );
    });
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
    limited(Level::Warn, unbound(peer), || {
        warn!("action: handshake | result: fail | agency: {agency} | peer: {peer} | error: {why}");
    });
}

/// The store failed reading where `agency` stands for its handshake (over
/// a shared ledger; the handshake is refused, retryable).
pub(crate) fn handshake_failed(agency: AgencyId, peer: SocketAddr, cause: &StoreError) {
    limited(Level::Error, fault(agency, peer), || {
        error!(
            "action: handshake | result: fail | agency: {agency} | peer: {peer} | error: {}",
            chain(cause)
        );
    });
}

/// A handshake bound a connection to `agency`, which stands at `point`
/// (limited per agency: a peer can reconnect without end).
pub(crate) fn handshake(agency: AgencyId, point: &ResumePoint) {
    limited(Level::Info, Subject::Agency(agency), || {
        info!(
            "action: handshake | result: success | agency: {agency} | last_batch: {} | bets_stored: {} | finished: {}",
            point.last_batch, point.bets_stored, point.finished
        );
    });
}

/// A batch of `agency` (over a connection from `peer`) with an invalid bet,
/// refused whole (`why` names the bet). Limited, like every refusal.
pub(crate) fn batch_invalid(agency: AgencyId, peer: SocketAddr, batch: u64, bets: u64, why: &str) {
    batch_failed(Level::Warn, fault(agency, peer), agency, batch, bets, why);
}

/// A batch the lottery refused as it was begun, whatever the refusal; a
/// store failure is an error, anything else the agency's mistake. Limited,
/// like every refusal.
pub(crate) fn batch_refused(
    agency: AgencyId,
    peer: SocketAddr,
    batch: u64,
    bets: u64,
    refused: &SubmitError,
) {
    let level = if matches!(refused, SubmitError::Store(_)) {
        Level::Error
    } else {
        Level::Warn
    };
    batch_failed(
        level,
        fault(agency, peer),
        agency,
        batch,
        bets,
        chain(refused),
    );
}

/// What a begun batch of `agency` (over a connection from `peer`) came to:
/// the course's `apuesta_recibida` line with the count stored, never
/// limited; or `batch_resent` for one stored before (limited per agency: a
/// peer can resend one batch without end), or the refusal (limited like
/// every refusal). `ended`: the session ended meanwhile.
pub(crate) fn batch_received(
    agency: AgencyId,
    ended: bool,
    peer: SocketAddr,
    batch: u64,
    bets: u64,
    outcome: &Result<Submitted, SubmitError>,
) {
    let shown = AgencyOr((!ended).then_some(agency), "ended");
    match outcome {
        Ok(Submitted::Stored { bets, .. }) => info!(
            "action: apuesta_recibida | result: success | cantidad: {bets} | agency: {shown} | batch: {batch}"
        ),
        // Stored before (and whatever a later core adds: acked, not stored now).
        Ok(_) => limited(Level::Info, Subject::Agency(agency), || {
            info!(
                "action: batch_resent | result: success | cantidad: {bets} | agency: {shown} | batch: {batch} | note: stored before, acked again"
            );
        }),
        // A conflict (its number stored with other bets, found by a shared
        // ledger's commit) is the agency's mistake, not the store's.
        Err(refused @ SubmitError::BatchConflict { .. }) => batch_failed(
            Level::Warn,
            fault(agency, peer),
            shown,
            batch,
            bets,
            chain(refused),
        ),
        Err(refused) => batch_failed(
            Level::Error,
            fault(agency, peer),
            shown,
            batch,
            bets,
            chain(refused),
        ),
    }
}

fn batch_failed(
    level: Level,
    subject: Subject,
    agency: impl Display,
    batch: u64,
    bets: u64,
    error: impl Display,
) {
    limited(level, subject, || {
        log!(
            level,
            "action: apuesta_recibida | result: fail | cantidad: {bets} | agency: {agency} | batch: {batch} | error: {error}"
        );
    });
}

/// A finish recorded (limited per agency: finishing is idempotent, so a
/// peer can finish without end), and for the last one the course's draw
/// line (never limited: it happens once), with what the draw found and how
/// long completing the finish took (its record's commit, and the draw's:
/// taken from the central's running tally, then recorded).
pub(crate) fn finished(agency: AgencyId, bets_sent: u64, finish: &Finish, took: Duration) {
    let line = |note: &dyn Display| {
        limited(Level::Info, Subject::Agency(agency), || {
            info!("action: finish | result: success | agency: {agency} | bets: {bets_sent}{note}");
        });
    };
    match finish {
        Finish::Waiting { remaining } => line(&format_args!(" | remaining: {remaining}")),
        Finish::Drew(summary) => {
            line(&" | remaining: 0");
            let winners: u64 = summary.winners_per_agency.iter().sum();
            info!(
                "action: sorteo | result: success | bets: {} | winners: {winners} | duration_ms: {:.1}",
                summary.bets,
                took.as_secs_f64() * 1000.0
            );
        }
        Finish::AlreadyDrawn => line(&" | note: already drawn"),
        // Whatever a later core adds.
        _ => line(&""),
    }
}

/// The store failed recording a finish of `agency` (logged before the
/// refusal; limited like every failure a peer's requests meet).
pub(crate) fn finish_failed(agency: AgencyId, peer: SocketAddr, cause: &StoreError) {
    limited(Level::Error, fault(agency, peer), || {
        error!(
            "action: finish | result: fail | agency: {agency} | error: {}",
            chain(cause)
        );
    });
}

/// A finish refused (`why` is the refusal's text; limited, like every
/// refusal).
pub(crate) fn finish_refused(agency: AgencyId, peer: SocketAddr, bets_sent: u64, why: &str) {
    limited(Level::Warn, fault(agency, peer), || {
        warn!(
            "action: finish | result: fail | agency: {agency} | bets: {bets_sent} | error: {why}"
        );
    });
}

/// A winners query waits for the draw (limited per agency: a peer can ask
/// without end).
pub(crate) fn winners_waiting(agency: AgencyId) {
    limited(Level::Info, Subject::Agency(agency), || {
        info!("action: consulta_ganadores | result: in_progress | agency: {agency}");
    });
}

/// An agency's winners are in its output (limited per agency: a peer can
/// ask without end).
pub(crate) fn winners_sent(agency: AgencyId, winners: usize) {
    limited(Level::Info, Subject::Agency(agency), || {
        info!(
            "action: winners_sent | result: success | agency: {agency} | cant_ganadores: {winners}"
        );
    });
}

/// An agency's winners could not be encoded (a bug; limited all the same,
/// since each query would repeat it).
pub(crate) fn winners_unencodable(agency: AgencyId, error: &EncodeError) {
    limited(Level::Error, Subject::Agency(agency), || {
        error!("action: winners_sent | result: fail | agency: {agency} | error: {error}");
    });
}

/// The peer sent bytes that are not a frame (limited, bound or not: per
/// agency and address when bound, per address otherwise).
pub(crate) fn malformed(agency: Option<AgencyId>, peer: SocketAddr, error: &DecodeError) {
    let subject = agency.map_or_else(|| unbound(peer), |agency| fault(agency, peer));
    limited(Level::Warn, subject, || {
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
    limited(Level::Error, unbound(peer), || {
        error!(
            "action: accept_connection | result: fail | peer: {peer} | error: {}",
            chain(error)
        );
    });
}
