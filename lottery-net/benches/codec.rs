//! Codec throughput: encoding and decoding full `Batch` frames (8 KiB, as
//! agencies send them), in MB/s and bets/s, the median of several runs.
//!
//! Decoding is measured three ways: the two of the reference decoding (the
//! `test-support` oracle), to messages (`WireBet`s, a `String` per field) and
//! to messages then validated into `Bet`s (`WireBet::into_bet`), and the one
//! decode path the central uses (`next_agency_frame`: validated as decoded).
//!
//! Run: `cargo bench -p lottery-net --bench codec` (release). Set
//! `CODEC_BENCH_BETS` to change the bets per run (default 500,000).

use std::hint::black_box;
use std::time::{Duration, Instant};

use lottery_bet::Bet;
use lottery_net::{
    AgencyFrame, AgencyMessage, BatchBuilder, DEFAULT_MAX_FRAME, Decoder, Pushed, WireBet,
    encode_agency_message,
};

const RUNS: usize = 7;

/// Course-like bets: names of a few words, 8-digit documents.
fn bets(count: usize) -> Vec<Bet> {
    const FIRST: [&str; 6] = [
        "Ana",
        "Juan Carlos",
        "María José",
        "Luis",
        "Sofía",
        "Martín",
    ];
    const LAST: [&str; 5] = ["Pérez", "Gómez", "Fernández", "Rodríguez Peña", "Díaz"];
    (0..count)
        .map(|i| {
            let birthdate = format!("19{:02}-{:02}-{:02}", i % 100, i % 12 + 1, i % 28 + 1);
            Bet::from_fields(
                FIRST[i % FIRST.len()],
                LAST[i % LAST.len()],
                &format!("{}", 20_000_000 + i * 7 % 30_000_000),
                &birthdate,
                &(i * 31 % 10_000).to_string(),
            )
            .expect("valid synthetic bet")
        })
        .collect()
}

/// Packs `bets` into full frames with the batch builder.
fn encode_with_builder(bets: &[Bet], out: &mut Vec<u8>) -> u64 {
    let mut builder = BatchBuilder::new(DEFAULT_MAX_FRAME, None);
    let mut batch = 0;
    for bet in bets {
        if builder.try_push(bet).expect("a bet fits a frame") == Pushed::Full {
            batch += 1;
            builder.finish(batch, out);
            let _ = builder.try_push(bet).expect("a bet fits an empty frame");
        }
    }
    if !builder.is_empty() {
        batch += 1;
        builder.finish(batch, out);
    }
    batch
}

/// Decodes every frame of `frames`, fed as 8 KiB reads; returns bets seen.
fn decode(frames: &[u8]) -> usize {
    let mut decoder = Decoder::new(DEFAULT_MAX_FRAME);
    let mut source = frames;
    let mut bets = 0;
    loop {
        let read = decoder.read_from(&mut source).expect("reading a slice");
        while let Some(message) = decoder.next_agency_message().expect("valid frames") {
            if let AgencyMessage::Batch { bets: batch, .. } = message {
                bets += batch.len();
                black_box(batch);
            }
        }
        if read == 0 {
            return bets;
        }
    }
}

/// Decodes and validates every bet, as the central does before storing.
fn decode_and_validate(frames: &[u8]) -> usize {
    let mut decoder = Decoder::new(DEFAULT_MAX_FRAME);
    decoder.extend(frames);
    let mut bets = 0;
    while let Some(message) = decoder.next_agency_message().expect("valid frames") {
        if let AgencyMessage::Batch { bets: batch, .. } = message {
            for bet in batch {
                black_box(bet.into_bet().expect("valid bet"));
                bets += 1;
            }
        }
    }
    bets
}

/// Decodes with the central's fast path: bets validated as they are decoded.
fn decode_checked(frames: &[u8]) -> usize {
    let mut decoder = Decoder::new(DEFAULT_MAX_FRAME);
    decoder.extend(frames);
    let mut bets = 0;
    while let Some(frame) = decoder.next_agency_frame().expect("valid frames") {
        if let AgencyFrame::Batch(batch) = frame {
            let batch = batch.bets.expect("valid bets");
            bets += batch.len();
            black_box(batch);
        }
    }
    bets
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn report(name: &str, bytes: usize, bets: usize, mut run: impl FnMut()) {
    run(); // warm-up
    let samples = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            run();
            start.elapsed()
        })
        .collect();
    let time = median(samples).as_secs_f64();
    println!(
        "{name:<34} {:>9.1} MB/s {:>12.0} bets/s   (median of {RUNS}, {:.2} ms)",
        bytes as f64 / time / 1e6,
        bets as f64 / time,
        time * 1e3
    );
}

fn main() {
    let count = std::env::var("CODEC_BENCH_BETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500_000);
    let bets = bets(count);
    let wire: Vec<WireBet> = bets.iter().map(WireBet::from_bet).collect();
    let mut frames = Vec::new();
    let batches = encode_with_builder(&bets, &mut frames);
    println!(
        "{count} bets in {batches} Batch frames of at most {DEFAULT_MAX_FRAME} bytes: \
         {} bytes, {:.1} bets/frame, {:.1} bytes/bet",
        frames.len(),
        count as f64 / batches as f64,
        frames.len() as f64 / count as f64
    );

    let mut out = Vec::with_capacity(frames.len());
    report("encode (BatchBuilder, &Bet)", frames.len(), count, || {
        out.clear();
        black_box(encode_with_builder(black_box(&bets), &mut out));
    });

    // The same frames from prebuilt messages (split like the builder's).
    let per_frame = count.div_ceil(usize::try_from(batches).expect("few batches"));
    let messages: Vec<AgencyMessage> = wire
        .chunks(per_frame)
        .zip(1..)
        .map(|(bets, batch)| AgencyMessage::Batch {
            batch,
            bets: bets.to_vec(),
        })
        .collect();
    report(
        "encode (encode_agency_message)",
        frames.len(),
        count,
        || {
            out.clear();
            for message in &messages {
                // A chunk may exceed the limit by a bet; measure the encoding anyway.
                black_box(encode_agency_message(message, usize::MAX, &mut out).expect("encodes"));
            }
        },
    );

    report(
        "decode (read_from, 8 KiB reads)",
        frames.len(),
        count,
        || {
            assert_eq!(decode(black_box(&frames)), count);
        },
    );
    report("decode + validate into Bet", frames.len(), count, || {
        assert_eq!(decode_and_validate(black_box(&frames)), count);
    });
    report(
        "decode checked (next_agency_frame)",
        frames.len(),
        count,
        || {
            assert_eq!(decode_checked(black_box(&frames)), count);
        },
    );
}
