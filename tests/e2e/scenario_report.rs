//! A scenario's phases in its reports: named in each collection's JSON report, in
//! force in each sample of the time series, and marked on the HTML report's charts.

use std::time::Duration;

use serde::Deserialize;

use crate::support::Forge;

/// The parts of `forge run --report` this test reads (engine/src/scenario/report.rs).
#[derive(Debug, Deserialize)]
struct ScenarioReport {
    collections: Vec<CollectionReport>,
}

#[derive(Debug, Deserialize)]
struct CollectionReport {
    phases: Vec<Phase>,
    series: Vec<Sample>,
}

#[derive(Debug, Deserialize)]
struct Phase {
    name: String,
    kind: String,
    scheduled_start_s: Option<f64>,
    started_s: Option<f64>,
    acknowledged: u64,
}

#[derive(Debug, Deserialize)]
struct Sample {
    t_s: f64,
    /// Absent before the first phase starts.
    #[serde(default)]
    phase: Option<usize>,
}

#[test]
fn phases_are_named_in_the_report_carried_by_the_series_and_marked_on_the_charts() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("phased.yaml");
    std::fs::write(
        &scenario,
        "collections:
  a: {schema: 'example:customers'}
phases:
  - {name: warm, duration: 3s, rate: 200}
  - {name: rest, pause: 1s}
  - {name: peak, duration: 2s, rate: 400}
",
    )
    .unwrap();
    let html = dir.path().join("{collection}.html");
    let out = Forge::new_run(&scenario)
        .flag("--dry-run")
        .arg("--metrics-interval", "500ms")
        .arg("--report-html", &html)
        .report()
        .quiet()
        .spawn()
        // A paced dry run once waited forever for its ops to be counted.
        .wait(Duration::from_secs(60))
        .success();
    let report: ScenarioReport = out.report();
    let a = &report.collections[0];

    let names: Vec<(&str, &str)> = a.phases.iter().map(|p| (p.name.as_str(), p.kind.as_str())).collect();
    assert_eq!(names, [("warm", "steady"), ("rest", "pause"), ("peak", "steady")]);
    let due: Vec<Option<f64>> = a.phases.iter().map(|p| p.scheduled_start_s).collect();
    assert_eq!(due, [Some(0.0), Some(3.0), Some(4.0)]);
    let (warm, rest, peak) = (&a.phases[0], &a.phases[1], &a.phases[2]);
    assert_eq!((warm.acknowledged, rest.acknowledged, peak.acknowledged), (600, 0, 800), "{:?}", a.phases);
    let (warm_at, peak_at) = (warm.started_s.expect("warm started"), peak.started_s.expect("peak started"));
    assert_eq!(rest.started_s, None, "a pause admits no operation");
    // Paced: the peak cannot start before its slot, 3 s of warm and 1 s of rest later.
    assert!(warm_at < 0.5 && peak_at - warm_at >= 3.9, "warm at {warm_at} s, peak at {peak_at} s");

    // Each sample carries the phase in force at its end: the warm phase until the
    // peak starts (a pause never starts), the peak from then on.
    assert!(a.series.len() >= 10, "{} samples of 500 ms in 6 s", a.series.len());
    for s in &a.series {
        let expected = if s.t_s >= peak_at { 2 } else { 0 };
        assert_eq!(s.phase, Some(expected), "the sample at {} s (peak from {peak_at} s): {:?}", s.t_s, a.series);
    }
    let in_peak = a.series.iter().filter(|s| s.phase == Some(2)).count();
    assert!(in_peak >= 3, "{in_peak} samples of 500 ms in the 2 s peak");

    let page = std::fs::read_to_string(dir.path().join("a.html"))
        .unwrap_or_else(|e| panic!("no --report-html page for a ({e}):\n{}", out.stderr));
    // One dashed line per started phase on each time chart (ops/s, latency), a dotted
    // one where the pause was due.
    assert_eq!(page.matches("<line class=\"phase-start\"").count(), 2 * 2, "{page}");
    for started in ["data-phase=\"0\"", "data-phase=\"2\""] {
        assert_eq!(page.matches(&format!("class=\"phase-start\" {started}")).count(), 2, "{started}");
    }
    assert_eq!(page.matches("<line class=\"phase-pause\" data-phase=\"1\"").count(), 2);
    for label in [">warm</text>", ">peak</text>", ">rest (pause)</text>"] {
        assert_eq!(page.matches(label).count(), 2, "{label} on both time charts");
    }
    assert!(page.contains("<h2>Phases</h2>"));
    for row in ["<tr><td>warm</td><td>steady</td>", "<tr><td>rest</td><td>pause</td>", "<tr><td>peak</td>"] {
        assert!(page.contains(row), "the phase table has {row}");
    }
}
