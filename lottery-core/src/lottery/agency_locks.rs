//! The central's agency locks, striped: a fixed number of locks shared by
//! all the agencies, so that their memory does not grow with the agencies
//! expected (up to [`crate::MAX_AGENCIES`]).
//!
//! An agency lock serializes one agency's batch writes and finish record
//! (see [`crate::Central`]). Agency `n` takes stripe `(n - 1) % stripes`;
//! two agencies of one stripe serialize each other's writes too, which the
//! monitor's append lock does anyway.
//!
//! # Why a stripe cannot deadlock
//! Every request names one agency and takes its stripe once, and nothing
//! taken under a stripe (the lottery lock, the ledger's locks, a commit)
//! waits for a stripe: so a thread holds at most one stripe, the first lock
//! of the crate's order, and no cycle can go through two. A one-step
//! [`crate::Central::finish`] holds its stripe until its record is durable:
//! the agencies of that stripe wait for one commit, as the agency itself
//! does (the server uses the two-step finish, which holds it only while the
//! record is queued).

use lottery_bet::AgencyId;

use crate::error::UnknownAgency;
use crate::sync::Mutex;

/// The most stripes: more than enough that the agencies served at once
/// rarely share one, whatever the agencies expected.
const STRIPES: u32 = 64;

/// The agency locks of a central expecting agencies `1..=expected`.
pub(crate) struct AgencyLocks {
    /// `min(expected, STRIPES)` locks, never empty.
    stripes: Box<[Mutex<()>]>,
    expected: u32,
}

impl AgencyLocks {
    /// The locks of a central expecting `expected` agencies (at least 1).
    pub(crate) fn new(expected: u32) -> Self {
        Self {
            stripes: (0..expected.clamp(1, STRIPES))
                .map(|_| Mutex::new(()))
                .collect(),
            expected,
        }
    }

    /// The stripe of `agency`.
    ///
    /// # Errors
    /// [`UnknownAgency`] outside `1..=expected`.
    pub(crate) fn of(&self, agency: AgencyId) -> Result<&Mutex<()>, UnknownAgency> {
        if agency.get() > self.expected {
            return Err(UnknownAgency {
                agency,
                expected: self.expected,
            });
        }
        Ok(&self.stripes[agency.index() % self.stripes.len()])
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn id(agency: u32) -> AgencyId {
        AgencyId::new(agency).unwrap()
    }

    #[test]
    fn agencies_share_a_bounded_number_of_stripes() {
        let locks = AgencyLocks::new(crate::lottery::rules::MAX_AGENCIES);
        assert_eq!(locks.stripes.len(), 64);
        let one = locks.of(id(1)).unwrap();
        assert!(std::ptr::eq(one, locks.of(id(65)).unwrap()));
        assert!(!std::ptr::eq(one, locks.of(id(2)).unwrap()));
        assert!(locks.of(id(1_000_000)).is_ok());
        assert_eq!(
            locks.of(id(1_000_001)).unwrap_err().expected,
            crate::lottery::rules::MAX_AGENCIES
        );
        assert_eq!(AgencyLocks::new(3).stripes.len(), 3);
    }
}
