//! The state every thread of a server shares: the central, the
//! configuration, each loop's inbox and waker, which connection speaks for
//! each agency, and the flags of stopping.
//!
//! It sits below the acceptor, the server and the event loops, which all use
//! it and none of which it knows. Its locks are short (an inbox push, a map
//! insert at a handshake or a close) and never held across I/O or a call into
//! the central; the atomics are flags and counters read by other threads.

use std::collections::{HashMap, HashSet};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use lottery_bet::AgencyId;
use lottery_core::Central;
use mio::net::TcpStream;
use mio::{Poll, Token, Waker};
use parking_lot::Mutex;

use crate::config::ServerConfig;
use crate::log_line;
use crate::metrics::Metrics;

/// The token of each loop's waker (its connections count up from 1).
pub(crate) const LOOP_WAKER: Token = Token(0);

/// Where a bound connection lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Binding {
    pub loop_index: usize,
    pub token: Token,
}

/// What a loop is told through its inbox.
#[derive(Debug)]
pub(crate) enum Command {
    /// Take this new connection.
    Adopt(TcpStream, SocketAddr),
    /// A newer connection of the same agency took over: end this one.
    Replace(Token),
}

/// One loop as the others see it: its inbox, and the waker that makes it
/// look.
pub(crate) struct LoopHandle {
    waker: Arc<Waker>,
    inbox: Mutex<Vec<Command>>,
}

impl LoopHandle {
    /// A handle for the loop that will poll `poll`.
    ///
    /// # Errors
    /// When the waker cannot be registered.
    pub(crate) fn new(poll: &Poll) -> io::Result<Self> {
        Ok(Self {
            waker: Arc::new(Waker::new(poll.registry(), LOOP_WAKER)?),
            inbox: Mutex::new(Vec::new()),
        })
    }

    /// The loop's waker (its completer wakes it too).
    pub(crate) fn waker(&self) -> &Arc<Waker> {
        &self.waker
    }

    /// Queues `command` and wakes the loop, unless commands were queued
    /// already: their sender's wake is then still to be seen, and the loop
    /// takes the whole inbox when it looks (10,000 agencies connecting cost
    /// one `eventfd` write per burst instead of one each).
    fn send(&self, command: Command) {
        let was_empty = {
            let mut inbox = self.inbox.lock();
            let was_empty = inbox.is_empty();
            inbox.push(command);
            was_empty
        };
        if was_empty && let Err(error) = self.waker.wake() {
            log_line::wake_failed(&error);
        }
    }

    /// Moves the pending commands into `into`.
    pub(crate) fn take_commands(&self, into: &mut Vec<Command>) {
        std::mem::swap(&mut *self.inbox.lock(), into);
    }
}

/// The state every thread of a server shares.
pub(crate) struct Shared {
    central: Central,
    config: ServerConfig,
    loops: Vec<LoopHandle>,
    acceptor: Arc<Waker>,
    /// Set once: every loop finishes its work, says goodbye and exits.
    stopping: AtomicBool,
    /// A loop exited (or died); the acceptor checks why.
    loop_exited: AtomicBool,
    /// `exit_when_done` reached.
    done: AtomicBool,
    /// Connections accepted and not yet closed (the connection limit).
    live: AtomicUsize,
    /// Which connection speaks for each agency: a newer one replaces it.
    /// Touched at handshakes and closes only.
    agencies: Mutex<HashMap<AgencyId, Binding>>,
    /// Agencies whose winners were sent (for `exit_when_done`).
    served: Mutex<HashSet<AgencyId>>,
    /// Each loop's counters for the status port (read on scrape).
    metrics: Metrics,
}

impl Shared {
    /// The state of a server over `central`, with one handle per loop;
    /// `acceptor` wakes the acceptor.
    pub(crate) fn new(
        central: Central,
        config: ServerConfig,
        loops: Vec<LoopHandle>,
        acceptor: Arc<Waker>,
    ) -> Self {
        let loops_count = loops.len();
        Self {
            central,
            config,
            loops,
            acceptor,
            stopping: AtomicBool::new(false),
            loop_exited: AtomicBool::new(false),
            done: AtomicBool::new(false),
            live: AtomicUsize::new(0),
            agencies: Mutex::new(HashMap::new()),
            served: Mutex::new(HashSet::new()),
            metrics: Metrics::new(loops_count),
        }
    }

    /// The lottery.
    pub(crate) fn central(&self) -> &Central {
        &self.central
    }

    /// How the server runs.
    pub(crate) fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// The loops, as the others see them.
    pub(crate) fn loops(&self) -> &[LoopHandle] {
        &self.loops
    }

    /// The counters of the loops and the acceptor.
    pub(crate) fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Connections accepted and not yet closed.
    pub(crate) fn live_connections(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    /// The agencies a connection speaks for now, sorted (one short lock).
    pub(crate) fn connected_agencies(&self) -> Vec<AgencyId> {
        let mut connected: Vec<AgencyId> = self.agencies.lock().keys().copied().collect();
        connected.sort_unstable();
        connected
    }

    /// Hands `command` to loop `index` and wakes it.
    pub(crate) fn send(&self, index: usize, command: Command) {
        self.loops[index].send(command);
    }

    /// Counts a new connection in, unless the server holds its maximum.
    pub(crate) fn admit(&self) -> bool {
        if self.live.load(Ordering::SeqCst) >= self.config.max_connections {
            return false;
        }
        self.live.fetch_add(1, Ordering::SeqCst);
        true
    }

    /// Makes `here` the connection of `agency`, replacing an older one.
    pub(crate) fn bind(&self, agency: AgencyId, here: Binding) {
        let older = self.agencies.lock().insert(agency, here);
        if let Some(older) = older.filter(|older| *older != here) {
            log_line::connection_replaced(agency);
            self.send(older.loop_index, Command::Replace(older.token));
        }
    }

    /// Forgets `here` as the connection of `agency`, unless a newer one
    /// replaced it already.
    pub(crate) fn unbind(&self, agency: AgencyId, here: Binding) {
        let mut agencies = self.agencies.lock();
        if agencies.get(&agency) == Some(&here) {
            agencies.remove(&agency);
        }
    }

    /// `agency` received its winners.
    pub(crate) fn served(&self, agency: AgencyId) {
        self.served.lock().insert(agency);
        self.check_done();
    }

    /// A connection counted by [`Shared::admit`] is gone.
    pub(crate) fn connection_closed(&self) {
        self.live.fetch_sub(1, Ordering::SeqCst);
        self.check_done();
    }

    fn check_done(&self) {
        if !self.config.exit_when_done || self.done.load(Ordering::SeqCst) {
            return;
        }
        let everyone_served = self.served.lock().len() >= self.central.rules().agencies as usize;
        if everyone_served && self.live.load(Ordering::SeqCst) == 0 && self.central.is_drawn() {
            self.done.store(true, Ordering::SeqCst);
            let _ = self.acceptor.wake();
        }
    }

    /// Whether `exit_when_done` was reached.
    pub(crate) fn is_done(&self) -> bool {
        self.done.load(Ordering::SeqCst)
    }

    /// Tells every loop to finish its work, say goodbye and exit.
    pub(crate) fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        for handle in &self.loops {
            let _ = handle.waker.wake();
        }
    }

    /// Whether the server is stopping.
    pub(crate) fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Whether a loop exited (only a failure makes one exit before stopping).
    pub(crate) fn loop_exited(&self) -> bool {
        self.loop_exited.load(Ordering::SeqCst)
    }
}

/// Tells a loop's exit to the acceptor, however the loop ends (even a panic):
/// the loop's thread holds it, and dropping it is the notice.
pub(crate) struct ExitNotice(pub Arc<Shared>);

impl Drop for ExitNotice {
    fn drop(&mut self) {
        self.0.loop_exited.store(true, Ordering::SeqCst);
        let _ = self.0.acceptor.wake();
    }
}
