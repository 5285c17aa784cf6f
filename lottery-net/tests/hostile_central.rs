//! The blocking client against a hostile central: a thread on 127.0.0.1:0
//! that welcomes, acks and records the finish as a central would, then
//! answers the winners query with frames that break the protocol's rules
//! (endless `Winners` frames that never say `last`, empty ones, winners
//! that are not documents, a frame over the limit). The client refuses each
//! (a protocol violation, a frame too large) instead of reading on, so its
//! memory stays bounded.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use lottery_bet::{AgencyId, Bet};
use lottery_net::{
    AgencyClient, AgencyMessage, CentralMessage, ClientConfig, ClientError, DEFAULT_MAX_FRAME,
    DecodeError, Decoder, encode_central_message,
};

/// How the hostile central answers the winners query.
#[derive(Debug, Clone, Copy)]
enum Answer {
    /// `Winners` frames of `per_frame` documents, never the last, for as
    /// long as the client reads.
    Endless { per_frame: usize },
    /// `Winners` frames holding nothing, never the last.
    EndlessEmpty,
    /// One last frame of `count` documents.
    Last { count: usize },
    /// One last frame whose second winner is not a document.
    NotADocument,
    /// A frame declaring 4 GiB, then bytes for as long as the client reads.
    Oversized,
}

/// Starts the hostile central for one connection. Its thread returns how
/// many `Winners` frames it could send before the client went away.
fn hostile_central(answer: Answer) -> (SocketAddr, JoinHandle<u64>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let handle = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        // A broken test fails instead of hanging.
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        serve(&mut stream, answer)
    });
    (address, handle)
}

fn send(stream: &mut TcpStream, message: &CentralMessage) -> std::io::Result<()> {
    let mut out = Vec::new();
    encode_central_message(message, DEFAULT_MAX_FRAME, &mut out).unwrap();
    stream.write_all(&out)
}

fn documents(count: usize) -> Vec<String> {
    (0..count).map(|i| format!("{}", 40_000_000 + i)).collect()
}

fn serve(stream: &mut TcpStream, answer: Answer) -> u64 {
    let mut decoder = Decoder::new(DEFAULT_MAX_FRAME);
    let mut stored = 0;
    let mut buf = [0u8; 4096];
    loop {
        let Some(message) = decoder.next_agency_message().unwrap() else {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => return 0,
                Ok(read) => decoder.extend(&buf[..read]),
            }
            continue;
        };
        let reply = match message {
            AgencyMessage::Hello { .. } => CentralMessage::Welcome {
                last_batch: 0,
                bets_stored: 0,
                finished: false,
                rows_crc: None,
            },
            AgencyMessage::Batch { batch, bets } => {
                stored += bets.len() as u64;
                CentralMessage::Ack {
                    batch,
                    bets_stored: stored,
                }
            }
            AgencyMessage::Finish { .. } => CentralMessage::Finished {
                bets_stored: stored,
            },
            AgencyMessage::WinnersQuery { .. } => return answer_winners(stream, answer),
            other => panic!("unexpected {other:?}"),
        };
        send(stream, &reply).unwrap();
    }
}

/// Sends the winners as `answer` says; returns the frames sent.
fn answer_winners(stream: &mut TcpStream, answer: Answer) -> u64 {
    if let Answer::Oversized = answer {
        let mut bytes = vec![0x84; 64 * 1024];
        bytes[..4].copy_from_slice(&0xFFFF_FFF0u32.to_be_bytes());
        if stream.write_all(&bytes).is_err() {
            return 0;
        }
        let garbage = [0x84; 64 * 1024];
        let mut sent = 1;
        while stream.write_all(&garbage).is_ok() {
            sent += 1;
        }
        return sent;
    }
    let (frame, last) = match answer {
        Answer::Endless { per_frame } => (documents(per_frame), false),
        Answer::EndlessEmpty => (Vec::new(), false),
        Answer::Last { count } => (documents(count), true),
        Answer::NotADocument => (vec!["30111222".into(), "DROP TABLE".into()], true),
        Answer::Oversized => unreachable!("answered above"),
    };
    let mut sent = 0;
    let frame = CentralMessage::Winners {
        documents: frame,
        last,
    };
    loop {
        match send(stream, &frame) {
            Ok(()) => sent += 1,
            Err(error) => {
                assert!(
                    matches!(
                        error.kind(),
                        ErrorKind::BrokenPipe | ErrorKind::ConnectionReset
                    ),
                    "{error}"
                );
                return sent;
            }
        }
        if last {
            // Until the client closes.
            let _ = stream.read(&mut [0u8; 64]);
            return sent;
        }
    }
}

fn bets(count: usize) -> Vec<Bet> {
    (0..count)
        .map(|i| {
            Bet::from_fields(
                &format!("Name {i}"),
                "Pérez",
                &format!("{}", 30_000_000 + i),
                "1999-03-17",
                "7574",
            )
            .unwrap()
        })
        .collect()
}

/// Sends `count` bets, finishes, and asks for the winners.
fn winners_after(address: SocketAddr, count: usize) -> Result<Option<Vec<String>>, ClientError> {
    let mut config = ClientConfig::new(address.to_string(), AgencyId::new(1).unwrap());
    config.io_timeout = Some(Duration::from_secs(30));
    config.reconnect_attempts = 0;
    let mut client = AgencyClient::connect(config).unwrap();
    let sent = client.send_bets(bets(count), |_| {}).unwrap();
    assert_eq!(sent, count as u64);
    client.finish(sent).unwrap();
    let winners = client.winners(true);
    client.close();
    winners
}

fn violation(result: Result<Option<Vec<String>>, ClientError>) -> String {
    match result {
        Err(ClientError::ProtocolViolation(why)) => why,
        other => panic!("expected a protocol violation, got {other:?}"),
    }
}

#[test]
fn winners_frames_that_never_say_last_are_refused_once_they_outnumber_the_bets_sent() {
    let (address, central) = hostile_central(Answer::Endless { per_frame: 100 });
    let why = violation(winners_after(address, 250));
    assert_eq!(
        why,
        "the winners of agency 1 run to 300 documents or more, but it sent 250 bets"
    );
    // The client stopped reading and closed: the central's writes failed
    // after a few frames (what the socket buffers took), not never.
    let frames = central.join().unwrap();
    assert!(frames >= 3, "{frames}");
}

#[test]
fn empty_winners_frames_that_are_not_the_last_are_refused() {
    let (address, central) = hostile_central(Answer::EndlessEmpty);
    let why = violation(winners_after(address, 10));
    assert_eq!(
        why,
        "a Winners frame that is not the last holds no document"
    );
    central.join().unwrap();
}

#[test]
fn a_winner_that_is_not_a_document_is_refused() {
    let (address, central) = hostile_central(Answer::NotADocument);
    let why = violation(winners_after(address, 10));
    assert_eq!(
        why,
        "winner 2 of agency 1 is not a document (1 to 20 digits)"
    );
    central.join().unwrap();
}

#[test]
fn as_many_winners_as_bets_sent_is_a_whole_answer() {
    let (address, central) = hostile_central(Answer::Last { count: 40 });
    let winners = winners_after(address, 40).unwrap();
    assert_eq!(winners, Some(documents(40)));
    central.join().unwrap();

    let (address, central) = hostile_central(Answer::Last { count: 41 });
    let why = violation(winners_after(address, 40));
    assert_eq!(
        why,
        "the winners of agency 1 run to 41 documents or more, but it sent 40 bets"
    );
    central.join().unwrap();
}

#[test]
fn a_frame_over_the_limit_is_refused_from_its_length_alone() {
    let (address, central) = hostile_central(Answer::Oversized);
    match winners_after(address, 10) {
        Err(ClientError::Decode(DecodeError::FrameTooLarge { declared, max })) => {
            assert_eq!(declared, 0xFFFF_FFF0 + 4);
            assert_eq!(max, DEFAULT_MAX_FRAME);
        }
        other => panic!("expected a frame too large, got {other:?}"),
    }
    central.join().unwrap();
}
