//! The socket of one load-run connection: plain TCP, or TLS driven over the
//! non-blocking socket (rustls's `read_tls`/`process_new_packets`/
//! `write_tls`, no thread of its own). Reads and writes report `WouldBlock`
//! like a socket, so the connection's pumps drain both kinds the same way.
//!
//! The plaintext path is the socket itself: nothing is added to it.

use std::io::{self, Read, Write};

use lottery_tls::{ClientConnection, PumpError, receive_records, send_records};
use mio::net::TcpStream;

/// A connection's socket.
pub(super) enum Wire {
    /// Frames straight over TCP.
    Plain(TcpStream),
    /// Frames inside TLS. Boxed: the session is large next to a socket.
    Tls(Box<TlsWire>),
}

pub(super) struct TlsWire {
    tcp: TcpStream,
    session: ClientConnection,
}

impl Wire {
    /// `tcp`, inside a TLS `session` when given (its handshake starts with
    /// the first write or read).
    pub(super) fn new(tcp: TcpStream, session: Option<ClientConnection>) -> Self {
        match session {
            Some(session) => Self::Tls(Box::new(TlsWire { tcp, session })),
            None => Self::Plain(tcp),
        }
    }

    /// The TCP socket (to register it, check its connect, close it).
    pub(super) fn tcp(&mut self) -> &mut TcpStream {
        match self {
            Self::Plain(tcp) => tcp,
            Self::Tls(tls) => &mut tls.tcp,
        }
    }

    /// Whether a short read may leave bytes behind: TLS hands plaintext out
    /// a record at a time, so its reads are drained to `WouldBlock`.
    pub(super) fn is_tls(&self) -> bool {
        matches!(self, Self::Tls(_))
    }

    /// Writes out the TLS bytes rustls holds (handshake, records, alerts)
    /// until done or `WouldBlock`; nothing for plain TCP.
    ///
    /// # Errors
    /// The socket's.
    pub(super) fn flush_tls(&mut self) -> io::Result<()> {
        match self {
            Self::Plain(_) => Ok(()),
            Self::Tls(tls) => tls.flush(),
        }
    }

    /// Ends a TLS session with a close_notify (best effort); nothing for
    /// plain TCP.
    pub(super) fn close_notify(&mut self) {
        if let Self::Tls(tls) = self {
            tls.session.send_close_notify();
            let _ = tls.flush();
        }
    }
}

impl TlsWire {
    fn flush(&mut self) -> io::Result<()> {
        // Whatever stays queued goes with the next flush.
        send_records(&mut self.session, &mut self.tcp).map(|_| ())
    }

    /// Takes in what the socket holds and processes it; answers (handshake
    /// messages, alerts) go out at once.
    fn take_in(&mut self) -> io::Result<usize> {
        let read =
            receive_records(&mut self.session, &mut self.tcp).map_err(|error| match error {
                PumpError::Io(error) => error,
                PumpError::Tls(refused) => io::Error::new(io::ErrorKind::InvalidData, refused),
                other => io::Error::new(io::ErrorKind::InvalidData, other),
            })?;
        self.flush()?;
        Ok(read)
    }
}

impl Read for Wire {
    fn read(&mut self, into: &mut [u8]) -> io::Result<usize> {
        let tls = match self {
            Self::Plain(tcp) => return tcp.read(into),
            Self::Tls(tls) => tls,
        };
        loop {
            match tls.session.reader().read(into) {
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                // Plaintext, a clean end (close_notify) or an unclean one.
                other => return other,
            }
            match tls.take_in() {
                // The end of the stream: what the reader makes of it.
                Ok(0) => {
                    return match tls.session.reader().read(into) {
                        Err(error) if error.kind() == io::ErrorKind::WouldBlock => Ok(0),
                        other => other,
                    };
                }
                Ok(_) => {}
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                // `WouldBlock` included: the socket is drained.
                Err(error) => return Err(error),
            }
        }
    }
}

impl Write for Wire {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let tls = match self {
            Self::Plain(tcp) => return tcp.write(bytes),
            Self::Tls(tls) => tls,
        };
        tls.flush()?;
        // rustls takes plaintext up to its buffer limit (also before the
        // handshake is done: it goes out once the keys are there).
        let taken = tls.session.writer().write(bytes)?;
        tls.flush()?;
        if taken == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(taken)
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::Plain(tcp) => tcp.flush(),
            Self::Tls(_) => self.flush_tls(),
        }
    }
}
