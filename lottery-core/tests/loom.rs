//! Loom models of the core's concurrent parts: every interleaving of a few
//! threads, with invariants asserted after join.
//!
//! Run with `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p lottery-core --release --test loom`.
#![cfg(loom)]

#[path = "loom/monitor_models.rs"]
mod monitor_models;

#[path = "loom/central_models.rs"]
mod central_models;
