//! Counters and latencies of a traffic run, fed by the writers from the server's
//! acknowledgements (never from what was planned), read by the interval printer and
//! the final report.

pub mod report;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::plan::OpKind;

/// What became of one operation.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The server acknowledged it; `matched` is documents inserted, matched or deleted.
    Acked { matched: u64, modified: u64 },
    /// Applied, but its write concern was not met (it may yet roll back): never
    /// counted as acknowledged.
    WriteConcernFailed { matched: u64, modified: u64 },
    /// The server refused it, with this error code (or name).
    Failed(String),
    /// An ordered batch stopped at an earlier error, so it was never tried.
    NotExecuted,
    /// Sent, but whether it was applied is unknown (connection lost for good).
    Unknown,
    /// Sent with `w:0`: the server acknowledges nothing.
    Unacknowledged,
    /// Materialized and serialised, never sent (a dry run).
    NotSent,
}

#[derive(Debug, Default, Clone, PartialEq, serde::Serialize)]
pub struct KindCounts {
    pub attempted: u64,
    pub acknowledged: u64,
    /// Inserted, matched (updates, replaces, tombstones) or deleted documents.
    pub matched: u64,
    pub modified: u64,
    /// Applied without meeting the write concern.
    pub write_concern_failed: u64,
    /// Failures by server error code.
    pub failed: BTreeMap<String, u64>,
    pub not_executed: u64,
    pub unknown: u64,
    pub unacknowledged: u64,
    /// Materialized, never sent (a dry run).
    pub not_sent: u64,
}

impl KindCounts {
    fn add(&mut self, outcome: &Outcome) {
        self.attempted += 1;
        match outcome {
            Outcome::Acked { matched, modified } => {
                self.acknowledged += 1;
                self.matched += matched;
                self.modified += modified;
            }
            Outcome::WriteConcernFailed { matched, modified } => {
                self.write_concern_failed += 1;
                self.matched += matched;
                self.modified += modified;
            }
            Outcome::Failed(code) => *self.failed.entry(code.clone()).or_default() += 1,
            Outcome::NotExecuted => self.not_executed += 1,
            Outcome::Unknown => self.unknown += 1,
            Outcome::Unacknowledged => self.unacknowledged += 1,
            Outcome::NotSent => self.not_sent += 1,
        }
    }
}

/// Ops sent more than once, and the time lost to a lost connection.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize)]
pub struct Retries {
    /// Ops sent again because an ordered batch stopped at an earlier op's error.
    pub after_error: u64,
    /// Ops sent again after a lost connection, because their documents showed they
    /// had not applied.
    pub after_reconnect: u64,
    /// Of those, the ops whose documents could not show whether they had applied
    /// (journaled as `retried`: their change events may show twice).
    pub ambiguous: u64,
    /// Seconds from losing the connection to reading the documents back.
    pub disconnected_s: f64,
    /// Seconds of that spent waiting before a reconnection attempt.
    pub backoff_s: f64,
}

struct State {
    kinds: BTreeMap<OpKind, KindCounts>,
    retries: Retries,
    /// Batch times in microseconds, from the first attempt to the last op settled.
    latency: Histogram<u64>,
    interval_acked: BTreeMap<OpKind, u64>,
    interval_latency: Histogram<u64>,
}

pub struct Metrics {
    state: Mutex<State>,
}

impl Default for Metrics {
    fn default() -> Self {
        let histogram = || Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds");
        Metrics {
            state: Mutex::new(State {
                kinds: BTreeMap::new(),
                retries: Retries::default(),
                latency: histogram(),
                interval_acked: BTreeMap::new(),
                interval_latency: histogram(),
            }),
        }
    }
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Latency {
    pub batches: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

fn latency_of(h: &Histogram<u64>) -> Latency {
    let ms = |us: u64| us as f64 / 1000.0;
    Latency {
        batches: h.len(),
        p50_ms: ms(h.value_at_quantile(0.5)),
        p90_ms: ms(h.value_at_quantile(0.9)),
        p99_ms: ms(h.value_at_quantile(0.99)),
        p999_ms: ms(h.value_at_quantile(0.999)),
        max_ms: ms(h.max()),
        mean_ms: h.mean() / 1000.0,
    }
}

impl Metrics {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A writer that panicked mid-update leaves counts that are still the best we have.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records one batch: each operation's outcome and the batch's round trip.
    pub fn record_batch(&self, outcomes: &[(OpKind, Outcome)], round_trip: Option<Duration>) {
        let mut s = self.state();
        // Batches are mostly one kind: look each kind up once per run of it.
        for run in outcomes.chunk_by(|a, b| a.0 == b.0) {
            let kind = run[0].0;
            let counts = s.kinds.entry(kind).or_default();
            run.iter().for_each(|(_, outcome)| counts.add(outcome));
            let acked = run
                .iter()
                .filter(|(_, o)| matches!(o, Outcome::Acked { .. } | Outcome::Unacknowledged | Outcome::NotSent))
                .count();
            if acked > 0 {
                *s.interval_acked.entry(kind).or_default() += acked as u64;
            }
        }
        if let Some(rt) = round_trip {
            let us = (rt.as_micros() as u64).max(1);
            let _ = s.latency.record(us);
            let _ = s.interval_latency.record(us);
        }
    }

    /// Ops sent again after an earlier op's error.
    pub fn record_resent_after_error(&self, ops: u64) {
        self.state().retries.after_error += ops;
    }

    /// Ops sent again after a lost connection, `ambiguous` of them of unknown fate.
    pub fn record_resent(&self, ops: u64, ambiguous: u64) {
        let mut s = self.state();
        s.retries.after_reconnect += ops;
        s.retries.ambiguous += ambiguous;
    }

    pub fn record_backoff(&self, waited: Duration) {
        self.state().retries.backoff_s += waited.as_secs_f64();
    }

    pub fn record_disconnected(&self, lost: Duration) {
        self.state().retries.disconnected_s += lost.as_secs_f64();
    }

    pub fn retries(&self) -> Retries {
        self.state().retries.clone()
    }

    pub fn totals(&self) -> BTreeMap<OpKind, KindCounts> {
        self.state().kinds.clone()
    }

    pub fn latency(&self) -> Latency {
        latency_of(&self.state().latency)
    }

    /// One progress line for the interval just ended; resets the interval counters.
    pub fn interval_line(&self, elapsed: Duration, interval: Duration) -> String {
        let mut s = self.state();
        let secs = interval.as_secs_f64().max(1e-9);
        let total: u64 = s.interval_acked.values().sum();
        let by_kind: Vec<String> =
            s.interval_acked.iter().map(|(k, n)| format!("{} {:.0}", &k.name()[..3], *n as f64 / secs)).collect();
        let lat = latency_of(&s.interval_latency);
        let done: u64 = s.kinds.values().map(|k| k.acknowledged + k.unacknowledged + k.not_sent).sum();
        let failed: u64 = s.kinds.values().map(|k| k.failed.values().sum::<u64>() + k.unknown).sum();
        s.interval_acked.clear();
        s.interval_latency.reset();
        format!(
            "[{:>7.1}s] {:>8.0} ops/s ({})  p50 {:.1}ms p99 {:.1}ms  total {done}{}",
            elapsed.as_secs_f64(),
            total as f64 / secs,
            if by_kind.is_empty() { "idle".to_string() } else { by_kind.join(", ") },
            lat.p50_ms,
            lat.p99_ms,
            if failed > 0 { format!("  failed {failed}") } else { String::new() }
        )
    }
}
