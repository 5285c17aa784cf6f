//! Certificates for quick setups (rcgen): a CA, the central's certificate,
//! one certificate per agency. Real deployments bring their own PKI; these
//! follow the same rules (see `SECURITY.md`).

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use lottery_bet::AgencyId;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, date_time_ymd,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::TlsError;
use crate::identity::agency_name;
use crate::receipt::generate_receipt_keys;

/// Years a generated CA certificate is valid.
const CA_YEARS: i32 = 10;
/// Years a generated central or agency certificate is valid (rotate before:
/// `SECURITY.md`).
const LEAF_YEARS: i32 = 2;

/// A certificate authority that issues the central's and the agencies'
/// certificates (ECDSA P-256 keys).
pub struct Authority {
    issuer: CertifiedIssuer<'static, KeyPair>,
    /// The common name of its subject (and of every certificate's issuer).
    name: String,
}

/// A certificate and its private key, PEM encoded.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The certificate (`CERTIFICATE`).
    pub certificate_pem: String,
    /// Its private key (`PRIVATE KEY`, PKCS#8).
    pub key_pem: String,
}

impl Issued {
    /// The certificate, DER encoded.
    ///
    /// # Errors
    /// Does not fail for what this module issued.
    pub fn certificate_der(&self) -> Result<CertificateDer<'static>, TlsError> {
        CertificateDer::from_pem_slice(self.certificate_pem.as_bytes())
            .map_err(|error| in_memory_error("certificate", error))
    }

    /// The private key, DER encoded.
    ///
    /// # Errors
    /// Does not fail for what this module issued.
    pub fn key_der(&self) -> Result<PrivateKeyDer<'static>, TlsError> {
        PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes())
            .map_err(|error| in_memory_error("private key", error))
    }
}

impl Authority {
    /// A new self-signed CA whose subject's common name is `name`.
    ///
    /// # Errors
    /// rcgen's (key generation, signing).
    pub fn new(name: &str) -> Result<Self, TlsError> {
        let key = KeyPair::generate().map_err(|source| generate_error("a CA key", source))?;
        Self::with_key(name.to_owned(), key)
    }

    /// A new self-signed CA with a name no other CA has: `lottery CA`, its
    /// creation time `created` (UTC, to the second) and 8 hex digits drawn
    /// from its new key, e.g. `lottery CA 2026-12-07 00:31:02 UTC 3f9a1c2b`.
    ///
    /// Two CAs of one name are the TLS mistake that explains itself worst:
    /// a peer holding the other set's CA finds the issuer it expects by name
    /// and then a signature that does not verify (`BadSignature`,
    /// `DecryptError`), instead of an unknown issuer. With unique names,
    /// certificates from two runs are told apart as what they are.
    ///
    /// # Errors
    /// rcgen's (key generation, signing).
    pub fn unique(created: SystemTime) -> Result<Self, TlsError> {
        let key = KeyPair::generate().map_err(|source| generate_error("a CA key", source))?;
        // The public key's x coordinate (after the uncompressed point's 0x04
        // byte) is as random as the new private key: a suffix that needs no
        // other source of randomness.
        let suffix: String = key
            .public_key_raw()
            .iter()
            .skip(1)
            .take(4)
            .map(|byte| format!("{byte:02x}"))
            .collect();
        Self::with_key(format!("lottery CA {} {suffix}", utc_time(created)), key)
    }

    fn with_key(name: String, key: KeyPair) -> Result<Self, TlsError> {
        let mut params = CertificateParams::default();
        params.distinguished_name = common_name(&name);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        set_validity(&mut params, CA_YEARS);
        let issuer = CertifiedIssuer::self_signed(params, key)
            .map_err(|source| generate_error("the CA certificate", source))?;
        Ok(Self { issuer, name })
    }

    /// The common name of the CA's subject.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The CA's certificate, PEM encoded (`ca.pem`: the trust anchor of
    /// both sides).
    pub fn certificate_pem(&self) -> String {
        self.issuer.pem()
    }

    /// The CA's certificate, DER encoded.
    pub fn certificate_der(&self) -> CertificateDer<'static> {
        self.issuer.der().clone()
    }

    /// The CA's private key, PEM encoded (`ca.key`: keep it offline).
    pub fn key_pem(&self) -> String {
        self.issuer.key().serialize_pem()
    }

    /// The central's certificate, valid for `names` (DNS names or IP
    /// addresses, as the agencies connect to it).
    ///
    /// # Errors
    /// rcgen's (a name that is neither, say).
    pub fn issue_server(&self, names: &[String]) -> Result<Issued, TlsError> {
        self.issue(
            "lottery central",
            names,
            ExtendedKeyUsagePurpose::ServerAuth,
            None,
        )
    }

    /// Agency `agency`'s certificate: subjectAltName DNS `agency-N`.
    ///
    /// # Errors
    /// rcgen's.
    pub fn issue_agency(&self, agency: AgencyId) -> Result<Issued, TlsError> {
        self.agency_certificate(agency, None)
    }

    /// Agency `agency`'s certificate, expired since 2001: what a central
    /// must refuse (for tests).
    ///
    /// # Errors
    /// rcgen's.
    pub fn issue_expired_agency(&self, agency: AgencyId) -> Result<Issued, TlsError> {
        self.agency_certificate(agency, Some((2000, 2001)))
    }

    /// Agency `agency`'s client certificate, valid `years` (or from now on).
    fn agency_certificate(
        &self,
        agency: AgencyId,
        years: Option<(i32, i32)>,
    ) -> Result<Issued, TlsError> {
        let name = agency_name(agency);
        self.issue(
            &name,
            std::slice::from_ref(&name),
            ExtendedKeyUsagePurpose::ClientAuth,
            years,
        )
    }

    /// The central's certificate for `names`, expired since 2001: what an
    /// agency must refuse (for tests).
    ///
    /// # Errors
    /// rcgen's.
    pub fn issue_expired_server(&self, names: &[String]) -> Result<Issued, TlsError> {
        self.issue(
            "lottery central",
            names,
            ExtendedKeyUsagePurpose::ServerAuth,
            Some((2000, 2001)),
        )
    }

    fn issue(
        &self,
        common: &str,
        names: &[String],
        usage: ExtendedKeyUsagePurpose,
        years: Option<(i32, i32)>,
    ) -> Result<Issued, TlsError> {
        let what = || format!("the certificate of {common}");
        let mut params = CertificateParams::new(names.to_vec())
            .map_err(|source| generate_error(&what(), source))?;
        params.distinguished_name = common_name(common);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![usage];
        params.use_authority_key_identifier_extension = true;
        match years {
            Some((from, until)) => {
                params.not_before = date_time_ymd(from, 1, 1);
                params.not_after = date_time_ymd(until, 1, 1);
            }
            None => set_validity(&mut params, LEAF_YEARS),
        }
        let key = KeyPair::generate().map_err(|source| generate_error(&what(), source))?;
        let certificate = params
            .signed_by(&key, &self.issuer)
            .map_err(|source| generate_error(&what(), source))?;
        Ok(Issued {
            certificate_pem: certificate.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("Authority")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// The files [`write_pki`] wrote.
#[derive(Debug, Clone)]
pub struct PkiFiles {
    dir: PathBuf,
    /// The CA's name ([`Authority::unique`]).
    ca_name: String,
}

impl PkiFiles {
    /// The name of the CA that issued the set (unique to this set:
    /// [`Authority::unique`]).
    pub fn ca_name(&self) -> &str {
        &self.ca_name
    }

    /// The CA's certificate (`ca.pem`).
    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// The central's certificate and key (`server.pem`, `server.key`).
    pub fn server(&self) -> (PathBuf, PathBuf) {
        (self.dir.join("server.pem"), self.dir.join("server.key"))
    }

    /// The receipt signing key and its public half (`receipt-key.pem`,
    /// `receipt-pubkey.pem`).
    pub fn receipt_keys(&self) -> (PathBuf, PathBuf) {
        receipt_key_files(&self.dir)
    }

    /// Agency `agency`'s certificate and key (`agency-N.pem`, `agency-N.key`).
    pub fn agency(&self, agency: AgencyId) -> (PathBuf, PathBuf) {
        let name = agency_name(agency);
        (
            self.dir.join(format!("{name}.pem")),
            self.dir.join(format!("{name}.key")),
        )
    }
}

/// Writes a new CA (with a unique name: [`Authority::unique`]) and
/// certificates for the central (valid for
/// `server_names`) and for agencies 1 to `agencies` into `dir` (created if
/// missing): `ca.pem`, `ca.key`, `server.pem`, `server.key`, `agency-N.pem`,
/// `agency-N.key`, and a receipt key pair (`receipt-key.pem`,
/// `receipt-pubkey.pem`: [`write_receipt_keys`]). Private keys are written mode 0600. No file is
/// overwritten: one that exists already fails the whole call before anything
/// is written.
///
/// # Errors
/// [`TlsError::Write`] for a file that exists or cannot be written; rcgen's.
pub fn write_pki(
    dir: &Path,
    agencies: &[AgencyId],
    server_names: &[String],
) -> Result<PkiFiles, TlsError> {
    let authority = Authority::unique(SystemTime::now())?;
    let files = PkiFiles {
        dir: dir.to_owned(),
        ca_name: authority.name().to_owned(),
    };
    let mut plan: Vec<(PathBuf, String, bool)> = Vec::new();
    plan.push((files.ca(), authority.certificate_pem(), false));
    plan.push((dir.join("ca.key"), authority.key_pem(), true));
    let server = authority.issue_server(server_names)?;
    let (cert, key) = files.server();
    plan.push((cert, server.certificate_pem, false));
    plan.push((key, server.key_pem, true));
    let (receipt_private, receipt_public) = generate_receipt_keys()?;
    let (private, public) = files.receipt_keys();
    plan.push((private, receipt_private, true));
    plan.push((public, receipt_public, false));
    for &agency in agencies {
        let issued = authority.issue_agency(agency)?;
        let (cert, key) = files.agency(agency);
        plan.push((cert, issued.certificate_pem, false));
        plan.push((key, issued.key_pem, true));
    }
    std::fs::create_dir_all(dir).map_err(|source| TlsError::Write {
        path: dir.to_owned(),
        source,
    })?;
    // `symlink_metadata`, not `exists`: a symbolic link at a name is
    // refused too, even a dangling one (never written through; `write_new`'s
    // `create_new` would refuse it as well, but after other files).
    if let Some((path, link)) = plan.iter().find_map(|(path, ..)| {
        path.symlink_metadata()
            .ok()
            .map(|meta| (path, meta.file_type().is_symlink()))
    }) {
        let what = if link {
            "it is a symbolic link (never written through; nothing was written; remove it)"
        } else {
            "it exists already (nothing was written; remove the old set first)"
        };
        return Err(TlsError::Write {
            path: path.clone(),
            source: std::io::Error::new(std::io::ErrorKind::AlreadyExists, what),
        });
    }
    for (path, contents, private) in &plan {
        write_new(path, contents, *private)?;
    }
    Ok(files)
}

/// The files [`write_receipt_keys`] writes into `dir`: the private key
/// and the public one.
pub fn receipt_key_files(dir: &Path) -> (PathBuf, PathBuf) {
    (dir.join("receipt-key.pem"), dir.join("receipt-pubkey.pem"))
}

/// Writes a new receipt key pair ([`generate_receipt_keys`]) into `dir`
/// (created if missing): `receipt-key.pem` (PKCS#8, mode 0600: the
/// central's) and `receipt-pubkey.pem` (for the agencies and auditors).
/// Nothing is overwritten: if either exists (or is a symbolic link), nothing
/// is written.
///
/// # Errors
/// [`TlsError::Write`]; [`TlsError::Generate`].
pub fn write_receipt_keys(dir: &Path) -> Result<(PathBuf, PathBuf), TlsError> {
    let (private, public) = receipt_key_files(dir);
    let (private_pem, public_pem) = generate_receipt_keys()?;
    std::fs::create_dir_all(dir).map_err(|source| TlsError::Write {
        path: dir.to_owned(),
        source,
    })?;
    if let Some(path) = [&private, &public]
        .into_iter()
        .find(|path| path.symlink_metadata().is_ok())
    {
        return Err(TlsError::Write {
            path: path.clone(),
            source: std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "it exists already (nothing was written; remove the old pair first)",
            ),
        });
    }
    write_new(&private, &private_pem, true)?;
    write_new(&public, &public_pem, false)?;
    Ok((private, public))
}

/// Creates `path` (it must not exist: `create_new`, which also refuses a
/// symbolic link at the name, dangling or not), private keys readable by
/// the owner only from the start (never briefly world-readable).
fn write_new(path: &Path, contents: &str, private: bool) -> Result<(), TlsError> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if private { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = private;
    options
        .open(path)
        .and_then(|mut file| {
            file.write_all(contents.as_bytes())?;
            file.sync_all()
        })
        .map_err(|source| TlsError::Write {
            path: path.to_owned(),
            source,
        })
}

fn common_name(name: &str) -> DistinguishedName {
    let mut distinguished = DistinguishedName::new();
    distinguished.push(DnType::CommonName, name);
    distinguished
}

/// Valid from the start of this year (so a clock a little behind still
/// accepts it) for `years` years.
fn set_validity(params: &mut CertificateParams, years: i32) {
    let year = this_year();
    params.not_before = date_time_ymd(year - 1, 12, 1);
    params.not_after = date_time_ymd(year + years, 12, 31);
}

/// The current UTC year, from the system clock (about: a day off around New
/// Year is covered by the validity's margin).
fn this_year() -> i32 {
    const SECONDS_PER_YEAR: u64 = 31_556_952;
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    1970 + i32::try_from(seconds / SECONDS_PER_YEAR).unwrap_or(0)
}

/// `created` as `YYYY-MM-DD HH:MM:SS UTC` (a time before 1970 as 1970's
/// first second: a clock that wrong is not believed).
fn utc_time(created: SystemTime) -> String {
    let seconds = created
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let (year, month, day) = lottery_log::utc_date(seconds);
    let of_day = seconds % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    )
}

fn generate_error(what: &str, source: rcgen::Error) -> TlsError {
    TlsError::Generate {
        what: what.to_owned(),
        source,
    }
}

fn in_memory_error(what: &'static str, error: rustls_pki_types::pem::Error) -> TlsError {
    TlsError::Pem {
        what,
        path: PathBuf::from("(in memory)"),
        problem: format!("a broken PEM item ({error})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::certifies;

    fn agency(id: u32) -> AgencyId {
        AgencyId::new(id).unwrap()
    }

    #[test]
    fn an_agency_certificate_names_its_agency_only() {
        let ca = Authority::new("test CA").unwrap();
        let issued = ca.issue_agency(agency(2)).unwrap();
        let der = issued.certificate_der().unwrap();
        assert!(certifies(&der, agency(2)));
        assert!(!certifies(&der, agency(3)));
        assert!(!certifies(&der, agency(22)));
        let server = ca
            .issue_server(&["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
        assert!(!certifies(&server.certificate_der().unwrap(), agency(2)));
    }

    #[test]
    fn unique_cas_are_named_by_creation_time_and_a_suffix_of_their_own() {
        let created = UNIX_EPOCH + std::time::Duration::from_secs(951_827_696);
        let first = Authority::unique(created).unwrap();
        let second = Authority::unique(created).unwrap();
        let prefix = "lottery CA 2000-02-29 12:34:56 UTC ";
        for ca in [&first, &second] {
            let suffix = ca
                .name()
                .strip_prefix(prefix)
                .unwrap_or_else(|| panic!("{ca:?}"));
            assert_eq!(suffix.len(), 8, "{suffix}");
            assert!(
                suffix.bytes().all(|byte| byte.is_ascii_hexdigit()),
                "{suffix}"
            );
        }
        assert_ne!(first.name(), second.name(), "the same second, two names");
        // The name is the certificate's subject, in its bytes.
        let der = first.certificate_der();
        assert!(
            der.windows(first.name().len())
                .any(|window| window == first.name().as_bytes())
        );
    }

    #[test]
    fn write_pki_writes_every_file_keys_private_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("pki");
        let agencies = [agency(1), agency(2)];
        let files = write_pki(&out, &agencies, &["localhost".to_owned()]).unwrap();
        let mut names: Vec<String> = std::fs::read_dir(&out)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "agency-1.key",
                "agency-1.pem",
                "agency-2.key",
                "agency-2.pem",
                "ca.key",
                "ca.pem",
                "receipt-key.pem",
                "receipt-pubkey.pem",
                "server.key",
                "server.pem"
            ]
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for name in &names {
                let mode = std::fs::metadata(out.join(name))
                    .unwrap()
                    .permissions()
                    .mode()
                    & 0o777;
                let private = name.ends_with(".key") || name == "receipt-key.pem";
                let expected = if private { 0o600 } else { 0o644 };
                assert_eq!(mode, expected, "{name}");
            }
        }
        let (cert, _) = files.agency(agency(2));
        let der = crate::pem::load_certificates(&cert, "certificate").unwrap();
        assert!(certifies(&der[0], agency(2)));
        let before = std::fs::read(files.ca()).unwrap();
        let error = write_pki(&out, &agencies, &["localhost".to_owned()]).unwrap_err();
        assert!(error.to_string().contains("ca.pem"), "{error}");
        assert_eq!(
            std::fs::read(files.ca()).unwrap(),
            before,
            "nothing overwritten"
        );
    }
}
