//! TLS on the agency port, against an in-process central on 127.0.0.1, with
//! certificates generated in the test: with client certificates, only the
//! holder of agency N's certificate acts as N; a TLS central refuses
//! plaintext and peers without a valid certificate; nobody on the wire reads
//! the bets.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;

use common::{
    RawAgency, TestCentral, agency_batches, expected_winners, run_agency, scratch_dir, settings,
};
use lottery_bet::AgencyId;
use lottery_net::{AgencyMessage, CentralMessage, ErrorCode};
use lottery_server::ServerConfig;
use lottery_tls::{Authority, ClientTls, Issued, ServerTls};

fn id(agency: u32) -> AgencyId {
    AgencyId::new(agency).unwrap()
}

/// A CA, the central's certificate for `localhost`, and agency certificates.
struct Pki {
    ca: Authority,
    server: Issued,
}

impl Pki {
    fn new() -> Self {
        let ca = Authority::new("test CA").unwrap();
        let server = ca
            .issue_server(&["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
        Self { ca, server }
    }

    /// The central's TLS; with `mutual`, agencies must present certificates
    /// of this CA.
    fn server_tls(&self, mutual: bool) -> ServerTls {
        ServerTls::from_der(
            vec![self.server.certificate_der().unwrap()],
            self.server.key_der().unwrap(),
            mutual.then(|| vec![self.ca.certificate_der()]),
        )
        .unwrap()
    }

    /// An agency's TLS presenting `identity` (none: no client certificate).
    fn client(&self, identity: Option<&Issued>) -> ClientTls {
        client_trusting(&self.ca, identity, "localhost")
    }

    fn agency(&self, agency: u32) -> ClientTls {
        let issued = self.ca.issue_agency(id(agency)).unwrap();
        self.client(Some(&issued))
    }
}

fn client_trusting(ca: &Authority, identity: Option<&Issued>, name: &str) -> ClientTls {
    let identity = identity.map(|issued| {
        (
            vec![issued.certificate_der().unwrap()],
            issued.key_der().unwrap(),
        )
    });
    ClientTls::from_der(vec![ca.certificate_der()], identity, Some(name)).unwrap()
}

fn tls_settings(tls: ServerTls) -> ServerConfig {
    ServerConfig {
        tls: Some(tls),
        ..settings(2)
    }
}

/// The first answer to `Hello(agency)` over `connection`: its error code,
/// or `None` when the central closed (or failed the TLS handshake) without a
/// frame.
fn refusal_of_hello(mut connection: RawAgency, agency: u32) -> Result<ErrorCode, String> {
    match connection.try_hello(agency) {
        Ok(Some(CentralMessage::Error(error))) => {
            // Refused means closed, too.
            assert_eq!(connection.try_recv().ok().flatten(), None);
            Ok(error.code)
        }
        Ok(other) => Err(format!("answered {other:?}")),
        Err(error) => Err(error.to_string()),
    }
}

#[test]
fn three_agencies_over_mutual_tls_store_every_bet_and_get_exactly_their_winners() {
    let dir = scratch_dir("tls_three_agencies");
    let pki = Pki::new();
    let central = TestCentral::start(&dir, 3, tls_settings(pki.server_tls(true)));
    let runs: Vec<_> = (1..=3)
        .map(|agency| {
            let tls = pki.agency(agency);
            let addr = central.addr;
            thread::spawn(move || {
                let batches = agency_batches(agency, 5, 60);
                let winners = run_agency(RawAgency::connect_tls(addr, &tls), agency, &batches);
                (winners, expected_winners(&batches))
            })
        })
        .collect();
    for run in runs {
        let (got, expected) = run.join().unwrap();
        assert!(!expected.is_empty());
        assert_eq!(got, expected);
    }
    assert_eq!(common::stored_rows(&central.store).len(), 3 * 5 * 60);
}

#[test]
fn a_certificate_of_agency_2_cannot_act_as_3_nor_send_finish_or_read_its_winners() {
    let dir = scratch_dir("tls_impersonation");
    let pki = Pki::new();
    let central = TestCentral::start(&dir, 3, tls_settings(pki.server_tls(true)));
    // The real agency 3 is connected and mid-run.
    let (mut real, _) = RawAgency::connect_tls(central.addr, &pki.agency(3)).welcome(3);
    let batch = agency_batches(3, 1, 10).remove(0);
    real.send(&AgencyMessage::Batch {
        batch: 1,
        bets: batch,
    });
    assert!(matches!(
        real.recv(),
        Some(CentralMessage::Ack { batch: 1, .. })
    ));
    // Agency 2's certificate, asking to be 3 (to inject a batch, finish it,
    // read its winners, or replace its connection): refused before anything
    // about agency 3 is said.
    let thief = pki.agency(2);
    for attempt in 0..3 {
        let code = refusal_of_hello(RawAgency::connect_tls(central.addr, &thief), 3);
        assert_eq!(code, Ok(ErrorCode::NotAuthorized), "attempt {attempt}");
    }
    // A forged batch or finish right after the Hello is never taken either.
    let mut forger = RawAgency::connect_tls(central.addr, &thief);
    forger.handshake().unwrap();
    let forged = agency_batches(3, 1, 1).remove(0);
    let mut bytes = Vec::new();
    for message in [
        AgencyMessage::Hello {
            version: lottery_net::PROTOCOL_VERSION,
            agency: 3,
        },
        AgencyMessage::Batch {
            batch: 2,
            bets: forged,
        },
        AgencyMessage::Finish { bets_sent: 10 },
        AgencyMessage::WinnersQuery { wait: false },
    ] {
        lottery_net::encode_agency_message(&message, lottery_net::DEFAULT_MAX_FRAME, &mut bytes)
            .unwrap();
    }
    forger.send_raw(&bytes);
    let codes = forger.codes_until_closed();
    assert_eq!(codes, [ErrorCode::NotAuthorized]);
    // The real agency 3 was not replaced, and only its own batch is stored.
    let point = central.central.resume_point(id(3)).unwrap();
    assert_eq!(
        (point.last_batch, point.bets_stored, point.finished),
        (1, 10, false)
    );
    real.send(&AgencyMessage::Finish { bets_sent: 10 });
    assert_eq!(
        real.recv(),
        Some(CentralMessage::Finished { bets_stored: 10 })
    );
    // Agency 2's certificate still acts as agency 2.
    let (_two, welcome) = RawAgency::connect_tls(central.addr, &thief).welcome(2);
    assert_eq!(welcome, (0, 0, false));
}

#[test]
fn only_a_connection_authenticated_as_n_replaces_ns_connection() {
    let dir = scratch_dir("tls_replace");
    let pki = Pki::new();
    let central = TestCentral::start(&dir, 3, tls_settings(pki.server_tls(true)));
    let three = pki.agency(3);
    let (mut first, _) = RawAgency::connect_tls(central.addr, &three).welcome(3);
    let (mut second, _) = RawAgency::connect_tls(central.addr, &three).welcome(3);
    assert_eq!(first.codes_until_closed(), [ErrorCode::Replaced]);
    second.send(&AgencyMessage::Finish { bets_sent: 0 });
    assert_eq!(
        second.recv(),
        Some(CentralMessage::Finished { bets_stored: 0 })
    );
}

#[test]
fn a_tls_central_refuses_plaintext_with_nothing_but_a_closed_connection() {
    let pki = Pki::new();
    for mutual in [true, false] {
        let dir = scratch_dir(&format!("tls_plaintext_refused_{mutual}"));
        let central = TestCentral::start(&dir, 3, tls_settings(pki.server_tls(mutual)));
        let mut plain = TcpStream::connect(central.addr).unwrap();
        plain
            .set_read_timeout(Some(common::SAFETY_TIMEOUT))
            .unwrap();
        let mut hello = Vec::new();
        lottery_net::encode_agency_message(
            &AgencyMessage::Hello {
                version: lottery_net::PROTOCOL_VERSION,
                agency: 1,
            },
            lottery_net::DEFAULT_MAX_FRAME,
            &mut hello,
        )
        .unwrap();
        plain.write_all(&hello).unwrap();
        let mut answer = Vec::new();
        // The end of the stream or a reset: either way, not one byte.
        let _ = plain.read_to_end(&mut answer);
        assert!(answer.is_empty(), "mutual {mutual}: got {answer:?}");
        assert_eq!(central.central.resume_point(id(1)).unwrap().last_batch, 0);
    }
}

#[test]
fn peers_without_a_valid_client_certificate_are_refused_at_the_tls_layer() {
    let dir = scratch_dir("tls_bad_certificates");
    let pki = Pki::new();
    let central = TestCentral::start(&dir, 3, tls_settings(pki.server_tls(true)));
    let stranger_ca = Authority::new("another CA").unwrap();
    let strangers_agency = stranger_ca.issue_agency(id(1)).unwrap();
    let expired = pki.ca.issue_expired_agency(id(1)).unwrap();
    // The central's alert tells the agency why.
    let cases = [
        (
            "no client certificate",
            pki.client(None),
            "CertificateRequired",
        ),
        (
            "a certificate of another CA",
            pki.client(Some(&strangers_agency)),
            "UnknownCA",
        ),
        (
            "an expired certificate",
            pki.client(Some(&expired)),
            "CertificateExpired",
        ),
    ];
    for (case, tls, alert) in cases {
        let result = refusal_of_hello(RawAgency::connect_tls(central.addr, &tls), 1);
        let error = result.expect_err(case);
        assert_eq!(error, format!("received fatal alert: {alert}"), "{case}");
    }
    assert_eq!(central.central.resume_point(id(1)).unwrap().last_batch, 0);
    // The central goes on serving the real agency 1.
    let (_one, welcome) = RawAgency::connect_tls(central.addr, &pki.agency(1)).welcome(1);
    assert_eq!(welcome, (0, 0, false));
}

#[test]
fn an_agency_refuses_a_central_with_a_wrong_name_or_an_untrusted_certificate() {
    let dir = scratch_dir("tls_fake_central");
    let pki = Pki::new();
    let central = TestCentral::start(&dir, 3, tls_settings(pki.server_tls(true)));
    let one = pki.ca.issue_agency(id(1)).unwrap();
    let wrong_name = client_trusting(&pki.ca, Some(&one), "central.example");
    let error = RawAgency::connect_tls(central.addr, &wrong_name)
        .handshake()
        .unwrap_err();
    assert!(error.to_string().contains("not valid for name"), "{error}");
    let other_ca = Authority::new("another CA").unwrap();
    let untrusting = client_trusting(&other_ca, Some(&one), "localhost");
    let error = RawAgency::connect_tls(central.addr, &untrusting)
        .handshake()
        .unwrap_err();
    assert!(error.to_string().contains("UnknownIssuer"), "{error}");
}

#[test]
fn server_only_tls_lets_any_peer_act_as_any_agency_but_encrypts() {
    let dir = scratch_dir("tls_server_only");
    let pki = Pki::new();
    let central = TestCentral::start(&dir, 3, tls_settings(pki.server_tls(false)));
    let anonymous = pki.client(None);
    let (_three, welcome) = RawAgency::connect_tls(central.addr, &anonymous).welcome(3);
    assert_eq!(welcome, (0, 0, false));
}

/// A TCP relay between one agency and the central that records every byte
/// the agency sends. Returns its address and the recording.
fn recording_relay(central: SocketAddr) -> (SocketAddr, Arc<Mutex<Vec<u8>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let recorded = Arc::new(Mutex::new(Vec::new()));
    let recording = Arc::clone(&recorded);
    thread::spawn(move || {
        let (mut agency, _) = listener.accept().unwrap();
        let mut upstream = TcpStream::connect(central).unwrap();
        let mut down_agency = agency.try_clone().unwrap();
        let mut down_upstream = upstream.try_clone().unwrap();
        let back = thread::spawn(move || {
            let _ = std::io::copy(&mut down_upstream, &mut down_agency);
            let _ = down_agency.shutdown(std::net::Shutdown::Write);
        });
        let mut buf = [0u8; 4096];
        loop {
            match agency.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(read) => {
                    recording.lock().unwrap().extend_from_slice(&buf[..read]);
                    if upstream.write_all(&buf[..read]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = upstream.shutdown(std::net::Shutdown::Write);
        let _ = back.join();
    });
    (addr, recorded)
}

#[test]
fn a_recording_relay_sees_no_document_of_the_agency_over_tls_and_all_in_plaintext() {
    let pki = Pki::new();
    let batches = agency_batches(1, 3, 50);
    let documents: Vec<String> = batches
        .iter()
        .flatten()
        .map(|bet| bet.document.to_string())
        .collect();
    for tls in [true, false] {
        let settings = if tls {
            tls_settings(pki.server_tls(true))
        } else {
            settings(2)
        };
        let dir = scratch_dir(&format!("tls_relay_{tls}"));
        let central = TestCentral::start(&dir, 1, settings);
        let (relay, recorded) = recording_relay(central.addr);
        let connection = if tls {
            RawAgency::connect_tls(relay, &pki.agency(1))
        } else {
            RawAgency::connect(relay)
        };
        let winners = run_agency(connection, 1, &batches);
        assert_eq!(winners, expected_winners(&batches));
        let recorded = recorded.lock().unwrap().clone();
        let seen = documents
            .iter()
            .filter(|document| {
                recorded
                    .windows(document.len())
                    .any(|window| window == document.as_bytes())
            })
            .count();
        if tls {
            assert_eq!(seen, 0, "documents seen through TLS");
        } else {
            // The control: the relay does record what crosses it.
            assert_eq!(seen, documents.len());
        }
    }
}
