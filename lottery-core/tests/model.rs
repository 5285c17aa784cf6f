//! The real [`Central`] (on a [`MemoryStore`]) against a plain sequential
//! model of the lottery's rules (docs/ARCHITECTURE.md, "Invariants"; the
//! `sequential_model` module, shared with the PostgreSQL ledger's test), driven by generated operations: submits
//! (unknown agencies, empty batches, resends, batches out of order),
//! finishes (right and wrong counts), winners queries, injected write and
//! sync failures, and restarts (a power cut with `fsync`, a process restart
//! otherwise). After every step the answers, every agency's resume point,
//! the winners and the bytes of `bets.csv` must agree with the model.
//!
//! `PROPTEST_CASES` tunes the number of cases.

mod sequential_model;

use lottery_core::{
    BetMonitor, Central, Durability, LotteryRules,
    store::{MemoryHandle, MemoryStore},
};
use proptest::prelude::*;
use sequential_model::{Backend, StoreOrder, durability, full_run, op, run};

/// The file monitor over an in-memory store with injectable faults.
struct Memory {
    handle: MemoryHandle,
    durability: Durability,
}

impl Memory {
    fn new(durability: Durability) -> Self {
        Self {
            handle: MemoryStore::new().handle(),
            durability,
        }
    }
}

impl Backend for Memory {
    const ORDER: StoreOrder = StoreOrder::Appended;

    fn open(&mut self, rules: LotteryRules) -> Central {
        let (monitor, recovery) = BetMonitor::open(Box::new(self.handle.store()), self.durability)
            .expect("the store reopens");
        Central::new(rules, monitor, &recovery).expect("the central recovers")
    }

    fn fail_next_write(&mut self) {
        self.handle.fail_next_appends(1);
    }

    fn fail_next_sync(&mut self) {
        self.handle.fail_next_syncs(1);
    }

    fn restart(&mut self) {
        self.handle.fail_next_appends(0);
        self.handle.fail_next_syncs(0);
        if self.durability == Durability::Fsync {
            // A power cut: only synced bytes survive, and every ack was
            // synced.
            self.handle.crash();
        }
    }

    fn stored(&mut self, _central: &Central) -> Vec<u8> {
        self.handle.bytes()
    }
}

proptest! {
    #[test]
    fn central_agrees_with_the_sequential_model(
        durability in durability(),
        ops in prop::collection::vec(op(), 1..60),
    ) {
        run(&mut Memory::new(durability), durability, ops)?;
    }
}

#[test]
fn every_agency_finishing_draws_the_model_winners() {
    run(
        &mut Memory::new(Durability::Fsync),
        Durability::Fsync,
        full_run(),
    )
    .unwrap();
}
