//! `forge mutate` against a collection loaded beforehand, checked from the collection
//! and from a change stream.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use bson::{Bson, Document, doc};
use futures_util::TryStreamExt;
use support::{count, drain_events, fresh_db, read_report, run_async, server_uri};

/// A database with `n` example customers in collection `c`.
async fn loaded(name: &str, n: u64) -> (String, mongodb::Collection<Document>) {
    let client = support::client().await;
    let db = fresh_db(name);
    let args: Vec<String> = [
        "generate",
        "--output",
        "mongo",
        "--uri",
        server_uri(),
        "--db",
        &db,
        "--collection",
        "c",
        "-q",
        "--seed",
        "1",
        "-n",
        &n.to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let (code, _, err) = run_async(args).await;
    assert_eq!(code, 0, "{err}");
    let coll = client.database(&db).collection::<Document>("c");
    (db, coll)
}

async fn mutate(db: &str, extra: &[&str]) -> (i32, serde_json::Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r.json");
    let mut args: Vec<String> = ["mutate", "--uri", server_uri(), "--db", db, "--collection", "c", "-q", "--report"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.push(report.display().to_string());
    args.extend(extra.iter().map(|s| s.to_string()));
    let (code, _, err) = run_async(args).await;
    let json = if report.exists() { read_report(&report) } else { serde_json::Value::Null };
    (code, json, err)
}

#[tokio::test(flavor = "multi_thread")]
async fn default_mix_updates_and_deletes_real_object_id_documents() {
    let (db, coll) = loaded("mutate_spec", 10_000).await;
    let mut stream = coll.watch().await.unwrap();
    let (code, report, err) = mutate(&db, &["--count", "1000", "--seed", "2", "--delete-tracking", "memory"]).await;
    assert_eq!(code, 0, "{err}");
    let (upd, del) = (count(&report, "update", "matched"), count(&report, "delete", "matched"));
    assert_eq!(upd + del, 1000, "every operation matched a document: {report}");
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
    let (code, report, err) = mutate(
        &db,
        &[
            "--count",
            "1500",
            "--ratio",
            "update:1",
            "--update-strategy",
            "regenerate",
            "--schema",
            "example:customers",
            "--seed",
            "3",
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(count(&report, "update", "matched"), 1500);
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
    let (code, report, err) = mutate(&db, &["--count", "400", "--ratio", "update:1", "--seed", "4"]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(count(&report, "update", "matched"), 400);
    assert!(drain_events(&mut stream, Duration::from_secs(2)).await.iter().all(|e| e.op == "update"));
    let docs: Vec<Document> = coll.find(doc! {}).await.unwrap().try_collect().await.unwrap();
    for d in docs {
        assert!(matches!(d.get("createdAt"), Some(Bson::DateTime(_))), "{d}");
        assert!(matches!(d.get("loyaltyPoints"), Some(Bson::Int64(_))), "{d}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn filter_tracking_makes_deleted_targets_match_nothing() {
    let (db, coll) = loaded("mutate_filter", 300).await;
    let (code, report, err) = mutate(
        &db,
        &[
            "--count",
            "2000",
            "--ratio",
            "update:1,delete:1",
            "--delete-behavior",
            "tombstone",
            "--delete-tracking",
            "filter",
            "--id-cache-size",
            "50",
            "--sampling",
            "weighted-recent",
            "--seed",
            "5",
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let marked = coll.count_documents(doc! { "_deleted": true }).await.unwrap();
    assert_eq!(count(&report, "delete", "matched"), marked, "each tombstone once: {report}");
    let unmatched = count(&report, "update", "acknowledged") - count(&report, "update", "matched");
    assert!(unmatched > 0, "updates of tombstoned documents are reported as unmatched");
    assert_eq!(coll.count_documents(doc! {}).await.unwrap(), 300);
}

#[tokio::test(flavor = "multi_thread")]
async fn sequential_sampling_walks_the_collection_in_id_order() {
    let (db, coll) = loaded("mutate_seq", 300).await;
    let mut stream = coll.watch().await.unwrap();
    let (code, _, err) = mutate(
        &db,
        &[
            "--count",
            "150",
            "--ratio",
            "update:1",
            "--sampling",
            "sequential",
            "--id-cache-size",
            "100",
            "--workers",
            "1",
            "--seed",
            "6",
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let ids: Vec<bson::oid::ObjectId> =
        drain_events(&mut stream, Duration::from_secs(2)).await.iter().filter_map(|e| e.id.as_object_id()).collect();
    assert_eq!(ids.len(), 150);
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
    assert_eq!(ids, first);
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_or_empty_collections_and_schema_less_regenerate_are_refused() {
    let client = support::client().await;
    let db = fresh_db("mutate_refuse");
    let (code, _, err) = mutate(&db, &["--count", "10"]).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("does not exist"), "{err}");
    client.database(&db).create_collection("c").await.unwrap();
    let (code, _, err) = mutate(&db, &["--count", "10"]).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is empty"), "{err}");
    let (code, _, err) = mutate(&db, &["--count", "10", "--update-strategy", "regenerate"]).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--schema is required"), "{err}");
    let (code, _, err) = mutate(&db, &["--ratio", "insert:1"]).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--ratio") && err.contains("insert"), "{err}");
}
