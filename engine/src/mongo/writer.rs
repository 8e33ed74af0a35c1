//! A writer: takes its shard's materialized operations from its queue, batches them
//! (flushing when full or after `--max-batch-delay`), and writes each batch as one
//! ordered attempt, op by op accounted from the server's answer:
//!
//! - an op the server refused is recorded with its code, and the model learns that
//!   its document kept its state ([`Corrections`]); the ops an ordered batch did not
//!   execute after it are sent again at once;
//! - when the connection is lost, the batch's documents are read back once the server
//!   answers again, and compared with each op's predicted before and after states:
//!   only the ops that did not apply are sent again ([`recovery`]), so no `$inc`
//!   applies twice and no insert and delete pair replays.
//!
//! Each writer owns a share of the `_id`s (operations are routed by `_id`) and settles
//! its batches one after another, so operations on one `_id` reach the server, and the
//! journal, in the order they were planned.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bson::{Document, RawDocumentBuf, doc};
use futures_util::TryStreamExt;
use mongodb::error::{Error as DbError, ErrorKind, RETRYABLE_WRITE_ERROR};
use mongodb::options::WriteConcern;
use mongodb::{Client, Collection};
use tokio::sync::mpsc;

use super::collection_api::WriteApi;
use super::recovery::{self, Fate};
use super::reply::Reply;
use crate::journal::{Entry, JournalWriter, doc_hash, encode_expect};
use crate::materialize::Corrections;
use crate::materialize::model::{Expect, expect_of, transition};
use crate::metrics::{Metrics, Outcome, Settled};
use crate::plan::{Change, IdKey, OpKind, OpPlan, State, Write};

/// MongoDB's duplicate key error: an insert whose `_id` exists.
const DUPLICATE_KEY: &str = "11000";

/// MongoDB's largest document (`maxBsonObjectSize`: 16 MiB on every version).
pub const MAX_DOCUMENT_BYTES: usize = 16 * 1024 * 1024;

/// The server's refusal of a document over [`MAX_DOCUMENT_BYTES`].
const TOO_LARGE: (i32, &str) = (10334, "BSONObjectTooLarge");

#[derive(Debug, Clone)]
pub struct WriterConfig {
    pub batch_size: usize,
    pub max_batch_delay: Duration,
    pub ordered: bool,
    pub write_concern: Option<WriteConcern>,
    /// Reconnection attempts per batch before the run stops.
    pub max_retries: u32,
    /// Which command carries batches that are not all inserts.
    pub api: WriteApi,
}

pub struct Writer {
    pub client: Client,
    pub coll: Collection<Document>,
    pub config: Arc<WriterConfig>,
    pub metrics: Arc<Metrics>,
    pub journal: Option<Arc<JournalWriter>>,
    /// What the server showed this shard's model got wrong (shared with its materializer).
    pub corrections: Arc<Corrections>,
    /// The top-level field left out of content hashes (the tombstone time).
    pub server_time_field: Option<String>,
    /// Where acknowledged inserts are recorded when other collections reference this
    /// one: a reference is written only after its target's insert.
    pub acknowledged: Option<Arc<crate::plan::Acknowledged>>,
}

/// Why a writer stopped early.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Ops of a batch could not be written, even after `retries` reconnections.
    #[error("writing a batch failed{}, {ops} operations of unknown fate: {}", after_retries(*.retries), super::one_line(&.source.kind.to_string()))]
    Batch {
        ops: usize,
        retries: u32,
        #[source]
        source: DbError,
    },
    #[error("writing the journal failed: {0}")]
    Journal(#[source] std::io::Error),
}

fn after_retries(retries: u32) -> String {
    if retries > 0 { format!(" after {retries} retries") } else { String::new() }
}

/// The ops of a batch still to settle, with whether each was sent again after an
/// attempt whose fate could not be told.
struct Pending {
    ops: Vec<OpPlan>,
    retried: Vec<bool>,
    /// When the batch was first sent: service times count from here.
    sent: Instant,
}

impl Writer {
    /// Writes everything that arrives on `queue` until it closes. Returns early, with
    /// the reason, when a batch cannot be written (its ops of unknown fate are reported
    /// as unknown; the caller counts what is left in the queue as never attempted).
    pub async fn run(self, mut queue: mpsc::Receiver<OpPlan>) -> Result<(), WriteError> {
        let size = self.config.batch_size;
        loop {
            let mut batch = Vec::with_capacity(size);
            // Waits for the first operation, then takes whatever else is queued.
            if queue.recv_many(&mut batch, size).await == 0 {
                return Ok(());
            }
            let deadline = tokio::time::Instant::now() + self.config.max_batch_delay;
            while batch.len() < size {
                let room = size - batch.len();
                match tokio::time::timeout_at(deadline, queue.recv_many(&mut batch, room)).await {
                    Ok(0) | Err(_) => break, // queue closed, or the batch waited long enough
                    Ok(_) => {}
                }
            }
            self.write(batch).await?;
        }
    }

    /// Writes a batch until every op is settled: refused ops are recorded and the ops
    /// an ordered batch skipped after them sent again; after a lost connection, the
    /// ops that did not apply are sent again. Latency counts from the first attempt.
    async fn write(&self, batch: Vec<OpPlan>) -> Result<(), WriteError> {
        let n = batch.len();
        let mut pending = Pending { ops: batch, retried: vec![false; n], sent: Instant::now() };
        let mut retries = 0;
        while !pending.ops.is_empty() {
            self.predict(&mut pending.ops);
            let reply = self.send(&pending.ops).await;
            let mut again = Vec::new();
            let mut unknown = Vec::new();
            let mut settled = Vec::new();
            for (i, outcome) in reply.outcomes.into_iter().enumerate() {
                match outcome {
                    Some(Outcome::NotExecuted) => again.push(i),
                    Some(outcome) => settled.push((i, outcome, reply.inferred.contains(&i))),
                    None => unknown.push(i),
                }
            }
            if let Some(error) = reply.lost {
                if !is_transient(&error) || retries >= self.config.max_retries {
                    self.give_up(&mut pending, settled, &unknown, &again)?;
                    return Err(WriteError::Batch { ops: unknown.len(), retries, source: error });
                }
                let fates = self.recover(&pending, &unknown, error, &mut retries).await;
                let fates = match fates {
                    Ok(fates) => fates,
                    Err(e) => {
                        self.give_up(&mut pending, settled, &unknown, &again)?;
                        return Err(e);
                    }
                };
                for (&i, fate) in unknown.iter().zip(fates) {
                    let op = &pending.ops[i];
                    match fate {
                        Fate::Applied => {
                            let (matched, modified) = (op.change.matched.unwrap_or(1), op.change.modified.unwrap_or(0));
                            settled.push((i, Outcome::Acked { matched, modified }, false));
                        }
                        Fate::NotApplied => again.push(i),
                        Fate::Ambiguous => {
                            pending.retried[i] = true;
                            again.push(i);
                        }
                        Fate::Unexplained => settled.push((i, Outcome::Unknown, false)),
                    }
                }
                self.metrics.record_resent(again.len() as u64, ambiguous_among(&pending, &again));
            } else if !again.is_empty() {
                self.metrics.record_resent_after_error(again.len() as u64);
            }
            settled.sort_by_key(|s| s.0);
            self.settle(&mut pending, &settled)?;
            again.sort_unstable();
            pending = keep(pending, &again);
        }
        Ok(())
    }

    /// Settles what is known when the batch cannot go on: the ops of unknown fate as
    /// unknown, those never tried as not executed.
    fn give_up(
        &self,
        pending: &mut Pending,
        mut settled: Vec<(usize, Outcome, bool)>,
        unknown: &[usize],
        never_tried: &[usize],
    ) -> Result<(), WriteError> {
        settled.extend(unknown.iter().map(|&i| (i, Outcome::Unknown, false)));
        settled.extend(never_tried.iter().map(|&i| (i, Outcome::NotExecuted, false)));
        settled.sort_by_key(|s| s.0);
        self.settle(pending, &settled)
    }

    /// One attempt at `ops`. An insert over the server's document limit is not sent:
    /// the driver would refuse its whole batch before sending any of it, with an error
    /// that reads as a lost batch. The ops before it go; it is refused (as the server
    /// would) once they are settled, and the ops after it go in the next attempt, as
    /// after an ordered batch's refusal.
    async fn send(&self, ops: &[OpPlan]) -> Reply {
        let Some(first) = ops.iter().position(too_large) else { return self.send_all(ops).await };
        let mut reply = if first == 0 { Reply::default() } else { self.send_all(&ops[..first]).await };
        let before_settled =
            reply.lost.is_none() && reply.outcomes.iter().all(|o| !matches!(o, None | Some(Outcome::NotExecuted)));
        let refused = Outcome::Failed(super::reply::failure_label(TOO_LARGE.0, Some(TOO_LARGE.1)));
        reply.outcomes.push(Some(if before_settled { refused } else { Outcome::NotExecuted }));
        reply.outcomes.resize(ops.len(), Some(Outcome::NotExecuted));
        reply
    }

    async fn send_all(&self, ops: &[OpPlan]) -> Reply {
        let (ordered, wc) = (self.config.ordered, self.config.write_concern.as_ref());
        match self.config.api {
            WriteApi::Client => super::client_api::send(&self.client, &self.coll, ops, ordered, wc).await,
            WriteApi::Collection => {
                let db = self.client.database(&self.coll.namespace().db);
                super::collection_api::send(&db, self.coll.name(), ops, ordered, wc).await
            }
        }
    }

    /// Predicts again the ops whose target a correction says the model got wrong.
    fn predict(&self, ops: &mut [OpPlan]) {
        if self.corrections.is_empty() {
            return;
        }
        let mut states: HashMap<IdKey, State> = HashMap::new();
        for op in ops {
            let key = IdKey::of(&op.id);
            let Some(before) = states.get(&key).cloned().or_else(|| self.corrections.get(&op.id)) else { continue };
            self.repredict(op, before);
            states.insert(key, op.change.after.clone());
        }
    }

    /// `op`'s change and expectation as from `before`.
    fn repredict(&self, op: &mut OpPlan, before: State) {
        let (matched, after) = transition(&op.write, &before, bson::DateTime::now());
        let change = Change::new(before, after, matched);
        op.change = match op.write {
            Write::Insert(_) | Write::Delete { .. } => Change { modified: Some(0), ..change },
            _ => change,
        };
        if let Some(expect) = &mut op.expect {
            // A document the model never vouched for stays unvouched.
            if expect.state != Expect::Unknown {
                expect.state = expect_of(&op.change.after, self.server_time_field.as_deref());
            }
            expect.matched = matched;
        }
    }

    /// Records settled ops in batch order: corrections, journal, counts.
    fn settle(&self, pending: &mut Pending, settled: &[(usize, Outcome, bool)]) -> Result<(), WriteError> {
        if settled.is_empty() {
            return Ok(());
        }
        let mut entries = Vec::new();
        let mut counted = Vec::with_capacity(settled.len());
        let mut inserted = Vec::new();
        let now = bson::DateTime::now().timestamp_millis();
        let answered_at = Instant::now();
        let service = answered_at - pending.sent;
        for (i, outcome, inferred) in settled {
            let op = &mut pending.ops[*i];
            // An earlier op of this attempt may have failed: this one ran from its state.
            if let Some(state) = self.corrections.get(&op.id)
                && !state.same_as(&op.change.before)
            {
                self.repredict(op, state);
            }
            let exact = self.learn(op, outcome, *inferred);
            let documents = self.journal.as_ref().is_some_and(|j| j.documents());
            if let Some(entry) = journal_entry(op, outcome, exact, pending.retried[*i], now, documents) {
                entries.push(entry);
            }
            if let Outcome::Acked { .. } = outcome {
                self.metrics.count_in_phase(op.index);
            }
            // Every settled insert releases the references waiting for it: one the
            // server refused then points at nothing, rather than holding its
            // collection's run for good.
            if op.kind == OpKind::Insert && self.acknowledged.is_some() {
                inserted.push(op.id.clone());
            }
            // Latencies of the ops the server answered; a lost or never-tried op has none.
            let answered = !matches!(outcome, Outcome::Unknown | Outcome::NotExecuted | Outcome::NotSent);
            counted.push(Settled {
                kind: op.kind,
                outcome: outcome.clone(),
                service: answered.then_some(service),
                response: answered.then(|| answered_at.saturating_duration_since(op.scheduled)),
            });
        }
        if let Some(journal) = &self.journal {
            journal.append(&entries).map_err(WriteError::Journal)?;
        }
        if let Some(acknowledged) = &self.acknowledged {
            acknowledged.insert(&inserted);
        }
        self.metrics.record(&counted);
        Ok(())
    }

    /// Corrects the model from the server's answer for `op`; false when the answer
    /// leaves its document's state unknown.
    fn learn(&self, op: &OpPlan, outcome: &Outcome, inferred: bool) -> bool {
        let corrected = |state: State| self.corrections.set(&op.id, op.index, state);
        match outcome {
            Outcome::Acked { matched, .. } | Outcome::WriteConcernFailed { matched, .. } => {
                let as_predicted = !inferred && op.change.matched.is_none_or(|m| m == *matched);
                if !as_predicted {
                    corrected(State::Unknown);
                } else if self.corrections.get(&op.id).is_some() {
                    corrected(op.change.after.clone());
                }
                as_predicted
            }
            Outcome::Failed(code) => {
                // A refused insert whose `_id` exists leaves a document forge did not write.
                let duplicate = matches!(op.write, Write::Insert(_)) && code.starts_with(DUPLICATE_KEY);
                corrected(if duplicate { State::Unknown } else { op.change.before.clone() });
                true
            }
            Outcome::Unknown => {
                corrected(State::Unknown);
                false
            }
            Outcome::NotExecuted | Outcome::Unacknowledged | Outcome::NotSent => true,
        }
    }

    /// After a lost connection: waits for the server (with backoff, counting the
    /// reconnections against `--max-retries`), reads the documents of the ops in
    /// `unknown` back, and tells which of those ops applied.
    async fn recover(
        &self,
        pending: &Pending,
        unknown: &[usize],
        mut error: DbError,
        retries: &mut u32,
    ) -> Result<Vec<Fate>, WriteError> {
        let lost_at = Instant::now();
        loop {
            *retries += 1;
            let backoff = Duration::from_millis(100u64 << (*retries).min(6)).min(Duration::from_secs(5));
            tracing::warn!(
                "connection lost writing {} operations ({}); reading their documents back in {:.1}s (retry {}/{})",
                unknown.len(),
                super::one_line(&error.kind.to_string()),
                backoff.as_secs_f64(),
                retries,
                self.config.max_retries
            );
            tokio::time::sleep(backoff).await;
            self.metrics.record_backoff(backoff);
            match self.read_back(pending, unknown).await {
                Ok(current) => {
                    self.metrics.record_disconnected(lost_at.elapsed());
                    return Ok(self.fates(pending, unknown, &current));
                }
                Err(e) if is_transient(&e) && *retries < self.config.max_retries => error = e,
                Err(e) => {
                    self.metrics.record_disconnected(lost_at.elapsed());
                    return Err(WriteError::Batch { ops: unknown.len(), retries: *retries, source: e });
                }
            }
        }
    }

    /// The documents the ops in `unknown` target, as the server holds them now.
    async fn read_back(&self, pending: &Pending, unknown: &[usize]) -> Result<HashMap<IdKey, RawDocumentBuf>, DbError> {
        let mut ids: Vec<bson::Bson> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for &i in unknown {
            let id = &pending.ops[i].id;
            if seen.insert(IdKey::of(id)) {
                ids.push(id.clone());
            }
        }
        let coll = self.coll.clone_with_type::<RawDocumentBuf>();
        let docs: Vec<RawDocumentBuf> = coll.find(doc! { "_id": { "$in": ids } }).await?.try_collect().await?;
        Ok(docs
            .into_iter()
            .filter_map(|d| {
                let id = bson::Bson::try_from(d.get("_id").ok().flatten()?).ok()?;
                Some((IdKey::of(&id), d))
            })
            .collect())
    }

    fn fates(&self, pending: &Pending, unknown: &[usize], current: &HashMap<IdKey, RawDocumentBuf>) -> Vec<Fate> {
        let ops: Vec<&OpPlan> = unknown.iter().map(|&i| &pending.ops[i]).collect();
        let targets: Vec<IdKey> = ops.iter().map(|op| IdKey::of(&op.id)).collect();
        let befores: Vec<&State> = ops.iter().map(|op| &op.change.before).collect();
        let afters: Vec<&State> = ops.iter().map(|op| &op.change.after).collect();
        let exclude = self.server_time_field.as_deref();
        let hash = |raw: &RawDocumentBuf| Document::try_from(raw.as_ref()).map(|d| doc_hash(&d, exclude)).ok();
        // The collection API may send ops on different `_id`s out of batch order: only
        // each `_id`'s own order then holds, and the documents are read one by one.
        let in_batch_order = self.config.ordered && self.config.api == WriteApi::Client;
        recovery::fates(&targets, &befores, &afters, in_batch_order, |key, state| match state {
            State::Unknown => true,
            State::Absent => !current.contains_key(key),
            State::Doc(want) => current.get(key).is_some_and(|have| {
                have.as_bytes() == want.as_bytes() || hash(have).is_some_and(|h| Some(h) == hash(want))
            }),
        })
    }
}

/// An insert whose document is over [`MAX_DOCUMENT_BYTES`]. (An update that would
/// grow a document past it is the server's to refuse, op by op.)
fn too_large(op: &OpPlan) -> bool {
    matches!(&op.write, Write::Insert(raw) if raw.as_bytes().len() > MAX_DOCUMENT_BYTES)
}

/// How many of the ops to send again are sent because their fate was ambiguous.
fn ambiguous_among(pending: &Pending, again: &[usize]) -> u64 {
    again.iter().filter(|&&i| pending.retried[i]).count() as u64
}

/// The ops at `keep` (ascending), in order.
fn keep(pending: Pending, keep: &[usize]) -> Pending {
    let mut wanted = keep.iter().peekable();
    let mut out =
        Pending { ops: Vec::with_capacity(keep.len()), retried: Vec::with_capacity(keep.len()), sent: pending.sent };
    for (i, (op, retried)) in pending.ops.into_iter().zip(pending.retried).enumerate() {
        if wanted.peek() == Some(&&i) {
            wanted.next();
            out.ops.push(op);
            out.retried.push(retried);
        }
    }
    out
}

/// The journal line of an op the server applied; `exact`: its predicted state holds.
/// With `documents`, a line whose state is a known document carries that document.
fn journal_entry(
    op: &OpPlan,
    outcome: &Outcome,
    exact: bool,
    retried: bool,
    now: i64,
    documents: bool,
) -> Option<Entry> {
    let (matched, modified, write_concern_failed) = match outcome {
        Outcome::Acked { matched, modified } => (*matched, *modified, false),
        Outcome::WriteConcernFailed { matched, modified } => (*matched, *modified, true),
        _ => return None,
    };
    let expect = op.expect.as_ref().filter(|_| exact);
    // Only where the line vouches for a content hash: that hash is of this document.
    let document = match (&op.change.after, expect.map(|e| &e.state)) {
        (State::Doc(raw), Some(Expect::Exists(_))) if documents => Document::try_from(raw.as_ref().as_ref()).ok(),
        _ => None,
    };
    let entry = Entry {
        seq: op.index,
        kind: op.kind.name().to_string(),
        write: op.write.name().to_string(),
        id: op.id.clone().into_canonical_extjson(),
        acked_at_ms: now,
        matched,
        modified,
        expect: expect.and_then(|e| encode_expect(&e.state)),
        retried,
        write_concern_failed,
        document: None,
    };
    Some(match document {
        Some(doc) => entry.with_document(&doc),
        None => entry,
    })
}

/// Errors worth reconnecting for: the connection, not the operations, failed.
fn is_transient(e: &DbError) -> bool {
    matches!(*e.kind, ErrorKind::Io(_) | ErrorKind::ConnectionPoolCleared { .. } | ErrorKind::ServerSelection { .. })
        || e.contains_label(RETRYABLE_WRITE_ERROR)
        || e.contains_label("NetworkError")
}
