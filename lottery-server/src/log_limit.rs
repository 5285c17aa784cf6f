//! How many log lines about untrusted peers are written: a token bucket per
//! peer address, so that no unauthenticated peer can fill the disk.
//!
//! A line about a peer not (yet) bound to an agency (its connection
//! accepted, its handshake refused, its timeout, its connection closed) or
//! about a protocol error (a malformed frame, whoever sent it) costs a token
//! of that peer's bucket; `log_line.rs` asks [`LogLimit::check`] before it
//! writes one. The lines of a bound agency's batches are never limited.
//!
//! The rules ([`LIMITS`]):
//! - each peer may write a burst of [`Limits::burst`] lines, refilled at
//!   [`Limits::per_second`] lines a second; an IPv6 peer is tracked by its
//!   /64 prefix (one host usually holds a whole /64);
//! - every peer together may write [`Limits::all_burst`] lines, refilled at
//!   [`Limits::all_per_second`] (an attacker with many addresses);
//! - at most [`Limits::max_peers`] peers are tracked. When the table is
//!   full, the idle entries (whose bucket refilled completely) are evicted,
//!   at most once per [`SWEEP_EVERY`]; a new peer that still finds no room
//!   shares one overflow bucket with every other such peer ([`Peer::Others`]).
//!
//! What was suppressed is counted per tracked peer (and for the overflow)
//! and handed back as [`Suppressed`] summaries: before the next line that
//! peer may write, when its entry is evicted, and at shutdown
//! ([`LogLimit::drain`]). The limiter never writes a line itself and holds
//! its lock for a map lookup only (no I/O under it): the caller writes.
//!
//! The clock is a parameter (`now`), so tests drive time by hand.

use std::collections::HashMap;
use std::fmt::{self, Display};
use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// How many limited lines may be written.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Lines one peer may write at once.
    pub burst: u32,
    /// Lines one peer may write per second, sustained.
    pub per_second: u32,
    /// Lines all peers together may write at once.
    pub all_burst: u32,
    /// Lines all peers together may write per second, sustained.
    pub all_per_second: u32,
    /// Peers tracked one by one; the rest share one bucket.
    pub max_peers: usize,
}

/// The central's limits: a peer that connects, is refused and leaves costs
/// about three lines, so a burst of 20 shows a few such attempts whole, and
/// 2 a second (about 300 bytes) is what a peer can add to the log for as
/// long as it tries. All peers together: at most 100 lines a second (about
/// 15 KB). 4096 tracked peers take about 256 KiB.
pub(crate) const LIMITS: Limits = Limits {
    burst: 20,
    per_second: 2,
    all_burst: 1000,
    all_per_second: 100,
    max_peers: 4096,
};

/// How often a full table may be swept for idle entries (a sweep walks the
/// whole table, under the lock).
pub(crate) const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Who a limited line is about, as the limiter counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Peer {
    /// An IPv4 address, or an IPv6 address cut to its /64 prefix.
    Address(IpAddr),
    /// Every peer that found the table full.
    Others,
}

impl Peer {
    /// The peer `address` counts as.
    pub(crate) fn of(address: IpAddr) -> Self {
        match address.to_canonical() {
            IpAddr::V6(v6) => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                Self::Address(IpAddr::V6(Ipv6Addr::from(prefix)))
            }
            v4 => Self::Address(v4),
        }
    }
}

impl Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Address(IpAddr::V6(prefix)) => write!(f, "{prefix}/64"),
            Self::Address(v4) => v4.fmt(f),
            Self::Others => f.write_str("others"),
        }
    }
}

/// Lines of `peer` that were not written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Suppressed {
    /// Whose.
    pub peer: Peer,
    /// How many.
    pub lines: u64,
}

/// What [`LogLimit::check`] decided.
#[derive(Debug, Default, PartialEq, Eq)]
#[must_use]
pub(crate) struct Decision {
    /// Whether the line may be written.
    pub write: bool,
    /// Summaries to write first: the peer's own count (when `write`) and
    /// those of evicted entries.
    pub summaries: Vec<Suppressed>,
}

/// A token bucket.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    /// When `tokens` was last brought up to date.
    at: Instant,
}

impl Bucket {
    fn full(burst: u32, now: Instant) -> Self {
        Self {
            tokens: f64::from(burst),
            at: now,
        }
    }

    /// Adds what was earned since the last look (never above `burst`).
    fn refill(&mut self, now: Instant, burst: u32, per_second: u32) {
        let earned = now.saturating_duration_since(self.at).as_secs_f64() * f64::from(per_second);
        self.tokens = (self.tokens + earned).min(f64::from(burst));
        self.at = self.at.max(now);
    }

    fn has_token(&self) -> bool {
        self.tokens >= 1.0
    }

    fn is_full(&self, burst: u32) -> bool {
        self.tokens >= f64::from(burst)
    }
}

/// A peer's bucket and what it suppressed since its last summary.
#[derive(Debug, Clone, Copy)]
struct Entry {
    bucket: Bucket,
    suppressed: u64,
}

impl Entry {
    fn new(burst: u32, now: Instant) -> Self {
        Self {
            bucket: Bucket::full(burst, now),
            suppressed: 0,
        }
    }

    /// The summary of what this entry suppressed, resetting its count.
    fn summary(&mut self, peer: Peer) -> Option<Suppressed> {
        let lines = std::mem::take(&mut self.suppressed);
        (lines > 0).then_some(Suppressed { peer, lines })
    }
}

#[derive(Debug)]
struct State {
    peers: HashMap<Peer, Entry>,
    /// The bucket of the peers that found the table full.
    others: Entry,
    /// Every limited line, whoever it is about.
    all: Bucket,
    /// No sweep of a full table before then.
    next_sweep: Instant,
}

/// The limiter of lines about untrusted peers; shared by every thread
/// (`log_line.rs` holds the process's one: the disk it protects is the
/// process's).
#[derive(Debug)]
pub(crate) struct LogLimit {
    limits: Limits,
    state: Mutex<State>,
}

impl LogLimit {
    /// A limiter with nothing spent, as of `now`.
    pub(crate) fn new(limits: Limits, now: Instant) -> Self {
        Self {
            limits,
            state: Mutex::new(State {
                peers: HashMap::new(),
                others: Entry::new(limits.burst, now),
                all: Bucket::full(limits.all_burst, now),
                next_sweep: now,
            }),
        }
    }

    /// Whether a line about `address` may be written at `now`, spending a
    /// token if so and counting it as suppressed if not.
    pub(crate) fn check(&self, address: IpAddr, now: Instant) -> Decision {
        let limits = self.limits;
        let peer = Peer::of(address);
        let mut summaries = Vec::new();
        let mut guard = self.state.lock();
        let state = &mut *guard;
        let known = state.peers.contains_key(&peer);
        if !known && state.peers.len() >= limits.max_peers && now >= state.next_sweep {
            state.next_sweep = now + SWEEP_EVERY;
            evict_idle(&mut state.peers, limits, now, &mut summaries);
        }
        let (counted_as, entry) = if known || state.peers.len() < limits.max_peers {
            let entry = state
                .peers
                .entry(peer)
                .or_insert_with(|| Entry::new(limits.burst, now));
            (peer, entry)
        } else {
            (Peer::Others, &mut state.others)
        };
        entry.bucket.refill(now, limits.burst, limits.per_second);
        state
            .all
            .refill(now, limits.all_burst, limits.all_per_second);
        let write = entry.bucket.has_token() && state.all.has_token();
        if write {
            entry.bucket.tokens -= 1.0;
            state.all.tokens -= 1.0;
            summaries.extend(entry.summary(counted_as));
        } else {
            entry.suppressed += 1;
        }
        Decision { write, summaries }
    }

    /// Every count not yet summarized (at shutdown), resetting them.
    pub(crate) fn drain(&self) -> Vec<Suppressed> {
        let mut state = self.state.lock();
        let mut summaries: Vec<Suppressed> = state
            .peers
            .iter_mut()
            .filter_map(|(&peer, entry)| entry.summary(peer))
            .collect();
        summaries.extend(state.others.summary(Peer::Others));
        summaries
    }
}

/// Removes the entries whose bucket refilled completely (silent for at least
/// `burst / per_second` seconds: a new entry would be the same), keeping
/// their counts as summaries.
fn evict_idle(
    peers: &mut HashMap<Peer, Entry>,
    limits: Limits,
    now: Instant,
    summaries: &mut Vec<Suppressed>,
) {
    peers.retain(|&peer, entry| {
        entry.bucket.refill(now, limits.burst, limits.per_second);
        if entry.bucket.is_full(limits.burst) {
            summaries.extend(entry.summary(peer));
            false
        } else {
            true
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: Limits = Limits {
        burst: 3,
        per_second: 2,
        all_burst: 100,
        all_per_second: 100,
        max_peers: 2,
    };

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn at(start: Instant, millis: u64) -> Instant {
        start + Duration::from_millis(millis)
    }

    /// How many of `n` lines about `address` at `now` are written.
    fn written(limit: &LogLimit, address: &str, n: usize, now: Instant) -> usize {
        (0..n)
            .filter(|_| limit.check(ip(address), now).write)
            .count()
    }

    #[test]
    fn a_peer_writes_its_burst_then_what_the_rate_refills() {
        let start = Instant::now();
        let limit = LogLimit::new(SMALL, start);
        assert_eq!(written(&limit, "10.0.0.1", 10, start), 3);
        // Half a second earns one line at 2 a second.
        assert_eq!(written(&limit, "10.0.0.1", 10, at(start, 500)), 1);
        // A long silence refills the burst, never more.
        assert_eq!(written(&limit, "10.0.0.1", 10, at(start, 60_000)), 3);
    }

    #[test]
    fn the_next_written_line_of_a_peer_carries_the_count_it_suppressed() {
        let start = Instant::now();
        let limit = LogLimit::new(SMALL, start);
        assert_eq!(written(&limit, "10.0.0.1", 3 + 7, start), 3);
        let next = limit.check(ip("10.0.0.1"), at(start, 500));
        assert!(next.write);
        assert_eq!(
            next.summaries,
            [Suppressed {
                peer: Peer::of(ip("10.0.0.1")),
                lines: 7
            }]
        );
        // Said once.
        let after = limit.check(ip("10.0.0.1"), at(start, 1000));
        assert!(after.write);
        assert!(after.summaries.is_empty());
    }

    #[test]
    fn peers_are_limited_apart() {
        let start = Instant::now();
        let limit = LogLimit::new(SMALL, start);
        assert_eq!(written(&limit, "10.0.0.1", 10, start), 3);
        assert_eq!(written(&limit, "10.0.0.2", 10, start), 3);
    }

    #[test]
    fn all_peers_together_are_limited_too() {
        let start = Instant::now();
        let limits = Limits {
            all_burst: 5,
            max_peers: 100,
            ..SMALL
        };
        let limit = LogLimit::new(limits, start);
        let total: usize = (1..=10)
            .map(|host| written(&limit, &format!("10.0.0.{host}"), 3, start))
            .sum();
        assert_eq!(total, 5);
        // What the shared bucket refused is counted for the peer it was about.
        let next = limit.check(ip("10.0.0.10"), at(start, 1000));
        assert!(next.write);
        assert_eq!(next.summaries[0].lines, 3);
    }

    #[test]
    fn a_full_table_sends_new_peers_to_one_shared_bucket() {
        let start = Instant::now();
        let limit = LogLimit::new(SMALL, start);
        written(&limit, "10.0.0.1", 1, start);
        written(&limit, "10.0.0.2", 1, start);
        // Neither is idle, so neither is evicted: the rest share a bucket.
        let others: usize = (3..=50)
            .map(|host| written(&limit, &format!("10.0.0.{host}"), 2, start))
            .sum();
        assert_eq!(others, 3);
        let summaries = limit.drain();
        assert!(summaries.contains(&Suppressed {
            peer: Peer::Others,
            lines: 48 * 2 - 3
        }));
    }

    #[test]
    fn idle_entries_are_evicted_with_their_counts_when_room_is_needed() {
        let start = Instant::now();
        let limit = LogLimit::new(SMALL, start);
        assert_eq!(written(&limit, "10.0.0.1", 5, start), 3);
        written(&limit, "10.0.0.2", 1, start);
        // Ten seconds later both refilled: a new peer evicts them, and the
        // first one's count comes back as a summary.
        let later = at(start, 10_000);
        let decision = limit.check(ip("10.0.0.3"), later);
        assert!(decision.write);
        assert_eq!(
            decision.summaries,
            [Suppressed {
                peer: Peer::of(ip("10.0.0.1")),
                lines: 2
            }]
        );
        // The new peer has an entry of its own (a full burst).
        assert_eq!(written(&limit, "10.0.0.3", 10, later), 2);
    }

    #[test]
    fn a_full_table_is_swept_at_most_once_a_sweep_period() {
        // Idle a tenth of a second after a line.
        let limits = Limits {
            burst: 1,
            per_second: 10,
            ..SMALL
        };
        let start = Instant::now();
        let limit = LogLimit::new(limits, start);
        let tracked = |address: &str| {
            limit
                .state
                .lock()
                .peers
                .contains_key(&Peer::of(ip(address)))
        };
        written(&limit, "10.0.0.1", 1, start);
        written(&limit, "10.0.0.2", 1, start);
        // A sweep now finds nobody idle: the newcomer goes to the overflow.
        assert!(limit.check(ip("10.0.0.3"), start).write);
        assert!(!tracked("10.0.0.3"));
        // Both are idle by now, but the next sweep is not due yet.
        assert!(limit.check(ip("10.0.0.4"), at(start, 500)).write);
        assert!(!tracked("10.0.0.4"));
        // Now it is: both go, and the newcomer gets an entry.
        assert!(limit.check(ip("10.0.0.5"), at(start, 1000)).write);
        assert!(tracked("10.0.0.5"));
        assert!(!tracked("10.0.0.1"));
        assert!(!tracked("10.0.0.2"));
    }

    #[test]
    fn drain_hands_back_every_count_once() {
        let start = Instant::now();
        let limit = LogLimit::new(SMALL, start);
        written(&limit, "10.0.0.1", 10, start);
        written(&limit, "10.0.0.2", 4, start);
        let mut summaries = limit.drain();
        summaries.sort_by_key(|summary| summary.lines);
        assert_eq!(
            summaries,
            [
                Suppressed {
                    peer: Peer::of(ip("10.0.0.2")),
                    lines: 1
                },
                Suppressed {
                    peer: Peer::of(ip("10.0.0.1")),
                    lines: 7
                }
            ]
        );
        assert!(limit.drain().is_empty());
    }

    #[test]
    fn an_ipv6_peer_is_tracked_by_its_slash_64() {
        let start = Instant::now();
        let limit = LogLimit::new(SMALL, start);
        assert_eq!(written(&limit, "2001:db8:1:2::1", 2, start), 2);
        assert_eq!(written(&limit, "2001:db8:1:2:ffff::9", 5, start), 1);
        assert_eq!(written(&limit, "2001:db8:1:3::1", 5, start), 3);
        assert_eq!(
            Peer::of(ip("2001:db8:1:2:ffff::9")).to_string(),
            "2001:db8:1:2::/64"
        );
        // An IPv4 peer on an IPv6 socket is the IPv4 peer.
        assert_eq!(Peer::of(ip("::ffff:10.0.0.1")), Peer::of(ip("10.0.0.1")));
        assert_eq!(Peer::of(ip("10.0.0.1")).to_string(), "10.0.0.1");
    }
}
