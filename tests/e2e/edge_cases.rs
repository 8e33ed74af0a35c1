//! CDC edge cases a pipeline meets in production: `_id`s of several BSON types in one
//! collection, and documents at the 16 MiB limit (and past it), each checked from the
//! collection, the journal and the change stream (`forge verify --change-stream`).

use std::path::Path;

use bson::{Bson, Document, RawDocumentBuf, doc};
use futures_util::TryStreamExt;
use serde_json::json;

use crate::support::{self, Forge, Kind, Report, fresh_db};

const MIB: usize = 1 << 20;

/// Writes `schema` to `dir/name` and returns its path.
fn schema_file(dir: &Path, name: &str, schema: serde_json::Value) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec_pretty(&schema).unwrap()).unwrap();
    path
}

/// `forge verify --journal J --change-stream` of `db`.c: it must find everything matching.
async fn verify_clean(journal: &Path, db: &str, collection: &str) {
    let check = Forge::verify().arg("--journal", journal).db(db).collection(collection).flag("--change-stream");
    let out = check.run_async().await.success();
    assert!(out.stdout.contains("everything matches"), "{}", out.stdout);
    assert!(out.stdout.contains("missing 0, duplicated 0, out of order 0 documents, unexpected 0"), "{}", out.stdout);
}

/// The BSON type names of the `_id`s in `coll`, with how many of each.
async fn id_types(coll: &mongodb::Collection<Document>) -> std::collections::BTreeMap<&'static str, usize> {
    let docs: Vec<Document> =
        coll.find(doc! {}).projection(doc! { "_id": 1 }).await.unwrap().try_collect().await.unwrap();
    let mut types = std::collections::BTreeMap::new();
    for d in docs {
        let name = match d.get("_id").unwrap() {
            Bson::ObjectId(_) => "objectId",
            Bson::Int32(_) => "int",
            Bson::Int64(_) => "long",
            Bson::String(_) => "string",
            Bson::Binary(b) if b.subtype == bson::spec::BinarySubtype::Uuid => "uuid",
            other => panic!("an _id of no alternative: {other:?}"),
        };
        *types.entry(name).or_default() += 1;
    }
    types
}

#[tokio::test(flavor = "multi_thread")]
async fn ids_of_mixed_types_in_one_collection_verify_from_the_collection_and_the_change_stream() {
    let client = support::client().await;
    let dir = tempfile::tempdir().unwrap();
    let schema = schema_file(
        dir.path(),
        "mixed.json",
        json!({
            "type": "object",
            "properties": {
                "_id": { "anyOf": [
                    { "x-gen": { "mongoType": "objectId" } },
                    { "type": "integer", "x-gen": { "mongoType": "long" } },
                    { "type": "string" },
                    { "type": "integer", "x-gen": { "mongoType": "int" } },
                    { "type": "string", "x-gen": { "mongoType": "uuid" } }
                ] },
                "name": { "type": "string", "maxLength": 20 },
                "n": { "type": "integer", "minimum": 0, "maximum": 1000 }
            },
            "required": ["_id", "name", "n"]
        }),
    );
    // "c" starts empty (verify reads the whole collection); "p" holds a document from
    // before the run, so verify looks the journaled `_id`s up, all types in one `$in`.
    let db = fresh_db("mixed_ids");
    client.database(&db).collection::<Document>("p").insert_one(doc! { "_id": "before the run" }).await.unwrap();
    for (collection, seed) in [("c", 41), ("p", 42)] {
        let journal = dir.path().join(format!("{collection}.ndjson"));
        let run = Forge::generate().output("mongo-cdc").schema(&schema).db(&db).collection(collection).quiet();
        let run = run.count(4000).seed(seed).arg("--operation-ratios", "insert:50,update:30,delete:20");
        let report: Report = run.arg("--journal", &journal).report().run_async().await.success().report();
        assert_eq!(report.acknowledged(), 4000, "{report:?}");
        // Updates and deletes found their targets, whatever the type of their `_id`.
        for kind in [Kind::Update, Kind::Delete] {
            assert_eq!(report.op(kind).matched, report.op(kind).acknowledged, "{kind:?}: {report:?}");
        }
        let coll = client.database(&db).collection::<Document>(collection);
        let types = id_types(&coll).await;
        for name in ["objectId", "long", "string", "int", "uuid"] {
            assert!(types.get(name).is_some_and(|n| *n > 100), "{collection}: {types:?}");
        }
        verify_clean(&journal, &db, collection).await;
    }
}

/// A schema whose documents are `blob` bytes of binary data and a short name.
fn blob_schema(dir: &Path, name: &str, blob: serde_json::Value) -> std::path::PathBuf {
    let mut blob = blob;
    blob["bsonType"] = json!("binData");
    let schema = json!({
        "type": "object",
        "properties": { "name": { "type": "string", "maxLength": 20 }, "blob": blob },
        "required": ["name", "blob"]
    });
    schema_file(dir, name, schema)
}

/// Every document of `db`.`collection` as the server sends it.
async fn raw_documents(db: &str, collection: &str) -> Vec<RawDocumentBuf> {
    let coll = support::client().await.database(db).collection::<RawDocumentBuf>(collection);
    coll.find(doc! {}).await.unwrap().try_collect().await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn documents_near_16_mib_are_written_in_batches_the_server_takes_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let size = 15 * MIB + MIB / 2;
    let schema = blob_schema(dir.path(), "big.json", json!({ "minLength": size, "maxLength": size }));
    let db = fresh_db("big_docs");
    // Ten such documents are 155 MiB: each batch must be split into messages the
    // server takes, by the driver (client) or by forge (collection).
    for api in ["client", "collection"] {
        let journal = dir.path().join(format!("{api}.ndjson"));
        let run = Forge::generate().output("mongo-cdc").schema(&schema).db(&db).collection(api).quiet();
        let run = run.count(20).seed(43).arg("--operation-ratios", "insert:60,update:40");
        let run = run.arg("--update-strategy", "regenerate").arg("--batch-size", "10").arg("--bulk-api", api);
        // Generating 15 MiB in a plugin call takes a while in a debug build.
        let run = run.arg("--plugin-timeout", "60s").arg("--journal", &journal);
        let report: Report = run.report().run_async().await.success().report();
        assert_eq!(report.acknowledged(), 20, "{api}: {report:?}");
        assert!(report.op(Kind::Update).modified >= 5, "regenerated documents: {report:?}");
        let docs = raw_documents(&db, api).await;
        assert_eq!(docs.len() as u64, report.op(Kind::Insert).acknowledged, "{api}");
        for d in &docs {
            assert!(d.as_bytes().len() > 15 * MIB && d.as_bytes().len() < 16 * MIB, "{} bytes", d.as_bytes().len());
        }
        verify_clean(&journal, &db, api).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn writes_past_16_mib_are_counted_as_refused_and_never_journaled() {
    let client = support::client().await;
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_db("too_big");

    // Updates past the limit: documents of 9 MiB (`blob`) that an update may give a
    // second 9 MiB field (`extra`, never there on insert). `partial` sets one field
    // per update: `blob` again (the document stays 9 MiB), or `extra`, which the server
    // refuses (18 MiB).
    let nine = 9 * MIB;
    let schema = schema_file(
        dir.path(),
        "grows.json",
        json!({
            "type": "object",
            "properties": {
                "blob": { "bsonType": "binData", "minLength": nine, "maxLength": nine },
                "extra": { "bsonType": "binData", "minLength": nine, "maxLength": nine, "x-gen": { "presence": 0 } }
            },
            "required": ["blob"]
        }),
    );
    let journal = dir.path().join("grows.ndjson");
    let run = Forge::generate().output("mongo-cdc").schema(&schema).db(&db).collection("c").quiet();
    let run = run.count(16).seed(44).arg("--operation-ratios", "insert:50,update:50");
    let run = run.arg("--plugin-arg", "partial.max-fields=1").arg("--plugin-arg", "partial.unset-rate=0");
    let run = run.arg("--plugin-timeout", "60s").arg("--journal", &journal).report();
    let report: Report = run.run_async().await.success().report();
    let updates = report.op(Kind::Update);
    let refused: u64 = updates.failed.values().sum();
    assert!(refused >= 1 && updates.acknowledged >= 1, "seed 44 draws both fields: {report:?}");
    assert_eq!(updates.acknowledged + refused, updates.attempted, "{report:?}");
    assert_eq!(report.op(Kind::Insert).acknowledged + updates.acknowledged, report.acknowledged());
    let docs = raw_documents(&db, "c").await;
    assert_eq!(docs.len() as u64, report.op(Kind::Insert).acknowledged);
    assert!(docs.iter().all(|d| d.get("extra").unwrap().is_none()), "no refused update applied");
    verify_clean(&journal, &db, "c").await;

    // Inserts past the limit: the driver would refuse the whole batch unsent; forge
    // counts each as the server's refusal and writes the rest.
    let schema = blob_schema(dir.path(), "over.json", json!({ "minLength": 15 * MIB, "maxLength": 17 * MIB }));
    let journal = dir.path().join("over.ndjson");
    let run = Forge::generate().output("mongo-cdc").schema(&schema).db(&db).collection("over").quiet();
    let run = run.count(12).seed(45).arg("--operation-ratios", "insert:100").arg("--batch-size", "4");
    let report: Report = run.arg("--journal", &journal).report().run_async().await.success().report();
    let inserts = report.op(Kind::Insert);
    let too_large = inserts.failed.get("10334 BSONObjectTooLarge").copied().unwrap_or(0);
    assert!(too_large >= 1 && inserts.acknowledged >= 1, "{report:?}");
    assert_eq!(inserts.acknowledged + too_large, 12, "{report:?}");
    let over = client.database(&db).collection::<Document>("over");
    assert_eq!(over.count_documents(doc! {}).await.unwrap(), inserts.acknowledged);
    verify_clean(&journal, &db, "over").await;
}
