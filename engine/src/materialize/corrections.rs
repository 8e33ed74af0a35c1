//! Corrections: what a shard's writer learned that its materializer's model got
//! wrong. The model applies each write as it is made, before the server sees it; when
//! the server refuses a write (or its fate is read back after a lost connection), the
//! document's true state differs from the model's from that write on.
//!
//! The writer records the true state here, as of the last write it settled on that
//! `_id`, and predicts every later write on it from there (their journal states stay
//! true). The materializer adopts a correction once it is as of the last write it made
//! on the `_id`: no write on it is then in flight, so nothing made from the wrong state
//! is left to fix. A correction for a document the model has since forgotten is never
//! adopted; it costs an entry per failed write, and the writer keeps it true.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use bson::Bson;

use crate::plan::{IdKey, State};

/// The true state of an `_id`, as of one write.
#[derive(Debug, Clone)]
struct Correction {
    /// The operation index of the last write settled on the `_id`.
    seq: u64,
    state: State,
}

/// One shard's corrections, shared by its materializer and its writer.
#[derive(Debug, Default)]
pub struct Corrections {
    entries: Mutex<HashMap<IdKey, Correction>>,
    /// Entries held: lets both sides skip the lock while nothing failed.
    count: AtomicUsize,
}

impl Corrections {
    /// Whether there is no correction at all (one atomic read).
    pub fn is_empty(&self) -> bool {
        self.count.load(Ordering::Acquire) == 0
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<IdKey, Correction>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The writer's view: the true state of `id`, if it was corrected.
    pub fn get(&self, id: &Bson) -> Option<State> {
        if self.is_empty() {
            return None;
        }
        self.entries().get(&IdKey::of(id)).map(|c| c.state.clone())
    }

    /// Records the true state of `id` after the write `seq`.
    pub fn set(&self, id: &Bson, seq: u64, state: State) {
        let mut entries = self.entries();
        entries.insert(IdKey::of(id), Correction { seq, state });
        self.count.store(entries.len(), Ordering::Release);
    }

    /// The materializer's side: the true state of `id` when it is as of `last`, the
    /// last write the materializer made on it (the correction is then consumed).
    pub fn take_if_current(&self, id: &Bson, last: u64) -> Option<State> {
        if self.is_empty() {
            return None;
        }
        let mut entries = self.entries();
        let key = IdKey::of(id);
        if entries.get(&key)?.seq != last {
            return None;
        }
        let taken = entries.remove(&key).map(|c| c.state);
        self.count.store(entries.len(), Ordering::Release);
        taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_correction_is_adopted_only_once_no_write_on_its_id_is_in_flight() {
        let c = Corrections::default();
        let id = Bson::Int32(1);
        assert!(c.is_empty() && c.get(&id).is_none());
        c.set(&id, 5, State::Absent);
        assert_eq!(c.get(&Bson::Int64(1)), Some(State::Absent), "ids compare as the server compares them");
        assert_eq!(c.take_if_current(&id, 7), None, "write 7 was made from the wrong state and is in flight");
        c.set(&id, 7, State::Unknown);
        assert_eq!(c.take_if_current(&id, 7), Some(State::Unknown));
        assert!(c.is_empty());
    }
}
