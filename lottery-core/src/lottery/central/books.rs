//! Counts from the central's books that answers after a handshake carry (an
//! ack of a batch an earlier connection stored, a finish's answer): one
//! short look under the lottery lock, nothing folded. A handshake's
//! [`Central::resume_point`] also folds the CRC32C of the agency's stored
//! rows, one `crc32c_combine` per batch not folded yet: asked at every
//! finish, that cost a run's last finishes about 0.1-0.2 s under the lock
//! (100 agencies of 670 batches each), and every other agency's acks waited.

use lottery_bet::AgencyId;

use super::Central;
use crate::error::UnknownAgency;

impl Central {
    /// The bets of `agency`'s acknowledged batches (as
    /// [`Central::resume_point`]'s `bets_stored`, without its rows' CRC32C).
    ///
    /// # Errors
    /// [`UnknownAgency`] outside `1..=N`.
    pub fn bets_stored(&self, agency: AgencyId) -> Result<u64, UnknownAgency> {
        self.shared.lottery.lock().bets_stored(agency)
    }
}
