//! The status port's settings beside its address ([`HttpSettings`]): the
//! limits that keep a hostile HTTP client from costing the central more than
//! a bounded share of one thread, TLS, and the bearer token.
//!
//! Below both `config.rs` (which reads them) and `http.rs` (which enforces
//! them), so that neither imports the other.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use lottery_tls::ServerTls;
use sha2::{Digest, Sha256};

use crate::error::ConfigError;

/// The largest request head (request line and headers) by default: more is
/// answered `431 Request Header Fields Too Large` and the connection closed.
pub const DEFAULT_HTTP_MAX_HEAD: usize = 16 * 1024;
/// The smallest request-head limit accepted (hyper reads at least this much
/// before it can tell a head is too large).
pub const MIN_HTTP_MAX_HEAD: usize = 8 * 1024;
/// The largest request-head limit accepted.
pub const MAX_HTTP_MAX_HEAD: usize = 1024 * 1024;
/// How long a client has to send a whole request head by default, counted
/// from when the port waits for it (a new connection, or the end of the
/// previous response on a kept-alive one: it is also the idle timeout).
pub const DEFAULT_HTTP_HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a response may wait on a client that does not read by default
/// (reset whenever some of it is taken).
pub const DEFAULT_HTTP_WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// Most HTTP connections at once by default.
pub const DEFAULT_HTTP_MAX_CONNECTIONS: usize = 64;
/// Most requests one connection may make by default; the last one is
/// answered with `Connection: close`.
pub const DEFAULT_HTTP_MAX_REQUESTS: u32 = 1000;

/// The status port's knobs (its address is [`crate::ServerConfig::http`]).
///
/// ```
/// use lottery_server::HttpSettings;
/// let settings = HttpSettings::default();
/// assert_eq!(settings.max_head, 16 * 1024);
/// assert_eq!(settings.max_connections, 64);
/// assert!(settings.tls.is_none() && settings.token.is_none());
/// ```
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// The largest request head in bytes; hyper answers a longer one `431`
    /// and closes, so a connection holds at most this much of a head.
    pub max_head: usize,
    /// Time to send a whole request head (and the keep-alive idle timeout,
    /// and the time a TLS handshake may take).
    pub head_timeout: Duration,
    /// A response that makes no progress for this long (the client does not
    /// read) is dropped with its connection.
    pub write_timeout: Duration,
    /// Most HTTP connections at once. At the cap, a new connection closes
    /// the one that made progress (a request, a response's bytes taken)
    /// least recently, so a fresh client is always served.
    pub max_connections: usize,
    /// Most requests on one connection (pipelined or kept alive).
    pub max_requests: u32,
    /// TLS on the status port (`None`: plain HTTP). No client certificates:
    /// the token authenticates.
    pub tls: Option<ServerTls>,
    /// The bearer token every path but `/healthz` requires (`None`: open).
    pub token: Option<BearerToken>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            max_head: DEFAULT_HTTP_MAX_HEAD,
            head_timeout: DEFAULT_HTTP_HEAD_TIMEOUT,
            write_timeout: DEFAULT_HTTP_WRITE_TIMEOUT,
            max_connections: DEFAULT_HTTP_MAX_CONNECTIONS,
            max_requests: DEFAULT_HTTP_MAX_REQUESTS,
            tls: None,
            token: None,
        }
    }
}

impl fmt::Display for HttpSettings {
    /// The status port's part of the `config` line (never the token).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "http_max_head: {} | http_head_timeout: {}s | http_write_timeout: {}s | \
             http_max_connections: {} | http_max_requests: {} | http_tls: {} | http_token: {}",
            self.max_head,
            self.head_timeout.as_secs_f64(),
            self.write_timeout.as_secs_f64(),
            self.max_connections,
            self.max_requests,
            if self.tls.is_some() { "on" } else { "off" },
            if self.token.is_some() { "on" } else { "off" },
        )
    }
}

/// The status port's bearer token, as read from its file. It is compared in
/// constant time and never shown (its `Debug` says only that it is set).
#[derive(Clone)]
pub struct BearerToken {
    /// SHA-256 of the token: what a request's token is compared with, so
    /// that the comparison takes the same time whatever the lengths.
    digest: [u8; 32],
}

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BearerToken(..)")
    }
}

impl BearerToken {
    /// A token (surrounding whitespace, such as the file's last line break,
    /// is not part of it).
    ///
    /// # Errors
    /// A token that is empty or holds a character a header value cannot
    /// carry (a control character or a space inside it).
    pub fn new(token: &str) -> Result<Self, String> {
        let token = token.trim();
        if token.is_empty() {
            return Err("the token is empty".into());
        }
        if !token.bytes().all(|byte| byte.is_ascii_graphic()) {
            return Err("the token holds a space, a control or a non-ASCII character".into());
        }
        Ok(Self {
            digest: Sha256::digest(token.as_bytes()).into(),
        })
    }

    /// Reads the token of `path` (setting `setting`, for the error).
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the setting and the file: it cannot
    /// be read, or its token is empty or invalid.
    pub fn read(path: &Path, setting: &'static str) -> Result<Self, ConfigError> {
        let invalid = |reason: String| ConfigError::Invalid {
            setting,
            reason: format!("{}: {reason}", path.display()),
        };
        let text = std::fs::read_to_string(path).map_err(|error| invalid(error.to_string()))?;
        Self::new(&text).map_err(invalid)
    }

    /// Whether `given` is the token, in time independent of where they
    /// differ (both are hashed, the digests compared whole).
    pub fn matches(&self, given: &[u8]) -> bool {
        let digest: [u8; 32] = Sha256::digest(given).into();
        let difference = self
            .digest
            .iter()
            .zip(digest)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        std::hint::black_box(difference) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_matches_itself_only_and_an_empty_one_is_refused() {
        let token = BearerToken::new("s3cret-token\n").unwrap();
        assert!(token.matches(b"s3cret-token"));
        assert!(!token.matches(b"s3cret-token "));
        assert!(!token.matches(b"s3cret-tokeN"));
        assert!(!token.matches(b""));
        assert!(BearerToken::new(" \n").is_err());
        assert!(BearerToken::new("two words").is_err());
        assert_eq!(format!("{token:?}"), "BearerToken(..)");
    }
}
