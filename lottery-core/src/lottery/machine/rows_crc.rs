//! The CRC32C of an agency's stored rows, kept in the lottery's books: folded
//! from its batches' digests ([`crc32c::crc32c_combine`], a few thousand
//! instructions a batch) lazily, when a handshake asks for it
//! ([`lottery_bet::ResumePoint::rows_crc`]), never on the path of a batch.

use lottery_bet::BatchDigest;

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
            self.crc =
                crc32c::crc32c_combine(self.crc, digest.rows_crc(), digest.rows_len() as usize);
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
