//! What a transaction stream did: counts from the server's answers.

use serde::{Deserialize, Serialize};

use crate::metrics::report::Ending;

/// A transaction stream's report (part of `forge run --report`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TransactionReport {
    /// The stream's name in the scenario.
    pub name: String,
    /// The stream's seed (derived from the scenario's).
    pub seed: u64,
    /// The collections it writes, as `db.collection`: updated, then inserted into.
    pub namespaces: Vec<String>,
    /// Documents loaded into the updated collection before the first phase
    /// (acknowledged).
    pub loaded: u64,
    /// Transactions the schedule started.
    pub started: u64,
    /// Committed: the server acknowledged the commit.
    pub committed: u64,
    /// Written and then aborted, as planned.
    pub aborted: u64,
    /// Attempts the server aborted on its own (a write conflict, a transient error)
    /// and forge ran again: each left nothing behind.
    pub retried: u64,
    /// Commits sent whose outcome no answer told (the stream stops at the first).
    pub unknown: u64,
    /// Writes in committed transactions, acknowledged: updates and inserts.
    pub updates: u64,
    pub inserts: u64,
    /// Response time of a transaction, from its slot on the schedule to the answer to
    /// its commit or abort, in milliseconds.
    pub latency_ms: Option<Latency>,
    /// Per phase: transactions committed and aborted.
    pub phases: Vec<PhaseCount>,
    pub ending: Ending,
    /// Why it stopped, when it failed.
    pub error: Option<String>,
}

/// Percentiles of a latency, in milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Latency {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

/// One phase's transactions.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PhaseCount {
    pub name: String,
    pub committed: u64,
    pub aborted: u64,
}

impl TransactionReport {
    /// Lines for the terminal.
    pub fn summary(&self) -> String {
        let mut out = format!(
            "transactions {} ({}): {} committed, {} aborted, {} retried after a transient error{}\n",
            self.name,
            self.ending.name(),
            self.committed,
            self.aborted,
            self.retried,
            if self.unknown > 0 { format!(", {} of unknown outcome", self.unknown) } else { String::new() }
        );
        out += &format!(
            "  in them, acknowledged: {} updates, {} inserts ({}; {} documents loaded first)\n",
            self.updates,
            self.inserts,
            self.namespaces.join(", "),
            self.loaded
        );
        if let Some(l) = self.latency_ms {
            out += &format!("  response time: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms\n", l.p50, l.p99, l.max);
        }
        if let Some(e) = &self.error {
            out += &format!("  error: {e}\n");
        }
        out
    }
}
