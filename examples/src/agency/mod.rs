//! The agency program's pieces: its settings, its session with the central
//! and its log lines.

pub mod config;
pub mod log;
pub mod session;

pub use config::{AgencyArgs, AgencySettings, BetSource};
pub use session::{Progress, SessionEvent, SessionOutcome, run_session};
