//! The session against a real central over a memory store, without sockets.

use lottery_bet::{AgencyId, Birthdate};
use lottery_core::{
    BetMonitor, Central, Durability, LotteryRules,
    store::{MemoryHandle, MemoryStore},
};
use lottery_net::{
    AgencyMessage, CentralMessage, DEFAULT_MAX_FRAME, Decoder, ErrorCode, PROTOCOL_VERSION, WireBet,
};

use super::{Context, Ending, MAX_PENDING_BATCHES, Session, Step};
use crate::completer::PendingRequest;

/// The peer of every session here.
const PEER: std::net::SocketAddr =
    std::net::SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 40000);

/// One session, its central, and what it sent.
struct Harness {
    central: Central,
    store: MemoryHandle,
    session: Session,
    out: Vec<u8>,
    begun: Vec<PendingRequest>,
    /// The central's date the session is given.
    today: Birthdate,
}

impl Harness {
    fn new(agencies: u32) -> Self {
        let store = MemoryStore::new();
        let handle = store.handle();
        let (monitor, recovery) = BetMonitor::open(Box::new(store), Durability::Fsync).unwrap();
        let rules = LotteryRules {
            agencies,
            ..LotteryRules::default()
        };
        Self {
            central: Central::new(rules, monitor, &recovery).unwrap(),
            store: handle,
            session: Session::new(PEER, false),
            out: Vec::new(),
            begun: Vec::new(),
            today: today(),
        }
    }

    fn bound(agencies: u32, agency: u32) -> Self {
        let mut harness = Self::new(agencies);
        let step = harness.send(hello(agency));
        assert!(
            matches!(step, Step::Bound(id) if id.get() == agency),
            "{step:?}"
        );
        assert!(matches!(
            harness.replies()[..],
            [CentralMessage::Welcome { .. }]
        ));
        harness
    }

    /// Hands one message to the session; a begun batch is kept for [`Harness::complete`].
    fn send(&mut self, message: AgencyMessage) -> Step {
        let mut ctx = Context {
            central: &self.central,
            max_frame: DEFAULT_MAX_FRAME,
            receipt_key: None,
            today: self.today,
        };
        match self
            .session
            .on_message(message.into(), &mut ctx, &mut self.out)
        {
            Step::Storing(flight) => {
                self.begun.push(flight);
                Step::Continue
            }
            other => other,
        }
    }

    /// Completes the begun batches, as the loop does, then lets the session
    /// take up what it held.
    fn complete(&mut self) -> Step {
        let mut ctx = Context {
            central: &self.central,
            max_frame: DEFAULT_MAX_FRAME,
            receipt_key: None,
            today: self.today,
        };
        for flight in self.begun.drain(..) {
            let completed = flight.complete(&self.central);
            self.session
                .on_completed(completed, &mut ctx, &mut self.out);
        }
        match self.session.resume(&mut ctx, &mut self.out) {
            Step::Storing(flight) => {
                self.begun.push(flight);
                Step::Continue
            }
            other => other,
        }
    }

    fn on_draw(&mut self) -> Step {
        let mut ctx = Context {
            central: &self.central,
            max_frame: DEFAULT_MAX_FRAME,
            receipt_key: None,
            today: self.today,
        };
        self.session.on_draw(&mut ctx, &mut self.out)
    }

    /// Decodes (and forgets) everything the session sent so far.
    fn replies(&mut self) -> Vec<CentralMessage> {
        let mut decoder = Decoder::new(DEFAULT_MAX_FRAME);
        decoder.extend(&self.out);
        self.out.clear();
        let mut replies = Vec::new();
        while let Some(message) = decoder.next_central_message().unwrap() {
            replies.push(message);
        }
        assert_eq!(decoder.buffered(), 0, "the session sent whole frames only");
        replies
    }

    fn stored_rows(&self) -> usize {
        self.store
            .bytes()
            .split(|byte| *byte == b'\n')
            .filter(|line| !line.is_empty())
            .count()
    }
}

/// The central's date in these tests: a fixed day, so they never depend on
/// the clock.
fn today() -> Birthdate {
    Birthdate::new(2025, 6, 15).unwrap()
}

fn hello(agency: u32) -> AgencyMessage {
    AgencyMessage::Hello {
        version: PROTOCOL_VERSION,
        agency,
    }
}

fn bet(document: &str, number: u16) -> WireBet {
    WireBet {
        first_name: "Ana María".to_owned(),
        last_name: "Pérez".to_owned(),
        document: document.to_owned(),
        birthdate: "1999-03-17".to_owned(),
        number,
    }
}

fn batch(batch: u64, bets: Vec<WireBet>) -> AgencyMessage {
    AgencyMessage::Batch { batch, bets }
}

fn error_code(message: &CentralMessage) -> ErrorCode {
    match message {
        CentralMessage::Error(error) => error.code,
        other => panic!("expected an error, got {other:?}"),
    }
}

fn agency(id: u32) -> AgencyId {
    AgencyId::new(id).unwrap()
}

#[test]
fn the_handshake_binds_the_session_and_answers_where_the_agency_stands() {
    let mut harness = Harness::new(3);
    assert!(matches!(harness.send(hello(2)), Step::Bound(id) if id == agency(2)));
    assert_eq!(
        harness.replies(),
        [CentralMessage::Welcome {
            last_batch: 0,
            bets_stored: 0,
            finished: false,
            rows_crc: None
        }]
    );
    assert_eq!(harness.session.agency(), Some(agency(2)));
}

#[test]
fn a_wrong_version_an_unknown_agency_or_no_handshake_close_the_connection() {
    for (first, code) in [
        (
            AgencyMessage::Hello {
                version: PROTOCOL_VERSION + 1,
                agency: 1,
            },
            ErrorCode::UnsupportedVersion,
        ),
        (hello(0), ErrorCode::UnknownAgency),
        (hello(4), ErrorCode::UnknownAgency),
        (
            AgencyMessage::Finish { bets_sent: 0 },
            ErrorCode::UnexpectedMessage,
        ),
        (batch(1, vec![bet("1", 1)]), ErrorCode::UnexpectedMessage),
    ] {
        let mut harness = Harness::new(3);
        assert!(
            matches!(harness.send(first.clone()), Step::Close),
            "{first:?}"
        );
        let replies = harness.replies();
        assert_eq!(replies.len(), 1, "{first:?}");
        assert_eq!(error_code(&replies[0]), code, "{first:?}");
        // Whatever follows is ignored.
        assert!(matches!(harness.send(hello(1)), Step::Close));
        assert!(harness.replies().is_empty());
        assert_eq!(harness.stored_rows(), 0);
    }
}

#[test]
fn an_unknown_agency_is_refused_in_the_cores_words_agency_0_included() {
    for agency in [0, 4] {
        let mut harness = Harness::new(3);
        assert!(matches!(harness.send(hello(agency)), Step::Close));
        let replies = harness.replies();
        let [CentralMessage::Error(error)] = &replies[..] else {
            panic!("{replies:?}")
        };
        assert_eq!(
            error.message,
            format!("agency {agency} is not expected (the central expects agencies 1 to 3)")
        );
        assert_eq!(
            error.message,
            lottery_core::UnknownAgency::message(agency, 3).to_string()
        );
    }
}

#[test]
fn a_second_handshake_closes_the_connection() {
    let mut harness = Harness::bound(3, 1);
    assert!(matches!(harness.send(hello(2)), Step::Close));
    assert_eq!(
        error_code(&harness.replies()[0]),
        ErrorCode::UnexpectedMessage
    );
}

#[test]
fn batches_are_acked_in_order_with_the_running_count() {
    let mut harness = Harness::bound(2, 1);
    for number in 1..=3 {
        let bets = (0..number)
            .map(|i| bet(&format!("{number}{i}"), 1))
            .collect();
        assert!(matches!(harness.send(batch(number, bets)), Step::Continue));
    }
    assert_eq!(harness.session.pending_batches(), 3);
    assert!(
        harness.replies().is_empty(),
        "nothing is acked before it is durable"
    );
    let _ = harness.complete();
    assert_eq!(
        harness.replies(),
        [
            CentralMessage::Ack {
                batch: 1,
                bets_stored: 1
            },
            CentralMessage::Ack {
                batch: 2,
                bets_stored: 3
            },
            CentralMessage::Ack {
                batch: 3,
                bets_stored: 6
            },
        ]
    );
    assert_eq!(harness.stored_rows(), 6);
}

#[test]
fn a_peer_with_the_most_batches_in_flight_is_held_until_one_is_acked() {
    let mut harness = Harness::bound(2, 1);
    for number in 1..=MAX_PENDING_BATCHES as u64 {
        assert!(!harness.session.is_held(), "held before batch {number}");
        let bets = vec![bet(&number.to_string(), 1)];
        assert!(matches!(harness.send(batch(number, bets)), Step::Continue));
    }
    assert!(
        harness.session.is_held(),
        "the connection takes no frame past the limit"
    );
    let _ = harness.complete();
    assert!(!harness.session.is_held());
    assert_eq!(harness.replies().len(), MAX_PENDING_BATCHES);
    assert_eq!(harness.stored_rows(), MAX_PENDING_BATCHES);
}

#[test]
fn an_invalid_bet_refuses_the_whole_batch_naming_the_bet_and_field() {
    let mut harness = Harness::bound(2, 1);
    let bets = vec![bet("1", 1), bet("2", 2), bet("12a", 3), bet("4", 4)];
    assert!(matches!(harness.send(batch(1, bets)), Step::Continue));
    let replies = harness.replies();
    let CentralMessage::Error(error) = &replies[0] else {
        panic!("{replies:?}")
    };
    assert_eq!(error.code, ErrorCode::InvalidBet);
    let fault = error.bet.expect("the faulty bet is named");
    assert_eq!((fault.index, fault.field_name()), (2, "document"));
    assert_eq!(harness.stored_rows(), 0, "nothing of the batch is stored");
    // The connection goes on: the same batch number, fixed, is taken.
    assert!(matches!(
        harness.send(batch(1, vec![bet("3", 3)])),
        Step::Continue
    ));
    let _ = harness.complete();
    assert_eq!(
        harness.replies(),
        [CentralMessage::Ack {
            batch: 1,
            bets_stored: 1
        }]
    );
}

#[test]
fn an_empty_batch_gets_its_code_and_its_number_stays_free() {
    let mut harness = Harness::bound(2, 1);
    assert!(matches!(harness.send(batch(1, vec![])), Step::Continue));
    let replies = harness.replies();
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert_eq!(error_code(&replies[0]), ErrorCode::EmptyBatch);
    assert!(harness.begun.is_empty(), "nothing was begun");
    assert!(matches!(
        harness.send(batch(1, vec![bet("1", 1)])),
        Step::Continue
    ));
    let _ = harness.complete();
    assert_eq!(
        harness.replies(),
        [CentralMessage::Ack {
            batch: 1,
            bets_stored: 1
        }]
    );
}

#[test]
fn a_bet_born_after_today_refuses_the_whole_batch_naming_the_bet_and_birthdate() {
    let mut harness = Harness::bound(2, 1);
    let born = |document, birthdate: &str| WireBet {
        birthdate: birthdate.to_owned(),
        ..bet(document, 1)
    };
    let bets = vec![
        born("1", "2025-06-15"),
        born("2", "2025-06-16"),
        born("3", "9999-12-31"),
    ];
    assert!(matches!(harness.send(batch(1, bets)), Step::Continue));
    let replies = harness.replies();
    let [CentralMessage::Error(error)] = &replies[..] else {
        panic!("{replies:?}")
    };
    assert_eq!(error.code, ErrorCode::InvalidBet);
    let fault = error.bet.expect("the faulty bet is named");
    assert_eq!((fault.index, fault.field_name()), (1, "birthdate"));
    assert_eq!(error.message, "bet 1: birthdate is after today");
    assert!(harness.begun.is_empty(), "nothing was begun");
    assert_eq!(harness.stored_rows(), 0);
    // Born today is fine, and batch 1 is still free.
    assert!(matches!(
        harness.send(batch(1, vec![born("1", "2025-06-15")])),
        Step::Continue
    ));
    let _ = harness.complete();
    assert_eq!(
        harness.replies(),
        [CentralMessage::Ack {
            batch: 1,
            bets_stored: 1
        }]
    );
}

#[test]
fn a_refusal_behind_batches_in_flight_waits_for_their_acks() {
    let mut harness = Harness::bound(2, 1);
    assert!(matches!(
        harness.send(batch(1, vec![bet("1", 1)])),
        Step::Continue
    ));
    // Invalid bet: its refusal must not overtake the ack of batch 1.
    assert!(matches!(
        harness.send(batch(2, vec![bet("", 1)])),
        Step::Held
    ));
    assert!(harness.replies().is_empty());
    let _ = harness.complete();
    let replies = harness.replies();
    assert!(
        matches!(replies[0], CentralMessage::Ack { batch: 1, .. }),
        "{replies:?}"
    );
    assert_eq!(error_code(&replies[1]), ErrorCode::InvalidBet);
    assert_eq!(replies.len(), 2);
}

#[test]
fn a_finish_behind_batches_in_flight_is_held_until_they_are_acked() {
    let mut harness = Harness::bound(2, 1);
    assert!(matches!(
        harness.send(batch(1, vec![bet("1", 1), bet("2", 2)])),
        Step::Continue
    ));
    assert!(matches!(
        harness.send(AgencyMessage::Finish { bets_sent: 2 }),
        Step::Held
    ));
    assert!(harness.session.is_held());
    let _ = harness.complete();
    assert!(!harness.session.is_held());
    // The finish was taken up and begun; its answer follows the ack.
    let _ = harness.complete();
    assert_eq!(
        harness.replies(),
        [
            CentralMessage::Ack {
                batch: 1,
                bets_stored: 2
            },
            CentralMessage::Finished { bets_stored: 2 },
        ]
    );
}

#[test]
fn wrong_state_batches_get_their_codes_and_the_connection_goes_on() {
    let mut harness = Harness::bound(2, 1);
    // Skipping ahead.
    assert!(matches!(
        harness.send(batch(2, vec![bet("1", 1)])),
        Step::Continue
    ));
    assert_eq!(error_code(&harness.replies()[0]), ErrorCode::OutOfOrder);
    // A count that does not match.
    assert!(matches!(
        harness.send(AgencyMessage::Finish { bets_sent: 5 }),
        Step::Continue
    ));
    assert_eq!(error_code(&harness.replies()[0]), ErrorCode::CountMismatch);
    // After the finish, no more bets.
    assert!(matches!(
        harness.send(AgencyMessage::Finish { bets_sent: 0 }),
        Step::Continue
    ));
    let _ = harness.complete();
    assert_eq!(
        harness.replies(),
        [CentralMessage::Finished { bets_stored: 0 }]
    );
    assert!(matches!(
        harness.send(batch(1, vec![bet("1", 1)])),
        Step::Continue
    ));
    assert_eq!(error_code(&harness.replies()[0]), ErrorCode::AgencyFinished);
    assert_eq!(harness.stored_rows(), 0);
}

#[test]
fn a_storage_failure_refuses_the_batch_and_a_retry_is_stored() {
    let mut harness = Harness::bound(1, 1);
    harness.store.fail_next_appends(1);
    assert!(matches!(
        harness.send(batch(1, vec![bet("1", 1)])),
        Step::Continue
    ));
    let _ = harness.complete();
    assert_eq!(error_code(&harness.replies()[0]), ErrorCode::StorageFailure);
    assert_eq!(harness.stored_rows(), 0);
    assert!(matches!(
        harness.send(batch(1, vec![bet("1", 1)])),
        Step::Continue
    ));
    let _ = harness.complete();
    assert!(matches!(
        harness.replies()[..],
        [CentralMessage::Ack {
            batch: 1,
            bets_stored: 1
        }]
    ));
    assert_eq!(harness.stored_rows(), 1);
}

#[test]
fn a_resent_batch_is_acked_again_and_not_stored_again() {
    let mut harness = Harness::bound(1, 1);
    assert!(matches!(
        harness.send(batch(1, vec![bet("1", 1), bet("2", 1)])),
        Step::Continue
    ));
    let _ = harness.complete();
    harness.replies();
    assert!(matches!(
        harness.send(batch(1, vec![bet("1", 1), bet("2", 1)])),
        Step::Continue
    ));
    let _ = harness.complete();
    assert_eq!(
        harness.replies(),
        [CentralMessage::Ack {
            batch: 1,
            bets_stored: 2
        }]
    );
    assert_eq!(harness.stored_rows(), 2);
}

/// Agency 2 of `central`, in a session of its own, stores a winner and
/// finishes last: the draw happens when its finish completes.
fn second_agency_wins_and_finishes(central: &Central) {
    let mut two = Session::new(PEER, false);
    let mut out = Vec::new();
    let mut ctx = Context {
        central,
        max_frame: DEFAULT_MAX_FRAME,
        receipt_key: None,
        today: today(),
    };
    assert!(matches!(
        two.on_message(hello(2).into(), &mut ctx, &mut out),
        Step::Bound(_)
    ));
    let Step::Storing(flight) =
        two.on_message(batch(1, vec![bet("21", 7574)]).into(), &mut ctx, &mut out)
    else {
        panic!("the batch is begun")
    };
    two.on_completed(flight.complete(central), &mut ctx, &mut out);
    let Step::Storing(finish) = two.on_message(
        AgencyMessage::Finish { bets_sent: 1 }.into(),
        &mut ctx,
        &mut out,
    ) else {
        panic!("the finish is begun")
    };
    assert!(!central.is_drawn(), "the finish is not complete yet");
    two.on_completed(finish.complete(central), &mut ctx, &mut out);
    assert!(central.is_drawn());
}

#[test]
fn a_winners_query_before_the_draw_is_held_and_answered_by_the_draw() {
    let mut one = Harness::bound(2, 1);
    assert!(matches!(
        one.send(batch(
            1,
            vec![bet("11", 7574), bet("12", 1), bet("13", 7574)]
        )),
        Step::Continue
    ));
    let _ = one.complete();
    assert!(matches!(
        one.send(AgencyMessage::Finish { bets_sent: 3 }),
        Step::Continue
    ));
    let _ = one.complete();
    one.replies();
    // Asked not to wait: answered at once.
    assert!(matches!(
        one.send(AgencyMessage::WinnersQuery { wait: false }),
        Step::Continue
    ));
    assert_eq!(one.replies(), [CentralMessage::NotDrawn]);
    // Asked to wait: nothing yet, and the idle timeout does not apply.
    assert!(matches!(
        one.send(AgencyMessage::WinnersQuery { wait: true }),
        Step::Continue
    ));
    assert!(one.replies().is_empty());
    assert!(one.session.is_waiting());
    assert!(matches!(one.on_draw(), Step::Continue), "no draw yet");

    // Agency 2 (same central) stores a winner of its own and finishes: the draw.
    second_agency_wins_and_finishes(&one.central);

    assert!(matches!(one.on_draw(), Step::WinnersSent(id) if id == agency(1)));
    assert_eq!(
        one.replies(),
        [CentralMessage::Winners {
            documents: vec!["11".to_owned(), "13".to_owned()],
            last: true
        }]
    );
    assert!(!one.session.is_waiting());
    // Later queries are answered at once, with this agency's documents only.
    assert!(matches!(
        one.send(AgencyMessage::WinnersQuery { wait: true }),
        Step::WinnersSent(_)
    ));
    assert_eq!(
        one.replies(),
        [CentralMessage::Winners {
            documents: vec!["11".to_owned(), "13".to_owned()],
            last: true
        }]
    );
}

#[test]
fn many_winners_span_several_frames_within_the_limit() {
    let mut harness = Harness::bound(1, 1);
    let count = 2_000;
    let mut sent = 0;
    for number in 1..=(count / 100) {
        let bets = (0..100)
            .map(|i| bet(&format!("{:08}", number * 1000 + i), 7574))
            .collect();
        assert!(matches!(harness.send(batch(number, bets)), Step::Continue));
        sent += 100;
    }
    let _ = harness.complete();
    assert!(matches!(
        harness.send(AgencyMessage::Finish { bets_sent: sent }),
        Step::Continue
    ));
    let _ = harness.complete();
    harness.replies();
    assert!(matches!(
        harness.send(AgencyMessage::WinnersQuery { wait: true }),
        Step::WinnersSent(_)
    ));
    let frames = harness.replies();
    assert!(frames.len() > 1, "{} frames", frames.len());
    let mut documents = Vec::new();
    for (index, frame) in frames.iter().enumerate() {
        let CentralMessage::Winners {
            documents: part,
            last,
        } = frame
        else {
            panic!("{frame:?}")
        };
        assert_eq!(*last, index == frames.len() - 1);
        documents.extend(part.iter().cloned());
    }
    assert_eq!(documents.len() as u64, sent);
}

#[test]
fn an_ended_session_says_why_and_closes() {
    for (ending, code) in [
        (Ending::Replaced, ErrorCode::Replaced),
        (Ending::ShuttingDown, ErrorCode::ShuttingDown),
        (Ending::IdleTimeout, ErrorCode::Timeout),
        (Ending::HandshakeTimeout, ErrorCode::Timeout),
    ] {
        let mut harness = Harness::bound(1, 1);
        assert!(matches!(
            harness
                .session
                .end(ending, DEFAULT_MAX_FRAME, &mut harness.out),
            Step::Close
        ));
        let replies = harness.replies();
        assert_eq!(replies.len(), 1);
        assert_eq!(error_code(&replies[0]), code);
        // Ending twice says nothing more.
        assert!(matches!(
            harness
                .session
                .end(ending, DEFAULT_MAX_FRAME, &mut harness.out),
            Step::Close
        ));
        assert!(harness.replies().is_empty());
    }
}

#[test]
fn a_malformed_frame_is_answered_with_its_code() {
    let mut harness = Harness::new(1);
    let error = lottery_net::DecodeError::FrameTooLarge {
        declared: 1 << 30,
        max: DEFAULT_MAX_FRAME,
    };
    assert!(matches!(
        harness
            .session
            .on_malformed(&error, DEFAULT_MAX_FRAME, &mut harness.out),
        Step::Close
    ));
    assert_eq!(error_code(&harness.replies()[0]), ErrorCode::FrameTooLarge);
}

#[test]
fn messages_after_a_held_winners_query_wait_for_its_answer() {
    let mut one = Harness::bound(2, 1);
    assert!(matches!(
        one.send(AgencyMessage::Finish { bets_sent: 0 }),
        Step::Continue
    ));
    let _ = one.complete();
    assert!(matches!(
        one.send(AgencyMessage::WinnersQuery { wait: true }),
        Step::Continue
    ));
    assert!(matches!(
        one.send(AgencyMessage::WinnersQuery { wait: false }),
        Step::Held
    ));
    assert_eq!(one.replies(), [CentralMessage::Finished { bets_stored: 0 }]);
    one.central.finish(agency(2), 0).unwrap();
    assert!(matches!(one.on_draw(), Step::WinnersSent(_)));
    // The held query is taken up after the winners.
    assert!(matches!(one.complete(), Step::WinnersSent(_)));
    let empty = CentralMessage::Winners {
        documents: Vec::new(),
        last: true,
    };
    assert_eq!(one.replies(), [empty.clone(), empty]);
}

#[test]
fn every_message_behind_a_finish_in_flight_waits_for_its_answer() {
    let mut harness = Harness::bound(2, 1);
    assert!(matches!(
        harness.send(AgencyMessage::Finish { bets_sent: 0 }),
        Step::Continue
    ));
    assert!(
        harness.session.is_waiting(),
        "the idle timeout does not apply"
    );
    assert!(harness.replies().is_empty(), "answered once durable only");
    // Even a batch waits: it is refused as coming after the finish.
    assert!(matches!(
        harness.send(batch(1, vec![bet("1", 1)])),
        Step::Held
    ));
    assert!(matches!(harness.complete(), Step::Continue));
    let replies = harness.replies();
    assert_eq!(replies.len(), 2);
    assert_eq!(replies[0], CentralMessage::Finished { bets_stored: 0 });
    assert_eq!(error_code(&replies[1]), ErrorCode::AgencyFinished);
    assert_eq!(harness.stored_rows(), 0);
}

/// A memory ledger that says it is shared (as a database is): the session
/// then hands its handshake to the completer. Everything else is the
/// memory monitor's.
#[derive(Debug)]
struct SharedMemory(BetMonitor);

impl lottery_core::ledger::Ledger for SharedMemory {
    fn begin_append(
        &self,
        agency: AgencyId,
        batch: u64,
        bets: &lottery_bet::BetBatch,
    ) -> Result<
        (lottery_core::ledger::PendingWrite, lottery_bet::BatchDigest),
        lottery_core::StoreError,
    > {
        lottery_core::ledger::Ledger::begin_append(&self.0, agency, batch, bets)
    }
    fn begin_finish(
        &self,
        agency: AgencyId,
        bets: u64,
    ) -> Result<lottery_core::ledger::PendingWrite, lottery_core::StoreError> {
        lottery_core::ledger::Ledger::begin_finish(&self.0, agency, bets)
    }
    fn wait_durable(
        &self,
        write: lottery_core::ledger::PendingWrite,
    ) -> Result<(), lottery_core::StoreError> {
        lottery_core::ledger::Ledger::wait_durable(&self.0, write)
    }
    fn tally(&self, tally: &mut lottery_core::DrawTally) -> Result<u64, lottery_core::StoreError> {
        lottery_core::ledger::Ledger::tally(&self.0, tally)
    }
    fn record_rules(
        &self,
        rules: LotteryRules,
        secret: Option<&lottery_core::DrawSecret>,
    ) -> Result<(), lottery_core::StoreError> {
        lottery_core::ledger::Ledger::record_rules(&self.0, rules, secret)
    }
    fn chain_head(&self) -> Option<lottery_core::ledger::ChainHead> {
        lottery_core::ledger::Ledger::chain_head(&self.0)
    }
    fn record_draw(
        &self,
        draw: &lottery_core::DrawSummary,
    ) -> Result<(), lottery_core::StoreError> {
        lottery_core::ledger::Ledger::record_draw(&self.0, draw)
    }
    fn scan(
        &self,
        visit: &mut dyn FnMut(lottery_bet::StoredBet),
    ) -> Result<u64, lottery_core::StoreError> {
        lottery_core::ledger::Ledger::scan(&self.0, visit)
    }
    fn is_shared(&self) -> bool {
        true
    }
}

#[test]
fn over_a_shared_ledger_the_handshake_is_completed_off_the_loop_and_holds_the_session() {
    let (monitor, recovery) =
        BetMonitor::open(Box::new(MemoryStore::new()), Durability::Fsync).unwrap();
    let rules = LotteryRules {
        agencies: 2,
        ..LotteryRules::default()
    };
    let central = Central::new(rules, SharedMemory(monitor), &recovery).unwrap();
    let mut ctx = Context {
        central: &central,
        max_frame: DEFAULT_MAX_FRAME,
        receipt_key: None,
        today: today(),
    };
    let mut session = Session::new(PEER, false);
    let mut out = Vec::new();
    // An unknown agency is refused at once, as over the file store.
    let mut stranger = Session::new(PEER, false);
    assert!(matches!(
        stranger.on_message(hello(3).into(), &mut ctx, &mut out),
        Step::Close
    ));
    out.clear();
    let Step::Storing(flight @ PendingRequest::Hello { .. }) =
        session.on_message(hello(1).into(), &mut ctx, &mut out)
    else {
        panic!("the handshake is handed to the completer")
    };
    // Nothing answered or bound yet, and no other message is taken.
    assert!(out.is_empty());
    assert_eq!(session.agency(), None);
    assert!(session.is_held() && session.has_pending_work() && !session.is_greeting());
    let bound = session.on_completed(flight.complete(&central), &mut ctx, &mut out);
    assert_eq!(bound, Some(agency(1)));
    assert_eq!(session.agency(), Some(agency(1)));
    assert!(!session.is_held() && !session.has_pending_work());
    assert!(matches!(session.resume(&mut ctx, &mut out), Step::Continue));
    let mut decoder = Decoder::new(DEFAULT_MAX_FRAME);
    decoder.extend(&out);
    assert_eq!(
        decoder.next_central_message().unwrap(),
        Some(CentralMessage::Welcome {
            last_batch: 0,
            bets_stored: 0,
            finished: false,
            rows_crc: None
        })
    );
    assert_eq!(decoder.buffered(), 0);
}

#[test]
fn a_handshake_answered_after_its_session_ended_binds_nothing() {
    let (monitor, recovery) =
        BetMonitor::open(Box::new(MemoryStore::new()), Durability::Fsync).unwrap();
    let central = Central::new(LotteryRules::default(), SharedMemory(monitor), &recovery).unwrap();
    let mut ctx = Context {
        central: &central,
        max_frame: DEFAULT_MAX_FRAME,
        receipt_key: None,
        today: today(),
    };
    let mut session = Session::new(PEER, false);
    let mut out = Vec::new();
    let Step::Storing(flight) = session.on_message(hello(1).into(), &mut ctx, &mut out) else {
        panic!("the handshake is handed to the completer")
    };
    // Shut down (or replaced) meanwhile: the goodbye, and no Welcome after it.
    assert!(matches!(
        session.end(Ending::ShuttingDown, DEFAULT_MAX_FRAME, &mut out),
        Step::Close
    ));
    // Still at the completer: the connection stays until it comes back.
    assert!(session.has_pending_work());
    out.clear();
    assert_eq!(
        session.on_completed(flight.complete(&central), &mut ctx, &mut out),
        None
    );
    assert!(out.is_empty());
    assert!(!session.has_pending_work());
    assert_eq!(session.agency(), None);
}
