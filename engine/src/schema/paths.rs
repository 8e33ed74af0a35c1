//! The field paths of a schema that updates can target: every leaf reachable through
//! objects (`address.city`), not inside arrays or dynamic-key maps.

use super::model::{CompiledSchema, Node, NodeId, Scalar};

#[derive(Debug, Clone)]
pub struct FieldPath {
    /// Dotted path, as `$set` takes it.
    pub path: String,
    pub node: NodeId,
    /// The field or one of its parents may be absent, so `$unset` keeps documents valid.
    pub optional: bool,
    /// A plain number, so `$inc` applies.
    pub numeric: Option<Numeric>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Numeric {
    Int32,
    Int64,
    Double,
    Decimal128,
}

/// Leaf paths of the document node, in schema order, without `_id`.
pub fn field_paths(schema: &CompiledSchema) -> Vec<FieldPath> {
    let mut out = Vec::new();
    collect(schema, schema.root, "", false, 0, &mut out);
    out
}

fn collect(
    schema: &CompiledSchema,
    node: NodeId,
    prefix: &str,
    optional: bool,
    depth: usize,
    out: &mut Vec<FieldPath>,
) {
    let Node::Object(obj) = schema.node(node) else { return };
    for field in &obj.fields {
        // Dots and dollars in a name would be read as path syntax by the server.
        if field.name.contains('.') || field.name.starts_with('$') {
            continue;
        }
        let path = if prefix.is_empty() { field.name.clone() } else { format!("{prefix}.{}", field.name) };
        let optional = optional || field.presence < 1.0;
        match schema.node(field.node) {
            Node::Object(o) if o.dynamic.is_none() && !o.fields.is_empty() && depth < 8 => {
                collect(schema, field.node, &path, optional, depth + 1, out)
            }
            leaf => {
                let numeric = match leaf {
                    Node::Scalar(Scalar::Int32 { .. }) => Some(Numeric::Int32),
                    Node::Scalar(Scalar::Int64 { .. }) => Some(Numeric::Int64),
                    Node::Scalar(Scalar::Double { .. }) => Some(Numeric::Double),
                    Node::Scalar(Scalar::Decimal128 { .. }) => Some(Numeric::Decimal128),
                    _ => None,
                };
                out.push(FieldPath { path, node: field.node, optional, numeric });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Schema;

    #[test]
    fn lists_nested_leaves_with_their_traits() {
        let schema = Schema::from_value(serde_json::json!({
            "type": "object", "required": ["a", "n"],
            "properties": {
                "a": { "type": "object", "required": ["b"], "properties": { "b": { "type": "string" }, "c": { "type": "integer" } } },
                "n": { "type": "number" },
                "tags": { "type": "array", "items": { "type": "string" } },
            }
        }))
        .unwrap();
        let paths = field_paths(&schema.compiled);
        let names: Vec<_> = paths.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(names, ["a.b", "a.c", "n", "tags"]);
        assert!(!paths[0].optional && paths[1].optional && paths[3].optional);
        assert_eq!(paths[1].numeric, Some(Numeric::Int32));
        assert_eq!(paths[2].numeric, Some(Numeric::Double));
        assert_eq!(paths[3].numeric, None);
    }
}
