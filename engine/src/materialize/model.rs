//! The document model: every document a shard may still target, as it stands after
//! every earlier write of the run to it, kept as raw BSON. Plugins read it as the
//! target's current document; with a journal it also predicts each write's effect.
//!
//! It holds only what the planner may still target: the planner tells a shard when
//! an `_id` leaves its targets (evicted, removed), so memory follows `--id-cache-size`.

use std::collections::HashMap;
use std::sync::Arc;

use bson::{Bson, Document, RawDocument, RawDocumentBuf};

use crate::plan::{IdKey, State, Write};

/// A document's expected state after an operation.
#[derive(Debug, Clone, PartialEq)]
pub enum Expect {
    /// It exists with this content hash (see [`crate::journal::doc_hash`]).
    Exists(u64),
    /// It does not exist.
    Gone,
    /// Unknown: its content came from the server, not from this run's own writes, so
    /// forge cannot vouch for it (`mutate`).
    Unknown,
}

/// One document the model holds.
#[derive(Debug)]
struct Slot {
    /// Its content; `None` once deleted (a `keep` delete leaves its `_id` targetable).
    /// Shared with the writes that carry it as their before or after state.
    doc: Option<Arc<RawDocumentBuf>>,
    /// Whether the run wrote it (an insert) rather than read it from the server.
    ours: bool,
    /// The operation index of the last write made on it (see [`super::corrections`]).
    last: u64,
}

/// Why a write could not be applied to the model.
pub type ApplyError = crate::model::update::UpdateError;

#[derive(Debug, Default)]
pub struct Model {
    docs: HashMap<IdKey, Slot>,
    /// The field a tombstone fills with the server's time, left out of hashes.
    server_time_field: Option<String>,
}

impl Model {
    pub fn new(server_time_field: Option<String>) -> Self {
        Model { docs: HashMap::new(), server_time_field }
    }

    /// The document as it stands, if it exists and the model holds it.
    pub fn current(&self, id: &Bson) -> Option<&RawDocument> {
        self.docs.get(&IdKey::of(id))?.doc.as_deref().map(|d| d.as_ref())
    }

    /// The document's state as the model holds it.
    pub fn state(&self, id: &Bson) -> State {
        match self.docs.get(&IdKey::of(id)) {
            None => State::Unknown,
            Some(Slot { doc: None, .. }) => State::Absent,
            Some(Slot { doc: Some(d), .. }) => State::Doc(d.clone()),
        }
    }

    /// A document this run inserted.
    pub fn insert(&mut self, id: &Bson, doc: Arc<RawDocumentBuf>) {
        self.docs.insert(IdKey::of(id), Slot { doc: Some(doc), ours: true, last: 0 });
    }

    /// A document read from the server; what the model already holds is newer.
    pub fn know(&mut self, id: &Bson, doc: RawDocumentBuf) {
        self.docs.entry(IdKey::of(id)).or_insert(Slot { doc: Some(Arc::new(doc)), ours: false, last: 0 });
    }

    /// Sets the document's state to what the server is known to hold (a write the
    /// model applied failed, or its fate was read back). An unknown state drops the
    /// document: the model no longer vouches for it. A document the model no longer
    /// holds stays forgotten.
    pub fn correct(&mut self, id: &Bson, state: State) {
        let key = IdKey::of(id);
        match state {
            State::Unknown => {
                self.docs.remove(&key);
            }
            State::Absent | State::Doc(_) => {
                if let Some(slot) = self.docs.get_mut(&key) {
                    slot.doc = match state {
                        State::Doc(d) => Some(d),
                        _ => None,
                    };
                }
            }
        }
    }

    /// Notes that the write `seq` was made on `id`.
    pub fn touch(&mut self, id: &Bson, seq: u64) {
        if let Some(slot) = self.docs.get_mut(&IdKey::of(id)) {
            slot.last = seq;
        }
    }

    /// The operation index of the last write made on `id`, if the model holds it.
    pub fn last(&self, id: &Bson) -> Option<u64> {
        self.docs.get(&IdKey::of(id)).map(|s| s.last)
    }

    pub fn forget(&mut self, id: &Bson) {
        self.docs.remove(&IdKey::of(id));
    }

    pub fn len(&self) -> usize {
        self.docs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    /// The expected state of `id` now, for the journal.
    pub fn expect(&self, id: &Bson) -> Expect {
        match self.docs.get(&IdKey::of(id)) {
            None | Some(Slot { ours: false, .. }) => Expect::Unknown,
            Some(_) => expect_of(&self.state(id), self.server_time_field.as_deref()),
        }
    }

    /// The field left out of content hashes (see [`crate::journal::doc_hash`]).
    pub fn server_time_field(&self) -> Option<&str> {
        self.server_time_field.as_deref()
    }

    /// Applies an update whose filter is `{_id}` plus `guard` (`now` stands for the
    /// server's time in `$currentDate`); returns the documents it should match.
    pub fn update(
        &mut self,
        id: &Bson,
        guard: Option<&Document>,
        update: &Document,
        now: bson::DateTime,
    ) -> Result<Option<u64>, ApplyError> {
        let Some(slot) = self.docs.get_mut(&IdKey::of(id)) else { return Ok(None) };
        let Some(raw) = &slot.doc else { return Ok(Some(0)) };
        let doc = decode(raw);
        if !guard.is_none_or(|g| crate::model::filter::passes(&doc, g)) {
            return Ok(Some(0));
        }
        // On error the slot keeps the encoded document as it was.
        let doc = crate::model::update::apply_owned(doc, update, now)?;
        slot.doc = Some(Arc::new(encode(&doc)));
        Ok(Some(1))
    }

    /// Replaces the document (keeping its `_id`, first as the server keeps it).
    pub fn replace(&mut self, id: &Bson, guard: Option<&Document>, replacement: &Document) -> Option<u64> {
        let slot = self.docs.get_mut(&IdKey::of(id))?;
        let Some(raw) = slot.doc.as_ref() else { return Some(0) };
        if let Some(g) = guard
            && !crate::model::filter::passes(&decode(raw), g)
        {
            return Some(0);
        }
        let mut doc = Document::new();
        doc.insert("_id", id.clone());
        doc.extend(replacement.iter().filter(|(k, _)| *k != "_id").map(|(k, v)| (k.clone(), v.clone())));
        slot.doc = Some(Arc::new(encode(&doc)));
        Some(1)
    }

    /// Deletes the document; returns the documents it should match.
    pub fn delete(&mut self, id: &Bson, guard: Option<&Document>) -> Option<u64> {
        let slot = self.docs.get_mut(&IdKey::of(id))?;
        let Some(raw) = slot.doc.as_ref() else { return Some(0) };
        if let Some(g) = guard
            && !crate::model::filter::passes(&decode(raw), g)
        {
            return Some(0);
        }
        slot.doc = None;
        Some(1)
    }
}

/// What `write` does to its target in state `before` (`now` stands for the server's
/// time): the documents it matches and the state it leaves, as the model predicts it
/// for a write whose earlier neighbour did not do what the model expected.
pub fn transition(write: &Write, before: &State, now: bson::DateTime) -> (Option<u64>, State) {
    let doc = match (write, before) {
        (Write::Insert(raw), State::Absent | State::Unknown) => return (Some(1), State::Doc(raw.clone())),
        // A duplicate `_id`: the server refuses it.
        (Write::Insert(_), State::Doc(_)) => return (Some(0), before.clone()),
        (_, State::Unknown) => return (None, State::Unknown),
        (_, State::Absent) => return (Some(0), State::Absent),
        (_, State::Doc(raw)) => decode(raw),
    };
    let filter = match write {
        Write::Update { filter, .. } | Write::Replace { filter, .. } | Write::Delete { filter } => filter,
        Write::Insert(_) => unreachable!("inserts returned above"),
    };
    if !crate::model::filter::passes(&doc, filter) {
        return (Some(0), before.clone());
    }
    match write {
        Write::Update { update, .. } => match crate::model::update::apply_owned(doc, update, now) {
            Ok(doc) => (Some(1), State::Doc(Arc::new(encode(&doc)))),
            // The server refuses it too, most likely; the answer will tell.
            Err(_) => (None, State::Unknown),
        },
        Write::Replace { replacement, .. } => {
            let mut out = Document::new();
            out.insert("_id", doc.get("_id").cloned().unwrap_or(Bson::Null));
            out.extend(replacement.iter().filter(|(k, _)| *k != "_id").map(|(k, v)| (k.clone(), v.clone())));
            (Some(1), State::Doc(Arc::new(encode(&out))))
        }
        _ => (Some(1), State::Absent),
    }
}

/// The journal's expected state for `state`, hashing as the model does.
pub fn expect_of(state: &State, server_time_field: Option<&str>) -> Expect {
    match state {
        State::Unknown => Expect::Unknown,
        State::Absent => Expect::Gone,
        State::Doc(raw) => match Document::try_from(raw.as_ref().as_ref()) {
            Ok(doc) => Expect::Exists(crate::journal::doc_hash(&doc, server_time_field)),
            Err(_) => Expect::Unknown,
        },
    }
}

fn decode(raw: &RawDocument) -> Document {
    Document::try_from(raw).expect("the model holds only documents it encoded")
}

fn encode(doc: &Document) -> RawDocumentBuf {
    RawDocumentBuf::try_from(doc).expect("documents the model built encode")
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{doc, rawdoc};

    #[test]
    fn tracks_updates_deletes_and_guards() {
        let now = bson::DateTime::from_millis(1_700_000_000_000);
        let mut m = Model::new(Some("_deletedAt".into()));
        let id = Bson::Int32(1);
        m.insert(&id, Arc::new(rawdoc! { "_id": 1, "v": 1 }));
        let guard = doc! { "_deleted": { "$ne": true } };
        let tomb = doc! { "$set": { "_deleted": true }, "$currentDate": { "_deletedAt": true } };
        assert_eq!(m.update(&id, Some(&guard), &tomb, now).unwrap(), Some(1));
        assert_eq!(m.current(&id).unwrap().get_datetime("_deletedAt").unwrap(), now);
        assert_eq!(m.update(&id, Some(&guard), &doc! { "$set": { "v": 2 } }, now).unwrap(), Some(0));
        assert_eq!(m.delete(&id, None), Some(1));
        assert_eq!(m.expect(&id), Expect::Gone);
        assert_eq!(m.update(&id, None, &doc! { "$set": { "v": 3 } }, now).unwrap(), Some(0));
        // A deleted document (its `_id` still targetable) is matched by nothing.
        assert_eq!((m.replace(&id, None, &doc! { "v": 4 }), m.delete(&id, None)), (Some(0), Some(0)));
        assert_eq!(m.update(&Bson::Int32(9), None, &doc! { "$set": { "v": 3 } }, now).unwrap(), None);
        assert_eq!(m.expect(&Bson::Int32(9)), Expect::Unknown);
    }

    #[test]
    fn documents_read_from_the_server_are_seen_but_not_vouched_for() {
        let mut m = Model::new(None);
        let id = Bson::Int32(2);
        m.know(&id, rawdoc! { "_id": 2, "v": 1 });
        assert_eq!(m.current(&id).unwrap().get_i32("v").unwrap(), 1);
        assert_eq!(m.expect(&id), Expect::Unknown);
        m.replace(&id, None, &doc! { "w": 1 });
        assert_eq!(Document::try_from(m.current(&id).unwrap()).unwrap(), doc! { "_id": 2, "w": 1 });
    }
}
