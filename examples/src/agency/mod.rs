//! The agency program's pieces: its settings and its session with the central.

pub mod config;
pub mod session;

pub use config::{AgencyArgs, AgencySettings, BetSource};
pub use session::{Progress, SessionOutcome, run_session};
