//! The JSON reports forge writes with `--report`, typed as far as the tests read them.
//! Every field here is required: a report without a figure a test asserts on fails
//! that test instead of reading as 0. Fields the tests do not read are ignored, so
//! a report may grow without breaking them.

use std::collections::BTreeMap;

use bson::Bson;
use serde::{Deserialize, Deserializer};

/// The report of `generate --output mongo*` and `mutate` (engine/src/metrics/report.rs).
#[derive(Debug, Deserialize)]
pub struct Report {
    pub seed: u64,
    pub ending: Ending,
    /// Which command wrote the batches that were not all inserts ("client",
    /// "collection"); none for a dry run.
    pub bulk_api: Option<String>,
    /// Counts by kind; a kind the run never attempted has no entry.
    pub ops: BTreeMap<Kind, Counts>,
    /// Failed plugin calls by kind (timeout, trap, out-of-memory, bad-return, ...).
    pub plugin_errors: BTreeMap<String, u64>,
    /// Ops sent more than once, and the time a lost connection cost.
    pub retries: Retries,
    /// Latency percentiles: `all` kinds, and by kind.
    pub latency: Latencies,
    /// How a paced run kept its schedule (none without `--rate-limit`).
    pub schedule: Option<Schedule>,
    /// One sample per metrics interval.
    pub series: Vec<Sample>,
    /// The thresholds checked.
    pub thresholds: Vec<Verdict>,
    pub achieved_rate: f64,
    /// The run's (or this segment's share of the) `--rate-limit`.
    pub target_rate: Option<f64>,
    /// This process's segment: `{index, count}`.
    pub segment: Segment,
    /// A merged report's segments (empty in a segment's own report).
    pub segments: Vec<SegmentRow>,
    pub duration_s: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct Segment {
    pub index: u64,
    pub count: u64,
}

/// One segment's line in a merged report.
#[derive(Debug, Deserialize)]
pub struct SegmentRow {
    pub index: u64,
    pub done: u64,
}

/// The report's `latency`.
#[derive(Debug, Deserialize)]
pub struct Latencies {
    pub all: KindLatency,
    #[serde(flatten)]
    pub kinds: BTreeMap<Kind, KindLatency>,
}

/// Both latencies of a kind.
#[derive(Debug, Deserialize)]
pub struct KindLatency {
    /// Batch sent → acknowledged.
    pub service: Percentiles,
    /// Scheduled → acknowledged.
    pub response: Percentiles,
}

#[derive(Debug, Deserialize)]
pub struct Percentiles {
    pub count: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

/// The report's `schedule`.
#[derive(Debug, Deserialize)]
pub struct Schedule {
    pub late_ops: u64,
    pub max_lag_ms: f64,
    pub slipped_s: f64,
}

/// One interval of the time series.
#[derive(Debug, Deserialize)]
pub struct Sample {
    pub t_s: f64,
    pub interval_s: f64,
    pub lag_ms: f64,
    pub ops: BTreeMap<Kind, Counts>,
}

/// A threshold as checked.
#[derive(Debug, Deserialize)]
pub struct Verdict {
    pub threshold: String,
    pub actual: Option<f64>,
    pub passed: bool,
}

/// The report's `retries`.
#[derive(Debug, Deserialize)]
pub struct Retries {
    /// Ops sent again because an ordered batch stopped at an earlier op's error.
    pub after_error: u64,
    /// Ops sent again after a lost connection.
    pub after_reconnect: u64,
    /// Of those, the ops whose fate the documents could not tell.
    pub ambiguous: u64,
    pub disconnected_s: f64,
}

impl Report {
    /// The counts of `kind`, which the run must have attempted.
    pub fn op(&self, kind: Kind) -> &Counts {
        self.ops.get(&kind).unwrap_or_else(|| panic!("the report has no {kind:?} counts: {self:?}"))
    }

    /// Acknowledged operations of every kind.
    pub fn acknowledged(&self) -> u64 {
        self.ops.values().map(|c| c.acknowledged).sum()
    }
}

/// How the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ending {
    Completed,
    Interrupted,
    Failed,
    Exhausted,
    Aborted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Insert,
    Update,
    Replace,
    Delete,
}

/// One kind's operations by fate, as the server reported them.
#[derive(Debug, Deserialize)]
pub struct Counts {
    pub attempted: u64,
    pub acknowledged: u64,
    /// Documents inserted, matched (updates, replaces, tombstones) or deleted.
    pub matched: u64,
    pub modified: u64,
    /// Applied without meeting the write concern: never acknowledged.
    pub write_concern_failed: u64,
    /// Refusals by server error code.
    pub failed: BTreeMap<String, u64>,
    /// Lost with a connection: written or not, nobody knows.
    pub unknown: u64,
}

/// The report of `forge verify` (engine/src/cli/verify.rs): the `_id`s that differ.
#[derive(Debug, Deserialize)]
pub struct VerifyReport {
    #[serde(deserialize_with = "ids")]
    pub missing: Vec<Bson>,
    #[serde(deserialize_with = "ids")]
    pub extra: Vec<Bson>,
    #[serde(deserialize_with = "ids")]
    pub stale: Vec<Bson>,
}

/// Canonical Extended JSON values as BSON, sorted so lists compare as sets.
fn ids<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Bson>, D::Error> {
    let json = Vec::<serde_json::Value>::deserialize(d)?;
    let mut ids =
        json.into_iter().map(|j| Bson::try_from(j).map_err(serde::de::Error::custom)).collect::<Result<Vec<_>, _>>()?;
    ids.sort_by_key(|b| b.to_string());
    Ok(ids)
}

/// The report of `forge validate` (engine/src/cli/validate.rs).
#[derive(Debug, Deserialize)]
pub struct ValidateReport {
    pub conforming: u64,
    pub rows: Vec<Row>,
}

/// One statistic of the documents against the schema's figure.
#[derive(Debug, Deserialize)]
pub struct Row {
    pub path: String,
    pub metric: String,
    /// Relative distance from the schema's figure.
    pub deviation: f64,
}
