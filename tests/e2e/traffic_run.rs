//! A traffic run is a value: built from the library, driven in this process, stopped by
//! the shutdown future it was given, and its report matches what the server holds.

use std::sync::Arc;
use std::time::Duration;

use forge::generate::Generator;
use forge::materialize::{Settings, ShardPlugins};
use forge::metrics::report::Ending;
use forge::mongo::writer::WriterConfig;
use forge::mutation::Plugins;
use forge::plan::{OpKind, OpSelector, Planner, PlannerConfig};
use forge::schema::Schema;
use forge::traffic::{RunInfo, Sink, Traffic, TrafficConfig};

use crate::support;

fn traffic(client: mongodb::Client, db: &str, count: Option<u64>) -> Traffic {
    let schema = Arc::new(Schema::from_json_str(forge::examples::ORDERS.json).unwrap());
    let generator = Arc::new(Generator::new(schema, 9));
    let mut plugins = Plugins::builtins(&generator, 9).unwrap();
    let shards = (0..2).map(|_| ShardPlugins::start(&mut plugins, "partial", "remove").unwrap()).collect();
    let planner = Planner::new(PlannerConfig {
        seed: 9,
        selector: OpSelector::parse("insert:60,update:30,delete:10", &OpKind::ALL).unwrap(),
        generator: generator.clone(),
        id_cache_size: 1_000,
        first_document: 0,
        segment: forge::segment::Segment::WHOLE,
        shards: 2,
        delete_removes: true,
    });
    let settings = Settings::new(9, "c", generator);
    Traffic {
        planner,
        shards,
        settings,
        sink: Sink::Server { coll: client.database(db).collection("c"), client },
        config: TrafficConfig {
            count,
            duration: None,
            rate: Some(2_000.0),
            profile: None,
            workers: 2,
            writer: WriterConfig {
                batch_size: 100,
                max_batch_delay: Duration::from_millis(20),
                ordered: true,
                write_concern: None,
                max_retries: 2,
                api: Default::default(),
            },
            warmup_inserts: 0,
            metrics_interval: Duration::from_secs(1),
            abort_on: Vec::new(),
            segment: forge::segment::Segment::WHOLE,
            start_at: None,
        },
        info: RunInfo { command: "test".into(), seed: 9, seed_given: "9".into(), flags: Vec::new() },
        journal: None,
        metrics: Default::default(),
        acknowledged: None,
    }
}

/// Inserts acknowledged minus deletes acknowledged: what the collection must hold.
fn expected_documents(report: &forge::metrics::report::Report) -> u64 {
    let acked = |kind| report.ops.get(&kind).map_or(0, |c| c.matched);
    acked(OpKind::Insert) - acked(OpKind::Delete)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_stops_when_its_shutdown_future_resolves() {
    let _machine = support::busy();
    let db = support::fresh_db("in_process_shutdown");
    let client = support::client().await;
    // Unbounded: only the shutdown ends it, after about 0.8 s at 2,000 ops/s. A run
    // that ignored its shutdown would hang: the timeout turns that into a failure.
    let shutdown = tokio::time::sleep(Duration::from_millis(800));
    let run = forge::traffic::run(traffic(client.clone(), &db, None), shutdown);
    let report = tokio::time::timeout(Duration::from_secs(60), run).await.expect("the run ignored its shutdown");
    assert_eq!(report.ending, Ending::Interrupted, "{:?}", report.failure);
    // At most the rate allows (a loaded machine may manage less), and not nothing.
    let acked = report.acknowledged();
    assert!((1..=2_500).contains(&acked), "{acked} operations in 0.8 s at 2,000/s");
    let held = client.database(&db).collection::<bson::Document>("c").count_documents(bson::doc! {}).await.unwrap();
    assert_eq!(held, expected_documents(&report), "the report counts what the server holds");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_is_never_shut_down_completes_its_count() {
    let _machine = support::busy();
    let db = support::fresh_db("in_process_count");
    let client = support::client().await;
    let run = forge::traffic::run(traffic(client.clone(), &db, Some(600)), std::future::pending());
    let report = tokio::time::timeout(Duration::from_secs(60), run).await.expect("the run never ended");
    assert_eq!(report.ending, Ending::Completed, "{:?}", report.failure);
    assert_eq!(report.acknowledged(), 600);
    let held = client.database(&db).collection::<bson::Document>("c").count_documents(bson::doc! {}).await.unwrap();
    assert_eq!(held, expected_documents(&report));
}
