use std::sync::Arc;

use bson::{Bson, doc};
use rand::SeedableRng;

use super::*;
use crate::schema::Schema;

fn generator() -> Arc<Generator> {
    let schema = Schema::from_json_str(crate::examples::ORDERS.json).unwrap();
    Arc::new(Generator::new(Arc::new(schema), 1))
}

fn run(name: &str, n: u64) -> Vec<Mutation> {
    let strategy = builtin(name, generator()).unwrap();
    let target = Bson::Int32(7);
    (0..n).map(|i| strategy.mutate(&OpContext { op_index: i, target: &target }, &mut Rng::seed_from_u64(i))).collect()
}

#[test]
fn regenerate_replaces_with_the_same_id() {
    for m in run("regenerate", 20) {
        let Mutation::Replace(d) = m else { panic!("{m:?}") };
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
        let mut paths: Vec<&str> = set.keys().map(String::as_str).collect();
        if let Ok(unset) = u.get_document("$unset") {
            unsets += 1;
            paths.extend(unset.keys().map(String::as_str));
        }
        for (i, a) in paths.iter().enumerate() {
            for b in &paths[i + 1..] {
                assert!(!partial::conflicts(a, b), "{a} vs {b}");
            }
        }
    }
    assert!((20..=80).contains(&unsets), "{unsets} unsets in 500");
}

#[test]
fn increment_incs_numeric_paths_with_their_types() {
    for m in run("increment", 100) {
        let Mutation::Update(u) = m else { panic!("{m:?}") };
        for (path, by) in u.get_document("$inc").unwrap() {
            match path.as_str() {
                "version" => assert!(matches!(by, Bson::Int64(_))),
                "total" => assert!(matches!(by, Bson::Decimal128(_))),
                "shipping.address.geo.lat" | "shipping.address.geo.lng" => assert!(matches!(by, Bson::Double(_))),
                "billingAddress.geo.lat" | "billingAddress.geo.lng" => assert!(matches!(by, Bson::Double(_))),
                other => panic!("{other} is not a numeric path of orders"),
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
fn conflicts_are_prefixes_on_dot_boundaries() {
    assert!(partial::conflicts("a", "a.b") && partial::conflicts("a.b", "a.b"));
    assert!(!partial::conflicts("a", "ab") && !partial::conflicts("a.b", "a.c"));
}

#[test]
fn unknown_names_and_unusable_schemas_are_refused() {
    assert!(builtin("shuffle", generator()).unwrap_err().contains("shuffle"));
    let no_numbers =
        Schema::from_value(serde_json::json!({ "type": "object", "properties": { "s": { "type": "string" } } }))
            .unwrap();
    let g = Arc::new(Generator::new(Arc::new(no_numbers), 1));
    assert!(builtin("increment", g).unwrap_err().contains("numeric"));
    let tomb = DeleteBehavior::Tombstone { flag: "_deleted".into(), time: "_deletedAt".into() };
    assert_eq!(tomb.guard(), Some(doc! { "_deleted": { "$ne": true } }));
}
