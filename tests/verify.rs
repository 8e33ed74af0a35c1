//! The journal and `forge verify`: a run's acknowledged operations against the final
//! state of a collection, on a healthy server, a corrupted copy, and a server that
//! crashes in the middle.

mod support;

use std::process::Stdio;
use std::time::Duration;

use bson::{Bson, Document, doc};
use futures_util::TryStreamExt;
use serde_json::Value;
use support::{PrivateServer, count, forge, fresh_db, read_report, run_async, server_uri};

async fn forge_async(args: &[&str]) -> (i32, String, String) {
    run_async(args.iter().map(|s| s.to_string()).collect()).await
}

fn journal_entries(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path).unwrap().lines().skip(1).map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_finds_nothing_after_a_clean_run_and_exactly_the_damage_to_a_copy() {
    let client = support::client().await;
    let db = fresh_db("verify");
    let dir = tempfile::tempdir().unwrap();
    let (journal, report) = (dir.path().join("journal.ndjson"), dir.path().join("report.json"));
    let (code, _, err) = forge_async(&[
        "generate",
        "--output",
        "mongo-cdc",
        "--uri",
        server_uri(),
        "--db",
        &db,
        "--collection",
        "src",
        "-q",
        "-n",
        "50000",
        "--operation-ratios",
        "insert:40,update:30,replace:10,delete:20",
        "--update-strategy",
        "mixed",
        "--seed",
        "21",
        "--journal",
        journal.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ])
    .await;
    assert_eq!(code, 0, "{err}");
    let acknowledged: u64 =
        ["insert", "update", "replace", "delete"].iter().map(|k| count(&read_report(&report), k, "acknowledged")).sum();
    assert_eq!(journal_entries(&journal).len() as u64, acknowledged, "one journal line per acknowledged operation");

    let (code, out, err) =
        forge_async(&["verify", "--journal", journal.to_str().unwrap(), "--uri", server_uri()]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("everything matches"), "{out}");

    // A copy, as a pipeline would make it, then damaged: 3 lost, 2 altered, 2 invented.
    let src = client.database(&db).collection::<Document>("src");
    let copy = client.database(&db).collection::<Document>("copy");
    let docs: Vec<Document> = src.find(doc! {}).await.unwrap().try_collect().await.unwrap();
    copy.insert_many(&docs).await.unwrap();
    let ids: Vec<Bson> = docs.iter().map(|d| d.get("_id").unwrap().clone()).collect();
    for id in &ids[..3] {
        copy.delete_one(doc! { "_id": id.clone() }).await.unwrap();
    }
    for id in &ids[3..5] {
        copy.update_one(doc! { "_id": id.clone() }, doc! { "$set": { "status": "tampered" } }).await.unwrap();
    }
    let invented = [bson::oid::ObjectId::new(), bson::oid::ObjectId::new()];
    for id in invented {
        copy.insert_one(doc! { "_id": id, "name": "nobody" }).await.unwrap();
    }
    let diff = dir.path().join("diff.json");
    let (code, out, _) = forge_async(&[
        "verify",
        "--journal",
        journal.to_str().unwrap(),
        "--uri",
        server_uri(),
        "--db",
        &db,
        "--collection",
        "copy",
        "--report",
        diff.to_str().unwrap(),
    ])
    .await;
    assert_eq!(code, 1, "{out}");
    let diff = read_report(&diff);
    let as_ids = |key: &str| {
        let mut v: Vec<Bson> =
            diff[key].as_array().unwrap().iter().map(|j| Bson::try_from(j.clone()).unwrap()).collect();
        v.sort_by_key(|b| b.to_string());
        v
    };
    let sorted = |mut v: Vec<Bson>| {
        v.sort_by_key(|b| b.to_string());
        v
    };
    assert_eq!(as_ids("missing"), sorted(ids[..3].to_vec()));
    assert_eq!(as_ids("stale"), sorted(ids[3..5].to_vec()));
    assert_eq!(as_ids("extra"), sorted(invented.iter().map(|o| Bson::ObjectId(*o)).collect()));
}

#[tokio::test(flavor = "multi_thread")]
async fn tombstones_verify_with_their_server_time_left_out() {
    let db = fresh_db("verify_tomb");
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.ndjson");
    let (code, _, err) = forge_async(&[
        "generate",
        "--output",
        "mongo-cdc",
        "--uri",
        server_uri(),
        "--db",
        &db,
        "--collection",
        "c",
        "-q",
        "-n",
        "5000",
        "--operation-ratios",
        "insert:50,update:25,delete:25",
        "--delete-behavior",
        "tombstone",
        "--seed",
        "22",
        "--journal",
        journal.to_str().unwrap(),
    ])
    .await;
    assert_eq!(code, 0, "{err}");
    let (code, out, err) =
        forge_async(&["verify", "--journal", journal.to_str().unwrap(), "--uri", server_uri()]).await;
    assert_eq!(code, 0, "{out}{err}");
}

/// One crash: the server is killed mid-run and restarted on the same data and port.
async fn crash_and_recover(round: u32) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // Every commit synced, so that what was acknowledged survives a SIGKILL.
    let mut server = PrivateServer::start_with(&data, 0, &["--sync-on-commit"]);
    let (journal, report) = (dir.path().join("journal.ndjson"), dir.path().join("report.json"));
    let mut child = forge()
        .args(["generate", "--output", "mongo-cdc", "-q", "--db", "f", "--collection", "c", "--uri", &server.uri])
        .args(["-n", "6000", "--rate-limit", "1500", "--operation-ratios", "insert:60,update:30,delete:10"])
        .args(["--max-retries", "10", "--seed", &round.to_string(), "--batch-size", "200"])
        .arg("--journal")
        .arg(&journal)
        .arg("--report")
        .arg(&report)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    server.kill();
    std::thread::sleep(Duration::from_millis(500));
    let server = PrivateServer::start_with(&data, server.port, &["--sync-on-commit"]);
    let status = support::wait_for(&mut child, Duration::from_secs(90));
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    // The driver may absorb the crash with its own retryable write, or forge's retry
    // with backoff may: either way the run completes.
    assert!(status.success(), "round {round}: {stderr}");
    let report = read_report(&report);
    let acknowledged: u64 = ["insert", "update", "delete"].iter().map(|k| count(&report, k, "acknowledged")).sum();
    assert_eq!(acknowledged, 6000, "round {round}: nothing lost or counted twice: {report}");
    assert_eq!(journal_entries(&journal).len(), 6000);
    let (code, out, err) = forge_async(&["verify", "--journal", journal.to_str().unwrap(), "--uri", &server.uri]).await;
    assert_eq!(code, 0, "round {round}: {out}{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crashed_and_restarted_server_loses_no_acknowledged_operation() {
    let rounds: u32 = std::env::var("FORGE_CRASH_ROUNDS").ok().and_then(|n| n.parse().ok()).unwrap_or(10);
    for round in 0..rounds {
        crash_and_recover(round).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_gone_for_good_leaves_a_journal_of_exactly_the_acknowledged_operations() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = PrivateServer::start(&dir.path().join("data"));
    let (journal, report) = (dir.path().join("journal.ndjson"), dir.path().join("report.json"));
    let mut child = forge()
        .args(["generate", "--output", "mongo-cdc", "-q", "--db", "f", "--collection", "c", "--uri", &server.uri])
        .args(["--rate-limit", "2000", "--operation-ratios", "insert:70,update:20,delete:10", "--max-retries", "1"])
        .arg("--journal")
        .arg(&journal)
        .arg("--report")
        .arg(&report)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    server.stop();
    let status = support::wait_for(&mut child, Duration::from_secs(60));
    assert_eq!(status.code(), Some(1));
    let report = read_report(&report);
    let acknowledged: u64 = ["insert", "update", "delete"].iter().map(|k| count(&report, k, "acknowledged")).sum();
    assert!(acknowledged > 1000);
    let entries = journal_entries(&journal);
    assert_eq!(entries.len() as u64, acknowledged);
    let mut seqs: Vec<u64> = entries.iter().map(|e| e["s"].as_u64().unwrap()).collect();
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(seqs.len(), entries.len(), "no operation journaled twice");
}

#[tokio::test(flavor = "multi_thread")]
async fn watch_prints_the_change_stream_as_extended_json_lines() {
    let client = support::client().await;
    let db = fresh_db("watch");
    let coll = client.database(&db).collection::<Document>("c");
    let child = forge()
        .args(["watch", "--uri", server_uri(), "--db", &db, "--collection", "c", "-n", "3", "-q"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    coll.insert_one(doc! { "_id": 1, "d": bson::Decimal128::from_bytes([0; 16]) }).await.unwrap();
    coll.update_one(doc! { "_id": 1 }, doc! { "$set": { "x": 1 } }).await.unwrap();
    coll.delete_one(doc! { "_id": 1 }).await.unwrap();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output()).await.unwrap().unwrap();
    assert!(out.status.success());
    let events: Vec<Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let ops: Vec<&str> = events.iter().map(|e| e["operationType"].as_str().unwrap()).collect();
    assert_eq!(ops, ["insert", "update", "delete"]);
    assert!(events[0]["fullDocument"]["d"]["$numberDecimal"].is_string(), "types survive: {}", events[0]);
    assert!(events[0]["_id"]["_data"].is_string(), "the resume token is printed");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_change_stream_check_can_start_from_a_resume_token() {
    use futures_util::StreamExt;
    let client = support::client().await;
    let db = fresh_db("verify_token");
    let coll = client.database(&db).collection::<Document>("c");
    let mut stream = coll.watch().await.unwrap();
    // Touch the collection and undo it: the token of the undo is where the check starts.
    coll.insert_one(doc! { "_id": "marker" }).await.unwrap();
    coll.delete_one(doc! { "_id": "marker" }).await.unwrap();
    stream.next().await.unwrap().unwrap();
    let undo = stream.next().await.unwrap().unwrap();
    let token = serde_json::to_string(&bson::serialize_to_bson(&undo.id).unwrap().into_relaxed_extjson()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.ndjson");
    let (code, _, err) = forge_async(&[
        "generate",
        "--output",
        "mongo-cdc",
        "--uri",
        server_uri(),
        "--db",
        &db,
        "--collection",
        "c",
        "-q",
        "-n",
        "3000",
        "--operation-ratios",
        "insert:60,update:30,delete:10",
        "--seed",
        "23",
        "--journal",
        journal.to_str().unwrap(),
    ])
    .await;
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = forge_async(&[
        "verify",
        "--journal",
        journal.to_str().unwrap(),
        "--uri",
        server_uri(),
        "--change-stream",
        "--resume-after",
        &token,
    ])
    .await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("missing 0, duplicated 0, out of order 0 documents, unexpected 0"), "{out}");
}
