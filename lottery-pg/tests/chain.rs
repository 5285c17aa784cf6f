//! The ledger's checksum chain with several centrals on one schema,
//! in-process: centrals committing at once give every batch and finish one
//! position, 1 to N without gaps or repeats, each link what its record and
//! the one before give; each central's head covers every write it
//! returned, a resend another central stored included, and after the draw
//! every central's head is the final one. `verify_ledger` walks the chain
//! and refuses a link, a position or the head changed with SQL; a schema of
//! layout version 2 is refused, naming what to do.
//!
//! Needs `LOTTERY_TEST_POSTGRES`.

mod common;

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::{Schema, postgres_url};
use lottery_bet::{AgencyId, Bet};
use lottery_core::{Central, Durability, LotteryRules, StoreError};
use lottery_pg::{PgLedger, ledger_chain, verify_ledger};
use postgres::Client;

fn central(schema: &Schema, agencies: u32) -> Central {
    let (ledger, recovery) = PgLedger::open(schema.url(), Durability::Fsync).unwrap();
    let rules = LotteryRules {
        agencies,
        ..LotteryRules::default()
    };
    Central::new(rules, ledger, &recovery).unwrap()
}

fn id(agency: u32) -> AgencyId {
    AgencyId::new(agency).unwrap()
}

fn batch(agency: u32, batch: u64, count: u16) -> Vec<Bet> {
    (0..count)
        .map(|i| {
            let document = format!("{agency}{batch:03}{i:03}");
            let number = if i % 3 == 0 { "7574" } else { "12" };
            Bet::from_fields("Ana", "Paz", &document, "1990-02-03", number).unwrap()
        })
        .collect()
}

/// Every record's position, in position order, from both tables.
fn positions(client: &mut Client) -> Vec<i64> {
    client
        .query(
            "SELECT position FROM batches UNION ALL SELECT position FROM finishes ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| {
            row.get::<_, Option<i64>>(0)
                .expect("every record has a place")
        })
        .collect()
}

/// The position of batch `number` of `agency`.
fn position_of(client: &mut Client, agency: u32, number: i64) -> u64 {
    let position: i64 = client
        .query_one(
            "SELECT position FROM batches WHERE agency = $1 AND batch = $2",
            &[&(agency as i32), &number],
        )
        .unwrap()
        .get(0);
    position as u64
}

fn until_drawn(central: &Central) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !central.is_drawn() {
        assert!(Instant::now() < deadline, "the draw was never announced");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn centrals_committing_at_once_share_one_gapless_chain_and_each_head_covers_its_writes() {
    let Some(base) = postgres_url(
        "centrals_committing_at_once_share_one_gapless_chain_and_each_head_covers_its_writes",
    ) else {
        return;
    };
    const AGENCIES: u32 = 4;
    const BATCHES: u64 = 25;
    let schema = Schema::new(&base);
    let (a, b) = (central(&schema, AGENCIES), central(&schema, AGENCIES));
    // Agencies 1 and 3 on A, 2 and 4 on B, one thread each, all at once:
    // both centrals' transactions race for the chain's head.
    let start = Arc::new(Barrier::new(AGENCIES as usize));
    let writers: Vec<_> = (1..=AGENCIES)
        .map(|agency| {
            let on = if agency % 2 == 1 {
                a.clone()
            } else {
                b.clone()
            };
            let start = Arc::clone(&start);
            let url = schema.url().to_owned();
            std::thread::spawn(move || {
                let mut client = Client::connect(&url, postgres::NoTls).unwrap();
                start.wait();
                for number in 1..=BATCHES {
                    on.submit(id(agency), number, &batch(agency, number, 3))
                        .unwrap();
                    // Returned: inside the head this central would sign now.
                    let head = on.chain_head().expect("the ledger keeps a chain");
                    let at = position_of(&mut client, agency, number as i64);
                    assert!(
                        head.records >= at,
                        "agency {agency} batch {number} at {at}, the head at {}",
                        head.records
                    );
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    let mut client = schema.client();
    // A resend on B of a batch A stored last (agency 1 moved to B: its
    // handshake there first): acknowledged from what B read, and B's head
    // covers it though B's own last commit came before it.
    a.submit(id(1), BATCHES + 1, &batch(1, BATCHES + 1, 2))
        .unwrap();
    let at = position_of(&mut client, 1, BATCHES as i64 + 1);
    assert!(
        b.chain_head().unwrap().records < at,
        "B committed nothing since"
    );
    b.refresh_resume_point(id(1)).unwrap();
    assert_eq!(
        b.submit(id(1), BATCHES + 1, &batch(1, BATCHES + 1, 2))
            .unwrap(),
        lottery_core::Submitted::AlreadyStored { batch: BATCHES + 1 }
    );
    assert!(b.chain_head().unwrap().records >= at);
    assert_eq!(
        b.chain_head(),
        a.chain_head(),
        "the same head, read by both"
    );

    // The finishes, on both centrals at once.
    let start = Arc::new(Barrier::new(AGENCIES as usize));
    let finishers: Vec<_> = (1..=AGENCIES)
        .map(|agency| {
            let on = if agency % 2 == 1 {
                a.clone()
            } else {
                b.clone()
            };
            let start = Arc::clone(&start);
            let bets = BATCHES * 3 + if agency == 1 { 2 } else { 0 };
            std::thread::spawn(move || {
                start.wait();
                on.finish(id(agency), bets).unwrap();
            })
        })
        .collect();
    for finisher in finishers {
        finisher.join().unwrap();
    }
    until_drawn(&a);
    until_drawn(&b);

    let records = u64::from(AGENCIES) * BATCHES + 1 + u64::from(AGENCIES);
    let expected: Vec<i64> = (1..=records as i64).collect();
    assert_eq!(positions(&mut client), expected, "unique and gapless");
    let report = verify_ledger(schema.url()).unwrap();
    assert_eq!(report.chain_records, records);
    // Every central's head is the final one once it knows the draw.
    let head = a.chain_head().unwrap();
    assert_eq!(head.records, records);
    assert_eq!(b.chain_head(), Some(head));
    let hex: String = head.link.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(report.chain_head, hex);
    let stored: Vec<u8> = client
        .query_one("SELECT link FROM chain_head", &[])
        .unwrap()
        .get(0);
    assert_eq!(stored, head.link);
    // The chain the bets give is the stored one, link for link.
    let found = ledger_chain(schema.url()).unwrap();
    assert_eq!(found.chain.len() as u64, records);
    let links: Vec<Vec<u8>> = client
        .query(
            "SELECT position, link FROM batches UNION ALL SELECT position, link FROM finishes \
             ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(1))
        .collect();
    for (entry, link) in found.chain.iter().zip(&links) {
        assert_eq!(entry.link.as_slice(), link.as_slice(), "{entry:?}");
    }
}

#[test]
fn verify_refuses_a_link_a_position_or_the_head_changed_and_version_2_is_refused() {
    let Some(base) = postgres_url(
        "verify_refuses_a_link_a_position_or_the_head_changed_and_version_2_is_refused",
    ) else {
        return;
    };
    let schema = Schema::new(&base);
    let central = central(&schema, 2);
    for agency in 1..=2 {
        for number in 1..=3 {
            central
                .submit(id(agency), number, &batch(agency, number, 4))
                .unwrap();
        }
    }
    central.finish(id(1), 12).unwrap();
    drop(central);
    verify_ledger(schema.url()).unwrap();
    let mut client = schema.client();
    let edits = [
        (
            "UPDATE batches SET link = sha256(link) WHERE agency = 2 AND batch = 2",
            "the checksum chain breaks at position 5 (agency 2's batch 2)",
        ),
        (
            "UPDATE batches SET rows_crc = rows_crc # 1 WHERE agency = 1 AND batch = 3",
            "agency 1's batch 3 holds",
        ),
        (
            "UPDATE finishes SET position = NULL WHERE agency = 1",
            "agency 1's finish has no place in the checksum chain",
        ),
        (
            "UPDATE batches SET position = 9 WHERE agency = 1 AND batch = 1",
            "agency 1's batch 2 is at position 2 of the checksum chain, where position 1 is expected",
        ),
        (
            "UPDATE chain_head SET position = 6",
            "the chain's head names position 6, its records end at position 7",
        ),
    ];
    for (edit, named) in edits {
        let mut tx = client.transaction().unwrap();
        tx.batch_execute(edit).unwrap();
        tx.commit().unwrap();
        let error = verify_ledger(schema.url()).expect_err(edit).to_string();
        assert!(error.contains(named), "`{edit}`: {error}");
        // Undone by the inverse edit, each: verify passes again.
        restore(&mut client, schema.url(), edit);
        verify_ledger(schema.url()).unwrap_or_else(|e| panic!("`{edit}` undone: {e}"));
    }

    // Layout version 2: refused by a central, naming the version and what
    // to do; its bets still export.
    client
        .batch_execute("UPDATE lottery_schema SET version = 2")
        .unwrap();
    let Err(error) = PgLedger::open(schema.url(), Durability::Fsync) else {
        panic!("a schema of version 2 was opened");
    };
    let StoreError::Inconsistent {
        problem, remedy, ..
    } = &error
    else {
        panic!("{error}");
    };
    assert!(problem.contains("layout version 2"), "{problem}");
    assert!(
        remedy.contains("finish its lottery with centrals of version 2")
            && remedy.contains("lottery-admin export"),
        "{remedy}"
    );
    let mut out = Vec::new();
    assert_eq!(lottery_pg::export_csv(schema.url(), &mut out).unwrap(), 24);
}

/// Puts back what `edit` changed (each edit above has its inverse here).
fn restore(client: &mut Client, url: &str, edit: &str) {
    let undo = if edit.contains("SET link = sha256(link)") {
        // The link as the chain the bets give has it.
        let found = ledger_chain(url).unwrap().chain[4].link.to_vec();
        client
            .execute(
                "UPDATE batches SET link = $1 WHERE agency = 2 AND batch = 2",
                &[&found],
            )
            .unwrap();
        return;
    } else if edit.contains("rows_crc # 1") {
        "UPDATE batches SET rows_crc = rows_crc # 1 WHERE agency = 1 AND batch = 3"
    } else if edit.contains("finishes SET position = NULL") {
        "UPDATE finishes SET position = 7 WHERE agency = 1"
    } else if edit.contains("position = 9") {
        "UPDATE batches SET position = 1 WHERE agency = 1 AND batch = 1"
    } else {
        "UPDATE chain_head SET position = 7"
    };
    client.batch_execute(undo).unwrap();
}
