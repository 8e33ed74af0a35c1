//! The time series of a run: one sample per `--metrics-interval`, each with the
//! interval's counts by kind and outcome and its latency percentiles. The live view
//! draws the latest; reports carry them all (and the charts are drawn from them).

use std::collections::BTreeMap;

use super::{KindCounts, KindLatency};
use crate::plan::OpKind;

/// One interval of a run.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Sample {
    /// Seconds from the start of the run to the end of the interval.
    pub t_s: f64,
    /// The interval's length in seconds (the last one may be short).
    pub interval_s: f64,
    /// The rate the run was asked for, if any.
    pub target_rate: Option<f64>,
    /// The ops settled in the interval, by kind and outcome.
    pub ops: BTreeMap<OpKind, KindCounts>,
    /// The latency percentiles of the ops settled in the interval.
    pub latency: BTreeMap<OpKind, KindLatency>,
    /// How far behind its schedule the run was at the end of the interval, in ms.
    pub lag_ms: f64,
    /// Ops done since the start of the run (acknowledged, sent unacknowledged, or
    /// materialized in a dry run).
    pub done_total: u64,
    /// Errors since the start of the run (refused, unknown fate, write concern failed).
    pub errors_total: u64,
    /// A scenario's phase in force at the end of the interval: the last one whose
    /// first operation had been admitted (index in the scenario's phases).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<usize>,
}

impl Sample {
    /// Ops of `kind` done per second in the interval.
    pub fn rate_of(&self, kind: OpKind) -> f64 {
        self.ops.get(&kind).map_or(0.0, |c| done_of(c) as f64 / self.interval_s.max(1e-9))
    }

    /// Ops done per second in the interval, all kinds.
    pub fn rate(&self) -> f64 {
        self.ops.values().map(done_of).sum::<u64>() as f64 / self.interval_s.max(1e-9)
    }

    /// Errors in the interval, all kinds.
    pub fn errors(&self) -> u64 {
        super::errors(&self.ops)
    }

    /// The highest response-time p99 of any kind in the interval, in ms.
    pub fn response_p99_ms(&self) -> f64 {
        self.latency.values().map(|l| l.response.p99_ms).fold(0.0, f64::max)
    }
}

fn done_of(c: &KindCounts) -> u64 {
    c.acknowledged + c.unacknowledged + c.not_sent
}
