//! One agency's connection in a load run: its session as a state machine
//! (connect, handshake, batches within the window, finish, winners), driven
//! by a client thread's events. Reads and writes are drained to `WouldBlock`.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::Arc;
use std::time::Instant;

use super::plan::SessionPlan;
use super::shared::{RunShared, ThreadReport};
use super::wire::Wire;
use lottery_bet::{AgencyId, ResumePoint};
use lottery_net::{
    AgencyMessage, CentralMessage, DEFAULT_MAX_FRAME, Decoder, PROTOCOL_VERSION, RECEIPTS_VERSION,
    encode_agency_message,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// Waiting for its turn to connect.
    Queued,
    /// Connect in progress.
    Connecting,
    /// Hello sent, waiting for the welcome.
    Welcome,
    /// Handshaken; batches start after the barrier.
    Ready,
    /// Sending batches and reading acks.
    Sending,
    /// Finish sent, waiting for its answer.
    Finishing,
    /// Winners query sent, reading the list.
    Winners,
    /// Every step done; the connection is closed.
    Done,
    /// Failed; the connection is closed.
    Failed,
}

pub(super) struct Agency {
    pub(super) id: AgencyId,
    pub(super) plan: Arc<SessionPlan>,
    pub(super) phase: Phase,
    pub(super) stream: Option<Wire>,
    pub(super) decoder: Decoder,
    /// Control frames (hello, finish, query) not yet written.
    pub(super) control: Vec<u8>,
    pub(super) control_written: usize,
    /// Bytes of the plan's frames written.
    pub(super) written: usize,
    /// Batches whose last byte was written.
    pub(super) batches_written: usize,
    /// Batches the rate schedule allows to be sent.
    pub(super) released: usize,
    pub(super) acked: usize,
    /// When each written, unacknowledged batch was written.
    pub(super) sent_at: VecDeque<Instant>,
    pub(super) winners: u64,
    /// Whether this connection counts in [`RunShared::open`].
    pub(super) counted_open: bool,
    /// The poll reported the end of the stream (or an error): read until the
    /// read says so.
    pub(super) end_seen: bool,
}

/// Why an agency failed.
pub(super) type Failure = String;

impl Agency {
    pub(super) fn new(id: AgencyId, plan: Arc<SessionPlan>) -> Self {
        Self {
            id,
            plan,
            phase: Phase::Queued,
            stream: None,
            decoder: Decoder::new(DEFAULT_MAX_FRAME),
            control: Vec::new(),
            control_written: 0,
            written: 0,
            batches_written: 0,
            released: 0,
            acked: 0,
            sent_at: VecDeque::new(),
            winners: 0,
            counted_open: false,
            end_seen: false,
        }
    }

    pub(super) fn is_over(&self) -> bool {
        matches!(self.phase, Phase::Done | Phase::Failed)
    }

    /// Whether the central answered its finish.
    pub(super) fn has_finished(&self) -> bool {
        matches!(self.phase, Phase::Winners | Phase::Done)
    }

    pub(super) fn is_handshaking(&self) -> bool {
        matches!(self.phase, Phase::Connecting | Phase::Welcome)
    }

    /// Advances a connecting or handshaking agency on one of its events.
    pub(super) fn handshake_step(&mut self, shared: &RunShared) -> Result<(), Failure> {
        if self.phase == Phase::Connecting {
            let stream = self
                .stream
                .as_mut()
                .expect("a connecting agency has a stream")
                .tcp();
            if let Some(error) = stream.take_error().map_err(|e| e.to_string())? {
                return Err(format!("connect failed: {error}"));
            }
            match stream.peer_addr() {
                Ok(_) => {}
                // Not connected yet: a later event will tell.
                Err(error) if error.kind() == io::ErrorKind::NotConnected => return Ok(()),
                Err(error) => return Err(format!("connect failed: {error}")),
            }
            // Acks and control frames are small: Nagle would only delay them.
            stream.set_nodelay(true).map_err(|e| e.to_string())?;
            shared.opened();
            self.counted_open = true;
            self.queue(&AgencyMessage::Hello {
                version: if shared.receipts {
                    RECEIPTS_VERSION
                } else {
                    PROTOCOL_VERSION
                },
                agency: self.id.get(),
            });
            self.phase = Phase::Welcome;
        }
        self.pump_write(shared.in_flight)?;
        // Nothing but the welcome can arrive before the first batch, so no
        // report is needed yet.
        self.pump_read(&mut ThreadReport::default())
    }

    pub(super) fn queue(&mut self, message: &AgencyMessage) {
        if self.control_written == self.control.len() {
            self.control.clear();
            self.control_written = 0;
        }
        encode_agency_message(message, DEFAULT_MAX_FRAME, &mut self.control)
            .expect("control frames are a few bytes");
    }

    /// Writes what is due: control frames first, then the batches the window
    /// and the schedule allow, until done or `WouldBlock`.
    pub(super) fn pump_write(&mut self, in_flight: usize) -> Result<(), Failure> {
        let Some(stream) = self.stream.as_mut() else {
            return Ok(());
        };
        // TLS bytes a full socket held back go first (nothing for TCP).
        stream
            .flush_tls()
            .map_err(|error| format!("write failed: {error}"))?;
        while self.control_written < self.control.len() {
            match stream.write(&self.control[self.control_written..]) {
                Ok(0) => return Err("the central closed the connection".into()),
                Ok(written) => self.control_written += written,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(format!("write failed: {error}")),
            }
        }
        if self.phase != Phase::Sending {
            return Ok(());
        }
        let allowed = self
            .released
            .min(self.acked + in_flight)
            .min(self.plan.batches());
        let due = self.plan.frames_through(allowed);
        while self.written < due.len() {
            match stream.write(&due[self.written..]) {
                Ok(0) => return Err("the central closed the connection".into()),
                Ok(written) => {
                    self.written += written;
                    let now = Instant::now();
                    while self.batches_written < allowed
                        && self.plan.batch_range(self.batches_written).end <= self.written
                    {
                        self.sent_at.push_back(now);
                        self.batches_written += 1;
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(format!("write failed: {error}")),
            }
        }
        Ok(())
    }

    /// Reads until `WouldBlock` and handles every whole message.
    pub(super) fn pump_read(&mut self, report: &mut ThreadReport) -> Result<(), Failure> {
        loop {
            let Some(stream) = self.stream.as_mut() else {
                return Ok(());
            };
            // TLS hands plaintext out a record at a time: a short read
            // says nothing about the socket, so TLS reads to `WouldBlock`.
            // Only Linux's epoll promises a new edge for bytes that arrive
            // after a short read (mio promises it after `WouldBlock`): the
            // central's `transport.rs` says more.
            let may_skip =
                !stream.is_tls() && cfg!(any(target_os = "linux", target_os = "android"));
            let mut source = Asked { stream, asked: 0 };
            match self.decoder.read_from(&mut source) {
                Ok(0) => {
                    return Err(format!(
                        "the central closed the connection ({:?})",
                        self.phase
                    ));
                }
                Ok(read) => {
                    // A read shorter than asked emptied the socket: the next
                    // bytes raise a new edge, so skip the read that would
                    // only say `WouldBlock`.
                    let drained = may_skip && read < source.asked && !self.end_seen;
                    while let Some(message) = self
                        .decoder
                        .next_central_message()
                        .map_err(|error| format!("undecodable frame from the central: {error}"))?
                    {
                        self.handle(message, report)?;
                        if self.is_over() {
                            return Ok(());
                        }
                    }
                    if drained {
                        return Ok(());
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(format!("read failed: {error}")),
            }
        }
    }

    pub(super) fn handle(
        &mut self,
        message: CentralMessage,
        report: &mut ThreadReport,
    ) -> Result<(), Failure> {
        match (self.phase, message) {
            // The receipts version's welcome is signed (not checked: see
            // `--receipts`).
            (
                Phase::Welcome,
                CentralMessage::Welcome {
                    last_batch,
                    finished,
                    ..
                }
                | CentralMessage::SignedWelcome {
                    resume:
                        ResumePoint {
                            last_batch,
                            finished,
                            ..
                        },
                    ..
                },
            ) => {
                if last_batch != 0 || finished {
                    return Err(format!(
                        "the central already holds batches of agency {} (start it on an empty store)",
                        self.id
                    ));
                }
                self.phase = Phase::Ready;
            }
            (
                Phase::Sending,
                CentralMessage::Ack { batch, .. } | CentralMessage::SignedAck { batch, .. },
            ) => {
                let expected = self.acked as u64 + 1;
                let Some(sent_at) = self.sent_at.pop_front().filter(|_| batch == expected) else {
                    return Err(format!("ack of batch {batch}, expected batch {expected}"));
                };
                let now = Instant::now();
                report.latencies.push(now - sent_at);
                report.last_ack = Some(now);
                self.acked += 1;
                if self.acked == self.plan.batches() {
                    report.bets += self.plan.bets();
                    self.start_finish();
                }
            }
            (
                Phase::Finishing,
                CentralMessage::Finished { bets_stored }
                | CentralMessage::SignedFinished { bets_stored, .. },
            ) => {
                if bets_stored != self.plan.bets() {
                    return Err(format!(
                        "the central stored {bets_stored} bets, {} were sent",
                        self.plan.bets()
                    ));
                }
                self.queue(&AgencyMessage::WinnersQuery { wait: true });
                self.phase = Phase::Winners;
            }
            (Phase::Winners, CentralMessage::Winners { documents, last }) => {
                self.winners += documents.len() as u64;
                // More than its bets can win, or a frame that adds nothing
                // and is not the last: a broken central, which would
                // otherwise keep this connection reading without end.
                if self.winners > self.plan.winners() {
                    return Err(format!(
                        "{} winners answered or more, {} bets play the winning number",
                        self.winners,
                        self.plan.winners()
                    ));
                }
                if documents.is_empty() && !last {
                    return Err("a Winners frame that is not the last holds no document".into());
                }
                if last {
                    if self.winners != self.plan.winners() {
                        return Err(format!(
                            "{} winners answered, {} bets play the winning number",
                            self.winners,
                            self.plan.winners()
                        ));
                    }
                    report.winners += self.winners;
                    report.last_winners = Some(Instant::now());
                    self.phase = Phase::Done;
                }
            }
            // The receipts version's signed draw, after the last winners
            // frame (not checked: see `--receipts`).
            (Phase::Done, CentralMessage::SignedDraw { .. }) => {}
            (_, CentralMessage::Error(error)) => {
                return Err(format!("error {:?}: {}", error.code, error.message));
            }
            (phase, message) => {
                return Err(format!("unexpected {message:?} while {phase:?}"));
            }
        }
        Ok(())
    }

    pub(super) fn start_finish(&mut self) {
        self.queue(&AgencyMessage::Finish {
            bets_sent: self.plan.bets(),
        });
        self.phase = Phase::Finishing;
    }
}

/// A socket as a reader that remembers how much the last read asked for.
struct Asked<'a> {
    stream: &'a mut Wire,
    asked: usize,
}

impl io::Read for Asked<'_> {
    fn read(&mut self, into: &mut [u8]) -> io::Result<usize> {
        self.asked = into.len();
        self.stream.read(into)
    }
}
