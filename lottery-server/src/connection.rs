//! One accepted socket with its buffers: the decoder for what came in, the
//! output for what must go out, and the readiness the loop has seen.
//!
//! The loop is edge-triggered (mio), so a connection remembers that it may
//! still be readable or writable until a read or write says `WouldBlock`.
//! A connection never deregisters itself: it reports, and the loop decides.

use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr};
use std::time::Instant;

use lottery_net::{CentralMessage, Decoder, ErrorFrame, encode_central_message};
use mio::net::TcpStream;

use crate::session::Session;

/// A socket as a reader that remembers how much the last read asked for.
struct Asked<'a> {
    stream: &'a mut TcpStream,
    asked: usize,
}

impl io::Read for Asked<'_> {
    fn read(&mut self, into: &mut [u8]) -> io::Result<usize> {
        self.asked = into.len();
        self.stream.read(into)
    }
}

/// Unsent output above which the connection is not read (backpressure): a
/// peer that does not read its answers stops being served before it can make
/// the central buffer without bound.
pub(crate) const OUTPUT_HIGH_WATER: usize = 64 * 1024;

/// Output capacity kept by an idle connection (a few acks' worth); more,
/// after a long winners answer say, is given back.
const IDLE_OUTPUT_CAPACITY: usize = 4 * 1024;

/// What one read brought.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadOutcome {
    /// Bytes arrived (in the decoder).
    Data(usize),
    /// Nothing more for now.
    WouldBlock,
    /// The peer closed its side.
    Closed,
}

/// Where the connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lifecycle {
    /// Serving.
    Open,
    /// Its last answer is being sent; input is read and discarded. Once the
    /// output is sent the write side is shut (the peer sees the end of the
    /// stream right after the last answer), and the socket is dropped when the
    /// peer closes too or the deadline passes. Discarding instead of closing
    /// at once avoids a reset that could destroy the answer in flight.
    Closing {
        /// When to drop it regardless.
        deadline: Instant,
        /// The write side is already shut.
        write_shut: bool,
    },
}

/// An accepted connection.
#[derive(Debug)]
pub(crate) struct Connection {
    pub stream: TcpStream,
    pub peer: SocketAddr,
    pub decoder: Decoder,
    pub session: Session,
    /// Bytes to send; `output[sent..]` is still unsent.
    pub output: Vec<u8>,
    sent: usize,
    /// A read may still find bytes (no `WouldBlock` since the last readable
    /// event).
    pub readable: bool,
    /// The peer closed its write side.
    pub peer_closed: bool,
    /// The poll reported the end of the stream (or an error): read until
    /// the read says so.
    pub end_seen: bool,
    pub lifecycle: Lifecycle,
    pub accepted_at: Instant,
    /// The last time a whole frame arrived (idle timeout).
    pub last_frame_at: Instant,
    /// The agency whose winners are in the output: it counts as served once
    /// they are sent.
    pub winners_unsent: Option<lottery_core::AgencyId>,
    /// Already in the loop's work list.
    pub scheduled: bool,
    /// Reading stopped because the output backed up; resume once it drains.
    pub paused: bool,
    /// The agency the handshake bound the connection to (kept after the
    /// session ends, to unregister it).
    pub agency: Option<lottery_core::AgencyId>,
    /// Why the connection is closing (for the `close_connection` line).
    pub close_reason: Option<String>,
    /// The socket failed: drop it without sending anything more.
    pub failure: Option<io::Error>,
    /// The loop removes the connection, for this reason, as soon as the
    /// completer answered its batches in flight.
    pub removal: Option<String>,
}

impl Connection {
    pub(crate) fn new(stream: TcpStream, peer: SocketAddr, max_frame: usize, now: Instant) -> Self {
        Self {
            stream,
            peer,
            decoder: Decoder::new(max_frame),
            session: Session::new(),
            output: Vec::new(),
            sent: 0,
            readable: true,
            peer_closed: false,
            end_seen: false,
            lifecycle: Lifecycle::Open,
            accepted_at: now,
            last_frame_at: now,
            winners_unsent: None,
            scheduled: false,
            paused: false,
            agency: None,
            close_reason: None,
            failure: None,
            removal: None,
        }
    }

    /// Bytes waiting to be sent.
    pub(crate) fn unsent(&self) -> usize {
        self.output.len() - self.sent
    }

    /// Too much output is waiting: do not read or decode more.
    pub(crate) fn is_backed_up(&self) -> bool {
        self.unsent() > OUTPUT_HIGH_WATER
    }

    pub(crate) fn is_closing(&self) -> bool {
        matches!(self.lifecycle, Lifecycle::Closing { .. })
    }

    /// One read into the decoder.
    ///
    /// # Errors
    /// The socket's error (the connection is broken).
    pub(crate) fn read_once(&mut self) -> io::Result<ReadOutcome> {
        loop {
            let mut source = Asked {
                stream: &mut self.stream,
                asked: 0,
            };
            return match self.decoder.read_from(&mut source) {
                Ok(0) => {
                    self.peer_closed = true;
                    self.readable = false;
                    Ok(ReadOutcome::Closed)
                }
                Ok(read) => {
                    // A read shorter than asked emptied the socket: what
                    // arrives next raises a new edge, so the read that would
                    // only say `WouldBlock` is saved (one system call per
                    // batch, with thousands of agencies). Not once the end of
                    // the stream was reported: it raises no further edge.
                    if read < source.asked && !self.end_seen {
                        self.readable = false;
                    }
                    Ok(ReadOutcome::Data(read))
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    self.readable = false;
                    Ok(ReadOutcome::WouldBlock)
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => Err(error),
            };
        }
    }

    /// For a session that takes no message now: reads what the decoder has
    /// room for (kept for later, in order), so that the end of the stream is
    /// seen even while the session waits. A peer that fills the decoder
    /// meanwhile is simply not read further until the session goes on.
    ///
    /// # Errors
    /// The socket's error.
    pub(crate) fn read_while_held(&mut self) -> io::Result<()> {
        while self.readable && self.decoder.buffered() < self.decoder.max_buffered() {
            if let ReadOutcome::WouldBlock | ReadOutcome::Closed = self.read_once()? {
                break;
            }
        }
        Ok(())
    }

    /// Reads and throws away what arrives (a closing connection), until
    /// `WouldBlock`, the end of the stream, or `budget` bytes. Returns whether
    /// more may be waiting.
    ///
    /// # Errors
    /// The socket's error.
    pub(crate) fn discard_input(&mut self, budget: usize) -> io::Result<bool> {
        let mut sink = [0u8; 4096];
        let mut discarded = 0;
        while self.readable && !self.peer_closed {
            if discarded >= budget {
                return Ok(true);
            }
            match io::Read::read(&mut self.stream, &mut sink) {
                Ok(0) => self.peer_closed = true,
                Ok(read) => discarded += read,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => self.readable = false,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        Ok(false)
    }

    /// Sends as much output as the socket takes. Returns whether everything
    /// was sent.
    ///
    /// # Errors
    /// The socket's error (the connection is broken).
    pub(crate) fn flush(&mut self) -> io::Result<bool> {
        while self.sent < self.output.len() {
            match self.stream.write(&self.output[self.sent..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(written) => self.sent += written,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        if self.sent == self.output.len() {
            // Keep the allocation for the next answers.
            self.output.clear();
            self.sent = 0;
            Ok(true)
        } else {
            if self.sent >= OUTPUT_HIGH_WATER {
                // Reclaim the sent front so a slow reader's buffer stays
                // bounded by what is really unsent.
                self.output.drain(..self.sent);
                self.sent = 0;
            }
            Ok(false)
        }
    }

    /// Gives the read buffer back while the connection has nothing to read
    /// or decode (the next bytes take a new one): ten thousand agencies
    /// between batches, or waiting for the draw, then hold no buffers.
    pub(crate) fn release_idle_buffers(&mut self) {
        if !self.readable && self.decoder.buffered() == 0 {
            self.decoder = Decoder::new(self.decoder.max_frame());
        }
        if self.unsent() == 0 && self.output.capacity() > IDLE_OUTPUT_CAPACITY {
            self.output = Vec::new();
        }
    }

    /// Starts closing: no more messages are taken; the output still goes out.
    pub(crate) fn start_closing(&mut self, deadline: Instant, reason: impl Into<String>) {
        if let Lifecycle::Open = self.lifecycle {
            self.close_reason = Some(reason.into());
            self.lifecycle = Lifecycle::Closing {
                deadline,
                write_shut: false,
            };
        }
    }

    /// For a closing connection: shuts the write side once the output is sent.
    /// Returns whether the socket can be dropped now (the peer closed too).
    pub(crate) fn advance_closing(&mut self) -> bool {
        let Lifecycle::Closing {
            deadline,
            write_shut,
        } = self.lifecycle
        else {
            return false;
        };
        if !write_shut && self.unsent() == 0 {
            // A failure means the socket is already gone, which is the goal.
            let _ = self.stream.shutdown(Shutdown::Write);
            self.lifecycle = Lifecycle::Closing {
                deadline,
                write_shut: true,
            };
        }
        matches!(
            self.lifecycle,
            Lifecycle::Closing {
                write_shut: true,
                ..
            }
        ) && self.peer_closed
    }
}

/// Tells a socket that will not become a connection why, best effort, and
/// drops it. A new socket's send buffer is empty, so the short frame goes out
/// in one write.
pub(crate) fn refuse(mut stream: TcpStream, refusal: ErrorFrame, max_frame: usize) {
    let mut frame = Vec::new();
    let error = CentralMessage::Error(refusal);
    if encode_central_message(&error, max_frame, &mut frame).is_ok() {
        let _ = stream.write(&frame);
    }
    let _ = stream.shutdown(Shutdown::Write);
}
