//! `generar-compose.sh` (repository root), run as a process: the compose file
//! it writes must describe the central and N agencies the way the images in
//! `docker/` expect them, and bad arguments must fail without writing anything.
//!
//! No Docker engine runs in CI, so the output is checked structurally: it is
//! parsed as YAML and every service, variable, mount, network and dependency
//! the deployment relies on is asserted.

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
    Command::new(script())
        .args(args)
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

/// A service's only mount.
fn only_mount(service: &Yaml, name: &str) -> Mount {
    let mounts = service["volumes"]
        .as_vec()
        .unwrap_or_else(|| panic!("{name}: volumes is a list"));
    assert_eq!(mounts.len(), 1, "{name}: exactly one mount");
    let mount = &mounts[0];
    Mount {
        kind: text(&mount["type"], "a mount type").to_owned(),
        source: text(&mount["source"], "a mount source").to_owned(),
        target: text(&mount["target"], "a mount target").to_owned(),
        read_only: mount["read_only"].as_bool().unwrap_or(false),
    }
}

/// Checks every property of the deployment for `agencies` agencies.
fn assert_deployment(compose: &Yaml, agencies: u32) {
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
    let store = only_mount(server, "server");
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
        let data = only_mount(agency, &name);
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

/// The Dockerfiles and the Makefile cannot be built here (no Docker engine), so
/// the few facts the compose file relies on are checked in their text.
#[test]
fn compose_file_agrees_with_the_dockerfiles_and_the_makefile() {
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
        server_image.contains(&format!("chown 10001:10001 {}", store.target)),
        "the server image's user owns {}, so the store is writable",
        store.target
    );
    assert!(server_image.contains("USER 10001:10001"));
    assert!(server_image.contains(&format!("EXPOSE {PORT}")));
    assert!(read("docker/Dockerfile.agency").contains("USER 10001:10001"));

    let makefile = read("Makefile");
    for image in ["lottery-server:latest", "lottery-agency:latest"] {
        assert!(makefile.contains(image), "make docker-build tags {image}");
    }
}
