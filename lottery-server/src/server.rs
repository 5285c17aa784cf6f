//! The server: building it (the listener, the polls, the wakers, the shared
//! state), starting its event-loop threads and running the acceptor, and
//! stopping.
//!
//! Stopping is one path whatever the reason (see `acceptor.rs` for the
//! reasons): stop accepting, tell every loop, wait for each to finish its
//! work and close its connections, close the status port (`http.rs`, when
//! configured) and the store.

use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use lottery_core::Central;
use mio::{Interest, Poll, Waker};

use crate::acceptor::{ACCEPTOR_WAKER, Acceptor, LISTENER, SIGNALS};
use crate::config::ServerConfig;
use crate::error::ServerError;
use crate::event_loop::EventLoop;
use crate::http::{BoundPort, Readiness, StatusPort};
use crate::log_line;
use crate::metrics;
use crate::shared::{ExitNotice, LoopHandle, Shared};
use crate::shutdown::{ShutdownHandle, SignalWatch, StopReason};
use crate::store_watch::StoreWatch;

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
    /// The status port, bound when [`ServerConfig::http`] asks for it.
    http: Option<BoundPort>,
    /// What the status port shows of the store.
    store: StoreWatch,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .field("config", self.shared.config())
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
        config: ServerConfig,
    ) -> Result<Self, ServerError> {
        let listener =
            listen(addr, backlog).map_err(|source| ServerError::Bind { addr, source })?;
        Self::new(listener, central, config)
    }

    /// Builds a server on an already-bound listener (tests bind
    /// `127.0.0.1:0`), and binds the status port when
    /// [`ServerConfig::http`] names one. Nothing runs until [`Server::run`].
    ///
    /// # Errors
    /// [`ServerError::EventLoop`] when a poll, waker or registration cannot be
    /// created; [`ServerError::Bind`] when the status port cannot be bound.
    pub fn new(
        listener: TcpListener,
        central: Central,
        mut config: ServerConfig,
    ) -> Result<Self, ServerError> {
        config.threads = config.threads.max(1);
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
        let mut loops = Vec::with_capacity(config.threads);
        let mut loop_polls = Vec::with_capacity(config.threads);
        for _ in 0..config.threads {
            let loop_poll = Poll::new().map_err(ServerError::event_loop("create a poll"))?;
            loops.push(
                LoopHandle::new(&loop_poll).map_err(ServerError::event_loop("create a waker"))?,
            );
            loop_polls.push(loop_poll);
        }
        let http = config.http.map(BoundPort::bind).transpose()?;
        let shutdown = ShutdownHandle::new(Arc::clone(&acceptor));
        let shared = Arc::new(Shared::new(central, config, loops, acceptor));
        Ok(Self {
            listener,
            local_addr,
            poll,
            loop_polls,
            shared,
            shutdown,
            http,
            store: StoreWatch::default(),
        })
    }

    /// Shows `watch`'s store (its path, size and syncs) on the status port;
    /// see [`crate::open_watched_central`].
    #[must_use]
    pub fn watch_store(mut self, watch: StoreWatch) -> Self {
        self.store = watch;
        self
    }

    /// The address of the status port, when [`ServerConfig::http`] asked for
    /// one (its port, when that asked for port 0).
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http.as_ref().map(BoundPort::local_addr)
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
            http,
            store,
        } = self;
        // Installed first and removed last: a second signal while the loops
        // finish their work exits at once.
        let mut signals = if shared.config().handle_signals {
            Some(SignalWatch::install(poll.registry(), SIGNALS).map_err(ServerError::Signals)?)
        } else {
            None
        };
        wake_loops_on_draw(&shared);
        metrics::count_on_this_thread(Arc::clone(shared.metrics().of_acceptor()));
        let ready: Readiness = Arc::new(AtomicBool::new(false));
        let (threads, status_port, start_error) =
            start_threads(&shared, loop_polls, http.map(|port| (port, store, &ready)));
        let (reason, failure) = match start_error {
            Some(error) => (StopReason::Requested, Some(error)),
            None => {
                announce(&shared, local_addr, threads.len(), status_port.as_ref());
                ready.store(true, Ordering::SeqCst);
                let mut acceptor = Acceptor::new(&shared, &mut listener);
                match acceptor.run(&mut poll, signals.as_mut(), &shutdown) {
                    Ok(reason) => (reason, None),
                    Err(error) => (StopReason::Requested, Some(error)),
                }
            }
        };
        ready.store(false, Ordering::SeqCst);
        // Stop accepting before anything else.
        let _ = poll.registry().deregister(&mut listener);
        drop(listener);
        log_line::shutdown_started(reason);
        shared.stop();
        let failure = join_loops(threads, failure);
        if let Some((port, _)) = status_port {
            port.stop();
        }
        log_line::suppressed_at_shutdown();
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

/// The status port, serving, and its address.
type ServingPort = (StatusPort, SocketAddr);

/// Starts the loops, then the status port (`http`: the port bound, the
/// store it shows, the readiness it reports) if asked and the loops started;
/// on a failure, what started so far and the error.
fn start_threads(
    shared: &Arc<Shared>,
    polls: Vec<Poll>,
    http: Option<(BoundPort, StoreWatch, &Readiness)>,
) -> (Vec<LoopThread>, Option<ServingPort>, Option<ServerError>) {
    let (threads, error) = start_loops(shared, polls);
    let Some((port, store, ready)) = http.filter(|_| error.is_none()) else {
        return (threads, None, error);
    };
    let addr = port.local_addr();
    match StatusPort::start(port, Arc::clone(shared), store, Arc::clone(ready)) {
        Ok(serving) => (threads, Some((serving, addr)), None),
        Err(source) => {
            log_line::http_start_failed(&source);
            let error = ServerError::EventLoop {
                action: "start the status port's thread",
                source,
            };
            (threads, None, Some(error))
        }
    }
}

/// Says once what the server serves: the agency port, what protects it,
/// and the status port.
fn announce(shared: &Shared, listen: SocketAddr, threads: usize, http: Option<&ServingPort>) {
    log_line::accepting(listen, threads);
    log_line::security(listen, shared.config().tls.as_ref());
    log_line::receipts(shared.config().receipt_key.as_deref());
    if let Some((_, addr)) = http {
        log_line::serving_http(*addr);
        let settings = &shared.config().http_settings;
        log_line::http_security(*addr, settings.tls.is_some(), settings.token.is_some());
    }
}

/// A loop thread: `Ok` when it stopped as asked, its poll's error otherwise.
type LoopThread = JoinHandle<io::Result<()>>;

/// Makes the draw wake every loop (they answer the winners queries held for
/// it). The listener holds the wakers only, not the shared state, so the
/// central does not keep the server alive.
fn wake_loops_on_draw(shared: &Shared) {
    let wakers: Vec<Arc<Waker>> = shared
        .loops()
        .iter()
        .map(|handle| Arc::clone(handle.waker()))
        .collect();
    shared.central().on_draw(Box::new(move || {
        for waker in &wakers {
            let _ = waker.wake();
        }
    }));
}

/// Starts one thread per loop; on a failure, the loops started so far, and
/// the error.
fn start_loops(shared: &Arc<Shared>, polls: Vec<Poll>) -> (Vec<LoopThread>, Option<ServerError>) {
    let mut threads = Vec::with_capacity(polls.len());
    for (index, poll) in polls.into_iter().enumerate() {
        let shared = Arc::clone(shared);
        let spawned = std::thread::Builder::new()
            .name(format!("lottery-loop-{index}"))
            .spawn(move || {
                let _notice = ExitNotice(Arc::clone(&shared));
                metrics::count_on_this_thread(Arc::clone(shared.metrics().of_loop(index)));
                EventLoop::new(index, poll, shared).and_then(EventLoop::run)
            });
        match spawned {
            Ok(thread) => threads.push(thread),
            Err(source) => {
                let error = ServerError::EventLoop {
                    action: "start an event-loop thread",
                    source,
                };
                return (threads, Some(error));
            }
        }
    }
    (threads, None)
}

/// Waits for every loop to finish; the first failure is kept (`failure`, if
/// the server already had one, else the first loop's).
fn join_loops(threads: Vec<LoopThread>, mut failure: Option<ServerError>) -> Option<ServerError> {
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
    failure
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
