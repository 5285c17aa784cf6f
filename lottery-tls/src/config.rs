//! rustls configurations from PEM files: the central's and the agency's.

use std::path::Path;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, OtherError};
use rustls::{RootCertStore, SignatureScheme, client::danger::HandshakeSignatureValid};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

use crate::error::TlsError;
use crate::identity::check_key_usage;
use crate::pem::{load_certificates, load_private_key};

/// The one crypto provider (ring), handed to every configuration explicitly
/// so that nothing depends on a process-wide default.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The central's TLS: its certificate chain and key, and (optionally) the
/// CA its agencies' client certificates must chain to.
#[derive(Debug, Clone)]
pub struct ServerTls {
    config: Arc<rustls::ServerConfig>,
    authenticates_agencies: bool,
}

impl ServerTls {
    /// Loads the central's chain (`cert`, leaf first) and key, and with
    /// `client_ca` requires every peer to present a certificate chaining to
    /// it (then a peer acts only as the agency its certificate names).
    ///
    /// # Errors
    /// A file that cannot be read or holds nothing usable, a key that does
    /// not match the certificate, a CA that cannot verify.
    pub fn load(cert: &Path, key: &Path, client_ca: Option<&Path>) -> Result<Self, TlsError> {
        let chain = load_certificates(cert, "certificate")?;
        let key = load_private_key(key, "private key")?;
        let roots = client_ca
            .map(|path| Ok::<_, TlsError>((path, roots(path, "client CA")?)))
            .transpose()?;
        Self::new(chain, key, roots)
    }

    /// [`ServerTls::load`] over certificates and a key already in memory.
    ///
    /// # Errors
    /// As [`ServerTls::load`].
    pub fn from_der(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        client_ca: Option<Vec<CertificateDer<'static>>>,
    ) -> Result<Self, TlsError> {
        let roots = client_ca
            .map(|cas| {
                let mut store = RootCertStore::empty();
                store.add_parsable_certificates(cas);
                (Path::new("(in memory)"), store)
            })
            .map(Ok::<_, TlsError>)
            .transpose()?;
        Self::new(chain, key, roots)
    }

    fn new(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        client_ca: Option<(&Path, RootCertStore)>,
    ) -> Result<Self, TlsError> {
        let builder = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|source| config_error("the TLS protocol versions", source))?;
        let authenticates_agencies = client_ca.is_some();
        let builder = match client_ca {
            Some((path, roots)) => {
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                        .build()
                        .map_err(|source| TlsError::ClientVerifier {
                            path: path.to_owned(),
                            source,
                        })?;
                builder.with_client_cert_verifier(Arc::new(AgencyVerifier { chain: verifier }))
            }
            None => builder.with_no_client_auth(),
        };
        let config = builder
            .with_single_cert(chain, key)
            .map_err(|source| config_error("the central's certificate and key", source))?;
        Ok(Self {
            config: Arc::new(config),
            authenticates_agencies,
        })
    }

    /// Whether every peer must present a client certificate (and so acts
    /// only as the agency it names).
    pub fn authenticates_agencies(&self) -> bool {
        self.authenticates_agencies
    }

    /// The rustls configuration itself, for a TLS stack that drives rustls
    /// on its own (the status port's tokio-rustls); the agency port uses
    /// [`ServerTls::accept`].
    pub fn rustls_config(&self) -> Arc<rustls::ServerConfig> {
        Arc::clone(&self.config)
    }

    /// A new server side of one connection.
    ///
    /// # Errors
    /// rustls's (it does not fail for a configuration built here).
    pub fn accept(&self) -> Result<rustls::ServerConnection, TlsError> {
        rustls::ServerConnection::new(Arc::clone(&self.config))
            .map_err(|source| config_error("a TLS server connection", source))
    }
}

/// The central's client verifier: rustls-webpki's (the chain to the client
/// CA, validity, extendedKeyUsage `clientAuth`), then the keyUsage check
/// webpki leaves out: present, it must include digitalSignature. A refused
/// certificate fails the handshake (the peer gets the alert `CertificateUnknown`, the
/// central's log says why).
#[derive(Debug)]
struct AgencyVerifier {
    chain: Arc<dyn ClientCertVerifier>,
}

impl ClientCertVerifier for AgencyVerifier {
    fn offer_client_auth(&self) -> bool {
        self.chain.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.chain.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.chain.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verified = self
            .chain
            .verify_client_cert(end_entity, intermediates, now)?;
        check_key_usage(end_entity).map_err(|refused| {
            rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(
                refused,
            ))))
        })?;
        Ok(verified)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.chain.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.chain.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.chain.supported_verify_schemes()
    }
}

/// An agency's TLS: the CA the central's certificate must chain to, and
/// (for a central that authenticates agencies) the agency's own certificate
/// chain and key.
#[derive(Debug, Clone)]
pub struct ClientTls {
    config: Arc<rustls::ClientConfig>,
    server_name: Option<ServerName<'static>>,
}

impl ClientTls {
    /// Trusts `ca` for the central, and presents `identity` (certificate
    /// chain, key) when given. `server_name` is the name the central's
    /// certificate must carry (`None`: the host of the address connected
    /// to, see [`ClientTls::connect`]).
    ///
    /// # Errors
    /// A file that cannot be read or holds nothing usable, a key that does
    /// not match, a server name that is not a DNS name or IP address.
    pub fn load(
        ca: &Path,
        identity: Option<(&Path, &Path)>,
        server_name: Option<&str>,
    ) -> Result<Self, TlsError> {
        let roots = roots(ca, "CA")?;
        let identity = identity
            .map(|(cert, key)| {
                Ok::<_, TlsError>((
                    load_certificates(cert, "certificate")?,
                    load_private_key(key, "private key")?,
                ))
            })
            .transpose()?;
        Self::new(roots, identity, server_name)
    }

    /// [`ClientTls::load`] over certificates and a key already in memory.
    ///
    /// # Errors
    /// As [`ClientTls::load`].
    pub fn from_der(
        ca: Vec<CertificateDer<'static>>,
        identity: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
        server_name: Option<&str>,
    ) -> Result<Self, TlsError> {
        let mut roots = RootCertStore::empty();
        roots.add_parsable_certificates(ca);
        Self::new(roots, identity, server_name)
    }

    fn new(
        roots: RootCertStore,
        identity: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
        server_name: Option<&str>,
    ) -> Result<Self, TlsError> {
        let server_name = server_name.map(parse_server_name).transpose()?;
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|source| config_error("the TLS protocol versions", source))?
            .with_root_certificates(roots);
        let config = match identity {
            Some((chain, key)) => builder
                .with_client_auth_cert(chain, key)
                .map_err(|source| config_error("the agency's certificate and key", source))?,
            None => builder.with_no_client_auth(),
        };
        Ok(Self {
            config: Arc::new(config),
            server_name,
        })
    }

    /// The name the central's certificate is checked against when connecting
    /// to `server` (`host:port`): the configured server name, or else the
    /// host of `server`.
    ///
    /// # Errors
    /// [`TlsError::ServerName`] when that host is not a DNS name or an IP
    /// address.
    pub fn server_name_for(&self, server: &str) -> Result<ServerName<'static>, TlsError> {
        match &self.server_name {
            Some(name) => Ok(name.clone()),
            None => parse_server_name(host_of(server)),
        }
    }

    /// A new client side of one connection to `server` (`host:port`).
    ///
    /// # Errors
    /// As [`ClientTls::server_name_for`].
    pub fn connect(&self, server: &str) -> Result<rustls::ClientConnection, TlsError> {
        let name = self.server_name_for(server)?;
        rustls::ClientConnection::new(Arc::clone(&self.config), name)
            .map_err(|source| config_error("a TLS client connection", source))
    }
}

/// The host part of `host:port` (`[v6]:port` too).
fn host_of(server: &str) -> &str {
    let host = server.rsplit_once(':').map_or(server, |(host, _)| host);
    host.strip_prefix('[')
        .and_then(|host| host.strip_suffix(']'))
        .unwrap_or(host)
}

fn parse_server_name(name: &str) -> Result<ServerName<'static>, TlsError> {
    ServerName::try_from(name.to_owned()).map_err(|_| TlsError::ServerName {
        name: name.to_owned(),
    })
}

fn roots(path: &Path, what: &'static str) -> Result<RootCertStore, TlsError> {
    let mut store = RootCertStore::empty();
    let (_, unusable) = store.add_parsable_certificates(load_certificates(path, what)?);
    if store.is_empty() {
        return Err(TlsError::Pem {
            what,
            path: path.to_owned(),
            problem: format!("no usable CA certificate ({unusable} unparsable)"),
        });
    }
    Ok(store)
}

fn config_error(what: &str, source: rustls::Error) -> TlsError {
    TlsError::Config {
        what: format!("cannot set up {what}"),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_name_defaults_to_the_host_of_the_address() {
        assert_eq!(host_of("central.example:12345"), "central.example");
        assert_eq!(host_of("127.0.0.1:1"), "127.0.0.1");
        assert_eq!(host_of("[::1]:1"), "::1");
        assert_eq!(host_of("central"), "central");
        assert!(parse_server_name("not a name!").is_err());
    }
}
