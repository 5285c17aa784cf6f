//! The status port's connections, at most a fixed number at once
//! ([`Slots`]), each with the time it last made progress ([`Slot`]).
//!
//! At the cap, a new connection takes the slot of the connection that made
//! progress least recently (a request head read, response bytes taken by
//! the client), which is told to close at once. So a client that only
//! holds connections open (slowloris, idle keep-alive, never reading)
//! loses them to whoever comes next, and a fresh client asking `/healthz`
//! is always served; while hostile clients cost at most the cap in tasks
//! and descriptors, never one per connection they open.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use parking_lot::Mutex;
use tokio::sync::Notify;

/// One connection's place among the status port's connections.
#[derive(Debug)]
pub(super) struct Slot {
    /// When the connection last made progress, in microseconds since the
    /// port started: the eviction order.
    progress: AtomicU64,
    /// Told when the slot is taken by a newer connection.
    evicted: Notify,
    /// The port's start, the origin of `progress`.
    origin: Instant,
    /// Who is connected (for the log line of an eviction).
    pub(super) peer: SocketAddr,
}

impl Slot {
    /// The connection made progress now.
    pub(super) fn progressed(&self) {
        self.progress.store(micros(self.origin), Ordering::Relaxed);
    }

    /// Resolves once a newer connection took this slot.
    pub(super) async fn evicted(&self) {
        self.evicted.notified().await;
    }
}

fn micros(origin: Instant) -> u64 {
    u64::try_from(origin.elapsed().as_micros()).unwrap_or(u64::MAX)
}

/// The connections of the port, by id.
#[derive(Debug)]
pub(super) struct Slots {
    max: usize,
    origin: Instant,
    held: Mutex<Held>,
}

#[derive(Debug, Default)]
struct Held {
    next_id: u64,
    by_id: HashMap<u64, Arc<Slot>>,
}

/// A connection's claim on its slot, given back when dropped (the
/// connection ended, or its task was dropped with the runtime).
pub(super) struct Admitted {
    slots: Arc<Slots>,
    id: u64,
    pub(super) slot: Arc<Slot>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.slots.held.lock().by_id.remove(&self.id);
    }
}

impl Slots {
    pub(super) fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            max: max.max(1),
            origin: Instant::now(),
            held: Mutex::new(Held::default()),
        })
    }

    /// Admits `peer`; at the cap, the least recently active connection is
    /// told to close and its peer returned.
    pub(super) fn admit(self: &Arc<Self>, peer: SocketAddr) -> (Admitted, Option<SocketAddr>) {
        let slot = Arc::new(Slot {
            progress: AtomicU64::new(micros(self.origin)),
            evicted: Notify::new(),
            origin: self.origin,
            peer,
        });
        let mut held = self.held.lock();
        let mut evicted = None;
        if held.by_id.len() >= self.max {
            let stalest = held
                .by_id
                .iter()
                .min_by_key(|(id, slot)| (slot.progress.load(Ordering::Relaxed), **id))
                .map(|(id, _)| *id);
            if let Some(old) = stalest.and_then(|id| held.by_id.remove(&id)) {
                // `notify_one` keeps the wake-up for a task not waiting yet.
                old.evicted.notify_one();
                evicted = Some(old.peer);
            }
        }
        let id = held.next_id;
        held.next_id += 1;
        held.by_id.insert(id, Arc::clone(&slot));
        drop(held);
        let admitted = Admitted {
            slots: Arc::clone(self),
            id,
            slot,
        };
        (admitted, evicted)
    }

    /// The connections held now.
    pub(super) fn len(&self) -> usize {
        self.held.lock().by_id.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn at_the_cap_the_least_recently_active_connection_gives_its_slot_up() {
        let slots = Slots::new(2);
        let (first, none) = slots.admit(peer(1));
        assert!(none.is_none());
        let (second, none) = slots.admit(peer(2));
        assert!(none.is_none());
        std::thread::sleep(std::time::Duration::from_millis(2));
        first.slot.progressed();
        // The second never made progress since it came: it goes.
        let (third, evicted) = slots.admit(peer(3));
        assert_eq!(evicted, Some(peer(2)));
        assert_eq!(slots.len(), 2);
        drop(second);
        assert_eq!(slots.len(), 2, "an evicted slot is given back once");
        drop(third);
        drop(first);
        assert_eq!(slots.len(), 0);
    }
}
