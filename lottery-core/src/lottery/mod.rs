//! The lottery: the pure state machine (`machine`: no lock, no I/O), the
//! shared, locked facade servers call ([`crate::Central`], with its striped
//! agency locks), the storage seam it calls ([`crate::Ledger`]), and what
//! both speak: the rules, the draw and its tally, the central's answers.
//!
//! Nothing here knows where bets are kept: the bet monitor (`crate::monitor`,
//! the `bets.csv` ledger) and lottery-pg implement the seam from outside
//! this folder, and no module of it imports the monitor.
//!
//! From the bottom up: `rules`, `secret` (the committed winning number),
//! `draw`, `outcome`, `ledger`, `committed` (the draw
//! of a committed number), `machine`,
//! `agency_locks`, `central`.

pub(crate) mod agency_locks;
pub(crate) mod central;
pub(crate) mod committed;
pub(crate) mod draw;
pub(crate) mod ledger;
pub(crate) mod machine;
pub(crate) mod outcome;
pub(crate) mod rules;
pub(crate) mod secret;
