//! Schema compilation: what each keyword produces, and how bad schemas are reported.

use std::sync::Arc;

use bson::{Bson, Document};
use serde_json::json;

use super::{Schema, SchemaError};
use crate::generate::Generator;

fn docs(schema: serde_json::Value, n: u64) -> Vec<Document> {
    let g = Generator::new(Arc::new(Schema::from_value(schema).expect("valid schema")), 7);
    (0..n).map(|i| g.document(i)).collect()
}

fn error(schema: serde_json::Value) -> SchemaError {
    Schema::from_value(schema).expect_err("schema should be rejected")
}

fn object(props: serde_json::Value) -> serde_json::Value {
    let required: Vec<String> = props.as_object().unwrap().keys().cloned().collect();
    json!({ "type": "object", "properties": props, "required": required })
}

#[test]
fn bson_types_follow_mongo_type_and_bson_type() {
    let d = &docs(
        object(json!({
            "oid": { "type": "string", "x-gen": { "mongoType": "objectId" } },
            "date": { "type": "string", "format": "date-time", "x-gen": { "mongoType": "date" } },
            "dec": { "type": "string", "x-gen": { "mongoType": "decimal128" } },
            "long": { "type": "integer", "x-gen": { "mongoType": "long" } },
            "int": { "type": "integer", "x-gen": { "mongoType": "int" } },
            "double": { "type": "number", "x-gen": { "mongoType": "double" } },
            "bin": { "x-gen": { "mongoType": "binData" } },
            "ts": { "x-gen": { "mongoType": "timestamp" } },
            "uuid": { "type": "string", "x-gen": { "mongoType": "uuid" } },
            "validatorStyle": { "bsonType": "date" },
            "bool": { "type": "boolean" },
            "null": { "type": "null" },
        })),
        1,
    )[0];
    assert!(matches!(d.get("_id"), Some(Bson::ObjectId(_))));
    assert!(matches!(d.get("oid"), Some(Bson::ObjectId(_))));
    assert!(matches!(d.get("date"), Some(Bson::DateTime(_))));
    assert!(matches!(d.get("dec"), Some(Bson::Decimal128(_))));
    assert!(matches!(d.get("long"), Some(Bson::Int64(_))));
    assert!(matches!(d.get("int"), Some(Bson::Int32(_))));
    assert!(matches!(d.get("double"), Some(Bson::Double(_))));
    assert!(matches!(d.get("bin"), Some(Bson::Binary(b)) if b.subtype == bson::spec::BinarySubtype::Generic));
    assert!(matches!(d.get("ts"), Some(Bson::Timestamp(_))));
    assert!(matches!(d.get("uuid"), Some(Bson::Binary(b)) if b.subtype == bson::spec::BinarySubtype::Uuid));
    assert!(matches!(d.get("validatorStyle"), Some(Bson::DateTime(_))));
    assert!(matches!(d.get("bool"), Some(Bson::Boolean(_))));
    assert_eq!(d.get("null"), Some(&Bson::Null));
}

#[test]
fn numbers_and_strings_respect_their_bounds() {
    for d in docs(
        object(json!({
            "n": { "type": "integer", "minimum": 5, "exclusiveMaximum": 8 },
            "x": { "type": "number", "minimum": -1.5, "maximum": 1.5 },
            "big": { "type": "integer", "minimum": 0, "maximum": 10_000_000_000i64 },
            "s": { "type": "string", "minLength": 3, "maxLength": 6 },
            "zip": { "type": "string", "pattern": "^[0-9]{5}$" },
            "email": { "type": "string", "format": "email" },
            "when": { "type": "string", "format": "date" },
            "id": { "type": "string", "format": "uuid" },
            "e": { "enum": ["a", "b", 3] },
            "c": { "const": { "$oid": "65a1b2c3d4e5f60718293a4b" } },
        })),
        500,
    ) {
        let n = d.get_i32("n").unwrap();
        assert!((5..8).contains(&n), "{n}");
        let x = d.get_f64("x").unwrap();
        assert!((-1.5..=1.5).contains(&x));
        assert!(matches!(d.get("big"), Some(Bson::Int64(_))));
        let s = d.get_str("s").unwrap();
        assert!((3..=6).contains(&s.chars().count()), "{s:?}");
        let zip = d.get_str("zip").unwrap();
        assert!(zip.len() == 5 && zip.bytes().all(|b| b.is_ascii_digit()), "{zip}");
        let email = d.get_str("email").unwrap();
        assert!(email.contains('@') && email.contains('.'), "{email}");
        assert_eq!(d.get_str("when").unwrap().len(), 10);
        assert!(bson::Uuid::parse_str(d.get_str("id").unwrap()).is_ok());
        assert!(matches!(d.get("e"), Some(Bson::String(_)) | Some(Bson::Int32(3))));
        assert_eq!(d.get_object_id("c").unwrap().to_hex(), "65a1b2c3d4e5f60718293a4b");
    }
}

#[test]
fn optional_fields_follow_presence() {
    let all = docs(
        json!({ "type": "object", "properties": {
            "often": { "type": "string", "x-gen": { "presence": 0.7 } },
            "default": { "type": "string" },
        }}),
        20_000,
    );
    let rate = |k: &str| all.iter().filter(|d| d.contains_key(k)).count() as f64 / all.len() as f64;
    assert!((rate("often") - 0.7).abs() < 0.02, "{}", rate("often"));
    assert!((rate("default") - super::DEFAULT_PRESENCE).abs() < 0.02);
}

#[test]
fn type_unions_follow_their_weights() {
    let all = docs(
        object(
            json!({ "v": { "type": ["string", "null"], "x-gen": { "typeWeights": { "string": 0.9, "null": 0.1 } } } }),
        ),
        10_000,
    );
    let nulls = all.iter().filter(|d| d.get("v") == Some(&Bson::Null)).count() as f64 / 10_000.0;
    assert!((nulls - 0.1).abs() < 0.02, "{nulls}");
    assert!(all.iter().any(|d| matches!(d.get("v"), Some(Bson::String(_)))));
}

#[test]
fn array_lengths_follow_the_percentile_hints_over_100k_documents() {
    let all = docs(
        object(json!({ "items": { "type": "array", "items": { "type": "integer" },
            "x-gen": { "arrayLen": { "min": 0, "max": 50, "p50": 4, "p90": 12, "p99": 30 } } } })),
        100_000,
    );
    let mut lens: Vec<usize> = all.iter().map(|d| d.get_array("items").unwrap().len()).collect();
    lens.sort_unstable();
    let pct = |q: f64| lens[((q * lens.len() as f64).ceil() as usize) - 1] as f64;
    for (q, want) in [(0.5, 4.0), (0.9, 12.0), (0.99, 30.0)] {
        assert!((pct(q) - want).abs() <= want * 0.1, "p{}: {} vs {want}", q * 100.0, pct(q));
    }
    assert!(*lens.last().unwrap() <= 50);
}

#[test]
fn dynamic_keys_make_data_like_keys() {
    let all = docs(
        object(json!({ "flags": { "type": "object", "additionalProperties": { "type": "boolean" },
            "x-gen": { "key": "uuid", "keyCount": { "min": 2, "max": 4 } } } })),
        200,
    );
    for d in all {
        let flags = d.get_document("flags").unwrap();
        assert!((2..=4).contains(&flags.len()));
        for (k, v) in flags {
            assert!(bson::Uuid::parse_str(k).is_ok(), "{k}");
            assert!(matches!(v, Bson::Boolean(_)));
        }
    }
}

#[test]
fn refs_resolve_and_recursion_terminates() {
    let all = docs(
        json!({
            "type": "object",
            "definitions": { "node": { "type": "object", "required": ["name"], "properties": {
                "name": { "type": "string" },
                "children": { "type": "array", "items": { "$ref": "#/definitions/node" }, "maxItems": 2 }
            }}},
            "required": ["root"],
            "properties": { "root": { "$ref": "#/definitions/node" } }
        }),
        50,
    );
    fn depth(d: &Document) -> usize {
        1 + d.get_array("children").map_or(0, |c| c.iter().filter_map(Bson::as_document).map(depth).max().unwrap_or(0))
    }
    for d in all {
        let root = d.get_document("root").unwrap();
        assert!(root.get_str("name").is_ok());
        assert!(depth(root) <= super::MAX_DEPTH + 2);
    }
}

#[test]
fn all_of_merges_properties() {
    let d = &docs(
        json!({ "allOf": [
            { "type": "object", "properties": { "a": { "type": "integer" } }, "required": ["a"] },
            { "properties": { "b": { "type": "boolean" } }, "required": ["b"] }
        ]}),
        1,
    )[0];
    assert!(d.get_i32("a").is_ok() && d.get_bool("b").is_ok());
}

#[test]
fn id_follows_the_schema_and_stays_unique() {
    let ints = docs(object(json!({ "_id": { "type": "integer", "minimum": 100 } })), 3);
    assert_eq!(ints.iter().map(|d| d.get_i32("_id").unwrap()).collect::<Vec<_>>(), vec![100, 101, 102]);
    let strs = docs(object(json!({ "_id": { "type": "string", "format": "uuid" } })), 2);
    assert!(bson::Uuid::parse_str(strs[0].get_str("_id").unwrap()).is_ok());
    assert_eq!(error(object(json!({ "_id": { "type": "array" } }))).path, "#/properties/_id");
}

#[test]
fn a_mixed_id_takes_its_alternatives_in_turn_uniquely_and_repeatably() {
    let schema = object(json!({ "_id": { "anyOf": [
        { "x-gen": { "mongoType": "objectId" } },
        { "type": "integer", "minimum": 10, "x-gen": { "mongoType": "long" } },
        { "type": "string" },
        { "type": "integer", "minimum": 0 },
        { "type": "string", "x-gen": { "mongoType": "uuid" } }
    ] } }));
    let got = docs(schema.clone(), 1000);
    let ids: Vec<&Bson> = got.iter().map(|d| d.get("_id").unwrap()).collect();
    for (i, id) in ids.iter().enumerate() {
        let fits = match i % 5 {
            0 => matches!(id, Bson::ObjectId(_)),
            1 => matches!(id, Bson::Int64(_)),
            2 => matches!(id, Bson::String(s) if s.len() == 24),
            3 => matches!(id, Bson::Int32(_)),
            _ => matches!(id, Bson::Binary(b) if b.subtype == bson::spec::BinarySubtype::Uuid),
        };
        assert!(fits, "document {i}: {id:?}");
    }
    // Unique as the server sees them: int 13 and long 13 would be one _id.
    let keys: std::collections::HashSet<_> = ids.iter().map(|id| crate::plan::IdKey::of(id)).collect();
    assert_eq!(keys.len(), 1000);
    // The integer alternatives share the highest minimum, which both honour.
    assert_eq!((got[1].get_i64("_id").unwrap(), got[3].get_i32("_id").unwrap()), (11, 13));
    assert_eq!(docs(schema, 1000), got, "the same seed makes the same _ids");
    // Each fits the schema's conformance check.
    let compiled = Schema::from_value(object(json!({ "_id": { "oneOf": [
        { "type": "integer", "x-gen": { "mongoType": "long" } }, { "type": "string" } ] } })))
    .unwrap();
    for d in docs(
        object(json!({ "_id": { "oneOf": [
        { "type": "integer", "x-gen": { "mongoType": "long" } }, { "type": "string" } ] } })),
        4,
    ) {
        assert_eq!(super::validate::check(&compiled.compiled, &d), Ok(()), "{d:?}");
    }
    let wrong = bson::doc! { "_id": bson::oid::ObjectId::new() };
    assert_eq!(super::validate::check(&compiled.compiled, &wrong).unwrap_err().path, "_id");
    assert_eq!(
        error(object(json!({ "_id": { "anyOf": [{ "type": "string" }, { "type": "array" }] } }))).path,
        "#/properties/_id"
    );
}

#[test]
fn unknown_keywords_warn_once_each() {
    let schema = Schema::from_value(json!({ "type": "object", "properties": {
        "a": { "type": "string", "x-custom": 1 },
        "b": { "type": "string", "x-custom": 2, "x-gen": { "sparkle": true } },
    }}))
    .unwrap();
    assert_eq!(schema.warnings.len(), 2, "{:?}", schema.warnings);
    assert!(schema.warnings[0].contains("'x-custom'") && schema.warnings[0].contains("#/properties/a"));
    assert!(schema.warnings[1].contains("x-gen.sparkle"));
}

#[test]
fn bad_schemas_name_the_offending_node() {
    let cases = [
        (json!({ "type": "array" }), "#", "must be of type object"),
        (object(json!({ "a": { "type": "strng" } })), "#/properties/a/type", "unknown type 'strng'"),
        (
            object(json!({ "a": { "type": "integer", "minimum": 9, "maximum": 1 } })),
            "#/properties/a",
            "greater than maximum",
        ),
        (
            object(json!({ "a": { "type": "string", "format": "zipcode" } })),
            "#/properties/a/format",
            "unknown format 'zipcode'",
        ),
        (
            object(json!({ "a": { "x-gen": { "mongoType": "objectld" } } })),
            "#/properties/a/x-gen/mongoType",
            "unknown mongoType",
        ),
        (object(json!({ "a": { "$ref": "#/definitions/missing" } })), "#/properties/a/$ref", "points at nothing"),
        (object(json!({ "a": { "$ref": "other.json#/x" } })), "#/properties/a/$ref", "inside the schema file"),
        (object(json!({ "a": { "type": "string", "pattern": "([a-" } })), "#/properties/a/pattern", "invalid pattern"),
        (
            object(json!({ "a": { "type": "array", "x-gen": { "arrayLen": { "p50": 9, "p90": 3 } } } })),
            "#/properties/a/x-gen/arrayLen",
            "p50 <= p90",
        ),
        (object(json!({ "a": { "type": "array", "minItems": 4, "maxItems": 2 } })), "#/properties/a", "minItems 4"),
        (
            object(json!({ "a": { "type": "string", "x-gen": { "presence": 2 } } })),
            "#/properties/a/x-gen/presence",
            "from 0 to 1",
        ),
        (object(json!({ "a": { "enum": [] } })), "#/properties/a/enum", "non-empty"),
        (
            object(json!({ "a/b": { "type": "string", "maxLength": -1 } })),
            "#/properties/a~1b/maxLength",
            "non-negative",
        ),
    ];
    for (schema, path, message) in cases {
        let e = error(schema);
        assert_eq!(e.path, path, "{e}");
        assert!(e.message.contains(message), "{e}");
        assert!(!e.to_string().contains('\n'), "one line: {e}");
    }
}

#[test]
fn endless_recursion_is_refused_and_optional_endless_fields_dropped() {
    let endless = json!({
        "type": "object", "definitions": { "n": { "type": "object", "required": ["next"], "properties": { "next": { "$ref": "#/definitions/n" } } } },
        "required": ["root"], "properties": { "root": { "$ref": "#/definitions/n" } }
    });
    let e = error(endless);
    assert_eq!(e.path, "#");
    assert!(e.message.contains("recurses without end"), "{e}");
    // The same cycle behind an optional field: the field is never generated.
    let optional = json!({
        "type": "object", "definitions": { "n": { "type": "object", "required": ["next"], "properties": { "next": { "$ref": "#/definitions/n" } } } },
        "required": ["a"], "properties": { "a": { "type": "string" }, "maybe": { "$ref": "#/definitions/n" } }
    });
    let schema = Schema::from_value(optional).unwrap();
    assert!(schema.warnings.iter().any(|w| w.contains("recurse without end")));
    assert!(docs(json!({ "type": "object", "properties": { "a": { "type": "string" } } }), 1).len() == 1);
    let g = Generator::new(Arc::new(schema), 1);
    assert!((0..50).all(|i| !g.document(i).contains_key("maybe")));
}

#[test]
fn wide_recursive_schemas_stay_bounded() {
    let wide = json!({
        "type": "object", "definitions": { "t": { "type": "object", "properties": {
            "kids": { "type": "array", "items": { "$ref": "#/definitions/t" }, "minItems": 2, "maxItems": 6 } }, "x-gen": { "presence": 0.9 } } },
        "required": ["tree"], "properties": { "tree": { "$ref": "#/definitions/t" } }
    });
    let doc = &docs(wide, 1)[0];
    let size = bson::serialize_to_vec(doc).unwrap().len();
    assert!(size < 16 * 1024 * 1024, "{size} bytes");
}

/// Found by the fuzzer: a union that lists itself sent validation into endless recursion.
#[test]
fn self_referencing_unions_generate_and_validate() {
    let schema = Schema::from_value(json!({
        "type": "object", "definitions": { "d": { "anyOf": [{ "$ref": "#/definitions/d" }, { "type": "string" }, { "type": "integer" }] } },
        "required": ["f"], "properties": { "f": { "$ref": "#/definitions/d" } }
    }))
    .unwrap();
    let schema = Arc::new(schema);
    let g = Generator::new(schema.clone(), 4);
    for i in 0..200 {
        let doc = g.document(i);
        assert!(matches!(doc.get("f"), Some(Bson::String(_) | Bson::Int32(_))));
        crate::schema::validate::check(&schema.compiled, &doc).unwrap();
    }
}
