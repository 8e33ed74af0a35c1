use std::collections::BTreeMap;

use forge_plugin_sdk::bson::{Bson, doc};
use forge_plugin_support::Replay;
use serde_json::json;

use super::*;

/// Randomness replayed, fresh arrays from a function of the path and a counter.
struct Fake<F: FnMut(&str, usize) -> Bson> {
    draw: Replay,
    generate: F,
    calls: usize,
}

impl<F: FnMut(&str, usize) -> Bson> Draw for Fake<F> {
    fn below(&mut self, n: u64) -> u64 {
        self.draw.below(n)
    }
    fn unit(&mut self) -> f64 {
        self.draw.unit()
    }
}

impl<F: FnMut(&str, usize) -> Bson> Host for Fake<F> {
    fn generate_field(&mut self, path: &str) -> Result<Bson, String> {
        self.calls += 1;
        Ok((self.generate)(path, self.calls))
    }
}

fn fake<F: FnMut(&str, usize) -> Bson>(seed: u64, generate: F) -> Fake<F> {
    Fake { draw: Replay::seeded(seed, 10_000), generate, calls: 0 }
}

/// Fresh line items: `{sku: "N<call>", qty: <call>}`.
fn line_items(_: &str, call: usize) -> Bson {
    Bson::Array(vec![Bson::Document(doc! { "sku": format!("N{call}"), "qty": call as i32 })])
}

fn field(path: &str, bson_type: &str) -> Field {
    // The 0.1 names these tests were written with, as the 0.2 enum.
    let name = match bson_type {
        "int" => "int32",
        "long" => "int64",
        "decimal" => "decimal128",
        other => other,
    };
    Field { path: path.into(), kind: forge_plugin_sdk::BsonType::parse(name).expect("a type name"), optional: false }
}

fn config(pairs: &[(&str, &str)]) -> Config {
    Config(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>())
}

fn schema() -> (Schema, Vec<Field>) {
    let s = Schema::from_value(json!({ "properties": {
        "items": { "type": "array", "minItems": 1, "maxItems": 3,
                   "items": { "type": "object", "properties": { "sku": { "type": "string" }, "qty": { "type": "integer" } } } },
        "tags": { "type": "array", "uniqueItems": true, "items": { "type": "string" }, "x-gen": { "arrayLen": { "min": 0, "max": 5 } } },
        "name": { "type": "string" }
    }}));
    (s, vec![field("items", "array"), field("tags", "array"), field("name", "string")])
}

fn item(sku: &str, qty: i32) -> Bson {
    Bson::Document(doc! { "sku": sku, "qty": qty })
}

#[test]
fn config_reads_sizes_and_uniqueness_from_the_schema() {
    let (s, fields) = schema();
    let a = Arrays::new(&Config::default(), &s, &fields).unwrap();
    assert_eq!(
        a.fields,
        vec![
            ArrayField { path: "items".into(), min_items: 1, max_items: Some(3), unique: false },
            ArrayField { path: "tags".into(), min_items: 0, max_items: Some(5), unique: true },
        ]
    );
    let one = Arrays::new(&config(&[("field", "tags")]), &s, &fields).unwrap();
    assert_eq!(one.fields.len(), 1);
}

#[test]
fn init_errors_name_the_arg_or_schema_field() {
    let (s, fields) = schema();
    let e = Arrays::new(&config(&[("field", "name")]), &s, &fields).unwrap_err().message;
    assert_eq!(e, "--plugin-arg array.field: 'name' is not an array field of the schema (array fields: items, tags)");
    let e = Arrays::new(&Config::default(), &s, &[field("name", "string")]).unwrap_err().message;
    assert_eq!(e, "array: the schema has no array field (outside other arrays)");
    let bad = Schema::from_value(json!({ "properties": { "a": { "type": "array", "minItems": 1.5 } } }));
    let e = Arrays::new(&Config::default(), &bad, &[field("a", "array")]).unwrap_err().message;
    assert_eq!(e, "schema field 'a': minItems must be a whole number, not 1.5");
}

#[test]
fn the_length_decides_which_actions_are_allowed() {
    let f = ArrayField { path: "a".into(), min_items: 1, max_items: Some(3), unique: false };
    assert_eq!(allowed(&f, 0), [Action::Push]);
    assert_eq!(allowed(&f, 1), [Action::Push, Action::Set]);
    assert_eq!(allowed(&f, 2), [Action::Push, Action::Pull, Action::Set]);
    assert_eq!(allowed(&f, 3), [Action::Pull, Action::Set]);
    assert_eq!(allowed(&f, 9), [Action::Pull, Action::Set]);
}

#[test]
fn each_action_builds_its_update() {
    let f = ArrayField { path: "order.items".into(), min_items: 0, max_items: None, unique: false };
    let items = [item("A", 1), item("B", 2)];
    let mut host = fake(1, line_items);
    let push = apply(Action::Push, &f, &items, &mut host).unwrap();
    assert_eq!(push, doc! { "$push": { "order.items": { "sku": "N1", "qty": 1 } } });
    let pull = apply(Action::Pull, &f, &items, &mut host).unwrap();
    let pulled = pull.get_document("$pull").unwrap().get("order.items").unwrap();
    assert!(items.contains(pulled), "{pull}");
    let set = apply(Action::Set, &f, &items, &mut host).unwrap();
    let (path, value) = set.get_document("$set").unwrap().iter().next().unwrap();
    let parts: Vec<&str> = path.split('.').collect();
    assert_eq!(parts[..2], ["order", "items"]);
    assert!(parts[2] == "0" || parts[2] == "1", "{path}");
    match parts[3] {
        "sku" => assert_eq!(value, &Bson::String("N2".into())),
        "qty" => assert_eq!(value, &Bson::Int32(2)),
        other => panic!("{other}"),
    }
    // Arrays of scalars: the whole element is set.
    let tags = ArrayField { path: "tags".into(), min_items: 0, max_items: None, unique: false };
    let mut host = fake(2, |_, _| Bson::Array(vec!["fresh".into()]));
    let set = apply(Action::Set, &tags, &["a".into()], &mut host).unwrap();
    assert_eq!(set, doc! { "$set": { "tags.0": "fresh" } });
}

#[test]
fn an_empty_fresh_array_is_tried_again_then_the_action_given_up() {
    let f = ArrayField { path: "items".into(), min_items: 0, max_items: None, unique: false };
    let mut host = fake(3, |_, call| if call < 3 { Bson::Array(vec![]) } else { line_items("", call) });
    assert!(apply(Action::Push, &f, &[], &mut host).is_some());
    assert_eq!(host.calls, 3);
    let mut never = fake(3, |_, _| Bson::Array(vec![]));
    assert_eq!(apply(Action::Push, &f, &[], &mut never), None);
    assert_eq!(never.calls, GENERATE_TRIES);
    // With push impossible, another action is chosen.
    let a = Arrays { fields: vec![f], actions: vec![Action::Push, Action::Pull, Action::Set] };
    for _ in 0..20 {
        let got = a.mutate(Some(&doc! { "items": [item("A", 1), item("B", 2)] }), &mut never);
        let Mutation::Update(u) = got else { panic!("{got:?}") };
        assert_eq!(u.keys().collect::<Vec<_>>(), ["$pull"]);
    }
}

#[test]
fn a_pull_never_takes_the_array_below_its_minimum_even_with_duplicates() {
    let f = ArrayField { path: "a".into(), min_items: 2, max_items: None, unique: false };
    let mut host = fake(4, line_items);
    // Pulling x removes both copies (3 - 2 < 2); only y is pullable.
    let items = ["x".into(), "x".into(), "y".into()];
    for _ in 0..20 {
        assert_eq!(apply(Action::Pull, &f, &items, &mut host), Some(doc! { "$pull": { "a": "y" } }));
    }
    // A document matches every element holding its fields; equal numbers match across types.
    let docs = [item("A", 1), Bson::Document(doc! { "sku": "A", "qty": 1.0, "extra": true }), item("B", 2)];
    for _ in 0..20 {
        let pull = apply(Action::Pull, &f, &docs, &mut host).unwrap();
        let pulled = pull.get_document("$pull").unwrap().get("a").unwrap();
        assert_ne!(pulled, &docs[0], "pulling {{sku: A, qty: 1}} would take two of three");
    }
    let only_dups = ["x".into(), "x".into()];
    let f1 = ArrayField { min_items: 1, ..f };
    assert_eq!(apply(Action::Pull, &f1, &only_dups, &mut host), None);
}

#[test]
fn unique_arrays_get_no_duplicate() {
    let f = ArrayField { path: "tags".into(), min_items: 0, max_items: None, unique: true };
    let mut host = fake(5, |_, _| Bson::Array(vec!["a".into()]));
    assert_eq!(apply(Action::Push, &f, &["a".into()], &mut host), None);
    let mut host = fake(6, |_, _| Bson::Array(vec!["a".into()]));
    // Setting index 1 to "a" would duplicate index 0; setting index 0 to "a" is no duplicate.
    let (mut set, mut refused) = (0, 0);
    for _ in 0..40 {
        match apply(Action::Set, &f, &["a".into(), "b".into()], &mut host) {
            Some(u) => {
                assert_eq!(u, doc! { "$set": { "tags.0": "a" } });
                set += 1;
            }
            None => refused += 1,
        }
    }
    assert!(set > 5 && refused > 5, "{set} set, {refused} refused");
}

/// Whatever the draws, an update keeps every array within its bounds.
#[test]
fn updates_keep_the_arrays_within_their_bounds() {
    let (s, fields) = schema();
    let a = Arrays::new(&Config::default(), &s, &fields).unwrap();
    let mut host = fake(7, |path, call| match path {
        "items" => line_items(path, call % 4),
        _ => Bson::Array(vec![format!("t{}", call % 3).into()]),
    });
    let mut seen = BTreeMap::new();
    for len in 0..=4 {
        for _ in 0..200 {
            let items: Vec<Bson> = (0..len).map(|i| item(&format!("S{i}"), i)).collect();
            let tags: Vec<Bson> = (0..len.min(5)).map(|i| Bson::String(format!("t{i}"))).collect();
            let current = doc! { "items": items.clone(), "tags": tags.clone() };
            let Mutation::Update(u) = a.mutate(Some(&current), &mut host) else { continue };
            let (op, body) = u.iter().next().unwrap();
            let body = body.as_document().unwrap();
            let (path, value) = body.iter().next().unwrap();
            let field = path.split('.').next().unwrap();
            let (now, min, max) = if field == "items" { (items.len(), 1, 3) } else { (tags.len(), 0, 5) };
            *seen.entry((op.clone(), field.to_owned())).or_insert(0) += 1;
            match op.as_str() {
                "$push" => assert!(now < max, "push onto {field} at {now}"),
                "$pull" => {
                    let list = if field == "items" { &items } else { &tags };
                    let removed = list.iter().filter(|e| *e == value).count();
                    assert!(now - removed >= min, "pull from {field} at {now}");
                }
                "$set" => {
                    let index: usize = path.split('.').nth(1).unwrap().parse().unwrap();
                    assert!(index < now);
                    if field == "tags" {
                        let others = tags.iter().enumerate().filter(|(i, _)| *i != index);
                        assert!(others.clone().all(|(_, t)| t != value), "duplicate tag {value} in {tags:?}");
                    }
                }
                other => panic!("{other}"),
            }
        }
    }
    for op in ["$push", "$pull", "$set"] {
        for f in ["items", "tags"] {
            assert!(seen.get(&(op.to_owned(), f.to_owned())).is_some_and(|n| *n > 10), "{op} {f}: {seen:?}");
        }
    }
}

#[test]
fn no_array_present_skips() {
    let (s, fields) = schema();
    let a = Arrays::new(&Config::default(), &s, &fields).unwrap();
    let mut host = fake(8, line_items);
    assert_eq!(a.mutate(None, &mut host), Mutation::Skip);
    assert_eq!(a.mutate(Some(&doc! { "name": "x", "items": "not an array" }), &mut host), Mutation::Skip);
}

#[test]
fn actions_limit_what_it_does() {
    let (schema, fields) = schema();
    let a = Arrays::new(&config(&[("field", "tags"), ("actions", "push")]), &schema, &fields).unwrap();
    let mut host = fake(5, |_, call| Bson::Array(vec![Bson::String(format!("t{call}"))]));
    for _ in 0..20 {
        let got = a.mutate(Some(&doc! { "tags": ["a", "b"] }), &mut host);
        let Mutation::Update(u) = got else { panic!("{got:?}") };
        assert_eq!(u.keys().collect::<Vec<_>>(), ["$push"]);
    }
    // Full, with only push allowed: nothing to do.
    let full = doc! { "tags": ["a", "b", "c", "d", "e"] };
    assert_eq!(a.mutate(Some(&full), &mut host), Mutation::Skip);
    assert!(Arrays::new(&config(&[("actions", "shuffle")]), &schema, &fields).is_err());
}
