//! A scenario's report: every collection's own report (the same as a
//! single-collection run's) and one row per phase.

use serde::{Deserialize, Serialize};

use super::Scenario;
use crate::metrics::report::Report;
use crate::rate::Stage;
use crate::transaction::TransactionReport;

/// What a scenario run did, as `forge run --report` writes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScenarioReport {
    /// The scenario file.
    pub scenario: String,
    /// The scenario seed, as used (each collection's report has its own, derived).
    pub seed: u64,
    pub seed_given: String,
    pub phases: Vec<PhaseRow>,
    /// Each collection's report, in the scenario's order.
    pub collections: Vec<Report>,
    /// Each transaction stream's report.
    #[serde(default)]
    pub transactions: Vec<TransactionReport>,
}

/// One phase, all collections together.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PhaseRow {
    pub name: String,
    /// steady, ramp, pause or unpaced.
    pub kind: String,
    /// Operations per second at its start and end (none for a pause or an unpaced
    /// phase).
    pub rate_from: Option<f64>,
    pub rate_to: Option<f64>,
    /// When it was due to start, in seconds after the run's start (`None` after an
    /// unpaced phase, whose length is not known beforehand).
    pub scheduled_start_s: Option<f64>,
    /// How long it was due to last (`None` for an unpaced phase).
    pub scheduled_s: Option<f64>,
    /// Operations it planned, all collections together.
    pub planned: u64,
    /// Of those, acknowledged by the server (or, in a dry run, materialized).
    pub acknowledged: u64,
    /// When its first operation was admitted, in seconds after the run's start (the
    /// earliest collection's).
    pub started_s: Option<f64>,
}

impl ScenarioReport {
    /// The phase rows of `scenario`, and the names, kinds and scheduled starts of
    /// the phases in each collection's report (its charts mark them).
    pub fn new(scenario: &Scenario, file: String, seed: u64, seed_given: String, collections: Vec<Report>) -> Self {
        let mut scheduled = Some(0.0);
        let phases = scenario
            .phases
            .iter()
            .enumerate()
            .map(|(i, phase)| {
                let (kind, rate_from, rate_to, length) = match phase.stage {
                    Stage::Paced { from, to, duration } => {
                        (if from == to { "steady" } else { "ramp" }, Some(from), Some(to), Some(duration.as_secs_f64()))
                    }
                    Stage::Pause(duration) => ("pause", None, None, Some(duration.as_secs_f64())),
                    Stage::Unpaced { .. } => ("unpaced", None, None, None),
                };
                let start = scheduled;
                scheduled = scheduled.zip(length).map(|(s, l)| s + l);
                let of = |r: &Report| r.phases.get(i).cloned();
                PhaseRow {
                    name: phase.name.clone(),
                    kind: kind.into(),
                    rate_from,
                    rate_to,
                    scheduled_start_s: start,
                    scheduled_s: length,
                    planned: (0..scenario.collections.len())
                        .map(|c| scenario.collection_profile(c).stages()[i].ops())
                        .sum(),
                    acknowledged: collections.iter().filter_map(of).map(|t| t.acknowledged).sum(),
                    started_s: collections.iter().filter_map(of).filter_map(|t| t.started_s).reduce(f64::min),
                }
            })
            .collect::<Vec<PhaseRow>>();
        let mut collections = collections;
        for report in &mut collections {
            for (tally, row) in report.phases.iter_mut().zip(&phases) {
                tally.name.clone_from(&row.name);
                tally.kind.clone_from(&row.kind);
                tally.scheduled_start_s = row.scheduled_start_s;
            }
        }
        ScenarioReport { scenario: file, seed, seed_given, phases, collections, transactions: Vec::new() }
    }

    /// The report with the transaction streams' reports.
    pub fn with_transactions(mut self, transactions: Vec<TransactionReport>) -> Self {
        self.transactions = transactions;
        self
    }

    /// The phase table, for the terminal.
    pub fn summary(&self) -> String {
        let mut out = format!("scenario {} (seed {}): phases\n", self.scenario, self.seed_given);
        out += &format!(
            "  {:<14} {:<8} {:>14} {:>9} {:>9} {:>9} {:>12}\n",
            "phase", "kind", "rate", "due at", "started", "planned", "acknowledged"
        );
        for p in &self.phases {
            let rate = match (p.rate_from, p.rate_to) {
                (Some(a), Some(b)) if a == b => format!("{a}/s"),
                (Some(a), Some(b)) => format!("{a}→{b}/s"),
                _ => "-".into(),
            };
            let secs = |s: Option<f64>| s.map_or("-".into(), |s| format!("{s:.1}s"));
            out += &format!(
                "  {:<14} {:<8} {:>14} {:>9} {:>9} {:>9} {:>12}\n",
                p.name,
                p.kind,
                rate,
                secs(p.scheduled_start_s),
                secs(p.started_s),
                p.planned,
                p.acknowledged
            );
        }
        out
    }
}
