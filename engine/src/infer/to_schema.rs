//! Statistics → schema JSON. Each BSON type seen at a place becomes one alternative;
//! several become an `anyOf` weighted by how often each was seen.

use serde_json::{Map, Value, json};

use super::Collector;
use super::formats::{Format, shape_pattern};
use super::stats::{Counts, ENUM_MAX, ObjectStats, Range, Stats};

/// Share of strings that must match a format for the field to get it.
const FORMAT_SHARE: f64 = 0.98;

pub fn to_schema(c: &Collector, title: &str) -> Value {
    let mut schema = node(&c.root);
    let obj = schema.as_object_mut().expect("documents are objects");
    let mut top = Map::new();
    top.insert("$schema".into(), json!("http://json-schema.org/draft-07/schema#"));
    top.insert("title".into(), json!(title));
    top.insert("description".into(), json!(format!("Inferred by forge from {} documents", c.documents())));
    for (k, v) in std::mem::take(obj) {
        top.insert(k, v);
    }
    let xgen = top.entry("x-gen").or_insert_with(|| json!({}));
    xgen["docSize"] = dist(&c.doc_sizes);
    Value::Object(top)
}

fn dist(c: &Counts) -> Value {
    json!({
        "min": c.min(), "max": c.max(),
        "p50": c.percentile(0.5), "p90": c.percentile(0.9), "p99": c.percentile(0.99),
    })
}

fn round(v: f64) -> Value {
    json!((v * 10_000.0).round() / 10_000.0)
}

/// The schema of everything seen at one place.
fn node(s: &Stats) -> Value {
    let mut alts: Vec<(u64, Value)> = Vec::new();
    let mut push = |n: u64, v: Value| {
        if n > 0 {
            alts.push((n, v));
        }
    };
    push(s.null, json!({ "type": "null" }));
    push(s.boolean, json!({ "type": "boolean" }));
    push(s.int32.count, integer("int", &s.int32));
    push(s.int64.count, integer("long", &s.int64));
    push(s.double.count, number("number", "double", &s.double));
    if s.decimal.count > 0 {
        let mut v = number("string", "decimal128", &s.decimal);
        v["x-gen"]["decimals"] = json!(s.decimal_scale);
        push(s.decimal.count, v);
    }
    if let Some(st) = &s.string {
        let n = st.lengths.total();
        let format = Format::ALL.iter().enumerate().find(|(i, _)| st.formats[*i] as f64 >= n as f64 * FORMAT_SHARE);
        let v = if let Some((_, f)) = format {
            json!({ "type": "string", "format": f.name() })
        } else if let Some(values) = st.distinct.as_ref().filter(|d| d.len() <= ENUM_MAX && n >= 5 * d.len() as u64) {
            json!({ "type": "string", "enum": values.keys().collect::<Vec<_>>() })
        } else if let Some(pattern) = st.shape.as_ref().and_then(|s| s.as_deref()).and_then(shape_pattern) {
            json!({ "type": "string", "pattern": pattern })
        } else {
            json!({
                "type": "string", "minLength": st.lengths.min(), "maxLength": st.lengths.max(),
                "x-gen": { "length": dist(&st.lengths) },
            })
        };
        push(n, v);
    }
    push(s.object_id, json!({ "type": "string", "x-gen": { "mongoType": "objectId" } }));
    if s.date.count > 0 {
        let iso = |ms: f64| bson::DateTime::from_millis(ms as i64).try_to_rfc3339_string().unwrap_or_default();
        push(
            s.date.count,
            json!({ "type": "string", "format": "date-time", "x-gen": { "mongoType": "date", "min": iso(s.date.min), "max": iso(s.date.max) } }),
        );
    }
    if s.timestamp.count > 0 {
        let ms = |secs: f64| (secs as i64) * 1000;
        push(
            s.timestamp.count,
            json!({ "type": "integer", "x-gen": { "mongoType": "timestamp", "min": ms(s.timestamp.min), "max": ms(s.timestamp.max) } }),
        );
    }
    push(s.uuid, json!({ "type": "string", "format": "uuid", "x-gen": { "mongoType": "uuid" } }));
    if s.binary.count > 0 {
        push(
            s.binary.count,
            json!({
                "type": "string", "x-gen": { "mongoType": "binData" },
                "minLength": s.binary.min as u64, "maxLength": s.binary.max as u64,
            }),
        );
    }
    if let Some(obj) = &s.object {
        push(obj.key_counts.total(), object(obj));
    }
    if let Some(arr) = &s.array {
        let items = if arr.items.count > 0 { node(&arr.items) } else { json!({}) };
        push(
            arr.lengths.total(),
            json!({ "type": "array", "items": items, "x-gen": { "arrayLen": dist(&arr.lengths) } }),
        );
    }
    match alts.len() {
        0 => json!({}),
        1 => alts.pop().expect("one").1,
        _ => {
            let weights: Vec<Value> = alts.iter().map(|(n, _)| json!(n)).collect();
            json!({ "anyOf": alts.into_iter().map(|(_, v)| v).collect::<Vec<_>>(), "x-gen": { "weights": weights } })
        }
    }
}

/// Integers keep integer bounds: `136593`, never `136593.0`.
fn integer(mongo_type: &str, r: &Range) -> Value {
    json!({ "type": "integer", "minimum": r.min as i64, "maximum": r.max as i64, "x-gen": { "mongoType": mongo_type } })
}

fn number(json_type: &str, mongo_type: &str, r: &Range) -> Value {
    json!({ "type": json_type, "minimum": r.min, "maximum": r.max, "x-gen": { "mongoType": mongo_type } })
}

fn object(obj: &ObjectStats) -> Value {
    let total = obj.key_counts.total();
    if obj.dynamic.is_some() || obj.keys_look_like_data() {
        let mut merged = obj.clone();
        merged.make_dynamic();
        let value = merged.dynamic.as_ref().map_or(json!({}), |d| node(d));
        let key = match obj.key_format {
            Some(Some(f)) => f.name(),
            _ => "word",
        };
        return json!({
            "type": "object",
            "additionalProperties": value,
            "x-gen": { "keys": key, "keyCount": dist(&obj.key_counts) },
        });
    }
    let mut properties = Map::new();
    let mut required = Vec::new();
    for (name, f) in &obj.fields {
        let mut v = node(&f.stats);
        if f.present == total {
            required.push(json!(name));
        } else if let Value::Object(m) = &mut v {
            let xgen = m.entry("x-gen").or_insert_with(|| json!({}));
            xgen["presence"] = round(f.present as f64 / total.max(1) as f64);
        }
        properties.insert(name.clone(), v);
    }
    json!({ "type": "object", "properties": properties, "required": required })
}

#[cfg(test)]
mod tests {
    use super::super::Collector;
    use super::*;
    use bson::{Bson, doc};

    #[test]
    fn infers_types_presence_unions_and_arrays() {
        let mut c = Collector::new(50);
        for i in 0..100 {
            let status = ["a", "b", "c"][i % 3];
            let mut d = doc! {
                "_id": bson::oid::ObjectId::new(),
                "status": status,
                "n": if i % 4 == 0 { Bson::Null } else { Bson::Int64(i as i64) },
                "tags": (0..(i % 5)).map(|j| Bson::String(format!("t{j}"))).collect::<Vec<_>>(),
            };
            if i % 2 == 0 {
                d.insert("opt", "x".repeat(i % 10));
            }
            c.observe(&d, None);
        }
        let s = to_schema(&c, "t");
        let props = &s["properties"];
        assert_eq!(props["_id"]["x-gen"]["mongoType"], "objectId");
        assert_eq!(props["status"]["enum"], json!(["a", "b", "c"]));
        assert_eq!(props["n"]["anyOf"].as_array().unwrap().len(), 2);
        assert_eq!(props["n"]["x-gen"]["weights"], json!([25, 75]));
        assert_eq!(props["opt"]["x-gen"]["presence"], 0.5);
        assert_eq!(props["tags"]["x-gen"]["arrayLen"]["max"], 4);
        assert!(s["required"].as_array().unwrap().contains(&json!("status")));
        assert!(s["x-gen"]["docSize"]["p50"].as_u64().unwrap() > 0);
        let schema = crate::schema::Schema::from_value(s).expect("generate reads what infer writes");
        assert!(schema.warnings.is_empty(), "{:?}", schema.warnings);
    }

    #[test]
    fn binary_integers_and_fixed_shapes_come_back_as_they_were_seen() {
        let mut c = Collector::new(50);
        for i in 0..200u32 {
            c.observe(
                &doc! {
                    "_id": i as i64,
                    "blob": bson::Binary { subtype: bson::spec::BinarySubtype::Generic, bytes: vec![7; 8 + i as usize % 5] },
                    "n": 136_000 + i as i32,
                    "big": 5_000_000_000i64 + i as i64,
                    "zip": format!("{:05}", (i * 7919) % 100_000),
                    "code": format!("AB-{:04}", (i * 13) % 10_000),
                    "note": format!("{}x{}", "a".repeat(i as usize % 3), i),
                },
                None,
            );
        }
        let s = to_schema(&c, "t");
        let p = &s["properties"];
        assert_eq!((&p["blob"]["type"], &p["blob"]["x-gen"]["mongoType"]), (&json!("string"), &json!("binData")));
        assert_eq!(serde_json::to_string(&p["n"]["minimum"]).unwrap(), "136000", "an integer bound stays an integer");
        assert_eq!(serde_json::to_string(&p["n"]["maximum"]).unwrap(), "136199");
        assert_eq!(serde_json::to_string(&p["big"]["maximum"]).unwrap(), "5000000199");
        assert_eq!(p["zip"]["pattern"], "^[0-9]{5}$");
        assert_eq!(p["code"]["pattern"], "^[A-Z]{2}-[0-9]{4}$");
        assert!(p["note"].get("pattern").is_none(), "strings of varying shape stay free text: {}", p["note"]);

        let schema = std::sync::Arc::new(crate::schema::Schema::from_value(s).expect("generate reads it"));
        let g = crate::generate::Generator::new(schema.clone(), 1);
        for i in 0..200 {
            let d = g.document(i);
            crate::schema::validate::check(&schema.compiled, &d).expect("conforms");
            assert!(matches!(d.get("blob"), Some(Bson::Binary(b)) if (8..=12).contains(&b.bytes.len())));
            assert!(matches!(d.get("n"), Some(Bson::Int32(136_000..=136_199))));
            assert!(matches!(d.get("big"), Some(Bson::Int64(5_000_000_000..=5_000_000_199))));
            let zip = d.get_str("zip").unwrap();
            assert!(zip.len() == 5 && zip.bytes().all(|b| b.is_ascii_digit()), "{zip}");
            let code = d.get_str("code").unwrap();
            assert!(code.len() == 7 && code.as_bytes()[2] == b'-', "{code}");
        }
    }
}
