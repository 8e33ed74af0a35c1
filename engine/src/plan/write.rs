//! A materialized operation: what a writer sends, and what it should do.

use std::sync::Arc;

use bson::{Bson, Document, RawDocumentBuf};

use super::OpKind;
use crate::materialize::model::Expect;

/// One write, in the shape the writer sends it.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// A generated document, serialised where it was generated (shared with the
    /// model, which holds it as the document's state).
    Insert(Arc<RawDocumentBuf>),
    Update {
        filter: Document,
        update: Document,
    },
    Replace {
        filter: Document,
        replacement: Document,
    },
    Delete {
        filter: Document,
    },
}

impl Write {
    /// The write's name in the journal.
    pub fn name(&self) -> &'static str {
        match self {
            Write::Insert(_) => "insert",
            Write::Update { .. } => "update",
            Write::Replace { .. } => "replace",
            Write::Delete { .. } => "delete",
        }
    }

    /// Its bytes as a driver would serialise them: what a dry run pays instead of
    /// sending.
    pub fn encoded_len(&self) -> usize {
        let len = |d: &Document| bson::serialize_to_vec(d).map_or(0, |v| v.len());
        match self {
            Write::Insert(raw) => raw.as_bytes().len(),
            Write::Update { filter, update } => len(filter) + len(update),
            Write::Replace { filter, replacement } => len(filter) + len(replacement),
            Write::Delete { filter } => len(filter),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct OpPlan {
    /// The operation index: its place in the plan.
    pub index: u64,
    /// The kind the mix chose (a tombstone delete is a `Delete` written as an update).
    pub kind: OpKind,
    /// The target's (or the new document's) `_id`.
    pub id: Bson,
    /// The shard that owns `id`: its materializer made this write, its writer sends it.
    pub shard: usize,
    pub write: Write,
    /// The target's state before and after the write, as the shard's model predicts:
    /// what a writer compares with the server's document to tell whether a write
    /// lost in transit applied, and what it resets the model to when a write fails.
    pub change: Change,
    /// What the operation should do, when the run keeps a journal.
    pub expect: Option<Expectation>,
    /// When it should have started: its slot on the `--rate-limit` schedule, or when it
    /// was planned. Its response time counts from here.
    pub scheduled: std::time::Instant,
}

/// A document's state as a shard's model knows it.
#[derive(Debug, Clone, PartialEq)]
pub enum State {
    /// The model does not know it (a document `mutate` did not read, a bulk load
    /// that keeps nothing, a document whose fate a failure left unknown).
    Unknown,
    /// It does not exist.
    Absent,
    /// It exists with this content.
    Doc(Arc<RawDocumentBuf>),
}

impl State {
    /// Whether two states are the same content (`Unknown` is never known equal).
    pub fn same_as(&self, other: &State) -> bool {
        match (self, other) {
            (State::Absent, State::Absent) => true,
            (State::Doc(a), State::Doc(b)) => Arc::ptr_eq(a, b) || a.as_bytes() == b.as_bytes(),
            _ => false,
        }
    }
}

/// What one write does to its target, as the model predicts it.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub before: State,
    pub after: State,
    /// Documents it should match (inserted, matched or deleted); `None`: unknown.
    pub matched: Option<u64>,
    /// Documents it should modify; `None`: unknown.
    pub modified: Option<u64>,
}

impl Change {
    /// The change of a write whose states are `before` and `after`, matching `matched`.
    pub fn new(before: State, after: State, matched: Option<u64>) -> Self {
        let modified = match (&before, &after, matched) {
            (_, _, Some(0)) => Some(0),
            (State::Unknown, _, _) | (_, State::Unknown, _) | (_, _, None) => None,
            (b, a, Some(_)) => Some(u64::from(!b.same_as(a))),
        };
        Change { before, after, matched, modified }
    }
}

/// The model's prediction for one operation.
#[derive(Debug, Clone, PartialEq)]
pub struct Expectation {
    /// Documents it should match (None: unknown).
    pub matched: Option<u64>,
    pub state: Expect,
}
