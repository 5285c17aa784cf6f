//! The non-blocking rustls pump: records between a session and a socket
//! that may say `WouldBlock` (the central's event loops, the load
//! generator's), written once for both ends.
//!
//! A socket here is any `Read`/`Write`: this module never opens, polls or
//! closes one. Plaintext in and out of the session (its `reader()` and
//! `writer()`) stays with the caller, which knows its buffers.

use std::io::{self, Read, Write};

use rustls::ConnectionCommon;

/// What stops [`receive_records`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PumpError {
    /// The socket's error (`WouldBlock`: nothing more for now).
    #[error(transparent)]
    Io(#[from] io::Error),
    /// rustls refused what the peer sent (a failed handshake, a bad record):
    /// the session cannot go on; it may hold an alert to send.
    #[error("TLS failed: {0}")]
    Tls(rustls::Error),
}

/// Sends the TLS records `session` holds (handshake messages, data,
/// alerts) as far as `socket` takes them. Returns whether none is left:
/// `false` when the socket said `WouldBlock` (call again once it is
/// writable). `Interrupted` is retried.
///
/// # Errors
/// The socket's (not `WouldBlock`); `WriteZero` when it takes nothing.
pub fn send_records<D>(
    session: &mut ConnectionCommon<D>,
    socket: &mut impl Write,
) -> io::Result<bool> {
    while session.wants_write() {
        match session.write_tls(socket) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(true)
}

/// Reads the TLS records `socket` holds into `session` (one read) and
/// processes them: the bytes read, 0 at the end of the stream. Decrypted
/// plaintext then waits in the session's `reader()`; answers (handshake
/// messages, alerts) wait for [`send_records`].
///
/// # Errors
/// [`PumpError::Io`] with the socket's error (`WouldBlock` included);
/// [`PumpError::Tls`] when rustls refuses what arrived.
pub fn receive_records<D>(
    session: &mut ConnectionCommon<D>,
    socket: &mut impl Read,
) -> Result<usize, PumpError> {
    let read = session.read_tls(socket)?;
    session.process_new_packets().map_err(PumpError::Tls)?;
    Ok(read)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    /// A socket that takes or gives at most `room` bytes, then says
    /// `WouldBlock` (a non-blocking socket's send buffer or receive queue).
    struct Socket {
        bytes: Vec<u8>,
        room: usize,
    }

    impl Write for Socket {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let n = buf.len().min(self.room);
            if n == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            self.room -= n;
            self.bytes.extend_from_slice(&buf[..n]);
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Read for Socket {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.bytes.is_empty() {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = buf.len().min(self.bytes.len());
            buf[..n].copy_from_slice(&self.bytes[..n]);
            self.bytes.drain(..n);
            Ok(n)
        }
    }

    fn client() -> rustls::ClientConnection {
        let ca = crate::Authority::new("pump test CA").unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.certificate_der()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        rustls::ClientConnection::new(Arc::new(config), "localhost".try_into().unwrap()).unwrap()
    }

    #[test]
    fn records_go_out_as_far_as_the_socket_takes_them() {
        let mut session = client();
        let mut full = Socket {
            bytes: Vec::new(),
            room: 10,
        };
        assert!(!send_records(&mut session, &mut full).unwrap(), "blocked");
        assert_eq!(full.bytes.len(), 10);
        full.room = usize::MAX;
        assert!(send_records(&mut session, &mut full).unwrap(), "all out");
        assert_eq!(full.bytes[0], 0x16, "a handshake record");
    }

    #[test]
    fn what_is_not_tls_is_refused_and_an_empty_socket_would_block() {
        let mut session = client();
        let mut empty = Socket {
            bytes: Vec::new(),
            room: 0,
        };
        let error = receive_records(&mut session, &mut empty).unwrap_err();
        assert!(
            matches!(&error, PumpError::Io(io) if io.kind() == io::ErrorKind::WouldBlock),
            "{error}"
        );
        let mut plain = Socket {
            bytes: b"HTTP/1.1 200 OK\r\n\r\n".to_vec(),
            room: 0,
        };
        let error = receive_records(&mut session, &mut plain).unwrap_err();
        assert!(matches!(error, PumpError::Tls(_)), "{error}");
    }
}
