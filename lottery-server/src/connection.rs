//! One accepted connection: its socket, its buffers (the decoder for what
//! came in, the output for what must go out), its session, and where it is in
//! its life.
//!
//! The connection owns its I/O, the way a handler of mio's `tcp_server`
//! example does: the loop tells it that its socket may be read
//! ([`Connection::on_readable`]: read, decode, let the session answer) or
//! written ([`Connection::on_writable`]: send, and move its life on), and it
//! reports a [`Status`]. It never deregisters itself: it reports
//! [`Status::Done`], and the loop removes it.
//!
//! # Invariants
//! - Readiness is edge-triggered, so a readable event is drained: the
//!   connection reads until a read says `WouldBlock` or the end of the
//!   stream (or its read budget is used, and the loop drives it again), as
//!   mio documents; or until a plaintext read returns fewer bytes than it
//!   asked for, which emptied the socket's queue (on Linux, where epoll
//!   raises a new edge for the next bytes: see `transport.rs`), unless the poll reported the end of the stream or an error: a
//!   FIN queued behind the data raises no new edge, so that connection reads
//!   on until the read itself says so. This spares one empty `recvfrom` per
//!   message. A short write keeps its unsent tail, and the writable event
//!   that follows sends it.
//! - One [`Lifecycle`] records the connection going away: closing (its last
//!   answer goes out, input is discarded) and then closed, with the reason
//!   the `close_connection` line gives. Its session's own end (it said its
//!   last word) is protocol state, and always comes with closing.
//! - A closed connection with batches, a finish or its handshake at the
//!   completer stays until they are answered (the completer's outcomes name
//!   it), then goes; a handshake answered after the close binds nothing.

use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr};
use std::time::{Duration, Instant};

use lottery_bet::AgencyId;
use lottery_net::{CentralMessage, Decoder, ErrorFrame, encode_central_message};
use mio::event::{Event, Source};
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use crate::completer::{Completed, PendingRequest};
use crate::config::ServerConfig;
use crate::metrics;
use crate::refusal::Ending;
use crate::session::{Context, Session, Step};
use crate::transport::{Filled, Transport};

/// Unsent output above which the connection is not read (backpressure): a
/// peer that does not read its answers stops being served before it can make
/// the central buffer without bound.
const OUTPUT_HIGH_WATER: usize = 64 * 1024;

/// Output capacity kept by an idle connection (a few acks' worth); more,
/// after a long winners answer say, is given back.
const IDLE_OUTPUT_CAPACITY: usize = 4 * 1024;

/// Bytes read from one connection per drive before the others get their
/// turn.
const READ_BUDGET: usize = 256 * 1024;

/// How long a closing connection may take to receive its last answer.
pub(crate) const CLOSE_LINGER: Duration = Duration::from_secs(2);

/// What the loop must do with a connection after an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub(crate) enum Status {
    /// Nothing more until its socket is ready again (or the loop hands it
    /// something).
    Idle,
    /// More to do now (its read budget ran out, or its output drained after
    /// a pause): drive it again, after the others.
    Again,
    /// Closed: remove it (once the completer answered its pending work).
    Done,
}

/// What a drive needs from the loop's iteration, and what it hands back.
pub(crate) struct Turn<'a> {
    /// What the session needs.
    pub ctx: Context<'a>,
    /// The time of this loop iteration.
    pub now: Instant,
    /// Batches and finishes begun in this iteration, for the completer.
    pub begun: &'a mut Vec<(Token, PendingRequest)>,
    /// The agency a handshake bound the connection to in this drive: the
    /// loop registers it (replacing an older connection of that agency).
    pub bound: Option<AgencyId>,
}

/// A deadline the loop's tick found passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expired {
    /// No handshake, or no whole frame, in time: end the session.
    Timeout(Ending),
    /// Closing took too long: drop the socket.
    Linger,
}

/// Where the connection is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Lifecycle {
    /// Serving.
    Open,
    /// Its last answer is being sent; input is read and discarded. Once the
    /// output is sent the write side is shut (the peer sees the end of the
    /// stream right after the last answer), and the connection is closed when
    /// the peer closes too or the deadline passes. Discarding instead of
    /// closing at once avoids a reset that could destroy the answer in flight.
    Closing {
        /// Why (for the `close_connection` line).
        reason: String,
        /// When to close it regardless.
        deadline: Instant,
        /// The write side is already shut.
        write_shut: bool,
    },
    /// Done: nothing more is read or sent. The loop removes it, for this
    /// reason, as soon as the completer answered its pending work.
    Closed {
        /// Why (for the `close_connection` line).
        reason: String,
    },
}

/// An accepted connection.
#[derive(Debug)]
pub(crate) struct Connection {
    token: Token,
    transport: Transport,
    peer: SocketAddr,
    decoder: Decoder,
    session: Session,
    /// Bytes to send; `output[sent..]` is still unsent.
    output: Vec<u8>,
    sent: usize,
    lifecycle: Lifecycle,
    /// A read may still find bytes (no `WouldBlock` since the last readable
    /// event).
    readable: bool,
    /// The peer closed its write side.
    peer_closed: bool,
    /// The poll reported the end of the stream or an error: reads go on
    /// until a read says so (a short read is no sign of an empty queue
    /// then, since the FIN behind it raises no further event).
    end_reported: bool,
    /// Reading stopped because the output backed up; resume once it drains.
    paused: bool,
    accepted_at: Instant,
    /// The last time a whole frame arrived (idle timeout).
    last_frame_at: Instant,
    /// The agency whose winners are in the output: it counts as served once
    /// they are sent.
    winners_unsent: Option<AgencyId>,
    /// The loop's bookkeeping: already in its work list.
    scheduled: bool,
}

impl Connection {
    /// A connection over a socket just accepted, known to its loop as
    /// `token`. With `authenticates`, its agency is whoever the TLS client
    /// certificate names.
    pub(crate) fn new(
        token: Token,
        transport: Transport,
        peer: SocketAddr,
        max_frame: usize,
        authenticates: bool,
        now: Instant,
    ) -> Self {
        Self {
            token,
            transport,
            peer,
            decoder: Decoder::new(max_frame),
            session: Session::new(peer, authenticates),
            output: Vec::new(),
            sent: 0,
            lifecycle: Lifecycle::Open,
            readable: true,
            peer_closed: false,
            end_reported: false,
            paused: false,
            accepted_at: now,
            last_frame_at: now,
            winners_unsent: None,
            scheduled: false,
        }
    }

    /// The peer's address.
    pub(crate) fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// The agency the handshake bound the connection to (also once it ended).
    pub(crate) fn agency(&self) -> Option<AgencyId> {
        self.session.agency()
    }

    /// Why it closed (empty while it has not).
    pub(crate) fn close_reason(&self) -> &str {
        match &self.lifecycle {
            Lifecycle::Closed { reason } => reason,
            _ => "",
        }
    }

    /// Whether it closed and may go once its pending work is answered.
    pub(crate) fn is_closed(&self) -> bool {
        matches!(self.lifecycle, Lifecycle::Closed { .. })
    }

    /// Whether the completer has work of it.
    pub(crate) fn has_pending_work(&self) -> bool {
        self.session.has_pending_work()
    }

    /// Marks it as in the loop's work list; `false` when it already was.
    pub(crate) fn schedule(&mut self) -> bool {
        !std::mem::replace(&mut self.scheduled, true)
    }

    /// Takes it off the loop's work list (it is being driven).
    pub(crate) fn unschedule(&mut self) {
        self.scheduled = false;
    }

    /// Notes what the poll reported: the socket may be read (also to find
    /// the end of the stream or an error).
    pub(crate) fn on_event(&mut self, event: &Event) {
        if event.is_readable() || event.is_read_closed() || event.is_error() {
            self.readable = true;
        }
        if event.is_read_closed() || event.is_error() {
            self.end_reported = true;
        }
    }

    /// Reads, decodes and handles what the peer sent, until it has nothing
    /// more, its session is held behind its batches, its output is backed up,
    /// or it used its read budget ([`Status::Again`]).
    pub(crate) fn on_readable(&mut self, turn: &mut Turn<'_>) -> Status {
        if self.is_closed() {
            return Status::Idle;
        }
        if self.is_backed_up()
            && let Err(error) = self.flush()
        {
            self.fail(&error);
            return Status::Idle;
        }
        if matches!(self.lifecycle, Lifecycle::Closing { .. }) {
            return self.discard_input();
        }
        let step = self.session.resume(&mut turn.ctx, &mut self.output);
        self.apply(step, turn);
        self.take_messages(turn)
    }

    /// Decodes and handles whole frames, reading more as they run out.
    fn take_messages(&mut self, turn: &mut Turn<'_>) -> Status {
        let mut budget = READ_BUDGET;
        loop {
            if !matches!(self.lifecycle, Lifecycle::Open) {
                return Status::Idle;
            }
            if self.session.is_held() {
                // No message is taken now, but a peer that leaves meanwhile
                // must be noticed (and its connection closed) at once.
                if let Err(error) = self.read_while_held() {
                    self.fail(&error);
                }
                return Status::Idle;
            }
            if self.is_backed_up() {
                self.paused = true;
                return Status::Idle;
            }
            match self.decoder.next_agency_frame() {
                Ok(Some(frame)) => {
                    self.last_frame_at = turn.now;
                    let step = self
                        .session
                        .on_message(frame, &mut turn.ctx, &mut self.output);
                    self.apply(step, turn);
                    continue;
                }
                Ok(None) => {}
                Err(error) => {
                    let step =
                        self.session
                            .on_malformed(&error, turn.ctx.max_frame, &mut self.output);
                    self.apply(step, turn);
                    return Status::Idle;
                }
            }
            if !self.readable {
                return Status::Idle;
            }
            if budget == 0 {
                // More may be waiting: come back after the others.
                return Status::Again;
            }
            match self.read_once() {
                Ok(Some(read)) => budget = budget.saturating_sub(read),
                Ok(None) => {}
                Err(error) => {
                    self.fail(&error);
                    return Status::Idle;
                }
            }
        }
    }

    /// Carries out what the session asked for.
    fn apply(&mut self, step: Step, turn: &mut Turn<'_>) {
        match step {
            Step::Continue | Step::Held => {}
            Step::Bound(agency) => turn.bound = Some(agency),
            Step::Storing(flight) => turn.begun.push((self.token, flight)),
            Step::WinnersSent(agency) => self.winners_unsent = Some(agency),
            Step::Close => {
                self.start_closing("the session ended".to_owned(), turn.now);
            }
        }
    }

    /// Sends what the output holds, then moves the connection's life on:
    /// shuts a closing connection's write side once its last answer is out,
    /// closes one whose peer is gone, resumes one paused behind its output.
    /// Also returns the agency whose winners were just sent out whole.
    pub(crate) fn on_writable(&mut self) -> (Status, Option<AgencyId>) {
        if self.is_closed() {
            return (Status::Done, None);
        }
        let served = match self.flush() {
            Err(error) => {
                self.fail(&error);
                return (Status::Done, None);
            }
            Ok(true) => self.winners_unsent.take(),
            Ok(false) => None,
        };
        (self.after_flush(), served)
    }

    fn after_flush(&mut self) -> Status {
        if let Lifecycle::Closing { .. } = self.lifecycle {
            return if self.advance_closing() {
                Status::Done
            } else {
                Status::Idle
            };
        }
        // A peer that closed and has nothing left to receive can go (once
        // its pending batches are complete), also while its winners query
        // waits for the draw: nobody would read the answer. (An agency that
        // only shut its write side is treated alike; ours never do.)
        if self.peer_closed && self.unsent() == 0 {
            let reason = if self.session.is_waiting_for_draw() {
                "closed by the peer while waiting for the draw"
            } else if self.decoder.buffered() > 0 && !self.session.is_held() {
                "closed by the peer in the middle of a frame"
            } else {
                "closed by the peer"
            };
            self.close(reason.to_owned());
            return Status::Done;
        }
        let resume = self.paused && !self.is_backed_up();
        if resume {
            self.paused = false;
        }
        self.release_idle_buffers();
        if resume { Status::Again } else { Status::Idle }
    }

    /// Lets the session answer a batch, finish or handshake of it that the
    /// completer completed. Returns whether all of its pending work is
    /// answered now, and the agency a handshake bound it to (the loop
    /// registers it, replacing an older connection of that agency). A
    /// handshake of a connection closed meanwhile binds nothing.
    pub(crate) fn on_completed(
        &mut self,
        completed: Completed,
        ctx: &mut Context<'_>,
        now: Instant,
    ) -> (bool, Option<AgencyId>) {
        let mut bound = None;
        if matches!(completed, Completed::Hello { .. }) && self.is_closed() {
            self.session.abandon_handshake();
        } else {
            bound = self.session.on_completed(completed, ctx, &mut self.output);
        }
        if self.session.has_ended() {
            // A handshake refused on completion (or a session that ended
            // before: then it is closing already).
            self.start_closing("the session ended".to_owned(), now);
        }
        (!self.session.has_pending_work(), bound)
    }

    /// The draw happened: answers the winners query held for it. Returns
    /// whether it did (then the loop drives the connection again, for what
    /// was held behind the query).
    pub(crate) fn on_draw(&mut self, ctx: &mut Context<'_>) -> bool {
        if !matches!(self.lifecycle, Lifecycle::Open) {
            return false;
        }
        match self.session.on_draw(ctx, &mut self.output) {
            Step::WinnersSent(agency) => {
                self.winners_unsent = Some(agency);
                true
            }
            _ => false,
        }
    }

    /// Shutdown: read what already arrived, once more. Returns whether there
    /// is anything to drive.
    pub(crate) fn on_stop(&mut self) -> bool {
        if matches!(self.lifecycle, Lifecycle::Open) {
            self.readable = true;
            true
        } else {
            false
        }
    }

    /// Ends the session from outside (replaced, timed out, shut down),
    /// telling the peer why, and starts closing. Returns whether it started
    /// closing now (the loop drives it, to send the goodbye).
    pub(crate) fn end(&mut self, ending: Ending, max_frame: usize, now: Instant) -> bool {
        if let Lifecycle::Closing { .. } = self.lifecycle {
            return false;
        }
        // A closed connection's session ends too (its batches still in
        // flight then log as "ended"), though nothing more is sent.
        let _ = self.session.end(ending, max_frame, &mut self.output);
        self.start_closing(ending.to_string(), now)
    }

    /// The deadline that passed at `now`, if one did: the handshake's, the
    /// idle one, or closing's.
    pub(crate) fn expired(&self, now: Instant, config: &ServerConfig) -> Option<Expired> {
        match &self.lifecycle {
            Lifecycle::Closing { deadline, .. } => (now >= *deadline).then_some(Expired::Linger),
            Lifecycle::Open if self.session.is_greeting() => (now.duration_since(self.accepted_at)
                >= config.handshake_timeout)
                .then_some(Expired::Timeout(Ending::HandshakeTimeout)),
            Lifecycle::Open => (!self.session.is_waiting()
                && !self.session.is_held()
                && now.duration_since(self.last_frame_at) >= config.idle_timeout)
                .then_some(Expired::Timeout(Ending::IdleTimeout)),
            Lifecycle::Closed { .. } => None,
        }
    }

    /// Closing took too long: closes it regardless.
    pub(crate) fn linger_expired(&mut self) {
        if let Lifecycle::Closing { reason, .. } = &self.lifecycle {
            let reason = format!("{reason} (the peer did not close in time)");
            self.close(reason);
        }
    }

    /// Starts closing an open connection: no more messages are taken; the
    /// output still goes out. Returns whether it was open.
    fn start_closing(&mut self, reason: String, now: Instant) -> bool {
        if !matches!(self.lifecycle, Lifecycle::Open) {
            return false;
        }
        self.lifecycle = Lifecycle::Closing {
            reason,
            deadline: now + CLOSE_LINGER,
            write_shut: false,
        };
        true
    }

    /// Closes it for `reason`, unless it is closed already (the first reason
    /// stands).
    fn close(&mut self, reason: String) {
        if !self.is_closed() {
            self.lifecycle = Lifecycle::Closed { reason };
        }
    }

    /// The socket failed: nothing more is sent. Unless TLS refused the peer
    /// and owes it an alert: then the connection closes gracefully, so that
    /// the alert arrives (and the peer's program can say why).
    fn fail(&mut self, error: &io::Error) {
        if self.transport.owes_alert() {
            self.start_closing(error.to_string(), Instant::now());
        } else {
            self.close(format!("connection failed: {error}"));
        }
    }

    /// For a closing connection: shuts the write side once the output is
    /// sent. Returns whether it closed (the peer closed too).
    fn advance_closing(&mut self) -> bool {
        let unsent = self.unsent();
        let Lifecycle::Closing {
            reason, write_shut, ..
        } = &mut self.lifecycle
        else {
            return false;
        };
        if !*write_shut && unsent == 0 {
            // TLS sends what it holds (and `close_notify`) first; a failure
            // means the socket is already gone, which is the goal.
            *write_shut = self.transport.shut_write().unwrap_or(true);
        }
        if *write_shut && self.peer_closed {
            let reason = std::mem::take(reason);
            self.close(reason);
            return true;
        }
        false
    }

    /// Bytes waiting to be sent.
    fn unsent(&self) -> usize {
        self.output.len() - self.sent
    }

    /// Too much output is waiting: do not read or decode more.
    fn is_backed_up(&self) -> bool {
        self.unsent() > OUTPUT_HIGH_WATER
    }

    /// One read into the decoder: `Some(bytes)`, or `None` when there is
    /// nothing more for now or the peer closed its side. A read that emptied
    /// the socket's queue (see [`Filled::emptied`]) ends the drain, unless the
    /// poll reported the end of the stream.
    ///
    /// # Errors
    /// The socket's error (the connection is broken).
    fn read_once(&mut self) -> io::Result<Option<usize>> {
        loop {
            return match self.transport.read_into(&mut self.decoder) {
                Ok(Filled { read: 0, .. }) => {
                    self.peer_closed = true;
                    self.readable = false;
                    Ok(None)
                }
                Ok(Filled { read, emptied }) => {
                    if emptied && !self.end_reported {
                        self.readable = false;
                    }
                    if let Some(certificate) = self.transport.take_peer_certificate() {
                        self.session.authenticated(certificate);
                    }
                    Ok(Some(read))
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    self.readable = false;
                    Ok(None)
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => Err(error),
            };
        }
    }

    /// For a session that takes no message now: reads what the decoder has
    /// room for (kept for later, in order), so that the end of the stream is
    /// seen even while the session waits. A peer that fills the decoder
    /// meanwhile is simply not read further until the session goes on.
    ///
    /// # Errors
    /// The socket's error.
    fn read_while_held(&mut self) -> io::Result<()> {
        while self.readable && self.decoder.buffered() < self.decoder.max_buffered() {
            if self.read_once()?.is_none() {
                break;
            }
        }
        Ok(())
    }

    /// Reads and throws away what arrives (a closing connection), until
    /// `WouldBlock`, the end of the stream, or the read budget.
    fn discard_input(&mut self) -> Status {
        let mut sink = [0u8; 4096];
        let mut discarded = 0;
        while self.readable && !self.peer_closed {
            if discarded >= READ_BUDGET {
                return Status::Again;
            }
            match self.transport.discard(&mut sink) {
                Ok(0) => self.peer_closed = true,
                Ok(read) => discarded += read,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => self.readable = false,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => {
                    self.fail(&error);
                    return Status::Idle;
                }
            }
        }
        Status::Idle
    }

    /// Sends as much output as the socket takes. Returns whether everything
    /// was sent.
    ///
    /// # Errors
    /// The socket's error (the connection is broken).
    fn flush(&mut self) -> io::Result<bool> {
        self.transport.send_pending()?;
        while self.sent < self.output.len() {
            match self.transport.write(&self.output[self.sent..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(written) => self.sent += written,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        if self.sent == self.output.len() {
            // Keep the allocation for the next answers.
            self.output.clear();
            self.sent = 0;
            Ok(!self.transport.has_pending())
        } else {
            if self.sent >= OUTPUT_HIGH_WATER {
                // Reclaim the sent front so a slow reader's buffer stays
                // bounded by what is really unsent.
                self.output.drain(..self.sent);
                self.sent = 0;
            }
            Ok(false)
        }
    }

    /// Gives the read buffer back while the connection has nothing to read
    /// or decode (the next bytes take a new one): ten thousand agencies
    /// between batches, or waiting for the draw, then hold no buffers.
    fn release_idle_buffers(&mut self) {
        if !self.readable && self.decoder.buffered() == 0 {
            self.decoder = Decoder::new(self.decoder.max_frame());
        }
        if self.unsent() == 0 && self.output.capacity() > IDLE_OUTPUT_CAPACITY {
            self.output = Vec::new();
        }
    }
}

/// The loop registers and deregisters the connection itself (its socket).
impl Source for Connection {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        self.transport
            .stream_mut()
            .register(registry, token, interests)
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        self.transport
            .stream_mut()
            .reregister(registry, token, interests)
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        self.transport.stream_mut().deregister(registry)
    }
}

/// Tells a socket that will not become a connection why, best effort, and
/// drops it. A new socket's send buffer is empty, so the short frame goes out
/// in one write. A TLS central sends nothing (a plaintext frame is not what
/// a TLS peer can read): the peer sees the connection closed.
pub(crate) fn refuse(mut stream: TcpStream, refusal: ErrorFrame, max_frame: usize, tls: bool) {
    metrics::refused(refusal.code);
    if tls {
        let _ = stream.shutdown(Shutdown::Both);
        return;
    }
    let mut frame = Vec::new();
    let error = CentralMessage::Error(refusal);
    if encode_central_message(&error, max_frame, &mut frame).is_ok() {
        let _ = stream.write(&frame);
    }
    let _ = stream.shutdown(Shutdown::Write);
}
