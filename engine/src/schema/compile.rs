//! JSON Schema (draft-07 + `x-gen`) → [`CompiledSchema`].

use std::collections::{HashMap, HashSet};

use bson::Bson;
use serde_json::{Map, Value};

use super::SchemaError;
use super::hints::{BsonKind, Hints, date_bound};
use super::model::*;
use super::names;
use super::pattern::compile_pattern;

/// Presence of a field that is not in `required` and has no `x-gen.presence`.
pub const DEFAULT_PRESENCE: f64 = 0.5;

/// Default date range: the six years up to the end of 2025. Fixed, not "now", so the
/// same seed gives the same documents on any day.
pub const DEFAULT_MIN_DATE_MS: i64 = 1_577_836_800_000; // 2020-01-01T00:00:00Z
pub const DEFAULT_MAX_DATE_MS: i64 = 1_767_225_599_999; // 2025-12-31T23:59:59.999Z

/// Nesting beyond which a recursive `$ref` stops: optional fields are dropped and
/// arrays take their minimum length.
pub const MAX_DEPTH: usize = 24;

/// Keywords that are read, or that carry no meaning for generation.
const KNOWN_KEYWORDS: &[&str] = &[
    "$schema",
    "$id",
    "id",
    "$comment",
    "title",
    "description",
    "default",
    "examples",
    "definitions",
    "$defs",
    "$ref",
    "type",
    "bsonType",
    "properties",
    "required",
    "additionalProperties",
    "patternProperties",
    "items",
    "additionalItems",
    "minItems",
    "maxItems",
    "uniqueItems",
    "enum",
    "const",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
    "format",
    "formatMinimum",
    "formatMaximum",
    "anyOf",
    "oneOf",
    "allOf",
    "x-gen",
    "readOnly",
    "writeOnly",
    "contentEncoding",
    "contentMediaType",
    "minProperties",
    "maxProperties",
];

const FORMATS: &str = "date-time, date, time, uuid, objectid, email, uri, url, hostname, ipv4, ipv6";

pub struct Compiler<'a> {
    doc: &'a Value,
    nodes: Vec<Node>,
    refs: HashMap<String, NodeId>,
    warned: HashSet<String>,
    pub warnings: Vec<String>,
}

impl<'a> Compiler<'a> {
    pub fn new(doc: &'a Value) -> Self {
        Compiler { doc, nodes: Vec::new(), refs: HashMap::new(), warned: HashSet::new(), warnings: Vec::new() }
    }

    pub fn compile_document(mut self) -> Result<(CompiledSchema, Vec<String>), SchemaError> {
        let root = self.compile(self.doc, "#", "")?;
        let Node::Object(obj) = &mut self.nodes[root] else {
            return Err(SchemaError::new("#", "the document schema must be of type object"));
        };
        let id = match obj.fields.iter().position(|f| f.name == "_id") {
            Some(i) => {
                let field = obj.fields.remove(i);
                id_gen(&self.nodes[field.node])?
            }
            None => IdGen::ObjectId,
        };
        let rank = termination_ranks(&self.nodes);
        if rank[root] == u32::MAX {
            return Err(SchemaError::new(
                "#",
                "the schema recurses without end: a $ref cycle is reached through required fields, array minimums or unions only",
            ));
        }
        prune_endless(&mut self.nodes, &rank, &mut self.warnings);
        Ok((CompiledSchema { nodes: self.nodes, root, id, rank }, self.warnings))
    }

    fn add(&mut self, node: Node) -> NodeId {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    fn warn_unknown(&mut self, keyword: &str, path: &str) {
        if self.warned.insert(keyword.to_string()) {
            self.warnings
                .push(format!("schema keyword '{keyword}' (first at {path}) is not used for generation; ignored"));
        }
    }

    /// Compiles the schema `v` found at `path`, for a field called `name` ("" if none).
    fn compile(&mut self, v: &Value, path: &str, name: &str) -> Result<NodeId, SchemaError> {
        let obj = match v {
            Value::Bool(true) => return Ok(self.add(words())),
            Value::Bool(false) => {
                return Err(SchemaError::new(path, "schema 'false' allows no value to generate"));
            }
            Value::Object(obj) => obj,
            _ => return Err(SchemaError::new(path, "a schema must be an object or a boolean")),
        };
        if let Some(r) = obj.get("$ref") {
            let r = r.as_str().ok_or_else(|| SchemaError::new(path, "$ref must be a string"))?;
            return self.compile_ref(r, &format!("{path}/$ref"), name);
        }
        if let Some(all) = obj.get("allOf") {
            let merged = self.merge_all_of(obj, all, path)?;
            return self.compile(&merged, path, name);
        }
        let mut unknown = Vec::new();
        for k in obj.keys() {
            if !KNOWN_KEYWORDS.contains(&k.as_str()) {
                unknown.push((k.clone(), format!("{path}/{k}")));
            }
        }
        let hints = Hints::parse(obj.get("x-gen"), path, &mut unknown)?;
        for (k, at) in unknown {
            self.warn_unknown(&k, &at);
        }

        if let Some(c) = obj.get("const") {
            let value = to_bson(c, hints.mongo_type, &format!("{path}/const"))?;
            return Ok(self.add(Node::Const(value)));
        }
        if let Some(e) = obj.get("enum") {
            let at = format!("{path}/enum");
            let values = e
                .as_array()
                .filter(|a| !a.is_empty())
                .ok_or_else(|| SchemaError::new(&at, "enum must be a non-empty array"))?;
            let values = values
                .iter()
                .enumerate()
                .map(|(i, v)| to_bson(v, hints.mongo_type, &format!("{at}/{i}")))
                .collect::<Result<_, _>>()?;
            return Ok(self.add(Node::Enum(values)));
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(alts) = obj.get(key) {
                let at = format!("{path}/{key}");
                let alts = alts
                    .as_array()
                    .filter(|a| !a.is_empty())
                    .ok_or_else(|| SchemaError::new(&at, format!("{key} must be a non-empty array")))?;
                if !hints.weights.is_empty() && hints.weights.len() != alts.len() {
                    return Err(SchemaError::new(
                        format!("{path}/x-gen/weights"),
                        format!("{} weights for {} alternatives", hints.weights.len(), alts.len()),
                    ));
                }
                let mut choices = Vec::with_capacity(alts.len());
                for (i, alt) in alts.iter().enumerate() {
                    let weight = hints.weights.get(i).copied().unwrap_or(1.0);
                    choices.push((weight, self.compile(alt, &format!("{at}/{i}"), name)?));
                }
                if choices.iter().all(|(w, _)| *w == 0.0) {
                    return Err(SchemaError::new(format!("{path}/x-gen/weights"), "all weights are zero"));
                }
                return Ok(self.add(Node::Choice(choices)));
            }
        }

        let kinds = self.kinds(obj, &hints, path)?;
        if kinds.len() == 1 {
            let node = self.compile_typed(obj, path, name, kinds[0].1, &hints)?;
            return Ok(self.add(node));
        }
        let mut choices = Vec::with_capacity(kinds.len());
        for (weight, kind) in kinds {
            let node = self.compile_typed(obj, path, name, kind, &hints)?;
            choices.push((weight, self.add(node)));
        }
        if choices.iter().all(|(w, _)| *w == 0.0) {
            return Err(SchemaError::new(format!("{path}/x-gen/typeWeights"), "all type weights are zero"));
        }
        Ok(self.add(Node::Choice(choices)))
    }

    /// The BSON kinds this node can take, with their weights.
    fn kinds(&self, obj: &Map<String, Value>, hints: &Hints, path: &str) -> Result<Vec<(f64, BsonKind)>, SchemaError> {
        let mut names: Vec<(String, BsonKind)> = Vec::new();
        let (key, parse): (&str, fn(&str) -> Option<BsonKind>) = if obj.contains_key("bsonType") {
            ("bsonType", BsonKind::from_mongo_type)
        } else {
            ("type", BsonKind::from_json_type)
        };
        let at = format!("{path}/{key}");
        match obj.get(key) {
            None => {}
            Some(Value::String(s)) => {
                names.push((s.clone(), parse(s).ok_or_else(|| unknown_type(&at, s))?));
            }
            Some(Value::Array(list)) if !list.is_empty() => {
                for (i, t) in list.iter().enumerate() {
                    let s = t
                        .as_str()
                        .ok_or_else(|| SchemaError::new(format!("{at}/{i}"), "a type name must be a string"))?;
                    names.push((s.to_string(), parse(s).ok_or_else(|| unknown_type(&format!("{at}/{i}"), s))?));
                }
            }
            Some(_) => return Err(SchemaError::new(&at, "type must be a string or a non-empty array of strings")),
        }
        if names.is_empty() {
            // No type: take it from the hint or from the keywords present.
            let kind = if let Some(k) = hints.mongo_type {
                k
            } else if obj.contains_key("properties") || obj.contains_key("additionalProperties") {
                BsonKind::Object
            } else if obj.contains_key("items") {
                BsonKind::Array
            } else if obj.contains_key("minimum") || obj.contains_key("maximum") {
                BsonKind::Double
            } else {
                BsonKind::String
            };
            return Ok(vec![(1.0, kind)]);
        }
        let scalar_count = names.iter().filter(|(_, k)| !k.is_container() && *k != BsonKind::Null).count();
        let mut out = Vec::with_capacity(names.len());
        for (name, kind) in names {
            // mongoType refines the one scalar type of a node ("string" + objectId).
            let kind = match hints.mongo_type {
                Some(m) if scalar_count == 1 && !kind.is_container() && kind != BsonKind::Null => m,
                _ => kind,
            };
            let weight = hints
                .type_weights
                .iter()
                .find(|(t, _)| *t == name)
                .map_or(if hints.type_weights.is_empty() { 1.0 } else { 0.0 }, |(_, w)| *w);
            out.push((weight, kind));
        }
        Ok(out)
    }

    fn compile_typed(
        &mut self,
        obj: &Map<String, Value>,
        path: &str,
        name: &str,
        kind: BsonKind,
        hints: &Hints,
    ) -> Result<Node, SchemaError> {
        Ok(match kind {
            BsonKind::Object => Node::Object(self.object(obj, path, hints)?),
            BsonKind::Array => Node::Array(self.array(obj, path, name, hints)?),
            BsonKind::Null => Node::Scalar(Scalar::Null),
            BsonKind::Bool => Node::Scalar(Scalar::Bool),
            BsonKind::String => Node::Scalar(Scalar::String(string(obj, path, name, hints)?)),
            BsonKind::Integer | BsonKind::Int32 | BsonKind::Int64 => {
                let (min, max, _) = numeric_range(obj, path, name, true)?;
                let fits = min >= i32::MIN as f64 && max <= i32::MAX as f64;
                match kind {
                    BsonKind::Int32 if !fits => {
                        return Err(SchemaError::new(
                            path,
                            format!("range {min}..{max} does not fit mongoType int; use long"),
                        ));
                    }
                    BsonKind::Int64 => Node::Scalar(Scalar::Int64 { min: min as i64, max: max as i64 }),
                    _ if fits => Node::Scalar(Scalar::Int32 { min: min as i32, max: max as i32 }),
                    _ => Node::Scalar(Scalar::Int64 { min: min as i64, max: max as i64 }),
                }
            }
            BsonKind::Double => {
                let (min, max, decimals) = numeric_range(obj, path, name, false)?;
                Node::Scalar(Scalar::Double { min, max, decimals: hints.decimals.or(decimals) })
            }
            BsonKind::Decimal128 => {
                let (min, max, decimals) = numeric_range(obj, path, name, false)?;
                let scale = hints.decimals.or(decimals).unwrap_or(2);
                Node::Scalar(Scalar::Decimal128 { min, max, scale })
            }
            BsonKind::ObjectId => Node::Scalar(Scalar::ObjectId),
            BsonKind::Date => {
                let (min_ms, max_ms) = date_range(obj, path, hints)?;
                Node::Scalar(Scalar::DateTime { min_ms, max_ms })
            }
            BsonKind::Timestamp => {
                let (min_ms, max_ms) = date_range(obj, path, hints)?;
                let secs = |ms: i64| (ms / 1000).clamp(0, u32::MAX as i64) as u32;
                Node::Scalar(Scalar::Timestamp { min_s: secs(min_ms), max_s: secs(max_ms) })
            }
            BsonKind::Binary => {
                let (min_len, max_len) = length_range(obj, path, 16, 64)?;
                Node::Scalar(Scalar::Binary { min_len, max_len })
            }
            BsonKind::Uuid => Node::Scalar(Scalar::Uuid),
        })
    }

    fn object(&mut self, obj: &Map<String, Value>, path: &str, hints: &Hints) -> Result<ObjectNode, SchemaError> {
        let required: Vec<&str> = match obj.get("required") {
            None => Vec::new(),
            Some(Value::Array(list)) => list
                .iter()
                .map(|v| {
                    v.as_str()
                        .ok_or_else(|| SchemaError::new(format!("{path}/required"), "required must list field names"))
                })
                .collect::<Result<_, _>>()?,
            Some(_) => {
                return Err(SchemaError::new(format!("{path}/required"), "required must be an array of field names"));
            }
        };
        let mut fields = Vec::new();
        if let Some(props) = obj.get("properties") {
            let props = props
                .as_object()
                .ok_or_else(|| SchemaError::new(format!("{path}/properties"), "properties must be an object"))?;
            for (key, sub) in props {
                let at = format!("{path}/properties/{}", escape(key));
                let presence = if required.contains(&key.as_str()) {
                    1.0
                } else {
                    sub.get("x-gen").and_then(|g| g.get("presence")).and_then(Value::as_f64).unwrap_or(DEFAULT_PRESENCE)
                };
                let node = self.compile(sub, &at, key)?;
                fields.push(Field { name: key.clone(), presence, node });
            }
        }
        for r in &required {
            if !fields.iter().any(|f| f.name == *r) {
                self.warnings
                    .push(format!("{path}/required: field '{r}' has no schema in properties; it is not generated"));
            }
        }
        let dynamic = match &hints.key {
            None => None,
            Some(_) => {
                let value_schema = match (obj.get("additionalProperties"), obj.get("patternProperties")) {
                    (Some(v @ Value::Object(_)), _) => (v.clone(), format!("{path}/additionalProperties")),
                    (_, Some(Value::Object(pp))) if !pp.is_empty() => {
                        let (k, v) = pp.iter().next().expect("non-empty");
                        (v.clone(), format!("{path}/patternProperties/{}", escape(k)))
                    }
                    _ => (Value::Bool(true), format!("{path}/additionalProperties")),
                };
                let value = self.compile(&value_schema.0, &value_schema.1, "")?;
                let count = match &hints.key_count {
                    Some(h) => h.to_dist(&format!("{path}/x-gen/keyCount"), 0, None)?,
                    None => LengthDist::Uniform { min: 1, max: 5 },
                };
                let key = hints.key.clone().unwrap_or(KeyGen::Word);
                Some(DynamicKeys { key, count, value })
            }
        };
        Ok(ObjectNode { fields, dynamic })
    }

    fn array(
        &mut self,
        obj: &Map<String, Value>,
        path: &str,
        name: &str,
        hints: &Hints,
    ) -> Result<ArrayNode, SchemaError> {
        let (lo, hi) = (count(obj, "minItems", path)?, count(obj, "maxItems", path)?);
        let lo = lo.unwrap_or(0);
        let mut prefix = Vec::new();
        let rest = match obj.get("items") {
            None => Some(self.add(words())),
            Some(Value::Array(list)) => {
                for (i, sub) in list.iter().enumerate() {
                    prefix.push(self.compile(sub, &format!("{path}/items/{i}"), name)?);
                }
                match obj.get("additionalItems") {
                    Some(sub @ Value::Object(_)) => {
                        Some(self.compile(sub, &format!("{path}/additionalItems"), name)?)
                    }
                    _ => None,
                }
            }
            Some(sub) => Some(self.compile(sub, &format!("{path}/items"), name)?),
        };
        let cap = if rest.is_none() { Some(prefix.len() as u32) } else { None };
        let hi = match (hi, cap) {
            (Some(h), Some(c)) => Some(h.min(c)),
            (h, c) => h.or(c),
        };
        if hi.is_some_and(|h| h < lo) {
            return Err(SchemaError::new(path, format!("minItems {lo} is greater than maxItems {}", hi.unwrap_or(0))));
        }
        let len = match &hints.array_len {
            Some(h) => h.to_dist(&format!("{path}/x-gen/arrayLen"), lo, hi)?,
            None => LengthDist::Uniform { min: lo, max: hi.unwrap_or(lo + 5) },
        };
        Ok(ArrayNode { prefix, rest, len })
    }

    fn compile_ref(&mut self, r: &str, path: &str, name: &str) -> Result<NodeId, SchemaError> {
        if let Some(id) = self.refs.get(r) {
            return Ok(*id);
        }
        let pointer = r.strip_prefix('#').ok_or_else(|| {
            SchemaError::new(path, format!("only references inside the schema file are supported, not '{r}'"))
        })?;
        let target =
            self.doc.pointer(pointer).ok_or_else(|| SchemaError::new(path, format!("$ref '{r}' points at nothing")))?;
        // Reserve the slot first so that a recursive reference finds it.
        let id = self.add(Node::Pending);
        self.refs.insert(r.to_string(), id);
        let compiled = self.compile(target, &format!("#{pointer}"), name)?;
        self.nodes[id] = std::mem::replace(&mut self.nodes[compiled], Node::Pending);
        self.nodes[compiled] = Node::Choice(vec![(1.0, id)]);
        Ok(id)
    }

    /// `allOf`: one schema with the properties and `required` of all parts.
    fn merge_all_of(&self, obj: &Map<String, Value>, all: &Value, path: &str) -> Result<Value, SchemaError> {
        let at = format!("{path}/allOf");
        let parts = all.as_array().ok_or_else(|| SchemaError::new(&at, "allOf must be an array"))?;
        let mut merged: Map<String, Value> = obj.clone();
        merged.remove("allOf");
        for (i, part) in parts.iter().enumerate() {
            let part_at = format!("{at}/{i}");
            let mut part = part;
            while let Some(r) = part.get("$ref").and_then(Value::as_str) {
                part = r
                    .strip_prefix('#')
                    .and_then(|p| self.doc.pointer(p))
                    .ok_or_else(|| SchemaError::new(&part_at, format!("$ref '{r}' points at nothing")))?;
            }
            let part = part.as_object().ok_or_else(|| SchemaError::new(&part_at, "allOf parts must be objects"))?;
            for (k, v) in part {
                match (k.as_str(), merged.get_mut(k)) {
                    ("properties", Some(Value::Object(props))) => {
                        if let Value::Object(more) = v {
                            for (pk, pv) in more {
                                props.insert(pk.clone(), pv.clone());
                            }
                        }
                    }
                    ("required", Some(Value::Array(req))) => {
                        if let Value::Array(more) = v {
                            req.extend(more.iter().filter(|r| !req.contains(r)).cloned().collect::<Vec<_>>());
                        }
                    }
                    (_, Some(_)) => {}
                    (_, None) => {
                        merged.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        Ok(Value::Object(merged))
    }
}

/// For each node, the round in which it was shown to expand finitely (`u32::MAX`:
/// never). A least fixpoint: scalars first, then containers whose required parts are
/// already known finite.
fn termination_ranks(nodes: &[Node]) -> Vec<u32> {
    let mut rank = vec![u32::MAX; nodes.len()];
    for round in 0.. {
        let finite = |n: NodeId, rank: &[u32]| rank[n] < round;
        let mut changed = false;
        for (i, node) in nodes.iter().enumerate() {
            if rank[i] != u32::MAX {
                continue;
            }
            let done = match node {
                Node::Pending => false,
                Node::Scalar(_) | Node::Enum(_) | Node::Const(_) => true,
                Node::Object(o) => {
                    o.fields.iter().all(|f| f.presence < 1.0 || finite(f.node, &rank))
                        && o.dynamic.as_ref().is_none_or(|d| d.count.min() == 0 || finite(d.value, &rank))
                }
                Node::Array(a) => (0..a.len.min() as usize)
                    .all(|i| a.prefix.get(i).copied().or(a.rest).is_some_and(|n| finite(n, &rank))),
                Node::Choice(c) => c.iter().any(|(w, n)| *w > 0.0 && finite(*n, &rank)),
            };
            if done {
                rank[i] = round;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    rank
}

/// Drops what can never be generated (an optional field, union branch or extra array
/// item that only recurses), so that generation only enters nodes that end.
fn prune_endless(nodes: &mut [Node], rank: &[u32], warnings: &mut Vec<String>) {
    let endless = |n: NodeId| rank[n] == u32::MAX;
    for node in nodes.iter_mut() {
        match node {
            Node::Object(o) => {
                let before = o.fields.len();
                o.fields.retain(|f| !endless(f.node));
                if o.fields.len() < before {
                    warnings.push(format!(
                        "{} optional field(s) recurse without end and are never generated",
                        before - o.fields.len()
                    ));
                }
                if let Some(d) = &mut o.dynamic
                    && endless(d.value)
                {
                    d.count = LengthDist::Uniform { min: 0, max: 0 };
                }
            }
            Node::Array(a) => {
                // Positions past the prefix all take `rest`, so checking one of them is enough.
                let usable = (0..=a.prefix.len()).find(|&i| a.prefix.get(i).copied().or(a.rest).is_none_or(endless));
                if let Some(cap) = usable
                    && (cap as u32) < max_len(&a.len)
                {
                    let min = a.len.min().min(cap as u32);
                    a.len = LengthDist::Uniform { min, max: cap as u32 };
                }
            }
            Node::Choice(c) => c.retain(|(_, n)| !endless(*n)),
            _ => {}
        }
    }
}

fn max_len(len: &LengthDist) -> u32 {
    match len {
        LengthDist::Uniform { max, .. } => *max,
        LengthDist::Percentiles { max, .. } => *max as u32,
    }
}

fn words() -> Node {
    Node::Scalar(Scalar::String(StringGen { kind: StringKind::Words, min_len: 0, max_len: u32::MAX, len: None }))
}

fn unknown_type(path: &str, name: &str) -> SchemaError {
    SchemaError::new(path, format!("unknown type '{name}'"))
}

/// JSON pointer escaping of a property name.
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn id_gen(node: &Node) -> Result<IdGen, SchemaError> {
    let path = "#/properties/_id";
    match node {
        Node::Scalar(Scalar::ObjectId) => Ok(IdGen::ObjectId),
        Node::Scalar(Scalar::Int32 { min, .. }) => Ok(IdGen::Int32 { offset: *min }),
        Node::Scalar(Scalar::Int64 { min, .. }) => Ok(IdGen::Int64 { offset: *min }),
        Node::Scalar(Scalar::Uuid) => Ok(IdGen::UuidBinary),
        Node::Scalar(Scalar::String(StringGen { kind: StringKind::Uuid, .. })) => Ok(IdGen::UuidString),
        Node::Scalar(Scalar::String(_)) => Ok(IdGen::HexString),
        _ => Err(SchemaError::new(
            path,
            "_id must be an objectId, integer, long, string or uuid so that forge can keep it unique",
        )),
    }
}

fn count(obj: &Map<String, Value>, key: &str, path: &str) -> Result<Option<u32>, SchemaError> {
    match obj.get(key) {
        None => Ok(None),
        Some(v) => v.as_u64().filter(|n| *n <= u32::MAX as u64).map(|n| Some(n as u32)).ok_or_else(|| {
            SchemaError::new(format!("{path}/{key}"), format!("{key} must be a non-negative whole number"))
        }),
    }
}

fn length_range(
    obj: &Map<String, Value>,
    path: &str,
    default_min: u32,
    default_max: u32,
) -> Result<(u32, u32), SchemaError> {
    let min = count(obj, "minLength", path)?;
    let max = count(obj, "maxLength", path)?;
    let (min, max) = match (min, max) {
        (None, None) => (default_min, default_max),
        (Some(a), None) => (a, a.max(default_max)),
        (None, Some(b)) => (default_min.min(b), b),
        (Some(a), Some(b)) => (a, b),
    };
    if min > max {
        return Err(SchemaError::new(path, format!("minLength {min} is greater than maxLength {max}")));
    }
    Ok((min, max))
}

/// Reads `minimum`/`maximum` and their exclusive forms (draft-07 numbers or draft-04
/// booleans), falling back to a range suggested by the field name.
fn numeric_range(
    obj: &Map<String, Value>,
    path: &str,
    name: &str,
    integer: bool,
) -> Result<(f64, f64, Option<u32>), SchemaError> {
    let num = |key: &str| -> Result<Option<f64>, SchemaError> {
        match obj.get(key) {
            None | Some(Value::Bool(_)) => Ok(None),
            Some(v) => v
                .as_f64()
                .map(Some)
                .ok_or_else(|| SchemaError::new(format!("{path}/{key}"), format!("{key} must be a number"))),
        }
    };
    let step = if integer { 1.0 } else { f64::EPSILON };
    let exclusive = |key: &str| obj.get(key) == Some(&Value::Bool(true));
    let mut min = num("minimum")?;
    let mut max = num("maximum")?;
    if let Some(m) = min.filter(|_| exclusive("exclusiveMinimum")) {
        min = Some(m + step);
    }
    if let Some(m) = max.filter(|_| exclusive("exclusiveMaximum")) {
        max = Some(m - step);
    }
    if let Some(m) = num("exclusiveMinimum")? {
        min = Some(min.map_or(m + step, |x| x.max(m + step)));
    }
    if let Some(m) = num("exclusiveMaximum")? {
        max = Some(max.map_or(m - step, |x| x.min(m - step)));
    }
    let (dmin, dmax, decimals) = names::numeric_range_for(name).unwrap_or((0.0, 1000.0, None));
    let (min, max) = match (min, max) {
        (None, None) => (dmin, dmax),
        // One bound given: keep the name's default for the other when it fits.
        (Some(a), None) => (a, if dmax > a { dmax } else { a + 1000.0 }),
        (None, Some(b)) => (if dmin < b { dmin } else { b - 1000.0 }, b),
        (Some(a), Some(b)) => (a, b),
    };
    let (min, max) = if integer { (min.ceil(), max.floor()) } else { (min, max) };
    if min > max {
        return Err(SchemaError::new(path, format!("minimum {min} is greater than maximum {max}")));
    }
    if integer && (min < i64::MIN as f64 || max > i64::MAX as f64) {
        return Err(SchemaError::new(path, "integer range does not fit in 64 bits"));
    }
    Ok((min, max, decimals))
}

fn date_range(obj: &Map<String, Value>, path: &str, hints: &Hints) -> Result<(i64, i64), SchemaError> {
    let bound = |hint: &Option<Value>, hint_key: &str, keyword: &str| -> Result<Option<i64>, SchemaError> {
        if let Some(v) = hint {
            return date_bound(v, &format!("{path}/x-gen/{hint_key}")).map(Some);
        }
        obj.get(keyword).map(|v| date_bound(v, &format!("{path}/{keyword}"))).transpose()
    };
    let min = bound(&hints.min, "min", "formatMinimum")?.unwrap_or(DEFAULT_MIN_DATE_MS);
    let max = bound(&hints.max, "max", "formatMaximum")?.unwrap_or(DEFAULT_MAX_DATE_MS.max(min));
    if min > max {
        return Err(SchemaError::new(path, "the earliest date is after the latest"));
    }
    Ok((min, max))
}

fn string(obj: &Map<String, Value>, path: &str, name: &str, hints: &Hints) -> Result<StringGen, SchemaError> {
    let (min_len, max_len) = length_range(obj, path, 0, u32::MAX)?;
    let kind = if let Some(p) = obj.get("pattern") {
        let p = p.as_str().ok_or_else(|| SchemaError::new(format!("{path}/pattern"), "pattern must be a string"))?;
        StringKind::Pattern(Box::new(compile_pattern(p, &format!("{path}/pattern"))?))
    } else if let Some(f) = obj.get("format") {
        let at = format!("{path}/format");
        let f = f.as_str().ok_or_else(|| SchemaError::new(&at, "format must be a string"))?;
        match f.to_ascii_lowercase().as_str() {
            "date-time" => {
                let (min_ms, max_ms) = date_range(obj, path, hints)?;
                StringKind::DateTime { min_ms, max_ms }
            }
            "date" => {
                let (min_ms, max_ms) = date_range(obj, path, hints)?;
                StringKind::Date { min_ms, max_ms }
            }
            "time" => StringKind::Time,
            "uuid" => StringKind::Uuid,
            "objectid" | "object-id" => StringKind::ObjectIdHex,
            "email" | "idn-email" => StringKind::Email,
            "uri" | "url" | "iri" | "uri-reference" | "iri-reference" => StringKind::Uri,
            "hostname" | "idn-hostname" => StringKind::Hostname,
            "ipv4" => StringKind::Ipv4,
            "ipv6" => StringKind::Ipv6,
            _ => return Err(SchemaError::new(&at, format!("unknown format '{f}' (supported: {FORMATS})"))),
        }
    } else if let Some(f) = &hints.faker {
        names::faker_kind(f).ok_or_else(|| {
            SchemaError::new(
                format!("{path}/x-gen/faker"),
                format!("unknown faker '{f}' (supported: {})", names::FAKER_NAMES),
            )
        })?
    } else {
        names::string_kind_for(name).unwrap_or(StringKind::Words)
    };
    let len = match &hints.length {
        Some(h) => Some(h.to_dist(&format!("{path}/x-gen/length"), min_len, Some(max_len))?),
        None => None,
    };
    Ok(StringGen { kind, min_len, max_len, len })
}

/// A JSON value from `enum`/`const` as BSON: Extended JSON is understood, and plain
/// strings are converted when `mongoType` asks for a date, ObjectId, decimal or long.
fn to_bson(v: &Value, kind: Option<BsonKind>, path: &str) -> Result<Bson, SchemaError> {
    let bad = |what: &str| SchemaError::new(path, format!("{v} is not a valid {what}"));
    let b =
        Bson::try_from(v.clone()).map_err(|e| SchemaError::new(path, format!("invalid Extended JSON value: {e}")))?;
    Ok(match (kind, &b) {
        (Some(BsonKind::ObjectId), Bson::String(s)) => {
            Bson::ObjectId(bson::oid::ObjectId::parse_str(s).map_err(|_| bad("ObjectId"))?)
        }
        (Some(BsonKind::Date), Bson::String(s)) => {
            Bson::DateTime(bson::DateTime::from_millis(date_bound(v, path).map_err(|_| bad(&format!("date '{s}'")))?))
        }
        (Some(BsonKind::Decimal128), Bson::String(s)) => Bson::Decimal128(s.parse().map_err(|_| bad("decimal"))?),
        (Some(BsonKind::Decimal128), Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_)) => {
            Bson::Decimal128(v.to_string().parse().map_err(|_| bad("decimal"))?)
        }
        (Some(BsonKind::Int64), Bson::Int32(n)) => Bson::Int64(*n as i64),
        (Some(BsonKind::Double), Bson::Int32(n)) => Bson::Double(*n as f64),
        (Some(BsonKind::Double), Bson::Int64(n)) => Bson::Double(*n as f64),
        _ => b,
    })
}
