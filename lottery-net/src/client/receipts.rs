//! The client's checks of the central's receipts (version 3): each as it
//! comes, before the answer it came with counts. One place for them, used
//! by the handshake ([`super::Connection`]) and the requests
//! ([`super::AgencyClient`]).

use lottery_bet::{AgencyId, BatchDigest};
use lottery_tls::{Receipt, ReceiptPubkey, ReceiptSubject, SignedHead, WinningRule};

use crate::error::ClientError;
use crate::message::CentralMessage;

/// The lottery's rules as a signed head names them: the agencies it
/// expects and how its winning number is chosen. The first welcome's are
/// the ones every later receipt of the client must name.
pub(super) type Rules = (u32, WinningRule);

/// The rules `head` names.
pub(super) fn rules_of(head: &SignedHead) -> Rules {
    (head.statement.agencies, head.statement.winning)
}

/// What a receipt is for, as its errors name it.
fn what(receipt: &Receipt) -> String {
    match receipt.subject {
        ReceiptSubject::Welcome { .. } => "the welcome".to_owned(),
        ReceiptSubject::Batch { batch, .. } => format!("batch {batch}"),
        ReceiptSubject::Draw { .. } => "the draw".to_owned(),
        _ => "the finish".to_owned(),
    }
}

/// Checks a receipt as it comes: its signature under the central's key;
/// that it names the rules of the first welcome (`welcomed`; `None`: this
/// is that welcome), so a central cannot sign one commitment before the
/// bets and another after; for a batch, that its digest is the one of the
/// batch sent (`sent`); for the draw, that it reveals what its rules
/// promised (the fixed number, or the committed secret:
/// [`lottery_tls::DrawStatement::check_reveal`]).
///
/// # Errors
/// [`ClientError::BadReceipt`], saying which check failed.
pub(super) fn check_receipt(
    pubkey: &ReceiptPubkey,
    receipt: &Receipt,
    welcomed: Option<&Rules>,
    sent: Option<BatchDigest>,
) -> Result<(), ClientError> {
    let bad = |problem: String| ClientError::BadReceipt {
        agency: receipt.agency,
        what: what(receipt),
        problem,
    };
    pubkey
        .verify_receipt(receipt)
        .map_err(|error| bad(error.to_string()))?;
    if let Some(welcomed) = welcomed {
        same_rules(receipt, welcomed)?;
    }
    if let Some(draw) = receipt.draw_statement() {
        draw.check_reveal().map_err(bad)?;
    }
    if let ReceiptSubject::Batch { digest, .. } = receipt.subject
        && sent != Some(digest)
    {
        return Err(bad(format!(
            "its digest ({} bets, {} bytes, CRC32C {:08x}) is not the one of the batch sent",
            digest.bets(),
            digest.rows_len(),
            digest.rows_crc()
        )));
    }
    Ok(())
}

/// Checks that `receipt` (its signature checked already) names the rules
/// of the first welcome, `welcomed`.
///
/// # Errors
/// [`ClientError::BadReceipt`] naming both.
pub(super) fn same_rules(receipt: &Receipt, welcomed: &Rules) -> Result<(), ClientError> {
    let rules = rules_of(&receipt.head);
    if rules == *welcomed {
        return Ok(());
    }
    Err(ClientError::BadReceipt {
        agency: receipt.agency,
        what: what(receipt),
        problem: format!(
            "it names {}, the central's first signed welcome named {}",
            describe(&rules),
            describe(welcomed)
        ),
    })
}

/// The rules in words, for an error.
fn describe((agencies, winning): &Rules) -> String {
    let winning = match winning.commitment_hex() {
        Some(commitment) => format!("a committed winning number (commitment {commitment})"),
        None => match winning {
            WinningRule::Fixed(number) => format!("winning number {number}"),
            other => format!("{other:?}"),
        },
    };
    format!("{agencies} agencies and {winning}")
}

/// The error of a version-3 answer that came without its receipt (`what`:
/// the welcome, batch N, the finish), which the client refuses.
pub(super) fn missing(agency: AgencyId, what: String, answer: &str) -> ClientError {
    ClientError::BadReceipt {
        agency,
        what,
        problem: format!("the central {answer} without a receipt"),
    }
}

/// The receipt of the `SignedDraw` that must follow a receipts session's
/// last `Winners` frame (anything else breaks the protocol).
pub(super) fn signed_draw(
    message: CentralMessage,
    agency: AgencyId,
) -> Result<Option<Receipt>, ClientError> {
    match message {
        CentralMessage::SignedDraw {
            bets,
            winners,
            winning_number,
            secret,
            head,
        } => Ok(Some(Receipt {
            agency,
            subject: ReceiptSubject::Draw {
                bets,
                winners,
                winning_number,
                secret,
            },
            head,
        })),
        other => Err(ClientError::BadReceipt {
            agency,
            what: "the draw".to_owned(),
            problem: format!(
                "the winners were not followed by the signed draw but by {}",
                other.name()
            ),
        }),
    }
}
