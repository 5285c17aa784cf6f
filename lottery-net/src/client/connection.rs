//! One TCP connection to the central: connect with a timeout, handshake,
//! send frames, receive messages. No retry here (that is
//! [`AgencyClient`](super::AgencyClient)'s job), so a load generator can
//! drive connections its own way with pre-encoded frames.
//!
//! With [`ClientConfig::tls`] set, the TLS handshake is completed right after
//! the TCP connect, before `Hello`: a certificate problem surfaces as such
//! ([`ClientError::TlsServerCertificate`], [`ClientError::TlsRefused`]), not
//! as a later I/O error.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use lottery_bet::ResumePoint;
use lottery_tls::{Receipt, ReceiptSubject};

use super::receipts::{check_receipt, missing};
use super::stream::Stream;
use super::{ClientConfig, Interrupter};
use crate::decoder::Decoder;
use crate::encoder::encode_agency_message;
use crate::error::ClientError;
use crate::message::{AgencyMessage, CentralMessage, PROTOCOL_VERSION, RECEIPTS_VERSION};

/// A handshaken connection of one agency.
#[derive(Debug)]
pub struct Connection {
    stream: Stream,
    decoder: Decoder,
    max_frame: usize,
    /// Reused encoding buffer.
    out: Vec<u8>,
    /// The receipt of the central's `SignedWelcome`, its signature checked
    /// (`None`: a version-2 session).
    welcome: Option<Receipt>,
}

impl Connection {
    /// Connects to `config.server` (each of its comma-separated entries in
    /// order, each resolved address in turn, each within
    /// `config.connect_timeout`), completes the TLS handshake when
    /// `config.tls` is set, sends `Hello` and reads `Welcome`. With
    /// [`ClientConfig::receipt_pubkey`] it asks for the receipts version
    /// and reads a `SignedWelcome` whose signature must verify under that
    /// key ([`Connection::welcome_receipt`] holds its receipt).
    ///
    /// # Errors
    /// [`ClientError::Connect`] when no address accepts;
    /// [`ClientError::SilentPeer`] when the peer does not complete the
    /// handshake within `config.handshake_timeout`; the handshake's I/O
    /// error ([`ClientError::ClosedBeforeWelcome`] when a plaintext
    /// connection is closed before the welcome); [`ClientError::Refused`]
    /// when the central refuses the agency or the version; for TLS,
    /// [`ClientError::TlsSetup`], [`ClientError::TlsServerCertificate`],
    /// [`ClientError::TlsRefused`], [`ClientError::NotTls`] or
    /// [`ClientError::Tls`]; with receipts, [`ClientError::BadReceipt`] for
    /// a plain `Welcome` or a `SignedWelcome` whose signature does not
    /// verify.
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
        let (stream, server) =
            connect(&config.server, config.connect_timeout).map_err(|source| {
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
        // The handshake's own patience (a peer that accepts and says nothing
        // is told apart within seconds), then the usual one.
        let patience = handshake_patience(config);
        stream.set_read_timeout(patience)?;
        stream.set_write_timeout(patience)?;
        let silent = |error: ClientError| match error {
            ClientError::Io(io) if is_timeout(&io) => ClientError::SilentPeer {
                server: server.to_string(),
                // Set whenever a timeout can happen at all.
                waited: patience.unwrap_or_default(),
                attempts: 1,
            },
            other => other,
        };
        let stream = match &config.tls {
            Some(tls) => Stream::Tls(Box::new(
                tls_handshake(tls, server, stream).map_err(silent)?,
            )),
            None => Stream::Plain(stream),
        };
        let mut connection = Self {
            stream,
            decoder: Decoder::new(config.max_frame),
            max_frame: config.max_frame,
            out: Vec::new(),
            welcome: None,
        };
        let hello = AgencyMessage::Hello {
            version: if config.receipt_pubkey.is_some() {
                RECEIPTS_VERSION
            } else {
                PROTOCOL_VERSION
            },
            agency: config.agency.get(),
        };
        let welcome = match connection.send(&hello) {
            Ok(()) => connection.receive(),
            // In TLS 1.3 our side of the handshake ends before the central
            // has checked our certificate: its refusal (an alert) may be
            // waiting to be read behind the failed write.
            Err(ClientError::Io(error)) if connection.is_tls() => match connection.receive() {
                Err(refusal @ (ClientError::TlsRefused { .. } | ClientError::Tls(_))) => {
                    Err(refusal)
                }
                _ => Err(ClientError::Io(error)),
            },
            Err(error) => Err(error),
        };
        let welcome = match welcome {
            Err(ClientError::Io(error)) if config.tls.is_none() && is_closed(&error) => {
                return Err(ClientError::ClosedBeforeWelcome(error));
            }
            other => other.map_err(silent)?,
        };
        let tcp = connection.stream.tcp();
        tcp.set_read_timeout(config.io_timeout)?;
        tcp.set_write_timeout(config.io_timeout)?;
        let agency = config.agency;
        match (welcome, &config.receipt_pubkey) {
            (
                CentralMessage::Welcome {
                    last_batch,
                    bets_stored,
                    finished,
                    rows_crc,
                },
                None,
            ) => Ok((
                connection,
                ResumePoint {
                    last_batch,
                    bets_stored,
                    finished,
                    rows_crc,
                },
            )),
            (CentralMessage::SignedWelcome { resume, head }, Some(pubkey)) => {
                let receipt = Receipt {
                    agency,
                    subject: ReceiptSubject::Welcome {
                        bets: resume.bets_stored,
                    },
                    head,
                };
                // Whether it names the rules of an earlier welcome is the
                // client's to check: a connection knows no earlier one.
                check_receipt(pubkey, &receipt, None, None)?;
                connection.welcome = Some(receipt);
                Ok((connection, resume))
            }
            (CentralMessage::Welcome { .. }, Some(_)) => Err(missing(
                agency,
                "the welcome".to_owned(),
                "answered the handshake",
            )),
            (CentralMessage::Error(error), _) => Err(ClientError::Refused(error)),
            (other, _) => Err(unexpected("Welcome", &other)),
        }
    }

    /// The receipt of the central's signed welcome, its signature checked
    /// under [`ClientConfig::receipt_pubkey`]: the chain head as it stood at
    /// the handshake, with the lottery's rules (`None`: a version-2
    /// session). What an agency keeps first, before it sends a bet.
    pub fn welcome_receipt(&self) -> Option<Receipt> {
        self.welcome
    }

    /// Encodes and sends one message.
    ///
    /// # Errors
    /// [`ClientError::Encode`] when it does not fit a frame; the write's error.
    pub fn send(&mut self, message: &AgencyMessage) -> Result<(), ClientError> {
        self.out.clear();
        encode_agency_message(message, self.max_frame, &mut self.out)?;
        self.stream.write_all(&self.out)?;
        self.stream.flush()?;
        Ok(())
    }

    /// Sends bytes already encoded as whole frames (a load generator's
    /// pre-encoded batches), however many writes it takes.
    ///
    /// # Errors
    /// The write's error.
    pub fn send_frames(&mut self, frames: &[u8]) -> io::Result<()> {
        self.stream.write_all(frames)?;
        // TLS may hold the last record back; TCP's flush does nothing.
        self.stream.flush()
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
        self.stream.tcp().set_read_timeout(timeout)
    }

    /// The underlying TCP socket (for its addresses, or to shut it down;
    /// [`Connection::close`] also ends a TLS session cleanly).
    pub fn stream(&self) -> &TcpStream {
        self.stream.tcp()
    }

    /// Whether the connection speaks TLS.
    pub fn is_tls(&self) -> bool {
        matches!(self.stream, Stream::Tls(_))
    }

    /// Closes the connection (best effort: the central may be gone already).
    /// A TLS session is ended with a close_notify first, so that the central
    /// sees a clean end.
    pub fn close(mut self) {
        self.stream.shutdown();
    }
}

/// Completes the TLS handshake over `tcp`, connected to `server`.
fn tls_handshake(
    tls: &lottery_tls::ClientTls,
    server: &str,
    mut tcp: TcpStream,
) -> Result<rustls::StreamOwned<rustls::ClientConnection, TcpStream>, ClientError> {
    let name = tls
        .server_name_for(server)
        .map_err(|source| ClientError::TlsSetup {
            server: server.to_string(),
            source,
        })?;
    let mut session = tls
        .connect(server)
        .map_err(|source| ClientError::TlsSetup {
            server: server.to_string(),
            source,
        })?;
    while session.is_handshaking() {
        if let Err(error) = session.complete_io(&mut tcp) {
            if error.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(handshake_error(error, server, &name.to_str()));
        }
    }
    Ok(rustls::StreamOwned::new(session, tcp))
}

/// Classifies a failed TLS handshake: the central's certificate refused
/// here, bytes that are not TLS, or what [`ClientError`]'s `From` makes of it
/// (our certificate refused there, an I/O error).
fn handshake_error(error: io::Error, server: &str, name: &str) -> ClientError {
    match ClientError::from(error) {
        ClientError::Tls(source @ rustls::Error::InvalidCertificate(_)) => {
            ClientError::TlsServerCertificate {
                server: server.to_string(),
                name: name.to_string(),
                source,
            }
        }
        ClientError::Tls(
            source @ (rustls::Error::InvalidMessage(_)
            | rustls::Error::InappropriateMessage { .. }
            | rustls::Error::InappropriateHandshakeMessage { .. }),
        ) => ClientError::NotTls {
            server: server.to_string(),
            source,
        },
        other => other,
    }
}

/// The read and write timeout during the handshake: the handshake's, or the
/// usual one when that is shorter (`None`: no limit at all).
fn handshake_patience(config: &ClientConfig) -> Option<Duration> {
    let handshake = (!config.handshake_timeout.is_zero()).then_some(config.handshake_timeout);
    match (handshake, config.io_timeout) {
        (Some(handshake), Some(io)) => Some(handshake.min(io)),
        (handshake, io) => handshake.or(io),
    }
}

/// Whether `error` is a read or write timeout (`WouldBlock` on Unix,
/// `TimedOut` on Windows).
fn is_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Whether `error` says the central closed the connection (an end of
/// stream, a reset, a broken pipe).
fn is_closed(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

/// Connects to the first address that accepts of the first entry of
/// `server` that has one: `server` is one address or several separated by
/// commas (`A,B,...`: centrals sharing one ledger), tried in order. Returns
/// the stream and the entry it reached.
fn connect(server: &str, timeout: Duration) -> io::Result<(TcpStream, &str)> {
    let mut last = None;
    for entry in server
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
    {
        let addresses = match entry.to_socket_addrs() {
            Ok(addresses) => addresses,
            Err(error) => {
                last = Some(error);
                continue;
            }
        };
        for address in addresses {
            match connect_one(address, timeout) {
                Ok(stream) => return Ok((stream, entry)),
                Err(error) => last = Some(error),
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_of_centrals_is_tried_in_order_and_the_one_reached_is_named() {
        let live = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let dead_address = dead.local_addr().unwrap();
        drop(dead);
        let live_address = live.local_addr().unwrap().to_string();
        let list = format!("{dead_address}, {live_address}");
        let (stream, reached) = connect(&list, Duration::from_secs(5)).unwrap();
        assert_eq!(reached, live_address);
        assert_eq!(stream.peer_addr().unwrap().to_string(), live_address);
        let error = connect(&dead_address.to_string(), Duration::from_secs(5)).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused);
    }
}
