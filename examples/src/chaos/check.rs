//! The checker of a chaos run: given what one lottery's agencies were meant
//! to send (their inputs, as the store rows they must become), what they
//! were told (their histories), what the store holds afterwards and what the
//! centrals logged, it says for each invariant whether it held and, when it
//! did not, the smallest part of the history that shows it.
//!
//! It knows nothing of processes or faults: the run collects a
//! [`LotteryRecord`], this module judges it, so that the judge itself is
//! tested on histories made by hand (a lost ack, a duplicate, a second draw,
//! a foreign winner: each must fail).

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use crate::agency::history::{HistoryEvent, HistoryLine};

/// The promises checked after each lottery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Invariant {
    /// Every bet an agency was told is stored is in the store exactly once,
    /// byte for byte as the store row of its input bet.
    AckedStoredOnce,
    /// Nothing is in the store that no agency sent, and no bet is there
    /// twice: each agency's rows are a prefix of its input, in order.
    NothingForeign,
    /// Every agency that got its winners had every one of its bets stored.
    Complete,
    /// No central's handshake told an agency a resume point behind what it
    /// had acknowledged to it (the agency's client catches that and stops
    /// with a resume mismatch rather than guess).
    ResumeNotBehind,
    /// Exactly one draw: one `sorteo` across every central's logs (or none
    /// when a kill came between the draw's commit and its log line, and a
    /// restart recovered it), and the store's draw record.
    OneDraw,
    /// Each agency's winners are the documents of its own input's bets on
    /// the winning number, in input order; never another agency's.
    OwnWinners,
    /// `lottery-admin verify` passed on the store afterwards.
    StoreVerifies,
    /// A resend of a stored batch with other content was refused, never
    /// acknowledged.
    ConflictsRefused,
    /// Memory and open descriptors of every central stayed under the bounds.
    ResourcesBounded,
    /// With a committed winning number: one secret for the lottery's life
    /// (every start logged the same commitment, one start created it), and
    /// every reveal named the same number and a secret whose SHA-256 is
    /// that commitment.
    OneSecret,
}

impl Invariant {
    /// Every invariant, in table order.
    pub const ALL: [Invariant; 10] = [
        Self::AckedStoredOnce,
        Self::NothingForeign,
        Self::Complete,
        Self::ResumeNotBehind,
        Self::OneDraw,
        Self::OwnWinners,
        Self::StoreVerifies,
        Self::ConflictsRefused,
        Self::ResourcesBounded,
        Self::OneSecret,
    ];

    /// Its row in the table.
    pub fn description(self) -> &'static str {
        match self {
            Self::AckedStoredOnce => "every acked bet stored exactly once, byte for byte",
            Self::NothingForeign => "nothing stored that no agency sent, no bet twice",
            Self::Complete => "every agency with winners had all its bets stored",
            Self::ResumeNotBehind => "no resume point behind an ack (no resume mismatch)",
            Self::OneDraw => "exactly one draw per lottery",
            Self::OwnWinners => "each agency's winners = a scan of its own input",
            Self::StoreVerifies => "lottery-admin verify passes",
            Self::ConflictsRefused => "conflicting resends refused, never acked",
            Self::ResourcesBounded => "central memory and descriptors under bounds",
            Self::OneSecret => "one committed secret, revealed as its commitment's",
        }
    }
}

impl fmt::Display for Invariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

/// One agency of a lottery: what it was to send, what it was told.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgencyRecord {
    /// The store row (`agency,first,last,document,birthdate,number`, no line
    /// end) each bet of its input must become, in input order.
    pub expected_rows: Vec<Vec<u8>>,
    /// The documents of its input's bets on the winning number, in input
    /// order: its winners, by a direct scan of the input.
    pub winning_documents: Vec<String>,
    /// Its history lines, over every run of the agency program.
    pub history: Vec<HistoryLine>,
}

/// What the centrals of a lottery logged about its draw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DrawLog {
    /// `action: sorteo | result: success` lines over every central's logs.
    pub sorteo: usize,
    /// `action: recover_draw` lines (a restart that found the draw recorded).
    pub recovered: usize,
    /// Whether the store holds a draw record.
    pub recorded: bool,
}

/// What the centrals of a lottery with a committed winning number logged
/// about its secret.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecretLog {
    /// Each `commit_winning_number` line's commitment, and whether it said
    /// `store: new`.
    pub commitments: Vec<(String, bool)>,
    /// Each `reveal_secret` line.
    pub revealed: Vec<Revealed>,
}

/// One `reveal_secret` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revealed {
    /// The winning number it names.
    pub number: String,
    /// The secret it reveals, hex.
    pub secret: String,
    /// SHA-256 of that secret, hex (what its commitment must be).
    pub secret_sha256: String,
}

/// A second connection's resend of a stored batch with other content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConflictProbe {
    /// The agency impersonated.
    pub agency: u32,
    /// The batch number resent.
    pub batch: u64,
    /// Whether the central acknowledged it (it must not).
    pub acked: bool,
    /// What the central answered, for the report.
    pub answer: String,
}

/// A sample of a central process's resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceSample {
    /// Which central (its name in the run: `central-1`, ...).
    pub central: String,
    /// Resident memory in KiB.
    pub rss_kib: u64,
    /// Open file descriptors.
    pub fds: u64,
}

/// The bounds the centrals must stay under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Resident memory, KiB.
    pub rss_kib: u64,
    /// Open descriptors.
    pub fds: u64,
}

/// Everything known of one lottery once it is over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LotteryRecord {
    /// The lottery's number in the run (from 1).
    pub lottery: usize,
    /// Its agencies by id.
    pub agencies: BTreeMap<u32, AgencyRecord>,
    /// The rows the store holds afterwards, in store order, without line
    /// ends (`bets.csv`, or `lottery-admin export` of a PostgreSQL ledger).
    pub stored_rows: Vec<Vec<u8>>,
    /// What the centrals logged about the draw.
    pub draw: DrawLog,
    /// `lottery-admin verify`'s verdict: `Err` holds what it printed;
    /// `None` when it did not run.
    pub verify: Option<Result<(), String>>,
    /// Conflicting resends tried during the lottery.
    pub conflicts: Vec<ConflictProbe>,
    /// Resource samples of its centrals.
    pub resources: Vec<ResourceSample>,
    /// With a committed winning number: what the centrals said of its
    /// secret (`None`: a fixed number).
    pub secret: Option<SecretLog>,
}

/// One invariant's verdict on one lottery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// What was checked.
    pub invariant: Invariant,
    /// The lottery.
    pub lottery: usize,
    /// `None` when it held; otherwise what broke it and the history lines
    /// that show it.
    pub failure: Option<String>,
}

/// The agency id at the start of a store row (`agency,...`).
fn row_agency(row: &[u8]) -> Option<u32> {
    let end = row.iter().position(|&byte| byte == b',')?;
    std::str::from_utf8(&row[..end]).ok()?.parse().ok()
}

/// A history line as the report prints it.
fn show(line: &HistoryLine) -> String {
    serde_json::to_string(line).unwrap_or_else(|_| format!("{line:?}"))
}

/// The most bets the agency was ever told are stored, and the line that said it.
fn most_acked(history: &[HistoryLine]) -> Option<(u64, &HistoryLine)> {
    history
        .iter()
        .filter_map(|line| match line.event {
            HistoryEvent::Stored { bets } | HistoryEvent::Sent { bets } => Some((bets, line)),
            _ => None,
        })
        .max_by_key(|(bets, _)| *bets)
}

/// A store row as text for the report.
fn text(row: &[u8]) -> String {
    String::from_utf8_lossy(row).into_owned()
}

/// Judges `record` against every invariant that applies (bounds for the
/// resources): [`Invariant::StoreVerifies`] only when `verify` ran,
/// [`Invariant::ConflictsRefused`] only when conflicting resends were tried.
pub fn check(record: &LotteryRecord, bounds: Bounds) -> Vec<Verdict> {
    let mut per_agency: BTreeMap<u32, Vec<&[u8]>> = BTreeMap::new();
    let mut foreign = Vec::new();
    for row in &record.stored_rows {
        match row_agency(row) {
            Some(agency) if record.agencies.contains_key(&agency) => {
                per_agency.entry(agency).or_default().push(row);
            }
            _ => foreign.push(text(row)),
        }
    }
    let verdict = |invariant, failure: Option<String>| Verdict {
        invariant,
        lottery: record.lottery,
        failure,
    };
    let mut verdicts = vec![
        verdict(
            Invariant::AckedStoredOnce,
            acked_stored_once(record, &per_agency),
        ),
        verdict(
            Invariant::NothingForeign,
            nothing_foreign(record, &per_agency, &foreign),
        ),
        verdict(Invariant::Complete, complete(record, &per_agency)),
        verdict(Invariant::ResumeNotBehind, resume_not_behind(record)),
        verdict(Invariant::OneDraw, one_draw(record.draw)),
        verdict(Invariant::OwnWinners, own_winners(record)),
    ];
    if let Some(verify) = &record.verify {
        verdicts.push(verdict(Invariant::StoreVerifies, verify.clone().err()));
    }
    if !record.conflicts.is_empty() {
        verdicts.push(verdict(
            Invariant::ConflictsRefused,
            conflicts_refused(record),
        ));
    }
    verdicts.push(verdict(
        Invariant::ResourcesBounded,
        resources_bounded(record, bounds),
    ));
    if let Some(secret) = &record.secret {
        verdicts.push(verdict(Invariant::OneSecret, one_secret(secret)));
    }
    verdicts
}

fn one_secret(log: &SecretLog) -> Option<String> {
    let Some((commitment, _)) = log.commitments.first() else {
        return Some("no central logged a commitment (`commit_winning_number`)".into());
    };
    if let Some((other, _)) = log.commitments.iter().find(|(c, _)| c != commitment) {
        return Some(format!(
            "two commitments in one lottery: {commitment} and {other} (a second secret)"
        ));
    }
    let created = log.commitments.iter().filter(|(_, new)| *new).count();
    if created != 1 {
        return Some(format!(
            "{created} starts said they created the store's secret (`store: new`), one must"
        ));
    }
    let Some(first) = log.revealed.first() else {
        return Some("no central revealed the secret (`reveal_secret`)".into());
    };
    if let Some(other) = log.revealed.iter().find(|r| *r != first) {
        return Some(format!(
            "two reveals differ: number {} secret {} and number {} secret {}",
            first.number, first.secret, other.number, other.secret
        ));
    }
    if first.secret_sha256 != *commitment {
        return Some(format!(
            "the revealed secret {} hashes to {}, the commitment is {commitment}",
            first.secret, first.secret_sha256
        ));
    }
    None
}

fn acked_stored_once(
    record: &LotteryRecord,
    per_agency: &BTreeMap<u32, Vec<&[u8]>>,
) -> Option<String> {
    for (&agency, input) in &record.agencies {
        let Some((acked, line)) = most_acked(&input.history) else {
            continue;
        };
        let acked = usize::try_from(acked).unwrap_or(usize::MAX);
        let stored = per_agency.get(&agency).map_or(&[][..], Vec::as_slice);
        let Some(expected) = input.expected_rows.get(..acked) else {
            return Some(format!(
                "agency {agency} was told {acked} bets are stored, its input holds {}:\n  {}",
                input.expected_rows.len(),
                show(line)
            ));
        };
        let mut counts: HashMap<&[u8], usize> = HashMap::new();
        for row in stored {
            *counts.entry(row).or_default() += 1;
        }
        let mut wanted: HashMap<&[u8], usize> = HashMap::new();
        for row in &input.expected_rows {
            *wanted.entry(row.as_slice()).or_default() += 1;
        }
        for (index, row) in expected.iter().enumerate() {
            let found = counts.get(row.as_slice()).copied().unwrap_or(0);
            let want = wanted[row.as_slice()];
            if found == 0 || found > want {
                return Some(format!(
                    "agency {agency}: bet {} of its input was acknowledged (stored {acked}) and the store holds it {found} times:\n  {}\n  input row: {}",
                    index + 1,
                    show(line),
                    text(row)
                ));
            }
        }
    }
    None
}

fn nothing_foreign(
    record: &LotteryRecord,
    per_agency: &BTreeMap<u32, Vec<&[u8]>>,
    foreign: &[String],
) -> Option<String> {
    if let Some(row) = foreign.first() {
        return Some(format!(
            "the store holds {} rows of no agency of this lottery, the first: {row}",
            foreign.len()
        ));
    }
    for (agency, stored) in per_agency {
        let input = &record.agencies[agency].expected_rows;
        if stored.len() > input.len() {
            return Some(format!(
                "agency {agency}: the store holds {} rows, its input {} bets",
                stored.len(),
                input.len()
            ));
        }
        if let Some(index) = (0..stored.len()).find(|&index| stored[index] != input[index]) {
            return Some(format!(
                "agency {agency}: its row {} in the store is not bet {} of its input:\n  stored: {}\n  input:  {}",
                index + 1,
                index + 1,
                text(stored[index]),
                text(&input[index])
            ));
        }
    }
    None
}

fn complete(record: &LotteryRecord, per_agency: &BTreeMap<u32, Vec<&[u8]>>) -> Option<String> {
    for (agency, input) in &record.agencies {
        let got_winners = input
            .history
            .iter()
            .find(|line| matches!(line.event, HistoryEvent::Winners { .. }));
        let stored = per_agency.get(agency).map_or(0, Vec::len);
        match got_winners {
            None => {
                return Some(format!(
                    "agency {agency} never got its winners ({stored} of its {} bets stored); its last history line: {}",
                    input.expected_rows.len(),
                    input.history.last().map_or("none".into(), show)
                ));
            }
            Some(line) if stored != input.expected_rows.len() => {
                return Some(format!(
                    "agency {agency} got its winners with {stored} of its {} bets stored:\n  {}",
                    input.expected_rows.len(),
                    show(line)
                ));
            }
            Some(_) => {}
        }
    }
    None
}

/// The words of the agency client's error when a central's resume point is
/// behind the acks it got (`ClientError::ResumeMismatch`).
const RESUME_MISMATCH: &str = "resume point does not match";

fn resume_not_behind(record: &LotteryRecord) -> Option<String> {
    record.agencies.iter().find_map(|(agency, input)| {
        let line = input.history.iter().find(|line| {
            matches!(&line.event, HistoryEvent::Exit { error: Some(error), .. } if error.contains(RESUME_MISMATCH))
        })?;
        let acked = input
            .history
            .iter()
            .filter(|earlier| earlier.pid == line.pid)
            .filter_map(|earlier| match earlier.event {
                HistoryEvent::Stored { bets } => Some(bets),
                _ => None,
            })
            .max()
            .unwrap_or(0);
        Some(format!(
            "agency {agency} (process {}) had {acked} bets acknowledged and was then told a resume point behind them:\n  {}",
            line.pid,
            show(line)
        ))
    })
}

fn one_draw(draw: DrawLog) -> Option<String> {
    let DrawLog {
        sorteo,
        recovered,
        recorded,
    } = draw;
    if sorteo > 1 {
        return Some(format!("{sorteo} `sorteo` lines across the centrals' logs"));
    }
    if sorteo == 0 && recovered == 0 {
        return Some("no central logged the draw (`sorteo` or `recover_draw`)".into());
    }
    if !recorded {
        return Some(format!(
            "the store holds no draw record ({sorteo} sorteo, {recovered} recover_draw)"
        ));
    }
    None
}

fn own_winners(record: &LotteryRecord) -> Option<String> {
    let owner: HashMap<&str, u32> = record
        .agencies
        .iter()
        .flat_map(|(&agency, input)| {
            input
                .winning_documents
                .iter()
                .map(move |document| (document.as_str(), agency))
        })
        .collect();
    for (agency, input) in &record.agencies {
        for line in &input.history {
            let HistoryEvent::Winners { documents } = &line.event else {
                continue;
            };
            if documents == &input.winning_documents {
                continue;
            }
            let stranger = documents.iter().find_map(|document| {
                owner
                    .get(document.as_str())
                    .filter(|&&other| other != *agency)
                    .map(|other| format!(" ({document} is a winner of agency {other})"))
            });
            return Some(format!(
                "agency {agency} got winners {documents:?}, its input's are {:?}{}:\n  {}",
                input.winning_documents,
                stranger.unwrap_or_default(),
                show(line)
            ));
        }
    }
    None
}

fn conflicts_refused(record: &LotteryRecord) -> Option<String> {
    record
        .conflicts
        .iter()
        .find(|probe| probe.acked)
        .map(|probe| {
            format!(
                "agency {}'s batch {} resent with other bets was acknowledged: {}",
                probe.agency, probe.batch, probe.answer
            )
        })
}

fn resources_bounded(record: &LotteryRecord, bounds: Bounds) -> Option<String> {
    record
        .resources
        .iter()
        .find(|sample| sample.rss_kib > bounds.rss_kib || sample.fds > bounds.fds)
        .map(|sample| {
            format!(
                "{} held {} KiB resident and {} descriptors (bounds {} KiB, {})",
                sample.central, sample.rss_kib, sample.fds, bounds.rss_kib, bounds.fds
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUNDS: Bounds = Bounds {
        rss_kib: 1 << 20,
        fds: 1000,
    };

    fn line(agency: u32, event: HistoryEvent) -> HistoryLine {
        HistoryLine {
            t_ms: 0,
            pid: 1,
            agency,
            event,
        }
    }

    fn row(agency: u32, index: usize, number: u32) -> Vec<u8> {
        format!("{agency},Ana,Pérez,{agency}{index:04},1990-01-01,{number}").into_bytes()
    }

    /// A lottery of two agencies of four bets each, every one stored and
    /// acked, one draw, each agency its own winners: every check passes.
    fn healthy() -> LotteryRecord {
        let mut agencies = BTreeMap::new();
        let mut stored_rows = Vec::new();
        for agency in 1..=2 {
            let expected_rows: Vec<Vec<u8>> = (0..4)
                .map(|index| row(agency, index, if index == 1 { 7574 } else { 10 }))
                .collect();
            stored_rows.extend(expected_rows.iter().cloned());
            let winning_documents = vec![format!("{agency}0001")];
            let history = vec![
                line(agency, HistoryEvent::Loaded { bets: 4 }),
                line(agency, HistoryEvent::Stored { bets: 2 }),
                line(agency, HistoryEvent::Stored { bets: 4 }),
                line(agency, HistoryEvent::Sent { bets: 4 }),
                line(agency, HistoryEvent::Finished),
                line(
                    agency,
                    HistoryEvent::Winners {
                        documents: winning_documents.clone(),
                    },
                ),
            ];
            agencies.insert(
                agency,
                AgencyRecord {
                    expected_rows,
                    winning_documents,
                    history,
                },
            );
        }
        LotteryRecord {
            lottery: 1,
            agencies,
            stored_rows,
            draw: DrawLog {
                sorteo: 1,
                recovered: 0,
                recorded: true,
            },
            verify: Some(Ok(())),
            conflicts: vec![ConflictProbe {
                agency: 1,
                batch: 1,
                acked: false,
                answer: "BatchConflict".into(),
            }],
            resources: vec![ResourceSample {
                central: "central-1".into(),
                rss_kib: 10_000,
                fds: 20,
            }],
            secret: Some(SecretLog {
                commitments: vec![("c0".into(), true), ("c0".into(), false)],
                revealed: vec![revealed("7574", "5e"), revealed("7574", "5e")],
            }),
        }
    }

    fn revealed(number: &str, secret: &str) -> Revealed {
        Revealed {
            number: number.into(),
            secret: secret.into(),
            secret_sha256: if secret == "5e" { "c0" } else { "ff" }.into(),
        }
    }

    fn failures(record: &LotteryRecord) -> Vec<(Invariant, String)> {
        check(record, BOUNDS)
            .into_iter()
            .filter_map(|verdict| verdict.failure.map(|failure| (verdict.invariant, failure)))
            .collect()
    }

    #[test]
    fn a_healthy_lottery_passes_every_invariant() {
        let verdicts = check(&healthy(), BOUNDS);
        assert_eq!(verdicts.len(), Invariant::ALL.len());
        assert_eq!(failures(&healthy()), []);
    }

    #[test]
    fn invariants_that_do_not_apply_are_not_counted_as_checked() {
        let mut record = healthy();
        record.verify = None;
        record.conflicts.clear();
        record.secret = None;
        let kinds: Vec<Invariant> = check(&record, BOUNDS)
            .into_iter()
            .map(|verdict| verdict.invariant)
            .collect();
        assert!(!kinds.contains(&Invariant::StoreVerifies));
        assert!(!kinds.contains(&Invariant::ConflictsRefused));
        assert!(!kinds.contains(&Invariant::OneSecret));
        assert_eq!(kinds.len(), Invariant::ALL.len() - 3);
    }

    #[test]
    fn a_lost_ack_is_caught() {
        // Agency 2 was told 4 bets are stored; the store lost its last one
        // (and the agency, not knowing, got its winners).
        let mut record = healthy();
        record.stored_rows.pop();
        let found = failures(&record);
        let kinds: Vec<Invariant> = found.iter().map(|(kind, _)| *kind).collect();
        assert!(kinds.contains(&Invariant::AckedStoredOnce), "{found:?}");
        assert!(kinds.contains(&Invariant::Complete), "{found:?}");
        let (_, text) = &found[0];
        assert!(
            text.contains("agency 2") && text.contains("0 times"),
            "{text}"
        );
        assert!(
            text.contains("\"bets\":4"),
            "the history line is shown: {text}"
        );
    }

    #[test]
    fn a_duplicate_bet_is_caught() {
        let mut record = healthy();
        let again = record.stored_rows[2].clone();
        record.stored_rows.push(again);
        let kinds: Vec<Invariant> = failures(&record)
            .into_iter()
            .map(|(kind, _)| kind)
            .collect();
        assert!(kinds.contains(&Invariant::AckedStoredOnce), "{kinds:?}");
        assert!(kinds.contains(&Invariant::NothingForeign), "{kinds:?}");
    }

    #[test]
    fn a_bet_no_agency_sent_is_caught() {
        let mut record = healthy();
        record.stored_rows.push(row(9, 0, 7574));
        let found = failures(&record);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, Invariant::NothingForeign);
        // An agency's row edited in the store is caught too.
        let mut record = healthy();
        record.stored_rows[1] = row(1, 1, 7575);
        let kinds: Vec<Invariant> = failures(&record)
            .into_iter()
            .map(|(kind, _)| kind)
            .collect();
        assert!(kinds.contains(&Invariant::NothingForeign), "{kinds:?}");
        assert!(kinds.contains(&Invariant::AckedStoredOnce), "{kinds:?}");
    }

    #[test]
    fn a_resume_point_behind_an_ack_is_caught() {
        let mut record = healthy();
        let agency = record.agencies.get_mut(&2).expect("agency 2");
        agency.history.insert(
            3,
            line(
                2,
                HistoryEvent::Exit {
                    result: "fail".into(),
                    error: Some(
                        "the central's resume point does not match what was sent: the central reports batch 1 as its last, but batch 2 was acked"
                            .into(),
                    ),
                },
            ),
        );
        let found = failures(&record);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, Invariant::ResumeNotBehind);
        assert!(
            found[0].1.contains("had 4 bets acknowledged"),
            "{}",
            found[0].1
        );
    }

    #[test]
    fn a_second_draw_is_caught() {
        let mut record = healthy();
        record.draw.sorteo = 2;
        let found = failures(&record);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, Invariant::OneDraw);
        assert!(found[0].1.contains("2 `sorteo`"), "{}", found[0].1);
    }

    #[test]
    fn no_draw_is_caught_and_a_recovered_draw_is_one_draw() {
        let mut record = healthy();
        record.draw = DrawLog {
            sorteo: 0,
            recovered: 0,
            recorded: true,
        };
        assert_eq!(failures(&record)[0].0, Invariant::OneDraw);
        record.draw.recovered = 2;
        assert_eq!(failures(&record), []);
        record.draw.recorded = false;
        assert_eq!(failures(&record)[0].0, Invariant::OneDraw);
    }

    #[test]
    fn a_foreign_winner_is_caught() {
        let mut record = healthy();
        let agency = record.agencies.get_mut(&1).expect("agency 1");
        agency.history.push(line(
            1,
            HistoryEvent::Winners {
                documents: vec!["10001".into(), "20001".into()],
            },
        ));
        let found = failures(&record);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, Invariant::OwnWinners);
        assert!(
            found[0].1.contains("20001 is a winner of agency 2"),
            "{}",
            found[0].1
        );
    }

    #[test]
    fn a_missing_winner_is_caught() {
        let mut record = healthy();
        let agency = record.agencies.get_mut(&2).expect("agency 2");
        agency.history.push(line(
            2,
            HistoryEvent::Winners {
                documents: Vec::new(),
            },
        ));
        assert_eq!(failures(&record)[0].0, Invariant::OwnWinners);
    }

    #[test]
    fn an_acked_conflict_a_failed_verify_and_a_fat_central_are_caught() {
        let mut record = healthy();
        record.conflicts.push(ConflictProbe {
            agency: 1,
            batch: 2,
            acked: true,
            answer: "Ack".into(),
        });
        record.verify = Some(Err("chain mismatch at record 3".into()));
        record.resources[0].fds = 5000;
        let kinds: Vec<Invariant> = failures(&record)
            .into_iter()
            .map(|(kind, _)| kind)
            .collect();
        assert_eq!(
            kinds,
            [
                Invariant::StoreVerifies,
                Invariant::ConflictsRefused,
                Invariant::ResourcesBounded
            ]
        );
    }

    #[test]
    fn an_agency_that_never_got_its_winners_is_caught() {
        let mut record = healthy();
        let agency = record.agencies.get_mut(&2).expect("agency 2");
        agency
            .history
            .retain(|line| !matches!(line.event, HistoryEvent::Winners { .. }));
        let found = failures(&record);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, Invariant::Complete);
    }

    #[test]
    fn a_second_secret_a_lost_reveal_and_a_secret_that_is_not_the_commitments_are_caught() {
        type Breaking = fn(&mut SecretLog);
        let broken: [(Breaking, &str); 5] = [
            (
                |log| log.commitments.push(("c1".into(), true)),
                "two commitments",
            ),
            (
                |log| log.commitments[0].1 = false,
                "0 starts said they created",
            ),
            (|log| log.revealed.clear(), "no central revealed"),
            (
                |log| log.revealed[1] = revealed("12", "5e"),
                "two reveals differ",
            ),
            (
                |log| log.revealed = vec![revealed("7574", "6f")],
                "hashes to ff, the commitment is c0",
            ),
        ];
        for (breaking, named) in broken {
            let mut record = healthy();
            breaking(record.secret.as_mut().expect("committed"));
            let found = failures(&record);
            assert_eq!(found.len(), 1, "{found:?}");
            assert_eq!(found[0].0, Invariant::OneSecret);
            assert!(found[0].1.contains(named), "{}", found[0].1);
        }
    }
}
