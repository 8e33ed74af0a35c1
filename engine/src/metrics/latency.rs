//! Per-operation latencies, two measures per op kind, in HdrHistograms of microseconds:
//!
//! - *service time*: from the batch's first attempt to the op's acknowledgement (what
//!   the server and the network cost, retries included);
//! - *response time*: from when the op should have started (its slot on the
//!   `--rate-limit` schedule, or when it was planned without one) to its
//!   acknowledgement. It includes every wait in forge's queues, so an overloaded or
//!   stalled server shows in it even when the service time looks fine (the
//!   coordinated-omission problem).
//!
//! Histograms travel in reports in the HdrHistogram V2 compressed format, base64: a
//! report's histograms merge with another process's without loss.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};

use crate::plan::OpKind;

/// Highest latency a histogram holds: one hour, in microseconds (longer ones are
/// recorded as one hour).
const MAX_US: u64 = 3_600_000_000;

/// Which latency of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Measure {
    /// Batch sent (first attempt) → acknowledged.
    Service,
    /// Scheduled (or planned) → acknowledged.
    Response,
}

impl Measure {
    pub const ALL: [Measure; 2] = [Measure::Service, Measure::Response];

    pub fn name(self) -> &'static str {
        match self {
            Measure::Service => "service",
            Measure::Response => "response",
        }
    }
}

/// A histogram of microseconds, bounded to one hour at three significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_US, 3).expect("valid histogram bounds")
}

/// Records `d` in `h`, clamped into the histogram's range.
pub fn record(h: &mut Histogram<u64>, d: Duration) {
    let us = (d.as_micros() as u64).clamp(1, MAX_US);
    h.record(us).expect("clamped into range");
}

/// The two histograms of one op kind.
#[derive(Debug, Clone)]
pub struct Latencies {
    pub service: Histogram<u64>,
    pub response: Histogram<u64>,
}

impl Default for Latencies {
    fn default() -> Self {
        Latencies { service: histogram(), response: histogram() }
    }
}

impl Latencies {
    pub fn get(&self, measure: Measure) -> &Histogram<u64> {
        match measure {
            Measure::Service => &self.service,
            Measure::Response => &self.response,
        }
    }

    pub fn add(&mut self, other: &Latencies) {
        // Same bounds on both sides: adding cannot fail.
        self.service.add(&other.service).expect("same bounds");
        self.response.add(&other.response).expect("same bounds");
    }

    pub fn reset(&mut self) {
        self.service.reset();
        self.response.reset();
    }

    pub fn percentiles(&self) -> KindLatency {
        KindLatency { service: Percentiles::of(&self.service), response: Percentiles::of(&self.response) }
    }

    pub fn encode(&self) -> EncodedLatencies {
        EncodedLatencies { service: encode(&self.service), response: encode(&self.response) }
    }
}

/// All kinds together, merged from each kind's histograms.
pub fn overall(kinds: &BTreeMap<OpKind, Latencies>) -> Latencies {
    let mut all = Latencies::default();
    kinds.values().for_each(|l| all.add(l));
    all
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Percentiles {
    /// Operations measured.
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

impl Percentiles {
    pub fn of(h: &Histogram<u64>) -> Percentiles {
        let ms = |us: u64| us as f64 / 1000.0;
        if h.is_empty() {
            return Percentiles::default();
        }
        Percentiles {
            count: h.len(),
            p50_ms: ms(h.value_at_quantile(0.5)),
            p90_ms: ms(h.value_at_quantile(0.9)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
            mean_ms: h.mean() / 1000.0,
        }
    }

    /// The named percentile: `p50`, `p90`, `p99`, `p99.9`, `max` or `mean`.
    pub fn named(&self, name: &str) -> Option<f64> {
        Some(match name {
            "p50" => self.p50_ms,
            "p90" => self.p90_ms,
            "p99" => self.p99_ms,
            "p99.9" | "p999" => self.p999_ms,
            "max" => self.max_ms,
            "mean" => self.mean_ms,
            _ => return None,
        })
    }
}

/// The percentiles of both measures of one kind (or of all kinds).
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct KindLatency {
    pub service: Percentiles,
    pub response: Percentiles,
}

impl KindLatency {
    pub fn get(&self, measure: Measure) -> &Percentiles {
        match measure {
            Measure::Service => &self.service,
            Measure::Response => &self.response,
        }
    }
}

/// Both histograms of a kind, HdrHistogram V2 compressed, base64.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EncodedLatencies {
    pub service: String,
    pub response: String,
}

impl EncodedLatencies {
    pub fn decode(&self) -> Result<Latencies, DecodeError> {
        Ok(Latencies { service: decode(&self.service)?, response: decode(&self.response)? })
    }
}

/// A histogram in a report that cannot be read back.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("a histogram is not base64: {0}")]
    Base64(#[from] base64::DecodeError),
    #[error("a histogram is not in the HdrHistogram V2 format: {0}")]
    Format(String),
    #[error("a histogram does not fit forge's bounds: {0}")]
    Bounds(String),
}

/// `h` in the HdrHistogram V2 compressed format, base64.
pub fn encode(h: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    V2DeflateSerializer::new().serialize(h, &mut bytes).expect("serialising into memory succeeds");
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The histogram `encode` made, in forge's bounds (so it adds to forge's own).
pub fn decode(text: &str) -> Result<Histogram<u64>, DecodeError> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(text)?;
    let read: Histogram<u64> =
        Deserializer::new().deserialize(&mut bytes.as_slice()).map_err(|e| DecodeError::Format(format!("{e:?}")))?;
    let mut h = histogram();
    h.add(&read).map_err(|e| DecodeError::Bounds(format!("{e:?}")))?;
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_histograms_merge_without_loss() {
        let (mut a, mut b, mut both) = (histogram(), histogram(), histogram());
        for us in [120u64, 900, 4_000, 2_500_000] {
            record(&mut a, Duration::from_micros(us));
            record(&mut both, Duration::from_micros(us));
        }
        for us in [80u64, 15_000, 3_000_000] {
            record(&mut b, Duration::from_micros(us));
            record(&mut both, Duration::from_micros(us));
        }
        let mut merged = decode(&encode(&a)).unwrap();
        merged.add(decode(&encode(&b)).unwrap()).unwrap();
        assert_eq!(merged, both);
        assert_eq!(Percentiles::of(&merged), Percentiles::of(&both));
        assert!(decode("not base64!").is_err());
        assert!(decode("aGVsbG8=").is_err());
    }

    #[test]
    fn out_of_range_latencies_are_clamped() {
        let mut h = histogram();
        record(&mut h, Duration::ZERO);
        record(&mut h, Duration::from_secs(7200));
        assert_eq!(h.len(), 2);
        assert_eq!(h.min(), 1);
        assert!(h.max() >= MAX_US);
    }
}
