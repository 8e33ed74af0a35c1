//! The HTML report: one self-contained page (no scripts, fonts, images or styles from
//! elsewhere, so it opens offline and can be attached to a ticket) with the run's
//! facts, its latency percentiles by kind, the thresholds' verdicts and the three
//! charts of [`super::charts`], inline as SVG.

use std::fmt::Write as _;

use super::charts::{self, ChartError};
use super::latency::{KindLatency, Percentiles};
use super::report::Report;

/// The page for `report`.
pub fn render(report: &Report) -> Result<String, ChartError> {
    let charts = charts::draw(report)?;
    let title = format!("forge {} on {}", report.command, report.namespace);
    let mut page = String::new();
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        escape(&title),
        escape(&title)
    );
    facts(&mut page, report);
    thresholds(&mut page, report);
    phase_table(&mut page, report);
    latency_table(&mut page, report);
    page.push_str("<h2>Charts</h2>\n");
    let marks = if report.phases.is_empty() {
        ""
    } else {
        " The grey dashed lines mark where each phase started (dotted: where a pause was due to start)."
    };
    for (svg, what) in [
        (
            &charts.throughput,
            format!(
                "Operations per second by kind in each metrics interval; the dashed line is the target rate.{marks}"
            ),
        ),
        (
            &charts.latency_over_time,
            format!(
                "Service time (batch sent → acknowledged) and response time (scheduled → acknowledged) in each \
                 interval. Response time above service time is time spent waiting in forge: the run is behind \
                 its schedule.{marks}"
            ),
        ),
        (
            &charts.distribution,
            "The whole run's latencies by percentile: each step to the right is one more nine, so the tail \
             is as visible as the median."
                .into(),
        ),
    ] {
        let _ = write!(page, "<figure>\n{svg}<figcaption>{}</figcaption>\n</figure>\n", escape(&what));
    }
    let _ = write!(
        page,
        "<footer>forge {} · started {} · seed {}</footer>\n</body>\n</html>\n",
        escape(&report.forge_version),
        escape(&report.started_at),
        escape(&report.seed_given)
    );
    Ok(page)
}

const STYLE: &str = "body{font-family:sans-serif;margin:24px auto;max-width:1060px;color:#222;padding:0 16px}\
h1{font-size:24px;margin:0 0 16px}h2{font-size:18px;margin:28px 0 8px}\
table{border-collapse:collapse;font-size:14px}td,th{padding:3px 10px;text-align:right;border-bottom:1px solid #ddd}\
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}\
table.facts td{text-align:left}table.facts td:first-child{color:#555}table.phases td:nth-child(2){text-align:left}\
.passed{color:#1a7f37;font-weight:bold}.failed{color:#c21d1d;font-weight:bold}\
figure{margin:16px 0}figure svg{max-width:100%;height:auto;border:1px solid #ddd}\
figcaption{font-size:13px;color:#555;margin-top:4px}code{font-size:13px}\
footer{margin-top:24px;font-size:12px;color:#777}";

fn facts(page: &mut String, report: &Report) {
    let mut rows: Vec<(&str, String)> = vec![
        ("command", format!("<code>{}</code>", escape(&report.flags.join(" ")))),
        ("namespace", escape(&report.namespace)),
        ("started", escape(&report.started_at)),
        ("duration", format!("{:.1} s", report.duration_s)),
        ("ending", escape(report.ending.name())),
    ];
    let done = if report.dry_run {
        let planned: u64 = report.ops.values().map(|k| k.not_sent).sum();
        format!("{planned} materialized, none sent (dry run)")
    } else {
        format!("{} acknowledged", report.acknowledged())
    };
    rows.push(("operations", done));
    let errors = super::errors(&report.ops);
    if errors > 0 {
        rows.push(("errors", errors.to_string()));
    }
    rows.push((
        "rate",
        match report.target_rate {
            Some(target) => format!(
                "{} ops/s achieved, target {} ops/s ({:.1}%)",
                charts::number(report.achieved_rate),
                charts::number(target),
                100.0 * report.achieved_rate / target.max(1e-9)
            ),
            None => format!("{} ops/s (no target: as fast as possible)", charts::number(report.achieved_rate)),
        },
    ));
    if let Some(s) = &report.schedule {
        rows.push((
            "schedule",
            format!(
                "up to {} behind, {} ops started late, {:.1} s of schedule lost",
                ms(s.max_lag_ms),
                s.late_ops,
                s.slipped_s
            ),
        ));
    }
    if let Some(api) = &report.bulk_api {
        rows.push(("bulk API", escape(api)));
    }
    if let Some(error) = &report.error {
        rows.push(("error", format!("<span class=\"failed\">{}</span>", escape(error))));
    }
    page.push_str("<table class=\"facts\">\n");
    for (name, value) in rows {
        let _ = writeln!(page, "<tr><td>{name}</td><td>{value}</td></tr>");
    }
    page.push_str("</table>\n");
}

fn thresholds(page: &mut String, report: &Report) {
    if report.thresholds.is_empty() {
        return;
    }
    page.push_str(
        "<h2>Thresholds</h2>\n<table>\n<tr><th>threshold</th><th>measured</th><th>limit</th><th>verdict</th></tr>\n",
    );
    for v in &report.thresholds {
        let figure = |f: Option<f64>| f.map(charts::number).unwrap_or_else(|| "–".into());
        let (class, word) = if v.passed { ("passed", "passed") } else { ("failed", "FAILED") };
        let _ = writeln!(
            page,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td class=\"{class}\">{word}{}</td></tr>",
            escape(&v.threshold),
            figure(v.actual),
            figure(v.limit),
            v.note.as_deref().map(|n| format!(" ({})", escape(n))).unwrap_or_default()
        );
    }
    page.push_str("</table>\n");
}

/// A scenario's phases: when each was due and started, and what it did.
fn phase_table(page: &mut String, report: &Report) {
    if report.phases.is_empty() {
        return;
    }
    let done = if report.dry_run { "materialized" } else { "acknowledged" };
    let _ = writeln!(
        page,
        "<h2>Phases</h2>\n<table class=\"phases\">\n<tr><th>phase</th><th>kind</th><th>due at</th>\
         <th>started at</th><th>{done}</th></tr>"
    );
    let secs = |s: Option<f64>| s.map_or_else(|| "–".into(), |s| format!("{s:.1} s"));
    for (i, p) in report.phases.iter().enumerate() {
        let name = if p.name.is_empty() { format!("phase {}", i + 1) } else { p.name.clone() };
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&name),
            if p.kind.is_empty() { "–".into() } else { escape(&p.kind) },
            secs(p.scheduled_start_s),
            secs(p.started_s),
            p.acknowledged
        );
    }
    page.push_str("</table>\n");
}

fn latency_table(page: &mut String, report: &Report) {
    let l = &report.latency;
    if l.all.service.count == 0 && l.all.response.count == 0 {
        return;
    }
    page.push_str(
        "<h2>Latency (ms)</h2>\n<table>\n<tr><th rowspan=\"2\">kind</th><th rowspan=\"2\">ops</th>\
         <th colspan=\"5\">service time</th><th colspan=\"5\">response time</th></tr>\n<tr>",
    );
    for _ in 0..2 {
        page.push_str("<th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th>");
    }
    page.push_str("</tr>\n");
    let mut rows: Vec<(&str, &KindLatency)> = l.kinds.iter().map(|(k, l)| (k.name(), l)).collect();
    if l.kinds.len() != 1 {
        rows.push(("all", &l.all));
    }
    for (name, kind) in rows {
        let five = |p: &Percentiles| {
            [p.p50_ms, p.p90_ms, p.p99_ms, p.p999_ms, p.max_ms]
                .map(|v| format!("<td>{}</td>", charts::number(v)))
                .concat()
        };
        let _ = writeln!(
            page,
            "<tr><td>{name}</td><td>{}</td>{}{}</tr>",
            kind.service.count.max(kind.response.count),
            five(&kind.service),
            five(&kind.response)
        );
    }
    page.push_str("</table>\n");
}

fn ms(ms: f64) -> String {
    if ms >= 1000.0 { format!("{:.2} s", ms / 1000.0) } else { format!("{ms:.0} ms") }
}

/// Text for HTML: element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::*;
    use crate::metrics::latency::{self, Latencies};
    use crate::metrics::report::{Ending, LatencyReport, PhaseTally};
    use crate::metrics::threshold::Verdict;
    use crate::metrics::{KindCounts, Sample, Schedule};
    use crate::plan::OpKind;

    /// A paced run of inserts and updates at 300 ops/s, sampled every 500 ms.
    fn example() -> Report {
        let mut lat = Latencies::default();
        for i in 1..=2000u64 {
            latency::record(&mut lat.service, Duration::from_micros(200 + i));
            latency::record(&mut lat.response, Duration::from_micros(300 + 3 * i));
        }
        let counts = |n| KindCounts { attempted: n, acknowledged: n, matched: n, ..Default::default() };
        let series = (1..=8u64)
            .map(|i| Sample {
                t_s: i as f64 * 0.5,
                interval_s: 0.5,
                target_rate: Some(300.0),
                ops: BTreeMap::from([(OpKind::Insert, counts(100)), (OpKind::Update, counts(50))]),
                latency: BTreeMap::from([(OpKind::Insert, lat.percentiles()), (OpKind::Update, lat.percentiles())]),
                lag_ms: 0.0,
                done_total: i * 150,
                errors_total: 0,
                phase: None,
            })
            .collect();
        Report {
            forge_version: "0.0.0".into(),
            command: "generate".into(),
            namespace: "db.<c>".into(),
            dry_run: false,
            seed: 1,
            seed_given: "1".into(),
            segment: crate::segment::Segment::WHOLE,
            segments: Vec::new(),
            started_at: "2026-01-01T00:00:00Z".into(),
            duration_s: 4.0,
            ending: Ending::Completed,
            bulk_api: Some("client".into()),
            failure: None,
            error: None,
            target_rate: Some(300.0),
            achieved_rate: 298.0,
            ops: BTreeMap::from([(OpKind::Insert, counts(800)), (OpKind::Update, counts(400))]),
            requested_mix: BTreeMap::new(),
            converted_to_insert: 0,
            skipped: BTreeMap::new(),
            plugin_errors: BTreeMap::new(),
            warmup_inserts: 0,
            latency: LatencyReport {
                all: lat.percentiles(),
                kinds: BTreeMap::from([(OpKind::Insert, lat.percentiles()), (OpKind::Update, lat.percentiles())]),
            },
            histograms: BTreeMap::from([(OpKind::Insert, lat.encode()), (OpKind::Update, lat.encode())]),
            schedule: Some(Schedule::default()),
            series,
            thresholds: vec![Verdict {
                threshold: "update.response.p99<1ms".into(),
                actual: Some(6.3),
                limit: Some(1.0),
                passed: false,
                note: None,
            }],
            retries: Default::default(),
            flags: vec!["forge".into(), "generate".into(), "--rate-limit".into(), "300".into()],
            phases: Vec::new(),
        }
    }

    #[test]
    fn the_page_holds_facts_verdicts_and_three_drawn_charts() {
        let page = render(&example()).unwrap();
        assert_eq!(page.matches("<svg").count(), 3);
        assert!(page.matches("<polyline").count() >= 3 + 2 + 4);
        assert!(page.contains("db.&lt;c&gt;") && !page.contains("db.<c>"), "text is escaped");
        assert!(page.contains("<code>update.response.p99&lt;1ms</code>") && page.contains("FAILED"));
        assert!(page.contains("298 ops/s achieved, target 300 ops/s (99.3%)"));
        assert!(page.contains("target 300/s") && page.contains("99.9%") && page.contains("ms, log scale"));
        assert!(
            !page.contains("http://")
                || page.matches("http://").count() == page.matches("xmlns=\"http://www.w3.org/2000/svg\"").count()
        );
    }

    #[test]
    fn an_unreadable_histogram_is_bad_input() {
        let mut report = example();
        report.histograms.get_mut(&OpKind::Update).unwrap().response = "not a histogram".into();
        let e = render(&report).unwrap_err();
        assert!(e.is_bad_input(), "{e}");
        assert!(e.to_string().contains("update histograms"), "{e}");
    }

    #[test]
    fn a_run_without_samples_or_target_still_draws() {
        let mut report = example();
        (report.series, report.histograms, report.target_rate) = (Vec::new(), BTreeMap::new(), None);
        report.latency = LatencyReport::default();
        let page = render(&report).unwrap();
        assert_eq!(page.matches("<svg").count(), 3);
    }

    /// `example` as a scenario's collection: a ramp from 0 s, a pause due at 1.5 s, a
    /// spike from 2.5 s, and a phase never reached.
    fn phased() -> Report {
        let mut report = example();
        let tally = |name: &str, kind: &str, due: f64, started: Option<f64>, acknowledged| PhaseTally {
            name: name.into(),
            kind: kind.into(),
            scheduled_start_s: Some(due),
            acknowledged,
            started_s: started,
        };
        report.phases = vec![
            tally("warm <up>", "ramp", 0.0, Some(0.01), 450),
            tally("rest", "pause", 1.5, None, 0),
            tally("spike", "steady", 2.5, Some(2.52), 750),
            tally("late", "steady", 9.0, None, 0),
        ];
        for (sample, phase) in report.series.iter_mut().zip([0, 0, 0, 0, 0, 2, 2, 2]) {
            sample.phase = Some(phase);
        }
        report
    }

    #[test]
    fn phases_are_marked_on_both_time_charts_and_tabled() {
        let page = render(&phased()).unwrap();
        // Two started phases on each of the two time charts; the pause's due start too.
        assert_eq!(page.matches("<line class=\"phase-start\"").count(), 2 * 2);
        assert_eq!(page.matches("<line class=\"phase-pause\"").count(), 2);
        assert_eq!(page.matches("<g class=\"phase-marks\"").count(), 2, "none on the distribution chart");
        for (i, name) in [(0, "warm &lt;up&gt;"), (2, "spike")] {
            assert_eq!(page.matches(&format!("class=\"phase-start\" data-phase=\"{i}\"")).count(), 2);
            assert_eq!(page.matches(&format!(">{name}</text>")).count(), 2, "{name} labels its lines");
        }
        assert!(page.contains(">rest (pause)</text>"));
        assert!(!page.contains(">late</text>"), "a phase never reached is not marked");
        // The spike's line is right of the ramp's, in the same place on both charts.
        let x1 = |i: usize| -> Vec<i32> {
            page.match_indices(&format!("data-phase=\"{i}\" x1=\""))
                .map(|(at, m)| {
                    let rest = &page[at + m.len()..];
                    rest[..rest.find('"').unwrap()].parse().unwrap()
                })
                .collect()
        };
        let (ramp, spike) = (x1(0), x1(2));
        assert!(ramp[0] < spike[0] && ramp == vec![ramp[0]; 2] && spike == vec![spike[0]; 2], "{ramp:?} {spike:?}");
        // Under the data: the marks come before the first data line.
        let svg = &page[page.find("<svg").unwrap()..];
        assert!(svg.find("phase-marks").unwrap() < svg.find("<polyline").unwrap());

        assert!(page.contains("<h2>Phases</h2>"));
        for row in [
            "<tr><td>warm &lt;up&gt;</td><td>ramp</td><td>0.0 s</td><td>0.0 s</td><td>450</td></tr>",
            "<tr><td>rest</td><td>pause</td><td>1.5 s</td><td>–</td><td>0</td></tr>",
            "<tr><td>spike</td><td>steady</td><td>2.5 s</td><td>2.5 s</td><td>750</td></tr>",
        ] {
            assert!(page.contains(row), "{row}");
        }
    }

    #[test]
    fn a_run_without_phases_has_no_marks_or_phase_table() {
        let page = render(&example()).unwrap();
        assert!(!page.contains("phase-") && !page.contains("<h2>Phases</h2>") && !page.contains("grey dashed"));
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }
}
