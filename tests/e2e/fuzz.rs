//! Property-based fuzzing of the inputs users hand forge: schemas and operation mixes.
//! Found failures are kept in `tests/e2e/fuzz.proptest-regressions` and replayed first
//! on every run. Longer sessions: `FORGE_FUZZ_SCALE=400 cargo test --release --test e2e fuzz`.

use std::sync::Arc;

use forge::generate::Generator;
use forge::plan::{OpKind, OpSelector};
use forge::schema::Schema;
use forge::schema::validate::check;
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::support;

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

/// `default` cases per run, times `FORGE_FUZZ_SCALE` for a long local run.
fn cases(default: u32) -> u32 {
    let scale: u32 = std::env::var("FORGE_FUZZ_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    default.saturating_mul(scale.max(1))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(512), ..ProptestConfig::default() })]

    /// Any JSON either compiles, and then every generated document conforms to it, or
    /// is refused with one line naming a JSON path.
    #[test]
    fn schemas_compile_to_conforming_documents_or_a_located_error(body in schema_like(), def in schema_like()) {
        let _machine = support::busy();
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
            Err(e) => {
                let e = e.to_string();
                prop_assert!(!e.is_empty() && !e.contains('\n'));
            }
        }
    }

    #[test]
    fn well_formed_mixes_always_parse(weights in prop::collection::vec(0.0f64..1000.0, 4)) {
        prop_assume!(weights.iter().any(|w| *w > 0.0));
        let spec: Vec<String> = OpKind::ALL.iter().zip(&weights).map(|(k, w)| format!("{}:{w}", k.name())).collect();
        prop_assert!(OpSelector::parse(&spec.join(","), &OpKind::ALL).is_ok());
    }
}

/// A valid mutator answer, for the byte-flipping fuzzer to damage.
fn valid_answer() -> Vec<u8> {
    let update = bson::doc! { "$set": { "a.b": 1.5, "s": "x" }, "$inc": { "n": 1_i64 } };
    forge_plugin_sdk::wire::encode_mutation_result(Ok(forge_plugin_sdk::Mutation::Update(update)))
}

/// A core-module plugin whose `forge_mutate` answers `answer`, byte for byte.
fn plugin_answering(answer: &[u8]) -> Vec<u8> {
    let escape = |b: &[u8]| b.iter().map(|b| format!("\\{b:02x}")).collect::<String>();
    let info = bson::doc! { "name": "fuzz", "kind": "mutator", "version": "0", "contract": "0.2.0" };
    let info = info.to_vec().unwrap();
    let init = bson::doc! { "ok": null }.to_vec().unwrap();
    let pack = |ptr: u64, len: usize| ((ptr << 32) | len as u64) as i64;
    wat::parse_str(format!(
        r#"(module (memory (export "memory") 1)
  (data (i32.const 1024) "{}") (data (i32.const 2048) "{}") (data (i32.const 8192) "{}")
  (func (export "forge_abi_version") (result i32) (i32.const 200))
  (func (export "forge_alloc") (param i32) (result i32) (i32.const 32768))
  (func (export "forge_free") (param i32 i32))
  (func (export "forge_info") (result i64) (i64.const {}))
  (func (export "forge_init") (param i32 i32) (result i64) (i64.const {}))
  (func (export "forge_mutate") (param i32 i32) (result i64) (i64.const {})))"#,
        escape(&info),
        escape(&init),
        escape(answer),
        pack(1024, info.len()),
        pack(2048, init.len()),
        pack(8192, answer.len()),
    ))
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(512), ..ProptestConfig::default() })]

    /// Whatever bytes a plugin answers, the decoders give a value or an error; none
    /// panics or trusts a length it has not checked.
    #[test]
    fn plugin_answers_decode_or_fail_cleanly(
        bytes in prop::collection::vec(any::<u8>(), 0..200),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let mut damaged = valid_answer();
        for (at, b) in flips {
            let i = at.index(damaged.len());
            damaged[i] = b;
        }
        for input in [&bytes, &damaged] {
            let _ = forge_plugin_sdk::wire::decode_mutation_result(input);
            let _ = forge_plugin_sdk::wire::decode_delete_result(input);
            let _ = forge_plugin_sdk::wire::decode_unit_result(input);
            let _ = forge_plugin_sdk::wire::decode_info(input);
            let _ = forge_plugin_sdk::wire::decode_fields(input);
            let _ = forge_plugin_sdk::wire::decode_value(input);
            let _ = forge::plugin::checked_document(input);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(48), ..ProptestConfig::default() })]

    /// The whole return path, through a real core-module plugin: a damaged answer is a
    /// bad-return error naming the plugin, export and op, never a crash.
    #[test]
    fn damaged_plugin_answers_are_bad_returns(flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6)) {
        let _machine = support::busy();
        let mut answer = valid_answer();
        for (at, b) in flips {
            let i = at.index(answer.len());
            answer[i] = b;
        }
        let runtime = forge::plugin::Runtime::new(forge::plugin::Limits { cache_dir: None, ..Default::default() }).unwrap();
        let loaded = forge::plugin::load_wasm(&runtime, &plugin_answering(&answer), "fuzz", forge::plugin::Origin::Builtin).unwrap();
        let schema = Arc::new(Schema::from_json_str(forge::examples::CUSTOMERS.json).unwrap());
        let access = forge::plugin::SchemaAccess::new(Arc::new(Generator::new(schema, 1)));
        let mut plugin = loaded.start(&runtime, access, Vec::new(), 1).unwrap();
        let mut rng = <forge::seed::Rng as rand::SeedableRng>::seed_from_u64(1);
        let id = bson::Bson::Int32(1);
        let ctx = forge_plugin_sdk::Context { run_seed: 1, op_index: 7, shard: 0, collection: "c".into() };
        match plugin.mutate(forge::plugin::Call { ctx, id: &id, current: None, rng: &mut rng }) {
            Ok(_) => {}
            Err(e) => {
                prop_assert!(e.to_string().starts_with("plugin 'fuzz', export 'mutate', op 7: "), "{e}");
                prop_assert!(matches!(e.failure, forge::plugin::Failure::BadReturn(_) | forge::plugin::Failure::Plugin { .. }), "{e}");
            }
        }
    }
}
