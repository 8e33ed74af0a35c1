//! How a sink may represent BSON types it cannot keep: a declared mapping profile
//! (`--sink-types`). Pipelines that deliver to PostgreSQL or to JSON event logs turn an
//! ObjectId into its hex digits, a date into an ISO string, a Decimal128 into a float;
//! the profile says which of those forms count as the value itself.
//!
//! Comparing goes through the expected document: [`SinkTypes::restore`] gives back
//! each sink value that is an accepted form of the journaled value as the journaled
//! value itself, and leaves every other value as the sink has it. The restored
//! document then goes through the same content hash and path diff as a MongoDB
//! collection's, so a value the profile does not excuse still shows, at its path.

use base64::Engine as _;
use bson::spec::BinarySubtype;
use bson::{Bson, Document};
use serde::Deserialize;

/// The forms a sink may give a BSON type in, besides the type itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Form {
    /// An ObjectId as its 24 hex digits.
    Hex,
    /// A date as an RFC 3339 string (any offset, any fraction digits); a timestamp
    /// as the time of its seconds (its increment is lost), as Singer taps write it.
    Iso,
    /// A date as milliseconds since the epoch; a timestamp as its seconds' milliseconds.
    EpochMs,
    /// A number as its decimal text.
    String,
    /// A number as a JSON number of another width or kind (int, long, double).
    Number,
    /// Binary data (a UUID too) as standard base64.
    Base64,
    /// A UUID as its hyphenated text.
    Text,
    /// An embedded document or array as JSON text.
    JsonText,
}

impl std::fmt::Display for Form {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Form::Hex => "hex",
            Form::Iso => "iso",
            Form::EpochMs => "epoch_ms",
            Form::String => "string",
            Form::Number => "number",
            Form::Base64 => "base64",
            Form::Text => "text",
            Form::JsonText => "json_text",
        })
    }
}

/// A mapping profile: per BSON type, the other forms a sink's value may take.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SinkTypes {
    pub object_id: Vec<Form>,
    pub date: Vec<Form>,
    pub decimal: Vec<Form>,
    pub long: Vec<Form>,
    pub int: Vec<Form>,
    pub double: Vec<Form>,
    pub binary: Vec<Form>,
    pub uuid: Vec<Form>,
    pub embedded: Vec<Form>,
    /// The largest relative difference between a double or Decimal128 and a number
    /// (or number text) that still counts as equal: a float carries about 16 digits,
    /// a Decimal128 34.
    pub tolerance: f64,
    /// A field that is null in the sink and absent at the source is absent: sinks
    /// with a column per field have a column for every field any document had.
    pub null_is_absent: bool,
    /// Fields the sink adds of its own (a pipeline's metadata such as `_sdc_*`
    /// columns), by name prefix, left out of the comparison.
    pub ignore_prefixes: Vec<String>,
}

impl Default for SinkTypes {
    fn default() -> Self {
        SinkTypes::lossless()
    }
}

/// A profile file that does not describe a profile.
#[derive(Debug, thiserror::Error)]
pub enum SinkTypesError {
    #[error("{0}")]
    Parse(String),
    /// A form given for a type it cannot stand for.
    #[error("{key}: a {ty} cannot arrive as {form}")]
    Form { key: &'static str, ty: &'static str, form: Form },
    #[error("tolerance: must be a number from 0 to 1, not {0}")]
    Tolerance(f64),
}

impl SinkTypes {
    /// Every type kept as it is (a MongoDB sink, or canonical Extended JSON).
    pub fn lossless() -> Self {
        SinkTypes {
            object_id: Vec::new(),
            date: Vec::new(),
            decimal: Vec::new(),
            long: Vec::new(),
            int: Vec::new(),
            double: Vec::new(),
            binary: Vec::new(),
            uuid: Vec::new(),
            embedded: Vec::new(),
            tolerance: 0.0,
            null_is_absent: false,
            ignore_prefixes: Vec::new(),
        }
    }

    /// What JSON-speaking pipelines (Singer taps and targets, JDBC sinks) make of
    /// BSON: every form above, doubles and decimals equal within 1e-9, null columns
    /// absent, `_sdc_` metadata ignored.
    pub fn flattened() -> Self {
        use Form::*;
        SinkTypes {
            object_id: vec![Hex],
            date: vec![Iso, EpochMs],
            decimal: vec![String, Number],
            long: vec![String, Number],
            int: vec![Number, String],
            double: vec![Number, String],
            binary: vec![Base64],
            uuid: vec![Text, Base64],
            embedded: vec![JsonText],
            tolerance: 1e-9,
            null_is_absent: true,
            ignore_prefixes: vec!["_sdc_".into()],
        }
    }

    /// A profile by name (`lossless`, `flattened`), or read from a YAML or JSON file
    /// whose keys are this struct's (absent keys: lossless).
    pub fn parse(text: &str) -> Result<Self, SinkTypesError> {
        let de = serde_yaml_ng::Deserializer::from_str(text);
        let types: SinkTypes = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let why = e.into_inner().to_string();
            SinkTypesError::Parse(if path == "." { why } else { format!("{path}: {why}") })
        })?;
        types.check()?;
        Ok(types)
    }

    /// Every form fits its type.
    fn check(&self) -> Result<(), SinkTypesError> {
        use Form::*;
        let allowed: [(&'static str, &'static str, &Vec<Form>, &[Form]); 9] = [
            ("object_id", "ObjectId", &self.object_id, &[Hex, String]),
            ("date", "date", &self.date, &[Iso, EpochMs]),
            ("decimal", "Decimal128", &self.decimal, &[String, Number]),
            ("long", "64-bit integer", &self.long, &[String, Number]),
            ("int", "32-bit integer", &self.int, &[String, Number]),
            ("double", "double", &self.double, &[String, Number]),
            ("binary", "binary", &self.binary, &[Base64]),
            ("uuid", "UUID", &self.uuid, &[Text, Base64]),
            ("embedded", "document or array", &self.embedded, &[JsonText]),
        ];
        for (key, ty, forms, ok) in allowed {
            if let Some(form) = forms.iter().find(|f| !ok.contains(f)) {
                return Err(SinkTypesError::Form { key, ty, form: *form });
            }
        }
        if !(0.0..=1.0).contains(&self.tolerance) {
            return Err(SinkTypesError::Tolerance(self.tolerance));
        }
        Ok(())
    }

    /// Whether the profile keeps every type: nothing to restore.
    pub fn is_lossless(&self) -> bool {
        *self == SinkTypes::lossless()
    }

    /// `got` (a sink's document) with each value that is an accepted form of the
    /// value at the same path of `expected` replaced by that value; the sink's own
    /// fields (`ignore_prefixes`) and, with `null_is_absent`, its nulls where
    /// `expected` has no field, left out.
    pub fn restore(&self, expected: &Document, got: &Document) -> Document {
        let mut out = Document::new();
        for (key, value) in got {
            if self.ignore_prefixes.iter().any(|p| key.starts_with(p.as_str())) {
                continue;
            }
            match expected.get(key) {
                Some(want) => {
                    out.insert(key.clone(), self.restore_value(want, value));
                }
                None if self.null_is_absent && *value == Bson::Null => {}
                None => {
                    out.insert(key.clone(), value.clone());
                }
            }
        }
        out
    }

    /// `got` as `want` when it is an accepted form of it; otherwise `got`, its
    /// embedded documents and arrays restored element by element.
    pub fn restore_value(&self, want: &Bson, got: &Bson) -> Bson {
        match (want, got) {
            (Bson::Document(w), Bson::Document(g)) => Bson::Document(self.restore(w, g)),
            (Bson::Array(w), Bson::Array(g)) => Bson::Array(
                g.iter()
                    .enumerate()
                    .map(|(i, v)| w.get(i).map_or_else(|| v.clone(), |w| self.restore_value(w, v)))
                    .collect(),
            ),
            (Bson::Document(_) | Bson::Array(_), Bson::String(text)) if self.embedded.contains(&Form::JsonText) => {
                match serde_json::from_str::<serde_json::Value>(text).ok().and_then(|j| Bson::try_from(j).ok()) {
                    Some(parsed @ (Bson::Document(_) | Bson::Array(_))) => self.restore_value(want, &parsed),
                    _ => got.clone(),
                }
            }
            _ if self.same(want, got) => want.clone(),
            _ => got.clone(),
        }
    }

    /// Whether `got` is `want` in a form the profile accepts.
    fn same(&self, want: &Bson, got: &Bson) -> bool {
        use Form::*;
        let has = |forms: &[Form], f: Form| forms.contains(&f);
        match (want, got) {
            (Bson::ObjectId(oid), Bson::String(s)) => {
                (has(&self.object_id, Hex) || has(&self.object_id, String)) && s.eq_ignore_ascii_case(&oid.to_hex())
            }
            (Bson::DateTime(d), Bson::String(s)) if has(&self.date, Iso) => {
                bson::DateTime::parse_rfc3339_str(s).is_ok_and(|p| p == *d)
            }
            (Bson::DateTime(d), n) if has(&self.date, EpochMs) => {
                integer(n).is_some_and(|ms| ms == d.timestamp_millis())
            }
            // A timestamp follows the date's forms, at the precision of its seconds.
            (Bson::Timestamp(t), Bson::String(s)) if has(&self.date, Iso) => {
                bson::DateTime::parse_rfc3339_str(s).is_ok_and(|p| p.timestamp_millis() == i64::from(t.time) * 1000)
            }
            (Bson::Timestamp(t), n) if has(&self.date, EpochMs) => {
                integer(n).is_some_and(|ms| ms == i64::from(t.time) * 1000)
            }
            (Bson::Int32(i), g) => self.same_integer(&self.int, i64::from(*i), g),
            (Bson::Int64(i), g) => self.same_integer(&self.long, *i, g),
            (Bson::Double(x), g) => self.same_float(&self.double, *x, g),
            (Bson::Decimal128(d), g) => match d.to_string().parse::<f64>() {
                Ok(x) => self.same_float(&self.decimal, x, g),
                Err(_) => false,
            },
            (Bson::Binary(b), Bson::String(s)) if b.subtype == BinarySubtype::Uuid => {
                (has(&self.uuid, Text) && uuid_text(&b.bytes).is_some_and(|t| t.eq_ignore_ascii_case(s)))
                    || (has(&self.uuid, Base64) && base64_of(&b.bytes) == *s)
            }
            (Bson::Binary(b), Bson::String(s)) => has(&self.binary, Base64) && base64_of(&b.bytes) == *s,
            _ => false,
        }
    }

    fn same_integer(&self, forms: &[Form], want: i64, got: &Bson) -> bool {
        match got {
            Bson::String(s) => forms.contains(&Form::String) && s.trim().parse::<i64>().is_ok_and(|n| n == want),
            _ => forms.contains(&Form::Number) && integer(got).is_some_and(|n| n == want),
        }
    }

    fn same_float(&self, forms: &[Form], want: f64, got: &Bson) -> bool {
        let close = |x: f64| x == want || (x - want).abs() <= self.tolerance * want.abs().max(x.abs());
        match got {
            Bson::String(s) => forms.contains(&Form::String) && s.trim().parse::<f64>().is_ok_and(close),
            Bson::Int32(i) => forms.contains(&Form::Number) && close(f64::from(*i)),
            Bson::Int64(i) => forms.contains(&Form::Number) && close(*i as f64),
            Bson::Double(x) => forms.contains(&Form::Number) && close(*x),
            Bson::Decimal128(d) => forms.contains(&Form::Number) && d.to_string().parse::<f64>().is_ok_and(close),
            _ => false,
        }
    }
}

/// A whole number, of whatever numeric type holds it.
fn integer(v: &Bson) -> Option<i64> {
    match v {
        Bson::Int32(i) => Some(i64::from(*i)),
        Bson::Int64(i) => Some(*i),
        Bson::Double(x) if x.fract() == 0.0 && x.abs() < 9.007_199_254_740_992e15 => Some(*x as i64),
        _ => None,
    }
}

fn base64_of(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A 16-byte UUID as hyphenated text.
fn uuid_text(bytes: &[u8]) -> Option<String> {
    let b: [u8; 16] = bytes.try_into().ok()?;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Some(format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..]))
}

/// The key a flattened sink gives an `_id`: an ObjectId as hex, a number as its
/// digits, a string as itself, anything else as relaxed Extended JSON.
pub fn flat_id(id: &Bson) -> String {
    match id {
        Bson::ObjectId(oid) => oid.to_hex(),
        Bson::String(s) => s.clone(),
        Bson::Int32(i) => i.to_string(),
        Bson::Int64(i) => i.to_string(),
        other => other.clone().into_relaxed_extjson().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;
    use bson::oid::ObjectId;

    fn typed() -> Document {
        doc! {
            "_id": ObjectId::parse_str("65a1b2c3d4e5f60718293a4b").unwrap(),
            "at": bson::DateTime::from_millis(1_700_000_000_123),
            "price": "12.50".parse::<bson::Decimal128>().unwrap(),
            "big": 9_007_199_254_740_993_i64,
            "n": 7,
            "x": 0.1,
            "blob": bson::Binary { subtype: BinarySubtype::Generic, bytes: vec![1, 2, 3] },
            "uuid": bson::Binary { subtype: BinarySubtype::Uuid, bytes: (0..16).collect() },
            "address": { "city": "Oslo", "since": bson::DateTime::from_millis(0) },
            "tags": ["a", "b"],
            "modified": bson::Timestamp { time: 1_700_000_000, increment: 7 },
        }
    }

    fn flattened_as_json() -> Document {
        doc! {
            "_id": "65a1b2c3d4e5f60718293a4b",
            "at": "2023-11-14T22:13:20.123000+00:00",
            "price": 12.5,
            "big": "9007199254740993",
            "n": 7_i64,
            "x": "0.1",
            "blob": "AQID",
            "uuid": "00010203-0405-0607-0809-0a0b0c0d0e0f",
            "address": "{\"city\": \"Oslo\", \"since\": 0}",
            "tags": ["a", "b"],
            "modified": "2023-11-14T22:13:20.000000Z",
            "gone": null,
            "_sdc_extracted_at": "2023-11-14T22:13:21Z",
        }
    }

    #[test]
    fn a_flattened_document_restores_to_the_typed_one() {
        let restored = SinkTypes::flattened().restore(&typed(), &flattened_as_json());
        assert_eq!(crate::verify::diff(&typed(), &restored, None), []);
    }

    #[test]
    fn lossless_restores_nothing_and_flattened_keeps_what_differs() {
        let lossless = SinkTypes::lossless().restore(&typed(), &flattened_as_json());
        assert_eq!(lossless, flattened_as_json());
        let mut wrong = flattened_as_json();
        wrong.insert("price", 12.6);
        wrong.insert("_id", "65a1b2c3d4e5f60718293a4c");
        wrong.insert("gone", "here");
        let found = crate::verify::diff(&typed(), &SinkTypes::flattened().restore(&typed(), &wrong), None);
        let paths: Vec<_> = found.iter().map(|d| (d.path.as_str(), d.kind)).collect();
        use crate::verify::PathKind::*;
        assert_eq!(paths, [("_id", Type), ("gone", Extra), ("price", Type)]);
    }

    #[test]
    fn decimals_and_doubles_are_equal_within_the_tolerance_only() {
        let types = SinkTypes::flattened();
        let want = Bson::Double(1.0 / 3.0);
        assert_eq!(types.restore_value(&want, &Bson::Double(0.333_333_333_333)), want);
        assert_eq!(types.restore_value(&want, &Bson::Double(0.3333)), Bson::Double(0.3333));
    }

    #[test]
    fn a_profile_file_names_the_key_at_fault() {
        let types = SinkTypes::parse("object_id: [hex]\ndate: [epoch_ms]\n").unwrap();
        assert_eq!((types.object_id, types.date, types.long), (vec![Form::Hex], vec![Form::EpochMs], vec![]));
        let err = SinkTypes::parse("date: [hex]").unwrap_err().to_string();
        assert_eq!(err, "date: a date cannot arrive as hex");
        let err = SinkTypes::parse("dates: [iso]").unwrap_err().to_string();
        assert!(err.starts_with("dates: unknown field `dates`"), "{err}");
        let err = SinkTypes::parse("tolerance: 2").unwrap_err().to_string();
        assert_eq!(err, "tolerance: must be a number from 0 to 1, not 2");
    }

    #[test]
    fn flat_ids() {
        let oid = ObjectId::parse_str("65a1b2c3d4e5f60718293a4b").unwrap();
        assert_eq!(flat_id(&Bson::ObjectId(oid)), "65a1b2c3d4e5f60718293a4b");
        assert_eq!((flat_id(&Bson::Int64(5)), flat_id(&Bson::String("k".into()))), ("5".into(), "k".into()));
    }
}
