//! The real [`Central`] (on a [`MemoryStore`]) against a plain sequential
//! model of SPEC section 3, driven by generated operations: submits (unknown
//! agencies, empty batches, resends, batches out of order), finishes (right and wrong
//! counts), winners queries, injected write and sync failures, and restarts
//! (a power cut with `fsync`, a process restart otherwise). After every step
//! the answers, every agency's resume point, the winners and the bytes of
//! `bets.csv` must agree with the model.
//!
//! `PROPTEST_CASES` tunes the number of cases.

use lottery_core::{
    AgencyId, Bet, BetMonitor, Central, Durability, Finish, FinishError, LotteryRules,
    MemoryHandle, MemoryStore, ResumePoint, SubmitError, Submitted, Winners, encode_store_rows,
};
use proptest::prelude::*;

/// Agencies the central expects; the generator also uses the next id.
const AGENCIES: u32 = 4;

/// A bet as generated: its document and whether it plays the winning number.
type BetSpec = (u16, bool);

#[derive(Debug, Clone)]
enum BatchChoice {
    /// The agency's next batch.
    Next,
    /// A batch `back` numbers before the next one (a resend when > 0).
    Back(u64),
    /// Any number (0 and skips ahead included).
    Raw(u64),
}

#[derive(Debug, Clone)]
enum Op {
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

fn op() -> impl Strategy<Value = Op> {
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

fn durability() -> impl Strategy<Value = Durability> {
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
}

/// SPEC section 3, sequentially, plus the store faults the test injects.
#[derive(Debug)]
struct Model {
    agencies: Vec<ModelAgency>,
    /// The bytes `bets.csv` must hold.
    store: Vec<u8>,
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
            return Ok(Submitted::AlreadyStored { batch });
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
        let state = self.agency(agency).expect("checked above");
        state.last_batch = batch;
        state.bets += bets.len() as u64;
        state.winners.extend(
            bets.iter()
                .filter(|b| b.number.get().to_string() == WINNING)
                .map(|b| b.document.to_string()),
        );
        self.bets += bets.len() as u64;
        encode_store_rows(id(agency), &bets, &mut self.store);
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

fn open(handle: &MemoryHandle, durability: Durability) -> Central {
    let (monitor, recovery) =
        BetMonitor::open(Box::new(handle.store()), durability).expect("the store reopens");
    let rules = LotteryRules {
        agencies: AGENCIES,
        ..LotteryRules::default()
    };
    Central::new(rules, monitor, &recovery).expect("the central recovers")
}

/// Compares everything observable after a step.
fn check(central: &Central, handle: &MemoryHandle, model: &Model) -> Result<(), TestCaseError> {
    for agency in 1..=AGENCIES {
        let state = &model.agencies[agency as usize - 1];
        prop_assert_eq!(
            central.resume_point(id(agency)).expect("known agency"),
            ResumePoint {
                last_batch: state.last_batch,
                bets_stored: state.bets,
                finished: state.finished,
            },
            "resume point of agency {}",
            agency
        );
        prop_assert_eq!(real_winners(central, agency), model.winners(agency));
    }
    prop_assert_eq!(central.is_drawn(), model.drawn);
    let stored = handle.bytes();
    prop_assert_eq!(
        String::from_utf8_lossy(&stored),
        String::from_utf8_lossy(&model.store)
    );
    Ok(())
}

fn run(durability: Durability, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let store = MemoryStore::new();
    let handle = store.handle();
    let mut central = open(&handle, durability);
    drop(store);
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
                handle.fail_next_appends(1);
                model.fail_write = true;
            }
            Op::FailNextSync => {
                // Only `fsync` syncs while running; the other modes never see it.
                if durability == Durability::Fsync {
                    handle.fail_next_syncs(1);
                    model.fail_sync = true;
                }
            }
            Op::Restart => {
                drop(central);
                handle.fail_next_appends(0);
                handle.fail_next_syncs(0);
                model.fail_write = false;
                model.fail_sync = false;
                if durability == Durability::Fsync {
                    // A power cut: only synced bytes survive, and every ack
                    // was synced.
                    handle.crash();
                }
                central = open(&handle, durability);
            }
        }
        check(&central, &handle, &model)?;
    }
    Ok(())
}

proptest! {
    #[test]
    fn central_agrees_with_the_sequential_model(
        durability in durability(),
        ops in prop::collection::vec(op(), 1..60),
    ) {
        run(durability, ops)?;
    }
}

#[test]
fn every_agency_finishing_draws_the_model_winners() {
    // A fixed, full run: each agency stores batches, then all finish.
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
    run(Durability::Fsync, ops).unwrap();
}
