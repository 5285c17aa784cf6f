//! `generar-compose.sh` (repository root), run as a process: the compose file
//! it writes must describe the central and N agencies the way the images in
//! `docker/` expect them, and bad arguments must fail without writing anything.
//!
//! Here the output is checked structurally: it is parsed as YAML and every
//! service, variable, mount, network and dependency the deployment relies on
//! is asserted. `scripts/docker-e2e.sh` (run by `.ci/run`) builds the images
//! and runs the compose file with Podman.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use yaml_rust2::{Yaml, YamlLoader};

/// The port the central listens on inside its container.
const PORT: &str = "12345";

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../generar-compose.sh")
}

/// An empty directory for one test (tests run in parallel).
fn scratch_dir(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("compose_generator")
        .join(test);
    if dir.exists() {
        fs::remove_dir_all(&dir).expect("clear the scratch dir");
    }
    fs::create_dir_all(&dir).expect("create the scratch dir");
    dir
}

fn run_generator(args: &[&str]) -> Output {
    run_generator_with(args, None)
}

/// Runs the generator with `LOTTERY_ADMIN` set to `admin` (when given).
fn run_generator_with(args: &[&str], admin: Option<&Path>) -> Output {
    let mut command = Command::new(script());
    command.args(args).env_remove("LOTTERY_ADMIN");
    if let Some(admin) = admin {
        command.env("LOTTERY_ADMIN", admin);
    }
    command
        .output()
        .expect("run generar-compose.sh (is it executable?)")
}

/// Runs the generator for `agencies` (as typed on the command line) and parses its output.
fn generate(dir: &Path, agencies: &str) -> Yaml {
    let out = dir.join("docker-compose.yaml");
    let output = run_generator(&[out.to_str().expect("UTF-8 path"), agencies]);
    assert!(
        output.status.success(),
        "generar-compose.sh {agencies} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = fs::read_to_string(&out).expect("read the compose file");
    let mut docs = YamlLoader::load_from_str(&text).expect("the compose file is valid YAML");
    assert_eq!(docs.len(), 1, "one YAML document");
    docs.pop().expect("one document")
}

fn text<'a>(node: &'a Yaml, what: &str) -> &'a str {
    node.as_str()
        .unwrap_or_else(|| panic!("{what} is a string, got {node:?}"))
}

fn map_keys(node: &Yaml, what: &str) -> Vec<String> {
    node.as_hash()
        .unwrap_or_else(|| panic!("{what} is a mapping, got {node:?}"))
        .keys()
        .map(|key| text(key, what).to_owned())
        .collect()
}

/// A service's `environment`, in either compose form (`- KEY=value` or `KEY: value`).
fn environment(service: &Yaml, name: &str) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
    let node = &service["environment"];
    let pairs: Vec<(String, String)> = match node {
        Yaml::Array(items) => items
            .iter()
            .map(|item| {
                let (key, value) = text(item, "an environment entry")
                    .split_once('=')
                    .unwrap_or_else(|| panic!("{name}: environment entry {item:?} has no '='"));
                (key.to_owned(), value.to_owned())
            })
            .collect(),
        Yaml::Hash(entries) => entries
            .iter()
            .map(|(key, value)| {
                let value = match value {
                    Yaml::String(s) | Yaml::Real(s) => s.clone(),
                    Yaml::Integer(i) => i.to_string(),
                    Yaml::Boolean(b) => b.to_string(),
                    other => panic!("{name}: environment value {other:?}"),
                };
                (text(key, "an environment key").to_owned(), value)
            })
            .collect(),
        other => panic!("{name}: environment is a list or a mapping, got {other:?}"),
    };
    for (key, value) in pairs {
        assert!(
            vars.insert(key.clone(), value).is_none(),
            "{name}: {key} is set twice"
        );
    }
    vars
}

/// The value of `key` in a service's environment.
fn var<'a>(env: &'a BTreeMap<String, String>, key: &str, service: &str) -> &'a str {
    env.get(key)
        .unwrap_or_else(|| panic!("{service}: {key} is not set"))
}

/// A list of names in short form (`networks`, `depends_on`), or the keys of its long form.
fn names(node: &Yaml, what: &str) -> BTreeSet<String> {
    match node {
        Yaml::Array(items) => items
            .iter()
            .map(|item| text(item, what).to_owned())
            .collect(),
        Yaml::Hash(_) => map_keys(node, what).into_iter().collect(),
        other => panic!("{what} is a list or a mapping, got {other:?}"),
    }
}

/// One mount of a service, in compose's long syntax.
struct Mount {
    kind: String,
    source: String,
    target: String,
    read_only: bool,
}

/// A service's mounts, in order.
fn mounts(service: &Yaml, name: &str) -> Vec<Mount> {
    service["volumes"]
        .as_vec()
        .unwrap_or_else(|| panic!("{name}: volumes is a list"))
        .iter()
        .map(|mount| Mount {
            kind: text(&mount["type"], "a mount type").to_owned(),
            source: text(&mount["source"], "a mount source").to_owned(),
            target: text(&mount["target"], "a mount target").to_owned(),
            read_only: mount["read_only"].as_bool().unwrap_or(false),
        })
        .collect()
}

/// A service's only mount.
fn only_mount(service: &Yaml, name: &str) -> Mount {
    let mut mounts = mounts(service, name);
    assert_eq!(mounts.len(), 1, "{name}: exactly one mount");
    mounts.remove(0)
}

/// A service's first mount (its store or data file; TLS files follow).
fn first_mount(service: &Yaml, name: &str, tls: bool) -> Mount {
    if tls {
        mounts(service, name).remove(0)
    } else {
        only_mount(service, name)
    }
}

/// Checks every property of the deployment for `agencies` agencies.
fn assert_deployment(compose: &Yaml, agencies: u32) {
    assert_deployment_with(compose, agencies, false);
}

/// [`assert_deployment`], with TLS mounts after the first one when `tls`.
fn assert_deployment_with(compose: &Yaml, agencies: u32, tls: bool) {
    let services = &compose["services"];
    let mut expected: Vec<String> = vec!["server".to_owned()];
    expected.extend((1..=agencies).map(|id| format!("client{id}")));
    assert_eq!(map_keys(services, "services"), expected, "service names");

    let declared_networks: BTreeSet<String> = map_keys(&compose["networks"], "networks")
        .into_iter()
        .collect();
    let declared_volumes: BTreeSet<String> = map_keys(&compose["volumes"], "volumes")
        .into_iter()
        .collect();

    // The central.
    let server = &services["server"];
    assert_eq!(
        text(&server["image"], "server image"),
        "lottery-server:latest"
    );
    assert_eq!(
        text(&server["container_name"], "server container"),
        "server"
    );
    let env = environment(server, "server");
    assert_eq!(var(&env, "SERVER_AGENCIES", "server"), agencies.to_string());
    assert_eq!(var(&env, "SERVER_EXIT_WHEN_DONE", "server"), "true");
    assert!(
        var(&env, "SERVER_LISTEN", "server").ends_with(&format!(":{PORT}")),
        "the central listens on {PORT}: {}",
        var(&env, "SERVER_LISTEN", "server")
    );
    let store = first_mount(server, "server", tls);
    assert_eq!(store.kind, "volume", "the store is on a named volume");
    assert!(
        declared_volumes.contains(&store.source),
        "volume {} is declared",
        store.source
    );
    assert_eq!(
        Path::new(var(&env, "SERVER_STORE", "server")).parent(),
        Some(Path::new(&store.target)),
        "the store file lives on the volume"
    );
    let server_networks = names(&server["networks"], "server networks");
    assert!(!server_networks.is_empty(), "the central joins a network");
    assert!(server_networks.is_subset(&declared_networks));
    assert!(
        server["depends_on"].is_badvalue(),
        "the central depends on nothing"
    );

    // The agencies.
    for id in 1..=agencies {
        let name = format!("client{id}");
        let agency = &services[name.as_str()];
        assert_eq!(
            text(&agency["image"], "agency image"),
            "lottery-agency:latest"
        );
        assert_eq!(text(&agency["container_name"], "agency container"), name);
        let env = environment(agency, &name);
        assert_eq!(
            var(&env, "CLI_ID", &name),
            id.to_string(),
            "{name}: its agency id"
        );
        assert_eq!(
            var(&env, "CLI_SERVER_ADDRESS", &name),
            format!("server:{PORT}"),
            "{name}"
        );
        let data = first_mount(agency, &name, tls);
        assert_eq!(data.kind, "bind", "{name}: its data file is a bind mount");
        assert_eq!(
            data.source,
            format!("./.data/agency-{id}.csv"),
            "{name}: data file"
        );
        assert!(data.read_only, "{name}: data file mounted read-only");
        assert_eq!(
            var(&env, "CLI_DATA_FILE", &name),
            data.target,
            "{name} reads the mounted file"
        );
        assert_eq!(
            names(&agency["depends_on"], "depends_on"),
            BTreeSet::from(["server".to_owned()]),
            "{name} starts after the central"
        );
        let networks = names(&agency["networks"], "agency networks");
        assert!(networks.is_subset(&declared_networks), "{name}");
        assert!(
            !networks.is_disjoint(&server_networks),
            "{name} shares a network with the central"
        );
    }
}

#[test]
fn one_agency_deployment_has_the_central_and_client1() {
    let dir = scratch_dir("one");
    assert_deployment(&generate(&dir, "1"), 1);
}

#[test]
fn five_agency_deployment_matches_the_course_data_set() {
    let dir = scratch_dir("five");
    assert_deployment(&generate(&dir, "5"), 5);
}

#[test]
fn fifty_agency_deployment_names_every_agency() {
    let dir = scratch_dir("fifty");
    assert_deployment(&generate(&dir, "50"), 50);
}

#[test]
fn leading_zeros_are_read_as_decimal_not_octal() {
    let dir = scratch_dir("leading_zeros");
    assert_deployment(&generate(&dir, "010"), 10);
}

#[test]
fn regenerating_replaces_the_previous_file() {
    let dir = scratch_dir("regenerate");
    generate(&dir, "5");
    assert_deployment(&generate(&dir, "2"), 2);
}

#[test]
fn bad_arguments_exit_non_zero_with_usage_and_write_nothing() {
    let dir = scratch_dir("bad_arguments");
    let out = dir.join("docker-compose.yaml");
    let out = out.to_str().expect("UTF-8 path");
    let cases: &[&[&str]] = &[
        &[],
        &[out],
        &[out, "5", "extra"],
        &["", "5"],
        &[out, "0"],
        &[out, "000"],
        &[out, "-1"],
        &[out, "abc"],
        &[out, "1.5"],
        &[out, "1e3"],
        &[out, " 5"],
        &[out, ""],
        &[out, "9999999999"],
    ];
    for args in cases {
        let output = run_generator(args);
        assert!(!output.status.success(), "{args:?} must fail");
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("usage:"),
            "{args:?}: stderr shows the usage"
        );
        assert!(!Path::new(out).exists(), "{args:?} wrote a file");
    }
}

#[test]
fn help_prints_usage_and_succeeds() {
    let output = run_generator(&["--help"]);
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains("usage:"));
}

/// The few facts of the Dockerfiles and the Makefile that the compose file
/// relies on, checked in their text so that `cargo test` catches a mismatch
/// without a container engine (`scripts/docker-e2e.sh` runs them for real).
#[test]
fn compose_file_agrees_with_the_dockerfiles_and_the_image_build() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let read = |path: &str| fs::read_to_string(root.join(path)).expect(path);
    let compose = generate(&scratch_dir("agreement"), "1");

    let store = only_mount(&compose["services"]["server"], "server");
    let server_image = read("docker/Dockerfile.server");
    assert!(
        server_image.contains(&format!("VOLUME [\"{}\"]", store.target)),
        "the server image declares the store volume at {}",
        store.target
    );
    assert!(
        server_image.contains(&format!(
            "COPY --chown=10001:10001 store/ {}/",
            store.target
        )),
        "the server image's user owns {}, so the store is writable",
        store.target
    );
    assert!(server_image.contains("USER 10001:10001"));
    assert!(server_image.contains(&format!("EXPOSE {PORT}")));
    assert!(read("docker/Dockerfile.agency").contains("USER 10001:10001"));

    let build = read("scripts/docker-build.sh");
    for image in ["lottery-server:latest", "lottery-agency:latest"] {
        assert!(
            build.contains(&format!("-t {image} ")),
            "scripts/docker-build.sh tags {image}"
        );
    }
    assert!(read("Makefile").contains("scripts/docker-build.sh"));
}

/// The files `lottery-admin certs --agencies N` writes.
fn pki_files(agencies: u32) -> Vec<String> {
    let mut files: Vec<String> = ["ca.pem", "ca.key", "server.pem", "server.key"]
        .map(str::to_owned)
        .to_vec();
    for id in 1..=agencies {
        files.push(format!("agency-{id}.pem"));
        files.push(format!("agency-{id}.key"));
    }
    files
}

/// A stand-in for `lottery-admin` (whose `certs` subcommand lives on another
/// branch): it checks its arguments are `certs --agencies N --out DIR
/// --server-name server`, records them in `admin.log` next to itself, and
/// writes placeholder files where the real one writes certificates.
fn fake_admin(dir: &Path) -> PathBuf {
    let path = dir.join("fake-lottery-admin");
    fs::write(
        &path,
        r#"#!/usr/bin/env bash
set -eu
printf '%s\n' "$*" >> "$(dirname "$0")/admin.log"
[[ $# -eq 7 && $1 == certs && $2 == --agencies && $4 == --out && $6 == --server-name ]]
mkdir -p "$5"
for file in ca.pem ca.key server.pem server.key; do
    printf 'placeholder %s\n' "$file" > "$5/$file"
done
for ((k = 1; k <= $3; k++)); do
    printf 'placeholder\n' > "$5/agency-$k.pem"
    printf 'placeholder\n' > "$5/agency-$k.key"
done
"#,
    )
    .expect("write the fake lottery-admin");
    let mut permissions = fs::metadata(&path).expect("stat").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    fs::set_permissions(&path, permissions).expect("chmod the fake lottery-admin");
    path
}

/// Runs `generar-compose.sh --tls CERTS OUT N` in `dir` and parses its output.
fn generate_tls(dir: &Path, certs: &Path, agencies: u32, admin: &Path) -> Yaml {
    let out = dir.join("docker-compose.yaml");
    let output = run_generator_with(
        &[
            "--tls",
            certs.to_str().expect("UTF-8 path"),
            out.to_str().expect("UTF-8 path"),
            &agencies.to_string(),
        ],
        Some(admin),
    );
    assert!(
        output.status.success(),
        "generar-compose.sh --tls failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = fs::read_to_string(&out).expect("read the compose file");
    YamlLoader::load_from_str(&text)
        .expect("the compose file is valid YAML")
        .pop()
        .expect("one document")
}

/// A service's TLS mounts (every mount after the first): each a read-only
/// bind of a file of `certs`, by file name.
fn tls_mounts(service: &Yaml, name: &str, certs: &Path) -> BTreeMap<String, String> {
    let certs = certs.canonicalize().expect("the certificates exist");
    mounts(service, name)
        .into_iter()
        .skip(1)
        .map(|mount| {
            assert_eq!(mount.kind, "bind", "{name}: {}", mount.source);
            assert!(mount.read_only, "{name}: {} is read-only", mount.source);
            let source = Path::new(&mount.source);
            assert_eq!(
                source.parent(),
                Some(certs.as_path()),
                "{name}: {}",
                mount.source
            );
            let file = source.file_name().unwrap().to_str().unwrap().to_owned();
            assert!(
                Path::new(&mount.target).ends_with(&file),
                "{name}: {file} is mounted as {}",
                mount.target
            );
            (file, mount.target)
        })
        .collect()
}

/// Checks that each container mounts only its own TLS files, that its
/// variables point at them, and that the CA's key is mounted nowhere.
fn assert_tls(compose: &Yaml, agencies: u32, certs: &Path) {
    assert_deployment_with(compose, agencies, true);
    let services = &compose["services"];
    let server = tls_mounts(&services["server"], "server", certs);
    assert_eq!(
        server.keys().collect::<Vec<_>>(),
        ["ca.pem", "server.key", "server.pem"],
        "the central mounts its own files only"
    );
    let env = environment(&services["server"], "server");
    for (variable, file) in [
        ("SERVER_TLS_CERT", "server.pem"),
        ("SERVER_TLS_KEY", "server.key"),
        ("SERVER_TLS_CLIENT_CA", "ca.pem"),
    ] {
        assert_eq!(var(&env, variable, "server"), server[file], "{variable}");
    }
    for id in 1..=agencies {
        let name = format!("client{id}");
        let own = tls_mounts(&services[name.as_str()], &name, certs);
        let (pem, key) = (format!("agency-{id}.pem"), format!("agency-{id}.key"));
        let mut expected = vec!["ca.pem", key.as_str(), pem.as_str()];
        expected.sort();
        assert_eq!(
            own.keys().map(String::as_str).collect::<Vec<_>>(),
            expected,
            "{name}"
        );
        let env = environment(&services[name.as_str()], &name);
        assert_eq!(var(&env, "CLI_TLS_CA", &name), own["ca.pem"]);
        assert_eq!(var(&env, "CLI_TLS_CERT", &name), own[&pem]);
        assert_eq!(var(&env, "CLI_TLS_KEY", &name), own[&key]);
    }
    let text = format!("{compose:?}");
    assert!(!text.contains("ca.key"), "the CA's key is mounted nowhere");
}

#[test]
fn tls_makes_the_certificates_and_mounts_each_container_only_its_own() {
    let dir = scratch_dir("tls");
    let admin = fake_admin(&dir);
    let certs = dir.join("certs");
    let compose = generate_tls(&dir, &certs, 3, &admin);
    assert_tls(&compose, 3, &certs);
    let calls = fs::read_to_string(dir.join("admin.log")).expect("lottery-admin ran");
    assert_eq!(
        calls,
        format!(
            "certs --agencies 3 --out {} --server-name server\n",
            certs.display()
        )
    );
}

#[test]
fn tls_reuses_certificates_already_there() {
    let dir = scratch_dir("tls_reuse");
    let admin = fake_admin(&dir);
    let certs = dir.join("certs");
    generate_tls(&dir, &certs, 2, &admin);
    let before = fs::read(certs.join("agency-1.key")).unwrap();
    fs::write(certs.join("agency-1.key"), "kept\n").unwrap();
    let compose = generate_tls(&dir, &certs, 2, &admin);
    assert_tls(&compose, 2, &certs);
    let calls = fs::read_to_string(dir.join("admin.log")).unwrap();
    assert_eq!(calls.lines().count(), 1, "made once: {calls}");
    assert_ne!(before, fs::read(certs.join("agency-1.key")).unwrap());
}

#[test]
fn tls_refuses_a_directory_holding_only_some_certificates_and_writes_nothing() {
    let dir = scratch_dir("tls_partial");
    let admin = fake_admin(&dir);
    let certs = dir.join("certs");
    generate_tls(&dir, &certs, 2, &admin);
    let out = dir.join("more.yaml");
    let output = run_generator_with(
        &["--tls", certs.to_str().unwrap(), out.to_str().unwrap(), "3"],
        Some(&admin),
    );
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("agency-3.pem agency-3.key"), "{stderr}");
    assert!(!out.exists(), "no compose file");
    assert_eq!(pki_files(2).len(), fs::read_dir(&certs).unwrap().count());
}

#[test]
fn tls_fails_when_the_certificates_cannot_be_made_and_writes_nothing() {
    let dir = scratch_dir("tls_admin_fails");
    let out = dir.join("docker-compose.yaml");
    let certs = dir.join("certs");
    for admin in [Path::new("/bin/false"), &dir.join("no-such-lottery-admin")] {
        let output = run_generator_with(
            &["--tls", certs.to_str().unwrap(), out.to_str().unwrap(), "2"],
            Some(admin),
        );
        assert_eq!(output.status.code(), Some(1), "{admin:?}");
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("cannot make the certificates"),
            "{admin:?}"
        );
        assert!(!out.exists(), "{admin:?}: no compose file");
    }
    let output = run_generator(&["--tls"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("usage:"));
}

#[test]
fn without_tls_no_certificate_is_mentioned() {
    let compose = generate(&scratch_dir("no_tls"), "2");
    let text = format!("{compose:?}");
    for word in ["TLS", ".pem", ".key"] {
        assert!(!text.contains(word), "{word}");
    }
}

#[test]
fn tls_with_the_real_lottery_admin_mounts_certificates_each_side_can_load() {
    let dir = scratch_dir("tls_real_admin");
    let certs = dir.join("certs");
    let admin = Path::new(env!("CARGO_BIN_EXE_lottery-admin"));
    let compose = generate_tls(&dir, &certs, 2, admin);
    assert_tls(&compose, 2, &certs);
    // What the central's container mounts makes a mutual TLS central, and
    // what agency 2's mounts makes its client, valid for the name `server`.
    lottery_tls::ServerTls::load(
        &certs.join("server.pem"),
        &certs.join("server.key"),
        Some(&certs.join("ca.pem")),
    )
    .expect("the central's files load");
    let agency = lottery_tls::ClientTls::load(
        &certs.join("ca.pem"),
        Some((&certs.join("agency-2.pem"), &certs.join("agency-2.key"))),
        None,
    )
    .expect("agency 2's files load");
    agency
        .connect("server:12345")
        .expect("a session to `server`");
    let chain = lottery_tls::load_certificates(&certs.join("agency-2.pem"), "certificate").unwrap();
    assert!(lottery_tls::certifies(
        &chain[0],
        lottery_bet::AgencyId::new(2).unwrap()
    ));
}
