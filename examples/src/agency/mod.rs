//! The agency program's pieces: its settings, its session with the central,
//! its log lines, its history file (`--history`) and its receipts file
//! (`--receipts`).

mod config;
pub mod history;
pub mod log;
pub mod receipts;
mod session;

// Private modules, flat re-exports: each item under one path (the log lines
// stay a module of their own: `agency::log::bets_loaded(..)` reads as what
// it is).
pub use config::{
    AgencyArgs, AgencySettings, AgencyTls, BetSource, DEFAULT_IN_FLIGHT,
    DEFAULT_RECONNECT_ATTEMPTS, DEFAULT_SERVER, SINGLE_BET_VARIABLES,
};
pub use session::{Progress, SessionEvent, SessionOutcome, run_session};
