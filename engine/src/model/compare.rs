//! BSON's comparison order as the server applies it (`$min`, `$max`, `$addToSet`,
//! `$pull`): numbers by value across int32, int64, double and Decimal128, other types
//! by the canonical type order, documents field by field with their names in order.

use std::cmp::Ordering;

use bson::Bson;

use super::decimal::{Dec, Real, cmp_real, real_of_decimal, real_of_f64};

/// The server's canonical type rank: values of different ranks compare by rank alone.
pub fn type_rank(v: &Bson) -> u8 {
    match v {
        Bson::MinKey => 0,
        Bson::Undefined => 1,
        Bson::Null => 5,
        Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) | Bson::Decimal128(_) => 10,
        Bson::String(_) | Bson::Symbol(_) => 15,
        Bson::Document(_) => 20,
        Bson::Array(_) => 25,
        Bson::Binary(_) => 30,
        Bson::ObjectId(_) => 35,
        Bson::Boolean(_) => 40,
        Bson::DateTime(_) => 45,
        Bson::Timestamp(_) => 47,
        Bson::RegularExpression(_) => 50,
        Bson::DbPointer(_) => 55,
        Bson::JavaScriptCode(_) => 60,
        Bson::JavaScriptCodeWithScope(_) => 65,
        Bson::MaxKey => 127,
    }
}

/// A number's value on the real line; `None` for non-numbers.
pub fn real(v: &Bson) -> Option<Real> {
    Some(match v {
        Bson::Int32(i) => Real::Finite(Dec::from_i64(*i as i64)),
        Bson::Int64(i) => Real::Finite(Dec::from_i64(*i)),
        Bson::Double(f) => real_of_f64(*f),
        Bson::Decimal128(d) => real_of_decimal(d),
        _ => return None,
    })
}

fn cmp_numbers(a: &Bson, b: &Bson) -> Ordering {
    let as_i64 = |v: &Bson| match v {
        Bson::Int32(i) => Some(*i as i64),
        Bson::Int64(i) => Some(*i),
        _ => None,
    };
    if let (Some(x), Some(y)) = (as_i64(a), as_i64(b)) {
        return x.cmp(&y);
    }
    if let (Bson::Double(x), Bson::Double(y)) = (a, b)
        && !x.is_nan()
        && !y.is_nan()
    {
        return x.partial_cmp(y).expect("not NaN");
    }
    cmp_real(&real(a).expect("a number"), &real(b).expect("a number"))
}

/// BSON order (the server's, without collation).
pub fn cmp(a: &Bson, b: &Bson) -> Ordering {
    let rank = type_rank(a).cmp(&type_rank(b));
    if rank != Ordering::Equal {
        return rank;
    }
    match (a, b) {
        (Bson::String(x) | Bson::Symbol(x), Bson::String(y) | Bson::Symbol(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Bson::Document(x), Bson::Document(y)) => cmp_fields(x.iter(), y.iter()),
        (Bson::Array(x), Bson::Array(y)) => cmp_fields(
            x.iter().enumerate().map(|(i, e)| (i.to_string(), e)),
            y.iter().enumerate().map(|(i, e)| (i.to_string(), e)),
        ),
        (Bson::Binary(x), Bson::Binary(y)) => x
            .bytes
            .len()
            .cmp(&y.bytes.len())
            .then_with(|| u8::from(x.subtype).cmp(&u8::from(y.subtype)))
            .then_with(|| x.bytes.cmp(&y.bytes)),
        (Bson::ObjectId(x), Bson::ObjectId(y)) => x.bytes().cmp(&y.bytes()),
        (Bson::Boolean(x), Bson::Boolean(y)) => x.cmp(y),
        (Bson::DateTime(x), Bson::DateTime(y)) => x.timestamp_millis().cmp(&y.timestamp_millis()),
        (Bson::Timestamp(x), Bson::Timestamp(y)) => (x.time, x.increment).cmp(&(y.time, y.increment)),
        (Bson::RegularExpression(x), Bson::RegularExpression(y)) => {
            x.pattern.as_str().cmp(y.pattern.as_str()).then_with(|| x.options.as_str().cmp(y.options.as_str()))
        }
        (Bson::JavaScriptCode(x), Bson::JavaScriptCode(y)) => x.cmp(y),
        (Bson::JavaScriptCodeWithScope(x), Bson::JavaScriptCodeWithScope(y)) => {
            x.code.cmp(&y.code).then_with(|| cmp(&Bson::Document(x.scope.clone()), &Bson::Document(y.scope.clone())))
        }
        (Bson::DbPointer(x), Bson::DbPointer(y)) => format!("{x:?}").cmp(&format!("{y:?}")),
        _ if type_rank(a) == 10 => cmp_numbers(a, b),
        // MinKey, MaxKey, Null, Undefined: one value each.
        _ => Ordering::Equal,
    }
}

/// Element by element: the value's type rank, then the field name, then the value; a
/// prefix sorts first.
fn cmp_fields<'a, K: AsRef<str> + 'a>(
    mut x: impl Iterator<Item = (K, &'a Bson)>,
    mut y: impl Iterator<Item = (K, &'a Bson)>,
) -> Ordering {
    loop {
        match (x.next(), y.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some((kx, vx)), Some((ky, vy))) => {
                let o = type_rank(vx)
                    .cmp(&type_rank(vy))
                    .then_with(|| kx.as_ref().as_bytes().cmp(ky.as_ref().as_bytes()))
                    .then_with(|| cmp(vx, vy));
                if o != Ordering::Equal {
                    return o;
                }
            }
        }
    }
}

/// Equal in BSON order: `1 == 1.0`, `{a: 1, b: 2} != {b: 2, a: 1}`.
pub fn equal(a: &Bson, b: &Bson) -> bool {
    cmp(a, b) == Ordering::Equal
}

/// The same value of the same type, documents with the same field order: what the
/// server stores byte for byte.
pub fn identical(a: &Bson, b: &Bson) -> bool {
    match (a, b) {
        (Bson::Document(x), Bson::Document(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|((kx, vx), (ky, vy))| kx == ky && identical(vx, vy))
        }
        (Bson::Array(x), Bson::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| identical(p, q)),
        (Bson::Double(x), Bson::Double(y)) => x.to_bits() == y.to_bits(),
        _ => a == b,
    }
}

/// A value's type in words, for error messages.
pub fn type_name(v: &Bson) -> &'static str {
    match v {
        Bson::Double(_) => "a double",
        Bson::String(_) => "a string",
        Bson::Document(_) => "a document",
        Bson::Array(_) => "an array",
        Bson::Binary(_) => "binary data",
        Bson::Undefined => "undefined",
        Bson::ObjectId(_) => "an ObjectId",
        Bson::Boolean(_) => "a boolean",
        Bson::DateTime(_) => "a date",
        Bson::Null => "null",
        Bson::RegularExpression(_) => "a regular expression",
        Bson::DbPointer(_) => "a DBPointer",
        Bson::JavaScriptCode(_) => "JavaScript code",
        Bson::Symbol(_) => "a symbol",
        Bson::JavaScriptCodeWithScope(_) => "JavaScript code with scope",
        Bson::Int32(_) => "an int32",
        Bson::Timestamp(_) => "a timestamp",
        Bson::Int64(_) => "an int64",
        Bson::Decimal128(_) => "a Decimal128",
        Bson::MinKey => "MinKey",
        Bson::MaxKey => "MaxKey",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{Decimal128, doc};

    #[test]
    fn numbers_compare_by_value_across_types() {
        let dec = |s: &str| Bson::Decimal128(s.parse::<Decimal128>().unwrap());
        assert!(equal(&Bson::Int32(1), &Bson::Double(1.0)));
        assert!(equal(&Bson::Int64(5), &dec("5.00")));
        assert_eq!(cmp(&Bson::Double(0.1), &dec("0.1")), Ordering::Greater);
        assert_eq!(cmp(&Bson::Int64(i64::MAX), &Bson::Double(2f64.powi(63))), Ordering::Less);
        assert_eq!(cmp(&Bson::Double(f64::NAN), &Bson::Int32(i32::MIN)), Ordering::Less);
    }

    #[test]
    fn types_follow_the_canonical_order() {
        let order = [
            Bson::MinKey,
            Bson::Null,
            Bson::Int32(99),
            Bson::String("a".into()),
            Bson::Document(doc! {}),
            Bson::Array(vec![]),
            Bson::ObjectId(bson::oid::ObjectId::from_bytes([0; 12])),
            Bson::Boolean(false),
            Bson::DateTime(bson::DateTime::from_millis(0)),
            Bson::Timestamp(bson::Timestamp { time: 0, increment: 0 }),
            Bson::MaxKey,
        ];
        for pair in order.windows(2) {
            assert_eq!(cmp(&pair[0], &pair[1]), Ordering::Less, "{pair:?}");
        }
    }

    #[test]
    fn documents_compare_in_field_order() {
        let ab = Bson::Document(doc! { "a": 1, "b": 2 });
        let ba = Bson::Document(doc! { "b": 2, "a": 1 });
        assert!(!equal(&ab, &ba));
        assert!(equal(&ab, &Bson::Document(doc! { "a": 1.0, "b": 2i64 })));
        assert!(!identical(&ab, &Bson::Document(doc! { "a": 1.0, "b": 2i64 })));
        assert_eq!(cmp(&Bson::Document(doc! { "a": 1 }), &ab), Ordering::Less);
        assert_eq!(cmp(&Bson::Array(vec![1.into()]), &Bson::Array(vec![1.into(), 0.into()])), Ordering::Less);
    }
}
