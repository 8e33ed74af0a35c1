//! A traffic run: the planner on its own thread, paced by the rate limiter, feeding one
//! materializer thread per shard, each feeding its shard's writer task, which batches
//! and writes (or a null sink that serialises and sends nothing: `--dry-run`, `forge
//! bench --cdc`); a final report however the run ends (count or duration reached,
//! shutdown requested, lost connection, failing plugin, no more targets).
//!
//! A run is a value: [`run`] takes everything it needs and a shutdown future (the CLI
//! passes Ctrl-C, a test anything it likes) and returns the [`Report`]. It prints
//! nothing; the caller reads progress from the shared [`Metrics`].

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::{Duration, Instant, SystemTime};

use bson::Document;
use mongodb::{Client, Collection};
use tokio::sync::mpsc;

use crate::journal::{Header, JournalWriter};
use crate::materialize::{Corrections, Materializer, Settings, ShardPlugins, Tally};
use crate::metrics::report::{Ending, LatencyReport, Report};
use crate::metrics::threshold::{Observed, Threshold};
use crate::metrics::{Metrics, Outcome, Settled, latency};
use crate::mongo::writer::{WriteError, Writer, WriterConfig};
use crate::plan::{Acknowledged, OpKind, OpPlan, PlanError, PlannedOp, Planner, ShardInput};
use crate::rate::{Pace, Profile, Stage};
use crate::segment::Segment;

#[derive(Debug, Clone)]
pub struct TrafficConfig {
    /// Operations to run (after warm-up); `None` with no duration: until shutdown.
    pub count: Option<u64>,
    /// Longest the run lasts (after warm-up); with `count`, whichever comes first.
    pub duration: Option<Duration>,
    /// Operations per second, paced at admission; `None`: as fast as possible.
    pub rate: Option<f64>,
    /// A scenario's phases, paced at admission instead of `rate` (whole runs only).
    pub profile: Option<Profile>,
    /// Shards: each `_id` belongs to one, whose materializer and writer handle every
    /// operation on it in plan order.
    pub workers: usize,
    /// How each writer batches and writes.
    pub writer: WriterConfig,
    /// Inserts written before the measured operations, so updates have targets.
    pub warmup_inserts: u64,
    /// How often the metrics are sampled into the time series.
    pub metrics_interval: Duration,
    /// Thresholds checked at every sample: the run stops at the first that fails.
    pub abort_on: Vec<Threshold>,
    /// The part of the run this process drives ([`Segment::WHOLE`]: all of it).
    /// `count`, `warmup_inserts` and `rate` are the whole run's: the segment runs its
    /// share of them, on the schedule all segments share.
    pub segment: Segment,
    /// When the run starts: a barrier in time that the segments of a run share. A run
    /// that gets there late starts at once and its schedule slips by the delay.
    /// `None`: at once.
    pub start_at: Option<SystemTime>,
}

impl TrafficConfig {
    /// Warm-up inserts this segment makes: its share of the run's.
    pub fn segment_warmup(&self) -> u64 {
        self.segment.share(self.warmup_inserts)
    }

    /// Operations this segment runs after its warm-up: its share of the run's.
    pub fn segment_count(&self) -> Option<u64> {
        self.count.map(|n| self.segment.share(self.warmup_inserts + n) - self.segment_warmup())
    }
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
    #[error("a materializer crashed")]
    MaterializerCrashed,
    #[error("a writer crashed: {0}")]
    WriterCrashed(#[source] tokio::task::JoinError),
}

/// Creates the journal for a run, before anything is written.
pub fn open_journal(path: &std::path::Path, header: &Header) -> std::io::Result<Arc<JournalWriter>> {
    JournalWriter::create(path, header).map(Arc::new)
}

/// Whether the collection holds any document (before a run writes to it).
pub async fn holds_documents(coll: &Collection<Document>) -> Result<bool, mongodb::error::Error> {
    Ok(coll.find_one(bson::doc! {}).projection(bson::doc! { "_id": 1 }).await?.is_some())
}

/// The server's current operation time (before anything is written), if it says.
pub async fn operation_time(client: &Client) -> Option<bson::Timestamp> {
    let reply = client.database("admin").run_command(bson::doc! { "ping": 1 }).await.ok()?;
    reply.get_timestamp("operationTime").ok()
}

/// Where the writes go.
pub enum Sink {
    /// A MongoDB collection, through one writer task per shard.
    Server { client: Client, coll: Collection<Document> },
    /// Nowhere: every write is planned, materialized and serialised, then dropped and
    /// counted as not sent (`--dry-run`, `forge bench --cdc`).
    Null { namespace: String },
}

/// Everything a run needs besides its shutdown signal.
pub struct Traffic {
    pub planner: Planner,
    /// One set of plugin instances per shard (`config.workers` of them).
    pub shards: Vec<ShardPlugins>,
    /// What the shards share.
    pub settings: Settings,
    pub sink: Sink,
    pub config: TrafficConfig,
    pub info: RunInfo,
    /// Where acknowledged operations are journaled, if anywhere.
    pub journal: Option<Arc<JournalWriter>>,
    /// Counters the writers fill; shared so the caller can show progress.
    pub metrics: Arc<Metrics>,
    /// Where acknowledged inserts go when other collections reference this one.
    pub acknowledged: Option<Arc<Acknowledged>>,
}

/// Runs the traffic until it is done, fails, or `shutdown` resolves (then it stops
/// after the batches in flight). The report always comes back.
pub async fn run(traffic: Traffic, shutdown: impl Future<Output = ()>) -> Report {
    let Traffic { planner, shards, settings, sink, config, info, journal, metrics, acknowledged } = traffic;
    assert_eq!(shards.len(), planner.shards(), "one set of plugins per shard");
    assert_eq!(planner.segment(), config.segment, "the planner plans the run's segment");
    let requested_mix = planner.mix().into_iter().collect();
    let stop = Arc::new(AtomicBool::new(false));
    let mut shutdown = std::pin::pin!(shutdown);
    let mut shut_down = false;
    let late = match config.start_at {
        Some(at) => tokio::select! {
            late = start_at(at) => late,
            () = &mut shutdown => {
                shut_down = true;
                stop.store(true, Ordering::Relaxed);
                Duration::ZERO
            }
        },
        None => Duration::ZERO,
    };
    if late > crate::rate::LATE {
        let who = if config.segment.is_whole() { "the run".to_string() } else { config.segment.to_string() };
        let schedule = if config.rate.is_some() { ": its schedule slips by as much, without a burst" } else { "" };
        tracing::warn!(
            "{who} started {} after its start time{schedule}",
            humantime::format_duration(Duration::from_millis(late.as_millis() as u64))
        );
    }
    let started = Instant::now();
    let started_at = bson::DateTime::now().try_to_rfc3339_string().unwrap_or_default();
    let settings = Arc::new(settings);
    // The segment's share of the target rate: its own figures are checked against it.
    let rate =
        config.rate.map(|r| r / config.segment.count as f64).or(config.profile.as_ref().and_then(Profile::mean_rate));
    metrics.begin(rate);
    if let Some(profile) = &config.profile {
        metrics.set_phases((0..profile.stages().len()).map(|s| profile.stage_start_op(s)).collect());
    }
    let flow = Arc::new(Flow { metrics: metrics.clone(), skipped: AtomicU64::new(0) });

    let (namespace, dry_run) = match &sink {
        Sink::Server { coll, .. } => (coll.namespace().to_string(), false),
        Sink::Null { namespace } => (namespace.clone(), true),
    };
    let writer_config = Arc::new(config.writer.clone());
    let mut writers = Vec::new();
    let mut inputs = Vec::with_capacity(shards.len());
    let mut materializers = Vec::with_capacity(shards.len());
    for (shard, plugins) in shards.into_iter().enumerate() {
        let corrections = Arc::new(Corrections::default());
        let output = match &sink {
            Sink::Server { client, coll } => {
                let (tx, rx) = mpsc::channel(config.writer.batch_size.clamp(1, 10_000) * 2);
                let writer = Writer {
                    client: client.clone(),
                    coll: coll.clone(),
                    config: writer_config.clone(),
                    metrics: metrics.clone(),
                    journal: journal.clone(),
                    corrections: corrections.clone(),
                    server_time_field: plugins.delete.server_time_field(),
                    acknowledged: acknowledged.clone(),
                };
                let stop = stop.clone();
                writers.push(tokio::spawn(async move {
                    let result = writer.run(rx).await;
                    if result.is_err() {
                        stop.store(true, Ordering::Relaxed);
                    }
                    result
                }));
                Output::Writer(tx)
            }
            Sink::Null { .. } => Output::Null(metrics.clone(), acknowledged.clone()),
        };
        let (tx, rx) = sync_channel(SHARD_QUEUE);
        inputs.push(tx);
        let materializer = Materializer::new(shard, settings.clone(), plugins, corrections);
        let (stop, flow) = (stop.clone(), flow.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("forge-shard-{shard}"))
            .spawn(move || materialize(materializer, rx, output, &flow, &stop));
        materializers.push(spawned.expect("the OS starts a thread"));
    }

    let mut producer = {
        let (stop, config, flow) = (stop.clone(), config.clone(), flow.clone());
        let schedule = Schedule { start: started, late };
        tokio::task::spawn_blocking(move || produce(planner, inputs, materializers, &config, schedule, &flow, &stop))
    };
    let (missed_tx, mut missed) = tokio::sync::oneshot::channel();
    let sampler = tokio::spawn(sample(metrics.clone(), config.metrics_interval, config.abort_on.clone(), missed_tx));
    let mut aborted = None;
    let produced = tokio::select! {
        produced = &mut producer => produced,
        () = &mut shutdown, if !shut_down => {
            shut_down = true;
            stop.store(true, Ordering::Relaxed);
            producer.await
        }
        Ok(threshold) = &mut missed => {
            aborted = Some(threshold);
            stop.store(true, Ordering::Relaxed);
            producer.await
        }
    };
    let (stop_reason, tally) = match produced {
        Ok(result) => result,
        Err(e) => (Stop::Crashed(e), RunTally::default()),
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
    sampler.abort();
    let _ = sampler.await; // no sample after the last one
    metrics.finish_series(config.metrics_interval);
    let (ending, failure) = match (failure, stop_reason) {
        (Some(e), _) => (Ending::Failed, Some(e)),
        (None, _) if aborted.is_some() => (Ending::Aborted, None),
        (None, Stop::Failed(e)) => (Ending::Failed, Some(e)),
        (None, Stop::Crashed(e)) => (Ending::Failed, Some(RunError::PlannerCrashed(e))),
        (None, _) if shut_down => (Ending::Interrupted, None),
        (None, Stop::Interrupted) => (Ending::Interrupted, None),
        (None, Stop::Exhausted) => (Ending::Exhausted, None),
        (None, Stop::Done) => (Ending::Completed, None),
    };
    let duration = started.elapsed().as_secs_f64();
    let ops = metrics.totals();
    let done = crate::metrics::done(&ops);
    let latencies = metrics.latencies();
    Report {
        forge_version: env!("CARGO_PKG_VERSION").to_string(),
        command: info.command,
        namespace,
        dry_run,
        seed: info.seed,
        seed_given: info.seed_given,
        segment: config.segment,
        segments: Vec::new(),
        started_at,
        duration_s: duration,
        ending,
        bulk_api: (!dry_run).then(|| config.writer.api.name().to_string()),
        error: failure.as_ref().map(|e| e.to_string()).or_else(|| aborted.map(|t| format!("threshold {t} failed"))),
        failure: failure.map(Arc::new),
        target_rate: rate,
        achieved_rate: done as f64 / duration.max(1e-9),
        ops,
        requested_mix,
        converted_to_insert: tally.converted_to_insert,
        skipped: tally.shards.skipped,
        plugin_errors: tally.shards.plugin_errors,
        warmup_inserts: config.segment_warmup(),
        latency: latency_report(&latencies),
        histograms: latencies.iter().map(|(k, l)| (*k, l.encode())).collect(),
        schedule: rate.map(|_| metrics.schedule()),
        series: metrics.series(),
        thresholds: Vec::new(),
        retries: metrics.retries(),
        flags: info.flags,
        phases: metrics
            .phases()
            .into_iter()
            .map(|(acknowledged, started_s)| crate::metrics::report::PhaseTally {
                acknowledged,
                started_s,
                ..Default::default()
            })
            .collect(),
    }
}

/// Waits until `at` (a wall-clock time, shared by the segments of a run); how late
/// the run got there.
async fn start_at(at: SystemTime) -> Duration {
    match at.duration_since(SystemTime::now()) {
        Ok(wait) => {
            tokio::time::sleep(wait).await;
            Duration::ZERO
        }
        Err(passed) => passed.duration(),
    }
}

/// When the run's paced schedule starts, and how late it started.
#[derive(Debug, Clone, Copy)]
struct Schedule {
    start: Instant,
    late: Duration,
}

/// The percentiles of every kind, and of all kinds together.
pub fn latency_report(latencies: &std::collections::BTreeMap<OpKind, latency::Latencies>) -> LatencyReport {
    LatencyReport {
        all: latency::overall(latencies).percentiles(),
        kinds: latencies.iter().map(|(k, l)| (*k, l.percentiles())).collect(),
    }
}

/// Samples the metrics every `interval`; with thresholds to abort on, checks them
/// after each sample and sends the first that fails.
async fn sample(
    metrics: Arc<Metrics>,
    interval: Duration,
    abort_on: Vec<Threshold>,
    missed: tokio::sync::oneshot::Sender<String>,
) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    loop {
        ticks.tick().await;
        metrics.sample();
        if abort_on.is_empty() {
            continue;
        }
        let snapshot = metrics.snapshot();
        let latency = latency_report(&snapshot.latency);
        let seen = Observed {
            achieved_rate: snapshot.achieved_rate(),
            target_rate: snapshot.target_rate,
            ops: &snapshot.kinds,
            latency: &latency,
            max_lag_ms: snapshot.schedule.max_lag_ms.max(snapshot.lag_ms),
        };
        if let Some(failed) = abort_on.iter().find(|t| !t.check(&seen).passed) {
            let _ = missed.send(failed.text.clone());
            return;
        }
    }
}

/// How many ops are between the planner and their settlement: the planner admits an
/// op of a paced run only while fewer than its window are.
struct Flow {
    metrics: Arc<Metrics>,
    /// Ops a materializer skipped (a plugin's answer): they never settle.
    skipped: AtomicU64,
}

impl Flow {
    /// Ops admitted and not yet settled or skipped.
    fn in_flight(&self, admitted: u64) -> u64 {
        admitted.saturating_sub(self.metrics.settled() + self.skipped.load(Ordering::Relaxed))
    }
}

/// How many ops a paced run lets into its pipeline: enough for two batch delays and
/// 100 ms of round trips at the target rate, so a healthy run never waits for it; a
/// stalled server fills it at once, and after the stall no more than this is sent
/// before the (slipped) schedule resumes.
fn window(config: &TrafficConfig, rate: f64) -> u64 {
    let time = config.writer.max_batch_delay * 2 + Duration::from_millis(100);
    ((rate * time.as_secs_f64()) as u64).max(2 * config.workers as u64).max(16)
}

/// Batches of inputs a shard's queue holds before the planner waits for it.
const SHARD_QUEUE: usize = 64;

/// Inputs the planner gathers for a shard before handing them over: one hand-over
/// per input would cost a thread wake-up each (a paced run hands over every input at
/// once, so the rate stays smooth).
const SHARD_BATCH: usize = 64;

/// Writes a null sink counts at once.
const NULL_BATCH: usize = 1024;

/// Where a materializer's writes go.
enum Output {
    Writer(mpsc::Sender<OpPlan>),
    /// Counted as not sent; an insert counts as acknowledged for what references it.
    Null(Arc<Metrics>, Option<Arc<Acknowledged>>),
}

/// A shard's materializer loop, on a thread of its own: until the planner closes its
/// queue, or its writer stops, or a plugin failure stops the run.
fn materialize(
    mut materializer: Materializer,
    inputs: Receiver<Vec<(ShardInput, Instant)>>,
    output: Output,
    flow: &Flow,
    stop: &AtomicBool,
) -> (Tally, Option<PlanError>) {
    let mut unsent: Vec<Settled> = Vec::new();
    let mut bytes = 0usize;
    let mut failure = None;
    // Once the run is stopping (Ctrl-C, a failed shard), what is still queued is
    // dropped: planned, never materialized nor sent.
    let queued = inputs.into_iter().take_while(|_| !stop.load(Ordering::Relaxed));
    // A paced run hands its inputs over one by one and waits for them to settle: a
    // null sink counts them as each hand-over ends, not once a batch is full.
    let queued = queued.flat_map(|inputs| {
        let (n, paced) = (inputs.len(), inputs.len() < SHARD_BATCH);
        inputs.into_iter().enumerate().map(move |(i, input)| (input, paced && i + 1 == n))
    });
    'inputs: for ((input, scheduled), hand_over_ends) in queued {
        let is_op = matches!(input, ShardInput::Op(_));
        // A reference is written only after its target's insert was acknowledged.
        if let ShardInput::Op(PlannedOp { refs: Some(refs), .. }) = &input
            && !refs.wait(stop)
        {
            break 'inputs;
        }
        let op = match materializer.materialize(input, scheduled) {
            Ok(Some(op)) => op,
            Ok(None) => {
                if is_op {
                    flow.skipped.fetch_add(1, Ordering::Relaxed);
                }
                continue;
            }
            Err(e) => {
                stop.store(true, Ordering::Relaxed);
                failure = Some(e);
                break 'inputs;
            }
        };
        match &output {
            Output::Writer(tx) => {
                if tx.blocking_send(op).is_err() {
                    break 'inputs; // the writer failed; it says why
                }
            }
            Output::Null(metrics, acknowledged) => {
                bytes = bytes.wrapping_add(op.write.encoded_len());
                metrics.count_in_phase(op.index);
                if let Some(acknowledged) = acknowledged
                    && op.kind == OpKind::Insert
                {
                    acknowledged.insert([&op.id]);
                }
                // Never sent, so no service time; its response time runs to now,
                // when it would have gone.
                let response = Some(op.scheduled.elapsed());
                unsent.push(Settled { kind: op.kind, outcome: Outcome::NotSent, service: None, response });
                if unsent.len() >= NULL_BATCH || hand_over_ends {
                    metrics.record(&unsent);
                    unsent.clear();
                }
            }
        }
    }
    if let Output::Null(metrics, _) = &output {
        metrics.record(&unsent);
        std::hint::black_box(bytes);
    }
    (materializer.tally, failure)
}

/// Why the planner thread stopped.
enum Stop {
    Done,
    Interrupted,
    Exhausted,
    Failed(RunError),
    Crashed(tokio::task::JoinError),
}

/// What the planner and the shards counted, for the report.
#[derive(Default)]
struct RunTally {
    converted_to_insert: u64,
    shards: Tally,
}

/// The planner loop, on a thread of its own: plans, paces, and hands each input to
/// its shard; then closes the queues and waits for the materializers to finish.
fn produce(
    mut planner: Planner,
    inputs: Vec<SyncSender<Vec<(ShardInput, Instant)>>>,
    materializers: Vec<std::thread::JoinHandle<(Tally, Option<PlanError>)>>,
    config: &TrafficConfig,
    schedule: Schedule,
    flow: &Flow,
    stop: &AtomicBool,
) -> (Stop, RunTally) {
    let reason = plan(&mut planner, &inputs, config, schedule, flow, stop);
    drop(inputs);
    let mut tally = RunTally { converted_to_insert: planner.converted_to_insert, shards: Tally::default() };
    let mut failure = None;
    for handle in materializers {
        match handle.join() {
            Ok((shard, error)) => {
                tally.shards.merge(&shard);
                failure = failure.or(error.map(RunError::Plan));
            }
            Err(_) => failure = failure.or(Some(RunError::MaterializerCrashed)),
        }
    }
    match failure {
        Some(e) => (Stop::Failed(e), tally),
        None => (reason, tally),
    }
}

fn plan(
    planner: &mut Planner,
    inputs: &[SyncSender<Vec<(ShardInput, Instant)>>],
    config: &TrafficConfig,
    schedule: Schedule,
    flow: &Flow,
    stop: &AtomicBool,
) -> Stop {
    let segment = config.segment;
    let batch = if config.rate.is_some() || config.profile.is_some() { 1 } else { SHARD_BATCH };
    let mut handover =
        Handover { inputs, pending: inputs.iter().map(|_| Vec::with_capacity(batch)).collect(), batch, admitted: 0 };
    let mut out = Vec::new();
    let warmup = config.segment_warmup();
    for _ in 0..warmup {
        planner.next_insert(&mut out);
        if stop.load(Ordering::Relaxed) || !handover.take(&mut out, Instant::now()) {
            handover.flush();
            return Stop::Interrupted;
        }
    }
    let profiled = config.profile.as_ref().map(|profile| {
        let peak = profile.stages().iter().map(Stage::peak).fold(1.0, f64::max);
        // Twice the room: an operation that references another collection also waits
        // for its target's batch to be acknowledged.
        (Pace::profile(profile.clone(), schedule.start, 0, 1), 2 * window(config, peak))
    });
    let mut pace = profiled.or_else(|| {
        config.rate.map(|rate| {
            // All segments share one schedule: global op i (after the warm-up) is due
            // i / rate after the start; this segment's ops are every Nth slot of it. A
            // warm-up delays the schedule's start until it is done.
            let start = if warmup > 0 { Instant::now() } else { schedule.start };
            let first = segment.global(warmup).saturating_sub(config.warmup_inserts);
            let share = rate / segment.count as f64;
            let pace = Pace::starting(share, start + Duration::from_secs_f64(first as f64 / rate));
            (pace, window(config, share))
        })
    });
    let mut phase = None;
    // A late start is schedule lost, like a stall's.
    if schedule.late > crate::rate::LATE
        && let Some((pace, _)) = &pace
    {
        flow.metrics.record_admission(schedule.late, false, schedule.late, pace.next_due());
    }
    let count = config.segment_count();
    let deadline = config.duration.map(|d| Instant::now() + d);
    let mut planned = 0u64;
    let reason = loop {
        if count.is_some_and(|n| planned >= n) || deadline.is_some_and(|d| Instant::now() >= d) {
            break Stop::Done;
        }
        if stop.load(Ordering::Relaxed) {
            break Stop::Interrupted;
        }
        // A paced op waits for its slot, then for room in the pipeline (a stalled
        // server holds it there); its response time counts from the slot.
        let scheduled = match &mut pace {
            None => Instant::now(),
            Some((pace, window)) => {
                if pace.done() {
                    break Stop::Done;
                }
                if !pace.wait(stop) {
                    break Stop::Interrupted;
                }
                if pace.stage() != phase {
                    phase = pace.stage();
                    phase.inspect(|p| flow.metrics.phase_started(*p));
                }
                // A wait as long as the window's own share of the schedule is a stall:
                // its backlog goes out at once when the server answers, so the
                // schedule leaves it room. A shorter hiccup only costs its lag.
                // An unpaced stage of a profile has no slots: the shard queues hold it
                // back, as in a run without a rate.
                let room = if pace.period().is_zero() {
                    Some(Duration::ZERO)
                } else {
                    wait_for_room(flow, handover.admitted, *window, stop)
                };
                let backlog = match room {
                    None => break Stop::Interrupted,
                    Some(waited) if waited >= pace.period().mul_f64(*window as f64) => {
                        flow.in_flight(handover.admitted)
                    }
                    Some(_) => 0,
                };
                let admission = pace.admit(backlog);
                flow.metrics.record_admission(admission.lag, admission.late, admission.slipped, admission.next_due);
                admission.due
            }
        };
        match planner.next_op(&mut out) {
            Ok(true) => {}
            Ok(false) => break Stop::Exhausted,
            Err(e) => break Stop::Failed(RunError::Plan(e)),
        }
        if !handover.take(&mut out, scheduled) {
            break Stop::Interrupted; // a shard stopped; it says why
        }
        planned += 1;
    };
    // What was planned is materialized and written, however the planning ended.
    handover.flush();
    // A scenario that ends with a pause lasts until the pause is over.
    if let (Stop::Done, Some(profile)) = (&reason, &config.profile) {
        flow.metrics.end_schedule();
        let until = Instant::now() + profile.closing_pause();
        while Instant::now() < until && !stop.load(Ordering::Relaxed) {
            std::thread::sleep((until - Instant::now()).min(Duration::from_millis(50)));
        }
    }
    reason
}

/// Waits while `window` or more admitted ops are in flight: how long it waited, or
/// `None` if `stop` was raised.
fn wait_for_room(flow: &Flow, admitted: u64, window: u64, stop: &AtomicBool) -> Option<Duration> {
    let started = Instant::now();
    while flow.in_flight(admitted) >= window {
        if stop.load(Ordering::Relaxed) {
            return None;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    Some(started.elapsed())
}

/// The planner's side of the shard queues: inputs gathered per shard, handed over a
/// batch at a time.
struct Handover<'a> {
    inputs: &'a [SyncSender<Vec<(ShardInput, Instant)>>],
    /// Inputs gathered per shard, each with when it was due.
    pending: Vec<Vec<(ShardInput, Instant)>>,
    batch: usize,
    /// Ops handed over so far.
    admitted: u64,
}

impl Handover<'_> {
    /// Takes the planner's output, due at `scheduled`; false when a shard stopped
    /// taking inputs.
    fn take(&mut self, out: &mut Vec<(usize, ShardInput)>, scheduled: Instant) -> bool {
        for (shard, input) in out.drain(..) {
            self.admitted += u64::from(matches!(input, ShardInput::Op(_)));
            self.pending[shard].push((input, scheduled));
            if self.pending[shard].len() >= self.batch && !self.send(shard) {
                return false;
            }
        }
        true
    }

    fn send(&mut self, shard: usize) -> bool {
        let batch = std::mem::replace(&mut self.pending[shard], Vec::with_capacity(self.batch));
        self.inputs[shard].send(batch).is_ok()
    }

    fn flush(&mut self) {
        for shard in 0..self.pending.len() {
            if !self.pending[shard].is_empty() {
                self.send(shard);
            }
        }
    }
}
