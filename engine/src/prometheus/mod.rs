//! The run's metrics for Prometheus (`--metrics-listen`): a collector that reads
//! [`Metrics::snapshot`] when it is scraped and encodes it in the OpenMetrics text
//! format with the `prometheus-client` crate, and an HTTP server for `GET /metrics`
//! ([`http`]).
//!
//! Nothing here costs the writers anything: the latency histograms are the run's own
//! HdrHistograms, folded into fixed Prometheus buckets at scrape time.
//!
//! Every series carries a `segment` label ([`ExporterConfig::segment`]), so the
//! series of several forge processes splitting one workload stay apart.

pub mod http;

use std::borrow::Cow;
use std::sync::{Arc, Mutex};

use hdrhistogram::Histogram;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::{Registry, Unit};

pub use http::{bind, serve};

use crate::metrics::{KindCounts, Measure, Metrics, Snapshot};

/// The content type of [`Exporter::encode`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Upper bounds of the latency histogram's buckets, in seconds (then `+Inf`): from
/// half a millisecond to a minute, about three per decade.
pub const BUCKETS_S: [f64; 16] =
    [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0];

/// What every series of one exporter is labelled with.
#[derive(Debug, Clone)]
pub struct ExporterConfig {
    /// The `segment` label: which part of a workload split over several processes
    /// this one runs ("0" when it runs the whole).
    pub segment: String,
}

impl Default for ExporterConfig {
    fn default() -> Self {
        ExporterConfig { segment: "0".into() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("cannot encode the metrics")]
    Encode(#[from] std::fmt::Error),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
}

/// The registry of one run's metrics, encoded afresh at every scrape.
pub struct Exporter {
    registry: Registry,
    collectors: Vec<Arc<RunCollector>>,
}

impl Exporter {
    pub fn new(metrics: Arc<Metrics>, config: ExporterConfig) -> Self {
        let (mut registry, collector) = (Self::registry(config), RunCollector::of(metrics));
        registry.register_collector(Box::new(collector.clone()));
        Exporter { registry, collectors: vec![collector] }
    }

    /// A scenario's: every series of each collection's run also carries a
    /// `collection` label.
    pub fn of_collections(runs: Vec<(String, Arc<Metrics>)>, config: ExporterConfig) -> Self {
        let mut registry = Self::registry(config);
        let mut collectors = Vec::new();
        for (name, metrics) in runs {
            let collector = RunCollector::of(metrics);
            let sub = registry.sub_registry_with_label((Cow::Borrowed("collection"), Cow::Owned(name)));
            sub.register_collector(Box::new(collector.clone()));
            collectors.push(collector);
        }
        Exporter { registry, collectors }
    }

    fn registry(config: ExporterConfig) -> Registry {
        let labels = [(Cow::Borrowed("segment"), Cow::Owned(config.segment))];
        Registry::with_prefix_and_labels("forge", labels.into_iter())
    }

    /// The run has ended: from now on, serve its figures as they are now. Without
    /// this, the achieved rate would fall and the schedule lag grow with every second
    /// the endpoint stays up after the run.
    pub fn freeze(&self) {
        for collector in &self.collectors {
            let last = Snapshot { lag_ms: 0.0, ..collector.metrics.snapshot() };
            *collector.ended.lock().unwrap_or_else(|e| e.into_inner()) = Some(last);
        }
    }

    /// The metrics now, in the OpenMetrics text format ([`CONTENT_TYPE`]).
    pub fn encode(&self) -> Result<String, ExportError> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// Reads the run's snapshot at each scrape (the last one once the run has ended).
struct RunCollector {
    metrics: Arc<Metrics>,
    ended: Mutex<Option<Snapshot>>,
}

impl RunCollector {
    fn of(metrics: Arc<Metrics>) -> Arc<Self> {
        Arc::new(RunCollector { metrics, ended: Mutex::new(None) })
    }
}

impl std::fmt::Debug for RunCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunCollector").finish_non_exhaustive()
    }
}

impl Collector for RunCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let ended = self.ended.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let snapshot = ended.unwrap_or_else(|| self.metrics.snapshot());
        encode_operations(&mut encoder, &snapshot)?;
        encode_latency(&mut encoder, &snapshot)?;
        encode_rates(&mut encoder, &snapshot)?;
        encode_retries(&mut encoder, &snapshot)
    }
}

/// Each outcome a `forge_operations_total` series counts, with its count in `k`.
/// Failures are one series whatever their server error code (the report has the
/// codes): a label per code would grow without bound.
fn outcomes(k: &KindCounts) -> [(&'static str, u64); 7] {
    [
        ("acknowledged", k.acknowledged),
        ("failed", k.failed.values().sum()),
        ("unknown", k.unknown),
        ("not_executed", k.not_executed),
        ("write_concern_failed", k.write_concern_failed),
        ("unacknowledged", k.unacknowledged),
        ("not_sent", k.not_sent),
    ]
}

fn encode_operations(encoder: &mut DescriptorEncoder, s: &Snapshot) -> Result<(), std::fmt::Error> {
    let mut family = encoder.encode_descriptor(
        "operations",
        "Operations settled, by kind and outcome (acknowledged, failed, unknown, not_executed, \
         write_concern_failed, unacknowledged, not_sent).",
        None,
        MetricType::Counter,
    )?;
    for (kind, counts) in &s.kinds {
        for (outcome, n) in outcomes(counts) {
            let labels = [("kind", kind.name()), ("outcome", outcome)];
            ConstCounter::new(n).encode(family.encode_family(&labels)?)?;
        }
    }
    Ok(())
}

fn encode_latency(encoder: &mut DescriptorEncoder, s: &Snapshot) -> Result<(), std::fmt::Error> {
    let seconds = Unit::Seconds;
    let mut family = encoder.encode_descriptor(
        "latency",
        "Latency of acknowledged operations: service (batch sent to acknowledged) and \
         response (scheduled slot to acknowledged, queueing included).",
        Some(&seconds),
        MetricType::Histogram,
    )?;
    for (kind, latencies) in &s.latency {
        for measure in Measure::ALL {
            let h = latencies.get(measure);
            let (sum, count, buckets) = buckets(h);
            let labels = [("kind", kind.name()), ("measure", measure.name())];
            family.encode_family(&labels)?.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)?;
        }
    }
    Ok(())
}

/// A histogram of microseconds as Prometheus buckets: the sum in seconds, the count,
/// and how many values fall in each bucket of [`BUCKETS_S`] and above (not
/// cumulative: the encoder adds them up).
pub fn buckets(h: &Histogram<u64>) -> (f64, u64, Vec<(f64, u64)>) {
    let mut counts = vec![0u64; BUCKETS_S.len() + 1];
    for v in h.iter_recorded() {
        // The bottom of the value's HdrHistogram bucket (within 0.1% of the value at
        // three significant digits): an op of exactly a bucket's bound falls in it.
        let s = h.lowest_equivalent(v.value_iterated_to()) as f64 / 1e6;
        let i = BUCKETS_S.iter().position(|bound| s <= *bound).unwrap_or(BUCKETS_S.len());
        counts[i] += v.count_at_value();
    }
    let bounds = BUCKETS_S.iter().copied().chain([f64::INFINITY]);
    let count = h.len();
    (h.mean() * count as f64 / 1e6, count, bounds.zip(counts).collect())
}

fn encode_rates(encoder: &mut DescriptorEncoder, s: &Snapshot) -> Result<(), std::fmt::Error> {
    if let Some(target) = s.target_rate {
        let help = "The target rate the run is paced to, in operations per second.";
        gauge(encoder, "target_rate", help, None, target)?;
    }
    let help = "Operations done (acknowledged, sent unacknowledged, or materialized in a dry run) \
                per second since the start.";
    gauge(encoder, "achieved_rate", help, None, s.achieved_rate())?;
    let help = "How far behind its schedule a paced run is now.";
    gauge(encoder, "schedule_lag", help, Some(&Unit::Seconds), s.lag_ms / 1000.0)
}

fn gauge(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    value: f64,
) -> Result<(), std::fmt::Error> {
    let gauge = ConstGauge::new(value);
    gauge.encode(encoder.encode_descriptor(name, help, unit, gauge.metric_type())?)
}

fn encode_retries(encoder: &mut DescriptorEncoder, s: &Snapshot) -> Result<(), std::fmt::Error> {
    let mut family = encoder.encode_descriptor(
        "retries",
        "Operations sent again: after_error (an ordered batch stopped at an earlier op's \
         error), after_reconnect (a lost connection, the op shown not applied).",
        None,
        MetricType::Counter,
    )?;
    for (reason, n) in [("after_error", s.retries.after_error), ("after_reconnect", s.retries.after_reconnect)] {
        ConstCounter::new(n).encode(family.encode_family(&[("reason", reason)])?)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
