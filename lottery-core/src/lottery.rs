//! The lottery as a plain state machine: no lock, no I/O, no clock.
//!
//! [`Lottery`] decides what each request means (take this batch? is this
//! finish the last one?) and records outcomes; the caller ([`crate::Central`])
//! does the storing and the draw scan and owns the lock. Winners exist only in
//! the drawn phase, so a partial list cannot be observed.

use std::sync::Arc;

use crate::bet::{AgencyId, BetNumber, Document};

/// The rules a central is started with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LotteryRules {
    /// The central expects agencies `1..=agencies`.
    pub agencies: u32,
    /// A bet wins when it plays this number.
    pub winning_number: BetNumber,
}

impl Default for LotteryRules {
    fn default() -> Self {
        Self {
            agencies: 5,
            winning_number: BetNumber::DEFAULT_WINNING,
        }
    }
}

/// Where an agency stands, as its handshake answer tells it (so that a
/// reconnecting agency resumes without resending or skipping).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResumePoint {
    /// The sequence number of the last batch stored for the agency (0: none).
    /// Batches are numbered from 1.
    pub last_batch: u64,
    /// Bets stored for the agency.
    pub bets_stored: u64,
    /// Whether the agency already finished.
    pub finished: bool,
}

/// What a submitted batch came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submitted {
    /// The batch was stored now.
    Stored {
        /// Its sequence number.
        batch: u64,
        /// Bets it held.
        bets: u64,
    },
    /// The batch had been stored before (a resend after a reconnect): it is
    /// acknowledged again and not stored again.
    AlreadyStored {
        /// Its sequence number.
        batch: u64,
    },
}

/// What a finish came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finish {
    /// Recorded; other agencies have yet to finish.
    Waiting {
        /// How many agencies have not finished.
        remaining: u32,
    },
    /// This finish was the last one and this call performed the draw.
    Drew(DrawSummary),
    /// The draw had already happened (a repeated finish): nothing changed.
    AlreadyDrawn,
}

/// What the draw found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrawSummary {
    /// Bets scanned.
    pub bets: u64,
    /// Winners per agency, index 0 for agency 1.
    pub winners_per_agency: Vec<u64>,
}

/// The answer to a winners query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Winners {
    /// The draw has not happened yet.
    NotDrawn,
    /// The documents of the agency's winning bets, in stored order.
    Drawn(Arc<[Document]>),
}

/// The lottery state machine.
#[derive(Debug)]
pub struct Lottery {
    _rules: LotteryRules,
}
