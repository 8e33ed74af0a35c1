//! Delete behaviors: what a delete does to its target and whether it stays targetable.

use bson::{Document, doc};

#[derive(Debug, Clone, PartialEq)]
pub enum DeleteBehavior {
    /// `deleteOne`, and forget the `_id`.
    Remove,
    /// `deleteOne`, but keep targeting the `_id`: exercises updates after deletes.
    Keep,
    /// A soft delete: the document gets `<flag>: true` and `<time>: now` (server time)
    /// instead of being removed, and stays targetable.
    Tombstone { flag: String, time: String },
}

/// The write a delete turns into.
#[derive(Debug, Clone, PartialEq)]
pub enum DeleteAction {
    Delete,
    Update(Document),
}

impl DeleteBehavior {
    pub fn action(&self) -> DeleteAction {
        match self {
            DeleteBehavior::Remove | DeleteBehavior::Keep => DeleteAction::Delete,
            DeleteBehavior::Tombstone { flag, time } => {
                DeleteAction::Update(doc! { "$set": { flag.as_str(): true }, "$currentDate": { time.as_str(): true } })
            }
        }
    }

    /// Whether the planner drops the `_id` from its targets after the delete.
    pub fn forgets(&self) -> bool {
        matches!(self, DeleteBehavior::Remove)
    }

    /// The filter guard that makes a write skip documents this behavior already deleted.
    pub fn guard(&self) -> Option<Document> {
        match self {
            DeleteBehavior::Tombstone { flag, .. } => Some(doc! { flag.as_str(): { "$ne": true } }),
            _ => None,
        }
    }
}
