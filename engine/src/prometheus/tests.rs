use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;
use crate::metrics::{Outcome, Settled};
use crate::plan::OpKind;

/// One sample line: name, labels, value.
type Line = (String, BTreeMap<String, String>, f64);

/// The sample lines of an exposition (comments skipped); label values hold no quotes
/// or commas here.
fn parse(text: &str) -> Vec<Line> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("name and value");
            let value = match value {
                "+Inf" => f64::INFINITY,
                v => v.parse().unwrap_or_else(|e| panic!("{line}: {e}")),
            };
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => {
                    let labels = rest.strip_suffix('}').expect("closing brace");
                    let labels = labels
                        .split(',')
                        .map(|pair| {
                            let (k, v) = pair.split_once('=').expect("key=value");
                            (k.to_string(), v.trim_matches('"').to_string())
                        })
                        .collect();
                    (name, labels)
                }
                None => (series, BTreeMap::new()),
            };
            (name.to_string(), labels, value)
        })
        .collect()
}

fn find<'a>(lines: &'a [Line], name: &str, labels: &[(&str, &str)]) -> Vec<&'a Line> {
    lines
        .iter()
        .filter(|(n, l, _)| n == name && labels.iter().all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v)))
        .collect()
}

fn one(lines: &[Line], name: &str, labels: &[(&str, &str)]) -> f64 {
    match find(lines, name, labels).as_slice() {
        [(_, _, v)] => *v,
        other => panic!("{name} {labels:?}: {} series", other.len()),
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A run with 200 acknowledged inserts of service 1..200 ms and response twice that,
/// three failed updates (two codes), one retry after an error.
fn metrics() -> Arc<Metrics> {
    let metrics = Arc::new(Metrics::default());
    metrics.begin(Some(500.0));
    let mut ops: Vec<Settled> = (1..=200)
        .map(|i| Settled {
            kind: OpKind::Insert,
            outcome: Outcome::Acked { matched: 1, modified: 0 },
            service: Some(ms(i)),
            response: Some(ms(2 * i)),
        })
        .collect();
    for code in ["11000", "11000", "2"] {
        ops.push(Settled::unanswered(OpKind::Update, Outcome::Failed(code.into())));
    }
    metrics.record(&ops);
    metrics.record_resent_after_error(1);
    metrics
}

#[test]
fn a_scrape_holds_counters_gauges_and_histograms_of_the_snapshot() {
    let metrics = metrics();
    let exporter = Exporter::new(metrics.clone(), ExporterConfig { segment: "3".into() });
    let text = exporter.encode().unwrap();
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert!(text.contains("# TYPE forge_operations counter\n"), "{text}");
    assert!(text.contains("# TYPE forge_latency_seconds histogram\n"), "{text}");
    let lines = parse(&text);
    assert!(lines.iter().all(|(_, l, _)| l.get("segment").map(String::as_str) == Some("3")), "{text}");

    let ops = "forge_operations_total";
    assert_eq!(one(&lines, ops, &[("kind", "insert"), ("outcome", "acknowledged")]), 200.0);
    assert_eq!(one(&lines, ops, &[("kind", "insert"), ("outcome", "failed")]), 0.0);
    // One series for all failure codes: bounded cardinality.
    assert_eq!(one(&lines, ops, &[("kind", "update"), ("outcome", "failed")]), 3.0);
    assert_eq!(find(&lines, ops, &[("kind", "update")]).len(), 7);
    assert_eq!(one(&lines, "forge_retries_total", &[("reason", "after_error")]), 1.0);
    assert_eq!(one(&lines, "forge_retries_total", &[("reason", "after_reconnect")]), 0.0);
    assert_eq!(one(&lines, "forge_target_rate", &[]), 500.0);
    assert!(one(&lines, "forge_achieved_rate", &[]) > 0.0);
    assert_eq!(one(&lines, "forge_schedule_lag_seconds", &[]), 0.0);

    let latencies = metrics.latencies();
    for measure in Measure::ALL {
        let h = latencies[&OpKind::Insert].get(measure);
        let labels = [("kind", "insert"), ("measure", measure.name())];
        let count = one(&lines, "forge_latency_seconds_count", &labels);
        assert_eq!(count, h.len() as f64);
        let sum = one(&lines, "forge_latency_seconds_sum", &labels);
        let expected = h.mean() * h.len() as f64 / 1e6;
        assert!((sum - expected).abs() < 1e-6, "{sum} vs {expected}");

        let buckets = find(&lines, "forge_latency_seconds_bucket", &labels);
        assert_eq!(buckets.len(), BUCKETS_S.len() + 1);
        let mut previous = 0.0;
        for (_, l, n) in &buckets {
            assert!(*n >= previous, "{measure:?}: buckets fall at le={}:\n{text}", l["le"]);
            previous = *n;
        }
        assert_eq!(buckets.last().unwrap().1["le"], "+Inf");
        assert_eq!(previous, count, "+Inf holds them all");
        // Values in whole milliseconds sit exactly on HdrHistogram values: the bucket
        // of 50 ms holds the ops of at most 50 ms.
        let at_50ms = buckets.iter().find(|(_, l, _)| l["le"] == "0.05").expect("le=0.05").2;
        let factor = if measure == Measure::Service { 1 } else { 2 };
        assert_eq!(at_50ms, (50 / factor) as f64, "{measure:?}");
    }
    // No latency for the failed updates: no histogram series for them.
    assert!(find(&lines, "forge_latency_seconds_count", &[("kind", "update")]).is_empty());
}

#[test]
fn an_idle_run_exports_its_gauges_and_retries() {
    let exporter = Exporter::new(Arc::new(Metrics::default()), ExporterConfig::default());
    let lines = parse(&exporter.encode().unwrap());
    assert_eq!(one(&lines, "forge_achieved_rate", &[("segment", "0")]), 0.0);
    assert!(find(&lines, "forge_target_rate", &[]).is_empty(), "no target without --rate-limit");
    assert_eq!(find(&lines, "forge_retries_total", &[]).len(), 2);
    assert!(find(&lines, "forge_operations_total", &[]).is_empty());
}

#[test]
fn buckets_count_each_value_once() {
    let mut h = crate::metrics::latency::histogram();
    for us in [100, 500, 501, 1_000, 70_000_000] {
        h.record(us).unwrap();
    }
    let (_, count, buckets) = buckets(&h);
    assert_eq!(count, 5);
    assert_eq!(buckets[0], (0.0005, 2), "100 µs and 500 µs");
    assert_eq!(buckets[1], (0.001, 2), "501 µs and 1 ms");
    assert_eq!(*buckets.last().unwrap(), (f64::INFINITY, 1), "70 s is above a minute");
    assert_eq!(buckets.iter().map(|b| b.1).sum::<u64>(), 5);
}

/// One HTTP/1.0 request; the whole response as text.
async fn get(addr: std::net::SocketAddr, request: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

#[tokio::test]
async fn the_endpoint_serves_metrics_and_nothing_else() {
    let listener = bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let exporter = Arc::new(Exporter::new(metrics(), ExporterConfig::default()));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, exporter, async move {
        let _ = stopped.await;
    }));

    let response = get(addr, "GET /metrics HTTP/1.0\r\n\r\n").await;
    assert!(response.starts_with("HTTP/1.0 200 OK\r\n"), "{response}");
    assert!(response.to_lowercase().contains(&format!("content-type: {CONTENT_TYPE}\r\n")), "{response}");
    assert!(response.contains("forge_operations_total{"), "{response}");
    let response = get(addr, "GET /other HTTP/1.0\r\n\r\n").await;
    assert!(response.starts_with("HTTP/1.0 404 Not Found\r\n"), "{response}");
    let response = get(addr, "POST /metrics HTTP/1.0\r\ncontent-length: 0\r\n\r\n").await;
    assert!(response.starts_with("HTTP/1.0 405 Method Not Allowed\r\n"), "{response}");

    // A second listener on the same port is refused, naming the address.
    let e = bind(&addr.to_string()).await.unwrap_err();
    assert!(e.to_string().starts_with(&format!("cannot listen on {addr}: ")), "{e}");

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), server).await.expect("serve ends at shutdown").unwrap();
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "nothing listens after shutdown");
}

#[test]
fn a_frozen_exporter_serves_the_figures_of_the_end_of_the_run() {
    let metrics = metrics();
    let exporter = Exporter::new(metrics.clone(), ExporterConfig::default());
    exporter.freeze();
    let frozen = exporter.encode().unwrap();
    std::thread::sleep(ms(20));
    // Ops settled after the end (none in a real run) and time passing change nothing.
    metrics.record(&[Settled::unanswered(OpKind::Insert, Outcome::Acked { matched: 1, modified: 0 })]);
    assert_eq!(exporter.encode().unwrap(), frozen);
    let lines = parse(&frozen);
    assert_eq!(one(&lines, "forge_operations_total", &[("kind", "insert"), ("outcome", "acknowledged")]), 200.0);
    assert_eq!(one(&lines, "forge_schedule_lag_seconds", &[]), 0.0);
}
