//! The tree walk: each schema node (after `$ref`, `allOf` and unions are resolved)
//! becomes one arena node; keyword values are read by `keywords`.

use serde_json::{Map, Value};

use super::keywords::*;
use super::{Compiler, DEFAULT_PRESENCE, original};
use crate::schema::SchemaError;
use crate::schema::hints::{BsonKind, Hints};
use crate::schema::model::*;

impl Compiler<'_> {
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

    fn warn_once(&mut self, tag: &str, message: String) {
        if self.warned.insert(tag.to_string()) {
            self.warnings.push(message);
        }
    }

    /// Compiles the schema `v` found at `path`, for a field called `name` ("" if none).
    pub(super) fn compile(&mut self, v: &Value, path: &str, name: &str) -> Result<NodeId, SchemaError> {
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
        if (hints.key_field || obj.get("unique") == Some(&Value::Bool(true))) && path != "#/properties/_id" {
            self.warn_once(
                "key field",
                format!("{path} is marked as a key field; forge keeps only _id unique, this field's values may repeat"),
            );
        }

        if let Some(collection) = &hints.reference {
            self.references.push((format!("{path}/x-gen/ref"), collection.clone()));
            return Ok(self.add(Node::Scalar(Scalar::Ref { collection: collection.clone() })));
        }
        if let Some(c) = obj.get("const") {
            let value = to_bson(c, hints.mongo_type, &format!("{path}/const"))?;
            return Ok(self.add(Node::Const(value)));
        }
        if let Some(dist) = &hints.enum_distribution {
            let at = format!("{path}/x-gen/enum/distribution");
            let kind = self.kinds(obj, &hints, path)?.first().map(|(_, k)| *k);
            let values = dist
                .iter()
                .map(|(v, n)| {
                    let at = format!("{at}/{v}");
                    Ok((to_bson(&enum_value(v, kind, &at)?, kind, &at)?, *n))
                })
                .collect::<Result<Vec<_>, SchemaError>>()?;
            let values = Frequencies::new(values)
                .ok_or_else(|| SchemaError::new(&at, "the distribution has no value with a positive count"))?;
            return Ok(self.add(Node::WeightedEnum(values)));
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
        // The original writes `type: number` for all numbers; its numericRange tells
        // integers apart, and its `format: int64` marks longs.
        let integer_range = hints.numeric_range.as_ref().and_then(|r| r.integer) == Some(true);
        let width = match obj.get("format").and_then(Value::as_str) {
            Some("int64") => Some(BsonKind::Int64),
            Some("int32") => Some(BsonKind::Int32),
            _ => None,
        };
        for (_, kind) in &mut names {
            if *kind == BsonKind::Double && integer_range && hints.mongo_type.is_none() {
                *kind = BsonKind::Integer;
            }
            if *kind == BsonKind::Integer {
                *kind = width.unwrap_or(BsonKind::Integer);
            }
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
                let (min, max, shape) = match &hints.numeric_range {
                    Some(r) => shaped_range(obj, path, r, true)?,
                    None => {
                        let (min, max, _) = numeric_range(obj, path, name, true)?;
                        (min, max, None)
                    }
                };
                let fits = min >= i32::MIN as f64 && max <= i32::MAX as f64;
                match kind {
                    BsonKind::Int32 if !fits => {
                        return Err(SchemaError::new(
                            path,
                            format!("range {min}..{max} does not fit mongoType int; use long"),
                        ));
                    }
                    BsonKind::Int64 => Node::Scalar(Scalar::Int64 { min: min as i64, max: max as i64, shape }),
                    _ if fits => Node::Scalar(Scalar::Int32 { min: min as i32, max: max as i32, shape }),
                    _ => Node::Scalar(Scalar::Int64 { min: min as i64, max: max as i64, shape }),
                }
            }
            BsonKind::Double => match &hints.numeric_range {
                Some(r) => {
                    let (min, max, shape) = shaped_range(obj, path, r, false)?;
                    Node::Scalar(Scalar::Double { min, max, decimals: hints.decimals, shape })
                }
                None => {
                    let (min, max, decimals) = numeric_range(obj, path, name, false)?;
                    Node::Scalar(Scalar::Double { min, max, decimals: hints.decimals.or(decimals), shape: None })
                }
            },
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
        let dynamic = match (original::dynamic_keys(obj, path)?, &hints.key) {
            (Some(spec), _) => {
                let mut choices = Vec::with_capacity(spec.values.len());
                for (weight, schema, at) in &spec.values {
                    choices.push((*weight, self.compile(schema, at, "")?));
                }
                let value = if choices.len() == 1 { choices[0].1 } else { self.add(Node::Choice(choices)) };
                let count = match (spec.count, &hints.key_count) {
                    (Some(count), _) => count,
                    (None, Some(h)) => h.to_dist(&format!("{path}/x-gen/keyCount"), 0, None)?,
                    (None, None) => LengthDist::Uniform { min: 1, max: 5 },
                };
                Some(DynamicKeys { key: spec.key, count, value })
            }
            (None, None) => None,
            (None, Some(_)) => {
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
        // The original's observed length distribution wins over its minItems/maxItems,
        // which it clamps to percentiles.
        let len = match (original::array_lengths(obj, path)?, &hints.array_len) {
            (Some(f), _) => LengthDist::Frequencies(f),
            (None, Some(h)) => h.to_dist(&format!("{path}/x-gen/arrayLen"), lo, hi)?,
            (None, None) => LengthDist::Uniform { min: lo, max: hi.unwrap_or(lo + 5) },
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
