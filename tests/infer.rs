//! `forge infer` and `forge validate`: infer → generate → validate round trips on a
//! real server.

mod support;

use bson::{Document, doc};
use serde_json::{Value, json};
use support::{fresh_db, run_async, server_uri};

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
                "x-gen": { "key": "uuid", "keyCount": { "min": 0, "max": 20, "p50": 3, "p90": 8, "p99": 15 } } },
            "ref": { "x-gen": { "mongoType": "uuid" } },
            "blob": { "x-gen": { "mongoType": "binData" }, "minLength": 16, "maxLength": 256 },
            "maybe": { "type": ["string", "null"], "x-gen": { "presence": 0.8, "typeWeights": { "string": 0.7, "null": 0.3 } } }
        }
    })
}

async fn forge(args: &[&str]) -> (i32, String, String) {
    run_async(args.iter().map(|s| s.to_string()).collect()).await
}

#[tokio::test(flavor = "multi_thread")]
async fn infer_generate_validate_round_trip_keeps_shapes_and_types() {
    let client = support::client().await;
    let db = fresh_db("infer_rt");
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source.json");
    std::fs::write(&source, source_schema().to_string()).unwrap();
    let (inferred, report) = (dir.path().join("inferred.json"), dir.path().join("validate.json"));
    let uri = server_uri();
    let (code, _, err) = forge(&[
        "generate",
        "--output",
        "mongo",
        "--uri",
        uri,
        "--db",
        &db,
        "--collection",
        "src",
        "-q",
        "--seed",
        "1",
        "-n",
        "10000",
        "--schema",
        source.to_str().unwrap(),
    ])
    .await;
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = forge(&[
        "infer",
        "--uri",
        uri,
        "--db",
        &db,
        "--collection",
        "src",
        "-q",
        "--sample-size",
        "10000",
        "--out",
        inferred.to_str().unwrap(),
    ])
    .await;
    assert_eq!(code, 0, "{err}");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(&inferred).unwrap()).unwrap();
    assert_eq!(schema["properties"]["flags"]["x-gen"]["key"], "uuid", "the map is a dynamic-key map");
    assert!(schema["properties"]["code"]["anyOf"].is_array(), "the union is kept");

    let (code, _, err) = forge(&[
        "generate",
        "--output",
        "mongo",
        "--uri",
        uri,
        "--db",
        &db,
        "--collection",
        "dst",
        "-q",
        "--seed",
        "2",
        "-n",
        "10000",
        "--schema",
        inferred.to_str().unwrap(),
    ])
    .await;
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = forge(&[
        "validate",
        "--uri",
        uri,
        "--db",
        &db,
        "--collection",
        "dst",
        "--schema",
        inferred.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ])
    .await;
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(report["conforming"], 10000, "{out}{err}");
    for row in report["rows"].as_array().unwrap() {
        let (metric, deviation) = (row["metric"].as_str().unwrap(), row["deviation"].as_f64().unwrap());
        let limit = if metric.starts_with("document bytes") {
            if metric.ends_with("p99") {
                continue;
            }
            0.2
        } else if metric == "presence" {
            0.05
        } else {
            0.1
        };
        assert!(deviation <= limit, "{} {metric}: {row}", row["path"]);
    }
    assert!(
        report["rows"].as_array().unwrap().iter().any(|r| r["path"] == "lines" && r["metric"] == "array length p90")
    );
    assert_eq!(code, 0, "{out}{err}");

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
    let (code, _, err) = forge(&[
        "generate",
        "--schema",
        "example:orders",
        "-n",
        "2000",
        "--seed",
        "3",
        "-q",
        "--out",
        file.to_str().unwrap(),
    ])
    .await;
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = forge(&["validate", "--schema", "example:orders", "--input", file.to_str().unwrap()]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("conformance: 2000/2000"), "{out}");
    let broken = std::fs::read_to_string(&file).unwrap().replacen("\"currency\":\"", "\"currency\":1,\"x\":\"", 1);
    std::fs::write(&file, broken).unwrap();
    let (code, out, _) = forge(&["validate", "--schema", "example:orders", "--input", file.to_str().unwrap()]).await;
    assert_eq!(code, 1);
    assert!(out.contains("conformance: 1999/2000") && out.contains("currency"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn infer_refuses_missing_and_empty_collections() {
    let client = support::client().await;
    let db = fresh_db("infer_refuse");
    let (code, _, err) = forge(&["infer", "--uri", server_uri(), "--db", &db, "--collection", "c", "-q"]).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("does not exist"), "{err}");
    client.database(&db).create_collection("c").await.unwrap();
    let (code, _, err) = forge(&["infer", "--uri", server_uri(), "--db", &db, "--collection", "c", "-q"]).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is empty"), "{err}");
}
