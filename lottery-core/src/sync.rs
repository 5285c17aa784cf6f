//! The one place that names lock and thread types.
//!
//! Under `cfg(loom)` every lock, condition variable, atomic, `Arc` and thread
//! comes from loom, so the model checker sees (and permutes) every synchronisation point of
//! the crate. Everywhere else they come from `parking_lot` and `std`. No other
//! module may import a lock type directly.
//!
//! Both variants expose the same small API: `Mutex::lock` returns a guard (no
//! poisoning), and `Condvar::wait` takes the guard by value and gives it back,
//! which is the shape both libraries can offer without `unsafe`.

#[cfg(loom)]
mod imp {
    pub use loom::sync::Arc;

    /// Threads the model checker runs (the group commit's data sync thread).
    pub mod thread {
        pub use loom::thread::{Builder, JoinHandle};
    }
    // Part of the shim's surface even while no module needs them yet.
    #[allow(unused_imports)]
    pub use loom::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

    /// A mutex without poisoning, backed by loom.
    #[derive(Debug)]
    pub struct Mutex<T>(loom::sync::Mutex<T>);

    /// The guard of [`Mutex`].
    pub type MutexGuard<'a, T> = loom::sync::MutexGuard<'a, T>;

    impl<T> Mutex<T> {
        /// Creates a new mutex.
        pub fn new(value: T) -> Self {
            Self(loom::sync::Mutex::new(value))
        }

        /// Locks the mutex.
        pub fn lock(&self) -> MutexGuard<'_, T> {
            self.0
                .lock()
                .expect("loom mutex poisoned: a model thread panicked")
        }
    }

    /// A condition variable, backed by loom.
    #[derive(Debug)]
    pub struct Condvar(loom::sync::Condvar);

    impl Default for Condvar {
        fn default() -> Self {
            Self::new()
        }
    }

    impl Condvar {
        /// Creates a new condition variable.
        pub fn new() -> Self {
            Self(loom::sync::Condvar::new())
        }

        /// Blocks until notified, releasing the lock meanwhile.
        pub fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
            self.0
                .wait(guard)
                .expect("loom condvar poisoned: a model thread panicked")
        }

        /// Wakes every waiter.
        pub fn notify_all(&self) {
            self.0.notify_all();
        }
    }
}

#[cfg(not(loom))]
mod imp {
    pub use parking_lot::{Mutex, MutexGuard};
    pub use std::sync::Arc;

    /// The standard library's threads (the group commit's data sync thread).
    pub mod thread {
        pub use std::thread::{Builder, JoinHandle};
    }
    // Part of the shim's surface even while no module needs them yet.
    #[allow(unused_imports)]
    pub use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

    /// A condition variable whose `wait` takes the guard by value (the loom shape).
    #[derive(Debug, Default)]
    pub struct Condvar(parking_lot::Condvar);

    impl Condvar {
        /// Creates a new condition variable.
        pub fn new() -> Self {
            Self(parking_lot::Condvar::new())
        }

        /// Blocks until notified, releasing the lock meanwhile.
        pub fn wait<'a, T>(&self, mut guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
            self.0.wait(&mut guard);
            guard
        }

        /// Wakes every waiter.
        pub fn notify_all(&self) {
            self.0.notify_all();
        }
    }
}

#[allow(unused_imports)]
pub use imp::*;
