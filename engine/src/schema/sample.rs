//! A schema read off sample documents, for `forge mutate` without `--schema`: enough
//! structure (paths, BSON types, presence, numeric ranges) for the partial and
//! increment strategies to write values of the right type to fields that exist.

use bson::{Bson, Document};
use serde_json::{Map, Value, json};

/// A draft-07 + `x-gen` schema describing `docs`.
pub fn schema_from_samples(docs: &[Document]) -> Value {
    let refs: Vec<&Document> = docs.iter().collect();
    object_schema(&refs)
}

fn object_schema(docs: &[&Document]) -> Value {
    let mut names: Vec<&str> = Vec::new();
    for d in docs {
        for k in d.keys() {
            if !names.contains(&k.as_str()) {
                names.push(k);
            }
        }
    }
    let mut properties = Map::new();
    let mut required = Vec::new();
    for name in names {
        let values: Vec<&Bson> = docs.iter().filter_map(|d| d.get(name)).collect();
        let mut schema = value_schema(&values);
        if values.len() == docs.len() {
            required.push(json!(name));
        } else if let Value::Object(obj) = &mut schema {
            let presence = values.len() as f64 / docs.len().max(1) as f64;
            obj.entry("x-gen")
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .expect("x-gen is an object")
                .insert("presence".into(), json!(presence));
        }
        properties.insert(name.to_string(), schema);
    }
    json!({ "type": "object", "properties": properties, "required": required })
}

/// The schema of the values one field took: one type's, or when the field took
/// several BSON types (null among them), a weighted `anyOf` of each type's, so that
/// no single value decides (a strategy must not `$inc` a field that is sometimes null).
fn value_schema(values: &[&Bson]) -> Value {
    let mut groups: Vec<Vec<&Bson>> = Vec::new();
    for v in values {
        match groups.iter_mut().find(|g| std::mem::discriminant(g[0]) == std::mem::discriminant(*v)) {
            Some(group) => group.push(v),
            None => groups.push(vec![v]),
        }
    }
    match groups.len() {
        0 => json!({ "type": "null" }),
        1 => same_type_schema(&groups[0]),
        _ => {
            let weights: Vec<f64> = groups.iter().map(|g| g.len() as f64).collect();
            let alternatives: Vec<Value> = groups.iter().map(|g| same_type_schema(g)).collect();
            json!({ "anyOf": alternatives, "x-gen": { "weights": weights } })
        }
    }
}

/// The schema of values of one BSON type.
fn same_type_schema(same: &[&Bson]) -> Value {
    let first = same[0];
    let numbers: Vec<f64> = same
        .iter()
        .filter_map(|v| match v {
            Bson::Int32(n) => Some(*n as f64),
            Bson::Int64(n) => Some(*n as f64),
            Bson::Double(n) => Some(*n),
            _ => None,
        })
        .collect();
    let range = |mut schema: Value| {
        if let (Some(min), Some(max)) =
            (numbers.iter().copied().reduce(f64::min), numbers.iter().copied().reduce(f64::max))
        {
            schema["minimum"] = json!(min);
            schema["maximum"] = json!(max.max(min));
        }
        schema
    };
    match first {
        Bson::Document(_) => {
            let docs: Vec<&Document> = same.iter().filter_map(|v| v.as_document()).collect();
            object_schema(&docs)
        }
        Bson::Array(_) => {
            let items: Vec<&Bson> = same.iter().filter_map(|v| v.as_array()).flatten().collect();
            let lens = same.iter().filter_map(|v| v.as_array()).map(Vec::len);
            let max = lens.max().unwrap_or(0);
            json!({ "type": "array", "items": value_schema(&items), "maxItems": max })
        }
        Bson::Int32(_) => range(json!({ "type": "integer", "x-gen": { "mongoType": "int" } })),
        Bson::Int64(_) => range(json!({ "type": "integer", "x-gen": { "mongoType": "long" } })),
        Bson::Double(_) => range(json!({ "type": "number" })),
        Bson::Null => json!({ "type": "null" }),
        Bson::Decimal128(_) => json!({ "type": "string", "x-gen": { "mongoType": "decimal128" } }),
        Bson::Boolean(_) => json!({ "type": "boolean" }),
        Bson::ObjectId(_) => json!({ "type": "string", "x-gen": { "mongoType": "objectId" } }),
        Bson::DateTime(_) => json!({ "type": "string", "x-gen": { "mongoType": "date" } }),
        Bson::Timestamp(_) => json!({ "x-gen": { "mongoType": "timestamp" } }),
        Bson::Binary(b) if b.subtype == bson::spec::BinarySubtype::Uuid => json!({ "x-gen": { "mongoType": "uuid" } }),
        Bson::Binary(_) => json!({ "x-gen": { "mongoType": "binData" } }),
        _ => json!({ "type": "string" }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Schema;
    use bson::doc;

    #[test]
    fn describes_types_presence_and_nesting() {
        let docs = [
            doc! { "_id": 1, "n": 5i64, "a": { "b": "x" }, "opt": true, "when": bson::DateTime::from_millis(0) },
            doc! { "_id": 2, "n": 9i64, "a": { "b": "y" }, "when": bson::DateTime::from_millis(1) },
        ];
        let json = schema_from_samples(&docs);
        assert_eq!(json["properties"]["n"]["x-gen"]["mongoType"], "long");
        assert_eq!(json["properties"]["n"]["maximum"], 9.0);
        assert_eq!(json["properties"]["opt"]["x-gen"]["presence"], 0.5);
        assert_eq!(json["properties"]["a"]["properties"]["b"]["type"], "string");
        let schema = Schema::from_value(json).expect("the generator accepts it");
        assert!(schema.warnings.is_empty());
    }

    #[test]
    fn a_field_of_several_types_is_a_union_whatever_came_first() {
        let docs = [
            doc! { "_id": 1, "n": bson::Bson::Null },
            doc! { "_id": 2, "n": 5 },
            doc! { "_id": 3, "n": "five" },
            doc! { "_id": 4, "n": 7 },
        ];
        let json = schema_from_samples(&docs);
        let n = &json["properties"]["n"];
        assert_eq!(n["anyOf"][0]["type"], "null");
        assert_eq!(n["anyOf"][1]["x-gen"]["mongoType"], "int");
        assert_eq!(n["anyOf"][1]["maximum"], 7.0);
        assert_eq!(n["anyOf"][2]["type"], "string");
        assert_eq!(n["x-gen"]["weights"], json!([1.0, 2.0, 1.0]));
        Schema::from_value(json).expect("the generator accepts it");
    }
}
