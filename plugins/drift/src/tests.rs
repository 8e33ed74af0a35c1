use std::collections::BTreeMap;

use forge_plugin_sdk::bson::{Bson, Decimal128, doc};
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

fn dec(s: &str) -> Bson {
    Bson::Decimal128(s.parse::<Decimal128>().unwrap())
}

fn bounds(node: serde_json::Value) -> Bounds {
    Bounds::of(&node).unwrap()
}

fn shop() -> (Schema, Vec<Field>) {
    let schema = Schema::from_value(json!({
        "definitions": { "money": { "type": "string", "minimum": 0, "maximum": 2000, "x-gen": { "mongoType": "decimal128" } } },
        "properties": {
            "price": { "$ref": "#/definitions/money" },
            "qty": { "type": "integer", "minimum": 0, "exclusiveMaximum": 100 },
            "views": { "type": "integer", "x-gen": { "mongoType": "long" } },
            "score": { "type": "number", "exclusiveMinimum": 0, "maximum": 1 },
            "name": { "type": "string" },
            "stats": { "properties": { "avg": { "type": "number" } } }
        }
    }));
    let fields = vec![
        field("price", "decimal"),
        field("qty", "int"),
        field("views", "long"),
        field("score", "double"),
        field("name", "string"),
        field("stats.avg", "double"),
    ];
    (schema, fields)
}

/// The value as an exact decimal, whatever its numeric BSON type.
fn exact(v: &Bson) -> Dec {
    match v {
        Bson::Int32(i) => Dec { coeff: *i as i128, scale: 0 },
        Bson::Int64(i) => Dec { coeff: *i as i128, scale: 0 },
        Bson::Double(d) => Dec::parse(&format!("{d:e}")).unwrap(),
        Bson::Decimal128(d) => Dec::parse(&d.to_string()).unwrap(),
        other => panic!("not a number: {other:?}"),
    }
}

#[test]
fn decimals_parse_and_print_with_their_scale() {
    assert_eq!(Dec::parse("123.45"), Some(Dec { coeff: 12345, scale: 2 }));
    assert_eq!(Dec::parse("-0.050"), Some(Dec { coeff: -50, scale: 3 }));
    assert_eq!(Dec::parse("1.2345E+5"), Some(Dec { coeff: 12345, scale: -1 }));
    assert_eq!(Dec::parse("1e-7"), Some(Dec { coeff: 1, scale: 7 }));
    assert_eq!(Dec::parse("2000"), Some(Dec { coeff: 2000, scale: 0 }));
    assert_eq!(Dec::parse("NaN"), None);
    assert_eq!(Dec::parse("Infinity"), None);
    assert_eq!(Dec::parse("1.2.3"), None);
    for s in ["123.45", "-0.050", "0.001", "5", "1.2345E+5", "0.0000001"] {
        let d: Decimal128 = s.parse().unwrap();
        let parsed = Dec::parse(&d.to_string()).unwrap();
        let back: Decimal128 = parsed.format().parse().unwrap();
        assert_eq!(back, d, "{s}: {parsed:?} printed {}", parsed.format());
    }
}

#[test]
fn every_numeric_type_keeps_its_type_and_a_decimal_its_scale() {
    let none = Bounds::default();
    assert_eq!(step(&Bson::Int32(200), 5.0, &none), Some(Bson::Int32(210)));
    assert_eq!(step(&Bson::Int64(1_000_000_000_000), -1.0, &none), Some(Bson::Int64(990_000_000_000)));
    assert_eq!(step(&Bson::Double(10.0), 50.0, &none), Some(Bson::Double(15.0)));
    assert_eq!(step(&dec("123.45"), 10.0, &none), Some(dec("135.80")));
    assert_eq!(step(&dec("-2.000"), 3.0, &none), Some(dec("-2.060")));
    // A step the scale cannot show still moves by one unit, in the step's direction.
    assert_eq!(step(&Bson::Int32(3), 4.0, &none), Some(Bson::Int32(4)));
    assert_eq!(step(&Bson::Int32(3), -4.0, &none), Some(Bson::Int32(2)));
    assert_eq!(step(&Bson::Int64(0), 4.0, &none), Some(Bson::Int64(1)));
    assert_eq!(step(&dec("0.01"), 4.0, &none), Some(dec("0.02")));
    assert_eq!(step(&Bson::String("1".into()), 4.0, &none), None);
}

#[test]
fn bounds_hold_inclusive_exclusive_and_draft4() {
    let b = bounds(json!({ "minimum": 0, "exclusiveMaximum": 100 }));
    assert_eq!(step(&Bson::Int32(99), 5.0, &b), Some(Bson::Int32(98)), "pressed on 99 < 100, it moves down");
    assert_eq!(step(&Bson::Int32(90), 50.0, &b), Some(Bson::Int32(99)));
    assert_eq!(step(&Bson::Int32(1), -100.0, &b), Some(Bson::Int32(0)));
    let money = bounds(json!({ "minimum": 0, "maximum": 2000 }));
    assert_eq!(step(&dec("1999.99"), 5.0, &money), Some(dec("2000.00")));
    assert_eq!(step(&dec("2000.00"), 5.0, &money), Some(dec("1999.99")));
    let open = bounds(json!({ "exclusiveMinimum": 0, "maximum": 1 }));
    assert_eq!(step(&Bson::Double(1e-300), -100.0, &open), Some(Bson::Double(0f64.next_up())));
    assert_eq!(step(&Bson::Double(0.99), 50.0, &open), Some(Bson::Double(1.0)));
    let draft4 = bounds(json!({ "minimum": 0.5, "exclusiveMinimum": true }));
    assert_eq!(step(&dec("0.6"), -50.0, &draft4), Some(dec("0.7")), "pressed on the excluded 0.5, it moves up");
    // A bound the scale cannot reach inside: 0.05 < x < 0.06 at scale 2 has no value.
    let narrow = bounds(json!({ "exclusiveMinimum": 0.05, "exclusiveMaximum": 0.06 }));
    assert_eq!(step(&dec("0.05"), 5.0, &narrow), None);
    // Int32 stays within its own range.
    assert_eq!(step(&Bson::Int32(i32::MAX), 5.0, &Bounds::default()), Some(Bson::Int32(i32::MAX - 1)));
    // A value found outside the bounds is brought inside.
    assert_eq!(step(&Bson::Int32(500), 1.0, &b), Some(Bson::Int32(99)));
}

#[test]
fn config_defaults_to_every_numeric_field_and_reads_bounds_through_refs() {
    let (schema, fields) = shop();
    let d = Drift::new(&Config::default(), &schema, &fields).unwrap();
    let names: Vec<&str> = d.fields.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(names, ["price", "qty", "views", "score", "stats.avg"]);
    assert_eq!(d.max_percent, 5.0);
    assert_eq!(d.fields[0].1, bounds(json!({ "minimum": 0, "maximum": 2000 })));
    let d = Drift::new(&config(&[("fields", "qty, price"), ("max-percent", "20")]), &schema, &fields).unwrap();
    assert_eq!(d.fields.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>(), ["qty", "price"]);
    assert_eq!(d.max_percent, 20.0);
}

#[test]
fn init_errors_name_the_arg_at_fault() {
    let (schema, fields) = shop();
    let err =
        |pairs: &[(&str, &str)], fields: &[Field]| Drift::new(&config(pairs), &schema, fields).unwrap_err().message;
    assert_eq!(
        err(&[("fields", "qty,name")], &fields),
        "--plugin-arg drift.fields: 'name' is not a numeric field of the schema (numeric fields: price, qty, views, score, stats.avg)"
    );
    assert!(err(&[("fields", " , ")], &fields).starts_with("--plugin-arg drift.fields: no field"));
    for bad in ["0", "-1", "101", "x", "NaN"] {
        assert!(
            err(&[("max-percent", bad)], &fields).starts_with("--plugin-arg drift.max-percent: cannot use"),
            "{bad}"
        );
    }
    assert!(err(&[], &[field("name", "string")]).starts_with("drift: the schema has no numeric field"));
    let broken = Schema::from_value(json!({ "properties": { "qty": { "type": "integer", "minimum": "lots" } } }));
    let e = Drift::new(&Config::default(), &broken, &[field("qty", "int")]).unwrap_err().message;
    assert_eq!(e, "schema field 'qty': minimum 'lots' is not a number");
}

#[test]
fn updates_set_one_to_three_present_fields_within_the_step_and_bounds() {
    let (schema, fields) = shop();
    let d = Drift::new(&config(&[("max-percent", "10")]), &schema, &fields).unwrap();
    let current = doc! {
        "price": dec("1990.50"), "qty": 97, "views": 5_000_000_000i64, "score": 0.98,
        "stats": { "avg": 12.5 }, "name": "x",
    };
    let mut draw = Replay::seeded(11, 50_000);
    let mut counts = [0usize; 4];
    for _ in 0..2000 {
        let Mutation::Update(u) = d.mutate(Some(&current), &mut draw) else { panic!("a full document skipped") };
        assert_eq!(u.keys().collect::<Vec<_>>(), ["$set"], "{u}");
        let set = u.get_document("$set").unwrap();
        counts[set.len()] += 1;
        for (path, new) in set {
            let old = get_path(&current, path).unwrap();
            assert_eq!(std::mem::discriminant(old), std::mem::discriminant(new), "{path}: {old:?} -> {new:?}");
            let (o, n) = (exact(old).to_f64(), exact(new).to_f64());
            assert!(n != o || path == "stats.avg", "{path} did not move: {old:?}");
            // Within the step (plus one unit of the scale for integers and decimals).
            let unit = if matches!(new, Bson::Double(_)) { 0.0 } else { 10f64.powi(-exact(old).scale) };
            assert!((n - o).abs() <= o.abs() * 0.10 + unit + 1e-9, "{path}: {o} -> {n}");
            match path.as_str() {
                "price" => {
                    assert!((0.0..=2000.0).contains(&n), "{n}");
                    assert_eq!(exact(new).scale, 2, "{new:?}");
                }
                "qty" => assert!((0.0..100.0).contains(&n), "{n}"),
                "score" => assert!(n > 0.0 && n <= 1.0, "{n}"),
                "views" | "stats.avg" => {}
                other => panic!("drift set '{other}'"),
            }
        }
    }
    assert_eq!(counts[0], 0);
    assert!(counts[1] > 400 && counts[2] > 400 && counts[3] > 400, "{counts:?}");
}

#[test]
fn absent_or_non_numeric_fields_are_left_and_nothing_present_skips() {
    let (schema, fields) = shop();
    let d = Drift::new(&config(&[("fields", "qty,score")]), &schema, &fields).unwrap();
    let mut draw = Replay::seeded(5, 100);
    assert_eq!(d.mutate(None, &mut draw), Mutation::Skip);
    assert_eq!(d.mutate(Some(&doc! { "price": dec("1.00") }), &mut draw), Mutation::Skip);
    assert_eq!(d.mutate(Some(&doc! { "qty": "many", "score": Bson::Null }), &mut draw), Mutation::Skip);
    for _ in 0..20 {
        let Mutation::Update(u) = d.mutate(Some(&doc! { "qty": 10, "score": "high" }), &mut draw) else { panic!() };
        assert_eq!(u.get_document("$set").unwrap().keys().collect::<Vec<_>>(), ["qty"]);
    }
}
