//! `forge bench --cdc`: CDC traffic into the null sink (planned, materialized with the
//! current document, serialised, never sent) for each built-in strategy, with one, two
//! and all workers: how fast forge itself can go, and how it scales with shards. With
//! `--metrics-cost`: the same with every metric on (latency histograms, a sample every
//! 100 ms, the Prometheus endpoint scraped) against counts only, rounds interleaved.

use std::sync::Arc;
use std::time::Duration;

use super::error::Error;
use crate::generate::Generator;
use crate::materialize::{Settings, ShardPlugins};
use crate::mongo::collection_api::WriteApi;
use crate::mongo::writer::WriterConfig;
use crate::mutation::Plugins;
use crate::plan::{OpKind, OpSelector, Planner, PlannerConfig};
use crate::traffic::{RunInfo, Sink, Traffic, TrafficConfig};

/// The mix every case runs (and `bench --uri`'s comparison of the bulk APIs).
pub(super) const MIX: &str = "insert:40,update:40,replace:10,delete:10";

/// One measurement.
#[derive(Debug, serde::Serialize)]
struct Case {
    strategy: String,
    workers: usize,
    ops_per_s: f64,
}

/// What to measure.
pub struct CdcBench {
    pub schema: String,
    pub strategies: Vec<String>,
    pub ops: u64,
    pub threads: usize,
    pub seed: u64,
    pub json: bool,
    /// Compare full metrics with counts only instead of scaling with workers.
    pub metrics_cost: bool,
}

/// How much a measured run observes.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Observe {
    /// Counts only: no latency, no sample, no endpoint.
    Counts,
    /// Everything a user can turn on.
    Everything,
}

/// Rounds of each side of `--metrics-cost`, interleaved so that drift in the
/// machine's load hits both alike; the ratio is the median of each round's ratio (a
/// round's two runs are next to each other in time).
const COST_ROUNDS: usize = 5;

pub fn run(bench: CdcBench) -> Result<(), Error> {
    let schema = Arc::new(super::load_schema(Some(&bench.schema))?);
    let generator = Arc::new(Generator::new(schema, bench.seed));
    let mut workers = vec![1, 2, bench.threads];
    workers.dedup();
    workers.sort_unstable();
    workers.dedup();
    let runtime = super::traffic::runtime()?;
    if bench.metrics_cost {
        return metrics_cost(&bench, &generator, &runtime);
    }
    if !bench.json {
        outln!(
            "forge bench --cdc: {} ops of {MIX} on {} per case, current document passed, null sink",
            bench.ops,
            bench.schema
        );
        outln!("{:<12} {:>8} {:>12} {:>10}", "strategy", "workers", "ops/s", "scaling");
    }
    for strategy in &bench.strategies {
        let mut one = None;
        for &n in &workers {
            let ops_per_s = runtime.block_on(measure(&generator, strategy, n, &bench, Observe::Counts))?;
            let base = *one.get_or_insert(ops_per_s);
            let case = Case { strategy: strategy.clone(), workers: n, ops_per_s };
            if bench.json {
                outln!("{}", serde_json::to_string(&case).expect("cases serialise"));
            } else {
                outln!("{:<12} {:>8} {:>12.0} {:>9.2}x", case.strategy, n, ops_per_s, ops_per_s / base);
            }
        }
    }
    Ok(())
}

/// One row per strategy at `--threads` workers: ops/s with counts only and with every
/// metric on (medians of interleaved rounds), and their ratio.
fn metrics_cost(bench: &CdcBench, generator: &Arc<Generator>, runtime: &tokio::runtime::Runtime) -> Result<(), Error> {
    if !bench.json {
        outln!(
            "forge bench --cdc --metrics-cost: {} ops of {MIX} on {} per round, {} rounds each, {} workers, null sink",
            bench.ops,
            bench.schema,
            COST_ROUNDS,
            bench.threads
        );
        outln!("{:<12} {:>14} {:>14} {:>8}", "strategy", "counts ops/s", "all ops/s", "all/counts");
    }
    for strategy in &bench.strategies {
        let (mut counts, mut all) = (Vec::new(), Vec::new());
        for _ in 0..COST_ROUNDS {
            counts.push(runtime.block_on(measure(generator, strategy, bench.threads, bench, Observe::Counts))?);
            all.push(runtime.block_on(measure(generator, strategy, bench.threads, bench, Observe::Everything))?);
        }
        let ratio = median(all.iter().zip(&counts).map(|(a, c)| a / c).collect());
        let (counts, all) = (median(counts), median(all));
        if bench.json {
            let row = serde_json::json!({ "strategy": strategy, "workers": bench.threads,
                "counts_ops_per_s": counts, "all_ops_per_s": all, "ratio": ratio });
            outln!("{row}");
        } else {
            outln!("{:<12} {:>14.0} {:>14.0} {:>7.1}%", strategy, counts, all, 100.0 * ratio);
        }
    }
    Ok(())
}

/// Serves `metrics` on a loopback port and scrapes it every 250 ms until the sender
/// fires.
async fn scrape(
    metrics: Arc<crate::metrics::Metrics>,
) -> Result<(tokio::task::JoinHandle<()>, tokio::sync::oneshot::Sender<()>), Error> {
    use crate::prometheus::{Exporter, ExporterConfig, http};
    let listener = http::bind("127.0.0.1:0").await.map_err(|e| Error::Runtime(e.to_string()))?;
    let addr = listener.local_addr().map_err(|e| Error::Runtime(e.to_string()))?;
    let exporter = Arc::new(Exporter::new(metrics, ExporterConfig::default()));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(http::serve(listener, exporter, async move {
        let _ = stopped.await;
    }));
    let scraper = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut ticks = tokio::time::interval(Duration::from_millis(250));
        loop {
            ticks.tick().await;
            let Ok(mut conn) = tokio::net::TcpStream::connect(addr).await else { return };
            let request = format!("GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n");
            if conn.write_all(request.as_bytes()).await.is_err() {
                return;
            }
            let mut body = Vec::new();
            let _ = conn.read_to_end(&mut body).await;
            std::hint::black_box(body);
        }
    });
    Ok((scraper, stop))
}

/// A mixed CDC run of [`MIX`] as the benches make it: built-in plugins, 1,000 warm-up
/// inserts, counted ops, no pacing, no journal.
pub(super) struct MixedRun<'a> {
    pub strategy: &'a str,
    pub workers: usize,
    pub ops: u64,
    pub batch_size: usize,
    pub seed: u64,
    /// The collection name the plugins are told.
    pub collection: &'a str,
}

impl MixedRun<'_> {
    pub(super) fn traffic(&self, generator: &Arc<Generator>, sink: Sink, api: WriteApi) -> Result<Traffic, Error> {
        let mut plugins = Plugins::builtins(generator, self.seed)
            .map_err(|e| Error::Runtime(format!("bench {}: {e}", self.strategy)))?;
        let shards = (0..self.workers)
            .map(|_| ShardPlugins::start(&mut plugins, self.strategy, "remove"))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::Usage(format!("--cdc-strategy: {}", super::error::describe_plugin_error(&e))))?;
        let planner = Planner::new(PlannerConfig {
            seed: self.seed,
            selector: OpSelector::parse(MIX, &OpKind::ALL).expect("the bench mix parses"),
            generator: generator.clone(),
            id_cache_size: 10_000,
            first_document: 0,
            segment: crate::segment::Segment::WHOLE,
            shards: self.workers,
            delete_removes: true,
        });
        let config = TrafficConfig {
            profile: None,
            count: Some(self.ops),
            duration: None,
            rate: None,
            workers: self.workers,
            writer: WriterConfig {
                batch_size: self.batch_size,
                max_batch_delay: Duration::from_millis(50),
                ordered: true,
                write_concern: None,
                max_retries: 0,
                api,
            },
            warmup_inserts: 1000,
            metrics_interval: Duration::from_secs(1),
            abort_on: Vec::new(),
            segment: crate::segment::Segment::WHOLE,
            start_at: None,
        };
        let info =
            RunInfo { command: "bench".into(), seed: self.seed, seed_given: self.seed.to_string(), flags: vec![] };
        Ok(Traffic {
            planner,
            shards,
            settings: Settings::new(self.seed, self.collection, generator.clone()),
            sink,
            config,
            info,
            journal: None,
            metrics: Default::default(),
            acknowledged: None,
        })
    }
}

/// The middle value (the upper one of an even count).
pub(super) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

async fn measure(
    generator: &Arc<Generator>,
    strategy: &str,
    workers: usize,
    bench: &CdcBench,
    observe: Observe,
) -> Result<f64, Error> {
    let runtime_error = |e: String| Error::Runtime(format!("bench --cdc {strategy}: {e}"));
    let run = MixedRun { strategy, workers, ops: bench.ops, batch_size: 1000, seed: bench.seed, collection: "bench" };
    let mut traffic =
        run.traffic(generator, Sink::Null { namespace: "forge_bench.cdc".into() }, WriteApi::default())?;
    traffic.config.metrics_interval = match observe {
        Observe::Counts => Duration::from_secs(3600),
        Observe::Everything => Duration::from_millis(100),
    };
    traffic.metrics = Arc::new(match observe {
        Observe::Counts => crate::metrics::Metrics::counts_only(),
        Observe::Everything => crate::metrics::Metrics::default(),
    });
    // Everything on: the Prometheus endpoint served on loopback and scraped over HTTP
    // four times a second (Prometheus scrapes every 15 s by default).
    let scraping = match observe {
        Observe::Counts => None,
        Observe::Everything => Some(scrape(traffic.metrics.clone()).await?),
    };
    let report = crate::traffic::run(traffic, std::future::pending()).await;
    if let Some((scraper, stop)) = scraping {
        let _ = stop.send(());
        scraper.abort();
    }
    if let Some(e) = &report.failure {
        return Err(runtime_error(e.to_string()));
    }
    Ok(report.achieved_rate)
}
