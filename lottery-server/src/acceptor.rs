//! The acceptor's loop, on the thread that called [`crate::Server::run`]: it
//! accepts connections, spreads them over the event loops round-robin (each
//! loop's inbox and waker), refuses those over the connection limit, and
//! decides when the server stops (a shutdown request, a signal,
//! `exit_when_done` reached, or a loop that died).
//!
//! It owns no connection: an accepted socket goes to a loop at once. It never
//! blocks on anything but its own poll.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Poll, Token};

use crate::connection;
use crate::error::ServerError;
use crate::log_line;
use crate::refusal;
use crate::shared::{Command, Shared};
use crate::shutdown::{ShutdownHandle, SignalWatch, StopReason};

/// The listener's token in the acceptor's poll.
pub(crate) const LISTENER: Token = Token(0);
/// The token of the acceptor's waker (a shutdown request, `exit_when_done`,
/// a loop that exited).
pub(crate) const ACCEPTOR_WAKER: Token = Token(1);
/// The token of the signal watch, when the server handles signals.
pub(crate) const SIGNALS: Token = Token(2);
/// After an accept error such as "too many open files", try again this much
/// later (the listener will not report readiness again for connections
/// already queued).
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// The acceptor's loop.
pub(crate) struct Acceptor<'a> {
    shared: &'a Shared,
    listener: &'a mut TcpListener,
    /// The loop the next connection goes to (round-robin).
    next_loop: usize,
    /// When to accept again after an accept error.
    retry_at: Option<Instant>,
}

impl<'a> Acceptor<'a> {
    /// An acceptor over `listener`, registered in the poll it will run.
    pub(crate) fn new(shared: &'a Shared, listener: &'a mut TcpListener) -> Self {
        Self {
            shared,
            listener,
            next_loop: 0,
            retry_at: None,
        }
    }

    /// Accepts until the server must stop, and says why.
    ///
    /// # Errors
    /// [`ServerError::EventLoop`] when the poll fails.
    pub(crate) fn run(
        &mut self,
        poll: &mut Poll,
        mut signals: Option<&mut SignalWatch>,
        shutdown: &ShutdownHandle,
    ) -> Result<StopReason, ServerError> {
        let mut events = Events::with_capacity(256);
        loop {
            self.wait(poll, &mut events)?;
            for event in &events {
                match event.token() {
                    LISTENER => self.accept_all(),
                    SIGNALS => {
                        if let Some(name) = signals.as_mut().and_then(|watch| watch.received()) {
                            log_line::signal_received(name);
                            return Ok(StopReason::Signal(name));
                        }
                    }
                    _ => {}
                }
            }
            if self.retry_at.is_some_and(|at| Instant::now() >= at) {
                self.retry_at = None;
                self.accept_all();
            }
            if let Some(reason) = self.stop_reason(shutdown) {
                return Ok(reason);
            }
        }
    }

    /// Waits for the listener, a signal, a wake, or the accept retry.
    fn wait(&self, poll: &mut Poll, events: &mut Events) -> Result<(), ServerError> {
        let timeout = self
            .retry_at
            .map(|at| at.saturating_duration_since(Instant::now()));
        match poll.poll(events, timeout) {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => Ok(()),
            Err(source) => Err(ServerError::EventLoop {
                action: "poll for connections",
                source,
            }),
        }
    }

    /// Why the server must stop now, if it must.
    fn stop_reason(&self, shutdown: &ShutdownHandle) -> Option<StopReason> {
        if shutdown.is_requested() {
            return Some(StopReason::Requested);
        }
        if self.shared.is_done() {
            log_line::done(self.shared.central().rules().agencies);
            return Some(StopReason::Done);
        }
        // Only a failure makes a loop exit before stopping; `Server::run`
        // collects its error when joining.
        self.shared.loop_exited().then_some(StopReason::Requested)
    }

    /// Accepts every queued connection.
    fn accept_all(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((stream, peer)) => self.dispatch(stream, peer),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return,
                Err(error)
                    if matches!(
                        error.kind(),
                        io::ErrorKind::Interrupted
                            | io::ErrorKind::ConnectionAborted
                            | io::ErrorKind::ConnectionReset
                    ) => {}
                Err(error) => {
                    // Out of file descriptors or memory: keep what we have,
                    // try again shortly.
                    log_line::accept_failed(&error);
                    self.retry_at = Some(Instant::now() + ACCEPT_RETRY);
                    return;
                }
            }
        }
    }

    /// Hands a new connection to the next loop, or refuses it over the limit.
    fn dispatch(&mut self, stream: TcpStream, peer: SocketAddr) {
        let config = self.shared.config();
        if !self.shared.admit() {
            let max = config.max_connections;
            log_line::over_connection_limit(peer, max);
            connection::refuse(
                stream,
                refusal::too_many_connections(max),
                config.max_frame,
                config.tls.is_some(),
            );
            return;
        }
        log_line::accepted(peer);
        let index = self.next_loop % self.shared.loops().len();
        self.next_loop = self.next_loop.wrapping_add(1);
        self.shared.send(index, Command::Adopt(stream, peer));
    }
}
