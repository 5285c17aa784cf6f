//! `lottery-admin verify --receipts FILE... --pubkey PEM`: agencies'
//! receipts checked against a file store (SECURITY.md, "Receipts").
//!
//! Each receipt must hold three ways: its signature under the central's
//! public key; the signed head is a prefix of the store's chain (the
//! store's record at the head's position has the signed link, so the store
//! holds exactly what the central had committed when it signed); and what
//! it is for is in that prefix: a batch with the receipt's digest, under its
//! agency and number (so unchanged, at its place), or the agency's finish
//! with its count (a welcome's is the head itself: its position may be 0,
//! a store without records, whose link is the chain's first,
//! `lottery_core::verify::chain_start`); a signed draw must be the store's draw, over its whole
//! chain, with its winning number and, under a committed one, the secret
//! the store reveals, whose SHA-256 is the signed commitment and which with
//! the signed chain gives the signed number. The signed rules (a fixed
//! number, or a committed one's commitment) must be the store's. The first
//! receipt that does not hold is reported, naming its file, line and
//! agency.

use std::path::{Path, PathBuf};

use lottery_core::DrawSecret;
use lottery_core::verify::{ChainEntry, ChainRecord, StoreReport, chain_start};
use lottery_tls::{DrawStatement, Receipt, ReceiptPubkey, ReceiptSubject, WinningRule};

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
        ReceiptSubject::Welcome { bets } => format!("its welcome with {bets} bets stored"),
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
    let store = report
        .rules
        .map(|rules| (rules.agencies, store_winning(rules.fixed_number(), report)));
    if store != Some((statement.agencies, Some(statement.winning))) {
        let store = store.map_or_else(
            || "none".to_owned(),
            |(agencies, winning)| {
                let winning = winning.map_or_else(
                    || "a committed number without its commitment".to_owned(),
                    |winning| describe_winning(&winning),
                );
                format!("{agencies} agencies, {winning}")
            },
        );
        return Err(format!(
            "the central signed it for {} agencies and {}, the store's rules are {store}: its manifest (bets.csv.lottery) was rewritten",
            statement.agencies,
            describe_winning(&statement.winning)
        ));
    }
    let position = statement.position;
    let prefix = usize::try_from(position)
        .ok()
        .and_then(|position| report.chain.get(..position))
        .ok_or_else(|| {
            format!(
                "the central signed its chain at record {position}, the store's journal holds {} records: records it had committed are gone (the journal was cut or replaced)",
                report.chain.len()
            )
        })?;
    // Position 0 (a welcome before the store's first record): the link
    // before every record.
    let link = prefix
        .last()
        .map_or_else(chain_start, |head: &ChainEntry| head.link);
    if link != statement.chain {
        return Err(format!(
            "the store's chain at record {position} is not the one the central signed: the store's bytes or records before it changed after they were committed (their checksums recomputed)"
        ));
    }
    if let Some(draw) = receipt.draw_statement() {
        return matches_draw(&draw, prefix.len(), report);
    }
    in_prefix(receipt, prefix)
}

/// The store's rule for its winning number, as a receipt signs it: its
/// fixed number, or its commitment (`None`: committed rules whose manifest
/// holds no readable commitment, which no receipt matches).
fn store_winning(
    fixed: Option<lottery_bet::BetNumber>,
    report: &StoreReport,
) -> Option<WinningRule> {
    match fixed {
        Some(number) => Some(WinningRule::Fixed(number.get())),
        None => report
            .commitment
            .as_deref()
            .and_then(from_hex)
            .map(WinningRule::Committed),
    }
}

fn describe_winning(winning: &WinningRule) -> String {
    match winning {
        WinningRule::Fixed(number) => format!("winning number {number}"),
        WinningRule::Committed(commitment) => {
            format!(
                "a committed winning number (commitment {})",
                to_hex(commitment)
            )
        }
        other => format!("{other:?}"),
    }
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn from_hex(text: &str) -> Option<[u8; 32]> {
    let mut out = [0; 32];
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    for (byte, pair) in out.iter_mut().zip(text.as_bytes().chunks_exact(2)) {
        *byte = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(out)
}

/// Whether the store records the draw the central signed: over its whole
/// chain, with the same bets, winners per agency and winning number; under
/// a committed number, the signed secret is the committed one (the rules
/// were checked against the store's already), gives the signed number with
/// the signed chain, and is the secret the store reveals.
fn matches_draw(
    signed: &DrawStatement,
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
    let bets = signed.bets;
    if draw.bets != bets || lottery_tls::winners_digest(&draw.winners_per_agency) != signed.winners
    {
        return Err(format!(
            "the store records a draw of {} bets with winners {:?} per agency, not the one the central signed ({bets} bets)",
            draw.bets, draw.winners_per_agency
        ));
    }
    signed.check_reveal()?;
    if let Some(secret) = signed.secret {
        let derived = DrawSecret::from_bytes(secret).winning_number(&signed.chain.chain);
        if derived.get() != signed.winning_number {
            return Err(format!(
                "the central signed winning number {}, its signed secret and chain give {derived}",
                signed.winning_number
            ));
        }
    }
    let number = report.winning_number.map(|number| number.get());
    if number != Some(signed.winning_number) {
        return Err(format!(
            "the central signed winning number {}, the store's draw is of {}",
            signed.winning_number,
            number.map_or_else(|| "none".to_owned(), |number| number.to_string())
        ));
    }
    let revealed = report.secret.as_deref().and_then(from_hex);
    if revealed != signed.secret {
        return Err(format!(
            "the central signed {}, the store reveals {}: its manifest (bets.csv.lottery) was rewritten",
            signed.secret.map_or_else(
                || "no secret".to_owned(),
                |secret| format!("secret {}", to_hex(&secret))
            ),
            revealed.map_or_else(
                || "none".to_owned(),
                |secret| format!("secret {}", to_hex(&secret))
            )
        ));
    }
    Ok(())
}

/// Whether what `receipt` is for lies within `prefix` (the store's chain up
/// to the signed head): its batch with its digest, or its finish with its
/// count (a welcome's head is all it holds).
fn in_prefix(receipt: &Receipt, prefix: &[ChainEntry]) -> Result<(), String> {
    let position = prefix.len();
    let agency = receipt.agency;
    let found = match receipt.subject {
        // What a welcome is for is the head itself, checked already.
        ReceiptSubject::Welcome { .. } => Some(Ok(())),
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
