//! PEM files as openssl writes them: certificate chains (leaf first) and
//! private keys in PKCS#8, SEC1 (`EC PRIVATE KEY`) or PKCS#1
//! (`RSA PRIVATE KEY`) form.

use std::path::Path;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::TlsError;

/// Every certificate in the PEM file at `path`, in file order (a chain:
/// the leaf first). Other PEM items (a key in the same file, say) are
/// skipped.
///
/// # Errors
/// [`TlsError::Read`] when the file cannot be read; [`TlsError::Pem`] when it
/// holds a broken PEM item or no certificate.
pub fn load_certificates(
    path: &Path,
    what: &'static str,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read(path, what)?;
    let certificates = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| pem_error(path, what, format!("a broken PEM item ({error})")))?;
    if certificates.is_empty() {
        return Err(pem_error(path, what, "no CERTIFICATE".to_owned()));
    }
    Ok(certificates)
}

/// The first private key in the PEM file at `path` (PKCS#8, SEC1 or
/// PKCS#1).
///
/// # Errors
/// [`TlsError::Read`] when the file cannot be read; [`TlsError::Pem`] when it
/// holds no private key (or a broken PEM item).
pub fn load_private_key(
    path: &Path,
    what: &'static str,
) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = read(path, what)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|error| {
        let problem = match error {
            rustls_pki_types::pem::Error::NoItemsFound => {
                "no PRIVATE KEY (PKCS#8, EC or RSA)".to_owned()
            }
            other => format!("a broken PEM item ({other})"),
        };
        pem_error(path, what, problem)
    })
}

fn read(path: &Path, what: &'static str) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        what,
        path: path.to_owned(),
        source,
    })
}

fn pem_error(path: &Path, what: &'static str, problem: String) -> TlsError {
    TlsError::Pem {
        what,
        path: path.to_owned(),
        problem,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_without_certificates_is_refused_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.pem");
        std::fs::write(&path, "not a pem file\n").unwrap();
        let error = load_certificates(&path, "certificate").unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("empty.pem") && text.contains("no CERTIFICATE"),
            "{text}"
        );
        let error = load_private_key(&path, "key").unwrap_err();
        assert!(error.to_string().contains("no PRIVATE KEY"), "{error}");
    }

    #[test]
    fn a_missing_file_is_a_read_error() {
        let error = load_certificates(Path::new("/nonexistent/x.pem"), "CA").unwrap_err();
        assert!(matches!(error, TlsError::Read { .. }), "{error:?}");
        assert!(error.to_string().contains("/nonexistent/x.pem"));
    }
}
