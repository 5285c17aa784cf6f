//! `lottery-admin verify --receipts FILE... --pubkey PEM`: agencies'
//! receipts checked against a file store (SECURITY.md, "Receipts").
//!
//! Each receipt must hold three ways: its signature under the central's
//! public key; the signed head is a prefix of the store's chain (the
//! store's record at the head's position has the signed link, so the store
//! holds exactly what the central had committed when it signed); and what
//! it is for is in that prefix: a batch with the receipt's digest, under its
//! agency and number (so unchanged, at its place), or the agency's finish
//! with its count; a signed draw must be the store's draw, over its whole
//! chain. The signed rules must be the store's rules. The first
//! receipt that does not hold is reported, naming its file, line and
//! agency.

use std::path::{Path, PathBuf};

use lottery_core::LotteryRules;
use lottery_core::verify::{ChainEntry, ChainRecord, StoreReport};
use lottery_tls::{Receipt, ReceiptPubkey, ReceiptSubject};

/// How many receipts held, per file.
pub(crate) struct Checked {
    pub(crate) file: PathBuf,
    pub(crate) receipts: usize,
}

/// Checks every receipt of `files` against `report` (a store whose own
/// checks passed).
///
/// # Errors
/// The first receipt that does not hold (or a file that cannot be read),
/// in words.
pub(crate) fn check_receipts(
    files: &[PathBuf],
    pubkey: &ReceiptPubkey,
    report: &StoreReport,
) -> Result<Vec<Checked>, String> {
    files
        .iter()
        .map(|file| {
            let text = std::fs::read_to_string(file)
                .map_err(|error| format!("cannot read {}: {error}", file.display()))?;
            let mut receipts = 0;
            for (index, line) in text.lines().enumerate() {
                let at = || format!("{} line {}", file.display(), index + 1);
                let receipt = Receipt::from_json_line(line)
                    .map_err(|problem| format!("{}: {problem}", at()))?;
                check_one(&receipt, pubkey, report).map_err(|problem| {
                    format!(
                        "the receipt at {} (agency {}, {}) does not hold: {problem}",
                        at(),
                        receipt.agency,
                        subject(&receipt)
                    )
                })?;
                receipts += 1;
            }
            Ok(Checked {
                file: file.clone(),
                receipts,
            })
        })
        .collect()
}

fn subject(receipt: &Receipt) -> String {
    match receipt.subject {
        ReceiptSubject::Batch { batch, .. } => format!("batch {batch}"),
        ReceiptSubject::Finish { bets } => format!("its finish with {bets} bets"),
        ReceiptSubject::Draw { bets, .. } => format!("the draw of {bets} bets"),
        _ => "an unknown subject".to_owned(),
    }
}

fn check_one(
    receipt: &Receipt,
    pubkey: &ReceiptPubkey,
    report: &StoreReport,
) -> Result<(), String> {
    pubkey
        .verify_receipt(receipt)
        .map_err(|error| format!("{error} (signed by another key, or edited)"))?;
    let statement = receipt.head.statement;
    let signed = (statement.agencies, statement.winning_number);
    match report.rules {
        Some(LotteryRules {
            agencies,
            winning_number,
            ..
        }) if (agencies, winning_number.get()) == signed => {}
        rules => {
            let store = rules.map_or_else(
                || "none".to_owned(),
                |rules| {
                    format!(
                        "{} agencies, winning number {}",
                        rules.agencies, rules.winning_number
                    )
                },
            );
            return Err(format!(
                "the central signed it for {} agencies and winning number {}, the store's rules are {store}: its manifest (bets.csv.lottery) was rewritten",
                signed.0, signed.1
            ));
        }
    }
    let position = statement.position;
    let prefix = usize::try_from(position)
        .ok()
        .and_then(|position| report.chain.get(..position))
        .filter(|prefix| !prefix.is_empty())
        .ok_or_else(|| {
            format!(
                "the central signed its chain at record {position}, the store's journal holds {} records: records it had committed are gone (the journal was cut or replaced)",
                report.chain.len()
            )
        })?;
    let head: &ChainEntry = prefix.last().expect("the prefix is not empty");
    if head.link != statement.chain {
        return Err(format!(
            "the store's chain at record {position} is not the one the central signed: the store's bytes or records before it changed after they were committed (their checksums recomputed)"
        ));
    }
    if let ReceiptSubject::Draw { bets, winners } = receipt.subject {
        return matches_draw(bets, &winners, prefix.len(), report);
    }
    in_prefix(receipt, prefix)
}

/// Whether the store records the draw the central signed: over its whole
/// chain, with the same bets and winners per agency.
fn matches_draw(
    bets: u64,
    winners: &[u8; 32],
    position: usize,
    report: &StoreReport,
) -> Result<(), String> {
    let Some(draw) = &report.draw else {
        return Err(
            "the central signed a draw, the store records none: its draw line was cut (the central would draw again)"
                .to_owned(),
        );
    };
    if position != report.chain.len() {
        return Err(format!(
            "the central signed a draw over {position} records, the store's journal holds {}: records were added after the draw",
            report.chain.len()
        ));
    }
    if draw.bets != bets || lottery_tls::winners_digest(&draw.winners_per_agency) != *winners {
        return Err(format!(
            "the store records a draw of {} bets with winners {:?} per agency, not the one the central signed ({bets} bets)",
            draw.bets, draw.winners_per_agency
        ));
    }
    Ok(())
}

/// Whether what `receipt` is for lies within `prefix` (the store's chain up
/// to the signed head): its batch with its digest, or its finish with its
/// count.
fn in_prefix(receipt: &Receipt, prefix: &[ChainEntry]) -> Result<(), String> {
    let position = prefix.len();
    let agency = receipt.agency;
    let found = match receipt.subject {
        ReceiptSubject::Batch { batch, digest } => prefix.iter().find_map(|entry| match entry.record {
            ChainRecord::Batch {
                agency: a,
                batch: b,
                digest: stored,
            } if (a, b) == (agency, batch) => Some(if stored == digest {
                Ok(())
            } else {
                Err(format!(
                    "the store holds batch {batch} of agency {agency} with other bets ({} bets, {} bytes, CRC32C {:08x}; the receipt names {} bets, {} bytes, CRC32C {:08x})",
                    stored.bets(),
                    stored.rows_len(),
                    stored.rows_crc(),
                    digest.bets(),
                    digest.rows_len(),
                    digest.rows_crc()
                ))
            }),
            _ => None,
        }),
        ReceiptSubject::Finish { bets } => prefix.iter().find_map(|entry| match entry.record {
            ChainRecord::Finish {
                agency: a,
                bets: stored,
            } if a == agency => Some(if stored == bets {
                Ok(())
            } else {
                Err(format!(
                    "the store records agency {agency} finished with {stored} bets, the receipt {bets}"
                ))
            }),
            _ => None,
        }),
        _ => None,
    };
    found.unwrap_or_else(|| {
        Err(format!(
            "the store's chain up to record {position} holds no such record"
        ))
    })
}

/// What `verify --receipts` prints when every receipt held.
pub(crate) fn describe(checked: &[Checked], out: &mut String) {
    use std::fmt::Write as _;
    for file in checked {
        let _ = writeln!(
            out,
            "receipts: {}: {} receipts hold (signed by the central, in the store unchanged)",
            file.file.display(),
            file.receipts
        );
    }
}

/// The receipts flags checked together: receipts need the public key, and
/// a file store.
pub(crate) fn usage(receipts: &[PathBuf], pubkey: Option<&Path>) -> Option<&'static str> {
    match (receipts.is_empty(), pubkey.is_some()) {
        (false, false) => Some("--receipts needs the central's public key: --pubkey PEM"),
        (true, true) => Some("--pubkey checks receipts: give them with --receipts FILE..."),
        _ => None,
    }
}
