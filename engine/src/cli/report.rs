//! `forge report`: what can be made of a JSON report written with `--report`.

use std::path::{Path, PathBuf};

use super::error::Error;
use crate::metrics::report::Report;
use crate::metrics::threshold::Threshold;

#[derive(Debug, clap::Args)]
#[command(arg_required_else_help = true)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Draw a report as one self-contained HTML page: run facts, latency percentiles by
    /// kind, thresholds, and three charts (ops/s by kind against the target, p50/p99
    /// over time, latency by percentile). It opens offline; the same page as
    /// `--report-html` on a run
    #[command(
        after_help = "Example:\n  forge generate --output mongo-cdc --duration 1m --rate-limit 500 --report run.json\n  \
                            forge report html run.json            # writes run.html"
    )]
    Html {
        /// A JSON report, as `--report FILE` writes it
        #[arg(value_name = "REPORT.json")]
        report: PathBuf,

        /// Where to write the page (default: the report's name with .html)
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Merge the reports of the segments of one run (`--segments`) into the report of
    /// the whole run: counts add up, latency histograms merge exactly (the percentiles
    /// are those of every op together), the achieved rate is over the union of the
    /// segments' windows, time series merge interval by interval (a merged interval's
    /// percentiles are the highest any segment saw), and the segments' thresholds are
    /// checked again on the merged figures. Reports of different runs (namespace,
    /// seed, segment count) or two of one segment are refused; a missing or incomplete
    /// segment is named and exits 1, a failed threshold 99
    #[command(after_help = "Example:\n  forge report merge segment-*.json --out run.json --report-html run.html")]
    Merge {
        /// JSON reports of the segments, as `--report FILE` writes them
        #[arg(value_name = "REPORT.json", required = true, num_args = 1..)]
        reports: Vec<PathBuf>,

        /// Write the merged report as JSON to this file
        #[arg(long, short = 'o', visible_alias = "output", value_name = "FILE")]
        out: Option<PathBuf>,

        /// Write the merged report as an HTML page to this file
        #[arg(long, value_name = "FILE")]
        report_html: Option<PathBuf>,
    },
}

pub fn run(args: Args) -> Result<(), Error> {
    match args.action {
        Action::Html { report, output } => html(&report, output),
        Action::Merge { reports, out, report_html } => merge(&reports, out.as_ref(), report_html.as_ref()),
    }
}

fn merge(paths: &[PathBuf], out: Option<&PathBuf>, html: Option<&PathBuf>) -> Result<(), Error> {
    let reports = paths.iter().map(|p| read(p)).collect::<Result<Vec<_>, _>>()?;
    conclude(&reports, paths, out, html)
}

/// Merges the segments' reports (read from `paths`), prints the summary, writes the
/// merged report and page, and says whether the run is whole and its thresholds held.
pub fn conclude(
    reports: &[Report],
    paths: &[PathBuf],
    out: Option<&PathBuf>,
    html: Option<&PathBuf>,
) -> Result<(), Error> {
    let merged = merged(reports, paths)?;
    let incomplete: Vec<String> = merged
        .incomplete_segments()
        .iter()
        .map(|s| format!("{} ({})", s.index, s.ending.map_or("no report", |e| e.name())))
        .collect();
    let result = super::traffic::finish(merged, out, html);
    if !incomplete.is_empty() {
        return Err(Error::Reported(format!(
            "the run is incomplete: segment{} {} of {}",
            if incomplete.len() > 1 { "s" } else { "" },
            incomplete.join(", "),
            reports[0].segment.count
        )));
    }
    result
}

/// The merged report, its thresholds (every segment's, once each) checked again on
/// the merged figures.
fn merged(reports: &[Report], paths: &[PathBuf]) -> Result<Report, Error> {
    use crate::metrics::merge::MergeError;
    let name = |i: usize| paths[i].display().to_string();
    let mut merged = crate::metrics::merge::merge(reports).map_err(|e| {
        Error::Usage(match e {
            MergeError::Mismatch { first, other, what } => {
                format!("'{}' and '{}' are of different runs: {what}", name(first), name(other))
            }
            MergeError::SameSegment { first, other, segment } => {
                format!("'{}' and '{}' are both reports of {segment}", name(first), name(other))
            }
            MergeError::WholeRuns { first, other } => format!(
                "'{}' and '{}' are both reports of a whole run: only the segments of one run (--segments) merge",
                name(first),
                name(other)
            ),
            MergeError::Histogram { report, source } => format!("'{}': {source}", name(report)),
            MergeError::Empty => "no report to merge".into(),
        })
    })?;
    let mut thresholds: Vec<Threshold> = Vec::new();
    for verdict in reports.iter().flat_map(|r| &r.thresholds) {
        let threshold = Threshold::parse(&verdict.threshold)
            .map_err(|e| Error::Usage(format!("threshold '{}' in a report: {}", verdict.threshold, e.why)))?;
        if !thresholds.iter().any(|t| t.text == threshold.text) {
            thresholds.push(threshold);
        }
    }
    merged.thresholds = super::traffic::check_thresholds(&thresholds, &merged);
    Ok(merged)
}

fn html(path: &Path, output: Option<PathBuf>) -> Result<(), Error> {
    let report = read(path)?;
    let page = crate::metrics::html::render(&report).map_err(|e| {
        let message = format!("'{}': {e}", path.display());
        if e.is_bad_input() { Error::Usage(message) } else { Error::Runtime(message) }
    })?;
    let output = output.unwrap_or_else(|| match path.with_extension("html") {
        // Never over the report itself.
        same if same == path => PathBuf::from(format!("{}.html", path.display())),
        other => other,
    });
    super::secrets::write_file(&output, &page)
        .map_err(|e| Error::Runtime(format!("cannot write '{}': {e}", output.display())))?;
    errln!("wrote {}", output.display());
    Ok(())
}

/// The report in `path`; anything else is one line naming the file.
pub(super) fn read(path: &Path) -> Result<Report, Error> {
    let text =
        std::fs::read_to_string(path).map_err(|e| Error::Usage(format!("cannot read '{}': {e}", path.display())))?;
    serde_json::from_str(&text)
        .map_err(|e| Error::Usage(format!("'{}' is not a forge report (as written by --report): {e}", path.display())))
}
