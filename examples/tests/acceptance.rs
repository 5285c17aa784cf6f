//! The acceptance test of issue 5: the real `lottery-server` binary and five
//! `lottery-agency` processes on the course data set (`../shared/data` next
//! to the workspace, when it exists; otherwise the synthetic data set, and
//! the test says so), checked the way the course checks it: the agencies'
//! `cant_ganadores` lines, one `sorteo` line, the `apuesta_recibida` counts,
//! and `bets.csv` holding exactly the input bets (byte for byte what the
//! store's encoder writes for each agency's input), in plaintext, over mutual
//! TLS, and with signed receipts and a committed winning number.

mod support;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;

use lottery_bet::{AgencyFile, AgencyId, Bet, BetNumber, StoreRows};
use lottery_examples::synthetic::SyntheticDataSet;
use lottery_tls::{Receipt, ReceiptSubject};
use sha2::Digest as _;

use support::{Central, admin_bin, log_values, run, run_agency, workspace_root};

/// The number a committed central drew, checked from the outside: its
/// `reveal_secret` line's secret is the one its start's `commitment` was
/// made from (SHA-256), the number is what the secret and the store's chain
/// head give (`DrawSecret::winning_number`), and `lottery-admin verify`
/// says the same and finds the store whole.
fn committed_number(log: &str, store: &std::path::Path) -> BetNumber {
    let field = |line: &str, name: &str| -> String {
        let start = line.find(&format!("{name}: ")).expect(name) + name.len() + 2;
        line[start..].split(' ').next().unwrap().to_owned()
    };
    let line = |action: &str| -> String {
        let found: Vec<&str> = log.lines().filter(|l| l.contains(action)).collect();
        assert_eq!(found.len(), 1, "one {action} line in:\n{log}");
        found[0].to_owned()
    };
    let commitment = field(&line("action: commit_winning_number"), "commitment");
    let revealed = line("action: reveal_secret");
    let secret = hex32(&field(&revealed, "secret"));
    let logged_number: u32 = field(&revealed, "winning_number").parse().unwrap();
    assert_eq!(
        hex(&sha2::Sha256::digest(secret)),
        commitment,
        "the secret is the commitment's"
    );
    let verified = support::run(
        std::process::Command::new(support::admin_bin())
            .arg("verify")
            .arg("--store")
            .arg(store),
    );
    assert!(verified.status.success(), "{}", verified.log);
    let report = &verified.stdout;
    let head = report
        .lines()
        .find_map(|l| l.strip_prefix("chain head: "))
        .expect("a chain head line");
    let number = lottery_core::DrawSecret::from_bytes(secret).winning_number(&hex32(head));
    assert_eq!(
        u32::from(number.get()),
        logged_number,
        "the logged number is the derived one"
    );
    assert!(
        report.contains(&format!("commitment: {commitment}")),
        "{report}"
    );
    assert!(
        report.contains(&format!("winning number {number}:")),
        "{report}"
    );
    number
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

/// The course's data set and what the course expects of it.
const COURSE_WINNERS: [usize; 5] = [2, 3, 3, 2, 0];
const COURSE_BETS: u64 = 78_697;

fn read_bets(path: &PathBuf) -> Vec<Bet> {
    AgencyFile::open(path)
        .unwrap()
        .map(|bet| bet.expect("the input is valid"))
        .collect()
}

fn multiset(bets: impl IntoIterator<Item = Bet>) -> HashMap<Bet, usize> {
    let mut counts = HashMap::new();
    for bet in bets {
        *counts.entry(bet).or_insert(0) += 1;
    }
    counts
}

/// How the central runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Plain,
    Tls,
    /// `--winning-number committed` and `--receipt-key`: the number is known
    /// only at the draw, and every agency keeps a receipt of every answer.
    Committed,
}

#[test]
fn five_agencies_on_the_course_data_get_their_winners_and_every_bet_is_stored_once() {
    course_run(Mode::Plain);
}

#[test]
fn five_agencies_on_the_course_data_with_receipts_and_a_committed_number_get_the_winners_the_revealed_secret_gives()
 {
    course_run(Mode::Committed);
}

/// The same run with every agency over mutual TLS (certificates written as
/// `lottery-admin certs` writes them): the same winners, and each agency's
/// rows in `bets.csv` byte for byte what the plaintext protocol stores.
#[test]
fn five_agencies_on_the_course_data_over_mutual_tls_get_the_same_winners_and_rows() {
    course_run(Mode::Tls);
}

fn course_run(mode: Mode) {
    let tls = mode == Mode::Tls;
    let shared = workspace_root().join("../shared/data");
    let generated = tempfile::tempdir().unwrap();
    let course = shared.join("agency-1.csv").is_file();
    let files: Vec<PathBuf> = if course {
        eprintln!(
            "acceptance: running on the course data set in {}",
            shared.display()
        );
        (1..=5)
            .map(|id| shared.join(format!("agency-{id}.csv")))
            .collect()
    } else {
        eprintln!(
            "acceptance: {} not found: running on the synthetic data set instead",
            shared.display()
        );
        SyntheticDataSet::default()
            .write_agency_files(generated.path())
            .unwrap()
    };
    let inputs: Vec<Vec<Bet>> = files.iter().map(read_bets).collect();
    let winners_on = |number: BetNumber| -> Vec<usize> {
        inputs
            .iter()
            .map(|bets| bets.iter().filter(|bet| bet.number == number).count())
            .collect()
    };
    let mut expected_winners = winners_on(BetNumber::DEFAULT_WINNING);
    let total: u64 = inputs.iter().map(|bets| bets.len() as u64).sum();
    if course {
        assert_eq!(expected_winners, COURSE_WINNERS, "the course data changed");
        assert_eq!(total, COURSE_BETS, "the course data changed");
    }

    // `lottery-admin keys`: the central's receipt key and its public half.
    let keys_dir = tempfile::tempdir().unwrap();
    let keys = run(Command::new(admin_bin())
        .args(["keys", "--out"])
        .arg(keys_dir.path()));
    assert!(keys.status.success(), "{}{}", keys.stdout, keys.log);
    let receipt_private = keys_dir.path().join("receipt-key.pem");
    let receipt_public = keys_dir.path().join("receipt-pubkey.pem");
    let receipt_file = |agency: AgencyId| keys_dir.path().join(format!("receipts-{agency}.jsonl"));

    let pki_dir = tempfile::tempdir().unwrap();
    let ids: Vec<AgencyId> = (1..=5).map(|id| AgencyId::new(id).unwrap()).collect();
    let pki = lottery_tls::write_pki(pki_dir.path(), &ids, &["localhost".to_owned()]).unwrap();
    let path = |path: PathBuf| path.to_str().unwrap().to_owned();
    let central = if tls {
        let (cert, key) = pki.server();
        let (cert, key, ca) = (path(cert), path(key), path(pki.ca()));
        Central::start_with(
            5,
            &[
                "--tls-cert",
                &cert,
                "--tls-key",
                &key,
                "--tls-client-ca",
                &ca,
            ],
        )
    } else if mode == Mode::Committed {
        let key = path(receipt_private.clone());
        Central::start_with(5, &["--winning-number", "committed", "--receipt-key", &key])
    } else {
        Central::start(5)
    };
    let agencies: Vec<_> = files
        .iter()
        .zip(&ids)
        .map(|(file, &agency)| {
            let mut args: Vec<String> = ["--id", &agency.to_string(), "--server"]
                .map(str::to_owned)
                .to_vec();
            args.extend([central.address(), "--data".to_owned(), path(file.clone())]);
            if tls {
                let (cert, key) = pki.agency(agency);
                args.extend([
                    "--tls-ca".to_owned(),
                    path(pki.ca()),
                    "--tls-cert".to_owned(),
                ]);
                args.extend([path(cert), "--tls-key".to_owned(), path(key)]);
                args.extend(["--tls-server-name".to_owned(), "localhost".to_owned()]);
            }
            if mode == Mode::Committed {
                args.extend(["--receipt-pubkey".to_owned(), path(receipt_public.clone())]);
                args.extend(["--receipts".to_owned(), path(receipt_file(agency))]);
            }
            std::thread::spawn(move || {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                run_agency(&args, &[])
            })
        })
        .collect();
    let mut winners = Vec::new();
    for (index, agency) in agencies.into_iter().enumerate() {
        let output = agency.join().unwrap();
        assert!(
            output.status.success(),
            "agency {} failed:\n{}",
            index + 1,
            output.log
        );
        let lines = log_values(
            &output.log,
            "action: consulta_ganadores | result: success | cant_ganadores: ",
        );
        assert_eq!(lines.len(), 1, "agency {}: {}", index + 1, output.log);
        winners.push(lines[0] as usize);
    }
    let exited = central.wait_for_exit();
    let log = &exited.log;
    if mode == Mode::Committed {
        let number = committed_number(log, &exited.store);
        expected_winners = winners_on(number);
        eprintln!(
            "acceptance: the committed draw's number is {number}: winners {expected_winners:?}"
        );
    }
    assert_eq!(winners, expected_winners);

    assert_eq!(
        log.matches("action: sorteo | result: success").count(),
        1,
        "{log}"
    );
    let received: u64 = log_values(
        log,
        "action: apuesta_recibida | result: success | cantidad: ",
    )
    .iter()
    .sum();
    assert_eq!(received, total);
    assert!(
        !log.contains("action: apuesta_recibida | result: fail"),
        "{log}"
    );

    if tls {
        assert!(log.contains("tls: mutual"), "{log}");
    }
    if mode == Mode::Committed {
        // Every agency holds a receipt of its welcome, of each batch, of its
        // finish and of the draw, and every one of them holds against the
        // store.
        let files: Vec<PathBuf> = ids.iter().map(|&agency| receipt_file(agency)).collect();
        for file in &files {
            let kinds: Vec<&str> = std::fs::read_to_string(file)
                .unwrap()
                .lines()
                .map(
                    |line| match Receipt::from_json_line(line).unwrap().subject {
                        ReceiptSubject::Welcome { .. } => "welcome",
                        ReceiptSubject::Batch { .. } => "batch",
                        ReceiptSubject::Finish { .. } => "finish",
                        ReceiptSubject::Draw { .. } => "draw",
                        _ => "another kind",
                    },
                )
                .collect();
            let shape = (
                kinds.first(),
                kinds.last(),
                kinds.contains(&"batch"),
                kinds.contains(&"finish"),
            );
            assert_eq!(
                shape,
                (Some(&"welcome"), Some(&"draw"), true, true),
                "{}: {kinds:?}",
                file.display()
            );
        }
        let verify = run(Command::new(admin_bin())
            .arg("verify")
            .arg("--store")
            .arg(&exited.store)
            .arg("--pubkey")
            .arg(&receipt_public)
            .arg("--receipts")
            .args(&files));
        assert!(verify.status.success(), "{}{}", verify.stdout, verify.log);
    }
    let mut stored: HashMap<AgencyId, Vec<Bet>> = HashMap::new();
    let mut stored_bytes: HashMap<AgencyId, Vec<u8>> = HashMap::new();
    let store_bytes = std::fs::read(&exited.store).unwrap();
    for (line, row) in store_bytes
        .split_inclusive(|&byte| byte == b'\n')
        .zip(StoreRows::new(store_bytes.as_slice()))
    {
        let row = row.expect("bets.csv rows parse");
        stored_bytes
            .entry(row.agency)
            .or_default()
            .extend_from_slice(line);
        stored.entry(row.agency).or_default().push(row.bet);
    }
    // Byte for byte: each agency's rows, in its order, are the rows the
    // store's one encoder writes for its input.
    for (index, input) in inputs.iter().enumerate() {
        let agency = ids[index];
        let mut expected = Vec::new();
        lottery_bet::encode_store_rows(agency, input, &mut expected);
        assert!(
            stored_bytes.get(&agency) == Some(&expected),
            "agency {agency}: its rows in bets.csv are not the bytes its input encodes to"
        );
    }
    assert_eq!(stored.len(), 5);
    for (index, input) in inputs.into_iter().enumerate() {
        let agency = AgencyId::new(index as u32 + 1).unwrap();
        let held = stored.remove(&agency).unwrap_or_default();
        assert_eq!(held.len(), input.len(), "agency {agency}");
        assert!(
            multiset(held) == multiset(input),
            "agency {agency}: bets.csv differs from its input"
        );
    }
}
