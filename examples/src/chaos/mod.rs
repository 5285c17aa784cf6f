//! `lottery-chaos`: a real system (centrals, `lottery-agency` processes)
//! under random faults drawn from a seed, and a checker of its history
//! afterwards (issue 24).
//!
//! - [`check`]: the invariants, judged on a lottery's record (no processes).
//! - [`faults`]: the kinds of fault, `--faults` and `--duration` parsing,
//!   the log of faults injected.
//! - [`peers`]: second connections resending stored batches, hostile
//!   peers.
//! - [`pg`]: a fresh PostgreSQL schema per lottery, `pg_ctl` restarts.
//! - [`system`]: the programs as processes, signals, `/proc` resources.
//! - [`run`]: lotteries one after another under faults, each judged (its
//!   faults injected by `run::inject`, its record collected by
//!   `run::collect`).
//! - [`table`]: the table printed at the end.

pub mod check;
pub mod faults;
pub mod peers;
pub mod pg;
pub mod run;
pub mod system;
pub mod table;
