//! One journal line per acknowledged operation. The keys on disk are one letter each
//! (a journal holds millions of lines); the fields have descriptive names in code.

use bson::{Bson, Document};
use serde::{Deserialize, Serialize};

use super::doc_hash;
use crate::materialize::model::Expect;

/// One operation the server applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Operation index: the plan order.
    #[serde(rename = "s")]
    pub seq: u64,
    /// The operation: insert, update, replace or delete (a tombstone is a delete).
    #[serde(rename = "k")]
    pub kind: String,
    /// The write it was sent as: insert, update, replace or delete (a tombstone is an
    /// update, a `regenerate` update a replace).
    #[serde(rename = "w")]
    pub write: String,
    /// The `_id`, as canonical Extended JSON.
    pub id: serde_json::Value,
    /// Acknowledgement time, milliseconds since the epoch.
    #[serde(rename = "t")]
    pub acked_at_ms: i64,
    /// Documents the server reported inserted, matched or deleted.
    #[serde(rename = "m")]
    pub matched: u64,
    /// Documents it reported modified (updates that change nothing make no event).
    #[serde(rename = "n", default)]
    pub modified: u64,
    /// The document afterwards, encoded by [`encode_expect`].
    #[serde(rename = "h")]
    pub expect: Option<String>,
    /// Sent more than once: the connection was lost while an earlier attempt was in
    /// flight, and forge could not tell from the document whether that attempt
    /// applied. Its change event may then show twice, by forge's doing.
    #[serde(rename = "r", default, skip_serializing_if = "is_false")]
    pub retried: bool,
    /// Applied, but its write concern was not met (the write may yet roll back); the
    /// report counts it as `write_concern_failed`, not acknowledged.
    #[serde(rename = "c", default, skip_serializing_if = "is_false")]
    pub write_concern_failed: bool,
    /// The document afterwards, as canonical Extended JSON, when the journal keeps
    /// documents (its header's `documents`) and the state is a known document: what
    /// `verify` diffs a stale document against.
    #[serde(rename = "d", default, skip_serializing_if = "Option::is_none")]
    pub document: Option<serde_json::Value>,
}

fn is_false(b: &bool) -> bool {
    !b
}

impl Entry {
    /// The entry of write `seq`, `write` (of that kind) on document `id`,
    /// acknowledged at `at_ms`, that matched and modified one document and left `doc`
    /// (whose content hash it records; the document itself only through
    /// [`Entry::with_document`]).
    pub fn acked(seq: u64, write: &str, id: &Bson, at_ms: i64, doc: &Document) -> Entry {
        Entry {
            seq,
            kind: write.into(),
            write: write.into(),
            id: id.clone().into_canonical_extjson(),
            acked_at_ms: at_ms,
            matched: 1,
            modified: 1,
            expect: encode_expect(&Expect::Exists(doc_hash(doc, None))),
            retried: false,
            write_concern_failed: false,
            document: None,
        }
    }

    /// The document's state afterwards, decoded from [`Entry::expect`].
    pub fn state(&self) -> Expect {
        match self.expect.as_deref() {
            Some("gone") => Expect::Gone,
            Some(hex) => u64::from_str_radix(hex, 16).map_or(Expect::Unknown, Expect::Exists),
            None => Expect::Unknown,
        }
    }

    /// The `_id` as BSON, if its Extended JSON is valid.
    pub fn bson_id(&self) -> Option<Bson> {
        Bson::try_from(self.id.clone()).ok()
    }

    /// This entry carrying `doc`, the document its write left.
    pub fn with_document(self, doc: &Document) -> Entry {
        Entry { document: Some(Bson::Document(doc.clone()).into_canonical_extjson()), ..self }
    }

    /// The document it carries, if any and if its Extended JSON is a valid document.
    pub fn bson_document(&self) -> Option<Document> {
        match Bson::try_from(self.document.clone()?).ok()? {
            Bson::Document(d) => Some(d),
            _ => None,
        }
    }
}

/// How an entry records a state: its content hash in hex, "gone", or null when unknown.
pub fn encode_expect(e: &Expect) -> Option<String> {
    match e {
        Expect::Exists(h) => Some(format!("{h:016x}")),
        Expect::Gone => Some("gone".into()),
        Expect::Unknown => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A line as journals have been written since version 1.
    const ON_DISK: &str = r#"{"s":7,"k":"delete","w":"update","id":{"$oid":"65920080aabbccddee000007"},"t":1735689600123,"m":1,"n":1,"h":"00000000000000ff"}"#;

    #[test]
    fn reads_the_on_disk_format() {
        let e: Entry = serde_json::from_str(ON_DISK).unwrap();
        assert_eq!((e.seq, e.kind.as_str(), e.write.as_str()), (7, "delete", "update"));
        assert_eq!((e.acked_at_ms, e.matched, e.modified), (1_735_689_600_123, 1, 1));
        assert_eq!(e.state(), Expect::Exists(0xff));
        assert!(matches!(e.bson_id(), Some(Bson::ObjectId(_))));
    }

    #[test]
    fn writes_the_on_disk_format() {
        let e: Entry = serde_json::from_str(ON_DISK).unwrap();
        assert_eq!(serde_json::to_string(&e).unwrap(), ON_DISK);
    }

    #[test]
    fn lines_without_a_modified_count_read_as_zero() {
        let e: Entry =
            serde_json::from_str(r#"{"s":0,"k":"insert","w":"insert","id":1,"t":0,"m":1,"h":null}"#).unwrap();
        assert_eq!((e.modified, e.state()), (0, Expect::Unknown));
    }

    #[test]
    fn documents_round_trip_with_their_types_and_are_left_out_when_absent() {
        let e: Entry = serde_json::from_str(ON_DISK).unwrap();
        assert_eq!(e.document, None);
        let doc = bson::doc! { "_id": 1, "n": 2_i64, "x": 0.5, "s": "t", "a": [1, { "b": null }] };
        let with = e.with_document(&doc);
        let line = serde_json::to_string(&with).unwrap();
        assert!(line.starts_with(&ON_DISK[..ON_DISK.len() - 1]), "{line}");
        assert!(line.contains(r#","d":{"_id":{"$numberInt":"1"},"n":{"$numberLong":"2"}"#), "{line}");
        let back: Entry = serde_json::from_str(&line).unwrap();
        assert_eq!(back.bson_document(), Some(doc));
    }

    #[test]
    fn states_round_trip_through_their_encoding() {
        for state in [Expect::Exists(0x0123_4567_89ab_cdef), Expect::Gone, Expect::Unknown] {
            let e = Entry { expect: encode_expect(&state), ..serde_json::from_str(ON_DISK).unwrap() };
            assert_eq!(e.state(), state);
        }
    }
}
