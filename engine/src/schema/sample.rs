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

/// The schema of the values one field took (the first value's type decides).
fn value_schema(values: &[&Bson]) -> Value {
    let Some(first) = values.iter().find(|v| !matches!(v, Bson::Null)) else { return json!({ "type": "null" }) };
    let same: Vec<&Bson> =
        values.iter().copied().filter(|v| std::mem::discriminant(*v) == std::mem::discriminant(*first)).collect();
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
}
