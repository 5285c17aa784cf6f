//! Where an agency stands, as the central's handshake answer tells it: what
//! the agency program resumes from, and what the central's books answer
//! with. A plain value, below both (lottery-core produces it, lottery-net
//! carries it).

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
    /// The CRC32C of every row stored for the agency, in stored order, as
    /// `bets.csv` holds them (agency column and CRLF included): what the
    /// agency computes over the first `bets_stored` bets of its file to
    /// check, before it sends anything, that the file still begins with
    /// what the central holds. `None` when nothing is stored (nothing to
    /// check), or when the central cannot say (rows adopted from a course
    /// `bets.csv`, which carry no batches).
    pub rows_crc: Option<u32>,
}
