//! Writing a batch through the collection-level `insert`, `update` and `delete`
//! commands, which every MongoDB server (and DocumentDB, Cosmos DB) has; the
//! client-level `bulkWrite` exists only from MongoDB 8.0 (wire version 25).
//!
//! A batch becomes a few commands, one kind each, sent one after another; operations on
//! one `_id` keep their order (`schedule`). The commands are built as raw BSON: an insert's
//! document is copied in as the bytes the materializer made.

mod attribute;
mod schedule;

use bson::{Bson, Document, RawArrayBuf, RawDocument, RawDocumentBuf, cstr};
use mongodb::error::{Error as DbError, ErrorKind, RETRYABLE_WRITE_ERROR};
use mongodb::options::WriteConcern;
use mongodb::{Client, Database};

pub use self::attribute::{Attribution, attribute};
pub use self::schedule::{CommandKind, Cut, Limits, SERVER_LIMITS, schedule};
use super::reply::{Reply, failure_label};
use crate::metrics::Outcome;
use crate::plan::{IdKey, OpPlan, Write};

/// The wire version of MongoDB 8.0, the first with the client-level `bulkWrite`.
pub const BULK_WRITE_WIRE_VERSION: i32 = 25;

/// Which command carries a batch that is not all inserts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WriteApi {
    /// One client-level `bulkWrite` per batch (MongoDB 8.0+): per-op counts from the
    /// server.
    #[default]
    Client,
    /// Collection-level `insert`/`update`/`delete` commands, a few per batch, one kind
    /// each (every server).
    Collection,
}

impl WriteApi {
    pub fn name(self) -> &'static str {
        match self {
            WriteApi::Client => "client",
            WriteApi::Collection => "collection",
        }
    }

    /// The API a server of this wire version has.
    pub fn for_wire_version(max_wire_version: i32) -> Self {
        if max_wire_version >= BULK_WRITE_WIRE_VERSION { WriteApi::Client } else { WriteApi::Collection }
    }
}

/// The server's `maxWireVersion`, from `hello` (0 when it does not say).
pub async fn max_wire_version(client: &Client) -> Result<i32, DbError> {
    let hello = client.database("admin").run_command(bson::doc! { "hello": 1 }).await?;
    Ok(hello.get("maxWireVersion").and_then(as_u64).map_or(0, |v| v as i32))
}

/// One attempt at writing `ops` to `db.coll`. Never fails: what the server said about
/// each op is in the reply, and a transport error leaves the ops of the command it
/// interrupted, and of every later command, unknown (`Reply::lost`). With `ordered`,
/// a refusal leaves every op of the later commands `NotExecuted`. The commands need
/// not follow the batch's order across `_id`s (see `schedule`): which ops are unknown or
/// not executed is told op by op, not as a suffix of the batch.
pub async fn send(db: &Database, coll: &str, ops: &[OpPlan], ordered: bool, wc: Option<&WriteConcern>) -> Reply {
    let unacknowledged = wc.is_some_and(super::is_unacknowledged);
    let wc = wc.map(|wc| bson::serialize_to_raw_document_buf(wc).expect("a write concern encodes"));
    let statements: Vec<Statement> = ops.iter().map(Statement::of).collect();
    let placed: Vec<schedule::Statement> = ops
        .iter()
        .zip(&statements)
        .map(|(op, s)| schedule::Statement {
            kind: CommandKind::of(&op.write),
            size: s.bytes().as_bytes().len(),
            id: IdKey::of(&op.id),
        })
        .collect();
    let mut outcomes: Vec<Option<Outcome>> = vec![None; ops.len()];
    let mut inferred = Vec::new();
    let mut stopped = false;
    for Cut { kind, ops: positions, .. } in schedule(&placed, SERVER_LIMITS) {
        if stopped {
            positions.iter().for_each(|&i| outcomes[i] = Some(Outcome::NotExecuted));
            continue;
        }
        let command = command(kind, coll, ordered, wc.as_deref(), positions.iter().map(|&i| &statements[i]));
        let run: Vec<&OpPlan> = positions.iter().map(|&i| &ops[i]).collect();
        let settled = match db.run_raw_command(command).await {
            Ok(_) if unacknowledged => {
                Settled { outcomes: vec![Outcome::Unacknowledged; run.len()], inferred: Vec::new(), stopped: false }
            }
            Ok(answer) => settle(kind, &run, &Answer::read(&answer), ordered),
            Err(e) if is_lost(&e) => {
                // This command's ops and every later one's stay unknown (None).
                inferred.sort_unstable();
                return Reply { outcomes, inferred, lost: Some(e) };
            }
            Err(e) => {
                // The server refused the whole command (ok: 0): none of it ran.
                let label = match &*e.kind {
                    ErrorKind::Command(c) => failure_label(c.code, Some(c.code_name.as_str())),
                    _ => unreachable!("is_lost takes every error that is not the server's answer"),
                };
                Settled { outcomes: vec![Outcome::Failed(label); run.len()], inferred: Vec::new(), stopped: true }
            }
        };
        inferred.extend(settled.inferred.iter().map(|&k| positions[k]));
        for (&i, outcome) in positions.iter().zip(settled.outcomes) {
            outcomes[i] = Some(outcome);
        }
        stopped = ordered && settled.stopped;
    }
    inferred.sort_unstable();
    Reply { outcomes, inferred, lost: None }
}

/// Server error codes that say the node could not take the write now (a failover, a
/// shutdown): the driver's list of retryable write errors.
const RETRYABLE_CODES: [i32; 12] = [6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436];

/// Whether an error leaves the command's fate unknown (or not the server's to decide),
/// rather than being the server's refusal of it.
fn is_lost(e: &DbError) -> bool {
    if e.contains_label(RETRYABLE_WRITE_ERROR) || e.contains_label("NetworkError") {
        return true;
    }
    match &*e.kind {
        ErrorKind::Command(c) => RETRYABLE_CODES.contains(&c.code),
        _ => true,
    }
}

/// One statement of a command: an insert's document as it was serialised, or an
/// update's or delete's statement document.
enum Statement<'a> {
    Document(&'a RawDocument),
    Built(RawDocumentBuf),
}

impl<'a> Statement<'a> {
    fn of(op: &'a OpPlan) -> Self {
        let raw = |d: &Document| RawDocumentBuf::try_from(d).expect("forge's documents encode");
        let mut s = RawDocumentBuf::new();
        match &op.write {
            Write::Insert(doc) => return Statement::Document(doc),
            Write::Update { filter, update: u } | Write::Replace { filter, replacement: u } => {
                s.append(cstr!("q"), raw(filter));
                s.append(cstr!("u"), raw(u));
            }
            Write::Delete { filter } => {
                s.append(cstr!("q"), raw(filter));
                s.append(cstr!("limit"), 1i32);
            }
        }
        Statement::Built(s)
    }

    fn bytes(&self) -> &RawDocument {
        match self {
            Statement::Document(d) => d,
            Statement::Built(d) => d,
        }
    }
}

fn command<'s, 'a: 's>(
    kind: CommandKind,
    coll: &str,
    ordered: bool,
    wc: Option<&RawDocument>,
    statements: impl Iterator<Item = &'s Statement<'a>>,
) -> RawDocumentBuf {
    let mut array = RawArrayBuf::new();
    for s in statements {
        array.push(s.bytes());
    }
    let mut command = RawDocumentBuf::new();
    match kind {
        CommandKind::Insert => command.append(cstr!("insert"), coll),
        CommandKind::Update => command.append(cstr!("update"), coll),
        CommandKind::Delete => command.append(cstr!("delete"), coll),
    }
    command.append(cstr!("ordered"), ordered);
    if let Some(wc) = wc {
        command.append(cstr!("writeConcern"), wc);
    }
    match kind {
        CommandKind::Insert => command.append(cstr!("documents"), &array),
        CommandKind::Update => command.append(cstr!("updates"), &array),
        CommandKind::Delete => command.append(cstr!("deletes"), &array),
    }
    command
}

/// What a command's reply says, as far as forge reads it.
#[derive(Debug, Default, Clone, PartialEq)]
struct Answer {
    n: Option<u64>,
    n_modified: Option<u64>,
    /// (index in the command, "code name") of each refused statement.
    write_errors: Vec<(usize, String)>,
    /// The write concern was not met ("code name").
    write_concern_error: Option<String>,
}

impl Answer {
    fn read(reply: &Document) -> Self {
        let label = |d: &Document| {
            let code = d.get("code").and_then(as_u64).map_or(-1, |c| c as i32);
            failure_label(code, d.get_str("codeName").ok())
        };
        let write_errors = reply
            .get_array("writeErrors")
            .map(|errors| {
                errors
                    .iter()
                    .filter_map(Bson::as_document)
                    .filter_map(|e| Some((e.get("index").and_then(as_u64)? as usize, label(e))))
                    .collect()
            })
            .unwrap_or_default();
        Answer {
            n: reply.get("n").and_then(as_u64),
            n_modified: reply.get("nModified").and_then(as_u64),
            write_errors,
            write_concern_error: reply.get_document("writeConcernError").ok().map(label),
        }
    }
}

fn as_u64(b: &Bson) -> Option<u64> {
    match b {
        Bson::Int32(v) => u64::try_from(*v).ok(),
        Bson::Int64(v) => u64::try_from(*v).ok(),
        Bson::Double(v) if *v >= 0.0 => Some(*v as u64),
        _ => None,
    }
}

/// The outcomes of one command's ops.
#[derive(Debug, PartialEq)]
struct Settled {
    outcomes: Vec<Outcome>,
    /// Positions in the command whose counts were inferred.
    inferred: Vec<usize>,
    /// A statement was refused (an ordered batch stops there).
    stopped: bool,
}

/// Each op's outcome from its command's answer: refused ones by their code; with
/// `ordered`, those after the first refusal not executed; the rest acknowledged (or
/// applied without their write concern) with counts from the predictions or the totals.
fn settle(kind: CommandKind, ops: &[&OpPlan], answer: &Answer, ordered: bool) -> Settled {
    let first_error = answer.write_errors.iter().map(|(i, _)| *i).min();
    let mut outcomes: Vec<Option<Outcome>> = vec![None; ops.len()];
    for (i, label) in &answer.write_errors {
        if let Some(o) = outcomes.get_mut(*i) {
            *o = Some(Outcome::Failed(label.clone()));
        }
    }
    if ordered && let Some(first) = first_error {
        outcomes.iter_mut().skip(first + 1).for_each(|o| *o = Some(Outcome::NotExecuted));
    }
    let executed: Vec<usize> = (0..ops.len()).filter(|i| outcomes[*i].is_none()).collect();
    let (counts, inferred) = match kind {
        CommandKind::Insert => (vec![(1, 0); executed.len()], Vec::new()),
        CommandKind::Update | CommandKind::Delete => {
            let predictions: Vec<_> = executed
                .iter()
                .map(|&i| {
                    let change = &ops[i].change;
                    (change.matched, if kind == CommandKind::Delete { Some(0) } else { change.modified })
                })
                .collect();
            let totals =
                answer.n.map(|n| (n, if kind == CommandKind::Delete { 0 } else { answer.n_modified.unwrap_or(0) }));
            let a = attribute(&predictions, totals);
            if a.disagreed {
                let (m, d) = predictions.iter().fold((0, 0), |(m, d), p| (m + p.0.unwrap_or(1), d + p.1.unwrap_or(1)));
                tracing::warn!(
                    "{} of {} ops: the server reports {} matched, {} modified; the model predicted {m} and {d}; \
                     per-op counts attributed to match the server",
                    kind.name(),
                    executed.len(),
                    answer.n.map_or("?".into(), |n| n.to_string()),
                    answer.n_modified.map_or("?".into(), |n| n.to_string()),
                );
            }
            (a.counts, a.inferred.iter().map(|&k| executed[k]).collect())
        }
    };
    for (&i, (matched, modified)) in executed.iter().zip(counts) {
        outcomes[i] = Some(if answer.write_concern_error.is_some() {
            Outcome::WriteConcernFailed { matched, modified }
        } else {
            Outcome::Acked { matched, modified }
        });
    }
    Settled {
        outcomes: outcomes.into_iter().map(|o| o.expect("every op settled")).collect(),
        inferred,
        stopped: first_error.is_some(),
    }
}

#[cfg(test)]
mod tests;
