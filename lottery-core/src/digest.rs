//! What a stored batch holds, in twelve bytes: the check that makes a resend's
//! acknowledgement true.
//!
//! A batch's [`BatchDigest`] is the CRC32C of its store rows (the lines of
//! `bets.csv` it adds, agency column and CRLF included, exactly as
//! [`crate::encode_store_rows`] writes them), their length and its bet count.
//! The file monitor computes that CRC32C anyway, for its journal's chain, and
//! recovery computes it again when it checks the chain, so keeping it costs
//! a copy per batch, never a pass over the bets. A ledger that does not
//! keep rows (a database) computes the same digest from the batch and stores
//! its three numbers.
//!
//! A resend of a stored batch (same agency, same number) is acknowledged
//! again only if its digest is the stored one: the same bets, byte for byte
//! as the store writes them, in the same order (a CRC32C misses an
//! accidental change with odds of one in 2^32; it does not stop an edit made
//! to keep it, which no agency program makes). Otherwise it is refused
//! ([`crate::SubmitError::BatchConflict`]): an acknowledgement always means
//! these exact bets are stored.
//!
//! The handshake carries the CRC32C of all of an agency's stored rows, in
//! stored order ([`crate::ResumePoint::rows_crc`]): an agency program computes
//! the same over the first `bets_stored` bets of its file, and so learns
//! before it sends anything whether the file still begins with what the
//! central holds. It is folded from the batches' digests
//! ([`crc32c::crc32c_combine`], a few thousand instructions a batch) lazily,
//! when a handshake asks for it, never on the path of a batch.

use crate::bet::AgencyId;
use crate::bet_batch::AsBetBatch;
use crate::row::encode_store_rows;

/// The content of one stored batch: the CRC32C of its store rows, their
/// length and its bet count.
///
/// ```
/// use lottery_core::{AgencyId, BatchDigest, Bet, encode_store_rows};
/// let agency = AgencyId::new(2)?;
/// let bets = [Bet::from_fields("Ana", "Paz", "30904465", "1999-03-17", "7574")?];
/// let digest = BatchDigest::of(agency, &bets);
/// let mut rows = Vec::new();
/// encode_store_rows(agency, &bets, &mut rows);
/// assert_eq!(digest, BatchDigest::of_rows(&rows, 1));
/// assert_eq!(digest.rows_crc(), crc32c::crc32c(&rows));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct BatchDigest {
    rows_crc: u32,
    rows_len: u32,
    bets: u32,
}

impl BatchDigest {
    /// The digest of `bets` taken by `agency`: their store rows encoded
    /// and checksummed (the cost of writing them once: what a resend, or a
    /// ledger without rows, pays).
    pub fn of<B: AsBetBatch + ?Sized>(agency: AgencyId, bets: &B) -> Self {
        let batch = bets.as_bet_batch();
        let mut rows = Vec::new();
        encode_store_rows(agency, &*batch, &mut rows);
        Self::of_rows(&rows, batch.len() as u64)
    }

    /// The digest of a batch whose store rows are `rows` (`bets` of them).
    pub fn of_rows(rows: &[u8], bets: u64) -> Self {
        Self::from_parts(crc32c::crc32c(rows), rows.len() as u64, bets)
    }

    /// The digest of a batch whose rows' CRC32C is `rows_crc`, `rows_len`
    /// bytes long, holding `bets` bets: what a ledger that stores the three
    /// numbers reads back.
    pub fn from_parts(rows_crc: u32, rows_len: u64, bets: u64) -> Self {
        // A batch fits a frame (at most a few MiB): these never saturate.
        // If one did, its digest would differ from any real batch's, which
        // refuses a resend: never a false acknowledgement.
        Self {
            rows_crc,
            rows_len: u32::try_from(rows_len).unwrap_or(u32::MAX),
            bets: u32::try_from(bets).unwrap_or(u32::MAX),
        }
    }

    /// The CRC32C of the batch's store rows.
    pub const fn rows_crc(&self) -> u32 {
        self.rows_crc
    }

    /// The length of its store rows, in bytes.
    pub const fn rows_len(&self) -> u64 {
        self.rows_len as u64
    }

    /// How many bets it holds.
    pub const fn bets(&self) -> u64 {
        self.bets as u64
    }
}

/// Continues `crc`, the CRC32C of rows of `agency` (0 for none), over the
/// store rows of `bets`: what an agency computes over the bets the central
/// says it stores, to compare with [`crate::ResumePoint::rows_crc`].
///
/// ```
/// use lottery_core::{AgencyId, Bet, append_rows_crc};
/// let agency = AgencyId::new(1)?;
/// let a = Bet::from_fields("Ana", "Paz", "1", "1999-03-17", "7574")?;
/// let b = Bet::from_fields("Luis", "Sosa", "2", "1980-01-02", "12")?;
/// let whole = append_rows_crc(0, agency, &[a.clone(), b.clone()]);
/// assert_eq!(append_rows_crc(append_rows_crc(0, agency, &[a]), agency, &[b]), whole);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn append_rows_crc<B: AsBetBatch + ?Sized>(crc: u32, agency: AgencyId, bets: &B) -> u32 {
    let mut rows = Vec::new();
    encode_store_rows(agency, bets, &mut rows);
    crc32c::crc32c_append(crc, &rows)
}

/// The CRC32C of an agency's stored rows, folded batch after batch: a cache
/// the lottery advances when a handshake asks (see the module docs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct RowsCrc {
    /// The CRC32C of the rows of the first `folded` batches.
    crc: u32,
    folded: usize,
}

impl RowsCrc {
    /// Nothing folded yet.
    pub(crate) const fn new() -> Self {
        Self { crc: 0, folded: 0 }
    }

    /// The CRC32C of the rows of every batch of `batches` (an agency's
    /// digests in number order, extending those folded before), advancing
    /// the cache.
    pub(crate) fn fold(&mut self, batches: &[BatchDigest]) -> u32 {
        if self.folded > batches.len() {
            // The books were cut back (never for acknowledged batches, but
            // the cache must not outlive its batches).
            *self = Self::default();
        }
        for digest in &batches[self.folded..] {
            self.crc = crc32c::crc32c_combine(self.crc, digest.rows_crc, digest.rows_len as usize);
        }
        self.folded = batches.len();
        self.crc
    }

    /// What [`RowsCrc::fold`] would answer, without advancing the cache.
    pub(crate) fn peek(self, batches: &[BatchDigest]) -> u32 {
        let mut copy = self;
        copy.fold(batches)
    }
}

/// What an agency's acknowledged batches hold, in the lottery's books.
#[derive(Debug, Clone, Default)]
pub(crate) struct AgencyDigests {
    /// The digest of every acknowledged batch, in number order (batch 1
    /// first): `last_batch` of them, unless the books adopted batches
    /// whose digests they were not given (then resends of those are not
    /// vouched for: see the lottery's `SubmitStep::AlreadyStored`).
    pub(crate) batches: Vec<BatchDigest>,
    /// Whether bets without batches are stored for the agency (rows adopted
    /// from a course `bets.csv`): then no digest covers all its rows.
    pub(crate) unbatched_rows: bool,
    /// The CRC32C of the rows of `batches`, folded as far as a handshake
    /// asked.
    pub(crate) rows_crc: RowsCrc,
}

impl AgencyDigests {
    /// No batch.
    pub(crate) const fn new() -> Self {
        Self {
            batches: Vec::new(),
            unbatched_rows: false,
            rows_crc: RowsCrc::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_folded_crc_is_the_crc_of_the_rows_one_after_another() {
        let rows: [&[u8]; 3] = [
            b"2,Ana,Paz,1,2000-01-01,7\r\n",
            b"2,B,C,2,2000-01-01,8\r\n",
            b"",
        ];
        let digests: Vec<BatchDigest> = rows.iter().map(|r| BatchDigest::of_rows(r, 1)).collect();
        let mut folded = RowsCrc::default();
        assert_eq!(folded.fold(&digests[..1]), crc32c::crc32c(rows[0]));
        assert_eq!(folded.peek(&digests), crc32c::crc32c(&rows.concat()));
        assert_eq!(folded.fold(&digests), crc32c::crc32c(&rows.concat()));
        assert_eq!(RowsCrc::default().fold(&[]), 0);
    }
}
