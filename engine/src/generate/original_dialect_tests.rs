//! Schemas written by the TypeScript original load unchanged, and what forge generates
//! from them follows their figures: BSON types, enum frequencies, array lengths,
//! dynamic keys and numeric distributions (20,000 documents per fixture).

use std::collections::BTreeMap;
use std::sync::Arc;

use bson::spec::BinarySubtype;
use bson::{Bson, Document};

use super::Generator;
use crate::schema::Schema;
use crate::schema::validate::check;

const ORDERS: &str = include_str!("../../../tests/fixtures/original-dialect/orders.generation.schema.json");
const DYNAMIC_KEYS: &str = include_str!("../../../tests/fixtures/original-dialect/dynamic-keys.schema.json");
const TYPES: &str = include_str!("../../../tests/fixtures/original-dialect/types-and-formats.schema.json");

const DOCS: u64 = 20_000;
/// Largest gap allowed between an observed share and the declared one (absolute):
/// with 20,000 draws, four standard deviations of a share near 0.5 is 0.014.
const SHARE_TOLERANCE: f64 = 0.015;

/// 20,000 documents of a fixture, each checked against the compiled schema.
fn documents(json: &str) -> Vec<Document> {
    let schema = Arc::new(Schema::from_json_str(json).expect("the fixture loads"));
    let g = Generator::new(schema.clone(), 7);
    (0..DOCS)
        .map(|i| {
            let d = g.document(i);
            check(&schema.compiled, &d).unwrap_or_else(|v| panic!("document {i} does not conform: {v:?}"));
            d
        })
        .collect()
}

/// Asserts that the shares of `seen` match `declared` (value → count).
fn assert_shares<K: Ord + std::fmt::Debug>(what: &str, seen: BTreeMap<K, u64>, declared: &[(K, f64)]) {
    let total: u64 = seen.values().sum();
    let declared_total: f64 = declared.iter().map(|(_, n)| n).sum();
    assert_eq!(seen.len(), declared.len(), "{what}: values seen {seen:?}");
    for (k, n) in declared {
        let want = n / declared_total;
        let got = *seen.get(k).unwrap_or(&0) as f64 / total as f64;
        assert!((got - want).abs() <= SHARE_TOLERANCE, "{what} {k:?}: share {got:.4}, declared {want:.4}");
    }
}

fn count<K: Ord>(values: impl Iterator<Item = K>) -> BTreeMap<K, u64> {
    let mut m = BTreeMap::new();
    values.for_each(|v| *m.entry(v).or_default() += 1);
    m
}

/// Nearest-rank percentile.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    sorted[((q * sorted.len() as f64).ceil() as usize).saturating_sub(1)]
}

fn numbers(docs: &[Document], field: &str) -> Vec<f64> {
    let mut v: Vec<f64> = docs
        .iter()
        .map(|d| match d.get(field) {
            Some(Bson::Int32(n)) => *n as f64,
            Some(Bson::Int64(n)) => *n as f64,
            Some(Bson::Double(x)) => *x,
            other => panic!("{field} is not a number: {other:?}"),
        })
        .collect();
    v.sort_by(f64::total_cmp);
    v
}

fn close(what: &str, got: f64, want: f64, tolerance: f64) {
    assert!((got - want).abs() <= tolerance, "{what}: {got}, declared {want} (tolerance {tolerance})");
}

#[test]
fn orders_inferred_by_the_original_generate_with_its_figures() {
    let schema = Schema::from_json_str(ORDERS).expect("loads");
    assert!(schema.warnings.is_empty(), "{:?}", schema.warnings);
    let docs = documents(ORDERS);

    for d in &docs {
        assert!(matches!(d.get("_id"), Some(Bson::ObjectId(_))), "_id (key: true, mongoType ObjectId)");
        assert!(matches!(d.get("createdAt"), Some(Bson::DateTime(_))), "createdAt (mongoType Date)");
        let name = d.get_str("customerName").expect("person-name is a string");
        assert!(name.split(' ').count() >= 2, "a person's name has a first and a last name: {name:?}");
        assert!(matches!(d.get("quantity"), Some(Bson::Int32(_))), "numericRange type integer stays integer");
        assert!(matches!(d.get("total"), Some(Bson::Double(_))));
    }
    let ids: std::collections::HashSet<_> = docs.iter().map(|d| d.get_object_id("_id").unwrap()).collect();
    assert_eq!(ids.len(), docs.len(), "the key field is unique");

    let status = count(docs.iter().map(|d| d.get_str("status").unwrap().to_string()));
    assert_shares(
        "status",
        status,
        &[
            ("cancelled".into(), 50.0),
            ("delivered".into(), 620.0),
            ("pending".into(), 120.0),
            ("shipped".into(), 210.0),
        ],
    );
    let priority = count(docs.iter().map(|d| d.get_f64("priority").expect("a number field's enum is numeric") as i64));
    assert_shares("priority", priority, &[(1, 700.0), (2, 250.0), (3, 50.0)]);

    let items = count(docs.iter().map(|d| d.get_array("items").unwrap().len()));
    let declared = [(1, 400.0), (2, 300.0), (3, 150.0), (4, 80.0), (5, 40.0), (6, 20.0), (9, 10.0)];
    assert_shares("items length (x-array-length-distribution)", items, &declared);
    let tags = count(docs.iter().map(|d| d.get_array("tags").unwrap().len()));
    assert_shares(
        "tags length (arrayLen.distribution)",
        tags,
        &[(0, 250.0), (1, 350.0), (2, 250.0), (3, 100.0), (4, 50.0)],
    );

    let total = numbers(&docs, "total");
    let mean = total.iter().sum::<f64>() / total.len() as f64;
    close("total mean", mean, 182.4, 182.4 * 0.1);
    close("total median", percentile(&total, 0.5), 96.2, 96.2 * 0.1);
    close("total p95", percentile(&total, 0.95), 640.0, 640.0 * 0.1);
    assert!(total[0] >= 3.5 && total[total.len() - 1] <= 2480.9, "within minimum/maximum");

    let quantity = numbers(&docs, "quantity");
    let mean = quantity.iter().sum::<f64>() / quantity.len() as f64;
    close("quantity mean", mean, 4.1, 4.1 * 0.1);
    close("quantity median", percentile(&quantity, 0.5), 3.0, 0.0);
    close("quantity p95", percentile(&quantity, 0.95), 11.0, 1.0);
    assert!(quantity[0] >= 1.0, "allPositive and minimum hold");
}

#[test]
fn dynamic_keys_follow_pattern_count_distribution_and_value_schema() {
    let docs = documents(DYNAMIC_KEYS);
    let uuid = |k: &str| crate::infer::formats::Format::Uuid.matches(k);
    let counts = count(docs.iter().map(|d| d.get_document("sessions").unwrap().len()));
    assert_shares("session key count (countDistribution)", counts, &[(1, 50.0), (2, 30.0), (4, 20.0)]);
    let mut value_kinds = BTreeMap::new();
    for d in &docs {
        assert!(matches!(d.get("_id"), Some(Bson::String(s)) if uuid(s)), "_id with format uuid");
        for (k, v) in d.get_document("sessions").unwrap() {
            assert!(uuid(k), "UUID key pattern: {k}");
            let kind = match v {
                Bson::Double(x) if (0.0..=100.0).contains(x) => "number",
                Bson::String(s) if (4..=8).contains(&s.chars().count()) => "string",
                other => panic!("value outside the value schemas: {other:?}"),
            };
            *value_kinds.entry(kind).or_insert(0u64) += 1;
        }
        let counters = d.get_document("counters").unwrap();
        assert_eq!(counters.len(), 3);
        for (k, v) in counters {
            let n: u64 = k.parse().expect("NUMERIC_ID keys are numbers");
            assert!((100_000..=999_999_999).contains(&n));
            assert!(matches!(v, Bson::Int32(1..=9)), "uniform value schema: {v:?}");
        }
        let labels = d.get_document("labels").unwrap();
        assert_eq!(labels.len(), 2);
        for (k, v) in labels {
            assert!(k.len() == 10 && k.starts_with("lbl_") && k[4..].bytes().all(|c| c.is_ascii_lowercase()), "{k}");
            assert!(matches!(v, Bson::String(_)), "no value schema: strings, as the original does");
        }
        let disabled = d.get_document("disabled").unwrap();
        assert_eq!(disabled.keys().collect::<Vec<_>>(), ["plain"], "enabled: false is a plain object");
    }
    assert_shares("session value type (typeProbabilities)", value_kinds, &[("number", 0.75), ("string", 0.25)]);
}

#[test]
fn mongo_types_formats_and_other_hints_of_the_original() {
    let schema = Schema::from_json_str(TYPES).expect("loads");
    assert_eq!(schema.warnings.len(), 1, "{:?}", schema.warnings);
    assert!(schema.warnings[0].contains("accountId") && schema.warnings[0].contains("key field"));
    let docs = documents(TYPES);
    for (i, d) in docs.iter().enumerate() {
        assert_eq!(d.get("_id"), Some(&Bson::Int32(1000 + i as i32)), "integer key counts up from minimum");
        assert!(matches!(d.get("ownerId"), Some(Bson::ObjectId(_))));
        assert!(matches!(d.get("createdAt"), Some(Bson::DateTime(_))));
        assert!(matches!(d.get("amount"), Some(Bson::Decimal128(_))), "Decimal128");
        let text = d.get_str("amountText").unwrap();
        assert!(text.parse::<f64>().is_ok() && text.split_once('.').unwrap().1.len() == 2, "decimal: {text}");
        assert!(matches!(d.get("avatar"), Some(Bson::Binary(b)) if b.subtype == BinarySubtype::Generic), "BinData");
        let b64 = d.get_str("avatarText").unwrap();
        use base64::Engine as _;
        assert!(base64::engine::general_purpose::STANDARD.decode(b64).is_ok(), "base64: {b64}");
        assert!(matches!(d.get("seenAt"), Some(Bson::Timestamp(_))), "mongoType timestamp");
        assert!(matches!(d.get("views"), Some(Bson::Int64(0..=5000))), "format int64");
        assert!(d.get_str("contact").unwrap().starts_with("+1-"), "phone");
        assert!(d.get_str("site").unwrap().starts_with("https://"), "url");
        assert_eq!(d.get_str("ip").unwrap().split('.').count(), 4, "ipv4");
        assert!(matches!(d.get("delta"), Some(Bson::Int32(-50..=50))));
        assert!(d.get_array("notes").unwrap().len() <= 20, "maxItems clamps the original's arrayLen");
        assert!((2..=4).contains(&d.get_array("flags").unwrap().len()));
        assert!(d.get_array("history").unwrap().iter().all(|h| matches!(h, Bson::DateTime(_))));
    }
    let active = count(docs.iter().map(|d| d.get_bool("active").unwrap()));
    assert_shares("active", active, &[(false, 100.0), (true, 900.0)]);
    let flags = count(docs.iter().map(|d| d.get_array("flags").unwrap().len()));
    assert_shares("flags length (strategy minmax)", flags, &[(2, 1.0), (3, 1.0), (4, 1.0)]);
    let history = count(docs.iter().map(|d| d.get_array("history").unwrap().len()));
    assert_shares("history length (bare length map)", history, &[(0, 1.0), (2, 3.0)]);

    let score = numbers(&docs, "score");
    close("score median", percentile(&score, 0.5), 0.1, 0.01);
    close("score p95", percentile(&score, 0.95), 0.9, 0.09);
    close("score mean", score.iter().sum::<f64>() / score.len() as f64, 0.2, 0.02);
    assert!(score[0] >= 0.0, "allPositive without a minimum keeps values at or above 0");

    let delta = numbers(&docs, "delta");
    close("delta median", percentile(&delta, 0.5), 0.0, 1.0);
    close("delta mean", delta.iter().sum::<f64>() / delta.len() as f64, -8.0, 0.8);
    assert!(delta[0] < 0.0, "allPositive false lets values go below zero");
}

#[test]
fn forge_schemas_without_the_new_vocabulary_draw_as_before() {
    // `x-gen.keys` is the new name of `x-gen.key` with a string: both draw the same.
    let with = |hint: &str| {
        let json = format!(
            r#"{{"type":"object","properties":{{"m":{{"type":"object","additionalProperties":{{"type":"integer"}},
            "x-gen":{{"{hint}":"uuid","keyCount":{{"min":1,"max":3}}}}}}}},"required":["m"]}}"#
        );
        let g = Generator::new(Arc::new(Schema::from_json_str(&json).unwrap()), 11);
        (0..50).map(|i| g.document(i)).collect::<Vec<_>>()
    };
    assert_eq!(with("key"), with("keys"));
    assert!(with("keys").iter().all(|d| !d.get_document("m").unwrap().is_empty()));
}
