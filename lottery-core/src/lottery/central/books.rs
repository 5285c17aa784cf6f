//! Counts from the central's books that answers after a handshake carry (an
//! ack of a batch an earlier connection stored, a finish's answer): one
//! short look under the lottery lock, nothing folded. A handshake's
//! [`Central::resume_point`] also folds the CRC32C of the agency's stored
//! rows, one `crc32c_combine` per batch not folded yet: asked at every
//! finish, that cost a run's last finishes about 0.1-0.2 s under the lock
//! (100 agencies of 670 batches each), and every other agency's acks waited.
//! The bets of all agencies ([`Central::total_bets_stored`]) are the running
//! tally's count, as cheap: a status port samples them every second.
//! The ledger's chain head ([`Central::chain_head`]) takes no lottery lock.

use lottery_bet::AgencyId;

use super::Central;
use crate::error::UnknownAgency;
use crate::lottery::ledger::ChainHead;

impl Central {
    /// The bets of `agency`'s acknowledged batches (as
    /// [`Central::resume_point`]'s `bets_stored`, without its rows' CRC32C).
    ///
    /// # Errors
    /// [`UnknownAgency`] outside `1..=N`.
    pub fn bets_stored(&self, agency: AgencyId) -> Result<u64, UnknownAgency> {
        self.shared.lottery.lock().bets_stored(agency)
    }

    /// The bets stored (acknowledged) over all agencies, under the lottery
    /// lock once and in O(1), whatever the agencies: for a status port that
    /// samples the rate of bets every second without copying the books.
    ///
    /// ```
    /// use lottery_bet::{AgencyId, Bet};
    /// use lottery_core::{BetMonitor, Central, Durability, LotteryRules, store::MemoryStore};
    ///
    /// let (monitor, recovery) = BetMonitor::open(Box::new(MemoryStore::new()), Durability::Fsync)?;
    /// let central = Central::new(LotteryRules::default(), monitor, &recovery)?;
    /// assert_eq!(central.total_bets_stored(), 0);
    /// let bet = Bet::from_fields("Ana", "Paz", "30904465", "1999-03-17", "1")?;
    /// central.submit(AgencyId::new(2)?, 1, &[bet.clone(), bet.clone()])?;
    /// central.submit(AgencyId::new(4)?, 1, &[bet])?;
    /// assert_eq!(central.total_bets_stored(), 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn total_bets_stored(&self) -> u64 {
        self.shared.lottery.lock().total_bets_stored()
    }

    /// The head of the ledger's checksum chain over its durable records
    /// (`None`: a ledger without one). Read after a batch or finish is
    /// complete, it covers that batch or finish: what a receipt signs.
    pub fn chain_head(&self) -> Option<ChainHead> {
        self.shared.ledger.chain_head()
    }
}
