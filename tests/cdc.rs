//! `forge generate --output mongo / mongo-cdc` against a real server, checked from the
//! collection and from a change stream opened before the run.

mod support;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use bson::{Bson, Document, doc};
use support::{Event, count, drain_events, fresh_db, read_report, run_async, server_uri};

struct Run {
    db: String,
    coll: mongodb::Collection<Document>,
    report_path: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

async fn setup(
    name: &str,
) -> (Run, mongodb::change_stream::ChangeStream<mongodb::change_stream::event::ChangeStreamEvent<Document>>) {
    let client = support::client().await;
    let db = fresh_db(name);
    let coll = client.database(&db).collection::<Document>("c");
    let stream = coll.watch().await.expect("open a change stream");
    let dir = tempfile::tempdir().unwrap();
    let report_path = dir.path().join("report.json");
    (Run { db, coll, report_path, _dir: dir }, stream)
}

impl Run {
    async fn forge(&self, extra: &[&str]) -> serde_json::Value {
        let mut args: Vec<String> = ["generate", "--uri", server_uri(), "--db", &self.db, "--collection", "c", "-q"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.extend(["--report".to_string(), self.report_path.display().to_string()]);
        args.extend(extra.iter().map(|s| s.to_string()));
        let (code, _, err) = run_async(args).await;
        assert_eq!(code, 0, "forge failed: {err}");
        read_report(&self.report_path)
    }
}

/// Checks that every update/delete targets a document inserted earlier in the stream,
/// and that nothing happens to a document after its delete. Returns the share of
/// events that break this.
fn history_violations(events: &[Event]) -> f64 {
    let mut inserted: HashSet<String> = HashSet::new();
    let mut deleted: HashSet<String> = HashSet::new();
    let mut bad = 0;
    for e in events {
        let key = format!("{:?}", e.id);
        match e.op.as_str() {
            "insert" => {
                if !inserted.insert(key) {
                    bad += 1;
                }
            }
            _ => {
                if !inserted.contains(&key) || deleted.contains(&key) {
                    bad += 1;
                }
                if e.op == "delete" {
                    deleted.insert(key);
                }
            }
        }
    }
    bad as f64 / events.len().max(1) as f64
}

#[tokio::test(flavor = "multi_thread")]
async fn cdc_mix_follows_the_ratios_and_the_change_stream_shows_a_coherent_history() {
    let (run, mut stream) = setup("cdc_mix").await;
    let report = run
        .forge(&[
            "--output",
            "mongo-cdc",
            "-n",
            "20000",
            "--operation-ratios",
            "insert:50,update:40,delete:10",
            "--seed",
            "7",
        ])
        .await;
    let (ins, upd, del) = (
        count(&report, "insert", "acknowledged"),
        count(&report, "update", "acknowledged"),
        count(&report, "delete", "acknowledged"),
    );
    assert_eq!(ins + upd + del, 20000, "{report}");
    for (n, share) in [(ins, 0.5), (upd, 0.4), (del, 0.1)] {
        assert!((n as f64 / 20000.0 - share).abs() <= share * 0.05, "{n} vs {share} ({report})");
    }
    // Every update and delete hit a document: targets are live inserted _ids.
    assert_eq!(count(&report, "update", "matched"), upd);
    assert_eq!(count(&report, "delete", "matched"), del);
    let docs = run.coll.count_documents(doc! {}).await.unwrap();
    assert_eq!(docs, ins - del, "collection count = inserts - deletes");

    let events = drain_events(&mut stream, Duration::from_secs(3)).await;
    let modified = count(&report, "update", "modified");
    assert_eq!(events.len() as u64, ins + modified + del, "one event per effective write");
    let violations = history_violations(&events);
    assert!(violations < 0.001, "{:.4}% of events break per-document history", violations * 100.0);
    assert!(events.iter().all(|e| matches!(e.id, Bson::ObjectId(_))), "_ids stay ObjectIds");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_seed_writes_the_same_operations_whatever_the_workers() {
    let mut seen = Vec::new();
    for workers in ["1", "4"] {
        let (run, mut stream) = setup("cdc_seed").await;
        run.forge(&[
            "--output",
            "mongo-cdc",
            "-n",
            "3000",
            "--operation-ratios",
            "insert:60,update:30,delete:10",
            "--seed",
            "99",
            "--workers",
            workers,
        ])
        .await;
        let events = drain_events(&mut stream, Duration::from_secs(2)).await;
        // Writers interleave differently, but each document's own history is fixed.
        let mut per_doc: HashMap<String, Vec<String>> = HashMap::new();
        for e in events {
            per_doc.entry(format!("{:?}", e.id)).or_default().push(e.op);
        }
        let mut final_docs: Vec<Document> = {
            use futures_util::TryStreamExt;
            run.coll.find(doc! {}).sort(doc! { "_id": 1 }).await.unwrap().try_collect().await.unwrap()
        };
        final_docs.iter_mut().for_each(|d| {
            d.remove("_deletedAt");
        });
        seen.push((per_doc, final_docs));
    }
    assert_eq!(seen[0].0, seen[1].0, "per-document histories differ between 1 and 4 workers");
    assert_eq!(seen[0].1, seen[1].1, "final documents differ between 1 and 4 workers");
}

#[tokio::test(flavor = "multi_thread")]
async fn id_cache_size_limits_targets_to_the_most_recent_inserts() {
    let (run, mut stream) = setup("cdc_cache").await;
    run.forge(&[
        "--output",
        "mongo-cdc",
        "-n",
        "4000",
        "--operation-ratios",
        "insert:50,update:50",
        "--id-cache-size",
        "100",
        "--workers",
        "1",
        "--seed",
        "3",
    ])
    .await;
    let events = drain_events(&mut stream, Duration::from_secs(2)).await;
    let mut order: HashMap<String, usize> = HashMap::new();
    let mut updates = 0;
    for e in &events {
        let key = format!("{:?}", e.id);
        if e.op == "insert" {
            let n = order.len();
            order.insert(key, n);
        } else {
            updates += 1;
            let pos = order[&key];
            assert!(order.len() - pos <= 100, "update of insert #{pos} when {} were inserted", order.len());
        }
    }
    assert!(updates > 1000, "{updates} updates");
}

#[tokio::test(flavor = "multi_thread")]
async fn tombstones_mark_instead_of_removing() {
    let (run, mut stream) = setup("cdc_tombstone").await;
    let report = run
        .forge(&[
            "--output",
            "mongo-cdc",
            "-n",
            "2000",
            "--operation-ratios",
            "insert:60,update:20,delete:20",
            "--delete-behavior",
            "tombstone",
            "--seed",
            "5",
        ])
        .await;
    let ins = count(&report, "insert", "acknowledged");
    assert_eq!(run.coll.count_documents(doc! {}).await.unwrap(), ins, "nothing is removed");
    let marked = run.coll.count_documents(doc! { "_deleted": true, "_deletedAt": { "$type": "date" } }).await.unwrap();
    assert!(marked > 100, "{marked} tombstones");
    assert_eq!(count(&report, "delete", "matched"), count(&report, "delete", "acknowledged"));
    let events = drain_events(&mut stream, Duration::from_secs(2)).await;
    assert!(events.iter().all(|e| e.op != "delete"), "no delete events");
    // Tombstoned documents stay known, so later updates still reach them.
    assert_eq!(count(&report, "update", "matched"), count(&report, "update", "acknowledged"));
}

#[tokio::test(flavor = "multi_thread")]
async fn keep_deletes_but_keeps_targeting_the_deleted_ids() {
    let (run, _stream) = setup("cdc_keep").await;
    let report = run
        .forge(&[
            "--output",
            "mongo-cdc",
            "-n",
            "3000",
            "--operation-ratios",
            "insert:30,update:40,delete:30",
            "--delete-behavior",
            "keep",
            "--id-cache-size",
            "200",
            "--seed",
            "6",
        ])
        .await;
    let (ins, del_matched) = (count(&report, "insert", "acknowledged"), count(&report, "delete", "matched"));
    assert_eq!(run.coll.count_documents(doc! {}).await.unwrap(), ins - del_matched);
    let (upd, upd_matched) = (count(&report, "update", "acknowledged"), count(&report, "update", "matched"));
    assert!(upd_matched < upd, "some updates target deleted documents ({upd_matched} of {upd} matched)");
    assert!(count(&report, "delete", "acknowledged") > del_matched, "some deletes hit already deleted documents");
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_mongo_output_bulk_loads_the_same_documents_as_the_file_output() {
    let (run, _stream) = setup("bulk").await;
    let flags =
        ["--output", "mongo", "-n", "2500", "--seed", "12", "--batch-size", "700", "--write-concern", "majority,j"];
    let report = run.forge(&flags).await;
    assert_eq!(count(&report, "insert", "acknowledged"), 2500);
    let (code, out, err) = support::run(&["generate", "-q", "--seed", "12", "-n", "2500", "--ejson", "canonical"]);
    assert_eq!(code, 0, "{err}");
    let expected = support::parse_ndjson(&out);
    use futures_util::TryStreamExt;
    let stored: Vec<Document> =
        run.coll.find(doc! {}).sort(doc! { "_id": 1 }).await.unwrap().try_collect().await.unwrap();
    assert_eq!(stored, expected);
    assert_eq!(report["ending"], "completed");
    assert_eq!(report["seed"], 12);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_report_counts_server_refusals_by_code() {
    let (run, _stream) = setup("dupes").await;
    // The same seed twice: the second run's inserts all collide on _id.
    run.forge(&["--output", "mongo", "-n", "500", "--seed", "1"]).await;
    let report = run.forge(&["--output", "mongo", "-n", "500", "--seed", "1", "--unordered"]).await;
    assert_eq!(count(&report, "insert", "acknowledged"), 0);
    assert_eq!(report["ops"]["insert"]["failed"]["11000"].as_u64(), Some(500), "{report}");
    assert_eq!(run.coll.count_documents(doc! {}).await.unwrap(), 500);
}
