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
//! Nothing here touches a socket: the central drives rustls inside its
//! event loops, the agency over a blocking socket.
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
//! `error` below `pem` below `identity` and `config`; `generate` uses `pem`
//! and `identity`.

#![deny(missing_docs)]

mod config;
mod error;
mod generate;
mod identity;
mod pem;

pub use self::config::{ClientTls, ServerTls};
pub use self::error::TlsError;
pub use self::generate::{Authority, Issued, PkiFiles, write_pki};
pub use self::identity::{agency_name, certifies};
pub use self::pem::{load_certificates, load_private_key};

/// The rustls types the users of this crate hold (so that they need no
/// rustls dependency of their own for them).
pub use rustls::{ClientConnection, ServerConnection};
pub use rustls_pki_types::CertificateDer;
