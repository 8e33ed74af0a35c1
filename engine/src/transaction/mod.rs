//! Multi-document transactions: a scenario's `transactions:` streams. Each
//! transaction updates a few documents of one collection and inserts one document
//! into another, atomically, and then commits or aborts, by weight (an abort sends
//! the writes first, as an application that gives up does).
//!
//! A stream is its collections' only writer, so it knows every document it holds:
//! it loads the updated collection before the first phase, keeps its documents, and
//! journals each committed write, with the document's content hash afterwards, in
//! the collections' ordinary journals (`forge verify --journal` checks them). Its
//! transaction log ([`log`]) lists every transaction, committed or aborted, with its
//! session and its place among the session's transactions, so `forge verify
//! --transactions` can check that a committed one's change events share one `lsid`
//! and `txnNumber` and that an aborted one left no trace.
//!
//! Everything a transaction does is drawn from (stream seed, transaction index)
//! ([`Spec::plan`]), so the same seed gives the same transactions.

pub mod log;
mod plan;
pub mod report;
mod runner;

use std::sync::Arc;

use bson::Document;

pub use plan::Planned;
pub use report::TransactionReport;
pub use runner::{Outputs, Progress, Workload, hex, run};

use crate::schema::Schema;

/// What each transaction of a stream does.
#[derive(Debug, Clone)]
pub struct Spec {
    /// How many documents of `update` one transaction changes: from, to (inclusive).
    pub size: (u64, u64),
    /// Relative weights of committing and aborting.
    pub commit: f64,
    pub abort: f64,
    pub update: Option<Updated>,
    pub insert: Option<Inserted>,
}

/// The collection a stream updates.
#[derive(Debug, Clone)]
pub struct Updated {
    pub collection: String,
    pub schema: Arc<Schema>,
    /// Documents loaded before the first phase: the ones transactions update.
    pub documents: u64,
    /// The update: `$inc` of these fields.
    pub inc: Document,
}

/// The collection a stream inserts into.
#[derive(Debug, Clone)]
pub struct Inserted {
    pub collection: String,
    pub schema: Arc<Schema>,
    /// A top-level field set to the `_id`s the transaction updated.
    pub record: Option<String>,
}
