//! Client certificates whose keyUsage extension leaves out
//! digitalSignature are refused: a real `lottery-server` with mutual TLS,
//! rcgen-made certificates written as PEM files, real TLS connections on
//! 127.0.0.1. The refused agency gets a TLS alert, the central's log says
//! why; a certificate with digitalSignature among its usages, or with no
//! keyUsage at all, acts as its agency. Before, rustls-webpki's checks (the
//! chain, validity, extendedKeyUsage) let a keyEncipherment-only
//! certificate act as an agency.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::{RawAgency, SAFETY_TIMEOUT, scratch_dir};
use lottery_tls::{ClientTls, load_certificates, load_private_key};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};

const BINARY: &str = env!("CARGO_BIN_EXE_lottery-server");

/// Issues a certificate for `names` with `usages` (empty: no keyUsage
/// extension) and `eku`, signed by `ca`; writes `NAME.pem` and `NAME.key`.
fn issue(
    dir: &Path,
    file: &str,
    ca: &CertifiedIssuer<'_, KeyPair>,
    names: &[&str],
    usages: Vec<KeyUsagePurpose>,
    eku: ExtendedKeyUsagePurpose,
) {
    let mut params = CertificateParams::new(
        names
            .iter()
            .map(|name| (*name).to_owned())
            .collect::<Vec<_>>(),
    )
    .unwrap();
    params.key_usages = usages;
    params.extended_key_usages = vec![eku];
    let key = KeyPair::generate().unwrap();
    let certificate = params.signed_by(&key, ca).unwrap();
    std::fs::write(dir.join(format!("{file}.pem")), certificate.pem()).unwrap();
    std::fs::write(dir.join(format!("{file}.key")), key.serialize_pem()).unwrap();
}

/// A CA (`ca.pem`), the central's certificate for 127.0.0.1 and one agency
/// certificate per case, all in `dir`.
fn make_pki(dir: &Path) {
    let mut params = CertificateParams::default();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    issue(
        dir,
        "server",
        &ca,
        &["localhost", "127.0.0.1"],
        vec![KeyUsagePurpose::DigitalSignature],
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    let client = ExtendedKeyUsagePurpose::ClientAuth;
    use KeyUsagePurpose::{ContentCommitment, DigitalSignature, KeyAgreement, KeyEncipherment};
    issue(
        dir,
        "encipher-only",
        &ca,
        &["agency-1"],
        vec![KeyEncipherment],
        client.clone(),
    );
    issue(
        dir,
        "agreement-and-commitment",
        &ca,
        &["agency-1"],
        vec![KeyAgreement, ContentCommitment],
        client.clone(),
    );
    issue(
        dir,
        "signing-among-others",
        &ca,
        &["agency-1"],
        vec![KeyEncipherment, DigitalSignature],
        client.clone(),
    );
    issue(dir, "no-key-usage", &ca, &["agency-2"], Vec::new(), client);
}

/// The central, its log in a file.
struct Central {
    child: Child,
    log: PathBuf,
}

impl Central {
    fn start(dir: &Path, pki: &Path) -> Self {
        let log = dir.join("central.log");
        let child = Command::new(BINARY)
            .args([
                "--listen",
                "127.0.0.1:0",
                "--threads",
                "1",
                "--agencies",
                "2",
            ])
            .arg("--store")
            .arg(dir.join("bets.csv"))
            .arg("--tls-cert")
            .arg(pki.join("server.pem"))
            .arg("--tls-key")
            .arg(pki.join("server.key"))
            .arg("--tls-client-ca")
            .arg(pki.join("ca.pem"))
            .args(["--log-level", "INFO"])
            .env_remove("LOGGING_LEVEL")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start lottery-server");
        Self { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn address(&mut self) -> std::net::SocketAddr {
        const LISTEN: &str = "action: accept_connections | result: in_progress | listen: ";
        let deadline = Instant::now() + SAFETY_TIMEOUT;
        loop {
            let log = self.log();
            if let Some(at) = log.find(LISTEN) {
                let rest = &log[at + LISTEN.len()..];
                let end = rest.find([' ', '\n']).unwrap_or(rest.len());
                return rest[..end].parse().expect("an address");
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("lottery-server exited ({status}):\n{log}");
            }
            assert!(Instant::now() < deadline, "no start:\n{log}");
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits until the log holds `text` (the central logs a refusal after
    /// the alert has left).
    fn wait_for(&self, text: &str) -> String {
        let deadline = Instant::now() + SAFETY_TIMEOUT;
        loop {
            let log = self.log();
            if log.contains(text) {
                return log;
            }
            assert!(Instant::now() < deadline, "no {text:?} in:\n{log}");
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Central {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn agency_tls(pki: &Path, file: &str) -> ClientTls {
    ClientTls::from_der(
        load_certificates(&pki.join("ca.pem"), "CA").unwrap(),
        Some((
            load_certificates(&pki.join(format!("{file}.pem")), "certificate").unwrap(),
            load_private_key(&pki.join(format!("{file}.key")), "key").unwrap(),
        )),
        Some("localhost"),
    )
    .unwrap()
}

#[test]
fn a_client_certificate_whose_key_usage_lacks_digital_signature_is_refused() {
    let dir = scratch_dir("tls_key_usage");
    let pki = dir.join("pki");
    std::fs::create_dir_all(&pki).unwrap();
    make_pki(&pki);
    let mut central = Central::start(&dir, &pki);
    let addr = central.address();
    for (file, allows) in [
        ("encipher-only", "keyEncipherment"),
        ("agreement-and-commitment", "nonRepudiation, keyAgreement"),
    ] {
        let mut agency = RawAgency::connect_tls(addr, &agency_tls(&pki, file));
        let answer = agency.try_hello(1);
        let error = answer.expect_err(file).to_string();
        assert_eq!(error, "received fatal alert: CertificateUnknown", "{file}");
        drop(agency);
        let why = format!(
            "the client certificate's keyUsage extension does not include digitalSignature (it allows {allows}), which a TLS client certificate needs"
        );
        let log = central.wait_for(&why);
        let line = log.lines().find(|line| line.contains(&why)).unwrap();
        assert!(
            line.contains("action: close_connection")
                && line.contains("agency: none")
                && line.contains(&format!(
                    "reason: TLS failed: invalid peer certificate: {why}"
                )),
            "{line}"
        );
    }
    // With digitalSignature among its usages, or no keyUsage at all: an
    // agency like any other.
    for (file, agency) in [("signing-among-others", 1), ("no-key-usage", 2)] {
        let (_connection, welcome) =
            RawAgency::connect_tls(addr, &agency_tls(&pki, file)).welcome(agency);
        assert_eq!(welcome, (0, 0, false), "{file}");
    }
}
