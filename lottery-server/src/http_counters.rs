//! What the status port's limits did ([`HttpCounters`]): connections held
//! now, connections it cut at each limit, requests refused for want of the
//! token. Relaxed atomics the port's thread bumps; `/metrics` reads them
//! (every limit has a metric: SECURITY.md, "The status port").
//!
//! Below both `http.rs` (which counts) and `status.rs` (which shows), so
//! that neither imports the other.

use std::sync::atomic::{AtomicU64, Ordering};

/// A limit at which the port closed a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cut {
    /// The connection cap: a newer connection took its slot.
    Evicted,
    /// Its request head was longer than `--http-max-head` (answered 431).
    HeadTooLarge,
    /// No whole head within `--http-head-timeout` (slowloris, idle).
    HeadTimeout,
    /// It took none of its response for `--http-write-timeout`.
    WriteTimeout,
    /// Its TLS handshake failed or took longer than the head timeout.
    TlsHandshake,
}

impl Cut {
    const ALL: [Cut; 5] = [
        Cut::Evicted,
        Cut::HeadTooLarge,
        Cut::HeadTimeout,
        Cut::WriteTimeout,
        Cut::TlsHandshake,
    ];

    /// Its name as the metric's `reason` label.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Cut::Evicted => "evicted",
            Cut::HeadTooLarge => "head_too_large",
            Cut::HeadTimeout => "head_timeout",
            Cut::WriteTimeout => "write_timeout",
            Cut::TlsHandshake => "tls_handshake",
        }
    }

    fn index(self) -> usize {
        Cut::ALL
            .iter()
            .position(|cut| *cut == self)
            .expect("every cut is listed")
    }
}

/// The status port's counters.
#[derive(Debug, Default)]
pub(crate) struct HttpCounters {
    cuts: [AtomicU64; Cut::ALL.len()],
    unauthorized: AtomicU64,
}

impl HttpCounters {
    /// A connection was closed at `cut`.
    pub(crate) fn cut(&self, cut: Cut) {
        self.cuts[cut.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// A request was answered 401.
    pub(crate) fn unauthorized(&self) {
        self.unauthorized.fetch_add(1, Ordering::Relaxed);
    }

    /// The counts now, with `connections` held.
    pub(crate) fn counts(&self, connections: usize) -> HttpCounts {
        HttpCounts {
            connections,
            cuts: Cut::ALL
                .iter()
                .map(|cut| (cut.name(), self.cuts[cut.index()].load(Ordering::Relaxed)))
                .collect(),
            unauthorized: self.unauthorized.load(Ordering::Relaxed),
        }
    }
}

/// One look at the status port's counters.
#[derive(Debug, Clone, Default)]
pub(crate) struct HttpCounts {
    /// Connections held now.
    pub(crate) connections: usize,
    /// Connections cut, by limit (every limit listed).
    pub(crate) cuts: Vec<(&'static str, u64)>,
    /// Requests answered 401.
    pub(crate) unauthorized: u64,
}
