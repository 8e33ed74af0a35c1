//! `forge bench --uri`'s comparison of the two bulk APIs: the same mixed CDC run
//! written through the client-level `bulkWrite` and through the collection-level
//! commands, in alternation, on the same server.

use std::sync::Arc;

use super::bench_cdc::{MIX, MixedRun, median};
use super::error::Error;
use crate::generate::Generator;
use crate::mongo::collection_api::WriteApi;
use crate::traffic::Sink;

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
            let run = MixedRun {
                strategy: "partial",
                workers: bench.workers,
                ops: bench.ops,
                batch_size: bench.batch_size,
                seed: bench.seed,
                collection: coll.name(),
            };
            let traffic = run.traffic(&generator, Sink::Server { client: client.clone(), coll: coll.clone() }, api)?;
            let report = crate::traffic::run(traffic, std::future::pending()).await;
            if let Some(e) = &report.failure {
                return Err(Error::Runtime(format!("bench ({} API): {e}", api.name())));
            }
            rates[side].push(report.achieved_rate);
        }
    }
    coll.drop().await.map_err(fail)?;
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
    outln!("  client     (one bulkWrite per batch):              {:>9.0} ops/s (median)", median(rates[0].clone()));
    outln!("  collection (insert/update/delete commands):       {:>9.0} ops/s (median)", median(rates[1].clone()));
    outln!(
        "  collection / client, median of rounds: {:.1}% (rounds: {})",
        100.0 * median(ratios.clone()),
        shown.join(", ")
    );
    Ok(())
}
