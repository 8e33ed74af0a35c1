//! The final-state check: the documents a collection holds against the state the
//! journal leaves each one in.
//!
//! The expected states are held in memory by `_id`, as an [`IdKey`] and a content
//! hash (the `_id` as BSON is rebuilt from its key when a report needs it); the
//! collection's documents are compared one at a time as they are read
//! ([`Comparison::document`]), never held whole. When the collection held documents
//! before the run, only the journaled ones are read: [`FinalState::into_batches`]
//! splits the state so that each batch's `_id`s can be looked up together.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use bson::{Bson, Document};

use super::changed_id;
use super::diff::{DocumentDiff, History};
use super::report::{FinalStateCheck, OffVersion};
use super::sink_types::{SinkTypes, flat_id};
use crate::journal::{Entry, doc_hash};
use crate::materialize::model::Expect;
use crate::plan::IdKey;
use crate::schema::Schema;

/// The state the journal leaves each document in, built entry by entry.
#[derive(Debug, Default)]
pub struct FinalState {
    docs: HashMap<IdKey, Expected>,
    /// Left out of content hashes: the server sets it (see the journal header).
    server_time_field: Option<String>,
    /// A scenario's schema versions (from the journal header), each from its first
    /// operation on: documents last written whole are checked against the version
    /// they were written under.
    versions: Arc<Vec<(u64, Schema)>>,
    /// Only documents written at or after this point are checked (`--since`).
    since: Option<Since>,
}

/// Where a pipeline's first sync began: documents whose last write came before it
/// never reach a sink that takes no snapshot, so they are left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    /// From this journal entry (seq) on.
    Seq(u64),
    /// From this acknowledgement time (milliseconds since the epoch) on.
    Time(i64),
}

impl Since {
    /// Whether an entry `seq` acknowledged at `acked_at_ms` is at or after this point.
    pub fn covers(self, seq: u64, acked_at_ms: i64) -> bool {
        match self {
            Since::Seq(s) => seq >= s,
            Since::Time(t) => acked_at_ms >= t,
        }
    }
}

/// What the journal says one document should be.
#[derive(Debug)]
struct Expected {
    state: Expect,
    /// The `_id` was journaled as a 32-bit integer ([`IdKey`] holds every integer as
    /// 64 bits): reports then show it with the type it was written with.
    narrow: bool,
    /// Its last journaled operation, when it wrote the whole document (an insert or
    /// a replacement): an update leaves a mix of versions' fields, legitimately.
    whole: Option<u64>,
    /// Its journaled documents, as far as a diff needs them: only once an entry of it
    /// carried one (journals written with documents).
    history: Option<Box<History>>,
    /// Its last journaled entry: (seq, acknowledgement time).
    last: (u64, i64),
}

impl FinalState {
    /// An empty final state, for a journal whose hashes leave out `server_time_field`.
    pub fn new(server_time_field: Option<String>) -> Self {
        FinalState { docs: HashMap::new(), server_time_field, versions: Arc::default(), since: None }
    }

    /// Checks each document's shape against the schema version it was last written
    /// under too.
    pub fn with_versions(mut self, versions: Vec<(u64, Schema)>) -> Self {
        self.versions = Arc::new(versions);
        self
    }

    /// Leaves out the documents whose last write came before `since`.
    pub fn since(mut self, since: Option<Since>) -> Self {
        self.since = since;
        self
    }

    /// Applies one entry; entries come in journal order, so a document's last one wins.
    /// An entry whose write concern failed was applied all the same: it counts like any
    /// other (should the write roll back, the difference is real and shown).
    pub fn record(&mut self, entry: &Entry) {
        let Some(id) = changed_id(entry) else { return };
        // A delete leaves its document gone even when the planner did not know it.
        let state = if entry.write == "delete" && entry.expect.is_none() { Expect::Gone } else { entry.state() };
        let narrow = matches!(id, Bson::Int32(_));
        let whole = matches!(entry.write.as_str(), "insert" | "replace").then_some(entry.seq);
        let expected = self.docs.entry(IdKey::of(&id)).or_insert(Expected {
            state: Expect::Unknown,
            narrow,
            whole: None,
            history: None,
            last: (0, 0),
        });
        (expected.state, expected.narrow, expected.whole) = (state, narrow, whole);
        expected.last = (entry.seq, entry.acked_at_ms);
        let doc = entry.bson_document();
        if doc.is_some() || expected.history.is_some() {
            let history = expected.history.get_or_insert_default();
            history.record(entry.seq, doc.as_ref(), self.server_time_field.as_deref());
        }
    }

    /// How many documents the journal says something about.
    pub fn len(&self) -> usize {
        self.docs.len()
    }

    /// Whether the journal changed no document.
    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    /// The `_id`s of the documents, as BSON (to look them up).
    pub fn ids(&self) -> Vec<Bson> {
        self.docs.iter().map(|(key, e)| id_of(key, e.narrow)).collect()
    }

    /// This state split into states of at most `size` documents each, consumed as
    /// they are taken.
    pub fn into_batches(self, size: usize) -> impl Iterator<Item = FinalState> {
        let FinalState { docs, server_time_field, versions, since } = self;
        let mut docs = docs.into_iter();
        std::iter::from_fn(move || {
            let batch: HashMap<_, _> = docs.by_ref().take(size.max(1)).collect();
            (!batch.is_empty()).then(|| FinalState {
                docs: batch,
                server_time_field: server_time_field.clone(),
                versions: versions.clone(),
                since,
            })
        })
    }

    /// Starts comparing the collection's documents with this state.
    pub fn compare(self) -> Comparison {
        self.compare_as(&SinkTypes::lossless())
    }

    /// Starts comparing a sink's documents, whose types `types` maps, with this state.
    pub fn compare_as(mut self, types: &SinkTypes) -> Comparison {
        let mut excluded = HashSet::new();
        if let Some(since) = self.since {
            self.docs.retain(|key, e| {
                let keep = since.covers(e.last.0, e.last.1);
                if !keep {
                    excluded.insert(key.clone());
                }
                keep
            });
        }
        let flat = if types.is_lossless() {
            HashMap::new()
        } else {
            let ids = self.docs.iter().map(|(k, e)| (flat_id(&id_of(k, e.narrow)), k.clone()));
            ids.chain(excluded.iter().map(|k| (flat_id(&id_of(k, false)), k.clone()))).collect()
        };
        let check = FinalStateCheck {
            journaled_documents: self.docs.len() as u64,
            excluded_before_since: excluded.len() as u64,
            ..Default::default()
        };
        let types = (!types.is_lossless()).then(|| types.clone());
        Comparison { pending: self, check, types, flat, excluded, journaled_only: false }
    }
}

/// The `_id` a key stands for.
fn id_of(key: &IdKey, narrow: bool) -> Bson {
    match key {
        IdKey::ObjectId(bytes) => Bson::ObjectId(bson::oid::ObjectId::from_bytes(*bytes)),
        IdKey::Int(n) if narrow => i32::try_from(*n).map_or(Bson::Int64(*n), Bson::Int32),
        IdKey::Int(n) => Bson::Int64(*n),
        IdKey::String(s) => Bson::String(s.clone()),
        // The key is the `_id` encoded as the only field (named "") of a document.
        IdKey::Other(bytes) => bson::RawDocument::from_bytes(bytes)
            .ok()
            .and_then(|d| d.get("").ok().flatten())
            .and_then(|v| Bson::try_from(v).ok())
            .unwrap_or(Bson::Null),
    }
}

/// A collection's documents, fed in any order, compared with a [`FinalState`].
#[derive(Debug)]
pub struct Comparison {
    /// The expected documents not seen yet.
    pending: FinalState,
    check: FinalStateCheck,
    /// How the sink maps types, unless it keeps them all.
    types: Option<SinkTypes>,
    /// A flattening sink's `_id`s ([`flat_id`]) → the journal's.
    flat: HashMap<String, IdKey>,
    /// Documents left out (`--since`): neither expected nor extra.
    excluded: HashSet<IdKey>,
    /// Documents the journal does not know are passed over, not extra: the source
    /// held documents before the run, or some writers' journals are missing.
    journaled_only: bool,
}

impl Comparison {
    /// Passes over the documents the journal does not know instead of calling them
    /// extra (a sink read whole whose source held documents before the run).
    pub fn journaled_only(mut self) -> Self {
        self.journaled_only = true;
        self.check.journaled_only = true;
        self
    }

    /// Compares one document of the collection.
    pub fn document(&mut self, doc: &Document) {
        let (key, restored) = self.restore(doc);
        let doc = restored.as_ref().unwrap_or(doc);
        if self.passes_over(&key) {
            return;
        }
        self.check.documents += 1;
        let id = doc.get("_id").cloned().unwrap_or(Bson::Null);
        let expected = self.pending.docs.remove(&key);
        if let Some(Expected { state: Expect::Exists(_), whole: Some(seq), .. }) = &expected
            && let Some(version) = self.pending.versions.iter().rposition(|(from, _)| from <= seq)
        {
            let schema = &self.pending.versions[version].1.compiled;
            if let Err(v) = crate::schema::validate::shape(schema, doc, self.pending.server_time_field.as_deref()) {
                self.check.off_version.push(OffVersion { id: id.clone(), version, path: v.path, problem: v.problem });
            }
        }
        match expected {
            None | Some(Expected { state: Expect::Gone, .. }) => self.check.extra.push(id),
            Some(Expected { state: Expect::Exists(hash), history, .. })
                if doc_hash(doc, self.pending.server_time_field.as_deref()) != hash =>
            {
                let found = history.and_then(|h| h.diff(doc, self.pending.server_time_field.as_deref()));
                if let Some(paths) = found.filter(|p| !p.is_empty()) {
                    self.check.diffs.push(DocumentDiff { id: id.clone(), paths });
                }
                self.check.stale.push(id)
            }
            Some(_) => {}
        }
    }

    /// A document the sink holds whose content it cannot tell (an event log that
    /// updated a document it never carried): it must exist, in any shape.
    pub fn present(&mut self, id: &Bson) {
        let key = self.key_of(id);
        if self.passes_over(&key) {
            return;
        }
        self.check.documents += 1;
        match self.pending.docs.remove(&key) {
            None | Some(Expected { state: Expect::Gone, .. }) => self.check.extra.push(id.clone()),
            Some(_) => {}
        }
    }

    /// Whether the document keyed `key` is neither expected nor extra: left out by
    /// `--since`, or unknown to the journal when only journaled documents count.
    fn passes_over(&self, key: &IdKey) -> bool {
        self.excluded.contains(key) || (self.journaled_only && !self.pending.docs.contains_key(key))
    }

    /// The journal's key for a sink's `_id`: as it is, or as the journaled `_id` a
    /// flattening sink turned it from.
    fn key_of(&self, id: &Bson) -> IdKey {
        let key = IdKey::of(id);
        if self.types.is_none() || self.pending.docs.contains_key(&key) || self.excluded.contains(&key) {
            return key;
        }
        self.flat.get(&flat_id(id)).cloned().unwrap_or(key)
    }

    /// The document's key, and the document with its types restored (see
    /// [`SinkTypes::restore`]) when the sink maps them.
    fn restore(&self, doc: &Document) -> (IdKey, Option<Document>) {
        let id = doc.get("_id").unwrap_or(&Bson::Null);
        let key = self.key_of(id);
        let Some(types) = &self.types else { return (key, None) };
        let expected = self.pending.docs.get(&key);
        let base = expected.and_then(|e| e.history.as_ref()).and_then(|h| h.latest_document()).unwrap_or_default();
        let mut restored = types.restore(&base, doc);
        if let Some(e) = expected {
            restored.insert("_id", id_of(&key, e.narrow));
        }
        (key, Some(restored))
    }

    /// The differences, once every document was compared: those never seen are missing.
    pub fn finish(self) -> FinalStateCheck {
        let mut check = self.check;
        let unseen = self.pending.docs.into_iter().filter(|(_, e)| e.state != Expect::Gone);
        check.missing.extend(unseen.map(|(key, e)| id_of(&key, e.narrow)));
        check
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::tests::entry;
    use bson::doc;

    fn hash(d: &Document) -> Expect {
        Expect::Exists(doc_hash(d, None))
    }

    fn check(entries: &[Entry], docs: &[Document]) -> FinalStateCheck {
        let mut state = FinalState::new(None);
        entries.iter().for_each(|e| state.record(e));
        let mut comparison = state.compare();
        docs.iter().for_each(|d| comparison.document(d));
        comparison.finish()
    }

    #[test]
    fn a_collection_as_journaled_has_no_differences() {
        let (a, b) = (doc! { "_id": 1, "v": 1 }, doc! { "_id": 2, "v": 2 });
        let b2 = doc! { "_id": 2, "v": 3 };
        let entries = [
            entry("insert", Bson::Int32(1), 1, 0, hash(&a)),
            entry("insert", Bson::Int32(2), 1, 0, hash(&b)),
            entry("insert", Bson::Int32(3), 1, 0, Expect::Unknown),
            entry("update", Bson::Int32(2), 1, 1, hash(&b2)),
            entry("delete", Bson::Int32(3), 1, 0, Expect::Unknown),
        ];
        let found = check(&entries, &[b2, a]);
        assert_eq!(found, FinalStateCheck { documents: 2, journaled_documents: 3, ..Default::default() });
    }

    #[test]
    fn finds_missing_extra_and_stale_documents() {
        let (a, b, c) = (doc! { "_id": 1 }, doc! { "_id": 2 }, doc! { "_id": 3 });
        let entries = [
            entry("insert", Bson::Int32(1), 1, 0, hash(&a)),
            entry("insert", Bson::Int32(2), 1, 0, hash(&b)),
            entry("insert", Bson::Int32(3), 1, 0, hash(&c)),
            entry("update", Bson::Int32(3), 1, 1, Expect::Gone),
        ];
        let tampered = doc! { "_id": 2, "status": "tampered" };
        let invented = doc! { "_id": "nobody" };
        let found = check(&entries, &[tampered, c, invented]);
        assert_eq!(found.documents, 3);
        assert_eq!(found.missing, [Bson::Int32(1)]);
        assert_eq!(found.stale, [Bson::Int32(2)]);
        assert_eq!(found.extra, [Bson::Int32(3), Bson::String("nobody".into())], "tombstoned, then unknown");
        assert_eq!(found.differences(), 4);
    }

    #[test]
    fn stale_documents_of_a_journal_with_documents_come_with_their_differing_paths() {
        let a = doc! { "_id": 1, "v": 1, "notes": "n" };
        let a2 = doc! { "_id": 1, "v": 2 };
        let b = doc! { "_id": 2, "v": 1 };
        let with = |e: Entry, seq: u64, d: &Document| Entry { seq, ..e.with_document(d) };
        let entries = [
            with(entry("insert", Bson::Int32(1), 1, 0, hash(&a)), 3, &a),
            with(entry("insert", Bson::Int32(2), 1, 0, hash(&b)), 4, &b),
            with(entry("update", Bson::Int32(1), 1, 1, hash(&a2)), 8, &a2),
            // Its content unknown: stale or not, nothing to diff against.
            entry("insert", Bson::Int32(3), 1, 0, hash(&doc! { "_id": 3 })),
        ];
        let found = check(&entries, &[doc! { "_id": 1, "v": 2, "notes": "n" }, b, doc! { "_id": 3, "x": 1 }]);
        assert_eq!(found.stale, [Bson::Int32(1), Bson::Int32(3)]);
        assert_eq!(found.diffs.len(), 1, "{:?}", found.diffs);
        let d = &found.diffs[0];
        assert_eq!(d.id, Bson::Int32(1));
        let paths: Vec<_> = d.paths.iter().map(|p| (p.path.as_str(), p.kind, p.unset_since)).collect();
        assert_eq!(paths, [("notes", crate::verify::PathKind::Extra, Some(8))]);
    }

    #[test]
    fn since_leaves_out_the_documents_last_written_before_it_and_their_presence() {
        let (a, b) = (doc! { "_id": 1 }, doc! { "_id": 2 });
        let at = |e: Entry, seq: u64| Entry { seq, acked_at_ms: seq as i64 * 10, ..e };
        let entries = [
            at(entry("insert", Bson::Int32(1), 1, 0, hash(&a)), 1),
            at(entry("insert", Bson::Int32(2), 1, 0, hash(&b)), 2),
            at(entry("update", Bson::Int32(1), 1, 1, hash(&a)), 5),
        ];
        for since in [Since::Seq(3), Since::Time(30)] {
            let mut state = FinalState::new(None).since(Some(since));
            entries.iter().for_each(|e| state.record(e));
            let mut comparison = state.compare();
            // Document 2 never reached the sink; had it, it would be neither extra nor stale.
            comparison.document(&a);
            let found = comparison.finish();
            assert_eq!((found.differences(), found.excluded_before_since, found.journaled_documents), (0, 1, 1));
            let mut state = FinalState::new(None).since(Some(since));
            entries.iter().for_each(|e| state.record(e));
            let mut comparison = state.compare();
            comparison.document(&doc! { "_id": 2, "other": true });
            assert_eq!(comparison.finish().missing, [Bson::Int32(1)]);
        }
    }

    #[test]
    fn operations_that_matched_nothing_change_nothing() {
        let a = doc! { "_id": 1 };
        let entries = [
            entry("insert", Bson::Int32(1), 1, 0, hash(&a)),
            entry("delete", Bson::Int32(1), 0, 0, Expect::Gone),
            entry("update", Bson::Int32(2), 0, 0, hash(&doc! { "_id": 2 })),
        ];
        assert_eq!(check(&entries, std::slice::from_ref(&a)).differences(), 0);
    }

    #[test]
    fn a_document_of_unknown_content_must_exist_in_any_shape() {
        let entries = [entry("update", Bson::Int32(1), 1, 1, Expect::Unknown)];
        assert_eq!(check(&entries, &[doc! { "_id": 1, "any": "thing" }]).differences(), 0);
        assert_eq!(check(&entries, &[]).missing, [Bson::Int32(1)]);
    }

    #[test]
    fn ids_compare_as_the_server_compares_them() {
        let a = doc! { "_id": 7_i64 };
        let entries = [entry("insert", Bson::Int32(7), 1, 0, hash(&doc! { "_id": 7 }))];
        // Same _id, but an int64 hashes differently from the int32 journaled.
        let found = check(&entries, &[a]);
        assert_eq!((found.missing.len(), found.extra.len(), found.stale.len()), (0, 0, 1));
    }

    #[test]
    fn the_server_time_field_is_left_out_of_the_content() {
        let planned = doc! { "_id": 1, "deleted": true };
        let mut state = FinalState::new(Some("deletedAt".into()));
        state.record(&entry("update", Bson::Int32(1), 1, 1, hash(&planned)));
        let mut comparison = state.compare();
        comparison.document(&doc! { "_id": 1, "deleted": true, "deletedAt": bson::DateTime::now() });
        assert_eq!(comparison.finish().differences(), 0);
    }

    #[test]
    fn batches_together_find_what_the_whole_finds() {
        let (a, b) = (doc! { "_id": 1, "v": 1 }, doc! { "_id": 2_i64 });
        let entries = [
            entry("insert", Bson::Int32(1), 1, 0, hash(&a)),
            entry("insert", Bson::Int64(2), 1, 0, hash(&b)),
            entry("insert", Bson::String("s".into()), 1, 0, Expect::Unknown),
            entry("update", Bson::Double(0.5), 1, 1, Expect::Unknown),
            entry("delete", Bson::Int32(5), 1, 0, Expect::Gone),
        ];
        let mut state = FinalState::new(None);
        entries.iter().for_each(|e| state.record(e));
        let mut total = FinalStateCheck::default();
        let mut sizes = Vec::new();
        for batch in state.into_batches(2) {
            sizes.push(batch.len());
            let ids = batch.ids();
            let mut comparison = batch.compare();
            // The server returns what exists of the batch's _ids: a, altered; b; 5, deleted yet present.
            for id in ids {
                match id {
                    Bson::Int32(1) => comparison.document(&doc! { "_id": 1, "v": 2 }),
                    Bson::Int64(2) => comparison.document(&b),
                    Bson::Int32(5) => comparison.document(&doc! { "_id": 5 }),
                    _ => {}
                }
            }
            total.absorb(comparison.finish());
        }
        assert_eq!(sizes, [2, 2, 1]);
        assert_eq!((total.documents, total.journaled_documents), (3, 5));
        assert_eq!(total.stale, [Bson::Int32(1)]);
        assert_eq!(total.extra, [Bson::Int32(5)]);
        let mut missing: Vec<String> = total.missing.iter().map(|b| format!("{b:?}")).collect();
        missing.sort();
        assert_eq!(missing, [format!("{:?}", Bson::Double(0.5)), format!("{:?}", Bson::String("s".into()))]);
    }

    #[test]
    fn ids_come_back_with_the_type_they_were_journaled_with() {
        let oid = bson::oid::ObjectId::new();
        let ids = [Bson::Int32(7), Bson::Int64(7_000_000_000), Bson::ObjectId(oid), Bson::String("x".into())];
        for id in ids.into_iter().chain([Bson::Int64(3), Bson::Document(doc! { "a": 1 })]) {
            let mut state = FinalState::new(None);
            state.record(&entry("insert", id.clone(), 1, 0, Expect::Unknown));
            assert_eq!(state.ids(), std::slice::from_ref(&id));
            assert_eq!(state.compare().finish().missing, [id]);
        }
    }
}
