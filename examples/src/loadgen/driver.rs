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
use std::collections::BinaryHeap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lottery_bet::AgencyId;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use super::connection::{Agency, Failure, Phase};
use super::plan::SessionPlan;
use super::schedule::Schedule;
use super::shared::{RunShared, ThreadReport};
use super::wire::Wire;

/// How long a client thread waits without any event before it declares the
/// central gone.
const IDLE_TIMEOUT: Duration = Duration::from_secs(120);

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
                let session = match self.shared.session(self.positions[index]) {
                    Ok(session) => session,
                    Err(why) => {
                        self.fail(index, format!("TLS setup failed: {why}"));
                        continue;
                    }
                };
                match connect(&self.poll, self.shared.server, index) {
                    Ok(stream) => {
                        self.agencies[index].stream = Some(Wire::new(stream, session));
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
                if (event.is_read_closed() || event.is_error())
                    && let Some(agency) = self.agencies.get_mut(event.token().0)
                {
                    agency.end_seen = true;
                }
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
            let (acked, finished) = (agency.acked, agency.has_finished());
            outcome = agency.pump_read(&mut self.report);
            let progress = &self.shared.progress;
            if agency.acked > acked {
                progress.acked(
                    agency.plan.bets_through(agency.acked) - agency.plan.bets_through(acked),
                );
            }
            if agency.has_finished() && !finished {
                progress.finished();
            }
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
            if agency.phase == Phase::Done {
                stream.close_notify();
            }
            let _ = self.poll.registry().deregister(stream.tcp());
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
