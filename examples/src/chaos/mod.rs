//! `lottery-chaos`: a real system (centrals, `lottery-agency` processes)
//! under random faults drawn from a seed, and a checker of its history
//! afterwards (issue 24).
//!
//! - [`check`]: the invariants, judged on a lottery's record (no processes).

pub mod check;
