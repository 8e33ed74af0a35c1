//! Readers of individual keyword values (`minimum`, `format`, `enum` values...), and
//! the list of keywords the compiler knows, so that the walk stays about structure.

use bson::Bson;
use serde_json::{Map, Value};

use crate::schema::SchemaError;
use crate::schema::hints::{BsonKind, Hints, NumericRange, date_bound};
use crate::schema::model::*;
use crate::schema::names;
use crate::schema::pattern::compile_pattern;

use super::{DEFAULT_MAX_DATE_MS, DEFAULT_MIN_DATE_MS};

/// Keywords that are read, or that carry no meaning for generation.
pub const KNOWN_KEYWORDS: &[&str] = &[
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
    // The TypeScript original's: read in `original.rs`, or (`unique`) a key marker.
    "x-dynamic-keys",
    "x-dynamic-key-value-schema",
    "x-array-length-distribution",
    "unique",
    "readOnly",
    "writeOnly",
    "contentEncoding",
    "contentMediaType",
    "minProperties",
    "maxProperties",
];

pub const FORMATS: &str = "date-time, date, time, uuid, objectid, email, uri, url, hostname, ipv4, ipv6, \
                           phone, person-name, base64, decimal";

pub fn words() -> Node {
    Node::Scalar(Scalar::String(StringGen { kind: StringKind::Words, min_len: 0, max_len: u32::MAX, len: None }))
}

pub fn unknown_type(path: &str, name: &str) -> SchemaError {
    SchemaError::new(path, format!("unknown type '{name}'"))
}

/// JSON pointer escaping of a property name.
pub fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// How `_id` is made from its schema node: one id-able type, or a union
/// (`anyOf`/`oneOf`, a type list) of them, taken in turn ([`IdGen::Mixed`]).
pub fn id_gen(nodes: &[Node], node: NodeId) -> Result<IdGen, SchemaError> {
    id_alternative(nodes, node, 0)
}

fn id_alternative(nodes: &[Node], node: NodeId, depth: usize) -> Result<IdGen, SchemaError> {
    let path = "#/properties/_id";
    let refused = || {
        SchemaError::new(
            path,
            "_id must be an objectId, integer, long, string or uuid (or an anyOf of them) so that forge can keep it unique",
        )
    };
    match &nodes[node] {
        Node::Scalar(Scalar::ObjectId) => Ok(IdGen::ObjectId),
        Node::Scalar(Scalar::Int32 { min, .. }) => Ok(IdGen::Int32 { offset: *min }),
        Node::Scalar(Scalar::Int64 { min, .. }) => Ok(IdGen::Int64 { offset: *min }),
        Node::Scalar(Scalar::Uuid) => Ok(IdGen::UuidBinary),
        Node::Scalar(Scalar::String(StringGen { kind: StringKind::Uuid, .. })) => Ok(IdGen::UuidString),
        Node::Scalar(Scalar::String(_)) => Ok(IdGen::HexString),
        // A `$ref` compiles to a choice of one; a `$ref` cycle has no id-able end.
        Node::Choice(choices) if depth < super::MAX_DEPTH => {
            let alternatives = choices
                .iter()
                .filter(|(weight, _)| *weight > 0.0)
                .map(|(_, n)| id_alternative(nodes, *n, depth + 1))
                .collect::<Result<Vec<_>, _>>()?;
            if alternatives.is_empty() {
                return Err(refused());
            }
            Ok(IdGen::mixed(alternatives))
        }
        _ => Err(refused()),
    }
}

pub fn count(obj: &Map<String, Value>, key: &str, path: &str) -> Result<Option<u32>, SchemaError> {
    match obj.get(key) {
        None => Ok(None),
        Some(v) => v.as_u64().filter(|n| *n <= u32::MAX as u64).map(|n| Some(n as u32)).ok_or_else(|| {
            SchemaError::new(format!("{path}/{key}"), format!("{key} must be a non-negative whole number"))
        }),
    }
}

pub fn length_range(
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
pub fn numeric_range(
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

pub fn date_range(obj: &Map<String, Value>, path: &str, hints: &Hints) -> Result<(i64, i64), SchemaError> {
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

pub fn string(obj: &Map<String, Value>, path: &str, name: &str, hints: &Hints) -> Result<StringGen, SchemaError> {
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
            // Formats the TypeScript original's `infer` writes.
            "phone" => StringKind::Phone,
            "person-name" => StringKind::Name,
            "base64" => StringKind::Base64,
            "decimal" => StringKind::DecimalText,
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
pub fn to_bson(v: &Value, kind: Option<BsonKind>, path: &str) -> Result<Bson, SchemaError> {
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

/// Bounds and shape of numbers described by the original's `numericRange`. Its
/// `minimum`/`maximum` bound them when present; otherwise the bounds are extrapolated
/// from the median and p95 (never below 0 when all values were positive).
pub fn shaped_range(
    obj: &Map<String, Value>,
    path: &str,
    r: &NumericRange,
    integer: bool,
) -> Result<(f64, f64, Option<Box<Quantiles>>), SchemaError> {
    let bound = |key: &str| obj.get(key).and_then(Value::as_f64);
    let gap = (r.p95 - r.median).max(r.median.abs() * 0.1).max(1.0);
    let mut min = bound("minimum").unwrap_or(r.median - 2.0 * gap);
    let mut max = bound("maximum").unwrap_or(r.p95 + gap);
    if r.all_positive {
        min = min.max(0.0);
    }
    if integer {
        (min, max) = (min.ceil(), max.floor());
    }
    if min > max {
        return Err(SchemaError::new(path, format!("minimum {min} is greater than maximum {max}")));
    }
    if integer && (min < i64::MIN as f64 || max > i64::MAX as f64) {
        return Err(SchemaError::new(path, "integer range does not fit in 64 bits"));
    }
    let median = r.median.clamp(min, max);
    let p95 = r.p95.clamp(median, max);
    // Above the median the quantile function is `s^curve` within each segment, so the
    // mean is `fixed + spread / (curve + 1)`: solved for the observed mean (a
    // right-skewed sample gives a convex curve).
    let fixed = 0.25 * (min + median) + 0.45 * median + 0.05 * p95;
    let spread = 0.45 * (p95 - median) + 0.05 * (max - p95);
    let curve = match r.mean {
        Some(mean) if spread > 0.0 && mean > fixed => (spread / (mean - fixed) - 1.0).clamp(1e-3, 1e3),
        Some(_) if spread > 0.0 => 1e3,
        _ => 1.0,
    };
    Ok((min, max, Some(Box::new(Quantiles { median, p95, curve }))))
}

/// An `enum.distribution` key (always a string in JSON) as the value it stands for.
pub fn enum_value(key: &str, kind: Option<BsonKind>, path: &str) -> Result<Value, SchemaError> {
    let number = || -> Result<Value, SchemaError> {
        let bad = || SchemaError::new(path, format!("'{key}' is not a number"));
        if let Ok(n) = key.parse::<i64>() {
            return Ok(Value::from(n));
        }
        let x = key.parse::<f64>().map_err(|_| bad())?;
        serde_json::Number::from_f64(x).map(Value::Number).ok_or_else(bad)
    };
    Ok(match kind {
        Some(BsonKind::Integer | BsonKind::Int32 | BsonKind::Int64 | BsonKind::Double | BsonKind::Decimal128) => {
            number()?
        }
        Some(BsonKind::Bool) => match key {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(SchemaError::new(path, format!("'{key}' is not a boolean"))),
        },
        Some(BsonKind::Null) => Value::Null,
        _ => Value::String(key.to_string()),
    })
}
