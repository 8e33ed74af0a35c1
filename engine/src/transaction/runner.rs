//! Running a transaction stream against a server: the load, then one transaction
//! per slot of its schedule, on one session, one after another.
//!
//! One session, sequential: a transaction's writes and its commit are round trips
//! in a row, so a stream runs up to about one transaction per few round trips;
//! several streams run side by side. Concurrent transactions on shared documents
//! would conflict (the server aborts one, forge would retry it), which is a
//! workload of its own, not built yet.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime};

use bson::{Bson, Document, doc};
use mongodb::error::{Error as DriverError, TRANSIENT_TRANSACTION_ERROR, UNKNOWN_TRANSACTION_COMMIT_RESULT};
use mongodb::options::WriteConcern;
use mongodb::{Client, ClientSession, Database};

use super::log::{LogLine, LogOp, LogWriter, Outcome};
use super::report::{Latency, PhaseCount, TransactionReport};
use super::{Planned, Spec};
use crate::generate::Generator;
use crate::journal::{Entry, JournalWriter};
use crate::metrics::report::Ending;
use crate::rate::{Pace, Profile};

/// Documents a load inserts per command.
const LOAD_BATCH: u64 = 1000;

/// Everything a stream needs besides its server and shutdown signal.
pub struct Workload {
    /// Its name in the scenario.
    pub name: String,
    pub spec: Spec,
    /// The stream's seed: what each transaction does.
    pub seed: u64,
    /// The documents of the updated and of the inserted collection, when it has them.
    pub update_documents: Option<Arc<Generator>>,
    pub insert_documents: Option<Arc<Generator>>,
    /// Its schedule, in transactions, and the names of the phases.
    pub profile: Profile,
    pub phase_names: Vec<String>,
    /// When it starts (after its load); `None`: at once.
    pub start_at: Option<SystemTime>,
    /// Runs of a transaction the server aborted on its own, before the stream stops.
    pub max_retries: u32,
    pub write_concern: Option<WriteConcern>,
    pub outputs: Outputs,
    /// Counters for progress lines.
    pub progress: Arc<Progress>,
}

/// Where a stream records what the server acknowledged.
#[derive(Default)]
pub struct Outputs {
    /// The updated collection's journal (its load and committed updates).
    pub update_journal: Option<Arc<JournalWriter>>,
    /// The inserted collection's journal.
    pub insert_journal: Option<Arc<JournalWriter>>,
    /// The log of every transaction.
    pub log: Option<LogWriter>,
}

/// Transactions ended so far, for progress lines.
#[derive(Debug, Default)]
pub struct Progress {
    pub committed: AtomicU64,
    pub aborted: AtomicU64,
}

/// Why a stream stopped early.
#[derive(Debug, thiserror::Error)]
enum Stop {
    #[error("{0}")]
    Server(String),
    #[error("writing the journal or log failed: {0}")]
    Output(#[from] std::io::Error),
}

fn server(what: &str, e: &DriverError) -> Stop {
    Stop::Server(format!("{what}: {}", crate::mongo::one_line(&e.kind.to_string())))
}

/// What the stream has done so far, and what it holds.
struct State {
    report: TransactionReport,
    /// The updated collection's documents, by load index, as the server holds them.
    documents: HashMap<u64, Document>,
    /// Journal sequence numbers: the next for each collection.
    update_seq: u64,
    insert_seq: u64,
    latency: hdrhistogram::Histogram<u64>,
}

/// Runs the stream until its schedule ends, it fails, or `shutdown` resolves (then
/// after the transaction in flight). The report always comes back.
pub async fn run(
    workload: Workload,
    client: Client,
    database: &str,
    shutdown: impl Future<Output = ()>,
) -> TransactionReport {
    let db = client.database(database);
    let namespaces =
        [&workload.spec.update.as_ref().map(|u| &u.collection), &workload.spec.insert.as_ref().map(|i| &i.collection)]
            .into_iter()
            .flatten()
            .map(|c| format!("{database}.{c}"))
            .collect();
    let mut state = State {
        report: TransactionReport {
            name: workload.name.clone(),
            seed: workload.seed,
            namespaces,
            loaded: 0,
            started: 0,
            committed: 0,
            aborted: 0,
            retried: 0,
            unknown: 0,
            updates: 0,
            inserts: 0,
            latency_ms: None,
            phases: workload.phase_names.iter().map(|n| PhaseCount { name: n.clone(), ..Default::default() }).collect(),
            ending: Ending::Completed,
            error: None,
        },
        documents: HashMap::new(),
        update_seq: 0,
        insert_seq: 0,
        // Microseconds, up to an hour (longer ones count as an hour).
        latency: hdrhistogram::Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds"),
    };
    let mut workload = workload;
    let result = stream(&mut workload, &mut state, &db, &client, shutdown).await;
    let mut report = state.report;
    match result {
        Ok(true) => report.ending = Ending::Interrupted,
        Ok(false) => {}
        Err(e) => {
            report.ending = Ending::Failed;
            report.error = Some(e.to_string());
        }
    }
    for journal in [&workload.outputs.update_journal, &workload.outputs.insert_journal].into_iter().flatten() {
        if let Err(e) = journal.flush() {
            report.ending = Ending::Failed;
            report.error.get_or_insert(format!("writing the journal failed: {e}"));
        }
    }
    if let Some(log) = &mut workload.outputs.log
        && let Err(e) = log.flush()
    {
        report.ending = Ending::Failed;
        report.error.get_or_insert(format!("writing the transaction log failed: {e}"));
    }
    if !state.latency.is_empty() {
        let ms = |v: u64| v as f64 / 1000.0;
        report.latency_ms = Some(Latency {
            p50: ms(state.latency.value_at_quantile(0.5)),
            p99: ms(state.latency.value_at_quantile(0.99)),
            max: ms(state.latency.max()),
        });
    }
    report
}

/// The load and the transactions; `Ok(true)` when shut down early.
async fn stream(
    w: &mut Workload,
    state: &mut State,
    db: &Database,
    client: &Client,
    shutdown: impl Future<Output = ()>,
) -> Result<bool, Stop> {
    let mut shutdown = std::pin::pin!(shutdown);
    load(w, state, db).await?;
    if let Some(at) = w.start_at {
        let wait = at.duration_since(SystemTime::now()).unwrap_or_default();
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = &mut shutdown => return Ok(true),
        }
    }
    let mut session = client.start_session().await.map_err(|e| server("starting a session", &e))?;
    let lsid = match session.id().get("id") {
        Some(Bson::Binary(b)) => hex(&b.bytes),
        _ => String::new(),
    };
    let mut attempts = 0u64;
    let mut pace = Pace::profile(w.profile.clone(), Instant::now(), 0, 1);
    loop {
        let (Some(index), Some(phase)) = (pace.next_op(), pace.stage()) else { return Ok(false) };
        let due = tokio::time::Instant::from_std(pace.next_due());
        tokio::select! {
            () = tokio::time::sleep_until(due) => {}
            () = &mut shutdown => return Ok(true),
        }
        let admission = pace.admit(0);
        state.report.started += 1;
        let planned = w.spec.plan(w.seed, index);
        let ops = writes(w, state, &planned);
        let mut tries = 0;
        let outcome = loop {
            attempts += 1;
            match attempt(w, db, &mut session, &ops, planned.commit).await {
                Ok(outcome) => break outcome,
                Err(Failure::Transient(e)) if tries < w.max_retries => {
                    tracing::debug!("transaction {index} of {} ran again: {e}", w.name);
                    tries += 1;
                    state.report.retried += 1;
                }
                Err(Failure::Transient(e) | Failure::Fatal(e)) => {
                    return Err(Stop::Server(format!("transaction {index}: {e}")));
                }
                Err(Failure::CommitUnknown(e)) => {
                    state.report.unknown += 1;
                    log(w, &lsid, attempts, &planned, Outcome::Unknown, &ops)?;
                    return Err(Stop::Server(format!("transaction {index}: its commit's outcome is unknown: {e}")));
                }
            }
        };
        let elapsed = admission.due.elapsed();
        state.latency.saturating_record(elapsed.as_micros() as u64);
        log(w, &lsid, attempts, &planned, outcome, &ops)?;
        match outcome {
            Outcome::Commit => {
                committed(w, state, &planned, &ops)?;
                state.report.committed += 1;
                state.report.phases[phase].committed += 1;
                w.progress.committed.fetch_add(1, Ordering::Relaxed);
            }
            _ => {
                state.report.aborted += 1;
                state.report.phases[phase].aborted += 1;
                w.progress.aborted.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// Inserts the updated collection's documents, journaling each acknowledged one.
async fn load(w: &Workload, state: &mut State, db: &Database) -> Result<(), Stop> {
    let (Some(update), Some(generator)) = (&w.spec.update, &w.update_documents) else { return Ok(()) };
    let coll = db.collection::<Document>(&update.collection);
    let mut next = 0;
    while next < update.documents {
        let end = (next + LOAD_BATCH).min(update.documents);
        let docs: Vec<Document> = (next..end).map(|i| generator.document(i)).collect();
        let mut insert = coll.insert_many(&docs).ordered(true);
        if let Some(wc) = &w.write_concern {
            insert = insert.write_concern(wc.clone());
        }
        let result = insert.await;
        // An ordered insert refused part way applied those before the refusal; one that
        // failed its write concern applied all (counted, not yet durable); one that got
        // no answer is not counted, and the stream stops.
        let applied = match &result {
            Ok(_) => docs.len(),
            Err(e) => match &*e.kind {
                mongodb::error::ErrorKind::InsertMany(failure) => match &failure.write_errors {
                    Some(errors) => errors.iter().map(|x| x.index).min().unwrap_or(0),
                    None => docs.len(),
                },
                _ => 0,
            },
        };
        let now = bson::DateTime::now().timestamp_millis();
        let mut entries = Vec::with_capacity(applied);
        for (i, d) in (next..).zip(docs.into_iter().take(applied)) {
            entries.push(entry(&w.outputs.update_journal, state.update_seq, "insert", d.get("_id"), now, &d));
            state.update_seq += 1;
            state.documents.insert(i, d);
        }
        if let Some(j) = &w.outputs.update_journal {
            j.append(&entries)?;
        }
        state.report.loaded += applied as u64;
        if let Err(e) = result {
            return Err(server(&format!("loading {}", coll.namespace()), &e));
        }
        next = end;
    }
    Ok(())
}

/// One write of a transaction, ready to send.
struct Write {
    collection: String,
    id: Bson,
    /// The insert's document, or the update's load index and the document after it.
    what: WriteKind,
}

enum WriteKind {
    Insert(Document),
    Update { index: u64, after: Document },
}

/// The writes of `planned`, in order: the insert, then the updates, each with the
/// document it should leave.
fn writes(w: &Workload, state: &State, planned: &Planned) -> Vec<Write> {
    let mut out = Vec::new();
    let update_ids: Vec<Bson> =
        planned.updates.iter().filter_map(|i| state.documents.get(i).and_then(|d| d.get("_id")).cloned()).collect();
    if let (Some(insert), Some(generator)) = (&w.spec.insert, &w.insert_documents) {
        let mut d = generator.document(planned.index);
        if let Some(field) = &insert.record {
            d.insert(field.clone(), Bson::Array(update_ids.clone()));
        }
        let id = d.get("_id").cloned().unwrap_or(Bson::Null);
        out.push(Write { collection: insert.collection.clone(), id, what: WriteKind::Insert(d) });
    }
    if let Some(update) = &w.spec.update {
        let now = bson::DateTime::now();
        for &index in &planned.updates {
            let Some(before) = state.documents.get(&index) else { continue };
            let after = crate::model::update::apply_owned(before.clone(), &doc! { "$inc": update.inc.clone() }, now)
                .unwrap_or_else(|_| before.clone());
            let id = before.get("_id").cloned().unwrap_or(Bson::Null);
            out.push(Write { collection: update.collection.clone(), id, what: WriteKind::Update { index, after } });
        }
    }
    out
}

/// How an attempt failed.
enum Failure {
    /// The server aborted the transaction on its own: running it again is safe.
    Transient(String),
    /// The commit was sent and no answer said whether it applied.
    CommitUnknown(String),
    Fatal(String),
}

fn failure(what: &str, e: &DriverError) -> Failure {
    let text = format!("{what}: {}", crate::mongo::one_line(&e.kind.to_string()));
    if e.contains_label(TRANSIENT_TRANSACTION_ERROR) { Failure::Transient(text) } else { Failure::Fatal(text) }
}

/// One run of a transaction: its writes, then its commit or abort.
async fn attempt(
    w: &Workload,
    db: &Database,
    session: &mut ClientSession,
    ops: &[Write],
    commit: bool,
) -> Result<Outcome, Failure> {
    let mut start = session.start_transaction();
    if let Some(wc) = &w.write_concern {
        start = start.write_concern(wc.clone());
    }
    start.await.map_err(|e| failure("starting a transaction", &e))?;
    if let Err(f) = send(w, db, session, ops).await {
        // The server may have aborted it already; an abort that fails changes nothing.
        let _ = session.abort_transaction().await;
        return Err(f);
    }
    if !commit {
        // Unanswered, the server still aborts it when its lifetime runs out.
        let _ = session.abort_transaction().await;
        return Ok(Outcome::Abort);
    }
    let mut tries = 0;
    loop {
        match session.commit_transaction().await {
            Ok(()) => return Ok(Outcome::Commit),
            Err(e) if e.contains_label(UNKNOWN_TRANSACTION_COMMIT_RESULT) && tries < w.max_retries => tries += 1,
            Err(e) if e.contains_label(UNKNOWN_TRANSACTION_COMMIT_RESULT) => {
                return Err(Failure::CommitUnknown(crate::mongo::one_line(&e.kind.to_string())));
            }
            Err(e) => return Err(failure("commit", &e)),
        }
    }
}

/// The transaction's writes: the insert, then every update in one command.
async fn send(w: &Workload, db: &Database, session: &mut ClientSession, ops: &[Write]) -> Result<(), Failure> {
    let mut updates = Vec::new();
    for op in ops {
        match &op.what {
            WriteKind::Insert(d) => {
                db.collection::<Document>(&op.collection)
                    .insert_one(d)
                    .session(&mut *session)
                    .await
                    .map_err(|e| failure(&format!("insert into {}", op.collection), &e))?;
            }
            WriteKind::Update { .. } => updates.push(op),
        }
    }
    let (Some(update), Some(first)) = (&w.spec.update, updates.first()) else { return Ok(()) };
    let statements: Vec<Document> =
        updates.iter().map(|op| doc! { "q": { "_id": op.id.clone() }, "u": { "$inc": update.inc.clone() } }).collect();
    let what = format!("update of {}", first.collection);
    let reply = db
        .run_command(doc! { "update": &update.collection, "updates": statements, "ordered": true })
        .session(&mut *session)
        .await
        .map_err(|e| failure(&what, &e))?;
    if let Ok(errors) = reply.get_array("writeErrors")
        && let Some(Bson::Document(first)) = errors.first()
    {
        let message = first.get_str("errmsg").unwrap_or("refused");
        return Err(Failure::Fatal(format!("{what}: {message}")));
    }
    let matched = reply.get_i32("n").map(i64::from).or_else(|_| reply.get_i64("n")).unwrap_or(0);
    if matched != updates.len() as i64 {
        return Err(Failure::Fatal(format!(
            "{what}: matched {matched} of {} documents: something else deletes them",
            updates.len()
        )));
    }
    Ok(())
}

/// Records a committed transaction: the documents it changed, its journal entries.
fn committed(w: &Workload, state: &mut State, planned: &Planned, ops: &[Write]) -> Result<(), Stop> {
    let now = bson::DateTime::now().timestamp_millis();
    let (mut updated, mut inserted) = (Vec::new(), Vec::new());
    for op in ops {
        match &op.what {
            WriteKind::Insert(d) => {
                inserted.push(entry(&w.outputs.insert_journal, state.insert_seq, "insert", Some(&op.id), now, d));
                state.insert_seq += 1;
                state.report.inserts += 1;
            }
            WriteKind::Update { index, after } => {
                updated.push(entry(&w.outputs.update_journal, state.update_seq, "update", Some(&op.id), now, after));
                state.update_seq += 1;
                state.report.updates += 1;
                state.documents.insert(*index, after.clone());
            }
        }
    }
    debug_assert_eq!(updated.len(), planned.updates.len());
    if let Some(j) = &w.outputs.update_journal {
        j.append(&updated)?;
    }
    if let Some(j) = &w.outputs.insert_journal {
        j.append(&inserted)?;
    }
    Ok(())
}

fn log(
    w: &mut Workload,
    lsid: &str,
    attempt: u64,
    planned: &Planned,
    outcome: Outcome,
    ops: &[Write],
) -> Result<(), Stop> {
    let Some(out) = &mut w.outputs.log else { return Ok(()) };
    let line = LogLine {
        index: planned.index,
        lsid: lsid.to_string(),
        attempt,
        outcome,
        ops: ops
            .iter()
            .map(|op| LogOp {
                collection: op.collection.clone(),
                write: match op.what {
                    WriteKind::Insert(_) => "insert",
                    WriteKind::Update { .. } => "update",
                }
                .into(),
                id: op.id.clone().into_canonical_extjson(),
            })
            .collect(),
        at_ms: bson::DateTime::now().timestamp_millis(),
    };
    out.append(&line)?;
    Ok(())
}

/// A journal entry of an acknowledged write that left `doc`, carrying it when
/// `journal` keeps documents.
fn entry(
    journal: &Option<Arc<JournalWriter>>,
    seq: u64,
    write: &str,
    id: Option<&Bson>,
    at_ms: i64,
    doc: &Document,
) -> Entry {
    let entry = Entry::acked(seq, write, id.unwrap_or(&Bson::Null), at_ms, doc);
    if journal.as_ref().is_some_and(|j| j.documents()) { entry.with_document(doc) } else { entry }
}

/// Bytes in lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_carry_their_document_only_into_a_journal_that_keeps_documents() {
        let dir = tempfile::tempdir().unwrap();
        let open = |name: &str, documents: bool| {
            let header = crate::journal::Header { documents, ..crate::journal::Header::starting("db.c", 1) };
            Some(Arc::new(JournalWriter::create(&dir.path().join(name), &header).unwrap()))
        };
        let doc = doc! { "_id": 4, "stock": 9_i64 };
        let with = entry(&open("with", true), 7, "update", doc.get("_id"), 0, &doc);
        assert_eq!(with.bson_document().as_ref(), Some(&doc));
        assert_eq!(with.state(), crate::materialize::model::Expect::Exists(crate::journal::doc_hash(&doc, None)));
        let without = entry(&open("without", false), 7, "update", doc.get("_id"), 0, &doc);
        assert_eq!(Entry { document: None, ..with }, without);
        assert_eq!(entry(&None, 7, "update", doc.get("_id"), 0, &doc), without);
    }
}
