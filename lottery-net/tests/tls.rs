//! The client over TLS against a tiny rustls central on 127.0.0.1: a good
//! session, and every certificate problem failing at once (one connection,
//! no retry) with a message saying what; plus the plaintext client against a
//! central that closes every connection (what a TLS central does to it).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use lottery_bet::AgencyId;
use lottery_net::{
    AgencyClient, AgencyMessage, CentralMessage, ClientConfig, ClientError, Connection,
    DEFAULT_MAX_FRAME, Decoder, ErrorCode, ErrorFrame, encode_central_message,
};
use lottery_tls::{Authority, ClientTls, Issued, ServerTls};

fn agency() -> AgencyId {
    AgencyId::new(3).unwrap()
}

/// The central's side of one test.
#[derive(Clone, Copy)]
enum Central {
    /// TLS with `ServerTls`; answers `Hello` with `Welcome` and `Finish`
    /// with `Finished`, until the client closes.
    Tls,
    /// Reads a little and answers with a protocol error frame: plaintext.
    Plain,
    /// Closes every connection at once, reading nothing.
    Closes,
    /// TLS, then silence: never answers `Hello`.
    Silent,
    /// As `Tls`, but the first connection is dropped on its `Finish`.
    TlsCutFirstFinish,
}

/// Starts a central on 127.0.0.1:0 serving connections until the test ends;
/// returns its address and the count of connections it accepted.
fn spawn(kind: Central, tls: Option<ServerTls>) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let number = count.fetch_add(1, Ordering::SeqCst) + 1;
            stream
                .set_read_timeout(Some(Duration::from_secs(30)))
                .unwrap();
            let tls = tls.clone();
            thread::spawn(move || match kind {
                Central::Tls => serve_tls(stream, tls.as_ref().unwrap(), false),
                Central::TlsCutFirstFinish => {
                    serve_tls(stream, tls.as_ref().unwrap(), number == 1);
                }
                Central::Plain => serve_plain(stream),
                Central::Closes => drop(stream),
                Central::Silent => serve_silently(stream, tls.as_ref().unwrap()),
            });
        }
    });
    (address, accepted)
}

/// Serves one TLS connection; `cut_on_finish` drops it on `Finish`,
/// unanswered (no close_notify: a dropped connection).
fn serve_tls(stream: TcpStream, tls: &ServerTls, cut_on_finish: bool) {
    let mut stream = rustls::StreamOwned::new(tls.accept().unwrap(), stream);
    let mut decoder = Decoder::new(DEFAULT_MAX_FRAME);
    loop {
        let message = loop {
            if let Some(message) = decoder.next_agency_message().unwrap() {
                break message;
            }
            // A refused handshake or the client's close ends the session.
            match decoder.read_from(&mut stream) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        };
        let answer = match message {
            AgencyMessage::Hello { .. } => CentralMessage::Welcome {
                last_batch: 0,
                bets_stored: 0,
                finished: false,
                rows_crc: None,
            },
            AgencyMessage::Finish { .. } if cut_on_finish => {
                let _ = stream.get_ref().shutdown(std::net::Shutdown::Both);
                return;
            }
            AgencyMessage::Finish { bets_sent } => CentralMessage::Finished {
                bets_stored: bets_sent,
            },
            other => panic!("the test central does not know {other:?}"),
        };
        let mut out = Vec::new();
        encode_central_message(&answer, DEFAULT_MAX_FRAME, &mut out).unwrap();
        stream.write_all(&out).unwrap();
        stream.flush().unwrap();
    }
}

fn serve_silently(stream: TcpStream, tls: &ServerTls) {
    let mut stream = rustls::StreamOwned::new(tls.accept().unwrap(), stream);
    // Handshakes (on the first read), then reads until the client goes.
    let mut sink = [0u8; 1024];
    while matches!(stream.read(&mut sink), Ok(read) if read > 0) {}
}

fn serve_plain(mut stream: TcpStream) {
    let mut start = [0u8; 5];
    let _ = stream.read(&mut start);
    let refusal = CentralMessage::Error(ErrorFrame {
        code: ErrorCode::FrameTooLarge,
        bet: None,
        message: "a frame over the limit".to_string(),
    });
    let mut out = Vec::new();
    encode_central_message(&refusal, DEFAULT_MAX_FRAME, &mut out).unwrap();
    let _ = stream.write_all(&out);
}

/// A PKI: the CA, the central's certificate for `names`, agency 3's.
struct Pki {
    ca: Authority,
    server: Issued,
    agency: Issued,
}

fn pki(names: &[&str]) -> Pki {
    let ca = Authority::new("lottery test CA").unwrap();
    let names: Vec<String> = names.iter().map(|name| name.to_string()).collect();
    let server = ca.issue_server(&names).unwrap();
    let agency = ca.issue_agency(agency()).unwrap();
    Pki { ca, server, agency }
}

fn server_tls(server: &Issued, client_ca: Option<&Authority>) -> ServerTls {
    ServerTls::from_der(
        vec![server.certificate_der().unwrap()],
        server.key_der().unwrap(),
        client_ca.map(|ca| vec![ca.certificate_der()]),
    )
    .unwrap()
}

fn client_tls(trusted: &Authority, identity: Option<&Issued>, name: Option<&str>) -> ClientTls {
    let identity = identity.map(|issued| {
        (
            vec![issued.certificate_der().unwrap()],
            issued.key_der().unwrap(),
        )
    });
    ClientTls::from_der(vec![trusted.certificate_der()], identity, name).unwrap()
}

/// A client that would retry three times, quickly.
fn config(address: SocketAddr, tls: Option<ClientTls>) -> ClientConfig {
    let mut config = ClientConfig::new(address.to_string(), agency());
    config.io_timeout = Some(Duration::from_secs(30));
    config.backoff_initial = Duration::from_millis(1);
    config.backoff_max = Duration::from_millis(5);
    config.reconnect_attempts = 3;
    config.tls = tls;
    config
}

/// Connects a retrying client and returns its error and the connections
/// the central accepted.
fn fails(
    kind: Central,
    server: Option<ServerTls>,
    client: Option<ClientTls>,
) -> (ClientError, usize) {
    let (address, accepted) = spawn(kind, server);
    let error = AgencyClient::connect(config(address, client)).unwrap_err();
    (error, accepted.load(Ordering::SeqCst))
}

#[test]
fn a_mutual_tls_session_gets_its_welcome_and_answers() {
    let pki = pki(&["127.0.0.1"]);
    let (address, accepted) = spawn(Central::Tls, Some(server_tls(&pki.server, Some(&pki.ca))));
    let tls = client_tls(&pki.ca, Some(&pki.agency), None);
    let (connection, resume) = Connection::open(&config(address, Some(tls.clone()))).unwrap();
    assert!(connection.is_tls());
    assert_eq!(resume.last_batch, 0);
    connection.close();

    let mut client = AgencyClient::connect(config(address, Some(tls))).unwrap();
    client.finish(0).unwrap();
    assert!(client.resume_point().finished);
    client.close();
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
}

#[test]
fn a_configured_server_name_is_what_the_certificate_is_checked_against() {
    let pki = pki(&["central.example"]);
    let (address, _) = spawn(Central::Tls, Some(server_tls(&pki.server, None)));
    let tls = client_tls(&pki.ca, None, Some("central.example"));
    let (connection, _) = Connection::open(&config(address, Some(tls))).unwrap();
    assert!(connection.is_tls());
}

#[test]
fn a_certificate_for_another_name_fails_at_once_naming_the_name() {
    let pki = pki(&["central.example"]);
    let (error, accepted) = fails(
        Central::Tls,
        Some(server_tls(&pki.server, None)),
        Some(client_tls(&pki.ca, None, None)),
    );
    assert!(
        matches!(&error, ClientError::TlsServerCertificate { name, .. } if name == "127.0.0.1"),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .starts_with("the central's certificate is not valid for `127.0.0.1`"),
        "{error}"
    );
    assert_eq!(accepted, 1, "not retried");
}

#[test]
fn a_certificate_from_an_untrusted_ca_fails_at_once() {
    let pki = pki(&["127.0.0.1"]);
    let stranger = Authority::new("another CA").unwrap();
    let (error, accepted) = fails(
        Central::Tls,
        Some(server_tls(&pki.server, None)),
        Some(client_tls(&stranger, None, None)),
    );
    assert!(
        error
            .to_string()
            .contains("the central's certificate is not issued by --tls-ca"),
        "{error}"
    );
    assert_eq!(accepted, 1, "not retried");
}

#[test]
fn two_cas_of_one_name_are_explained_as_the_wrong_ca_on_either_side() {
    // What two runs of `lottery-admin certs` made before their CAs had names
    // of their own: the issuer's name matches, its signature does not.
    let pki = pki(&["127.0.0.1"]);
    let namesake = Authority::new("lottery test CA").unwrap();
    let (error, accepted) = fails(
        Central::Tls,
        Some(server_tls(&pki.server, None)),
        Some(client_tls(&namesake, None, None)),
    );
    let text = lottery_log::chain(&error);
    assert!(
        text.starts_with("the central's certificate is not issued by --tls-ca: ")
            && text.ends_with("invalid peer certificate: BadSignature"),
        "{text}"
    );
    assert_eq!(accepted, 1, "not retried");
    // The central checks an agency's chain the same way, and answers a bad
    // signature with DecryptError.
    let foreign = namesake.issue_agency(agency()).unwrap();
    let (error, accepted) = fails(
        Central::Tls,
        Some(server_tls(&pki.server, Some(&pki.ca))),
        Some(client_tls(&pki.ca, Some(&foreign), None)),
    );
    assert_eq!(
        error.to_string(),
        "the central refused our TLS certificate: it is probably not issued by the central's --tls-client-ca (the central's log says whether it is) (received fatal alert: DecryptError)"
    );
    assert_eq!(accepted, 1, "not retried");
}

#[test]
fn an_expired_central_certificate_fails_at_once() {
    let ca = Authority::new("lottery test CA").unwrap();
    let expired = ca.issue_expired_server(&["127.0.0.1".to_string()]).unwrap();
    let (error, accepted) = fails(
        Central::Tls,
        Some(server_tls(&expired, None)),
        Some(client_tls(&ca, None, None)),
    );
    assert_eq!(error.to_string(), "the central's certificate has expired");
    assert_eq!(accepted, 1, "not retried");
}

#[test]
fn a_central_refusing_our_certificate_fails_at_once_with_its_alert() {
    let pki = pki(&["127.0.0.1"]);
    let stranger = Authority::new("another CA").unwrap();
    let foreign = stranger.issue_agency(agency()).unwrap();
    let expired = pki.ca.issue_expired_agency(agency()).unwrap();
    for (identity, alert) in [
        (None, "CertificateRequired"),
        (Some(&foreign), "UnknownCA"),
        (Some(&expired), "CertificateExpired"),
    ] {
        let (error, accepted) = fails(
            Central::Tls,
            Some(server_tls(&pki.server, Some(&pki.ca))),
            Some(client_tls(&pki.ca, identity, None)),
        );
        assert!(
            matches!(&error, ClientError::TlsRefused { alert: got } if got == alert),
            "{alert}: {error:?}"
        );
        assert!(
            error
                .to_string()
                .ends_with(&format!("(received fatal alert: {alert})")),
            "{error}"
        );
        assert_eq!(accepted, 1, "{alert}: not retried");
    }
}

#[test]
fn a_tls_client_against_a_plaintext_central_says_it_does_not_speak_tls() {
    let pki = pki(&["127.0.0.1"]);
    let (error, accepted) = fails(Central::Plain, None, Some(client_tls(&pki.ca, None, None)));
    assert!(matches!(error, ClientError::NotTls { .. }), "{error:?}");
    assert!(
        error.to_string().contains("does not seem to speak TLS"),
        "{error}"
    );
    assert_eq!(accepted, 1, "not retried");
}

#[test]
fn a_plaintext_client_closed_before_every_welcome_says_tls_is_probably_required() {
    let (error, accepted) = fails(Central::Closes, None, None);
    assert!(
        matches!(error, ClientError::TlsProbablyRequired { attempts: 4, .. }),
        "{error:?}"
    );
    let text = error.to_string();
    assert!(text.contains("it probably requires TLS"), "{text}");
    for flag in ["--tls-ca", "--tls-cert", "--tls-key"] {
        assert!(text.contains(flag), "{text}");
    }
    assert_eq!(accepted, 4, "retried as configured");
}

#[test]
fn one_plaintext_attempt_closed_before_its_welcome_reads_as_a_failed_connection() {
    // What the reconnect log lines show, unchanged from before TLS.
    let (address, _) = spawn(Central::Closes, None);
    let error = Connection::open(&config(address, None)).unwrap_err();
    assert!(
        matches!(error, ClientError::ClosedBeforeWelcome(_)),
        "{error:?}"
    );
    assert!(
        lottery_log::chain(&error).starts_with("the connection to the central failed: "),
        "{error}"
    );
}

#[test]
fn an_interrupt_ends_the_wait_for_the_welcome_over_tls() {
    let pki = pki(&["127.0.0.1"]);
    let (address, accepted) = spawn(
        Central::Silent,
        Some(server_tls(&pki.server, Some(&pki.ca))),
    );
    let interrupter = lottery_net::Interrupter::new();
    let handle = interrupter.clone();
    let client = thread::spawn(move || {
        AgencyClient::connect_interruptible(
            config(address, Some(client_tls(&pki.ca, Some(&pki.agency), None))),
            handle,
        )
    });
    // The client is past the TLS handshake, waiting for the welcome, once
    // the central accepted it; an interrupt before that ends it too.
    while accepted.load(Ordering::SeqCst) == 0 {
        thread::sleep(Duration::from_millis(5));
    }
    interrupter.interrupt();
    let error = client.join().unwrap().unwrap_err();
    assert!(matches!(error, ClientError::Interrupted), "{error:?}");
}

#[test]
fn a_dropped_tls_connection_is_reconnected_and_the_request_resent() {
    let pki = pki(&["127.0.0.1"]);
    let (address, accepted) = spawn(
        Central::TlsCutFirstFinish,
        Some(server_tls(&pki.server, Some(&pki.ca))),
    );
    let tls = client_tls(&pki.ca, Some(&pki.agency), None);
    let mut client = AgencyClient::connect(config(address, Some(tls))).unwrap();
    client.finish(0).unwrap();
    assert!(client.resume_point().finished);
    client.close();
    assert_eq!(accepted.load(Ordering::SeqCst), 2, "one reconnect");
}

#[test]
fn a_central_that_handshakes_and_never_welcomes_is_a_silent_peer_within_the_handshake_timeout() {
    let pki = pki(&["127.0.0.1"]);
    let (address, accepted) = spawn(
        Central::Silent,
        Some(server_tls(&pki.server, Some(&pki.ca))),
    );
    let mut config = config(address, Some(client_tls(&pki.ca, Some(&pki.agency), None)));
    config.handshake_timeout = Duration::from_millis(300);
    config.reconnect_attempts = 1;
    let error = AgencyClient::connect(config).unwrap_err();
    assert!(
        matches!(
            error,
            ClientError::SilentPeer { attempts: 2, waited, .. } if waited == Duration::from_millis(300)
        ),
        "{error:?}"
    );
    assert!(
        error.to_string().contains(&format!(
            "the peer at {address} accepted the connection but did not answer like a central within 300 ms, 2 attempts in a row"
        )),
        "{error}"
    );
    assert_eq!(accepted.load(Ordering::SeqCst), 2, "retried as configured");
}
