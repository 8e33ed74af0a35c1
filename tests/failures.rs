//! How runs end when things go wrong: a server that goes away, and Ctrl-C. The final
//! report is always written and never claims more than the server acknowledged.

mod support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use bson::{Document, doc};
use support::{PrivateServer, count, forge, read_report};

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_stays_down_ends_the_run_with_exit_1_and_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = PrivateServer::start(&dir.path().join("data"));
    let report_path = dir.path().join("report.json");
    let mut child = forge()
        .args(["generate", "--output", "mongo-cdc", "-q", "--seed", "8", "--db", "f", "--collection", "c"])
        .args(["--uri", &server.uri, "--rate-limit", "2000", "--duration", "120s", "--max-retries", "1"])
        .arg("--report")
        .arg(&report_path)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    server.stop();
    let status = support::wait_for(&mut child, Duration::from_secs(60));
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("acknowledged") && stderr.lines().last().unwrap().starts_with("error: "), "{stderr}");
    let report = read_report(&report_path);
    assert_eq!(report["ending"], "failed", "{report}");
    let acked = count(&report, "insert", "acknowledged");
    let unknown = count(&report, "insert", "unknown");
    assert!(acked > 1000, "{report}");

    // Back up on the same data: every acknowledged insert is there, and at most the
    // batches whose fate was unknown besides.
    let server = PrivateServer::start(&server.dir);
    let client = mongodb::Client::with_uri_str(&server.uri).await.unwrap();
    let stored = client.database("f").collection::<Document>("c").count_documents(doc! {}).await.unwrap();
    assert!(stored >= acked && stored <= acked + unknown, "stored {stored}, acknowledged {acked}, unknown {unknown}");
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_stops_after_the_batches_in_flight_with_the_report() {
    let client = support::client().await;
    let db = support::fresh_db("ctrl_c");
    let dir = tempfile::tempdir().unwrap();
    let report_path = dir.path().join("report.json");
    let mut child = forge()
        .args(["generate", "--output", "mongo-cdc", "-q", "--seed", "9", "--collection", "c", "--db", &db])
        .args(["--uri", support::server_uri(), "--rate-limit", "3000"])
        .arg("--report")
        .arg(&report_path)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = support::wait_for(&mut child, Duration::from_secs(30));
    assert_eq!(status.code(), Some(0));
    let report = read_report(&report_path);
    assert_eq!(report["ending"], "interrupted");
    let acked = count(&report, "insert", "acknowledged");
    assert!(acked > 3000, "{report}");
    assert_eq!(count(&report, "insert", "attempted"), acked, "nothing left unaccounted: {report}");
    let stored = client.database(&db).collection::<Document>("c").count_documents(doc! {}).await.unwrap();
    assert_eq!(stored, acked);
}

#[test]
fn a_server_that_is_not_mongodb_gets_one_clear_line_and_exit_1() {
    // Something on the port that answers like a web server.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let _ = std::io::Write::write_all(&mut stream, b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n");
        }
    });
    let started = Instant::now();
    let uri = format!("mongodb://user:hunter2@127.0.0.1:{port}/");
    let (code, out, err) = support::run(&["generate", "--output", "mongo", "-n", "10", "-q", "--uri", &uri]);
    assert_eq!(code, 1, "{err}");
    assert!(out.is_empty());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("error: cannot reach MongoDB at mongodb://user:***@127.0.0.1"), "{err}");
    assert!(!err.contains("hunter2"), "no password echoed: {err}");
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn malformed_connection_strings_are_usage_errors() {
    for uri in ["mongo://x", "mongodb://", "mongodb://bob:pw@host:notaport/", "mongodb://h/?maxPoolSize=lots"] {
        let (code, _, err) = support::run(&["generate", "--output", "mongo", "-n", "1", "-q", "--uri", uri]);
        assert_eq!(code, 2, "{uri}: {err}");
        assert!(err.starts_with("error: --uri: invalid connection string"), "{uri}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(!err.contains(":pw@"), "no password echoed: {err}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_credentials_are_a_usage_error_without_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let server = PrivateServer::start_with(&dir.path().join("data"), 0, &["--auth"]);
    // The first user may be created from localhost without credentials.
    let admin = mongodb::Client::with_uri_str(&server.uri).await.unwrap();
    admin
        .database("admin")
        .run_command(doc! { "createUser": "alice", "pwd": "right-horse", "roles": ["root"] })
        .await
        .expect("create the first user");
    let port = server.port;
    let wrong = format!("mongodb://alice:wrong-horse@127.0.0.1:{port}/");
    let (code, out, err) = support::run_async(
        ["generate", "--output", "mongo", "-n", "5", "-q", "--uri", &wrong].iter().map(|s| s.to_string()).collect(),
    )
    .await;
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("authentication failed") && err.contains("alice:***@"), "{err}");
    assert!(!err.contains("wrong-horse"), "no password echoed: {err}");
    let right = format!("mongodb://alice:right-horse@127.0.0.1:{port}/");
    let (code, _, err) = support::run_async(
        ["generate", "--output", "mongo", "-n", "5", "-q", "--uri", &right, "--db", "d", "--collection", "c"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
    )
    .await;
    assert_eq!(code, 0, "{err}");
}
