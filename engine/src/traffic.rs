//! A traffic run: the planner on its own thread, paced by the rate limiter, feeding
//! writer tasks that batch and write; metrics printed every interval; a final report
//! however the run ends (count or duration reached, Ctrl-C, lost connection, no more
//! targets).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bson::Document;
use mongodb::{Client, Collection};
use tokio::sync::mpsc;

use crate::journal::{Header, JournalWriter};
use crate::metrics::Metrics;
use crate::metrics::report::{Ending, Report};
use crate::mongo::writer::{Writer, WriterConfig};
use crate::plan::{Planner, Write};
use crate::rate::Pace;

#[derive(Debug, Clone)]
pub struct TrafficConfig {
    /// Operations to run (after warm-up); `None` with no duration: until Ctrl-C.
    pub count: Option<u64>,
    pub duration: Option<Duration>,
    pub rate: Option<f64>,
    pub workers: usize,
    pub writer: WriterConfig,
    pub metrics_interval: Duration,
    pub warmup_inserts: u64,
    pub quiet: bool,
    /// Where to journal acknowledged operations.
    pub journal: Option<std::path::PathBuf>,
}

/// What the report says about the run besides its counts.
#[derive(Debug, Clone)]
pub struct RunInfo {
    pub command: String,
    pub seed: u64,
    pub flags: Vec<String>,
}

/// Why the planner thread stopped.
enum Stop {
    Done,
    Interrupted,
    Exhausted,
    Failed(String),
}

/// Opens the journal for a run, before anything is written.
pub fn open_journal(
    config: &TrafficConfig,
    namespace: &str,
    seed: u64,
    server_time_field: Option<String>,
    start_operation_time: Option<bson::Timestamp>,
) -> Result<Option<Arc<JournalWriter>>, String> {
    let Some(path) = &config.journal else { return Ok(None) };
    let header = Header {
        forge_journal: crate::journal::VERSION,
        namespace: namespace.to_string(),
        seed,
        started_at: bson::DateTime::now().try_to_rfc3339_string().unwrap_or_default(),
        server_time_field,
        start_operation_time: start_operation_time.map(|t| (t.time, t.increment)),
    };
    JournalWriter::create(path, &header)
        .map(|j| Some(Arc::new(j)))
        .map_err(|e| format!("--journal: cannot create '{}': {e}", path.display()))
}

/// The server's current operation time (before anything is written), if it says.
pub async fn operation_time(client: &Client) -> Option<bson::Timestamp> {
    let reply = client.database("admin").run_command(bson::doc! { "ping": 1 }).await.ok()?;
    reply.get_timestamp("operationTime").ok()
}

pub async fn run(
    planner: Planner,
    client: Client,
    coll: Collection<Document>,
    config: TrafficConfig,
    info: RunInfo,
    journal: Option<Arc<JournalWriter>>,
) -> Report {
    let metrics = Arc::new(Metrics::default());
    let stop = Arc::new(AtomicBool::new(false));
    let interrupted = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let started_at = bson::DateTime::now().try_to_rfc3339_string().unwrap_or_default();

    let writer_config = Arc::new(config.writer.clone());
    let mut queues = Vec::with_capacity(config.workers);
    let mut writers = Vec::with_capacity(config.workers);
    for _ in 0..config.workers.max(1) {
        let (tx, rx) = mpsc::channel(config.writer.batch_size.clamp(1, 10_000) * 2);
        queues.push(tx);
        let writer = Writer {
            client: client.clone(),
            coll: coll.clone(),
            config: writer_config.clone(),
            metrics: metrics.clone(),
            journal: journal.clone(),
        };
        let stop = stop.clone();
        writers.push(tokio::spawn(async move {
            let result = writer.run(rx).await;
            if result.is_err() {
                stop.store(true, Ordering::Relaxed);
            }
            result
        }));
    }

    let ctrl_c = {
        let (stop, interrupted) = (stop.clone(), interrupted.clone());
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("\nstopping after the batches in flight (Ctrl-C again to quit at once)");
                interrupted.store(true, Ordering::Relaxed);
                stop.store(true, Ordering::Relaxed);
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(130);
                }
            }
        })
    };

    let printer = (!config.quiet).then(|| {
        let (metrics, interval) = (metrics.clone(), config.metrics_interval);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
            loop {
                ticks.tick().await;
                eprintln!("{}", metrics.interval_line(started.elapsed(), interval));
            }
        })
    });

    let producer = {
        let (stop, config) = (stop.clone(), config.clone());
        tokio::task::spawn_blocking(move || produce(planner, queues, &config, &stop))
    };
    let (stop_reason, tally) =
        producer.await.unwrap_or_else(|e| (Stop::Failed(format!("planner crashed: {e}")), PlannerTally::default()));

    let mut failure = None;
    for writer in writers {
        match writer.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failure = failure.or(Some(e.0)),
            Err(e) => failure = failure.or(Some(format!("a writer crashed: {e}"))),
        }
    }
    ctrl_c.abort();
    if let Some(p) = printer {
        p.abort();
    }

    if let Some(journal) = &journal
        && let Err(e) = journal.flush()
    {
        failure = failure.or(Some(format!("writing the journal failed: {e}")));
    }
    let (ending, error) = match (failure, stop_reason) {
        (Some(e), _) => (Ending::Failed, Some(e)),
        (None, Stop::Failed(e)) => (Ending::Failed, Some(e)),
        (None, _) if interrupted.load(Ordering::Relaxed) => (Ending::Interrupted, None),
        (None, Stop::Interrupted) => (Ending::Interrupted, None),
        (None, Stop::Exhausted) => (Ending::Exhausted, None),
        (None, Stop::Done) => (Ending::Completed, None),
    };
    let duration = started.elapsed().as_secs_f64();
    let ops = metrics.totals();
    let done: u64 = ops.values().map(|k| k.acknowledged + k.unacknowledged).sum();
    Report {
        forge_version: env!("CARGO_PKG_VERSION"),
        command: info.command,
        namespace: coll.namespace().to_string(),
        seed: info.seed,
        started_at,
        duration_s: duration,
        ending,
        error,
        target_rate: config.rate,
        achieved_rate: done as f64 / duration.max(1e-9),
        ops,
        converted_to_insert: tally.converted_to_insert,
        plugin_errors: tally.plugin_errors,
        warmup_inserts: config.warmup_inserts,
        latency: metrics.latency(),
        flags: info.flags,
    }
}

/// The planner loop, on a thread of its own: plans, paces, and routes each operation
/// to the writer that owns its `_id`.
fn produce(
    mut planner: Planner,
    queues: Vec<mpsc::Sender<crate::plan::OpPlan>>,
    config: &TrafficConfig,
    stop: &AtomicBool,
) -> (Stop, PlannerTally) {
    let pace = config.rate.map(Pace::new);
    let route = |id: &bson::Bson| crate::plan::writer_of(id, queues.len());
    let raw_inserts = planner.inserts_only();
    let send = |mut op: crate::plan::OpPlan| {
        // A document that cannot be serialised stays as it is; the writer reports it.
        if raw_inserts
            && let Write::Insert(doc) = &op.write
            && let Ok(raw) = bson::RawDocumentBuf::try_from(doc)
        {
            op.write = Write::InsertRaw(raw);
        }
        queues[route(&op.id)].blocking_send(op).is_ok()
    };
    for _ in 0..config.warmup_inserts {
        if stop.load(Ordering::Relaxed) {
            return (Stop::Interrupted, PlannerTally::of(&planner));
        }
        if !send(planner.next_insert()) {
            return (Stop::Interrupted, PlannerTally::of(&planner));
        }
    }
    let deadline = config.duration.map(|d| Instant::now() + d);
    let mut planned = 0u64;
    let reason = loop {
        if config.count.is_some_and(|n| planned >= n) || deadline.is_some_and(|d| Instant::now() >= d) {
            break Stop::Done;
        }
        if stop.load(Ordering::Relaxed) {
            break Stop::Interrupted;
        }
        if let Some(pace) = &pace
            && !pace.wait(stop)
        {
            break Stop::Interrupted;
        }
        match planner.next_op() {
            Ok(Some(op)) => {
                if !send(op) {
                    break Stop::Interrupted; // its writer failed; the writer says why
                }
            }
            Ok(None) => break Stop::Exhausted,
            Err(e) => break Stop::Failed(e),
        }
        planned += 1;
    };
    (reason, PlannerTally::of(&planner))
}

/// What the planner counted, for the report.
#[derive(Default)]
struct PlannerTally {
    converted_to_insert: u64,
    plugin_errors: std::collections::BTreeMap<String, u64>,
}

impl PlannerTally {
    fn of(planner: &Planner) -> Self {
        PlannerTally { converted_to_insert: planner.converted_to_insert, plugin_errors: planner.plugin_errors.clone() }
    }
}
