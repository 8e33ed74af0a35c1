//! One drift step for one value: its BSON type kept, integers and decimals in exact
//! scaled-integer arithmetic (a decimal keeps its scale: 123.45 is 12345 at scale 2),
//! the schema's bounds clamped to.

use forge_plugin_sdk::bson::{Bson, Decimal128};
use serde_json::Value;

/// An exact decimal: `coeff` × 10^-`scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dec {
    pub coeff: i128,
    pub scale: i32,
}

/// Largest Decimal128 coefficient (34 digits).
const DECIMAL_MAX: i128 = 9_999_999_999_999_999_999_999_999_999_999_999;

impl Dec {
    /// `-123.45`, `1.2345E+5`, `1e-7`, `2000`; `None` for NaN, infinities, garbage.
    pub fn parse(s: &str) -> Option<Dec> {
        let s = s.trim();
        let (negative, s) = match s.as_bytes().first()? {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        let (mantissa, exp) = match s.find(['e', 'E']) {
            Some(i) => (&s[..i], s[i + 1..].parse::<i32>().ok()?),
            None => (s, 0),
        };
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if int.is_empty() && frac.is_empty() || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
            return None;
        }
        let digits = format!("{int}{frac}");
        let digits = digits.trim_start_matches('0');
        if digits.len() > 38 {
            return None;
        }
        let magnitude: i128 = if digits.is_empty() { 0 } else { digits.parse().ok()? };
        let scale = (frac.len() as i32).checked_sub(exp)?;
        Some(Dec { coeff: if negative { -magnitude } else { magnitude }, scale })
    }

    pub fn to_f64(self) -> f64 {
        format!("{}e{}", self.coeff, -(self.scale as i64)).parse().unwrap_or(f64::NAN)
    }

    /// The text Decimal128 parses back to this coefficient and scale.
    pub fn format(self) -> String {
        let sign = if self.coeff < 0 { "-" } else { "" };
        let digits = self.coeff.unsigned_abs().to_string();
        match self.scale {
            0 => format!("{sign}{digits}"),
            s if s < 0 => format!("{sign}{digits}E+{}", -(s as i64)),
            s => {
                let s = s as usize;
                let digits =
                    if digits.len() <= s { format!("{}{digits}", "0".repeat(s + 1 - digits.len())) } else { digits };
                let (int, frac) = digits.split_at(digits.len() - s);
                format!("{sign}{int}.{frac}")
            }
        }
    }

    /// `self` × 10^`scale`, rounded down, and whether that is exact; `None` when it
    /// does not fit.
    fn at_scale(self, scale: i32) -> Option<(i128, bool)> {
        let shift = scale as i64 - self.scale as i64;
        if shift >= 0 {
            let factor = 10i128.checked_pow(u32::try_from(shift).ok()?)?;
            Some((self.coeff.checked_mul(factor)?, true))
        } else {
            match 10i128.checked_pow(u32::try_from(-shift).ok()?) {
                Some(d) => Some((self.coeff.div_euclid(d), self.coeff.rem_euclid(d) == 0)),
                // Finer than any i128 at this scale: 0 or -1, exact only for 0.
                None => Some((if self.coeff < 0 { -1 } else { 0 }, self.coeff == 0)),
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bound {
    pub value: Dec,
    pub exclusive: bool,
}

/// The schema's `minimum`/`exclusiveMinimum` (lows) and `maximum`/`exclusiveMaximum`
/// (highs) of one field; draft-4's boolean `exclusiveMinimum` is understood too.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bounds {
    pub lows: Vec<Bound>,
    pub highs: Vec<Bound>,
}

impl Bounds {
    pub fn of(node: &Value) -> Result<Bounds, String> {
        let mut bounds = Bounds::default();
        for (key, exclusive_key, out) in
            [("minimum", "exclusiveMinimum", &mut bounds.lows), ("maximum", "exclusiveMaximum", &mut bounds.highs)]
        {
            let draft4 = node.get(exclusive_key) == Some(&Value::Bool(true));
            if let Some(value) = number(node, key)? {
                out.push(Bound { value, exclusive: draft4 });
            }
            if !matches!(node.get(exclusive_key), Some(Value::Bool(_)))
                && let Some(value) = number(node, exclusive_key)?
            {
                out.push(Bound { value, exclusive: true });
            }
        }
        Ok(bounds)
    }

    /// The allowed coefficients at `scale`, within `limit`.
    fn range(&self, scale: i32, limit: (i128, i128)) -> (i128, i128) {
        let (mut lo, mut hi) = limit;
        for b in &self.lows {
            let v = match b.value.at_scale(scale) {
                Some((floor, true)) if b.exclusive => floor.saturating_add(1),
                Some((floor, true)) => floor,
                Some((floor, false)) => floor.saturating_add(1),
                None if b.value.coeff > 0 => i128::MAX,
                None => i128::MIN,
            };
            lo = lo.max(v);
        }
        for b in &self.highs {
            let v = match b.value.at_scale(scale) {
                Some((floor, true)) if b.exclusive => floor.saturating_sub(1),
                Some((floor, _)) => floor,
                None if b.value.coeff > 0 => i128::MAX,
                None => i128::MIN,
            };
            hi = hi.min(v);
        }
        (lo, hi)
    }

    /// The allowed doubles.
    fn range_f64(&self) -> (f64, f64) {
        let lo = self
            .lows
            .iter()
            .map(|b| if b.exclusive { b.value.to_f64().next_up() } else { b.value.to_f64() })
            .fold(f64::MIN, f64::max);
        let hi = self
            .highs
            .iter()
            .map(|b| if b.exclusive { b.value.to_f64().next_down() } else { b.value.to_f64() })
            .fold(f64::MAX, f64::min);
        (lo, hi)
    }
}

fn number(node: &Value, key: &str) -> Result<Option<Dec>, String> {
    let text = match node.get(key) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(format!("{key} is not a number")),
    };
    Dec::parse(&text).map(Some).ok_or_else(|| format!("{key} '{text}' is not a number"))
}

/// Whether drift can move `v`.
pub fn is_number(v: &Bson) -> bool {
    match v {
        Bson::Int32(_) | Bson::Int64(_) => true,
        Bson::Double(d) => d.is_finite(),
        Bson::Decimal128(d) => Dec::parse(&d.to_string()).is_some(),
        _ => false,
    }
}

/// `value` × (1 + `percent`/100), of the same BSON type, within `bounds`; `None` when
/// `value` is not a finite number or no value of its type fits the bounds.
pub fn step(value: &Bson, percent: f64, bounds: &Bounds) -> Option<Bson> {
    match value {
        Bson::Int32(v) => {
            scaled(*v as i128, 0, percent, bounds, (i32::MIN as i128, i32::MAX as i128)).map(|n| Bson::Int32(n as i32))
        }
        Bson::Int64(v) => {
            scaled(*v as i128, 0, percent, bounds, (i64::MIN as i128, i64::MAX as i128)).map(|n| Bson::Int64(n as i64))
        }
        Bson::Double(v) if v.is_finite() => {
            let (lo, hi) = bounds.range_f64();
            (lo <= hi).then(|| Bson::Double((v * (1.0 + percent / 100.0)).clamp(lo, hi)))
        }
        Bson::Decimal128(d) => {
            let dec = Dec::parse(&d.to_string())?;
            let coeff = scaled(dec.coeff, dec.scale, percent, bounds, (-DECIMAL_MAX, DECIMAL_MAX))?;
            Dec { coeff, scale: dec.scale }.format().parse::<Decimal128>().ok().map(Bson::Decimal128)
        }
        _ => None,
    }
}

/// The new coefficient: a relative step, at least one unit of the scale, clamped.
fn scaled(coeff: i128, scale: i32, percent: f64, bounds: &Bounds, limit: (i128, i128)) -> Option<i128> {
    let (lo, hi) = bounds.range(scale, limit);
    if lo > hi {
        return None;
    }
    let dir = if percent < 0.0 { -1 } else { 1 };
    let delta = (coeff as f64 * percent / 100.0).round();
    // A step too small for the scale moves by one unit, so the value changes.
    let delta = if delta == 0.0 { dir } else { delta as i128 };
    let new = coeff.saturating_add(delta).clamp(lo, hi);
    // Pressed against a bound: move away from it instead.
    Some(if new == coeff { (coeff - dir).clamp(lo, hi) } else { new })
}
