//! The three charts of the HTML report, drawn from a [`Report`] as SVG (plotters' SVG
//! backend: text stays `<text>` elements for the browser to set, so drawing needs no
//! fonts):
//!
//! - ops/s per kind over time, against the target rate;
//! - service and response p50 and p99 over time (ms, log scale);
//! - the latency distribution by percentile, HdrHistogram style: x is 1/(1-p) on a log
//!   scale (0%, 90%, 99%, 99.9%, ...), so the tail gets as much room as the median.
//!
//! A scenario's phases mark both time charts: a dashed vertical line, named, where each
//! phase started (a dotted one where a pause was due to start).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::ops::Range;

use hdrhistogram::Histogram;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::html::escape;
use super::latency::{DecodeError, Latencies, Measure, Percentiles};
use super::report::Report;
use super::series::Sample;
use crate::plan::OpKind;

/// Size of each chart, in pixels (SVG user units: the page scales them down to fit).
pub const SIZE: (u32, u32) = (1000, 420);

/// The three charts, each a complete `<svg>` element.
#[derive(Debug, Clone)]
pub struct Charts {
    pub throughput: String,
    pub latency_over_time: String,
    pub distribution: String,
}

/// A chart that could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("cannot draw the {chart} chart: {why}")]
    Draw { chart: &'static str, why: String },
    #[error("the report's {kind} histograms cannot be read: {source}")]
    Histogram {
        kind: &'static str,
        #[source]
        source: DecodeError,
    },
}

impl ChartError {
    /// The report's data is at fault (not the drawing).
    pub fn is_bad_input(&self) -> bool {
        matches!(self, ChartError::Histogram { .. })
    }
}

/// All three charts of `report`.
pub fn draw(report: &Report) -> Result<Charts, ChartError> {
    Ok(Charts {
        throughput: throughput(report)?,
        latency_over_time: latency_over_time(report)?,
        distribution: distribution(report)?,
    })
}

/// A kind's colour, the same in every chart.
fn kind_color(kind: OpKind) -> RGBColor {
    match kind {
        OpKind::Insert => RGBColor(31, 119, 180),
        OpKind::Update => RGBColor(255, 127, 14),
        OpKind::Replace => RGBColor(44, 160, 44),
        OpKind::Delete => RGBColor(214, 39, 40),
    }
}

/// The colour of the target rate, and of the sum of all kinds.
pub const TARGET_COLOR: RGBColor = RGBColor(90, 90, 90);
const TOTAL_COLOR: RGBColor = RGBColor(148, 103, 189);

/// Service time is drawn in teal, response time in crimson; p50 thin, p99 thick.
pub const SERVICE_COLOR: RGBColor = RGBColor(23, 140, 160);
pub const RESPONSE_COLOR: RGBColor = RGBColor(200, 30, 90);

fn measure_color(measure: Measure) -> RGBColor {
    match measure {
        Measure::Service => SERVICE_COLOR,
        Measure::Response => RESPONSE_COLOR,
    }
}

/// Draws into an SVG string of [`SIZE`].
fn svg(
    chart: &'static str,
    paint: impl FnOnce(&DrawingArea<SVGBackend, Shift>) -> Result<(), String>,
) -> Result<String, ChartError> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, SIZE).into_drawing_area();
        let fail = |why: String| ChartError::Draw { chart, why };
        root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
        paint(&root).map_err(fail)?;
        root.present().map_err(|e| fail(e.to_string()))?;
    }
    Ok(out)
}

/// The samples worth a point: a last interval cut very short by the end of the run
/// holds too few ops for a rate or a percentile (a spike of noise), so it is left out.
fn samples(report: &Report) -> impl Iterator<Item = &Sample> {
    let longest = report.series.iter().map(|s| s.interval_s).fold(0.0, f64::max);
    report.series.iter().filter(move |s| s.interval_s >= longest / 4.0)
}

fn kinds_in_series(report: &Report) -> BTreeSet<OpKind> {
    report.series.iter().flat_map(|s| s.ops.keys().copied()).collect()
}

/// The time axis: the run's duration (or its last sample), at least a second.
fn time_range(report: &Report) -> Range<f64> {
    let last = report.series.last().map_or(0.0, |s| s.t_s);
    0.0..report.duration_s.max(last).max(1.0)
}

fn caption_font() -> TextStyle<'static> {
    ("sans-serif", 20).into_font().into()
}

fn label_font() -> TextStyle<'static> {
    ("sans-serif", 14).into_font().into()
}

/// Ops/s of each kind per interval (and of all kinds, when there are several), with
/// the target rate as a dashed line.
pub fn throughput(report: &Report) -> Result<String, ChartError> {
    let mut marks = String::new();
    let chart = svg("throughput", |root| {
        let kinds = kinds_in_series(report);
        let peak = samples(report).map(|s| s.rate()).fold(0.0, f64::max);
        let top = (peak.max(report.target_rate.unwrap_or(0.0)) * 1.15).max(1.0);
        let mut chart = ChartBuilder::on(root)
            .caption("Throughput: operations per second, by kind", caption_font())
            .margin(16)
            .margin_right(40)
            .x_label_area_size(44)
            .y_label_area_size(70)
            .build_cartesian_2d(time_range(report), 0.0..top)
            .map_err(|e| e.to_string())?;
        marks = phase_marks(report, chart.plotting_area().get_pixel_range().1, |t| chart.backend_coord(&(t, 0.0)).0);
        chart
            .configure_mesh()
            .x_desc("time since start (s)")
            .y_desc("ops/s")
            .y_label_formatter(&|v| number(*v))
            .label_style(label_font())
            .axis_desc_style(label_font())
            .light_line_style(RGBColor(240, 240, 240))
            .draw()
            .map_err(|e| e.to_string())?;
        for kind in &kinds {
            let color = kind_color(*kind);
            let points: Vec<(f64, f64)> = samples(report).map(|s| (s.t_s, s.rate_of(*kind))).collect();
            chart
                .draw_series(LineSeries::new(points, color.stroke_width(2)))
                .map_err(|e| e.to_string())?
                .label(kind.name())
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 24, y)], color.stroke_width(3)));
        }
        if kinds.len() > 1 {
            let points: Vec<(f64, f64)> = samples(report).map(|s| (s.t_s, s.rate())).collect();
            chart
                .draw_series(LineSeries::new(points, TOTAL_COLOR.stroke_width(2)))
                .map_err(|e| e.to_string())?
                .label("all kinds")
                .legend(|(x, y)| PathElement::new([(x, y), (x + 24, y)], TOTAL_COLOR.stroke_width(3)));
        }
        if let Some(target) = report.target_rate {
            let span = time_range(report);
            let line = [(span.start, target), (span.end, target)];
            chart
                .draw_series(DashedLineSeries::new(line, 10, 6, TARGET_COLOR.stroke_width(2)))
                .map_err(|e| e.to_string())?
                .label(format!("target {}/s", number(target)))
                .legend(|(x, y)| PathElement::new([(x, y), (x + 24, y)], TARGET_COLOR.stroke_width(2)));
        }
        legend(&mut chart)
    })?;
    Ok(underlay(chart, &marks))
}

/// The legend box, top right, over the lines.
fn legend<'a, 'b: 'a, X: Ranged, Y: Ranged>(
    chart: &mut ChartContext<'a, SVGBackend<'b>, Cartesian2d<X, Y>>,
) -> Result<(), String> {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font(label_font())
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(200, 200, 200))
        .draw()
        .map_err(|e| e.to_string())
}

/// A log axis from the decade at or below `lo` to the decade at or above `hi` (ms).
fn decades(lo: f64, hi: f64) -> Range<f64> {
    let lo = if lo.is_finite() && lo > 0.0 { lo } else { 0.01 };
    let hi = if hi.is_finite() && hi > lo { hi } else { lo * 10.0 };
    let floor = 10f64.powf(lo.log10().floor());
    let mut ceil = 10f64.powf(hi.log10().ceil());
    if ceil <= floor {
        ceil = floor * 10.0;
    }
    floor..ceil
}

/// Service and response p50 and p99 per interval. A sample holds percentiles by kind,
/// which do not merge: with several kinds, each point is the slowest kind's.
pub fn latency_over_time(report: &Report) -> Result<String, ChartError> {
    let mut marks = String::new();
    let chart = svg("latency over time", |root| {
        let several = kinds_in_series(report).len() > 1;
        let lines: Vec<(Measure, &str, Points)> = Measure::ALL
            .into_iter()
            .flat_map(|m| ["p50", "p99"].map(|name| (m, name, points_over_time(report, m, name))))
            .collect();
        let all = lines.iter().flat_map(|(_, _, p)| p.iter().map(|(_, ms)| *ms));
        let (lo, hi) = all.fold((f64::INFINITY, 0.0f64), |(lo, hi), ms| (lo.min(ms), hi.max(ms)));
        let mut chart = ChartBuilder::on(root)
            .caption(
                if several {
                    "Latency over time: p50 and p99 (slowest kind per interval)"
                } else {
                    "Latency over time: p50 and p99"
                },
                caption_font(),
            )
            .margin(16)
            .margin_right(40)
            .x_label_area_size(44)
            .y_label_area_size(70)
            .build_cartesian_2d(time_range(report), decades(lo, hi).log_scale())
            .map_err(|e| e.to_string())?;
        let bottom = decades(lo, hi).start;
        marks = phase_marks(report, chart.plotting_area().get_pixel_range().1, |t| chart.backend_coord(&(t, bottom)).0);
        chart
            .configure_mesh()
            .x_desc("time since start (s)")
            .y_desc("latency (ms, log scale)")
            .y_label_formatter(&|ms| number(*ms))
            .label_style(label_font())
            .axis_desc_style(label_font())
            .light_line_style(RGBColor(240, 240, 240))
            .draw()
            .map_err(|e| e.to_string())?;
        for (measure, name, points) in lines {
            let color = measure_color(measure);
            let width = if name == "p99" { 3 } else { 1 };
            chart
                .draw_series(LineSeries::new(points, color.stroke_width(width)))
                .map_err(|e| e.to_string())?
                .label(format!("{} {name}", measure.name()))
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 24, y)], color.stroke_width(width + 1)));
        }
        legend(&mut chart)
    })?;
    Ok(underlay(chart, &marks))
}

/// The colour of the phase marks.
pub const PHASE_COLOR: RGBColor = RGBColor(85, 85, 85);

/// The phase marks of a time chart, as SVG: for each phase that started, a dashed line
/// (class `phase-start`) at its start with its name along it; for each pause, a dotted
/// line (class `phase-pause`) where it was due to start. `rows`: the plotting area's
/// pixel rows; `x_of`: the pixel column of a time.
fn phase_marks(report: &Report, rows: Range<i32>, x_of: impl Fn(f64) -> i32) -> String {
    let span = time_range(report);
    let mut out = String::new();
    for (i, phase) in report.phases.iter().enumerate() {
        // Reports from before phase names have none.
        let name = if phase.name.is_empty() { format!("phase {}", i + 1) } else { phase.name.clone() };
        let (class, at, dashes, label, what) = match (phase.started_s, phase.scheduled_start_s) {
            (Some(at), _) => ("phase-start", at, "6 4", name.clone(), "started"),
            (None, Some(at)) if phase.kind == "pause" => {
                ("phase-pause", at, "2 4", format!("{name} (pause)"), "due to start")
            }
            _ => continue,
        };
        if !span.contains(&at) {
            continue;
        }
        let x = x_of(at);
        let (top, bottom) = (rows.start, rows.end);
        // The name reads upwards from the bottom, just right of its line.
        let (lx, ly) = (x + 13, bottom - 6);
        let _ = write!(
            out,
            "<line class=\"{class}\" data-phase=\"{i}\" x1=\"{x}\" y1=\"{top}\" x2=\"{x}\" y2=\"{bottom}\" \
             stroke-dasharray=\"{dashes}\"><title>{} {what} at {at:.1} s</title></line>\n\
             <text x=\"{lx}\" y=\"{ly}\" stroke=\"white\" stroke-width=\"3\" paint-order=\"stroke\" transform=\"rotate(-90 {lx} {ly})\">{}</text>\n",
            escape(&name),
            escape(&label),
        );
    }
    if out.is_empty() {
        return out;
    }
    let RGBColor(r, g, b) = PHASE_COLOR;
    let color = format!("#{r:02X}{g:02X}{b:02X}");
    format!(
        "<g class=\"phase-marks\" stroke=\"{color}\" stroke-width=\"1.5\" fill=\"{color}\" \
         font-family=\"sans-serif\" font-size=\"13\">\n{out}</g>\n"
    )
}

/// `chart` with `marks` drawn first, over its background only: the data and the
/// legend stay on top of them.
fn underlay(chart: String, marks: &str) -> String {
    // The background is the first element (see `svg`).
    let after_background =
        chart.find("<rect").and_then(|at| chart[at..].find('>').map(|end| at + end + 1)).filter(|_| !marks.is_empty());
    match after_background {
        Some(at) => {
            let mut out = String::with_capacity(chart.len() + marks.len() + 1);
            out.push_str(&chart[..at]);
            out.push('\n');
            out.push_str(marks);
            out.push_str(chart[at..].trim_start_matches('\n'));
            out
        }
        None => chart,
    }
}

/// (x, y) points of a line.
type Points = Vec<(f64, f64)>;

/// One point per interval that measured `measure`: the highest percentile `name` of any
/// kind.
fn points_over_time(report: &Report, measure: Measure, name: &str) -> Vec<(f64, f64)> {
    let pick = |p: &Percentiles| p.named(name).unwrap_or(0.0);
    samples(report)
        .filter_map(|s| {
            let measured = s.latency.values().map(|l| l.get(measure)).filter(|p| p.count > 0);
            let worst = measured.map(pick).fold(None, |acc: Option<f64>, v| Some(acc.map_or(v, |a| a.max(v))));
            worst.filter(|ms| *ms > 0.0).map(|ms| (s.t_s, ms))
        })
        .collect()
}

/// Latency by percentile, all kinds together, from the report's histograms.
pub fn distribution(report: &Report) -> Result<String, ChartError> {
    let mut kinds = BTreeMap::new();
    for (kind, encoded) in &report.histograms {
        let decoded = encoded.decode().map_err(|source| ChartError::Histogram { kind: kind.name(), source })?;
        kinds.insert(*kind, decoded);
    }
    let all: Latencies = super::latency::overall(&kinds);
    svg("latency distribution", |root| {
        let count = all.service.len().max(all.response.len());
        // Nines on the x axis: as many as the ops can tell apart (2 to 6).
        let nines = ((count.max(1) as f64).log10().ceil() as u32).clamp(2, 6);
        let curves: Vec<(Measure, Vec<(f64, f64)>)> =
            Measure::ALL.into_iter().map(|m| (m, percentile_curve(all.get(m), nines))).collect();
        let values = curves.iter().flat_map(|(_, c)| c.iter().map(|(_, ms)| *ms));
        let (lo, hi) = values.fold((f64::INFINITY, 0.0f64), |(lo, hi), ms| (lo.min(ms), hi.max(ms)));
        let mut chart = ChartBuilder::on(root)
            .caption(format!("Latency by percentile, all kinds ({} ops)", number(count as f64)), caption_font())
            .margin(16)
            .margin_right(40)
            .x_label_area_size(44)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..f64::from(nines), decades(lo, hi).log_scale())
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_labels(nines as usize + 1)
            .x_desc("percentile (log scale of 1/(1-p))")
            .y_desc("latency (ms, log scale)")
            .x_label_formatter(&|x| percentile_label(*x))
            .y_label_formatter(&|ms| number(*ms))
            .label_style(label_font())
            .axis_desc_style(label_font())
            .light_line_style(RGBColor(240, 240, 240))
            .draw()
            .map_err(|e| e.to_string())?;
        for (measure, curve) in curves {
            if curve.is_empty() {
                continue;
            }
            let color = measure_color(measure);
            chart
                .draw_series(LineSeries::new(curve, color.stroke_width(2)))
                .map_err(|e| e.to_string())?
                .label(format!("{} time", measure.name()))
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 24, y)], color.stroke_width(3)));
        }
        legend(&mut chart)
    })
}

/// Points (log10 of 1/(1-p), latency in ms) from p = 0 to the last nine, then the max.
fn percentile_curve(h: &Histogram<u64>, nines: u32) -> Vec<(f64, f64)> {
    if h.is_empty() {
        return Vec::new();
    }
    const STEPS_PER_NINE: u32 = 60;
    let steps = nines * STEPS_PER_NINE;
    let mut curve: Vec<(f64, f64)> = (0..steps)
        .map(|i| {
            let x = f64::from(i) / f64::from(STEPS_PER_NINE);
            let p = 1.0 - 10f64.powf(-x);
            (x, h.value_at_quantile(p) as f64 / 1000.0)
        })
        .collect();
    curve.push((f64::from(nines), h.max() as f64 / 1000.0));
    curve
}

/// The percentile at x = log10(1/(1-p)): 0 → "0%", 1 → "90%", 3 → "99.9%".
pub fn percentile_label(x: f64) -> String {
    let nines = x.round() as i32;
    if (x - f64::from(nines)).abs() > 1e-6 || nines < 0 {
        let p = 100.0 * (1.0 - 10f64.powf(-x));
        return format!("{p:.2}%");
    }
    match nines {
        0 => "0%".into(),
        1 => "90%".into(),
        n => format!("99.{}%", "9".repeat(n as usize - 2)).replace(".%", "%"),
    }
}

/// A figure for a label: no needless decimals, thousands as k.
pub fn number(v: f64) -> String {
    match v.abs() {
        a if a >= 10_000.0 => format!("{:.0}k", v / 1000.0),
        a if a >= 100.0 || v.fract() == 0.0 => format!("{v:.0}"),
        a if a >= 1.0 => format!("{v:.1}"),
        a if a >= 0.01 => format!("{v:.2}"),
        _ => format!("{v:.3}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_labels_count_nines() {
        let labels: Vec<String> = (0..=5).map(|x| percentile_label(f64::from(x))).collect();
        assert_eq!(labels, ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%"]);
        assert_eq!(percentile_label(std::f64::consts::LOG10_2), "50.00%");
    }

    #[test]
    fn log_axes_span_whole_decades() {
        assert_eq!(decades(0.3, 42.0), 0.1..100.0);
        assert_eq!(decades(1.0, 1.0), 1.0..10.0);
        assert_eq!(decades(f64::INFINITY, 0.0), 0.01..0.1);
    }

    #[test]
    fn the_percentile_curve_climbs_to_the_max() {
        let mut h = super::super::latency::histogram();
        for us in 1..=10_000u64 {
            h.record(us).unwrap();
        }
        let curve = percentile_curve(&h, 4);
        assert_eq!(curve.first().unwrap().0, 0.0);
        assert_eq!(curve.last().unwrap(), &(4.0, h.max() as f64 / 1000.0));
        assert!(curve.windows(2).all(|w| w[0].1 <= w[1].1), "latency never falls as p rises");
        let p99 = curve.iter().find(|(x, _)| (*x - 2.0).abs() < 1e-9).unwrap().1;
        assert!((p99 - 9.9).abs() < 0.05, "p99 of 1..10,000 µs is 9.9 ms, not {p99}");
    }
}
