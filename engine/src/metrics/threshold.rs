//! Pass/fail criteria on a run's figures, for CI: `update.response.p99<20ms`,
//! `rate>=0.98*target`, `errors==0`. Each is checked at the end of the run (and at
//! every sample when the run should stop at the first miss); the verdicts go into the
//! summary and the report.
//!
//! The figures: `rate` (ops done per second), `count` and `errors` (all kinds, or
//! `KIND.count`, `KIND.errors`), `lag` (the furthest behind its schedule the run was,
//! ms), and latencies `[KIND.]MEASURE.STAT` with MEASURE `service` or `response` and
//! STAT `p50`, `p90`, `p99`, `p99.9`, `max` or `mean` (ms). Durations take `us`, `ms`
//! (the default), `s` or `m`; a rate may be `target` or `F*target`.

use std::collections::BTreeMap;
use std::fmt;

use super::report::LatencyReport;
use super::{KindCounts, Measure};
use crate::plan::OpKind;

/// A parsed threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// As the user wrote it.
    pub text: String,
    figure: Figure,
    cmp: Cmp,
    limit: Limit,
}

#[derive(Debug, Clone, PartialEq)]
enum Figure {
    Rate,
    Count(Option<OpKind>),
    Errors(Option<OpKind>),
    Lag,
    Latency(Option<OpKind>, Measure, Stat),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Stat {
    P50,
    P90,
    P99,
    P999,
    Max,
    Mean,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Cmp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Limit {
    Value(f64),
    /// This share of the target rate.
    Target(f64),
}

/// A threshold that does not parse, naming it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("'{text}': {why}")]
pub struct ThresholdError {
    pub text: String,
    pub why: String,
}

/// What a run measured, as thresholds read it.
pub struct Observed<'a> {
    pub achieved_rate: f64,
    pub target_rate: Option<f64>,
    pub ops: &'a BTreeMap<OpKind, KindCounts>,
    pub latency: &'a LatencyReport,
    pub max_lag_ms: f64,
}

/// A threshold checked.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Verdict {
    /// The threshold as written.
    pub threshold: String,
    /// The figure measured (none when the run has no such figure).
    pub actual: Option<f64>,
    /// The limit it was compared with (a target share resolved to ops/s).
    pub limit: Option<f64>,
    pub passed: bool,
    /// Why it could not be checked, if so.
    pub note: Option<String>,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = if self.passed { "passed" } else { "FAILED" };
        match (self.actual, &self.note) {
            (Some(actual), _) => write!(f, "{}: {status} (measured {})", self.threshold, short(actual)),
            (None, Some(note)) => write!(f, "{}: {status} ({note})", self.threshold),
            (None, None) => write!(f, "{}: {status}", self.threshold),
        }
    }
}

fn short(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 { format!("{v:.0}") } else { format!("{v:.3}") }
}

impl Threshold {
    pub fn parse(text: &str) -> Result<Threshold, ThresholdError> {
        let fail = |why: String| ThresholdError { text: text.to_string(), why };
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let (at, op_len, cmp) = ["<=", ">=", "==", "!=", "<", ">"]
            .iter()
            .filter_map(|op| compact.find(op).map(|at| (at, *op)))
            .min_by_key(|(at, op)| (*at, std::cmp::Reverse(op.len())))
            .map(|(at, op)| (at, op.len(), op))
            .ok_or_else(|| fail("no comparison (<, <=, >, >=, ==, !=)".into()))?;
        let cmp = match cmp {
            "<=" => Cmp::Le,
            ">=" => Cmp::Ge,
            "==" => Cmp::Eq,
            "!=" => Cmp::Ne,
            "<" => Cmp::Lt,
            _ => Cmp::Gt,
        };
        let (name, value) = (&compact[..at], &compact[at + op_len..]);
        let figure = figure(name).map_err(fail)?;
        let limit = limit(&figure, value).map_err(fail)?;
        Ok(Threshold { text: text.trim().to_string(), figure, cmp, limit })
    }

    /// Whether checking it needs a target rate (`target` in the limit).
    pub fn needs_target(&self) -> bool {
        matches!(self.limit, Limit::Target(_))
    }

    pub fn check(&self, seen: &Observed) -> Verdict {
        let limit = match self.limit {
            Limit::Value(v) => Some(v),
            Limit::Target(share) => seen.target_rate.map(|t| share * t),
        };
        let verdict = |actual: Option<f64>, note: Option<String>| {
            let passed = match (actual, limit) {
                (Some(a), Some(l)) => self.cmp.holds(a, l),
                _ => false,
            };
            Verdict { threshold: self.text.clone(), actual, limit, passed, note }
        };
        if limit.is_none() {
            return verdict(None, Some("the run has no target rate".into()));
        }
        let kind_counts = |kind: Option<OpKind>| -> Option<BTreeMap<OpKind, KindCounts>> {
            match kind {
                None => Some(seen.ops.clone()),
                Some(k) => seen.ops.get(&k).map(|c| BTreeMap::from([(k, c.clone())])),
            }
        };
        match &self.figure {
            Figure::Rate => verdict(Some(seen.achieved_rate), None),
            Figure::Lag => verdict(Some(seen.max_lag_ms), None),
            Figure::Count(kind) => match kind_counts(*kind) {
                Some(c) => verdict(Some(super::done(&c) as f64), None),
                None => verdict(None, Some(no_ops(*kind))),
            },
            Figure::Errors(kind) => match kind_counts(*kind) {
                Some(c) => verdict(Some(super::errors(&c) as f64), None),
                None => verdict(None, Some(no_ops(*kind))),
            },
            Figure::Latency(kind, measure, stat) => {
                let l = match kind {
                    None => Some(&seen.latency.all),
                    Some(k) => seen.latency.kinds.get(k),
                };
                match l.map(|l| l.get(*measure)).filter(|p| p.count > 0) {
                    Some(p) => verdict(Some(stat.of(p)), None),
                    None => verdict(None, Some(format!("{} measured", no_ops(*kind)))),
                }
            }
        }
    }
}

fn no_ops(kind: Option<OpKind>) -> String {
    match kind {
        Some(k) => format!("no {} operations", k.name()),
        None => "no operations".into(),
    }
}

impl Cmp {
    fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Cmp::Lt => a < b,
            Cmp::Le => a <= b,
            Cmp::Gt => a > b,
            Cmp::Ge => a >= b,
            Cmp::Eq => a == b,
            Cmp::Ne => a != b,
        }
    }
}

impl Stat {
    fn of(self, p: &super::Percentiles) -> f64 {
        match self {
            Stat::P50 => p.p50_ms,
            Stat::P90 => p.p90_ms,
            Stat::P99 => p.p99_ms,
            Stat::P999 => p.p999_ms,
            Stat::Max => p.max_ms,
            Stat::Mean => p.mean_ms,
        }
    }
}

const FIGURES: &str = "rate, count, errors, lag, or [KIND.]service|response.p50|p90|p99|p99.9|max|mean";

fn figure(name: &str) -> Result<Figure, String> {
    let parts: Vec<&str> = name.splitn(3, '.').collect();
    let kind = |s: &str| OpKind::ALL.into_iter().find(|k| k.name() == s);
    let unknown = || format!("unknown figure '{name}' (expected {FIGURES})");
    // `p99.9` holds a dot: split a latency from the right-hand statistic.
    if let Some((head, stat)) = latency_parts(name) {
        let (kind, measure) = match head.split_once('.') {
            Some((k, m)) => (Some(kind(k).ok_or_else(|| format!("unknown operation kind '{k}'"))?), m),
            None => (None, head),
        };
        let measure = match measure {
            "service" => Measure::Service,
            "response" => Measure::Response,
            _ => return Err(unknown()),
        };
        return Ok(Figure::Latency(kind, measure, stat));
    }
    match parts.as_slice() {
        ["rate"] => Ok(Figure::Rate),
        ["lag"] => Ok(Figure::Lag),
        ["count"] => Ok(Figure::Count(None)),
        ["errors"] => Ok(Figure::Errors(None)),
        [k, "count"] => Ok(Figure::Count(Some(kind(k).ok_or_else(|| format!("unknown operation kind '{k}'"))?))),
        [k, "errors"] => Ok(Figure::Errors(Some(kind(k).ok_or_else(|| format!("unknown operation kind '{k}'"))?))),
        _ => Err(unknown()),
    }
}

/// `[KIND.]MEASURE` and the statistic, for a latency figure.
fn latency_parts(name: &str) -> Option<(&str, Stat)> {
    let stats = [
        (".p99.9", Stat::P999),
        (".p999", Stat::P999),
        (".p50", Stat::P50),
        (".p90", Stat::P90),
        (".p99", Stat::P99),
        (".max", Stat::Max),
        (".mean", Stat::Mean),
    ];
    stats.into_iter().find_map(|(suffix, stat)| name.strip_suffix(suffix).map(|head| (head, stat)))
}

fn limit(figure: &Figure, value: &str) -> Result<Limit, String> {
    let number = |s: &str| s.parse::<f64>().ok().filter(|v| v.is_finite());
    match figure {
        Figure::Rate => {
            if value == "target" {
                return Ok(Limit::Target(1.0));
            }
            if let Some(share) = value.strip_suffix("*target") {
                return number(share).map(Limit::Target).ok_or_else(|| format!("'{share}' is not a number"));
            }
            number(value).map(Limit::Value).ok_or_else(|| format!("'{value}' is not ops/s, target or F*target"))
        }
        Figure::Count(_) | Figure::Errors(_) => {
            number(value).map(Limit::Value).ok_or_else(|| format!("'{value}' is not a number"))
        }
        Figure::Lag | Figure::Latency(..) => {
            let units = [("us", 0.001), ("ms", 1.0), ("s", 1000.0), ("m", 60_000.0)];
            let (digits, scale) = units
                .iter()
                .find_map(|(unit, scale)| value.strip_suffix(unit).map(|d| (d, *scale)))
                .unwrap_or((value, 1.0));
            number(digits)
                .map(|v| Limit::Value(v * scale))
                .ok_or_else(|| format!("'{value}' is not a duration (e.g. 20ms, 1.5s)"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{KindLatency, Percentiles};

    fn observed<'a>(ops: &'a BTreeMap<OpKind, KindCounts>, latency: &'a LatencyReport) -> Observed<'a> {
        Observed { achieved_rate: 990.0, target_rate: Some(1000.0), ops, latency, max_lag_ms: 2100.0 }
    }

    #[test]
    fn thresholds_parse_and_check() {
        let mut ops = BTreeMap::new();
        ops.insert(OpKind::Update, KindCounts { attempted: 10, acknowledged: 9, unknown: 1, ..Default::default() });
        let p = Percentiles { count: 9, p50_ms: 2.0, p99_ms: 15.0, p999_ms: 2500.0, ..Default::default() };
        let latency = LatencyReport {
            all: KindLatency { service: p.clone(), response: p.clone() },
            kinds: BTreeMap::from([(OpKind::Update, KindLatency { service: p.clone(), response: p })]),
        };
        let seen = observed(&ops, &latency);
        let check = |text: &str| Threshold::parse(text).unwrap().check(&seen);
        assert!(check("update.response.p99<20ms").passed);
        assert!(!check("update.response.p99.9 < 2s").passed);
        assert!(check("response.p99.9>=2.5s").passed);
        assert!(check("rate>=0.98*target").passed);
        assert!(!check("rate>=target").passed);
        assert!(!check("errors==0").passed);
        assert!(check("update.errors<=1").passed);
        assert!(check("count==9").passed);
        assert!(check("lag<3s").passed);
        // No inserts ran: a threshold on them fails rather than passing on nothing.
        let none = check("insert.service.p50<1s");
        assert!(!none.passed && none.note.as_deref() == Some("no insert operations measured"), "{none:?}");
        assert_eq!(check("update.response.p99<20ms").actual, Some(15.0));
    }

    #[test]
    fn malformed_thresholds_are_named() {
        for (text, why) in [
            ("p99<20ms", "unknown figure 'p99'"),
            ("upsert.response.p99<1ms", "unknown operation kind 'upsert'"),
            ("rate>=fast", "'fast' is not ops/s"),
            ("errors", "no comparison"),
            ("update.response.p99<20 parsecs", "is not a duration"),
        ] {
            let e = Threshold::parse(text).unwrap_err();
            assert!(e.to_string().starts_with(&format!("'{text}'")) && e.why.contains(why), "{text}: {e}");
        }
        assert!(Threshold::parse("rate >= 0.5*target").unwrap().needs_target());
    }
}
