//! The blocking client against a scripted central: a thread on 127.0.0.1:0
//! that speaks the protocol with the crate's codec, stores batches in a
//! ledger the test inspects, and cuts connections where the script says.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use lottery_bet::{AgencyId, Bet, Document};
use lottery_net::{
    AgencyClient, AgencyMessage, CentralMessage, ClientConfig, ClientError, Decoder, ErrorCode,
    ErrorFrame, WireBet, encode_central_message, encode_winners,
};

const MAX_FRAME: usize = lottery_net::DEFAULT_MAX_FRAME;

/// Where the scripted central cuts one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cut {
    /// Serves until the client closes.
    Never,
    /// Reads half of batch N's frame, then closes: nothing of it is stored.
    MidFrame(u64),
    /// Stores batch N, then closes before acking it.
    StoreThenClose(u64),
    /// Closes on `Finish`, before recording it.
    OnFinish,
}

/// What the scripted central holds, shared across its connections.
#[derive(Debug, Default)]
struct Ledger {
    /// Stored batches, batch N at index N - 1.
    batches: Vec<Vec<WireBet>>,
    finished: Option<u64>,
    drawn: bool,
    winners: Vec<String>,
    /// The agency of every handshake.
    hellos: Vec<u32>,
    /// Batch numbers received (whole), per connection.
    received: Vec<Vec<u64>>,
    /// Answer `Hello` with this error instead of `Welcome`.
    refuse_hello: Option<ErrorCode>,
    /// Refuse this batch number with this error.
    refuse_batch: Option<(u64, ErrorFrame)>,
}

impl Ledger {
    fn bets_stored(&self) -> u64 {
        self.batches.iter().map(|b| b.len() as u64).sum()
    }

    fn stored_bets(&self) -> Vec<WireBet> {
        self.batches.iter().flatten().cloned().collect()
    }
}

type Shared = Arc<Mutex<Ledger>>;

/// Starts a central serving one connection per entry of `cuts`, in order,
/// then (after a `Never` connection ends) stops.
fn spawn_central(ledger: Shared, cuts: Vec<Cut>) -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let handle = thread::spawn(move || {
        for cut in cuts {
            let (stream, _) = listener.accept().unwrap();
            // A broken test fails instead of hanging.
            stream
                .set_read_timeout(Some(Duration::from_secs(30)))
                .unwrap();
            ledger.lock().unwrap().received.push(Vec::new());
            serve(stream, cut, &ledger);
        }
    });
    (address, handle)
}

fn send(stream: &mut TcpStream, message: &CentralMessage) {
    let mut out = Vec::new();
    encode_central_message(message, MAX_FRAME, &mut out).unwrap();
    // The client may be gone already (it gave up): not the central's problem.
    let _ = stream.write_all(&out);
}

/// Serves one connection until the client closes it or the cut comes.
fn serve(mut stream: TcpStream, cut: Cut, ledger: &Shared) {
    loop {
        let mut prefix = [0u8; 4];
        if stream.read_exact(&mut prefix).is_err() {
            return;
        }
        let mut body = vec![0u8; u32::from_be_bytes(prefix) as usize];
        // Type byte and batch number first, to cut mid-frame.
        let head = body.len().min(9);
        if stream.read_exact(&mut body[..head]).is_err() {
            return;
        }
        let is_batch = |n: u64| {
            body[0] == 0x02 && head == 9 && u64::from_be_bytes(body[1..9].try_into().unwrap()) == n
        };
        if matches!(cut, Cut::MidFrame(n) if is_batch(n)) {
            let half = head + (body.len() - head) / 2;
            let _ = stream.read_exact(&mut body[head..half]);
            let _ = stream.shutdown(Shutdown::Both);
            return;
        }
        if stream.read_exact(&mut body[head..]).is_err() {
            return;
        }
        let mut decoder = Decoder::new(MAX_FRAME);
        decoder.extend(&prefix);
        decoder.extend(&body);
        let message = decoder.next_agency_message().unwrap().unwrap();
        let mut ledger = ledger.lock().unwrap();
        let answer = match message {
            AgencyMessage::Hello { agency, .. } => {
                ledger.hellos.push(agency);
                match ledger.refuse_hello {
                    Some(code) => CentralMessage::Error(ErrorFrame::new(code, "refused")),
                    None => CentralMessage::Welcome {
                        last_batch: ledger.batches.len() as u64,
                        bets_stored: ledger.bets_stored(),
                        finished: ledger.finished.is_some(),
                        rows_crc: None,
                    },
                }
            }
            AgencyMessage::Batch { batch, bets } => {
                ledger.received.last_mut().unwrap().push(batch);
                let last = ledger.batches.len() as u64;
                match &ledger.refuse_batch {
                    Some((refused, error)) if *refused == batch => {
                        CentralMessage::Error(error.clone())
                    }
                    _ if batch <= last => CentralMessage::Ack {
                        batch,
                        bets_stored: ledger.bets_stored(),
                    },
                    _ if batch == last + 1 => {
                        ledger.batches.push(bets);
                        if cut == Cut::StoreThenClose(batch) {
                            let _ = stream.shutdown(Shutdown::Both);
                            return;
                        }
                        CentralMessage::Ack {
                            batch,
                            bets_stored: ledger.bets_stored(),
                        }
                    }
                    _ => CentralMessage::Error(ErrorFrame::new(
                        ErrorCode::OutOfOrder,
                        format!("expected batch {}", last + 1),
                    )),
                }
            }
            AgencyMessage::Finish { bets_sent } => {
                if cut == Cut::OnFinish {
                    let _ = stream.shutdown(Shutdown::Both);
                    return;
                }
                if bets_sent == ledger.bets_stored() {
                    ledger.finished = Some(bets_sent);
                    CentralMessage::Finished {
                        bets_stored: bets_sent,
                    }
                } else {
                    CentralMessage::Error(ErrorFrame::new(ErrorCode::CountMismatch, "count"))
                }
            }
            AgencyMessage::WinnersQuery { wait } => {
                if !ledger.drawn && !wait {
                    CentralMessage::NotDrawn
                } else {
                    // Small frames, so that the list spans several.
                    let mut out = Vec::new();
                    encode_winners(&ledger.winners, 64, &mut out).unwrap();
                    let _ = stream.write_all(&out);
                    continue;
                }
            }
            other => panic!("the scripted central does not know {}", other.name()),
        };
        drop(ledger);
        send(&mut stream, &answer);
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
                &(i % 10_000).to_string(),
            )
            .unwrap()
        })
        .collect()
}

fn wire(bets: &[Bet]) -> Vec<WireBet> {
    bets.iter().map(WireBet::from_bet).collect()
}

fn config(address: SocketAddr, batch_max: usize, in_flight: usize) -> ClientConfig {
    let mut config = ClientConfig::new(address.to_string(), AgencyId::new(3).unwrap());
    config.batch_max = Some(batch_max);
    config.in_flight = in_flight;
    config.io_timeout = Some(Duration::from_secs(30));
    config.backoff_initial = Duration::from_millis(1);
    config.backoff_max = Duration::from_millis(5);
    config.reconnect_attempts = 3;
    config
}

#[test]
fn a_whole_session_stores_every_bet_once_and_gets_the_winners() {
    let ledger = Shared::default();
    {
        let mut ledger = ledger.lock().unwrap();
        ledger.drawn = true;
        ledger.winners = (0..30).map(|i| format!("{}", 40_000_000 + i)).collect();
    }
    let (address, central) = spawn_central(ledger.clone(), vec![Cut::Never]);
    let input = bets(500);

    let mut client = AgencyClient::connect(config(address, 7, 3)).unwrap();
    assert_eq!(client.resume_point().last_batch, 0);
    let mut seen = Vec::new();
    let sent = client
        .send_bets(input.clone(), |acked| seen.push(acked))
        .unwrap();
    client.finish(sent).unwrap();
    let winners = client.winners(true).unwrap();
    client.close();
    central.join().unwrap();

    assert_eq!(sent, 500);
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "progress only grows");
    assert_eq!(seen.last(), Some(&500));
    let ledger = ledger.lock().unwrap();
    assert_eq!(ledger.stored_bets(), wire(&input));
    assert!(ledger.batches.iter().all(|batch| batch.len() <= 7));
    assert_eq!(ledger.finished, Some(500));
    assert_eq!(winners, Some(ledger.winners.clone()));
    assert_eq!(ledger.hellos, [3]);
}

#[test]
fn frames_are_filled_to_the_limit_when_no_batch_maximum_is_set() {
    let ledger = Shared::default();
    let (address, central) = spawn_central(ledger.clone(), vec![Cut::Never]);
    let input = bets(1_000);
    let mut config = config(address, 1, 8);
    config.batch_max = None;
    let mut client = AgencyClient::connect(config).unwrap();
    assert_eq!(client.send_bets(input.clone(), |_| ()).unwrap(), 1_000);
    client.close();
    central.join().unwrap();

    let ledger = ledger.lock().unwrap();
    assert_eq!(ledger.stored_bets(), wire(&input));
    // Each batch but the last was full: one more bet would not have fit.
    let frame_len = |bets: &[WireBet]| {
        let message = AgencyMessage::Batch {
            batch: 1,
            bets: bets.to_vec(),
        };
        message.encoded_len().unwrap()
    };
    let batches = &ledger.batches;
    assert!(batches.len() > 1);
    for (batch, next) in batches.iter().zip(batches.iter().skip(1)) {
        let mut one_more = batch.clone();
        one_more.push(next[0].clone());
        assert!(frame_len(batch) <= MAX_FRAME);
        assert!(frame_len(&one_more) > MAX_FRAME);
    }
}

#[test]
fn a_connection_cut_mid_batch_is_resumed_without_duplicates_or_gaps() {
    let ledger = Shared::default();
    let (address, central) = spawn_central(ledger.clone(), vec![Cut::MidFrame(5), Cut::Never]);
    let input = bets(200);

    let mut client = AgencyClient::connect(config(address, 10, 4)).unwrap();
    let sent = client.send_bets(input.clone(), |_| ()).unwrap();
    client.finish(sent).unwrap();
    client.close();
    central.join().unwrap();

    let ledger = ledger.lock().unwrap();
    assert_eq!(sent, 200);
    assert_eq!(ledger.stored_bets(), wire(&input));
    assert_eq!(ledger.hellos, [3, 3]);
    // The second connection starts with the batch that was cut, and goes on
    // in order: batches 1 to 4, acked, are not sent again.
    let second = &ledger.received[1];
    assert_eq!(second, &(5..=20).collect::<Vec<u64>>());
    assert_eq!(ledger.received[0], (1..=4).collect::<Vec<u64>>());
}

#[test]
fn a_batch_stored_but_not_acked_is_not_sent_again() {
    let ledger = Shared::default();
    let (address, central) =
        spawn_central(ledger.clone(), vec![Cut::StoreThenClose(3), Cut::Never]);
    let input = bets(100);

    let mut client = AgencyClient::connect(config(address, 10, 4)).unwrap();
    let mut seen = Vec::new();
    let sent = client
        .send_bets(input.clone(), |acked| seen.push(acked))
        .unwrap();
    client.close();
    central.join().unwrap();

    let ledger = ledger.lock().unwrap();
    assert_eq!(sent, 100);
    assert_eq!(ledger.stored_bets(), wire(&input));
    assert_eq!(ledger.received[0], [1, 2, 3]);
    assert_eq!(ledger.received[1], (4..=10).collect::<Vec<u64>>());
    assert_eq!(seen.last(), Some(&100));
}

#[test]
fn several_cuts_in_a_row_are_all_resumed() {
    let ledger = Shared::default();
    let cuts = vec![
        Cut::MidFrame(2),
        Cut::StoreThenClose(4),
        Cut::MidFrame(7),
        Cut::Never,
    ];
    let (address, central) = spawn_central(ledger.clone(), cuts);
    let input = bets(95);

    let mut client = AgencyClient::connect(config(address, 10, 3)).unwrap();
    let sent = client.send_bets(input.clone(), |_| ()).unwrap();
    client.finish(sent).unwrap();
    client.close();
    central.join().unwrap();

    let ledger = ledger.lock().unwrap();
    assert_eq!(ledger.stored_bets(), wire(&input));
    assert_eq!(ledger.finished, Some(95));
    assert_eq!(ledger.hellos.len(), 4);
    // Every connection resumes right after what the central had stored.
    assert_eq!(ledger.received[1].first(), Some(&2));
    assert_eq!(ledger.received[2].first(), Some(&5));
    assert_eq!(ledger.received[3].first(), Some(&7));
}

#[test]
fn a_restarted_agency_skips_what_the_central_already_stored() {
    let input = bets(60);
    let ledger = Shared::default();
    // A previous run stored 15 bets in 2 batches (sized differently).
    ledger.lock().unwrap().batches = vec![wire(&input[..10]), wire(&input[10..15])];
    let (address, central) = spawn_central(ledger.clone(), vec![Cut::Never]);

    let mut client = AgencyClient::connect(config(address, 20, 2)).unwrap();
    let resume = client.resume_point();
    assert_eq!((resume.last_batch, resume.bets_stored), (2, 15));
    let sent = client.send_bets(input.clone(), |_| ()).unwrap();
    client.finish(sent).unwrap();
    client.close();
    central.join().unwrap();

    let ledger = ledger.lock().unwrap();
    assert_eq!(sent, 60);
    assert_eq!(ledger.stored_bets(), wire(&input));
    assert_eq!(ledger.received[0], [3, 4, 5]);
}

#[test]
fn a_central_holding_more_bets_than_the_agency_has_is_a_mismatch() {
    let input = bets(10);
    let ledger = Shared::default();
    ledger.lock().unwrap().batches = vec![wire(&bets(12))];
    let (address, central) = spawn_central(ledger.clone(), vec![Cut::Never]);
    let mut client = AgencyClient::connect(config(address, 5, 2)).unwrap();
    let error = client.send_bets(input, |_| ()).unwrap_err();
    assert!(matches!(error, ClientError::ResumeMismatch(_)), "{error:?}");
    client.close();
    central.join().unwrap();
}

#[test]
fn a_refused_bet_surfaces_its_code_index_and_field() {
    let ledger = Shared::default();
    let fault = Document::new("12a").unwrap_err();
    ledger.lock().unwrap().refuse_batch = Some((2, ErrorFrame::invalid_bet(3, &fault)));
    let (address, central) = spawn_central(ledger.clone(), vec![Cut::Never]);

    let mut client = AgencyClient::connect(config(address, 5, 1)).unwrap();
    let error = client.send_bets(bets(20), |_| ()).unwrap_err();
    client.close();
    central.join().unwrap();

    assert_eq!(error.code(), Some(ErrorCode::InvalidBet));
    let ClientError::Refused(frame) = error else {
        unreachable!()
    };
    let bet = frame.bet.unwrap();
    assert_eq!((bet.index, bet.field_name()), (3, "document"));
    assert_eq!(ledger.lock().unwrap().batches.len(), 1);
}

#[test]
fn a_finish_whose_answer_was_lost_is_sent_again() {
    let ledger = Shared::default();
    let (address, central) = spawn_central(ledger.clone(), vec![Cut::OnFinish, Cut::Never]);
    let mut client = AgencyClient::connect(config(address, 10, 2)).unwrap();
    let sent = client.send_bets(bets(25), |_| ()).unwrap();
    client.finish(sent).unwrap();
    assert!(client.resume_point().finished);
    client.close();
    central.join().unwrap();

    let ledger = ledger.lock().unwrap();
    assert_eq!(ledger.finished, Some(25));
    assert_eq!(ledger.hellos.len(), 2);
}

#[test]
fn a_query_that_does_not_wait_before_the_draw_gets_none() {
    let ledger = Shared::default();
    let (address, central) = spawn_central(ledger.clone(), vec![Cut::Never]);
    let mut client = AgencyClient::connect(config(address, 10, 2)).unwrap();
    assert_eq!(client.winners(false).unwrap(), None);
    ledger.lock().unwrap().drawn = true;
    assert_eq!(client.winners(false).unwrap(), Some(vec![]));
    client.close();
    central.join().unwrap();
}

#[test]
fn a_count_mismatch_on_finish_is_refused_with_its_code() {
    let ledger = Shared::default();
    let (address, central) = spawn_central(ledger.clone(), vec![Cut::Never]);
    let mut client = AgencyClient::connect(config(address, 10, 2)).unwrap();
    let sent = client.send_bets(bets(5), |_| ()).unwrap();
    let error = client.finish(sent + 1).unwrap_err();
    assert_eq!(error.code(), Some(ErrorCode::CountMismatch));
    client.close();
    central.join().unwrap();
}

#[test]
fn an_unknown_agency_is_not_retried() {
    let ledger = Shared::default();
    ledger.lock().unwrap().refuse_hello = Some(ErrorCode::UnknownAgency);
    let (address, central) = spawn_central(ledger.clone(), vec![Cut::Never]);
    let error = AgencyClient::connect(config(address, 10, 2)).unwrap_err();
    central.join().unwrap();
    assert_eq!(error.code(), Some(ErrorCode::UnknownAgency));
    assert_eq!(ledger.lock().unwrap().hellos.len(), 1);
}

#[test]
fn reconnecting_gives_up_after_the_configured_attempts() {
    // A central that accepts and hangs up, four times, then is gone.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let central = thread::spawn(move || {
        for _ in 0..4 {
            drop(listener.accept().unwrap());
        }
    });
    let error = AgencyClient::connect(config(address, 10, 2)).unwrap_err();
    central.join().unwrap();
    // The fourth hang-up is the error: a fifth attempt would have been
    // refused (the listener is gone) and reported as a connect error. Four
    // hang-ups before any welcome is what a TLS central does to plaintext.
    match error {
        ClientError::TlsProbablyRequired {
            attempts: 4,
            source: error,
            ..
        } => assert!(
            matches!(
                error.kind(),
                io::ErrorKind::UnexpectedEof
                    | io::ErrorKind::ConnectionReset
                    | io::ErrorKind::BrokenPipe
            ),
            "{error:?}"
        ),
        other => panic!("expected the last hang-up, got {other:?}"),
    }
}

#[test]
fn no_central_listening_is_a_connect_error_naming_the_attempts() {
    let address = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut config = config(address, 10, 2);
    config.reconnect_attempts = 2;
    match AgencyClient::connect(config).unwrap_err() {
        ClientError::Connect { attempts, .. } => assert_eq!(attempts, 3),
        other => panic!("expected a connect error, got {other:?}"),
    }
}

#[test]
fn an_interrupt_ends_a_held_winners_query() {
    // The central holds the query (it never draws) until the test is done.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let central = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut decoder = Decoder::new(MAX_FRAME);
        let mut queries = 0;
        loop {
            match decoder.next_agency_message().unwrap() {
                Some(AgencyMessage::Hello { .. }) => send(
                    &mut stream,
                    &CentralMessage::Welcome {
                        last_batch: 0,
                        bets_stored: 0,
                        finished: true,
                        rows_crc: None,
                    },
                ),
                Some(AgencyMessage::WinnersQuery { wait: true }) => queries += 1,
                Some(other) => panic!("unexpected {other:?}"),
                None => {
                    if decoder.read_from(&mut stream).unwrap_or(0) == 0 {
                        return queries;
                    }
                }
            }
        }
    });
    let client = AgencyClient::connect(config(address, 10, 2)).unwrap();
    let interrupter = client.interrupter();
    let waiting = thread::spawn(move || {
        let mut client = client;
        client.winners(true)
    });
    // Interrupting before the query is sent works too: either way the
    // query returns Interrupted, without reconnecting.
    interrupter.interrupt();
    let result = waiting.join().unwrap();
    assert!(
        matches!(result, Err(ClientError::Interrupted)),
        "{result:?}"
    );
    assert!(central.join().unwrap() <= 1);
}

#[test]
fn an_interrupt_ends_the_wait_for_the_welcome() {
    // The central takes the connection and the hello, and never welcomes.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let (hello_seen, hello_arrived) = std::sync::mpsc::channel();
    let central = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut decoder = Decoder::new(MAX_FRAME);
        loop {
            if let Some(message) = decoder.next_agency_message().unwrap() {
                assert!(
                    matches!(message, AgencyMessage::Hello { .. }),
                    "{message:?}"
                );
                hello_seen.send(()).unwrap();
            }
            // Until the client's interrupt shuts the socket down.
            match decoder.read_from(&mut stream) {
                Ok(0) => return,
                Ok(_) => {}
                Err(error) => panic!("the interrupt did not close the connection: {error}"),
            }
        }
    });
    let interrupter = lottery_net::Interrupter::new();
    let connecting = {
        let mut config = config(address, 10, 2);
        // Only the interrupt can end the wait.
        config.io_timeout = None;
        config.reconnect_attempts = 0;
        let interrupter = interrupter.clone();
        thread::spawn(move || AgencyClient::connect_interruptible(config, interrupter))
    };
    hello_arrived
        .recv_timeout(Duration::from_secs(30))
        .expect("the hello arrives");
    interrupter.interrupt();
    central.join().expect("the central saw the connection end");
    let result = connecting.join().unwrap();
    assert!(
        matches!(result, Err(ClientError::Interrupted)),
        "{result:?}"
    );
}

#[test]
fn each_ack_frees_its_place_in_the_window_at_once() {
    // The central acks batch 1 only, and then waits for batch `in_flight +
    // 1`: it comes only if the client refills the window as acks arrive
    // rather than once the whole window is acked.
    let in_flight = 4;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let central = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut decoder = Decoder::new(MAX_FRAME);
        let mut received = Vec::new();
        let mut stored = 0;
        loop {
            let message = match decoder.next_agency_message().unwrap() {
                Some(message) => message,
                None => {
                    let read = decoder.read_from(&mut stream).expect("the client goes on");
                    assert_ne!(read, 0, "the client left; batches received: {received:?}");
                    continue;
                }
            };
            match message {
                AgencyMessage::Hello { .. } => send(
                    &mut stream,
                    &CentralMessage::Welcome {
                        last_batch: 0,
                        bets_stored: 0,
                        finished: false,
                        rows_crc: None,
                    },
                ),
                AgencyMessage::Batch { batch, bets } => {
                    received.push(batch);
                    stored += bets.len() as u64;
                    if batch == 1 {
                        send(
                            &mut stream,
                            &CentralMessage::Ack {
                                batch,
                                bets_stored: stored,
                            },
                        );
                    } else if batch == in_flight as u64 + 1 {
                        // Refilled after one ack: now ack everything received.
                        let mut acked = 10;
                        for &batch in &received[1..] {
                            send(
                                &mut stream,
                                &CentralMessage::Ack {
                                    batch,
                                    bets_stored: acked + 10,
                                },
                            );
                            acked += 10;
                        }
                    } else if batch > in_flight as u64 + 1 {
                        send(
                            &mut stream,
                            &CentralMessage::Ack {
                                batch,
                                bets_stored: stored,
                            },
                        );
                    }
                }
                AgencyMessage::Finish { bets_sent } => {
                    send(
                        &mut stream,
                        &CentralMessage::Finished {
                            bets_stored: bets_sent,
                        },
                    );
                    return received;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    });
    let mut client = AgencyClient::connect(config(address, 10, in_flight)).unwrap();
    let sent = client.send_bets(bets(100), |_| {}).unwrap();
    assert_eq!(sent, 100);
    client.finish(sent).unwrap();
    assert_eq!(central.join().unwrap(), (1..=10).collect::<Vec<u64>>());
}
