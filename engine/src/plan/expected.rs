//! What each document should look like after each operation, for the journal: the
//! planner applies its own writes to a copy of the documents it targets, the way the
//! server will.

use std::collections::HashMap;

use bson::{Bson, Document};

use super::IdKey;
use crate::generate::scalars::decimal128_add;

/// A document's expected state after an operation.
#[derive(Debug, Clone, PartialEq)]
pub enum Expect {
    /// It exists with this content hash (see [`crate::journal::doc_hash`]).
    Exists(u64),
    /// It does not exist.
    Gone,
    /// Unknown: forge never saw this document's content (`mutate` without a model).
    Unknown,
}

/// The expected content of the documents a run may still target.
#[derive(Debug, Default)]
pub struct Model {
    docs: HashMap<IdKey, Option<Document>>,
    /// Field excluded from hashes because the server fills it (`$currentDate`).
    pub server_time_field: Option<String>,
}

impl Model {
    pub fn new(server_time_field: Option<String>) -> Self {
        Model { docs: HashMap::new(), server_time_field }
    }

    fn expect(&self, doc: Option<&Document>) -> Expect {
        match doc {
            Some(d) => Expect::Exists(crate::journal::doc_hash(d, self.server_time_field.as_deref())),
            None => Expect::Gone,
        }
    }

    pub fn insert(&mut self, id: &Bson, doc: &Document) -> (u64, Expect) {
        let expect = self.expect(Some(doc));
        self.docs.insert(IdKey::of(id), Some(doc.clone()));
        (1, expect)
    }

    /// Applies an update whose filter is `{_id}` plus `guard`; returns the expected
    /// matched count and state.
    pub fn update(&mut self, id: &Bson, guard: Option<&Document>, update: &Document) -> (Option<u64>, Expect) {
        let Some(slot) = self.docs.get_mut(&IdKey::of(id)) else { return (None, Expect::Unknown) };
        match slot {
            Some(doc) if guard.is_none_or(|g| passes(doc, g)) => {
                apply_update(doc, update);
                let doc = doc.clone();
                (Some(1), self.expect(Some(&doc)))
            }
            Some(doc) => {
                let doc = doc.clone();
                (Some(0), self.expect(Some(&doc)))
            }
            None => (Some(0), Expect::Gone),
        }
    }

    pub fn replace(&mut self, id: &Bson, guard: Option<&Document>, replacement: &Document) -> (Option<u64>, Expect) {
        let Some(slot) = self.docs.get_mut(&IdKey::of(id)) else {
            return (None, Expect::Unknown);
        };
        match slot {
            Some(doc) if guard.is_none_or(|g| passes(doc, g)) => {
                *doc = replacement.clone();
                (Some(1), self.expect(Some(replacement)))
            }
            Some(doc) => {
                let doc = doc.clone();
                (Some(0), self.expect(Some(&doc)))
            }
            None => (Some(0), Expect::Gone),
        }
    }

    pub fn delete(&mut self, id: &Bson, guard: Option<&Document>) -> (Option<u64>, Expect) {
        let key = IdKey::of(id);
        match self.docs.get(&key) {
            Some(Some(doc)) if guard.is_none_or(|g| passes(doc, g)) => {
                self.docs.insert(key, None);
                (Some(1), Expect::Gone)
            }
            Some(Some(doc)) => (Some(0), self.expect(Some(doc))),
            Some(None) => (Some(0), Expect::Gone),
            None => (None, Expect::Gone),
        }
    }

    /// Forgets documents no longer targetable, so memory follows the IdCache.
    pub fn retain(&mut self, keep: impl Fn(&IdKey) -> bool) {
        self.docs.retain(|k, _| keep(k));
    }

    pub fn len(&self) -> usize {
        self.docs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }
}

/// The filter guards forge writes are `{field: {$ne: value}}`.
fn passes(doc: &Document, guard: &Document) -> bool {
    guard.iter().all(|(field, cond)| match cond.as_document().and_then(|c| c.get("$ne")) {
        Some(value) => lookup(doc, field) != Some(value),
        None => lookup(doc, field) == Some(cond),
    })
}

fn lookup<'d>(doc: &'d Document, path: &str) -> Option<&'d Bson> {
    let mut parts = path.split('.');
    let mut value = doc.get(parts.next()?)?;
    for part in parts {
        value = value.as_document()?.get(part)?;
    }
    Some(value)
}

/// Applies `$set`, `$unset`, `$inc` and `$currentDate` (as a placeholder date: the
/// server's time is not known here, and hashes leave that field out).
pub fn apply_update(doc: &mut Document, update: &Document) {
    for (op, fields) in update {
        let Some(fields) = fields.as_document() else { continue };
        for (path, value) in fields {
            match op.as_str() {
                "$set" => set(doc, path, value.clone()),
                "$unset" => unset(doc, path),
                "$inc" => {
                    let current = lookup(doc, path).cloned();
                    set(doc, path, add(current.as_ref(), value));
                }
                "$currentDate" => set(doc, path, Bson::DateTime(bson::DateTime::from_millis(0))),
                _ => {}
            }
        }
    }
}

fn set(doc: &mut Document, path: &str, value: Bson) {
    match path.split_once('.') {
        None => {
            doc.insert(path, value);
        }
        Some((head, rest)) => {
            if !matches!(doc.get(head), Some(Bson::Document(_))) {
                doc.insert(head, Document::new());
            }
            if let Some(Bson::Document(sub)) = doc.get_mut(head) {
                set(sub, rest, value);
            }
        }
    }
}

fn unset(doc: &mut Document, path: &str) {
    match path.split_once('.') {
        None => {
            doc.remove(path);
        }
        Some((head, rest)) => {
            if let Some(Bson::Document(sub)) = doc.get_mut(head) {
                unset(sub, rest);
            }
        }
    }
}

/// `$inc` arithmetic as MongoDB does it: int overflows into long, mixed types widen.
fn add(current: Option<&Bson>, by: &Bson) -> Bson {
    match (current, by) {
        (None | Some(Bson::Null), by) => by.clone(),
        (Some(Bson::Int32(a)), Bson::Int32(b)) => {
            a.checked_add(*b).map_or(Bson::Int64(*a as i64 + *b as i64), Bson::Int32)
        }
        (Some(Bson::Int32(a)), Bson::Int64(b)) => Bson::Int64(*a as i64 + b),
        (Some(Bson::Int64(a)), Bson::Int32(b)) => Bson::Int64(a + *b as i64),
        (Some(Bson::Int64(a)), Bson::Int64(b)) => Bson::Int64(a + b),
        (Some(Bson::Double(a)), Bson::Double(b)) => Bson::Double(a + b),
        (Some(Bson::Double(a)), Bson::Int32(b)) => Bson::Double(a + *b as f64),
        (Some(Bson::Int32(a)), Bson::Double(b)) => Bson::Double(*a as f64 + b),
        (Some(Bson::Int64(a)), Bson::Double(b)) => Bson::Double(*a as f64 + b),
        (Some(Bson::Decimal128(a)), Bson::Decimal128(b)) => decimal128_add(a, b).map_or(Bson::Null, Bson::Decimal128),
        (Some(other), _) => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn applies_updates_like_the_server() {
        let mut d = doc! { "_id": 1, "a": { "b": 1 }, "n": 5i64, "x": 1.5, "gone": true };
        apply_update(
            &mut d,
            &doc! {
                "$set": { "a.c": "new", "top": 1 },
                "$unset": { "gone": "" },
                "$inc": { "n": 2i64, "x": 0.5, "missing": 3 },
            },
        );
        assert_eq!(d, doc! { "_id": 1, "a": { "b": 1, "c": "new" }, "n": 7i64, "x": 2.0, "top": 1, "missing": 3 });
    }

    #[test]
    fn tracks_deletes_and_guards() {
        let mut m = Model::new(Some("_deletedAt".into()));
        let id = Bson::Int32(1);
        m.insert(&id, &doc! { "_id": 1, "v": 1 });
        let guard = doc! { "_deleted": { "$ne": true } };
        let tomb = doc! { "$set": { "_deleted": true }, "$currentDate": { "_deletedAt": true } };
        assert_eq!(m.update(&id, Some(&guard), &tomb).0, Some(1));
        assert_eq!(m.update(&id, Some(&guard), &doc! { "$set": { "v": 2 } }).0, Some(0));
        assert_eq!(m.delete(&id, None), (Some(1), Expect::Gone));
        assert_eq!(m.update(&id, None, &doc! { "$set": { "v": 3 } }), (Some(0), Expect::Gone));
        assert_eq!(m.update(&Bson::Int32(9), None, &doc! {}), (None, Expect::Unknown));
    }
}
