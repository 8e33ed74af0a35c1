//! `forge generate --output mongo / mongo-cdc` against a real server, checked from the
//! collection and from a change stream opened before the run.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use bson::{Bson, Document, doc};
use futures_util::TryStreamExt;

use crate::support::{self, Ending, Event, Forge, Kind, Report, drain_events, fresh_db};

type ChangeStream = mongodb::change_stream::ChangeStream<mongodb::change_stream::event::ChangeStreamEvent<Document>>;

/// A fresh collection `c` and a change stream on it, opened before any write.
struct Run {
    db: String,
    coll: mongodb::Collection<Document>,
}

async fn setup(name: &str) -> (Run, ChangeStream) {
    let client = support::client().await;
    let db = fresh_db(name);
    let coll = client.database(&db).collection::<Document>("c");
    let stream = coll.watch().await.expect("open a change stream");
    (Run { db, coll }, stream)
}

impl Run {
    /// `forge generate` into the collection, quiet, with a report.
    fn generate(&self, output: &str) -> Forge {
        Forge::generate().output(output).db(&self.db).collection("c").quiet().report()
    }

    /// Every document, in `_id` order.
    async fn documents(&self) -> Vec<Document> {
        self.coll.find(doc! {}).sort(doc! { "_id": 1 }).await.unwrap().try_collect().await.unwrap()
    }
}

/// Runs `forge`, which must succeed, and returns its report.
async fn report_of(forge: Forge) -> Report {
    forge.run_async().await.success().report()
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
    let report = report_of(
        run.generate("mongo-cdc").count(20000).arg("--operation-ratios", "insert:50,update:40,delete:10").seed(7),
    )
    .await;
    let (ins, upd, del) = (report.op(Kind::Insert), report.op(Kind::Update), report.op(Kind::Delete));
    let (n_ins, n_upd, n_del) = (ins.acknowledged, upd.acknowledged, del.acknowledged);
    assert_eq!(n_ins + n_upd + n_del, 20000, "{report:?}");
    for (n, share) in [(n_ins, 0.5), (n_upd, 0.4), (n_del, 0.1)] {
        assert!((n as f64 / 20000.0 - share).abs() <= share * 0.05, "{n} vs {share} ({report:?})");
    }
    // Every update and delete hit a document: targets are live inserted _ids.
    assert_eq!(upd.matched, n_upd);
    assert_eq!(del.matched, n_del);
    let docs = run.coll.count_documents(doc! {}).await.unwrap();
    assert_eq!(docs, n_ins - n_del, "collection count = inserts - deletes");

    let events = drain_events(&mut stream, Duration::from_secs(3)).await;
    assert_eq!(events.len() as u64, n_ins + upd.modified + n_del, "one event per effective write");
    let violations = history_violations(&events);
    assert!(violations < 0.001, "{:.4}% of events break per-document history", violations * 100.0);
    assert!(events.iter().all(|e| matches!(e.id, Bson::ObjectId(_))), "_ids stay ObjectIds");
}

/// A journal's operations in plan order, without the time each was acknowledged: the
/// operation stream, with each write's expected document hash.
fn journaled_stream(path: &std::path::Path) -> Vec<serde_json::Value> {
    let mut ops: Vec<serde_json::Value> = crate::support::journal_lines(path)
        .into_iter()
        .map(|mut v| {
            v.as_object_mut().unwrap().remove("t");
            v
        })
        .collect();
    ops.sort_by_key(|v| v["s"].as_u64().unwrap());
    ops
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_seed_writes_the_same_operations_whatever_the_workers() {
    let dir = tempfile::tempdir().unwrap();
    let mut seen = Vec::new();
    for workers in ["1", "2", "4", "8"] {
        let (run, mut stream) = setup("cdc_seed").await;
        let journal = dir.path().join(format!("w{workers}.journal"));
        let report = report_of(
            run.generate("mongo-cdc")
                .count(3000)
                .arg("--operation-ratios", "insert:40,update:40,replace:10,delete:10")
                .arg("--update-strategy", "mixed")
                .seed(99)
                .arg("--journal", &journal)
                .arg("--workers", workers),
        )
        .await;
        let events = drain_events(&mut stream, Duration::from_secs(2)).await;
        // Writers interleave differently, but each document's own history is fixed.
        let mut per_doc: HashMap<String, Vec<String>> = HashMap::new();
        for e in events {
            per_doc.entry(format!("{:?}", e.id)).or_default().push(e.op);
        }
        // Equal but empty would prove nothing: every inserted document has a history.
        assert_eq!(per_doc.len() as u64, report.op(Kind::Insert).acknowledged, "{workers} workers: {report:?}");
        let ops = journaled_stream(&journal);
        // mixed's lifecycle skips documents in a final state: planned, never written.
        assert_eq!(ops.len() as u64, report.acknowledged(), "{workers} workers: every acknowledged write journaled");
        assert!(ops.len() > 2900, "{workers} workers: {} writes", ops.len());
        assert!(ops.iter().all(|o| o["h"].is_string()), "every write has an expected state");
        let final_docs = run.documents().await;
        assert!(!final_docs.is_empty(), "{workers} workers left no documents");
        seen.push((workers, per_doc, ops, final_docs));
    }
    let (_, histories, ops, docs) = &seen[0];
    for (workers, h, o, d) in &seen[1..] {
        assert!(h == histories, "per-document histories differ between 1 and {workers} workers");
        assert!(o == ops, "the operation stream differs between 1 and {workers} workers");
        assert!(d == docs, "final documents differ between 1 and {workers} workers");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn id_cache_size_limits_targets_to_the_most_recent_inserts() {
    let (run, _stream) = setup("cdc_cache").await;
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.ndjson");
    report_of(
        run.generate("mongo-cdc")
            .count(4000)
            .arg("--operation-ratios", "insert:50,update:50")
            .arg("--id-cache-size", "100")
            .arg("--workers", "1")
            .arg("--journal", &journal)
            .seed(3),
    )
    .await;
    // In plan order (the journal's operation index), not the change stream's: through
    // the collection-level commands, a batch's ops on different _ids may reach the
    // server out of plan order (each _id's own stay in order).
    #[derive(serde::Deserialize)]
    struct Entry {
        s: u64,
        k: String,
        id: serde_json::Value,
    }
    let text = std::fs::read_to_string(&journal).unwrap();
    let mut entries: Vec<Entry> = text.lines().skip(1).map(|l| serde_json::from_str(l).unwrap()).collect();
    entries.sort_by_key(|e| e.s);
    let mut order: HashMap<String, usize> = HashMap::new();
    let mut updates = 0;
    for e in &entries {
        let key = e.id.to_string();
        if e.k == "insert" {
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
    let report = report_of(
        run.generate("mongo-cdc")
            .count(2000)
            .arg("--operation-ratios", "insert:60,update:20,delete:20")
            .arg("--delete-behavior", "tombstone")
            .seed(5),
    )
    .await;
    let ins = report.op(Kind::Insert).acknowledged;
    assert_eq!(run.coll.count_documents(doc! {}).await.unwrap(), ins, "nothing is removed");
    let marked = run.coll.count_documents(doc! { "_deleted": true, "_deletedAt": { "$type": "date" } }).await.unwrap();
    assert!(marked > 100, "{marked} tombstones");
    let (upd, del) = (report.op(Kind::Update), report.op(Kind::Delete));
    assert_eq!(del.matched, del.acknowledged);
    let events = drain_events(&mut stream, Duration::from_secs(2)).await;
    assert_eq!(events.iter().filter(|e| e.op == "insert").count() as u64, ins, "the stream was read");
    assert!(events.iter().all(|e| e.op != "delete"), "no delete events");
    // Tombstoned documents stay known, so later updates still reach them.
    assert_eq!(upd.matched, upd.acknowledged);
}

#[tokio::test(flavor = "multi_thread")]
async fn keep_deletes_but_keeps_targeting_the_deleted_ids() {
    let (run, _stream) = setup("cdc_keep").await;
    let report = report_of(
        run.generate("mongo-cdc")
            .count(3000)
            .arg("--operation-ratios", "insert:30,update:40,delete:30")
            .arg("--delete-behavior", "keep")
            .arg("--id-cache-size", "200")
            .seed(6),
    )
    .await;
    let (ins, upd, del) = (report.op(Kind::Insert), report.op(Kind::Update), report.op(Kind::Delete));
    assert_eq!(run.coll.count_documents(doc! {}).await.unwrap(), ins.acknowledged - del.matched);
    assert!(
        upd.matched < upd.acknowledged,
        "some updates target deleted documents ({} of {} matched)",
        upd.matched,
        upd.acknowledged
    );
    assert!(del.acknowledged > del.matched, "some deletes hit already deleted documents");
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_mongo_output_bulk_loads_the_same_documents_as_the_file_output() {
    let (run, _stream) = setup("bulk").await;
    let load = run.generate("mongo").count(2500).seed(12).arg("--batch-size", "700");
    let report = report_of(load.arg("--write-concern", "majority,j")).await;
    assert_eq!(report.op(Kind::Insert).acknowledged, 2500);
    let file = Forge::generate().quiet().seed(12).count(2500).arg("--ejson", "canonical").run().success();
    let expected = support::parse_ndjson(&file.stdout);
    assert_eq!(run.documents().await, expected);
    assert_eq!(report.ending, Ending::Completed);
    assert_eq!(report.seed, 12);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_report_counts_server_refusals_by_code() {
    let (run, _stream) = setup("dupes").await;
    // The same seed twice: the second run's inserts all collide on _id.
    report_of(run.generate("mongo").count(500).seed(1)).await;
    let report = report_of(run.generate("mongo").count(500).seed(1).flag("--unordered")).await;
    let ins = report.op(Kind::Insert);
    assert_eq!(ins.acknowledged, 0);
    assert_eq!(ins.failed.get("11000"), Some(&500), "{report:?}");
    assert_eq!(run.coll.count_documents(doc! {}).await.unwrap(), 500);
}
