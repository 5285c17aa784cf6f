//! Which agency a client certificate names: one place for the format.

use lottery_core::AgencyId;
use rustls_pki_types::{CertificateDer, DnsName, ServerName};

/// The subjectAltName DNS entry that names agency `agency`: `agency-N`.
pub fn agency_name(agency: AgencyId) -> String {
    format!("agency-{agency}")
}

/// Whether the end-entity certificate `certificate` names `agency` (has the
/// subjectAltName DNS entry [`agency_name`]). The chain is not checked here:
/// rustls verified it against the client CA in the handshake.
///
/// A certificate that does not parse names nobody.
pub fn certifies(certificate: &CertificateDer<'_>, agency: AgencyId) -> bool {
    let Ok(end_entity) = webpki::EndEntityCert::try_from(certificate) else {
        return false;
    };
    let Ok(name) = DnsName::try_from(agency_name(agency)) else {
        return false;
    };
    end_entity
        .verify_is_valid_for_subject_name(&ServerName::DnsName(name))
        .is_ok()
}
