//! No program writes through a symbolic link placed at the name of a file
//! it creates: for each such file a link to a victim file is placed first,
//! the real program is run, and the victim is unchanged while the program
//! either refuses, naming the link, or does its job beside it (the link
//! unlinked or replaced, never followed). Before, a new central's manifest
//! was written through `bets.csv.lottery.tmp`, and `lottery-admin export`
//! truncated whatever `OUT.partial` pointed to.
//!
//! The export's tests need `LOTTERY_TEST_POSTGRES` (skipped, saying so,
//! without it).

mod common;
#[path = "../../lottery-pg/tests/common/mod.rs"]
mod pg_common;

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::{SAFETY_TIMEOUT, scratch_dir};
use pg_common::{Schema, postgres_url};

const SERVER: &str = env!("CARGO_BIN_EXE_lottery-server");
const ADMIN: &str = env!("CARGO_BIN_EXE_lottery-admin");

/// What the victim holds: it must still hold exactly this.
const VICTIM: &[u8] = b"precious: must never be overwritten\n";

/// A victim file outside the store's directory, and its path.
fn victim(dir: &Path, name: &str) -> PathBuf {
    let victims = dir.join("victims");
    fs::create_dir_all(&victims).unwrap();
    let path = victims.join(name);
    fs::write(&path, VICTIM).unwrap();
    path
}

fn assert_victim_unchanged(path: &Path) {
    let meta = fs::symlink_metadata(path).expect("the victim is still there");
    assert!(
        meta.is_file(),
        "{} is no longer a plain file",
        path.display()
    );
    assert_eq!(
        fs::read(path).unwrap(),
        VICTIM,
        "{} changed",
        path.display()
    );
}

fn is_link(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|meta| meta.file_type().is_symlink())
}

/// A `lottery-server` on `store`, logging to a file beside the victims.
struct Central {
    child: Child,
    log: PathBuf,
}

impl Central {
    fn start(store: &str, log: PathBuf) -> Self {
        let child = Command::new(SERVER)
            .args([
                "--listen",
                "127.0.0.1:0",
                "--threads",
                "1",
                "--agencies",
                "2",
            ])
            .args(["--store", store, "--log-level", "INFO"])
            .env_remove("LOGGING_LEVEL")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&log).expect("create the log"))
            .spawn()
            .expect("start lottery-server");
        Self { child, log }
    }

    fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `Ok` once it listens, `Err((exit code, log))` when it exits first.
    fn started(&mut self) -> Result<(), (Option<i32>, String)> {
        let deadline = Instant::now() + SAFETY_TIMEOUT;
        loop {
            if self
                .log()
                .contains("action: accept_connections | result: in_progress")
            {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait().expect("poll the child") {
                return Err((status.code(), self.log()));
            }
            assert!(Instant::now() < deadline, "no start:\n{}", self.log());
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGTERM and a clean exit.
    fn stop(mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
        let status = self.child.wait().expect("wait for the central");
        assert!(status.success(), "exit {status}:\n{}", self.log());
    }
}

impl Drop for Central {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The log of a central on `dir/bets.csv`: beside `dir`, outside the store.
fn log_beside(dir: &Path) -> PathBuf {
    dir.parent()
        .expect("a store directory has a parent")
        .join("central.log")
}

/// A central on `dir/bets.csv` that must start; stopped cleanly.
fn start_and_stop(dir: &Path) {
    let store = dir.join("bets.csv").display().to_string();
    let mut central = Central::start(&store, log_beside(dir));
    if let Err((code, log)) = central.started() {
        panic!("the central exited {code:?}:\n{log}");
    }
    central.stop();
}

/// A central on `dir/bets.csv` that must refuse: exit 1 with a line saying
/// `name` is a symbolic link. Returns its log.
fn refused(dir: &Path, name: &str) -> String {
    let store = dir.join("bets.csv").display().to_string();
    let mut central = Central::start(&store, log_beside(dir));
    let Err((code, log)) = central.started() else {
        panic!("the central started through a link at {name}");
    };
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("action: exit | result: fail"), "{log}");
    log
}

#[test]
fn a_new_central_removes_links_at_its_temporary_files_and_writes_through_none() {
    let dir = scratch_dir("no_follow_temporaries");
    let manifest_victim = victim(&dir, "manifest-victim");
    let journal_victim = victim(&dir, "journal-victim");
    let store = dir.join("store");
    fs::create_dir_all(&store).unwrap();
    symlink(&manifest_victim, store.join("bets.csv.lottery.tmp")).unwrap();
    symlink(&journal_victim, store.join("bets.csv.journal.tmp")).unwrap();
    start_and_stop(&store);
    assert_victim_unchanged(&manifest_victim);
    assert_victim_unchanged(&journal_victim);
    for name in ["bets.csv.lottery", "bets.csv.journal"] {
        let path = store.join(name);
        assert!(fs::symlink_metadata(&path).unwrap().is_file(), "{name}");
    }
    assert!(!store.join("bets.csv.lottery.tmp").exists());
    assert!(
        fs::read_to_string(store.join("bets.csv.lottery"))
            .unwrap()
            .contains("rules 2 7574")
    );
    // And the store it made opens again.
    start_and_stop(&store);
}

#[test]
fn a_link_at_the_lock_file_is_refused_naming_it() {
    let dir = scratch_dir("no_follow_lock");
    let victim_path = victim(&dir, "lock-victim");
    let store = dir.join("store");
    fs::create_dir_all(&store).unwrap();
    symlink(&victim_path, store.join("bets.csv.lock")).unwrap();
    let log = refused(&store, "bets.csv.lock");
    assert!(
        log.contains(&format!(
            "{} is a symbolic link, and the store's files are never opened through one",
            store.join("bets.csv.lock").display()
        )),
        "{log}"
    );
    assert_victim_unchanged(&victim_path);
    assert!(!store.join("bets.csv").exists(), "nothing created");
}

#[test]
fn links_at_the_journal_or_manifest_of_a_store_are_refused_and_followed_by_nothing() {
    let dir = scratch_dir("no_follow_journal_manifest");
    let store = dir.join("store");
    fs::create_dir_all(&store).unwrap();
    fs::create_dir_all(dir.join("victims")).unwrap();
    start_and_stop(&store);
    for name in ["bets.csv.journal", "bets.csv.lottery"] {
        // The victim holds the real file's bytes, so that only the link
        // stands between the central and a store it would accept.
        let path = store.join(name);
        let real = fs::read(&path).unwrap();
        let victim_path = dir.join("victims").join(format!("{name}-victim"));
        fs::write(&victim_path, &real).unwrap();
        let kept = store.join(format!("{name}.kept"));
        fs::rename(&path, &kept).unwrap();
        symlink(&victim_path, &path).unwrap();
        let log = refused(&store, name);
        assert!(
            log.contains(&format!("{} is a symbolic link", path.display())),
            "{log}"
        );
        assert_eq!(
            fs::read(&victim_path).unwrap(),
            real,
            "{name}'s victim changed"
        );
        assert!(is_link(&path));
        fs::remove_file(&path).unwrap();
        fs::rename(&kept, &path).unwrap();
    }
    start_and_stop(&store);
}

#[test]
fn a_new_store_is_never_created_through_a_dangling_link() {
    let dir = scratch_dir("no_follow_dangling_store");
    let store = dir.join("store");
    fs::create_dir_all(&store).unwrap();
    let target = dir.join("victims").join("created-elsewhere.csv");
    fs::create_dir_all(target.parent().unwrap()).unwrap();
    symlink(&target, store.join("bets.csv")).unwrap();
    let log = refused(&store, "bets.csv");
    assert!(
        log.contains("it is a symbolic link to") && log.contains("which does not exist"),
        "{log}"
    );
    assert!(
        log.contains("a new store is never created through a link"),
        "{log}"
    );
    assert!(
        !target.exists(),
        "a store was created where the link points"
    );
}

fn admin(args: &[&str]) -> Output {
    Command::new(ADMIN)
        .args(args)
        .output()
        .expect("run lottery-admin")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn export_writes_through_no_link_at_its_partial_or_final_file() {
    let Some(base) = postgres_url("export_writes_through_no_link_at_its_partial_or_final_file")
    else {
        return;
    };
    let dir = scratch_dir("no_follow_export");
    let schema = Schema::new(&base);
    // A central creates the tables and records the rules.
    let mut central = Central::start(schema.url(), dir.join("central.log"));
    if let Err((code, log)) = central.started() {
        panic!("the central exited {code:?}:\n{log}");
    }
    central.stop();
    let partial_victim = victim(&dir, "partial-victim");
    let out_victim = victim(&dir, "out-victim");
    let out = dir.join("bets.csv");
    symlink(&partial_victim, dir.join("bets.csv.partial")).unwrap();
    symlink(&out_victim, &out).unwrap();
    let out_arg = out.display().to_string();
    let output = admin(&["export", "--store", schema.url(), "--out", &out_arg]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(
        text(&output).contains(&format!("exported 0 bets to {out_arg}")),
        "{}",
        text(&output)
    );
    assert_victim_unchanged(&partial_victim);
    assert_victim_unchanged(&out_victim);
    // The link at OUT was replaced by the export itself, not followed.
    assert!(fs::symlink_metadata(&out).unwrap().is_file());
    assert!(!dir.join("bets.csv.partial").exists() && !is_link(&dir.join("bets.csv.partial")));
}

#[test]
fn certs_refuses_links_at_its_outputs_and_writes_nothing() {
    let dir = scratch_dir("no_follow_certs");
    let victim_path = victim(&dir, "key-victim");
    for name in [
        "ca.pem",
        "ca.key",
        "server.pem",
        "server.key",
        "agency-1.pem",
        "agency-2.key",
    ] {
        let out = dir.join(format!("pki-{name}"));
        fs::create_dir_all(&out).unwrap();
        let link = out.join(name);
        // A link to the victim, and, as hard to see, a dangling one.
        for target in [victim_path.clone(), dir.join("victims").join("missing")] {
            symlink(&target, &link).unwrap();
            let out_arg = out.display().to_string();
            let output = admin(&["certs", "--agencies", "2", "--out", &out_arg]);
            let said = text(&output);
            assert_eq!(output.status.code(), Some(1), "{name}: {said}");
            assert!(
                said.contains(name) && said.contains("is a symbolic link"),
                "{said}"
            );
            assert_victim_unchanged(&victim_path);
            assert!(!target.exists() || target == victim_path, "{said}");
            let names: Vec<_> = fs::read_dir(&out)
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            assert_eq!(
                names,
                [std::ffi::OsString::from(name)],
                "nothing else written"
            );
            fs::remove_file(&link).unwrap();
        }
    }
}

#[test]
fn a_link_at_a_quarantine_name_is_skipped_and_the_cut_bytes_go_to_the_next_name() {
    let dir = scratch_dir("no_follow_quarantine");
    let store = dir.join("store");
    fs::create_dir_all(&store).unwrap();
    fs::create_dir_all(dir.join("victims")).unwrap();
    start_and_stop(&store);
    // Bytes past the last committed batch (a torn write): moved to a
    // quarantine file when the store is opened.
    let torn = b"1,Ana,Paz,123,2000-01-01,7\r\n1,Ana,Pa";
    let mut data = fs::OpenOptions::new()
        .append(true)
        .open(store.join("bets.csv"))
        .unwrap();
    std::io::Write::write_all(&mut data, torn).unwrap();
    drop(data);
    let victim_path = victim(&dir, "quarantine-victim");
    symlink(&victim_path, store.join("bets.csv.quarantine-1")).unwrap();
    let log = {
        let path = store.join("bets.csv").display().to_string();
        let mut central = Central::start(&path, log_beside(&store));
        if let Err((code, log)) = central.started() {
            panic!("the central exited {code:?}:\n{log}");
        }
        let log = central.log();
        central.stop();
        log
    };
    assert!(
        log.contains("action: repair_store | result: success")
            && log.contains(&format!(
                "quarantine: {}",
                store.join("bets.csv.quarantine-2").display()
            )),
        "{log}"
    );
    assert_victim_unchanged(&victim_path);
    assert!(is_link(&store.join("bets.csv.quarantine-1")));
    assert_eq!(fs::read(store.join("bets.csv.quarantine-2")).unwrap(), torn);
}
