//! What the central answers: where an agency stands, what a batch and a
//! finish came to. Plain values, produced by the state machine and handed out
//! by [`crate::Central`].

use crate::draw::DrawSummary;

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
#[non_exhaustive]
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

impl Submitted {
    /// The batch's sequence number.
    pub const fn batch(&self) -> u64 {
        match *self {
            Submitted::Stored { batch, .. } | Submitted::AlreadyStored { batch } => batch,
        }
    }
}

/// What a finish came to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Finish {
    /// Recorded; the draw has not happened yet. `remaining` counts the agencies
    /// that have not finished; it is 0 when every agency finished and the draw
    /// is under way on another thread (a repeated finish racing the last one).
    Waiting {
        /// How many agencies have not finished.
        remaining: u32,
    },
    /// This finish was the last one and this call performed the draw.
    Drew(DrawSummary),
    /// The draw had already happened (a repeated finish): nothing changed.
    AlreadyDrawn,
}
