//! The central over a shared ledger (several centrals on one database, see
//! the `ledger` module's docs): the books adopt what the ledger holds when
//! an agency connects, and the draw is the ledger's, made in the
//! transaction of the last finish on whichever central, read back and
//! published here (also when another central made it: the ledger announces
//! it). Over a ledger that is not shared none of this runs.
//!
//! Reading the ledger at a handshake is a two-step request, like a batch or
//! a finish ([`Central::begin_resume`], [`Central::complete_resume`]), so
//! that an event loop hands the read to a thread that may wait for the
//! database; over a ledger that is not shared the first step answers.

use lottery_bet::{AgencyId, ResumePoint};

use super::{Central, Settled};
use crate::error::{FinishError, ResumeError, StoreError, UnknownAgency};
use crate::lottery::draw::DrawSummary;
use crate::lottery::ledger::FinishRecorded;
use crate::lottery::machine::DrawRight;
use crate::lottery::outcome::Finish;

/// What [`Central::begin_resume`] came to.
#[derive(Debug)]
#[non_exhaustive]
pub enum ResumeStep {
    /// Where the agency stands, from the central's books: its ledger is not
    /// shared, so they are the truth ([`Central::resume_point`]).
    Ready(ResumePoint),
    /// The ledger is shared: its record of the agency must be read first
    /// (one query of a database), by [`Central::complete_resume`], on a
    /// thread that may wait for it.
    Read(PendingResume),
}

/// A handshake's read of a shared ledger, begun by
/// [`Central::begin_resume`]: hand it to [`Central::complete_resume`] (of the
/// same central) for the agency's resume point. Dropping it reads nothing.
#[derive(Debug)]
#[must_use = "a begun resume is answered only by complete_resume"]
pub struct PendingResume {
    agency: AgencyId,
}

impl PendingResume {
    /// The agency.
    pub fn agency(&self) -> AgencyId {
        self.agency
    }
}

impl Central {
    /// The first half of [`Central::refresh_resume_point`], for an event
    /// loop that must not wait for a database: over a ledger that is not
    /// shared it answers at once from the books ([`ResumeStep::Ready`], the
    /// cost of [`Central::resume_point`]); over a shared one it only checks
    /// the agency and leaves the read to [`Central::complete_resume`].
    ///
    /// # Errors
    /// [`UnknownAgency`] outside `1..=N`.
    pub fn begin_resume(&self, agency: AgencyId) -> Result<ResumeStep, UnknownAgency> {
        let point = self.resume_point(agency)?;
        Ok(if self.shared.ledger.is_shared() {
            ResumeStep::Read(PendingResume { agency })
        } else {
            ResumeStep::Ready(point)
        })
    }

    /// The second half of [`Central::refresh_resume_point`]: reads the
    /// shared ledger's record of the agency (this may wait for the
    /// database), adopts it when it is ahead of the books, and answers where
    /// the agency stands.
    ///
    /// # Errors
    /// [`ResumeError::UnknownAgency`] outside `1..=N` (checked by the first
    /// half already); [`ResumeError::Store`] when the ledger cannot be read.
    pub fn complete_resume(&self, pending: PendingResume) -> Result<ResumePoint, ResumeError> {
        self.refresh_resume_point(pending.agency)
    }

    /// Where `agency` stands, as [`Central::resume_point`], after adopting
    /// what a shared ledger holds for it when that is ahead of this central's
    /// books (batches or a finish stored through another central): the
    /// handshake answer. Over a ledger that is not shared it is
    /// [`Central::resume_point`]. Over a shared one the answer always comes
    /// from the ledger: when it cannot be read the books do not answer
    /// (another central may have acknowledged batches they do not hold, and
    /// an agency told a point behind its acks stops), the read's failure does.
    ///
    /// Reads the ledger (one query of a database) with no lock held.
    ///
    /// # Errors
    /// [`ResumeError::UnknownAgency`] outside `1..=N`; [`ResumeError::Store`]
    /// when the shared ledger cannot be read (the handshake may be retried).
    pub fn refresh_resume_point(&self, agency: AgencyId) -> Result<ResumePoint, ResumeError> {
        let point = self.resume_point(agency)?;
        if !self.shared.ledger.is_shared() {
            return Ok(point);
        }
        let Some(record) = self.shared.ledger.agency_record(agency)? else {
            return Ok(point);
        };
        let after = point.last_batch;
        let digests = if record.last_batch > after {
            // Not adopted without them (see `Lottery::adopt_record`), and
            // not answered from the books either.
            self.shared.ledger.batch_digests(agency, after)?
        } else {
            Vec::new()
        };
        let mut lottery = self.shared.lottery.lock();
        lottery.adopt_record(agency, record, after, digests);
        lottery.fold_rows_crc(agency);
        Ok(lottery.resume_point(agency)?)
    }

    /// Settles a finish over a shared ledger: the draw, when due, is the one
    /// the ledger recorded (in this finish's transaction: [`Finish::Drew`];
    /// earlier: [`Finish::AlreadyDrawn`]), never this central's tally; and
    /// the agencies still to finish are the ledger's count, when its
    /// transaction made one ([`FinishRecorded::Waiting`]: finishes taken by
    /// every central), not this central's books.
    pub(super) fn settle_shared(
        &self,
        settled: Settled,
        recorded: FinishRecorded,
    ) -> Result<Finish, FinishError> {
        let (right, answer) = match (settled, recorded) {
            (Settled::Draw(right), _) => (Some(right), Finish::AlreadyDrawn),
            (Settled::Answer(Finish::Waiting { .. }), FinishRecorded::Waiting { remaining })
                if remaining > 0 =>
            {
                return Ok(Finish::Waiting { remaining });
            }
            // Every agency finished, and not in this transaction: an earlier
            // one drew.
            (Settled::Answer(Finish::Waiting { .. }), FinishRecorded::Waiting { .. }) => {
                (None, Finish::AlreadyDrawn)
            }
            (Settled::Answer(answer), FinishRecorded::Drew) => (None, answer),
            (Settled::Answer(answer), _) => return Ok(answer),
        };
        match self.adopt_ledger_draw(right)? {
            Some(summary) if recorded == FinishRecorded::Drew => Ok(Finish::Drew(summary)),
            Some(_) => Ok(answer),
            None => Ok(Finish::Waiting { remaining: 0 }),
        }
    }

    /// Reads the draw the ledger records and publishes it (settling
    /// `right` when the books had the draw due); returns its summary, or
    /// `None` when the ledger records none yet.
    fn adopt_ledger_draw(
        &self,
        right: Option<DrawRight>,
    ) -> Result<Option<DrawSummary>, StoreError> {
        let read = self.shared.ledger.recorded_draw(self.shared.rules);
        let mut lottery = self.shared.lottery.lock();
        let draw = match read {
            Ok(Some(draw)) => draw,
            failed => {
                if let Some(right) = right {
                    lottery.draw_failed(right);
                }
                return failed.map(|_| None);
            }
        };
        let summary = draw.summary().clone();
        match right {
            Some(right) => {
                lottery.draw_done(right, draw);
            }
            None => lottery.adopt_draw(draw),
        }
        drop(lottery);
        self.shared.drawn.notify_all();
        self.tell_listeners();
        Ok(Some(summary))
    }

    /// Over a shared ledger: asks it to announce every draw recorded (by any
    /// central), so that this central publishes it and answers its held
    /// winners queries. The announcement holds the central weakly: it never
    /// keeps a dropped central alive.
    pub(super) fn watch_ledger(&self) {
        if !self.shared.ledger.is_shared() {
            return;
        }
        #[cfg(not(loom))]
        {
            let central = std::sync::Arc::downgrade(&self.shared);
            self.shared.ledger.on_draw_recorded(Box::new(move || {
                if let Some(shared) = central.upgrade() {
                    let central = Central { shared };
                    if !central.is_drawn() {
                        // A failed read leaves the draw to the next
                        // announcement or finish.
                        let _ = central.adopt_ledger_draw(None);
                    }
                }
            }));
        }
    }
}
