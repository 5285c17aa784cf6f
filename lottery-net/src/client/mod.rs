//! A small blocking client for agencies (and Rust programs embedding one),
//! over `std::net`.
//!
//! [`AgencyClient`] connects (with a timeout) and handshakes, sends batches
//! with several in flight while it reads the acks, finishes, and asks for
//! the winners. When the connection drops (or the central says it is going
//! away) it reconnects with a bounded backoff and resumes from the point the
//! central reports: batches the central stored are not sent again, the ones
//! it did not store are resent unchanged, and nothing is skipped. It keeps
//! every unacked batch's frame for that. The bets a central already holds
//! when the agency starts are checked against the CRC32C of the rows it
//! stores before they are skipped (the private `resume` module), so a
//! changed sequence stops the client before it sends anything.
//!
//! Its memory is bounded whatever the central sends: every frame is read
//! within the frame limit (the decoder's [`Decoder::max_buffered`](crate::Decoder::max_buffered)),
//! and the one answer made of several frames, the winners, is bounded by the
//! bets the agency sent ([`AgencyClient::winners`]): a longer list, a
//! `Winners` frame that is neither last nor holds a document, or a winner
//! that is not a document is a [`ClientError::ProtocolViolation`].
//!
//! [`Connection`] is the layer below: one connection, no retry, for programs
//! that drive the protocol themselves (the load generator).

mod config;
mod connection;
mod interrupt;
mod jitter;
mod log;
mod receipts;
mod resume;
mod stream;

use std::collections::VecDeque;

use lottery_bet::{AgencyId, BatchDigest, Document, ResumePoint};
use lottery_tls::{Receipt, ReceiptSubject};

pub use self::config::{ClientConfig, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_IN_FLIGHT};
pub use self::connection::Connection;
use self::connection::unexpected;
pub use self::interrupt::Interrupter;
use self::jitter::Jitter;
use self::receipts::{Rules, check_receipt, missing, rules_of, same_rules, signed_draw};
use crate::batch::{BatchBuilder, BatchSource, PerBet, ToBatch};
use crate::checked::AgencyFrame;
use crate::decoder::Decoder;
use crate::error::ClientError;
use crate::message::{AgencyMessage, CentralMessage};

/// A batch sent and not yet acked, kept so it can be resent as it was.
#[derive(Debug)]
struct Pending {
    batch: u64,
    bets: u64,
    frame: Vec<u8>,
}

/// What an answer to a batch came to.
enum Answered {
    /// The oldest batch in flight is acked.
    Acked,
    /// The connection failed or the central refused: recover or give up.
    Failed(ClientError),
    /// The ack contradicts what was sent: give up.
    Mismatch(ClientError),
}

/// The digest of the batch in `frame` as the agency sent it (`None`: a
/// frame that does not decode as valid bets, which no central acks).
fn sent_digest(agency: AgencyId, frame: &[u8], max_frame: usize) -> Option<BatchDigest> {
    let mut decoder = Decoder::new(max_frame);
    decoder.extend(frame);
    match decoder.next_agency_frame() {
        Ok(Some(AgencyFrame::Batch(checked))) => {
            checked.bets.ok().map(|bets| BatchDigest::of(agency, &bets))
        }
        _ => None,
    }
}

/// The blocking client of one agency.
///
/// ```no_run
/// use lottery_bet::{AgencyFile, AgencyId};
/// use lottery_net::{AgencyClient, ClientConfig};
/// let config = ClientConfig::new("127.0.0.1:12345", AgencyId::new(1).unwrap());
/// let mut client = AgencyClient::connect(config)?;
/// let bets = AgencyFile::open("agency-1.csv")?.collect::<Result<Vec<_>, _>>()?;
/// let sent = client.send_bets(bets, |acked| eprintln!("{acked} bets stored"))?;
/// client.finish(sent)?;
/// let winners = client.winners(true)?.expect("a waiting query gets the winners");
/// println!("{} winners", winners.len());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct AgencyClient {
    config: ClientConfig,
    /// `None` after a failure, until the next reconnect.
    connection: Option<Connection>,
    /// Where the agency stands, as the central last reported it (`Welcome`)
    /// and as acks have advanced it since.
    resume: ResumePoint,
    /// Reconnects since the central last answered a request: what
    /// [`ClientConfig::reconnect_attempts`] bounds.
    failures: u32,
    /// Spreads the reconnect pauses below their ceilings.
    jitter: Jitter,
    interrupter: Interrupter,
    /// The bets this client told [`AgencyClient::finish`] it sent: the most
    /// winners the agency can have (`None` before a finish: then the
    /// central's count bounds them).
    bets_sent: Option<u64>,
    /// Receipts checked and not yet taken ([`AgencyClient::take_receipts`]).
    receipts: Vec<Receipt>,
    /// The rules the first signed welcome named (a receipts client, once
    /// connected): every later receipt must name them.
    rules: Option<Rules>,
}

impl AgencyClient {
    /// Connects and handshakes, retrying with backoff as configured.
    ///
    /// # Errors
    /// [`ClientError::Connect`] (or the last I/O error) when every attempt
    /// failed; [`ClientError::SilentPeer`] when the last attempt's peer
    /// accepted but did not handshake in time;
    /// [`ClientError::TlsProbablyRequired`] when every plaintext
    /// attempt was closed before its welcome; [`ClientError::Refused`] when
    /// the central refuses the agency (unknown agency, unsupported version,
    /// not authorized by its certificate); at once, without retrying, the
    /// TLS failures ([`ClientError::TlsServerCertificate`],
    /// [`ClientError::TlsRefused`], [`ClientError::NotTls`],
    /// [`ClientError::TlsSetup`], [`ClientError::Tls`]).
    pub fn connect(config: ClientConfig) -> Result<Self, ClientError> {
        Self::connect_interruptible(config, Interrupter::new())
    }

    /// [`AgencyClient::connect`], interruptible by `interrupter` from the
    /// start (while it waits for a central that is not up yet, say).
    ///
    /// # Errors
    /// As [`AgencyClient::connect`]; [`ClientError::Interrupted`].
    pub fn connect_interruptible(
        config: ClientConfig,
        interrupter: Interrupter,
    ) -> Result<Self, ClientError> {
        let mut client = Self {
            jitter: Jitter::seeded(config.jitter_seed),
            config,
            connection: None,
            resume: ResumePoint::default(),
            failures: 0,
            interrupter,
            bets_sent: None,
            receipts: Vec::new(),
            rules: None,
        };
        client.ensure_connected()?;
        log::connected(
            client.config.agency,
            client.resume.last_batch,
            client.resume.bets_stored,
            client.resume.finished,
        );
        Ok(client)
    }

    /// A handle that interrupts this client from another thread.
    pub fn interrupter(&self) -> Interrupter {
        self.interrupter.clone()
    }

    /// The receipts checked since the last call, in the order their
    /// answers came (none without [`ClientConfig::receipt_pubkey`]): one
    /// per welcome (the first before any batch is sent: it names the
    /// lottery's rules, a committed number's commitment among them), per
    /// batch acked and per finish recorded on this client's connections (a
    /// batch the central reports stored in a `Welcome`, after a lost ack,
    /// has none: a later receipt's head covers it), and the draw's. Every
    /// one names the rules of the first welcome.
    pub fn take_receipts(&mut self) -> Vec<Receipt> {
        std::mem::take(&mut self.receipts)
    }

    /// The settings.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Where the agency stands: the central's resume point from the last
    /// handshake, advanced by every ack since.
    pub fn resume_point(&self) -> ResumePoint {
        self.resume
    }

    /// Sends the agency's bets and returns once every one is acked (stored).
    ///
    /// `bets` is the agency's **whole** sequence of bets, from its first: the
    /// first `bets_stored` of them, which the central already holds (its
    /// resume point; a restarted agency program), are checked against the
    /// CRC32C of the rows it holds (when it says it) and skipped, and the next
    /// batch is numbered `last_batch + 1`. Bets are packed into frames up to
    /// the limit (or `batch_max`), `in_flight` batches are kept in flight,
    /// and `progress` is called with the number of the agency's bets stored
    /// so far after every ack. Returns how many bets the sequence held: what
    /// [`AgencyClient::finish`] is to be told.
    ///
    /// # Errors
    /// [`ClientError::Refused`] when the central refuses a batch (for
    /// [`ErrorCode::InvalidBet`](crate::ErrorCode::InvalidBet), with the bet
    /// and field); [`ClientError::ResumeMismatch`] when the central's resume
    /// point contradicts what was sent (or the sequence is shorter than what
    /// it stored); [`ClientError::StoredBetsDiffer`] when the bets it stored
    /// are not the first bets of the sequence (an edited file), before
    /// anything is sent; the last error once reconnecting gave up.
    pub fn send_bets<I, F>(&mut self, bets: I, progress: F) -> Result<u64, ClientError>
    where
        I: IntoIterator,
        I::Item: ToBatch,
        F: FnMut(u64),
    {
        self.send_from(&mut PerBet::new(bets.into_iter()), progress)
    }

    /// [`AgencyClient::send_bets`] of a [`BatchSource`]: the same batches,
    /// the same resume, the same errors; a source that holds its bets
    /// encoded ([`crate::EncodedIter`]) fills each batch with one copy.
    ///
    /// # Errors
    /// As [`AgencyClient::send_bets`].
    pub fn send_from<S, F>(&mut self, bets: &mut S, mut progress: F) -> Result<u64, ClientError>
    where
        S: BatchSource + ?Sized,
        F: FnMut(u64),
    {
        self.ensure_connected()?;
        let mut total = resume::skip_stored(
            bets,
            &self.resume,
            self.config.agency,
            self.config.max_frame,
        )?;
        if total < self.resume.bets_stored {
            return Err(ClientError::ResumeMismatch(format!(
                "the central stored {} bets of agency {}, but only {total} were given",
                self.resume.bets_stored, self.config.agency
            )));
        }
        let mut builder = BatchBuilder::new(self.config.max_frame, self.config.batch_max);
        let mut window: VecDeque<Pending> = VecDeque::new();
        let mut next_batch = self.resume.last_batch + 1;
        let mut exhausted = false;
        // The frames of the batches added to the window since the last write:
        // they leave together, in one write.
        let mut outgoing = Vec::new();
        let result = 'send: loop {
            // Refill the window as far as the acks freed it.
            outgoing.clear();
            while window.len() < self.config.in_flight.max(1) && !exhausted {
                match bets.fill(&mut builder) {
                    Ok((added, done)) => {
                        total += added;
                        exhausted = done;
                    }
                    Err(error) => break 'send Err(error.into()),
                }
                if builder.is_empty() {
                    break;
                }
                let bets = builder.len() as u64;
                let mut frame = Vec::with_capacity(builder.frame_len());
                builder.finish(next_batch, &mut frame);
                outgoing.extend_from_slice(&frame);
                window.push_back(Pending {
                    batch: next_batch,
                    bets,
                    frame,
                });
                next_batch += 1;
            }
            if !outgoing.is_empty() {
                let sent = self
                    .connected()
                    .and_then(|connection| Ok(connection.send_frames(&outgoing)?));
                if let Err(error) = sent {
                    // Resends every unacked batch, these included.
                    if let Err(error) = self.recover(error, &mut window, &mut progress) {
                        break 'send Err(error);
                    }
                }
            }
            if window.is_empty() {
                break Ok(total);
            }
            // Wait for one answer, then take every answer already received
            // too (the central acks the batches of one of its iterations
            // together) before refilling.
            let mut answer = self.connected().and_then(Connection::receive);
            loop {
                match self.take_ack(answer, &mut window, &mut progress) {
                    Answered::Acked => {}
                    Answered::Mismatch(error) => break 'send Err(error),
                    Answered::Failed(error) => {
                        if let Err(error) = self.recover(error, &mut window, &mut progress) {
                            break 'send Err(error);
                        }
                        break;
                    }
                }
                if window.is_empty() {
                    break;
                }
                answer = match self.connected().and_then(Connection::received) {
                    Ok(Some(message)) => Ok(message),
                    Ok(None) => break,
                    Err(error) => Err(error),
                };
            }
        };
        if result.is_err() {
            // Answers to the batches still in flight would confuse the next
            // request: start it on a fresh connection.
            self.connection = None;
        }
        result
    }

    /// The oldest batch in flight (number `batch`, of `bets` bets) acked with
    /// `bets_stored` bets at the central (and its checked `receipt`, in a receipts
    /// session): the resume point moves on and its place in the window is
    /// freed, unless the central stores fewer bets than were acked.
    fn acked(
        &mut self,
        (batch, bets): (u64, u64),
        bets_stored: u64,
        receipt: Option<Receipt>,
        window: &mut VecDeque<Pending>,
        progress: &mut impl FnMut(u64),
    ) -> Answered {
        let acked = self.resume.bets_stored + bets;
        if bets_stored < acked {
            return Answered::Mismatch(ClientError::ResumeMismatch(format!(
                "batch {batch} acked with {bets_stored} bets stored, expected {acked} or more"
            )));
        }
        self.receipts.extend(receipt);
        self.resume.last_batch = batch;
        self.resume.bets_stored = acked;
        self.failures = 0;
        window.pop_front();
        progress(acked);
        Answered::Acked
    }

    /// Applies one answer to the oldest batch in flight: its ack moves the
    /// resume point on and frees its place in the window.
    fn take_ack(
        &mut self,
        answer: Result<CentralMessage, ClientError>,
        window: &mut VecDeque<Pending>,
        progress: &mut impl FnMut(u64),
    ) -> Answered {
        let front = window
            .front()
            .expect("answers are awaited only with batches in flight");
        let receipts = self.config.receipt_pubkey;
        let error = match answer {
            Ok(CentralMessage::Ack { batch, bets_stored })
                if batch == front.batch && receipts.is_none() =>
            {
                return self.acked((batch, front.bets), bets_stored, None, window, progress);
            }
            Ok(CentralMessage::SignedAck {
                batch,
                bets_stored,
                digest,
                head,
            }) if batch == front.batch && receipts.is_some() => {
                let pubkey = receipts.expect("the arm's guard");
                let agency = self.config.agency;
                let sent = sent_digest(agency, &front.frame, self.config.max_frame);
                let receipt = Receipt {
                    agency,
                    subject: ReceiptSubject::Batch { batch, digest },
                    head,
                };
                if let Err(error) = check_receipt(&pubkey, &receipt, self.rules.as_ref(), sent) {
                    return Answered::Mismatch(error);
                }
                let bets = front.bets;
                return self.acked((batch, bets), bets_stored, Some(receipt), window, progress);
            }
            Ok(CentralMessage::Ack { batch, .. }) if receipts.is_some() => {
                return Answered::Mismatch(missing(
                    self.config.agency,
                    format!("batch {batch}"),
                    "acknowledged it",
                ));
            }
            Ok(CentralMessage::Error(error)) => ClientError::Refused(error),
            Ok(other) => unexpected("Ack", &other),
            Err(error) => error,
        };
        Answered::Failed(error)
    }

    /// Tells the central the agency sent `bets_sent` bets in total, and
    /// returns once it recorded it. Safe to repeat.
    ///
    /// # Errors
    /// [`ClientError::Refused`] with
    /// [`ErrorCode::CountMismatch`](crate::ErrorCode::CountMismatch) when the
    /// central stored another count; the last error once reconnecting gave up.
    pub fn finish(&mut self, bets_sent: u64) -> Result<(), ClientError> {
        self.bets_sent = Some(bets_sent);
        self.ensure_connected()?;
        loop {
            let answer = self.connected().and_then(|connection| {
                connection.send(&AgencyMessage::Finish { bets_sent })?;
                connection.receive()
            });
            let receipts = self.config.receipt_pubkey;
            let error = match answer {
                Ok(CentralMessage::Finished { .. }) if receipts.is_none() => {
                    self.resume.finished = true;
                    self.failures = 0;
                    return Ok(());
                }
                Ok(CentralMessage::SignedFinished { bets_stored, head }) if receipts.is_some() => {
                    let receipt = Receipt {
                        agency: self.config.agency,
                        subject: ReceiptSubject::Finish { bets: bets_stored },
                        head,
                    };
                    if let Some(pubkey) = &receipts {
                        check_receipt(pubkey, &receipt, self.rules.as_ref(), None)?;
                    }
                    self.receipts.push(receipt);
                    self.resume.finished = true;
                    self.failures = 0;
                    return Ok(());
                }
                Ok(CentralMessage::Finished { .. }) => {
                    return Err(missing(
                        self.config.agency,
                        "the finish".to_owned(),
                        "recorded it",
                    ));
                }
                Ok(CentralMessage::Error(error)) => ClientError::Refused(error),
                Ok(other) => unexpected("Finished", &other),
                Err(error) => error,
            };
            self.recover_request(error)?;
        }
    }

    /// Asks for the agency's winners: `Some(documents)` once the draw
    /// happened, in stored order; `None` when it has not and `wait` is false.
    /// With `wait`, the central holds the answer until the draw (for up to
    /// `winners_timeout`).
    ///
    /// The answer holds at most as many documents as the agency sent bets:
    /// the count this client told [`AgencyClient::finish`], or, without a
    /// finish, the bets the central reports stored for the agency. Each
    /// `Winners` frame but the last holds at least one document (so an
    /// answer takes a bounded number of frames), and each document is a DNI.
    ///
    /// # Errors
    /// [`ClientError::Refused`]; [`ClientError::ProtocolViolation`] when the
    /// answer breaks those rules (not retried); the last error once
    /// reconnecting gave up.
    pub fn winners(&mut self, wait: bool) -> Result<Option<Vec<String>>, ClientError> {
        self.ensure_connected()?;
        loop {
            let most = self.bets_sent.unwrap_or(self.resume.bets_stored);
            let agency = self.config.agency;
            let timeout = if wait {
                self.config.winners_timeout
            } else {
                self.config.io_timeout
            };
            let receipts = self.config.receipt_pubkey;
            let rules = self.rules;
            let answer = self.connected().and_then(|connection| {
                connection.set_read_timeout(timeout)?;
                connection.send(&AgencyMessage::WinnersQuery { wait })?;
                let mut winners = Vec::new();
                loop {
                    match connection.receive()? {
                        CentralMessage::Winners { documents, last } => {
                            check_winners(&documents, last, winners.len(), most, agency)?;
                            winners.extend(documents);
                            if last && receipts.is_none() {
                                return Ok(Ok(Some((winners, None))));
                            }
                            if last {
                                // The receipts version: the signed draw follows.
                                let draw = signed_draw(connection.receive()?, agency)?;
                                if let (Some(pubkey), Some(draw)) = (&receipts, &draw) {
                                    check_receipt(pubkey, draw, rules.as_ref(), None)?;
                                }
                                return Ok(Ok(Some((winners, draw))));
                            }
                        }
                        CentralMessage::NotDrawn if winners.is_empty() => return Ok(Ok(None)),
                        CentralMessage::Error(error) => return Ok(Err(error)),
                        other => return Err(unexpected("Winners", &other)),
                    }
                }
            });
            if let Some(connection) = &self.connection {
                // Back to the usual patience for whatever comes next; a
                // failure here shows up on the next read or write.
                let _ = connection.set_read_timeout(self.config.io_timeout);
            }
            let error = match answer {
                Ok(Ok(winners)) => {
                    self.failures = 0;
                    return Ok(winners.map(|(winners, draw)| {
                        self.receipts.extend(draw);
                        winners
                    }));
                }
                Ok(Err(error)) => ClientError::Refused(error),
                Err(error) => error,
            };
            self.recover_request(error)?;
        }
    }

    /// Closes the connection.
    pub fn close(mut self) {
        if let Some(connection) = self.connection.take() {
            connection.close();
        }
    }

    /// Connects again (with retries) when an earlier failure left no
    /// connection; the central's resume point replaces ours, since nothing is
    /// in flight between requests.
    fn ensure_connected(&mut self) -> Result<(), ClientError> {
        if self.connection.is_none() {
            if self.interrupter.is_interrupted() {
                return Err(ClientError::Interrupted);
            }
            self.resume = match Connection::open_interruptible(&self.config, &self.interrupter) {
                Ok((connection, resume)) => self.welcomed(connection, resume)?,
                // That connection attempt counts as the first of the run.
                Err(error) if is_recoverable(&error) => self.reconnect(error, 1)?,
                Err(error) => return Err(error),
            };
        }
        Ok(())
    }

    /// Takes a new connection's welcome (`resume`): in a receipts session,
    /// keeps its receipt (its signature checked by the handshake) and the
    /// rules it names, the first time, or checks that they are the first
    /// welcome's. Returns the resume point.
    ///
    /// # Errors
    /// [`ClientError::BadReceipt`] when a later welcome names other rules
    /// (the connection is then dropped).
    fn welcomed(
        &mut self,
        connection: Connection,
        resume: ResumePoint,
    ) -> Result<ResumePoint, ClientError> {
        if let Some(receipt) = connection.welcome_receipt() {
            match &self.rules {
                Some(rules) => {
                    if let Err(error) = same_rules(&receipt, rules) {
                        connection.close();
                        return Err(error);
                    }
                }
                None => self.rules = Some(rules_of(&receipt.head)),
            }
            self.receipts.push(receipt);
        }
        self.connection = Some(connection);
        Ok(resume)
    }

    /// The open connection. Within a request it is always there: every
    /// failure either reconnects or ends the request.
    fn connected(&mut self) -> Result<&mut Connection, ClientError> {
        self.connection.as_mut().ok_or_else(|| {
            ClientError::Io(std::io::Error::new(
                std::io::ErrorKind::NotConnected,
                "no connection to the central",
            ))
        })
    }

    /// After `error` on a request that is simply sent again (finish,
    /// winners): reconnects when the error allows it, else returns it.
    fn recover_request(&mut self, error: ClientError) -> Result<(), ClientError> {
        if self.interrupter.is_interrupted() {
            self.connection = None;
            return Err(ClientError::Interrupted);
        }
        if !is_recoverable(&error) {
            self.connection = None;
            return Err(error);
        }
        self.resume = self.reconnect(error, 0)?;
        Ok(())
    }

    /// After `error` while batches are in flight: reconnects when the error
    /// allows it, drops the kept batches the central reports stored, checks
    /// its count, and resends the others in order.
    fn recover(
        &mut self,
        mut error: ClientError,
        window: &mut VecDeque<Pending>,
        progress: &mut impl FnMut(u64),
    ) -> Result<(), ClientError> {
        loop {
            if self.interrupter.is_interrupted() {
                return Err(ClientError::Interrupted);
            }
            if !is_recoverable(&error) {
                return Err(error);
            }
            let central = self.reconnect(error, 0)?;
            let mut acked = self.resume;
            if central.last_batch < acked.last_batch {
                return Err(ClientError::ResumeMismatch(format!(
                    "the central reports batch {} as its last, but batch {} was acked",
                    central.last_batch, acked.last_batch
                )));
            }
            while let Some(front) = window.front() {
                if front.batch > central.last_batch {
                    break;
                }
                acked.last_batch = front.batch;
                acked.bets_stored += front.bets;
                window.pop_front();
            }
            if acked.last_batch != central.last_batch || acked.bets_stored != central.bets_stored {
                return Err(ClientError::ResumeMismatch(format!(
                    "the central reports batch {} and {} bets stored, but what was sent adds up to batch {} and {} bets",
                    central.last_batch, central.bets_stored, acked.last_batch, acked.bets_stored
                )));
            }
            self.resume = central;
            progress(central.bets_stored);
            let frames: Vec<u8> = window
                .iter()
                .flat_map(|p| p.frame.iter().copied())
                .collect();
            let resent = self
                .connected()
                .and_then(|connection| Ok(connection.send_frames(&frames)?));
            match resent {
                Ok(()) => {
                    if !window.is_empty() {
                        log::batches_resent(
                            self.config.agency,
                            window.front().map_or(0, |p| p.batch),
                            window.len(),
                        );
                    }
                    return Ok(());
                }
                Err(again) => error = again,
            }
        }
    }

    /// Drops the connection and connects again, with backoff, until the
    /// handshake succeeds or the reconnects run out. Returns the central's
    /// resume point.
    ///
    /// `attempts` is how many connection attempts of this run failed already
    /// (1 when `error` is a failed connection attempt, 0 when an open
    /// connection failed): every line and the final error count connection
    /// attempts the same way, so they agree (`attempt: 2` ... `attempt: 11`
    /// in the progress lines, then `attempts: 11` and "after 11 attempts").
    fn reconnect(
        &mut self,
        mut error: ClientError,
        mut attempts: u32,
    ) -> Result<ResumePoint, ClientError> {
        self.connection = None;
        loop {
            if self.interrupter.is_interrupted() {
                return Err(ClientError::Interrupted);
            }
            if self.failures >= self.config.reconnect_attempts {
                let error = self.given_up(error, attempts);
                log::reconnect_failed(self.config.agency, attempts, &error);
                return Err(error);
            }
            self.failures += 1;
            let attempt = attempts + 1;
            let ceiling = self.config.backoff(self.failures);
            let pause = self.jitter.pause(ceiling);
            log::reconnecting(
                self.config.agency,
                attempt,
                pause.as_millis(),
                ceiling.as_millis(),
                &error,
            );
            if self.interrupter.pause(pause) {
                return Err(ClientError::Interrupted);
            }
            match Connection::open_interruptible(&self.config, &self.interrupter) {
                Ok((connection, resume)) => {
                    let resume = self.welcomed(connection, resume)?;
                    log::reconnected(
                        self.config.agency,
                        attempt,
                        resume.last_batch,
                        resume.bets_stored,
                    );
                    return Ok(resume);
                }
                Err(again) if is_recoverable(&again) => {
                    error = again;
                    attempts = attempt;
                }
                Err(again) => return Err(again),
            }
        }
    }

    /// The error to return once reconnecting gave up after `attempts`
    /// connection attempts in a row, the last of which failed with `error`:
    /// the count goes into the error that has one.
    fn given_up(&self, error: ClientError, attempts: u32) -> ClientError {
        match error {
            ClientError::Connect { server, source, .. } => ClientError::Connect {
                server,
                attempts,
                source,
            },
            ClientError::SilentPeer { server, waited, .. } => ClientError::SilentPeer {
                server,
                waited,
                attempts,
            },
            // Only a plaintext handshake says this (see `Connection`).
            ClientError::ClosedBeforeWelcome(source) => ClientError::TlsProbablyRequired {
                server: self.config.server.clone(),
                attempts,
                source,
            },
            other => other,
        }
    }
}

/// Checks one `Winners` frame (`documents`, `last`) that would follow
/// `before` documents of the answer, for an agency that sent `most` bets.
///
/// # Errors
/// [`ClientError::ProtocolViolation`]: more documents than `most` in all, a
/// frame that is not the last and holds none, a document that is not a DNI.
fn check_winners(
    documents: &[String],
    last: bool,
    before: usize,
    most: u64,
    agency: lottery_bet::AgencyId,
) -> Result<(), ClientError> {
    let violation = |why: String| Err(ClientError::ProtocolViolation(why));
    if documents.is_empty() && !last {
        return violation("a Winners frame that is not the last holds no document".to_owned());
    }
    let total = before as u64 + documents.len() as u64;
    if total > most {
        return violation(format!(
            "the winners of agency {agency} run to {total} documents or more, but it sent {most} bets"
        ));
    }
    if let Some((index, _)) = documents
        .iter()
        .enumerate()
        .find(|(_, document)| Document::new(document.as_str()).is_err())
    {
        return violation(format!(
            "winner {} of agency {agency} is not a document (1 to 20 digits)",
            before + index + 1
        ));
    }
    Ok(())
}

/// Whether reconnecting and resuming may get past `error`: the connection
/// failed, or the central is going away or could not store.
fn is_recoverable(error: &ClientError) -> bool {
    match error {
        ClientError::Io(_)
        | ClientError::Connect { .. }
        | ClientError::SilentPeer { .. }
        | ClientError::ClosedBeforeWelcome(_) => true,
        ClientError::Refused(error) => error.code.is_retryable(),
        _ => false,
    }
}
