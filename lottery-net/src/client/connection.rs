//! One TCP connection to the central: connect with a timeout, handshake,
//! send frames, receive messages. No retry here (that is
//! [`AgencyClient`](super::AgencyClient)'s job), so a load generator can
//! drive connections its own way with pre-encoded frames.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use lottery_core::ResumePoint;

use super::{ClientConfig, Interrupter};
use crate::decoder::Decoder;
use crate::encoder::encode_agency_message;
use crate::error::ClientError;
use crate::message::{AgencyMessage, CentralMessage, PROTOCOL_VERSION};

/// A handshaken connection of one agency.
#[derive(Debug)]
pub struct Connection {
    stream: TcpStream,
    decoder: Decoder,
    max_frame: usize,
    /// Reused encoding buffer.
    out: Vec<u8>,
}

impl Connection {
    /// Connects to `config.server` (each resolved address in turn, each
    /// within `config.connect_timeout`), sends `Hello` and reads `Welcome`.
    ///
    /// # Errors
    /// [`ClientError::Connect`] when no address accepts; the handshake's I/O
    /// error; [`ClientError::Refused`] when the central refuses the agency or
    /// the version.
    pub fn open(config: &ClientConfig) -> Result<(Self, ResumePoint), ClientError> {
        Self::handshake(config, None)
    }

    /// [`Connection::open`], with the socket handed to `interrupter` as soon
    /// as it is connected, so that an interrupt also ends the wait for the
    /// welcome.
    pub(crate) fn open_interruptible(
        config: &ClientConfig,
        interrupter: &Interrupter,
    ) -> Result<(Self, ResumePoint), ClientError> {
        Self::handshake(config, Some(interrupter))
    }

    fn handshake(
        config: &ClientConfig,
        interrupter: Option<&Interrupter>,
    ) -> Result<(Self, ResumePoint), ClientError> {
        let stream = connect(&config.server, config.connect_timeout).map_err(|source| {
            ClientError::Connect {
                server: config.server.clone(),
                attempts: 1,
                source,
            }
        })?;
        if let Some(interrupter) = interrupter {
            interrupter.register(&stream);
        }
        stream.set_nodelay(true)?;
        stream.set_read_timeout(config.io_timeout)?;
        stream.set_write_timeout(config.io_timeout)?;
        let mut connection = Self {
            stream,
            decoder: Decoder::new(config.max_frame),
            max_frame: config.max_frame,
            out: Vec::new(),
        };
        connection.send(&AgencyMessage::Hello {
            version: PROTOCOL_VERSION,
            agency: config.agency.get(),
        })?;
        match connection.receive()? {
            CentralMessage::Welcome {
                last_batch,
                bets_stored,
                finished,
            } => Ok((
                connection,
                ResumePoint {
                    last_batch,
                    bets_stored,
                    finished,
                },
            )),
            CentralMessage::Error(error) => Err(ClientError::Refused(error)),
            other => Err(unexpected("Welcome", &other)),
        }
    }

    /// Encodes and sends one message.
    ///
    /// # Errors
    /// [`ClientError::Encode`] when it does not fit a frame; the write's error.
    pub fn send(&mut self, message: &AgencyMessage) -> Result<(), ClientError> {
        self.out.clear();
        encode_agency_message(message, self.max_frame, &mut self.out)?;
        self.stream.write_all(&self.out)?;
        Ok(())
    }

    /// Sends bytes already encoded as whole frames (a load generator's
    /// pre-encoded batches), however many writes it takes.
    ///
    /// # Errors
    /// The write's error.
    pub fn send_frames(&mut self, frames: &[u8]) -> io::Result<()> {
        self.stream.write_all(frames)
    }

    /// Blocks until the next message from the central.
    ///
    /// # Errors
    /// An I/O error (`UnexpectedEof` when the central closed the connection,
    /// `WouldBlock`/`TimedOut` on a timeout); [`ClientError::Decode`] on bytes
    /// that are not a frame.
    pub fn receive(&mut self) -> Result<CentralMessage, ClientError> {
        loop {
            if let Some(message) = self.decoder.next_central_message()? {
                return Ok(message);
            }
            match self.decoder.read_from(&mut self.stream) {
                Ok(0) => {
                    return Err(ClientError::Io(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the central closed the connection",
                    )));
                }
                Ok(_) => {}
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// The next message if it was already received (and buffered), without
    /// reading or blocking: a burst of acks is taken whole.
    ///
    /// # Errors
    /// [`ClientError::Decode`] on bytes that are not a frame.
    pub fn received(&mut self) -> Result<Option<CentralMessage>, ClientError> {
        Ok(self.decoder.next_central_message()?)
    }

    /// Changes how long [`Connection::receive`] may block (`None`: forever).
    ///
    /// # Errors
    /// The socket's error.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.stream.set_read_timeout(timeout)
    }

    /// The underlying socket (for its addresses, or to shut it down).
    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }
}

/// Connects to the first address of `server` that accepts.
fn connect(server: &str, timeout: Duration) -> io::Result<TcpStream> {
    let mut last = None;
    for address in server.to_socket_addrs()? {
        match connect_one(address, timeout) {
            Ok(stream) => return Ok(stream),
            Err(error) => last = Some(error),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("`{server}` resolves to no address"),
        )
    }))
}

fn connect_one(address: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
    if timeout.is_zero() {
        TcpStream::connect(address)
    } else {
        TcpStream::connect_timeout(&address, timeout)
    }
}

/// The error for an answer that does not fit the request.
pub(crate) fn unexpected(expected: &'static str, got: &CentralMessage) -> ClientError {
    // A long winners list is not worth a long error: its start says enough.
    const SHOWN: usize = 200;
    let mut got = format!("{got:?}");
    if got.len() > SHOWN {
        let mut end = SHOWN;
        while !got.is_char_boundary(end) {
            end -= 1;
        }
        got.truncate(end);
        got.push_str("...");
    }
    ClientError::UnexpectedAnswer { expected, got }
}
