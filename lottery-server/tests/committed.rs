//! `lottery-server --winning-number committed`, the real binary: a new
//! store commits to a secret at once (`commit_winning_number`), a central
//! killed with SIGKILL before any bet comes back with the same commitment,
//! the draw reveals the secret (`reveal_secret`) and the number it gives
//! with the store's chain head, every agency's winners are its bets on that
//! number, and a central killed after the draw comes back with the same
//! draw; `lottery-admin verify` agrees, and refuses the store once its
//! secret or its draw's chain head is edited.

mod common;

use std::path::Path;
use std::process::Command;

use common::process::Process;
use common::{RawAgency, agency_batches, scratch_dir};
use lottery_core::DrawSecret;
use lottery_net::{AgencyMessage, WireBet};
use sha2::{Digest, Sha256};

const ADMIN: &str = env!("CARGO_BIN_EXE_lottery-admin");
const AGENCIES: u32 = 3;

fn start(store: &Path) -> Process {
    Process::start(&[
        "--listen",
        "127.0.0.1:0",
        "--agencies",
        &AGENCIES.to_string(),
        "--store",
        store.to_str().unwrap(),
        "--winning-number",
        "committed",
        "--log-level",
        "INFO",
        "--threads",
        "2",
    ])
}

fn kill_9(process: &mut Process) {
    let status = Command::new("kill")
        .args(["-KILL", &process.pid().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
    assert!(process.exit_within(common::SAFETY_TIMEOUT).is_some());
}

/// The value of `name: ` in `line`.
fn field(line: &str, name: &str) -> String {
    let start = line.find(&format!("| {name}: ")).expect(name) + name.len() + 4;
    line[start..].split(' ').next().unwrap().to_owned()
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

/// `lottery-admin verify --store STORE`: success, and stdout + stderr.
fn verify(store: &Path) -> (bool, String) {
    let output = Command::new(ADMIN)
        .args(["verify", "--store"])
        .arg(store)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// The documents of `batches` playing `number`, in order.
fn winners_on(batches: &[Vec<WireBet>], number: u16) -> Vec<String> {
    batches
        .iter()
        .flatten()
        .filter(|bet| bet.number == number)
        .map(|bet| bet.document.clone())
        .collect()
}

#[test]
fn one_secret_for_life_one_draw_and_its_number_is_what_the_secret_and_the_chain_head_give() {
    let dir = scratch_dir("committed_one_secret");
    let store = dir.join("bets.csv");

    // Killed before any bet: the restart keeps the commitment.
    let mut central = start(&store);
    let first = central.wait_for_line("action: commit_winning_number");
    assert!(first.contains("| store: new"), "{first}");
    let commitment = field(&first, "commitment");
    kill_9(&mut central);
    let mut central = start(&store);
    let again = central.wait_for_line("action: commit_winning_number");
    assert!(again.contains("| store: existing"), "{again}");
    assert_eq!(
        field(&again, "commitment"),
        commitment,
        "one secret for life"
    );
    let (ok, report) = verify(&store);
    assert!(ok, "{report}");
    assert!(
        report.contains(&format!("commitment: {commitment}")),
        "{report}"
    );
    assert!(report.contains("secret: kept until the draw"), "{report}");

    // The lottery: 3 x 34 batches of 100 bets, on every number 0-9999 at
    // least once, so whatever is drawn has a winner somewhere.
    let addr = central.address("action: accept_connections");
    let inputs: Vec<Vec<Vec<WireBet>>> = (1..=AGENCIES)
        .map(|agency| {
            let mut batches = agency_batches(agency, 34, 100);
            for (b, batch) in batches.iter_mut().enumerate() {
                for (i, bet) in batch.iter_mut().enumerate() {
                    let played = (agency as usize - 1) * 3_400 + b * 100 + i;
                    bet.number = (played % 10_000) as u16;
                }
            }
            batches
        })
        .collect();
    let got: Vec<Vec<String>> = std::thread::scope(|scope| {
        let runs: Vec<_> = inputs
            .iter()
            .enumerate()
            .map(|(index, batches)| {
                scope.spawn(move || {
                    common::run_agency(RawAgency::connect(addr), index as u32 + 1, batches)
                })
            })
            .collect();
        runs.into_iter().map(|run| run.join().unwrap()).collect()
    });
    let revealed = central.wait_for_line("action: reveal_secret");
    let secret = hex32(&field(&revealed, "secret"));
    let number: u16 = field(&revealed, "winning_number").parse().unwrap();
    assert_eq!(
        hex(&Sha256::digest(secret)),
        commitment,
        "the secret is the commitment's"
    );
    let (ok, report) = verify(&store);
    assert!(ok, "{report}");
    let head = report
        .lines()
        .find_map(|line| line.strip_prefix("chain head: "))
        .expect("a chain head line")
        .to_owned();
    assert_eq!(
        DrawSecret::from_bytes(secret)
            .winning_number(&hex32(&head))
            .get(),
        number,
        "the number is what the secret and the final chain head give"
    );
    for (index, batches) in inputs.iter().enumerate() {
        assert_eq!(
            got[index],
            winners_on(batches, number),
            "agency {}",
            index + 1
        );
    }

    // Killed after the draw: the same draw, the same secret, the same winners.
    kill_9(&mut central);
    let mut central = start(&store);
    central.wait_for_line("action: recover_draw");
    let again = central.wait_for_line("action: reveal_secret");
    assert_eq!(
        (field(&again, "secret"), field(&again, "winning_number")),
        (field(&revealed, "secret"), number.to_string())
    );
    let addr = central.address("action: accept_connections");
    for agency in 1..=AGENCIES {
        let (mut connection, _) = RawAgency::hello(addr, agency);
        connection.send(&AgencyMessage::WinnersQuery { wait: true });
        assert_eq!(
            connection.winners(),
            got[agency as usize - 1],
            "agency {agency}"
        );
        connection.close();
    }
    let _ = central.terminate();

    // Edits verify refuses: a secret that is not the commitment's, and
    // a draw line whose chain head is not the journal's.
    let manifest_path = dir.join("bets.csv.lottery");
    let manifest = std::fs::read_to_string(&manifest_path).unwrap();
    let secret_hex = hex(&secret);
    let mut other = secret_hex.clone();
    other.replace_range(
        0..2,
        if &secret_hex[0..2] == "00" {
            "01"
        } else {
            "00"
        },
    );
    std::fs::write(&manifest_path, manifest.replace(&secret_hex, &other)).unwrap();
    let (ok, report) = verify(&store);
    assert!(!ok && report.contains("commitment"), "{report}");
    let mut other_head = head.clone();
    other_head.replace_range(0..2, if &head[0..2] == "00" { "01" } else { "00" });
    std::fs::write(&manifest_path, manifest.replace(&head, &other_head)).unwrap();
    let (ok, report) = verify(&store);
    assert!(!ok && report.contains("journal"), "{report}");
    std::fs::write(&manifest_path, &manifest).unwrap();
    assert!(verify(&store).0, "the manifest restored");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_bad_winning_number_setting_is_refused_with_what_it_takes() {
    let output = Command::new(common::process::BINARY)
        .args(["--winning-number", "committd"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("expected 0 to 9999, or committed"),
        "{stderr}"
    );
}
