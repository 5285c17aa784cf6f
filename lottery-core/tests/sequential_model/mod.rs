//! The sequential model of the lottery's rules (docs/ARCHITECTURE.md, "Invariants") and the driver that runs a real
//! [`Central`] against it, over any ledger: a [`Backend`] opens the central
//! on its store, injects its faults and says what its store holds. The file
//! monitor on a `MemoryStore` (`tests/model.rs`) and the PostgreSQL ledger
//! (`lottery-pg/tests/model.rs`, which includes this module by path) run
//! the same operations and must give the same outcomes.
//!
//! Operations: submits (unknown agencies, empty batches, resends, batches
//! out of order), finishes (right and wrong counts), winners queries,
//! injected write and sync (commit) failures, and restarts. After every step
//! the answers, every agency's resume point, the winners and the rows of the
//! store must agree with the model.

#![allow(dead_code)]

use lottery_bet::{AgencyId, BatchDigest, Bet, ResumePoint, encode_store_rows};
use lottery_core::{
    Central, Durability, Finish, FinishError, LotteryRules, SubmitError, Submitted, Winners,
};
use proptest::prelude::*;

/// Agencies the central expects; the generator also uses the next id.
pub const AGENCIES: u32 = 4;

/// A bet as generated: its document and whether it plays the winning number.
type BetSpec = (u16, bool);

#[derive(Debug, Clone)]
pub enum BatchChoice {
    /// The agency's next batch.
    Next,
    /// A batch `back` numbers before the next one (a resend when > 0).
    Back(u64),
    /// Any number (0 and skips ahead included).
    Raw(u64),
}

#[derive(Debug, Clone)]
pub enum Op {
    Submit {
        agency: u32,
        batch: BatchChoice,
        bets: Vec<BetSpec>,
    },
    /// `off_by` 0 sends the right count.
    Finish {
        agency: u32,
        off_by: u64,
    },
    Winners {
        agency: u32,
    },
    FailNextWrite,
    FailNextSync,
    Restart,
}

pub fn op() -> impl Strategy<Value = Op> {
    let agency = 1..=AGENCIES + 1;
    let batch = prop_oneof![
        6 => Just(BatchChoice::Next),
        1 => (1..3u64).prop_map(BatchChoice::Back),
        1 => (0..6u64).prop_map(BatchChoice::Raw),
    ];
    let bets = prop::collection::vec((0..40u16, prop::bool::weighted(0.3)), 0..4);
    prop_oneof![
        12 => (agency.clone(), batch, bets)
            .prop_map(|(agency, batch, bets)| Op::Submit { agency, batch, bets }),
        3 => (agency.clone(), prop_oneof![3 => Just(0u64), 1 => 1..3u64])
            .prop_map(|(agency, off_by)| Op::Finish { agency, off_by }),
        2 => agency.prop_map(|agency| Op::Winners { agency }),
        1 => Just(Op::FailNextWrite),
        1 => Just(Op::FailNextSync),
        1 => Just(Op::Restart),
    ]
}

pub fn durability() -> impl Strategy<Value = Durability> {
    prop_oneof![
        Just(Durability::None),
        Just(Durability::Flush),
        Just(Durability::Fsync)
    ]
}

const WINNING: &str = "7574";

fn bet((document, wins): BetSpec) -> Bet {
    let number = if wins { WINNING } else { "1234" };
    Bet::from_fields("Ana", "Paz", &document.to_string(), "1990-02-03", number)
        .expect("generated bets are valid")
}

fn id(agency: u32) -> AgencyId {
    AgencyId::new(agency).expect("generated agencies are >= 1")
}

/// Refusals, as the model states them (the real errors are mapped to these).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Refusal {
    UnknownAgency,
    EmptyBatch,
    AgencyFinished,
    AlreadyDrawn,
    OutOfOrder { expected: u64, got: u64 },
    CountMismatch { sent: u64, stored: u64 },
    Store,
    BatchConflict { batch: u64 },
    Other(String),
}

fn submit_refusal(error: SubmitError) -> Refusal {
    match error {
        SubmitError::UnknownAgency { .. } => Refusal::UnknownAgency,
        SubmitError::EmptyBatch { .. } => Refusal::EmptyBatch,
        SubmitError::AgencyFinished { .. } => Refusal::AgencyFinished,
        SubmitError::AlreadyDrawn => Refusal::AlreadyDrawn,
        SubmitError::OutOfOrder { expected, got, .. } => Refusal::OutOfOrder { expected, got },
        SubmitError::Store(_) => Refusal::Store,
        SubmitError::BatchConflict { batch, .. } => Refusal::BatchConflict { batch },
        other => Refusal::Other(other.to_string()),
    }
}

fn finish_refusal(error: FinishError) -> Refusal {
    match error {
        FinishError::UnknownAgency { .. } => Refusal::UnknownAgency,
        FinishError::CountMismatch { sent, stored, .. } => Refusal::CountMismatch { sent, stored },
        FinishError::Store(_) => Refusal::Store,
        other => Refusal::Other(other.to_string()),
    }
}

#[derive(Debug, Clone, Default)]
struct ModelAgency {
    last_batch: u64,
    bets: u64,
    finished: bool,
    winners: Vec<String>,
    /// The store rows of each stored batch (index 0: batch 1): a resend is
    /// acknowledged only with these exact rows.
    batches: Vec<Vec<u8>>,
}

/// The lottery's rules, sequentially, plus the store faults the test injects.
#[derive(Debug)]
struct Model {
    agencies: Vec<ModelAgency>,
    /// The bytes `bets.csv` must hold, in the order the batches were stored.
    store: Vec<u8>,
    /// The same rows, agency by agency (index 0: agency 1), each agency's in
    /// the order it sent them: what a ledger keyed by agency holds.
    rows: Vec<Vec<u8>>,
    bets: u64,
    drawn: bool,
    fail_write: bool,
    fail_sync: bool,
    durability: Durability,
}

impl Model {
    fn new(durability: Durability) -> Self {
        Self {
            agencies: vec![ModelAgency::default(); AGENCIES as usize],
            store: Vec::new(),
            rows: vec![Vec::new(); AGENCIES as usize],
            bets: 0,
            drawn: false,
            fail_write: false,
            fail_sync: false,
            durability,
        }
    }

    fn agency(&mut self, agency: u32) -> Option<&mut ModelAgency> {
        self.agencies.get_mut(agency.checked_sub(1)? as usize)
    }

    /// The batch number a choice stands for.
    fn batch(&self, agency: u32, choice: &BatchChoice) -> u64 {
        let last = self
            .agencies
            .get(agency as usize - 1)
            .map_or(0, |a| a.last_batch);
        match *choice {
            BatchChoice::Next => last + 1,
            BatchChoice::Back(back) => (last + 1).saturating_sub(back),
            BatchChoice::Raw(batch) => batch,
        }
    }

    /// Whether the next store write or sync fails (and consumes the fault).
    fn store_fails(&mut self) -> bool {
        std::mem::take(&mut self.fail_write)
            || (self.durability == Durability::Fsync && std::mem::take(&mut self.fail_sync))
    }

    fn submit(&mut self, agency: u32, batch: u64, bets: &[BetSpec]) -> Result<Submitted, Refusal> {
        let drawn = self.drawn;
        let state = self.agency(agency).ok_or(Refusal::UnknownAgency)?;
        // Whatever its number: nothing is decided about a batch of no bets.
        if bets.is_empty() {
            return Err(Refusal::EmptyBatch);
        }
        let next = state.last_batch + 1;
        if batch == 0 {
            return Err(Refusal::OutOfOrder {
                expected: next,
                got: 0,
            });
        }
        if batch < next {
            let mut rows = Vec::new();
            let bets: Vec<Bet> = bets.iter().copied().map(bet).collect();
            encode_store_rows(id(agency), &bets, &mut rows);
            return if state.batches[batch as usize - 1] == rows {
                Ok(Submitted::AlreadyStored { batch })
            } else {
                Err(Refusal::BatchConflict { batch })
            };
        }
        if drawn {
            return Err(Refusal::AlreadyDrawn);
        }
        if state.finished {
            return Err(Refusal::AgencyFinished);
        }
        if batch > next {
            return Err(Refusal::OutOfOrder {
                expected: next,
                got: batch,
            });
        }
        // A write fault hits the data write only; a sync fault the commit.
        if self.store_fails() {
            return Err(Refusal::Store);
        }
        let bets: Vec<Bet> = bets.iter().copied().map(bet).collect();
        let mut rows = Vec::new();
        encode_store_rows(id(agency), &bets, &mut rows);
        let state = self.agency(agency).expect("checked above");
        state.batches.push(rows);
        state.last_batch = batch;
        state.bets += bets.len() as u64;
        state.winners.extend(
            bets.iter()
                .filter(|b| b.number.get().to_string() == WINNING)
                .map(|b| b.document.to_string()),
        );
        self.bets += bets.len() as u64;
        encode_store_rows(id(agency), &bets, &mut self.store);
        encode_store_rows(id(agency), &bets, &mut self.rows[agency as usize - 1]);
        Ok(Submitted::Stored {
            batch,
            bets: bets.len() as u64,
        })
    }

    fn finish(&mut self, agency: u32, sent: u64) -> Result<Finish, Refusal> {
        let drawn = self.drawn;
        let state = self.agency(agency).ok_or(Refusal::UnknownAgency)?;
        if sent != state.bets {
            return Err(Refusal::CountMismatch {
                sent,
                stored: state.bets,
            });
        }
        if state.finished {
            return Ok(if drawn {
                Finish::AlreadyDrawn
            } else {
                Finish::Waiting {
                    remaining: self.remaining(),
                }
            });
        }
        // The finish record is written to the journal (a data-write fault
        // does not touch it) and, with fsync, synced.
        if self.durability == Durability::Fsync && std::mem::take(&mut self.fail_sync) {
            return Err(Refusal::Store);
        }
        self.agency(agency).expect("checked above").finished = true;
        match self.remaining() {
            0 => {
                self.drawn = true;
                Ok(Finish::Drew(self.summary()))
            }
            remaining => Ok(Finish::Waiting { remaining }),
        }
    }

    fn remaining(&self) -> u32 {
        self.agencies.iter().filter(|a| !a.finished).count() as u32
    }

    fn summary(&self) -> lottery_core::DrawSummary {
        lottery_core::DrawSummary {
            bets: self.bets,
            winners_per_agency: self
                .agencies
                .iter()
                .map(|a| a.winners.len() as u64)
                .collect(),
        }
    }

    fn winners(&self, agency: u32) -> Result<Option<Vec<String>>, Refusal> {
        let state = self
            .agencies
            .get((agency as usize).wrapping_sub(1))
            .ok_or(Refusal::UnknownAgency)?;
        Ok(self.drawn.then(|| state.winners.clone()))
    }
}

/// How a ledger orders the rows it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreOrder {
    /// In the order the batches were stored (`bets.csv`).
    Appended,
    /// Agency by agency, each agency's in the order it sent them.
    PerAgency,
}

/// A ledger under test.
pub trait Backend {
    /// How its rows are ordered.
    const ORDER: StoreOrder;
    /// Opens (or reopens) a central with the model's rules on the store.
    fn open(&mut self, rules: LotteryRules) -> Central;
    /// The next batch write fails.
    fn fail_next_write(&mut self);
    /// The next sync (commit) fails; only called with `Durability::Fsync`.
    fn fail_next_sync(&mut self);
    /// Restarts: the central is dropped; faults are forgotten, and with
    /// `Durability::Fsync` a power cut loses what was not synced.
    fn restart(&mut self);
    /// The rows of the store as `bets.csv` bytes.
    fn stored(&mut self, central: &Central) -> Vec<u8>;
}

fn real_winners(central: &Central, agency: u32) -> Result<Option<Vec<String>>, Refusal> {
    match central.winners(id(agency)) {
        Ok(Winners::NotDrawn) => Ok(None),
        Ok(Winners::Drawn(documents)) => {
            Ok(Some(documents.iter().map(ToString::to_string).collect()))
        }
        Err(_) => Err(Refusal::UnknownAgency),
        Ok(other) => panic!("an answer this test does not know: {other:?}"),
    }
}

fn rules() -> LotteryRules {
    LotteryRules {
        agencies: AGENCIES,
        ..LotteryRules::default()
    }
}

/// Compares everything observable after a step.
fn check<B: Backend>(
    central: &Central,
    backend: &mut B,
    model: &Model,
) -> Result<(), TestCaseError> {
    for agency in 1..=AGENCIES {
        let state = &model.agencies[agency as usize - 1];
        prop_assert_eq!(
            central.resume_point(id(agency)).expect("known agency"),
            ResumePoint {
                last_batch: state.last_batch,
                bets_stored: state.bets,
                finished: state.finished,
                rows_crc: Some(&model.rows[agency as usize - 1])
                    .filter(|rows| !rows.is_empty())
                    .map(|rows| BatchDigest::of_rows(rows, 0).rows_crc()),
            },
            "resume point of agency {}",
            agency
        );
        prop_assert_eq!(real_winners(central, agency), model.winners(agency));
    }
    prop_assert_eq!(central.is_drawn(), model.drawn);
    let stored = backend.stored(central);
    let expected = match B::ORDER {
        StoreOrder::Appended => model.store.clone(),
        StoreOrder::PerAgency => model.rows.concat(),
    };
    prop_assert_eq!(
        String::from_utf8_lossy(&stored),
        String::from_utf8_lossy(&expected)
    );
    Ok(())
}

/// Runs `ops` on a central over `backend` and on the model, comparing after
/// every step.
pub fn run<B: Backend>(
    backend: &mut B,
    durability: Durability,
    ops: Vec<Op>,
) -> Result<(), TestCaseError> {
    let mut central = backend.open(rules());
    let mut model = Model::new(durability);
    for op in ops {
        match op {
            Op::Submit {
                agency,
                batch,
                bets,
            } => {
                let batch = model.batch(agency.min(AGENCIES), &batch);
                let real: Vec<Bet> = bets.iter().copied().map(bet).collect();
                let real = central
                    .submit(id(agency), batch, &real)
                    .map_err(submit_refusal);
                let expected = model.submit(agency, batch, &bets);
                prop_assert_eq!(real, expected, "submit {} {}", agency, batch);
            }
            Op::Finish { agency, off_by } => {
                let stored = model.agency(agency).map_or(0, |a| a.bets);
                let sent = stored + off_by;
                let real = central.finish(id(agency), sent).map_err(finish_refusal);
                prop_assert_eq!(real, model.finish(agency, sent), "finish {}", agency);
            }
            Op::Winners { agency } => {
                prop_assert_eq!(real_winners(&central, agency), model.winners(agency));
            }
            Op::FailNextWrite => {
                backend.fail_next_write();
                model.fail_write = true;
            }
            Op::FailNextSync => {
                // Only `fsync` syncs while running; the other modes never see it.
                if durability == Durability::Fsync {
                    backend.fail_next_sync();
                    model.fail_sync = true;
                }
            }
            Op::Restart => {
                drop(central);
                backend.restart();
                model.fail_write = false;
                model.fail_sync = false;
                central = backend.open(rules());
            }
        }
        check(&central, backend, &model)?;
    }
    Ok(())
}

/// A fixed, full run: each agency stores batches, a restart, all finish, a
/// restart.
pub fn full_run() -> Vec<Op> {
    let mut ops = Vec::new();
    for agency in 1..=AGENCIES {
        for document in 0..3u16 {
            ops.push(Op::Submit {
                agency,
                batch: BatchChoice::Next,
                bets: vec![(document, document != 1), (document + 10, false)],
            });
        }
    }
    ops.push(Op::Restart);
    for agency in 1..=AGENCIES {
        ops.push(Op::Finish { agency, off_by: 0 });
    }
    ops.push(Op::Restart);
    ops
}
