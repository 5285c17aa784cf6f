//! The lottery's programs as a library: the agency (`lottery-agency`), the
//! one-command demo (`lottery-demo`) and the load generator
//! (`lottery-loadgen`). The binaries are thin `main`s over these modules, so
//! tests reuse the pieces (the synthetic data set above all).
//!
//! - [`agency`]: the agency's settings and session.
//! - [`input`]: agency files, validated whole before anything is sent.
//! - [`synthetic`]: the deterministic synthetic data set.
//! - [`logging`]: the course log format on stderr.

#![deny(missing_docs)]

pub mod agency;
pub mod error;
pub mod input;
pub mod logging;
pub mod synthetic;
