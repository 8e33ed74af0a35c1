//! `Generator::raw_document` writes exactly the bytes `bson` gives for
//! `Generator::document`: same fields, order, types and values.

use std::sync::Arc;

use bson::RawDocumentBuf;
use proptest::prelude::*;

use super::{EncodeError, Generator};
use crate::examples;
use crate::schema::Schema;

const FIXTURES: &[(&str, &str)] = &[
    ("original-dialect/orders", include_str!("../../../tests/fixtures/original-dialect/orders.generation.schema.json")),
    (
        "original-dialect/dynamic-keys",
        include_str!("../../../tests/fixtures/original-dialect/dynamic-keys.schema.json"),
    ),
    (
        "original-dialect/types-and-formats",
        include_str!("../../../tests/fixtures/original-dialect/types-and-formats.schema.json"),
    ),
];

/// What the shipped schemas leave out: enum and const values of every kind (documents,
/// arrays, a regex), word keys that collide with each other and with fixed fields
/// (`_id` included), a recursive $ref, unions, and every `_id` kind.
const CORNERS: &str = r##"{
  "type": "object",
  "definitions": {
    "node": {
      "type": "object",
      "required": ["v"],
      "properties": { "v": { "type": "integer" }, "next": { "$ref": "#/definitions/node" } }
    }
  },
  "required": ["e", "c", "words", "tree", "u", "a"],
  "properties": {
    "_id": { "type": "integer" },
    "e": { "enum": [{ "x": 1, "y": [1, "two", null] }, [true, 2.5], "s", 7, null] },
    "c": { "const": { "nested": { "deep": [[], {}] } } },
    "words": {
      "type": "object",
      "properties": { "lorem_1": { "type": "string" }, "_id": { "type": "boolean" } },
      "additionalProperties": { "type": "integer" },
      "x-gen": { "keys": "word", "keyCount": { "min": 0, "max": 40, "p50": 10, "p90": 30, "p99": 38 } }
    },
    "tree": { "$ref": "#/definitions/node" },
    "u": { "type": ["string", "integer", "null", "array", "object"] },
    "a": { "type": "array", "items": [{ "type": "string" }, { "type": "number" }], "additionalItems": { "type": "boolean" } }
  },
  "additionalProperties": { "type": "string" },
  "x-gen": { "keys": "word", "keyCount": { "min": 0, "max": 5, "p50": 1, "p90": 3, "p99": 4 } }
}"##;

fn schemas() -> Vec<(String, Arc<Schema>)> {
    let mut all: Vec<(String, Arc<Schema>)> = examples::ALL
        .iter()
        .map(|e| (format!("example:{}", e.name), Arc::new(Schema::from_json_str(e.json).expect("example loads"))))
        .collect();
    for (name, json) in FIXTURES.iter().chain(&[("corners", CORNERS)]) {
        all.push((name.to_string(), Arc::new(Schema::from_json_str(json).expect("fixture loads"))));
    }
    all
}

fn assert_same(name: &str, g: &Generator, index: u64) {
    let tree = g.document(index);
    let expected = RawDocumentBuf::try_from(&tree).expect("generated documents encode");
    let raw = g.raw_document(index).expect("generated documents encode");
    assert_eq!(
        raw.as_bytes(),
        expected.as_bytes(),
        "{name}, seed {}, document {index}: raw {raw:?}\nwanted {tree:?}",
        g.seed()
    );
}

#[test]
fn raw_documents_are_the_documents_in_bson() {
    for (name, schema) in schemas() {
        for seed in [1, 7] {
            let g = Generator::new(schema.clone(), seed);
            for i in 0..1500 {
                assert_same(&name, &g, i);
            }
        }
    }
}

#[test]
fn the_corner_schema_reaches_its_corners() {
    let schema = Arc::new(Schema::from_json_str(CORNERS).unwrap());
    let g = Generator::new(schema, 1);
    let docs: Vec<_> = (0..300).map(|i| g.document(i)).collect();
    // Word keys collide: some objects got fewer keys than drawn, none twice.
    assert!(docs.iter().any(|d| d.get_document("words").unwrap().len() > 12));
    assert!(docs.iter().any(|d| d.get_document("e").is_ok()) && docs.iter().any(|d| d.get_array("e").is_ok()));
    assert!(docs.iter().all(|d| d.get_i32("_id").is_ok() || d.get_i64("_id").is_ok()));
}

#[test]
fn a_key_bson_cannot_hold_fails_both_ways() {
    let schema = Arc::new(
        Schema::from_json_str(
            r#"{"type":"object","required":["a\u0000b"],"properties":{"a\u0000b":{"type":"integer"}}}"#,
        )
        .unwrap(),
    );
    let g = Generator::new(schema, 1);
    assert!(RawDocumentBuf::try_from(&g.document(0)).is_err());
    assert_eq!(g.raw_document(0), Err(EncodeError::NulInKey("a\0b".into())));
}

#[test]
fn a_reused_buffer_holds_documents_one_after_another() {
    let schema = Arc::new(Schema::from_json_str(examples::ORDERS.json).unwrap());
    let g = Generator::new(schema, 3);
    let mut out = Vec::new();
    g.write_raw_document(5, &mut out).unwrap();
    let first = out.len();
    g.write_raw_document(6, &mut out).unwrap();
    assert_eq!(&out[..first], g.raw_document(5).unwrap().as_bytes());
    assert_eq!(&out[first..], g.raw_document(6).unwrap().as_bytes());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_seed_and_index_give_the_same_bytes(seed: u64, index: u64) {
        for (name, schema) in schemas() {
            assert_same(&name, &Generator::new(schema, seed), index);
        }
    }
}
