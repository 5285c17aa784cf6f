//! A PKI made by the `openssl` command line, as a real deployment brings
//! its own: a root CA (RSA), an intermediate CA (EC, SEC1 key), the
//! central's certificate chain with a PKCS#1 RSA key, an agency's chain
//! with a PKCS#8 EC key. Loaded from the PEM files as openssl wrote them,
//! they run a whole agency over mutual TLS, and the agency's certificate
//! acts only as its own agency.
//!
//! Skipped, saying so, where the `openssl` command is absent (`.ci/run`
//! makes sure it is present).

mod common;

use std::path::Path;
use std::process::Command;

use common::{RawAgency, TestCentral, agency_batches, expected_winners, scratch_dir, settings};
use lottery_net::{AgencyMessage, CentralMessage, ErrorCode};
use lottery_server::ServerConfig;
use lottery_tls::{ClientTls, ServerTls};

fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        output.status.success(),
        "openssl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn openssl_present() -> bool {
    Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|output| output.status.success())
}

/// Signs `name.csr` with `issuer` (`issuer.pem`, `issuer.key`) using the
/// extensions `extensions`.
fn sign(dir: &Path, name: &str, issuer: &str, extensions: &str) {
    std::fs::write(dir.join(format!("{name}.ext")), extensions).unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            &format!("{issuer}.pem"),
            "-CAkey",
            &format!("{issuer}.key"),
            "-CAcreateserial",
            "-days",
            "30",
            "-sha256",
            "-extfile",
            &format!("{name}.ext"),
            "-out",
            &format!("{name}.crt"),
        ],
    );
}

/// Writes the whole PKI into `dir`.
fn make_pki(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "root.key",
            "-out",
            "root.pem",
            "-days",
            "30",
            "-subj",
            "/CN=lottery test root",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    // The intermediate: an EC key in SEC1 form ("EC PRIVATE KEY").
    openssl(
        dir,
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            "intermediate.key",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-key",
            "intermediate.key",
            "-subj",
            "/CN=lottery test intermediate",
            "-out",
            "intermediate.csr",
        ],
    );
    sign(
        dir,
        "intermediate",
        "root",
        "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n",
    );
    std::fs::copy(dir.join("intermediate.crt"), dir.join("intermediate.pem")).unwrap();
    // The central: an RSA key in PKCS#1 form ("RSA PRIVATE KEY").
    openssl(
        dir,
        &["genrsa", "-traditional", "-out", "server.key", "2048"],
    );
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-key",
            "server.key",
            "-subj",
            "/CN=lottery central",
            "-out",
            "server.csr",
        ],
    );
    sign(
        dir,
        "server",
        "intermediate",
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    );
    // Agencies 1 and 2: EC keys in PKCS#8 form ("PRIVATE KEY").
    for agency in ["agency-1", "agency-2"] {
        let key = format!("{agency}.key");
        let csr = format!("{agency}.csr");
        openssl(
            dir,
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                &key,
            ],
        );
        openssl(
            dir,
            &[
                "req",
                "-new",
                "-key",
                &key,
                "-subj",
                &format!("/CN={agency}"),
                "-out",
                &csr,
            ],
        );
        let extensions = format!("subjectAltName=DNS:{agency}\nextendedKeyUsage=clientAuth\n");
        sign(dir, agency, "intermediate", &extensions);
    }
    // Chains, leaf first, as servers and clients send them.
    let intermediate = std::fs::read_to_string(dir.join("intermediate.crt")).unwrap();
    for leaf in ["server", "agency-1", "agency-2"] {
        let cert = std::fs::read_to_string(dir.join(format!("{leaf}.crt"))).unwrap();
        std::fs::write(dir.join(format!("{leaf}.pem")), cert + &intermediate).unwrap();
    }
    for (file, header) in [
        ("intermediate.key", "BEGIN EC PRIVATE KEY"),
        ("server.key", "BEGIN RSA PRIVATE KEY"),
        ("agency-2.key", "BEGIN PRIVATE KEY"),
    ] {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        assert!(
            text.contains(header),
            "{file} is not in the form this test means"
        );
    }
}

#[test]
fn certificates_made_by_the_openssl_cli_run_an_agency_over_mutual_tls() {
    if !openssl_present() {
        eprintln!("skipped: the `openssl` command is absent (.ci/run installs it)");
        return;
    }
    let dir = scratch_dir("tls_openssl");
    let pki = dir.join("pki");
    std::fs::create_dir_all(&pki).unwrap();
    make_pki(&pki);
    let server = ServerTls::load(
        &pki.join("server.pem"),
        &pki.join("server.key"),
        Some(&pki.join("root.pem")),
    )
    .expect("load openssl's server files");
    let central = TestCentral::start(
        &dir,
        2,
        ServerConfig {
            tls: Some(server),
            ..settings(2)
        },
    );
    let load = |agency: &str| {
        ClientTls::load(
            &pki.join("root.pem"),
            Some((
                &pki.join(format!("{agency}.pem")),
                &pki.join(format!("{agency}.key")),
            )),
            None,
        )
        .expect("load openssl's agency files")
    };
    let agency = load("agency-2");
    // As agency 1: not what the certificate names.
    let mut thief = RawAgency::connect_tls(central.addr, &agency);
    match thief.try_hello(1) {
        Ok(Some(CentralMessage::Error(error))) => assert_eq!(error.code, ErrorCode::NotAuthorized),
        other => panic!("expected NotAuthorized, got {other:?}"),
    }
    // As agency 2: a whole run.
    let batches = agency_batches(2, 4, 50);
    let (mut two, welcome) = RawAgency::connect_tls(central.addr, &agency).welcome(2);
    assert_eq!(welcome, (0, 0, false));
    let mut sent = 0;
    for (index, bets) in batches.iter().enumerate() {
        two.send(&AgencyMessage::Batch {
            batch: index as u64 + 1,
            bets: bets.clone(),
        });
        sent += bets.len() as u64;
        assert!(matches!(two.recv(), Some(CentralMessage::Ack { .. })));
    }
    two.send(&AgencyMessage::Finish { bets_sent: sent });
    assert_eq!(
        two.recv(),
        Some(CentralMessage::Finished { bets_stored: sent })
    );
    let (mut one, _) = RawAgency::connect_tls(central.addr, &load("agency-1")).welcome(1);
    one.send(&AgencyMessage::Finish { bets_sent: 0 });
    assert_eq!(
        one.recv(),
        Some(CentralMessage::Finished { bets_stored: 0 })
    );
    two.send(&AgencyMessage::WinnersQuery { wait: true });
    let expected = expected_winners(&batches);
    assert!(!expected.is_empty());
    assert_eq!(two.winners(), expected);
    assert_eq!(common::stored_rows(&central.store).len(), 200);
}
