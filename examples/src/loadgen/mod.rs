//! The load generator: many agencies over a few client threads, frames
//! encoded before the clock starts, throughput and ack latency measured.

mod config;
mod connection;
mod driver;
mod plan;
mod report;
mod run;
mod schedule;
mod shared;
mod wire;

// Private modules, flat re-exports: each item under one path. The driver,
// its schedule and the run's shared state are the run's own.
pub use config::LoadgenArgs;
pub use plan::{SessionPlan, VARIANTS};
pub use report::{LatencySummary, Report};
pub use run::run;
