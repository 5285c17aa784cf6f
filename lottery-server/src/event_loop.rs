//! One event-loop thread: its own `Poll`, the connections the acceptor handed
//! it, and the rhythm of one iteration.
//!
//! # One iteration
//! 1. Poll (edge-triggered); note which connections may be read or written.
//! 2. Take commands (new connections, replacements) and cross-thread news
//!    (the draw, shutdown) when the waker fired.
//! 3. Take the outcomes the completer sent back (see `completer.rs`): each
//!    session answers its completed batches and finishes, and is driven
//!    again, since it may hold a message behind them.
//! 4. Drive every connection that has something to do: read (up to a budget,
//!    so one fast agency cannot starve the others), decode every whole frame,
//!    and let its session answer; batches and finishes are only *begun*
//!    (written to the store, their journal records queued). A session that
//!    takes no message now (held) is still read, so that a peer closing
//!    meanwhile is noticed.
//! 5. Hand the iteration's begun batches and finishes to the completer, which
//!    waits for the group commit covering them (and performs the draw) on its
//!    own thread: the loop never waits for the disk.
//! 6. Flush every touched connection; what does not fit stays buffered and is
//!    sent when the socket is writable again. A connection with too much
//!    unsent output is not read until it drains (backpressure).
//! 7. Every tick, apply the handshake, idle and closing deadlines.
//!
//! Connections are removed only by the loop, and never while a batch or
//! finish of theirs is with the completer: the removal waits for its outcome.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use crate::completer::InFlight;
use crate::completer::{Completer, Outcomes};
use crate::connection::{Connection, Lifecycle, ReadOutcome};
use crate::log_line;
use crate::refusal::Ending;
use crate::session::{Context, Step};
use crate::shared::{Binding, Command, LOOP_WAKER, Shared};

/// Connection tokens count up from here and are never reused, so a stale
/// token (a replacement aimed at a connection that already left) finds nothing.
const FIRST_CONNECTION: usize = 1;

/// Bytes read from one connection per iteration before the others get their
/// turn.
const READ_BUDGET: usize = 256 * 1024;
/// How long a closing connection may take to receive its last answer.
const CLOSE_LINGER: Duration = Duration::from_secs(2);

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
    in_flight: Vec<(Token, InFlight)>,
    completer: Completer,
    inbox: Vec<Command>,
    drawn: bool,
    stopping: bool,
    now: Instant,
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
        )?;
        let settings = shared.config();
        let tick = (settings
            .handshake_timeout
            .min(settings.idle_timeout)
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
            in_flight: Vec::new(),
            completer,
            inbox: Vec::new(),
            drawn: false,
            stopping: false,
            now,
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
            let timeout = if self.work.is_empty() {
                self.next_tick.saturating_duration_since(Instant::now())
            } else {
                Duration::ZERO
            };
            match self.poll.poll(&mut events, Some(timeout)) {
                Ok(()) => {}
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
            self.now = Instant::now();
            let mut woken = false;
            for event in events.iter() {
                let token = event.token();
                if token == LOOP_WAKER {
                    woken = true;
                } else if let Some(connection) = self.connections.get_mut(&token) {
                    if event.is_readable() || event.is_read_closed() || event.is_error() {
                        connection.readable = true;
                    }
                    if event.is_read_closed() || event.is_error() {
                        connection.end_seen = true;
                    }
                    schedule(&mut self.work, connection, token);
                }
            }
            if woken {
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

    fn adopt(&mut self, mut stream: TcpStream, peer: SocketAddr) {
        if self.stopping {
            crate::connection::refuse(
                stream,
                Ending::ShuttingDown.frame(),
                self.shared.config().max_frame,
            );
            self.shared.connection_closed();
            return;
        }
        let token = Token(self.next_token);
        self.next_token += 1;
        // Both interests at once, edge-triggered: the loop hears of
        // writability only after a write hit `WouldBlock`, and never has to
        // re-register (one `epoll_ctl` per connection in its whole life).
        let registered = self.poll.registry().register(
            &mut stream,
            token,
            Interest::READABLE | Interest::WRITABLE,
        );
        if let Err(error) = registered {
            log_line::register_failed(peer, &error);
            self.shared.connection_closed();
            return;
        }
        // Acks are small and latency matters more than packet count.
        let _ = stream.set_nodelay(true);
        let mut connection =
            Connection::new(stream, peer, self.shared.config().max_frame, self.now);
        schedule(&mut self.work, &mut connection, token);
        self.connections.insert(token, connection);
    }

    /// Ends a connection's session from outside (replaced, timed out, shut
    /// down), telling the peer why.
    fn end(&mut self, token: Token, ending: Ending) {
        let Some(connection) = self.connections.get_mut(&token) else {
            return;
        };
        if connection.is_closing() {
            return;
        }
        let _ = connection.session.end(
            ending,
            self.shared.config().max_frame,
            &mut connection.output,
        );
        let deadline = self.now + CLOSE_LINGER;
        connection.start_closing(deadline, ending.to_string());
        schedule(&mut self.work, connection, token);
    }

    fn answer_held_queries(&mut self) {
        let Self {
            connections,
            shared,
            work,
            ..
        } = self;
        let mut ctx = Context {
            central: shared.central(),
            max_frame: shared.config().max_frame,
        };
        for (&token, connection) in connections.iter_mut() {
            if connection.is_closing() {
                continue;
            }
            if let Step::WinnersSent(agency) =
                connection.session.on_draw(&mut ctx, &mut connection.output)
            {
                connection.winners_unsent = Some(agency);
                schedule(work, connection, token);
            }
        }
    }

    /// Shutdown: takes in and stores what already arrived (acking it), then
    /// tells every agency the central is shutting down and closes.
    fn stop(&mut self) -> io::Result<()> {
        self.stopping = true;
        for (&token, connection) in &mut self.connections {
            if !connection.is_closing() {
                connection.readable = true;
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
                connection.scheduled = false;
            }
        }
        for &token in &round {
            self.drive(token);
        }
        round.clear();
        if !self.in_flight.is_empty() {
            self.completer.submit(std::mem::take(&mut self.in_flight))?;
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

    /// Lets each session answer its completed batches and finishes; with
    /// `go_on`, drives it again (it may hold a message behind them). A
    /// connection whose removal waited for these outcomes is removed.
    fn answer(&mut self, outcomes: Outcomes, go_on: bool) {
        let Self {
            shared,
            connections,
            work,
            touched,
            ..
        } = self;
        let mut ctx = Context {
            central: shared.central(),
            max_frame: shared.config().max_frame,
        };
        let mut removable = Vec::new();
        for (token, completed) in outcomes {
            let connection = connections
                .get_mut(&token)
                .expect("connections with work at the completer are not removed");
            connection
                .session
                .on_completed(completed, &mut ctx, &mut connection.output);
            if connection.session.has_in_flight() {
                continue;
            }
            if connection.removal.is_some() {
                removable.push(token);
            } else if go_on {
                schedule(work, connection, token);
            } else {
                touched.push(token);
            }
        }
        for token in removable {
            let reason = self
                .connections
                .get_mut(&token)
                .and_then(|connection| connection.removal.take())
                .unwrap_or_default();
            self.remove(token, &reason);
        }
    }

    /// Reads, decodes and handles what one connection sent, until it has
    /// nothing more, is held behind its batches, is backed up, or used its
    /// read budget.
    fn drive(&mut self, token: Token) {
        let Self {
            index,
            shared,
            connections,
            work,
            touched,
            in_flight,
            now,
            ..
        } = self;
        let Some(connection) = connections.get_mut(&token) else {
            return;
        };
        touched.push(token);
        if connection.failure.is_some() || connection.removal.is_some() {
            return;
        }
        if connection.is_backed_up()
            && let Err(error) = connection.flush()
        {
            connection.failure = Some(error);
            return;
        }
        if connection.is_closing() {
            match connection.discard_input(READ_BUDGET) {
                Ok(true) => schedule(work, connection, token),
                Ok(false) => {}
                Err(error) => connection.failure = Some(error),
            }
            return;
        }
        let max_frame = shared.config().max_frame;
        let mut ctx = Context {
            central: shared.central(),
            max_frame,
        };
        let step = connection.session.resume(&mut ctx, &mut connection.output);
        apply(step, *index, token, connection, shared, in_flight, *now);
        let mut budget = READ_BUDGET;
        loop {
            if connection.is_closing() {
                return;
            }
            if connection.session.is_held() {
                // No message is taken now, but a peer that leaves meanwhile
                // must be noticed (and its connection closed) at once.
                if let Err(error) = connection.read_while_held() {
                    connection.failure = Some(error);
                }
                return;
            }
            if connection.is_backed_up() {
                connection.paused = true;
                return;
            }
            match connection.decoder.next_agency_frame() {
                Ok(Some(message)) => {
                    connection.last_frame_at = *now;
                    let step =
                        connection
                            .session
                            .on_message(message, &mut ctx, &mut connection.output);
                    apply(step, *index, token, connection, shared, in_flight, *now);
                    continue;
                }
                Ok(None) => {}
                Err(error) => {
                    let step =
                        connection
                            .session
                            .on_malformed(&error, max_frame, &mut connection.output);
                    apply(step, *index, token, connection, shared, in_flight, *now);
                    return;
                }
            }
            if !connection.readable {
                return;
            }
            if budget == 0 {
                // More may be waiting: come back next iteration, after the others.
                schedule(work, connection, token);
                return;
            }
            match connection.read_once() {
                Ok(ReadOutcome::Data(read)) => budget = budget.saturating_sub(read),
                Ok(ReadOutcome::WouldBlock | ReadOutcome::Closed) => {}
                Err(error) => {
                    connection.failure = Some(error);
                    return;
                }
            }
        }
    }

    /// After a connection was driven: sends its output, and closes it if its
    /// time has come.
    fn settle(&mut self, token: Token) {
        let Some(connection) = self.connections.get_mut(&token) else {
            return;
        };
        if connection.removal.is_some() {
            return;
        }
        if let Some(error) = connection.failure.take() {
            self.remove(token, &format!("connection failed: {error}"));
            return;
        }
        match connection.flush() {
            Err(error) => {
                self.remove(token, &format!("connection failed: {error}"));
                return;
            }
            Ok(true) => {
                if let Some(agency) = connection.winners_unsent.take() {
                    self.shared.served(agency);
                }
            }
            Ok(false) => {}
        }
        if connection.is_closing() {
            if connection.advance_closing() {
                let reason = connection.close_reason.take().unwrap_or_default();
                self.remove(token, &reason);
            }
            return;
        }
        // A peer that closed and has nothing left to receive can go (once
        // its batches in flight are complete), also while its winners query
        // waits for the draw: nobody would read the answer. (An agency that
        // only shut its write side is treated alike; ours never do.)
        if connection.peer_closed && connection.unsent() == 0 {
            let reason = if connection.session.is_waiting_for_draw() {
                "closed by the peer while waiting for the draw"
            } else if connection.decoder.buffered() > 0 && !connection.session.is_held() {
                "closed by the peer in the middle of a frame"
            } else {
                "closed by the peer"
            };
            self.remove(token, reason);
            return;
        }
        if connection.paused && !connection.is_backed_up() {
            connection.paused = false;
            schedule(&mut self.work, connection, token);
        }
        connection.release_idle_buffers();
    }

    /// Applies the deadlines: handshake, idle, and closing linger.
    fn on_tick(&mut self) -> io::Result<()> {
        self.next_tick = self.now + self.tick;
        let settings = self.shared.config();
        let mut expired = Vec::new();
        let mut lingered = Vec::new();
        for (&token, connection) in &self.connections {
            match connection.lifecycle {
                Lifecycle::Closing { deadline, .. } => {
                    if self.now >= deadline {
                        lingered.push(token);
                    }
                }
                Lifecycle::Open => {
                    let session = &connection.session;
                    if session.is_greeting() {
                        if self.now.duration_since(connection.accepted_at)
                            >= settings.handshake_timeout
                        {
                            expired.push((token, Ending::HandshakeTimeout));
                        }
                    } else if !session.is_waiting()
                        && !session.is_held()
                        && self.now.duration_since(connection.last_frame_at)
                            >= settings.idle_timeout
                    {
                        expired.push((token, Ending::IdleTimeout));
                    }
                }
            }
        }
        for (token, ending) in expired {
            if let Some(connection) = self.connections.get(&token) {
                log_line::timed_out(connection.agency, connection.peer, ending);
            }
            self.end(token, ending);
        }
        for token in lingered {
            let reason = self
                .connections
                .get_mut(&token)
                .and_then(|connection| connection.close_reason.take())
                .unwrap_or_default();
            self.remove(token, &format!("{reason} (the peer did not close in time)"));
        }
        if !self.work.is_empty() {
            self.run_work()?;
        }
        Ok(())
    }

    fn remove(&mut self, token: Token, reason: &str) {
        if let Some(connection) = self.connections.get_mut(&token)
            && connection.session.has_in_flight()
        {
            // The completer still has work of it: remove it once that is
            // answered (see `answer`).
            connection.removal.get_or_insert_with(|| reason.to_owned());
            return;
        }
        let Some(mut connection) = self.connections.remove(&token) else {
            return;
        };
        let _ = self.poll.registry().deregister(&mut connection.stream);
        if let Some(agency) = connection.agency {
            self.shared.unbind(
                agency,
                Binding {
                    loop_index: self.index,
                    token,
                },
            );
        }
        log_line::connection_closed(connection.agency, connection.peer, reason);
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

fn schedule(work: &mut Vec<Token>, connection: &mut Connection, token: Token) {
    if !connection.scheduled {
        connection.scheduled = true;
        work.push(token);
    }
}

/// Carries out what a session asked for.
fn apply(
    step: Step,
    loop_index: usize,
    token: Token,
    connection: &mut Connection,
    shared: &Shared,
    in_flight: &mut Vec<(Token, InFlight)>,
    now: Instant,
) {
    match step {
        Step::Continue | Step::Held => {}
        Step::Bound(agency) => {
            connection.agency = Some(agency);
            shared.bind(agency, Binding { loop_index, token });
        }
        Step::Storing(flight) => in_flight.push((token, flight)),
        Step::WinnersSent(agency) => connection.winners_unsent = Some(agency),
        Step::Close => {
            let reason = "the session ended";
            connection.start_closing(now + CLOSE_LINGER, reason);
        }
    }
}
