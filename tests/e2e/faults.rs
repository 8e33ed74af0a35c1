//! Write truth under faults: a server killed (SIGKILL) and restarted on the same data in
//! the middle of mixed batches of `$inc` or `$push` updates, replaces and deletes. forge
//! reads the batch's documents back, sends only what did not apply, and its journal
//! and report stay exactly what the server did: `verify` finds no difference, and the
//! change stream no duplicate forge does not own up to.

use std::path::Path;
use std::time::Duration;

use futures_util::TryStreamExt;

use crate::support::{Forge, Kind, Report, Server};

/// One crash: the server is killed mid-run and restarted on the same data and port.
/// Whether a write saw the connection lost: when none was in flight, the driver may
/// notice the dead server first and wait for it, so the run sees only a stall.
async fn crash_and_recover(round: u32) -> bool {
    // Increments and array pushes: writes that would show if applied twice.
    let strategy = if round.is_multiple_of(2) { "increment" } else { "array" };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // Every commit synced, so that what was acknowledged survives a SIGKILL.
    let mut server = Server::start_with(&data, 0, &["--sync-on-commit"]);
    let journal = dir.path().join("journal.ndjson");
    let run = Forge::generate().output("mongo-cdc").quiet().uri(&server.uri).db("f").collection("c").count(6000);
    let run = run.arg("--rate-limit", "1500").arg("--operation-ratios", "insert:40,update:40,replace:10,delete:10");
    let run = run.arg("--update-strategy", strategy).arg("--schema", "example:orders");
    let run = run.arg("--max-retries", "10").seed(round.into()).arg("--batch-size", "200");
    let child = run.arg("--journal", &journal).report().spawn();
    std::thread::sleep(Duration::from_millis(1500));
    server.kill();
    std::thread::sleep(Duration::from_millis(500));
    let server = Server::start_with(&data, server.port, &["--sync-on-commit"]);
    let out = child.wait(Duration::from_secs(120));
    assert_eq!(out.code, 0, "round {round} ({strategy}): {}", out.stderr);
    let report: Report = out.report();
    let stalled = report.schedule.as_ref().is_some_and(|s| s.max_lag_ms >= 200.0);
    let disconnected = report.retries.disconnected_s > 0.0;
    assert!(disconnected || stalled, "round {round}: the run saw the crash: {report:?}");
    let unknown: u64 = report.ops.values().map(|c| c.unknown).sum();
    assert_eq!(unknown, 0, "round {round}: every op's fate is known: {report:?}");
    let (lines, retried) = journal_lines(&journal);
    assert_eq!(lines, report.acknowledged(), "round {round}: one journal line per acknowledged op");
    let r = &report.retries;
    assert!(retried <= r.ambiguous && r.ambiguous <= r.after_reconnect, "round {round}: {retried} retried: {r:?}");
    let out = Forge::verify().arg("--journal", &journal).uri(&server.uri).flag("--change-stream").run_async().await;
    assert_eq!(out.code, 0, "round {round} ({strategy}): {}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("missing 0, duplicated 0,"), "round {round}: {}", out.stdout);
    disconnected
}

/// A journal's entries, and those marked retried.
fn journal_lines(path: &Path) -> (u64, u64) {
    let text = std::fs::read_to_string(path).unwrap();
    let entries: Vec<serde_json::Value> = text.lines().skip(1).map(|l| serde_json::from_str(l).unwrap()).collect();
    let retried = entries.iter().filter(|e| e["r"] == serde_json::Value::Bool(true)).count();
    (entries.len() as u64, retried as u64)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_and_restarted_server_leaves_every_write_applied_once_and_journaled_as_done() {
    let rounds: u32 = std::env::var("FORGE_CRASH_ROUNDS").ok().and_then(|n| n.parse().ok()).unwrap_or(10);
    let mut disconnected = 0;
    for round in 0..rounds {
        disconnected += u32::from(crash_and_recover(round).await);
    }
    // Most crashes catch a write in flight: the recovery path is what this tests.
    assert!(disconnected * 2 >= rounds, "only {disconnected} of {rounds} rounds lost a connection");
}

#[tokio::test(flavor = "multi_thread")]
async fn writes_the_server_refuses_are_counted_and_the_rest_of_their_batch_still_lands() {
    let client = crate::support::client().await;
    let db = crate::support::fresh_db("refusals");
    // The server refuses any document whose `n` reaches 50: a sixth of the inserts and
    // replaces, and the increments that push a document over.
    let rule = bson::doc! { "n": { "$lt": 50 } };
    client.database(&db).create_collection("c").validator(rule).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let schema = dir.path().join("s.json");
    let text = r#"{"type": "object", "required": ["n", "s"], "properties": {
        "n": {"type": "integer", "minimum": 0, "maximum": 59}, "s": {"type": "string", "maxLength": 8}}}"#;
    std::fs::write(&schema, text).unwrap();
    let journal = dir.path().join("journal.ndjson");
    let run = Forge::generate().output("mongo-cdc").db(&db).collection("c").quiet().count(4000).seed(31);
    let run = run.arg("--schema", &schema).arg("--update-strategy", "increment").arg("--batch-size", "500");
    let run = run.arg("--operation-ratios", "insert:40,update:40,replace:10,delete:10").arg("--journal", &journal);
    let out = run.report().run_async().await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report: Report = out.report();
    for kind in [Kind::Insert, Kind::Update, Kind::Replace] {
        let c = report.op(kind);
        assert!(c.failed.get("121").is_some_and(|n| *n > 0), "{kind:?}: {report:?}");
        let failed: u64 = c.failed.values().sum();
        assert_eq!(c.attempted, c.acknowledged + failed, "{kind:?}: every op settled: {report:?}");
    }
    let attempted: u64 = report.ops.values().map(|c| c.attempted).sum();
    assert_eq!(attempted, 4000, "nothing dropped after a refusal: {report:?}");
    assert!(report.retries.after_error > 0, "ops after a refusal were sent again: {report:?}");
    let coll = client.database(&db).collection::<bson::Document>("c");
    let docs: Vec<bson::Document> = coll.find(bson::doc! {}).await.unwrap().try_collect().await.unwrap();
    assert!(docs.iter().all(|d| d.get_i32("n").is_ok_and(|n| n < 50) || d.get_i64("n").is_ok_and(|n| n < 50)));
    assert!(docs.len() > 100);
    let verify = Forge::verify().arg("--journal", &journal).uri(crate::support::server_uri()).flag("--change-stream");
    let out = verify.run_async().await;
    assert_eq!(out.code, 0, "the journal says what the server did: {}{}", out.stdout, out.stderr);
}
