//! A deterministic synthetic data set: realistic Argentine bets, the same for a
//! given seed on every machine and every run.
//!
//! The generator is a tiny SplitMix64 stream (no `rand`): determinism matters
//! more here than statistical quality, and SplitMix64 is enough to spread names,
//! documents, dates and numbers evenly. Each agency draws from its own stream
//! (the seed mixed with the agency id), so an agency's bets do not depend on
//! how many other agencies there are, and agencies can be generated in any order
//! or in parallel.
//!
//! About one bet in forty carries a name with a comma or a double quote, so the
//! CSV quoting of agency files and of `bets.csv` is exercised on every run.

use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use lottery_bet::{AgencyId, Bet, BetNumber, Birthdate, Document, Field, Name};

/// The seed of the default data set (`lottery-demo` with no arguments).
pub const DEFAULT_SEED: u64 = 0x5EED_7574;
/// Agencies in the default data set.
pub const DEFAULT_AGENCIES: u32 = 5;
/// Bets in the default data set, over all agencies.
pub const DEFAULT_TOTAL_BETS: u64 = 100_000;

/// SplitMix64: one `u64` of state, a good spread, and trivially reproducible.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A stream starting from `seed`.
    pub const fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next value of the stream.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `0..bound` (`bound` > 0). The multiply-shift reduction has a
    /// bias below 2^-32 for the small bounds used here, which does not matter
    /// for test data.
    pub fn below(&mut self, bound: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }

    /// A value in `low..=high`.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.below(high - low + 1)
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        let index = usize::try_from(self.below(items.len() as u64))
            .expect("an index below a slice length fits in usize");
        &items[index]
    }

    /// True once in `one_in` draws on average.
    pub fn one_in(&mut self, one_in: u64) -> bool {
        self.below(one_in) == 0
    }
}

const FIRST_NAMES: &[&str] = &[
    "Santiago",
    "Mateo",
    "Benjamín",
    "Tomás",
    "Joaquín",
    "Thiago",
    "Lautaro",
    "Agustín",
    "Nicolás",
    "Facundo",
    "Martín",
    "Julián",
    "Valentín",
    "Ramiro",
    "Ezequiel",
    "Gonzalo",
    "Matías",
    "Lucas",
    "Bautista",
    "Emiliano",
    "Sebastián",
    "Maximiliano",
    "Germán",
    "Iñaki",
    "Valentina",
    "Sofía",
    "Martina",
    "Catalina",
    "Camila",
    "Lucía",
    "Milagros",
    "Agustina",
    "Florencia",
    "Micaela",
    "Belén",
    "Abril",
    "Luján",
    "Josefina",
    "Ailén",
    "Guadalupe",
    "María José",
    "Ana María",
    "Rocío",
    "Candela",
    "Jazmín",
    "Ximena",
    "Noemí",
    "Inés",
];

const LAST_NAMES: &[&str] = &[
    "González",
    "Rodríguez",
    "Gómez",
    "Fernández",
    "López",
    "Díaz",
    "Martínez",
    "Pérez",
    "García",
    "Sánchez",
    "Romero",
    "Sosa",
    "Álvarez",
    "Torres",
    "Ruiz",
    "Ramírez",
    "Flores",
    "Benítez",
    "Acosta",
    "Medina",
    "Herrera",
    "Suárez",
    "Aguirre",
    "Giménez",
    "Gutiérrez",
    "Pereyra",
    "Rojas",
    "Molina",
    "Castro",
    "Ortiz",
    "Núñez",
    "Ibáñez",
    "Mamani",
    "Peña",
    "Quiroga",
    "Vázquez",
    "Domínguez",
    "Muñoz",
    "D'Elía",
    "Di María",
    "Lo Giúdice",
    "Hoffmann",
    "Pavón",
    "Echeverría",
    "Zuñiga",
    "Báez",
    "Ríos",
    "Ledesma",
];

/// Names that need CSV quoting: commas and double quotes.
const QUOTED_FIRST_NAMES: &[&str] = &["María \"Pili\"", "José \"Pepe\"", "Juan, Jr.", "\"Coco\""];
const QUOTED_LAST_NAMES: &[&str] = &[
    "Pérez, hijo",
    "de la Cruz, Martínez",
    "O\"Connor",
    "Sáenz \"Peña\"",
];

/// Generates one bet from `rng`.
pub fn synthetic_bet(rng: &mut SplitMix64) -> Bet {
    let tricky = rng.one_in(40);
    let first = if tricky && rng.one_in(2) {
        rng.pick(QUOTED_FIRST_NAMES).to_string()
    } else if rng.one_in(3) {
        // Compound first names, as in the course data ("Santiago Lionel").
        format!("{} {}", rng.pick(FIRST_NAMES), rng.pick(FIRST_NAMES))
    } else {
        rng.pick(FIRST_NAMES).to_string()
    };
    let last = if tricky {
        rng.pick(QUOTED_LAST_NAMES).to_string()
    } else {
        rng.pick(LAST_NAMES).to_string()
    };
    // Argentine DNIs: mostly 8 digits; older ones have 7, and a few are
    // written with a leading zero, which must survive.
    let document = match rng.below(20) {
        0 => format!("{:07}", rng.between(1_000_000, 9_999_999)),
        1 => format!("0{:07}", rng.between(1_000_000, 9_999_999)),
        _ => rng.between(10_000_000, 46_999_999).to_string(),
    };
    let year = u16::try_from(rng.between(1940, 2006)).expect("years fit in u16");
    let month = u8::try_from(rng.between(1, 12)).expect("months fit in u8");
    let birthdate = loop {
        let day = u8::try_from(rng.between(1, 31)).expect("days fit in u8");
        // Draw again on the 31st of a short month (and February 29th off leap years).
        if let Ok(date) = Birthdate::new(year, month, day) {
            break date;
        }
    };
    let number = u32::try_from(rng.below(10_000)).expect("numbers fit in u32");
    Bet {
        first_name: Name::new(Field::FirstName, first).expect("generated names are valid"),
        last_name: Name::new(Field::LastName, last).expect("generated names are valid"),
        document: Document::new(document).expect("generated documents are valid"),
        birthdate,
        number: BetNumber::new(number).expect("numbers below 10000 are valid"),
    }
}

/// A synthetic data set: how many agencies, how many bets in total, and the
/// seed. Agencies get uneven shares (like the course's data), the last one
/// the smallest.
///
/// ```
/// use lottery_bet::AgencyId;
/// use lottery_examples::synthetic::SyntheticDataSet;
/// let set = SyntheticDataSet { total_bets: 1_000, ..SyntheticDataSet::default() };
/// let first = AgencyId::new(1).unwrap();
/// assert_eq!(set.bets(first).count() as u64, set.bets_of(first));
/// // The same seed gives the same bets, on every run and machine.
/// assert!(set.bets(first).eq(set.bets(first)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntheticDataSet {
    /// Agencies `1..=agencies`.
    pub agencies: u32,
    /// Bets over all agencies.
    pub total_bets: u64,
    /// The seed.
    pub seed: u64,
}

impl Default for SyntheticDataSet {
    fn default() -> Self {
        Self {
            agencies: DEFAULT_AGENCIES,
            total_bets: DEFAULT_TOTAL_BETS,
            seed: DEFAULT_SEED,
        }
    }
}

impl SyntheticDataSet {
    /// How many bets `agency` gets: shares proportional to `agencies + 1 - i`
    /// for agency `i` (5, 4, 3, 2, 1 for five agencies), the rounding left
    /// over going to agency 1. Agencies outside the set get 0.
    pub fn bets_of(&self, agency: AgencyId) -> u64 {
        let n = u64::from(self.agencies);
        let i = u64::from(agency.get());
        if i > n {
            return 0;
        }
        let weights = n * (n + 1) / 2;
        let share = |i: u64| self.total_bets * (n + 1 - i) / weights;
        let rest = self.total_bets - (1..=n).map(share).sum::<u64>();
        share(i) + if i == 1 { rest } else { 0 }
    }

    /// The bets of `agency`, in file order; the same on every call.
    pub fn bets(&self, agency: AgencyId) -> impl Iterator<Item = Bet> + use<> {
        let mut rng = SplitMix64::new(
            self.seed ^ u64::from(agency.get()).wrapping_mul(0xA076_1D64_78BD_642F),
        );
        (0..self.bets_of(agency)).map(move |_| synthetic_bet(&mut rng))
    }

    /// Writes `agency-N.csv` for every agency into `dir` (created if needed),
    /// returning their paths in agency order.
    ///
    /// # Errors
    /// The first I/O error.
    pub fn write_agency_files(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        fs::create_dir_all(dir)?;
        let mut paths = Vec::new();
        for id in 1..=self.agencies {
            let agency = AgencyId::new(id).expect("ids from 1 are valid");
            let path = dir.join(format!("agency-{id}.csv"));
            write_agency_file(&path, self.bets(agency))?;
            paths.push(path);
        }
        Ok(paths)
    }
}

/// Writes bets as an agency file (`first_name,last_name,document,birthdate,number`,
/// minimal quoting, LF line ends), replacing whatever is at `path` (a
/// symbolic link there is removed, never followed).
///
/// # Errors
/// The first I/O error.
pub fn write_agency_file(path: &Path, bets: impl IntoIterator<Item = Bet>) -> io::Result<()> {
    // Replaced, never written through: a file or a symbolic link at `path`
    // is unlinked (the link itself), then the file is created new.
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => return Err(error),
    }
    let file = BufWriter::new(
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)?,
    );
    let mut writer = csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Necessary)
        .from_writer(file);
    for bet in bets {
        writer.write_record([
            bet.first_name.as_str(),
            bet.last_name.as_str(),
            bet.document.as_str(),
            &bet.birthdate.to_string(),
            &bet.number.to_string(),
        ])?;
    }
    writer.flush()?;
    writer
        .into_inner()
        .map_err(|error| error.into_error())?
        .flush()
}

#[cfg(test)]
mod tests {
    use lottery_bet::AgencyFile;

    use super::*;

    fn agency(id: u32) -> AgencyId {
        AgencyId::new(id).unwrap()
    }

    #[test]
    fn the_same_seed_gives_the_same_bets() {
        let set = SyntheticDataSet {
            total_bets: 2_000,
            ..SyntheticDataSet::default()
        };
        let first: Vec<Bet> = set.bets(agency(2)).collect();
        let again: Vec<Bet> = set.bets(agency(2)).collect();
        assert_eq!(first, again);
        let other_seed = SyntheticDataSet { seed: 1, ..set };
        assert_ne!(first, other_seed.bets(agency(2)).collect::<Vec<_>>());
        assert_ne!(
            first[..10],
            set.bets(agency(3)).take(10).collect::<Vec<_>>()[..]
        );
    }

    #[test]
    fn shares_add_up_to_the_total_and_shrink_with_the_agency_id() {
        for (agencies, total) in [(5, 100_000), (3, 7), (1, 10), (7, 0), (4, 1_001)] {
            let set = SyntheticDataSet {
                agencies,
                total_bets: total,
                seed: 0,
            };
            let shares: Vec<u64> = (1..=agencies).map(|i| set.bets_of(agency(i))).collect();
            assert_eq!(shares.iter().sum::<u64>(), total, "{agencies} agencies");
            assert!(
                shares.windows(2).all(|pair| pair[0] >= pair[1]),
                "{shares:?}"
            );
            assert_eq!(set.bets_of(agency(agencies + 1)), 0);
            assert_eq!(set.bets(agency(1)).count() as u64, shares[0]);
        }
    }

    #[test]
    fn the_default_set_has_winners_and_names_that_need_quoting() {
        let set = SyntheticDataSet::default();
        let mut winners = 0;
        let mut quoted = 0;
        let mut accented = 0;
        for id in 1..=set.agencies {
            for bet in set.bets(agency(id)) {
                winners += usize::from(bet.number == BetNumber::DEFAULT_WINNING);
                let names = format!("{} {}", bet.first_name, bet.last_name);
                quoted += usize::from(names.contains([',', '"']));
                accented += usize::from(!names.is_ascii());
            }
        }
        assert!(winners >= 3, "only {winners} winners");
        assert!(quoted > 1_000, "only {quoted} names need quoting");
        assert!(accented > 30_000, "only {accented} names have accents");
    }

    #[test]
    fn written_agency_files_read_back_as_the_same_valid_bets() {
        let dir = tempfile::tempdir().unwrap();
        let set = SyntheticDataSet {
            agencies: 3,
            total_bets: 5_000,
            seed: 42,
        };
        let paths = set.write_agency_files(dir.path()).unwrap();
        assert_eq!(paths.len(), 3);
        for (index, path) in paths.iter().enumerate() {
            let id = agency(u32::try_from(index).unwrap() + 1);
            assert!(path.ends_with(format!("agency-{id}.csv")));
            let read: Vec<Bet> = AgencyFile::open(path)
                .unwrap()
                .map(|bet| bet.expect("a generated row is valid"))
                .collect();
            assert_eq!(read, set.bets(id).collect::<Vec<_>>());
        }
    }

    #[test]
    fn splitmix_stays_in_its_bounds_and_reaches_both_ends() {
        let mut rng = SplitMix64::new(7);
        let draws: Vec<u64> = (0..10_000).map(|_| rng.between(3, 9)).collect();
        assert!(draws.iter().all(|d| (3..=9).contains(d)));
        assert!(draws.contains(&3) && draws.contains(&9));
    }
}
