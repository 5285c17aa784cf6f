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
//! `rules` is absent only in a store opened by a bare monitor that no central
//! has used yet. `draw` names what the draw counted and the journal's chain
//! head at the time, so the store can never be drawn again nor take another
//! bet, and recovery can tell a journal cut short from a whole one.

use lottery_bet::BetNumber;

use crate::lottery::draw::DrawSummary;
use crate::lottery::rules::LotteryRules;
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
    pub(crate) draw: Option<DrawRecord>,
}

impl Manifest {
    /// The manifest's bytes.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut text = format!("{HEADER}\n");
        if let Some(rules) = self.rules {
            text.push_str(&format!(
                "rules {} {}\n",
                rules.agencies,
                rules.winning_number.get()
            ));
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
                        winning_number,
                    });
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
            winning_number: BetNumber::new(42).unwrap(),
        };
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
                draw: None,
            },
            Manifest {
                rules: Some(rules),
                draw: Some(draw),
            },
        ] {
            assert_eq!(Manifest::parse(&manifest.encode()), Ok(manifest));
        }
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
        ] {
            assert!(Manifest::parse(bad.as_bytes()).is_err(), "{bad:?}");
        }
    }
}
