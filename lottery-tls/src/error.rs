//! Why a TLS setup failed: always with the file or name it was about.

use std::io;
use std::path::PathBuf;

/// A TLS file, configuration or certificate that could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read {what} `{}`", path.display())]
    Read {
        /// What the file was meant to hold.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A PEM file holds no usable item of the kind wanted, or a broken one.
    #[error("{what} `{}` holds {problem}", path.display())]
    Pem {
        /// What the file was meant to hold.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// rustls refused the certificates or keys (a key that does not match
    /// its certificate, say).
    #[error("{what}")]
    Config {
        /// What was being set up.
        what: String,
        /// rustls's reason.
        #[source]
        source: rustls::Error,
    },
    /// The client CA is not usable to verify client certificates.
    #[error("the client CA `{}` cannot verify client certificates", path.display())]
    ClientVerifier {
        /// The CA file.
        path: PathBuf,
        /// rustls's reason.
        #[source]
        source: rustls::server::VerifierBuilderError,
    },
    /// A server name that is neither a DNS name nor an IP address.
    #[error("`{name}` is not a valid TLS server name (a DNS name or an IP address)")]
    ServerName {
        /// The name.
        name: String,
    },
    /// A certificate could not be generated.
    #[error("cannot generate {what}")]
    Generate {
        /// What.
        what: String,
        /// rcgen's reason.
        #[source]
        source: rcgen::Error,
    },
    /// A generated file could not be written.
    #[error("cannot write `{}`", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
}
