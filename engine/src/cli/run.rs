//! `forge run SCENARIO.yaml`: several collections at once, through phases.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use super::error::{Error, describe_plugin_error};
use super::traffic::{
    BulkApi, PluginArgs, ServerArgs, ShardPart, Workload, check_thresholds, positive_duration, threshold,
    write_html_report, write_json_report,
};
use super::values::{self, Seed};
use crate::generate::Generator;
use crate::journal::SchemaVersion;
use crate::materialize::Settings;
use crate::metrics::Metrics;
use crate::metrics::report::{Ending, Report};
use crate::metrics::threshold::Threshold;
use crate::mongo::collection_api::WriteApi;
use crate::mongo::writer::WriterConfig;
use crate::mutation::{DeleteShape, Plugins};
use crate::plan::{Acknowledged, DeleteTracking, Planner, PlannerConfig};
use crate::plugin::SchemaAccess;
use crate::scenario::Scenario;
use crate::scenario::references::{Draws, Referenced};
use crate::scenario::report::ScenarioReport;
use crate::segment::Segment;
use crate::traffic::{RunInfo, Sink, Traffic, TrafficConfig};
use crate::transaction::TransactionReport;

#[derive(Debug, clap::Args)]
#[command(after_help = "A scenario file (YAML) names its collections (each with a schema, an op mix, \
strategies, plugin arguments and a share of the rate) and its phases (a duration or an op count, a \
constant rate or a ramp {from, to}, per-collection mixes and shares, pauses), and optionally \
streams of multi-document transactions across two collections of their own (`forge verify \
--transactions` checks them). `forge run --print-schema` prints the format's JSON Schema; \
examples are in examples/scenarios/.")]
pub struct Args {
    /// The scenario file (YAML)
    #[arg(value_name = "SCENARIO", required_unless_present = "print_schema")]
    scenario: Option<PathBuf>,

    /// Print the JSON Schema of scenario files (for editors) and exit
    #[arg(long)]
    print_schema: bool,

    /// Seed for all randomness (overrides the scenario's): the same seed gives the
    /// same operations on every collection. Default: the scenario's, else a random
    /// one, printed on stderr
    #[arg(long, value_name = "SEED", value_parser = values::seed)]
    seed: Option<Seed>,

    /// Plan, materialize and serialise every write, send nothing
    #[arg(long)]
    dry_run: bool,

    /// No seed notice or progress lines on stderr
    #[arg(short, long)]
    quiet: bool,

    #[command(flatten)]
    server: ServerArgs,

    /// Database (default: the scenario's, else the one in --uri, else "forge")
    #[arg(long)]
    db: Option<String>,

    /// Shards per collection (see `forge generate --help`)
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=256))]
    workers: u16,

    /// Operations per bulk write
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    batch_size: u32,

    /// Longest a batch waits to fill before it is written
    #[arg(long, value_name = "TIME", default_value = "50ms", value_parser = humantime::parse_duration)]
    max_batch_delay: Duration,

    /// Write concern: majority, a node count, ",j" for journaled (default: the server's)
    #[arg(long, value_name = "W", value_parser = values::write_concern)]
    write_concern: Option<mongodb::options::WriteConcern>,

    /// Which command writes mixed batches (see `forge generate --help`)
    #[arg(long, value_enum, value_name = "API", default_value_t = BulkApi::Auto, env = "FORGE_BULK_API")]
    bulk_api: BulkApi,

    /// Retries of a batch lost to a connection error before the run stops
    #[arg(long, value_name = "N", default_value_t = 5)]
    max_retries: u32,

    /// How often to sample the metrics (progress lines, the reports' time series)
    #[arg(long, value_name = "TIME", default_value = "1s", value_parser = positive_duration)]
    metrics_interval: Duration,

    /// A pass/fail criterion checked on every collection's figures (as `forge generate
    /// --threshold`); a failed one exits with code 99
    #[arg(long = "threshold", value_name = "EXPR", value_parser = threshold)]
    thresholds: Vec<Threshold>,

    /// Serve every collection's metrics for Prometheus at http://ADDR/metrics while it
    /// runs, as `forge generate --metrics-listen` does, each series labelled with its
    /// `collection`
    #[arg(long, value_name = "ADDR")]
    metrics_listen: Option<String>,

    /// How long --metrics-listen keeps serving after the summary, so that a scrape
    /// sees the final figures
    #[arg(long, value_name = "TIME", default_value = "0s", requires = "metrics_listen", value_parser = humantime::parse_duration)]
    metrics_linger: Duration,

    /// Record every acknowledged operation, one journal per collection, for `forge
    /// verify`: {collection} in the name stands for the collection
    #[arg(long, value_name = "FILE")]
    journal: Option<PathBuf>,

    /// Also record in each journal the document each write left, when forge knows it,
    /// so that `forge verify` can show which fields of a stale document differ. Costs
    /// journal size: each line then holds a whole document as Extended JSON (four to
    /// five times the size of a plain journal with the default schema)
    #[arg(long, requires = "journal")]
    journal_docs: bool,

    /// Write the scenario's report as JSON to this file: every collection's report and
    /// one row per phase
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,

    /// Write each collection's HTML report: {collection} in the name stands for it
    #[arg(long, value_name = "FILE")]
    report_html: Option<PathBuf>,

    #[command(flatten)]
    plugins: PluginArgs,
}

pub fn run(args: Args) -> Result<(), Error> {
    if args.print_schema {
        outln!("{}", crate::scenario::format::json_schema());
        return Ok(());
    }
    let file = args.scenario.clone().expect("clap requires it");
    let scenario = Scenario::load(&file).map_err(|e| Error::Usage(e.to_string()))?;
    // A journal per collection, and a log per transaction stream.
    let journals =
        scenario.collections.len() + scenario.transactions.iter().map(|t| 1 + t.collections().len()).sum::<usize>();
    for (flag, path, files) in
        [("--journal", &args.journal, journals), ("--report-html", &args.report_html, scenario.collections.len())]
    {
        if let Some(path) = path
            && files > 1
            && !path.to_string_lossy().contains("{collection}")
        {
            return Err(Error::Usage(format!("{flag}: one file per collection: put {{collection}} in its name")));
        }
    }
    if args.dry_run && args.journal.is_some() {
        return Err(Error::Usage("--journal records acknowledged writes; a --dry-run sends none".into()));
    }
    if args.dry_run {
        for t in &scenario.transactions {
            errln!("note: transactions.{}: not run in a dry run (transactions need a server)", t.name);
        }
    }
    for c in &scenario.collections {
        for warning in &c.schema.warnings {
            errln!("warning: collections.{}.schema: {warning}", c.name);
        }
    }
    let seed = match (&args.seed, &scenario.seed) {
        (Some(seed), _) => seed.clone(),
        (None, Some(text)) => values::seed(text).map_err(|e| Error::Usage(format!("seed: {e}")))?,
        (None, None) => super::resolve_seed(None, args.quiet),
    };
    let runs = prepare(&args, &scenario, seed.value)?;
    let streams = if args.dry_run { Vec::new() } else { prepare_transactions(&args, &scenario, seed.value) };
    super::traffic::runtime()?.block_on(async {
        let listener = match &args.metrics_listen {
            Some(addr) => Some(super::metrics_listen::bind(addr).await?),
            None => None,
        };
        let metrics: Vec<(String, Arc<Metrics>)> =
            scenario.collections.iter().map(|c| (c.name.clone(), Arc::new(Metrics::default()))).collect();
        let endpoint =
            listener.map(|l| super::metrics_listen::Endpoint::start_collections(l, metrics.clone(), args.quiet));
        let (reports, transactions) = run_all(&args, &scenario, runs, streams, &seed, metrics).await?;
        let result = finish(&args, &scenario, &file, &seed, reports, transactions);
        if let Some(endpoint) = endpoint {
            endpoint.stop(args.metrics_linger).await;
        }
        result
    })
}

/// One collection's run, ready but for its sink.
struct Prepared {
    workload: Workload,
    config: TrafficConfig,
    acknowledged: Option<Arc<Acknowledged>>,
    /// The schema versions its journal records.
    schema_versions: Vec<SchemaVersion>,
}

/// Every collection's planner, shards and configuration; plugin problems are usage
/// errors naming the collection.
fn prepare(args: &Args, scenario: &Scenario, seed: u64) -> Result<Vec<Prepared>, Error> {
    let mut plugin_args = args.plugins.clone();
    plugin_args.files.extend(scenario.plugins.iter().cloned());
    let count = scenario.collections.len();
    let seeds: Vec<u64> = (0..count).map(|c| scenario.collection_seed(seed, c)).collect();
    let generators: Vec<Arc<Generator>> = scenario
        .collections
        .iter()
        .zip(&seeds)
        .map(|(c, seed)| Arc::new(Generator::new(c.schema.clone(), *seed)))
        .collect();
    let referenced: Vec<bool> =
        (0..count).map(|c| scenario.collections.iter().any(|other| other.references.contains(&c))).collect();
    let acknowledged: Vec<Arc<Acknowledged>> = (0..count).map(|_| Arc::default()).collect();
    let mut shards = Vec::new();
    let mut removes = Vec::new();
    for (c, collection) in scenario.collections.iter().enumerate() {
        let at = |what: &str, e: &dyn std::fmt::Display| {
            Error::Usage(format!("{}: collections.{}.{what}: {e}", args.file_name(), collection.name))
        };
        let mut config = collection.plugin_args.clone();
        for (name, pairs) in args.plugins.config()? {
            config.entry(name).or_default().extend(pairs);
        }
        super::traffic::tombstone_fields(&mut config, "_deleted", "_deletedAt");
        let registry = plugin_args.registry()?;
        let mut versions = vec![generators[c].clone()];
        versions
            .extend(collection.versions.iter().map(|(_, schema)| Arc::new(Generator::new(schema.clone(), seeds[c]))));
        let mut plugins = Plugins::new(registry, SchemaAccess::versioned(versions), config, seeds[c])
            .map_err(|e| at("plugin_args", &e))?;
        let mine = super::traffic::shard_plugins(
            &mut plugins,
            args.workers.into(),
            &collection.update_strategy,
            &collection.delete_behavior,
            |part, e| {
                let key = match part {
                    ShardPart::Strategy => "update_strategy",
                    ShardPart::Delete => "delete_behavior",
                };
                at(key, &describe_plugin_error(e))
            },
        )?;
        removes.push(matches!(mine[0].delete.shape(), DeleteShape::Remove));
        shards.push(mine);
    }
    // Every planner of a collection, the real one and the replays that draw its
    // references, is built the same way.
    let planner = |c: usize| {
        let collection = &scenario.collections[c];
        let profile = scenario.collection_profile(c);
        let mixes = collection
            .phases
            .iter()
            .enumerate()
            .map(|(i, (_, mix))| (profile.stage_start_op(i), mix.clone()))
            .collect();
        Planner::new(PlannerConfig {
            seed: seeds[c],
            selector: collection.mix.clone(),
            generator: generators[c].clone(),
            id_cache_size: collection.id_cache_size,
            first_document: 0,
            segment: Segment::WHOLE,
            shards: args.workers as usize,
            delete_removes: removes[c],
        })
        .with_phase_mixes(mixes)
        .with_sampling(collection.sampling)
        .with_reinserts(collection.reinsert)
    };
    let writer = WriterConfig {
        batch_size: args.batch_size as usize,
        max_batch_delay: args.max_batch_delay,
        ordered: true,
        write_concern: args.write_concern.clone(),
        max_retries: args.max_retries,
        api: WriteApi::default(),
    };
    let mut runs = Vec::new();
    for (c, shards) in shards.into_iter().enumerate() {
        let collection = &scenario.collections[c];
        let profile = scenario.collection_profile(c);
        let mut real = planner(c);
        if !collection.references.is_empty() {
            let targets = collection
                .references
                .iter()
                .map(|&r| Referenced {
                    name: Arc::from(scenario.collections[r].name.as_str()),
                    planner: planner(r).keeping_targets(),
                    profile: scenario.collection_profile(r),
                    acknowledged: acknowledged[r].clone(),
                })
                .collect();
            real = real.with_references(Box::new(Draws::new(seeds[c], profile.clone(), targets)));
        }
        let settings = Settings {
            seed: seeds[c],
            collection: Arc::from(collection.name.as_str()),
            generator: generators[c].clone(),
            on_plugin_error: args.plugins.on_error,
            tracking: DeleteTracking::None,
            expectations: args.journal.is_some(),
            keep_documents: !real.inserts_only(),
            errors_shown: Default::default(),
            later_versions: collection
                .versions
                .iter()
                .map(|(phase, schema)| {
                    (profile.stage_start_op(*phase), Arc::new(Generator::new(schema.clone(), seeds[c])))
                })
                .collect(),
        };
        // Every version, the first from operation 0, when there are several.
        let first = (!collection.versions.is_empty()).then_some((0, &collection.schema));
        let schema_versions = first
            .into_iter()
            .chain(collection.versions.iter().map(|(phase, schema)| (profile.stage_start_op(*phase), schema)))
            .map(|(from_seq, schema)| SchemaVersion { from_seq, schema: schema.source.clone() })
            .collect();
        let config = TrafficConfig {
            count: profile.total_ops(),
            duration: None,
            rate: None,
            profile: Some(profile),
            workers: args.workers as usize,
            writer: writer.clone(),
            warmup_inserts: 0,
            metrics_interval: args.metrics_interval,
            abort_on: Vec::new(),
            segment: Segment::WHOLE,
            start_at: None,
        };
        runs.push(Prepared {
            workload: Workload { planner: real, shards, settings },
            config,
            acknowledged: referenced[c].then(|| acknowledged[c].clone()),
            schema_versions,
        });
    }
    Ok(runs)
}

/// Every transaction stream, ready but for its server and outputs.
fn prepare_transactions(args: &Args, scenario: &Scenario, seed: u64) -> Vec<crate::transaction::Workload> {
    let generator = |name: &str, schema: &Arc<crate::schema::Schema>| {
        Arc::new(Generator::new(schema.clone(), crate::scenario::named_seed(seed, name)))
    };
    scenario
        .transactions
        .iter()
        .enumerate()
        .map(|(t, stream)| crate::transaction::Workload {
            name: stream.name.clone(),
            spec: stream.spec.clone(),
            seed: scenario.transaction_seed(seed, t),
            update_documents: stream.spec.update.as_ref().map(|u| generator(&u.collection, &u.schema)),
            insert_documents: stream.spec.insert.as_ref().map(|i| generator(&i.collection, &i.schema)),
            profile: scenario.transaction_profile(t),
            phase_names: scenario.phases.iter().map(|p| p.name.clone()).collect(),
            start_at: None,
            max_retries: args.max_retries,
            write_concern: args.write_concern.clone(),
            outputs: Default::default(),
            progress: Default::default(),
        })
        .collect()
}

impl Args {
    fn file_name(&self) -> String {
        self.scenario.as_deref().map(Path::display).map(|d| d.to_string()).unwrap_or_default()
    }
}

/// `{collection}` in a path, replaced.
fn path_for(path: &Path, collection: &str) -> PathBuf {
    PathBuf::from(path.to_string_lossy().replace("{collection}", collection))
}

/// Runs every collection at once, from one start time; the first that fails stops
/// the others (each still reports).
async fn run_all(
    args: &Args,
    scenario: &Scenario,
    runs: Vec<Prepared>,
    streams: Vec<crate::transaction::Workload>,
    seed: &Seed,
    metrics: Vec<(String, Arc<Metrics>)>,
) -> Result<(Vec<Report>, Vec<TransactionReport>), Error> {
    let db = match (&args.db, &scenario.database) {
        (Some(db), _) | (None, Some(db)) => Some(db.clone()),
        _ => None,
    };
    let connection =
        if args.dry_run { None } else { Some(crate::mongo::connect(&args.server.uri, db.as_deref()).await?) };
    let db_name = match &connection {
        Some((_, db)) => db.clone(),
        None => db.unwrap_or_else(|| "forge".into()),
    };
    let api = match &connection {
        Some((client, _)) => args.bulk_api.resolve(client).await?,
        None => WriteApi::default(),
    };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::new();
    // The collections start together, once all are set up.
    let start_at = SystemTime::now() + Duration::from_millis(500);
    // The streams' journals and logs first: a file that cannot be created stops the
    // scenario before any run has started.
    let mut streams = streams;
    if let Some((client, db)) = &connection {
        for stream in &mut streams {
            stream.start_at = Some(start_at);
            stream.outputs = transaction_outputs(args, client, db, stream).await?;
        }
    }
    for ((run, collection), (_, metrics)) in runs.into_iter().zip(&scenario.collections).zip(&metrics) {
        let Prepared { workload, mut config, acknowledged, schema_versions } = run;
        config.writer.api = api;
        config.start_at = Some(start_at);
        let (sink, journal) = match &connection {
            None => (Sink::Null { namespace: format!("{db_name}.{}", collection.name) }, None),
            Some((client, db)) => {
                let coll = crate::mongo::collection(client, db, &collection.name);
                let journal = match &args.journal {
                    Some(path) => {
                        let header = crate::journal::Header {
                            server_time_field: workload.shards[0].delete.server_time_field(),
                            schema_versions,
                            ..journal_header(client, &coll, workload.settings.seed, args.journal_docs).await?
                        };
                        Some(open_journal(path, &collection.name, &header)?)
                    }
                    None => None,
                };
                (Sink::Server { client: client.clone(), coll }, journal)
            }
        };
        let metrics = metrics.clone();
        let info = RunInfo {
            command: format!("run ({})", collection.name),
            seed: workload.settings.seed,
            seed_given: seed.given.clone(),
            flags: super::traffic::redacted_flags(),
        };
        let Workload { planner, shards, settings } = workload;
        let traffic = Traffic { planner, shards, settings, sink, config, info, journal, metrics, acknowledged };
        let mut stop = stop_rx.clone();
        let stop_all = stop_tx.clone();
        tasks.push(tokio::spawn(async move {
            let report = crate::traffic::run(traffic, async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await;
            if matches!(report.ending, Ending::Failed | Ending::Aborted) {
                let _ = stop_all.send(true);
            }
            report
        }));
    }
    let mut stream_tasks = Vec::new();
    let mut counters = Vec::new();
    if let Some((client, db)) = &connection {
        for stream in streams {
            counters.push((stream.name.clone(), stream.progress.clone()));
            let (client, db) = (client.clone(), db.clone());
            let mut stop = stop_rx.clone();
            let stop_all = stop_tx.clone();
            stream_tasks.push(tokio::spawn(async move {
                let report = crate::transaction::run(stream, client, &db, async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await;
                if report.ending == Ending::Failed {
                    let _ = stop_all.send(true);
                }
                report
            }));
        }
    }
    let progress = (!args.quiet).then(|| tokio::spawn(progress(metrics.clone(), counters, args.metrics_interval)));
    let interrupt = {
        let stop_all = stop_tx.clone();
        tokio::spawn(async move {
            super::traffic::interrupted().await;
            let _ = stop_all.send(true);
        })
    };
    let mut reports = Vec::new();
    for task in tasks {
        reports.push(task.await.map_err(|e| Error::Runtime(format!("a collection's run crashed: {e}")))?);
    }
    let mut transactions = Vec::new();
    for task in stream_tasks {
        transactions.push(task.await.map_err(|e| Error::Runtime(format!("a transaction stream crashed: {e}")))?);
    }
    interrupt.abort();
    if let Some(progress) = progress {
        progress.abort();
    }
    Ok((reports, transactions))
}

/// A journal's header for a run that writes `coll` with `seed` (its entries carrying
/// documents with `documents`), from what the server says now (before anything is written).
async fn journal_header(
    client: &mongodb::Client,
    coll: &mongodb::Collection<bson::Document>,
    seed: u64,
    documents: bool,
) -> Result<crate::journal::Header, Error> {
    let namespace = coll.namespace().to_string();
    let preexisting = crate::traffic::holds_documents(coll).await.map_err(|e| {
        Error::Runtime(format!("cannot read {namespace}: {}", crate::mongo::one_line(&e.kind.to_string())))
    })?;
    let start = crate::traffic::operation_time(client).await;
    Ok(crate::journal::Header {
        start_operation_time: start.map(|t| (t.time, t.increment)),
        preexisting,
        documents,
        ..crate::journal::Header::starting(&namespace, seed)
    })
}

/// Creates the journal `--journal PATH` names for `name`.
fn open_journal(
    path: &Path,
    name: &str,
    header: &crate::journal::Header,
) -> Result<Arc<crate::journal::JournalWriter>, Error> {
    let path = path_for(path, name);
    crate::traffic::open_journal(&path, header)
        .map_err(|e| Error::Usage(format!("--journal: cannot create '{}': {e}", path.display())))
}

/// A transaction stream's journals (one per collection) and log, under --journal.
async fn transaction_outputs(
    args: &Args,
    client: &mongodb::Client,
    db: &str,
    stream: &crate::transaction::Workload,
) -> Result<crate::transaction::Outputs, Error> {
    let Some(path) = &args.journal else { return Ok(Default::default()) };
    let mut outputs = crate::transaction::Outputs::default();
    let start = crate::traffic::operation_time(client).await;
    if let Some(u) = &stream.spec.update {
        let coll = crate::mongo::collection(client, db, &u.collection);
        let header = journal_header(client, &coll, stream.seed, args.journal_docs).await?;
        outputs.update_journal = Some(open_journal(path, &u.collection, &header)?);
    }
    if let Some(i) = &stream.spec.insert {
        let coll = crate::mongo::collection(client, db, &i.collection);
        let header = journal_header(client, &coll, stream.seed, args.journal_docs).await?;
        outputs.insert_journal = Some(open_journal(path, &i.collection, &header)?);
    }
    let header = crate::transaction::log::LogHeader {
        forge_transactions: crate::transaction::log::VERSION,
        name: stream.name.clone(),
        database: db.to_string(),
        update: stream.spec.update.as_ref().map(|u| u.collection.clone()),
        insert: stream.spec.insert.as_ref().map(|i| i.collection.clone()),
        seed: stream.seed,
        started_at: bson::DateTime::now().try_to_rfc3339_string().unwrap_or_default(),
        start_operation_time: start.map(|t| (t.time, t.increment)),
    };
    let log = path_for(path, &stream.name);
    outputs.log = Some(
        crate::transaction::log::LogWriter::create(&log, &header)
            .map_err(|e| Error::Usage(format!("--journal: cannot create '{}': {e}", log.display())))?,
    );
    Ok(outputs)
}

/// One progress line per interval: each collection's acknowledged operations and rate,
/// and each transaction stream's transactions.
async fn progress(
    metrics: Vec<(String, Arc<Metrics>)>,
    streams: Vec<(String, Arc<crate::transaction::Progress>)>,
    every: Duration,
) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    loop {
        ticks.tick().await;
        let parts: Vec<String> = metrics
            .iter()
            .map(|(name, m)| {
                let s = m.snapshot();
                format!("{name} {} ({:.0}/s)", crate::metrics::done(&s.kinds), s.achieved_rate())
            })
            .chain(streams.iter().map(|(name, p)| {
                let (c, a) = (p.committed.load(Ordering::Relaxed), p.aborted.load(Ordering::Relaxed));
                format!("{name} {c} committed, {a} aborted")
            }))
            .collect();
        errln!("{}", parts.join(", "));
    }
}

fn finish(
    args: &Args,
    scenario: &Scenario,
    file: &Path,
    seed: &Seed,
    reports: Vec<Report>,
    transactions: Vec<TransactionReport>,
) -> Result<(), Error> {
    let mut reports = reports;
    for report in &mut reports {
        report.thresholds = check_thresholds(&args.thresholds, report);
        err!("{}", report.summary());
    }
    let report = ScenarioReport::new(scenario, file.display().to_string(), seed.value, seed.given.clone(), reports)
        .with_transactions(transactions);
    for t in &report.transactions {
        err!("{}", t.summary());
    }
    err!("{}", report.summary());
    if let Some(path) = &args.report {
        write_json_report(path, &report)?;
    }
    if let Some(path) = &args.report_html {
        for r in &report.collections {
            let name = r.namespace.split_once('.').map_or(r.namespace.as_str(), |(_, c)| c);
            write_html_report(&path_for(path, name), r)?;
        }
    }
    let mut failed: BTreeMap<String, String> = BTreeMap::new();
    for r in &report.collections {
        if r.ending == Ending::Failed {
            failed.insert(r.namespace.clone(), r.error.clone().unwrap_or_else(|| "the run failed".into()));
        }
    }
    for t in &report.transactions {
        if t.ending == Ending::Failed {
            failed.insert(format!("transactions.{}", t.name), t.error.clone().unwrap_or_else(|| "it failed".into()));
        }
    }
    if let Some((namespace, error)) = failed.into_iter().next() {
        return Err(Error::Reported(format!("{namespace}: {error}")));
    }
    let missed: Vec<String> = report
        .collections
        .iter()
        .flat_map(|r| {
            r.thresholds.iter().filter(|v| !v.passed).map(move |v| format!("{} ({})", v.threshold, r.namespace))
        })
        .collect();
    if !missed.is_empty() {
        return Err(Error::ThresholdFailed(format!("threshold failed: {}", missed.join(", "))));
    }
    Ok(())
}
