//! How many log lines a peer can cause: a token bucket per peer address and
//! one per agency, so that no peer, bound to an agency or not, can fill the
//! disk.
//!
//! `log_line.rs` asks [`LogLimit::check`] before it writes a limited line,
//! naming who the line is about ([`Subject`]), which says which buckets it
//! costs:
//! - [`Subject::Unbound`]: a line about a peer not (yet) bound to an agency
//!   (its connection accepted, its handshake refused, its timeout, its
//!   connection closed): that address's bucket and the bucket shared by
//!   every peer;
//! - [`Subject::Agency`]: a line a well-behaved agency causes too, a bounded
//!   number of times a connection or a run (its handshake, its finish, its
//!   winners query and answer, its connection replaced, timed out or
//!   closed): the agency's bucket only. A well-behaved agency causes about
//!   five such lines a run and two a reconnect, well within a burst, so its
//!   lines are whole; an agency (or a plaintext peer naming it) that
//!   reconnects, finishes or asks again and again without end is limited.
//!   Not the shared bucket: a large, honest fleet (a load generator's
//!   thousands of agencies) must not suppress its own lines;
//! - [`Subject::AgencyFault`]: a bound agency's refusal or failure (a
//!   refused batch of any refusal code, a refused finish, a malformed
//!   frame, a store failure under its batch): the agency's bucket, its
//!   address's and the shared one. A well-behaved agency causes at most one
//!   (the client gives up on a refusal), and a peer that binds many
//!   agencies from one address (plaintext) is limited by that address too.
//!
//! The course's own line of a stored batch (`apuesta_recibida | result:
//! success`, which other tools parse and count) and the draw (`sorteo`) are
//! never limited: `log_line.rs` writes them without asking.
//!
//! The rules ([`LIMITS`]):
//! - each address and each agency may write a burst of [`Limits::burst`]
//!   lines, refilled at [`Limits::per_second`] lines a second; an IPv6 peer
//!   is tracked by its /64 prefix (one host usually holds a whole /64);
//! - the lines that cost the shared bucket may be written [`Limits::all_burst`]
//!   at once, refilled at [`Limits::all_per_second`] (an attacker with many
//!   addresses);
//! - at most [`Limits::max_peers`] addresses and [`Limits::max_agencies`]
//!   agencies are tracked. When a table is full, its idle entries (whose
//!   bucket refilled completely) are evicted, at most once per
//!   [`SWEEP_EVERY`]; a newcomer that still finds no room shares one
//!   overflow bucket with every other such newcomer of its table
//!   ([`Peer::Others`], [`Peer::OtherAgencies`]).
//!
//! What was suppressed is counted on the entry the line is about (the
//! address, or the agency) and handed back as [`Suppressed`] summaries:
//! before the next line that entry may write, when it is evicted, and at
//! shutdown ([`LogLimit::drain`]). The limiter never writes a line itself
//! and holds its lock for a few map lookups only (no I/O under it): the
//! caller writes. What the log no longer shows of refusals, `/metrics`
//! still counts (`lottery_refusals_total{code}`, counted where each refusal
//! is sent, never limited).
//!
//! The clock is a parameter (`now`), so tests drive time by hand.

use std::collections::HashMap;
use std::fmt::{self, Display};
use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, Instant};

use lottery_bet::AgencyId;
use parking_lot::Mutex;

/// How many limited lines may be written.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Lines one address, or one agency, may write at once.
    pub burst: u32,
    /// Lines one address, or one agency, may write per second, sustained.
    pub per_second: u32,
    /// Lines of the shared bucket that may be written at once.
    pub all_burst: u32,
    /// Lines of the shared bucket that may be written per second, sustained.
    pub all_per_second: u32,
    /// Addresses tracked one by one; the rest share one bucket.
    pub max_peers: usize,
    /// Agencies tracked one by one; the rest share one bucket.
    pub max_agencies: usize,
}

/// The central's limits: a peer that connects, is refused and leaves costs
/// about three lines, so a burst of 20 shows a few such attempts whole, and
/// 2 a second (about 300 bytes) is what a peer can add to the log for as
/// long as it tries; the same for an agency, whose honest run takes about
/// five lines and a reconnect two. So one agency pipelining refused batches
/// adds about 20 + 2 lines a second: 50 lines, about 10 KB, in 15 s. The
/// shared bucket: at most 100 lines a second (about 15 KB). 4096 tracked
/// addresses take about 256 KiB, 16,384 tracked agencies about 1 MiB (a
/// load generator's fleet is tracked one by one).
pub(crate) const LIMITS: Limits = Limits {
    burst: 20,
    per_second: 2,
    all_burst: 1000,
    all_per_second: 100,
    max_peers: 4096,
    max_agencies: 16_384,
};

/// How often a full table may be swept for idle entries (a sweep walks the
/// whole table, under the lock).
pub(crate) const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Who a limited line is about, and so which buckets it costs (see the
/// module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Subject {
    /// A peer not bound to an agency: its address's bucket and the shared
    /// one.
    Unbound(IpAddr),
    /// A bound agency's line that a well-behaved agency causes too: the
    /// agency's bucket only.
    Agency(AgencyId),
    /// A bound agency's refusal or failure, over a connection from
    /// `address`: the agency's bucket, the address's and the shared one.
    AgencyFault {
        /// The agency the line is about (its count of suppressed lines).
        agency: AgencyId,
        /// Where its connection comes from.
        address: IpAddr,
    },
}

/// Who a count of suppressed lines belongs to, as the limiter counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Peer {
    /// An IPv4 address, or an IPv6 address cut to its /64 prefix.
    Address(IpAddr),
    /// Every address that found the table full.
    Others,
    /// An agency.
    Agency(AgencyId),
    /// Every agency that found the table full.
    OtherAgencies,
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

    /// The detail a summary names it by: `peer` for addresses, `agency` for
    /// agencies.
    pub(crate) fn key(&self) -> &'static str {
        match self {
            Self::Address(_) | Self::Others => "peer",
            Self::Agency(_) | Self::OtherAgencies => "agency",
        }
    }
}

impl Display for Peer {
    /// The detail's value (see [`Peer::key`]).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Address(IpAddr::V6(prefix)) => write!(f, "{prefix}/64"),
            Self::Address(v4) => v4.fmt(f),
            Self::Agency(agency) => agency.fmt(f),
            Self::Others | Self::OtherAgencies => f.write_str("others"),
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
    /// Summaries to write first: the subject's own count (when `write`) and
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

/// The entries of one kind (addresses, or agencies), bounded, with the
/// overflow bucket of the newcomers that found it full.
#[derive(Debug)]
struct Table {
    entries: HashMap<Peer, Entry>,
    /// The bucket of the newcomers that found the table full.
    others: Entry,
    /// Whom `others` counts as in a summary.
    others_are: Peer,
    /// Entries tracked one by one, at most.
    max: usize,
    /// No sweep of a full table before then.
    next_sweep: Instant,
}

impl Table {
    fn new(max: usize, others_are: Peer, limits: Limits, now: Instant) -> Self {
        Self {
            entries: HashMap::new(),
            others: Entry::new(limits.burst, now),
            others_are,
            max,
            next_sweep: now,
        }
    }

    /// The entry `peer` counts on (its own, or the overflow's when the
    /// table is full even after a due sweep, whose evicted counts go to
    /// `summaries`), refilled to `now`, and whom it counts as.
    fn entry(
        &mut self,
        peer: Peer,
        limits: Limits,
        now: Instant,
        summaries: &mut Vec<Suppressed>,
    ) -> (Peer, &mut Entry) {
        let known = self.entries.contains_key(&peer);
        if !known && self.entries.len() >= self.max && now >= self.next_sweep {
            self.next_sweep = now + SWEEP_EVERY;
            evict_idle(&mut self.entries, limits, now, summaries);
        }
        let (counted_as, entry) = if known || self.entries.len() < self.max {
            let entry = self
                .entries
                .entry(peer)
                .or_insert_with(|| Entry::new(limits.burst, now));
            (peer, entry)
        } else {
            (self.others_are, &mut self.others)
        };
        entry.bucket.refill(now, limits.burst, limits.per_second);
        (counted_as, entry)
    }

    /// Every count not yet summarized, resetting them.
    fn drain(&mut self, summaries: &mut Vec<Suppressed>) {
        summaries.extend(
            self.entries
                .iter_mut()
                .filter_map(|(&peer, entry)| entry.summary(peer)),
        );
        summaries.extend(self.others.summary(self.others_are));
    }
}

#[derive(Debug)]
struct State {
    addresses: Table,
    agencies: Table,
    /// The bucket shared by every line about an unbound peer and every
    /// agency's refusal or failure.
    all: Bucket,
}

/// The limiter of lines peers can cause; shared by every thread
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
                addresses: Table::new(limits.max_peers, Peer::Others, limits, now),
                agencies: Table::new(limits.max_agencies, Peer::OtherAgencies, limits, now),
                all: Bucket::full(limits.all_burst, now),
            }),
        }
    }

    /// Whether a line about `subject` may be written at `now`: if every
    /// bucket it costs has a token, one of each is spent; if not, the line
    /// is counted as suppressed on the subject's own entry (its address for
    /// an unbound peer, its agency otherwise).
    pub(crate) fn check(&self, subject: Subject, now: Instant) -> Decision {
        let limits = self.limits;
        let mut summaries = Vec::new();
        let mut guard = self.state.lock();
        let State {
            addresses,
            agencies,
            all,
        } = &mut *guard;
        all.refill(now, limits.all_burst, limits.all_per_second);
        let (counted_as, entry, address, shared) = match subject {
            Subject::Unbound(address) => {
                let (peer, entry) = addresses.entry(Peer::of(address), limits, now, &mut summaries);
                (peer, entry, None, Some(all))
            }
            Subject::Agency(agency) => {
                let (peer, entry) =
                    agencies.entry(Peer::Agency(agency), limits, now, &mut summaries);
                (peer, entry, None, None)
            }
            Subject::AgencyFault { agency, address } => {
                let (peer, entry) =
                    agencies.entry(Peer::Agency(agency), limits, now, &mut summaries);
                let (_, by_address) =
                    addresses.entry(Peer::of(address), limits, now, &mut summaries);
                (peer, entry, Some(&mut by_address.bucket), Some(all))
            }
        };
        let write = entry.bucket.has_token()
            && address.as_ref().is_none_or(|bucket| bucket.has_token())
            && shared.as_ref().is_none_or(|bucket| bucket.has_token());
        if write {
            entry.bucket.tokens -= 1.0;
            if let Some(bucket) = address {
                bucket.tokens -= 1.0;
            }
            if let Some(bucket) = shared {
                bucket.tokens -= 1.0;
            }
            summaries.extend(entry.summary(counted_as));
        } else {
            entry.suppressed += 1;
        }
        Decision { write, summaries }
    }

    /// Every count not yet summarized (at shutdown), resetting them.
    pub(crate) fn drain(&self) -> Vec<Suppressed> {
        let mut state = self.state.lock();
        let mut summaries = Vec::new();
        state.addresses.drain(&mut summaries);
        state.agencies.drain(&mut summaries);
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
        max_agencies: 2,
    };

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn unbound(text: &str) -> Subject {
        Subject::Unbound(ip(text))
    }

    fn at(start: Instant, millis: u64) -> Instant {
        start + Duration::from_millis(millis)
    }

    /// How many of `n` lines about `address` at `now` are written.
    fn written(limit: &LogLimit, address: &str, n: usize, now: Instant) -> usize {
        (0..n)
            .filter(|_| limit.check(unbound(address), now).write)
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
        let next = limit.check(unbound("10.0.0.1"), at(start, 500));
        assert!(next.write);
        assert_eq!(
            next.summaries,
            [Suppressed {
                peer: Peer::of(ip("10.0.0.1")),
                lines: 7
            }]
        );
        // Said once.
        let after = limit.check(unbound("10.0.0.1"), at(start, 1000));
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
        let next = limit.check(unbound("10.0.0.10"), at(start, 1000));
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
        let decision = limit.check(unbound("10.0.0.3"), later);
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
                .addresses
                .entries
                .contains_key(&Peer::of(ip(address)))
        };
        written(&limit, "10.0.0.1", 1, start);
        written(&limit, "10.0.0.2", 1, start);
        // A sweep now finds nobody idle: the newcomer goes to the overflow.
        assert!(limit.check(unbound("10.0.0.3"), start).write);
        assert!(!tracked("10.0.0.3"));
        // Both are idle by now, but the next sweep is not due yet.
        assert!(limit.check(unbound("10.0.0.4"), at(start, 500)).write);
        assert!(!tracked("10.0.0.4"));
        // Now it is: both go, and the newcomer gets an entry.
        assert!(limit.check(unbound("10.0.0.5"), at(start, 1000)).write);
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

    fn agency(id: u32) -> AgencyId {
        AgencyId::new(id).unwrap()
    }

    /// How many of `n` lines about `subject` at `now` are written.
    fn written_of(limit: &LogLimit, subject: Subject, n: usize, now: Instant) -> usize {
        (0..n).filter(|_| limit.check(subject, now).write).count()
    }

    #[test]
    fn an_agency_has_a_bucket_of_its_own_apart_from_its_address() {
        let start = Instant::now();
        let limit = LogLimit::new(SMALL, start);
        // An unbound flood from the address does not silence the agency's
        // own lines (its handshake, its close): another bucket.
        assert_eq!(written(&limit, "10.0.0.1", 10, start), 3);
        assert_eq!(written_of(&limit, Subject::Agency(agency(1)), 10, start), 3);
        assert_eq!(written_of(&limit, Subject::Agency(agency(2)), 10, start), 3);
        // What it suppressed is summarized under the agency.
        let next = limit.check(Subject::Agency(agency(1)), at(start, 500));
        assert!(next.write);
        assert_eq!(
            next.summaries,
            [Suppressed {
                peer: Peer::Agency(agency(1)),
                lines: 7
            }]
        );
        assert_eq!(next.summaries[0].peer.key(), "agency");
        assert_eq!(next.summaries[0].peer.to_string(), "1");
    }

    #[test]
    fn an_agencys_faults_cost_its_bucket_its_addresss_and_the_shared_one() {
        let start = Instant::now();
        let limits = Limits {
            burst: 4,
            all_burst: 6,
            max_peers: 100,
            max_agencies: 100,
            ..SMALL
        };
        let limit = LogLimit::new(limits, start);
        let fault = |id, address: &str| Subject::AgencyFault {
            agency: agency(id),
            address: ip(address),
        };
        // Agency 1 from 10.0.0.1: its own burst.
        assert_eq!(written_of(&limit, fault(1, "10.0.0.1"), 10, start), 4);
        // Agency 2 from the same address: the address's burst is spent.
        assert_eq!(written_of(&limit, fault(2, "10.0.0.1"), 10, start), 0);
        // Agency 3 elsewhere: two left in the shared bucket.
        assert_eq!(written_of(&limit, fault(3, "10.0.0.2"), 10, start), 2);
        // A well-behaved agency's own lines cost none of those.
        assert_eq!(written_of(&limit, Subject::Agency(agency(4)), 10, start), 4);
        let mut summaries = limit.drain();
        summaries.sort_by_key(|summary| (summary.lines, summary.peer.to_string()));
        assert_eq!(
            summaries,
            [
                Suppressed {
                    peer: Peer::Agency(agency(1)),
                    lines: 6
                },
                Suppressed {
                    peer: Peer::Agency(agency(4)),
                    lines: 6
                },
                Suppressed {
                    peer: Peer::Agency(agency(3)),
                    lines: 8
                },
                Suppressed {
                    peer: Peer::Agency(agency(2)),
                    lines: 10
                },
            ]
        );
    }

    #[test]
    fn a_full_table_of_agencies_sends_new_agencies_to_their_own_overflow() {
        let start = Instant::now();
        let limit = LogLimit::new(SMALL, start);
        written_of(&limit, Subject::Agency(agency(1)), 1, start);
        written_of(&limit, Subject::Agency(agency(2)), 1, start);
        let others: usize = (3..=10)
            .map(|id| written_of(&limit, Subject::Agency(agency(id)), 2, start))
            .sum();
        assert_eq!(others, 3);
        // Addresses still have their table.
        assert_eq!(written(&limit, "10.0.0.1", 10, start), 3);
        let summaries = limit.drain();
        assert!(summaries.contains(&Suppressed {
            peer: Peer::OtherAgencies,
            lines: 8 * 2 - 3
        }));
        assert_eq!(Peer::OtherAgencies.key(), "agency");
        assert_eq!(Peer::OtherAgencies.to_string(), "others");
    }
}
