//! Receipts (issue 25), as processes: a central with `--receipt-key`,
//! agencies with `--receipt-pubkey` and `--receipts FILE`, and
//! `lottery-admin keys` and `verify --receipts`. What a receipt proves is in
//! SECURITY.md ("Receipts"); its JSON line is in lottery-core/STORE.md.
//! Also on PostgreSQL (with `LOTTERY_TEST_POSTGRES`): two centrals with keys
//! of their own sharing one schema, every receipt checked against the one
//! chain, and an edit made with SQL naming the receipt it breaks.

#[path = "../../lottery-pg/tests/common/mod.rs"]
mod pg_common;
mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use sha2::{Digest, Sha256};

use lottery_bet::{AgencyId, ResumePoint};
use lottery_net::{
    AgencyFrame, AgencyMessage, CentralMessage, ClientConfig, Connection, DEFAULT_MAX_FRAME,
    Decoder, WireBet, encode_central_message,
};
use lottery_tls::{ChainStatement, Receipt, ReceiptKey, ReceiptSubject, WinningRule};
use support::{Central, Exited, Output, admin_bin, run, run_agency};

/// Bets per agency, in batches of at most [`BATCH`]: three batches each.
const BETS: u64 = 7;
const BATCH: &str = "3";

/// `lottery-admin keys --out DIR/NAME`: the private and the public key.
fn keys(dir: &Path, name: &str) -> (String, String) {
    let out = dir.join(name);
    let output = run(Command::new(admin_bin()).args(["keys", "--out"]).arg(&out));
    assert!(output.status.success(), "{}{}", output.stdout, output.log);
    let private = out.join("receipt-key.pem");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&private).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the signing key is its owner's only");
    }
    (
        private.display().to_string(),
        out.join("receipt-pubkey.pem").display().to_string(),
    )
}

/// Agency `id`'s input in `dir`: [`BETS`] bets, one of them (the agency's
/// first) playing the default winning number.
fn agency_file(dir: &Path, id: u32) -> PathBuf {
    let path = dir.join(format!("agency-{id}.csv"));
    let rows: String = (0..BETS)
        .map(|index| {
            // Four digits each: an edit to 7574 keeps every offset.
            let number = if index == 0 { 7574 } else { 1000 + index };
            format!("Ana,Paz,{id}00{index},1990-02-03,{number}\n")
        })
        .collect();
    std::fs::write(&path, rows).unwrap();
    path
}

/// Runs agency `id` against `central` with `extra` flags.
fn agency(central: &Central, dir: &Path, id: u32, extra: &[&str]) -> Output {
    agency_at(&central.address(), dir, id, extra)
}

/// Runs agency `id` against the central at `server` with `extra` flags.
fn agency_at(server: &str, dir: &Path, id: u32, extra: &[&str]) -> Output {
    let data = agency_file(dir, id);
    let id = id.to_string();
    let server = server.to_owned();
    let mut args = vec![
        "--id",
        &id,
        "--server",
        &server,
        "--batch-max-amount",
        BATCH,
    ];
    let data = data.display().to_string();
    args.extend(["--data", &data]);
    args.extend(extra);
    run_agency(&args, &[])
}

/// The receipts in `file`, in order.
fn receipts(file: &Path) -> Vec<Receipt> {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .map(|line| Receipt::from_json_line(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

/// A lottery of `agencies` agencies run with receipts to its draw: the
/// central (exited), and each agency's receipts file, in `dir`.
fn lottery_with_receipts(dir: &Path, agencies: u32) -> (Exited, String, Vec<PathBuf>) {
    let (exited, public, files) = lottery_with_receipts_and(dir, agencies, &[]);
    for log in &exited.1 {
        assert!(
            log.contains("action: consulta_ganadores | result: success | cant_ganadores: 1"),
            "{log}"
        );
    }
    (exited.0, public, files)
}

/// [`lottery_with_receipts`] with `flags` for the central, also giving each
/// agency's log (its winners are whatever the rules make them).
fn lottery_with_receipts_and(
    dir: &Path,
    agencies: u32,
    flags: &[&str],
) -> ((Exited, Vec<String>), String, Vec<PathBuf>) {
    let (private, public) = keys(dir, "keys");
    let mut central_flags = vec!["--receipt-key", &private];
    central_flags.extend(flags);
    let central = Central::start_with(agencies, &central_flags);
    let files: Vec<PathBuf> = (1..=agencies)
        .map(|id| dir.join(format!("receipts-{id}.jsonl")))
        .collect();
    let runs: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (1..=agencies)
            .map(|id| {
                let (central, public, file) = (&central, &public, &files[id as usize - 1]);
                scope.spawn(move || {
                    let file = file.display().to_string();
                    agency(
                        central,
                        dir,
                        id,
                        &["--receipt-pubkey", public, "--receipts", &file],
                    )
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for run in &runs {
        assert!(run.status.success(), "{}", run.log);
    }
    let exited = central.wait_for_exit();
    let logs = runs.into_iter().map(|run| run.log).collect();
    ((exited, logs), public, files)
}

#[test]
fn every_ack_and_finish_of_a_receipts_agency_carries_a_receipt_signed_by_the_central() {
    let dir = tempfile::tempdir().unwrap();
    let (exited, _, files) = lottery_with_receipts(dir.path(), 3);
    assert!(
        exited
            .log
            .contains("action: receipts | result: success | receipts: on | public_key: "),
        "{}",
        exited.log
    );
    for (index, file) in files.iter().enumerate() {
        let agency = AgencyId::new(index as u32 + 1).unwrap();
        let receipts = receipts(file);
        let subjects: Vec<_> = receipts.iter().map(|r| r.subject).collect();
        assert_eq!(
            subjects.len(),
            6,
            "the welcome, three batches, the finish and the draw: {subjects:?}"
        );
        assert_eq!(subjects[0], ReceiptSubject::Welcome { bets: 0 });
        for (batch, subject) in subjects[1..4].iter().enumerate() {
            let ReceiptSubject::Batch {
                batch: number,
                digest,
            } = subject
            else {
                panic!("{subject:?}");
            };
            assert_eq!(*number, batch as u64 + 1);
            assert_eq!(digest.bets(), if batch < 2 { 3 } else { 1 });
        }
        assert_eq!(subjects[4], ReceiptSubject::Finish { bets: BETS });
        let ReceiptSubject::Draw {
            bets,
            winners,
            winning_number,
            secret,
        } = subjects[5]
        else {
            panic!("{subjects:?}");
        };
        assert_eq!(bets, 3 * BETS);
        assert_eq!(winners, lottery_tls::winners_digest(&[1, 1, 1]));
        assert_eq!((winning_number, secret), (7574, None));
        let mut last = 0;
        for receipt in &receipts {
            assert_eq!(receipt.agency, agency);
            let statement = receipt.head.statement;
            assert_eq!(
                (statement.agencies, statement.winning),
                (3, WinningRule::Fixed(7574))
            );
            // One head covers every ack of a group commit: signed once.
            assert!(
                statement.position >= last,
                "heads never go back: {receipts:?}"
            );
            last = statement.position;
        }
    }
}

#[test]
fn a_committed_lottery_signs_its_commitment_in_every_receipt_and_reveals_the_secret_in_its_draw() {
    let dir = tempfile::tempdir().unwrap();
    let ((exited, logs), public, files) =
        lottery_with_receipts_and(dir.path(), 2, &["--winning-number", "committed"]);
    let central_commitment = exited
        .log
        .lines()
        .find_map(|line| {
            line.split("action: commit_winning_number | result: success | commitment: ")
                .nth(1)
                .map(|rest| rest.split(' ').next().unwrap().to_owned())
        })
        .unwrap_or_else(|| panic!("the central commits: {}", exited.log));
    let mut draws = Vec::new();
    for (file, log) in files.iter().zip(&logs) {
        let receipts = receipts(file);
        assert_eq!(receipts.len(), 6, "{receipts:?}");
        // The first line is the welcome's, with the commitment: held before
        // any bet was sent.
        assert_eq!(receipts[0].subject, ReceiptSubject::Welcome { bets: 0 });
        let WinningRule::Committed(commitment) = receipts[0].head.statement.winning else {
            panic!("{receipts:?}");
        };
        assert_eq!(hex(&commitment), central_commitment);
        assert!(
            receipts
                .iter()
                .all(|r| r.head.statement.winning == WinningRule::Committed(commitment)),
            "one commitment from the welcome on: {receipts:?}"
        );
        assert!(
            receipts[0].head.statement.position <= receipts[1].head.statement.position,
            "the welcome's head comes before the first ack's: {receipts:?}"
        );
        // Logged at the handshake, before the first batch's ack.
        let logged = format!(
            "action: commitment | result: success | agency: {} | commitment: {} | position: {}",
            receipts[0].agency,
            hex(&commitment),
            receipts[0].head.statement.position
        );
        let at = log
            .find(&logged)
            .unwrap_or_else(|| panic!("{logged}: {log}"));
        let sending = log.find("action: send_bets").expect("a send_bets line");
        assert!(at < sending, "{log}");
        let draw = receipts[5].draw_statement().expect("the last is the draw");
        let secret = draw.secret.expect("a committed draw reveals its secret");
        assert_eq!(<[u8; 32]>::from(Sha256::digest(secret)), commitment);
        let derived =
            lottery_core::DrawSecret::from_bytes(secret).winning_number(&draw.chain.chain);
        assert_eq!(derived.get(), draw.winning_number);
        draws.push(draw);
    }
    assert_eq!(draws[0], draws[1], "every agency gets the same signed draw");
    let output = verify(&exited.store, Some((&files, &public)));
    assert!(output.status.success(), "{}{}", output.stdout, output.log);
    assert!(
        output
            .stdout
            .contains(&format!("secret: {}", hex(&draws[0].secret.unwrap()))),
        "{}",
        output.stdout
    );
    for file in &files {
        let line = format!("receipts: {}: 6 receipts hold", file.display());
        assert!(output.stdout.contains(&line), "{}", output.stdout);
    }
    // A manifest whose secret is another one is refused (by the store's own
    // check of the secret against its commitment, or by the receipts).
    let manifest = std::fs::read_to_string(sibling(&exited.store, ".lottery")).unwrap();
    let secret = hex(&draws[0].secret.unwrap());
    let other = hex(&[0x11; 32]);
    std::fs::write(
        sibling(&exited.store, ".lottery"),
        manifest.replace(&secret, &other),
    )
    .unwrap();
    let output = verify(&exited.store, Some((&files, &public)));
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}{}",
        output.stdout,
        output.log
    );
}

/// `lottery-admin verify --store STORE`, with `--receipts FILES --pubkey
/// PUBKEY` when `receipts` is given.
fn verify(store: &Path, receipts: Option<(&[PathBuf], &str)>) -> Output {
    let mut command = Command::new(admin_bin());
    command.arg("verify").arg("--store").arg(store);
    if let Some((files, pubkey)) = receipts {
        command
            .arg("--receipts")
            .args(files)
            .args(["--pubkey", pubkey]);
    }
    run(&mut command)
}

#[test]
fn verify_with_receipts_says_every_receipt_holds_on_an_untouched_store() {
    let dir = tempfile::tempdir().unwrap();
    let (exited, public, files) = lottery_with_receipts(dir.path(), 3);
    let output = verify(&exited.store, Some((&files, &public)));
    assert!(output.status.success(), "{}{}", output.stdout, output.log);
    assert!(output.stdout.contains("result: whole"), "{}", output.stdout);
    for file in &files {
        let line = format!("receipts: {}: 6 receipts hold", file.display());
        assert!(output.stdout.contains(&line), "{}", output.stdout);
    }
    // Another key's receipts hold nothing.
    let (_, other) = keys(dir.path(), "other");
    let output = verify(&exited.store, Some((&files, &other)));
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}{}",
        output.stdout,
        output.log
    );
    assert!(output.log.contains("does not verify"), "{}", output.log);
}

/// The store's three files copied to a new directory `dir/name`.
fn copy_store(store: &Path, dir: &Path, name: &str) -> PathBuf {
    let to = dir.join(name);
    std::fs::create_dir(&to).unwrap();
    for suffix in ["", ".journal", ".lottery"] {
        let file = format!("bets.csv{suffix}");
        std::fs::copy(store.with_file_name(&file), to.join(&file)).unwrap();
    }
    to.join("bets.csv")
}

fn sibling(store: &Path, suffix: &str) -> PathBuf {
    store.with_file_name(format!("bets.csv{suffix}"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The third edit, as someone who can write the store's files
/// makes it: a row of agency 1 plays 7574 instead of 1001, its batch's
/// CRC32C and every chain link after it recomputed (lottery-core/STORE.md),
/// and the draw line given the new head and one more winner.
fn forge_a_winner(store: &Path) {
    let mut rows = std::fs::read(store).unwrap();
    let (from, to) = (b",1990-02-03,1001\r\n", b",1990-02-03,7574\r\n");
    let at = rows
        .windows(from.len())
        .position(|window| window == from)
        .expect("a row playing 1001");
    rows[at..at + to.len()].copy_from_slice(to);
    let line_start = rows[..at]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let agency: usize = std::str::from_utf8(&rows[line_start..at])
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    std::fs::write(store, &rows).unwrap();
    let journal = std::fs::read_to_string(sibling(store, ".journal")).unwrap();
    let mut lines = journal.lines();
    let header = lines.next().unwrap();
    let mut link: [u8; 32] = Sha256::digest(format!("{header}\n")).into();
    let mut written = format!("{header}\n");
    let mut end = 0usize;
    for line in lines {
        let words = &line[..line.rfind(' ').unwrap()];
        let mut hasher = Sha256::new();
        hasher.update(link);
        hasher.update(words.as_bytes());
        if words.starts_with("batch ") {
            let next: usize = words.rsplit(' ').next().unwrap().parse().unwrap();
            hasher.update(crc32c::crc32c(&rows[end..next]).to_be_bytes());
            end = next;
        }
        link = hasher.finalize().into();
        written.push_str(&format!("{words} {}\n", hex(&link)));
    }
    std::fs::write(sibling(store, ".journal"), written).unwrap();
    let manifest = std::fs::read_to_string(sibling(store, ".lottery")).unwrap();
    let forged: String = manifest
        .lines()
        .map(|line| match line.strip_prefix("draw ") {
            Some(draw) => {
                let fields: Vec<&str> = draw.split(' ').collect();
                let mut winners: Vec<u64> =
                    fields[3].split(',').map(|w| w.parse().unwrap()).collect();
                winners[agency - 1] += 1;
                let winners: Vec<String> = winners.iter().map(u64::to_string).collect();
                format!(
                    "draw {} {} {} {}\n",
                    fields[0],
                    fields[1],
                    hex(&link),
                    winners.join(",")
                )
            }
            None => format!("{line}\n"),
        })
        .collect();
    std::fs::write(sibling(store, ".lottery"), forged).unwrap();
}

#[test]
fn each_edit_the_chain_cannot_see_is_refused_by_the_receipts_naming_the_receipt_and_agency() {
    let dir = tempfile::tempdir().unwrap();
    let (exited, public, files) = lottery_with_receipts(dir.path(), 3);
    let manifest = std::fs::read_to_string(sibling(&exited.store, ".lottery")).unwrap();
    assert!(manifest.contains("\ndraw "), "{manifest}");

    // 1. The journal's last line (the last finish) and the draw line gone:
    // the central would reopen the lottery.
    let reopened = copy_store(&exited.store, dir.path(), "reopened");
    let journal = std::fs::read_to_string(sibling(&reopened, ".journal")).unwrap();
    let last = journal.trim_end().rsplit('\n').next().unwrap().to_owned();
    assert!(last.starts_with("finish "), "{last}");
    let last_agency = last.split(' ').nth(1).unwrap().to_owned();
    std::fs::write(
        sibling(&reopened, ".journal"),
        &journal[..journal.len() - last.len() - 1],
    )
    .unwrap();
    let without_draw: String = manifest
        .lines()
        .filter(|line| !line.starts_with("draw "))
        .map(|line| format!("{line}\n"))
        .collect();
    std::fs::write(sibling(&reopened, ".lottery"), &without_draw).unwrap();

    // 2. The manifest rewritten with another winning number, no draw: the
    // central would draw other winners over the same rows.
    let renumbered = copy_store(&exited.store, dir.path(), "renumbered");
    std::fs::write(
        sibling(&renumbered, ".lottery"),
        "lottery-store 1\nrules 3 1033\n",
    )
    .unwrap();

    // 3. A row made a winner, its checksums recomputed.
    let forged = copy_store(&exited.store, dir.path(), "forged");
    forge_a_winner(&forged);

    // The last finish's receipt says its record is gone; the draw's, that
    // the draw line is: whichever comes first in the files.
    let gone = [
        "records it had committed are gone".to_owned(),
        "its draw line was cut".to_owned(),
    ];
    let rewritten = ["its manifest (bets.csv.lottery) was rewritten".to_owned()];
    let recomputed = ["is not the one the central signed".to_owned()];
    for (store, says) in [
        (&reopened, &gone[..]),
        (&renumbered, &rewritten[..]),
        (&forged, &recomputed[..]),
    ] {
        let plain = verify(store, None);
        assert!(plain.status.success(), "{}{}", plain.stdout, plain.log);
        assert!(plain.stdout.contains("result: whole"), "{}", plain.stdout);
        let checked = verify(store, Some((&files, &public)));
        assert_eq!(
            checked.status.code(),
            Some(1),
            "{}: {}{}",
            store.display(),
            checked.stdout,
            checked.log
        );
        let error = checked.log.trim_end();
        assert!(
            says.iter().any(|says| error.contains(says.as_str())),
            "{error}"
        );
        assert!(
            error.contains("lottery-admin: verify: the receipt at ")
                && error.contains("receipts-")
                && error.contains(" line ")
                && error.contains("(agency "),
            "names the receipt and the agency: {error}"
        );
    }
    // The finish receipts alone (no draw receipt before them): one whose
    // signed head covers the cut finish is named. That is the last finish's,
    // or another agency's taken in the same group commit (its head, signed
    // once for the group, covers the last finish too).
    let files: Vec<PathBuf> = files
        .iter()
        .map(|file| {
            let only_finish = dir.path().join(format!(
                "finish-{}",
                file.file_name().unwrap().to_str().unwrap()
            ));
            let text = std::fs::read_to_string(file).unwrap();
            let finish = text.lines().nth(4).unwrap();
            std::fs::write(&only_finish, format!("{finish}\n")).unwrap();
            only_finish
        })
        .collect();
    let checked = verify(&reopened, Some((&files, &public)));
    assert_eq!(checked.status.code(), Some(1), "{}", checked.log);
    let named = (1..=3).any(|agency| {
        checked.log.contains(&format!(
            "finish-receipts-{agency}.jsonl line 1 (agency {agency}, its finish with {BETS} bets) does not hold: the central signed its chain at record"
        ))
    });
    assert!(
        named && checked.log.contains("records it had committed are gone"),
        "a finish receipt covering the cut finish (agency {last_agency}'s): {}",
        checked.log
    );
}

#[test]
fn an_agency_refuses_a_welcome_signed_with_another_key_before_it_sends_any_batch() {
    let dir = tempfile::tempdir().unwrap();
    let (private, _) = keys(dir.path(), "central");
    let (_, other) = keys(dir.path(), "other");
    let central = Central::start_with(1, &["--receipt-key", &private]);
    let file = dir.path().join("receipts.jsonl");
    let output = agency(
        &central,
        dir.path(),
        1,
        &[
            "--receipt-pubkey",
            &other,
            "--receipts",
            &file.display().to_string(),
        ],
    );
    assert!(!output.status.success(), "{}", output.log);
    let failure = support::exit_failure(&output.log);
    assert!(
        failure.ends_with(
            "the central's receipt for the welcome of agency 1 does not hold: the signature of the chain head at position 0 does not verify under the central's public key"
        ),
        "{failure}"
    );
    assert!(!output.log.contains("send_bets"), "{}", output.log);
    assert!(!output.log.contains("consulta_ganadores"), "{}", output.log);
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "",
        "no receipt kept"
    );
    // The central stored nothing (that the agency sent no frame after its
    // `Hello` is the scripted central's test below).
    let mut central = central;
    central.kill();
    let report = verify(&central.store(), None);
    assert!(report.stdout.contains("\nbets: 0\n"), "{}", report.stdout);
}

#[test]
fn an_agency_without_the_public_key_gets_the_acks_of_version_2_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let (private, _) = keys(dir.path(), "keys");
    let central = Central::start_with(1, &["--receipt-key", &private]);
    // The welcome, as bytes: version 2's 27-byte `Welcome`, no head.
    let mut raw = TcpStream::connect(central.address()).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut hello = Vec::new();
    lottery_net::encode_agency_message(
        &AgencyMessage::Hello {
            version: lottery_net::PROTOCOL_VERSION,
            agency: 1,
        },
        DEFAULT_MAX_FRAME,
        &mut hello,
    )
    .unwrap();
    raw.write_all(&hello).unwrap();
    let mut welcome = [0; 27];
    raw.read_exact(&mut welcome).unwrap();
    assert_eq!(
        welcome,
        [
            0, 0, 0, 23, 0x81, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
        ],
        "version 2's Welcome: nothing stored, no CRC"
    );
    drop(raw);
    let config = ClientConfig::new(central.address(), AgencyId::new(1).unwrap());
    let (mut connection, _) = Connection::open(&config).expect("a version 2 handshake");
    assert_eq!(connection.welcome_receipt(), None);
    let bets = vec![WireBet {
        first_name: "Ana".into(),
        last_name: "Paz".into(),
        document: "1".into(),
        birthdate: "1990-02-03".into(),
        number: 12,
    }];
    connection
        .send(&AgencyMessage::Batch { batch: 1, bets })
        .unwrap();
    let ack = connection.receive().unwrap();
    assert_eq!(
        ack,
        CentralMessage::Ack {
            batch: 1,
            bets_stored: 1
        }
    );
    let mut bytes = Vec::new();
    encode_central_message(&ack, DEFAULT_MAX_FRAME, &mut bytes).unwrap();
    assert_eq!(
        bytes.len(),
        4 + 17,
        "version 2's Ack: 17 bytes after the length"
    );
    connection
        .send(&AgencyMessage::Finish { bets_sent: 1 })
        .unwrap();
    assert_eq!(
        connection.receive().unwrap(),
        CentralMessage::Finished { bets_stored: 1 }
    );
    // And the program, as the course runs it.
    let other = tempfile::tempdir().unwrap();
    let (private, _) = keys(other.path(), "keys");
    let central = Central::start_with(1, &["--receipt-key", &private]);
    let output = agency(&central, other.path(), 1, &[]);
    assert!(output.status.success(), "{}", output.log);
    assert!(output.log.contains("cant_ganadores: 1"), "{}", output.log);
}

#[test]
fn a_central_without_a_key_refuses_a_receipts_agency_saying_it_signs_none() {
    let dir = tempfile::tempdir().unwrap();
    let (_, public) = keys(dir.path(), "keys");
    let central = Central::start(1);
    assert!(
        central
            .log()
            .contains("action: receipts | result: success | receipts: off"),
        "{}",
        central.log()
    );
    let output = agency(&central, dir.path(), 1, &["--receipt-pubkey", &public]);
    assert!(!output.status.success(), "{}", output.log);
    assert!(
        output.log.contains("this central signs no receipts"),
        "{}",
        output.log
    );
}

#[test]
fn the_load_generator_asks_for_receipts_and_takes_the_signed_answers() {
    let dir = tempfile::tempdir().unwrap();
    let (private, _) = keys(dir.path(), "keys");
    let central = Central::start_with(2, &["--receipt-key", &private]);
    let output = run(Command::new(env!("CARGO_BIN_EXE_lottery-loadgen"))
        .args(["--server", &central.address(), "--agencies", "2"])
        .args([
            "--bets-per-agency",
            "300",
            "--batch-size",
            "50",
            "--receipts",
        ])
        .args(["--json", "--progress", "off"]));
    assert!(output.status.success(), "{}{}", output.stdout, output.log);
    assert!(output.stdout.contains("\"bets\":600"), "{}", output.stdout);
    let exited = central.wait_for_exit();
    assert!(
        exited
            .log
            .contains("action: receipts | result: success | receipts: on"),
        "{}",
        exited.log
    );
}

#[test]
fn the_welcome_of_a_fresh_store_signs_position_0_and_verify_takes_it_against_the_rules() {
    let dir = tempfile::tempdir().unwrap();
    let (exited, public, files) = lottery_with_receipts(dir.path(), 1);
    let receipts = receipts(&files[0]);
    let welcome = receipts[0];
    assert_eq!(welcome.subject, ReceiptSubject::Welcome { bets: 0 });
    // No record before the agency's first batch: the link before the
    // first record, SHA-256 of the journal's header (lottery-core/STORE.md).
    let start: [u8; 32] = Sha256::digest(b"lottery-journal 2\n").into();
    assert_eq!(welcome.head.statement.position, 0);
    assert_eq!(welcome.head.statement.chain, start);
    assert_eq!(lottery_core::verify::chain_start(), start);
    let line = std::fs::read_to_string(&files[0]).unwrap();
    assert!(
        line.starts_with("{\"receipt\":\"welcome\",\"agency\":1,\"bets\":0,"),
        "{line}"
    );
    let only_welcome = dir.path().join("welcome.jsonl");
    std::fs::write(
        &only_welcome,
        line.lines().next().unwrap().to_owned() + "\n",
    )
    .unwrap();
    let output = verify(
        &exited.store,
        Some((std::slice::from_ref(&only_welcome), &public)),
    );
    assert!(output.status.success(), "{}{}", output.stdout, output.log);
    assert!(
        output.stdout.contains("welcome.jsonl: 1 receipts hold"),
        "{}",
        output.stdout
    );
    // Its rules must be the store's: a manifest rewritten with another
    // number is refused by the welcome alone.
    let renumbered = copy_store(&exited.store, dir.path(), "renumbered");
    std::fs::write(
        sibling(&renumbered, ".lottery"),
        "lottery-store 1\nrules 1 1033\n",
    )
    .unwrap();
    let output = verify(&renumbered, Some((&[only_welcome], &public)));
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}{}",
        output.stdout,
        output.log
    );
    assert!(
        output
            .log
            .contains("(agency 1, its welcome with 0 bets stored) does not hold")
            && output
                .log
                .contains("its manifest (bets.csv.lottery) was rewritten"),
        "{}",
        output.log
    );
}

/// What a scripted central answers an agency's `Hello` and batches with.
#[derive(Clone, Copy)]
enum Hostile {
    /// A `SignedWelcome` signed with another key than the agency's.
    WelcomeOfAnotherKey,
    /// A plain `Welcome`, in a version-3 session.
    PlainWelcome,
    /// A good `SignedWelcome` committing to one number, then acks signed
    /// (with the right key and digest) over another commitment.
    CommitmentChanged,
}

/// A statement of a one-agency committed lottery at `position`.
fn committed(commitment: [u8; 32], position: u64) -> ChainStatement {
    ChainStatement {
        agencies: 1,
        winning: WinningRule::Committed(commitment),
        position,
        chain: [0x42; 32],
    }
}

/// Serves one connection of agency 1 as `hostile` says, signing with
/// `key` (and `other`, another key), until the agency closes it. Returns
/// the names of the frames the agency sent.
fn scripted_central(
    listener: TcpListener,
    hostile: Hostile,
    key: &ReceiptKey,
    other: &ReceiptKey,
) -> Vec<&'static str> {
    let (mut stream, _) = listener.accept().unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut decoder = Decoder::new(DEFAULT_MAX_FRAME);
    let mut received = Vec::new();
    let mut buf = [0u8; 8192];
    let mut stored = 0;
    loop {
        let Some(frame) = decoder.next_agency_frame().unwrap() else {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => return received,
                Ok(read) => decoder.extend(&buf[..read]),
            }
            continue;
        };
        let reply = match frame {
            AgencyFrame::Hello { version, .. } => {
                received.push("Hello");
                assert_eq!(version, lottery_net::RECEIPTS_VERSION);
                let signer = match hostile {
                    Hostile::WelcomeOfAnotherKey => other,
                    _ => key,
                };
                let head = signer.sign(committed([0xc1; 32], 0));
                match hostile {
                    Hostile::PlainWelcome => CentralMessage::Welcome {
                        last_batch: 0,
                        bets_stored: 0,
                        finished: false,
                        rows_crc: None,
                    },
                    _ => CentralMessage::SignedWelcome {
                        resume: ResumePoint::default(),
                        head,
                    },
                }
            }
            AgencyFrame::Batch(batch) => {
                received.push("Batch");
                let bets = batch.bets.expect("valid bets");
                stored += batch.count as u64;
                CentralMessage::SignedAck {
                    batch: batch.batch,
                    bets_stored: stored,
                    digest: lottery_bet::BatchDigest::of(AgencyId::new(1).unwrap(), &bets),
                    head: key.sign(committed([0xc2; 32], 1)),
                }
            }
            _ => {
                received.push("other");
                continue;
            }
        };
        let mut out = Vec::new();
        encode_central_message(&reply, DEFAULT_MAX_FRAME, &mut out).unwrap();
        if stream.write_all(&out).is_err() {
            return received;
        }
    }
}

/// Runs agency 1 (with its receipts file) against a central scripted as
/// `hostile`: its output, the frames it sent, and its receipts file.
fn against(hostile: Hostile) -> (Output, Vec<&'static str>, String) {
    let dir = tempfile::tempdir().unwrap();
    let (private, public) = keys(dir.path(), "central");
    let key = ReceiptKey::load(Path::new(&private)).unwrap();
    let (other, _) = lottery_tls::generate_receipt_keys().unwrap();
    let other = ReceiptKey::from_pem(other.as_bytes(), "other key").unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server = listener.local_addr().unwrap().to_string();
    let file = dir.path().join("receipts.jsonl");
    let (output, received) = std::thread::scope(|scope| {
        let central = scope.spawn(|| scripted_central(listener, hostile, &key, &other));
        let output = agency_at(
            &server,
            dir.path(),
            1,
            &[
                "--receipt-pubkey",
                &public,
                "--receipts",
                &file.display().to_string(),
                "--reconnect-attempts",
                "0",
            ],
        );
        (output, central.join().unwrap())
    });
    let receipts = std::fs::read_to_string(&file).unwrap_or_default();
    (output, received, receipts)
}

#[test]
fn a_central_whose_welcome_is_signed_with_another_key_or_not_at_all_gets_no_batch() {
    for (hostile, says) in [
        (
            Hostile::WelcomeOfAnotherKey,
            "the central's receipt for the welcome of agency 1 does not hold: the signature of the chain head at position 0 does not verify under the central's public key",
        ),
        (
            Hostile::PlainWelcome,
            "the central's receipt for the welcome of agency 1 does not hold: the central answered the handshake without a receipt",
        ),
    ] {
        let (output, received, receipts) = against(hostile);
        assert!(!output.status.success(), "{}", output.log);
        assert!(
            support::exit_failure(&output.log).ends_with(says),
            "{}",
            output.log
        );
        assert_eq!(received, ["Hello"], "nothing after the handshake");
        assert_eq!(receipts, "", "no receipt kept");
        assert!(!output.log.contains("action: commitment"), "{}", output.log);
    }
}

#[test]
fn a_central_that_signs_another_commitment_after_its_welcome_is_refused_at_the_first_ack() {
    let (output, received, receipts) = against(Hostile::CommitmentChanged);
    assert!(!output.status.success(), "{}", output.log);
    let failure = support::exit_failure(&output.log);
    assert!(
        failure.ends_with(&format!(
            "the central's receipt for batch 1 of agency 1 does not hold: it names 1 agencies and a committed winning number (commitment {}), the central's first signed welcome named 1 agencies and a committed winning number (commitment {})",
            hex(&[0xc2; 32]),
            hex(&[0xc1; 32])
        )),
        "{failure}"
    );
    assert!(
        output.log.contains(&format!(
            "action: commitment | result: success | agency: 1 | commitment: {} | position: 0",
            hex(&[0xc1; 32])
        )),
        "{}",
        output.log
    );
    assert_eq!(received.first(), Some(&"Hello"));
    assert!(received.contains(&"Batch"), "{received:?}");
    // Only the welcome's receipt is kept: the refused ack's is not.
    let kept: Vec<Receipt> = receipts
        .lines()
        .map(|line| Receipt::from_json_line(line).unwrap())
        .collect();
    assert_eq!(kept.len(), 1, "{receipts}");
    assert_eq!(kept[0].subject, ReceiptSubject::Welcome { bets: 0 });
    assert_eq!(
        kept[0].head.statement.winning,
        WinningRule::Committed([0xc1; 32])
    );
}

/// `lottery-admin verify --store URL --receipts FILES` with one `--pubkey`
/// per key.
fn verify_keys(store: &str, files: &[PathBuf], pubkeys: &[&str]) -> Output {
    let mut command = Command::new(admin_bin());
    command.args(["verify", "--store", store, "--receipts"]);
    command.args(files);
    for pubkey in pubkeys {
        command.args(["--pubkey", pubkey]);
    }
    run(&mut command)
}

#[test]
fn two_centrals_on_one_postgres_schema_sign_receipts_of_one_chain_that_verify_checks() {
    let Some(base) = pg_common::postgres_url(
        "two_centrals_on_one_postgres_schema_sign_receipts_of_one_chain_that_verify_checks",
    ) else {
        return;
    };
    const AGENCIES: u32 = 4;
    let schema = pg_common::Schema::new(&base);
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    // One key per central: agencies 1 and 3 on A, 2 and 4 on B.
    let (private_a, public_a) = keys(dir, "a");
    let (private_b, public_b) = keys(dir, "b");
    let a = Central::start_on(AGENCIES, Some(schema.url()), &["--receipt-key", &private_a]);
    let b = Central::start_on(AGENCIES, Some(schema.url()), &["--receipt-key", &private_b]);
    let files: Vec<PathBuf> = (1..=AGENCIES)
        .map(|id| dir.join(format!("receipts-{id}.jsonl")))
        .collect();
    let runs: Vec<Output> = std::thread::scope(|scope| {
        let handles: Vec<_> = (1..=AGENCIES)
            .map(|id| {
                let (central, public) = if id % 2 == 1 {
                    (&a, &public_a)
                } else {
                    (&b, &public_b)
                };
                let file = files[id as usize - 1].display().to_string();
                scope.spawn(move || {
                    agency(
                        central,
                        dir,
                        id,
                        &["--receipt-pubkey", public, "--receipts", &file],
                    )
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for run in &runs {
        assert!(run.status.success(), "{}", run.log);
    }
    // Every agency has its winners: the lottery is drawn. (A central that
    // did not draw stays up for agencies yet to ask: stopped here.)
    let (mut a, mut b) = (a, b);
    a.kill();
    b.kill();
    for log in [&a.log(), &b.log()] {
        assert!(
            log.contains("action: receipts | result: success | receipts: on | public_key: "),
            "{log}"
        );
    }
    // Every receipt: the welcome, three batches, the finish, the draw, all
    // on one chain whichever central signed; the draws name the same final
    // head.
    let mut draws = Vec::new();
    for file in &files {
        let receipts = receipts(file);
        assert_eq!(receipts.len(), 6, "{receipts:?}");
        assert!(
            matches!(receipts[0].subject, ReceiptSubject::Welcome { .. }),
            "{receipts:?}"
        );
        draws.push(receipts[5].head.statement);
    }
    assert!(draws.windows(2).all(|pair| pair[0] == pair[1]), "{draws:?}");
    // 12 batches and 4 finishes.
    assert_eq!(draws[0].position, 16);

    let output = verify_keys(schema.url(), &files, &[&public_a, &public_b]);
    assert!(output.status.success(), "{}{}", output.stdout, output.log);
    for line in ["result: whole", "chain: 16 records, every link recomputed"] {
        assert!(output.stdout.contains(line), "{}", output.stdout);
    }
    for file in &files {
        let line = format!("receipts: {}: 6 receipts hold", file.display());
        assert!(output.stdout.contains(&line), "{}", output.stdout);
    }
    // With A's key alone, B's receipts are signed by none of the keys given.
    let output = verify_keys(schema.url(), &files, &[&public_a]);
    assert_eq!(output.status.code(), Some(1), "{}", output.stdout);
    let named = format!(
        "the receipt at {} line 1 (agency 2, its welcome with 0 bets stored) does not hold",
        files[1].display()
    );
    assert!(
        output.log.contains(&named) && output.log.contains("under every key given"),
        "{}",
        output.log
    );

    // A bet's number changed with SQL: the ledger's check names the batch,
    // the receipts the receipt.
    let mut client = schema.client();
    let the_bet = "agency = 2 AND batch = 2 AND position = 1";
    let number: i16 = client
        .query_one(&format!("SELECT number FROM bets WHERE {the_bet}"), &[])
        .unwrap()
        .get(0);
    client
        .batch_execute(&format!("UPDATE bets SET number = 7574 WHERE {the_bet}"))
        .unwrap();
    let output = verify_keys(schema.url(), &files[1..2], &[&public_a, &public_b]);
    assert_eq!(output.status.code(), Some(1), "{}", output.stdout);
    assert!(
        output.log.contains("agency 2's batch 2 holds"),
        "{}",
        output.log
    );
    let named = format!("the receipt at {} line ", files[1].display());
    assert!(
        output.log.contains(&named)
            && output.log.contains("(agency 2, ")
            && output.stdout.contains("receipts: fail"),
        "{}{}",
        output.stdout,
        output.log
    );
    // Its own batch's receipt (line 3, after the welcome and batch 1)
    // fails too, on the bets it names.
    let output = verify_keys(
        schema.url(),
        &[filtered(&files[1], dir, 3)],
        &[&public_a, &public_b],
    );
    assert!(
        output.log.contains("(agency 2, batch 2) does not hold"),
        "{}",
        output.log
    );
    client
        .batch_execute(&format!(
            "UPDATE bets SET number = {number} WHERE {the_bet}"
        ))
        .unwrap();
    let output = verify_keys(schema.url(), &files, &[&public_a, &public_b]);
    assert!(
        output.status.success(),
        "undone: {}{}",
        output.stdout,
        output.log
    );

    // A batch's digest and every link after it rewritten consistently (the
    // edit the ledger's own chain cannot see): the receipts signed before
    // still name the old chain. (A number that does not win: the draw
    // stays what the bets give.)
    let agency = 4;
    client
        .batch_execute(&format!(
            "UPDATE bets SET number = 1999 WHERE agency = {agency} AND batch = 1 AND position = 1"
        ))
        .unwrap();
    rewrite_chain(&mut client, schema.url());
    let output = Command::new(admin_bin())
        .args(["verify", "--store", schema.url()])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "the rewrite is consistent: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let output = verify_keys(schema.url(), &files, &[&public_a, &public_b]);
    assert_eq!(output.status.code(), Some(1), "{}", output.stdout);
    assert!(
        output.log.contains("does not hold")
            && output.log.contains("is not the one the central signed"),
        "{}",
        output.log
    );
}

/// Line `line` (from 1) of the receipts file `file` alone, in a new file.
fn filtered(file: &Path, dir: &Path, line: usize) -> PathBuf {
    let text = std::fs::read_to_string(file).unwrap();
    let out = dir.join(format!("line-{line}.jsonl"));
    std::fs::write(&out, format!("{}\n", text.lines().nth(line - 1).unwrap())).unwrap();
    out
}

/// Rewrites every batch's digest to its bets' and every link after it, as
/// someone with write access to the database and this program's code
/// could: the chain `lottery_pg::ledger_chain` gives, stored.
fn rewrite_chain(client: &mut postgres::Client, url: &str) {
    let found = lottery_pg::ledger_chain(url).unwrap();
    let mut tx = client.transaction().unwrap();
    for entry in &found.chain {
        let link = entry.link.to_vec();
        let position = entry.position as i64;
        match entry.record {
            lottery_core::verify::ChainRecord::Batch { digest, .. } => {
                tx.execute(
                    "UPDATE batches SET link = $1, rows_crc = $2, rows_len = $3 WHERE position = $4",
                    &[
                        &link,
                        &i64::from(digest.rows_crc()),
                        &(digest.rows_len() as i32),
                        &position,
                    ],
                )
                .unwrap();
            }
            _ => {
                tx.execute(
                    "UPDATE finishes SET link = $1 WHERE position = $2",
                    &[&link, &position],
                )
                .unwrap();
            }
        }
    }
    let last = found.chain.last().unwrap();
    tx.execute("UPDATE chain_head SET link = $1", &[&last.link.to_vec()])
        .unwrap();
    tx.commit().unwrap();
}
