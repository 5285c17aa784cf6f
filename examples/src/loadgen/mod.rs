//! The load generator: many agencies over a few client threads, frames
//! encoded before the clock starts, throughput and ack latency measured.

pub mod config;
mod connection;
pub mod driver;
pub mod plan;
pub mod report;
pub mod run;
pub mod schedule;
pub mod shared;
mod wire;

pub use config::LoadgenArgs;
pub use plan::SessionPlan;
pub use report::{LatencySummary, Report};
pub use run::run;
