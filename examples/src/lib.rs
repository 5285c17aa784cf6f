//! The lottery's programs as a library: the agency (`lottery-agency`), the
//! one-command demo (`lottery-demo`), the load generator (`lottery-loadgen`)
//! and the fault-injection run (`lottery-chaos`). The binaries are thin
//! `main`s over these modules, so tests reuse the pieces (the synthetic data
//! set above all).
//!
//! - [`agency`]: the agency's settings, session and `--history` file.
//! - [`chaos`]: real centrals and agencies under random faults, and the
//!   checker of their history.
//! - [`input`]: agency files, validated whole before anything is sent.
//! - [`synthetic`]: the deterministic synthetic data set.
//! - [`central`]: a central started in-process on a loopback port.
//! - [`demo`]: the demo's run, checks and table.
//! - [`loadgen`]: the load generator's plans, client threads and report.
//! - [`progress`]: the progress bar (or plain lines) of the demo and the
//!   load generator, on stderr.
//! - [`pki`]: certificates generated in memory for the demo's and the load
//!   generator's `--tls`.
//!
//! Every program logs through [`lottery_log`], as the central does, so the
//! whole workspace writes the course's log format one way. `lottery-server`
//! is here only for [`central`] (`lottery-chaos` runs it as a process).

#![deny(missing_docs)]

pub mod agency;
pub mod central;
pub mod chaos;
pub mod demo;
pub mod error;
pub mod input;
pub mod loadgen;
pub mod pki;
pub mod progress;
pub mod synthetic;

/// The examples of README.md, compiled and run as doctests so the README cannot
/// drift from the API.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
