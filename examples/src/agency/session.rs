//! One agency's whole session with the central: send every bet, finish,
//! wait for the draw, learn the winners. Used by `lottery-agency` and by the
//! demo's agency threads.

use lottery_net::{AgencyClient, ClientConfig, Interrupter};

use super::log;
use crate::error::AgencyError;
use crate::input::AgencyInput;

/// How an agency's session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionOutcome {
    /// Bets sent (and stored by the central).
    pub bets_sent: u64,
    /// The documents of the agency's winning bets, in stored order.
    pub winners: Vec<String>,
}

/// What a session tells its caller as it goes (the demo's progress display
/// counts them; `lottery-agency` logs its single bet on `Sent`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionEvent {
    /// The central acknowledged batches: `stored` bets of this session are
    /// stored so far (a running total, not an increment).
    Stored {
        /// Bets stored so far.
        stored: u64,
    },
    /// Every bet is stored (`bets` of them); the session finishes next.
    Sent {
        /// Bets sent.
        bets: u64,
    },
    /// The central answered the finish; the session waits for the draw next.
    Finished,
    /// A receipt checked (a client with the central's receipt public key),
    /// in the order the answers came (boxed: a receipt is some 250 bytes,
    /// the other events a word).
    Receipt(Box<lottery_tls::Receipt>),
}

/// Logs sending progress every tenth of the bets, in the course format.
#[derive(Debug)]
pub struct Progress {
    total: u64,
    /// The next tenth to report (1 to 10).
    next_tenth: u64,
}

impl Progress {
    /// Progress over `total` bets.
    pub fn new(total: u64) -> Self {
        Self {
            total,
            next_tenth: 1,
        }
    }

    /// Records that `stored` bets are stored, returning the percentages
    /// crossed (10, 20, ... 100), each at most once.
    pub fn advance(&mut self, stored: u64) -> Vec<u64> {
        let mut crossed = Vec::new();
        if self.total == 0 {
            return crossed;
        }
        while self.next_tenth <= 10 && stored * 10 >= self.next_tenth * self.total {
            crossed.push(self.next_tenth * 10);
            self.next_tenth += 1;
        }
        crossed
    }
}

/// Runs the session of `input` with `config`: logs progress when
/// `log_progress` (the demo's concurrent agencies keep quiet), and tells
/// `events` what happens ([`SessionEvent`]: bets stored so far, every bet
/// sent, the finish answered). `interrupter` stops it from another thread
/// (a signal's).
///
/// # Errors
/// [`AgencyError`] when the central cannot be reached (after the client's
/// reconnects), refuses something, the input cannot be read again, or the
/// session was interrupted ([`AgencyError::is_interrupted`]).
pub fn run_session(
    config: ClientConfig,
    input: AgencyInput,
    interrupter: Interrupter,
    log_progress: bool,
    mut events: impl FnMut(SessionEvent),
) -> Result<SessionOutcome, AgencyError> {
    let agency = config.agency;
    let total = input.count();
    let mut client = AgencyClient::connect_interruptible(config, interrupter)?;
    // The welcome's receipt, kept before any bet is sent: it names the
    // rules, a committed number's commitment among them.
    for receipt in client.take_receipts() {
        if let Some(commitment) = receipt.head.statement.winning.commitment_hex() {
            log::commitment(agency, &commitment, receipt.head.statement.position);
        }
        events(SessionEvent::Receipt(Box::new(receipt)));
    }
    let mut bets = input.bets()?;
    let mut progress = Progress::new(total);
    let sent = client.send_from(&mut bets, |stored| {
        events(SessionEvent::Stored { stored });
        if !log_progress {
            return;
        }
        for percent in progress.advance(stored) {
            log::send_progress(agency, percent, stored, total);
        }
    });
    // Kept whatever the outcome: each one was checked as its ack came.
    for receipt in client.take_receipts() {
        events(SessionEvent::Receipt(Box::new(receipt)));
    }
    let bets_sent = sent.map_err(|error| AgencyError::of_send(error, input.path()))?;
    // A file that changed since it was validated must not be finished short.
    bets.finish()?;
    log::bets_sent(agency, bets_sent);
    events(SessionEvent::Sent { bets: bets_sent });
    let finished = client.finish(bets_sent);
    for receipt in client.take_receipts() {
        events(SessionEvent::Receipt(Box::new(receipt)));
    }
    finished?;
    log::finished(agency, bets_sent);
    events(SessionEvent::Finished);
    let winners = client.winners(true);
    for receipt in client.take_receipts() {
        events(SessionEvent::Receipt(Box::new(receipt)));
    }
    let winners = winners?.ok_or(AgencyError::NoWinnersAnswer)?;
    client.close();
    log::connection_closed(agency);
    Ok(SessionOutcome { bets_sent, winners })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_crosses_each_tenth_once() {
        let mut progress = Progress::new(1_000);
        assert_eq!(progress.advance(50), Vec::<u64>::new());
        assert_eq!(progress.advance(100), [10]);
        assert_eq!(progress.advance(100), Vec::<u64>::new());
        assert_eq!(progress.advance(350), [20, 30]);
        assert_eq!(progress.advance(1_000), [40, 50, 60, 70, 80, 90, 100]);
        assert_eq!(progress.advance(1_000), Vec::<u64>::new());
    }

    #[test]
    fn small_inputs_report_every_tenth_they_cross() {
        let mut progress = Progress::new(3);
        assert_eq!(progress.advance(1), [10, 20, 30]);
        assert_eq!(progress.advance(3), [40, 50, 60, 70, 80, 90, 100]);
        assert!(Progress::new(0).advance(0).is_empty());
    }
}
