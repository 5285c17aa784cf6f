//! The client's settings: where the central is, who we are, and how patient
//! to be.

use std::time::Duration;

use lottery_bet::AgencyId;

use crate::frame::DEFAULT_MAX_FRAME;

/// Batches a client keeps in flight (sent, not yet acked) by default.
///
/// Enough that while the central syncs one group of an agency's batches the
/// next group is already on its way: with 8, the course data's largest
/// agency (180 frames) waited out about 23 group commits one after the
/// other; 32 overlaps them (BENCHMARKS.md, "The window"). Half the 64 that a
/// central takes of one connection at a time.
pub const DEFAULT_IN_FLIGHT: usize = 32;

/// How long a client waits, after the TCP connect, for the TLS handshake and
/// the central's `Welcome` by default.
///
/// A central answers a `Hello` within milliseconds (it reads the agency's
/// resume point from memory or one ledger query); 5 s leaves room for a busy
/// one and tells a user pointing an agency at the wrong port within seconds,
/// where the 30 s read timeout took 5 minutes over 10 attempts.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// How an [`AgencyClient`](super::AgencyClient) connects, sends and recovers.
///
/// ```
/// use lottery_bet::AgencyId;
/// use lottery_net::ClientConfig;
/// let mut config = ClientConfig::new("127.0.0.1:12345", AgencyId::new(3).unwrap());
/// config.batch_max = Some(100);
/// assert_eq!(config.in_flight, lottery_net::DEFAULT_IN_FLIGHT);
/// ```
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The central's address, `host:port`, or several separated by commas
    /// (`A,B,...`: centrals sharing one ledger), tried in order at every
    /// connection attempt; each resolved at every attempt (so a restarted
    /// central behind a name is found again).
    pub server: String,
    /// The agency this client speaks for.
    pub agency: AgencyId,
    /// The frame limit, length prefix included; must match the central's.
    pub max_frame: usize,
    /// At most this many bets per batch (`None`: fill each frame).
    pub batch_max: Option<usize>,
    /// Batches sent and not yet acked, at most (at least 1).
    pub in_flight: usize,
    /// How long one TCP connection attempt may take.
    pub connect_timeout: Duration,
    /// How long the handshake after the TCP connect may take: the TLS
    /// handshake (when [`ClientConfig::tls`] is set), `Hello` and the
    /// central's `Welcome`. A peer that accepts and then says nothing within
    /// it is not acting like a central (another program on the port, a
    /// central frozen): the attempt fails with
    /// [`ClientError::SilentPeer`](crate::ClientError::SilentPeer) and counts
    /// as one, like a refused connection. Zero: no limit of its own (then
    /// [`ClientConfig::io_timeout`] applies).
    pub handshake_timeout: Duration,
    /// How long a read or write may block (`None`: forever). A timeout counts
    /// as a dropped connection: the client reconnects and resumes.
    pub io_timeout: Option<Duration>,
    /// How long a winners query that waits for the draw may wait for its
    /// answer (`None`: as long as the draw takes).
    pub winners_timeout: Option<Duration>,
    /// How many times in a row the client reconnects before giving up. The
    /// count restarts whenever the central answers a request.
    pub reconnect_attempts: u32,
    /// The ceiling of the pause before the first reconnect; it doubles at
    /// each further attempt, up to [`ClientConfig::backoff_max`]. Each pause
    /// is drawn between zero and its ceiling ([`ClientConfig::jitter_seed`]).
    pub backoff_initial: Duration,
    /// The longest pause between two reconnect attempts (the cap of the
    /// ceilings).
    pub backoff_max: Duration,
    /// The seed of the draws that spread the reconnect pauses below their
    /// ceilings ("full jitter"), so that agencies that lost the central
    /// together do not come back together. The client takes no randomness
    /// from anywhere else: one seed gives one sequence of pauses. The
    /// default is derived from the agency's number (agencies differ from one
    /// another, a test replays its pauses); `lottery-agency` seeds it from
    /// the operating system's randomness at start.
    pub jitter_seed: u64,
    /// TLS to the central (`None`: plaintext). The handshake runs right
    /// after each TCP connect; a certificate problem on either side fails at
    /// once, without reconnecting.
    pub tls: Option<lottery_tls::ClientTls>,
    /// The central's receipt public key (`None`: no receipts, protocol
    /// version 2 as before). With it the client asks for the receipts
    /// version, checks every `SignedWelcome`, `SignedAck`, `SignedFinished`
    /// and `SignedDraw` (signature, the rules of the first welcome, and the
    /// digest of the batch it sent) and keeps a receipt of each
    /// ([`AgencyClient::take_receipts`](crate::AgencyClient::take_receipts));
    /// an answer whose receipt does not hold is
    /// [`ClientError::BadReceipt`](crate::ClientError::BadReceipt).
    pub receipt_pubkey: Option<lottery_tls::ReceiptPubkey>,
}

impl ClientConfig {
    /// Settings for `agency` talking to `server`, with the defaults: 8 KiB
    /// frames filled to the limit, [`DEFAULT_IN_FLIGHT`] batches in flight,
    /// 5 s to connect and [`DEFAULT_HANDSHAKE_TIMEOUT`] to handshake, 30 s
    /// per read or write, winners waited for as long as the draw takes, and
    /// up to 10 reconnects with pauses drawn below ceilings that double from
    /// 100 ms to 5 s, the draws seeded by the agency's number, plaintext.
    pub fn new(server: impl Into<String>, agency: AgencyId) -> Self {
        Self {
            server: server.into(),
            agency,
            max_frame: DEFAULT_MAX_FRAME,
            batch_max: None,
            in_flight: DEFAULT_IN_FLIGHT,
            connect_timeout: Duration::from_secs(5),
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            io_timeout: Some(Duration::from_secs(30)),
            winners_timeout: None,
            reconnect_attempts: 10,
            backoff_initial: Duration::from_millis(100),
            backoff_max: Duration::from_secs(5),
            jitter_seed: u64::from(agency.get()),
            tls: None,
            receipt_pubkey: None,
        }
    }

    /// The ceiling of the pause before reconnect `attempt` (from 1): the
    /// pause itself is drawn between zero and it.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(31);
        self.backoff_initial
            .saturating_mul(1 << doublings)
            .min(self.backoff_max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_maximum() {
        let config = ClientConfig::new("x:1", AgencyId::new(1).unwrap());
        assert_eq!(config.backoff(1), Duration::from_millis(100));
        assert_eq!(config.backoff(2), Duration::from_millis(200));
        assert_eq!(config.backoff(4), Duration::from_millis(800));
        assert_eq!(config.backoff(7), Duration::from_secs(5));
        assert_eq!(config.backoff(u32::MAX), Duration::from_secs(5));
    }
}
