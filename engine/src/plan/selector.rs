//! Operation kinds, their weights (`insert:50,update:40,delete:10`), and the seeded
//! choice among them.

use rand::Rng as _;

use crate::seed::Rng;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpKind {
    Insert,
    Update,
    Replace,
    Delete,
}

impl OpKind {
    pub const ALL: [OpKind; 4] = [OpKind::Insert, OpKind::Update, OpKind::Replace, OpKind::Delete];

    pub fn name(self) -> &'static str {
        match self {
            OpKind::Insert => "insert",
            OpKind::Update => "update",
            OpKind::Replace => "replace",
            OpKind::Delete => "delete",
        }
    }
}

/// An operation mix that does not parse.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RatiosError {
    #[error("'{0}' is not kind:weight (e.g. insert:50,update:40,delete:10)")]
    NotKindWeight(String),
    #[error("unknown operation '{name}' (expected {expected})")]
    UnknownKind { name: String, expected: String },
    #[error("weight of {name} must be a non-negative number, not '{weight}'")]
    BadWeight { name: String, weight: String },
    #[error("{0} is given twice")]
    Twice(String),
    #[error("at least one operation needs a positive weight")]
    NothingPositive,
}

/// Weighted choice of an operation kind.
#[derive(Debug, Clone, PartialEq)]
pub struct OpSelector {
    weights: Vec<(OpKind, f64)>,
    total: f64,
}

impl OpSelector {
    /// Parses `kind:weight,...`; `allowed` lists the kinds this command accepts.
    /// Weights are relative (they need not add up to 100).
    pub fn parse(spec: &str, allowed: &[OpKind]) -> Result<Self, RatiosError> {
        let mut weights: Vec<(OpKind, f64)> = Vec::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, weight) = part.split_once(':').ok_or_else(|| RatiosError::NotKindWeight(part.to_owned()))?;
            let name = name.trim();
            let kind = allowed.iter().copied().find(|k| k.name() == name).ok_or_else(|| {
                let names: Vec<_> = allowed.iter().map(|k| k.name()).collect();
                RatiosError::UnknownKind { name: name.to_owned(), expected: names.join(", ") }
            })?;
            let weight: f64 =
                weight.trim().parse().ok().filter(|w: &f64| w.is_finite() && *w >= 0.0).ok_or_else(|| {
                    RatiosError::BadWeight { name: name.to_owned(), weight: weight.trim().to_owned() }
                })?;
            if weights.iter().any(|(k, _)| *k == kind) {
                return Err(RatiosError::Twice(name.to_owned()));
            }
            weights.push((kind, weight));
        }
        let total: f64 = weights.iter().map(|(_, w)| w).sum();
        if total <= 0.0 {
            return Err(RatiosError::NothingPositive);
        }
        weights.retain(|(_, w)| *w > 0.0);
        Ok(OpSelector { weights, total })
    }

    pub fn only(kind: OpKind) -> Self {
        OpSelector { weights: vec![(kind, 1.0)], total: 1.0 }
    }

    pub fn inserts_only(&self) -> bool {
        self.weights.iter().all(|(k, _)| *k == OpKind::Insert)
    }

    pub fn pick(&self, rng: &mut Rng) -> OpKind {
        if self.weights.len() == 1 {
            return self.weights[0].0;
        }
        let mut r = rng.random::<f64>() * self.total;
        for (kind, w) in &self.weights {
            if r < *w {
                return *kind;
            }
            r -= w;
        }
        self.weights[self.weights.len() - 1].0
    }

    /// The share of each kind, for reports.
    pub fn shares(&self) -> Vec<(OpKind, f64)> {
        self.weights.iter().map(|(k, w)| (*k, w / self.total)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    const ALL: &[OpKind] = &OpKind::ALL;

    #[test]
    fn parses_and_picks_by_weight() {
        let s = OpSelector::parse("insert:50, update:40,delete:10", ALL).unwrap();
        let mut rng = Rng::seed_from_u64(1);
        let mut counts = [0u32; 4];
        for _ in 0..100_000 {
            let kind = s.pick(&mut rng);
            counts[OpKind::ALL.iter().position(|k| *k == kind).unwrap()] += 1;
        }
        assert!((counts[0] as f64 / 1000.0 - 50.0).abs() < 1.0, "{counts:?}");
        assert!((counts[1] as f64 / 1000.0 - 40.0).abs() < 1.0, "{counts:?}");
        assert_eq!(counts[2], 0);
    }

    #[test]
    fn rejects_bad_specs_with_the_culprit() {
        for (spec, culprit) in [
            ("insert", "insert"),
            ("insrt:5", "insrt"),
            ("insert:-1", "-1"),
            ("insert:x", "'x'"),
            ("update:0", "positive"),
            ("update:1,update:2", "twice"),
            ("", "positive"),
        ] {
            let e = OpSelector::parse(spec, ALL).unwrap_err().to_string();
            assert!(e.contains(culprit), "{spec}: {e}");
        }
        assert!(
            OpSelector::parse("insert:1", &[OpKind::Update, OpKind::Delete])
                .unwrap_err()
                .to_string()
                .contains("insert")
        );
    }
}
