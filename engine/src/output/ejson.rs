//! MongoDB Extended JSON v2, written straight from BSON into a byte buffer.
//!
//! Same output as `bson`'s `into_relaxed_extjson`/`into_canonical_extjson` followed by
//! `serde_json` (a test checks byte equality), without building a `serde_json::Value`
//! tree per document: generation is fast enough that this conversion would otherwise
//! dominate.
//!
//! One deliberate difference: relaxed mode keeps 64-bit integers as `{"$numberLong"}`.
//! Strict relaxed mode writes them as plain numbers, which every importer reads back as
//! 32-bit when they fit, so a `long` field would silently change type on the way into
//! MongoDB. Every Extended JSON parser accepts the wrapped form in relaxed input.

use base64::Engine as _;
use bson::{Bson, Document, RawBsonRef, RawDocument};

/// How Extended JSON writes numbers and dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// ISO dates and plain numbers (64-bit integers stay wrapped so no type is lost).
    Relaxed,
    /// Every number and date wrapped with its exact BSON type.
    Canonical,
}

/// 9999-12-31T23:59:59.999Z: relaxed Extended JSON writes dates up to the year 9999 as
/// ISO strings and later ones as milliseconds. (`bson` 3.1 clamps later dates to this
/// instant instead, which loses data; forge does not.)
const MAX_ISO_DATE_MS: i64 = 253_402_300_799_999;

pub fn write_document(out: &mut Vec<u8>, doc: &Document, mode: Mode) {
    out.push(b'{');
    for (i, (k, v)) in doc.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(out, k);
        out.push(b':');
        write_value(out, v, mode);
    }
    out.push(b'}');
}

/// The same text as [`write_document`] gives for the decoded document, read straight
/// from BSON bytes. The error is a malformed document's; `out` then holds part of it.
pub fn write_raw_document(out: &mut Vec<u8>, doc: &RawDocument, mode: Mode) -> Result<(), bson::error::Error> {
    out.push(b'{');
    for (i, element) in doc.iter().enumerate() {
        let (k, v) = element?;
        if i > 0 {
            out.push(b',');
        }
        write_str(out, k.as_str());
        out.push(b':');
        write_raw_value(out, v, mode)?;
    }
    out.push(b'}');
    Ok(())
}

fn write_raw_value(out: &mut Vec<u8>, v: RawBsonRef<'_>, mode: Mode) -> Result<(), bson::error::Error> {
    match v {
        RawBsonRef::Null => out.extend_from_slice(b"null"),
        RawBsonRef::Boolean(b) => write_bool(out, b),
        RawBsonRef::String(s) => write_str(out, s),
        RawBsonRef::Document(d) => write_raw_document(out, d, mode)?,
        RawBsonRef::Array(items) => {
            out.push(b'[');
            for (i, item) in items.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_raw_value(out, item?, mode)?;
            }
            out.push(b']');
        }
        RawBsonRef::Int32(n) => write_i32(out, n, mode),
        RawBsonRef::Int64(n) => write_i64(out, n),
        RawBsonRef::Double(f) => write_double(out, f, mode),
        RawBsonRef::ObjectId(oid) => write_object_id(out, &oid),
        RawBsonRef::DateTime(dt) => write_date(out, dt, mode),
        RawBsonRef::Decimal128(d) => write_decimal(out, &d),
        RawBsonRef::Binary(b) => write_binary(out, b.subtype.into(), b.bytes),
        RawBsonRef::Timestamp(ts) => write_timestamp(out, ts),
        // Types forge never generates: decode the one value, then the general path.
        other => write_value(out, &Bson::try_from(other)?, mode),
    }
    Ok(())
}

fn write_value(out: &mut Vec<u8>, v: &Bson, mode: Mode) {
    match v {
        Bson::Null => out.extend_from_slice(b"null"),
        Bson::Boolean(b) => write_bool(out, *b),
        Bson::String(s) => write_str(out, s),
        Bson::Document(d) => write_document(out, d, mode),
        Bson::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item, mode);
            }
            out.push(b']');
        }
        Bson::Int32(n) => write_i32(out, *n, mode),
        Bson::Int64(n) => write_i64(out, *n),
        Bson::Double(f) => write_double(out, *f, mode),
        Bson::ObjectId(oid) => write_object_id(out, oid),
        Bson::DateTime(dt) => write_date(out, *dt, mode),
        Bson::Decimal128(d) => write_decimal(out, d),
        Bson::Binary(b) => write_binary(out, b.subtype.into(), &b.bytes),
        Bson::Timestamp(ts) => write_timestamp(out, *ts),
        // Types forge never generates (regex, code, min/max key...): the slow, general path.
        other => {
            let value = match mode {
                Mode::Relaxed => other.clone().into_relaxed_extjson(),
                Mode::Canonical => other.clone().into_canonical_extjson(),
            };
            serde_json::to_writer(&mut *out, &value).expect("writing to a Vec cannot fail");
        }
    }
}

fn write_bool(out: &mut Vec<u8>, b: bool) {
    out.extend_from_slice(if b { b"true" } else { b"false" });
}

fn write_i32(out: &mut Vec<u8>, n: i32, mode: Mode) {
    match mode {
        Mode::Canonical => wrapped(out, "$numberInt", itoa::Buffer::new().format(n)),
        Mode::Relaxed => out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes()),
    }
}

fn write_i64(out: &mut Vec<u8>, n: i64) {
    wrapped(out, "$numberLong", itoa::Buffer::new().format(n));
}

fn write_double(out: &mut Vec<u8>, f: f64, mode: Mode) {
    let canonical = mode == Mode::Canonical;
    if f.is_nan() {
        wrapped(out, "$numberDouble", if f.is_sign_negative() { "-NaN" } else { "NaN" })
    } else if f.is_infinite() {
        wrapped(out, "$numberDouble", if f.is_sign_negative() { "-Infinity" } else { "Infinity" })
    } else if canonical && f == 0.0 {
        wrapped(out, "$numberDouble", if f.is_sign_negative() { "-0.0" } else { "0.0" })
    } else if canonical && f.is_normal() {
        let mut s = f.to_string();
        if f.fract() == 0.0 {
            s.push_str(".0");
        }
        wrapped(out, "$numberDouble", &s)
    } else {
        serde_json::to_writer(&mut *out, &f).expect("writing to a Vec cannot fail")
    }
}

fn write_object_id(out: &mut Vec<u8>, oid: &bson::oid::ObjectId) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.extend_from_slice(b"{\"$oid\":\"");
    for b in oid.bytes() {
        out.push(HEX[(b >> 4) as usize]);
        out.push(HEX[(b & 0xf) as usize]);
    }
    out.extend_from_slice(b"\"}");
}

fn write_date(out: &mut Vec<u8>, dt: bson::DateTime, mode: Mode) {
    let ms = dt.timestamp_millis();
    let iso = (mode == Mode::Relaxed && (0..=MAX_ISO_DATE_MS).contains(&ms)).then(|| dt.try_to_rfc3339_string().ok());
    match iso.flatten() {
        Some(iso) => wrapped(out, "$date", &iso),
        None => {
            out.extend_from_slice(b"{\"$date\":");
            wrapped(out, "$numberLong", itoa::Buffer::new().format(ms));
            out.push(b'}');
        }
    }
}

fn write_decimal(out: &mut Vec<u8>, d: &bson::Decimal128) {
    match plain_decimal(d) {
        Some(text) => wrapped(out, "$numberDecimal", &text),
        None => wrapped(out, "$numberDecimal", &d.to_string()),
    }
}

fn write_binary(out: &mut Vec<u8>, subtype: u8, bytes: &[u8]) {
    out.extend_from_slice(b"{\"$binary\":{\"base64\":\"");
    let start = out.len();
    out.resize(start + base64::encoded_len(bytes.len(), true).unwrap_or(0), 0);
    let written = base64::engine::general_purpose::STANDARD
        .encode_slice(bytes, &mut out[start..])
        .expect("buffer sized for the encoding");
    out.truncate(start + written);
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.extend_from_slice(b"\",\"subType\":\"");
    out.push(HEX[(subtype >> 4) as usize]);
    out.push(HEX[(subtype & 0xf) as usize]);
    out.extend_from_slice(b"\"}}");
}

fn write_timestamp(out: &mut Vec<u8>, ts: bson::Timestamp) {
    out.extend_from_slice(b"{\"$timestamp\":{\"t\":");
    out.extend_from_slice(itoa::Buffer::new().format(ts.time).as_bytes());
    out.extend_from_slice(b",\"i\":");
    out.extend_from_slice(itoa::Buffer::new().format(ts.increment).as_bytes());
    out.extend_from_slice(b"}}");
}

/// The decimal128 string of the common case (finite, no exponent notation), by the
/// rules of the decimal128 spec; `None` for values `Display` must handle. `bson`'s own
/// `Display` is general and slow, and money fields are everywhere.
fn plain_decimal(d: &bson::Decimal128) -> Option<String> {
    let (negative, coefficient, exponent) = crate::generate::scalars::decimal128_parts(d)?;
    if exponent > 0 {
        return None;
    }
    let exponent = exponent as i64;
    let digits = coefficient.to_string();
    let adjusted = exponent + digits.len() as i64 - 1;
    if adjusted < -6 {
        return None;
    }
    let mut s = String::with_capacity(digits.len() + 4);
    if negative {
        s.push('-');
    }
    let point = digits.len() as i64 + exponent; // digits before the decimal point
    if exponent == 0 {
        s.push_str(&digits);
    } else if point > 0 {
        s.push_str(&digits[..point as usize]);
        s.push('.');
        s.push_str(&digits[point as usize..]);
    } else {
        s.push_str("0.");
        (0..-point).for_each(|_| s.push('0'));
        s.push_str(&digits);
    }
    Some(s)
}

/// `{"<key>":"<text>"}` where `text` needs no escaping.
fn wrapped(out: &mut Vec<u8>, key: &str, text: &str) {
    out.extend_from_slice(b"{\"");
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":\"");
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(b"\"}");
}

/// A JSON string, escaped as `serde_json` escapes it; most keys and values need no
/// escaping and are copied as they are.
fn write_str(out: &mut Vec<u8>, s: &str) {
    if s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        serde_json::to_writer(&mut *out, s).expect("writing to a Vec cannot fail");
    } else {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{Binary, Timestamp, doc, oid::ObjectId, spec::BinarySubtype};

    fn sample() -> Document {
        doc! {
            "_id": ObjectId::parse_str("65a1b2c3d4e5f60718293a4b").unwrap(),
            "s": "quote \" and \\ and \n and é",
            "i": 42i32, "l": -9_000_000_000i64,
            "d": 1.5, "whole": 3.0, "zero": -0.0, "big": 1e300, "tiny": 5e-324,
            "nan": f64::NAN, "inf": f64::NEG_INFINITY,
            "date": bson::DateTime::from_millis(1_700_000_000_123),
            "old": bson::DateTime::from_millis(-86_400_000),
            "dec": "123.45".parse::<bson::Decimal128>().unwrap(),
            "bin": Binary { subtype: BinarySubtype::Generic, bytes: vec![0, 1, 2, 250] },
            "uuid": Binary::from_uuid(bson::Uuid::parse_str("3f2504e0-4f89-41d3-9a0c-0305e82c3301").unwrap()),
            "ts": Timestamp { time: 1_700_000_000, increment: 7 },
            "nested": { "arr": [1i32, "two", null, true, { "x": 1i32 }] },
            "re": bson::Regex { pattern: "^a".to_string().try_into().unwrap(), options: "i".to_string().try_into().unwrap() },
        }
    }

    #[test]
    fn matches_the_bson_crate_byte_for_byte() {
        let mut doc = sample();
        for mode in [Mode::Canonical, Mode::Relaxed] {
            if mode == Mode::Relaxed {
                doc.remove("l"); // the one deliberate difference, checked below
            }
            let mut ours = Vec::new();
            write_document(&mut ours, &doc, mode);
            let theirs = match mode {
                Mode::Relaxed => Bson::Document(doc.clone()).into_relaxed_extjson(),
                Mode::Canonical => Bson::Document(doc.clone()).into_canonical_extjson(),
            };
            assert_eq!(String::from_utf8(ours).unwrap(), serde_json::to_string(&theirs).unwrap(), "{mode:?}");
        }
    }

    #[test]
    fn raw_documents_read_as_their_decoded_form() {
        let mut doc = sample();
        doc.insert("far", bson::DateTime::from_millis(300_000_000_000_000));
        doc.insert("sub", Binary { subtype: BinarySubtype::UserDefined(0x80), bytes: vec![9; 40] });
        doc.insert("code", bson::Bson::JavaScriptCode("x()".into()));
        doc.insert("keys \"\u{1}", doc! { "k\\": [bson::Bson::MinKey, bson::Bson::MaxKey, bson::Bson::Undefined] });
        let raw = bson::RawDocumentBuf::try_from(&doc).unwrap();
        for mode in [Mode::Canonical, Mode::Relaxed] {
            let (mut ours, mut decoded) = (Vec::new(), Vec::new());
            write_raw_document(&mut ours, &raw, mode).unwrap();
            write_document(&mut decoded, &doc, mode);
            assert_eq!(String::from_utf8(ours).unwrap(), String::from_utf8(decoded).unwrap(), "{mode:?}");
        }
    }

    #[test]
    fn a_malformed_raw_document_is_an_error() {
        let mut bytes = bson::RawDocumentBuf::try_from(&sample()).unwrap().into_bytes();
        bytes[4] = 0x77; // the first element's type
        let doc = RawDocument::from_bytes(&bytes).unwrap();
        assert!(write_raw_document(&mut Vec::new(), doc, Mode::Relaxed).is_err());
    }

    #[test]
    fn relaxed_mode_keeps_64_bit_integers_typed() {
        let mut out = Vec::new();
        write_document(&mut out, &doc! { "small": 5i64, "int": 5i32 }, Mode::Relaxed);
        assert_eq!(String::from_utf8(out).unwrap(), r#"{"small":{"$numberLong":"5"},"int":5}"#);
    }

    #[test]
    fn decimals_print_like_the_bson_crate() {
        let texts = [
            "0",
            "-0",
            "0.00",
            "1",
            "-1.5",
            "123.45",
            "0.001",
            "0.0000001",
            "1E+3",
            "1.23E-10",
            "9999999999999999999999999999999999",
            "-0.000000",
            "12345678901234567890.123456789",
            "NaN",
            "Infinity",
            "-Infinity",
            "1E+6144",
            "1E-6176",
        ];
        for text in texts {
            let d: bson::Decimal128 = text.parse().unwrap();
            if let Some(ours) = plain_decimal(&d) {
                assert_eq!(ours, d.to_string(), "{text}");
            }
        }
        assert_eq!(plain_decimal(&"123.45".parse().unwrap()).as_deref(), Some("123.45"));
    }

    #[test]
    fn round_trips_through_the_bson_parser() {
        let mut doc = sample();
        doc.insert("far", bson::DateTime::from_millis(300_000_000_000_000));
        doc.insert("last_iso", bson::DateTime::from_millis(MAX_ISO_DATE_MS));
        for mode in [Mode::Relaxed, Mode::Canonical] {
            let mut out = Vec::new();
            write_document(&mut out, &doc, mode);
            let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
            let back = Bson::try_from(json).unwrap();
            let Bson::Document(back) = back else { panic!("not a document") };
            // NaN != NaN, so compare everything else field by field.
            for (k, v) in doc.iter().filter(|(k, _)| *k != "nan") {
                assert_eq!(back.get(k), Some(v), "{mode:?} {k}");
            }
        }
    }
}
