//! The lottery's TLS setup, shared by the central, the agency and the tools.
//!
//! - [`ServerTls`] and [`ClientTls`]: PEM files (as openssl writes them:
//!   certificate chains; PKCS#8, SEC1 EC and PKCS#1 RSA keys) made into
//!   rustls configurations, with the ring provider.
//! - [`certifies`]: whether a client certificate names an agency. An agency
//!   is whoever its certificate names by a subjectAltName DNS entry
//!   `agency-N` ([`agency_name`]); the certificate chain itself is verified
//!   by rustls against the central's client CA during the handshake.
//! - [`Authority`]: a certificate authority for quick setups (rcgen), which
//!   issues the central's and the agencies' certificates; [`write_pki`]
//!   writes a whole set to a directory (`lottery-admin certs`).
//!
//! - [`ReceiptKey`] and [`ReceiptPubkey`]: the central's Ed25519 key that
//!   signs the head of its store's checksum chain ([`SignedHead`]) for
//!   receipts, and its public half that agencies and auditors check them
//!   with; [`Receipt`] is what an agency keeps (one JSON line each). Here
//!   because this crate owns the PEM files and ring.
//!
//! - [`send_records`] and [`receive_records`]: the non-blocking pump that
//!   moves TLS records between a session and a socket that may say
//!   `WouldBlock` (the central's event loops, the load generator's).
//!
//! Nothing here opens or polls a socket: the pump works on any
//! `Read`/`Write` it is given; the agency drives rustls over a blocking
//! socket.
//!
//! ```
//! use lottery_bet::AgencyId;
//! use lottery_tls::{Authority, certifies};
//! let ca = Authority::new("lottery test CA")?;
//! let agency = ca.issue_agency(AgencyId::new(3).unwrap())?;
//! let der = agency.certificate_der()?;
//! assert!(certifies(&der, AgencyId::new(3).unwrap()));
//! assert!(!certifies(&der, AgencyId::new(2).unwrap()));
//! # Ok::<(), lottery_tls::TlsError>(())
//! ```
//!
//! # Layers
//! `error` below `pem` below `identity` and `config`; `receipt` uses
//! `error`; `generate` uses `pem`, `identity` and `receipt`; `pump` stands
//! alone.

#![deny(missing_docs)]

mod config;
mod error;
mod generate;
mod identity;
mod pem;
mod pump;
mod receipt;

pub use self::config::{ClientTls, ServerTls};
pub use self::error::TlsError;
pub use self::generate::{
    Authority, Issued, PkiFiles, receipt_key_files, write_pki, write_receipt_keys,
};
pub use self::identity::{agency_name, certifies};
pub use self::pem::{load_certificates, load_private_key};
pub use self::pump::{PumpError, receive_records, send_records};
pub use self::receipt::{
    BadSignature, ChainStatement, DRAW_DOMAIN, DrawStatement, RECEIPT_DOMAIN, Receipt, ReceiptKey,
    ReceiptPubkey, ReceiptSubject, SignedHead, WinningRule, generate_receipt_keys, winners_digest,
};

/// The rustls types the users of this crate hold (so that they need no
/// rustls dependency of their own for them).
pub use rustls::{ClientConnection, ServerConnection};
pub use rustls_pki_types::CertificateDer;
