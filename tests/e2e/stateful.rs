//! The stateful built-ins (lifecycle, drift, array) against the server, with four
//! workers: the change stream shows only allowed status transitions, and what drift and
//! array leave behind still conforms to the schema (types, bounds, array lengths).

use std::collections::HashMap;
use std::time::Duration;

use bson::Document;
use futures_util::StreamExt;
use mongodb::change_stream::event::OperationType;

use crate::support::{self, Forge, Kind, Report, ValidateReport, fresh_db};

/// A CDC run of example orders with `strategy`, four workers; the change stream was
/// opened before it. Returns the report, the database and the events.
async fn run(
    name: &str,
    strategy: &str,
    n: u64,
    args: &[(&str, &str)],
) -> (Report, String, Vec<mongodb::change_stream::event::ChangeStreamEvent<Document>>) {
    let client = support::client().await;
    let db = fresh_db(name);
    let coll = client.database(&db).collection::<Document>("c");
    let mut stream = coll.watch().await.expect("open a change stream");
    let report = Forge::generate()
        .output("mongo-cdc")
        .db(&db)
        .collection("c")
        .quiet()
        .report()
        .schema("example:orders")
        .count(n)
        .seed(21)
        .arg("--operation-ratios", "insert:30,update:70")
        .arg("--update-strategy", strategy)
        .arg("--workers", "4");
    let report: Report =
        args.iter().fold(report, |run, (flag, value)| run.arg(flag, value)).run_async().await.success().report();
    let mut events = Vec::new();
    while let Ok(Some(event)) = tokio::time::timeout(Duration::from_secs(3), stream.next()).await {
        events.push(event.expect("a change event"));
    }
    (report, db, events)
}

#[tokio::test(flavor = "multi_thread")]
async fn lifecycle_moves_status_only_along_allowed_transitions() {
    let schema: serde_json::Value = serde_json::from_str(forge::examples::ORDERS.json).unwrap();
    let transitions = &schema["properties"]["status"]["x-gen"]["transitions"];
    assert!(transitions.is_object(), "the example declares its transitions");
    let (report, _, events) = run("lifecycle", "lifecycle", 20_000, &[]).await;
    let mut status: HashMap<String, String> = HashMap::new();
    let mut moves = 0;
    for e in &events {
        let id = format!("{:?}", e.document_key.as_ref().and_then(|k| k.get("_id")).unwrap());
        match &e.operation_type {
            OperationType::Insert => {
                let s = e.full_document.as_ref().unwrap().get_str("status").unwrap();
                status.insert(id, s.to_owned());
            }
            OperationType::Update => {
                let fields = &e.update_description.as_ref().unwrap().updated_fields;
                let new = fields.get_str("status").expect("lifecycle only moves status");
                let old = &status[&id];
                assert!(
                    transitions[old.as_str()][new].is_number(),
                    "{id}: {old} -> {new} is not an allowed transition"
                );
                status.insert(id, new.to_owned());
                moves += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    // Most orders reach a final state after a few moves; then lifecycle skips them.
    assert!(moves > 3000, "{moves} moves in the change stream ({report:?})");
    assert_eq!(moves, report.op(Kind::Update).modified, "every acknowledged move is in the change stream");
}

/// The collection conforms to the example's schema after `strategy` ran on it.
async fn leaves_the_collection_conforming(strategy: &str, args: &[(&str, &str)]) {
    let (report, db, events) = run(strategy, strategy, 5_000, args).await;
    let updates = events.iter().filter(|e| e.operation_type == OperationType::Update).count() as u64;
    assert!(updates > 2000, "{strategy}: {updates} updates ({report:?})");
    let inserted = report.op(Kind::Insert).acknowledged;
    let out = Forge::validate().db(&db).collection("c").schema("example:orders").report().run_async().await;
    let validated: ValidateReport = out.report();
    assert_eq!(validated.conforming, inserted, "{strategy}: {}{}", out.stdout, out.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn drift_keeps_types_and_bounds() {
    // The numeric fields whose bounds the schema states: drift cannot see the bounds
    // forge infers from a field's name (lat, lng), which plugins are not told.
    leaves_the_collection_conforming("drift", &[("--plugin-arg", "drift.fields=total,version")]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn array_keeps_lengths_within_the_schema() {
    leaves_the_collection_conforming("array", &[]).await;
}
