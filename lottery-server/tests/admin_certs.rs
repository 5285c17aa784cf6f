//! `lottery-admin certs` as a process: the files it writes, their modes,
//! that openssl accepts them, that it never overwrites, and its usage errors.

mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use common::scratch_dir;

const ADMIN: &str = env!("CARGO_BIN_EXE_lottery-admin");

fn certs(args: &[&str]) -> Output {
    Command::new(ADMIN)
        .arg("certs")
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

/// Every file of `dir`, by name, with its bytes.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            let name = entry.file_name().into_string().unwrap();
            (name, fs::read(entry.path()).unwrap())
        })
        .collect();
    files.sort();
    files
}

/// `openssl ARGS` in `dir`: `None` when there is no openssl command.
fn openssl(dir: &Path, args: &[&str]) -> Option<Output> {
    match Command::new("openssl").args(args).current_dir(dir).output() {
        Ok(output) => Some(output),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(error) => panic!("run openssl: {error}"),
    }
}

#[test]
fn certs_writes_a_pki_openssl_accepts_and_never_overwrites_it() {
    let dir = scratch_dir("admin_certs");
    let out = dir.join("pki");
    let out_arg = out.display().to_string();
    let first = certs(&["--agencies", "3", "--out", &out_arg]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    let said = text(&first);
    assert!(said.contains("ca.key"), "{said}");
    assert!(said.contains("keep it offline"), "{said}");
    assert!(said.contains("agency-3.key"), "{said}");

    let files = snapshot(&out);
    let names: Vec<&str> = files.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        [
            "agency-1.key",
            "agency-1.pem",
            "agency-2.key",
            "agency-2.pem",
            "agency-3.key",
            "agency-3.pem",
            "ca.key",
            "ca.pem",
            "receipt-key.pem",
            "receipt-pubkey.pem",
            "server.key",
            "server.pem"
        ]
    );
    #[cfg(unix)]
    for name in &names {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(out.join(name)).unwrap().permissions().mode() & 0o777;
        if name.ends_with(".key") || *name == "receipt-key.pem" {
            assert_eq!(mode, 0o600, "{name} must be readable by its owner only");
        }
    }

    match openssl(
        &out,
        &["verify", "-CAfile", "ca.pem", "server.pem", "agency-1.pem"],
    ) {
        None => println!("skipped the openssl checks: no openssl command on this machine"),
        Some(verified) => {
            assert!(verified.status.success(), "{}", text(&verified));
            let names = openssl(
                &out,
                &[
                    "x509",
                    "-noout",
                    "-ext",
                    "subjectAltName",
                    "-in",
                    "agency-2.pem",
                ],
            )
            .expect("openssl ran a moment ago");
            assert!(names.status.success(), "{}", text(&names));
            let names = text(&names);
            assert!(names.contains("DNS:agency-2"), "{names}");
            let server = openssl(
                &out,
                &[
                    "x509",
                    "-noout",
                    "-ext",
                    "subjectAltName",
                    "-in",
                    "server.pem",
                ],
            )
            .expect("openssl ran a moment ago");
            let server = text(&server);
            assert!(server.contains("DNS:localhost"), "{server}");
            assert!(server.contains("IP Address:127.0.0.1"), "{server}");
        }
    }

    let second = certs(&["--agencies", "3", "--out", &out_arg]);
    assert_eq!(second.status.code(), Some(1), "{}", text(&second));
    let said = text(&second);
    assert!(said.contains("exists already"), "{said}");
    assert!(
        said.contains("ca.pem"),
        "the message names the file: {said}"
    );
    assert_eq!(snapshot(&out), files, "a second run changes nothing");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn certs_takes_the_server_names_it_is_given() {
    let dir = scratch_dir("admin_certs_names");
    let out = dir.join("pki");
    let written = certs(&[
        "--agencies",
        "1",
        "--out",
        &out.display().to_string(),
        "--server-name",
        "central.example.org",
        "--server-name",
        "10.0.0.7",
    ]);
    assert_eq!(written.status.code(), Some(0), "{}", text(&written));
    match openssl(
        &out,
        &[
            "x509",
            "-noout",
            "-ext",
            "subjectAltName",
            "-in",
            "server.pem",
        ],
    ) {
        None => println!("skipped the openssl check: no openssl command on this machine"),
        Some(names) => {
            let names = text(&names);
            assert!(names.contains("DNS:central.example.org"), "{names}");
            assert!(names.contains("IP Address:10.0.0.7"), "{names}");
            assert!(!names.contains("localhost"), "{names}");
        }
    }
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn certs_refuses_agencies_outside_one_to_the_maximum_with_exit_two() {
    let dir = scratch_dir("admin_certs_usage");
    let out = dir.join("pki");
    let out_arg = out.display().to_string();
    for agencies in ["0", "1000001", "-1", "many"] {
        let refused = certs(&["--agencies", agencies, "--out", &out_arg]);
        assert_eq!(
            refused.status.code(),
            Some(2),
            "{agencies}: {}",
            text(&refused)
        );
        let said = text(&refused);
        assert!(said.contains("--agencies"), "{said}");
        assert!(said.contains("expected 1 to 1000000"), "{said}");
        assert!(!out.exists(), "nothing written for --agencies {agencies}");
    }
    fs::remove_dir_all(&dir).unwrap();
}
