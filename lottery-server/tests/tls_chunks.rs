//! The TLS connection's own state machine (rustls driven without blocking
//! inside the event loop) under arbitrary segmentation: a relay between the
//! agency and the central forwards the agency's TLS bytes in random pieces
//! (records split anywhere, several at once), and in some cases cuts the
//! stream at a random byte, in the middle of a record. Whatever the pieces,
//! every batch that was stored is whole, a stream that arrived whole stores
//! every batch, and the central goes on serving.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;

use common::{TestCentral, agency_batches, scratch_dir, settings};
use lottery_bet::AgencyId;
use lottery_net::{
    AgencyMessage, DEFAULT_MAX_FRAME, Decoder, PROTOCOL_VERSION, encode_agency_message,
};
use lottery_server::ServerConfig;
use lottery_tls::{Authority, ClientTls, ServerTls};
use proptest::prelude::*;

const BATCHES: u64 = 6;
const PER_BATCH: usize = 20;
/// Agencies the central expects: one per case, so no case sees another's.
const AGENCIES: u32 = 1000;

struct Setup {
    central: TestCentral,
    ca: Authority,
    next_agency: AtomicU32,
}

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let ca = Authority::new("chunks CA").unwrap();
        let server = ca.issue_server(&["localhost".to_owned()]).unwrap();
        let tls = ServerTls::from_der(
            vec![server.certificate_der().unwrap()],
            server.key_der().unwrap(),
            Some(vec![ca.certificate_der()]),
        )
        .unwrap();
        let config = ServerConfig {
            tls: Some(tls),
            ..settings(2)
        };
        let central = TestCentral::start(&scratch_dir("tls_chunks"), AGENCIES, config);
        Setup {
            central,
            ca,
            next_agency: AtomicU32::new(1),
        }
    })
}

/// Forwards the first agency connection to `central`: the agency's bytes in
/// pieces of the sizes `pieces` gives (cycled), at most `cut` of them;
/// the central's bytes as they come. Returns once the central closed its
/// side (so everything the central took from this connection is settled).
fn relay(listener: TcpListener, central: SocketAddr, pieces: Vec<usize>, cut: Option<usize>) {
    let (mut agency, _) = listener.accept().unwrap();
    let mut upstream = TcpStream::connect(central).unwrap();
    upstream.set_nodelay(true).unwrap();
    let mut back_to_agency = agency.try_clone().unwrap();
    let mut from_central = upstream.try_clone().unwrap();
    let back = thread::spawn(move || {
        let _ = std::io::copy(&mut from_central, &mut back_to_agency);
        let _ = back_to_agency.shutdown(Shutdown::Both);
    });
    let mut forwarded = 0;
    let mut piece = pieces.iter().cycle();
    let mut buf = vec![0u8; 64 * 1024];
    'relay: loop {
        let read = match agency.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        let mut rest = &buf[..read];
        while !rest.is_empty() {
            let mut size = (*piece.next().unwrap()).min(rest.len());
            if let Some(cut) = cut {
                size = size.min(cut - forwarded);
            }
            if upstream.write_all(&rest[..size]).is_err() {
                break 'relay;
            }
            forwarded += size;
            rest = &rest[size..];
            if cut == Some(forwarded) {
                break 'relay;
            }
            // Let the central see this piece on its own, often.
            thread::yield_now();
        }
    }
    let _ = upstream.shutdown(Shutdown::Write);
    let _ = agency.shutdown(Shutdown::Both);
    back.join().unwrap();
}

/// The agency's side: TLS to `addr`, every batch without waiting, then the
/// acks (all of them, or as many as arrive before a cut relay closes), then
/// its close. Errors end the attempt: a cut may stop any of it.
fn agency_sends(addr: SocketAddr, agency: u32, tls: &ClientTls) {
    let mut frames = Vec::new();
    let hello = AgencyMessage::Hello {
        version: PROTOCOL_VERSION,
        agency,
    };
    encode_agency_message(&hello, DEFAULT_MAX_FRAME, &mut frames).unwrap();
    for (index, bets) in agency_batches(agency, BATCHES, PER_BATCH)
        .into_iter()
        .enumerate()
    {
        let batch = AgencyMessage::Batch {
            batch: index as u64 + 1,
            bets,
        };
        encode_agency_message(&batch, DEFAULT_MAX_FRAME, &mut frames).unwrap();
    }
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(common::SAFETY_TIMEOUT))
        .unwrap();
    let mut session = tls.connect("localhost:0").unwrap();
    let mut io = rustls::Stream::new(&mut session, &mut stream);
    if io.write_all(&frames).is_ok() {
        let mut decoder = Decoder::new(DEFAULT_MAX_FRAME);
        let mut acks = 0;
        while acks < BATCHES + 1 {
            match decoder.next_central_message() {
                Ok(Some(_)) => acks += 1,
                Ok(None) => match decoder.read_from(&mut io) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                },
                Err(error) => panic!("the central sent a bad frame: {error}"),
            }
        }
        io.conn.send_close_notify();
        let _ = io.flush();
    }
    let _ = stream.shutdown(Shutdown::Write);
}

/// One case: returns the agency's `(last_batch, bets_stored)` once the
/// central is done with the connection.
fn run_case(pieces: Vec<usize>, cut: Option<usize>) -> (u64, u64) {
    let setup = setup();
    let agency = setup.next_agency.fetch_add(1, Ordering::SeqCst);
    let id = AgencyId::new(agency).unwrap();
    let issued = setup.ca.issue_agency(id).unwrap();
    let tls = ClientTls::from_der(
        vec![setup.ca.certificate_der()],
        Some((
            vec![issued.certificate_der().unwrap()],
            issued.key_der().unwrap(),
        )),
        Some("localhost"),
    )
    .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let central = setup.central.addr;
    let relaying = thread::spawn(move || relay(listener, central, pieces, cut));
    agency_sends(addr, agency, &tls);
    relaying.join().unwrap();
    let point = setup.central.central.resume_point(id).unwrap();
    (point.last_batch, point.bets_stored)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn a_tls_stream_in_any_pieces_stores_every_batch(
        pieces in prop::collection::vec(1usize..600, 1..12),
    ) {
        let (last_batch, bets) = run_case(pieces, None);
        prop_assert_eq!(last_batch, BATCHES);
        prop_assert_eq!(bets, BATCHES * PER_BATCH as u64);
    }

    #[test]
    fn a_tls_stream_cut_anywhere_stores_only_whole_batches_and_the_central_goes_on(
        pieces in prop::collection::vec(1usize..600, 1..12),
        cut in 1usize..6000,
    ) {
        let (last_batch, bets) = run_case(pieces, Some(cut));
        prop_assert!(last_batch <= BATCHES);
        prop_assert_eq!(bets, last_batch * PER_BATCH as u64, "whole batches only");
    }
}

#[test]
fn the_central_serves_on_after_cut_streams() {
    let (last_batch, _) = run_case(vec![7], Some(900));
    assert!(last_batch < BATCHES, "900 bytes cannot hold every batch");
    let (last_batch, bets) = run_case(vec![1500], None);
    assert_eq!((last_batch, bets), (BATCHES, BATCHES * PER_BATCH as u64));
}
