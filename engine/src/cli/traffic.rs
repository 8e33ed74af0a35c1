//! Flags shared by the commands that write to MongoDB (`generate --output mongo*`,
//! `mutate`), and running a traffic run from them.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::Error;
use crate::metrics::report::{Ending, Report};
use crate::mongo::writer::WriterConfig;
use std::sync::Arc;

use crate::generate::Generator;
use crate::mutation::{DeleteBehavior, UpdateStrategy};
use crate::plan::{OpSelector, Planner, PlannerConfig};
use crate::traffic::TrafficConfig;

#[derive(Debug, clap::Args)]
pub struct ConnectionArgs {
    /// MongoDB connection string [env: MONGODB_URI]
    #[arg(
        long,
        env = "MONGODB_URI",
        hide_env = true,
        hide_env_values = true,
        default_value = "mongodb://localhost:27017"
    )]
    pub uri: String,

    /// Database (default: the one in --uri, else "forge")
    #[arg(long)]
    pub db: Option<String>,

    /// Collection to write to
    #[arg(long)]
    pub collection: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DeleteBehaviorArg {
    /// deleteOne, and never target the _id again
    Remove,
    /// deleteOne, but keep targeting the _id (updates after deletes match nothing)
    Keep,
    /// Soft delete: set the tombstone fields instead of removing the document
    Tombstone,
}

#[derive(Debug, clap::Args)]
pub struct TrafficArgs {
    /// Stop after this long (e.g. 30s, 5m); with -n, whichever comes first
    #[arg(long, value_name = "TIME", value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,

    /// Operations per second, held steady at write time (default: as fast as possible)
    #[arg(long, value_name = "OPS", value_parser = positive_rate)]
    pub rate_limit: Option<f64>,

    /// Operations per bulk write
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub batch_size: u32,

    /// Longest a batch waits to fill before it is written (keeps low rates smooth)
    #[arg(long, value_name = "TIME", default_value = "50ms", value_parser = humantime::parse_duration)]
    pub max_batch_delay: Duration,

    /// Write concern: majority, a node count (1, 0 = unacknowledged), ",j" for journaled
    /// (default: the server's)
    #[arg(long, value_name = "W", value_parser = crate::mongo::parse_write_concern)]
    pub write_concern: Option<mongodb::options::WriteConcern>,

    /// Unordered bulk writes: the server continues past a failed operation (ordered is
    /// the default and keeps every _id's history in order)
    #[arg(long)]
    pub unordered: bool,

    /// Bulk writes in flight at once (operations on one _id always stay in order)
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub workers: u16,

    /// How often to print a progress line
    #[arg(long, value_name = "TIME", default_value = "1s", value_parser = humantime::parse_duration)]
    pub metrics_interval: Duration,

    /// Write the final report as JSON to this file
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,

    /// Record every acknowledged operation (with the expected document hash) to this
    /// file, for `forge verify`
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,

    /// Retries of a batch lost to a connection error before the run stops
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub max_retries: u32,

    /// How many _ids updates and deletes choose from (the most recent ones)
    #[arg(long, value_name = "N", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub id_cache_size: u64,

    /// What a delete does
    #[arg(long, value_enum, default_value_t = DeleteBehaviorArg::Remove)]
    pub delete_behavior: DeleteBehaviorArg,

    /// Tombstone flag field (set to true)
    #[arg(long, value_name = "FIELD", default_value = "_deleted")]
    pub tombstone_field: String,

    /// Tombstone time field (set to the server's time)
    #[arg(long, value_name = "FIELD", default_value = "_deletedAt")]
    pub tombstone_time_field: String,
}

fn positive_rate(s: &str) -> Result<f64, String> {
    s.parse::<f64>()
        .ok()
        .filter(|r| r.is_finite() && *r > 0.0 && *r <= 10_000_000.0)
        .ok_or_else(|| format!("'{s}' is not a positive number of operations per second"))
}

impl TrafficArgs {
    pub fn delete_behavior(&self) -> DeleteBehavior {
        match self.delete_behavior {
            DeleteBehaviorArg::Remove => DeleteBehavior::Remove,
            DeleteBehaviorArg::Keep => DeleteBehavior::Keep,
            DeleteBehaviorArg::Tombstone => DeleteBehavior::Tombstone {
                flag: self.tombstone_field.clone(),
                time: self.tombstone_time_field.clone(),
            },
        }
    }

    pub fn config(&self, count: Option<u64>, warmup_inserts: u64, quiet: bool) -> TrafficConfig {
        TrafficConfig {
            count,
            duration: self.duration,
            rate: self.rate_limit,
            workers: self.workers as usize,
            writer: WriterConfig {
                batch_size: self.batch_size as usize,
                max_batch_delay: self.max_batch_delay,
                ordered: !self.unordered,
                write_concern: self.write_concern.clone(),
                max_retries: self.max_retries,
            },
            metrics_interval: self.metrics_interval,
            warmup_inserts,
            quiet,
            journal: self.journal.clone(),
        }
    }

    /// The planner these flags ask for (delete behavior, IdCache size, and the
    /// expectations a journal needs).
    pub fn planner(
        &self,
        seed: u64,
        selector: OpSelector,
        generator: Arc<Generator>,
        strategy: Box<dyn UpdateStrategy>,
        first_document: u64,
    ) -> Planner {
        let planner = Planner::new(PlannerConfig {
            seed,
            selector,
            generator,
            strategy,
            delete: self.delete_behavior(),
            id_cache_size: self.id_cache_size as usize,
            first_document,
        });
        match &self.journal {
            Some(_) => planner.with_expectations(self.server_time_field()),
            None => planner,
        }
    }

    /// The field the server fills in on deletes, left out of journal hashes.
    pub fn server_time_field(&self) -> Option<String> {
        (self.delete_behavior == DeleteBehaviorArg::Tombstone).then(|| self.tombstone_time_field.clone())
    }
}

/// The command line for the report, with passwords redacted.
pub fn redacted_flags() -> Vec<String> {
    std::env::args().map(|a| if a.contains("://") { crate::mongo::redact_uri(&a) } else { a }).collect()
}

/// A runtime for the commands that talk to MongoDB.
pub fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Runtime(format!("cannot start the async runtime: {e}")))
}

/// Prints the summary, writes `--report`, and maps the ending to the exit status.
pub fn finish(report: Report, path: Option<&PathBuf>) -> Result<(), Error> {
    eprint!("{}", report.summary());
    if let Some(path) = path {
        let json = serde_json::to_string_pretty(&report).expect("reports serialise");
        std::fs::write(path, json + "\n")
            .map_err(|e| Error::Runtime(format!("--report: cannot write '{}': {e}", path.display())))?;
    }
    match report.ending {
        Ending::Failed => Err(Error::Reported(report.error.unwrap_or_else(|| "the run failed".into()))),
        _ => Ok(()),
    }
}
