//! `forge bench`: generation throughput, measured as ratios within one run because
//! the machines forge runs on are shared and noisy.

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::error::Error;
use crate::generate::Generator;
use crate::output::render::Job;
use crate::output::{TextFormat, ejson};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Schemas to measure (files or example:NAME). Default: example:customers and
    /// example:orders
    #[arg(long, value_name = "FILE")]
    schema: Vec<String>,

    /// Documents per measurement
    #[arg(short = 'n', long, value_name = "N", default_value_t = 200_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    count: u64,

    /// Threads for the parallel measurement. Default: all cores
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    threads: Option<u16>,

    /// Seed of the generated documents (the figures do not depend on it much)
    #[arg(long, default_value_t = 1)]
    seed: u64,

    /// Also measure forge's bulk load against a plain driver loop doing the same
    /// inserts in the same batches, on this server (it writes to the forge_bench db)
    #[arg(long, value_name = "URI")]
    uri: Option<String>,

    /// Documents per MongoDB measurement
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    mongo_count: u64,

    /// Batch size of both MongoDB measurements
    #[arg(long, value_name = "N", default_value_t = 1000)]
    batch_size: u32,

    /// --uri: operations of the bulk API comparison (the same mixed CDC run written
    /// through bulkWrite and through the collection-level commands); 0 skips it
    #[arg(long, value_name = "N", default_value_t = 20_000)]
    api_ops: u64,

    /// --uri: only the bulk API comparison (no generation table, no insert comparison)
    #[arg(long)]
    api_only: bool,

    /// Instead: measure each built-in plugin's calls per second as WebAssembly and as
    /// the same code built natively, on example:orders documents, without a database
    #[arg(long)]
    plugins: bool,

    /// Calls per plugin measurement
    #[arg(long, value_name = "N", default_value_t = 50_000, value_parser = clap::value_parser!(u64).range(1..))]
    plugin_calls: u64,

    /// Instead: CDC traffic (insert:40,update:40,replace:10,delete:10, the current
    /// document passed to every plugin) into a null sink that plans, materializes and
    /// serialises every write but sends nothing, for each built-in strategy with 1, 2
    /// and --threads workers: ops/s and the scaling factor. Schema: the first --schema,
    /// else example:orders
    #[arg(long)]
    cdc: bool,

    /// --cdc: strategies to measure; repeatable [default: every built-in mutator]
    #[arg(long, value_name = "NAME")]
    cdc_strategy: Vec<String>,

    /// --cdc: operations per case
    #[arg(long, value_name = "N", default_value_t = 200_000, value_parser = clap::value_parser!(u64).range(1..))]
    cdc_ops: u64,

    /// --cdc: instead of scaling with workers, what metrics cost: each strategy at
    /// --threads workers with counts only and with every metric on (latency
    /// histograms, a sample every 100 ms, the Prometheus endpoint scraped), five
    /// interleaved rounds: medians, and the median of the rounds' ratios
    #[arg(long, requires = "cdc")]
    metrics_cost: bool,

    /// Instead: the same --dry-run CDC run (--cdc-ops ops on the first --schema, else
    /// example:orders, --threads workers per process) as one process and as N
    /// --spawn'ed segments, five interleaved rounds: ops/s of each and the ratio
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(2..=64))]
    segments: Option<u64>,

    /// Instead: what `forge verify` costs forge itself, without a server: the final-state
    /// check of --verify-docs documents of the first --schema (else example:orders), each
    /// journaled as one insert carrying it, as a collection holds them (lossless), as a
    /// flattening sink holds them (--sink-types flattened), and followed as a sink of
    /// states (--follow on a table), five interleaved rounds: docs/s (medians), and the
    /// median of the rounds' ratios to the lossless check
    #[arg(long)]
    verify: bool,

    /// --verify: documents per case
    #[arg(long, value_name = "N", default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    verify_docs: u64,

    /// --cdc: one JSON object per case ({"strategy", "workers", "ops_per_s"}) instead of
    /// the table
    #[arg(long)]
    json: bool,
}

/// The built-in strategies `--cdc` measures by default (those this build embeds).
const CDC_STRATEGIES: &[&str] = &["regenerate", "partial", "increment", "mixed", "lifecycle", "drift", "array"];

struct Measure {
    docs_per_s: f64,
    mb_per_s: f64,
}

pub fn run(args: Args) -> Result<(), Error> {
    if args.plugins {
        return super::bench_plugins::run(args.seed, args.plugin_calls);
    }
    if args.verify {
        return super::bench_verify::run(super::bench_verify::VerifyBench {
            schema: args.schema.first().cloned().unwrap_or_else(|| "example:orders".into()),
            docs: args.verify_docs,
            seed: args.seed,
        });
    }
    if let Some(segments) = args.segments {
        return super::bench_segments::run(super::bench_segments::SegmentsBench {
            segments,
            schema: args.schema.first().cloned().unwrap_or_else(|| "example:orders".into()),
            ops: args.cdc_ops,
            workers: args.threads.map_or_else(super::default_threads, usize::from),
            seed: args.seed,
        });
    }
    if args.cdc {
        let strategies = if args.cdc_strategy.is_empty() {
            CDC_STRATEGIES
                .iter()
                .filter(|n| **n == "mixed" || crate::plugin::builtin::find(n).is_some())
                .map(|s| s.to_string())
                .collect()
        } else {
            args.cdc_strategy.clone()
        };
        return super::bench_cdc::run(super::bench_cdc::CdcBench {
            schema: args.schema.first().cloned().unwrap_or_else(|| "example:orders".into()),
            strategies,
            ops: args.cdc_ops,
            threads: args.threads.map_or_else(super::default_threads, usize::from),
            seed: args.seed,
            json: args.json,
            metrics_cost: args.metrics_cost,
        });
    }
    if args.json {
        return Err(Error::Usage("--json goes with --cdc".into()));
    }
    if args.api_only {
        let Some(uri) = &args.uri else { return Err(Error::Usage("--api-only goes with --uri".into())) };
        return bulk_apis(uri, &args);
    }
    let schemas = if args.schema.is_empty() {
        vec!["example:customers".to_string(), "example:orders".to_string()]
    } else {
        args.schema.clone()
    };
    let threads = args.threads.map_or_else(super::default_threads, usize::from);
    outln!("forge bench: {} documents per measurement, {threads} threads for the parallel run", args.count);
    outln!(
        "{:<22} {:>10} {:>14} {:>14} {:>10} {:>14} {:>10} {:>8}",
        "schema",
        "avg bytes",
        "build docs/s",
        "ndjson docs/s",
        "MB/s",
        "Nthr docs/s",
        "MB/s",
        "speedup"
    );
    for spec in &schemas {
        let schema = Arc::new(super::load_schema(Some(spec))?);
        let generator = Generator::new(schema, args.seed);
        let job = |threads| Job {
            generator: generator.clone(),
            start: 0,
            count: args.count,
            threads,
            format: TextFormat::Ndjson,
            mode: ejson::Mode::Relaxed,
        };
        // Warm caches and the allocator before timing anything.
        measure(&job(1), args.count / 10 + 1)?;
        let build = build_only(&generator, args.count);
        let single = measure(&job(1), args.count)?;
        let parallel = measure(&job(threads), args.count)?;
        let avg_bytes = single.mb_per_s * 1e6 / single.docs_per_s;
        outln!(
            "{:<22} {:>10.0} {:>14.0} {:>14.0} {:>10.1} {:>14.0} {:>10.1} {:>7.2}x",
            spec,
            avg_bytes,
            build,
            single.docs_per_s,
            single.mb_per_s,
            parallel.docs_per_s,
            parallel.mb_per_s,
            parallel.docs_per_s / single.docs_per_s
        );
    }
    outln!(
        "build = raw BSON documents only (what inserts send); ndjson = generated and serialised as relaxed Extended JSON"
    );
    if let Some(rss) = peak_rss_mb() {
        outln!("peak RSS of this process: {rss:.1} MB");
    }
    if let Some(uri) = &args.uri {
        mongo_vs_driver(uri, &args)?;
        if args.api_ops > 0 {
            bulk_apis(uri, &args)?;
        }
    }
    Ok(())
}

/// The bulk API comparison, on the first --schema (else example:orders).
fn bulk_apis(uri: &str, args: &Args) -> Result<(), Error> {
    let bench = super::bench_api::ApiBench {
        uri,
        schema: args.schema.first().map_or("example:orders", String::as_str),
        ops: args.api_ops.max(1),
        batch_size: args.batch_size as usize,
        workers: 4,
        seed: args.seed,
    };
    super::traffic::runtime()?.block_on(super::bench_api::client_vs_collection(&bench))
}

/// forge's write path (planner, writer, metrics) against the driver alone: the same
/// documents, inserted in the same batches, one batch in flight, twice each in
/// alternation so that both see the same machine.
/// Alternating rounds of the MongoDB comparison; the median of each side is reported.
const ROUNDS: usize = 7;

fn mongo_vs_driver(uri: &str, args: &Args) -> Result<(), Error> {
    use crate::materialize::{Settings, ShardPlugins};
    use crate::plan::{OpKind, OpSelector, Planner, PlannerConfig};
    use crate::traffic::{RunInfo, Sink, Traffic, TrafficConfig};
    let spec = args.schema.first().map_or("example:customers", String::as_str);
    let schema = Arc::new(super::load_schema(Some(spec))?);
    let generator = Arc::new(Generator::new(schema, args.seed));
    let docs: Vec<bson::Document> = (0..args.mongo_count).map(|i| generator.document(i)).collect();
    let runtime = super::traffic::runtime()?;
    runtime.block_on(async {
        let (client, _) = crate::mongo::connect(uri, None).await?;
        let coll = crate::mongo::collection(&client, "forge_bench", "inserts");
        let fail = |e: mongodb::error::Error| Error::Runtime(format!("bench: {}", e.kind));
        let mut driver_rates = Vec::new();
        let mut forge_rates = Vec::new();
        for _ in 0..ROUNDS {
            coll.drop().await.map_err(fail)?;
            let started = Instant::now();
            for chunk in docs.chunks(args.batch_size as usize) {
                coll.insert_many(chunk).await.map_err(fail)?;
            }
            driver_rates.push(docs.len() as f64 / started.elapsed().as_secs_f64());

            coll.drop().await.map_err(fail)?;
            let mut plugins =
                crate::mutation::Plugins::builtins(&generator, args.seed).map_err(|e| Error::Runtime(e.to_string()))?;
            let shards = vec![
                ShardPlugins::start(&mut plugins, "partial", "remove").map_err(|e| Error::Runtime(e.to_string()))?,
            ];
            let planner = Planner::new(PlannerConfig {
                seed: args.seed,
                selector: OpSelector::only(OpKind::Insert),
                generator: generator.clone(),
                id_cache_size: 10_000,
                first_document: 0,
                segment: crate::segment::Segment::WHOLE,
                shards: 1,
                delete_removes: true,
            });
            let settings =
                Settings { keep_documents: false, ..Settings::new(args.seed, coll.name(), generator.clone()) };
            let config = TrafficConfig {
                profile: None,
                count: Some(args.mongo_count),
                duration: None,
                rate: None,
                workers: 1,
                writer: crate::mongo::writer::WriterConfig {
                    batch_size: args.batch_size as usize,
                    max_batch_delay: Duration::from_millis(50),
                    ordered: true,
                    write_concern: None,
                    max_retries: 0,
                    api: Default::default(),
                },
                warmup_inserts: 0,
                metrics_interval: Duration::from_secs(1),
                abort_on: Vec::new(),
                segment: crate::segment::Segment::WHOLE,
                start_at: None,
            };
            let info = RunInfo {
                command: "bench".into(),
                seed: args.seed,
                seed_given: args.seed.to_string(),
                flags: Vec::new(),
            };
            let traffic = Traffic {
                planner,
                shards,
                settings,
                sink: Sink::Server { client: client.clone(), coll: coll.clone() },
                config,
                info,
                journal: None,
                metrics: Default::default(),
                acknowledged: None,
            };
            let report = crate::traffic::run(traffic, std::future::pending()).await;
            if report.acknowledged() != args.mongo_count {
                return Err(Error::Runtime(format!(
                    "bench: forge wrote {} of {}",
                    report.acknowledged(),
                    args.mongo_count
                )));
            }
            forge_rates.push(report.acknowledged() as f64 / report.duration_s);
        }
        coll.drop().await.map_err(fail)?;
        let median = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        // Each round's two runs share the machine's state of the moment: compare within
        // rounds, then take the median over rounds.
        let ratios: Vec<f64> = driver_rates.iter().zip(&forge_rates).map(|(d, f)| f / d).collect();
        let shown: Vec<String> = ratios.iter().map(|r| format!("{:.0}%", 100.0 * r)).collect();
        outln!(
            "mongo: {} inserts of {spec} in batches of {}, one batch in flight, {ROUNDS} alternating rounds",
            args.mongo_count,
            args.batch_size
        );
        outln!(
            "  plain driver loop (insert_many, documents made beforehand): {:>9.0} docs/s (median)",
            median(driver_rates)
        );
        outln!(
            "  forge generate --output mongo (generating as it goes):       {:>9.0} docs/s (median)",
            median(forge_rates)
        );
        outln!("  forge / driver, median of rounds: {:.1}% (rounds: {})", 100.0 * median(ratios), shown.join(", "));
        Ok(())
    })
}

fn build_only(generator: &Generator, count: u64) -> f64 {
    let started = Instant::now();
    let mut bytes = 0usize;
    for i in 0..count {
        // What a bulk insert sends, one buffer per document as it is queued.
        bytes += generator.raw_document(i).map_or(0, |d| d.as_bytes().len());
    }
    std::hint::black_box(bytes);
    count as f64 / started.elapsed().as_secs_f64()
}

fn measure(job: &Job, count: u64) -> Result<Measure, Error> {
    let job = Job { count, ..job.clone() };
    let started = Instant::now();
    let written = job.run(&mut io::sink()).map_err(|e| Error::Runtime(e.to_string()))?;
    let secs = started.elapsed().as_secs_f64();
    Ok(Measure { docs_per_s: written.docs as f64 / secs, mb_per_s: written.bytes as f64 / 1e6 / secs })
}

fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}
