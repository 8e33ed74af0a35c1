//! Scalar BSON values: numbers, dates, identifiers, binary.

use bson::oid::ObjectId;
use bson::spec::BinarySubtype;
use bson::{Binary, Bson, Decimal128, Timestamp};
use rand::{Rng as _, RngCore};

use crate::schema::model::{Quantiles, Scalar};
use crate::schema::{DEFAULT_MAX_DATE_MS, DEFAULT_MIN_DATE_MS};
use crate::seed::Rng;

pub fn scalar(s: &Scalar, rng: &mut Rng) -> Bson {
    match s {
        Scalar::Null => Bson::Null,
        Scalar::Bool => Bson::Boolean(rng.random()),
        Scalar::Int32 { min, max, shape: None } => Bson::Int32(rng.random_range(*min..=*max)),
        Scalar::Int64 { min, max, shape: None } => Bson::Int64(rng.random_range(*min..=*max)),
        Scalar::Int32 { min, max, shape: Some(q) } => {
            Bson::Int32(shaped(*min as f64, *max as f64, q, rng).round().clamp(*min as f64, *max as f64) as i32)
        }
        Scalar::Int64 { min, max, shape: Some(q) } => {
            Bson::Int64(shaped(*min as f64, *max as f64, q, rng).round().clamp(*min as f64, *max as f64) as i64)
        }
        Scalar::Double { min, max, decimals, shape } => {
            let v = match shape {
                None => uniform(*min, *max, rng),
                Some(q) => shaped(*min, *max, q, rng),
            };
            Bson::Double(match decimals {
                Some(d) => round_to(v, *d).clamp(*min, *max),
                None => v,
            })
        }
        Scalar::Decimal128 { min, max, scale } => {
            let factor = 10f64.powi(*scale as i32);
            let coefficient = (uniform(*min, *max, rng) * factor).round() as i128;
            Bson::Decimal128(decimal128(coefficient, *scale))
        }
        Scalar::String(g) => Bson::String(super::text::string(g, rng)),
        Scalar::ObjectId => Bson::ObjectId(object_id(rng)),
        Scalar::DateTime { min_ms, max_ms } => {
            Bson::DateTime(bson::DateTime::from_millis(rng.random_range(*min_ms..=*max_ms)))
        }
        Scalar::Binary { min_len, max_len } => {
            let mut bytes = vec![0u8; rng.random_range(*min_len..=*max_len) as usize];
            rng.fill_bytes(&mut bytes);
            Bson::Binary(Binary { subtype: BinarySubtype::Generic, bytes })
        }
        Scalar::Uuid => Bson::Binary(Binary::from_uuid(uuid(rng))),
        Scalar::Ref { collection } => super::op_context::draw(collection).unwrap_or(Bson::Null),
        Scalar::Timestamp { min_s, max_s } => Bson::Timestamp(Timestamp {
            time: rng.random_range(*min_s..=*max_s),
            increment: rng.random_range(1..=1000),
        }),
    }
}

fn uniform(min: f64, max: f64, rng: &mut Rng) -> f64 {
    if min >= max { min } else { rng.random_range(min..=max) }
}

/// One draw through the quantile function of [`Quantiles`].
fn shaped(min: f64, max: f64, q: &Quantiles, rng: &mut Rng) -> f64 {
    let u: f64 = rng.random();
    let v = if u < 0.5 {
        min + u / 0.5 * (q.median - min)
    } else if u < 0.95 {
        q.median + ((u - 0.5) / 0.45).powf(q.curve) * (q.p95 - q.median)
    } else {
        q.p95 + ((u - 0.95) / 0.05).powf(q.curve) * (max - q.p95)
    };
    v.clamp(min, max)
}

fn round_to(v: f64, decimals: u32) -> f64 {
    let factor = 10f64.powi(decimals as i32);
    (v * factor).round() / factor
}

/// A random ObjectId whose timestamp falls in the default date range, as if created by
/// some other process at some earlier time.
pub fn object_id(rng: &mut Rng) -> ObjectId {
    let secs = rng.random_range(DEFAULT_MIN_DATE_MS / 1000..=DEFAULT_MAX_DATE_MS / 1000) as u32;
    let mut bytes = [0u8; 12];
    bytes[..4].copy_from_slice(&secs.to_be_bytes());
    rng.fill_bytes(&mut bytes[4..]);
    ObjectId::from_bytes(bytes)
}

/// A random (version 4) UUID.
pub fn uuid(rng: &mut Rng) -> bson::Uuid {
    let mut b = [0u8; 16];
    rng.fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    bson::Uuid::from_bytes(b)
}

/// `coefficient × 10^-scale` as IEEE 754-2008 decimal128 (BID encoding), built
/// directly rather than by formatting and parsing a string on the hot path.
pub fn decimal128(coefficient: i128, scale: u32) -> Decimal128 {
    const EXPONENT_BIAS: u64 = 6176;
    let magnitude = coefficient.unsigned_abs();
    debug_assert!(magnitude < 1u128 << 113, "coefficient beyond decimal128 precision");
    let exponent = EXPONENT_BIAS - scale as u64;
    let high = ((coefficient < 0) as u64) << 63 | exponent << 49 | ((magnitude >> 64) as u64 & ((1 << 49) - 1));
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&(magnitude as u64).to_le_bytes());
    bytes[8..].copy_from_slice(&high.to_le_bytes());
    Decimal128::from_bytes(bytes)
}

/// A finite decimal128 as (negative, coefficient, exponent), or `None` for NaN,
/// infinities and the rare large-coefficient encoding.
pub fn decimal128_parts(d: &Decimal128) -> Option<(bool, u128, i32)> {
    let bytes = d.bytes();
    let low = u64::from_le_bytes(bytes[..8].try_into().ok()?);
    let high = u64::from_le_bytes(bytes[8..].try_into().ok()?);
    if (high >> 61) & 0b11 == 0b11 {
        return None;
    }
    let exponent = ((high >> 49) & 0x3fff) as i32 - 6176;
    let coefficient = (((high & ((1 << 49) - 1)) as u128) << 64) | low as u128;
    (coefficient < 10u128.pow(34)).then_some((high >> 63 == 1, coefficient, exponent))
}

/// `a + b` exactly, at the smaller exponent (what MongoDB's `$inc` gives while the
/// result fits 34 digits); `None` when it does not fit or an operand is not finite.
pub fn decimal128_add(a: &Decimal128, b: &Decimal128) -> Option<Decimal128> {
    let (na, ca, ea) = decimal128_parts(a)?;
    let (nb, cb, eb) = decimal128_parts(b)?;
    let e = ea.min(eb);
    let scale = |c: u128, from: i32| c.checked_mul(10u128.checked_pow((from - e) as u32)?);
    let (va, vb) = (scale(ca, ea)? as i128, scale(cb, eb)? as i128);
    let sum = if na { -va } else { va } + if nb { -vb } else { vb };
    if sum.unsigned_abs() >= 10u128.pow(34) || e > 0 {
        return None;
    }
    Some(decimal128(sum, (-e) as u32))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn decimal128_matches_the_parser() {
        for (c, s, text) in [(12345i128, 2, "123.45"), (-5, 1, "-0.5"), (0, 2, "0.00"), (7, 0, "7")] {
            let ours = decimal128(c, s);
            let parsed: Decimal128 = text.parse().unwrap();
            assert_eq!(ours.bytes(), parsed.bytes(), "{text}");
            assert_eq!(ours.to_string(), text);
        }
    }

    #[test]
    fn decimal128_adds_exactly() {
        let d = |s: &str| s.parse::<Decimal128>().unwrap();
        assert_eq!(decimal128_add(&d("123.45"), &d("1.5")).unwrap().to_string(), "124.95");
        assert_eq!(decimal128_add(&d("-2.00"), &d("1")).unwrap().to_string(), "-1.00");
    }

    #[test]
    fn uuids_are_version_4() {
        let u = uuid(&mut Rng::seed_from_u64(1)).to_string();
        assert_eq!(&u[14..15], "4");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"));
    }
}
