//! The core's model-based test against the PostgreSQL ledger: the same
//! generated operations as `lottery-core/tests/model.rs` (its
//! `sequential_model` module, included by path), the same outcomes as the
//! file store. Each case runs on a fresh schema. Faults: a refused write,
//! and a commit rolled back (the file store's failed sync); a restart drops
//! the central and its connections and opens the ledger again.
//!
//! Needs `LOTTERY_TEST_POSTGRES`; `PROPTEST_CASES` tunes the number of cases
//! (64 without it).

mod common;
#[path = "../../lottery-core/tests/sequential_model/mod.rs"]
mod sequential_model;

use common::{Schema, postgres_url};
use lottery_bet::{StoredBet, encode_store_rows};
use lottery_core::{Central, Durability, LotteryRules};
use lottery_pg::{PgFaults, PgLedger};
use proptest::prelude::*;
use sequential_model::{Backend, StoreOrder, full_run, op, run};

/// A central over the PostgreSQL ledger in a schema of its own.
struct Postgres {
    schema: Schema,
    faults: Option<PgFaults>,
}

impl Postgres {
    fn new(base: &str) -> Self {
        Self {
            schema: Schema::new(base),
            faults: None,
        }
    }

    fn faults(&self) -> &PgFaults {
        self.faults.as_ref().expect("a central is open")
    }
}

impl Backend for Postgres {
    const ORDER: StoreOrder = StoreOrder::PerAgency;

    fn open(&mut self, rules: LotteryRules) -> Central {
        let (ledger, recovery) =
            PgLedger::open(self.schema.url(), Durability::Fsync).expect("the ledger opens");
        self.faults = Some(ledger.faults());
        Central::new(rules, ledger, &recovery).expect("the central recovers")
    }

    fn fail_next_write(&mut self) {
        self.faults().fail_next_appends(1);
    }

    fn fail_next_sync(&mut self) {
        self.faults().fail_next_commits(1);
    }

    fn restart(&mut self) {
        // The faults belong to the ledger, dropped with its central.
        self.faults = None;
    }

    fn stored(&mut self, central: &Central) -> Vec<u8> {
        let mut bets: Vec<StoredBet> = Vec::new();
        central
            .scan(&mut |stored| bets.push(stored))
            .expect("the ledger reads back");
        let mut bytes = Vec::new();
        for stored in bets {
            encode_store_rows(stored.agency, &[stored.bet], &mut bytes);
        }
        bytes
    }
}

/// Cases: `PROPTEST_CASES`, else 64 (each case commits a few dozen
/// transactions on a real server, about half a second).
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(64)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn the_postgres_ledger_agrees_with_the_sequential_model(
        ops in prop::collection::vec(op(), 1..60),
    ) {
        let Some(base) = postgres_url("the_postgres_ledger_agrees_with_the_sequential_model") else {
            return Ok(());
        };
        // A committed transaction is durable: the model's `fsync` semantics.
        run(&mut Postgres::new(&base), Durability::Fsync, ops)?;
    }
}

#[test]
fn every_agency_finishing_on_postgres_draws_the_model_winners() {
    let Some(base) = postgres_url("every_agency_finishing_on_postgres_draws_the_model_winners")
    else {
        return;
    };
    run(&mut Postgres::new(&base), Durability::Fsync, full_run()).unwrap();
}
