//! The final report: printed as a summary at the end of every run, and written as
//! JSON with `--report FILE`. It is built from the metrics whatever way the run ended.

use std::collections::BTreeMap;

use super::latency::EncodedLatencies;
use super::{KindCounts, KindLatency, Retries, Sample, Schedule};
use crate::plan::OpKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ending {
    /// Reached `--count` or `--duration`.
    Completed,
    /// Stopped by Ctrl-C after the in-flight batches.
    Interrupted,
    /// Stopped by an error (lost connection, failing plugin, ...).
    Failed,
    /// A mutation run ran out of documents to target.
    Exhausted,
    /// Stopped when a threshold failed (`--abort-on-threshold`).
    Aborted,
}

impl Ending {
    /// The name the report uses.
    pub fn name(self) -> &'static str {
        match self {
            Ending::Completed => "completed",
            Ending::Interrupted => "interrupted",
            Ending::Failed => "failed",
            Ending::Exhausted => "exhausted",
            Ending::Aborted => "aborted",
        }
    }
}

/// One segment's line in a merged report.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SegmentRow {
    /// K, of the merged report's segment count.
    pub index: u64,
    /// How its run ended; `None`: no report of it was merged (missing).
    pub ending: Option<Ending>,
    /// Operations the server settled (acknowledged or refused).
    pub done: u64,
    pub errors: u64,
    pub duration_s: f64,
    pub achieved_rate: f64,
    /// Its response time's p99 over all kinds, milliseconds.
    pub response_p99_ms: Option<f64>,
}

/// A run's report. Serialised as the JSON of `--report`, and read back from it (to
/// draw charts, to merge the reports of several processes).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Report {
    pub forge_version: String,
    pub command: String,
    pub namespace: String,
    /// Nothing was sent: every write was materialized and serialised, then dropped.
    pub dry_run: bool,
    /// The run seed, as used.
    pub seed: u64,
    /// The seed as given (text seeds are hashed into `seed`).
    pub seed_given: String,
    /// The part of the run this process drove (`--segments`); a merged report's is
    /// the whole run.
    #[serde(default)]
    pub segment: crate::segment::Segment,
    /// The segments a merged report is made of, one row each; empty otherwise.
    #[serde(default)]
    pub segments: Vec<SegmentRow>,
    /// When the measured run started (after the `--start-at` barrier), RFC 3339.
    pub started_at: String,
    pub duration_s: f64,
    pub ending: Ending,
    /// Which command wrote the batches that were not all inserts ("client": bulkWrite,
    /// "collection": insert/update/delete); none for a dry run.
    pub bulk_api: Option<String>,
    /// Why the run failed, typed for the caller to explain (not in the JSON).
    #[serde(skip)]
    pub failure: Option<std::sync::Arc<crate::traffic::RunError>>,
    /// Why the run failed, as text.
    pub error: Option<String>,
    pub target_rate: Option<f64>,
    pub achieved_rate: f64,
    pub ops: BTreeMap<OpKind, KindCounts>,
    /// The share of each kind the run was asked for (`--operation-ratios`).
    pub requested_mix: BTreeMap<OpKind, f64>,
    /// Updates and deletes that found no target and were written as inserts.
    pub converted_to_insert: u64,
    /// Operations planned and given to a plugin that answered `skip`: never written.
    pub skipped: BTreeMap<OpKind, u64>,
    /// Plugin calls that failed, by kind (timeout, trap, out-of-memory, bad-return,
    /// plugin-error); with `--on-plugin-error skip` each one is a skipped operation.
    pub plugin_errors: BTreeMap<String, u64>,
    pub warmup_inserts: u64,
    /// Service and response time percentiles, all kinds together and by kind.
    pub latency: LatencyReport,
    /// The histograms the percentiles come from (HdrHistogram V2, compressed, base64;
    /// microseconds), by kind: reports of several processes merge without loss.
    pub histograms: BTreeMap<OpKind, EncodedLatencies>,
    /// How a paced run kept to its schedule; none without `--rate-limit`.
    pub schedule: Option<Schedule>,
    /// One sample per metrics interval.
    pub series: Vec<Sample>,
    /// The thresholds checked, and whether each held.
    pub thresholds: Vec<crate::metrics::threshold::Verdict>,
    /// Ops sent more than once, and the time a lost connection cost.
    pub retries: Retries,
    /// The command line, password redacted.
    pub flags: Vec<String>,
    /// A scenario's phases, in order (empty for other runs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phases: Vec<PhaseTally>,
}

/// What a run did in one phase of a scenario.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PhaseTally {
    /// The phase's name in the scenario (empty in reports written before names).
    #[serde(default)]
    pub name: String,
    /// steady, ramp, pause or unpaced (empty in reports written before kinds).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// When it was due to start, in seconds after the run started (`None` after an
    /// unpaced phase, whose length is not known beforehand).
    #[serde(default)]
    pub scheduled_start_s: Option<f64>,
    /// Operations the phase planned that the server acknowledged.
    pub acknowledged: u64,
    /// When its first operation was admitted, in seconds after the run started;
    /// `None` for a pause, or a phase the run never reached.
    pub started_s: Option<f64>,
}

/// Latency percentiles of a run.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LatencyReport {
    /// All kinds together.
    pub all: KindLatency,
    #[serde(flatten)]
    pub kinds: BTreeMap<OpKind, KindLatency>,
}

impl Report {
    pub fn acknowledged(&self) -> u64 {
        self.ops.values().map(|k| k.acknowledged).sum()
    }

    /// A human summary for stderr.
    pub fn summary(&self) -> String {
        let done = if self.dry_run {
            let planned: u64 = self.ops.values().map(|k| k.not_sent).sum();
            format!("dry run, {planned} operations materialized, none sent")
        } else {
            format!("{} operations acknowledged", self.acknowledged())
        };
        let on = match (self.segment.is_whole(), self.segments.len()) {
            (false, _) => format!("{} ({})", self.namespace, self.segment),
            (true, n) if n > 1 => format!("{} ({n} segments merged)", self.namespace),
            _ => self.namespace.clone(),
        };
        let mut out = format!(
            "{} {} on {on}: {} after {:.1}s, {done}, {:.0} ops/s{}\n",
            self.command,
            if self.error.is_some() { "stopped" } else { "finished" },
            self.ending.name(),
            self.duration_s,
            self.achieved_rate,
            self.target_rate
                .map(|r| format!(" (target {r}: {:.1}%)", 100.0 * self.achieved_rate / r.max(1e-9)))
                .unwrap_or_default()
        );
        if let Some(api) = &self.bulk_api {
            out.push_str(&format!("  bulk API: {api}\n"));
        }
        for (kind, c) in &self.ops {
            if self.dry_run {
                out.push_str(&format!("  {:<8} materialized {:>9}\n", kind.name(), c.not_sent));
                continue;
            }
            let failed: u64 = c.failed.values().sum();
            // Inserts and deletes modify nothing; for updates and replaces, matched but
            // not modified means no change, hence no change event.
            let modified = match kind {
                OpKind::Update | OpKind::Replace => format!("  modified {:>9}", c.modified),
                _ => String::new(),
            };
            out.push_str(&format!(
                "  {:<8} attempted {:>9}  acknowledged {:>9}  matched {:>9}{modified}{}{}{}{}\n",
                kind.name(),
                c.attempted,
                c.acknowledged,
                c.matched,
                if failed > 0 { format!("  failed {failed} {:?}", c.failed) } else { String::new() },
                if c.not_executed > 0 { format!("  not executed {}", c.not_executed) } else { String::new() },
                if c.unknown > 0 { format!("  unknown {}", c.unknown) } else { String::new() },
                if c.write_concern_failed > 0 {
                    format!("  write concern failed {}", c.write_concern_failed)
                } else {
                    String::new()
                },
            ));
        }
        if self.converted_to_insert > 0 {
            out.push_str(&format!(
                "  ({} updates/deletes found no target yet and were inserts)\n",
                self.converted_to_insert
            ));
        }
        if !self.skipped.is_empty() {
            let kinds: Vec<String> = self.skipped.iter().map(|(k, n)| format!("{} {n}", k.name())).collect();
            out.push_str(&format!("  skipped by the plugin's answer: {}\n", kinds.join(", ")));
        }
        if !self.plugin_errors.is_empty() {
            let total: u64 = self.plugin_errors.values().sum();
            let kinds: Vec<String> = self.plugin_errors.iter().map(|(k, n)| format!("{k} {n}")).collect();
            out.push_str(&format!("  plugin errors {total} ({})\n", kinds.join(", ")));
        }
        let r = &self.retries;
        if r.after_error > 0 {
            out.push_str(&format!("  sent again after an earlier op's error: {}\n", r.after_error));
        }
        if r.disconnected_s > 0.0 {
            out.push_str(&format!(
                "  disconnected {:.1}s (backoff {:.1}s); sent again after reading their documents back: {}{}\n",
                r.disconnected_s,
                r.backoff_s,
                r.after_reconnect,
                if r.ambiguous > 0 {
                    format!(" ({} of unknown fate, journaled as retried)", r.ambiguous)
                } else {
                    String::new()
                }
            ));
        }
        out.push_str(&self.latency_table());
        if let Some(schedule) = &self.schedule
            && (schedule.late_ops > 0 || schedule.slipped_s > 0.0)
        {
            out.push_str(&format!(
                "  behind schedule: up to {}, {} ops started late, {:.1}s of schedule lost (never made up in a burst)\n",
                millis(schedule.max_lag_ms),
                schedule.late_ops,
                schedule.slipped_s
            ));
        }
        out.push_str(&self.segment_table());
        for verdict in &self.thresholds {
            out.push_str(&format!("  threshold {verdict}\n"));
        }
        if let Some(warning) = self.mix_warning() {
            out.push_str(&format!("  warning: {warning}\n"));
        }
        if let Some(e) = &self.error {
            out.push_str(&format!("  error: {e}\n"));
        }
        out
    }

    /// The segments a merged report is made of whose run did not complete, or that
    /// no report was merged for.
    pub fn incomplete_segments(&self) -> Vec<&SegmentRow> {
        self.segments.iter().filter(|s| !matches!(s.ending, Some(Ending::Completed | Ending::Exhausted))).collect()
    }

    /// A merged report's segments, one line each.
    fn segment_table(&self) -> String {
        if self.segments.len() < 2 {
            return String::new();
        }
        let mut out = format!(
            "  {:<8} {:<12} {:>9} {:>7} {:>8} {:>9}  {}\n",
            "segment", "ending", "done", "errors", "time", "ops/s", "response p99 (ms)"
        );
        for s in &self.segments {
            let Some(ending) = s.ending else {
                out.push_str(&format!("  {:<8} {:<12} no report\n", s.index, "missing"));
                continue;
            };
            out.push_str(&format!(
                "  {:<8} {:<12} {:>9} {:>7} {:>7.1}s {:>9.0}  {}\n",
                s.index,
                ending.name(),
                s.done,
                s.errors,
                s.duration_s,
                s.achieved_rate,
                s.response_p99_ms.map_or("-".into(), short_ms)
            ));
        }
        out
    }

    /// One line per kind (and all kinds): count, errors, and both latencies' p50, p90,
    /// p99, p99.9 and max in milliseconds.
    fn latency_table(&self) -> String {
        if self.latency.all.service.count == 0 && self.latency.all.response.count == 0 {
            return String::new();
        }
        let labels = ["p50", "p90", "p99", "p99.9", "max"].map(|l| format!("{l:>6}")).join(" ");
        let mut out = format!(
            "  {:<26}  {:<34}  {}\n  {:<8} {:>9} {:>7}  {labels}  {labels}\n",
            "", "service time (ms)", "response time (ms)", "kind", "count", "errors"
        );
        let row = |name: &str, count: u64, errors: u64, l: &KindLatency| {
            // A measure with nothing in it (a dry run sends nothing) shows dashes, not zeros.
            let five = |p: &super::Percentiles| {
                let cell = |v: f64| if p.count == 0 { "-".to_string() } else { short_ms(v) };
                [p.p50_ms, p.p90_ms, p.p99_ms, p.p999_ms, p.max_ms].map(|v| format!("{:>6}", cell(v))).join(" ")
            };
            format!("  {name:<8} {count:>9} {errors:>7}  {}  {}\n", five(&l.service), five(&l.response))
        };
        for (kind, l) in &self.latency.kinds {
            let counts = self.ops.get(kind).cloned().unwrap_or_default();
            out.push_str(&row(kind.name(), counts.attempted, super::errors(&BTreeMap::from([(*kind, counts)])), l));
        }
        if self.latency.kinds.len() > 1 {
            let attempted = self.ops.values().map(|c| c.attempted).sum();
            out.push_str(&row("all", attempted, super::errors(&self.ops), &self.latency.all));
        }
        out
    }

    /// The achieved mix (operations written, by kind, after warm-up) when it is more
    /// than [`MIX_TOLERANCE`] off the requested one, over enough operations to tell.
    pub fn mix_warning(&self) -> Option<String> {
        let written = |k: &OpKind, c: &KindCounts| {
            let n = c.attempted;
            if *k == OpKind::Insert { n.saturating_sub(self.warmup_inserts) } else { n }
        };
        let total: u64 = self.ops.iter().map(|(k, c)| written(k, c)).sum();
        let planned = total + self.skipped.values().sum::<u64>() + self.plugin_errors.values().sum::<u64>();
        if total == 0 || planned < MIX_MIN_OPS || self.requested_mix.is_empty() {
            return None;
        }
        let achieved: BTreeMap<OpKind, f64> =
            self.ops.iter().map(|(k, c)| (*k, written(k, c) as f64 / total as f64)).collect();
        let kinds: std::collections::BTreeSet<&OpKind> = achieved.keys().chain(self.requested_mix.keys()).collect();
        let off = kinds.iter().any(|k| {
            let (a, r) = (achieved.get(k).copied().unwrap_or(0.0), self.requested_mix.get(k).copied().unwrap_or(0.0));
            (a - r).abs() > MIX_TOLERANCE
        });
        if !off {
            return None;
        }
        let show = |m: &BTreeMap<OpKind, f64>| {
            m.iter().map(|(k, share)| format!("{} {:.0}%", k.name(), share * 100.0)).collect::<Vec<_>>().join(", ")
        };
        let mut why = Vec::new();
        if !self.skipped.is_empty() || !self.plugin_errors.is_empty() {
            why.push("operations skipped by a plugin");
        }
        if self.converted_to_insert > 0 {
            why.push("updates and deletes that found no target and were inserts");
        }
        Some(format!(
            "the achieved mix ({}) is more than {:.0} points off the requested one ({}){}",
            show(&achieved),
            MIX_TOLERANCE * 100.0,
            show(&self.requested_mix),
            if why.is_empty() { String::new() } else { format!(": {}", why.join(", ")) }
        ))
    }
}

/// Milliseconds for a table cell: three significant digits, seconds past 10 s.
fn short_ms(ms: f64) -> String {
    match ms {
        ms if ms >= 10_000.0 => format!("{:.0}s", ms / 1000.0),
        ms if ms >= 100.0 => format!("{ms:.0}"),
        ms if ms >= 10.0 => format!("{ms:.1}"),
        ms => format!("{ms:.2}"),
    }
}

/// A duration in milliseconds as a person reads it.
fn millis(ms: f64) -> String {
    if ms >= 1000.0 { format!("{:.2}s", ms / 1000.0) } else { format!("{ms:.0}ms") }
}

/// How far (as a share) the achieved mix may drift from the requested one unremarked.
const MIX_TOLERANCE: f64 = 0.05;

/// Planned operations below which the mix is not judged: chance alone moves small runs.
const MIX_MIN_OPS: u64 = 1000;
