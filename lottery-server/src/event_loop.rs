//! One event-loop thread: its own `Poll`, the connections the acceptor handed
//! it, and the rhythm of one iteration.
//!
//! # One iteration
//! 1. Poll (edge-triggered); note which connections may be read or written.
//! 2. Take commands (new connections, replacements) and cross-thread news
//!    (the draw, shutdown) when the waker fired.
//! 3. Take the outcomes the completer sent back (see `completer.rs`): each
//!    session answers its completed batches, finishes and (over a shared
//!    ledger) handshakes, and is driven again, since it may hold a message
//!    behind them.
//! 4. Drive every connection that has something to do
//!    ([`Connection::on_readable`]): read (up to a budget, so one fast agency
//!    cannot starve the others), decode every whole frame, and let its
//!    session answer; batches and finishes are only *begun*
//!    (written to the store, their journal records queued). A session that
//!    takes no message now (held) is still read, so that a peer closing
//!    meanwhile is noticed.
//! 5. Hand the iteration's begun batches, finishes and handshakes to the
//!    completer, which waits for the group commit covering them (performs
//!    the draw, reads a shared ledger's record of a greeting agency) on its
//!    own thread: the loop never waits for the disk or the database.
//! 6. Flush every touched connection ([`Connection::on_writable`]); what does
//!    not fit stays buffered and is sent when the socket is writable again. A
//!    connection with too much unsent output is not read until it drains
//!    (backpressure).
//! 7. Every tick, apply the handshake, idle and closing deadlines.
//!
//! A connection reports what it came to ([`Status`]); only the loop
//! registers, deregisters and removes connections, and never while a batch
//! or finish of theirs is with the completer: the removal waits for its
//! outcome.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lottery_bet::Birthdate;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use crate::completer::{Completer, Outcomes, PendingRequest};
use crate::connection::{self, CLOSE_LINGER, Connection, Expired, Status, Turn};
use crate::log_line;
use crate::refusal::Ending;
use crate::session::Context;
use crate::shared::{Binding, Command, LOOP_WAKER, Shared};
use crate::transport::Transport;

/// Connection tokens count up from here and are never reused, so a stale
/// token (a replacement aimed at a connection that already left) finds nothing.
const FIRST_CONNECTION: usize = 1;

/// One event loop.
pub(crate) struct EventLoop {
    index: usize,
    poll: Poll,
    shared: Arc<Shared>,
    connections: HashMap<Token, Connection>,
    next_token: usize,
    /// Connections to drive in the next iteration.
    work: Vec<Token>,
    /// Connections driven in this iteration, to flush at its end.
    touched: Vec<Token>,
    /// Batches and finishes begun in this iteration, for the completer.
    begun: Vec<(Token, PendingRequest)>,
    completer: Completer,
    inbox: Vec<Command>,
    drawn: bool,
    stopping: bool,
    now: Instant,
    /// The central's date, read with `now` (see [`today`]).
    today: Birthdate,
    tick: Duration,
    next_tick: Instant,
}

impl EventLoop {
    /// A loop over `poll`, with its completer thread started.
    ///
    /// # Errors
    /// When the completer thread cannot be started.
    pub(crate) fn new(index: usize, poll: Poll, shared: Arc<Shared>) -> io::Result<Self> {
        let completer = Completer::start(
            index,
            shared.central().clone(),
            Arc::clone(shared.loops()[index].waker()),
            Arc::clone(shared.metrics().of_loop(index)),
            shared.config().receipt_key.clone(),
        )?;
        let config = shared.config();
        let tick = (config
            .handshake_timeout
            .min(config.idle_timeout)
            .min(CLOSE_LINGER)
            / 4)
        .clamp(Duration::from_millis(5), Duration::from_millis(250));
        let now = Instant::now();
        Ok(Self {
            index,
            poll,
            shared,
            connections: HashMap::new(),
            next_token: FIRST_CONNECTION,
            work: Vec::new(),
            touched: Vec::new(),
            begun: Vec::new(),
            completer,
            inbox: Vec::new(),
            drawn: false,
            stopping: false,
            now,
            today: today(),
            tick,
            next_tick: now + tick,
        })
    }

    /// Runs until shutdown and the last connection closed.
    ///
    /// # Errors
    /// The poll's error (the loop cannot go on).
    pub(crate) fn run(mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        // An iteration's lines (one per batch) leave together, before the
        // loop waits again.
        lottery_log::defer_lines();
        loop {
            lottery_log::write_deferred();
            if self.poll_events(&mut events)? {
                self.on_wake()?;
            }
            while let Some(outcomes) = self.completer.ready()? {
                self.answer(outcomes, true);
            }
            self.run_work()?;
            if self.now >= self.next_tick {
                self.on_tick()?;
            }
            if self.stopping && self.connections.is_empty() {
                return Ok(());
            }
        }
    }

    /// Waits for events (not at all when work is pending), notes them on
    /// their connections and schedules those. Returns whether the waker
    /// fired.
    fn poll_events(&mut self, events: &mut Events) -> io::Result<bool> {
        let mut timeout = if self.work.is_empty() {
            self.next_tick.saturating_duration_since(Instant::now())
        } else {
            Duration::ZERO
        };
        // Only a loop that may block asks its completer for a wake (a
        // running loop takes the outcomes at the top of its iteration).
        let parked = !timeout.is_zero() && self.completer.park();
        if !parked {
            timeout = Duration::ZERO;
        }
        let polled = self.poll.poll(events, Some(timeout));
        if parked {
            self.completer.unpark();
        }
        match polled {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
        self.now = Instant::now();
        self.today = today();
        let mut woken = false;
        for event in events.iter() {
            let token = event.token();
            if token == LOOP_WAKER {
                woken = true;
            } else if let Some(connection) = self.connections.get_mut(&token) {
                connection.on_event(event);
                schedule(&mut self.work, connection, token);
            }
        }
        Ok(woken)
    }

    fn on_wake(&mut self) -> io::Result<()> {
        let mut inbox = std::mem::take(&mut self.inbox);
        self.shared.loops()[self.index].take_commands(&mut inbox);
        for command in inbox.drain(..) {
            match command {
                Command::Adopt(stream, peer) => self.adopt(stream, peer),
                Command::Replace(token) => self.end(token, Ending::Replaced),
            }
        }
        self.inbox = inbox;
        if !self.drawn && self.shared.central().is_drawn() {
            self.drawn = true;
            self.answer_held_queries();
        }
        if !self.stopping && self.shared.is_stopping() {
            self.stop()?;
        }
        Ok(())
    }

    fn adopt(&mut self, stream: TcpStream, peer: SocketAddr) {
        let config = self.shared.config();
        let max_frame = config.max_frame;
        if self.stopping {
            connection::refuse(
                stream,
                Ending::ShuttingDown.frame(),
                max_frame,
                config.tls.is_some(),
            );
            self.shared.connection_closed();
            return;
        }
        // Acks are small and latency matters more than packet count.
        let _ = stream.set_nodelay(true);
        let (transport, authenticates) = match &config.tls {
            None => (Transport::Plain(stream), false),
            Some(tls) => match tls.accept() {
                Ok(session) => (
                    Transport::tls(stream, session),
                    tls.authenticates_agencies(),
                ),
                Err(error) => {
                    log_line::tls_setup_failed(peer, &error);
                    self.shared.connection_closed();
                    return;
                }
            },
        };
        let token = Token(self.next_token);
        self.next_token += 1;
        let mut connection =
            Connection::new(token, transport, peer, max_frame, authenticates, self.now);
        // Both interests at once, edge-triggered: the loop hears of
        // writability only after a write hit `WouldBlock`, and never has to
        // re-register (one `epoll_ctl` per connection in its whole life).
        let registered = self.poll.registry().register(
            &mut connection,
            token,
            Interest::READABLE | Interest::WRITABLE,
        );
        if let Err(error) = registered {
            log_line::register_failed(peer, &error);
            self.shared.connection_closed();
            return;
        }
        schedule(&mut self.work, &mut connection, token);
        self.connections.insert(token, connection);
    }

    /// Ends a connection's session from outside (replaced, timed out, shut
    /// down), telling the peer why.
    fn end(&mut self, token: Token, ending: Ending) {
        let max_frame = self.shared.config().max_frame;
        if let Some(connection) = self.connections.get_mut(&token)
            && connection.end(ending, max_frame, self.now)
        {
            schedule(&mut self.work, connection, token);
        }
    }

    fn answer_held_queries(&mut self) {
        let mut ctx = context(&self.shared, self.today);
        for (&token, connection) in &mut self.connections {
            if connection.on_draw(&mut ctx) {
                schedule(&mut self.work, connection, token);
            }
        }
    }

    /// Shutdown: takes in and stores what already arrived (acking it), then
    /// tells every agency the central is shutting down and closes.
    fn stop(&mut self) -> io::Result<()> {
        self.stopping = true;
        for (&token, connection) in &mut self.connections {
            if connection.on_stop() {
                schedule(&mut self.work, connection, token);
            }
        }
        self.run_work()?;
        // The acks go out before the goodbye. What the sessions held behind
        // them is not taken up: the agencies send it again to the next
        // central.
        while self.completer.outstanding() > 0 {
            let outcomes = self.completer.wait()?;
            self.answer(outcomes, false);
        }
        let tokens: Vec<Token> = self.connections.keys().copied().collect();
        for token in tokens {
            self.end(token, Ending::ShuttingDown);
        }
        self.run_work()
    }

    /// Drives the scheduled connections, hands what they began to the
    /// completer, and flushes what they answered.
    ///
    /// # Errors
    /// When the completer thread is gone.
    fn run_work(&mut self) -> io::Result<()> {
        let mut round = std::mem::take(&mut self.work);
        for token in &round {
            if let Some(connection) = self.connections.get_mut(token) {
                connection.unschedule();
            }
        }
        for &token in &round {
            self.drive(token);
        }
        round.clear();
        if !self.begun.is_empty() {
            self.completer
                .submit(std::mem::take(&mut self.begun), self.now)?;
        }
        let mut touched = std::mem::take(&mut self.touched);
        for token in touched.drain(..) {
            self.settle(token);
        }
        self.touched = touched;
        if self.work.is_empty() {
            // Keep the allocation (nothing was scheduled meanwhile).
            self.work = round;
        }
        Ok(())
    }

    /// Lets each session answer its completed batches, finishes and
    /// handshakes (registering the agency a handshake bound); with `go_on`,
    /// drives it again (it may hold a message behind them). A connection
    /// whose removal waited for these outcomes is removed.
    fn answer(&mut self, outcomes: Outcomes, go_on: bool) {
        let mut ctx = context(&self.shared, self.today);
        let mut removable = Vec::new();
        for (token, completed) in outcomes {
            let connection = self
                .connections
                .get_mut(&token)
                .expect("connections with work at the completer are not removed");
            let (answered, bound) = connection.on_completed(completed, &mut ctx, self.now);
            if let Some(agency) = bound {
                let here = Binding {
                    loop_index: self.index,
                    token,
                };
                self.shared.bind(agency, here);
            }
            if !answered {
                continue;
            }
            if connection.is_closed() {
                removable.push(token);
            } else if go_on {
                schedule(&mut self.work, connection, token);
            } else {
                self.touched.push(token);
            }
        }
        for token in removable {
            self.remove(token);
        }
    }

    /// Lets one connection read, decode and answer; registers the agency its
    /// handshake bound it to.
    fn drive(&mut self, token: Token) {
        let Self {
            index,
            shared,
            connections,
            work,
            touched,
            begun,
            now,
            today,
            ..
        } = self;
        let Some(connection) = connections.get_mut(&token) else {
            return;
        };
        touched.push(token);
        let mut turn = Turn {
            ctx: context(shared, *today),
            now: *now,
            begun,
            bound: None,
        };
        let status = connection.on_readable(&mut turn);
        if let Some(agency) = turn.bound {
            let here = Binding {
                loop_index: *index,
                token,
            };
            shared.bind(agency, here);
        }
        if status == Status::Again {
            schedule(work, connection, token);
        }
    }

    /// After a connection was driven: sends its output, and removes it if it
    /// closed.
    fn settle(&mut self, token: Token) {
        let Some(connection) = self.connections.get_mut(&token) else {
            return;
        };
        let (status, served) = connection.on_writable();
        if let Some(agency) = served {
            self.shared.served(agency);
        }
        match status {
            Status::Idle => {}
            Status::Again => schedule(&mut self.work, connection, token),
            Status::Done => self.remove(token),
        }
    }

    /// Applies the deadlines: handshake, idle, and closing linger.
    fn on_tick(&mut self) -> io::Result<()> {
        self.next_tick = self.now + self.tick;
        let mut timed_out = Vec::new();
        let mut lingered = Vec::new();
        for (&token, connection) in &self.connections {
            match connection.expired(self.now, self.shared.config()) {
                Some(Expired::Timeout(ending)) => timed_out.push((token, ending)),
                Some(Expired::Linger) => lingered.push(token),
                None => {}
            }
        }
        for (token, ending) in timed_out {
            if let Some(connection) = self.connections.get(&token) {
                log_line::timed_out(connection.agency(), connection.peer(), ending);
            }
            self.end(token, ending);
        }
        for token in lingered {
            if let Some(connection) = self.connections.get_mut(&token) {
                connection.linger_expired();
            }
            self.remove(token);
        }
        if !self.work.is_empty() {
            self.run_work()?;
        }
        Ok(())
    }

    /// Removes a closed connection, unless the completer still has work of
    /// it: then `answer` removes it once that is answered.
    fn remove(&mut self, token: Token) {
        if self
            .connections
            .get(&token)
            .is_none_or(Connection::has_pending_work)
        {
            return;
        }
        let Some(mut connection) = self.connections.remove(&token) else {
            return;
        };
        let _ = self.poll.registry().deregister(&mut connection);
        let agency = connection.agency();
        if let Some(agency) = agency {
            let here = Binding {
                loop_index: self.index,
                token,
            };
            self.shared.unbind(agency, here);
        }
        log_line::connection_closed(agency, connection.peer(), connection.close_reason());
        drop(connection);
        self.shared.connection_closed();
    }
}

impl Drop for EventLoop {
    fn drop(&mut self) {
        log_line::event_loop_exited(self.index);
        // However the loop ended (a panic too): its last lines are written.
        lottery_log::write_deferred();
    }
}

/// What a session's handlers see of the server in an iteration that began
/// on `today`.
fn context(shared: &Shared, today: Birthdate) -> Context<'_> {
    Context {
        central: shared.central(),
        max_frame: shared.config().max_frame,
        receipt_key: shared.config().receipt_key.as_deref(),
        today,
    }
}

/// The central's date: the UTC date of the system clock (the date its log
/// lines show), the latest birthdate a bet may carry. The core has no clock,
/// so the loop reads it, once an iteration, and hands it to the sessions.
/// A clock before 1970 is not believed: no date is then too late.
pub(crate) fn today() -> Birthdate {
    lottery_log::utc_today().map_or(Birthdate::LAST, Birthdate::latest_on)
}

/// Puts `connection` in the work list, once.
fn schedule(work: &mut Vec<Token>, connection: &mut Connection, token: Token) {
    if connection.schedule() {
        work.push(token);
    }
}

#[cfg(test)]
mod tests {
    use std::time::{SystemTime, UNIX_EPOCH};

    use super::*;

    fn date_now() -> Birthdate {
        let seconds = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("a clock after 1970")
            .as_secs();
        let (year, month, day) = lottery_log::utc_date(seconds);
        Birthdate::new(
            u16::try_from(year).unwrap(),
            u8::try_from(month).unwrap(),
            u8::try_from(day).unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn today_is_the_utc_date_of_the_system_clock() {
        let before = date_now();
        let today = today();
        let after = date_now();
        // Read around midnight, it may be either day.
        assert!(today == before || today == after, "{today}");
        assert!(today > Birthdate::new(2024, 1, 1).unwrap(), "{today}");
        assert!(today < Birthdate::LAST);
    }
}
