//! `forge infer` and `forge validate`: infer → generate → validate round trips on a
//! real server.

use bson::{Document, doc};
use serde_json::{Value, json};

use crate::support::{self, Forge, ValidateReport, fresh_db};

/// A varied source: nested objects, optional fields, a union, arrays of objects, a
/// dynamic-key map, and the BSON types CDC pipelines trip over.
fn source_schema() -> Value {
    json!({
        "type": "object",
        "required": ["_id", "account", "amount", "at", "lines", "flags", "ref", "blob", "code"],
        "properties": {
            "_id": { "x-gen": { "mongoType": "objectId" } },
            "account": { "type": "object", "required": ["id", "tier"], "properties": {
                "id": { "type": "string", "format": "uuid" },
                "tier": { "enum": ["free", "pro", "enterprise"] },
                "note": { "type": "string", "minLength": 20, "maxLength": 300, "x-gen": { "presence": 0.4 } }
            }},
            "amount": { "x-gen": { "mongoType": "decimal128", "decimals": 2 }, "minimum": 0, "maximum": 9999 },
            "at": { "x-gen": { "mongoType": "date" } },
            "code": { "anyOf": [{ "type": "integer", "minimum": 1, "maximum": 999 }, { "type": "string", "pattern": "^C[0-9]{4}$" }], "x-gen": { "weights": [3, 1] } },
            "lines": { "type": "array", "x-gen": { "arrayLen": { "min": 0, "max": 30, "p50": 4, "p90": 12, "p99": 25 } }, "items": {
                "type": "object", "required": ["sku", "qty"], "properties": {
                    "sku": { "type": "string", "pattern": "^[A-Z]{3}-[0-9]{4}$" },
                    "qty": { "type": "integer", "minimum": 1, "maximum": 50, "x-gen": { "mongoType": "long" } },
                    "tags": { "type": "array", "items": { "type": "string", "maxLength": 12 }, "maxItems": 4 }
                }
            }},
            "flags": { "type": "object", "additionalProperties": { "type": "boolean" },
                "x-gen": { "keys": "uuid", "keyCount": { "min": 0, "max": 20, "p50": 3, "p90": 8, "p99": 15 } } },
            "ref": { "x-gen": { "mongoType": "uuid" } },
            "blob": { "x-gen": { "mongoType": "binData" }, "minLength": 16, "maxLength": 256 },
            "maybe": { "type": ["string", "null"], "x-gen": { "presence": 0.8, "typeWeights": { "string": 0.7, "null": 0.3 } } }
        }
    })
}

/// `forge generate` of 10,000 documents from `schema` into `db`.`collection`.
async fn load(db: &str, collection: &str, schema: &std::path::Path, seed: u64) {
    let forge = Forge::generate().output("mongo").db(db).collection(collection).quiet();
    forge.seed(seed).count(10000).schema(schema).run_async().await.success();
}

#[tokio::test(flavor = "multi_thread")]
async fn infer_generate_validate_round_trip_keeps_shapes_and_types() {
    let client = support::client().await;
    let db = fresh_db("infer_rt");
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source.json");
    std::fs::write(&source, source_schema().to_string()).unwrap();
    let inferred = dir.path().join("inferred.json");
    load(&db, "src", &source, 1).await;
    let infer = Forge::infer().db(&db).collection("src").quiet().arg("--sample-size", "10000");
    infer.arg("--out", &inferred).run_async().await.success();
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(&inferred).unwrap()).unwrap();
    assert_eq!(schema["properties"]["flags"]["x-gen"]["keys"], "uuid", "the map is a dynamic-key map");
    assert!(schema["properties"]["code"]["anyOf"].is_array(), "the union is kept");

    load(&db, "dst", &inferred, 2).await;
    let out = Forge::validate().db(&db).collection("dst").schema(&inferred).report().run_async().await;
    let report: ValidateReport = out.report();
    assert_eq!(report.conforming, 10000, "{}{}", out.stdout, out.stderr);
    for row in &report.rows {
        let limit = if row.metric.starts_with("document bytes") {
            if row.metric.ends_with("p99") {
                continue;
            }
            0.2
        } else if row.metric == "presence" {
            0.05
        } else {
            0.1
        };
        assert!(row.deviation <= limit, "{} {}: {row:?}", row.path, row.metric);
    }
    assert!(report.rows.iter().any(|r| r.path == "lines" && r.metric == "array length p90"));
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);

    // The same BSON types in the generated collection as in the source.
    let (src, dst) =
        (client.database(&db).collection::<Document>("src"), client.database(&db).collection::<Document>("dst"));
    for (field, t) in [
        ("_id", "objectId"),
        ("amount", "decimal"),
        ("at", "date"),
        ("ref", "binData"),
        ("blob", "binData"),
        ("lines.qty", "long"),
        ("account.id", "string"),
    ] {
        let a = src.count_documents(doc! { field: { "$type": t } }).await.unwrap();
        let b = dst.count_documents(doc! { field: { "$type": t } }).await.unwrap();
        assert!(a > 0 && b > 0, "{field} as {t}: source {a}, generated {b}");
    }
    let uuids = dst
        .count_documents(doc! { "ref": { "$type": "binData" }, "$expr": { "$eq": [{ "$binarySize": "$ref" }, 16] } })
        .await
        .unwrap();
    assert_eq!(uuids, 10000);
}

#[tokio::test(flavor = "multi_thread")]
async fn validate_reads_files_and_reports_violations() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("docs.ndjson");
    let generate = Forge::generate().schema("example:orders").count(2000).seed(3).quiet();
    generate.arg("--out", &file).run_async().await.success();
    let validate = || Forge::validate().schema("example:orders").arg("--input", &file).run_async();
    let out = validate().await.success();
    assert!(out.stdout.contains("conformance: 2000/2000"), "{}", out.stdout);
    let broken = std::fs::read_to_string(&file).unwrap().replacen("\"currency\":\"", "\"currency\":1,\"x\":\"", 1);
    std::fs::write(&file, broken).unwrap();
    let out = validate().await;
    assert_eq!(out.code, 1);
    assert!(out.stdout.contains("conformance: 1999/2000") && out.stdout.contains("currency"), "{}", out.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn infer_refuses_missing_and_empty_collections() {
    let client = support::client().await;
    let db = fresh_db("infer_refuse");
    let infer = || Forge::infer().db(&db).collection("c").quiet().run_async();
    let out = infer().await;
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("does not exist"), "{}", out.stderr);
    client.database(&db).create_collection("c").await.unwrap();
    let out = infer().await;
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("is empty"), "{}", out.stderr);
}
