use std::collections::BTreeMap;

use forge_plugin_sdk::bson::doc;
use forge_plugin_support::Replay;
use serde_json::json;

use super::*;

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

fn orders() -> (Schema, Vec<Field>) {
    let schema = Schema::from_value(json!({
        "type": "object",
        "properties": {
            "kind": { "type": "string", "enum": ["a", "b"] },
            "status": {
                "type": "string",
                "enum": ["pending", "paid", "cancelled", "shipped", "delivered"],
                "x-gen": { "transitions": { "pending": { "paid": 0.8, "cancelled": 0.2 }, "paid": { "shipped": 1 } } }
            },
            "n": { "type": "integer" }
        }
    }));
    // Forge lists enum fields as "mixed".
    (schema, vec![field("kind", "string"), field("status", "mixed"), field("n", "int")])
}

fn allowed(m: &Machine, from: &str, to: &str) -> bool {
    m.moves.iter().any(|(f, t)| f == from && t.iter().any(|(s, _)| s == to))
}

#[test]
fn the_schema_names_the_field_and_its_weighted_transitions() {
    let (schema, fields) = orders();
    let m = Machine::new(&Config::default(), &schema, &fields).unwrap();
    assert_eq!(m.field, "status");
    assert_eq!(
        m.moves,
        vec![
            ("pending".into(), vec![("paid".into(), 0.8), ("cancelled".into(), 0.2)]),
            ("paid".into(), vec![("shipped".into(), 1.0)]),
        ]
    );
    // The weights split [0, 1): 80% paid, 20% cancelled.
    assert_eq!(m.next("pending", 0.0), Some("paid"));
    assert_eq!(m.next("pending", 0.79), Some("paid"));
    assert_eq!(m.next("pending", 0.81), Some("cancelled"));
    assert_eq!(m.next("pending", 0.999_999), Some("cancelled"));
    assert_eq!(m.next("shipped", 0.5), None);
}

#[test]
fn the_arg_wins_over_the_schema_with_equal_weights() {
    let (schema, fields) = orders();
    let c = config(&[("transitions", "pending>paid|cancelled, paid>shipped,shipped>delivered,pending>shipped")]);
    let m = Machine::new(&c, &schema, &fields).unwrap();
    assert_eq!(m.moves[0].1, vec![("paid".into(), 1.0), ("cancelled".into(), 1.0), ("shipped".into(), 1.0)]);
    assert_eq!(m.next("shipped", 0.3), Some("delivered"));
    assert_eq!(m.next("delivered", 0.3), None);
    let weighted = parse_arg("a>b:3|c:1").unwrap();
    assert_eq!(weighted, vec![("a".into(), vec![("b".into(), 3.0), ("c".into(), 1.0)])]);
}

#[test]
fn the_default_field_is_status_without_schema_transitions() {
    let fields = vec![field("status", "string")];
    let m = Machine::new(&config(&[("transitions", "x>y")]), &Schema::from_value(json!({})), &fields).unwrap();
    assert_eq!(m.field, "status");
}

#[test]
fn the_weights_show_in_the_moves_drawn() {
    let (schema, fields) = orders();
    let m = Machine::new(&Config::default(), &schema, &fields).unwrap();
    let mut draw = Replay::seeded(42, 10_000);
    let current = doc! { "status": "pending" };
    let mut paid = 0;
    for _ in 0..10_000 {
        match m.mutate(Some(&current), &mut draw) {
            Mutation::Update(u) => match u.get_document("$set").unwrap().get_str("status").unwrap() {
                "paid" => paid += 1,
                "cancelled" => {}
                other => panic!("illegal move pending -> {other}"),
            },
            other => panic!("{other:?}"),
        }
    }
    assert!((7_700..8_300).contains(&paid), "{paid} of 10000 went to paid");
}

#[test]
fn every_update_is_an_allowed_transition_and_final_states_skip() {
    let (schema, fields) = orders();
    let c = config(&[("transitions", "pending>paid|cancelled,paid>shipped,shipped>delivered")]);
    let m = Machine::new(&c, &schema, &fields).unwrap();
    let mut draw = Replay::seeded(3, 1000);
    for state in ["pending", "paid", "shipped", "delivered", "cancelled", "unknown"] {
        for _ in 0..50 {
            let current = doc! { "status": state, "n": 1 };
            match m.mutate(Some(&current), &mut draw) {
                Mutation::Update(u) => {
                    assert_eq!(u.keys().collect::<Vec<_>>(), ["$set"]);
                    let set = u.get_document("$set").unwrap();
                    assert_eq!(set.len(), 1);
                    assert!(allowed(&m, state, set.get_str("status").unwrap()), "{state} -> {set}");
                }
                Mutation::Skip => assert!(["delivered", "cancelled", "unknown"].contains(&state), "{state} skipped"),
                other => panic!("{other:?}"),
            }
        }
    }
}

#[test]
fn no_document_no_field_or_a_non_string_skips() {
    let (schema, fields) = orders();
    let m = Machine::new(&Config::default(), &schema, &fields).unwrap();
    let mut draw = Replay::new(&[0.5]);
    assert_eq!(m.mutate(None, &mut draw), Mutation::Skip);
    assert_eq!(m.mutate(Some(&doc! { "n": 1 }), &mut draw), Mutation::Skip);
    assert_eq!(m.mutate(Some(&doc! { "status": 3 }), &mut draw), Mutation::Skip);
}

#[test]
fn nested_fields_are_read_by_their_dotted_path() {
    let schema = Schema::from_value(json!({ "properties": { "order": { "properties": { "state": {
        "type": "string", "x-gen": { "transitions": { "new": { "old": 1 } } } } } } } }));
    let m = Machine::new(&Config::default(), &schema, &[field("order.state", "string")]).unwrap();
    let got = m.mutate(Some(&doc! { "order": { "state": "new" } }), &mut Replay::new(&[0.1]));
    assert_eq!(got, Mutation::Update(doc! { "$set": { "order.state": "old" } }));
}

/// Each init error is one line naming the plugin arg or the schema path at fault.
#[test]
fn init_errors_name_what_is_wrong() {
    let (schema, fields) = orders();
    let err = |pairs: &[(&str, &str)], schema: &Schema| {
        let e = Machine::new(&config(pairs), schema, &fields).unwrap_err();
        assert_eq!(e.kind, forge_plugin_sdk::ErrorKind::InvalidConfig);
        assert!(!e.message.contains('\n'));
        e.message
    };
    assert!(
        err(&[("field", "nope")], &schema).starts_with("--plugin-arg lifecycle.field: the schema has no field 'nope'")
    );
    assert!(err(&[("field", "n")], &schema).starts_with("lifecycle.field: 'n' is a int32 field"));
    assert!(
        err(&[("transitions", "pending")], &schema)
            .starts_with("--plugin-arg lifecycle.transitions: 'pending' has no '>'")
    );
    assert!(err(&[("transitions", "pending>")], &schema).contains("empty state name"));
    assert!(err(&[("transitions", "a>b:x")], &schema).contains("weight 'x' is not a number"));
    assert!(err(&[("transitions", "a>b:-1")], &schema).contains("not a non-negative number"));
    assert_eq!(
        err(&[("transitions", "pending>lost")], &schema),
        "--plugin-arg lifecycle.transitions: 'lost' is not in the enum of 'status'"
    );
    assert!(err(&[("field", "kind")], &schema).starts_with("lifecycle: no transitions for 'kind'"));
    let bad = Schema::from_value(json!({ "properties": { "status": {
        "type": "string", "enum": ["a"], "x-gen": { "transitions": { "a": { "b": "lots" } } } } } }));
    assert_eq!(err(&[], &bad), "schema field 'status' x-gen.transitions: 'a' > 'b': the weight must be a number");
    let outside = Schema::from_value(json!({ "properties": { "status": {
        "type": "string", "enum": ["a"], "x-gen": { "transitions": { "a": { "b": 1 } } } } } }));
    assert_eq!(err(&[], &outside), "schema field 'status' x-gen.transitions: 'b' is not in the enum of 'status'");
    let e = Machine::new(&Config::default(), &Schema::from_value(json!({})), &[]).unwrap_err();
    assert!(e.message.starts_with("lifecycle: the schema has no field 'status'"), "{}", e.message);
}
