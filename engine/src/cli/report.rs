//! `forge report`: what can be made of a JSON report written with `--report`.

use std::path::{Path, PathBuf};

use super::error::Error;
use crate::metrics::report::Report;

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
    /// Merge the reports of processes that drove one run side by side into one report:
    /// counts add up, latency histograms merge exactly (the percentiles are those of
    /// every op together), time series merge interval by interval (a merged interval's
    /// percentiles are the highest any process saw)
    #[command(after_help = "Example:\n  forge report merge a.json b.json -o run.json && forge report html run.json")]
    Merge {
        /// JSON reports of the same namespace, as `--report FILE` writes them
        #[arg(value_name = "REPORT.json", required = true, num_args = 1..)]
        reports: Vec<PathBuf>,

        /// Where to write the merged report
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
    },
}

pub fn run(args: Args) -> Result<(), Error> {
    match args.action {
        Action::Html { report, output } => html(&report, output),
        Action::Merge { reports, output } => merge(&reports, &output),
    }
}

fn merge(paths: &[PathBuf], output: &Path) -> Result<(), Error> {
    let reports = paths.iter().map(|p| read(p)).collect::<Result<Vec<_>, _>>()?;
    let merged = crate::metrics::merge::merge(&reports).map_err(|e| Error::Usage(format!("cannot merge: {e}")))?;
    let json = serde_json::to_string_pretty(&merged).expect("reports serialise");
    super::secrets::write_file(output, &(json + "\n"))
        .map_err(|e| Error::Runtime(format!("cannot write '{}': {e}", output.display())))?;
    errln!("merged {} reports into {}", paths.len(), output.display());
    Ok(())
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
fn read(path: &Path) -> Result<Report, Error> {
    let text =
        std::fs::read_to_string(path).map_err(|e| Error::Usage(format!("cannot read '{}': {e}", path.display())))?;
    serde_json::from_str(&text)
        .map_err(|e| Error::Usage(format!("'{}' is not a forge report (as written by --report): {e}", path.display())))
}
