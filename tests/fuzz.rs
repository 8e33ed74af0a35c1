//! Property-based fuzzing of the inputs users hand forge: schemas and operation mixes.
//! Found failures are kept in `tests/fuzz.proptest-regressions` and replayed first on
//! every run. Longer sessions: `PROPTEST_CASES=200000 cargo test --release --test fuzz`.

use std::sync::Arc;

use forge::generate::Generator;
use forge::plan::{OpKind, OpSelector};
use forge::schema::Schema;
use forge::schema::validate::check;
use proptest::prelude::*;
use serde_json::{Value, json};

/// JSON that looks like a schema often enough to reach deep into the compiler.
fn schema_like() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(json!({ "type": "string" })),
        Just(json!({ "type": "integer", "minimum": 0, "maximum": 10 })),
        Just(json!({ "type": "number" })),
        Just(json!({ "type": ["string", "null"] })),
        Just(json!({ "x-gen": { "mongoType": "objectId" } })),
        Just(json!({ "x-gen": { "mongoType": "decimal128" } })),
        Just(json!({ "x-gen": { "mongoType": "date" } })),
        Just(json!({ "x-gen": { "mongoType": "uuid" } })),
        Just(json!({ "enum": ["a", 1, null] })),
        Just(json!({ "type": "string", "format": "email" })),
        Just(json!({ "type": "string", "pattern": "^[a-c]{2,4}$" })),
        Just(json!({ "$ref": "#/definitions/d" })),
        any::<i64>().prop_map(|n| json!({ "type": "integer", "minimum": n })),
        "[a-z$.~/]{0,6}".prop_map(|s| json!({ "type": s })),
        "[a-z-]{0,8}".prop_map(|s| json!({ "type": "string", "format": s })),
        any::<bool>().prop_map(Value::Bool),
        any::<f64>().prop_map(|f| json!({ "type": "number", "maximum": f })),
        (0u32..5, 0u32..5).prop_map(|(a, b)| json!({ "type": "string", "minLength": a, "maxLength": b })),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            prop::collection::btree_map("[a-z_.$]{1,5}", inner.clone(), 0..4).prop_flat_map(|props| {
                let names: Vec<String> = props.keys().cloned().collect();
                (Just(props), prop::sample::subsequence(names.clone(), 0..=names.len()))
                    .prop_map(|(props, required)| json!({ "type": "object", "properties": props, "required": required }))
            }),
            (inner.clone(), 0u32..4, 0u32..6).prop_map(|(items, min, max)| {
                json!({ "type": "array", "items": items, "minItems": min, "maxItems": max })
            }),
            (inner.clone(), 0.0f64..1.5).prop_map(|(s, p)| {
                let mut s = s;
                if let Value::Object(m) = &mut s {
                    m.insert("x-gen".into(), json!({ "presence": p }));
                }
                s
            }),
            prop::collection::vec(inner.clone(), 1..3).prop_map(|alts| json!({ "anyOf": alts })),
            (inner, 0u32..4, 0u32..8).prop_map(|(v, p50, max)| {
                json!({ "type": "object", "additionalProperties": v, "x-gen": { "key": "uuid", "keyCount": { "p50": p50, "max": max } } })
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Any JSON either compiles, and then every generated document conforms to it, or
    /// is refused with one line naming a JSON path.
    #[test]
    fn schemas_compile_to_conforming_documents_or_a_located_error(body in schema_like(), def in schema_like()) {
        let schema = json!({ "type": "object", "definitions": { "d": def }, "properties": { "f": body }, "required": ["f"] });
        match Schema::from_value(schema) {
            Ok(schema) => {
                let schema = Arc::new(schema);
                let generator = Generator::new(schema.clone(), 1);
                for i in 0..5 {
                    let doc = generator.document(i);
                    prop_assert!(check(&schema.compiled, &doc).is_ok(), "{doc} does not conform: {:?}", check(&schema.compiled, &doc));
                }
            }
            Err(e) => {
                prop_assert!(e.path.starts_with('#'), "{e}");
                prop_assert!(!e.to_string().contains('\n'), "{e}");
            }
        }
    }

    /// Any text is a mix or a one-line error; a mix only picks kinds it names.
    #[test]
    fn ratio_specs_parse_or_fail_cleanly(spec in "[a-z:,. 0-9e+-]{0,40}") {
        match OpSelector::parse(&spec, &OpKind::ALL) {
            Ok(selector) => {
                for (kind, share) in selector.shares() {
                    prop_assert!(spec.contains(kind.name()));
                    prop_assert!(share > 0.0 && share <= 1.0);
                }
            }
            Err(e) => prop_assert!(!e.is_empty() && !e.contains('\n')),
        }
    }

    #[test]
    fn well_formed_mixes_always_parse(weights in prop::collection::vec(0.0f64..1000.0, 4)) {
        prop_assume!(weights.iter().any(|w| *w > 0.0));
        let spec: Vec<String> = OpKind::ALL.iter().zip(&weights).map(|(k, w)| format!("{}:{w}", k.name())).collect();
        prop_assert!(OpSelector::parse(&spec.join(","), &OpKind::ALL).is_ok());
    }
}
