//! One report from the reports of the segments of one run (`--segments`: processes
//! or machines that drove it side by side): counts add up, histograms merge without
//! loss (so the merged percentiles are exact), the achieved rate is over the union of
//! the segments' windows, and the time series merges interval by interval (the
//! segments share a start time). A sample holds percentiles, not histograms, so a
//! merged sample's percentiles are the highest any segment saw in that interval: an
//! upper bound.

use std::collections::BTreeMap;

use super::latency::{DecodeError, Latencies};
use super::report::{Ending, LatencyReport, Report, SegmentRow};
use super::{KindLatency, Percentiles, Sample};
use crate::plan::OpKind;
use crate::segment::Segment;

/// Why reports cannot be merged. Reports are named by their place in the list.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("no report to merge")]
    Empty,
    #[error("reports {first} and {other} are of different runs: {what}")]
    Mismatch { first: usize, other: usize, what: String },
    #[error("reports {first} and {other} are both of {segment}")]
    SameSegment { first: usize, other: usize, segment: Segment },
    #[error("reports {first} and {other} are both of a whole run: only the segments of one run merge")]
    WholeRuns { first: usize, other: usize },
    #[error("report {report}: {source}")]
    Histogram {
        report: usize,
        #[source]
        source: DecodeError,
    },
}

/// The report of the whole run that `reports` each saw a part of. Segments without a
/// report are listed as missing in [`Report::segments`]; the caller decides what an
/// incomplete run means.
pub fn merge(reports: &[Report]) -> Result<Report, MergeError> {
    let (first, rest) = reports.split_first().ok_or(MergeError::Empty)?;
    check_one_run(reports)?;
    let mut merged = first.clone();
    let mut latencies = decode_all(first).map_err(|source| MergeError::Histogram { report: 0, source })?;
    for (i, report) in rest.iter().enumerate() {
        for (kind, counts) in &report.ops {
            merged.ops.entry(*kind).or_default().merge(counts);
        }
        let decoded = decode_all(report).map_err(|source| MergeError::Histogram { report: i + 1, source })?;
        for (kind, l) in decoded {
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
    }
    let count = first.segment.count;
    // Every segment has its share of the run's target; the run's is all of them.
    merged.target_rate = first.target_rate.map(|share| share * count as f64);
    // The run's target in every interval too, whichever segments reported.
    for sample in &mut merged.series {
        sample.target_rate = merged.target_rate;
    }
    let (started_at, duration_s) = union_window(reports);
    merged.started_at = started_at;
    merged.duration_s = duration_s;
    merged.achieved_rate = super::done(&merged.ops) as f64 / merged.duration_s.max(1e-9);
    merged.latency = LatencyReport {
        all: super::latency::overall(&latencies).percentiles(),
        kinds: latencies.iter().map(|(k, l)| (*k, l.percentiles())).collect(),
    };
    merged.histograms = latencies.iter().map(|(k, l)| (*k, l.encode())).collect();
    merged.segment = Segment::WHOLE;
    merged.segments = Segment::all(count)
        .map(|segment| match reports.iter().find(|r| r.segment == segment) {
            Some(r) => SegmentRow {
                index: segment.index,
                ending: Some(r.ending),
                done: super::done(&r.ops),
                errors: super::errors(&r.ops),
                duration_s: r.duration_s,
                achieved_rate: r.achieved_rate,
                response_p99_ms: (r.latency.all.response.count > 0).then_some(r.latency.all.response.p99_ms),
            },
            None => SegmentRow {
                index: segment.index,
                ending: None,
                done: 0,
                errors: 0,
                duration_s: 0.0,
                achieved_rate: 0.0,
                response_p99_ms: None,
            },
        })
        .collect();
    // The thresholds are the caller's to check again, on the merged figures.
    merged.thresholds = Vec::new();
    Ok(merged)
}

/// The reports are of one run (namespace, seed, segment count) and of distinct
/// segments.
fn check_one_run(reports: &[Report]) -> Result<(), MergeError> {
    let first = &reports[0];
    for (i, r) in reports.iter().enumerate().skip(1) {
        let what = if r.namespace != first.namespace {
            Some(format!("{} and {}", first.namespace, r.namespace))
        } else if r.seed != first.seed {
            Some(format!("seed {} and seed {}", first.seed_given, r.seed_given))
        } else if r.segment.count != first.segment.count {
            Some(format!("{} and {} segments", first.segment.count, r.segment.count))
        } else if r.dry_run != first.dry_run {
            Some("a dry run and a run that wrote".into())
        } else if r.target_rate != first.target_rate {
            let rate = |t: Option<f64>| t.map_or("no rate limit".to_string(), |t| format!("{t} ops/s"));
            Some(format!("{} and {} per segment", rate(first.target_rate), rate(r.target_rate)))
        } else {
            None
        };
        if let Some(what) = what {
            return Err(MergeError::Mismatch { first: 0, other: i, what });
        }
        if let Some(j) = reports[..i].iter().position(|o| o.segment == r.segment) {
            if r.segment.is_whole() {
                return Err(MergeError::WholeRuns { first: j, other: i });
            }
            return Err(MergeError::SameSegment { first: j, other: i, segment: r.segment });
        }
    }
    Ok(())
}

/// From the first segment's start to the last one's end: RFC 3339 and seconds. Without
/// start times (reports of an older forge), the longest duration.
fn union_window(reports: &[Report]) -> (String, f64) {
    let windows: Option<Vec<(i64, i64)>> = reports
        .iter()
        .map(|r| {
            let start = bson::DateTime::parse_rfc3339_str(&r.started_at).ok()?.timestamp_millis();
            Some((start, start + (r.duration_s * 1000.0) as i64))
        })
        .collect();
    match windows {
        Some(w) if !w.is_empty() => {
            let start = w.iter().map(|(s, _)| *s).min().unwrap_or(0);
            let end = w.iter().map(|(_, e)| *e).max().unwrap_or(start);
            let at = bson::DateTime::from_millis(start).try_to_rfc3339_string().unwrap_or_default();
            (at, (end - start) as f64 / 1000.0)
        }
        _ => (reports[0].started_at.clone(), reports.iter().map(|r| r.duration_s).fold(0.0, f64::max)),
    }
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
    merged.phase = a.phase.max(b.phase);
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
            phases: Vec::new(),
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
        let of = |k, r: Report| Report { segment: Segment::new(k, 2).unwrap(), ..r };
        let merged = merge(&[of(0, report_of(&a, 500.0)), of(1, report_of(&b, 500.0))]).unwrap();
        let expected = report_of(&both, 1000.0);
        assert_eq!(merged.ops, expected.ops);
        assert_eq!(merged.latency, expected.latency);
        assert_eq!(merged.histograms, expected.histograms);
        assert_eq!(merged.target_rate, Some(1000.0));
        assert_eq!(merged.series.len(), 1);
        let insert: &KindCounts = &merged.series[0].ops[&OpKind::Insert];
        assert_eq!(insert.acknowledged, 1500);
        assert_eq!(merged.series[0].latency[&OpKind::Insert].response.max_ms, expected.latency.all.response.max_ms);
        assert_eq!(
            merged.segments.iter().map(|s| (s.index, s.ending)).collect::<Vec<_>>(),
            [(0, Some(Ending::Completed)), (1, Some(Ending::Completed))]
        );
        assert_eq!(merged.segments[1].done, 1000);
    }

    #[test]
    fn reports_of_other_runs_or_of_one_segment_twice_are_refused_and_missing_ones_listed() {
        let m = Metrics::default();
        acked(&m, OpKind::Insert, &[1, 2, 3]);
        let of = |index, count| Report { segment: Segment::new(index, count).unwrap(), ..report_of(&m, 10.0) };
        let message = |reports: &[Report]| merge(reports).unwrap_err().to_string();
        let other = Report { namespace: "db.other".into(), ..of(1, 3) };
        assert_eq!(message(&[of(0, 3), other]), "reports 0 and 1 are of different runs: db.c and db.other");
        let other = Report { seed: 2, seed_given: "2".into(), ..of(1, 3) };
        assert_eq!(message(&[of(0, 3), other]), "reports 0 and 1 are of different runs: seed 1 and seed 2");
        assert_eq!(message(&[of(0, 3), of(1, 2)]), "reports 0 and 1 are of different runs: 3 and 2 segments");
        assert_eq!(message(&[of(0, 3), of(2, 3), of(2, 3)]), "reports 1 and 2 are both of segment 2 of 3");
        assert!(matches!(merge(&[]), Err(MergeError::Empty)));
        let merged = merge(&[of(0, 3), of(2, 3)]).unwrap();
        assert_eq!(merged.segments[1].ending, None, "segment 1 is missing");
        assert_eq!(merged.target_rate, Some(30.0), "the run's target, not the two segments'");
        assert_eq!(merged.acknowledged(), 6);
    }
}
