//! The central's path from a `Batch` frame's bytes to its rows in the store,
//! alone, for callgrind: the course data's frames (every agency file packed
//! into 8 KiB frames as `lottery-agency` packs them) are decoded as the
//! central's event loop decodes them, their birthdates checked against
//! today as the session checks them, and each batch submitted to a
//! [`Central`] over a [`BetMonitor`] on the file store (in a scratch
//! directory; `CENTRAL_PATH_STORE=memory`: on memory) with durability `None` (its
//! rows encoded, its journal record written, its winners picked and, once
//! acknowledged, added to the running tally). No socket, no disk wait.
//!
//! ```sh
//! cargo build --release -p lottery-net --example central_path
//! valgrind --tool=callgrind --toggle-collect='*store_frame*' \
//!     target/release/examples/central_path ../shared/data
//! ```
//!
//! The inclusive count of `store_frame` divided by the bets printed is the
//! instructions per bet from frame bytes to row (bench/central_callgrind.sh).
//! The same file builds against the code before issue 14's central step
//! (bets decoded into `Vec<Bet>`), which is how "before" is measured.

use std::path::PathBuf;

use lottery_bet::{AgencyFile, AgencyId, Birthdate};
use lottery_core::{BetMonitor, Central, Durability, Finish, LotteryRules, store::MemoryStore};
use lottery_net::{AgencyFrame, BatchBuilder, DEFAULT_MAX_FRAME, Decoder, Pushed, WireBet};

/// The frames of one agency file, numbered from 1, filled to the limit.
fn frames_of(path: &std::path::Path) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    let mut builder = BatchBuilder::new(DEFAULT_MAX_FRAME, None);
    let finish = |builder: &mut BatchBuilder, frames: &mut Vec<Vec<u8>>| {
        let mut frame = Vec::new();
        builder.finish(frames.len() as u64 + 1, &mut frame);
        frames.push(frame);
    };
    for bet in AgencyFile::open(path).expect("an agency file") {
        // As a WireBet: `try_push` takes one in every tree this harness is
        // copied into (the measured part decodes the frames, not this).
        let bet = WireBet::from_bet(&bet.expect("a valid row"));
        if builder.try_push(&bet).expect("a bet fits a frame") == Pushed::Full {
            finish(&mut builder, &mut frames);
            assert_eq!(builder.try_push(&bet).ok(), Some(Pushed::Added));
        }
    }
    if !builder.is_empty() {
        finish(&mut builder, &mut frames);
    }
    frames
}

/// One buffered frame decoded, checked and stored: what is measured.
/// Returns the bets stored.
#[inline(never)]
fn store_frame(
    decoder: &mut Decoder,
    central: &Central,
    agency: AgencyId,
    today: Birthdate,
) -> u64 {
    let Ok(Some(AgencyFrame::Batch(checked))) = decoder.next_agency_frame() else {
        panic!("a batch frame");
    };
    let bets = checked.bets.expect("valid bets");
    for bet in bets.iter() {
        bet.check_born_by(today).expect("born by today");
    }
    let pending = central
        .begin_submit(agency, checked.batch, &bets)
        .expect("the next batch");
    central.complete_submit(pending).expect("stored");
    checked.count as u64
}

fn main() {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or("../shared/data".to_owned()),
    );
    let agencies: Vec<Vec<Vec<u8>>> = (1..=5)
        .map(|n| frames_of(&dir.join(format!("agency-{n}.csv"))))
        .collect();
    let (monitor, recovery, store_dir) = open_monitor();
    let rules = LotteryRules {
        agencies: 5,
        ..LotteryRules::default()
    };
    let central = Central::new(rules, monitor, &recovery).expect("a central");
    let today = Birthdate::new(2026, 12, 1).expect("a date");
    let mut decoder = Decoder::new(DEFAULT_MAX_FRAME);
    let (mut bets, mut frames) = (0u64, 0u64);
    let mut last = None;
    for (index, agency_frames) in agencies.iter().enumerate() {
        let agency = AgencyId::new(index as u32 + 1).expect("an agency");
        let mut stored = 0;
        for frame in agency_frames {
            decoder.extend(frame);
            stored += store_frame(&mut decoder, &central, agency, today);
            frames += 1;
        }
        bets += stored;
        last = Some(central.finish(agency, stored).expect("finished"));
    }
    let Some(Finish::Drew(summary)) = last else {
        panic!("the last finish draws");
    };
    println!(
        "frames {frames} bets {bets} drawn {} winners {:?}",
        summary.bets, summary.winners_per_agency
    );
    if let Some(dir) = store_dir {
        std::fs::remove_dir_all(dir).expect("remove the scratch store");
    }
}

/// The monitor the frames are stored through: the central's real file
/// store in a scratch directory (its rows leave by `write(2)`, whose copy
/// into the kernel callgrind does not count, as in the server), or with
/// `CENTRAL_PATH_STORE=memory` a [`MemoryStore`], whose append copies the
/// rows once more into its own buffer (about 50 instructions a bet, which
/// the figures before the file store was the default included).
fn open_monitor() -> (BetMonitor, lottery_core::ledger::Recovery, Option<PathBuf>) {
    if std::env::var("CENTRAL_PATH_STORE").as_deref() == Ok("memory") {
        let (monitor, recovery) = BetMonitor::open(Box::new(MemoryStore::new()), Durability::None)
            .expect("a memory store");
        return (monitor, recovery, None);
    }
    let dir = std::env::temp_dir().join(format!("central-path-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    let (monitor, recovery) =
        BetMonitor::open_file(dir.join("bets.csv"), Durability::None).expect("a file store");
    (monitor, recovery, Some(dir))
}
