//! `forge bench --uri`'s comparison of the two bulk APIs: the same mixed CDC run
//! written through the client-level `bulkWrite` and through the collection-level
//! commands, in alternation, on the same server.

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

/// The mix both APIs write.
const MIX: &str = "insert:40,update:40,replace:10,delete:10";

/// Alternating rounds; the median of each side and of the per-round ratios is reported.
const ROUNDS: usize = 5;

/// What to compare.
pub struct ApiBench<'a> {
    pub uri: &'a str,
    pub schema: &'a str,
    pub ops: u64,
    pub batch_size: usize,
    pub workers: usize,
    pub seed: u64,
}

pub async fn client_vs_collection(bench: &ApiBench<'_>) -> Result<(), Error> {
    let schema = Arc::new(super::load_schema(Some(bench.schema))?);
    let generator = Arc::new(Generator::new(schema, bench.seed));
    let (client, _) = crate::mongo::connect(bench.uri, None).await?;
    let coll = crate::mongo::collection(&client, "forge_bench", "bulk_api");
    let fail = |e: mongodb::error::Error| Error::Runtime(format!("bench: {}", e.kind));
    let mut rates = [Vec::new(), Vec::new()];
    for _ in 0..ROUNDS {
        for (side, api) in [WriteApi::Client, WriteApi::Collection].into_iter().enumerate() {
            coll.drop().await.map_err(fail)?;
            let traffic = traffic(bench, &generator, &client, &coll, api)?;
            let report = crate::traffic::run(traffic, std::future::pending()).await;
            if let Some(e) = &report.failure {
                return Err(Error::Runtime(format!("bench ({} API): {e}", api.name())));
            }
            rates[side].push(report.achieved_rate);
        }
    }
    coll.drop().await.map_err(fail)?;
    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let ratios: Vec<f64> = rates[0].iter().zip(&rates[1]).map(|(c, l)| l / c).collect();
    let shown: Vec<String> = ratios.iter().map(|r| format!("{:.0}%", 100.0 * r)).collect();
    outln!(
        "bulk APIs: {} ops of {MIX} on {} (partial updates), batches of {}, {} workers, seed {}, {ROUNDS} alternating rounds",
        bench.ops,
        bench.schema,
        bench.batch_size,
        bench.workers,
        bench.seed
    );
    outln!("  client     (one bulkWrite per batch):              {:>9.0} ops/s (median)", median(&rates[0]));
    outln!("  collection (insert/update/delete commands):       {:>9.0} ops/s (median)", median(&rates[1]));
    outln!("  collection / client, median of rounds: {:.1}% (rounds: {})", 100.0 * median(&ratios), shown.join(", "));
    Ok(())
}

fn traffic(
    bench: &ApiBench<'_>,
    generator: &Arc<Generator>,
    client: &mongodb::Client,
    coll: &mongodb::Collection<bson::Document>,
    api: WriteApi,
) -> Result<Traffic, Error> {
    let runtime_error = |e: String| Error::Runtime(format!("bench: {e}"));
    let mut plugins = Plugins::builtins(generator, bench.seed).map_err(|e| runtime_error(e.to_string()))?;
    let shards = (0..bench.workers)
        .map(|_| ShardPlugins::start(&mut plugins, "partial", "remove"))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| runtime_error(super::error::describe_plugin_error(&e)))?;
    let planner = Planner::new(PlannerConfig {
        seed: bench.seed,
        selector: OpSelector::parse(MIX, &OpKind::ALL).expect("the bench mix parses"),
        generator: generator.clone(),
        id_cache_size: 10_000,
        first_document: 0,
        shards: bench.workers,
        delete_removes: true,
    });
    let settings = Settings::new(bench.seed, coll.name(), generator.clone());
    let config = TrafficConfig {
        count: Some(bench.ops),
        duration: None,
        rate: None,
        workers: bench.workers,
        writer: WriterConfig {
            batch_size: bench.batch_size,
            max_batch_delay: Duration::from_millis(50),
            ordered: true,
            write_concern: None,
            max_retries: 0,
            api,
        },
        warmup_inserts: 1000,
        metrics_interval: Duration::from_secs(1),
        abort_on: Vec::new(),
    };
    let info = RunInfo { command: "bench".into(), seed: bench.seed, seed_given: bench.seed.to_string(), flags: vec![] };
    Ok(Traffic {
        planner,
        shards,
        settings,
        sink: Sink::Server { client: client.clone(), coll: coll.clone() },
        config,
        info,
        journal: None,
        metrics: Default::default(),
    })
}
