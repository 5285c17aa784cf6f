//! The client's handshake in the receipts version (3) against a scripted
//! central on 127.0.0.1:0: it takes a `SignedWelcome` whose signature
//! verifies (and keeps its receipt), and refuses a plain `Welcome`, a
//! welcome signed with another key, and a later welcome (after a
//! reconnect) that names other rules than the first.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use lottery_bet::{AgencyId, Bet, ResumePoint};
use lottery_net::{
    AgencyClient, AgencyFrame, CentralMessage, ClientConfig, ClientError, Connection, Decoder,
    RECEIPTS_VERSION, encode_central_message,
};
use lottery_tls::{
    ChainStatement, ReceiptKey, ReceiptPubkey, ReceiptSubject, SignedHead, WinningRule,
    generate_receipt_keys,
};

const MAX_FRAME: usize = lottery_net::DEFAULT_MAX_FRAME;

fn key_pair() -> (ReceiptKey, ReceiptPubkey) {
    let (private, public) = generate_receipt_keys().unwrap();
    (
        ReceiptKey::from_pem(private.as_bytes(), "key").unwrap(),
        ReceiptPubkey::from_pem(public.as_bytes(), "pubkey").unwrap(),
    )
}

/// A head of a one-agency lottery with `winning` at position 0, signed by
/// `key`.
fn head(key: &ReceiptKey, winning: WinningRule) -> SignedHead {
    key.sign(ChainStatement {
        agencies: 1,
        winning,
        position: 0,
        chain: [0x42; 32],
    })
}

/// A `SignedWelcome` of a store holding nothing of the agency.
fn signed_welcome(head: SignedHead) -> CentralMessage {
    CentralMessage::SignedWelcome {
        resume: ResumePoint::default(),
        head,
    }
}

/// A central answering the `Hello` of one connection per entry of
/// `welcomes` with it, then closing that connection at its first frame
/// after the handshake (a batch it never acks). Returns the frames'
/// names, per connection.
fn spawn_central(
    welcomes: Vec<CentralMessage>,
) -> (SocketAddr, JoinHandle<Vec<Vec<&'static str>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let handle = thread::spawn(move || {
        welcomes
            .into_iter()
            .map(|welcome| {
                let (stream, _) = listener.accept().unwrap();
                serve(stream, &welcome)
            })
            .collect()
    });
    (address, handle)
}

fn serve(mut stream: TcpStream, welcome: &CentralMessage) -> Vec<&'static str> {
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut decoder = Decoder::new(MAX_FRAME);
    let mut received = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let frame = match decoder.next_agency_frame().unwrap() {
            Some(frame) => frame,
            None => match stream.read(&mut buf) {
                Ok(0) | Err(_) => return received,
                Ok(read) => {
                    decoder.extend(&buf[..read]);
                    continue;
                }
            },
        };
        match frame {
            AgencyFrame::Hello { version, .. } => {
                received.push("Hello");
                assert_eq!(version, RECEIPTS_VERSION);
                let mut out = Vec::new();
                encode_central_message(welcome, MAX_FRAME, &mut out).unwrap();
                let _ = stream.write_all(&out);
            }
            _ => {
                received.push("other");
                return received;
            }
        }
    }
}

fn config(address: SocketAddr, pubkey: ReceiptPubkey) -> ClientConfig {
    let mut config = ClientConfig::new(address.to_string(), AgencyId::new(1).unwrap());
    config.receipt_pubkey = Some(pubkey);
    config.reconnect_attempts = 1;
    config.backoff_initial = Duration::ZERO;
    config.backoff_max = Duration::ZERO;
    config
}

fn bad_receipt(error: &ClientError) -> (&str, &str) {
    match error {
        ClientError::BadReceipt { what, problem, .. } => (what.as_str(), problem.as_str()),
        other => panic!("not a bad receipt: {other:?}"),
    }
}

#[test]
fn a_signed_welcome_that_verifies_is_taken_and_its_receipt_kept() {
    let (key, pubkey) = key_pair();
    let head = head(&key, WinningRule::Committed([0xc1; 32]));
    let (address, central) = spawn_central(vec![signed_welcome(head)]);
    let (connection, resume) = Connection::open(&config(address, pubkey)).unwrap();
    assert_eq!(resume.last_batch, 0);
    let receipt = connection.welcome_receipt().expect("a version-3 welcome");
    assert_eq!(receipt.subject, ReceiptSubject::Welcome { bets: 0 });
    assert_eq!(receipt.head, head);
    connection.close();
    assert_eq!(central.join().unwrap(), [vec!["Hello"]]);
}

#[test]
fn a_plain_or_foreign_welcome_in_version_3_is_refused() {
    let (_, pubkey) = key_pair();
    let (other, _) = key_pair();
    let plain = CentralMessage::Welcome {
        last_batch: 0,
        bets_stored: 0,
        finished: false,
        rows_crc: None,
    };
    let foreign = signed_welcome(head(&other, WinningRule::Fixed(7574)));
    for (welcome, says) in [
        (
            plain,
            "the central answered the handshake without a receipt",
        ),
        (
            foreign,
            "the signature of the chain head at position 0 does not verify under the central's public key",
        ),
    ] {
        let (address, central) = spawn_central(vec![welcome]);
        let error = Connection::open(&config(address, pubkey)).unwrap_err();
        assert_eq!(bad_receipt(&error), ("the welcome", says));
        // And the client does not retry it: one connection, one `Hello`.
        assert_eq!(central.join().unwrap(), [vec!["Hello"]]);
    }
}

#[test]
fn a_welcome_after_a_reconnect_that_names_other_rules_stops_the_client() {
    let (key, pubkey) = key_pair();
    let first = signed_welcome(head(&key, WinningRule::Fixed(7574)));
    let second = signed_welcome(head(&key, WinningRule::Fixed(1033)));
    let (address, central) = spawn_central(vec![first, second]);
    let mut client = AgencyClient::connect(config(address, pubkey)).unwrap();
    let bet = Bet::from_fields("Ana", "Pérez", "1", "1999-03-17", "7574").unwrap();
    let error = client.send_bets([bet], |_| {}).unwrap_err();
    assert_eq!(
        bad_receipt(&error),
        (
            "the welcome",
            "it names 1 agencies and winning number 1033, the central's first signed welcome named 1 agencies and winning number 7574"
        )
    );
    let receipts = client.take_receipts();
    assert_eq!(receipts.len(), 1, "only the first welcome's: {receipts:?}");
    assert_eq!(receipts[0].head.statement.winning, WinningRule::Fixed(7574));
    // The batch went on the first connection only; the second got no
    // frame after its `Hello`.
    assert_eq!(
        central.join().unwrap(),
        [vec!["Hello", "other"], vec!["Hello"]]
    );
}
