//! A materialized operation: what a writer sends, and what it should do.

use bson::{Bson, Document};

use super::OpKind;
use crate::materialize::model::Expect;

/// One write, in the shape the writer sends it.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// A generated document, serialised where it was generated.
    Insert(bson::RawDocumentBuf),
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
    /// What the operation should do, when the run keeps a journal.
    pub expect: Option<Expectation>,
}

/// The model's prediction for one operation.
#[derive(Debug, Clone, PartialEq)]
pub struct Expectation {
    /// Documents it should match (None: unknown).
    pub matched: Option<u64>,
    pub state: Expect,
}
