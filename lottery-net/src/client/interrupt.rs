//! Stopping a blocked client from another thread (a signal handler's, for
//! SIGTERM): [`Interrupter::interrupt`] shuts the current socket down, which
//! wakes a blocked read or write, and ends any backoff pause at once; the
//! client then returns [`ClientError::Interrupted`](crate::ClientError::Interrupted)
//! instead of reconnecting.

use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// A handle that interrupts an [`AgencyClient`](super::AgencyClient); cheap
/// to clone and to send to another thread.
///
/// ```
/// use lottery_net::Interrupter;
/// let interrupter = Interrupter::new();
/// let handle = interrupter.clone();
/// std::thread::spawn(move || handle.interrupt()).join().unwrap();
/// assert!(interrupter.is_interrupted());
/// ```
#[derive(Debug, Clone, Default)]
pub struct Interrupter {
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    interrupted: AtomicBool,
    /// A handle on the client's current socket, to shut it down.
    stream: Mutex<Option<TcpStream>>,
    /// Wakes a backoff pause.
    wake: Condvar,
}

impl Interrupter {
    /// A handle not yet interrupted.
    pub fn new() -> Self {
        Self::default()
    }

    /// Interrupts the client: its current or next blocking call returns
    /// [`ClientError::Interrupted`](crate::ClientError::Interrupted).
    pub fn interrupt(&self) {
        // The flag is set before the lock is taken, so a socket registered
        // concurrently either is seen here or sees the flag (see `register`).
        self.shared.interrupted.store(true, Ordering::SeqCst);
        let stream = self.lock();
        if let Some(stream) = stream.as_ref() {
            // The socket may be closed already; there is nothing else to do.
            let _ = stream.shutdown(Shutdown::Both);
        }
        self.shared.wake.notify_all();
    }

    /// Whether [`Interrupter::interrupt`] was called.
    pub fn is_interrupted(&self) -> bool {
        self.shared.interrupted.load(Ordering::SeqCst)
    }

    fn lock(&self) -> MutexGuard<'_, Option<TcpStream>> {
        // The data is a socket handle, valid whatever a panicking holder did.
        self.shared
            .stream
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes `stream` the socket to shut down on interrupt (shutting it down
    /// at once if the interrupt already came).
    pub(crate) fn register(&self, stream: &TcpStream) {
        let mut current = self.lock();
        *current = stream.try_clone().ok();
        if self.is_interrupted() {
            if let Some(stream) = current.as_ref() {
                let _ = stream.shutdown(Shutdown::Both);
            }
        }
    }

    /// Sleeps for `pause`, or less if interrupted. Returns whether it was.
    pub(crate) fn pause(&self, pause: Duration) -> bool {
        let guard = self.lock();
        let _ = self
            .shared
            .wake
            .wait_timeout_while(guard, pause, |_| !self.is_interrupted())
            .unwrap_or_else(PoisonError::into_inner);
        self.is_interrupted()
    }
}
