//! The crash trials' input: five agency files of synthetic bets (the examples'
//! deterministic generator), written once under the target directory and
//! shared by every trial, with what the course would expect of them.

use std::path::PathBuf;
use std::sync::OnceLock;

use lottery_bet::{AgencyId, Bet, BetNumber};
use lottery_examples::synthetic::{SplitMix64, synthetic_bet, write_agency_file};

/// Agencies in every trial.
pub const AGENCIES: u32 = 5;
/// Bets each agency sends: tens of thousands, so a kill lands mid-stream.
pub const BETS_PER_AGENCY: usize = 20_000;
/// The data never changes; trials vary by their kill seed only.
const DATA_SEED: u64 = 0xC4A5_7574;

/// The agency files and what they hold.
#[derive(Debug)]
pub struct DataSet {
    /// `agency-N.csv`, index 0 for agency 1.
    pub files: Vec<PathBuf>,
    /// Each agency's bets, in file order.
    pub bets: Vec<Vec<Bet>>,
    /// Each agency's bets on the winning number (the winners it must get).
    pub winners: Vec<u64>,
}

impl DataSet {
    /// Bets over all agencies.
    pub fn total_bets(&self) -> u64 {
        self.bets.iter().map(|bets| bets.len() as u64).sum()
    }
}

/// The data set, generated on first use.
pub fn data_set() -> &'static DataSet {
    static DATA: OnceLock<DataSet> = OnceLock::new();
    DATA.get_or_init(generate)
}

fn generate() -> DataSet {
    let bets: Vec<Vec<Bet>> = (1..=AGENCIES)
        .map(|agency| {
            let id = AgencyId::new(agency).expect("ids from 1");
            let mut rng =
                SplitMix64::new(DATA_SEED ^ u64::from(id.get()).wrapping_mul(0x9E37_79B9));
            (0..BETS_PER_AGENCY)
                .map(|_| synthetic_bet(&mut rng))
                .collect()
        })
        .collect();
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("crash");
    let dir = root.join(format!("data-{DATA_SEED:x}-{BETS_PER_AGENCY}"));
    if !dir.join("complete").exists() {
        // Written aside and renamed into place, so concurrent test processes
        // never read half a file.
        let aside = root.join(format!("data-aside-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&aside);
        std::fs::create_dir_all(&aside).expect("create the data directory");
        for (index, agency_bets) in bets.iter().enumerate() {
            let path = aside.join(format!("agency-{}.csv", index + 1));
            write_agency_file(&path, agency_bets.iter().cloned()).expect("write an agency file");
        }
        std::fs::write(aside.join("complete"), b"").expect("mark the data complete");
        if std::fs::rename(&aside, &dir).is_err() {
            // Another process got there first with the same bytes.
            let _ = std::fs::remove_dir_all(&aside);
        }
    }
    let winners = bets
        .iter()
        .map(|bets| {
            bets.iter()
                .filter(|bet| bet.number == BetNumber::DEFAULT_WINNING)
                .count() as u64
        })
        .collect();
    DataSet {
        files: (1..=AGENCIES)
            .map(|agency| dir.join(format!("agency-{agency}.csv")))
            .collect(),
        bets,
        winners,
    }
}
