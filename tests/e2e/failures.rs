//! How runs end when things go wrong: a server that goes away, and Ctrl-C. The final
//! report is always written and never claims more than the server acknowledged.

use std::time::{Duration, Instant};

use bson::{Document, doc};

use crate::support::{self, Ending, Forge, Kind, Report, Server};

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_stays_down_ends_the_run_with_exit_1_and_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(&dir.path().join("data"));
    let child = Forge::generate()
        .output("mongo-cdc")
        .quiet()
        .seed(8)
        .uri(&server.uri)
        .db("f")
        .collection("c")
        .arg("--rate-limit", "2000")
        .arg("--duration", "120s")
        .arg("--max-retries", "1")
        .report()
        .spawn();
    std::thread::sleep(Duration::from_secs(3));
    server.stop();
    let out = child.wait(Duration::from_secs(60));
    let stderr = &out.stderr;
    assert_eq!(out.code, 1, "{stderr}");
    assert!(stderr.contains("acknowledged") && stderr.lines().last().unwrap().starts_with("error: "), "{stderr}");
    let report: Report = out.report();
    assert_eq!(report.ending, Ending::Failed, "{report:?}");
    let insert = report.op(Kind::Insert);
    let (acked, unknown) = (insert.acknowledged, insert.unknown);
    assert!(acked > 1000, "{report:?}");

    // Back up on the same data: every acknowledged insert is there, and at most the
    // batches whose fate was unknown besides.
    let server = Server::start(&server.dir);
    let client = mongodb::Client::with_uri_str(&server.uri).await.unwrap();
    let stored = client.database("f").collection::<Document>("c").count_documents(doc! {}).await.unwrap();
    assert!(stored >= acked && stored <= acked + unknown, "stored {stored}, acknowledged {acked}, unknown {unknown}");
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_stops_after_the_batches_in_flight_with_the_report() {
    let client = support::client().await;
    let db = support::fresh_db("ctrl_c");
    let child = Forge::generate()
        .output("mongo-cdc")
        .quiet()
        .seed(9)
        .db(&db)
        .collection("c")
        .arg("--rate-limit", "3000")
        .report()
        .spawn();
    std::thread::sleep(Duration::from_secs(3));
    child.signal(libc::SIGINT);
    let out = child.wait(Duration::from_secs(30));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report: Report = out.report();
    assert_eq!(report.ending, Ending::Interrupted);
    let insert = report.op(Kind::Insert);
    assert!(insert.acknowledged > 3000, "{report:?}");
    assert_eq!(insert.attempted, insert.acknowledged, "nothing left unaccounted: {report:?}");
    let stored = client.database(&db).collection::<Document>("c").count_documents(doc! {}).await.unwrap();
    assert_eq!(stored, insert.acknowledged);
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
    let out = Forge::generate().output("mongo").count(10).quiet().uri(&uri).run();
    let err = &out.stderr;
    assert_eq!(out.code, 1, "{err}");
    assert!(out.stdout.is_empty());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("error: cannot reach MongoDB at mongodb://user:***@127.0.0.1"), "{err}");
    assert!(!err.contains("hunter2"), "no password echoed: {err}");
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn malformed_connection_strings_are_usage_errors() {
    for uri in ["mongo://x", "mongodb://", "mongodb://bob:pw@host:notaport/", "mongodb://h/?maxPoolSize=lots"] {
        let out = Forge::generate().output("mongo").count(1).quiet().uri(uri).run();
        let err = &out.stderr;
        assert_eq!(out.code, 2, "{uri}: {err}");
        assert!(err.starts_with("error: --uri: invalid connection string"), "{uri}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(!err.contains(":pw@"), "no password echoed: {err}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_credentials_are_a_usage_error_without_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(&dir.path().join("data"), 0, &["--auth"]);
    // The first user may be created from localhost without credentials.
    let admin = mongodb::Client::with_uri_str(&server.uri).await.unwrap();
    admin
        .database("admin")
        .run_command(doc! { "createUser": "alice", "pwd": "right-horse", "roles": ["root"] })
        .await
        .expect("create the first user");
    let port = server.port;
    let wrong = format!("mongodb://alice:wrong-horse@127.0.0.1:{port}/");
    let out = Forge::generate().output("mongo").count(5).quiet().uri(&wrong).run_async().await;
    let err = &out.stderr;
    assert_eq!(out.code, 2, "{err}");
    assert!(out.stdout.is_empty());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("authentication failed") && err.contains("alice:***@"), "{err}");
    assert!(!err.contains("wrong-horse"), "no password echoed: {err}");
    let right = format!("mongodb://alice:right-horse@127.0.0.1:{port}/");
    Forge::generate().output("mongo").count(5).quiet().uri(&right).db("d").collection("c").run_async().await.success();
}
