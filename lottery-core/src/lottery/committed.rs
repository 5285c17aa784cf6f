//! The draw of committed rules ([`crate::Winning::Committed`]): the number
//! is derived when every agency has finished, from the secret and the
//! ledger's chain head, and the winners are then read from the ledger in one
//! scan (the running tally could not pick them: nobody knew the number).
//!
//! Once every agency has finished, nothing more is stored, so the chain head
//! is final: the draw made after the last finish and a draw made again when
//! a restarted central finds every finish recorded derive the same number
//! and find the same winners.

use std::path::PathBuf;

use crate::error::StoreError;
use crate::lottery::draw::{Draw, DrawTally};
use crate::lottery::ledger::Ledger;
use crate::lottery::rules::{LotteryRules, Winning};
use crate::lottery::secret::DrawSecret;

/// The draw that is due: the running tally's (`tallied`) under fixed rules;
/// under committed ones (`secret` given), the one `ledger`'s chain head and
/// `secret` give, its winners read in one scan.
///
/// # Errors
/// The ledger's, when its bets cannot be read, or it keeps no chain
/// (refused when the central was built: see
/// [`crate::RecoveryError::Committed`]).
pub(crate) fn draw_due(
    tallied: impl FnOnce() -> Draw,
    ledger: &dyn Ledger,
    rules: LotteryRules,
    secret: Option<&DrawSecret>,
) -> Result<Draw, StoreError> {
    let Some(secret) = secret else {
        return Ok(tallied());
    };
    let Some(head) = ledger.chain_head() else {
        return Err(StoreError::Inconsistent {
            path: PathBuf::from(format!("{ledger:?}")),
            problem: "it keeps no chain head to derive the committed winning number from"
                .to_owned(),
            remedy: "run committed rules on a file store",
        });
    };
    let mut tally = DrawTally::new(LotteryRules {
        winning: Winning::Fixed(secret.winning_number(&head.link)),
        ..rules
    });
    ledger.scan(&mut |stored| tally.add(stored))?;
    Ok(tally.finish())
}
