//! `lottery-admin verify --receipts FILE... --pubkey PEM...`: agencies'
//! receipts checked against a file store or a PostgreSQL ledger
//! (SECURITY.md, "Receipts").
//!
//! Each receipt must hold three ways: its signature under one of the
//! centrals' public keys given (one key shared by every central of a
//! ledger, or one per central); the signed head is a prefix of the store's
//! chain (the
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
//!
//! The store is seen through [`Ledgered`]: a file store's report (its
//! journal's chain), or the chain a PostgreSQL ledger's bets give
//! (`lottery_pg::ledger_chain`: every digest and link recomputed from the
//! rows as they are, so an edited row fails the receipts it touches even
//! when the ledger's own check failed first).

use std::path::PathBuf;

use lottery_bet::BetNumber;
use lottery_core::verify::{ChainEntry, ChainRecord, StoreReport, chain_start};
use lottery_core::{DrawSecret, DrawSummary, LotteryRules};
use lottery_tls::{DrawStatement, Receipt, ReceiptPubkey, ReceiptSubject, WinningRule};

/// What receipts are checked against, from either kind of store.
pub(crate) struct Ledgered<'a> {
    /// The recorded rules.
    pub(crate) rules: Option<LotteryRules>,
    /// A committed number's commitment and, once drawn, its secret (64 hex
    /// digits each).
    pub(crate) commitment: Option<&'a str>,
    pub(crate) secret: Option<&'a str>,
    /// The number that won, or wins.
    pub(crate) winning_number: Option<BetNumber>,
    pub(crate) draw: Option<&'a DrawSummary>,
    /// Every record of the chain, in order, and the link before the first
    /// (what a head at position 0 signs).
    pub(crate) chain: &'a [ChainEntry],
    pub(crate) start: [u8; 32],
    /// Where the rules are kept, and what holds the chain, in messages.
    pub(crate) rules_place: &'static str,
    pub(crate) chain_place: &'static str,
}

impl<'a> Ledgered<'a> {
    /// A file store's.
    pub(crate) fn of_store(report: &'a StoreReport) -> Self {
        Self {
            rules: report.rules,
            commitment: report.commitment.as_deref(),
            secret: report.secret.as_deref(),
            winning_number: report.winning_number,
            draw: report.draw.as_ref(),
            chain: &report.chain,
            start: chain_start(),
            rules_place: "its manifest (bets.csv.lottery)",
            chain_place: "the store's journal",
        }
    }

    /// A PostgreSQL ledger's (fixed rules only).
    pub(crate) fn of_ledger(found: &'a lottery_pg::LedgerChain) -> Self {
        Self {
            rules: found.rules,
            commitment: None,
            secret: None,
            winning_number: found.rules.and_then(|rules| rules.fixed_number()),
            draw: found.draw.as_ref(),
            chain: &found.chain,
            start: found.start,
            rules_place: "its table lottery",
            chain_place: "the ledger's chain",
        }
    }
}

/// How many receipts held, per file.
pub(crate) struct Checked {
    pub(crate) file: PathBuf,
    pub(crate) receipts: usize,
}

/// Checks every receipt of `files` against `report` (a file store whose own
/// checks passed, or the chain a ledger's bets give), each signed by one of
/// `pubkeys` (with the file each was loaded from).
///
/// # Errors
/// The first receipt that does not hold (or a file that cannot be read),
/// in words.
pub(crate) fn check_receipts(
    files: &[PathBuf],
    pubkeys: &[(PathBuf, ReceiptPubkey)],
    report: &Ledgered<'_>,
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
                check_one(&receipt, pubkeys, report).map_err(|problem| {
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

/// Whether `receipt` is signed under one of `pubkeys`: one key shared by
/// every central, or each central's own.
fn verify_signature(receipt: &Receipt, pubkeys: &[(PathBuf, ReceiptPubkey)]) -> Result<(), String> {
    let verified: Vec<_> = pubkeys
        .iter()
        .map(|(_, pubkey)| pubkey.verify_receipt(receipt))
        .collect();
    if !verified.iter().any(Result::is_ok) {
        let error = verified
            .into_iter()
            .find_map(Result::err)
            .map_or_else(|| "no key given".to_owned(), |error| error.to_string());
        let keys: Vec<String> = pubkeys
            .iter()
            .map(|(file, _)| file.display().to_string())
            .collect();
        return Err(format!(
            "{error} under every key given ({}): signed by another key, or edited",
            keys.join(", ")
        ));
    }
    Ok(())
}

fn check_one(
    receipt: &Receipt,
    pubkeys: &[(PathBuf, ReceiptPubkey)],
    report: &Ledgered<'_>,
) -> Result<(), String> {
    verify_signature(receipt, pubkeys)?;
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
            "the central signed it for {} agencies and {}, the store's rules are {store}: {} was rewritten",
            statement.agencies,
            describe_winning(&statement.winning),
            report.rules_place
        ));
    }
    let position = statement.position;
    let prefix = usize::try_from(position)
        .ok()
        .and_then(|position| report.chain.get(..position))
        .ok_or_else(|| {
            format!(
                "the central signed its chain at record {position}, {} holds {} records: records it had committed are gone (cut or replaced)",
                report.chain_place,
                report.chain.len()
            )
        })?;
    // Position 0 (a welcome before the store's first record): the link
    // before every record.
    let link = prefix
        .last()
        .map_or(report.start, |head: &ChainEntry| head.link);
    if link != statement.chain {
        return Err(format!(
            "{} at record {position} is not the one the central signed: the store's bets or records up to it changed after they were committed",
            report.chain_place
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
fn store_winning(fixed: Option<BetNumber>, report: &Ledgered<'_>) -> Option<WinningRule> {
    match fixed {
        Some(number) => Some(WinningRule::Fixed(number.get())),
        None => report
            .commitment
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
    report: &Ledgered<'_>,
) -> Result<(), String> {
    let Some(draw) = report.draw else {
        return Err(
            "the central signed a draw, the store records none: its draw line was cut (the central would draw again)"
                .to_owned(),
        );
    };
    if position != report.chain.len() {
        return Err(format!(
            "the central signed a draw over {position} records, {} holds {}: records were added after the draw",
            report.chain_place,
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
    let revealed = report.secret.and_then(from_hex);
    if revealed != signed.secret {
        let secret = |secret: Option<[u8; 32]>, none: &str| {
            secret.map_or_else(|| none.to_owned(), |s| format!("secret {}", to_hex(&s)))
        };
        return Err(format!(
            "the central signed {}, the store reveals {}: {} was rewritten",
            secret(signed.secret, "no secret"),
            secret(revealed, "none"),
            report.rules_place
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

/// The receipts flags checked together: receipts need a public key, and a
/// public key receipts.
pub(crate) fn usage(receipts: &[PathBuf], pubkeys: &[PathBuf]) -> Option<&'static str> {
    match (receipts.is_empty(), !pubkeys.is_empty()) {
        (false, false) => Some("--receipts needs the central's public key: --pubkey PEM"),
        (true, true) => Some("--pubkey checks receipts: give them with --receipts FILE..."),
        _ => None,
    }
}
