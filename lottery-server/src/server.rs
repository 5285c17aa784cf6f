//! The server: the acceptor thread, the event-loop threads it starts, and the
//! state they share.
//!
//! The acceptor owns the listener (and the signal watch, when enabled). It
//! spreads accepted connections over the loops round-robin through each
//! loop's inbox and `Waker`, refuses connections over the limit, and decides
//! when to stop (shutdown requested, a signal, or `exit_when_done` reached).
//! Stopping is one path whatever the reason: stop accepting, tell every loop,
//! wait for each to finish its work and close its connections, close the
//! store.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use lottery_core::{AgencyId, Central};
use lottery_net::{CentralMessage, ErrorFrame, encode_central_message};
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token, Waker};
use parking_lot::Mutex;

use crate::config::ServerConfig;
use crate::error::ServerError;
use crate::event_loop::{self, EventLoop};
use crate::log_line;
use crate::refusal;
use crate::shutdown::{ShutdownHandle, SignalWatch};

const LISTENER: Token = Token(0);
const ACCEPTOR_WAKER: Token = Token(1);
const SIGNALS: Token = Token(2);
/// After an accept error such as "too many open files", try again this much
/// later (the listener will not report readiness again for connections
/// already queued).
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// Why a server stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StopReason {
    /// A [`ShutdownHandle`] asked for it.
    Requested,
    /// A signal (`SIGTERM` or `SIGINT`) asked for it.
    Signal(&'static str),
    /// `exit_when_done`: the draw is done, every agency received its winners
    /// and every connection closed.
    Done,
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopReason::Requested => f.write_str("requested"),
            StopReason::Signal(name) => f.write_str(name),
            StopReason::Done => f.write_str("done"),
        }
    }
}

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

/// One loop as the others see it.
pub(crate) struct LoopHandle {
    pub waker: Arc<Waker>,
    inbox: Mutex<Vec<Command>>,
}

impl LoopHandle {
    fn send(&self, command: Command) {
        self.inbox.lock().push(command);
        if let Err(error) = self.waker.wake() {
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
    pub central: Central,
    pub settings: ServerConfig,
    pub loops: Vec<LoopHandle>,
    acceptor: Arc<Waker>,
    /// Set once: every loop finishes its work, says goodbye and exits.
    pub stopping: AtomicBool,
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
}

impl Shared {
    /// Makes `here` the connection of `agency`, replacing an older one.
    pub(crate) fn bind(&self, agency: AgencyId, here: Binding) {
        let older = self.agencies.lock().insert(agency, here);
        if let Some(older) = older.filter(|older| *older != here) {
            log_line::connection_replaced(agency);
            self.loops[older.loop_index].send(Command::Replace(older.token));
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

    /// A connection counted by the acceptor is gone.
    pub(crate) fn connection_closed(&self) {
        self.live.fetch_sub(1, Ordering::SeqCst);
        self.check_done();
    }

    fn check_done(&self) {
        if !self.settings.exit_when_done || self.done.load(Ordering::SeqCst) {
            return;
        }
        let everyone_served = self.served.lock().len() >= self.central.rules().agencies as usize;
        if everyone_served && self.live.load(Ordering::SeqCst) == 0 && self.central.is_drawn() {
            self.done.store(true, Ordering::SeqCst);
            let _ = self.acceptor.wake();
        }
    }
}

/// Tells a loop's exit to the acceptor, however the loop ends (even a panic).
struct ExitNotice(Arc<Shared>);

impl Drop for ExitNotice {
    fn drop(&mut self) {
        self.0.loop_exited.store(true, Ordering::SeqCst);
        let _ = self.0.acceptor.wake();
    }
}

/// The lottery central's network server.
///
/// ```no_run
/// use lottery_core::{BetMonitor, Central, Durability, LotteryRules};
/// use lottery_server::{Server, ServerConfig};
///
/// let (monitor, recovery) = BetMonitor::open_file("bets.csv", Durability::Fsync)?;
/// let central = Central::new(LotteryRules::default(), monitor, &recovery)?;
/// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
/// let server = Server::new(listener, central, ServerConfig::default())?;
/// println!("listening on {}", server.local_addr());
/// let shutdown = server.shutdown_handle(); // hand it to whoever stops the server
/// let stopped = server.run()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Server {
    listener: mio::net::TcpListener,
    local_addr: SocketAddr,
    poll: Poll,
    loop_polls: Vec<Poll>,
    shared: Arc<Shared>,
    shutdown: ShutdownHandle,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .field("settings", &self.shared.settings)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Binds `addr` with a listen backlog of `backlog` and builds a server on it.
    ///
    /// # Errors
    /// [`ServerError::Bind`], or [`ServerError::EventLoop`] (see [`Server::new`]).
    pub fn bind(
        addr: SocketAddr,
        backlog: u32,
        central: Central,
        settings: ServerConfig,
    ) -> Result<Self, ServerError> {
        let listener =
            listen(addr, backlog).map_err(|source| ServerError::Bind { addr, source })?;
        Self::new(listener, central, settings)
    }

    /// Builds a server on an already-bound listener (tests bind
    /// `127.0.0.1:0`). Nothing runs until [`Server::run`].
    ///
    /// # Errors
    /// [`ServerError::EventLoop`] when a poll, waker or registration cannot be
    /// created.
    pub fn new(
        listener: TcpListener,
        central: Central,
        mut settings: ServerConfig,
    ) -> Result<Self, ServerError> {
        settings.threads = settings.threads.max(1);
        listener
            .set_nonblocking(true)
            .map_err(ServerError::event_loop("make the listener non-blocking"))?;
        let local_addr = listener
            .local_addr()
            .map_err(ServerError::event_loop("read the listen address"))?;
        let mut listener = mio::net::TcpListener::from_std(listener);
        let poll = Poll::new().map_err(ServerError::event_loop("create a poll"))?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)
            .map_err(ServerError::event_loop("register the listener"))?;
        let acceptor = Arc::new(
            Waker::new(poll.registry(), ACCEPTOR_WAKER)
                .map_err(ServerError::event_loop("create a waker"))?,
        );
        let mut loops = Vec::with_capacity(settings.threads);
        let mut loop_polls = Vec::with_capacity(settings.threads);
        for _ in 0..settings.threads {
            let loop_poll = Poll::new().map_err(ServerError::event_loop("create a poll"))?;
            let waker = Waker::new(loop_poll.registry(), event_loop::WAKER)
                .map_err(ServerError::event_loop("create a waker"))?;
            loops.push(LoopHandle {
                waker: Arc::new(waker),
                inbox: Mutex::new(Vec::new()),
            });
            loop_polls.push(loop_poll);
        }
        let shutdown = ShutdownHandle::new(Arc::clone(&acceptor));
        let shared = Arc::new(Shared {
            central,
            settings,
            loops,
            acceptor,
            stopping: AtomicBool::new(false),
            loop_exited: AtomicBool::new(false),
            done: AtomicBool::new(false),
            live: AtomicUsize::new(0),
            agencies: Mutex::new(HashMap::new()),
            served: Mutex::new(HashSet::new()),
        });
        Ok(Self {
            listener,
            local_addr,
            poll,
            loop_polls,
            shared,
            shutdown,
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A handle that stops the server gracefully from any thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }

    /// Serves until shutdown (a [`ShutdownHandle`], a signal when
    /// [`ServerConfig::handle_signals`] is on) or, with
    /// [`ServerConfig::exit_when_done`], until every agency was served and
    /// left. Stopping stores and acks the batches already received, tells
    /// connected agencies the central is shutting down, closes every
    /// connection and the server's handle on the store, logging each.
    ///
    /// # Errors
    /// [`ServerError::Signals`] or [`ServerError::EventLoop`] at start;
    /// [`ServerError::LoopPanicked`] or [`ServerError::EventLoop`] when a loop
    /// died (the server then stopped the others).
    pub fn run(self) -> Result<StopReason, ServerError> {
        let Server {
            mut listener,
            local_addr,
            mut poll,
            loop_polls,
            shared,
            shutdown,
        } = self;
        let mut signals = if shared.settings.handle_signals {
            Some(SignalWatch::install(poll.registry(), SIGNALS).map_err(ServerError::Signals)?)
        } else {
            None
        };
        let wakers: Vec<Arc<Waker>> = shared.loops.iter().map(|l| Arc::clone(&l.waker)).collect();
        // The listener holds wakers only, not the shared state, so the
        // central does not keep the server alive.
        shared.central.on_draw(Box::new(move || {
            for waker in &wakers {
                let _ = waker.wake();
            }
        }));
        let mut threads: Vec<JoinHandle<io::Result<()>>> = Vec::with_capacity(loop_polls.len());
        let mut start_error = None;
        for (index, loop_poll) in loop_polls.into_iter().enumerate() {
            let loop_shared = Arc::clone(&shared);
            let spawned = std::thread::Builder::new()
                .name(format!("lottery-loop-{index}"))
                .spawn(move || {
                    let _notice = ExitNotice(Arc::clone(&loop_shared));
                    EventLoop::new(index, loop_poll, loop_shared).and_then(EventLoop::run)
                });
            match spawned {
                Ok(thread) => threads.push(thread),
                Err(error) => {
                    start_error = Some(ServerError::EventLoop {
                        action: "start an event-loop thread",
                        source: error,
                    });
                    break;
                }
            }
        }
        let reason = if start_error.is_some() {
            StopReason::Requested
        } else {
            log_line::accepting(local_addr, threads.len());
            match Acceptor::new(&shared, &mut listener).run(&mut poll, signals.as_mut(), &shutdown)
            {
                Ok(reason) => reason,
                Err(error) => {
                    start_error = Some(error);
                    StopReason::Requested
                }
            }
        };

        let _ = poll.registry().deregister(&mut listener);
        drop(listener);
        log_line::shutdown_started(reason);
        shared.stopping.store(true, Ordering::SeqCst);
        for handle in &shared.loops {
            let _ = handle.waker.wake();
        }
        let mut failure = start_error;
        for (index, thread) in threads.into_iter().enumerate() {
            let outcome = thread.join();
            if failure.is_some() {
                continue;
            }
            match outcome {
                Ok(Ok(())) => {}
                Ok(Err(source)) => {
                    failure = Some(ServerError::EventLoop {
                        action: "poll in an event loop",
                        source,
                    });
                }
                Err(_) => failure = Some(ServerError::LoopPanicked { index }),
            }
        }
        drop(signals);
        drop(shared);
        log_line::store_closed();
        match failure {
            None => {
                log_line::shutdown_done(reason);
                Ok(reason)
            }
            Some(error) => {
                log_line::shutdown_failed(&error);
                Err(error)
            }
        }
    }
}

/// The acceptor's loop.
struct Acceptor<'a> {
    shared: &'a Shared,
    listener: &'a mut mio::net::TcpListener,
    next_loop: usize,
    retry_at: Option<Instant>,
}

impl<'a> Acceptor<'a> {
    fn new(shared: &'a Shared, listener: &'a mut mio::net::TcpListener) -> Self {
        Self {
            shared,
            listener,
            next_loop: 0,
            retry_at: None,
        }
    }

    fn run(
        &mut self,
        poll: &mut Poll,
        mut signals: Option<&mut SignalWatch>,
        shutdown: &ShutdownHandle,
    ) -> Result<StopReason, ServerError> {
        let mut events = Events::with_capacity(256);
        loop {
            let timeout = self
                .retry_at
                .map(|at| at.saturating_duration_since(Instant::now()));
            match poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(ServerError::EventLoop {
                        action: "poll for connections",
                        source,
                    });
                }
            }
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
            if shutdown.is_requested() {
                return Ok(StopReason::Requested);
            }
            if self.shared.done.load(Ordering::SeqCst) {
                log_line::done(self.shared.central.rules().agencies);
                return Ok(StopReason::Done);
            }
            if self.shared.loop_exited.load(Ordering::SeqCst) {
                // Only a failure makes a loop exit before stopping; `run`
                // collects its error when joining.
                return Ok(StopReason::Requested);
            }
        }
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

    fn dispatch(&mut self, stream: TcpStream, peer: SocketAddr) {
        let max = self.shared.settings.max_connections;
        if self.shared.live.load(Ordering::SeqCst) >= max {
            log_line::over_connection_limit(peer, max);
            refuse(
                stream,
                refusal::too_many_connections(max),
                self.shared.settings.max_frame,
            );
            return;
        }
        self.shared.live.fetch_add(1, Ordering::SeqCst);
        log_line::accepted(peer);
        let index = self.next_loop % self.shared.loops.len();
        self.next_loop = self.next_loop.wrapping_add(1);
        self.shared.loops[index].send(Command::Adopt(stream, peer));
    }
}

/// Tells a connection it cannot be served, best effort, and drops it. A new
/// socket's send buffer is empty, so the short frame goes out in one write.
pub(crate) fn refuse(mut stream: TcpStream, refusal: ErrorFrame, max_frame: usize) {
    let mut frame = Vec::new();
    let error = CentralMessage::Error(refusal);
    if encode_central_message(&error, max_frame, &mut frame).is_ok() {
        let _ = stream.write(&frame);
    }
    let _ = stream.shutdown(std::net::Shutdown::Write);
}

/// A listening socket with the requested backlog. `SO_REUSEADDR` lets a
/// restarted central bind again at once.
fn listen(addr: SocketAddr, backlog: u32) -> io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
    Ok(socket.into())
}
