//! Certificates from two runs of `lottery-admin certs` mixed up, as
//! processes: each run's CA has its own name, and a central and an agency
//! holding different runs' files say which file is wrong, on the side that
//! can tell (both directions).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use support::{Central, Output, admin_bin, exit_failure, one_bet_file, run, run_agency};

/// Runs `lottery-admin certs` for one agency into `dir/NAME` and returns the
/// directory and the name of its CA, as the command printed it.
fn certs(dir: &Path, name: &str) -> (PathBuf, String) {
    let out = dir.join(name);
    let output = run(Command::new(admin_bin())
        .arg("certs")
        .args(["--agencies", "1", "--out"])
        .arg(&out));
    assert!(output.status.success(), "{}{}", output.stdout, output.log);
    let line = output
        .stdout
        .lines()
        .find(|line| line.contains("ca.pem (the CA certificate, `"))
        .unwrap_or_else(|| panic!("no CA line: {}", output.stdout));
    let start = line.find('`').unwrap() + 1;
    let end = start + line[start..].find('`').unwrap();
    (out, line[start..end].to_string())
}

fn path(dir: &Path, file: &str) -> String {
    dir.join(file).display().to_string()
}

/// A central over mutual TLS with the certificate and key of set `server`
/// and the client CA of set `client_ca`.
fn central(server: &Path, client_ca: &Path) -> Central {
    Central::start_with(
        1,
        &[
            "--tls-cert",
            &path(server, "server.pem"),
            "--tls-key",
            &path(server, "server.key"),
            "--tls-client-ca",
            &path(client_ca, "ca.pem"),
        ],
    )
}

/// Agency 1 against `central`, trusting set `ca`'s CA and presenting set
/// `identity`'s certificate.
fn agency(central: &Central, data: &Path, ca: &Path, identity: &Path) -> Output {
    run_agency(
        &[
            "--id",
            "1",
            "--server",
            &central.address(),
            "--data",
            data.to_str().unwrap(),
            "--tls-ca",
            &path(ca, "ca.pem"),
            "--tls-cert",
            &path(identity, "agency-1.pem"),
            "--tls-key",
            &path(identity, "agency-1.key"),
            "--tls-server-name",
            "localhost",
        ],
        &[],
    )
}

/// Waits until the central's log holds `text`, and returns that line.
fn central_line(central: &Central, text: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let log = central.log();
        if let Some(line) = log.lines().find(|line| line.contains(text)) {
            return line.to_string();
        }
        assert!(Instant::now() < deadline, "no `{text}` in:\n{log}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn two_certs_runs_name_their_cas_apart_and_mixing_them_is_explained_on_both_sides() {
    let dir = tempfile::tempdir().unwrap();
    let (first, first_name) = certs(dir.path(), "first");
    let (second, second_name) = certs(dir.path(), "second");
    assert!(first_name.starts_with("lottery CA "), "{first_name}");
    assert_ne!(first_name, second_name);
    let data = one_bet_file(dir.path());

    // The agency trusts the second run's CA; the central's certificate is
    // the first run's. The agency can tell, and says so.
    let mixed = central(&first, &first);
    let output = agency(&mixed, &data, &second, &first);
    assert_eq!(output.status.code(), Some(1), "{}", output.log);
    let failure = exit_failure(&output.log);
    assert!(
        failure.contains("the central's certificate is not issued by --tls-ca: give the agency the ca.pem of the set the central's --tls-cert comes from (or the central a certificate of this CA): invalid peer certificate: UnknownIssuer"),
        "{failure}"
    );
    assert!(!output.log.contains("action: reconnect"), "{}", output.log);
    // And the central hears why the agency hung up.
    let line = central_line(&mixed, "the agency refused the central's certificate");
    assert!(
        line.contains("action: close_connection") && line.contains("received fatal alert: "),
        "{line}"
    );
    drop(mixed);

    // The agency's certificate is the second run's; the central's client CA
    // is the first run's. The central can tell, and says so; the agency
    // hears the alert and says what it probably means.
    let mixed = central(&first, &first);
    let output = agency(&mixed, &data, &first, &second);
    assert_eq!(output.status.code(), Some(1), "{}", output.log);
    let failure = exit_failure(&output.log);
    assert!(
        failure.contains("the central refused our TLS certificate: it is probably not issued by the central's --tls-client-ca"),
        "{failure}"
    );
    let line = central_line(
        &mixed,
        "this agency's certificate is not issued by the central's --tls-client-ca",
    );
    assert!(
        line.contains("action: close_connection")
            && line.contains("agency: none")
            && line.contains("(invalid peer certificate: UnknownIssuer)"),
        "{line}"
    );
    drop(mixed);

    // Matched sets still work, each with its own CA.
    let matched = central(&second, &second);
    let output = agency(&matched, &data, &second, &second);
    assert!(output.status.success(), "{}", output.log);
}
