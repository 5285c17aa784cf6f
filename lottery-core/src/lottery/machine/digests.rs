//! The digests of an agency's acknowledged batches, in its books: what a
//! resend is checked against, and the CRC32C of its rows a handshake
//! carries (see the crate's `digest` module for what they are).

use lottery_bet::{AgencyId, BatchDigest};

use super::{AgencyState, Lottery};
use crate::error::UnknownAgency;

impl AgencyState {
    /// The digest of acknowledged batch number `batch` (`None`: the books
    /// were not given it, so nothing vouches for a resend of it).
    pub(super) fn stored_digest(&self, batch: u64) -> Option<BatchDigest> {
        let index = usize::try_from(batch.checked_sub(1)?).ok()?;
        self.digests.batches.get(index).copied()
    }

    /// Keeps the digest of batch number `batch`, just acknowledged (in
    /// number order, so it extends the list unless batches before it have
    /// no digest in the books).
    pub(super) fn keep_digest(&mut self, batch: u64, digest: BatchDigest) {
        if self.digests.batches.len() as u64 + 1 == batch {
            self.digests.batches.push(digest);
        }
    }

    /// Takes the digests a store's recovery found for the agency (with
    /// `last_batch` and `bets` recovered already): kept when they cover
    /// every batch; rows beyond their bets are rows without batches.
    pub(super) fn recover_digests(&mut self, batches: Option<&Vec<BatchDigest>>) {
        let batched: u64 = batches.map_or(0, |b| b.iter().map(BatchDigest::bets).sum());
        self.digests.unbatched_rows = batched != self.bets;
        if let Some(batches) = batches
            && batches.len() as u64 == self.last_batch
        {
            self.digests.batches = batches.clone();
        }
    }

    /// The CRC32C of every stored row of the agency, in stored order, when
    /// it has some and the books know it (see
    /// [`lottery_bet::ResumePoint::rows_crc`]).
    pub(super) fn stored_rows_crc(&self) -> Option<u32> {
        let complete = self.bets > 0
            && !self.digests.unbatched_rows
            && self.digests.batches.len() as u64 == self.last_batch;
        complete.then(|| self.digests.rows_crc.peek(&self.digests.batches))
    }
}

impl Lottery {
    /// The bets of `agency`'s acknowledged batches: what an ack or a
    /// finish answer carries, read without folding the rows' CRC32C (which
    /// only a handshake needs, and which costs a `crc32c_combine` for every
    /// batch not folded yet).
    ///
    /// # Errors
    /// [`UnknownAgency`] outside `1..=N`.
    pub fn bets_stored(&self, agency: AgencyId) -> Result<u64, UnknownAgency> {
        Ok(self.agency(agency).ok_or(self.unknown(agency))?.bets)
    }

    /// The bets of every acknowledged batch (and of the recovered store):
    /// the running tally's count, O(1).
    pub fn total_bets_stored(&self) -> u64 {
        self.tally.bets()
    }

    /// Folds the CRC32C of `agency`'s stored rows as far as its books go, so
    /// that [`Lottery::resume_point`] answers it without folding again (a
    /// handshake's cost, once per batch; see the `digest` module).
    pub fn fold_rows_crc(&mut self, agency: AgencyId) {
        if let Some(state) = self.agencies.get_mut(&agency) {
            state.digests.rows_crc.fold(&state.digests.batches);
        }
    }
}
