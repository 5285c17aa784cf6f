//! The ledger's checksum chain: the one place that knows a record's
//! canonical bytes and how its link is computed (`lottery-core/STORE.md`,
//! "The PostgreSQL ledger's chain", has the layout).
//!
//! Every stored batch and every finish is a record of one chain shared by
//! every central of the schema: its `position` (1, 2, ... without gaps, in
//! commit order) and its `link`, kept in its own row of `batches` or
//! `finishes`; the one row of `chain_head` holds the last of them. A link
//! is the file store's journal link over the PostgreSQL record's words:
//!
//! ```text
//! link = SHA-256(previous link ‖ words ‖ CRC32C of the rows as 4 big-endian bytes)
//! words: "batch <agency> <batch> <bets> <rows_len>"   (then the rows' CRC32C)
//!        "finish <agency> <bets>"                      (no CRC32C)
//! ```
//!
//! where `rows_len` and the CRC32C are the batch's digest (its bets as
//! `bets.csv` would hold them: `lottery_bet::BatchDigest`), and the link
//! before the first record is `SHA-256("lottery-pg chain 1\n")`. The
//! journal's `batch` words name the end offset in `bets.csv`; a database
//! has no offset, so the rows' length stands in its place (with the CRC32C
//! it pins the bytes as well as the offset did).

use lottery_bet::{AgencyId, BatchDigest};
use sha2::{Digest as _, Sha256};

/// What the link before the first record is the SHA-256 of.
const GENESIS: &[u8] = b"lottery-pg chain 1\n";

/// A link of the chain.
pub(crate) type Link = [u8; 32];

/// The link before the first record (the head of an empty chain, position 0).
pub(crate) fn genesis() -> Link {
    Sha256::digest(GENESIS).into()
}

/// One record of the chain, as its link covers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Record {
    /// Batch `batch` of `agency`, whose bets have `digest`.
    Batch {
        agency: AgencyId,
        batch: u64,
        digest: BatchDigest,
    },
    /// `agency` finished with `bets` bets stored.
    Finish { agency: AgencyId, bets: u64 },
}

impl Record {
    /// The record's link after `previous`.
    pub(crate) fn link(&self, previous: &Link) -> Link {
        let mut hasher = Sha256::new();
        hasher.update(previous);
        match *self {
            Record::Batch {
                agency,
                batch,
                digest,
            } => {
                hasher.update(
                    format!(
                        "batch {agency} {batch} {} {}",
                        digest.bets(),
                        digest.rows_len()
                    )
                    .as_bytes(),
                );
                hasher.update(digest.rows_crc().to_be_bytes());
            }
            Record::Finish { agency, bets } => {
                hasher.update(format!("finish {agency} {bets}").as_bytes());
            }
        }
        hasher.finalize().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agency(id: u32) -> AgencyId {
        AgencyId::new(id).unwrap()
    }

    #[test]
    fn a_link_covers_the_previous_link_and_every_field_of_the_record() {
        let base = Record::Batch {
            agency: agency(3),
            batch: 7,
            digest: BatchDigest::from_parts(0x631e_8a1b, 94, 3),
        };
        let link = base.link(&genesis());
        let others = [
            Record::Batch {
                agency: agency(4),
                batch: 7,
                digest: BatchDigest::from_parts(0x631e_8a1b, 94, 3),
            },
            Record::Batch {
                agency: agency(3),
                batch: 8,
                digest: BatchDigest::from_parts(0x631e_8a1b, 94, 3),
            },
            Record::Batch {
                agency: agency(3),
                batch: 7,
                digest: BatchDigest::from_parts(0x631e_8a1c, 94, 3),
            },
            Record::Batch {
                agency: agency(3),
                batch: 7,
                digest: BatchDigest::from_parts(0x631e_8a1b, 95, 3),
            },
            Record::Batch {
                agency: agency(3),
                batch: 7,
                digest: BatchDigest::from_parts(0x631e_8a1b, 94, 4),
            },
            Record::Finish {
                agency: agency(3),
                bets: 7,
            },
        ];
        for other in others {
            assert_ne!(other.link(&genesis()), link, "{other:?}");
        }
        assert_ne!(base.link(&link), link, "the previous link counts");
        // The words as STORE.md writes them.
        let mut hasher = Sha256::new();
        hasher.update(genesis());
        hasher.update(b"batch 3 7 3 94");
        hasher.update([0x63, 0x1e, 0x8a, 0x1b]);
        assert_eq!(<[u8; 32]>::from(hasher.finalize()), link);
        let finish = Record::Finish {
            agency: agency(3),
            bets: 7,
        };
        let mut hasher = Sha256::new();
        hasher.update(link);
        hasher.update(b"finish 3 7");
        assert_eq!(<[u8; 32]>::from(hasher.finalize()), finish.link(&link));
        assert_eq!(
            genesis(),
            <[u8; 32]>::from(Sha256::digest(b"lottery-pg chain 1\n"))
        );
    }
}
