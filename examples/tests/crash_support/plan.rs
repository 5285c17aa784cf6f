//! What a kill trial does, drawn from one seed: when the central is killed
//! (and for how long it stays down), and which agencies are killed when.
//!
//! A trial is replayed by its seed: the same seed gives the same plan. The
//! moments are points in the run's progress as the central's log shows it
//! (bets acknowledged, finishes, the draw, winners sent), not times, so a
//! plan means the same on a fast and on a slow machine.

use std::fmt;
use std::time::Duration;

use lottery_examples::synthetic::SplitMix64;

/// How far the run has come, as the central's logs tell it (summed over every
/// run of the central).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    /// Bets in `apuesta_recibida | result: success` lines: stored durably
    /// before the line was written.
    pub acked_bets: u64,
    /// The same, per agency (index 0 for agency 1).
    pub acked_per_agency: Vec<u64>,
    /// `finish | result: success` lines (repeated finishes count again).
    pub finishes: u32,
    /// A `sorteo` or `recover_draw` line was seen.
    pub drawn: bool,
    /// `winners_sent` lines.
    pub winners_sent: u32,
}

/// A point in the run at which something is killed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moment {
    /// Once at least this many bets were acknowledged.
    Bets(u64),
    /// Once at least this many finishes were recorded.
    Finishes(u32),
    /// Once the draw happened.
    Drawn,
    /// Once the winners of this many agencies were sent.
    WinnersSent(u32),
}

impl Moment {
    /// Whether the run reached this moment.
    pub fn reached(self, progress: &Progress) -> bool {
        match self {
            Moment::Bets(bets) => progress.acked_bets >= bets,
            Moment::Finishes(finishes) => progress.finishes >= finishes,
            Moment::Drawn => progress.drawn,
            Moment::WinnersSent(sent) => progress.winners_sent >= sent,
        }
    }
}

impl fmt::Display for Moment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Moment::Bets(bets) => write!(f, "{bets} bets acked"),
            Moment::Finishes(finishes) => write!(f, "{finishes} finishes"),
            Moment::Drawn => f.write_str("the draw"),
            Moment::WinnersSent(sent) => write!(f, "{sent} winners sent"),
        }
    }
}

/// What kind of trouble a trial makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The central is killed once or twice while bets arrive.
    Sending,
    /// The central is killed while bets arrive, then again around the
    /// finishes, the draw or the winners.
    Closing,
    /// The central is killed while bets arrive, and agencies are killed and
    /// started again.
    Agencies,
    /// Any of the above, with one to three kills of the central.
    Random,
}

/// A kill of the central.
#[derive(Debug, Clone, Copy)]
pub struct CentralKill {
    /// When.
    pub at: Moment,
    /// How long the central stays down before it is started again.
    pub down: Duration,
}

/// A kill of one agency program.
#[derive(Debug, Clone, Copy)]
pub struct AgencyKill {
    /// Which agency (from 1).
    pub agency: u32,
    /// When.
    pub at: Moment,
    /// How long it stays down before it is started again.
    pub down: Duration,
}

/// Everything a trial does, from its seed.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The seed the plan was drawn from (printed, to replay the trial).
    pub seed: u64,
    /// The kind of trial.
    pub kind: Kind,
    /// Kills of the central, in the order they happen.
    pub central_kills: Vec<CentralKill>,
    /// Kills of agencies.
    pub agency_kills: Vec<AgencyKill>,
}

impl Plan {
    /// Draws a plan of `kind` from `seed` for `agencies` agencies sending
    /// `total_bets` bets in all.
    pub fn new(seed: u64, kind: Kind, agencies: u32, total_bets: u64) -> Self {
        let mut rng = SplitMix64::new(seed);
        let random = kind == Kind::Random;
        let kind = if random {
            *rng.pick(&[Kind::Sending, Kind::Closing, Kind::Agencies])
        } else {
            kind
        };
        let mut central_kills = Vec::new();
        let mut agency_kills = Vec::new();
        let central_kill = |rng: &mut SplitMix64, at| CentralKill {
            at,
            down: Duration::from_millis(rng.below(400)),
        };
        // Kills while bets arrive, in progress order; a random trial may add
        // one more.
        let sending_kills = match kind {
            Kind::Sending => 1 + rng.below(2),
            _ => 1,
        } + if random { rng.below(2) } else { 0 };
        let mut points: Vec<u64> = (0..sending_kills).map(|_| rng.below(total_bets)).collect();
        points.sort_unstable();
        for bets in points {
            central_kills.push(central_kill(&mut rng, Moment::Bets(bets)));
        }
        if kind == Kind::Closing {
            let late = match rng.below(3) {
                0 => Moment::Finishes(
                    u32::try_from(rng.between(1, u64::from(agencies))).expect("few agencies"),
                ),
                1 => Moment::Drawn,
                _ => Moment::WinnersSent(
                    u32::try_from(rng.between(1, u64::from(agencies - 1).max(1)))
                        .expect("few agencies"),
                ),
            };
            central_kills.push(central_kill(&mut rng, late));
        }
        if kind == Kind::Agencies {
            let kills = 1 + rng.below(u64::from(agencies).min(3));
            for _ in 0..kills {
                let agency =
                    u32::try_from(rng.between(1, u64::from(agencies))).expect("few agencies");
                let at = if rng.one_in(5) {
                    Moment::Finishes(
                        u32::try_from(rng.between(1, u64::from(agencies))).expect("few agencies"),
                    )
                } else {
                    Moment::Bets(rng.below(total_bets))
                };
                agency_kills.push(AgencyKill {
                    agency,
                    at,
                    down: Duration::from_millis(rng.below(300)),
                });
            }
        }
        Self {
            seed,
            kind,
            central_kills,
            agency_kills,
        }
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seed {:#018x}, {:?}: central killed at",
            self.seed, self.kind
        )?;
        for (index, kill) in self.central_kills.iter().enumerate() {
            let comma = if index == 0 { "" } else { "," };
            write!(f, "{comma} {} (down {} ms)", kill.at, kill.down.as_millis())?;
        }
        for kill in &self.agency_kills {
            write!(
                f,
                "; agency {} killed at {} (down {} ms)",
                kill.agency,
                kill.at,
                kill.down.as_millis()
            )?;
        }
        Ok(())
    }
}

/// A seed: `CRASH_SEED` (decimal or `0x` hex) when set, else a fresh one
/// from the clock and the process id.
pub fn seed_from_env() -> u64 {
    if let Ok(text) = std::env::var("CRASH_SEED") {
        let text = text.trim();
        let parsed = match text.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16),
            None => text.parse(),
        };
        return parsed.unwrap_or_else(|_| panic!("CRASH_SEED={text} is not a number"));
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos() as u64);
    SplitMix64::new(nanos ^ (u64::from(std::process::id()) << 32)).next_u64()
}
