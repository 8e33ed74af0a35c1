//! The JSON Schema text a plugin's `init` receives, read for the keywords forge's
//! field list does not carry (bounds, transitions, array sizes).

use serde_json::Value;

/// How many `$ref`s one lookup follows before it gives up (a cycle).
const MAX_REFS: usize = 32;

#[derive(Debug, Clone)]
pub struct Schema {
    root: Value,
}

impl Schema {
    /// An empty text is a run without a schema: every lookup finds nothing.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.trim().is_empty() {
            return Ok(Schema { root: Value::Null });
        }
        serde_json::from_str(text).map(|root| Schema { root }).map_err(|e| format!("the schema is not JSON: {e}"))
    }

    pub fn from_value(root: Value) -> Self {
        Schema { root }
    }

    /// `v`, or what its local `$ref` (`#/definitions/money`) points to, transitively.
    pub fn resolve<'s>(&'s self, mut v: &'s Value) -> &'s Value {
        for _ in 0..MAX_REFS {
            match v.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix('#')) {
                Some(pointer) => match self.root.pointer(pointer) {
                    Some(target) => v = target,
                    None => return &Value::Null,
                },
                None => return v,
            }
        }
        &Value::Null
    }

    /// The (resolved) schema of the field at dotted `path`, through `properties`
    /// (and the members of an `allOf`).
    pub fn property(&self, path: &str) -> Option<&Value> {
        let mut node = self.resolve(&self.root);
        for name in path.split('.') {
            node = self.child(node, name)?;
        }
        Some(node)
    }

    fn child<'s>(&'s self, node: &'s Value, name: &str) -> Option<&'s Value> {
        if let Some(p) = node.get("properties").and_then(|p| p.get(name)) {
            return Some(self.resolve(p));
        }
        node.get("allOf")?.as_array()?.iter().find_map(|member| self.child(self.resolve(member), name))
    }

    /// The (resolved) item schema of an array schema.
    pub fn items<'s>(&'s self, array: &'s Value) -> Option<&'s Value> {
        array.get("items").filter(|i| i.is_object()).map(|i| self.resolve(i))
    }
}

/// The `x-gen.<key>` hint of a (resolved) schema node.
pub fn x_gen<'v>(node: &'v Value, key: &str) -> Option<&'v Value> {
    node.get("x-gen")?.get(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_nested_properties_through_refs_and_all_of() {
        let s = Schema::from_value(json!({
            "definitions": { "money": { "minimum": 0 }, "addr": { "properties": { "zip": { "$ref": "#/definitions/money" } } } },
            "properties": {
                "total": { "$ref": "#/definitions/money" },
                "ship": { "type": "object", "properties": { "to": { "$ref": "#/definitions/addr" } } },
                "mixed": { "allOf": [ { "properties": { "a": { "maximum": 3 } } } ] },
                "loop": { "$ref": "#/properties/loop" },
            }
        }));
        assert_eq!(s.property("total"), Some(&json!({ "minimum": 0 })));
        assert_eq!(s.property("ship.to.zip"), Some(&json!({ "minimum": 0 })));
        assert_eq!(s.property("mixed.a"), Some(&json!({ "maximum": 3 })));
        assert_eq!(s.property("loop"), Some(&Value::Null));
        assert_eq!(s.property("ship.nope"), None);
        assert_eq!(s.property("total.x"), None);
    }

    #[test]
    fn an_empty_text_is_no_schema_and_bad_json_is_an_error() {
        assert_eq!(Schema::parse("  ").unwrap().property("a"), None);
        assert!(Schema::parse("{").unwrap_err().contains("not JSON"));
    }
}
