//! How a stale document differs from the document its journal carries, path by path,
//! and since when the source lacks a path the collection still has.
//!
//! Plain functions over BSON documents. A document's history keeps only its latest
//! journaled document and, per path the source removed, the entry it was removed at:
//! memory follows the journaled `_id`s, never the number of their versions.

use std::collections::{BTreeMap, BTreeSet};

use bson::{Bson, Document, RawDocumentBuf};
use serde::{Serialize, Serializer};

/// How one path differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PathKind {
    /// In the journal's document, not in the collection's.
    Missing,
    /// In the collection's document, not in the journal's.
    Extra,
    /// In both, of one type, with different values.
    Value,
    /// In both, of different types.
    Type,
}

/// One path at which a collection's document differs from the journal's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathDiff {
    /// The path, dotted (arrays are compared whole, so no path goes into one).
    pub path: String,
    pub kind: PathKind,
    /// For a type difference: the BSON type (MongoDB's `$type` alias) in the journal's
    /// document and in the collection's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub journal_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collection_type: Option<&'static str>,
    /// For a path extra in the collection that an earlier journaled document had: the
    /// entry (seq) from which the source no longer had it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unset_since: Option<u64>,
}

impl PathDiff {
    fn new(path: String, kind: PathKind) -> Self {
        PathDiff { path, kind, journal_type: None, collection_type: None, unset_since: None }
    }
}

/// A stale document's differences.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DocumentDiff {
    #[serde(serialize_with = "canonical_id")]
    pub id: Bson,
    pub paths: Vec<PathDiff>,
}

fn canonical_id<S: Serializer>(id: &Bson, s: S) -> Result<S::Ok, S::Error> {
    serde::Serialize::serialize(&id.clone().into_canonical_extjson(), s)
}

/// The paths at which `collection` differs from `journal`, sorted; the top-level
/// `exclude` (the server-set time field) is left out, as content hashes leave it out.
/// Field order does not count, as it does not for the hashes.
pub fn diff(journal: &Document, collection: &Document, exclude: Option<&str>) -> Vec<PathDiff> {
    let mut out = Vec::new();
    diff_into(journal, collection, "", exclude, &mut out);
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

fn diff_into(journal: &Document, collection: &Document, prefix: &str, exclude: Option<&str>, out: &mut Vec<PathDiff>) {
    let skip = |k: &str| prefix.is_empty() && Some(k) == exclude;
    for (key, want) in journal.iter().filter(|(k, _)| !skip(k)) {
        let path = format!("{prefix}{key}");
        match (want, collection.get(key)) {
            (_, None) => out.push(PathDiff::new(path, PathKind::Missing)),
            (Bson::Document(w), Some(Bson::Document(h))) => diff_into(w, h, &format!("{path}."), None, out),
            (w, Some(h)) if w.element_type() != h.element_type() => out.push(PathDiff {
                journal_type: Some(type_name(w)),
                collection_type: Some(type_name(h)),
                ..PathDiff::new(path, PathKind::Type)
            }),
            (w, Some(h)) if !same(w, h) => out.push(PathDiff::new(path, PathKind::Value)),
            _ => {}
        }
    }
    for key in collection.keys().filter(|k| !skip(k) && !journal.contains_key(k.as_str())) {
        out.push(PathDiff::new(format!("{prefix}{key}"), PathKind::Extra));
    }
}

/// Equal as content hashes see it: documents whatever their field order, doubles by
/// their bits.
fn same(a: &Bson, b: &Bson) -> bool {
    match (a, b) {
        (Bson::Document(x), Bson::Document(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        (Bson::Array(x), Bson::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(v, w)| same(v, w)),
        (Bson::Double(x), Bson::Double(y)) => x.to_bits() == y.to_bits(),
        _ => a == b,
    }
}

/// A value's BSON type by MongoDB's `$type` alias.
pub fn type_name(v: &Bson) -> &'static str {
    match v {
        Bson::Double(_) => "double",
        Bson::String(_) => "string",
        Bson::Document(_) => "object",
        Bson::Array(_) => "array",
        Bson::Binary(_) => "binData",
        Bson::Undefined => "undefined",
        Bson::ObjectId(_) => "objectId",
        Bson::Boolean(_) => "bool",
        Bson::DateTime(_) => "date",
        Bson::Null => "null",
        Bson::RegularExpression(_) => "regex",
        Bson::DbPointer(_) => "dbPointer",
        Bson::JavaScriptCode(_) => "javascript",
        Bson::Symbol(_) => "symbol",
        Bson::JavaScriptCodeWithScope(_) => "javascriptWithScope",
        Bson::Int32(_) => "int",
        Bson::Timestamp(_) => "timestamp",
        Bson::Int64(_) => "long",
        Bson::Decimal128(_) => "decimal",
        Bson::MinKey => "minKey",
        Bson::MaxKey => "maxKey",
    }
}

/// Every path of `doc`, dotted: each field, and inside embedded documents each of
/// theirs (not inside arrays); the top-level `exclude` left out.
pub fn paths(doc: &Document, exclude: Option<&str>) -> BTreeSet<String> {
    fn walk(doc: &Document, prefix: &str, exclude: Option<&str>, out: &mut BTreeSet<String>) {
        for (key, value) in doc.iter().filter(|(k, _)| !(prefix.is_empty() && Some(k.as_str()) == exclude)) {
            let path = format!("{prefix}{key}");
            if let Bson::Document(inner) = value {
                walk(inner, &format!("{path}."), None, out);
            }
            out.insert(path);
        }
    }
    let mut out = BTreeSet::new();
    walk(doc, "", exclude, &mut out);
    out
}

/// What is kept of one document's journaled history: the latest entry's document,
/// and for each path an earlier document had and the latest lacks, the entry from
/// which the source no longer had it.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct History {
    /// The document the latest entry carried; none when it carried none (its state
    /// unknown, or gone).
    latest: Option<RawDocumentBuf>,
    /// Path → the seq of the first entry after the last one whose document had it.
    unset: BTreeMap<String, u64>,
}

impl History {
    /// Records the entry `seq` of this document, carrying `doc` or not; entries come
    /// in journal order. An entry without a document ends what is known of every
    /// path the one before had.
    pub fn record(&mut self, seq: u64, doc: Option<&Document>, exclude: Option<&str>) {
        let now = doc.map(|d| paths(d, exclude)).unwrap_or_default();
        if let Some(before) = self.latest_document() {
            for path in paths(&before, exclude) {
                if !now.contains(&path) {
                    self.unset.insert(path, seq);
                }
            }
        }
        self.unset.retain(|path, _| !now.contains(path));
        self.latest = doc.and_then(|d| RawDocumentBuf::try_from(d).ok());
    }

    /// The latest entry's document, if it carried one.
    pub fn latest_document(&self) -> Option<Document> {
        self.latest.as_ref().and_then(|raw| Document::try_from(raw.as_ref()).ok())
    }

    /// How `collection` differs from the latest journaled document (none when the
    /// latest entry carried no document), each extra path with the entry from which
    /// the source lacked it, when an earlier document had it.
    pub fn diff(&self, collection: &Document, exclude: Option<&str>) -> Option<Vec<PathDiff>> {
        let journal = self.latest_document()?;
        let mut found = diff(&journal, collection, exclude);
        for d in found.iter_mut().filter(|d| d.kind == PathKind::Extra) {
            d.unset_since = self.unset.get(&d.path).copied();
        }
        Some(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn kinds(found: &[PathDiff]) -> Vec<(&str, PathKind)> {
        found.iter().map(|d| (d.path.as_str(), d.kind)).collect()
    }

    #[test]
    fn equal_documents_in_any_field_order_do_not_differ() {
        let a = doc! { "_id": 1, "x": { "p": 1, "q": [1, { "r": 2.5, "s": "t" }] }, "n": null };
        let b = doc! { "n": null, "x": { "q": [1, { "s": "t", "r": 2.5 }], "p": 1 }, "_id": 1 };
        assert_eq!(diff(&a, &b, None), []);
    }

    #[test]
    fn names_missing_extra_value_and_type_differences_at_every_depth() {
        let journal = doc! {
            "_id": 1, "name": "a", "count": 3, "gone": true,
            "address": { "city": "Oslo", "zip": "0150", "geo": { "lat": 1.5 } },
            "tags": ["x", "y"],
        };
        let collection = doc! {
            "_id": 1, "name": "b", "count": "3", "notes": "hi",
            "address": { "city": "Oslo", "geo": { "lat": 1.5, "lon": 2.0 }, "zip": 150 },
            "tags": ["y", "x"],
        };
        let found = diff(&journal, &collection, None);
        assert_eq!(
            kinds(&found),
            [
                ("address.geo.lon", PathKind::Extra),
                ("address.zip", PathKind::Type),
                ("count", PathKind::Type),
                ("gone", PathKind::Missing),
                ("name", PathKind::Value),
                ("notes", PathKind::Extra),
                ("tags", PathKind::Value),
            ]
        );
        let count = &found[2];
        assert_eq!((count.journal_type, count.collection_type), (Some("int"), Some("string")));
    }

    #[test]
    fn a_whole_subdocument_against_a_scalar_is_one_difference() {
        let found = diff(&doc! { "a": { "b": 1, "c": 2 } }, &doc! { "a": 5_i64 }, None);
        assert_eq!(kinds(&found), [("a", PathKind::Type)]);
        assert_eq!(found[0].journal_type, Some("object"));
        assert_eq!(kinds(&diff(&doc! {}, &doc! { "a": { "b": 1 } }, None)), [("a", PathKind::Extra)]);
    }

    #[test]
    fn the_server_time_field_is_left_out_at_the_top_level_only() {
        let journal = doc! { "_id": 1, "deletedAt": 1, "x": { "deletedAt": 1 } };
        let collection = doc! { "_id": 1, "x": { "deletedAt": 2 } };
        assert_eq!(kinds(&diff(&journal, &collection, Some("deletedAt"))), [("x.deletedAt", PathKind::Value)]);
        let collection = doc! { "_id": 1, "deletedAt": bson::DateTime::now(), "x": { "deletedAt": 1 } };
        assert_eq!(diff(&doc! { "_id": 1, "x": { "deletedAt": 1 } }, &collection, Some("deletedAt")), []);
    }

    #[test]
    fn doubles_compare_by_their_bits() {
        assert_eq!(diff(&doc! { "x": f64::NAN }, &doc! { "x": f64::NAN }, None), []);
        assert_eq!(kinds(&diff(&doc! { "x": 0.0 }, &doc! { "x": -0.0 }, None)), [("x", PathKind::Value)]);
    }

    #[test]
    fn paths_go_into_documents_not_arrays() {
        let p = paths(&doc! { "_id": 1, "a": { "b": { "c": 1 } }, "l": [{ "m": 1 }], "t": 0 }, Some("t"));
        assert_eq!(p.into_iter().collect::<Vec<_>>(), ["_id", "a", "a.b", "a.b.c", "l"]);
    }

    #[test]
    fn an_extra_path_is_dated_from_the_entry_after_the_last_document_that_had_it() {
        let mut h = History::default();
        h.record(1, Some(&doc! { "_id": 1, "notes": "n", "a": { "b": 1 } }), None);
        h.record(4, Some(&doc! { "_id": 1, "notes": "n", "a": {} }), None);
        h.record(9, Some(&doc! { "_id": 1, "a": {} }), None);
        h.record(12, Some(&doc! { "_id": 1, "a": {}, "v": 1 }), None);
        let collection = doc! { "_id": 1, "notes": "n", "a": { "b": 1 }, "v": 1, "w": 0 };
        let found = h.diff(&collection, None).unwrap();
        let dated: Vec<_> = found.iter().map(|d| (d.path.as_str(), d.kind, d.unset_since)).collect();
        assert_eq!(
            dated,
            [
                ("a.b", PathKind::Extra, Some(4)),
                ("notes", PathKind::Extra, Some(9)),
                ("w", PathKind::Extra, None), // never at the source
            ]
        );
    }

    #[test]
    fn a_path_set_again_is_no_longer_unset_and_an_entry_without_a_document_ends_what_is_known() {
        let mut h = History::default();
        h.record(1, Some(&doc! { "_id": 1, "x": 1 }), None);
        h.record(2, Some(&doc! { "_id": 1 }), None);
        h.record(3, Some(&doc! { "_id": 1, "x": 2 }), None);
        h.record(5, None, None);
        assert_eq!(h.diff(&doc! { "_id": 1 }, None), None, "the latest entry carries no document");
        h.record(8, Some(&doc! { "_id": 1 }), None);
        let found = h.diff(&doc! { "_id": 1, "x": 2 }, None).unwrap();
        assert_eq!((found[0].path.as_str(), found[0].unset_since), ("x", Some(5)));
        h.record(9, Some(&doc! { "_id": 1, "x": 3 }), None);
        assert_eq!(kinds(&h.diff(&doc! { "_id": 1, "x": 2 }, None).unwrap()), [("x", PathKind::Value)]);
        assert!(h.unset.is_empty(), "only removed paths are kept: {:?}", h.unset);
    }

    #[test]
    fn serialises_kinds_and_types_by_name() {
        let d = DocumentDiff {
            id: Bson::Int32(3),
            paths: vec![
                PathDiff { unset_since: Some(7), ..PathDiff::new("notes".into(), PathKind::Extra) },
                PathDiff {
                    journal_type: Some("int"),
                    collection_type: Some("string"),
                    ..PathDiff::new("n".into(), PathKind::Type)
                },
            ],
        };
        assert_eq!(
            serde_json::to_value(d).unwrap(),
            serde_json::json!({ "id": { "$numberInt": "3" }, "paths": [
                { "path": "notes", "kind": "extra", "unset_since": 7 },
                { "path": "n", "kind": "type", "journal_type": "int", "collection_type": "string" },
            ]})
        );
    }
}
