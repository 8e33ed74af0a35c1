//! `forge mutate` against a collection loaded beforehand, checked from the collection
//! and from a change stream.

use std::collections::HashSet;
use std::time::Duration;

use bson::{Bson, Document, doc};
use futures_util::TryStreamExt;

use crate::support::{self, Forge, Kind, Output, Report, drain_events, fresh_db};

/// A database with `n` example customers in collection `c`.
async fn loaded(name: &str, n: u64) -> (String, mongodb::Collection<Document>) {
    let client = support::client().await;
    let db = fresh_db(name);
    let load = Forge::generate().output("mongo").db(&db).collection("c").quiet().seed(1).count(n);
    load.run_async().await.success();
    let coll = client.database(&db).collection::<Document>("c");
    (db, coll)
}

/// `forge mutate` on `db`.c, quiet, with a report; `more` adds flags.
async fn mutate(db: &str, more: impl FnOnce(Forge) -> Forge) -> Output {
    more(Forge::mutate().db(db).collection("c").quiet().report()).run_async().await
}

/// A mutate run that must succeed, and its report.
async fn mutated(db: &str, more: impl FnOnce(Forge) -> Forge) -> Report {
    mutate(db, more).await.success().report()
}

#[tokio::test(flavor = "multi_thread")]
async fn default_mix_updates_and_deletes_real_object_id_documents() {
    let (db, coll) = loaded("mutate_spec", 10_000).await;
    let mut stream = coll.watch().await.unwrap();
    let report = mutated(&db, |m| m.count(1000).seed(2).arg("--delete-tracking", "memory")).await;
    let (upd, del) = (report.op(Kind::Update).matched, report.op(Kind::Delete).matched);
    assert_eq!(upd + del, 1000, "every operation matched a document: {report:?}");
    assert!((upd as f64 - 700.0).abs() <= 50.0 && (del as f64 - 300.0).abs() <= 50.0, "{upd} updates, {del} deletes");
    assert_eq!(coll.count_documents(doc! {}).await.unwrap(), 10_000 - del);

    let events = drain_events(&mut stream, Duration::from_secs(2)).await;
    assert!(events.iter().all(|e| matches!(e.id, Bson::ObjectId(_))));
    let mut deleted = HashSet::new();
    for e in &events {
        let key = format!("{:?}", e.id);
        assert!(!deleted.contains(&key), "{} of an already deleted document", e.op);
        if e.op == "delete" {
            deleted.insert(key);
        }
    }
    assert_eq!(deleted.len() as u64, del);
}

#[tokio::test(flavor = "multi_thread")]
async fn regenerate_leaves_documents_valid_against_the_schema() {
    let (db, coll) = loaded("mutate_regen", 2000).await;
    let report = mutated(&db, |m| {
        m.count(1500)
            .arg("--ratio", "update:1")
            .arg("--update-strategy", "regenerate")
            .schema("example:customers")
            .seed(3)
    })
    .await;
    assert_eq!(report.op(Kind::Update).matched, 1500);
    let docs: Vec<Document> = coll.find(doc! {}).await.unwrap().try_collect().await.unwrap();
    assert_eq!(docs.len(), 2000);
    for d in docs {
        assert!(matches!(d.get("_id"), Some(Bson::ObjectId(_))));
        assert!(matches!(d.get("createdAt"), Some(Bson::DateTime(_))), "{d}");
        assert!(matches!(d.get("balance"), Some(Bson::Decimal128(_))), "{d}");
        assert!(matches!(d.get("loyaltyPoints"), Some(Bson::Int64(_))), "{d}");
        assert!(["active", "pending", "suspended", "closed"].contains(&d.get_str("status").unwrap()));
        let address = d.get_document("address").unwrap();
        assert!(address.get_str("street").is_ok() && address.get_str("city").is_ok());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_schema_partial_updates_keep_field_types() {
    let (db, coll) = loaded("mutate_partial", 500).await;
    let mut stream = coll.watch().await.unwrap();
    let report = mutated(&db, |m| m.count(400).arg("--ratio", "update:1").seed(4)).await;
    let updates = report.op(Kind::Update);
    assert_eq!(updates.matched, 400);
    let events = drain_events(&mut stream, Duration::from_secs(2)).await;
    // One event per update that changed something, so the check below sees them all.
    assert_eq!(events.len() as u64, updates.modified, "{report:?}");
    assert!(!events.is_empty() && events.iter().all(|e| e.op == "update"));
    let docs: Vec<Document> = coll.find(doc! {}).await.unwrap().try_collect().await.unwrap();
    for d in docs {
        assert!(matches!(d.get("createdAt"), Some(Bson::DateTime(_))), "{d}");
        assert!(matches!(d.get("loyaltyPoints"), Some(Bson::Int64(_))), "{d}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn filter_tracking_makes_deleted_targets_match_nothing() {
    let (db, coll) = loaded("mutate_filter", 300).await;
    let report = mutated(&db, |m| {
        m.count(2000)
            .arg("--ratio", "update:1,delete:1")
            .arg("--delete-behavior", "tombstone")
            .arg("--delete-tracking", "filter")
            .arg("--id-cache-size", "50")
            .arg("--sampling", "weighted-recent")
            .seed(5)
    })
    .await;
    let marked = coll.count_documents(doc! { "_deleted": true }).await.unwrap();
    assert!(marked > 0, "nothing was tombstoned: {report:?}");
    assert_eq!(report.op(Kind::Delete).matched, marked, "each tombstone once: {report:?}");
    let updates = report.op(Kind::Update);
    assert!(updates.acknowledged > updates.matched, "updates of tombstoned documents are reported as unmatched");
    assert_eq!(coll.count_documents(doc! {}).await.unwrap(), 300);
}

#[tokio::test(flavor = "multi_thread")]
async fn sequential_sampling_walks_the_collection_in_id_order() {
    let (db, coll) = loaded("mutate_seq", 300).await;
    let mut stream = coll.watch().await.unwrap();
    let report = mutated(&db, |m| {
        m.count(150)
            .arg("--ratio", "update:1")
            .arg("--sampling", "sequential")
            .arg("--id-cache-size", "100")
            .arg("--workers", "1")
            .seed(6)
    })
    .await;
    let updates = report.op(Kind::Update);
    assert_eq!(updates.matched, 150, "{report:?}");
    // A loaded machine can hold the stream back for a couple of seconds: wait longer
    // for silence before counting.
    let ids: Vec<bson::oid::ObjectId> =
        drain_events(&mut stream, Duration::from_secs(6)).await.iter().filter_map(|e| e.id.as_object_id()).collect();
    // An update that happens to set what is already there changes nothing and makes
    // no event (the values come from a schema inferred from a random sample).
    assert_eq!(ids.len() as u64, updates.modified, "one event per modifying update: {report:?}");
    assert!(updates.modified >= 140, "{report:?}");
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "targets follow _id order");
    let first: Vec<bson::oid::ObjectId> = coll
        .find(doc! {})
        .sort(doc! { "_id": 1 })
        .limit(150)
        .await
        .unwrap()
        .try_collect::<Vec<Document>>()
        .await
        .unwrap()
        .iter()
        .map(|d| d.get_object_id("_id").unwrap())
        .collect();
    assert!(ids.iter().all(|id| first.contains(id)), "every target is among the first 150 _ids");
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_or_empty_collections_and_schema_less_regenerate_are_refused() {
    let client = support::client().await;
    let db = fresh_db("mutate_refuse");
    let refused = |out: Output, words: &[&str]| {
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert!(words.iter().all(|w| out.stderr.contains(w)), "{words:?} not in {}", out.stderr);
    };
    refused(mutate(&db, |m| m.count(10)).await, &["does not exist"]);
    client.database(&db).create_collection("c").await.unwrap();
    refused(mutate(&db, |m| m.count(10)).await, &["is empty"]);
    refused(mutate(&db, |m| m.count(10).arg("--update-strategy", "regenerate")).await, &["--schema is required"]);
    refused(mutate(&db, |m| m.arg("--ratio", "insert:1")).await, &["--ratio", "insert"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn fields_of_mixed_types_keep_the_mix_and_the_journal_true() {
    let client = support::client().await;
    let db = fresh_db("mutate_mixed");
    let coll = client.database(&db).collection::<Document>("c");
    // Mostly a number, sometimes null or a string; the first document sampled may hold any.
    let docs = (0..2000).map(|i: i32| {
        let qty = match i % 5 {
            0 => Bson::Null,
            1 => Bson::String(format!("{i} pcs")),
            _ => Bson::Int32(i),
        };
        doc! { "_id": i, "qty": qty, "price": f64::from(i) / 4.0, "name": format!("n{i}") }
    });
    coll.insert_many(docs).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.ndjson");
    let out = mutate(&db, |m| {
        let m = m.count(3000).seed(5).arg("--update-strategy", "increment").arg("--ratio", "update:80,delete:20");
        m.arg("--delete-tracking", "memory").arg("--journal", &journal)
    })
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report: Report = out.report();
    let (updates, deletes) = (report.op(Kind::Update), report.op(Kind::Delete));
    assert!(updates.failed.is_empty() && deletes.failed.is_empty(), "no increment of a null or a string: {report:?}");
    let share = updates.attempted as f64 / (updates.attempted + deletes.attempted) as f64;
    assert!((share - 0.8).abs() <= 0.05, "the requested mix holds: {report:?}");
    let out = Forge::verify().arg("--journal", &journal).db(&db).collection("c").run_async().await;
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
}
