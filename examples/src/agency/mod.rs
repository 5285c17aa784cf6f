//! The agency program's pieces: its settings and its session with the central.

pub mod config;

pub use config::{AgencyArgs, AgencySettings, BetSource};
