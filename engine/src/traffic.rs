//! A traffic run: the planner on its own thread, paced by the rate limiter, feeding
//! writer tasks that batch and write; a final report however the run ends (count or
//! duration reached, shutdown requested, lost connection, no more targets).
//!
//! A run is a value: [`run`] takes everything it needs and a shutdown future (the CLI
//! passes Ctrl-C, a test anything it likes) and returns the [`Report`]. It prints
//! nothing; the caller reads progress from the shared [`Metrics`].

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bson::Document;
use mongodb::{Client, Collection};
use tokio::sync::mpsc;

use crate::journal::{Header, JournalWriter};
use crate::metrics::Metrics;
use crate::metrics::report::{Ending, Report};
use crate::mongo::writer::{WriteError, Writer, WriterConfig};
use crate::plan::{OpPlan, PlanError, Planner, Write};
use crate::rate::Pace;

#[derive(Debug, Clone)]
pub struct TrafficConfig {
    /// Operations to run (after warm-up); `None` with no duration: until shutdown.
    pub count: Option<u64>,
    /// Longest the run lasts (after warm-up); with `count`, whichever comes first.
    pub duration: Option<Duration>,
    /// Operations per second, paced at admission; `None`: as fast as possible.
    pub rate: Option<f64>,
    /// Writer tasks; the planner routes each `_id` to one of them.
    pub workers: usize,
    /// How each writer batches and writes.
    pub writer: WriterConfig,
    /// Inserts written before the measured operations, so updates have targets.
    pub warmup_inserts: u64,
}

/// What the report says about the run besides its counts.
#[derive(Debug, Clone)]
pub struct RunInfo {
    /// The command, as the summary names it (`generate (mongo-cdc)`, `mutate`).
    pub command: String,
    /// The run seed, as used.
    pub seed: u64,
    /// The seed as the user gave it (a string is hashed into `seed`).
    pub seed_given: String,
    /// The command line, secrets redacted.
    pub flags: Vec<String>,
}

/// Why a run stopped before it completed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error("writing the journal failed: {0}")]
    Journal(#[source] std::io::Error),
    #[error("the planner crashed: {0}")]
    PlannerCrashed(#[source] tokio::task::JoinError),
    #[error("a writer crashed: {0}")]
    WriterCrashed(#[source] tokio::task::JoinError),
}

/// Why the planner thread stopped.
enum Stop {
    Done,
    Interrupted,
    Exhausted,
    Failed(PlanError),
    Crashed(tokio::task::JoinError),
}

/// Creates the journal for a run, before anything is written.
pub fn open_journal(
    path: &std::path::Path,
    namespace: &str,
    seed: u64,
    server_time_field: Option<String>,
    start_operation_time: Option<bson::Timestamp>,
) -> std::io::Result<Arc<JournalWriter>> {
    let header = Header {
        forge_journal: crate::journal::VERSION,
        namespace: namespace.to_string(),
        seed,
        started_at: bson::DateTime::now().try_to_rfc3339_string().unwrap_or_default(),
        server_time_field,
        start_operation_time: start_operation_time.map(|t| (t.time, t.increment)),
    };
    JournalWriter::create(path, &header).map(Arc::new)
}

/// The server's current operation time (before anything is written), if it says.
pub async fn operation_time(client: &Client) -> Option<bson::Timestamp> {
    let reply = client.database("admin").run_command(bson::doc! { "ping": 1 }).await.ok()?;
    reply.get_timestamp("operationTime").ok()
}

/// Everything a run needs besides its shutdown signal.
pub struct Traffic {
    pub planner: Planner,
    pub client: Client,
    pub coll: Collection<Document>,
    pub config: TrafficConfig,
    pub info: RunInfo,
    /// Where acknowledged operations are journaled, if anywhere.
    pub journal: Option<Arc<JournalWriter>>,
    /// Counters the writers fill; shared so the caller can show progress.
    pub metrics: Arc<Metrics>,
}

/// Runs the traffic until it is done, fails, or `shutdown` resolves (then it stops
/// after the batches in flight). The report always comes back.
pub async fn run(traffic: Traffic, shutdown: impl Future<Output = ()>) -> Report {
    let Traffic { planner, client, coll, config, info, journal, metrics } = traffic;
    let stop = Arc::new(AtomicBool::new(false));
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

    let mut producer = {
        let (stop, config) = (stop.clone(), config.clone());
        tokio::task::spawn_blocking(move || produce(planner, queues, &config, &stop))
    };
    let mut shut_down = false;
    let produced = tokio::select! {
        produced = &mut producer => produced,
        () = shutdown => {
            shut_down = true;
            stop.store(true, Ordering::Relaxed);
            producer.await
        }
    };
    let (stop_reason, tally) = match produced {
        Ok(result) => result,
        Err(e) => (Stop::Crashed(e), PlannerTally::default()),
    };

    let mut failure: Option<RunError> = None;
    for writer in writers {
        let error = match writer.await {
            Ok(Ok(())) => continue,
            Ok(Err(e)) => RunError::Write(e),
            Err(e) => RunError::WriterCrashed(e),
        };
        failure = failure.or(Some(error));
    }
    if let Some(journal) = &journal
        && let Err(e) = journal.flush()
    {
        failure = failure.or(Some(RunError::Journal(e)));
    }
    let (ending, failure) = match (failure, stop_reason) {
        (Some(e), _) => (Ending::Failed, Some(e)),
        (None, Stop::Failed(e)) => (Ending::Failed, Some(RunError::Plan(e))),
        (None, Stop::Crashed(e)) => (Ending::Failed, Some(RunError::PlannerCrashed(e))),
        (None, _) if shut_down => (Ending::Interrupted, None),
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
        seed_given: info.seed_given,
        started_at,
        duration_s: duration,
        ending,
        failure: failure.map(Arc::new),
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

/// The planner loop, on a thread of its own: plans, paces, and hands each operation
/// to the writer the planner assigned it.
fn produce(
    mut planner: Planner,
    queues: Vec<mpsc::Sender<OpPlan>>,
    config: &TrafficConfig,
    stop: &AtomicBool,
) -> (Stop, PlannerTally) {
    let pace = config.rate.map(Pace::new);
    let raw_inserts = planner.inserts_only();
    let send = |mut op: OpPlan| {
        // A document that cannot be serialised stays as it is; the writer reports it.
        if raw_inserts
            && let Write::Insert(doc) = &op.write
            && let Ok(raw) = bson::RawDocumentBuf::try_from(doc)
        {
            op.write = Write::InsertRaw(raw);
        }
        queues[op.writer].blocking_send(op).is_ok()
    };
    for _ in 0..config.warmup_inserts {
        if stop.load(Ordering::Relaxed) || !send(planner.next_insert()) {
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
