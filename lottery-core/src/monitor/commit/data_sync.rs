//! The data sync thread: the one long-lived thread that runs `bets.csv`'s
//! `fdatasync` for the group commit (`Fsync` only) while the group's leader
//! syncs the journal on its own thread.
//!
//! Why a thread: a group waits for one sync's time only if its two syncs run
//! at once, so one of them must run off the leader's thread. Why one thread
//! for the store's life rather than one per group: a spawn and a join cost a
//! `clone`, a stack's `mmap` and `munmap` and an exit per group, where handing
//! a request to a waiting thread costs a lock and a wake-up.
//!
//! The protocol, one request at a time (the engine commits one group at a
//! time): [`DataSync::start`] asks for a sync and wakes the thread, which
//! syncs (so the sync starts after the request: it covers every byte
//! appended before it) and leaves the result; [`StartedSync::wait`] blocks
//! until that result is there and takes it. A failed sync is handed to its
//! waiter as the error it was, never as success. The thread ends when the
//! engine is dropped (dropping [`DataSync`] stops it and joins it). If it ends
//! any other way (its syncer panicked), every waiter, then and later, gets an
//! error: no group is acked without a completed data sync.

use std::io;

use crate::monitor::store::StoreSyncer;
use crate::sync::thread::{Builder, JoinHandle};
use crate::sync::{Arc, Condvar, Mutex};

/// The handle to the data sync thread, owned by the group-commit engine.
pub(super) struct DataSync {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    /// A leaf lock: held only to hand over a request or a result, never
    /// across a sync.
    state: Mutex<State>,
    /// Signalled on a request and on the stop (for the thread), and when a
    /// sync ended or the thread did (for the waiter).
    changed: Condvar,
}

#[derive(Default)]
struct State {
    /// A sync is asked for and has not started yet.
    requested: bool,
    /// The outcome of the last sync, until its waiter takes it.
    outcome: Option<io::Result<()>>,
    /// The engine is closing: the thread ends once no request is left.
    stop: bool,
    /// The thread has ended: nothing asked of it will be done.
    gone: bool,
}

/// A sync asked of the thread; [`StartedSync::wait`] gets its outcome.
#[must_use = "a started data sync must be waited for before its group is acked"]
pub(super) struct StartedSync<'a> {
    shared: &'a Shared,
}

impl DataSync {
    /// Starts the thread with the data file's syncer.
    ///
    /// # Errors
    /// The operating system's, when no thread can be started.
    pub(super) fn start_thread(mut syncer: Box<dyn StoreSyncer>) -> io::Result<Self> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
        });
        let thread = {
            let shared = Arc::clone(&shared);
            Builder::new()
                .name("data-sync".to_owned())
                .spawn(move || run(&shared, syncer.as_mut()))?
        };
        Ok(Self {
            shared,
            thread: Some(thread),
        })
    }

    /// Asks the thread for one sync of the data file, which starts after
    /// this call. Only one may be outstanding: the engine's one committing
    /// leader at a time (a second is a bug, refused with a panic).
    pub(super) fn start(&self) -> StartedSync<'_> {
        let mut state = self.shared.state.lock();
        assert!(
            !state.requested && state.outcome.is_none(),
            "one data sync at a time: the engine commits one group at a time"
        );
        state.requested = true;
        self.shared.changed.notify_all();
        StartedSync {
            shared: &self.shared,
        }
    }

    /// One sync of the data file, waited for.
    pub(super) fn sync(&self) -> io::Result<()> {
        self.start().wait()
    }
}

impl StartedSync<'_> {
    /// Blocks until the sync ended; its outcome, or an error if the thread
    /// ended before it.
    pub(super) fn wait(self) -> io::Result<()> {
        let mut state = self.shared.state.lock();
        loop {
            if let Some(outcome) = state.outcome.take() {
                return outcome;
            }
            if state.gone {
                state.requested = false;
                return Err(io::Error::other(
                    "the data sync thread ended (its syncer panicked): no sync of the data file can complete",
                ));
            }
            state = self.shared.changed.wait(state);
        }
    }
}

impl Drop for DataSync {
    fn drop(&mut self) {
        self.shared.state.lock().stop = true;
        self.shared.changed.notify_all();
        if let Some(thread) = self.thread.take() {
            // A panic of the thread was its syncer's, already printed and
            // already an error for its waiter: nothing is left to report.
            let _ = thread.join();
        }
    }
}

/// The thread's loop: one sync per request, until the stop.
fn run(shared: &Shared, syncer: &mut dyn StoreSyncer) {
    /// Marks the thread gone however it ends, a panic included, so that no
    /// waiter waits for a sync that will never come.
    struct Gone<'a>(&'a Shared);
    impl Drop for Gone<'_> {
        fn drop(&mut self) {
            self.0.state.lock().gone = true;
            self.0.changed.notify_all();
        }
    }
    let _gone = Gone(shared);
    let mut state = shared.state.lock();
    loop {
        if state.requested {
            state.requested = false;
            drop(state);
            let outcome = syncer.sync();
            state = shared.state.lock();
            state.outcome = Some(outcome);
            shared.changed.notify_all();
        } else if state.stop {
            return;
        } else {
            state = shared.changed.wait(state);
        }
    }
}
