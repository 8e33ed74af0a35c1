//! Flags shared by the commands that write to MongoDB (`generate --output mongo*`,
//! `mutate`), and running a traffic run from them.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::error::{Error, describe_plugin_error};
use super::progress::{Goal, Progress};
use super::segments::{SegmentArgs, path_for};
use super::values;
use crate::generate::Generator;
use crate::materialize::{Settings, ShardPlugins};
use crate::metrics::Metrics;
use crate::metrics::report::{Ending, Report};
use crate::metrics::threshold::{Observed, Threshold};
use crate::mongo::collection_api::WriteApi;
use crate::mongo::writer::WriterConfig;
use crate::mutation::{Plugins, SetupError};
use crate::plan::{DeleteTracking, OnPluginError, OpSelector, PlanError, Planner, PlannerConfig};
use crate::plugin::{Limits, Registry, Runtime, SchemaAccess};
use crate::traffic::{RunError, RunInfo, Sink, Traffic, TrafficConfig};

#[derive(Debug, clap::Args)]
pub struct ConnectionArgs {
    #[command(flatten)]
    pub server: ServerArgs,

    /// Database (default: the one in --uri, else "forge")
    #[arg(long)]
    pub db: Option<String>,

    /// Collection: the one to write to (generate, mutate) or to read (infer, validate,
    /// verify)
    #[arg(long)]
    pub collection: Option<String>,
}

impl ConnectionArgs {
    /// Connects to --uri; returns the client and the database to use (--db, else the
    /// URI's, else "forge").
    pub async fn connect(&self) -> Result<(mongodb::Client, String), crate::mongo::ConnectError> {
        crate::mongo::connect(&self.server.uri, self.db.as_deref()).await
    }
}

/// The server every command that talks to MongoDB reaches.
#[derive(Debug, clap::Args)]
pub struct ServerArgs {
    /// MongoDB connection string [env: MONGODB_URI]
    #[arg(
        long,
        env = "MONGODB_URI",
        hide_env = true,
        hide_env_values = true,
        default_value = "mongodb://localhost:27017"
    )]
    pub uri: String,
}

#[derive(Debug, clap::Args)]
pub struct TrafficArgs {
    /// Stop after this long (e.g. 30s, 5m); with -n, whichever comes first
    #[arg(long, value_name = "TIME", value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,

    /// Operations per second, held steady at write time (default: as fast as possible)
    #[arg(long, value_name = "OPS", value_parser = values::positive_rate)]
    pub rate_limit: Option<f64>,

    /// Operations per bulk write
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub batch_size: u32,

    /// Longest a batch waits to fill before it is written (keeps low rates smooth)
    #[arg(long, value_name = "TIME", default_value = "50ms", value_parser = humantime::parse_duration)]
    pub max_batch_delay: Duration,

    /// Write concern: majority, a node count (1, 0 = unacknowledged), ",j" for journaled
    /// (default: the server's)
    #[arg(long, value_name = "W", value_parser = values::write_concern)]
    pub write_concern: Option<mongodb::options::WriteConcern>,

    /// Unordered bulk writes: the server continues past a failed operation (ordered is
    /// the default and keeps every _id's history in order)
    #[arg(long)]
    pub unordered: bool,

    /// Shards: each _id belongs to one, whose own thread materializes its operations
    /// (generation, plugin calls with the current document) and whose writer has one
    /// bulk write in flight. Operations on one _id stay in order, and the writes are
    /// the same for any value
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub workers: u16,

    /// How often to sample the metrics: a progress line (or a redraw on a terminal)
    /// and a point of the report's time series
    #[arg(long, value_name = "TIME", default_value = "1s", value_parser = positive_duration)]
    pub metrics_interval: Duration,

    /// A pass/fail criterion, checked at the end of the run; repeatable. A failed one
    /// exits with code 99. FIGURE OP LIMIT with OP one of < <= > >= == !=, FIGURE one of
    /// rate, count, errors, lag, [KIND.]service|response.p50|p90|p99|p99.9|max|mean
    /// (ms; KIND insert, update, replace or delete): 'update.response.p99<20ms',
    /// 'rate>=0.98*target', 'errors==0'
    #[arg(long = "threshold", value_name = "EXPR", value_parser = threshold)]
    pub thresholds: Vec<Threshold>,

    /// Check the thresholds at every metrics interval too, and stop the run at the
    /// first that fails
    #[arg(long, requires = "thresholds")]
    pub abort_on_threshold: bool,

    /// Serve the run's metrics for Prometheus at http://ADDR/metrics while it runs
    /// (127.0.0.1:9464; 0.0.0.0:9464 for every interface; port 0 for any free one):
    /// forge_operations_total{kind,outcome}, forge_latency_seconds{kind,measure} (service
    /// and response histograms), forge_target_rate, forge_achieved_rate,
    /// forge_schedule_lag_seconds, forge_retries_total{reason}. Scrape it every few
    /// seconds; the final figures stay up for --metrics-linger
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<String>,

    /// How long --metrics-listen keeps serving after the run's summary, so that a
    /// scrape sees the final figures: at least the scrape interval (e.g. 15s)
    #[arg(long, value_name = "TIME", default_value = "0s", requires = "metrics_listen", value_parser = humantime::parse_duration)]
    pub metrics_linger: Duration,

    /// Write the final report as JSON to this file; - for one line on standard output,
    /// after the summary (on stderr). {segment} in the name stands for the segment
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,

    /// Write the final report as one self-contained HTML page with charts (ops/s by
    /// kind against the target, p50/p99 over time, latency by percentile) to this file;
    /// it opens offline. `forge report html` makes the same page from a --report file
    #[arg(long, value_name = "FILE")]
    pub report_html: Option<PathBuf>,

    /// Record every acknowledged operation (with the expected document hash) to this
    /// file, for `forge verify`. {segment} in the name stands for the segment
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,

    /// Also record in --journal the document each write left, when forge knows it, so that
    /// `forge verify` can show which fields of a stale document differ. Costs journal size:
    /// each line then holds a whole document as Extended JSON (for the default schema, four
    /// to five times a plain journal's size, some 450 more bytes per line)
    #[arg(long, requires = "journal")]
    pub journal_docs: bool,

    /// Which command writes a batch that is not all inserts: one client-level bulkWrite
    /// (MongoDB 8.0+ only), or the collection-level insert/update/delete commands, a few
    /// per batch with each _id's operations in order (every server: MongoDB before 8.0,
    /// DocumentDB and Cosmos DB have no bulkWrite). auto reads the server's wire version
    /// when connecting
    #[arg(long, value_enum, value_name = "API", default_value_t = BulkApi::Auto, env = "FORGE_BULK_API")]
    pub bulk_api: BulkApi,

    /// Retries of a batch lost to a connection error before the run stops
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub max_retries: u32,

    /// How many _ids updates and deletes choose from: the most recent ones (with
    /// generate's --sampling zipfian, the first ones, kept as the hot set)
    #[arg(long, value_name = "N", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub id_cache_size: u64,

    /// What a delete does: remove (deleteOne, never target the _id again), keep
    /// (deleteOne, keep targeting it: updates after deletes), tombstone (soft delete:
    /// set the tombstone fields instead), or the name of a --plugin delete behavior
    #[arg(long, value_name = "NAME", default_value = "remove")]
    pub delete_behavior: String,

    /// Tombstone flag field (set to true); same as --plugin-arg tombstone.flag=FIELD
    #[arg(long, value_name = "FIELD", default_value = "_deleted")]
    pub tombstone_field: String,

    /// Tombstone time field (set to the server's time); same as --plugin-arg tombstone.time=FIELD
    #[arg(long, value_name = "FIELD", default_value = "_deletedAt")]
    pub tombstone_time_field: String,

    #[command(flatten)]
    pub plugins: PluginArgs,

    #[command(flatten)]
    pub segments: SegmentArgs,
}

/// `--bulk-api`: which command writes batches that are not all inserts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BulkApi {
    /// One client-level bulkWrite per batch: needs MongoDB 8.0 or later (wire version 25)
    Client,
    /// The collection-level insert/update/delete commands, each _id's operations in
    /// order: every MongoDB server, DocumentDB, Cosmos DB
    Collection,
    /// client when the server's maxWireVersion is 25 (MongoDB 8.0) or more, else
    /// collection
    Auto,
}

impl BulkApi {
    /// The API to use on the server `client` is connected to.
    pub async fn resolve(self, client: &mongodb::Client) -> Result<WriteApi, Error> {
        Ok(match self {
            BulkApi::Client => WriteApi::Client,
            BulkApi::Collection => WriteApi::Collection,
            BulkApi::Auto => {
                let version = crate::mongo::collection_api::max_wire_version(client).await.map_err(|e| {
                    Error::Runtime(format!(
                        "cannot read the server's wire version (--bulk-api auto): {}",
                        crate::mongo::one_line(&e.kind.to_string())
                    ))
                })?;
                WriteApi::for_wire_version(version)
            }
        })
    }
}

/// Loading and running plugins (plugin-sdk/README.md).
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Plugins")]
pub struct PluginArgs {
    /// A WebAssembly plugin (component or core module); repeatable. --update-strategy
    /// and --delete-behavior select plugins by the name they declare
    #[arg(long = "plugin", value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// A native plugin library (.so) built with the plugin SDK; repeatable. Runs
    /// unsandboxed in forge's process: trusted code only
    #[arg(long = "native-plugin", value_name = "FILE")]
    pub natives: Vec<PathBuf>,

    /// Configuration for a plugin, passed to its init: NAME.KEY=VALUE; repeatable. A
    /// value whose KEY names a password, secret, token or credential is kept out of
    /// every output, as with --plugin-secret
    #[arg(long = "plugin-arg", value_name = "NAME.KEY=VALUE")]
    pub args: Vec<String>,

    /// Like --plugin-arg, for a secret: the plugin gets VALUE, and no output (errors,
    /// log lines, progress, reports) ever shows it; `***` stands in its place
    #[arg(long = "plugin-secret", value_name = "NAME.KEY=VALUE")]
    pub secrets: Vec<String>,

    /// Longest one plugin call may run before it is stopped
    #[arg(long = "plugin-timeout", value_name = "TIME", default_value = "1s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,

    /// Most memory one WebAssembly plugin instance may use, in MiB
    #[arg(long = "plugin-memory", value_name = "MIB", default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub memory_mib: u64,

    /// What a failing plugin call does: fail (stop the run) or skip (skip the
    /// operation, count the error, go on). The report counts errors either way
    #[arg(long = "on-plugin-error", value_enum, default_value_t = OnPluginError::Fail)]
    pub on_error: OnPluginError,

    /// Load component plugins that import wasi:filesystem or wasi:sockets (refused
    /// otherwise), linked with nothing granted: no directory to open, no network. Python
    /// plugins built with componentize-py need it
    #[arg(long = "plugin-inert-wasi")]
    pub inert_wasi: bool,

    /// Where compiled plugins are cached [default: ~/.cache/forge/plugins]; "off" to
    /// compile every time
    #[arg(long = "plugin-cache", value_name = "DIR", env = "FORGE_PLUGIN_CACHE")]
    pub cache: Option<PathBuf>,
}

impl PluginArgs {
    /// `--plugin-arg`s and `--plugin-secret`s together, grouped by plugin name.
    pub fn config(&self) -> Result<std::collections::BTreeMap<String, Vec<(String, String)>>, Error> {
        let mut config = values::plugin_args(&self.args).map_err(Error::Usage)?;
        let secrets = values::plugin_args(&self.secrets)
            .map_err(|_| Error::Usage("--plugin-secret: expected name.key=value".into()))?;
        for (name, pairs) in secrets {
            config.entry(name).or_default().extend(pairs);
        }
        Ok(config)
    }

    pub fn limits(&self) -> Limits {
        let cache_dir = match &self.cache {
            Some(dir) if dir.as_os_str() == "off" => None,
            Some(dir) => Some(dir.clone()),
            None => crate::plugin::runtime::default_cache_dir(),
        };
        Limits {
            timeout: self.timeout,
            memory: self.memory_mib << 20,
            cache_dir,
            inert_wasi: self.inert_wasi,
            stderr: false,
        }
    }

    /// The engine and the plugin files, loaded and checked.
    pub fn registry(&self) -> Result<Registry, Error> {
        self.registry_with(self.limits())
    }

    pub fn registry_with(&self, limits: Limits) -> Result<Registry, Error> {
        let runtime = Runtime::new(limits).map_err(|e| Error::Runtime(e.to_string()))?;
        Registry::new(runtime, &self.files, &self.natives).map_err(|e| Error::Usage(e.to_string()))
    }
}

impl TrafficArgs {
    /// The plugins of this run: `--plugin-arg`s, with the tombstone flags as the
    /// built-in tombstone's arguments.
    pub fn plugins(&self, generator: &Arc<Generator>, seed: u64) -> Result<Plugins, Error> {
        let mut args = self.plugins.config()?;
        tombstone_fields(&mut args, &self.tombstone_field, &self.tombstone_time_field);
        let registry = self.plugins.registry()?;
        Plugins::new(registry, SchemaAccess::new(generator.clone()), args, seed).map_err(|e| match e {
            SetupError::ArgsForUnknownPlugin(ref name) => Error::Usage(format!("--plugin-arg {name}.…: {e}")),
            other => Error::Usage(other.to_string()),
        })
    }

    /// The run's configuration; a threshold on the target rate without one is a usage
    /// error.
    pub fn config(&self, count: Option<u64>, warmup_inserts: u64) -> Result<TrafficConfig, Error> {
        if count.is_some_and(|n| n.checked_add(warmup_inserts).is_none()) {
            return Err(Error::Usage("--count plus --warmup-inserts overflows".into()));
        }
        if self.rate_limit.is_none()
            && let Some(t) = self.thresholds.iter().find(|t| t.needs_target())
        {
            return Err(Error::Usage(format!("--threshold '{}': there is no target without --rate-limit", t.text)));
        }
        Ok(TrafficConfig {
            profile: None,
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
                // Resolved against the server in `run` (auto needs its wire version).
                api: WriteApi::default(),
            },
            warmup_inserts,
            metrics_interval: self.metrics_interval,
            abort_on: if self.abort_on_threshold { self.thresholds.clone() } else { Vec::new() },
            segment: self.segments.segment()?,
            start_at: self.segments.start_at,
        })
    }

    /// The planner and the shards these flags ask for: each shard's own plugin
    /// instances (strategy, replace, delete behavior), the IdCache size, and the
    /// expectations a journal needs. Plugin problems are usage errors naming the flag.
    #[allow(clippy::too_many_arguments)]
    pub fn workload(
        &self,
        seed: u64,
        selector: OpSelector,
        generator: Arc<Generator>,
        strategy: &str,
        first_document: u64,
        collection: &str,
        tracking: DeleteTracking,
    ) -> Result<Workload, Error> {
        let mut plugins = self.plugins(&generator, seed)?;
        let shards =
            shard_plugins(&mut plugins, self.workers.max(1).into(), strategy, &self.delete_behavior, |part, e| {
                let flag = match part {
                    ShardPart::Strategy => "--update-strategy",
                    ShardPart::Delete => "--delete-behavior",
                };
                Error::Usage(format!("{flag}: {}", describe_plugin_error(e)))
            })?;
        let planner = Planner::new(PlannerConfig {
            seed,
            selector,
            generator: generator.clone(),
            id_cache_size: self.id_cache_size as usize,
            first_document,
            segment: self.segments.segment()?,
            shards: shards.len(),
            delete_removes: matches!(shards[0].delete.shape(), crate::mutation::DeleteShape::Remove),
        });
        let settings = Settings {
            seed,
            collection: Arc::from(collection),
            generator,
            on_plugin_error: self.plugins.on_error,
            tracking,
            expectations: self.journal.is_some(),
            keep_documents: !planner.inserts_only(),
            errors_shown: Default::default(),
            later_versions: Vec::new(),
        };
        Ok(Workload { planner, shards, settings })
    }

    /// Runs `workload` into `sink` as these flags say: the journal, progress lines
    /// every `--metrics-interval` unless `quiet`, Ctrl-C to stop; then the summary,
    /// `--report`, and the exit status.
    pub async fn run(
        &self,
        workload: Workload,
        sink: Sink,
        config: TrafficConfig,
        info: RunInfo,
        quiet: bool,
    ) -> Result<(), Error> {
        let listener = match &self.metrics_listen {
            Some(addr) => Some(super::metrics_listen::bind(addr).await?),
            None => None,
        };
        let segment = config.segment;
        let journal = match (self.journal.as_ref().map(|p| path_for(p, segment)), &sink) {
            (Some(path), Sink::Server { client, coll }) => {
                let namespace = coll.namespace().to_string();
                let start = crate::traffic::operation_time(client).await;
                let preexisting = crate::traffic::holds_documents(coll).await.map_err(|e| {
                    Error::Runtime(format!("cannot read {namespace}: {}", crate::mongo::one_line(&e.kind.to_string())))
                })?;
                let server_time = workload.shards[0].delete.server_time_field();
                let header = crate::journal::Header {
                    server_time_field: server_time,
                    start_operation_time: start.map(|t| (t.time, t.increment)),
                    preexisting,
                    segment: config.segment,
                    documents: self.journal_docs,
                    ..crate::journal::Header::starting(&namespace, info.seed)
                };
                let journal = crate::traffic::open_journal(&path, &header)
                    .map_err(|e| Error::Usage(format!("--journal: cannot create '{}': {e}", path.display())))?;
                Some(journal)
            }
            (Some(_), Sink::Null { .. }) => {
                return Err(Error::Usage("--journal records acknowledged writes; a --dry-run sends none".into()));
            }
            (None, _) => None,
        };
        let mut config = config;
        if let Sink::Server { client, .. } = &sink {
            config.writer.api = self.bulk_api.resolve(client).await?;
        }
        let metrics = Arc::new(Metrics::default());
        let endpoint =
            listener.map(|l| super::metrics_listen::Endpoint::start(l, metrics.clone(), segment.index, quiet));
        let goal = Goal { count: config.segment_count(), duration: config.duration, warmup: config.segment_warmup() };
        let progress = (!quiet).then(|| Progress::start(metrics.clone(), goal));
        let Workload { planner, shards, settings } = workload;
        let traffic = Traffic { planner, shards, settings, sink, config, info, journal, metrics, acknowledged: None };
        let mut report = crate::traffic::run(traffic, interrupted()).await;
        if let Some(progress) = progress {
            progress.finish();
        }
        report.thresholds = check_thresholds(&self.thresholds, &report);
        let paths = |p: &Option<PathBuf>| p.as_ref().map(|p| path_for(p, segment));
        let result = finish(report, paths(&self.report).as_ref(), paths(&self.report_html).as_ref());
        if let Some(endpoint) = endpoint {
            endpoint.stop(self.metrics_linger).await;
        }
        result
    }
}

/// What a traffic run plans and materializes: the planner, and each shard's plugins.
pub struct Workload {
    pub planner: Planner,
    pub shards: Vec<ShardPlugins>,
    pub settings: Settings,
}

/// Resolves at the first Ctrl-C or SIGTERM (how Kubernetes and most supervisors stop
/// a process); a second one quits at once.
pub(super) async fn interrupted() {
    let Some(signal) = signalled().await else {
        return std::future::pending().await; // no signal handling: never interrupted
    };
    errln!("\nstopping after the batches in flight ({signal} again to quit at once)");
    tokio::spawn(async {
        match signalled().await {
            Some("Ctrl-C") => std::process::exit(130),
            Some(_) => std::process::exit(143),
            None => {}
        }
    });
}

/// The next Ctrl-C or SIGTERM, by name; `None` where signals cannot be handled.
async fn signalled() -> Option<&'static str> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).ok()?;
    tokio::select! {
        ctrl_c = tokio::signal::ctrl_c() => ctrl_c.ok().map(|()| "Ctrl-C"),
        _ = term.recv() => Some("SIGTERM"),
    }
}

/// `--threshold`: parsed where the flag is read, so a malformed one is a usage error.
pub(super) fn threshold(text: &str) -> Result<Threshold, String> {
    Threshold::parse(text).map_err(|e| e.why)
}

pub(super) fn positive_duration(text: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text) {
        Ok(d) if d.is_zero() => Err("must be more than zero".into()),
        Ok(d) => Ok(d),
        Err(e) => Err(e.to_string()),
    }
}

/// Each threshold checked against the run's final figures.
pub(super) fn check_thresholds(thresholds: &[Threshold], report: &Report) -> Vec<crate::metrics::threshold::Verdict> {
    let seen = Observed {
        achieved_rate: report.achieved_rate,
        target_rate: report.target_rate,
        ops: &report.ops,
        latency: &report.latency,
        max_lag_ms: report.schedule.as_ref().map_or(0.0, |s| s.max_lag_ms),
    };
    thresholds.iter().map(|t| t.check(&seen)).collect()
}

/// The command line for the report, with its secrets redacted.
pub fn redacted_flags() -> Vec<String> {
    super::secrets::redacted_flags()
}

/// A runtime for the commands that talk to MongoDB.
pub fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Runtime(format!("cannot start the async runtime: {e}")))
}

/// The built-in tombstone's field arguments, unless `--plugin-arg`s gave them.
pub fn tombstone_fields(
    config: &mut std::collections::BTreeMap<String, Vec<(String, String)>>,
    flag: &str,
    time: &str,
) {
    let tomb = config.entry("tombstone".into()).or_default();
    for (key, value) in [("flag", flag), ("time", time)] {
        if !tomb.iter().any(|(k, _)| k == key) {
            tomb.push((key.into(), value.into()));
        }
    }
}

/// Which of a shard's plugins failed to start.
pub enum ShardPart {
    /// The update strategy (or the regenerate plugin replaces use).
    Strategy,
    Delete,
}

/// `shards` sets of plugin instances: the update strategy, `regenerate` for
/// replaces, and the delete behavior; `blame` says which flag or key a failure is
/// about.
pub fn shard_plugins(
    plugins: &mut Plugins,
    shards: usize,
    strategy: &str,
    delete: &str,
    blame: impl Fn(ShardPart, &crate::plugin::PluginError) -> Error,
) -> Result<Vec<ShardPlugins>, Error> {
    (0..shards)
        .map(|_| {
            Ok(ShardPlugins {
                strategy: plugins.strategy(strategy).map_err(|e| blame(ShardPart::Strategy, &e))?,
                replace: plugins.strategy("regenerate").map_err(|e| blame(ShardPart::Strategy, &e))?,
                delete: plugins.deleter(delete).map_err(|e| blame(ShardPart::Delete, &e))?,
            })
        })
        .collect()
}

/// Writes a report as JSON to `path` (`--report`).
pub fn write_json_report(path: &Path, report: &impl serde::Serialize) -> Result<(), Error> {
    let json = serde_json::to_string_pretty(report).expect("reports serialise");
    super::secrets::write_file(path, &(json + "\n"))
        .map_err(|e| Error::Runtime(format!("--report: cannot write '{}': {e}", path.display())))
}

/// Writes a run's HTML report to `path` (`--report-html`).
pub fn write_html_report(path: &Path, report: &Report) -> Result<(), Error> {
    let page = crate::metrics::html::render(report).map_err(|e| Error::Runtime(format!("--report-html: {e}")))?;
    super::secrets::write_file(path, &page)
        .map_err(|e| Error::Runtime(format!("--report-html: cannot write '{}': {e}", path.display())))
}

/// Prints the summary, writes `--report` and `--report-html`, and maps the ending to
/// the exit status.
pub fn finish(report: Report, path: Option<&PathBuf>, html: Option<&PathBuf>) -> Result<(), Error> {
    err!("{}", report.summary());
    if path.is_some_and(|p| p.as_os_str() == "-") {
        outln!("{}", serde_json::to_string(&report).expect("reports serialise"));
    } else if let Some(path) = path {
        write_json_report(path, &report)?;
    }
    if let Some(path) = html {
        write_html_report(path, &report)?;
    }
    match report.ending {
        Ending::Failed => Err(Error::Reported(match report.failure.as_deref() {
            Some(RunError::Plan(PlanError::Plugin(e))) => describe_plugin_error(e),
            Some(other) => other.to_string(),
            None => "the run failed".into(),
        })),
        _ => match report.thresholds.iter().filter(|v| !v.passed).map(|v| v.threshold.as_str()).collect::<Vec<_>>() {
            failed if failed.is_empty() => Ok(()),
            failed => Err(Error::ThresholdFailed(format!("threshold failed: {}", failed.join(", ")))),
        },
    }
}
