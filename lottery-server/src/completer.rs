//! The completer: a thread beside each event loop that waits for the disk
//! (and the database), so that the loop never does.
//!
//! The loop begins batches and finishes (their bytes are written and their
//! journal records queued), and over a shared ledger handshakes (the
//! agency's record is read from the database), and hands each iteration's
//! list to its completer.
//! The completer completes them in that order: the first completion leads
//! (or joins) the group commit covering everything written so far, the last
//! agency's finish performs the draw. It sends the outcomes back and wakes
//! the loop. Meanwhile the loop goes on reading, decoding and writing the
//! next batches, so the CPU work overlaps the sync, and one commit covers
//! everything written while the previous one ran.
//!
//! The completer wakes its loop only when the loop is parked in its poll
//! (or about to be): a loop that is running looks at the outcomes at the top
//! of its next iteration anyway, so a wake then would only cost an
//! `eventfd` write and a spurious waker event. See [`Completer::park`].
//!
//! Outcomes come back in the order the work was handed over, so a session's
//! answers keep their order. The completer holds no lock of its own and
//! touches no connection: it only calls the central. What it completes is
//! defined here ([`PendingRequest`], [`Completed`]): the session begins it, the
//! completer finishes it, and the session answers what it came to.

use std::collections::VecDeque;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering, fence};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::thread::JoinHandle;
use std::time::Instant;

use lottery_bet::{AgencyId, BatchDigest, ResumePoint};
use lottery_core::{
    Central, Finish, FinishError, PendingFinish, PendingResume, PendingSubmit, ResumeError,
    SubmitError, Submitted,
};
use lottery_tls::{ReceiptKey, SignedHead};
use mio::{Token, Waker};

use crate::log_line;
use crate::metrics::LoopMetrics;
use crate::receipt;

/// A batch, finish or handshake begun and not yet completed.
#[derive(Debug)]
pub(crate) enum PendingRequest {
    /// A handshake over a shared ledger: the agency's record is read.
    Hello {
        /// The lottery's handle on the read.
        pending: PendingResume,
    },
    /// A batch being stored.
    Batch {
        /// The lottery's handle on the batch.
        pending: PendingSubmit,
        /// Its sequence number (for the log and the ack).
        batch: u64,
        /// How many bets it holds.
        bets: u64,
    },
    /// A finish being recorded.
    Finish {
        /// The lottery's handle on the finish.
        pending: PendingFinish,
        /// The agency finishing.
        agency: AgencyId,
        /// The count the agency gave.
        bets_sent: u64,
    },
}

/// What completing an [`PendingRequest`] came to.
#[derive(Debug)]
pub(crate) enum Completed {
    /// A handshake's outcome: where the agency stands, or why that could
    /// not be read.
    Hello {
        /// The agency.
        agency: AgencyId,
        result: Result<ResumePoint, ResumeError>,
    },
    /// A batch's outcome.
    Batch {
        batch: u64,
        bets: u64,
        result: Result<Submitted, SubmitError>,
        /// With a receipt key, for a stored batch: its digest and the
        /// signed head that covers it.
        receipt: Option<(BatchDigest, SignedHead)>,
    },
    /// A finish's outcome.
    Finish {
        bets_sent: u64,
        result: Result<Finish, FinishError>,
        /// With a receipt key, for a recorded finish: the signed head that
        /// covers its record.
        receipt: Option<SignedHead>,
    },
}

/// Signs, once for the whole list, the chain head that covers every batch
/// and finish of `outcomes` it completed (read after the last completion:
/// each one's record is durable by then, so the committed head covers it),
/// and hands it to each of them. Nothing when none succeeded, or when the
/// ledger keeps no chain. The signature costs one Ed25519 signing per
/// list, not per bet, and is made before the acks leave.
fn sign_receipts(
    central: &Central,
    key: &ReceiptKey,
    outcomes: &mut Outcomes,
    digests: &[Option<BatchDigest>],
) {
    let succeeded = |completed: &Completed| {
        matches!(
            completed,
            Completed::Batch { result: Ok(_), .. } | Completed::Finish { result: Ok(_), .. }
        )
    };
    if !outcomes.iter().any(|(_, completed)| succeeded(completed)) {
        return;
    }
    let Some(head) = central.chain_head() else {
        return;
    };
    let Some(statement) = receipt::chain_statement(central, head) else {
        return;
    };
    let signed = key.sign(statement);
    for ((_, completed), digest) in outcomes.iter_mut().zip(digests) {
        match completed {
            Completed::Batch {
                result: Ok(_),
                receipt,
                ..
            } => *receipt = digest.map(|digest| (digest, signed)),
            Completed::Finish {
                result: Ok(_),
                receipt,
                ..
            } => *receipt = Some(signed),
            _ => {}
        }
    }
}

impl PendingRequest {
    /// The digest of a batch's rows (what its receipt names); `None` for
    /// anything else.
    fn digest(&self) -> Option<BatchDigest> {
        match self {
            PendingRequest::Batch { pending, .. } => Some(pending.digest()),
            _ => None,
        }
    }

    /// Waits until it is stored (the first completion of a loop iteration
    /// leads the group commit that covers the others; the last finish also
    /// performs the draw).
    pub(crate) fn complete(self, central: &Central) -> Completed {
        match self {
            PendingRequest::Hello { pending } => Completed::Hello {
                agency: pending.agency(),
                result: central.complete_resume(pending),
            },
            PendingRequest::Batch {
                pending,
                batch,
                bets,
            } => Completed::Batch {
                batch,
                bets,
                result: central.complete_submit(pending),
                receipt: None,
            },
            PendingRequest::Finish {
                pending,
                agency,
                bets_sent,
            } => {
                let started = Instant::now();
                let result = central.complete_finish(pending);
                // Logged here, the moment the finish is recorded and the draw
                // published, rather than when the session answers: the loops
                // answering the held winners queries are woken already.
                if let Ok(finish) = &result {
                    log_line::finished(agency, bets_sent, finish, started.elapsed());
                    if matches!(finish, Finish::Drew(_)) {
                        log_line::secret_revealed(central);
                        // The draw's line leaves now, not with the rest of
                        // the list: the loops answer the winners already.
                        lottery_log::write_deferred();
                    }
                }
                Completed::Finish {
                    bets_sent,
                    result,
                    receipt: None,
                }
            }
        }
    }
}

/// Begun batches and finishes, with their connections.
pub(crate) type Work = Vec<(Token, PendingRequest)>;
/// Their outcomes, in the same order.
pub(crate) type Outcomes = Vec<(Token, Completed)>;

/// One loop's completer thread and the channels to it.
pub(crate) struct Completer {
    /// `None` once closed (the thread then ends).
    work: Option<Sender<Work>>,
    outcomes: Receiver<Outcomes>,
    /// Outcomes [`Completer::park`] found waiting, handed out before the
    /// channel's.
    early: VecDeque<Outcomes>,
    /// The loop is parked in its poll (or about to be): the completer must
    /// wake it when it sends outcomes. Shared with the thread.
    parked: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// Items handed over and not yet back.
    outstanding: usize,
    /// When each list handed over and not yet back was read (the start of
    /// its loop iteration), oldest first: lists come back in order.
    read_at: VecDeque<Instant>,
    /// The loop's counters: the ack latency of the batches that come back.
    metrics: Arc<LoopMetrics>,
}

impl Completer {
    /// Starts the completer of loop `index`; `waker` wakes that loop when
    /// outcomes are ready and the loop is parked in its poll.
    ///
    /// # Errors
    /// When the thread cannot be started.
    pub(crate) fn start(
        index: usize,
        central: Central,
        waker: Arc<Waker>,
        metrics: Arc<LoopMetrics>,
        receipt_key: Option<Arc<ReceiptKey>>,
    ) -> io::Result<Self> {
        let (work, queue) = mpsc::channel::<Work>();
        let (done, outcomes) = mpsc::channel::<Outcomes>();
        let parked = Arc::new(AtomicBool::new(false));
        let loop_parked = Arc::clone(&parked);
        let thread = std::thread::Builder::new()
            .name(format!("lottery-completer-{index}"))
            .spawn(move || {
                // A list's lines (one per finish) leave with one `write`,
                // before its outcomes go back to the loop (and, however the
                // thread ends, its last lines are written).
                lottery_log::defer_lines();
                let _lines = WriteLinesOnExit;
                while let Ok(work) = queue.recv() {
                    let digests: Vec<Option<BatchDigest>> = match &receipt_key {
                        Some(_) => work.iter().map(|(_, flight)| flight.digest()).collect(),
                        None => Vec::new(),
                    };
                    let mut results: Outcomes = work
                        .into_iter()
                        .map(|(token, flight)| (token, flight.complete(&central)))
                        .collect();
                    if let Some(key) = &receipt_key {
                        sign_receipts(&central, key, &mut results, &digests);
                    }
                    lottery_log::write_deferred();
                    if done.send(results).is_err() {
                        return;
                    }
                    // Pairs with the fence in `park`: either the loop's
                    // check of the channel there sees these outcomes, or
                    // this sees the loop parked (and wakes it). Clearing
                    // the flag makes the outcomes that follow, sent before
                    // the loop ran again, cost no second wake.
                    fence(Ordering::SeqCst);
                    if loop_parked.swap(false, Ordering::SeqCst) {
                        // A loop that is gone needs no waking.
                        let _ = waker.wake();
                    }
                }
            })?;
        Ok(Self {
            work: Some(work),
            outcomes,
            early: VecDeque::new(),
            parked,
            thread: Some(thread),
            outstanding: 0,
            read_at: VecDeque::new(),
            metrics,
        })
    }

    /// Hands `work` over, read in the loop iteration that began at
    /// `read_at`.
    ///
    /// # Errors
    /// When the completer thread is gone (it panicked).
    pub(crate) fn submit(&mut self, work: Work, read_at: Instant) -> io::Result<()> {
        let count = work.len();
        self.work
            .as_ref()
            .and_then(|sender| sender.send(work).ok())
            .ok_or_else(gone)?;
        self.outstanding += count;
        self.read_at.push_back(read_at);
        Ok(())
    }

    /// Items handed over whose outcomes are not back yet.
    pub(crate) fn outstanding(&self) -> usize {
        self.outstanding
    }

    /// Called by the loop before it blocks in its poll: from here on, the
    /// completer wakes it when outcomes come back. Returns `false` when the
    /// loop must not block: outcomes are waiting already (they were sent
    /// before the completer could see the loop parked, so no wake comes for
    /// them), or the thread is gone with work outstanding ([`Self::ready`]
    /// reports it).
    pub(crate) fn park(&mut self) -> bool {
        self.parked.store(true, Ordering::SeqCst);
        // Pairs with the completer's fence after its send (see `start`).
        fence(Ordering::SeqCst);
        match self.outcomes.try_recv() {
            Ok(outcomes) => {
                self.early.push_back(outcomes);
                self.unpark();
                false
            }
            Err(TryRecvError::Empty) => true,
            Err(TryRecvError::Disconnected) => {
                self.unpark();
                self.outstanding == 0
            }
        }
    }

    /// Called by the loop once its poll returned: it runs, and looks at the
    /// outcomes before it blocks again, so the completer need not wake it.
    pub(crate) fn unpark(&self) {
        self.parked.store(false, Ordering::Relaxed);
    }

    /// Outcomes ready now, if any.
    ///
    /// # Errors
    /// When the completer thread is gone with work outstanding.
    pub(crate) fn ready(&mut self) -> io::Result<Option<Outcomes>> {
        if let Some(outcomes) = self.early.pop_front() {
            return Ok(Some(self.received(outcomes)));
        }
        match self.outcomes.try_recv() {
            Ok(outcomes) => Ok(Some(self.received(outcomes))),
            Err(TryRecvError::Empty) => Ok(None),
            Err(TryRecvError::Disconnected) if self.outstanding == 0 => Ok(None),
            Err(TryRecvError::Disconnected) => Err(gone()),
        }
    }

    /// Waits for the next outcomes (shutdown stores and acks what arrived
    /// before it says goodbye).
    ///
    /// # Errors
    /// When the completer thread is gone.
    pub(crate) fn wait(&mut self) -> io::Result<Outcomes> {
        if let Some(outcomes) = self.early.pop_front() {
            return Ok(self.received(outcomes));
        }
        let outcomes = self.outcomes.recv().map_err(|_| gone())?;
        Ok(self.received(outcomes))
    }

    /// Counts outcomes back; the acked batches among them count their ack
    /// latency (the loop answers them now).
    fn received(&mut self, outcomes: Outcomes) -> Outcomes {
        self.outstanding = self.outstanding.saturating_sub(outcomes.len());
        if let Some(read_at) = self.read_at.pop_front() {
            let acked = outcomes
                .iter()
                .filter(|(_, completed)| {
                    matches!(completed, Completed::Batch { result: Ok(_), .. })
                })
                .count();
            self.metrics.acked(acked as u64, read_at.elapsed());
        }
        outcomes
    }
}

impl Drop for Completer {
    fn drop(&mut self) {
        // Closing the work channel ends the thread once it is idle.
        self.work = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Writes the completer thread's deferred lines when it ends (a panic
/// too).
struct WriteLinesOnExit;

impl Drop for WriteLinesOnExit {
    fn drop(&mut self) {
        lottery_log::write_deferred();
    }
}

fn gone() -> io::Error {
    io::Error::other("the completer thread of the event loop died")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use lottery_core::{BetMonitor, Durability, LotteryRules, store::MemoryStore};
    use mio::{Events, Poll};

    use super::*;

    /// A safety net against a hung test, never an assertion.
    const SAFETY_TIMEOUT: Duration = Duration::from_secs(60);
    const WAKER: Token = Token(0);

    fn central(agencies: u32) -> Central {
        let (monitor, recovery) =
            BetMonitor::open(Box::new(MemoryStore::new()), Durability::Fsync).unwrap();
        let rules = LotteryRules {
            agencies,
            ..LotteryRules::default()
        };
        Central::new(rules, monitor, &recovery).unwrap()
    }

    /// A finish of `agency` with no bets: work the completer can complete.
    fn finish(central: &Central, agency: u32) -> Work {
        let agency = AgencyId::new(agency).unwrap();
        let pending = central.begin_finish(agency, 0).unwrap();
        vec![(
            Token(agency.get() as usize),
            PendingRequest::Finish {
                pending,
                agency,
                bets_sent: 0,
            },
        )]
    }

    fn woken(poll: &mut Poll, events: &mut Events, timeout: Duration) -> bool {
        poll.poll(events, Some(timeout)).unwrap();
        events.iter().any(|event| event.token() == WAKER)
    }

    /// A completer of `central` (no receipt key) waking `poll`.
    fn completer(central: &Central, poll: &Poll) -> Completer {
        let waker = Arc::new(Waker::new(poll.registry(), WAKER).unwrap());
        let metrics = Arc::new(LoopMetrics::new());
        Completer::start(0, central.clone(), waker, metrics, None).unwrap()
    }

    /// A parked `completer`'s loop, woken until outcomes come back (an
    /// early wake finds nothing and parks again): how many came.
    fn parked_until_woken(
        completer: &mut Completer,
        poll: &mut Poll,
        events: &mut Events,
    ) -> usize {
        let mut wakes = 0;
        let outcomes = loop {
            assert!(
                woken(poll, events, SAFETY_TIMEOUT),
                "a parked loop was not woken"
            );
            wakes += 1;
            completer.unpark();
            if let Some(outcomes) = completer.ready().unwrap() {
                break outcomes;
            }
            assert!(wakes < 2, "woken twice with nothing back");
            if !completer.park() {
                break completer.ready().unwrap().expect("the outcomes park found");
            }
        };
        outcomes.len()
    }

    #[test]
    fn only_a_parked_loop_is_woken_and_outcomes_sent_before_it_parked_are_not_lost() {
        let central = central(4);
        let mut poll = Poll::new().unwrap();
        let mut completer = completer(&central, &poll);
        let mut events = Events::with_capacity(8);
        let now = Instant::now();

        // A running loop (never parked) is not woken: it takes the outcomes
        // itself. The second list's outcomes come back only after the
        // completer decided about the first one's wake.
        completer.submit(finish(&central, 1), now).unwrap();
        assert_eq!(completer.wait().unwrap().len(), 1);
        completer.submit(finish(&central, 2), now).unwrap();
        assert_eq!(completer.wait().unwrap().len(), 1);
        assert!(!woken(&mut poll, &mut events, Duration::ZERO));

        // A parked loop is woken by the outcomes that come back. The
        // completer may still be deciding about the second list's wake when
        // the loop parks: it then wakes the loop early, for outcomes already
        // taken, and the loop (finding nothing) parks again, as the event
        // loop does. The third list's wake must come either way.
        assert!(completer.park());
        completer.submit(finish(&central, 3), now).unwrap();
        assert_eq!(
            parked_until_woken(&mut completer, &mut poll, &mut events),
            1
        );
        assert_eq!(completer.outstanding(), 0);

        // Outcomes that came back while the loop ran: parking finds them
        // (the loop must not block), and they are handed out first.
        completer.submit(finish(&central, 4), now).unwrap();
        while completer.park() {
            // Not back yet (or back while parked: then `park` finds them on
            // the next turn, the wake notwithstanding).
            completer.unpark();
            std::thread::yield_now();
        }
        let outcomes = completer.ready().unwrap().expect("the outcomes park found");
        assert!(matches!(
            outcomes[..],
            [(Token(4), Completed::Finish { result: Ok(_), .. })]
        ));
        assert_eq!(
            completer.ready().unwrap().map(|outcomes| outcomes.len()),
            None
        );
        assert_eq!(completer.outstanding(), 0);
    }
}
