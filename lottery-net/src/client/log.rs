//! The client's log lines, in the course format: each line's text is written
//! here once, by a function named after its event (as the agency program's
//! own lines are, in its `agency::log`), and nowhere else in the client.
//!
//! These are the lines of a session's connection: its first connect, the
//! batches it resends after a reconnect, and each reconnect attempt. The
//! logger is `lottery_log`'s (or none, for an embedder that installs none).

use std::error::Error;

use lottery_bet::AgencyId;
use lottery_log::chain;

/// `connect | result: success`: the first handshake, and where the central
/// says the agency stands (its resume point).
pub(super) fn connected(agency: AgencyId, last_batch: u64, bets_stored: u64, finished: bool) {
    log::info!(
        "action: connect | result: success | agency: {agency} | last_batch: {last_batch} | bets_stored: {bets_stored} | finished: {finished}"
    );
}

/// `resend_batches | result: success`: after a reconnect, `batches` batches
/// from `first_batch` on were sent again.
pub(super) fn batches_resent(agency: AgencyId, first_batch: u64, batches: usize) {
    log::info!(
        "action: resend_batches | result: success | agency: {agency} | first_batch: {first_batch} | batches: {batches}"
    );
}

/// `reconnect | result: fail`: the attempts ran out; `error` is the last.
pub(super) fn reconnect_failed(agency: AgencyId, attempts: u32, error: &dyn Error) {
    log::error!(
        "action: reconnect | result: fail | agency: {agency} | attempts: {attempts} | error: {}",
        chain(error)
    );
}

/// `reconnect | result: in_progress`: attempt `attempt` comes after a pause
/// of `pause_ms`, drawn at random up to `pause_max_ms` (the doubling
/// ceiling, jittered so that agencies that lost the central together do not
/// come back together), because of `error`.
pub(super) fn reconnecting(
    agency: AgencyId,
    attempt: u32,
    pause_ms: u128,
    pause_max_ms: u128,
    error: &dyn Error,
) {
    log::warn!(
        "action: reconnect | result: in_progress | agency: {agency} | attempt: {attempt} | pause_ms: {pause_ms} | pause_max_ms: {pause_max_ms} | error: {}",
        chain(error)
    );
}

/// `reconnect | result: success`: connected again at attempt `attempt`; the
/// central's resume point (its last batch and bets stored).
pub(super) fn reconnected(agency: AgencyId, attempt: u32, last_batch: u64, bets_stored: u64) {
    log::info!(
        "action: reconnect | result: success | agency: {agency} | attempt: {attempt} | last_batch: {last_batch} | bets_stored: {bets_stored}"
    );
}
