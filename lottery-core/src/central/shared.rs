//! The central over a shared ledger (several centrals on one database, see
//! the `ledger` module's docs): the books adopt what the ledger holds when
//! an agency connects, and the draw is the ledger's, made in the
//! transaction of the last finish on whichever central, read back and
//! published here (also when another central made it: the ledger announces
//! it). Over a ledger that is not shared none of this runs.

use super::{Central, Settled};
use crate::bet::AgencyId;
use crate::draw::DrawSummary;
use crate::error::{FinishError, StoreError, UnknownAgency};
use crate::ledger::FinishRecorded;
use crate::lottery::DrawTicket;
use crate::outcome::{Finish, ResumePoint};

impl Central {
    /// Where `agency` stands, as [`Central::resume_point`], after adopting
    /// what a shared ledger holds for it when that is ahead of this central's
    /// books (batches or a finish stored through another central): the
    /// handshake answer. Over a ledger that is not shared it is
    /// [`Central::resume_point`]. When the ledger cannot be read the books
    /// answer as they are (a resend of a stored batch is acknowledged
    /// again, never stored twice, so a stale answer costs resends only).
    ///
    /// Reads the ledger (one query of a database) with no lock held.
    ///
    /// # Errors
    /// [`UnknownAgency`] outside `1..=N`.
    pub fn refresh_resume_point(&self, agency: AgencyId) -> Result<ResumePoint, UnknownAgency> {
        let point = self.resume_point(agency)?;
        if !self.shared.ledger.is_shared() {
            return Ok(point);
        }
        if let Ok(Some(record)) = self.shared.ledger.agency_record(agency) {
            let mut lottery = self.shared.lottery.lock();
            lottery.adopt_record(agency, record);
            return lottery.resume_point(agency);
        }
        Ok(point)
    }

    /// Settles a finish over a shared ledger: the draw, when due, is the one
    /// the ledger recorded (in this finish's transaction: [`Finish::Drew`];
    /// earlier: [`Finish::AlreadyDrawn`]), never this central's tally.
    pub(super) fn settle_shared(
        &self,
        settled: Settled,
        recorded: FinishRecorded,
    ) -> Result<Finish, FinishError> {
        let (ticket, answer) = match settled {
            Settled::Draw(ticket) => (Some(ticket), Finish::AlreadyDrawn),
            Settled::Answer(answer) if recorded != FinishRecorded::Drew => return Ok(answer),
            Settled::Answer(answer) => (None, answer),
        };
        match self.adopt_ledger_draw(ticket)? {
            Some(summary) if recorded == FinishRecorded::Drew => Ok(Finish::Drew(summary)),
            Some(_) => Ok(answer),
            None => Ok(Finish::Waiting { remaining: 0 }),
        }
    }

    /// Reads the draw the ledger records and publishes it (settling
    /// `ticket` when the books had the draw due); returns its summary, or
    /// `None` when the ledger records none yet.
    fn adopt_ledger_draw(
        &self,
        ticket: Option<DrawTicket>,
    ) -> Result<Option<DrawSummary>, StoreError> {
        let read = self.shared.ledger.recorded_draw(self.shared.rules);
        let mut lottery = self.shared.lottery.lock();
        let draw = match read {
            Ok(Some(draw)) => draw,
            failed => {
                if let Some(ticket) = ticket {
                    lottery.draw_failed(ticket);
                }
                return failed.map(|_| None);
            }
        };
        let summary = draw.summary().clone();
        match ticket {
            Some(ticket) => {
                lottery.draw_done(ticket, draw);
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
