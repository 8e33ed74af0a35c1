//! Plugins see each target as it stands: the SDK README's own example (price-drift),
//! whose update is computed from the current document, run with four workers against
//! the server, and checked from the change stream and the collection.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use bson::{Bson, Document, doc};
use futures_util::StreamExt;
use mongodb::change_stream::event::OperationType;

use crate::support::{self, Forge, Kind, Report, fresh_db};

/// price-drift built as a component, with the README's command (its own target dir:
/// the test binary's cargo holds the workspace's).
fn price_drift() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = root.join("target/e2e-plugins");
    let _machine = support::busy();
    let out = Command::new(env!("CARGO"))
        .args(["build", "--release", "--target", "wasm32-wasip2", "-p", "price-drift", "--target-dir"])
        .arg(&target)
        .current_dir(&root)
        .output()
        .expect("run cargo");
    assert!(out.status.success(), "building price-drift failed:\n{}", String::from_utf8_lossy(&out.stderr));
    target.join("wasm32-wasip2/release/price_drift.wasm")
}

const SCHEMA: &str = r#"{
  "type": "object",
  "properties": {
    "_id": { "type": "string", "format": "objectid" },
    "price": { "type": "number", "minimum": 1, "maximum": 1000, "x-gen": { "mongoType": "double" } },
    "status": { "type": "string", "enum": ["pending", "paid", "shipped"] }
  },
  "required": ["_id", "price", "status"]
}"#;

#[tokio::test(flavor = "multi_thread")]
async fn the_readme_mutator_updates_every_document_from_its_current_price() {
    let wasm = price_drift();
    let dir = tempfile::tempdir().unwrap();
    let schema = dir.path().join("priced.schema.json");
    std::fs::write(&schema, SCHEMA).unwrap();
    let client = support::client().await;
    let db = fresh_db("price_drift");
    let coll = client.database(&db).collection::<Document>("c");
    let mut stream = coll.watch().await.expect("open a change stream");
    let report: Report = Forge::generate()
        .output("mongo-cdc")
        .db(&db)
        .collection("c")
        .quiet()
        .report()
        .schema(&schema)
        .count(3000)
        .seed(11)
        .arg("--operation-ratios", "insert:30,update:70")
        .arg("--workers", "4")
        .arg("--plugin", &wasm)
        .arg("--update-strategy", "price-drift")
        .arg("--plugin-arg", "price-drift.max-percent=5")
        .run_async()
        .await
        .success()
        .report();
    let updates = report.op(Kind::Update);
    assert!(updates.acknowledged > 1500, "price-drift must produce updates: {report:?}");

    // Each document's price history, as the change stream tells it.
    let mut price: HashMap<String, f64> = HashMap::new();
    let mut changed = 0;
    loop {
        let event = match tokio::time::timeout(Duration::from_secs(3), stream.next()).await {
            Ok(Some(event)) => event.expect("a change event"),
            _ => break,
        };
        let id = format!("{:?}", event.document_key.as_ref().and_then(|k| k.get("_id")).expect("a key"));
        match event.operation_type {
            OperationType::Insert => {
                let p = event.full_document.expect("inserts carry the document").get_f64("price").unwrap();
                price.insert(id, p);
            }
            OperationType::Update => {
                let fields = event.update_description.expect("an update description").updated_fields;
                let Ok(new) = fields.get_f64("price") else { continue };
                let old = price[&id];
                // The rule: new = old × (1 + k/100) for a whole k in [-5, 5], computed
                // from the price the document had, never from a stale one.
                let k = ((new / old - 1.0) * 100.0).round();
                assert!(k.abs() <= 5.0 && old * (1.0 + k / 100.0) == new, "{id}: {old} -> {new} is not a drift step");
                price.insert(id, new);
                changed += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(changed > 1000, "only {changed} price changes in the change stream");
    let docs: Vec<Document> = {
        use futures_util::TryStreamExt;
        coll.find(doc! {}).await.unwrap().try_collect().await.unwrap()
    };
    assert_eq!(docs.len(), price.len());
    for d in docs {
        let id = format!("{:?}", d.get("_id").unwrap());
        assert_eq!(Some(&Bson::Double(price[&id])), d.get("price"), "{id}: the collection ends where its history does");
    }
}
