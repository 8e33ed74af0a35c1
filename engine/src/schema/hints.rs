//! The `x-gen` generation hints and the MongoDB type vocabulary they use: forge's own
//! hints and the TypeScript original's (`key: true`, `numericRange`, `enum`,
//! `arrayLen.distribution`, `sizeWeight`), which share the `x-gen` object.

use serde_json::Value;

use super::SchemaError;
use super::model::{Frequencies, KeyGen, LengthDist};

/// A BSON type a schema node can ask for, from `mongoType`, `bsonType` or `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BsonKind {
    Null,
    Bool,
    /// JSON Schema `integer`: Int32 when the range fits, Int64 otherwise.
    Integer,
    Int32,
    Int64,
    Double,
    Decimal128,
    String,
    ObjectId,
    Date,
    Binary,
    Uuid,
    Timestamp,
    Object,
    Array,
}

impl BsonKind {
    /// A JSON Schema `type` name.
    pub fn from_json_type(name: &str) -> Option<Self> {
        Some(match name {
            "null" => Self::Null,
            "boolean" => Self::Bool,
            "integer" => Self::Integer,
            "number" => Self::Double,
            "string" => Self::String,
            "object" => Self::Object,
            "array" => Self::Array,
            _ => return None,
        })
    }

    /// A `mongoType` / `bsonType` name, as the TypeScript original (`ObjectId`, `Date`,
    /// `Decimal128`, `BinData`...) and MongoDB's `$jsonSchema` spell them.
    pub fn from_mongo_type(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "null" => Self::Null,
            "bool" | "boolean" => Self::Bool,
            "integer" => Self::Integer,
            "int" | "int32" => Self::Int32,
            "long" | "int64" => Self::Int64,
            "double" | "number" => Self::Double,
            "decimal" | "decimal128" => Self::Decimal128,
            "string" => Self::String,
            "objectid" => Self::ObjectId,
            "date" | "datetime" => Self::Date,
            "bindata" | "binary" => Self::Binary,
            "uuid" => Self::Uuid,
            "timestamp" => Self::Timestamp,
            "object" | "document" => Self::Object,
            "array" => Self::Array,
            _ => return None,
        })
    }

    pub fn is_container(self) -> bool {
        matches!(self, Self::Object | Self::Array)
    }
}

/// Parsed `x-gen` object of one schema node.
#[derive(Debug, Default)]
pub struct Hints {
    pub mongo_type: Option<BsonKind>,
    pub presence: Option<f64>,
    pub array_len: Option<LenHint>,
    /// Dynamic keys: `keys` (or the older spelling, `key` with a string or an object).
    pub key: Option<KeyGen>,
    /// The TypeScript original's `key: true`: the field is a key (its `_id`, or an
    /// additional key field).
    pub key_field: bool,
    pub numeric_range: Option<NumericRange>,
    /// `enum.distribution`: values (as written, map keys are strings) and frequencies.
    pub enum_distribution: Option<Vec<(String, f64)>>,
    pub key_count: Option<LenHint>,
    pub type_weights: Vec<(String, f64)>,
    pub min: Option<Value>,
    pub max: Option<Value>,
    pub decimals: Option<u32>,
    pub faker: Option<String>,
    /// Weights of the branches of an `anyOf`/`oneOf`, in order.
    pub weights: Vec<f64>,
    /// String length distribution (as `forge infer` observed it).
    pub length: Option<LenHint>,
    /// `ref: {collection, path}`: the value is an `_id` of another collection of the
    /// scenario, drawn from the documents the run inserted there and still holds.
    pub reference: Option<String>,
}

/// The `{min, max, p50, p90, p99, strategy}` form of `arrayLen` and `keyCount`.
#[derive(Debug, Default, Clone)]
pub struct LenHint {
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p99: Option<f64>,
    pub strategy: Option<String>,
    /// Observed lengths and their counts (the TypeScript original's `distribution`).
    pub distribution: Option<Frequencies<u32>>,
}

/// The TypeScript original's `numericRange`: figures of the observed numbers, which
/// `minimum`/`maximum` bound.
#[derive(Debug, Clone)]
pub struct NumericRange {
    pub mean: Option<f64>,
    pub median: f64,
    pub p95: f64,
    /// `type: "integer"` (`Some(true)`) or `"float"`.
    pub integer: Option<bool>,
    pub all_positive: bool,
}

impl Hints {
    /// Parses `x-gen` at `path`; unknown hint names go to `unknown`.
    pub fn parse(value: Option<&Value>, path: &str, unknown: &mut Vec<(String, String)>) -> Result<Self, SchemaError> {
        let Some(value) = value else {
            return Ok(Self::default());
        };
        let path = format!("{path}/x-gen");
        let obj = value.as_object().ok_or_else(|| SchemaError::new(&path, "x-gen must be an object"))?;
        let mut hints = Hints::default();
        for (k, v) in obj {
            let at = format!("{path}/{k}");
            match k.as_str() {
                "mongoType" => {
                    let name = v.as_str().ok_or_else(|| SchemaError::new(&at, "mongoType must be a string"))?;
                    hints.mongo_type = Some(BsonKind::from_mongo_type(name).ok_or_else(|| {
                        SchemaError::new(
                            &at,
                            format!(
                                "unknown mongoType '{name}' (expected one of objectId, date, \
                                 decimal128, long, int, double, binData, timestamp, uuid, string, \
                                 bool, null, object, array)"
                            ),
                        )
                    })?);
                }
                "presence" => {
                    let p = v
                        .as_f64()
                        .filter(|p| (0.0..=1.0).contains(p))
                        .ok_or_else(|| SchemaError::new(&at, "presence must be a number from 0 to 1"))?;
                    hints.presence = Some(p);
                }
                "arrayLen" => hints.array_len = Some(LenHint::parse(v, &at)?),
                "keyCount" => hints.key_count = Some(LenHint::parse(v, &at)?),
                "keys" => hints.key = Some(parse_key(v, &at, &mut hints.key_count)?),
                // The TypeScript original's key marker; forge's older spelling of `keys`.
                "key" => match v {
                    Value::Bool(b) => hints.key_field = *b,
                    _ => hints.key = Some(parse_key(v, &at, &mut hints.key_count)?),
                },
                "numericRange" => hints.numeric_range = Some(NumericRange::parse(v, &at)?),
                "enum" => hints.enum_distribution = parse_enum(v, &at)?,
                // The original's weight of a field in its document-size proxy: a
                // statistic, not something to generate from.
                "sizeWeight" => {
                    v.as_f64()
                        .filter(|w| *w >= 0.0)
                        .ok_or_else(|| SchemaError::new(&at, "sizeWeight must be a non-negative number"))?;
                }
                "typeWeights" => {
                    let map = v
                        .as_object()
                        .ok_or_else(|| SchemaError::new(&at, "typeWeights must map type names to weights"))?;
                    for (ty, w) in map {
                        let w = w.as_f64().filter(|w| *w >= 0.0).ok_or_else(|| {
                            SchemaError::new(format!("{at}/{ty}"), "a type weight must be a non-negative number")
                        })?;
                        hints.type_weights.push((ty.clone(), w));
                    }
                }
                "weights" => {
                    let list =
                        v.as_array().ok_or_else(|| SchemaError::new(&at, "weights must be an array of numbers"))?;
                    for (i, w) in list.iter().enumerate() {
                        let w = w.as_f64().filter(|w| *w >= 0.0).ok_or_else(|| {
                            SchemaError::new(format!("{at}/{i}"), "a weight must be a non-negative number")
                        })?;
                        hints.weights.push(w);
                    }
                }
                "length" => hints.length = Some(LenHint::parse(v, &at)?),
                // Document size statistics: read by `forge validate`, not by the generator.
                "docSize" => {}
                // A field's allowed state changes: read by the lifecycle strategy, not by the generator.
                "transitions" => {}
                "min" => hints.min = Some(v.clone()),
                "max" => hints.max = Some(v.clone()),
                "decimals" => {
                    let d = v
                        .as_u64()
                        .filter(|d| *d <= 30)
                        .ok_or_else(|| SchemaError::new(&at, "decimals must be a whole number from 0 to 30"))?;
                    hints.decimals = Some(d as u32);
                }
                "ref" => hints.reference = Some(parse_reference(v, &at)?),
                "faker" => {
                    let name = v.as_str().ok_or_else(|| SchemaError::new(&at, "faker must be a string"))?;
                    hints.faker = Some(name.to_string());
                }
                _ => unknown.push((format!("x-gen.{k}"), at)),
            }
        }
        Ok(hints)
    }
}

impl LenHint {
    fn parse(v: &Value, path: &str) -> Result<Self, SchemaError> {
        let obj = v.as_object().ok_or_else(|| {
            SchemaError::new(path, "expected an object such as {\"min\": 0, \"max\": 10, \"p50\": 3}")
        })?;
        let num = |key: &str| -> Result<Option<f64>, SchemaError> {
            match obj.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => v
                    .as_f64()
                    .filter(|n| *n >= 0.0)
                    .map(Some)
                    .ok_or_else(|| SchemaError::new(format!("{path}/{key}"), "must be a non-negative number")),
            }
        };
        for key in obj.keys() {
            if !["min", "max", "p50", "p90", "p99", "strategy", "distribution", "avg", "mean"].contains(&key.as_str()) {
                return Err(SchemaError::new(
                    format!("{path}/{key}"),
                    "unknown length hint (expected min, max, p50, p90, p99, strategy, distribution)",
                ));
            }
        }
        let strategy = match obj.get("strategy") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                return Err(SchemaError::new(format!("{path}/strategy"), "must be a string"));
            }
        };
        Ok(LenHint {
            min: num("min")?,
            max: num("max")?,
            p50: num("p50")?,
            p90: num("p90")?,
            p99: num("p99")?,
            strategy,
            distribution: match obj.get("distribution") {
                None | Some(Value::Null) => None,
                Some(d) => Some(length_frequencies(d, &format!("{path}/distribution"))?),
            },
        })
    }

    /// The TypeScript original writes `strategy` `minmax`/`percentile` or a
    /// `distribution`; its `minItems`/`maxItems` then clamp the hint rather than
    /// contradict it, and its approximated p90 may fall below p50.
    fn is_original(&self) -> bool {
        self.distribution.is_some() || matches!(self.strategy.as_deref(), Some("minmax" | "percentile"))
    }

    /// The distribution, with `lo`/`hi` as the bounds from `minItems`/`maxItems`.
    pub fn to_dist(&self, path: &str, lo: u32, hi: Option<u32>) -> Result<LengthDist, SchemaError> {
        if let Some(f) = &self.distribution {
            return Ok(LengthDist::Frequencies(f.clone()));
        }
        let original = self.is_original();
        let mut min = self.min.unwrap_or(lo as f64);
        let has_percentiles = self.p50.is_some() || self.p90.is_some() || self.p99.is_some();
        let top = [self.p50, self.p90, self.p99].into_iter().flatten().fold(min, f64::max);
        let mut max = self.max.or(hi.map(f64::from)).unwrap_or(top.max(min + 5.0));
        if original {
            min = min.max(lo as f64);
            max = hi.map_or(max, |hi| max.min(hi as f64)).max(min);
        }
        if min < lo as f64 || hi.is_some_and(|hi| max > hi as f64) {
            return Err(SchemaError::new(path, format!("length range {min}..{max} is outside minItems/maxItems")));
        }
        if min > max {
            return Err(SchemaError::new(path, format!("min {min} is greater than max {max}")));
        }
        let strategy = self.strategy.as_deref().unwrap_or(if has_percentiles { "percentiles" } else { "uniform" });
        match strategy {
            "uniform" | "minmax" => Ok(LengthDist::Uniform { min: min as u32, max: max as u32 }),
            "percentiles" | "percentile" | "empirical" => {
                let mut p50 = self.p50.unwrap_or((min + max) / 2.0);
                let mut p90 = self.p90.unwrap_or(p50 + 0.8 * (max - p50));
                let mut p99 = self.p99.unwrap_or(p90 + 0.9 * (max - p90));
                if original {
                    p50 = p50.clamp(min, max);
                    p90 = p90.clamp(p50, max);
                    p99 = p99.clamp(p90, max);
                }
                let ordered = min <= p50 && p50 <= p90 && p90 <= p99 && p99 <= max;
                if !ordered {
                    return Err(SchemaError::new(
                        path,
                        format!(
                            "lengths must satisfy min <= p50 <= p90 <= p99 <= max \
                             (got {min}, {p50}, {p90}, {p99}, {max})"
                        ),
                    ));
                }
                Ok(LengthDist::Percentiles { min, p50, p90, p99, max })
            }
            other => Err(SchemaError::new(
                format!("{path}/strategy"),
                format!("unknown strategy '{other}' (expected uniform, minmax, percentiles or percentile)"),
            )),
        }
    }
}

impl NumericRange {
    fn parse(v: &Value, path: &str) -> Result<Self, SchemaError> {
        let obj = v.as_object().ok_or_else(|| {
            SchemaError::new(path, "numericRange must be an object such as {\"median\": 40, \"p95\": 90}")
        })?;
        let num = |key: &str| -> Result<Option<f64>, SchemaError> {
            match obj.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => v
                    .as_f64()
                    .map(Some)
                    .ok_or_else(|| SchemaError::new(format!("{path}/{key}"), format!("{key} must be a number"))),
            }
        };
        let required =
            |key: &str| num(key)?.ok_or_else(|| SchemaError::new(path, format!("numericRange needs '{key}'")));
        let integer = match obj.get("type").map(|t| t.as_str()) {
            None => None,
            Some(Some("integer")) => Some(true),
            Some(Some("float" | "number" | "double")) => Some(false),
            Some(_) => return Err(SchemaError::new(format!("{path}/type"), "type must be \"integer\" or \"float\"")),
        };
        let all_positive = match obj.get("allPositive") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(SchemaError::new(format!("{path}/allPositive"), "allPositive must be a boolean")),
        };
        let (median, p95) = (required("median")?, required("p95")?);
        if p95 < median {
            return Err(SchemaError::new(path, format!("p95 {p95} is below the median {median}")));
        }
        Ok(NumericRange { mean: num("mean")?, median, p95, integer, all_positive })
    }
}

/// `enum: {"distribution": {"value": count, ...}}`; an empty distribution is no hint.
/// `ref: {collection: NAME, path: _id}`: the referenced collection's name.
fn parse_reference(v: &Value, path: &str) -> Result<String, SchemaError> {
    let obj = v.as_object().ok_or_else(|| SchemaError::new(path, "ref must be {collection, path}"))?;
    if let Some(key) = obj.keys().find(|k| !matches!(k.as_str(), "collection" | "path")) {
        return Err(SchemaError::new(format!("{path}/{key}"), "unknown key (expected collection, path)"));
    }
    let collection = obj
        .get("collection")
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty())
        .ok_or_else(|| SchemaError::new(format!("{path}/collection"), "ref needs a collection name"))?;
    match obj.get("path").map(|p| p.as_str()) {
        None | Some(Some("_id")) => Ok(collection.to_string()),
        Some(_) => Err(SchemaError::new(format!("{path}/path"), "a reference can only point at _id")),
    }
}

fn parse_enum(v: &Value, path: &str) -> Result<Option<Vec<(String, f64)>>, SchemaError> {
    let dist = v
        .get("distribution")
        .and_then(Value::as_object)
        .ok_or_else(|| SchemaError::new(path, "enum must be {\"distribution\": {value: count, ...}}"))?;
    let mut out = Vec::with_capacity(dist.len());
    for (value, n) in dist {
        let n = n.as_f64().filter(|n| *n >= 0.0).ok_or_else(|| {
            SchemaError::new(format!("{path}/distribution/{value}"), "a frequency must be a non-negative number")
        })?;
        out.push((value.clone(), n));
    }
    Ok((!out.is_empty()).then_some(out))
}

/// A `{length: count}` map, as the TypeScript original records lengths and key counts.
pub fn length_frequencies(v: &Value, path: &str) -> Result<Frequencies<u32>, SchemaError> {
    let map = v.as_object().ok_or_else(|| SchemaError::new(path, "expected a {length: count} object"))?;
    let mut pairs = Vec::with_capacity(map.len());
    for (len, n) in map {
        let at = format!("{path}/{len}");
        let len = len.parse::<u32>().map_err(|_| SchemaError::new(&at, "a length must be a whole number"))?;
        let n = n
            .as_f64()
            .filter(|n| *n >= 0.0)
            .ok_or_else(|| SchemaError::new(&at, "a count must be a non-negative number"))?;
        pairs.push((len, n));
    }
    pairs.sort_by_key(|(len, _)| *len);
    Frequencies::new(pairs)
        .ok_or_else(|| SchemaError::new(path, "the distribution has no length with a positive count"))
}

/// `keys`: a string (`uuid`, `objectId`, `number`, `date`, `word`) or
/// `{"format": .., "pattern": .., "count": {..}}`.
fn parse_key(v: &Value, path: &str, count: &mut Option<LenHint>) -> Result<KeyGen, SchemaError> {
    let (format, pattern) = match v {
        Value::String(s) => (Some(s.as_str()), None),
        Value::Object(obj) => {
            if let Some(c) = obj.get("count") {
                *count = Some(LenHint::parse(c, &format!("{path}/count"))?);
            }
            (obj.get("format").and_then(Value::as_str), obj.get("pattern").and_then(Value::as_str))
        }
        _ => return Err(SchemaError::new(path, "keys must be a string or an object")),
    };
    if let Some(pattern) = pattern {
        return Ok(KeyGen::Pattern(Box::new(super::pattern::compile_pattern(pattern, &format!("{path}/pattern"))?)));
    }
    match format.map(str::to_ascii_lowercase).as_deref() {
        Some("uuid") => Ok(KeyGen::Uuid),
        Some("objectid") => Ok(KeyGen::ObjectId),
        Some("number") | Some("integer") | Some("numeric") => Ok(KeyGen::Number { min: 0, max: 1_000_000 }),
        Some("date") => Ok(KeyGen::Date),
        Some("word") | Some("string") | None => Ok(KeyGen::Word),
        Some(other) => Err(SchemaError::new(
            path,
            format!("unknown key format '{other}' (expected uuid, objectId, number, date, word)"),
        )),
    }
}

/// Reads a date bound: an RFC 3339 string or milliseconds since the epoch.
pub fn date_bound(v: &Value, path: &str) -> Result<i64, SchemaError> {
    match v {
        Value::Number(n) => n.as_i64().ok_or_else(|| SchemaError::new(path, "a date bound must be whole milliseconds")),
        Value::String(s) => {
            let full = if s.len() == 10 { format!("{s}T00:00:00Z") } else { s.clone() };
            bson::DateTime::parse_rfc3339_str(&full)
                .map(|d| d.timestamp_millis())
                .map_err(|_| SchemaError::new(path, format!("'{s}' is not an RFC 3339 date")))
        }
        _ => Err(SchemaError::new(path, "a date bound must be an RFC 3339 string or milliseconds")),
    }
}
