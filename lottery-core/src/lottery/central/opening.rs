//! Opening a central over a recovered ledger: the rules the store holds
//! (or records now, with a committed number's secret), and the draw a
//! restart finds due or recorded.

use crate::error::{RecoveryError, UnknownAgency};
use crate::lottery::committed::draw_due;
use crate::lottery::ledger::{Ledger, Recovery};
use crate::lottery::machine::Lottery;
use crate::lottery::rules::{LotteryRules, MAX_AGENCIES, Winning};
use crate::lottery::secret::DrawSecret;

/// Checks `rules` against what `ledger` recovered and records them in a new
/// store (with committed rules, the store's secret, or else `fresh`);
/// returns the secret of committed rules.
pub(super) fn adopt_rules(
    rules: LotteryRules,
    ledger: &dyn Ledger,
    recovery: &Recovery,
    fresh: Option<DrawSecret>,
) -> Result<Option<DrawSecret>, RecoveryError> {
    if !(1..=MAX_AGENCIES).contains(&rules.agencies) {
        return Err(RecoveryError::AgenciesOutOfRange {
            agencies: rules.agencies,
        });
    }
    if let Some(stored) = recovery.rules.filter(|&stored| stored != rules) {
        return Err(RecoveryError::RulesMismatch {
            stored,
            configured: rules,
        });
    }
    let secret = match rules.winning {
        Winning::Committed => {
            if ledger.chain_head().is_none() {
                return Err(RecoveryError::Committed(
                    "needs a ledger with a checksum chain (a file store); this one keeps none",
                ));
            }
            // The secret lives in the store one central owns (the file
            // store's manifest); a ledger several centrals share keeps it
            // nowhere they all read, so each would draw its own number.
            if ledger.is_shared() {
                return Err(RecoveryError::Committed(
                    "needs a file store: a ledger shared by several centrals (PostgreSQL) keeps no secret they share",
                ));
            }
            // A store keeps the secret it was created with, for life.
            let secret = if recovery.rules.is_some() {
                recovery.secret.ok_or(RecoveryError::Committed(
                    "is recorded in the store without its secret",
                ))?
            } else {
                fresh.ok_or(RecoveryError::Committed(
                    "needs a fresh secret to create the store",
                ))?
            };
            Some(secret)
        }
        _ => None,
    };
    if recovery.rules.is_none() {
        // Checked before the rules are written: a central refused here must
        // leave no rules behind, or the store would be stuck with the wrong
        // ones.
        check_rules_are_new(rules, recovery)?;
        ledger
            .record_rules(rules, secret.as_ref())
            .map_err(RecoveryError::Store)?;
    }
    Ok(secret)
}

/// The draw a recovered lottery holds: a recorded one is drawn again (it
/// must give exactly the recorded draw), and one due but not recorded (a
/// crash after the last finish) is performed and recorded now.
pub(super) fn recover_draw(
    lottery: &mut Lottery,
    rules: LotteryRules,
    ledger: &dyn Ledger,
    recovery: &Recovery,
    secret: Option<&DrawSecret>,
) -> Result<(), RecoveryError> {
    let due = |lottery: &Lottery| {
        draw_due(|| lottery.tallied_draw(), ledger, rules, secret).map_err(RecoveryError::Draw)
    };
    match (&recovery.draw, lottery.begin_draw()) {
        (Some(recorded), Some(right)) => {
            let draw = due(lottery)?;
            if draw.summary() != recorded {
                return Err(RecoveryError::Inconsistent(format!(
                    "it records a draw of {} bets with winners {:?} per agency, its bets give {} bets and {:?}",
                    recorded.bets,
                    recorded.winners_per_agency,
                    draw.summary().bets,
                    draw.summary().winners_per_agency
                )));
            }
            lottery.draw_done(right, draw);
        }
        (Some(_), None) => {
            return Err(RecoveryError::Inconsistent(
                "it records a draw, but not every agency's finish".to_owned(),
            ));
        }
        (None, Some(right)) => {
            let draw = due(lottery)?;
            ledger
                .record_draw(draw.summary())
                .map_err(RecoveryError::Draw)?;
            lottery.draw_done(right, draw);
        }
        (None, None) => {}
    }
    Ok(())
}

/// What a store without rules must hold for `rules` to become its rules:
/// no agency outside them, and no finish. A central records its rules
/// before it takes a bet, so finishes without rules mean the manifest lost
/// them (cut or replaced): other rules there could draw the store anew.
fn check_rules_are_new(rules: LotteryRules, recovery: &Recovery) -> Result<(), RecoveryError> {
    if let Some(&agency) = recovery.agencies.keys().find(|a| a.get() > rules.agencies) {
        let expected = rules.agencies;
        return Err(RecoveryError::UnknownAgency(UnknownAgency {
            agency,
            expected,
        }));
    }
    if recovery.agencies.values().any(|agency| agency.finished) {
        return Err(RecoveryError::Inconsistent(
            "its journal records finished agencies, but its manifest (bets.csv.lottery) holds no rules: it was cut or replaced; restore it from a backup".to_owned(),
        ));
    }
    Ok(())
}
