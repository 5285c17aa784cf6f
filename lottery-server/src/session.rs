//! One connection's protocol state, without the socket.
//!
//! A [`Session`] takes decoded [`AgencyFrame`]s (batches arrive validated
//! by the decoder, see [`lottery_net::CheckedBatch`]; the session refuses a
//! bet born after the central's date, [`Context::today`], which the decoder
//! does not know), asks the [`Central`], and
//! appends its answers, encoded, to the connection's output buffer. It tells
//! the connection what else to do through a [`Step`]: bind the connection to
//! an agency, queue a batch that is being stored, wait, or close.
//!
//! The session decides what to answer and when; it words nothing itself:
//! error frames come from `refusal.rs`, log lines from `log_line.rs`, and
//! what it begins is completed by the completer (`completer.rs`), whose
//! outcomes it then answers. `Request::of` is the only code that knows the
//! shape of lottery-net's frames.
//!
//! # Invariants
//! - Answers leave in the order the messages came. Batches and finishes are
//!   stored in two steps (begun here, completed by the loop together with
//!   every other batch and finish of the same loop iteration, so one sync
//!   covers them all); while batches of this session are pending, a message
//!   that would answer at once (or a refusal) is held, and taken up again
//!   once their acks are written; while its finish is pending, every
//!   message is held.
//! - The first message must be the handshake, and it binds the session to one
//!   agency for good; everything after speaks for that agency only. Over a
//!   shared ledger (several centrals on one database) the handshake reads
//!   the agency's record from the database: that read is handed to the
//!   completer like a batch, and until it is answered (the `Welcome` sent)
//!   the session takes no other message, and binds nothing.
//! - A winners query before the draw is held (or answered "not drawn yet" when
//!   asked not to wait) and answered by [`Session::on_draw`]; messages after
//!   it wait for that answer (answers stay in request order).
//! - Where the session stands is one `Phase` (greeting, welcoming, bound
//!   and what a bound session awaits, ended and whether the completer still
//!   holds its handshake or finish), beside one count: its batches begun and
//!   not yet acked. No flag beside the phase can contradict it. What the
//!   `Hello` chose for the connection's life (the receipts version: signed
//!   acks, finishes and draw) sits beside it like the peer's identity, set
//!   once by the accepted `Hello` and read only by a bound session.
//! - Nothing the peer sends can panic: every refusal is an error frame, and a
//!   session that cannot go on says [`Step::Close`].

use std::net::SocketAddr;

use lottery_bet::{AgencyId, BetBatch, Birthdate, ResumePoint};
use lottery_core::{
    Central, Finish, FinishError, ResumeError, ResumeStep, SubmitError, Submitted, Winners,
};
use lottery_net::{
    AgencyFrame, CentralMessage, CheckedBatch, DecodeError, ErrorFrame, InvalidBet,
    PROTOCOL_VERSION, RECEIPTS_VERSION, encode_central_message, encode_winners,
};
use lottery_tls::CertificateDer;
use lottery_tls::{ReceiptKey, SignedHead};

use crate::completer::{Completed, PendingRequest};
use crate::log_line;
use crate::metrics;
use crate::receipt;
use crate::refusal::{self, Ending};

/// What the event loop must do after a session handled something.
#[derive(Debug)]
#[must_use]
pub(crate) enum Step {
    /// Handled; any answer is in the output. Go on with the next message.
    Continue,
    /// The handshake bound the session to this agency: register it (a
    /// connection of the same agency bound before is replaced).
    Bound(AgencyId),
    /// A batch or a finish is being stored (or, over a shared ledger, the
    /// handshake's record read): complete it with the others of this loop
    /// iteration ([`PendingRequest::complete`]) and hand the result to
    /// [`Session::on_completed`].
    Storing(PendingRequest),
    /// Nothing more until every pending batch of this session is acked.
    Held,
    /// The agency's winners are in the output: once they are sent, the
    /// agency counts as served.
    WinnersSent(AgencyId),
    /// The connection cannot go on: close it once the output is sent.
    Close,
}

/// Where the session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for the handshake.
    Greeting,
    /// The handshake of this agency is at the completer (its record is read
    /// from a shared ledger): no other message is taken until it is
    /// answered.
    Welcoming(AgencyId),
    /// Speaking for this agency.
    Bound {
        /// The agency.
        agency: AgencyId,
        /// What its next request waits for, besides the acks of its batches.
        awaiting: Awaiting,
    },
    /// Said its last word; ignores everything.
    Ended {
        /// The agency it spoke for, if the handshake came first.
        agency: Option<AgencyId>,
        /// The handshake or the finish it began is still at the completer:
        /// the connection stays until it comes back.
        completing: bool,
    },
}

/// What a bound session's next request waits for (its answer must follow
/// the answer it waits for), besides the acks of the session's batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Awaiting {
    /// Nothing: the next request is handled at once.
    Nothing,
    /// The answer to the finish it began, at the completer.
    Finish,
    /// The draw, for the winners query it holds.
    Draw,
}

/// A message of the peer, as the session takes it.
#[derive(Debug)]
struct Request {
    /// The message's name (for refusals).
    name: &'static str,
    ask: Ask,
}

/// What a message asks.
#[derive(Debug)]
enum Ask {
    /// The handshake.
    Hello { version: u16, agency: u32 },
    /// A batch of bets, validated as decoded.
    Batch(CheckedBatch),
    /// The agency says it sent everything.
    Finish { bets_sent: u64 },
    /// The agency asks for its winners.
    WinnersQuery { wait: bool },
    /// A message a later lottery-net adds: refused, never ignored.
    Unknown,
}

impl Request {
    /// The request a frame carries: the one place that knows the shape of
    /// lottery-net's [`AgencyFrame`].
    fn of(frame: AgencyFrame) -> Self {
        let name = frame.name();
        let ask = match frame {
            AgencyFrame::Hello { version, agency } => Ask::Hello { version, agency },
            AgencyFrame::Batch(batch) => Ask::Batch(batch),
            AgencyFrame::Finish { bets_sent } => Ask::Finish { bets_sent },
            AgencyFrame::WinnersQuery { wait } => Ask::WinnersQuery { wait },
            _ => Ask::Unknown,
        };
        Self { name, ask }
    }
}

/// What a session keeps for later, to answer in order.
#[derive(Debug)]
enum Held {
    /// A request to handle once the pending batches are acked.
    Request(Request),
    /// A refusal to send once the pending batches are acked.
    Refusal(ErrorFrame),
}

/// What a session needs from its loop to handle a message.
pub(crate) struct Context<'a> {
    /// The lottery.
    pub central: &'a Central,
    /// The frame limit for answers.
    pub max_frame: usize,
    /// The central's receipt key (`None`: no receipts): with it a `Hello`
    /// of the receipts version is accepted, and the winners answer of such
    /// a session ends with the signed draw.
    pub receipt_key: Option<&'a ReceiptKey>,
    /// The central's date (UTC, read by the loop once an iteration): a bet
    /// born after it refuses its batch.
    pub today: Birthdate,
}

/// Batches of one connection the central takes at a time: the next frame
/// waits (in the decoder's buffer, then in the socket: TCP backpressure)
/// until one of them is acked. Whatever window a client keeps, one
/// connection holds at most this many batches' bytes at the completer
/// (64 frames of 8 KiB: 512 KiB). Far above what keeps the disk busy: a
/// group commit rarely holds more than a few batches of one agency.
pub(crate) const MAX_PENDING_BATCHES: usize = 64;

/// The protocol state of one connection.
#[derive(Debug)]
pub(crate) struct Session {
    /// Who is at the other end (for the log lines about it).
    peer: SocketAddr,
    phase: Phase,
    /// Batches begun and not yet acked.
    pending_batches: usize,
    held: Option<Held>,
    /// Bets stored for the agency as far as this session knows (for acks).
    bets_stored: u64,
    /// Which agencies the peer may act as.
    identity: Identity,
    /// The peer speaks the receipts version: acks and finishes are answered
    /// `SignedAck` and `SignedFinished`.
    receipts: bool,
}

/// Which agencies a peer may act as.
#[derive(Debug)]
enum Identity {
    /// Any (plaintext, or TLS without client certificates): whoever says so.
    Anyone,
    /// The one its TLS client certificate names; until the handshake handed
    /// the certificate over, none.
    Certified(Option<CertificateDer<'static>>),
}

impl Session {
    /// A session with `peer`, waiting for its handshake. With
    /// `authenticates`, the peer acts only as the agency its client
    /// certificate names ([`Session::authenticated`] hands it over).
    pub(crate) fn new(peer: SocketAddr, authenticates: bool) -> Self {
        Self {
            peer,
            identity: if authenticates {
                Identity::Certified(None)
            } else {
                Identity::Anyone
            },
            phase: Phase::Greeting,
            pending_batches: 0,
            held: None,
            bets_stored: 0,
            receipts: false,
        }
    }

    /// The peer's client certificate, verified by the TLS handshake.
    pub(crate) fn authenticated(&mut self, certificate: CertificateDer<'static>) {
        if let Identity::Certified(none @ None) = &mut self.identity {
            *none = Some(certificate);
        }
    }

    /// Whether the peer may act as `agency`.
    fn may_act_as(&self, agency: u32) -> bool {
        match &self.identity {
            Identity::Anyone => true,
            Identity::Certified(None) => false,
            Identity::Certified(Some(certificate)) => AgencyId::new(agency)
                .is_ok_and(|agency| lottery_tls::certifies(certificate, agency)),
        }
    }

    /// The agency the session speaks for, once bound (also after it ended).
    pub(crate) fn agency(&self) -> Option<AgencyId> {
        match self.phase {
            Phase::Bound { agency, .. } => Some(agency),
            Phase::Ended { agency, .. } => agency,
            // Not bound before its `Welcome`.
            Phase::Greeting | Phase::Welcoming(_) => None,
        }
    }

    /// Whether the handshake is still due.
    pub(crate) fn is_greeting(&self) -> bool {
        self.phase == Phase::Greeting
    }

    /// Whether the agency legitimately sends nothing now: batches or the
    /// finish of it are being stored, or it waits for the draw. The idle
    /// timeout does not apply.
    pub(crate) fn is_waiting(&self) -> bool {
        self.has_pending_work() || self.is_waiting_for_draw()
    }

    /// Whether a winners query waits for the draw.
    pub(crate) fn is_waiting_for_draw(&self) -> bool {
        matches!(
            self.phase,
            Phase::Bound {
                awaiting: Awaiting::Draw,
                ..
            }
        )
    }

    /// Whether the session must not take another message now (pending
    /// batches must be acked, or the held winners query answered, first;
    /// or the peer already has [`MAX_PENDING_BATCHES`] batches at the
    /// completer).
    pub(crate) fn is_held(&self) -> bool {
        self.held.is_some()
            || matches!(self.phase, Phase::Welcoming(_))
            || self.pending_batches >= MAX_PENDING_BATCHES
    }

    /// Whether the session said its last word (the connection closes).
    pub(crate) fn has_ended(&self) -> bool {
        matches!(self.phase, Phase::Ended { .. })
    }

    /// Batches begun and not yet acked.
    #[cfg(test)]
    pub(crate) fn pending_batches(&self) -> usize {
        self.pending_batches
    }

    /// Whether a batch, the finish or the handshake is begun and not yet
    /// answered.
    pub(crate) fn has_pending_work(&self) -> bool {
        self.pending_batches > 0 || self.is_completing()
    }

    /// Whether the handshake or the finish it began is at the completer (also
    /// once the session ended meanwhile).
    fn is_completing(&self) -> bool {
        match self.phase {
            Phase::Welcoming(_)
            | Phase::Bound {
                awaiting: Awaiting::Finish,
                ..
            } => true,
            Phase::Ended { completing, .. } => completing,
            Phase::Greeting | Phase::Bound { .. } => false,
        }
    }

    /// The handshake or the finish came back from the completer after the
    /// session ended: nothing more keeps the connection.
    fn completed_after_end(&mut self) {
        if let Phase::Ended { completing, .. } = &mut self.phase {
            *completing = false;
        }
    }

    /// Takes up what was held, once no batch is pending and no winners
    /// query waits. Call before decoding further messages.
    pub(crate) fn resume(&mut self, ctx: &mut Context<'_>, out: &mut Vec<u8>) -> Step {
        if self.is_waiting() {
            return if self.held.is_some() {
                Step::Held
            } else {
                Step::Continue
            };
        }
        match self.held.take() {
            None => Step::Continue,
            Some(Held::Refusal(error)) => {
                send_error(&error, ctx.max_frame, out);
                Step::Continue
            }
            Some(Held::Request(request)) => self.handle(request, ctx, out),
        }
    }

    /// Handles one message from the peer.
    pub(crate) fn on_message(
        &mut self,
        frame: AgencyFrame,
        ctx: &mut Context<'_>,
        out: &mut Vec<u8>,
    ) -> Step {
        debug_assert!(self.held.is_none(), "a held session is given no message");
        self.handle(Request::of(frame), ctx, out)
    }

    fn handle(&mut self, request: Request, ctx: &mut Context<'_>, out: &mut Vec<u8>) -> Step {
        match self.phase {
            Phase::Ended { .. } => Step::Close,
            Phase::Greeting => match request.ask {
                Ask::Hello { version, agency } => self.on_hello(version, agency, ctx, out),
                _ => self.end_with(refusal::hello_first(request.name), ctx.max_frame, out),
            },
            Phase::Bound {
                agency,
                awaiting: Awaiting::Nothing,
            } => self.on_request(agency, request, ctx, out),
            // Its answer must follow the winners of the query (or the answer
            // to the finish) before it.
            Phase::Bound { .. } => self.hold(request),
            // Not given messages meanwhile (it is held); kept for after the
            // `Welcome` all the same.
            Phase::Welcoming(_) => self.hold(request),
        }
    }

    /// Handles a request of the agency the session speaks for (waiting for
    /// nothing but its batches' acks), or holds it until what is before it
    /// is answered.
    fn on_request(
        &mut self,
        agency: AgencyId,
        request: Request,
        ctx: &mut Context<'_>,
        out: &mut Vec<u8>,
    ) -> Step {
        let name = request.name;
        match request.ask {
            Ask::Hello { .. } => self.end_with(refusal::second_hello(), ctx.max_frame, out),
            Ask::Batch(batch) => self.on_batch(agency, batch, ctx, out),
            // Its answer must follow the acks of the batches before it, and a
            // finish must count them.
            ask if self.pending_batches > 0 => self.hold(Request { name, ask }),
            Ask::Finish { bets_sent } => self.on_finish(agency, bets_sent, ctx, out),
            Ask::WinnersQuery { wait } => self.on_winners_query(agency, wait, ctx, out),
            Ask::Unknown => self.end_with(refusal::not_expected(name), ctx.max_frame, out),
        }
    }

    fn hold(&mut self, request: Request) -> Step {
        self.held = Some(Held::Request(request));
        Step::Held
    }

    fn on_hello(
        &mut self,
        version: u16,
        agency: u32,
        ctx: &mut Context<'_>,
        out: &mut Vec<u8>,
    ) -> Step {
        let receipts = version == RECEIPTS_VERSION && ctx.receipt_key.is_some();
        if version != PROTOCOL_VERSION && !receipts {
            log_line::handshake_unsupported_version(agency, self.peer, version);
            return self.end_with(
                refusal::unsupported_version(version, ctx.receipt_key.is_some()),
                ctx.max_frame,
                out,
            );
        }
        self.receipts = receipts;
        // Before anything about the agency is looked up: a peer learns
        // nothing of an agency it may not act as.
        if !self.may_act_as(agency) {
            let refusal = refusal::not_authorized(agency);
            log_line::handshake_refused(agency, self.peer, &refusal.message);
            return self.end_with(refusal, ctx.max_frame, out);
        }
        // Over a shared ledger (several centrals on one database) the
        // agency's record is read from it first: on the completer, never here.
        let begun = AgencyId::new(agency).map_err(|_| ()).and_then(|id| {
            ctx.central
                .begin_resume(id)
                .map(|step| (id, step))
                .map_err(|_| ())
        });
        match begun {
            Ok((id, ResumeStep::Read(pending))) => {
                self.phase = Phase::Welcoming(id);
                Step::Storing(PendingRequest::Hello { pending })
            }
            Ok((id, ResumeStep::Ready(point))) => self.welcome(agency, Ok((id, point)), ctx, out),
            // Whatever a later core adds: the books answer.
            Ok((id, _)) => {
                let point = ctx.central.resume_point(id).map(|point| (id, point));
                self.welcome(agency, point.map_err(|_| ()), ctx, out)
            }
            Err(()) => self.welcome(agency, Err(()), ctx, out),
        }
    }

    /// Completes the handshake of `agency` (as the peer named it) with where
    /// it stands: binds the session and sends the `Welcome`, or refuses an
    /// agency the central does not expect.
    fn welcome(
        &mut self,
        agency: u32,
        resume: Result<(AgencyId, ResumePoint), ()>,
        ctx: &mut Context<'_>,
        out: &mut Vec<u8>,
    ) -> Step {
        let Ok((id, point)) = resume else {
            let refusal = refusal::unknown_agency(agency, ctx.central.rules().agencies);
            log_line::handshake_refused(agency, self.peer, &refusal.message);
            return self.end_with(refusal, ctx.max_frame, out);
        };
        self.phase = Phase::Bound {
            agency: id,
            awaiting: Awaiting::Nothing,
        };
        self.bets_stored = point.bets_stored;
        log_line::handshake(id, &point);
        send(&self.welcome_message(&point, ctx), ctx.max_frame, out);
        Step::Bound(id)
    }

    /// The answer to an accepted `Hello`: `Welcome`, or in a receipts
    /// session `SignedWelcome`, with the chain head as it stands now signed
    /// ([`signed_welcome_head`]; a plain `Welcome` there only when no head
    /// could be signed, which the agency refuses).
    fn welcome_message(&self, point: &ResumePoint, ctx: &Context<'_>) -> CentralMessage {
        match self.receipts.then(|| signed_welcome_head(ctx)).flatten() {
            Some(head) => CentralMessage::SignedWelcome {
                resume: *point,
                head,
            },
            None => CentralMessage::Welcome {
                last_batch: point.last_batch,
                bets_stored: point.bets_stored,
                finished: point.finished,
                rows_crc: point.rows_crc,
            },
        }
    }

    fn on_batch(
        &mut self,
        agency: AgencyId,
        checked: CheckedBatch,
        ctx: &mut Context<'_>,
        out: &mut Vec<u8>,
    ) -> Step {
        let CheckedBatch { batch, count, bets } = checked;
        let count = count as u64;
        let bets = match bets.and_then(|bets| born_by(bets, ctx.today)) {
            Ok(bets) => bets,
            Err(invalid) => {
                let refusal = refusal::invalid_bet(&invalid);
                log_line::batch_invalid(agency, self.peer, batch, count, &refusal.message);
                return self.refuse(refusal, ctx.max_frame, out);
            }
        };
        match ctx.central.begin_submit(agency, batch, &bets) {
            Ok(pending) => {
                self.pending_batches += 1;
                Step::Storing(PendingRequest::Batch {
                    pending,
                    batch,
                    bets: count,
                })
            }
            Err(refused) => {
                log_line::batch_refused(agency, self.peer, batch, count, &refused);
                self.refuse(refusal::submit(&refused), ctx.max_frame, out)
            }
        }
    }

    /// Answers a batch, finish or handshake this session began, once it is
    /// complete. Returns the agency a handshake bound the session to (the
    /// loop registers it, replacing an older connection of that agency); a
    /// handshake refused here ends the session ([`Session::has_ended`]).
    pub(crate) fn on_completed(
        &mut self,
        completed: Completed,
        ctx: &mut Context<'_>,
        out: &mut Vec<u8>,
    ) -> Option<AgencyId> {
        match completed {
            Completed::Hello { agency, result } => {
                return self.on_welcomed(agency, result, ctx, out);
            }
            Completed::Batch {
                batch,
                bets,
                result,
                receipt,
            } => self.on_stored(batch, bets, result, receipt, ctx, out),
            Completed::Finish {
                bets_sent,
                result,
                receipt,
            } => {
                self.on_finished(bets_sent, result, receipt, ctx, out);
            }
        }
        None
    }

    /// Completes the handshake whose record was read on the completer.
    fn on_welcomed(
        &mut self,
        agency: AgencyId,
        result: Result<ResumePoint, ResumeError>,
        ctx: &mut Context<'_>,
        out: &mut Vec<u8>,
    ) -> Option<AgencyId> {
        if self.phase != Phase::Welcoming(agency) {
            // Ended meanwhile (shut down, the peer gone): nothing to answer.
            self.completed_after_end();
            return None;
        }
        // Back from the completer: neither welcoming nor bound until
        // `welcome` binds the session or a refusal ends it.
        self.phase = Phase::Greeting;
        if let Err(ResumeError::Store(cause)) = &result {
            // Never the books instead: another central may have acknowledged
            // batches they do not hold. The agency reconnects and asks again.
            log_line::handshake_failed(agency, self.peer, cause);
            let _ = self.end_with(refusal::resume_failed(), ctx.max_frame, out);
            return None;
        }
        let resume = result.map(|point| (agency, point)).map_err(drop);
        match self.welcome(agency.get(), resume, ctx, out) {
            Step::Bound(agency) => Some(agency),
            _ => None,
        }
    }

    /// The handshake came back from the completer after the connection
    /// closed: whatever the read found is not answered, and nothing is bound.
    pub(crate) fn abandon_handshake(&mut self) {
        if let Phase::Welcoming(_) = self.phase {
            self.phase = Phase::Ended {
                agency: None,
                completing: false,
            };
        }
        self.completed_after_end();
    }

    /// Answers a batch this session began, once it is complete.
    fn on_stored(
        &mut self,
        batch: u64,
        bets: u64,
        result: Result<Submitted, SubmitError>,
        receipt: Option<(lottery_bet::BatchDigest, SignedHead)>,
        ctx: &mut Context<'_>,
        out: &mut Vec<u8>,
    ) {
        self.pending_batches = self.pending_batches.saturating_sub(1);
        let Phase::Bound { agency, .. } = self.phase else {
            // Ended meanwhile (replaced, shut down): the outcome is logged
            // only. A batch is begun only by a bound session, so the agency
            // it ended with is known.
            if let Some(agency) = self.agency() {
                log_line::batch_received(agency, true, self.peer, batch, bets, &result);
            }
            return;
        };
        log_line::batch_received(agency, false, self.peer, batch, bets, &result);
        match result {
            Ok(Submitted::Stored { bets: stored, .. }) => {
                self.bets_stored += stored;
                send(&self.ack(batch, receipt), ctx.max_frame, out);
            }
            // Stored by an earlier connection of the agency (or whatever a
            // later core adds that is acked without being stored now).
            Ok(_) => {
                // The central's count is the truth.
                if let Ok(stored) = ctx.central.bets_stored(agency) {
                    self.bets_stored = self.bets_stored.max(stored);
                }
                send(&self.ack(batch, receipt), ctx.max_frame, out);
            }
            Err(refused) => send_error(&refusal::submit(&refused), ctx.max_frame, out),
        }
    }

    /// The answer to a stored batch: `Ack`, or in a receipts session
    /// `SignedAck` (a plain `Ack` there only when no receipt could be
    /// made, which the agency refuses).
    fn ack(
        &self,
        batch: u64,
        receipt: Option<(lottery_bet::BatchDigest, SignedHead)>,
    ) -> CentralMessage {
        let bets_stored = self.bets_stored;
        match receipt {
            Some((digest, head)) if self.receipts => CentralMessage::SignedAck {
                batch,
                bets_stored,
                digest,
                head,
            },
            _ => CentralMessage::Ack { batch, bets_stored },
        }
    }

    fn on_finish(
        &mut self,
        agency: AgencyId,
        bets_sent: u64,
        ctx: &mut Context<'_>,
        out: &mut Vec<u8>,
    ) -> Step {
        match ctx.central.begin_finish(agency, bets_sent) {
            Ok(pending) => {
                self.phase = Phase::Bound {
                    agency,
                    awaiting: Awaiting::Finish,
                };
                Step::Storing(PendingRequest::Finish {
                    pending,
                    agency,
                    bets_sent,
                })
            }
            Err(error) => {
                send_error(
                    &finish_refusal(agency, self.peer, bets_sent, &error),
                    ctx.max_frame,
                    out,
                );
                Step::Continue
            }
        }
    }

    /// Answers the finish this session began, once it is complete (its
    /// success, and the draw it may have performed, are logged already).
    fn on_finished(
        &mut self,
        bets_sent: u64,
        result: Result<Finish, FinishError>,
        receipt: Option<SignedHead>,
        ctx: &mut Context<'_>,
        out: &mut Vec<u8>,
    ) {
        let agency = match &mut self.phase {
            Phase::Bound { agency, awaiting } => {
                *awaiting = Awaiting::Nothing;
                *agency
            }
            _ => {
                // Ended meanwhile (replaced, shut down): the finish stands,
                // the agency learns it when it finishes again.
                self.completed_after_end();
                return;
            }
        };
        if let Err(error) = result {
            send_error(
                &finish_refusal(agency, self.peer, bets_sent, &error),
                ctx.max_frame,
                out,
            );
            return;
        }
        let bets_stored = ctx.central.bets_stored(agency).unwrap_or(bets_sent);
        self.bets_stored = bets_stored;
        let answer = match receipt {
            Some(head) if self.receipts => CentralMessage::SignedFinished { bets_stored, head },
            _ => CentralMessage::Finished { bets_stored },
        };
        send(&answer, ctx.max_frame, out);
    }

    fn on_winners_query(
        &mut self,
        agency: AgencyId,
        wait: bool,
        ctx: &mut Context<'_>,
        out: &mut Vec<u8>,
    ) -> Step {
        match ctx.central.winners(agency) {
            Ok(Winners::Drawn(documents)) => self.send_winners(agency, &documents, ctx, out),
            Ok(Winners::NotDrawn) if wait => {
                self.phase = Phase::Bound {
                    agency,
                    awaiting: Awaiting::Draw,
                };
                log_line::winners_waiting(agency);
                Step::Continue
            }
            // Not drawn (and whatever a later core adds: nothing to tell yet).
            Ok(_) => {
                send(&CentralMessage::NotDrawn, ctx.max_frame, out);
                Step::Continue
            }
            Err(unknown) => self.end_with(refusal::unknown_agency_of(&unknown), ctx.max_frame, out),
        }
    }

    /// The draw happened: answers the query held for it. Returns
    /// [`Step::WinnersSent`] when there was one; the loop then drives the
    /// session again, for what was held behind the query.
    pub(crate) fn on_draw(&mut self, ctx: &mut Context<'_>, out: &mut Vec<u8>) -> Step {
        let Phase::Bound {
            agency,
            awaiting: Awaiting::Draw,
        } = self.phase
        else {
            return Step::Continue;
        };
        let Ok(Winners::Drawn(documents)) = ctx.central.winners(agency) else {
            // Not drawn after all (a spurious wake): keep waiting.
            return Step::Continue;
        };
        self.phase = Phase::Bound {
            agency,
            awaiting: Awaiting::Nothing,
        };
        self.send_winners(agency, &documents, ctx, out)
    }

    fn send_winners(
        &mut self,
        agency: AgencyId,
        documents: &[lottery_bet::Document],
        ctx: &mut Context<'_>,
        out: &mut Vec<u8>,
    ) -> Step {
        let texts: Vec<&str> = documents
            .iter()
            .map(lottery_bet::Document::as_str)
            .collect();
        match encode_winners(&texts, ctx.max_frame, out) {
            Ok(_) => {
                if self.receipts
                    && let Some(draw) = signed_draw(ctx)
                {
                    send(&draw, ctx.max_frame, out);
                }
                log_line::winners_sent(agency, texts.len());
                Step::WinnersSent(agency)
            }
            Err(error) => {
                // Documents are at most 20 digits and frames at least 1 KiB, so
                // this is a bug, not something a peer can cause.
                log_line::winners_unencodable(agency, &error);
                self.end_with(refusal::winners_unencodable(), ctx.max_frame, out)
            }
        }
    }

    /// The peer sent bytes that are not a frame: says why and ends.
    pub(crate) fn on_malformed(
        &mut self,
        error: &DecodeError,
        max_frame: usize,
        out: &mut Vec<u8>,
    ) -> Step {
        log_line::malformed(self.agency(), self.peer, error);
        self.end_with(refusal::malformed(error), max_frame, out)
    }

    /// Ends the session from outside, telling the peer why.
    pub(crate) fn end(&mut self, ending: Ending, max_frame: usize, out: &mut Vec<u8>) -> Step {
        if let Phase::Ended { .. } = self.phase {
            return Step::Close;
        }
        self.end_with(ending.frame(), max_frame, out)
    }

    /// Says why the session cannot go on, and ends it.
    fn end_with(&mut self, refusal: ErrorFrame, max_frame: usize, out: &mut Vec<u8>) -> Step {
        // A winners query waiting for the draw is dropped with the session;
        // a begun handshake or finish still comes back from the completer.
        self.phase = Phase::Ended {
            agency: self.agency(),
            completing: self.is_completing(),
        };
        self.held = None;
        send_error(&refusal, max_frame, out);
        Step::Close
    }

    /// Sends a refusal now, or after the acks of the pending batches.
    fn refuse(&mut self, refusal: ErrorFrame, max_frame: usize, out: &mut Vec<u8>) -> Step {
        if self.pending_batches > 0 {
            self.held = Some(Held::Refusal(refusal));
            Step::Held
        } else {
            send_error(&refusal, max_frame, out);
            Step::Continue
        }
    }
}

/// The bets of a batch, unless one is born after `today`: then the first
/// such bet, refused as the decoder refuses an invalid one (the central's
/// date is the session's to know, not the decoder's).
fn born_by(bets: BetBatch, today: Birthdate) -> Result<BetBatch, InvalidBet> {
    match bets.check_born_by(today) {
        Ok(()) => Ok(bets),
        Err((index, error)) => {
            // A batch holds as many bets as fit a frame: far below u32::MAX.
            let index = u32::try_from(index).unwrap_or(u32::MAX);
            Err(InvalidBet { index, error })
        }
    }
}

/// The refusal of a finish, logged.
fn finish_refusal(
    agency: AgencyId,
    peer: SocketAddr,
    bets_sent: u64,
    error: &FinishError,
) -> ErrorFrame {
    if let FinishError::Store(cause) = error {
        log_line::finish_failed(agency, peer, cause);
    }
    let refusal = refusal::finish(error);
    log_line::finish_refused(agency, peer, bets_sent, &refusal.message);
    refusal
}

/// Appends `message` to `out`. The central's own messages always fit a frame
/// of the smallest accepted limit, except error texts, which are cut to fit.
fn send(message: &CentralMessage, max_frame: usize, out: &mut Vec<u8>) {
    if let Err(error) = encode_central_message(message, max_frame, out) {
        log_line::send_failed(message.name(), &error);
    }
}

fn send_error(error: &ErrorFrame, max_frame: usize, out: &mut Vec<u8>) {
    metrics::refused(error.code);
    let message = CentralMessage::Error(error.clone());
    if encode_central_message(&message, max_frame, out).is_ok() {
        return;
    }
    // The human text (it may quote the peer) made the frame too large: send
    // the code with a short text instead.
    send(
        &CentralMessage::Error(ErrorFrame {
            code: error.code,
            bet: error.bet,
            message: error.code.name().to_owned(),
        }),
        max_frame,
        out,
    );
}

/// The head a receipts session's `SignedWelcome` carries: the committed
/// chain head at the handshake ([`receipt::chain_statement`]: the rules,
/// with a committed number's commitment, so the agency holds it signed
/// before its first bet; position 0 and the journal's first link on a store
/// without records), signed once per handshake. `None` over a ledger
/// without a chain.
fn signed_welcome_head(ctx: &Context<'_>) -> Option<SignedHead> {
    let key = ctx.receipt_key?;
    let head = ctx.central.chain_head()?;
    Some(key.sign(receipt::chain_statement(ctx.central, head)?))
}

/// The signed draw a receipts session's winners answer ends with
/// ([`receipt::draw_statement`]), signed on demand, once per answer
/// (Ed25519 is deterministic: every answer carries the same signature).
/// `None` before the draw or over a ledger without a chain.
fn signed_draw(ctx: &Context<'_>) -> Option<CentralMessage> {
    let key = ctx.receipt_key?;
    let statement = receipt::draw_statement(ctx.central)?;
    Some(CentralMessage::SignedDraw {
        bets: statement.bets,
        winners: statement.winners,
        winning_number: statement.winning_number,
        secret: statement.secret,
        head: key.sign_draw(statement),
    })
}

#[cfg(test)]
mod tests;
