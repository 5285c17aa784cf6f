//! The agency's log lines, in the course format: each line's text is written
//! here once, by a function named after its event, and nowhere else.
//!
//! Two of them are checked by the course and must stay exactly as they are:
//! [`bet_sent`] (`apuesta_enviada`, single-bet mode) and [`winners_received`]
//! (`consulta_ganadores`). The others follow the same form with English
//! action names (README, "Logs"). The logger itself is `lottery_log`'s; these
//! functions only choose the level and the text.

use std::error::Error;
use std::io;

// The `log` crate, not this module.
use ::log::{error, info, warn};
use lottery_bet::{AgencyId, Bet};
use lottery_log::chain;

use super::config::AgencySettings;

/// `config | result: fail`: the settings cannot be used (`main` then exits 2).
pub fn config_failed(error: &dyn Error) {
    error!("action: config | result: fail | error: {}", chain(error));
}

/// `config | result: success`: the settings in use; `data` names where the
/// bets come from (a file, or `<environment>` in single-bet mode). With TLS,
/// ` | tls: server-only|mutual | tls_ca: PATH` follow (and `tls_cert`,
/// `tls_server_name` when set); with receipts, ` | receipt_pubkey: PATH`
/// (and ` | receipts: FILE`); a plaintext line is as it always was.
pub fn config(settings: &AgencySettings, data: &str) {
    let tls = settings.tls.as_ref().map_or_else(String::new, |tls| {
        let mut text = format!(" | tls: {} | tls_ca: {}", tls.mode(), tls.ca.display());
        if let Some((cert, _)) = &tls.identity {
            text.push_str(&format!(" | tls_cert: {}", cert.display()));
        }
        if let Some(name) = &tls.server_name {
            text.push_str(&format!(" | tls_server_name: {name}"));
        }
        text
    });
    let mut receipts = String::new();
    if let Some((_, path)) = &settings.receipt_pubkey {
        receipts.push_str(&format!(" | receipt_pubkey: {}", path.display()));
    }
    if let Some(path) = &settings.receipts {
        receipts.push_str(&format!(" | receipts: {}", path.display()));
    }
    info!(
        "action: config | result: success | id: {} | server: {} | data: {data} | batch_max_amount: {} | in_flight: {} | reconnect_attempts: {} | log_level: {}{tls}{receipts}",
        settings.id,
        settings.server,
        settings
            .batch_max_amount
            .map_or_else(|| "frame".to_string(), |max| max.to_string()),
        settings.in_flight,
        settings.reconnect_attempts,
        lottery_log::filter_name(settings.log_level)
    );
}

/// `watch_signals | result: fail`: the SIGTERM/SIGINT handlers cannot be
/// installed.
pub fn watch_signals_failed(error: &io::Error) {
    error!("action: watch_signals | result: fail | error: {error}");
}

/// `load_bets | result: fail`: the agency's bets are unusable; nothing was
/// sent.
pub fn load_bets_failed(agency: AgencyId, error: &dyn Error) {
    error!(
        "action: load_bets | result: fail | agency: {agency} | error: {}",
        chain(error)
    );
}

/// `load_bets | result: success`: `bets` bets from `data`, validated.
pub fn bets_loaded(agency: AgencyId, data: &str, bets: u64) {
    info!("action: load_bets | result: success | agency: {agency} | data: {data} | bets: {bets}");
}

/// `load_bets | result: success` at `WARNING`: the file `data` is valid but
/// holds no bets. The agency still finishes (with 0 bets), so that the draw,
/// which waits for every agency, can happen.
pub fn no_bets_loaded(agency: AgencyId, data: &str) {
    warn!(
        "action: load_bets | result: success | agency: {agency} | data: {data} | bets: 0 | warning: {data} holds no bets; the agency finishes with 0 bets"
    );
}

/// `commitment | result: success`: the central's signed welcome commits
/// to the winning number by `commitment` (SHA-256 of its secret, 64 hex
/// digits, as the central's `commit_winning_number` line and the receipts
/// write it), signed over its chain at `position`, before any bet is sent.
pub fn commitment(agency: AgencyId, commitment: &str, position: u64) {
    info!(
        "action: commitment | result: success | agency: {agency} | commitment: {commitment} | position: {position}"
    );
}

/// `send_bets | result: in_progress`: `percent`% of the agency's `total`
/// bets are stored (`stored` of them).
pub fn send_progress(agency: AgencyId, percent: u64, stored: u64, total: u64) {
    info!(
        "action: send_bets | result: in_progress | agency: {agency} | progress: {percent}% | bets_stored: {stored} | bets: {total}"
    );
}

/// `send_bets | result: success`: every one of the agency's `bets` bets is
/// stored.
pub fn bets_sent(agency: AgencyId, bets: u64) {
    info!("action: send_bets | result: success | agency: {agency} | bets: {bets}");
}

/// `apuesta_enviada | result: success` (checked by the course): the single
/// bet of single-bet mode is stored.
pub fn bet_sent(bet: &Bet) {
    info!(
        "action: apuesta_enviada | result: success | dni: {} | numero: {}",
        bet.document, bet.number
    );
}

/// `finish | result: success`: the central took the agency's finish after
/// `bets_sent` bets.
pub fn finished(agency: AgencyId, bets_sent: u64) {
    info!("action: finish | result: success | agency: {agency} | bets_sent: {bets_sent}");
}

/// `consulta_ganadores | result: success` (checked by the course): the
/// central answered `count` winners for the agency.
pub fn winners_received(count: usize) {
    info!("action: consulta_ganadores | result: success | cant_ganadores: {count}");
}

/// `close_connection | result: success`: the agency's connection is closed
/// (at the end of its session, or on a signal).
pub fn connection_closed(agency: AgencyId) {
    info!("action: close_connection | result: success | agency: {agency}");
}

/// `shutdown | result: in_progress`: `signal` (`SIGTERM` or `SIGINT`) came.
pub fn shutting_down(agency: AgencyId, signal: &str) {
    info!("action: shutdown | result: in_progress | agency: {agency} | signal: {signal}");
}

/// `exit | result: success`: the agency's job is done.
pub fn exited(agency: AgencyId) {
    info!("action: exit | result: success | agency: {agency}");
}

/// `exit | result: success | reason: signal`: the agency stops on a signal.
pub fn exited_on_signal(agency: AgencyId) {
    info!("action: exit | result: success | agency: {agency} | reason: signal");
}

/// `exit | result: fail`: the agency's session failed.
pub fn exit_failed(agency: AgencyId, error: &dyn Error) {
    error!(
        "action: exit | result: fail | agency: {agency} | error: {}",
        chain(error)
    );
}

/// `history | result: fail`: the `--history` file cannot be written; the
/// agency goes on without it.
pub fn history_failed(agency: AgencyId, path: &std::path::Path, error: &io::Error) {
    warn!(
        "action: history | result: fail | agency: {agency} | path: {} | error: {error}",
        path.display()
    );
}

/// `receipts | result: fail`: the receipts file cannot be opened or
/// written; the agency stops (exit 1): receipts asked for and not kept are
/// worth nothing.
pub fn receipts_failed(agency: AgencyId, path: &std::path::Path, error: &io::Error) {
    error!(
        "action: receipts | result: fail | agency: {agency} | path: {} | error: {error}",
        path.display()
    );
}
