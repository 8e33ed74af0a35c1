//! `forge bench --segments N`: what splitting a run into processes buys on this
//! machine. The same `--dry-run` CDC run (planned, materialized with the current
//! document, serialised, sent nowhere) as one process and as N `--spawn`ed segments,
//! in interleaved rounds; each side's ops/s is its report's (the segments': merged,
//! over the union of their windows), so process start-up is not counted on either.

use std::path::Path;
use std::process::Command;

use super::bench_cdc::{MIX, median};
use super::error::Error;
use crate::metrics::report::Report;

/// Rounds: the figures are medians, and the ratio is the median of the rounds' ratios.
const ROUNDS: usize = 5;

pub struct SegmentsBench {
    pub segments: u64,
    pub schema: String,
    pub ops: u64,
    /// `--workers` of every process.
    pub workers: usize,
    pub seed: u64,
}

pub fn run(bench: SegmentsBench) -> Result<(), Error> {
    let dir = tempfile::tempdir().map_err(|e| Error::Runtime(format!("bench --segments: {e}")))?;
    outln!(
        "forge bench --segments: {} ops of {MIX} on {}, --dry-run, --workers {} per process, {ROUNDS} interleaved rounds",
        bench.ops,
        bench.schema,
        bench.workers
    );
    outln!(
        "{:<6} {:>16} {:>18} {:>8}",
        "round",
        "1 process ops/s",
        format!("{} segments ops/s", bench.segments),
        "ratio"
    );
    let (mut one, mut split, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 1..=ROUNDS {
        let a = measure(&bench, 1, &dir.path().join(format!("one-{round}.json")))?;
        let b = measure(&bench, bench.segments, &dir.path().join(format!("split-{round}.json")))?;
        outln!("{round:<6} {a:>16.0} {b:>18.0} {:>7.2}x", b / a);
        one.push(a);
        split.push(b);
        ratios.push(b / a);
    }
    outln!("{:<6} {:>16.0} {:>18.0} {:>7.2}x", "median", median(one), median(split), median(ratios));
    Ok(())
}

/// One run's ops/s, as its report says.
fn measure(bench: &SegmentsBench, segments: u64, report: &Path) -> Result<f64, Error> {
    let exe = std::env::current_exe().map_err(|e| Error::Runtime(format!("cannot find forge's own binary: {e}")))?;
    let mut cmd = Command::new(exe);
    cmd.args(["generate", "--output", "mongo-cdc", "--dry-run", "--quiet", "--operation-ratios", MIX])
        .args(["--schema", &bench.schema, "-n", &bench.ops.to_string(), "--seed", &bench.seed.to_string()])
        .args(["--workers", &bench.workers.to_string()])
        .arg("--report")
        .arg(report);
    if segments > 1 {
        // Started together right away: the processes load nothing slow for a dry run.
        cmd.args(["--segments", &segments.to_string(), "--spawn", "--start-at", "+1s"]);
    }
    let out = cmd.output().map_err(|e| Error::Runtime(format!("bench --segments: cannot run forge: {e}")))?;
    if !out.status.success() {
        return Err(Error::Runtime(format!(
            "bench --segments: the run failed: {}",
            String::from_utf8_lossy(&out.stderr).trim_end()
        )));
    }
    let text = std::fs::read_to_string(report).map_err(|e| Error::Runtime(format!("bench --segments: {e}")))?;
    let report: Report = serde_json::from_str(&text).map_err(|e| Error::Runtime(format!("bench --segments: {e}")))?;
    Ok(report.achieved_rate)
}
