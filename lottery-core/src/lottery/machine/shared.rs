//! What a shared ledger adds to the state machine: another central's work,
//! adopted (an agency's record read from the ledger, a draw the ledger
//! recorded). Never used over a ledger only one central writes.

use lottery_bet::{AgencyId, BatchDigest};

use super::{Lottery, Phase, Stage};
use crate::lottery::draw::Draw;
use crate::lottery::ledger::AgencyRecord;

impl Lottery {
    /// Adopts what the ledger holds for `agency` when it is ahead of the
    /// books (batches or a finish stored through another central), with
    /// `digests` those of its batches after `after` (the books' last batch
    /// when the ledger was read). Left alone while the agency has a batch
    /// or a finish under way here (the ledger refuses whatever of it another
    /// central made wrong, and the next handshake adopts again), and when
    /// the books moved since the read or the digests do not cover the
    /// adopted batches (a resend of a batch must be checked against its
    /// digest: batches without one are not adopted).
    pub fn adopt_record(
        &mut self,
        agency: AgencyId,
        record: AgencyRecord,
        after: u64,
        digests: Vec<BatchDigest>,
    ) {
        let Some(state) = self.agency_mut(agency) else {
            return;
        };
        if !state.pending.is_empty() || state.stage == Stage::Finishing {
            return;
        }
        if record.last_batch > state.last_batch {
            // The digests may go past the record (batches stored between
            // the two reads): those are adopted at the next handshake.
            let needed = record.last_batch - after;
            let covered = state.last_batch == after
                && state.digests.batches.len() as u64 == after
                && digests.len() as u64 >= needed;
            if !covered {
                return;
            }
            state.last_batch = record.last_batch;
            state.bets = record.bets;
            state
                .digests
                .batches
                .extend(digests.into_iter().take(needed as usize));
        }
        if record.finished && state.stage == Stage::Open && record.bets == state.bets {
            state.stage = Stage::Finished;
            self.finished += 1;
            // Every finish recorded: the ledger drew in the last one's
            // transaction; the central adopts that draw, never its own.
            self.close_if_complete();
        }
    }

    /// Publishes a draw the ledger recorded (this central's last finish, or
    /// another central's), unless one is published already.
    pub fn adopt_draw(&mut self, draw: Draw) {
        if !matches!(self.phase, Phase::Drawn(_)) {
            self.phase = Phase::Drawn(draw);
        }
    }
}
