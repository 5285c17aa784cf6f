//! A committed winning number ([`Winning::Committed`]) over the file
//! monitor: the secret is recorded with the rules before any bet and kept
//! for life (a restart offering another one keeps the first), the number is
//! derived from it and the store's final chain head at the draw, the
//! winners are the stored bets on that number, and a restart draws exactly
//! the same again; the commitment is public from the start, the secret only
//! once drawn.

use lottery_bet::{AgencyId, Bet};
use lottery_core::{
    BetMonitor, Central, DrawSecret, Durability, Finish, LotteryRules, RecoveryError, Winners,
    Winning,
    store::{MemoryHandle, MemoryStore},
    verify::verify_store,
};
use sha2::{Digest, Sha256};

const AGENCIES: u32 = 3;

fn committed() -> LotteryRules {
    LotteryRules {
        agencies: AGENCIES,
        winning: Winning::Committed,
    }
}

fn id(agency: u32) -> AgencyId {
    AgencyId::new(agency).unwrap()
}

/// A central of committed rules over `handle`'s store, offering `fresh`.
fn open(handle: &MemoryHandle, fresh: [u8; 32]) -> Result<Central, RecoveryError> {
    let (monitor, recovery) =
        BetMonitor::open(Box::new(handle.store()), Durability::Fsync).unwrap();
    Central::with_fresh_secret(
        committed(),
        monitor,
        &recovery,
        DrawSecret::from_bytes(fresh),
    )
}

/// Agency `agency`'s batch `batch`: 100 bets playing every number from
/// `batch * 100` on, so that whatever number is drawn, some agency may
/// have played it (documents say agency, batch and position).
fn batch(agency: u32, batch: u64) -> Vec<Bet> {
    (0..100)
        .map(|position| {
            let number = (u64::from(agency) * 1_000 + batch * 100 + position) % 10_000;
            Bet::from_fields(
                "Ana",
                "Paz",
                &format!("{agency}{batch:02}{position:03}"),
                "1999-03-17",
                &number.to_string(),
            )
            .unwrap()
        })
        .collect()
}

/// What the agencies bet: `batches` batches each.
fn bet_all(central: &Central, batches: u64) {
    for agency in 1..=AGENCIES {
        for number in 1..=batches {
            central
                .submit(id(agency), number, &batch(agency, number))
                .unwrap();
        }
    }
}

/// The documents of `agency`'s bets on `number` (what its winners must be).
fn expected_winners(agency: u32, batches: u64, number: u32) -> Vec<String> {
    (1..=batches)
        .flat_map(|b| batch(agency, b))
        .filter(|bet| u32::from(bet.number.get()) == number)
        .map(|bet| bet.document.as_str().to_owned())
        .collect()
}

fn winners(central: &Central, agency: u32) -> Vec<String> {
    match central.winners(id(agency)).unwrap() {
        Winners::Drawn(documents) => documents.iter().map(|d| d.as_str().to_owned()).collect(),
        other => panic!("agency {agency}: {other:?}"),
    }
}

#[test]
fn the_number_comes_from_the_secret_and_the_final_chain_head_and_a_restart_keeps_both() {
    let handle = MemoryStore::new().handle();
    let secret = [0x5a; 32];
    let central = open(&handle, secret).unwrap();
    let commitment: [u8; 32] = Sha256::digest(secret).into();
    assert_eq!(central.commitment(), Some(commitment));
    bet_all(&central, 2);
    drop(central);
    handle.crash();

    // Restarted before the draw with another secret offered: the store's is
    // kept, and the number is still unknown to everyone.
    let central = open(&handle, [0x11; 32]).unwrap();
    assert_eq!(
        central.commitment(),
        Some(commitment),
        "one secret for life"
    );
    assert_eq!(central.revealed_secret(), None);
    assert_eq!(central.winning_number(), None);
    for agency in 1..=AGENCIES {
        central.submit(id(agency), 3, &batch(agency, 3)).unwrap();
    }
    for agency in 1..AGENCIES {
        assert!(matches!(
            central.finish(id(agency), 300).unwrap(),
            Finish::Waiting { .. }
        ));
        assert_eq!(central.revealed_secret(), None, "not before the draw");
    }
    let Finish::Drew(summary) = central.finish(id(AGENCIES), 300).unwrap() else {
        panic!("the last finish draws")
    };
    assert_eq!(summary.bets, 900);

    let report = verify_store_of(&handle);
    let head = hex32(&report.chain_head);
    let number = DrawSecret::from_bytes(secret).winning_number(&head);
    assert_eq!(central.winning_number(), Some(number));
    assert_eq!(
        central.revealed_secret(),
        Some(DrawSecret::from_bytes(secret))
    );
    for agency in 1..=AGENCIES {
        assert_eq!(
            winners(&central, agency),
            expected_winners(agency, 3, u32::from(number.get())),
            "agency {agency}, number {number}"
        );
    }
    let drawn: Vec<Vec<String>> = (1..=AGENCIES).map(|a| winners(&central, a)).collect();
    assert_eq!(report.winning_number, Some(number));
    assert_eq!(
        report.commitment.as_deref(),
        Some(hex(&commitment).as_str())
    );
    assert_eq!(report.secret.as_deref(), Some(hex(&secret).as_str()));
    drop(central);
    handle.crash();

    // Reopened drawn: the same number and winners, whatever secret is offered.
    let central = open(&handle, [0x22; 32]).unwrap();
    assert!(central.is_drawn());
    assert_eq!(central.winning_number(), Some(number));
    let again: Vec<Vec<String>> = (1..=AGENCIES).map(|a| winners(&central, a)).collect();
    assert_eq!(again, drawn);
}

#[test]
fn a_crash_after_the_last_finish_before_the_draw_is_recorded_draws_the_same_on_restart() {
    // A drawn store whose manifest then loses its draw line is what a crash
    // between the last finish's commit and the draw's record leaves: the
    // restart derives the same number and records the same draw line.
    let secret = [0x77; 32];
    let whole = MemoryStore::new().handle();
    let central = open(&whole, secret).unwrap();
    bet_all(&central, 2);
    for agency in 1..=AGENCIES {
        central.finish(id(agency), 200).unwrap();
    }
    let number = central.winning_number().unwrap();
    let manifest = String::from_utf8(whole.manifest_bytes().unwrap()).unwrap();
    let undrawn: String = manifest
        .lines()
        .filter(|line| !line.starts_with("draw "))
        .map(|line| format!("{line}\n"))
        .collect();
    drop(central);
    whole.set_manifest_bytes(Some(undrawn.into_bytes()));
    let central = open(&whole, [0x01; 32]).unwrap();
    assert!(central.is_drawn(), "the due draw is made at open");
    assert_eq!(central.winning_number(), Some(number));
    assert_eq!(
        String::from_utf8(whole.manifest_bytes().unwrap()).unwrap(),
        manifest,
        "the draw recorded again, byte for byte"
    );
}

#[test]
fn committed_rules_without_a_secret_or_over_fixed_rules_are_refused_and_write_nothing() {
    let handle = MemoryStore::new().handle();
    let (monitor, recovery) =
        BetMonitor::open(Box::new(handle.store()), Durability::Fsync).unwrap();
    let refused = Central::new(committed(), monitor, &recovery).unwrap_err();
    assert!(matches!(refused, RecoveryError::Committed(_)), "{refused}");
    let manifest = handle.manifest_bytes().unwrap_or_default();
    assert!(
        !String::from_utf8_lossy(&manifest).contains("rules"),
        "no rules recorded"
    );

    let (monitor, recovery) =
        BetMonitor::open(Box::new(handle.store()), Durability::Fsync).unwrap();
    let fixed = LotteryRules {
        agencies: AGENCIES,
        ..LotteryRules::default()
    };
    Central::new(fixed, monitor, &recovery).unwrap();
    let refused = open(&handle, [1; 32]).unwrap_err();
    assert!(
        matches!(refused, RecoveryError::RulesMismatch { .. }),
        "{refused}"
    );
    assert!(
        refused.to_string().contains("winning number committed"),
        "{refused}"
    );
}

fn verify_store_of(handle: &MemoryHandle) -> lottery_core::verify::StoreReport {
    // verify_store reads files: write the memory store's three files out.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bets.csv");
    std::fs::write(&path, handle.bytes()).unwrap();
    std::fs::write(dir.path().join("bets.csv.journal"), handle.journal_bytes()).unwrap();
    std::fs::write(
        dir.path().join("bets.csv.lottery"),
        handle.manifest_bytes().unwrap(),
    )
    .unwrap();
    verify_store(&path).unwrap()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex32(text: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}
