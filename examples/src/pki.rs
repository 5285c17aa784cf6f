//! A PKI generated in memory for a run over mutual TLS (`lottery-demo
//! --tls`, `lottery-loadgen --tls`): a CA, the in-process central's
//! certificate for the loopback address, and one certificate per agency.
//! Nothing is written to disk; it lives as long as the run.

use lottery_bet::AgencyId;
use lottery_tls::{Authority, ClientTls, Issued, ServerTls, TlsError};

/// The names the in-process central's certificate carries.
const CENTRAL_NAMES: [&str; 2] = ["127.0.0.1", "localhost"];

/// A CA and the central's certificate; agencies' certificates are issued
/// on demand.
///
/// ```
/// use lottery_bet::AgencyId;
/// use lottery_examples::pki::MemoryPki;
/// let pki = MemoryPki::new()?;
/// let central = pki.central()?;
/// assert!(central.authenticates_agencies());
/// let agency = pki.agency(AgencyId::new(1).unwrap())?;
/// assert_eq!(agency.server_name_for("127.0.0.1:1")?.to_str(), "127.0.0.1");
/// # Ok::<(), lottery_tls::TlsError>(())
/// ```
pub struct MemoryPki {
    ca: Authority,
    central: Issued,
}

impl std::fmt::Debug for MemoryPki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never a key.
        f.debug_struct("MemoryPki").finish_non_exhaustive()
    }
}

impl MemoryPki {
    /// A new CA and the central's certificate (for `127.0.0.1` and
    /// `localhost`).
    ///
    /// # Errors
    /// rcgen's, through [`TlsError`].
    pub fn new() -> Result<Self, TlsError> {
        let ca = Authority::new("lottery in-memory CA")?;
        let names: Vec<String> = CENTRAL_NAMES.iter().map(|name| name.to_string()).collect();
        let central = ca.issue_server(&names)?;
        Ok(Self { ca, central })
    }

    /// The central's TLS: its certificate, and the CA as its client CA
    /// (mutual TLS: every agency must present its own certificate).
    ///
    /// # Errors
    /// As [`ServerTls::from_der`].
    pub fn central(&self) -> Result<ServerTls, TlsError> {
        ServerTls::from_der(
            vec![self.central.certificate_der()?],
            self.central.key_der()?,
            Some(vec![self.ca.certificate_der()]),
        )
    }

    /// Agency `agency`'s TLS: the CA trusted for the central, and a new
    /// certificate naming the agency.
    ///
    /// # Errors
    /// rcgen's; as [`ClientTls::from_der`].
    pub fn agency(&self, agency: AgencyId) -> Result<ClientTls, TlsError> {
        let issued = self.ca.issue_agency(agency)?;
        ClientTls::from_der(
            vec![self.ca.certificate_der()],
            Some((vec![issued.certificate_der()?], issued.key_der()?)),
            None,
        )
    }
}
