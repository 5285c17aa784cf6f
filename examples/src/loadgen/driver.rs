//! The client event loop: one mio `Poll` per client thread, driving many agency
//! connections, so 10,000 agencies need a few threads, not 10,000.
//!
//! Each connection runs the whole session: handshake, batches (at most
//! `in_flight` unacknowledged, released by the rate schedule), finish, and a
//! winners query held until the draw. A run has two phases, separated by a
//! barrier over all client threads: every agency connects and handshakes;
//! then the clock starts and batches flow. So `elapsed_s` measures ingest, not
//! thousands of TCP handshakes.
//!
//! Frames are written straight from the pre-encoded [`SessionPlan`]: batches
//! are contiguous there, so one `write` can carry several of them. Events are
//! edge-triggered: every read and write is drained to `WouldBlock`.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier, OnceLock};
use std::time::{Duration, Instant};

use lottery_core::AgencyId;
use lottery_net::{
    AgencyMessage, CentralMessage, DEFAULT_MAX_FRAME, Decoder, PROTOCOL_VERSION,
    encode_agency_message,
};
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use super::plan::SessionPlan;

/// How long a client thread waits without any event before it declares the
/// central gone.
const IDLE_TIMEOUT: Duration = Duration::from_secs(120);

/// What every client thread shares.
#[derive(Debug)]
pub struct RunShared {
    /// The central.
    pub server: SocketAddr,
    /// Batches in flight per agency at most.
    pub in_flight: usize,
    /// Offered bets/s over all agencies (0: no pacing).
    pub rate: u64,
    /// Agencies over all threads (the rate schedule spreads over them).
    pub agencies: u32,
    /// Connections opening at once per thread.
    pub connect_burst: usize,
    /// Every thread waits here once its agencies are handshaken.
    pub ready: Barrier,
    /// When batches started flowing (set by the first thread past `ready`).
    pub ingest_start: OnceLock<Instant>,
    /// Connections open now, over all threads.
    pub open: AtomicU64,
    /// The most connections open at once.
    pub open_peak: AtomicU64,
}

impl RunShared {
    fn opened(&self) {
        let open = self.open.fetch_add(1, Ordering::Relaxed) + 1;
        self.open_peak.fetch_max(open, Ordering::Relaxed);
    }

    fn closed(&self) {
        self.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One client thread's results.
#[derive(Debug, Default)]
pub struct ThreadReport {
    /// Latency of every acknowledged batch.
    pub latencies: Vec<Duration>,
    /// Bets acknowledged.
    pub bets: u64,
    /// When the last batch of this thread was acknowledged.
    pub last_ack: Option<Instant>,
    /// When the last agency of this thread got its winners.
    pub last_winners: Option<Instant>,
    /// Winners answered.
    pub winners: u64,
    /// Agencies that failed, with why.
    pub failures: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
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

struct Agency {
    id: AgencyId,
    plan: Arc<SessionPlan>,
    phase: Phase,
    stream: Option<TcpStream>,
    decoder: Decoder,
    /// Control frames (hello, finish, query) not yet written.
    control: Vec<u8>,
    control_written: usize,
    /// Bytes of the plan's frames written.
    written: usize,
    /// Batches whose last byte was written.
    batches_written: usize,
    /// Batches the rate schedule allows to be sent.
    released: usize,
    acked: usize,
    /// When each written, unacknowledged batch was written.
    sent_at: VecDeque<Instant>,
    winners: u64,
    /// Whether this connection counts in [`RunShared::open`].
    counted_open: bool,
}

/// Why an agency failed.
type Failure = String;

impl Agency {
    fn new(id: AgencyId, plan: Arc<SessionPlan>) -> Self {
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
        }
    }

    fn is_over(&self) -> bool {
        matches!(self.phase, Phase::Done | Phase::Failed)
    }

    fn is_handshaking(&self) -> bool {
        matches!(self.phase, Phase::Connecting | Phase::Welcome)
    }

    /// Advances a connecting or handshaking agency on one of its events.
    fn handshake_step(&mut self, shared: &RunShared) -> Result<(), Failure> {
        if self.phase == Phase::Connecting {
            let stream = self
                .stream
                .as_ref()
                .expect("a connecting agency has a stream");
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
                version: PROTOCOL_VERSION,
                agency: self.id.get(),
            });
            self.phase = Phase::Welcome;
        }
        self.pump_write(shared.in_flight)?;
        // Nothing but the welcome can arrive before the first batch, so no
        // report is needed yet.
        self.pump_read(&mut ThreadReport::default())
    }

    fn queue(&mut self, message: &AgencyMessage) {
        if self.control_written == self.control.len() {
            self.control.clear();
            self.control_written = 0;
        }
        encode_agency_message(message, DEFAULT_MAX_FRAME, &mut self.control)
            .expect("control frames are a few bytes");
    }

    /// Writes what is due: control frames first, then the batches the window
    /// and the schedule allow, until done or `WouldBlock`.
    fn pump_write(&mut self, in_flight: usize) -> Result<(), Failure> {
        let Some(stream) = self.stream.as_mut() else {
            return Ok(());
        };
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
    fn pump_read(&mut self, report: &mut ThreadReport) -> Result<(), Failure> {
        loop {
            let Some(stream) = self.stream.as_mut() else {
                return Ok(());
            };
            match self.decoder.read_from(stream) {
                Ok(0) => {
                    return Err(format!(
                        "the central closed the connection ({:?})",
                        self.phase
                    ));
                }
                Ok(_) => {
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
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(format!("read failed: {error}")),
            }
        }
    }

    fn handle(
        &mut self,
        message: CentralMessage,
        report: &mut ThreadReport,
    ) -> Result<(), Failure> {
        match (self.phase, message) {
            (
                Phase::Welcome,
                CentralMessage::Welcome {
                    last_batch,
                    finished,
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
            (Phase::Sending, CentralMessage::Ack { batch, .. }) => {
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
            (Phase::Finishing, CentralMessage::Finished { bets_stored }) => {
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
            (_, CentralMessage::Error(error)) => {
                return Err(format!("error {:?}: {}", error.code, error.message));
            }
            (phase, message) => {
                return Err(format!("unexpected {message:?} while {phase:?}"));
            }
        }
        Ok(())
    }

    fn start_finish(&mut self) {
        self.queue(&AgencyMessage::Finish {
            bets_sent: self.plan.bets(),
        });
        self.phase = Phase::Finishing;
    }
}

/// The rate schedule: batch `k` of the agency at global position `i` (of
/// `n`) is released at `start + (k * n + i) * interval / n`, where `interval`
/// is one agency's time between batches. Agencies are thus spread evenly in
/// time, and so is the offered load.
#[derive(Debug, Clone, Copy)]
struct Schedule {
    /// One agency's time between two batches.
    interval: Duration,
    agencies: u32,
}

impl Schedule {
    fn new(rate: u64, agencies: u32, batch_size: usize) -> Option<Self> {
        (rate > 0).then(|| Self {
            interval: Duration::from_secs_f64(
                batch_size as f64 * f64::from(agencies) / rate as f64,
            ),
            agencies,
        })
    }

    /// When the agency at `position` gets its batch number `released` (from 0).
    fn next_release(&self, position: u32, released: usize) -> Duration {
        let offset = self
            .interval
            .mul_f64(f64::from(position) / f64::from(self.agencies));
        offset + self.interval.mul_f64(released as f64)
    }
}

/// Drives `agencies` (each with its global position for the schedule) to the
/// end of their sessions.
///
/// # Errors
/// Only when the poller itself fails; agencies' failures are in the report.
pub fn drive(
    shared: &RunShared,
    agencies: Vec<(u32, AgencyId, Arc<SessionPlan>)>,
    batch_size: usize,
) -> io::Result<ThreadReport> {
    let mut thread = ClientThread {
        poll: Poll::new()?,
        shared,
        positions: agencies.iter().map(|(position, ..)| *position).collect(),
        remaining: agencies.len(),
        agencies: agencies
            .into_iter()
            .map(|(_, id, plan)| Agency::new(id, plan))
            .collect(),
        report: ThreadReport::default(),
    };
    let mut events = Events::with_capacity(1024);
    thread.handshake_all(&mut events)?;
    shared.ready.wait();
    let start = *shared.ingest_start.get_or_init(Instant::now);
    thread.send_all(
        &mut events,
        start,
        Schedule::new(shared.rate, shared.agencies, batch_size),
    )?;
    Ok(thread.report)
}

/// One client thread's connections and what it measured.
struct ClientThread<'a> {
    poll: Poll,
    shared: &'a RunShared,
    agencies: Vec<Agency>,
    /// Each agency's position over all threads, for the schedule.
    positions: Vec<u32>,
    /// Agencies neither done nor failed.
    remaining: usize,
    report: ThreadReport,
}

impl ClientThread<'_> {
    /// Phase 1: connects and handshakes every agency, a burst at a time.
    fn handshake_all(&mut self, events: &mut Events) -> io::Result<()> {
        let mut next = 0;
        let mut pending = 0;
        loop {
            while pending < self.shared.connect_burst && next < self.agencies.len() {
                let index = next;
                next += 1;
                match connect(&self.poll, self.shared.server, index) {
                    Ok(stream) => {
                        self.agencies[index].stream = Some(stream);
                        self.agencies[index].phase = Phase::Connecting;
                        pending += 1;
                    }
                    Err(error) => self.fail(index, format!("connect failed: {error}")),
                }
            }
            if pending == 0 && next == self.agencies.len() {
                return Ok(());
            }
            poll_once(&mut self.poll, events, Some(IDLE_TIMEOUT))?;
            if events.is_empty() {
                for index in 0..self.agencies.len() {
                    if self.agencies[index].is_handshaking() {
                        pending -= 1;
                        self.fail(index, "the handshake timed out".into());
                    }
                }
                continue;
            }
            for event in events.iter() {
                let index = event.token().0;
                if !self.agencies[index].is_handshaking() {
                    continue;
                }
                if let Err(why) = self.agencies[index].handshake_step(self.shared) {
                    self.fail(index, why);
                }
                if !self.agencies[index].is_handshaking() {
                    pending -= 1;
                }
            }
        }
    }

    /// Phase 2: batches, finish and winners for every handshaken agency.
    fn send_all(
        &mut self,
        events: &mut Events,
        start: Instant,
        schedule: Option<Schedule>,
    ) -> io::Result<()> {
        // Release times, earliest first (only with a rate).
        let mut releases = BinaryHeap::new();
        for index in 0..self.agencies.len() {
            let agency = &mut self.agencies[index];
            if agency.phase != Phase::Ready {
                continue;
            }
            agency.phase = Phase::Sending;
            if agency.plan.batches() == 0 {
                agency.start_finish();
            }
            match schedule {
                None => agency.released = usize::MAX,
                Some(schedule) => {
                    let at = schedule.next_release(self.positions[index], 0);
                    releases.push(Reverse((at, index)));
                }
            }
            self.step(index, false);
        }
        let mut last_event = Instant::now();
        while self.remaining > 0 {
            let elapsed = start.elapsed();
            while let Some(&Reverse((at, index))) = releases.peek() {
                if at > elapsed {
                    break;
                }
                releases.pop();
                let agency = &mut self.agencies[index];
                if agency.phase != Phase::Sending {
                    continue;
                }
                agency.released += 1;
                if agency.released < agency.plan.batches() {
                    let schedule = schedule.expect("releases exist only with a schedule");
                    let next = schedule.next_release(self.positions[index], agency.released);
                    releases.push(Reverse((next, index)));
                }
                self.step(index, false);
            }
            let mut timeout = IDLE_TIMEOUT.saturating_sub(last_event.elapsed());
            if let Some(&Reverse((at, _))) = releases.peek() {
                timeout = timeout.min(at.saturating_sub(start.elapsed()));
            }
            poll_once(&mut self.poll, events, Some(timeout))?;
            if events.is_empty() {
                if last_event.elapsed() >= IDLE_TIMEOUT {
                    for index in 0..self.agencies.len() {
                        if !self.agencies[index].is_over() {
                            self.fail(index, "the central stopped answering".into());
                        }
                    }
                }
                continue;
            }
            last_event = Instant::now();
            for event in events.iter() {
                let readable = event.is_readable() || event.is_read_closed() || event.is_error();
                self.step(event.token().0, readable);
            }
        }
        Ok(())
    }

    /// Reads (when told to) and writes what is due for agency `index`.
    fn step(&mut self, index: usize, readable: bool) {
        let agency = &mut self.agencies[index];
        if agency.is_over() {
            return;
        }
        let mut outcome = Ok(());
        if readable {
            outcome = agency.pump_read(&mut self.report);
        }
        if outcome.is_ok() && !agency.is_over() {
            outcome = agency.pump_write(self.shared.in_flight);
        }
        match outcome {
            Err(why) => self.fail(index, why),
            Ok(()) if agency.phase == Phase::Done => {
                self.close(index);
                self.remaining -= 1;
            }
            Ok(()) => {}
        }
    }

    fn close(&mut self, index: usize) {
        let agency = &mut self.agencies[index];
        if let Some(mut stream) = agency.stream.take() {
            let _ = self.poll.registry().deregister(&mut stream);
            if agency.counted_open {
                self.shared.closed();
            }
        }
    }

    fn fail(&mut self, index: usize, why: Failure) {
        self.close(index);
        let agency = &mut self.agencies[index];
        agency.phase = Phase::Failed;
        self.remaining -= 1;
        self.report
            .failures
            .push(format!("agency {}: {why}", agency.id));
    }
}

fn poll_once(poll: &mut Poll, events: &mut Events, timeout: Option<Duration>) -> io::Result<()> {
    match poll.poll(events, timeout) {
        Err(error) if error.kind() == io::ErrorKind::Interrupted => {
            events.clear();
            Ok(())
        }
        other => other,
    }
}

fn connect(poll: &Poll, server: SocketAddr, index: usize) -> io::Result<TcpStream> {
    let mut stream = TcpStream::connect(server)?;
    poll.registry().register(
        &mut stream,
        Token(index),
        Interest::READABLE | Interest::WRITABLE,
    )?;
    Ok(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_spreads_agencies_evenly_over_one_interval() {
        // 4 agencies, 10 bets a batch, 400 bets/s: each agency sends a batch
        // every 100 ms, and the four are 25 ms apart.
        let schedule = Schedule::new(400, 4, 10).unwrap();
        assert_eq!(schedule.interval, Duration::from_millis(100));
        assert_eq!(schedule.next_release(0, 0), Duration::ZERO);
        assert_eq!(schedule.next_release(1, 0), Duration::from_millis(25));
        assert_eq!(schedule.next_release(3, 1), Duration::from_millis(175));
        assert_eq!(schedule.next_release(2, 3), Duration::from_millis(350));
        assert!(Schedule::new(0, 4, 10).is_none());
    }

    #[test]
    fn the_schedule_offers_the_requested_rate() {
        let schedule = Schedule::new(1_000_000, 1_000, 150).unwrap();
        let second = Duration::from_secs(1);
        let batches = (0..1_000)
            .map(|i| {
                (0..)
                    .take_while(|&k| schedule.next_release(i, k) < second)
                    .count()
            })
            .sum::<usize>();
        let bets = batches * 150;
        assert!((999_000..=1_001_000).contains(&bets), "{bets}");
    }
}
