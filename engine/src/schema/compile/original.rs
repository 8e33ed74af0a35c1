//! Readers of the TypeScript original's schema-level vendor keywords:
//! `x-dynamic-keys` (a map whose keys are data) and `x-array-length-distribution`.
//! Its `x-gen` hints are read with forge's own, in `hints.rs`.

use serde_json::{Value, json};

use crate::schema::SchemaError;
use crate::schema::hints::length_frequencies;
use crate::schema::model::{Frequencies, KeyGen, LengthDist};
use crate::schema::pattern::compile_pattern;

/// What `x-dynamic-keys` asks for; the value schemas are compiled by the walk.
pub struct DynamicKeysSpec {
    pub key: KeyGen,
    pub count: Option<LengthDist>,
    /// Schemas of the values with their weights, and where each was found.
    pub values: Vec<(f64, Value, String)>,
}

/// `x-dynamic-keys` of an object schema: `{enabled, metadata, valueSchema}`, or the
/// metadata itself (which the original also reads). `None` when absent or disabled.
pub fn dynamic_keys(obj: &serde_json::Map<String, Value>, path: &str) -> Result<Option<DynamicKeysSpec>, SchemaError> {
    let Some(annotation) = obj.get("x-dynamic-keys") else {
        return Ok(None);
    };
    let at = format!("{path}/x-dynamic-keys");
    if !annotation.is_object() {
        return Err(SchemaError::new(&at, "x-dynamic-keys must be an object"));
    }
    let (metadata, meta_at) = match annotation.get("metadata") {
        Some(m) => (m, format!("{at}/metadata")),
        None => (annotation, at.clone()),
    };
    let enabled = annotation.get("enabled").or_else(|| metadata.get("enabled"));
    match enabled {
        None | Some(Value::Bool(true)) => {}
        Some(Value::Bool(false)) => return Ok(None),
        Some(_) => return Err(SchemaError::new(format!("{at}/enabled"), "enabled must be a boolean")),
    }
    let key = key_pattern(metadata, &meta_at)?;
    let count = match (metadata.get("countDistribution"), metadata.get("countStats")) {
        (Some(d), _) => Some(LengthDist::Frequencies(length_frequencies(d, &format!("{meta_at}/countDistribution"))?)),
        (None, Some(stats)) => Some(count_from_stats(stats, &format!("{meta_at}/countStats"))?),
        (None, None) => None,
    };
    let (value_schema, value_at) = match (annotation.get("valueSchema"), obj.get("x-dynamic-key-value-schema")) {
        (Some(v), _) => (Some(v), format!("{at}/valueSchema")),
        (None, Some(v)) => (Some(v), format!("{path}/x-dynamic-key-value-schema")),
        (None, None) => (None, String::new()),
    };
    let values = match value_schema {
        // The original's fallback: string values.
        None => vec![(1.0, json!({ "type": "string" }), format!("{at}/valueSchema"))],
        Some(v) => value_alternatives(v, &value_at)?,
    };
    Ok(Some(DynamicKeysSpec { key, count, values }))
}

/// The key generator for the original's detected key patterns.
fn key_pattern(metadata: &Value, path: &str) -> Result<KeyGen, SchemaError> {
    let regex = |p: &str| -> Result<KeyGen, SchemaError> {
        Ok(KeyGen::Pattern(Box::new(compile_pattern(p, &format!("{path}/pattern"))?)))
    };
    match metadata.get("pattern").and_then(Value::as_str) {
        Some("UUID") => Ok(KeyGen::Uuid),
        Some("MONGODB_OBJECTID") => Ok(KeyGen::ObjectId),
        Some("NUMERIC_ID") => Ok(KeyGen::Number { min: 100_000, max: 999_999_999 }),
        Some("ULID") => regex("^[0-9A-Z]{26}$"),
        Some("PREFIXED_ID") => regex("^(user|doc|item|order)_[a-z0-9]{16}$"),
        Some("CUSTOM") => match metadata.get("customPattern").and_then(Value::as_str) {
            Some(custom) if custom != "HIGH_CARDINALITY" => {
                Ok(KeyGen::Pattern(Box::new(compile_pattern(custom, &format!("{path}/customPattern"))?)))
            }
            _ => regex("^[a-zA-Z0-9]{16}$"),
        },
        // The original falls back to 16 alphanumeric characters for anything else.
        _ => regex("^[a-zA-Z0-9]{16}$"),
    }
}

/// Key counts from `countStats` (min, median, p90, p99, max) when no full
/// distribution was recorded.
fn count_from_stats(stats: &Value, path: &str) -> Result<LengthDist, SchemaError> {
    let num = |key: &str| stats.get(key).and_then(Value::as_f64).filter(|n| *n >= 0.0);
    let (Some(min), Some(max)) = (num("min"), num("max")) else {
        return Err(SchemaError::new(path, "countStats needs non-negative min and max"));
    };
    let max = max.max(min);
    let p50 = num("median").unwrap_or((min + max) / 2.0).clamp(min, max);
    let p90 = num("p90").or(num("p95")).unwrap_or(max).clamp(p50, max);
    let p99 = num("p99").unwrap_or(max).clamp(p90, max);
    Ok(LengthDist::Percentiles { min, p50, p90, p99, max })
}

/// `valueSchema`: `{types, typeProbabilities, schemas, isUniformType}` → weighted schemas.
fn value_alternatives(v: &Value, path: &str) -> Result<Vec<(f64, Value, String)>, SchemaError> {
    let schemas = v
        .get("schemas")
        .and_then(Value::as_array)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| SchemaError::new(path, "valueSchema needs a non-empty 'schemas' array"))?;
    let at = |i: usize| format!("{path}/schemas/{i}");
    if v.get("isUniformType") == Some(&Value::Bool(true)) || schemas.len() == 1 {
        return Ok(vec![(1.0, schemas[0].clone(), at(0))]);
    }
    let weights: Vec<f64> = match v.get("typeProbabilities").and_then(Value::as_array) {
        Some(p) if p.len() == schemas.len() => p
            .iter()
            .enumerate()
            .map(|(i, w)| {
                w.as_f64().filter(|w| *w >= 0.0).ok_or_else(|| {
                    SchemaError::new(
                        format!("{path}/typeProbabilities/{i}"),
                        "a probability must be a non-negative number",
                    )
                })
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(SchemaError::new(
                format!("{path}/typeProbabilities"),
                "typeProbabilities must have one entry per schema",
            ));
        }
        None => vec![1.0; schemas.len()],
    };
    if weights.iter().all(|w| *w == 0.0) {
        return Err(SchemaError::new(format!("{path}/typeProbabilities"), "all probabilities are zero"));
    }
    Ok(schemas.iter().enumerate().map(|(i, s)| (weights[i], s.clone(), at(i))).collect())
}

/// `x-array-length-distribution`: `{distribution: {length: count}, stats}` as the
/// original writes it, or the bare `{length: count}` map.
pub fn array_lengths(
    obj: &serde_json::Map<String, Value>,
    path: &str,
) -> Result<Option<Frequencies<u32>>, SchemaError> {
    let Some(v) = obj.get("x-array-length-distribution") else {
        return Ok(None);
    };
    let at = format!("{path}/x-array-length-distribution");
    match v.get("distribution") {
        Some(d) => length_frequencies(d, &format!("{at}/distribution")).map(Some),
        None => length_frequencies(v, &at).map(Some),
    }
}
