//! What the central signs for receipts (SECURITY.md, "Receipts"), built from
//! its [`Central`]: the one place that turns the core's rules, chain head and
//! draw into `lottery_tls`'s statements, for the completer's acks and
//! finishes and for the session's signed draw. It signs nothing itself and
//! holds no lock across a call.

use lottery_core::Central;
use lottery_core::ledger::ChainHead;
use lottery_tls::{ChainStatement, DrawStatement, WinningRule, winners_digest};

/// The statement of `central`'s lottery at `head`: its rules (a fixed
/// winning number, or a committed one's commitment) and the chain's
/// position and link. `None` for rules with neither (none today: a central
/// with committed rules always holds its secret), which are then signed
/// nothing rather than something an auditor could not check.
pub(crate) fn chain_statement(central: &Central, head: ChainHead) -> Option<ChainStatement> {
    let rules = central.rules();
    let winning = match (rules.fixed_number(), central.commitment()) {
        (Some(number), _) => WinningRule::Fixed(number.get()),
        (None, Some(commitment)) => WinningRule::Committed(commitment),
        (None, None) => return None,
    };
    Some(ChainStatement {
        agencies: rules.agencies,
        winning,
        position: head.records,
        chain: head.link,
    })
}

/// The draw as the central signs it: over the chain it covered (no record
/// is written after the draw, so the committed head is the draw's, the one
/// a committed number was derived from), with the number that won (the
/// drawn one, never read from the rules) and, with a committed number, the
/// secret it revealed. `None` before the draw, or over a ledger without a
/// chain.
pub(crate) fn draw_statement(central: &Central) -> Option<DrawStatement> {
    let summary = central.draw_summary()?;
    let winning_number = central.winning_number()?;
    let head = central.chain_head()?;
    Some(DrawStatement {
        chain: chain_statement(central, head)?,
        winning_number: winning_number.get(),
        secret: central.revealed_secret().map(|secret| *secret.as_bytes()),
        bets: summary.bets,
        winners: winners_digest(&summary.winners_per_agency),
    })
}
