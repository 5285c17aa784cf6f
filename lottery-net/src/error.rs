//! Errors of the protocol crate: decoding, encoding, and the client.
//!
//! Variants say where: which message, which field. "Not enough bytes yet" is
//! not an error (the decoder answers `Ok(None)`).

use std::io;

use lottery_bet::AgencyId;

use crate::message::{ErrorCode, ErrorFrame};

/// Bytes that are not a valid frame. The connection they came from should be
/// closed (after an [`ErrorFrame`] with [`DecodeError::code`], when possible).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The length prefix declares a frame over the limit. Nothing was
    /// allocated for it; the decoder cannot skip it.
    #[error("a frame of {declared} bytes is over the {max}-byte limit")]
    FrameTooLarge {
        /// The declared size of the whole frame, length prefix included.
        declared: u64,
        /// The limit.
        max: usize,
    },
    /// The length prefix is 0: the frame has no type byte.
    #[error("a frame has no type byte")]
    EmptyFrame,
    /// The type byte names no message of this direction.
    #[error("unknown message type 0x{kind:02x}")]
    UnknownType {
        /// The type byte.
        kind: u8,
    },
    /// The frame ends before one of its fields.
    #[error("the {message} frame ends inside its {field} field")]
    Truncated {
        /// The message type.
        message: &'static str,
        /// The field.
        field: &'static str,
    },
    /// A count field says more items than the bytes after it can hold,
    /// each taking at least a few bytes (a bet at least 6: four empty
    /// texts and its number). Refused before anything is allocated for them.
    #[error(
        "the {message} frame's {field} says {count} {items}, more than the {room} bytes after it can hold (at most {most} {items})"
    )]
    CountTooLarge {
        /// The message type.
        message: &'static str,
        /// The count field.
        field: &'static str,
        /// The count the frame declares.
        count: u64,
        /// What it counts (`bets`, `documents`).
        items: &'static str,
        /// The bytes left in the frame after the count.
        room: usize,
        /// The most items of the smallest size those bytes can hold.
        most: usize,
    },
    /// The frame ends inside one of the items its count declares: the
    /// count says more items than the frame holds (what was read of them
    /// was whole up to that field).
    #[error(
        "the {message} frame ends inside {item} {number} of the {count} its count declares (in its {field} field)"
    )]
    ItemCutShort {
        /// The message type.
        message: &'static str,
        /// What the count counts, one of them (`bet`, `document`).
        item: &'static str,
        /// Which item is cut short, from 1.
        number: usize,
        /// The count the frame declares.
        count: usize,
        /// The item's field that the frame ends inside.
        field: &'static str,
    },
    /// The frame has bytes after its last field.
    #[error("the {message} frame has {extra} bytes after its last field")]
    TrailingBytes {
        /// The message type.
        message: &'static str,
        /// How many bytes are left over.
        extra: usize,
    },
    /// A text field is not UTF-8.
    #[error("the {field} field of the {message} frame is not valid UTF-8")]
    InvalidUtf8 {
        /// The message type.
        message: &'static str,
        /// The field.
        field: &'static str,
    },
    /// A flag byte is neither 0 nor 1.
    #[error("the {field} flag of the {message} frame is {value}, not 0 or 1")]
    InvalidFlag {
        /// The message type.
        message: &'static str,
        /// The field.
        field: &'static str,
        /// The byte found.
        value: u8,
    },
    /// A field marked absent (its flag 0) is not 0, as every absent field
    /// is sent: one value has one encoding.
    #[error("the {field} field of the {message} frame is not 0, though its flag says it is absent")]
    AbsentNotZero {
        /// The message type.
        message: &'static str,
        /// The field.
        field: &'static str,
    },
}

impl DecodeError {
    /// `self` met reading item `index` (from 0) of the `count` a count
    /// field declared: a [`DecodeError::Truncated`] there is the count's
    /// fault, and says so; any other error is itself.
    pub(crate) fn inside_item(self, item: &'static str, index: usize, count: usize) -> Self {
        match self {
            Self::Truncated { message, field } => Self::ItemCutShort {
                message,
                item,
                number: index + 1,
                count,
                field,
            },
            other => other,
        }
    }

    /// The error code to send the peer before closing the connection.
    pub const fn code(&self) -> ErrorCode {
        match self {
            Self::FrameTooLarge { .. } => ErrorCode::FrameTooLarge,
            _ => ErrorCode::Malformed,
        }
    }
}

/// A message that cannot be written as a frame. Nothing was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The frame would be larger than the limit.
    #[error("the {message} frame would take {len} bytes, over the {max}-byte limit")]
    FrameTooLarge {
        /// The message type.
        message: &'static str,
        /// The frame's size, length prefix included.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A field is longer than its length prefix can say.
    #[error("the {field} field takes {len} bytes, over the {max} its length prefix allows")]
    FieldTooLong {
        /// The field.
        field: &'static str,
        /// Its length in bytes.
        len: usize,
        /// The most the prefix allows.
        max: usize,
    },
}

/// What went wrong for the blocking [`crate::client::AgencyClient`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The central could not be reached: one connection attempt failed, or
    /// (after every reconnect attempt) all of them did.
    #[error("{}", connect_failed(.server, *.attempts))]
    Connect {
        /// The address tried.
        server: String,
        /// How many connection attempts were made in a row (1 for one
        /// attempt: then the message names no count).
        attempts: u32,
        /// The last attempt's error.
        #[source]
        source: io::Error,
    },
    /// The connection failed and every reconnect attempt failed too.
    #[error("the connection to the central failed")]
    Io(#[source] io::Error),
    /// The central closed a plaintext connection before its `Welcome` (one
    /// attempt; the client reconnects). Written like [`ClientError::Io`], so
    /// the reconnect log lines read as they always did.
    #[error("the connection to the central failed")]
    ClosedBeforeWelcome(#[source] io::Error),
    /// Every attempt of a plaintext client was closed by the central before
    /// its `Welcome`, which is what a central that requires TLS does.
    #[error(
        "the central at {server} closed the connection before its welcome, {attempts} attempt(s) in a row: it probably requires TLS (--tls-ca, with --tls-cert and --tls-key if it authenticates agencies)"
    )]
    TlsProbablyRequired {
        /// The address tried.
        server: String,
        /// How many attempts were made.
        attempts: u32,
        /// The last attempt's error.
        #[source]
        source: io::Error,
    },
    /// A peer accepted the TCP connection and then did not complete the
    /// handshake (TLS when configured, then `Welcome`) within
    /// [`ClientConfig::handshake_timeout`](crate::ClientConfig::handshake_timeout):
    /// it does not act like a central (another program on that port, the
    /// central's status port, a central frozen). Retried like a refused
    /// connection; `attempts` says how many attempts in a row ended so.
    #[error("{}", silent_peer(.server, *.waited, *.attempts))]
    SilentPeer {
        /// The address connected to.
        server: String,
        /// How long each attempt waited.
        waited: std::time::Duration,
        /// How many attempts in a row ended so (1 for one attempt: then the
        /// message names no count).
        attempts: u32,
    },
    /// The TLS settings cannot make a connection to this server (a host that
    /// is not a valid TLS server name, say). Not retried.
    #[error("cannot set up TLS to the central at {server}")]
    TlsSetup {
        /// The address connected to.
        server: String,
        /// Why.
        #[source]
        source: lottery_tls::TlsError,
    },
    /// The central's certificate is not acceptable: not issued by the CA we
    /// trust, not for the name we expect, expired. Not retried: it will not
    /// change by itself.
    #[error("{}", tls_problem(.name, .source))]
    TlsServerCertificate {
        /// The address connected to.
        server: String,
        /// The name the certificate had to carry.
        name: String,
        /// rustls's finding.
        #[source]
        source: rustls::Error,
    },
    /// The central ended the TLS handshake with a fatal alert about our
    /// certificate: it has none it trusts (none sent, another CA, expired,
    /// revoked). Not retried.
    #[error("{}", refusal(.alert))]
    TlsRefused {
        /// The alert's name as rustls writes it (`UnknownCA`,
        /// `BadCertificate`, `CertificateRequired`, ...).
        alert: String,
    },
    /// The central answered the TLS handshake with bytes that are not TLS: it
    /// speaks plaintext. Not retried.
    #[error(
        "the central at {server} does not seem to speak TLS (it answered the TLS handshake with bytes that are not TLS): drop --tls-ca, or connect to a central with --tls-cert"
    )]
    NotTls {
        /// The address connected to.
        server: String,
        /// rustls's finding.
        #[source]
        source: rustls::Error,
    },
    /// Another TLS failure (a fatal alert, a protocol violation, no common
    /// protocol version or cipher). Not retried.
    #[error("the TLS session with the central failed")]
    Tls(#[source] rustls::Error),
    /// The central refused a request, with a code and a message.
    #[error("the central refused: {0}")]
    Refused(ErrorFrame),
    /// The central sent bytes that are not a frame.
    #[error("the central sent an invalid frame")]
    Decode(#[from] DecodeError),
    /// A message could not be encoded (a bet field too long for the protocol).
    #[error("a message could not be encoded")]
    Encode(#[from] EncodeError),
    /// The central answered with a message that does not fit the request.
    #[error("the central answered {got} where {expected} was expected")]
    UnexpectedAnswer {
        /// What the client waited for.
        expected: &'static str,
        /// What came (its name and fields).
        got: String,
    },
    /// The central's resume point contradicts what this client sent (it
    /// reports more than was ever sent, or a count that does not add up).
    #[error("the central's resume point does not match what was sent: {0}")]
    ResumeMismatch(String),
    /// The central's answer breaks a rule of the protocol that no single
    /// frame shows: more winners than the agency sent bets, a `Winners`
    /// frame that is neither the last nor holds a document, a winner that is
    /// not a document (DNI). Not retried: a central that does this is broken
    /// or hostile, and reading on would let it grow the client's memory
    /// without end.
    #[error("the central broke the protocol: {0}")]
    ProtocolViolation(String),
    /// The central stores bets of this agency that are not the first bets
    /// it was given: the CRC32C of their rows differs (the agency's file was
    /// edited since they were sent, or another program sent them as this
    /// agency). Nothing was sent.
    #[error(
        "the central stores batches 1 to {last_batch} ({bets_stored} bets) of agency {agency}, and they are not the first {bets_stored} bets given: the bets were changed since they were sent"
    )]
    StoredBetsDiffer {
        /// The agency.
        agency: AgencyId,
        /// The last batch the central stores for it.
        last_batch: u64,
        /// The bets the central stores for it.
        bets_stored: u64,
    },
    /// A receipt that does not hold (a client with the central's receipt
    /// public key: [`ClientConfig::receipt_pubkey`](crate::ClientConfig)):
    /// an answer without one, a signature that does not verify, rules
    /// other than the first signed welcome's, a digest that is not the one
    /// of the batch sent. The batch (or finish) is not counted as stored; a
    /// welcome that does not hold ends the connection before anything is
    /// sent on it; not retried.
    #[error("the central's receipt for {what} of agency {agency} does not hold: {problem}")]
    BadReceipt {
        /// The agency.
        agency: AgencyId,
        /// What it was for: `the welcome`, `batch N`, `the finish`, `the
        /// draw`.
        what: String,
        /// Why it does not hold.
        problem: String,
    },
    /// [`Interrupter::interrupt`](crate::client::Interrupter::interrupt) was
    /// called; the connection is closed.
    #[error("the client was interrupted")]
    Interrupted,
}

impl From<io::Error> for ClientError {
    /// An I/O error, or the TLS failure it carries (rustls reports a TLS
    /// failure as an `InvalidData` I/O error around its own error).
    fn from(error: io::Error) -> Self {
        let is_tls = error
            .get_ref()
            .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some());
        if !is_tls {
            return Self::Io(error);
        }
        let tls = error
            .into_inner()
            .and_then(|inner| inner.downcast::<rustls::Error>().ok())
            .map(|boxed| *boxed)
            .expect("checked to be a rustls error just above");
        match tls {
            rustls::Error::AlertReceived(alert) if is_certificate_alert(alert) => {
                Self::TlsRefused {
                    alert: format!("{alert:?}"),
                }
            }
            other => Self::Tls(other),
        }
    }
}

/// Whether a fatal alert from the central is about our certificate.
pub(crate) fn is_certificate_alert(alert: rustls::AlertDescription) -> bool {
    use rustls::AlertDescription as Alert;
    matches!(
        alert,
        Alert::BadCertificate
            | Alert::UnsupportedCertificate
            | Alert::CertificateRevoked
            | Alert::CertificateExpired
            | Alert::CertificateUnknown
            | Alert::UnknownCA
            | Alert::CertificateRequired
            | Alert::AccessDenied
            // rustls's answer to a client chain whose signature does not
            // verify (its issuer's name with another key).
            | Alert::DecryptError
    )
}

/// A failed connection, with the count of attempts when there were several.
fn connect_failed(server: &str, attempts: u32) -> String {
    if attempts == 1 {
        format!("cannot connect to the central at {server}")
    } else {
        format!("cannot connect to the central at {server} after {attempts} attempts")
    }
}

/// A peer that accepted and said nothing, with the count of attempts when
/// there were several, and what to check.
fn silent_peer(server: &str, waited: std::time::Duration, attempts: u32) -> String {
    let count = if attempts == 1 {
        String::new()
    } else {
        format!(", {attempts} attempts in a row")
    };
    format!(
        "the peer at {server} accepted the connection but did not answer like a central within {}{count}: check that --server names the central's agency port (not its status port or another program) and that the central is not stopped",
        seconds_or_millis(waited)
    )
}

/// `5 s`, or `1500 ms` when not a whole number of seconds.
fn seconds_or_millis(duration: std::time::Duration) -> String {
    if duration.subsec_millis() == 0 {
        format!("{} s", duration.as_secs())
    } else {
        format!("{} ms", duration.as_millis())
    }
}

/// What is wrong with the central's certificate, in words.
fn tls_problem(name: &str, error: &rustls::Error) -> String {
    use rustls::CertificateError as Cert;
    let rustls::Error::InvalidCertificate(problem) = error else {
        return format!("the central's TLS certificate is refused for `{name}`");
    };
    match problem {
        Cert::NotValidForName | Cert::NotValidForNameContext { .. } => format!(
            "the central's certificate is not valid for `{name}` (set --tls-server-name to a name it carries)"
        ),
        // Another CA (UnknownIssuer), or one with the same name and another
        // key (BadSignature: two sets of certificates whose CAs share a
        // name, which `lottery-admin certs` no longer makes).
        // (rustls's finding follows as the error's source.)
        Cert::UnknownIssuer | Cert::BadSignature => {
            "the central's certificate is not issued by --tls-ca: give the agency the ca.pem of the set the central's --tls-cert comes from (or the central a certificate of this CA)"
                .to_string()
        }
        Cert::Expired | Cert::ExpiredContext { .. } => {
            "the central's certificate has expired".to_string()
        }
        Cert::NotValidYet | Cert::NotValidYetContext { .. } => {
            "the central's certificate is not valid yet (is the clock right?)".to_string()
        }
        Cert::Revoked => "the central's certificate is revoked".to_string(),
        _ => format!("the central's certificate is refused for `{name}`"),
    }
}

/// The central's refusal of our certificate, in words.
fn refusal(alert: &str) -> String {
    let what = match alert {
        "CertificateRequired" => {
            "the central requires a client certificate (--tls-cert, --tls-key)"
        }
        // What a central sends for a chain it cannot verify: another CA
        // (UnknownCA), or a CA of the same name with another key
        // (DecryptError: the signature does not verify).
        "UnknownCA" | "DecryptError" => {
            "the central refused our TLS certificate: it is probably not issued by the central's --tls-client-ca (the central's log says whether it is)"
        }
        _ => "the central refused our TLS certificate",
    };
    format!("{what} (received fatal alert: {alert})")
}

impl ClientError {
    /// The central's error code, when the central refused.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Self::Refused(error) => Some(error.code),
            _ => None,
        }
    }
}
