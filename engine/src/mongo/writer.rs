//! A writer: takes planned operations from its queue, batches them (flushing when full
//! or after `--max-batch-delay`), and writes each batch as one ordered bulk write,
//! retrying batches lost to connection errors. It reports every operation's fate to
//! the metrics from the server's answer.
//!
//! Each writer owns a share of the `_id`s (operations are routed by `_id`), and writes
//! its batches one after another, so operations on one `_id` reach the server in the
//! order they were planned.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bson::{Document, RawDocumentBuf};
use mongodb::error::{Error as DbError, ErrorKind, RETRYABLE_WRITE_ERROR};
use mongodb::options::{DeleteOneModel, InsertOneModel, ReplaceOneModel, UpdateOneModel, WriteConcern, WriteModel};
use mongodb::results::VerboseBulkWriteResult;
use mongodb::{Client, Collection};
use tokio::sync::mpsc;

use crate::journal::{Entry, JournalWriter, encode_expect};
use crate::metrics::{Metrics, Outcome};
use crate::plan::{OpPlan, Write};

/// MongoDB's duplicate key error: on a retried batch, the insert already happened.
const DUPLICATE_KEY: i32 = 11000;

#[derive(Debug, Clone)]
pub struct WriterConfig {
    pub batch_size: usize,
    pub max_batch_delay: Duration,
    pub ordered: bool,
    pub write_concern: Option<WriteConcern>,
    pub max_retries: u32,
    /// Which command carries batches that are not all inserts.
    pub api: super::collection_api::WriteApi,
}

pub struct Writer {
    pub client: Client,
    pub coll: Collection<Document>,
    pub config: Arc<WriterConfig>,
    pub metrics: Arc<Metrics>,
    pub journal: Option<Arc<JournalWriter>>,
}

/// Why a writer stopped early.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// A batch could not be written, even after `retries` retries.
    #[error("writing a batch of {ops} failed{}: {}", after_retries(*.retries), super::one_line(&.source.kind.to_string()))]
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

impl Writer {
    /// Writes everything that arrives on `queue` until it closes. Returns early, with
    /// the reason, when a batch cannot be written (its operations are then reported as
    /// unknown, and the queue is drained and counted as never attempted by the caller).
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

    /// Writes a batch, retrying it after connection errors. A retried ordered batch
    /// can stop at a duplicate key that its own lost attempt caused; the rest of the
    /// batch is then sent again from there.
    async fn write(&self, batch: Vec<OpPlan>) -> Result<(), WriteError> {
        let mut done = 0;
        let mut attempt = 0;
        while done < batch.len() {
            let ops = &batch[done..];
            let started = Instant::now();
            let result = self.send(ops).await;
            let round_trip = started.elapsed();
            let retried = attempt > 0;
            let (outcomes, resume_at) = match result {
                Ok(outcomes) => (outcomes, None),
                Err(e) if is_transient(&e) && attempt < self.config.max_retries => {
                    attempt += 1;
                    let backoff = Duration::from_millis(100u64 << attempt.min(6)).min(Duration::from_secs(5));
                    tracing::warn!(
                        "batch of {} failed ({}); retry {attempt}/{} in {:.1}s",
                        ops.len(),
                        super::one_line(&e.kind.to_string()),
                        self.config.max_retries,
                        backoff.as_secs_f64()
                    );
                    tokio::time::sleep(backoff).await;
                    continue;
                }
                Err(e) => match self.partial_outcomes(&e, ops, retried) {
                    Some(partial) => partial,
                    None => {
                        let unknown: Vec<_> = ops.iter().map(|op| (op.kind, Outcome::Unknown)).collect();
                        self.metrics.record_batch(&unknown, None);
                        return Err(WriteError::Batch { ops: ops.len(), retries: attempt, source: e });
                    }
                },
            };
            let settled = resume_at.unwrap_or(ops.len());
            self.record(&ops[..settled], &outcomes[..settled], retried, round_trip)?;
            done += settled;
        }
        Ok(())
    }

    /// One attempt at writing `ops`: insertMany for inserts, else one client bulkWrite.
    async fn send(&self, ops: &[OpPlan]) -> Result<Vec<Outcome>, DbError> {
        // TEMPORARY (bulk-api branch), until the writer's rewrite dispatches on `api`: a
        // lost command fails the whole attempt, as a lost bulkWrite does here.
        if self.config.api == super::collection_api::WriteApi::Collection {
            let db = self.client.database(&self.coll.namespace().db);
            let (ordered, wc) = (self.config.ordered, self.config.write_concern.as_ref());
            let reply = super::collection_api::send(&db, self.coll.name(), ops, ordered, wc).await;
            return match reply.lost {
                Some(e) => Err(e),
                None => Ok(reply.outcomes.into_iter().map(|o| o.expect("nothing lost")).collect()),
            };
        }
        let raws: Vec<&RawDocumentBuf> =
            ops.iter().filter_map(|op| if let Write::Insert(d) = &op.write { Some(&**d) } else { None }).collect();
        let outcomes = if raws.len() == ops.len() {
            self.insert_many(self.coll.clone_with_type::<RawDocumentBuf>(), &raws).await?
        } else {
            self.bulk(self.models(ops)).await?
        };
        let unacknowledged = self.config.write_concern.as_ref().is_some_and(super::is_unacknowledged);
        Ok(if unacknowledged { vec![Outcome::Unacknowledged; outcomes.len()] } else { outcomes })
    }

    /// Journals and counts settled operations.
    fn record(
        &self,
        ops: &[OpPlan],
        outcomes: &[Outcome],
        retried: bool,
        round_trip: Duration,
    ) -> Result<(), WriteError> {
        if let Some(journal) = &self.journal {
            journal.append(&journal_entries(ops, outcomes, retried)).map_err(WriteError::Journal)?;
        }
        let paired: Vec<_> = ops.iter().map(|op| op.kind).zip(outcomes.iter().cloned()).collect();
        self.metrics.record_batch(&paired, Some(round_trip));
        Ok(())
    }

    fn models(&self, batch: &[OpPlan]) -> Vec<WriteModel> {
        let ns = self.coll.namespace();
        batch
            .iter()
            .map(|op| match &op.write {
                Write::Insert(raw) => InsertOneModel::builder()
                    .namespace(ns.clone())
                    .document(Document::try_from(raw.as_ref()).expect("forge serialised it"))
                    .build()
                    .into(),
                Write::Update { filter, update } => UpdateOneModel::builder()
                    .namespace(ns.clone())
                    .filter(filter.clone())
                    .update(update.clone())
                    .build()
                    .into(),
                Write::Replace { filter, replacement } => ReplaceOneModel::builder()
                    .namespace(ns.clone())
                    .filter(filter.clone())
                    .replacement(replacement.clone())
                    .build()
                    .into(),
                Write::Delete { filter } => {
                    DeleteOneModel::builder().namespace(ns.clone()).filter(filter.clone()).build().into()
                }
            })
            .collect()
    }

    async fn insert_many<T>(&self, coll: Collection<T>, docs: &[&T]) -> Result<Vec<Outcome>, DbError>
    where
        T: serde::Serialize + Send + Sync,
    {
        let mut action = coll.insert_many(docs.iter().copied()).ordered(self.config.ordered);
        if let Some(wc) = &self.config.write_concern {
            action = action.write_concern(wc.clone());
        }
        action.await?;
        Ok(docs.iter().map(|_| Outcome::Acked { matched: 1, modified: 0 }).collect())
    }

    async fn bulk(&self, models: Vec<WriteModel>) -> Result<Vec<Outcome>, DbError> {
        let n = models.len();
        if self.config.write_concern.as_ref().is_some_and(super::is_unacknowledged) {
            // The server returns no per-operation results without acknowledgement.
            let action = self.client.bulk_write(models).ordered(self.config.ordered);
            action.write_concern(self.config.write_concern.clone().expect("checked")).await?;
            return Ok(vec![Outcome::Unacknowledged; n]);
        }
        let mut action = self.client.bulk_write(models).ordered(self.config.ordered).verbose_results();
        if let Some(wc) = &self.config.write_concern {
            action = action.write_concern(wc.clone());
        }
        let result = action.await?;
        Ok(verbose_outcomes(&result, n))
    }

    /// Per-operation outcomes of a batch the server partly refused, or `None` when the
    /// error says nothing about individual operations. The index returned is where to
    /// resume when an ordered batch stopped only at an insert its lost first attempt
    /// had already made.
    fn partial_outcomes(&self, e: &DbError, batch: &[OpPlan], retried: bool) -> Option<(Vec<Outcome>, Option<usize>)> {
        let n = batch.len();
        let (errors, mut outcomes): (Vec<Refused>, Vec<Outcome>) = match &*e.kind {
            ErrorKind::InsertMany(ime) => {
                let errors = ime
                    .write_errors
                    .as_ref()?
                    .iter()
                    .map(|we| Refused { index: we.index, code: we.code, name: we.code_name.clone() })
                    .collect();
                (errors, vec![Outcome::Acked { matched: 1, modified: 0 }; n])
            }
            ErrorKind::BulkWrite(bwe) => {
                if bwe.write_errors.is_empty() {
                    return None;
                }
                let errors = bwe
                    .write_errors
                    .iter()
                    .map(|(i, we)| Refused { index: *i, code: we.code, name: we.code_name.clone() })
                    .collect();
                let outcomes = match &bwe.partial_result {
                    Some(mongodb::error::PartialBulkWriteResult::Verbose(v)) => verbose_outcomes(v, n),
                    _ => vec![Outcome::Unknown; n],
                };
                (errors, outcomes)
            }
            _ => return None,
        };
        let first_error = errors.iter().map(|r| r.index).min();
        let mut resume_at = None;
        for r in &errors {
            let already_applied =
                retried && r.code == DUPLICATE_KEY && matches!(batch[r.index].write, Write::Insert(_));
            outcomes[r.index] = if already_applied {
                if self.config.ordered && Some(r.index) == first_error {
                    resume_at = Some(r.index + 1);
                }
                Outcome::Acked { matched: 1, modified: 0 }
            } else {
                Outcome::Failed(r.name.as_ref().map_or_else(|| r.code.to_string(), |name| format!("{} {name}", r.code)))
            };
        }
        if self.config.ordered
            && let Some(first) = first_error
        {
            // An ordered batch stops at its first error: later operations never ran.
            outcomes.iter_mut().skip(first + 1).for_each(|o| *o = Outcome::NotExecuted);
        }
        Some((outcomes, resume_at))
    }
}

/// Journal lines for the acknowledged operations of a batch.
fn journal_entries(batch: &[OpPlan], outcomes: &[Outcome], retried: bool) -> Vec<Entry> {
    let now = bson::DateTime::now().timestamp_millis();
    batch
        .iter()
        .zip(outcomes)
        .filter_map(|(op, outcome)| {
            let Outcome::Acked { matched, modified } = outcome else { return None };
            let expect = op.expect.as_ref();
            // A retried write may find its own first attempt already applied (forge's
            // retry, or the driver's own retry of a write it lost): the delete then
            // matches nothing, yet the document is gone as planned. A delete leaves
            // its document gone either way, so its plan is the truth.
            let is_delete = matches!(op.write, Write::Delete { .. });
            let matched = match expect.and_then(|e| e.matched) {
                Some(planned) if (retried || is_delete) && *matched == 0 && planned > 0 => planned,
                _ => *matched,
            };
            Some(Entry {
                seq: op.index,
                kind: op.kind.name().to_string(),
                write: op.write.name().to_string(),
                id: op.id.clone().into_canonical_extjson(),
                acked_at_ms: now,
                matched,
                modified: *modified,
                expect: expect.and_then(|e| encode_expect(&e.state)),
                retried,
                write_concern_failed: false,
            })
        })
        .collect()
}

/// One operation the server refused, by its index in the batch.
struct Refused {
    index: usize,
    code: i32,
    name: Option<String>,
}

fn verbose_outcomes(result: &VerboseBulkWriteResult, n: usize) -> Vec<Outcome> {
    (0..n)
        .map(|i| {
            if result.insert_results.contains_key(&i) {
                Outcome::Acked { matched: 1, modified: 0 }
            } else if let Some(u) = result.update_results.get(&i) {
                Outcome::Acked { matched: u.matched_count, modified: u.modified_count }
            } else if let Some(d) = result.delete_results.get(&i) {
                Outcome::Acked { matched: d.deleted_count, modified: 0 }
            } else {
                Outcome::Unknown
            }
        })
        .collect()
}

/// Errors worth retrying the batch for: the connection, not the operations, failed.
fn is_transient(e: &DbError) -> bool {
    matches!(*e.kind, ErrorKind::Io(_) | ErrorKind::ConnectionPoolCleared { .. } | ErrorKind::ServerSelection { .. })
        || e.contains_label(RETRYABLE_WRITE_ERROR)
        || e.contains_label("NetworkError")
}
