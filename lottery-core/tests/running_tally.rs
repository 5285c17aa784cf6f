//! The draw comes from the central's running tally of committed batches:
//! it reads no store, counts no batch that was refused or whose commit
//! failed, keeps stored order, and a central restarted mid-run (rebuilding
//! the tally by one scan at open) draws what an uninterrupted run draws.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use lottery_bet::{AgencyId, BatchDigest, Bet, BetBatch, StoredBet};
use lottery_core::{
    BetMonitor, Central, DrawSecret, DrawSummary, DrawTally, Durability, Finish, LotteryRules,
    StoreError, Winners,
    ledger::{Ledger, PendingWrite},
    store::{MemoryHandle, MemoryStore},
};

fn id(agency: u32) -> AgencyId {
    AgencyId::new(agency).unwrap()
}

fn bet(document: &str, number: &str) -> Bet {
    Bet::from_fields("Ana", "Paz", document, "1990-02-03", number).unwrap()
}

fn rules(agencies: u32) -> LotteryRules {
    LotteryRules {
        agencies,
        ..LotteryRules::default()
    }
}

fn documents(winners: Winners) -> Vec<String> {
    match winners {
        Winners::Drawn(documents) => documents.iter().map(ToString::to_string).collect(),
        other => panic!("not drawn: {other:?}"),
    }
}

/// The file monitor, counting the calls that read the whole store.
#[derive(Debug)]
struct CountingLedger {
    monitor: BetMonitor,
    tallies: Arc<AtomicUsize>,
    scans: Arc<AtomicUsize>,
}

impl Ledger for CountingLedger {
    fn begin_append(
        &self,
        agency: AgencyId,
        batch: u64,
        bets: &BetBatch,
    ) -> Result<(PendingWrite, BatchDigest), StoreError> {
        Ledger::begin_append(&self.monitor, agency, batch, bets)
    }

    fn begin_finish(&self, agency: AgencyId, bets: u64) -> Result<PendingWrite, StoreError> {
        Ledger::begin_finish(&self.monitor, agency, bets)
    }

    fn wait_durable(&self, write: PendingWrite) -> Result<(), StoreError> {
        Ledger::wait_durable(&self.monitor, write)
    }

    fn tally(&self, tally: &mut DrawTally) -> Result<u64, StoreError> {
        self.tallies.fetch_add(1, Ordering::SeqCst);
        Ledger::tally(&self.monitor, tally)
    }

    fn record_rules(
        &self,
        rules: LotteryRules,
        secret: Option<&DrawSecret>,
    ) -> Result<(), StoreError> {
        Ledger::record_rules(&self.monitor, rules, secret)
    }

    fn chain_head(&self) -> Option<lottery_core::ledger::ChainHead> {
        Ledger::chain_head(&self.monitor)
    }

    fn record_draw(&self, draw: &DrawSummary) -> Result<(), StoreError> {
        Ledger::record_draw(&self.monitor, draw)
    }

    fn scan(&self, visit: &mut dyn FnMut(StoredBet)) -> Result<u64, StoreError> {
        self.scans.fetch_add(1, Ordering::SeqCst);
        Ledger::scan(&self.monitor, visit)
    }
}

/// A central over `handle`'s store, and its ledger's counts of whole-store
/// reads (tallies, scans).
fn open_counting(
    handle: &MemoryHandle,
    agencies: u32,
) -> (Central, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    open_with(handle, agencies, Durability::Fsync)
}

fn open_with(
    handle: &MemoryHandle,
    agencies: u32,
    durability: Durability,
) -> (Central, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let (monitor, recovery) = BetMonitor::open(Box::new(handle.store()), durability).unwrap();
    let tallies = Arc::new(AtomicUsize::new(0));
    let scans = Arc::new(AtomicUsize::new(0));
    let ledger = CountingLedger {
        monitor,
        tallies: Arc::clone(&tallies),
        scans: Arc::clone(&scans),
    };
    let central = Central::new(rules(agencies), ledger, &recovery).unwrap();
    (central, tallies, scans)
}

/// The winners of every agency of `central`, in order.
fn all_winners(central: &Central, agencies: u32) -> Vec<Vec<String>> {
    (1..=agencies)
        .map(|agency| documents(central.winners(id(agency)).unwrap()))
        .collect()
}

#[test]
fn the_draw_reads_no_store_and_counts_only_committed_batches() {
    let handle = MemoryStore::new().handle();
    let (central, tallies, scans) = open_counting(&handle, 3);
    assert_eq!(
        tallies.load(Ordering::SeqCst),
        0,
        "a new store is not scanned"
    );
    central
        .submit(id(1), 1, &[bet("11", "7574"), bet("12", "1")])
        .unwrap();
    // A batch whose write fails adds nothing; its number is sent again with
    // other bets.
    handle.fail_next_appends(1);
    assert!(central.submit(id(2), 1, &[bet("99", "7574")]).is_err());
    central.submit(id(2), 1, &[bet("21", "7574")]).unwrap();
    // A batch whose commit fails adds nothing either.
    handle.fail_next_syncs(1);
    assert!(central.submit(id(1), 2, &[bet("98", "7574")]).is_err());
    central
        .submit(id(1), 2, &[bet("13", "2"), bet("14", "7574")])
        .unwrap();
    // A resend of an acknowledged batch is not counted twice.
    central.submit(id(2), 1, &[bet("21", "7574")]).unwrap();
    // A refused batch (out of order) adds nothing.
    assert!(central.submit(id(3), 2, &[bet("97", "7574")]).is_err());
    central.finish(id(1), 4).unwrap();
    central.finish(id(2), 1).unwrap();
    let read_before_draw = handle.bytes_read();
    let Finish::Drew(summary) = central.finish(id(3), 0).unwrap() else {
        panic!("the last finish draws")
    };
    assert_eq!(
        handle.bytes_read(),
        read_before_draw,
        "the draw read the store"
    );
    assert_eq!(
        (tallies.load(Ordering::SeqCst), scans.load(Ordering::SeqCst)),
        (0, 0)
    );
    assert_eq!(summary.bets, 5);
    assert_eq!(summary.winners_per_agency, [2, 1, 0]);
    assert_eq!(
        all_winners(&central, 3),
        [vec!["11", "14"], vec!["21"], vec![]]
    );
    // The same as a direct scan of the store.
    let mut direct = DrawTally::new(rules(3));
    central.scan(&mut |stored| direct.add(stored)).unwrap();
    let direct = direct.finish();
    assert_eq!(direct.summary(), &summary);
    for agency in 1..=3 {
        assert_eq!(
            direct.winners(id(agency)),
            match central.winners(id(agency)).unwrap() {
                Winners::Drawn(documents) => Some(documents),
                other => panic!("not drawn: {other:?}"),
            }
        );
    }
}

/// Deterministic batches: agency `a`'s batch `b` holds bets whose document
/// names them, one in three winning.
fn batches(agency: u32) -> Vec<Vec<Bet>> {
    (1..=6u32)
        .map(|batch| {
            (0..(batch + agency) % 4 + 1)
                .map(|n| {
                    let number = if (agency + batch + n).is_multiple_of(3) {
                        "7574"
                    } else {
                        "12"
                    };
                    bet(&format!("{agency}{batch:02}{n}"), number)
                })
                .collect()
        })
        .collect()
}

/// What a direct scan of the input finds: each agency's winners in order.
fn expected_winners(agencies: u32) -> Vec<Vec<String>> {
    (1..=agencies)
        .map(|agency| {
            batches(agency)
                .iter()
                .flatten()
                .filter(|bet| bet.number.get() == 7574)
                .map(|bet| bet.document.to_string())
                .collect()
        })
        .collect()
}

fn send(central: &Central, agency: u32, from_batch: usize, to_batch: usize) {
    for (batch, bets) in (1..)
        .zip(batches(agency))
        .skip(from_batch)
        .take(to_batch - from_batch)
    {
        central.submit(id(agency), batch, &bets).unwrap();
    }
}

fn sent(agency: u32) -> u64 {
    batches(agency).iter().map(|b| b.len() as u64).sum()
}

#[test]
fn a_central_restarted_mid_run_draws_what_an_uninterrupted_run_draws() {
    let agencies = 3;
    // Uninterrupted.
    let handle = MemoryStore::new().handle();
    let (central, tallies, _) = open_counting(&handle, agencies);
    for agency in 1..=agencies {
        send(&central, agency, 0, 6);
        central.finish(id(agency), sent(agency)).unwrap();
    }
    assert_eq!(tallies.load(Ordering::SeqCst), 0);
    let uninterrupted = (
        central.draw_summary().unwrap(),
        all_winners(&central, agencies),
    );
    assert_eq!(uninterrupted.1, expected_winners(agencies));
    assert!(
        uninterrupted.1.iter().all(|w| !w.is_empty()),
        "every agency wins"
    );

    // Interrupted: agency 1 finished, agency 2 half way, agency 3 not begun.
    let handle = MemoryStore::new().handle();
    let (central, _, _) = open_counting(&handle, agencies);
    send(&central, 1, 0, 6);
    central.finish(id(1), sent(1)).unwrap();
    send(&central, 2, 0, 3);
    drop(central);
    handle.crash();

    let (central, tallies, scans) = open_counting(&handle, agencies);
    assert_eq!(
        tallies.load(Ordering::SeqCst),
        1,
        "one scan at open rebuilds the tally"
    );
    assert_eq!(central.resume_point(id(2)).unwrap().last_batch, 3);
    send(&central, 2, 3, 6);
    central.finish(id(2), sent(2)).unwrap();
    send(&central, 3, 0, 6);
    let read_before_draw = handle.bytes_read();
    let Finish::Drew(summary) = central.finish(id(3), sent(3)).unwrap() else {
        panic!("the last finish draws")
    };
    assert_eq!(
        handle.bytes_read(),
        read_before_draw,
        "the draw read the store"
    );
    assert_eq!(
        (tallies.load(Ordering::SeqCst), scans.load(Ordering::SeqCst)),
        (1, 0)
    );
    assert_eq!((summary, all_winners(&central, agencies)), uninterrupted);
    drop(central);

    // Reopened drawn: exactly the recorded draw, again from one scan.
    let (central, tallies, _) = open_counting(&handle, agencies);
    assert_eq!(tallies.load(Ordering::SeqCst), 1);
    assert!(central.is_drawn());
    assert_eq!(
        (
            central.draw_summary().unwrap(),
            all_winners(&central, agencies)
        ),
        uninterrupted
    );
}

#[test]
fn a_central_restarted_after_every_finish_but_before_the_draw_draws_from_the_rebuilt_tally() {
    let agencies = 2;
    let handle = MemoryStore::new().handle();
    // Durability `none` writes a finish record at once, at its first step.
    let (central, _, _) = open_with(&handle, agencies, Durability::None);
    for agency in 1..=agencies {
        send(&central, agency, 0, 6);
    }
    central.finish(id(1), sent(1)).unwrap();
    // The last finish is recorded, but the central stops before its draw.
    let pending = central.begin_finish(id(2), sent(2)).unwrap();
    drop(pending);
    drop(central);

    let (central, tallies, _) = open_with(&handle, agencies, Durability::None);
    assert_eq!(tallies.load(Ordering::SeqCst), 1);
    assert!(
        central.is_drawn(),
        "a store with every finish is drawn at open"
    );
    assert_eq!(all_winners(&central, agencies), expected_winners(agencies));
    let total: u64 = (1..=agencies).map(sent).sum();
    assert_eq!(central.draw_summary().unwrap().bets, total);
}
