//! What a connection's bytes travel over: the socket itself (plaintext), or
//! TLS over it, driven by rustls without blocking (the frame protocol is the
//! same inside the tunnel).
//!
//! The connection sees one interface either way: read plaintext into its
//! decoder, write plaintext, send what is pending, shut its write side. TLS
//! adds two things the connection must know of: records rustls still holds
//! to send ([`Transport::has_pending`]), and the peer's certificate once the
//! handshake is done ([`Transport::take_peer_certificate`]).
//!
//! # Invariants
//! - A read reports `WouldBlock` only when the socket did, never while rustls
//!   holds plaintext that the decoder had no room for: with edge-triggered
//!   readiness, such bytes would otherwise wait for an event that never
//!   comes.
//! - A peer whose first byte is not a TLS handshake record (an agency
//!   speaking the plain protocol) gets nothing back, not even an alert: the
//!   connection is closed. A TLS peer whose handshake fails gets rustls's
//!   alert (so its program can say why) before the close.

use std::io::{self, Read, Write};
use std::net::Shutdown;

use lottery_net::Decoder;
use lottery_tls::{CertificateDer, PumpError, ServerConnection, receive_records, send_records};
use mio::net::TcpStream;

/// The first byte of every TLS handshake record (content type 22).
const TLS_HANDSHAKE: u8 = 0x16;

/// A connection's socket, with or without TLS.
#[derive(Debug)]
pub(crate) enum Transport {
    /// The plain protocol.
    Plain(TcpStream),
    /// TLS (boxed: rustls's state is large, and most plaintext
    /// connections should not pay for it).
    Tls(Box<Tls>),
}

/// The TLS side of a connection.
#[derive(Debug)]
pub(crate) struct Tls {
    stream: TcpStream,
    session: ServerConnection,
    /// The first byte the peer sent (`None` before it sent any).
    first_byte: Option<u8>,
    /// rustls refused what the peer sent; nothing more is read.
    failed: bool,
    /// The peer's certificate was handed out already.
    certificate_taken: bool,
    /// `close_notify` is queued.
    closing: bool,
}

/// An error of the TLS layer (a failed handshake, a bad record): the
/// connection cannot go on.
#[derive(Debug, thiserror::Error)]
pub(crate) struct TlsFailure(rustls::Error);

impl std::fmt::Display for TlsFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            // A refusal of lottery-tls's own client checks (a keyUsage
            // without digitalSignature): its message, which rustls's
            // Display would show as a Debug dump.
            rustls::Error::InvalidCertificate(rustls::CertificateError::Other(other)) => {
                write!(f, "TLS failed: invalid peer certificate: {}", other.0)
            }
            // A chain the client CA does not verify: another CA
            // (UnknownIssuer), or one of the same name with another key
            // (BadSignature: two sets of certificates whose CAs share a
            // name).
            rustls::Error::InvalidCertificate(
                problem @ (rustls::CertificateError::UnknownIssuer
                | rustls::CertificateError::BadSignature),
            ) => write!(
                f,
                "TLS failed: this agency's certificate is not issued by the central's \
                 --tls-client-ca (invalid peer certificate: {problem:?}): give the agency a \
                 certificate of the set whose ca.pem is --tls-client-ca"
            ),
            // The agency refused this central's chain the same way.
            rustls::Error::AlertReceived(
                alert @ (rustls::AlertDescription::UnknownCA
                | rustls::AlertDescription::DecryptError),
            ) => write!(
                f,
                "TLS failed: the agency refused the central's certificate, probably not \
                 issued by the agency's --tls-ca (received fatal alert: {alert:?}): give the \
                 agency the ca.pem of the set --tls-cert comes from"
            ),
            error => write!(f, "TLS failed: {error}"),
        }
    }
}

impl Transport {
    /// A TLS transport over a socket just accepted.
    pub(crate) fn tls(stream: TcpStream, session: ServerConnection) -> Self {
        Self::Tls(Box::new(Tls {
            stream,
            session,
            first_byte: None,
            failed: false,
            certificate_taken: false,
            closing: false,
        }))
    }

    /// The socket.
    pub(crate) fn stream_mut(&mut self) -> &mut TcpStream {
        match self {
            Self::Plain(stream) => stream,
            Self::Tls(tls) => &mut tls.stream,
        }
    }

    /// Reads plaintext into `decoder`: what one read brought (0 bytes: the
    /// peer closed), or the socket's error (`WouldBlock`: nothing more for
    /// now). TLS records read on the way are processed (and the handshake's
    /// answers queued: [`Transport::send_pending`] sends them).
    ///
    /// # Errors
    /// The socket's; a [`TlsFailure`] (kind `InvalidData`) when rustls
    /// refuses what the peer sent.
    pub(crate) fn read_into(&mut self, decoder: &mut Decoder) -> io::Result<Filled> {
        match self {
            Self::Plain(stream) => {
                let mut source = Asked { stream, asked: 0 };
                let read = decoder.read_from(&mut source)?;
                Ok(Filled {
                    read,
                    emptied: SHORT_READ_EMPTIES && read > 0 && read < source.asked,
                })
            }
            Self::Tls(tls) => tls.read_into(decoder).map(|read| Filled {
                read,
                // rustls hands plaintext out a record at a time and may hold
                // more of it (or more records) after a short read: TLS
                // says nothing about the socket's queue.
                emptied: false,
            }),
        }
    }

    /// Reads and throws away what arrived, below TLS (a closing connection
    /// needs no more plaintext): `Ok(0)` when the peer closed.
    ///
    /// # Errors
    /// The socket's.
    pub(crate) fn discard(&mut self, sink: &mut [u8]) -> io::Result<usize> {
        self.stream_mut().read(sink)
    }

    /// Writes plaintext: `Ok(n)` bytes taken (sent, or queued in rustls
    /// within its limit).
    ///
    /// # Errors
    /// The socket's (`WouldBlock` when nothing could be taken).
    pub(crate) fn write(&mut self, plaintext: &[u8]) -> io::Result<usize> {
        match self {
            Self::Plain(stream) => stream.write(plaintext),
            Self::Tls(tls) => tls.write(plaintext),
        }
    }

    /// Sends the TLS records rustls holds, as far as the socket takes them.
    /// Returns whether nothing is left (always, for plaintext).
    ///
    /// # Errors
    /// The socket's (not `WouldBlock`).
    pub(crate) fn send_pending(&mut self) -> io::Result<bool> {
        match self {
            Self::Plain(_) => Ok(true),
            Self::Tls(tls) => tls.send_pending(),
        }
    }

    /// Whether TLS records wait to be sent.
    pub(crate) fn has_pending(&self) -> bool {
        match self {
            Self::Plain(_) => false,
            Self::Tls(tls) => tls.session.wants_write() && !tls.silenced(),
        }
    }

    /// Ends the sending side once everything queued is out: TLS first queues
    /// and sends `close_notify`. Returns whether the write side is shut (if
    /// not, call again once the socket is writable).
    ///
    /// # Errors
    /// The socket's.
    pub(crate) fn shut_write(&mut self) -> io::Result<bool> {
        if let Self::Tls(tls) = self {
            if !tls.closing && !tls.failed {
                tls.session.send_close_notify();
                tls.closing = true;
            }
            if !tls.send_pending()? {
                return Ok(false);
            }
        }
        // A failure means the socket is already gone, which is the goal.
        let _ = self.stream_mut().shutdown(Shutdown::Write);
        Ok(true)
    }

    /// The peer's certificate (the end entity), once the handshake verified
    /// it, the first time it is asked for; `None` for plaintext, without
    /// client authentication, or before the handshake is done.
    pub(crate) fn take_peer_certificate(&mut self) -> Option<CertificateDer<'static>> {
        let Self::Tls(tls) = self else {
            return None;
        };
        if tls.certificate_taken || tls.session.is_handshaking() {
            return None;
        }
        tls.certificate_taken = true;
        let first = tls.session.peer_certificates()?.first()?;
        Some(first.clone().into_owned())
    }

    /// Whether rustls refused the peer and holds an alert to send it (the
    /// connection then closes gracefully, so that the alert arrives).
    pub(crate) fn owes_alert(&self) -> bool {
        matches!(self, Self::Tls(tls) if tls.failed && !tls.silenced() && tls.session.wants_write())
    }
}

impl Tls {
    /// A peer that never spoke TLS gets nothing, not even an alert.
    fn silenced(&self) -> bool {
        self.failed && self.first_byte != Some(TLS_HANDSHAKE)
    }

    fn read_into(&mut self, decoder: &mut Decoder) -> io::Result<usize> {
        loop {
            // Plaintext rustls already decrypted goes first.
            match decoder.read_from(&mut self.session.reader()) {
                Ok(read) => return Ok(read),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                // The peer closed without `close_notify`, after we read the
                // end of its stream: a close like any other.
                Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                Err(error) => return Err(error),
            }
            if self.failed {
                return Ok(0);
            }
            let mut source = FirstByte {
                stream: &mut self.stream,
                first: &mut self.first_byte,
            };
            match receive_records(&mut self.session, &mut source) {
                Ok(0) => return Ok(0),
                Ok(_) => {}
                Err(PumpError::Tls(error)) => {
                    self.failed = true;
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        TlsFailure(error),
                    ));
                }
                Err(PumpError::Io(error)) => return Err(error),
                // A kind this loop does not know yet: refused as data.
                Err(other) => {
                    self.failed = true;
                    return Err(io::Error::new(io::ErrorKind::InvalidData, other));
                }
            }
        }
    }

    fn write(&mut self, plaintext: &[u8]) -> io::Result<usize> {
        let taken = self.session.writer().write(plaintext)?;
        self.send_pending()?;
        if taken == 0 && !plaintext.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(taken)
    }

    fn send_pending(&mut self) -> io::Result<bool> {
        if self.silenced() {
            return Ok(true);
        }
        send_records(&mut self.session, &mut self.stream)
    }
}

/// Whether a short plaintext read may end a drain on this platform.
///
/// mio promises only that a source drained to `WouldBlock` raises its next
/// edge. Linux's epoll promises more: with `EPOLLET` a TCP socket raises a
/// new edge whenever bytes (or the end of the stream) are queued, whatever
/// the last read returned, so after a read that emptied the queue the next
/// read would only say `WouldBlock`. `tests/short_reads.rs` exercises it
/// over real sockets (peers that close right after a batch, peers that send
/// a few bytes per write). On other platforms (kqueue, and Windows, where
/// mio re-arms its poll only after `WouldBlock`), reads drain to
/// `WouldBlock` as mio documents.
const SHORT_READ_EMPTIES: bool = cfg!(any(target_os = "linux", target_os = "android"));

/// What one [`Transport::read_into`] brought.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Filled {
    /// Bytes read (0: the peer closed its side).
    pub read: usize,
    /// The read emptied the socket's receive queue: a plaintext read that
    /// returned fewer bytes than it asked for (TCP copies what is queued, up
    /// to the room given, so a short read left nothing behind). With
    /// edge-triggered readiness the next bytes, or the end of the stream,
    /// raise a new event, so the read that would only say `WouldBlock` can
    /// be skipped. Never set for TLS, nor where epoll's edges are not
    /// there (see `SHORT_READ_EMPTIES`).
    pub emptied: bool,
}

/// A plaintext socket as a reader that notes how much the read asked for
/// (the decoder chooses the room).
struct Asked<'a> {
    stream: &'a mut TcpStream,
    asked: usize,
}

impl Read for Asked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.asked = buf.len();
        self.stream.read(buf)
    }
}

/// The socket, noting the first byte the peer ever sent.
struct FirstByte<'a> {
    stream: &'a mut TcpStream,
    first: &'a mut Option<u8>,
}

impl Read for FirstByte<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.stream.read(buf)?;
        if self.first.is_none() && read > 0 {
            *self.first = Some(buf[0]);
        }
        Ok(read)
    }
}
