//! Conformance: does a document fit a compiled schema, BSON types included?
//! (Patterns are not checked: they are compiled for generation, not matching.)

use bson::{Bson, Document, spec::BinarySubtype};

use super::model::{ArrayNode, CompiledSchema, IdGen, LengthDist, Node, NodeId, ObjectNode, Scalar, StringKind};
use crate::infer::formats::Format;

#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    pub path: String,
    pub problem: String,
}

pub fn check(schema: &CompiledSchema, doc: &Document) -> Result<(), Violation> {
    if !id_fits(&schema.id, doc.get("_id")) {
        return Err(Violation {
            path: "_id".into(),
            problem: format!("expected {:?}, found {}", schema.id, kind(doc.get("_id"))),
        });
    }
    let Node::Object(root) = schema.node(schema.root) else { unreachable!("object root") };
    let mut rest = doc.clone();
    rest.remove("_id");
    object(schema, root, &rest, "")
}

/// Whether `id` is of a type `how` makes (any of a mix's).
fn id_fits(how: &IdGen, id: Option<&Bson>) -> bool {
    match (how, id) {
        (IdGen::ObjectId, Some(Bson::ObjectId(_))) => true,
        (IdGen::Int32 { .. } | IdGen::Int64 { .. }, Some(Bson::Int32(_) | Bson::Int64(_))) => true,
        (IdGen::HexString | IdGen::UuidString, Some(Bson::String(_))) => true,
        (IdGen::UuidBinary, Some(Bson::Binary(b))) => b.subtype == BinarySubtype::Uuid,
        (IdGen::Mixed(alternatives), _) => alternatives.iter().any(|a| id_fits(a, id)),
        _ => false,
    }
}

/// The shape of a document against a schema version: its top-level fields are the
/// version's (none missing that it requires, none it lacks, except `ignored`: a field
/// the server sets), each of the version's type. Values are not checked: updates
/// (increments, drifts) legitimately move them out of the generator's ranges.
pub fn shape(schema: &CompiledSchema, doc: &Document, ignored: Option<&str>) -> Result<(), Violation> {
    let Node::Object(root) = schema.node(schema.root) else { unreachable!("object root") };
    for field in &root.fields {
        match doc.get(&field.name) {
            Some(v) if !same_type(schema, field.node, v, 0) => {
                return Err(Violation {
                    path: field.name.clone(),
                    problem: format!("{:?} is not this version's type", v.element_type()),
                });
            }
            None if field.presence >= 1.0 => {
                return Err(Violation { path: field.name.clone(), problem: "required field is missing".into() });
            }
            _ => {}
        }
    }
    if root.dynamic.is_none()
        && let Some(extra) = doc
            .keys()
            .find(|k| *k != "_id" && Some(k.as_str()) != ignored && !root.fields.iter().any(|f| f.name == **k))
    {
        return Err(Violation { path: extra.clone(), problem: "this version has no such field".into() });
    }
    Ok(())
}

/// Whether `v` has a BSON type `node` can generate.
fn same_type(schema: &CompiledSchema, node: NodeId, v: &Bson, depth: usize) -> bool {
    let like = |other: &Bson| std::mem::discriminant(other) == std::mem::discriminant(v);
    match schema.node(node) {
        Node::Object(_) => matches!(v, Bson::Document(_)),
        Node::Array(_) => matches!(v, Bson::Array(_)),
        Node::Choice(choices) => depth < 16 && choices.iter().any(|(_, c)| same_type(schema, *c, v, depth + 1)),
        Node::Enum(values) => values.iter().any(like),
        Node::WeightedEnum(f) => f.values.iter().any(like),
        Node::Const(c) => like(c),
        Node::Scalar(Scalar::Ref { .. }) | Node::Pending => true,
        Node::Scalar(s) => scalar(s, v).is_none_or(|why| !why.starts_with("expected")),
    }
}

fn kind(v: Option<&Bson>) -> String {
    v.map_or_else(|| "nothing".to_string(), |v| format!("{:?}", v.element_type()))
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

fn object(schema: &CompiledSchema, obj: &ObjectNode, doc: &Document, path: &str) -> Result<(), Violation> {
    for field in &obj.fields {
        match doc.get(&field.name) {
            Some(v) => value(schema, field.node, v, &join(path, &field.name))?,
            None if field.presence >= 1.0 => {
                return Err(Violation { path: join(path, &field.name), problem: "required field is missing".into() });
            }
            None => {}
        }
    }
    if let Some(dynamic) = &obj.dynamic {
        for (k, v) in doc {
            if !obj.fields.iter().any(|f| f.name == *k) {
                value(schema, dynamic.value, v, &join(path, k))?;
            }
        }
    }
    Ok(())
}

fn bounds(len: &LengthDist) -> (f64, f64) {
    match *len {
        LengthDist::Uniform { min, max } => (min as f64, max as f64),
        LengthDist::Percentiles { min, max, .. } => (min, max),
        LengthDist::Frequencies(_) => (len.min() as f64, len.max() as f64),
    }
}

fn array(schema: &CompiledSchema, arr: &ArrayNode, items: &[Bson], path: &str) -> Result<(), Violation> {
    let (min, max) = bounds(&arr.len);
    if (items.len() as f64) < min.floor() || (items.len() as f64) > max.ceil() {
        return Err(Violation { path: path.into(), problem: format!("{} items, outside {min}..{max}", items.len()) });
    }
    for (i, item) in items.iter().enumerate() {
        let node = arr.prefix.get(i).copied().or(arr.rest);
        match node {
            Some(node) => value(schema, node, item, &format!("{path}[{i}]"))?,
            None => return Err(Violation { path: format!("{path}[{i}]"), problem: "no item allowed here".into() }),
        }
    }
    Ok(())
}

fn value(schema: &CompiledSchema, node: NodeId, v: &Bson, path: &str) -> Result<(), Violation> {
    let fail = |problem: String| Err(Violation { path: path.into(), problem });
    match schema.node(node) {
        Node::Object(obj) => match v {
            Bson::Document(d) => object(schema, obj, d, path),
            other => fail(format!("expected an object, found {:?}", other.element_type())),
        },
        Node::Array(arr) => match v {
            Bson::Array(items) => array(schema, arr, items, path),
            other => fail(format!("expected an array, found {:?}", other.element_type())),
        },
        Node::Choice(choices) => {
            // A union may list itself (`d: anyOf [$ref d, ...]`): flatten the choices it
            // reaches without consuming the value, each once.
            let mut alternatives = Vec::new();
            let mut pending: Vec<NodeId> = choices.iter().map(|(_, c)| *c).collect();
            let mut seen = vec![node];
            while let Some(c) = pending.pop() {
                if seen.contains(&c) {
                    continue;
                }
                seen.push(c);
                match schema.node(c) {
                    Node::Choice(more) => pending.extend(more.iter().map(|(_, m)| *m)),
                    _ => alternatives.push(c),
                }
            }
            if alternatives.iter().any(|c| value(schema, *c, v, path).is_ok()) {
                Ok(())
            } else {
                fail(format!("{:?} matches none of {} alternatives", v.element_type(), choices.len()))
            }
        }
        Node::Enum(values) => {
            if values.contains(v) {
                Ok(())
            } else {
                fail(format!("{v} is not one of the enum values"))
            }
        }
        Node::WeightedEnum(f) => {
            if f.values.contains(v) {
                Ok(())
            } else {
                fail(format!("{v} is not one of the enum values"))
            }
        }
        Node::Const(c) => {
            if c == v {
                Ok(())
            } else {
                fail(format!("{v} is not {c}"))
            }
        }
        Node::Scalar(s) => scalar(s, v).map_or(Ok(()), fail),
        Node::Pending => Ok(()),
    }
}

/// `None` when `v` fits, else what is wrong.
fn scalar(s: &Scalar, v: &Bson) -> Option<String> {
    let out_of = |x: f64, min: f64, max: f64| (x < min || x > max).then(|| format!("{x} is outside {min}..{max}"));
    match (s, v) {
        (Scalar::Null, Bson::Null) | (Scalar::Bool, Bson::Boolean(_)) | (Scalar::ObjectId, Bson::ObjectId(_)) => None,
        (Scalar::Int32 { min, max, .. }, Bson::Int32(n)) => out_of(*n as f64, *min as f64, *max as f64),
        (Scalar::Int64 { min, max, .. }, Bson::Int64(n)) => out_of(*n as f64, *min as f64, *max as f64),
        (Scalar::Double { min, max, .. }, Bson::Double(n)) => out_of(*n, *min, *max),
        (Scalar::Decimal128 { min, max, scale }, Bson::Decimal128(d)) => {
            let slack = 0.5 / 10f64.powi(*scale as i32);
            d.to_string().parse::<f64>().ok().and_then(|x| out_of(x, min - slack, max + slack))
        }
        (Scalar::String(g), Bson::String(text)) => {
            let n = text.chars().count() as u32;
            if n < g.min_len || n > g.max_len {
                return Some(format!("length {n} is outside {}..{}", g.min_len, g.max_len));
            }
            let format = match g.kind {
                StringKind::Uuid => Some(Format::Uuid),
                StringKind::ObjectIdHex => Some(Format::ObjectIdHex),
                StringKind::Email => Some(Format::Email),
                StringKind::DateTime { .. } => Some(Format::DateTime),
                StringKind::Date { .. } => Some(Format::Date),
                _ => None,
            };
            format.filter(|f| !f.matches(text)).map(|f| format!("{text:?} is not a {}", f.name()))
        }
        (Scalar::DateTime { min_ms, max_ms }, Bson::DateTime(d)) => {
            out_of(d.timestamp_millis() as f64, *min_ms as f64, *max_ms as f64)
        }
        (Scalar::Binary { min_len, max_len }, Bson::Binary(b)) if b.subtype != BinarySubtype::Uuid => {
            out_of(b.bytes.len() as f64, *min_len as f64, *max_len as f64)
        }
        (Scalar::Uuid, Bson::Binary(b)) if b.subtype == BinarySubtype::Uuid => None,
        // Any `_id` type: the referenced collection's schema says which.
        (Scalar::Ref { .. }, _) => None,
        (Scalar::Timestamp { min_s, max_s }, Bson::Timestamp(t)) => out_of(t.time as f64, *min_s as f64, *max_s as f64),
        (expected, found) => Some(format!("expected {}, found {:?}", scalar_name(expected), found.element_type())),
    }
}

fn scalar_name(s: &Scalar) -> &'static str {
    match s {
        Scalar::Null => "null",
        Scalar::Bool => "a boolean",
        Scalar::Int32 { .. } => "an int",
        Scalar::Int64 { .. } => "a long",
        Scalar::Double { .. } => "a double",
        Scalar::Decimal128 { .. } => "a decimal128",
        Scalar::String(_) => "a string",
        Scalar::ObjectId => "an ObjectId",
        Scalar::DateTime { .. } => "a date",
        Scalar::Binary { .. } => "binary data",
        Scalar::Uuid => "a UUID",
        Scalar::Ref { .. } => "a reference",
        Scalar::Timestamp { .. } => "a timestamp",
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::generate::Generator;
    use crate::schema::Schema;
    use bson::doc;

    #[test]
    fn generated_documents_conform_and_broken_ones_do_not() {
        let schema = Arc::new(Schema::from_json_str(crate::examples::ORDERS.json).unwrap());
        let g = Generator::new(schema.clone(), 3);
        for i in 0..500 {
            check(&schema.compiled, &g.document(i)).unwrap_or_else(|v| panic!("document {i}: {v:?}"));
        }
        let mut d = g.document(0);
        d.insert("version", 3i32);
        assert_eq!(check(&schema.compiled, &d).unwrap_err().path, "version");
        let mut d = g.document(0);
        d.remove("currency");
        assert_eq!(check(&schema.compiled, &d).unwrap_err().problem, "required field is missing");
        let mut d = g.document(0);
        d.get_document_mut("customer").unwrap().insert("email", "nope");
        assert_eq!(check(&schema.compiled, &d).unwrap_err().path, "customer.email");
        let mut d = g.document(0);
        d.insert("items", bson::Bson::Array(vec![]));
        assert!(check(&schema.compiled, &d).unwrap_err().problem.contains("0 items"));
        assert!(check(&schema.compiled, &doc! { "_id": 1 }).is_err());
    }
}
