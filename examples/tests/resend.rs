//! Content-checked resends against the real `lottery-server` processes: an
//! acknowledgement always means these exact bets are stored.
//!
//! - Two connections of agency 2 on two centrals sharing one PostgreSQL
//!   database, each sending batches 1 to 50 with bets of its own, pipelined
//!   and racing: every batch acknowledged is in the database exactly as that
//!   connection sent it, every `BatchConflict` refusal names a number the
//!   database holds with the other connection's bets, and some are refused
//!   (before, both got 50 acks and 50 of those were lies).
//! - The same on the file store with one central: a second connection of the
//!   agency sends the numbers the first one stored with other bets; each is
//!   refused, `bets.csv` holds only the first one's rows, a resend with the
//!   stored bets is still acknowledged, and the central's log names agency
//!   and batch.
//! - A restarted `lottery-agency` whose file was edited (a row put at the
//!   top) exits 1 naming its file and the stored batches, before it sends
//!   anything new (`examples/tests/programs.rs` holds the agency's other
//!   process tests).
//!
//! The PostgreSQL test needs `LOTTERY_TEST_POSTGRES` (skipped, saying so,
//! without it).

#[path = "../../lottery-pg/tests/common/mod.rs"]
mod pg_common;
mod support;

use std::path::Path;

use lottery_bet::{AgencyId, Bet, encode_store_rows};
use lottery_net::{
    AgencyMessage, CentralMessage, ClientConfig, Connection, DEFAULT_MAX_FRAME, ErrorCode, WireBet,
    encode_agency_message,
};
use pg_common::{Schema, postgres_url};
use support::{Central, run_agency};

const BATCHES: u64 = 50;
const PER_BATCH: u64 = 3;

/// The document of bet `index` of batch `batch` sent by connection `who`:
/// unique, and it says who sent it, in which batch and where.
fn document(who: u8, batch: u64, index: u64) -> String {
    format!("{who}{batch:03}{index}")
}

fn bets(who: u8, batch: u64) -> Vec<WireBet> {
    (0..PER_BATCH)
        .map(|index| WireBet {
            first_name: "Ana".into(),
            last_name: "Paz".into(),
            document: document(who, batch, index),
            birthdate: "1990-02-03".into(),
            number: 12,
        })
        .collect()
}

/// What a connection was answered for each batch it sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Acked,
    Conflict,
    /// Any other refusal (a number past the central's next one after a
    /// conflict, a batch still pending): nothing claimed either way.
    Other(ErrorCode),
}

/// Connects as agency 2 to `server`, sends batches 1 to 50 of `who` at once
/// and reads the 50 answers, in order.
fn send_all(server: &str, who: u8) -> Vec<Answer> {
    let config = ClientConfig::new(server, AgencyId::new(2).unwrap());
    let (mut connection, _) = Connection::open(&config).expect("handshake");
    let mut frames = Vec::new();
    for batch in 1..=BATCHES {
        let message = AgencyMessage::Batch {
            batch,
            bets: bets(who, batch),
        };
        encode_agency_message(&message, DEFAULT_MAX_FRAME, &mut frames).unwrap();
    }
    connection.send_frames(&frames).unwrap();
    (1..=BATCHES)
        .map(|batch| match connection.receive().expect("an answer") {
            CentralMessage::Ack { batch: acked, .. } => {
                assert_eq!(acked, batch, "acks come in batch order");
                Answer::Acked
            }
            CentralMessage::Error(error) if error.code == ErrorCode::BatchConflict => {
                assert!(error.message.contains(&format!("batch {batch}")), "{error}");
                Answer::Conflict
            }
            CentralMessage::Error(error) => Answer::Other(error.code),
            other => panic!("batch {batch}: {other:?}"),
        })
        .collect()
}

/// Who sent each stored batch of agency 2 (index 0: batch 1), checking that
/// each is whole and exactly one sender's bets, in order.
fn senders(documents: &[(u64, String)]) -> Vec<u8> {
    let mut by_batch: std::collections::BTreeMap<u64, Vec<&str>> = Default::default();
    for (batch, document) in documents {
        by_batch.entry(*batch).or_default().push(document);
    }
    let mut senders = Vec::new();
    for (number, (batch, documents)) in by_batch.into_iter().enumerate() {
        assert_eq!(batch, number as u64 + 1, "stored batches have no hole");
        let who = documents[0].as_bytes()[0] - b'0';
        let expected: Vec<String> = (0..PER_BATCH).map(|i| document(who, batch, i)).collect();
        assert_eq!(documents, expected, "batch {batch} is one sender's, whole");
        senders.push(who);
    }
    senders
}

/// Checks every answer against what is stored: an ack only for the
/// sender's own bets, a conflict only for the other's.
fn check_answers(who: u8, answers: &[Answer], stored: &[u8]) {
    for (index, answer) in answers.iter().enumerate() {
        let batch = index + 1;
        match answer {
            Answer::Acked => assert_eq!(
                stored.get(index),
                Some(&who),
                "batch {batch} acked to {who} but not stored as it sent it"
            ),
            Answer::Conflict => assert!(
                stored.get(index).is_some_and(|&other| other != who),
                "batch {batch} refused to {who} as a conflict, but the store holds {:?}",
                stored.get(index)
            ),
            Answer::Other(_) => {}
        }
    }
}

#[test]
fn two_centrals_on_postgres_store_each_number_once_and_ack_only_what_they_stored() {
    let Some(base) = postgres_url(
        "two_centrals_on_postgres_store_each_number_once_and_ack_only_what_they_stored",
    ) else {
        return;
    };
    let schema = Schema::new(&base);
    let a = Central::start_on(2, Some(schema.url()), &[]);
    let b = Central::start_on(2, Some(schema.url()), &[]);
    let (on_a, on_b) = std::thread::scope(|scope| {
        let on_a = scope.spawn(|| send_all(&a.address(), 1));
        let on_b = scope.spawn(|| send_all(&b.address(), 2));
        (on_a.join().unwrap(), on_b.join().unwrap())
    });
    let rows = schema
        .client()
        .query(
            "SELECT batch, document FROM bets WHERE agency = 2 ORDER BY batch, position",
            &[],
        )
        .unwrap();
    let documents: Vec<(u64, String)> = rows
        .iter()
        .map(|row| (row.get::<_, i64>(0) as u64, row.get(1)))
        .collect();
    let stored = senders(&documents);
    check_answers(1, &on_a, &stored);
    check_answers(2, &on_b, &stored);
    let acks = |answers: &[Answer]| answers.iter().filter(|a| **a == Answer::Acked).count();
    // Each stored number is acked to its sender: none to both.
    assert_eq!(acks(&on_a) + acks(&on_b), stored.len(), "{on_a:?} {on_b:?}");
    let conflicts = [&on_a, &on_b]
        .iter()
        .flat_map(|answers| answers.iter())
        .filter(|a| **a == Answer::Conflict)
        .count();
    assert!(
        conflicts > 0,
        "two senders of one number, no conflict: {on_a:?} {on_b:?}"
    );
    let logs = a.log() + &b.log();
    assert!(
        logs.contains("action: apuesta_recibida | result: fail")
            && logs.contains("is stored already with other bets"),
        "{logs}"
    );
}

/// The rows of agency 2 in `store` (a `bets.csv`).
fn agency_rows(store: &Path) -> Vec<u8> {
    let text = std::fs::read(store).unwrap();
    text.split_inclusive(|&b| b == b'\n')
        .filter(|row| row.starts_with(b"2,"))
        .flatten()
        .copied()
        .collect()
}

#[test]
fn a_second_connection_sending_stored_numbers_with_other_bets_is_refused_on_the_file_store() {
    let central = Central::start(2);
    // The first connection stores batches 1 to 50.
    let first = send_all(&central.address(), 1);
    assert!(first.iter().all(|a| *a == Answer::Acked), "{first:?}");
    // A second connection of the agency (replacing the first) sends the same
    // numbers with other bets: not one is acknowledged.
    let second = send_all(&central.address(), 2);
    assert!(second.iter().all(|a| *a == Answer::Conflict), "{second:?}");
    let store = central.store();
    let mut expected = Vec::new();
    for batch in 1..=BATCHES {
        let bets: Vec<Bet> = bets(1, batch)
            .iter()
            .map(|bet| {
                Bet::from_fields(
                    &bet.first_name,
                    &bet.last_name,
                    &bet.document,
                    &bet.birthdate,
                    &bet.number.to_string(),
                )
                .unwrap()
            })
            .collect();
        encode_store_rows(AgencyId::new(2).unwrap(), &bets, &mut expected);
    }
    assert_eq!(
        String::from_utf8_lossy(&agency_rows(&store)),
        String::from_utf8_lossy(&expected)
    );
    // A resend with the stored bets is what it always was: acknowledged.
    let config = ClientConfig::new(central.address(), AgencyId::new(2).unwrap());
    let (mut again, resume) = Connection::open(&config).unwrap();
    assert_eq!(
        (resume.last_batch, resume.bets_stored),
        (BATCHES, BATCHES * PER_BATCH)
    );
    assert!(resume.rows_crc.is_some());
    again
        .send(&AgencyMessage::Batch {
            batch: 7,
            bets: bets(1, 7),
        })
        .unwrap();
    assert!(matches!(
        again.receive().unwrap(),
        CentralMessage::Ack { batch: 7, bets_stored } if bets_stored == BATCHES * PER_BATCH
    ));
    assert_eq!(agency_rows(&store), expected, "nothing stored twice");
    // The central said which agency and batch, for each conflict (well
    // under its log limit of a burst of 20 per peer: some are summarized).
    let line = "action: apuesta_recibida | result: fail | cantidad: 3 | agency: 2 | batch: 1 | error: agency 2 batch 1 is stored already with other bets";
    let log = central.log_with(line);
    assert!(log.contains(line), "{log}");
}

#[test]
fn a_restarted_agency_whose_file_was_edited_exits_naming_it_before_sending_anything() {
    let central = Central::start(2);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("agency-2.csv");
    let rows: Vec<String> = (0..40)
        .map(|i| format!("Ana,Paz,{},1990-02-03,{}\n", 3000 + i, i))
        .collect();
    // The central holds the first 20 bets (two batches of 10), as if the
    // agency had been killed after their acks.
    let config = ClientConfig::new(central.address(), AgencyId::new(2).unwrap());
    let (mut first, _) = Connection::open(&config).unwrap();
    for (batch, chunk) in rows[..20].chunks(10).enumerate() {
        let bets = chunk
            .iter()
            .map(|row| {
                let fields: Vec<&str> = row.trim_end().split(',').collect();
                WireBet {
                    first_name: fields[0].into(),
                    last_name: fields[1].into(),
                    document: fields[2].into(),
                    birthdate: fields[3].into(),
                    number: fields[4].parse().unwrap(),
                }
            })
            .collect();
        first
            .send(&AgencyMessage::Batch {
                batch: batch as u64 + 1,
                bets,
            })
            .unwrap();
        assert!(matches!(
            first.receive().unwrap(),
            CentralMessage::Ack { .. }
        ));
    }
    first.close();
    // The file is edited: a row put at the top.
    let edited = format!("Luis,Sosa,999,1980-01-02,7574\n{}", rows.concat());
    std::fs::write(&file, edited).unwrap();
    let data = file.to_str().unwrap();
    let output = run_agency(
        &[
            "--id",
            "2",
            "--server",
            &central.address(),
            "--data",
            data,
            "--batch-max-amount",
            "10",
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(1), "{}", output.log);
    assert!(
        output.log.contains(&format!(
            "{data} does not hold the bets the central stores for this agency"
        )) && output
            .log
            .contains("the central stores batches 1 to 2 (20 bets) of agency 2"),
        "{}",
        output.log
    );
    // Nothing new reached the central: no batch 3, nothing resent.
    let log = central.log();
    assert!(!log.contains("batch: 3"), "{log}");
    assert_eq!(
        log.matches("action: apuesta_recibida | result: success")
            .count(),
        2,
        "{log}"
    );
    // The file as it was: the agency resumes from batch 3 and finishes (after
    // agency 1, with no bets, so that its finish draws).
    std::fs::write(&file, rows.concat()).unwrap();
    let config = ClientConfig::new(central.address(), AgencyId::new(1).unwrap());
    let (mut one, _) = Connection::open(&config).unwrap();
    one.send(&AgencyMessage::Finish { bets_sent: 0 }).unwrap();
    assert!(matches!(
        one.receive().unwrap(),
        CentralMessage::Finished { .. }
    ));
    one.close();
    let output = run_agency(
        &["--id", "2", "--server", &central.address(), "--data", data],
        &[],
    );
    assert!(output.status.success(), "{}", output.log);
    let log = central.log();
    assert!(
        log.contains("action: finish | result: success | agency: 2 | bets: 40"),
        "{log}"
    );
}
