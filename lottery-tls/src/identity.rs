//! Which agency a client certificate names, and whether it may
//! authenticate one at all: one place for the format.
//!
//! The chain, validity and extendedKeyUsage (`clientAuth`) are rustls-webpki's
//! checks in the handshake; keyUsage is not among them, so it is checked
//! here ([`check_key_usage`], called by the central's client verifier).

use lottery_bet::AgencyId;
use rustls_pki_types::{CertificateDer, DnsName, ServerName};
use x509_parser::prelude::{FromDer, X509Certificate};

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

/// Why a client certificate that chains to the client CA still cannot
/// authenticate an agency.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum KeyUsageRefused {
    /// Its keyUsage extension leaves out digitalSignature, which the key of
    /// a TLS client certificate needs to sign the handshake (RFC 5280
    /// 4.2.1.3, RFC 8446 4.4.2.2).
    #[error(
        "the client certificate's keyUsage extension does not include digitalSignature (it allows {allows}), which a TLS client certificate needs"
    )]
    NoDigitalSignature {
        /// What the extension allows, as openssl names the bits
        /// (`keyEncipherment`), or `nothing`.
        allows: String,
    },
    /// Its extensions do not parse (a keyUsage that is not a bit string, a
    /// repeated keyUsage).
    #[error("the client certificate's keyUsage extension does not parse: {0}")]
    Unreadable(String),
}

/// Checks the keyUsage extension of the end-entity certificate
/// `certificate`: when present, it must include digitalSignature (absent,
/// any usage is allowed, RFC 5280 4.2.1.3).
///
/// # Errors
/// [`KeyUsageRefused`] saying why.
pub(crate) fn check_key_usage(certificate: &CertificateDer<'_>) -> Result<(), KeyUsageRefused> {
    let (_, parsed) = X509Certificate::from_der(certificate.as_ref())
        .map_err(|error| KeyUsageRefused::Unreadable(error.to_string()))?;
    let usage = parsed
        .key_usage()
        .map_err(|error| KeyUsageRefused::Unreadable(error.to_string()))?;
    match usage {
        None => Ok(()),
        Some(usage) if usage.value.digital_signature() => Ok(()),
        Some(usage) => {
            let usage = usage.value;
            let names: Vec<&str> = [
                (usage.non_repudiation(), "nonRepudiation"),
                (usage.key_encipherment(), "keyEncipherment"),
                (usage.data_encipherment(), "dataEncipherment"),
                (usage.key_agreement(), "keyAgreement"),
                (usage.key_cert_sign(), "keyCertSign"),
                (usage.crl_sign(), "cRLSign"),
                (usage.encipher_only(), "encipherOnly"),
                (usage.decipher_only(), "decipherOnly"),
            ]
            .into_iter()
            .filter_map(|(set, name)| set.then_some(name))
            .collect();
            Err(KeyUsageRefused::NoDigitalSignature {
                allows: if names.is_empty() {
                    "nothing".to_owned()
                } else {
                    names.join(", ")
                },
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, KeyPair, KeyUsagePurpose};

    fn with_usages(usages: Vec<KeyUsagePurpose>) -> CertificateDer<'static> {
        let mut params = CertificateParams::new(vec!["agency-1".to_owned()]).unwrap();
        params.key_usages = usages;
        let key = KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().clone()
    }

    #[test]
    fn a_key_usage_must_include_digital_signature_when_present() {
        use KeyUsagePurpose::{CrlSign, DigitalSignature, KeyEncipherment};
        assert_eq!(check_key_usage(&with_usages(Vec::new())), Ok(()));
        assert_eq!(
            check_key_usage(&with_usages(vec![KeyEncipherment, DigitalSignature])),
            Ok(())
        );
        assert_eq!(
            check_key_usage(&with_usages(vec![KeyEncipherment, CrlSign])),
            Err(KeyUsageRefused::NoDigitalSignature {
                allows: "keyEncipherment, cRLSign".to_owned()
            })
        );
        assert!(matches!(
            check_key_usage(&CertificateDer::from(vec![0x30, 0x03, 0x02, 0x01])),
            Err(KeyUsageRefused::Unreadable(_))
        ));
    }
}
