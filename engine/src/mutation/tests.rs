//! The built-in plugins, called the way the planner calls them.

use std::sync::Arc;

use bson::{Bson, doc};
use forge_plugin_sdk::select::conflicts;
use rand::SeedableRng;

use super::*;
use crate::generate::Generator;
use crate::schema::Schema;

fn generator(schema: &str) -> Arc<Generator> {
    Arc::new(Generator::new(Arc::new(Schema::from_json_str(schema).unwrap()), 1))
}

fn plugins() -> Plugins {
    Plugins::builtins(&generator(crate::examples::ORDERS.json), 1).unwrap()
}

fn run(name: &str, n: u64) -> Vec<Mutation> {
    let mut strategy = plugins().strategy(name).unwrap();
    let target = Bson::Int32(7);
    (0..n)
        .map(|i| {
            let ctx = OpContext { run_seed: 1, op_index: i, shard: 0, collection: "c", target: &target, current: None };
            strategy.mutate(&ctx, &mut Rng::seed_from_u64(i)).unwrap()
        })
        .collect()
}

#[test]
fn regenerate_replaces_with_the_same_id() {
    for m in run("regenerate", 20) {
        let Mutation::Replace(d) = m else { panic!("{m:?}") };
        assert_eq!(d.keys().next().map(String::as_str), Some("_id"));
        assert_eq!(d.get("_id"), Some(&Bson::Int32(7)));
        assert!(d.contains_key("orderNumber") && d.contains_key("items"));
    }
}

#[test]
fn partial_sets_non_conflicting_paths_and_sometimes_unsets() {
    let mut unsets = 0;
    for m in run("partial", 500) {
        let Mutation::Update(u) = m else { panic!("{m:?}") };
        let set = u.get_document("$set").unwrap();
        assert!((1..=3).contains(&set.len()));
        unsets += u.contains_key("$unset") as u32;
        let mut paths: Vec<&str> = set.keys().map(String::as_str).collect();
        if let Ok(unset) = u.get_document("$unset") {
            paths.extend(unset.keys().map(String::as_str));
        }
        for (i, a) in paths.iter().enumerate() {
            for b in &paths[i + 1..] {
                assert!(!conflicts(a, b), "{a} vs {b}");
            }
        }
    }
    assert!((20..=80).contains(&unsets), "{unsets} unsets in 500");
}

#[test]
fn increment_incs_numeric_paths_with_their_types() {
    for m in run("increment", 200) {
        let Mutation::Update(u) = m else { panic!("{m:?}") };
        for (path, by) in u.get_document("$inc").unwrap() {
            match path.as_str() {
                "version" => assert!(matches!(by, Bson::Int64(_))),
                "total" => assert!(matches!(by, Bson::Decimal128(_))),
                "shipping.address.geo.lat" | "shipping.address.geo.lng" => assert!(matches!(by, Bson::Double(_))),
                "billingAddress.geo.lat" | "billingAddress.geo.lng" => assert!(matches!(by, Bson::Double(_))),
                other => panic!("$inc of {other}"),
            }
        }
    }
}

#[test]
fn mixed_uses_every_strategy_and_is_seeded() {
    let a = run("mixed", 60);
    assert_eq!(a, run("mixed", 60));
    assert!(a.iter().any(|m| matches!(m, Mutation::Replace(_))));
    assert!(a.iter().any(|m| matches!(m, Mutation::Update(u) if u.contains_key("$inc"))));
    assert!(a.iter().any(|m| matches!(m, Mutation::Update(u) if u.contains_key("$set"))));
}

#[test]
fn unknown_names_and_unusable_schemas_are_refused() {
    let e = plugins().strategy("shuffle").unwrap_err().to_string();
    assert!(e.contains("shuffle") && e.contains("partial"), "{e}");
    let e = plugins().deleter("partial").unwrap_err().to_string();
    assert!(e.contains("is a mutator"), "{e}");
    let no_numbers = generator(r#"{"type":"object","properties":{"name":{"type":"string"}}}"#);
    let e = Plugins::builtins(&no_numbers, 1).unwrap().strategy("increment").unwrap_err().to_string();
    assert!(e.contains("numeric") && e.contains("'increment'"), "{e}");
}

#[test]
fn tombstone_guards_its_flag_and_names_its_time_field() {
    let tomb = plugins().deleter("tombstone").unwrap();
    assert_eq!(tomb.shape(), &DeleteShape::tombstone("_deleted", Some("_deletedAt")));
    assert_eq!(tomb.guard(), Some(&doc! { "_deleted": { "$ne": true } }));
    assert_eq!(tomb.server_time_field().as_deref(), Some("_deletedAt"));
    for (name, shape) in [("remove", DeleteShape::Remove), ("keep", DeleteShape::Keep)] {
        let d = plugins().deleter(name).unwrap();
        assert_eq!((d.shape(), d.guard(), d.server_time_field()), (&shape, None, None), "{name}");
    }
}

#[test]
fn a_configured_tombstone_declares_its_configured_fields() {
    let g = generator(crate::examples::ORDERS.json);
    let runtime = crate::plugin::Runtime::new(crate::plugin::Limits::default()).unwrap();
    let registry = Registry::new(runtime, &[], &[]).unwrap();
    let args = BTreeMap::from([(
        "tombstone".to_owned(),
        vec![("flag".to_owned(), "gone".to_owned()), ("time".to_owned(), "goneAt".to_owned())],
    )]);
    let mut plugins = Plugins::new(registry, SchemaAccess::new(g), args, 1).unwrap();
    let mut tomb = plugins.deleter("tombstone").unwrap();
    assert_eq!(tomb.shape(), &DeleteShape::tombstone("gone", Some("goneAt")));
    assert_eq!(tomb.guard(), Some(&doc! { "gone": { "$ne": true } }));
    let target = Bson::Int32(7);
    let ctx = OpContext { run_seed: 1, op_index: 3, shard: 0, collection: "c", target: &target, current: None };
    let answer = tomb.on_delete(&ctx, &mut Rng::seed_from_u64(3)).unwrap();
    assert_eq!(answer, DeleteAction::Tombstone(doc! { "$set": { "gone": true }, "$currentDate": { "goneAt": true } }));
}

/// A core-module delete behavior (ABI 0.2.0) that declares `deletes` and answers `answer`.
fn core_delete_behavior(deletes: Bson, answer: &bson::Document) -> Vec<u8> {
    let info =
        doc! { "name": "liar", "kind": "delete-behavior", "version": "1", "contract": "0.2.0", "deletes": deletes };
    let escape = |d: &bson::Document| {
        let b = d.to_vec().unwrap();
        (b.iter().map(|b| format!("\\{b:02x}")).collect::<String>(), b.len() as u64)
    };
    let ((info, il), (init, nl), (ans, al)) = (escape(&info), escape(&doc! { "ok": null }), escape(answer));
    wat::parse_str(format!(
        r#"(module (memory (export "memory") 1)
  (data (i32.const 1024) "{info}") (data (i32.const 4096) "{init}") (data (i32.const 8192) "{ans}")
  (func (export "forge_abi_version") (result i32) (i32.const 200))
  (func (export "forge_alloc") (param i32) (result i32) (i32.const 32768))
  (func (export "forge_free") (param i32 i32))
  (func (export "forge_info") (result i64) (i64.const {}))
  (func (export "forge_init") (param i32 i32) (result i64) (i64.const {}))
  (func (export "forge_delete") (param i32 i32) (result i64) (i64.const {})))"#,
        (1024u64 << 32) | il,
        (4096u64 << 32) | nl,
        (8192u64 << 32) | al,
    ))
    .unwrap()
}

fn deleter_of(wasm: &[u8]) -> Result<Deleter, PluginError> {
    let runtime = crate::plugin::Runtime::new(crate::plugin::Limits { cache_dir: None, ..Default::default() }).unwrap();
    let loaded = crate::plugin::load_wasm(&runtime, wasm, "liar", crate::plugin::Origin::Builtin)?;
    let access = SchemaAccess::new(generator(crate::examples::ORDERS.json));
    Deleter::new("liar", loaded.start(&runtime, access, Vec::new(), 1)?)
}

#[test]
fn an_answer_off_the_declared_shape_is_a_broken_contract() {
    let target = Bson::Int32(7);
    let ctx = OpContext { run_seed: 1, op_index: 5, shard: 2, collection: "c", target: &target, current: None };
    let call = |deletes: Bson, answer: bson::Document| {
        let mut d = deleter_of(&core_delete_behavior(deletes, &answer)).unwrap();
        d.on_delete(&ctx, &mut Rng::seed_from_u64(5))
    };
    let e = call("remove".into(), doc! { "ok": { "keep": true } }).unwrap_err();
    assert_eq!(e.kind(), "bad-return");
    assert_eq!(
        e.to_string(),
        "plugin 'liar', export 'delete', op 5: broke the contract: answered keep, but its declared delete shape is remove"
    );
    let tomb = Bson::Document(doc! { "tombstone": { "flag": "dead" } });
    let e = call(tomb.clone(), doc! { "ok": { "tombstone": { "$set": { "other": true } } } }).unwrap_err();
    assert!(e.to_string().contains("does not $set its declared flag 'dead' to true"), "{e}");
    let ok = call(tomb, doc! { "ok": { "tombstone": { "$set": { "dead": true } } } }).unwrap();
    assert_eq!(ok, DeleteAction::Tombstone(doc! { "$set": { "dead": true } }));
    assert_eq!(call("keep".into(), doc! { "ok": { "keep": true } }).unwrap(), DeleteAction::Keep);
}

#[test]
fn a_delete_behavior_without_a_declared_shape_is_refused_at_load() {
    let e = deleter_of(&core_delete_behavior(Bson::Null, &doc! { "ok": { "remove": true } })).unwrap_err();
    assert_eq!(e.kind(), "load");
    assert!(e.to_string().contains("declares no delete shape"), "{e}");
    let bad = Bson::Document(doc! { "tombstone": { "flag": "_id" } });
    let e = deleter_of(&core_delete_behavior(bad, &doc! { "ok": { "remove": true } })).unwrap_err();
    assert!(e.to_string().contains("'_id' cannot be a tombstone field"), "{e}");
}

/// The strategy `name` called on documents generated from ORDERS, as they stand now.
fn run_on_current(name: &str, n: u64) -> Vec<(Document, Mutation)> {
    let generator = generator(crate::examples::ORDERS.json);
    let mut strategy = Plugins::builtins(&generator, 1).unwrap().strategy(name).unwrap();
    (0..n)
        .map(|i| {
            let current = generator.document(i);
            let raw = bson::RawDocumentBuf::try_from(&current).unwrap();
            let id = current.get("_id").unwrap().clone();
            let ctx =
                OpContext { run_seed: 1, op_index: i, shard: 0, collection: "c", target: &id, current: Some(&raw) };
            let m = strategy.mutate(&ctx, &mut Rng::seed_from_u64(i)).unwrap();
            (current, m)
        })
        .collect()
}

#[test]
fn lifecycle_moves_status_along_the_example_transitions() {
    let next: &[(&str, &[&str])] = &[
        ("created", &["paid", "cancelled"]),
        ("paid", &["packed", "cancelled"]),
        ("packed", &["shipped"]),
        ("shipped", &["delivered", "returned"]),
    ];
    let (mut moved, mut skipped) = (0, 0);
    for (current, m) in run_on_current("lifecycle", 100) {
        let from = current.get_str("status").unwrap();
        let allowed = next.iter().find(|(f, _)| *f == from).map(|(_, to)| *to);
        match (m, allowed) {
            (Mutation::Update(u), Some(to)) => {
                assert_eq!(u.get_document("$set").unwrap().keys().collect::<Vec<_>>(), ["status"]);
                assert!(to.contains(&u.get_document("$set").unwrap().get_str("status").unwrap()), "{from}: {u}");
                moved += 1;
            }
            (Mutation::Skip, None) => skipped += 1,
            (m, _) => panic!("{from}: {m:?}"),
        }
    }
    assert!(moved > 20 && skipped > 20, "{moved} moved, {skipped} skipped");
    // Without a current document there is nothing to move from.
    assert!(run("lifecycle", 10).iter().all(|m| *m == Mutation::Skip));
}

fn at<'d>(doc: &'d Document, path: &str) -> Option<&'d Bson> {
    let (head, rest) = path.split_once('.').map_or((path, None), |(h, r)| (h, Some(r)));
    match (doc.get(head)?, rest) {
        (v, None) => Some(v),
        (Bson::Document(d), Some(rest)) => at(d, rest),
        _ => None,
    }
}

#[test]
fn drift_sets_numbers_of_the_same_type_within_the_schema_bounds() {
    for (current, m) in run_on_current("drift", 100) {
        let Mutation::Update(u) = m else { panic!("{m:?}") };
        let set = u.get_document("$set").unwrap();
        assert!((1..=3).contains(&set.len()) && u.len() == 1, "{u}");
        for (path, new) in set {
            let old = at(&current, path);
            assert_eq!(old.map(std::mem::discriminant), Some(std::mem::discriminant(new)), "{path}: {u}");
            if path == "version" {
                let v = new.as_i64().unwrap();
                assert!((1..=20).contains(&v), "version {v}");
            }
        }
    }
}

#[test]
fn array_pushes_pulls_and_sets_within_the_example_lengths() {
    let mut ops = std::collections::BTreeSet::new();
    for (current, m) in run_on_current("array", 200) {
        let Mutation::Update(u) = m else { panic!("{m:?}") };
        let (op, body) = u.iter().next().unwrap();
        let (path, _) = body.as_document().unwrap().iter().next().unwrap();
        let field = path.split('.').next().unwrap();
        let len = current.get_array(field).unwrap().len();
        let (min, max) = match field {
            "items" => (1, 20),
            "payments" => (1, 4),
            "history" => (1, 12),
            other => panic!("{other}"),
        };
        match op.as_str() {
            "$push" => assert!(len < max, "{u} at {len}"),
            "$pull" => assert!(len > min, "{u} at {len}"),
            "$set" => assert!(path.split('.').nth(1).unwrap().parse::<usize>().unwrap() < len, "{u}"),
            other => panic!("{other}"),
        }
        ops.insert(op.clone());
    }
    assert_eq!(ops.len(), 3, "{ops:?}");
}

#[test]
fn mixed_leaves_out_strategies_the_schema_gives_nothing_to() {
    let names = generator(r#"{"type":"object","properties":{"name":{"type":"string"}}}"#);
    assert_eq!(Plugins::builtins(&names, 1).unwrap().strategy("mixed").unwrap().choices.len(), 2);
    assert_eq!(plugins().strategy("mixed").unwrap().choices.len(), 6);
    // A strategy the user configured wrongly is an error, not left out.
    let generator = generator(crate::examples::ORDERS.json);
    let runtime = crate::plugin::Runtime::new(crate::plugin::Limits::default()).unwrap();
    let registry = Registry::new(runtime, &[], &[]).unwrap();
    let args = BTreeMap::from([("drift".to_owned(), vec![("fields".to_owned(), "nope".to_owned())])]);
    let mut plugins = Plugins::new(registry, SchemaAccess::new(generator), args, 1).unwrap();
    let e = plugins.strategy("mixed").unwrap_err().to_string();
    assert!(e.contains("drift.fields") && e.contains("'nope'"), "{e}");
}
