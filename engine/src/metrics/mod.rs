//! Counters and latencies of a traffic run, fed by the writers from the server's
//! acknowledgements (never from what was planned) and by the planner's schedule; a
//! sample per interval (the time series); read by the live view, an exporter and the
//! final report.

pub mod charts;
pub mod html;
pub mod latency;
pub mod merge;
pub mod report;
pub mod series;
pub mod threshold;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use latency::{KindLatency, Latencies, Measure, Percentiles};
pub use series::Sample;

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

#[derive(Debug, Default, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
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

    /// Adds another tally of the same kind (another interval, another process).
    pub fn merge(&mut self, other: &KindCounts) {
        self.attempted += other.attempted;
        self.acknowledged += other.acknowledged;
        self.matched += other.matched;
        self.modified += other.modified;
        self.write_concern_failed += other.write_concern_failed;
        for (code, n) in &other.failed {
            *self.failed.entry(code.clone()).or_default() += n;
        }
        self.not_executed += other.not_executed;
        self.unknown += other.unknown;
        self.unacknowledged += other.unacknowledged;
        self.not_sent += other.not_sent;
    }
}

/// Ops sent more than once, and the time lost to a lost connection.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
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

/// How a paced run kept to its schedule.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Schedule {
    /// Ops that started more than [`crate::rate::LATE`] after their slot (their
    /// response time counts from the slot).
    pub late_ops: u64,
    /// The furthest the run was behind its schedule, in milliseconds.
    pub max_lag_ms: f64,
    /// How far the schedule was pushed back in all: time the run fell behind and did
    /// not make up (it never catches up in a burst), in seconds.
    pub slipped_s: f64,
}

/// One operation as settled, with its latencies when the server answered it.
#[derive(Debug, Clone)]
pub struct Settled {
    pub kind: OpKind,
    pub outcome: Outcome,
    /// Batch sent (first attempt) → settled.
    pub service: Option<Duration>,
    /// Scheduled (or planned) → settled.
    pub response: Option<Duration>,
}

impl Settled {
    /// An op settled without latencies (never sent, or lost before an answer).
    pub fn unanswered(kind: OpKind, outcome: Outcome) -> Settled {
        Settled { kind, outcome, service: None, response: None }
    }
}

/// Counts and latencies over one stretch of the run.
#[derive(Default)]
struct Window {
    kinds: BTreeMap<OpKind, KindCounts>,
    latency: BTreeMap<OpKind, Latencies>,
}

impl Window {
    fn merge(&mut self, other: Window) {
        for (kind, counts) in other.kinds {
            self.kinds.entry(kind).or_default().merge(&counts);
        }
        for (kind, latency) in other.latency {
            self.latency.entry(kind).or_default().add(&latency);
        }
    }

    fn record(&mut self, ops: &[Settled], latencies: bool) {
        // Batches are mostly one kind: look each kind up once per run of it.
        for run in ops.chunk_by(|a, b| a.kind == b.kind) {
            let kind = run[0].kind;
            let counts = self.kinds.entry(kind).or_default();
            run.iter().for_each(|op| counts.add(&op.outcome));
            if latencies && run.iter().any(|op| op.service.is_some() || op.response.is_some()) {
                let latency = self.latency.entry(kind).or_default();
                for op in run {
                    if let Some(d) = op.service {
                        latency::record(&mut latency.service, d);
                    }
                    if let Some(d) = op.response {
                        latency::record(&mut latency.response, d);
                    }
                }
            }
        }
    }
}

struct State {
    /// The whole run so far.
    total: Window,
    /// Since the last sample.
    interval: Window,
    /// The interval of the last sample (the run's last moments may join it).
    last: Window,
    retries: Retries,
    schedule: Schedule,
    /// When the next op of a paced run is due (for the live lag).
    next_due: Option<Instant>,
    /// One sample per `--metrics-interval`.
    series: Vec<Sample>,
    /// When the run started, and the elapsed time of the last sample.
    started: Instant,
    sampled_at: Duration,
    target_rate: Option<f64>,
}

/// The shared counters of a run: written by the planner (schedule), the writers
/// (outcomes, latencies, retries) and the sampler; read by whoever shows progress.
pub struct Metrics {
    state: Mutex<State>,
    /// Ops settled so far (read without the lock by a paced planner).
    settled: AtomicU64,
    /// Whether latencies are recorded (off only to measure what they cost).
    latencies: bool,
    samples: tokio::sync::watch::Sender<Option<Arc<Sample>>>,
    /// A scenario's phases, when the run has them.
    phases: std::sync::OnceLock<Phases>,
}

/// Acknowledged operations per phase (by operation index, so an op counts in the
/// phase that planned it however late it settles), and when each phase started.
#[derive(Debug)]
struct Phases {
    /// The first global operation index of each phase.
    starts: Vec<u64>,
    done: Vec<AtomicU64>,
    started: Mutex<Vec<Option<Instant>>>,
}

impl Phases {
    /// The last phase started by `at` (phases start in order; a pause never does).
    fn in_force(&self, at: Instant) -> Option<usize> {
        let started = self.started.lock().expect("no panics while holding it");
        started.iter().rposition(|s| s.is_some_and(|s| s <= at))
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            state: Mutex::new(State {
                total: Window::default(),
                interval: Window::default(),
                last: Window::default(),
                retries: Retries::default(),
                schedule: Schedule::default(),
                next_due: None,
                series: Vec::new(),
                started: Instant::now(),
                sampled_at: Duration::ZERO,
                target_rate: None,
            }),
            settled: AtomicU64::new(0),
            latencies: true,
            samples: tokio::sync::watch::Sender::new(None),
            phases: std::sync::OnceLock::new(),
        }
    }
}

/// Everything cumulative at one moment (for an exporter or a live view).
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub elapsed: Duration,
    pub target_rate: Option<f64>,
    pub kinds: BTreeMap<OpKind, KindCounts>,
    pub latency: BTreeMap<OpKind, Latencies>,
    pub retries: Retries,
    pub schedule: Schedule,
    /// How far behind its schedule the run is now, in milliseconds.
    pub lag_ms: f64,
}

impl Snapshot {
    /// Ops done (acknowledged, sent unacknowledged, or materialized in a dry run) per
    /// second since the start.
    pub fn achieved_rate(&self) -> f64 {
        done(&self.kinds) as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Ops done: acknowledged, sent with `w:0`, or materialized in a dry run.
pub fn done(kinds: &BTreeMap<OpKind, KindCounts>) -> u64 {
    kinds.values().map(|k| k.acknowledged + k.unacknowledged + k.not_sent).sum()
}

/// Ops that went wrong: refused, of unknown fate, or applied without their write
/// concern.
pub fn errors(kinds: &BTreeMap<OpKind, KindCounts>) -> u64 {
    kinds.values().map(|k| k.failed.values().sum::<u64>() + k.unknown + k.write_concern_failed).sum()
}

impl Metrics {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A writer that panicked mid-update leaves counts that are still the best we have.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Metrics that count outcomes but record no latency: what `forge bench` compares
    /// the full metrics with.
    pub fn counts_only() -> Metrics {
        Metrics { latencies: false, ..Metrics::default() }
    }

    /// Marks the start of the run (elapsed times and samples count from here).
    pub fn begin(&self, target_rate: Option<f64>) {
        let mut s = self.state();
        s.started = Instant::now();
        s.target_rate = target_rate;
    }

    /// Counts acknowledged operations per phase from now on; `starts`: each phase's
    /// first global operation index, in order.
    pub fn set_phases(&self, starts: Vec<u64>) {
        let phases = Phases {
            done: starts.iter().map(|_| AtomicU64::new(0)).collect(),
            started: Mutex::new(vec![None; starts.len()]),
            starts,
        };
        let _ = self.phases.set(phases);
    }

    /// An operation the server acknowledged (or, in a dry run, would have been sent).
    pub fn count_in_phase(&self, index: u64) {
        if let Some(p) = self.phases.get() {
            let phase = p.starts.partition_point(|start| *start <= index).saturating_sub(1);
            p.done[phase].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Phase `phase`'s first operation was admitted now.
    pub fn phase_started(&self, phase: usize) {
        if let Some(p) = self.phases.get() {
            let mut started = p.started.lock().expect("no panics while holding it");
            if let Some(at @ None) = started.get_mut(phase) {
                *at = Some(Instant::now());
            }
        }
    }

    /// Per phase: acknowledged operations and when it started (seconds after the run
    /// began; `None`: never reached).
    pub fn phases(&self) -> Vec<(u64, Option<f64>)> {
        let Some(p) = self.phases.get() else { return Vec::new() };
        let begun = self.state().started;
        let started = p.started.lock().expect("no panics while holding it");
        p.done
            .iter()
            .zip(started.iter())
            .map(|(done, at)| {
                (done.load(Ordering::Relaxed), at.map(|at| at.saturating_duration_since(begun).as_secs_f64()))
            })
            .collect()
    }

    /// Records settled operations: outcomes and latencies.
    pub fn record(&self, ops: &[Settled]) {
        let mut s = self.state();
        s.total.record(ops, self.latencies);
        s.interval.record(ops, self.latencies);
        self.settled.fetch_add(ops.len() as u64, Ordering::Relaxed);
    }

    /// Ops settled so far, whatever their outcome.
    pub fn settled(&self) -> u64 {
        self.settled.load(Ordering::Relaxed)
    }

    /// A paced op admitted `lag` after its slot; `slipped`: how far the schedule was
    /// pushed back for it (zero when it was on time).
    pub fn record_admission(&self, lag: Duration, late: bool, slipped: Duration, next_due: Instant) {
        let mut s = self.state();
        let ms = lag.as_secs_f64() * 1000.0;
        s.schedule.max_lag_ms = s.schedule.max_lag_ms.max(ms);
        s.schedule.late_ops += u64::from(late);
        s.schedule.slipped_s += slipped.as_secs_f64();
        s.next_due = Some(next_due);
    }

    /// The schedule has no more slots: no lag accrues from now on (a closing pause).
    pub fn end_schedule(&self) {
        self.state().next_due = None;
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
        self.state().total.kinds.clone()
    }

    /// The histograms of the whole run so far, by kind.
    pub fn latencies(&self) -> BTreeMap<OpKind, Latencies> {
        self.state().total.latency.clone()
    }

    /// The schedule's record so far (lag as of now included).
    pub fn schedule(&self) -> Schedule {
        let mut s = self.state();
        let lag = lag_ms(&s);
        s.schedule.max_lag_ms = s.schedule.max_lag_ms.max(lag);
        s.schedule.clone()
    }

    /// The samples taken so far.
    pub fn series(&self) -> Vec<Sample> {
        self.state().series.clone()
    }

    pub fn snapshot(&self) -> Snapshot {
        let s = self.state();
        Snapshot {
            elapsed: s.started.elapsed(),
            target_rate: s.target_rate,
            kinds: s.total.kinds.clone(),
            latency: s.total.latency.clone(),
            retries: s.retries.clone(),
            schedule: s.schedule.clone(),
            lag_ms: lag_ms(&s),
        }
    }

    /// Closes the interval since the last sample: adds it to the series, shows it to
    /// subscribers, and returns it.
    pub fn sample(&self) -> Arc<Sample> {
        let sample = {
            let mut s = self.state();
            let interval = std::mem::take(&mut s.interval);
            let from = s.sampled_at;
            let sample = close(&mut s, interval, from, self.phases.get());
            s.series.push(sample.clone());
            sample
        };
        self.publish(sample)
    }

    /// Ends the series when the run ends: the time since the last sample becomes a
    /// sample of its own, or joins the last one when it is shorter than half of
    /// `interval` (a sliver would show a rate no one saw). Not shown to subscribers:
    /// the run's summary follows.
    pub fn finish_series(&self, interval: Duration) {
        {
            let mut s = self.state();
            let now = s.started.elapsed();
            let since = now.saturating_sub(s.sampled_at);
            if since.is_zero() {
                return;
            }
            let mut window = std::mem::take(&mut s.interval);
            let from = if since < interval / 2 && s.series.pop().is_some() {
                let mut last = std::mem::take(&mut s.last);
                last.merge(window);
                window = last;
                s.series.last().map_or(Duration::ZERO, |p| Duration::from_secs_f64(p.t_s))
            } else {
                s.sampled_at
            };
            let sample = close(&mut s, window, from, self.phases.get());
            s.series.push(sample);
        }
    }

    fn publish(&self, sample: Sample) -> Arc<Sample> {
        let sample = Arc::new(sample);
        self.samples.send_replace(Some(sample.clone()));
        sample
    }

    /// The latest sample, as each is taken.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<Option<Arc<Sample>>> {
        self.samples.subscribe()
    }
}

/// The sample of `window`, the stretch from `from` to now; keeps the window as the
/// last one.
fn close(s: &mut State, window: Window, from: Duration, phases: Option<&Phases>) -> Sample {
    let at = Instant::now();
    let now = at.saturating_duration_since(s.started);
    let lag = lag_ms(s);
    s.schedule.max_lag_ms = s.schedule.max_lag_ms.max(lag);
    let sample = Sample {
        t_s: now.as_secs_f64(),
        interval_s: now.saturating_sub(from).as_secs_f64(),
        target_rate: s.target_rate,
        latency: window.latency.iter().map(|(k, l)| (*k, l.percentiles())).collect(),
        ops: window.kinds.clone(),
        lag_ms: lag,
        done_total: done(&s.total.kinds),
        errors_total: errors(&s.total.kinds),
        phase: phases.and_then(|p| p.in_force(at)),
    };
    s.sampled_at = now;
    s.last = window;
    sample
}

/// How far behind its schedule a paced run is now, in milliseconds.
fn lag_ms(s: &State) -> f64 {
    s.next_due.map_or(0.0, |due| Instant::now().saturating_duration_since(due).as_secs_f64() * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_sample_carries_the_phase_in_force() {
        let metrics = Metrics::default();
        metrics.begin(Some(100.0));
        // A ramp, a pause (which never starts), a steady phase.
        metrics.set_phases(vec![0, 100, 100]);
        let before = metrics.sample();
        metrics.phase_started(0);
        std::thread::sleep(Duration::from_millis(5));
        let ramp = metrics.sample();
        metrics.phase_started(2);
        let steady = metrics.sample();
        metrics.phase_started(0);
        let still = metrics.sample();
        assert_eq!([before.phase, ramp.phase, steady.phase, still.phase], [None, Some(0), Some(2), Some(2)]);
        // The same clock as the report's phase starts: a sample after a start carries it.
        let phases = metrics.phases();
        let started = |i: usize| phases[i].1.unwrap();
        assert!(phases[1].1.is_none());
        assert!(started(0) <= ramp.t_s && ramp.t_s < started(2) && started(2) <= steady.t_s);
        metrics.finish_series(Duration::from_secs(1));
        let series = metrics.series();
        assert_eq!(series.last().unwrap().phase, Some(2), "the closing sample too");
    }

    #[test]
    fn a_run_without_phases_has_none_in_its_samples_or_their_json() {
        let metrics = Metrics::default();
        metrics.begin(None);
        metrics.phase_started(0);
        let sample = metrics.sample();
        assert_eq!(sample.phase, None);
        let json = serde_json::to_value(&*sample).unwrap();
        assert!(json.get("phase").is_none(), "{json}");
        let back: Sample = serde_json::from_value(json).unwrap();
        assert_eq!(back, *sample, "a sample without a phase reads back as one");
    }

    #[test]
    fn phase_tallies_of_older_reports_read_back_without_names() {
        let old: report::PhaseTally = serde_json::from_str(r#"{"acknowledged": 5, "started_s": 1.5}"#).unwrap();
        assert_eq!(
            old,
            report::PhaseTally { acknowledged: 5, started_s: Some(1.5), ..Default::default() },
            "no name, kind or due start"
        );
        let named = report::PhaseTally { name: "spike".into(), scheduled_start_s: Some(3.0), ..old.clone() };
        let json = serde_json::to_value(&named).unwrap();
        assert_eq!(json["name"], "spike");
        assert_eq!(serde_json::from_value::<report::PhaseTally>(json).unwrap(), named);
    }
}
