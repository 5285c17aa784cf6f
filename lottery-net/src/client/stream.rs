//! The socket under a [`Connection`](super::Connection): plain TCP, or TLS
//! over TCP. Either way the TCP socket stays reachable, for its timeouts,
//! its addresses and the [`Interrupter`](super::Interrupter)'s shutdown.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};

use rustls::{ClientConnection, StreamOwned};

/// A connected socket to the central, TLS or not.
#[derive(Debug)]
pub(crate) enum Stream {
    /// Frames straight over TCP (the course setup, the demo by default).
    Plain(TcpStream),
    /// Frames inside a TLS session, its handshake complete. Boxed: the
    /// session's state is large next to a socket.
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Stream {
    /// The TCP socket underneath.
    pub(crate) fn tcp(&self) -> &TcpStream {
        match self {
            Self::Plain(stream) => stream,
            Self::Tls(stream) => stream.get_ref(),
        }
    }

    /// Closes the connection: for TLS, says so to the peer first
    /// (close_notify), so that it sees a clean end rather than a truncation.
    /// Best effort: the peer may be gone already.
    pub(crate) fn shutdown(&mut self) {
        if let Self::Tls(stream) = self {
            stream.conn.send_close_notify();
            let _ = stream.conn.complete_io(&mut stream.sock);
        }
        let _ = self.tcp().shutdown(Shutdown::Both);
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Plain(stream) => stream.read(buf),
            Self::Tls(stream) => stream.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::Plain(stream) => stream.write(buf),
            Self::Tls(stream) => stream.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::Plain(stream) => stream.flush(),
            Self::Tls(stream) => stream.flush(),
        }
    }
}
