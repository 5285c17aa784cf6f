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
//! (`SubmitError::BatchConflict` in lottery-core): an acknowledgement always means
//! these exact bets are stored.
//!
//! The handshake carries the CRC32C of all of an agency's stored rows, in
//! stored order ([`crate::ResumePoint::rows_crc`]): an agency program computes
//! the same over the first `bets_stored` bets of its file, and so learns
//! before it sends anything whether the file still begins with what the
//! central holds (the lottery folds it from the batches' digests).

use crate::bet::AgencyId;
use crate::bet_batch::AsBetBatch;
use crate::row::encode_store_rows;

/// The content of one stored batch: the CRC32C of its store rows, their
/// length and its bet count.
///
/// ```
/// use lottery_bet::{AgencyId, BatchDigest, Bet, encode_store_rows};
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
/// use lottery_bet::{AgencyId, Bet, append_rows_crc};
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
