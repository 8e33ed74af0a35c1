//! `forge verify`'s comparisons: does a collection (or a pipeline's copy of it), and
//! optionally its change stream, show what a run's journal (or the journals of its
//! segments) says was acknowledged?
//! The comparisons themselves need no server; [`Check::run`] reads the server and
//! feeds them.

mod change_stream;
mod check;
mod diff;
mod error;
mod event_log;
mod final_state;
mod follow;
mod journals;
mod pg_server;
mod postgres;
mod report;
mod server;
mod sink_types;
mod transactions;

use bson::Bson;

pub use change_stream::{Event, EventRules, ExpectedEvents, SeenEvents};
pub use check::{ChangeStreamOptions, Check};
pub use diff::{DocumentDiff, History, PathDiff, PathKind, diff, paths, type_name};
pub use error::VerifyError;
pub use event_log::{EventLog, EventLogError, Format, Replayed, Tail};
pub use final_state::{Comparison, FinalState, Since};
pub use follow::{FollowSink, Follower, Lag, follow};
pub use journals::{Journals, NotOneRun, Searched};
pub use pg_server::PgServer;
pub use postgres::Table;
pub use report::{ChangeStreamCheck, FinalStateCheck, JournalRead, Report, SegmentsRead, SinkRead};
pub use server::{present, read_transaction_events};
pub use sink_types::{Form, SinkTypes, SinkTypesError, flat_id};
pub use transactions::{TransactionCheck, TxnEvent, compare_events, inserts};

use crate::journal::Entry;

/// The `_id` of the document an entry changed: none when it matched nothing (then it
/// changed nothing) or its `_id` is not valid Extended JSON.
fn changed_id(entry: &Entry) -> Option<Bson> {
    if entry.matched == 0 {
        return None;
    }
    entry.bson_id()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::journal::encode_expect;
    use crate::materialize::model::Expect;

    /// A journal entry of an acknowledged `write` on `id`.
    pub fn entry(write: &str, id: Bson, matched: u64, modified: u64, state: Expect) -> Entry {
        Entry {
            seq: 0,
            kind: write.to_string(),
            write: write.to_string(),
            id: id.into_canonical_extjson(),
            acked_at_ms: 0,
            matched,
            modified,
            expect: encode_expect(&state),
            retried: false,
            write_concern_failed: false,
            document: None,
        }
    }
}
