//! One report from the reports of several processes that drove the same run side by
//! side (a run split across machines): counts add up, histograms merge without loss
//! (so the merged percentiles are exact), and the time series merges interval by
//! interval. A sample holds percentiles, not histograms, so a merged sample's
//! percentiles are the highest any process saw in that interval: an upper bound.

use std::collections::BTreeMap;

use super::latency::{DecodeError, Latencies};
use super::report::{Ending, LatencyReport, Report};
use super::{KindLatency, Percentiles, Sample};
use crate::plan::OpKind;

/// Why reports cannot be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("no report to merge")]
    Empty,
    #[error("the reports are of different runs: {0}")]
    Mismatch(String),
    #[error(transparent)]
    Histogram(#[from] DecodeError),
}

/// The report of the whole run that `reports` each saw a part of.
pub fn merge(reports: &[Report]) -> Result<Report, MergeError> {
    let (first, rest) = reports.split_first().ok_or(MergeError::Empty)?;
    if let Some(other) = rest.iter().find(|r| r.namespace != first.namespace) {
        return Err(MergeError::Mismatch(format!("{} and {}", first.namespace, other.namespace)));
    }
    let mut merged = first.clone();
    let mut latencies = decode_all(first)?;
    for report in rest {
        for (kind, counts) in &report.ops {
            merged.ops.entry(*kind).or_default().merge(counts);
        }
        for (kind, l) in decode_all(report)? {
            latencies.entry(kind).or_default().add(&l);
        }
        for (kind, n) in &report.skipped {
            *merged.skipped.entry(*kind).or_default() += n;
        }
        for (kind, n) in &report.plugin_errors {
            *merged.plugin_errors.entry(kind.clone()).or_default() += n;
        }
        merged.converted_to_insert += report.converted_to_insert;
        merged.warmup_inserts += report.warmup_inserts;
        merged.duration_s = merged.duration_s.max(report.duration_s);
        merged.target_rate = match (merged.target_rate, report.target_rate) {
            (Some(a), Some(b)) => Some(a + b),
            _ => None,
        };
        merged.ending = worst(merged.ending, report.ending);
        merged.error = merged.error.or_else(|| report.error.clone());
        merged.schedule = match (merged.schedule.take(), &report.schedule) {
            (Some(mut a), Some(b)) => {
                a.late_ops += b.late_ops;
                a.max_lag_ms = a.max_lag_ms.max(b.max_lag_ms);
                a.slipped_s = a.slipped_s.max(b.slipped_s);
                Some(a)
            }
            (a, b) => a.or_else(|| b.clone()),
        };
        let r = &report.retries;
        merged.retries.after_error += r.after_error;
        merged.retries.after_reconnect += r.after_reconnect;
        merged.retries.ambiguous += r.ambiguous;
        merged.retries.disconnected_s = merged.retries.disconnected_s.max(r.disconnected_s);
        merged.retries.backoff_s = merged.retries.backoff_s.max(r.backoff_s);
        merged.series = merge_series(&merged.series, &report.series);
        merged.thresholds.extend(report.thresholds.iter().cloned());
    }
    merged.achieved_rate = super::done(&merged.ops) as f64 / merged.duration_s.max(1e-9);
    merged.latency = LatencyReport {
        all: super::latency::overall(&latencies).percentiles(),
        kinds: latencies.iter().map(|(k, l)| (*k, l.percentiles())).collect(),
    };
    merged.histograms = latencies.iter().map(|(k, l)| (*k, l.encode())).collect();
    Ok(merged)
}

fn decode_all(report: &Report) -> Result<BTreeMap<OpKind, Latencies>, DecodeError> {
    report.histograms.iter().map(|(k, e)| Ok((*k, e.decode()?))).collect()
}

/// The ending that says most: a failure over an interruption over a completion.
fn worst(a: Ending, b: Ending) -> Ending {
    let rank = |e: Ending| match e {
        Ending::Failed => 4,
        Ending::Aborted => 3,
        Ending::Interrupted => 2,
        Ending::Exhausted => 1,
        Ending::Completed => 0,
    };
    if rank(b) > rank(a) { b } else { a }
}

/// Sample `i` of each series together (the processes sampled at the same interval
/// from their own start).
fn merge_series(a: &[Sample], b: &[Sample]) -> Vec<Sample> {
    let n = a.len().max(b.len());
    (0..n)
        .map(|i| match (a.get(i), b.get(i)) {
            (Some(x), Some(y)) => merge_sample(x, y),
            (Some(x), None) | (None, Some(x)) => x.clone(),
            (None, None) => unreachable!("i < the longer length"),
        })
        .collect()
}

fn merge_sample(a: &Sample, b: &Sample) -> Sample {
    let mut merged = a.clone();
    merged.t_s = a.t_s.max(b.t_s);
    merged.interval_s = a.interval_s.max(b.interval_s);
    merged.target_rate = match (a.target_rate, b.target_rate) {
        (Some(x), Some(y)) => Some(x + y),
        _ => None,
    };
    for (kind, counts) in &b.ops {
        merged.ops.entry(*kind).or_default().merge(counts);
    }
    for (kind, l) in &b.latency {
        let m = merged.latency.entry(*kind).or_default();
        *m = KindLatency { service: upper(&m.service, &l.service), response: upper(&m.response, &l.response) };
    }
    merged.lag_ms = a.lag_ms.max(b.lag_ms);
    merged.done_total = a.done_total + b.done_total;
    merged.errors_total = a.errors_total + b.errors_total;
    merged
}

/// The higher of two percentile sets, figure by figure (counts add up).
fn upper(a: &Percentiles, b: &Percentiles) -> Percentiles {
    let total = a.count + b.count;
    let mean = if total == 0 { 0.0 } else { (a.mean_ms * a.count as f64 + b.mean_ms * b.count as f64) / total as f64 };
    Percentiles {
        count: total,
        p50_ms: a.p50_ms.max(b.p50_ms),
        p90_ms: a.p90_ms.max(b.p90_ms),
        p99_ms: a.p99_ms.max(b.p99_ms),
        p999_ms: a.p999_ms.max(b.p999_ms),
        max_ms: a.max_ms.max(b.max_ms),
        mean_ms: mean,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::metrics::{KindCounts, Metrics, Outcome, Settled};

    /// The report of a process that acknowledged `n` inserts with these latencies.
    fn report_of(metrics: &Metrics, target: f64) -> Report {
        metrics.sample();
        let latencies = metrics.latencies();
        let ops = metrics.totals();
        Report {
            forge_version: "test".into(),
            command: "test".into(),
            namespace: "db.c".into(),
            dry_run: false,
            seed: 1,
            seed_given: "1".into(),
            segment: crate::segment::Segment::WHOLE,
            segments: Vec::new(),
            started_at: String::new(),
            duration_s: 2.0,
            ending: Ending::Completed,
            bulk_api: None,
            failure: None,
            error: None,
            target_rate: Some(target),
            achieved_rate: super::super::done(&ops) as f64 / 2.0,
            ops,
            requested_mix: BTreeMap::new(),
            converted_to_insert: 0,
            skipped: BTreeMap::new(),
            plugin_errors: BTreeMap::new(),
            warmup_inserts: 0,
            latency: crate::traffic::latency_report(&latencies),
            histograms: latencies.iter().map(|(k, l)| (*k, l.encode())).collect(),
            schedule: None,
            series: metrics.series(),
            thresholds: Vec::new(),
            retries: Default::default(),
            flags: Vec::new(),
        }
    }

    fn acked(metrics: &Metrics, kind: OpKind, ms: &[u64]) {
        let ops: Vec<Settled> = ms
            .iter()
            .map(|ms| Settled {
                kind,
                outcome: Outcome::Acked { matched: 1, modified: 0 },
                service: Some(Duration::from_millis(*ms)),
                response: Some(Duration::from_millis(*ms * 2)),
            })
            .collect();
        metrics.record(&ops);
    }

    #[test]
    fn merged_reports_have_the_counts_and_exact_percentiles_of_one_process_doing_both() {
        let (a, b, both) = (Metrics::default(), Metrics::default(), Metrics::default());
        let slow: Vec<u64> = (1..=990).map(|i| i % 7 + 1).chain([2500; 10]).collect();
        let fast: Vec<u64> = (1..=500).map(|i| i % 3 + 1).collect();
        acked(&a, OpKind::Insert, &slow);
        acked(&b, OpKind::Insert, &fast);
        acked(&b, OpKind::Update, &fast);
        for (kind, ms) in [(OpKind::Insert, &slow), (OpKind::Insert, &fast), (OpKind::Update, &fast)] {
            acked(&both, kind, ms);
        }
        let merged = merge(&[report_of(&a, 500.0), report_of(&b, 500.0)]).unwrap();
        let expected = report_of(&both, 1000.0);
        assert_eq!(merged.ops, expected.ops);
        assert_eq!(merged.latency, expected.latency);
        assert_eq!(merged.histograms, expected.histograms);
        assert_eq!(merged.target_rate, Some(1000.0));
        assert_eq!(merged.series.len(), 1);
        let insert: &KindCounts = &merged.series[0].ops[&OpKind::Insert];
        assert_eq!(insert.acknowledged, 1500);
        assert_eq!(merged.series[0].latency[&OpKind::Insert].response.max_ms, expected.latency.all.response.max_ms);
        let other = Report { namespace: "db.other".into(), ..report_of(&b, 1.0) };
        assert!(matches!(merge(&[report_of(&a, 1.0), other]), Err(MergeError::Mismatch(_))));
        assert!(matches!(merge(&[]), Err(MergeError::Empty)));
    }
}
