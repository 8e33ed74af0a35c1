//! Exact decimal arithmetic for the model's numbers: Decimal128 sums and products the
//! way the server computes them (exact, then rounded half-even to 34 digits), and exact
//! comparison of any two numbers, doubles included.
//!
//! Coefficients are plain decimal digit strings: the values forge meets are short, and
//! the rare long ones (a double's exact expansion) only cost a few microseconds.

use std::cmp::Ordering;

use bson::Decimal128;

/// Digits of a Decimal128 coefficient.
const PRECISION: usize = 34;
const EXPONENT_MIN: i32 = -6176;
const EXPONENT_MAX: i32 = 6111;

/// A finite decimal: `(-1)^neg × digits × 10^exp`, `digits` most significant first and
/// without leading zeros (empty for zero).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dec {
    pub neg: bool,
    pub digits: Vec<u8>,
    pub exp: i32,
}

/// A number on the real line, for comparisons across types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Real {
    NaN,
    NegInf,
    Finite(Dec),
    PosInf,
}

impl Dec {
    pub fn zero(exp: i32) -> Dec {
        Dec { neg: false, digits: Vec::new(), exp }
    }

    pub fn from_i64(v: i64) -> Dec {
        let digits = v.unsigned_abs().to_string().bytes().map(|b| b - b'0').collect();
        Dec { neg: v < 0, digits, exp: 0 }.trimmed()
    }

    /// A double as the server converts it for decimal arithmetic: rounded to 15
    /// significant digits (so `0.1` is `0.100000000000000`).
    pub fn from_f64_15(v: f64) -> Option<Dec> {
        if !v.is_finite() {
            return None;
        }
        if v == 0.0 {
            return Some(Dec { neg: v.is_sign_negative(), digits: Vec::new(), exp: 0 });
        }
        let text = format!("{:.14e}", v.abs());
        let (mantissa, exp) = text.split_once('e')?;
        let exp: i32 = exp.parse().ok()?;
        let digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).map(|b| b - b'0').collect();
        Some(Dec { neg: v < 0.0, digits, exp: exp - 14 }.trimmed())
    }

    /// A double's exact value (every finite double is a finite decimal).
    pub fn from_f64_exact(v: f64) -> Option<Dec> {
        if !v.is_finite() {
            return None;
        }
        let bits = v.to_bits();
        let neg = bits >> 63 == 1;
        let biased = ((bits >> 52) & 0x7ff) as i32;
        let fraction = bits & ((1 << 52) - 1);
        let (mantissa, pow2) = if biased == 0 { (fraction, -1074) } else { (fraction | (1 << 52), biased - 1075) };
        let mut d = Dec::from_i64(mantissa as i64);
        d.neg = neg;
        if pow2 >= 0 {
            for _ in 0..pow2 {
                d.digits = mul_small(&d.digits, 2);
            }
        } else {
            // m × 2^-k = m × 5^k × 10^-k
            for _ in 0..-pow2 {
                d.digits = mul_small(&d.digits, 5);
            }
            d.exp = pow2;
        }
        Some(d.trimmed())
    }

    fn trimmed(mut self) -> Dec {
        let lead = self.digits.iter().take_while(|&&d| d == 0).count();
        self.digits.drain(..lead);
        self
    }

    pub fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }

    /// The digits scaled to exponent `exp` (which must not exceed `self.exp`).
    fn digits_at(&self, exp: i32) -> Vec<u8> {
        let mut d = self.digits.clone();
        d.extend(std::iter::repeat_n(0, (self.exp - exp) as usize));
        d
    }

    /// `self + other`, exact, at the smaller exponent (IEEE 754 decimal addition before
    /// rounding).
    pub fn add(&self, other: &Dec) -> Dec {
        let exp = self.exp.min(other.exp);
        let (a, b) = (self.digits_at(exp), other.digits_at(exp));
        if self.neg == other.neg {
            return Dec { neg: self.neg, digits: add_digits(&a, &b), exp }.trimmed();
        }
        match cmp_digits(&a, &b) {
            Ordering::Equal => Dec::zero(exp),
            Ordering::Greater => Dec { neg: self.neg, digits: sub_digits(&a, &b), exp }.trimmed(),
            Ordering::Less => Dec { neg: other.neg, digits: sub_digits(&b, &a), exp }.trimmed(),
        }
    }

    /// `self × other`, exact.
    pub fn mul(&self, other: &Dec) -> Dec {
        let mut out = vec![0u32; self.digits.len() + other.digits.len()];
        for (i, &x) in self.digits.iter().rev().enumerate() {
            for (j, &y) in other.digits.iter().rev().enumerate() {
                out[i + j] += x as u32 * y as u32;
            }
        }
        let mut carry = 0;
        for slot in out.iter_mut() {
            let v = *slot + carry;
            *slot = v % 10;
            carry = v / 10;
        }
        let digits = out.iter().rev().map(|&d| d as u8).collect();
        Dec { neg: self.neg != other.neg, digits, exp: self.exp + other.exp }.trimmed()
    }

    /// Compares the values (the exponents need not match: 1.0 == 1).
    pub fn cmp_value(&self, other: &Dec) -> Ordering {
        let sign = |d: &Dec| {
            if d.is_zero() {
                0
            } else if d.neg {
                -1
            } else {
                1
            }
        };
        match sign(self).cmp(&sign(other)) {
            Ordering::Equal if sign(self) == 0 => Ordering::Equal,
            Ordering::Equal => {
                let exp = self.exp.min(other.exp);
                let magnitude = cmp_digits(&self.digits_at(exp), &other.digits_at(exp));
                if self.neg { magnitude.reverse() } else { magnitude }
            }
            unequal => unequal,
        }
    }

    /// Rounds half-even to 34 digits and encodes; `None` when the exponent leaves
    /// Decimal128's range.
    pub fn to_decimal128(&self) -> Option<Decimal128> {
        let mut digits = self.digits.clone();
        let mut exp = self.exp;
        if digits.len() > PRECISION {
            let drop = digits.len() - PRECISION;
            let first_dropped = digits[PRECISION];
            let rest_nonzero = digits[PRECISION + 1..].iter().any(|&d| d != 0);
            digits.truncate(PRECISION);
            exp += drop as i32;
            let last_odd = digits[PRECISION - 1] % 2 == 1;
            if first_dropped > 5 || (first_dropped == 5 && (rest_nonzero || last_odd)) {
                digits = add_digits(&digits, &[1]);
                if digits.len() > PRECISION {
                    digits.truncate(PRECISION);
                    exp += 1;
                }
            }
        }
        // A coefficient with room to spare absorbs an exponent above the maximum.
        while exp > EXPONENT_MAX && !digits.is_empty() && digits.len() < PRECISION {
            digits.push(0);
            exp -= 1;
        }
        if digits.is_empty() {
            exp = exp.clamp(EXPONENT_MIN, EXPONENT_MAX);
        }
        if !(EXPONENT_MIN..=EXPONENT_MAX).contains(&exp) {
            return None;
        }
        let coefficient = digits.iter().fold(0u128, |acc, &d| acc * 10 + d as u128);
        Some(encode(self.neg, coefficient, exp))
    }
}

/// A Decimal128 as a [`Real`].
pub fn real_of_decimal(d: &Decimal128) -> Real {
    let bytes = d.bytes();
    let low = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
    let high = u64::from_le_bytes(bytes[8..].try_into().expect("8 bytes"));
    let neg = high >> 63 == 1;
    match (high >> 58) & 0x1f {
        0x1f => return Real::NaN,
        0x1e => return if neg { Real::NegInf } else { Real::PosInf },
        _ => {}
    }
    let (coefficient, exp) = if (high >> 61) & 0b11 == 0b11 {
        // The large-coefficient form only holds values beyond 34 digits: non-canonical,
        // read as zero.
        (0u128, ((high >> 47) & 0x3fff) as i32 - 6176)
    } else {
        let c = (((high & ((1 << 49) - 1)) as u128) << 64) | low as u128;
        (if c < 10u128.pow(34) { c } else { 0 }, ((high >> 49) & 0x3fff) as i32 - 6176)
    };
    let digits =
        if coefficient == 0 { Vec::new() } else { coefficient.to_string().bytes().map(|b| b - b'0').collect() };
    Real::Finite(Dec { neg, digits, exp })
}

/// A double as a [`Real`], exactly.
pub fn real_of_f64(v: f64) -> Real {
    if v.is_nan() {
        Real::NaN
    } else if v == f64::INFINITY {
        Real::PosInf
    } else if v == f64::NEG_INFINITY {
        Real::NegInf
    } else {
        Real::Finite(Dec::from_f64_exact(v).expect("finite"))
    }
}

/// Total order on reals as the server sorts numbers: NaN first, then by value.
pub fn cmp_real(a: &Real, b: &Real) -> Ordering {
    let rank = |r: &Real| match r {
        Real::NaN => 0,
        Real::NegInf => 1,
        Real::Finite(_) => 2,
        Real::PosInf => 3,
    };
    match (a, b) {
        (Real::Finite(x), Real::Finite(y)) => x.cmp_value(y),
        _ => rank(a).cmp(&rank(b)),
    }
}

/// IEEE 754-2008 decimal128, BID encoding, for a coefficient below 10^34.
fn encode(neg: bool, coefficient: u128, exp: i32) -> Decimal128 {
    let biased = (exp + 6176) as u64;
    let high = (neg as u64) << 63 | biased << 49 | ((coefficient >> 64) as u64 & ((1 << 49) - 1));
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&(coefficient as u64).to_le_bytes());
    bytes[8..].copy_from_slice(&high.to_le_bytes());
    Decimal128::from_bytes(bytes)
}

fn mul_small(digits: &[u8], by: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(digits.len() + 1);
    let mut carry = 0u8;
    for &d in digits.iter().rev() {
        let v = d * by + carry;
        out.push(v % 10);
        carry = v / 10;
    }
    if carry > 0 {
        out.push(carry);
    }
    out.reverse();
    out
}

fn cmp_digits(a: &[u8], b: &[u8]) -> Ordering {
    let strip = |d: &[u8]| d.iter().position(|&x| x != 0).map_or(0, |p| d.len() - p);
    let (la, lb) = (strip(a), strip(b));
    la.cmp(&lb).then_with(|| a[a.len() - la..].cmp(&b[b.len() - lb..]))
}

fn add_digits(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(a.len().max(b.len()) + 1);
    let (mut i, mut j, mut carry) = (a.len(), b.len(), 0u8);
    while i > 0 || j > 0 || carry > 0 {
        let x = if i > 0 { a[i - 1] } else { 0 };
        let y = if j > 0 { b[j - 1] } else { 0 };
        let v = x + y + carry;
        out.push(v % 10);
        carry = v / 10;
        i = i.saturating_sub(1);
        j = j.saturating_sub(1);
    }
    out.reverse();
    out
}

/// `a - b` for `a >= b`.
fn sub_digits(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(a.len());
    let (mut j, mut borrow) = (b.len(), 0i8);
    for &x in a.iter().rev() {
        let y = if j > 0 { b[j - 1] as i8 } else { 0 };
        j = j.saturating_sub(1);
        let mut v = x as i8 - y - borrow;
        borrow = (v < 0) as i8;
        if v < 0 {
            v += 10;
        }
        out.push(v as u8);
    }
    out.reverse();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Dec {
        match real_of_decimal(&s.parse().unwrap()) {
            Real::Finite(d) => d,
            other => panic!("{other:?}"),
        }
    }

    fn s(d: &Dec) -> String {
        d.to_decimal128().unwrap().to_string()
    }

    #[test]
    fn adds_and_multiplies_exactly() {
        assert_eq!(s(&d("123.45").add(&d("1.5"))), "124.95");
        assert_eq!(s(&d("-2.00").add(&d("1"))), "-1.00");
        assert_eq!(s(&d("1.5").add(&d("-1.5"))), "0.0");
        assert_eq!(s(&d("123.45").mul(&d("2"))), "246.90");
        assert_eq!(s(&d("1.5").mul(&d("-0.1"))), "-0.15");
        assert_eq!(s(&d("1.5").mul(&Dec::from_i64(0))), "0.0");
    }

    #[test]
    fn rounds_half_even_to_34_digits() {
        let big = d("9999999999999999999999999999999999");
        assert_eq!(s(&big.add(&Dec::from_i64(1))), "1.000000000000000000000000000000000E+34");
        let third = d("0.3333333333333333333333333333333333");
        assert_eq!(s(&third.mul(&Dec::from_i64(3))), "0.9999999999999999999999999999999999");
        assert_eq!(s(&third.mul(&third)), "0.1111111111111111111111111111111111");
    }

    #[test]
    fn doubles_convert_to_15_digits_or_exactly() {
        assert_eq!(s(&Dec::from_f64_15(0.1).unwrap()), "0.100000000000000");
        assert_eq!(s(&Dec::from_f64_15(-2.5).unwrap()), "-2.50000000000000");
        let exact = Dec::from_f64_exact(0.1).unwrap();
        assert_eq!(exact.cmp_value(&d("0.1")), Ordering::Greater);
        assert_eq!(Dec::from_f64_exact(2.5).unwrap().cmp_value(&d("2.50")), Ordering::Equal);
        assert_eq!(Dec::from_f64_exact(-3.0).unwrap().cmp_value(&Dec::from_i64(-3)), Ordering::Equal);
    }

    #[test]
    fn orders_reals_with_nan_first() {
        let one = Real::Finite(Dec::from_i64(1));
        assert_eq!(cmp_real(&Real::NaN, &Real::NegInf), Ordering::Less);
        assert_eq!(cmp_real(&one, &real_of_f64(1.0)), Ordering::Equal);
        assert_eq!(cmp_real(&real_of_f64(-0.0), &Real::Finite(Dec::zero(0))), Ordering::Equal);
        assert_eq!(cmp_real(&real_of_decimal(&"-Infinity".parse().unwrap()), &one), Ordering::Less);
        assert_eq!(cmp_real(&Real::Finite(Dec::from_i64(-5)), &Real::Finite(Dec::from_i64(-4))), Ordering::Less);
    }
}
