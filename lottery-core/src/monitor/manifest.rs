//! The store's manifest (`bets.csv.lottery`): the rules the store was created
//! with, and the draw once it happened.
//!
//! It is what makes a `bets.csv` this program's: written before any bet, it
//! survives the loss of the journal, so a store that lost its journal is
//! refused instead of being taken for a course store and reopened. It is small
//! and rewritten whole (aside, synced, renamed into place), three kinds of
//! line, each at most once, in this order:
//!
//! ```text
//! lottery-store 1
//! rules <agencies> <winning number>
//! draw <bets> <end offset> <chain head> <winners of agency 1>,<of agency 2>,...
//! ```
//!
//! With a committed winning number (`--winning-number committed`) the rules
//! line is `rules <agencies> committed <commitment> <secret>` (64 hex digits
//! each; the commitment is SHA-256 of the secret, checked on every read) and
//! the draw's number is derived from the secret and the draw line's chain
//! head (`crate::DrawSecret`). The secret is written with the rules, before
//! any bet, in the same atomic rewrite, so a store has one secret for life.
//!
//! `rules` is absent only in a store opened by a bare monitor that no central
//! has used yet. `draw` names what the draw counted and the journal's chain
//! head at the time, so the store can never be drawn again nor take another
//! bet, and recovery can tell a journal cut short from a whole one.

use lottery_bet::BetNumber;

use crate::lottery::draw::DrawSummary;
use crate::lottery::rules::{LotteryRules, Winning};
use crate::lottery::secret::DrawSecret;
use crate::monitor::journal::{Digest, from_hex, to_hex};

/// The first line of every manifest.
const HEADER: &str = "lottery-store 1";

/// The draw as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DrawRecord {
    /// What the draw counted.
    pub(crate) summary: DrawSummary,
    /// The committed length of `bets.csv` it covered.
    pub(crate) end: u64,
    /// The journal's chain head it covered.
    pub(crate) chain: Digest,
}

/// What a manifest says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Manifest {
    pub(crate) rules: Option<LotteryRules>,
    /// The secret of committed rules (present exactly when they are).
    pub(crate) secret: Option<DrawSecret>,
    pub(crate) draw: Option<DrawRecord>,
}

impl Manifest {
    /// The number that wins: the rules' fixed one, or the one the secret and
    /// the recorded draw's chain head give (`None` before a committed draw).
    pub(crate) fn winning_number(&self) -> Option<BetNumber> {
        let rules = self.rules?;
        match (rules.winning, &self.secret, &self.draw) {
            (Winning::Fixed(number), _, _) => Some(number),
            (Winning::Committed, Some(secret), Some(draw)) => {
                Some(secret.winning_number(&draw.chain))
            }
            _ => None,
        }
    }

    /// The manifest's bytes.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut text = format!("{HEADER}\n");
        if let Some(rules) = self.rules {
            match (rules.winning, &self.secret) {
                (Winning::Fixed(number), _) => {
                    text.push_str(&format!("rules {} {}\n", rules.agencies, number.get()));
                }
                (_, Some(secret)) => text.push_str(&format!(
                    "rules {} committed {} {}\n",
                    rules.agencies,
                    to_hex(&secret.commitment()),
                    to_hex(secret.as_bytes())
                )),
                // Committed rules are only ever recorded with their secret
                // (`GroupCommit::record_rules` refuses them without one).
                (_, None) => unreachable!("committed rules recorded without their secret"),
            }
        }
        if let Some(draw) = &self.draw {
            let winners: Vec<String> = draw
                .summary
                .winners_per_agency
                .iter()
                .map(u64::to_string)
                .collect();
            text.push_str(&format!(
                "draw {} {} {} {}\n",
                draw.summary.bets,
                draw.end,
                to_hex(&draw.chain),
                winners.join(",")
            ));
        }
        text.into_bytes()
    }

    /// Parses a manifest.
    ///
    /// # Errors
    /// What is wrong with it, for the operator.
    pub(crate) fn parse(bytes: &[u8]) -> Result<Self, String> {
        let text = std::str::from_utf8(bytes).map_err(|_| "it is not text".to_owned())?;
        let mut lines = text.split_terminator('\n');
        if lines.next() != Some(HEADER) {
            return Err(format!("its first line is not `{HEADER}`"));
        }
        let mut manifest = Manifest::default();
        for (index, line) in lines.enumerate() {
            let number = index + 2;
            let bad = || format!("line {number} is not a manifest line: {line:?}");
            let words: Vec<&str> = line.split(' ').collect();
            match words[..] {
                ["rules", agencies, winning]
                    if manifest.rules.is_none() && manifest.draw.is_none() =>
                {
                    let agencies = parse_number(agencies).and_then(|n| u32::try_from(n).ok());
                    let winning = parse_number(winning)
                        .and_then(|n| u32::try_from(n).ok())
                        .and_then(|n| BetNumber::new(n).ok());
                    let (Some(agencies), Some(winning_number)) = (agencies, winning) else {
                        return Err(bad());
                    };
                    manifest.rules = Some(LotteryRules {
                        agencies,
                        winning: Winning::Fixed(winning_number),
                    });
                }
                ["rules", agencies, "committed", commitment, secret]
                    if manifest.rules.is_none() && manifest.draw.is_none() =>
                {
                    let agencies = parse_number(agencies).and_then(|n| u32::try_from(n).ok());
                    let (Some(agencies), Some(commitment), Some(secret)) = (
                        agencies,
                        from_hex(commitment.as_bytes()),
                        from_hex(secret.as_bytes()).map(DrawSecret::from_bytes),
                    ) else {
                        return Err(bad());
                    };
                    if secret.commitment() != commitment {
                        return Err(format!(
                            "line {number}: its secret is not the one its commitment was made from"
                        ));
                    }
                    manifest.rules = Some(LotteryRules {
                        agencies,
                        winning: Winning::Committed,
                    });
                    manifest.secret = Some(secret);
                }
                ["draw", bets, end, chain, winners] if manifest.draw.is_none() => {
                    let winners: Option<Vec<u64>> = winners.split(',').map(parse_number).collect();
                    let (Some(bets), Some(end), Some(chain), Some(winners_per_agency)) = (
                        parse_number(bets),
                        parse_number(end),
                        from_hex(chain.as_bytes()),
                        winners,
                    ) else {
                        return Err(bad());
                    };
                    manifest.draw = Some(DrawRecord {
                        summary: DrawSummary {
                            bets,
                            winners_per_agency,
                        },
                        end,
                        chain,
                    });
                }
                _ => return Err(bad()),
            }
        }
        if !text.ends_with('\n') {
            return Err("its last line is not whole".to_owned());
        }
        Ok(manifest)
    }
}

fn parse_number(word: &str) -> Option<u64> {
    if word.is_empty() || !word.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    word.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_round_trip_and_strange_ones_are_refused() {
        let rules = LotteryRules {
            agencies: 3,
            winning: Winning::Fixed(BetNumber::new(42).unwrap()),
        };
        let committed = LotteryRules {
            winning: Winning::Committed,
            ..rules
        };
        let secret = DrawSecret::from_bytes([5; 32]);
        let draw = DrawRecord {
            summary: DrawSummary {
                bets: 10,
                winners_per_agency: vec![1, 0, 2],
            },
            end: 640,
            chain: [7; 32],
        };
        for manifest in [
            Manifest::default(),
            Manifest {
                rules: Some(rules),
                secret: None,
                draw: None,
            },
            Manifest {
                rules: Some(rules),
                secret: None,
                draw: Some(draw.clone()),
            },
            Manifest {
                rules: Some(committed),
                secret: Some(secret),
                draw: None,
            },
            Manifest {
                rules: Some(committed),
                secret: Some(secret),
                draw: Some(draw.clone()),
            },
        ] {
            assert_eq!(Manifest::parse(&manifest.encode()), Ok(manifest));
        }
        // A committed store's number comes from its secret and its draw's
        // chain head, and only once drawn.
        let drawn = Manifest {
            rules: Some(committed),
            secret: Some(secret),
            draw: Some(draw),
        };
        assert_eq!(
            drawn.winning_number(),
            Some(secret.winning_number(&[7; 32]))
        );
        assert_eq!(
            Manifest {
                draw: None,
                ..drawn.clone()
            }
            .winning_number(),
            None
        );
        // A secret that is not the commitment's (one hex digit changed) is
        // refused, naming the line.
        let text = String::from_utf8(drawn.encode()).unwrap();
        let secret_hex = to_hex(secret.as_bytes());
        let mut other = secret_hex.clone();
        other.replace_range(0..1, "6");
        let forged = text.replace(&secret_hex, &other);
        let refused = Manifest::parse(forged.as_bytes()).unwrap_err();
        assert!(
            refused.contains("line 2") && refused.contains("commitment"),
            "{refused}"
        );
        for bad in [
            "",
            "lottery-store 2\n",
            "lottery-store 1",
            "lottery-store 1\nrules 3 42",
            "lottery-store 1\nrules 3 10000\n",
            "lottery-store 1\nrules 3 42\nrules 3 42\n",
            "lottery-store 1\nrules 3\n",
            "lottery-store 1\ndraw 1 2 00 1\n",
            "lottery-store 1\nwhat 1\n",
            "lottery-store 1\nrules 3 committed\n",
            "lottery-store 1\nrules 3 committed 00 00\n",
        ] {
            assert!(Manifest::parse(bad.as_bytes()).is_err(), "{bad:?}");
        }
    }
}
