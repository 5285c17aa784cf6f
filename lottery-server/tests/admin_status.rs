//! `lottery-admin status` as a process against a real HTTP server on
//! 127.0.0.1 (hyper, in the test) serving a `/status` document the test
//! builds in the central's shape: the table (every agency row, the draw
//! before and after), `--json`, and each error (nothing listening, not 200
//! OK, not JSON, JSON of another shape, https without a CA, an empty token
//! file). Against the real central over https: `status_port.rs`.

use std::net::{SocketAddr, TcpListener};
use std::process::{Command, Output};
use std::thread::JoinHandle;

use serde_json::{Value, json};

const ADMIN: &str = env!("CARGO_BIN_EXE_lottery-admin");

/// An HTTP server on 127.0.0.1 that answers one request with `code` and
/// `body` when its path is `/status`, 404 otherwise; its thread returns the
/// path asked for.
fn serve_once(code: u16, body: String) -> (SocketAddr, JoinHandle<String>) {
    use http_body_util::Full;
    use hyper::body::Bytes;

    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("a bound address");
    listener.set_nonblocking(true).expect("non-blocking");
    let handle = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
            let (stream, _) = listener.accept().await.expect("one connection");
            let asked = std::sync::Mutex::new(String::new());
            let service = hyper::service::service_fn(|request: hyper::Request<_>| {
                let path = request.uri().path().to_owned();
                let (code, text) = if path == "/status" {
                    (code, body.clone())
                } else {
                    (404, "not found".to_owned())
                };
                *asked.lock().unwrap() = path;
                let mut response = hyper::Response::new(Full::new(Bytes::from(text)));
                *response.status_mut() = hyper::StatusCode::from_u16(code).expect("a code");
                response.headers_mut().insert(
                    hyper::header::CONTENT_TYPE,
                    hyper::header::HeaderValue::from_static("application/json"),
                );
                async move { Ok::<_, std::convert::Infallible>(response) }
            });
            hyper::server::conn::http1::Builder::new()
                .keep_alive(false)
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await
                .expect("the answer is written");
            asked.into_inner().unwrap()
        })
    });
    (addr, handle)
}

fn status(args: &[&str]) -> Output {
    Command::new(ADMIN)
        .arg("status")
        .args(args)
        .env_remove("SERVER_HTTP_LISTEN")
        .output()
        .expect("run lottery-admin")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A /status document of three agencies (agency 3 never connected), drawn
/// or not, with a field the admin does not know (fields may be added).
fn document(drawn: bool) -> Value {
    let winners = |count: u64| if drawn { json!(count) } else { Value::Null };
    json!({
        "lottery": {
            "agencies_expected": 3,
            "agencies_connected": 2,
            "agencies_finished": if drawn { 3 } else { 1 },
            "bets_stored": 40_123,
            "batches_acked": 401,
            "connections": 2,
            "draw": {
                "done": drawn,
                "winners": winners(5),
                "winning_number": if drawn { json!(7574) } else { Value::Null },
            },
            "store": { "path": "/var/lib/lottery/bets.csv", "bytes": 1_900_321 },
            "tls": "mutual",
            "uptime_seconds": 12.5,
            "a_field_from_a_newer_central": [1, 2, 3],
        },
        "latency": {
            "ack_seconds": { "count": 401, "p50": 0.0011, "p99": 0.004, "p999": 0.0055, "max": 0.006 },
            "sync_seconds": { "count": 0, "p50": null, "p99": null, "max": null },
        },
        "agencies": [
            { "agency": 1, "connected": true, "bets": 26_936, "last_batch": 270, "finished": true, "winners": winners(2) },
            { "agency": 2, "connected": true, "bets": 13_187, "last_batch": 131, "finished": drawn, "winners": winners(3) },
            { "agency": 3, "connected": false, "bets": 0, "last_batch": 0, "finished": drawn, "winners": winners(0) },
        ],
        "waiting": if drawn {
            json!({ "agencies": 0, "not_connected": { "count": 0, "first": [] }, "connected": { "count": 0, "first": [] } })
        } else {
            json!({ "agencies": 2, "not_connected": { "count": 1, "first": [3] }, "connected": { "count": 1, "first": [2] } })
        },
    })
}

/// The table's row of `agency`, split into its cells.
fn row(table: &str, agency: &str) -> Vec<String> {
    let rows: Vec<Vec<String>> = table
        .lines()
        .map(|line| line.split_whitespace().map(str::to_string).collect())
        .filter(|cells: &Vec<String>| cells.len() == 6 && cells[0] == agency)
        .collect();
    assert_eq!(rows.len(), 1, "one row for agency {agency}:\n{table}");
    rows.into_iter().next().expect("one row")
}

#[test]
fn status_prints_the_lottery_and_every_agency_before_the_draw() {
    let (addr, server) = serve_once(200, document(false).to_string());
    let output = status(&["--http", &addr.to_string()]);
    assert_eq!(server.join().unwrap(), "/status");
    let table = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{table}{}", stderr(&output));
    assert!(
        table.contains(&format!("status: http://{addr}/status\n")),
        "{table}"
    );
    for line in [
        "agencies: 3 expected, 2 connected, 1 finished\n",
        "bets stored: 40123\n",
        "batches acked: 401\n",
        "connections: 2\n",
        "draw: not yet\n",
        "draw waits for: 2 agencies (not connected: 3; connected, not finished: 2)\n",
        "store: /var/lib/lottery/bets.csv (1900321 bytes)\n",
        "tls: mutual\n",
        "uptime: 12.5 s\n",
        "ack latency: p50 1.100 ms, p99 4.000 ms, p99.9 5.500 ms, max 6.000 ms (401 batches)\n",
        "sync latency: p50 -, p99 -, p99.9 -, max - (0 syncs)\n",
    ] {
        assert!(table.contains(line), "{line:?} in:\n{table}");
    }
    assert_eq!(row(&table, "1"), ["1", "yes", "26936", "270", "yes", "-"]);
    assert_eq!(row(&table, "2"), ["2", "yes", "13187", "131", "no", "-"]);
    assert_eq!(row(&table, "3"), ["3", "no", "0", "0", "no", "-"]);
}

#[test]
fn status_names_the_first_agencies_the_draw_waits_for_and_counts_the_rest() {
    let mut many = document(false);
    many["waiting"] = json!({
        "agencies": 1_000_000,
        "not_connected": { "count": 999_990, "first": [1, 2, 3] },
        "connected": { "count": 10, "first": [] },
    });
    let (addr, server) = serve_once(200, many.to_string());
    let output = status(&["--http", &addr.to_string()]);
    assert_eq!(server.join().unwrap(), "/status");
    let table = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{table}{}", stderr(&output));
    assert!(
        table.contains("draw waits for: 1000000 agencies (not connected: 1, 2, 3 and 999987 more; connected, not finished: 10 agencies)\n"),
        "{table}"
    );

    // A central from before the field: no line, the rest as before.
    let mut older = document(false);
    older.as_object_mut().unwrap().remove("waiting");
    let (addr, server) = serve_once(200, older.to_string());
    let output = status(&["--http", &addr.to_string()]);
    assert_eq!(server.join().unwrap(), "/status");
    let table = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{table}{}", stderr(&output));
    assert!(table.contains("draw: not yet\n"), "{table}");
    assert!(!table.contains("draw waits for"), "{table}");
}

#[test]
fn status_shows_the_draw_and_each_agencys_winners_after_it() {
    let mut drawn = document(true);
    // A store whose facts the central does not know (not a file, say).
    drawn["lottery"]["store"] = json!({ "path": null, "bytes": null });
    let (addr, server) = serve_once(200, drawn.to_string());
    let output = status(&["--http", &format!("http://{addr}/")]);
    assert_eq!(server.join().unwrap(), "/status");
    let table = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{table}{}", stderr(&output));
    assert!(table.contains("store: -\n"), "{table}");
    assert!(
        table.contains("draw: done, winning number 7574, 5 winners\n"),
        "{table}"
    );
    assert!(table.contains("3 finished\n"), "{table}");
    assert_eq!(row(&table, "1"), ["1", "yes", "26936", "270", "yes", "2"]);
    assert_eq!(row(&table, "2"), ["2", "yes", "13187", "131", "yes", "3"]);
    assert_eq!(row(&table, "3"), ["3", "no", "0", "0", "yes", "0"]);
}

#[test]
fn status_json_prints_the_document_the_central_served() {
    let served = document(true).to_string();
    let (addr, server) = serve_once(200, served.clone());
    let output = status(&["--http", &format!("http://{addr}"), "--json"]);
    assert_eq!(server.join().unwrap(), "/status");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output), format!("{served}\n"));
    // One JSON object a script can read, unknown fields kept.
    let printed: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(
        printed["lottery"]["a_field_from_a_newer_central"],
        json!([1, 2, 3])
    );
}

/// Exit 1, nothing on stdout, and one `lottery-admin: status:` line on
/// stderr holding each of `needles`.
fn assert_fails_saying(output: &Output, needles: &[&str]) {
    let said = stderr(output);
    assert_eq!(output.status.code(), Some(1), "{said}");
    assert_eq!(stdout(output), "");
    assert_eq!(said.lines().count(), 1, "{said}");
    assert!(said.starts_with("lottery-admin: status: "), "{said}");
    for needle in needles {
        assert!(said.contains(needle), "{needle:?} in {said}");
    }
}

#[test]
fn status_says_when_nothing_listens_at_the_address() {
    // A port that was free a moment ago and is closed now.
    let addr = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let output = status(&["--http", &addr.to_string()]);
    assert_fails_saying(
        &output,
        &[
            &format!("cannot reach the central's HTTP listener at http://{addr}/status"),
            "refused",
        ],
    );
}

#[test]
fn status_says_when_the_central_answers_other_than_200() {
    let (addr, server) = serve_once(503, "not ready: the store is opening".into());
    let output = status(&["--http", &addr.to_string()]);
    server.join().unwrap();
    assert_fails_saying(
        &output,
        &[
            &format!("http://{addr}/status answered HTTP 503, not 200 OK"),
            "not ready: the store is opening",
        ],
    );
}

#[test]
fn status_says_when_the_answer_is_not_json() {
    let (addr, server) = serve_once(200, "<html>a page, not the status</html>".into());
    let output = status(&["--http", &addr.to_string()]);
    server.join().unwrap();
    assert_fails_saying(
        &output,
        &[&format!(
            "http://{addr}/status did not answer a /status document"
        )],
    );
}

#[test]
fn status_names_the_field_a_document_of_another_shape_lacks() {
    let mut other = document(false);
    other["lottery"]
        .as_object_mut()
        .unwrap()
        .remove("bets_stored");
    let (addr, server) = serve_once(200, other.to_string());
    let output = status(&["--http", &addr.to_string(), "--json"]);
    server.join().unwrap();
    assert_fails_saying(
        &output,
        &["did not answer a /status document", "bets_stored"],
    );
}

#[test]
fn status_refuses_https_without_a_ca_as_a_usage_error_saying_why() {
    let output = status(&["--http", "https://127.0.0.1:9100"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("https needs --ca FILE"),
        "{}",
        stderr(&output)
    );
    assert_eq!(stdout(&output), "");
}

#[test]
fn status_refuses_an_empty_token_file_as_a_usage_error() {
    let dir = std::env::temp_dir().join(format!("lottery-admin-token-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let token = dir.join("empty.token");
    std::fs::write(&token, "\n").unwrap();
    let output = status(&[
        "--http",
        "127.0.0.1:9",
        "--token-file",
        token.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("is empty"), "{}", stderr(&output));
    std::fs::remove_dir_all(&dir).unwrap();
}
