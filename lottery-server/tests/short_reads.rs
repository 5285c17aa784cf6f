//! The central stops reading a plaintext connection after a read shorter
//! than it asked for (the socket's queue is then empty, and the next bytes
//! raise a new edge), unless the poll reported the end of the stream. These
//! tests hold many real sockets at once where that matters: peers whose FIN
//! arrives with their last frame, and frames that trickle in a few bytes at a
//! time.
//!
//! The idle timeout is an hour, so a connection the central forgot to read
//! would hang its peer (and fail the test through the peer's read timeout, a
//! safety net) instead of being closed by a deadline.

mod common;

use std::io::{Read, Write};
use std::net::Shutdown;
use std::thread;
use std::time::Duration;

use common::{
    RawAgency, TestCentral, agency_batches, expected_winners, rows_per_agency, scratch_dir,
    settings, stored_rows,
};
use lottery_net::{
    AgencyMessage, CentralMessage, DEFAULT_MAX_FRAME, Decoder, encode_agency_message,
};
use lottery_server::ServerConfig;

/// No deadline closes a connection during these tests.
fn patient_settings() -> ServerConfig {
    ServerConfig {
        idle_timeout: Duration::from_secs(3600),
        ..settings(2)
    }
}

fn frame(message: &AgencyMessage) -> Vec<u8> {
    let mut bytes = Vec::new();
    encode_agency_message(message, DEFAULT_MAX_FRAME, &mut bytes).expect("encode");
    bytes
}

#[test]
fn peers_that_send_their_last_frame_and_close_at_once_are_stored_and_closed() {
    const AGENCIES: u32 = 200;
    const PER_BATCH: usize = 12;
    let dir = scratch_dir("short_reads_last_frame_and_close");
    let central = TestCentral::start(&dir, AGENCIES, patient_settings());
    let addr = central.addr;
    let peers: Vec<_> = (1..=AGENCIES)
        .map(|agency| {
            thread::spawn(move || {
                let (mut connection, welcome) = RawAgency::hello(addr, agency);
                assert_eq!(welcome, (0, 0, false));
                // A small frame (well under one read) and the FIN right
                // behind it: the central's read of it is short, and the
                // poll reports the end of the stream with it (or just after).
                let bets = agency_batches(agency, 1, PER_BATCH).remove(0);
                let batch = frame(&AgencyMessage::Batch { batch: 1, bets });
                connection.stream.write_all(&batch).expect("send the batch");
                connection
                    .stream
                    .shutdown(Shutdown::Write)
                    .expect("shut the write side");
                // The central closes its side once it saw the end of the
                // stream: reading to the end returns (whatever it sent
                // first, an ack at most).
                let mut answer = Vec::new();
                connection
                    .stream
                    .read_to_end(&mut answer)
                    .unwrap_or_else(|error| panic!("agency {agency}: not closed: {error}"));
                let mut decoder = Decoder::new(DEFAULT_MAX_FRAME);
                decoder.extend(&answer);
                while let Some(message) = decoder.next_central_message().expect("a valid frame") {
                    assert_eq!(
                        message,
                        CentralMessage::Ack {
                            batch: 1,
                            bets_stored: PER_BATCH as u64
                        },
                        "agency {agency}"
                    );
                }
            })
        })
        .collect();
    for peer in peers {
        peer.join().expect("a peer thread");
    }
    central.stop();
    let rows = rows_per_agency(&stored_rows(&dir.join("bets.csv")));
    assert_eq!(rows.len(), AGENCIES as usize);
    for agency in 1..=AGENCIES {
        assert_eq!(rows.get(&agency), Some(&PER_BATCH), "agency {agency}");
    }
}

#[test]
fn frames_split_over_many_small_writes_still_decode() {
    const AGENCIES: u32 = 40;
    const BATCHES: u64 = 3;
    const PER_BATCH: usize = 30;
    let dir = scratch_dir("short_reads_small_writes");
    let central = TestCentral::start(&dir, AGENCIES, patient_settings());
    let addr = central.addr;
    let peers: Vec<_> = (1..=AGENCIES)
        .map(|agency| {
            thread::spawn(move || {
                let batches = agency_batches(agency, BATCHES, PER_BATCH);
                let (mut connection, _) = RawAgency::hello(addr, agency);
                // Every write its own segment: the central's reads are all
                // short, and each one's bytes leave a frame unfinished.
                connection.stream.set_nodelay(true).expect("nodelay");
                let chunk = 3 + agency as usize % 11;
                let mut stored = 0;
                for (index, bets) in batches.iter().enumerate() {
                    stored += bets.len() as u64;
                    let bytes = frame(&AgencyMessage::Batch {
                        batch: index as u64 + 1,
                        bets: bets.clone(),
                    });
                    for piece in bytes.chunks(chunk) {
                        connection.stream.write_all(piece).expect("send a piece");
                    }
                    assert_eq!(
                        connection.recv(),
                        Some(CentralMessage::Ack {
                            batch: index as u64 + 1,
                            bets_stored: stored
                        }),
                        "agency {agency}"
                    );
                }
                for piece in frame(&AgencyMessage::Finish { bets_sent: stored }).chunks(2) {
                    connection.stream.write_all(piece).expect("send a piece");
                }
                assert_eq!(
                    connection.recv(),
                    Some(CentralMessage::Finished {
                        bets_stored: stored
                    })
                );
                for piece in frame(&AgencyMessage::WinnersQuery { wait: true }).chunks(1) {
                    connection.stream.write_all(piece).expect("send a piece");
                }
                assert_eq!(
                    connection.winners(),
                    expected_winners(&batches),
                    "agency {agency}"
                );
                connection.close();
            })
        })
        .collect();
    for peer in peers {
        peer.join().expect("a peer thread");
    }
    central.stop();
    let rows = rows_per_agency(&stored_rows(&dir.join("bets.csv")));
    for agency in 1..=AGENCIES {
        assert_eq!(
            rows.get(&agency),
            Some(&(BATCHES as usize * PER_BATCH)),
            "agency {agency}"
        );
    }
}
