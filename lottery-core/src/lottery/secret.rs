//! The committed winning number: a secret fixed when the store is created,
//! published only as its commitment, and revealed at the draw, where the
//! winning number is derived from it and the store's final chain head.
//!
//! - The commitment is `SHA-256(secret)`: anyone holding it can check a
//!   revealed secret, and no one can find another secret with the same
//!   commitment.
//! - The winning number is `SHA-256(secret ‖ chain head)` reduced to 0-9999
//!   without bias: the hash is read as eight big-endian 32-bit words, the
//!   first word below 4,294,960,000 (the largest multiple of 10,000 that
//!   fits) gives `word % 10000`; if all eight are above it (about one chance
//!   in 10^41), the hash is hashed again and read likewise.
//!
//! Neither party can choose the number: the operator does not know the last
//! bet (the chain head covers every stored byte, and it changes with each),
//! and an agency does not know the secret. Making the secret is the server's
//! job (this crate has no randomness): [`DrawSecret::from_bytes`] takes 32
//! bytes from the operating system's generator.

use lottery_bet::BetNumber;
use sha2::{Digest as _, Sha256};

/// How many distinct winning numbers there are (0 to 9999).
const NUMBERS: u32 = 10_000;

/// The largest multiple of [`NUMBERS`] that fits a `u32`, plus nothing: words
/// at or above it are skipped, so every number is equally likely.
const UNBIASED_LIMIT: u32 = (u32::MAX / NUMBERS) * NUMBERS;

/// The secret a committed draw is derived from. Its `Debug` shows the
/// commitment only: a secret in a log before the draw would let whoever
/// reads it steer the draw with the last bet.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct DrawSecret([u8; 32]);

impl DrawSecret {
    /// A secret from 32 bytes, which must come from a cryptographic random
    /// generator (the operating system's) when the store is created.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The secret's bytes (to record it, and to reveal it after the draw).
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The commitment to this secret: `SHA-256(secret)`.
    pub fn commitment(&self) -> [u8; 32] {
        Sha256::digest(self.0).into()
    }

    /// The winning number of a store whose final chain head is `head`:
    /// `SHA-256(secret ‖ head)` reduced to 0-9999 without bias.
    ///
    /// ```
    /// use lottery_core::DrawSecret;
    /// let secret = DrawSecret::from_bytes([7; 32]);
    /// let number = secret.winning_number(&[1; 32]);
    /// assert_eq!(number, secret.winning_number(&[1; 32]), "the same inputs, the same number");
    /// assert!(number.get() <= 9999);
    /// ```
    pub fn winning_number(&self, head: &[u8; 32]) -> BetNumber {
        let mut hash: [u8; 32] = Sha256::new()
            .chain_update(self.0)
            .chain_update(head)
            .finalize()
            .into();
        loop {
            if let Some(number) = unbiased_number(&hash) {
                return number;
            }
            hash = Sha256::digest(hash).into();
        }
    }
}

impl std::fmt::Debug for DrawSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let commitment = self.commitment();
        write!(f, "DrawSecret(commitment ")?;
        for byte in commitment {
            write!(f, "{byte:02x}")?;
        }
        write!(f, ")")
    }
}

/// The number the first word of `hash` below [`UNBIASED_LIMIT`] gives, if
/// any word is.
fn unbiased_number(hash: &[u8; 32]) -> Option<BetNumber> {
    hash.chunks_exact(4)
        .map(|word| u32::from_be_bytes([word[0], word[1], word[2], word[3]]))
        .find(|&word| word < UNBIASED_LIMIT)
        .map(|word| BetNumber::new(word % NUMBERS).expect("below 10,000"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_is_the_largest_multiple_of_ten_thousand_in_a_word() {
        assert_eq!(UNBIASED_LIMIT, 4_294_960_000);
        assert_eq!(UNBIASED_LIMIT % NUMBERS, 0);
        assert!(u64::from(UNBIASED_LIMIT) + u64::from(NUMBERS) > u64::from(u32::MAX));
    }

    #[test]
    fn words_at_or_above_the_limit_are_skipped_and_the_next_one_decides() {
        let mut hash = [0xff; 32];
        assert_eq!(unbiased_number(&hash), None, "all eight words skipped");
        hash[8..12].copy_from_slice(&UNBIASED_LIMIT.to_be_bytes());
        assert_eq!(unbiased_number(&hash), None, "the limit itself is skipped");
        hash[12..16].copy_from_slice(&(UNBIASED_LIMIT - 1).to_be_bytes());
        assert_eq!(unbiased_number(&hash).map(BetNumber::get), Some(9999));
        hash[4..8].copy_from_slice(&12_345_678u32.to_be_bytes());
        assert_eq!(unbiased_number(&hash).map(BetNumber::get), Some(5678));
    }

    #[test]
    fn the_number_follows_secret_and_head_and_the_commitment_is_the_secrets_hash() {
        let secret = DrawSecret::from_bytes([3; 32]);
        let expected: [u8; 32] = Sha256::digest([3u8; 32]).into();
        assert_eq!(secret.commitment(), expected);
        let hash: [u8; 32] = Sha256::new()
            .chain_update([3u8; 32])
            .chain_update([9u8; 32])
            .finalize()
            .into();
        let number = secret.winning_number(&[9; 32]);
        // (all eight words skipped would take the rehash: about 10^-41 here)
        assert_eq!(Some(number), unbiased_number(&hash));
        // Over many heads every number is reachable and none is favoured
        // much: 20,000 draws over 10 buckets of 1,000 numbers.
        let mut buckets = [0u32; 10];
        for head in 0..20_000u32 {
            let mut bytes = [0u8; 32];
            bytes[..4].copy_from_slice(&head.to_be_bytes());
            buckets[(secret.winning_number(&bytes).get() / 1000) as usize] += 1;
        }
        assert!(
            buckets.iter().all(|&n| (1_800..=2_200).contains(&n)),
            "{buckets:?}"
        );
        assert!(
            !format!("{secret:?}").contains("0303"),
            "Debug hides the secret"
        );
    }
}
