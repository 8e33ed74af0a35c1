//! The built-in plugins, called the way the planner calls them.

use std::sync::Arc;

use bson::{Bson, doc};
use forge_plugin_sdk::select::conflicts;

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
            let ctx =
                OpContext { run_seed: 1, op_index: i, shard: 0, collection: "c", target: &target, current: None };
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
    assert_eq!(tomb.guard(), Some(&doc! { "_deleted": { "$ne": true } }));
    assert_eq!(tomb.server_time_field().as_deref(), Some("_deletedAt"));
    assert_eq!(plugins().deleter("remove").unwrap().guard(), None);
}
