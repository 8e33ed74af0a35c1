//! The journal's first line: what run wrote it and where its change stream starts.

use serde::{Deserialize, Serialize};

use crate::segment::Segment;

/// The journal format this forge writes and reads.
pub const VERSION: u32 = 1;

/// The first line of a journal.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Header {
    /// The format version ([`VERSION`]); its key also marks the file as a journal.
    pub forge_journal: u32,
    /// The collection the run wrote to, as `db.collection`.
    pub namespace: String,
    /// The run's `--seed`.
    pub seed: u64,
    /// When the run started, RFC 3339.
    pub started_at: String,
    /// Top-level field left out of content hashes (the tombstone time the server sets).
    pub server_time_field: Option<String>,
    /// The server's operation time before the first write: where a change stream that
    /// must see the whole run starts (seconds and increment of a BSON timestamp).
    pub start_operation_time: Option<(u32, u32)>,
    /// The collection held documents before the run (`mutate`, or a run into a
    /// collection that was not empty): `verify` then checks only the journaled
    /// documents, since it cannot know what the others should be.
    #[serde(default)]
    pub preexisting: bool,
    /// The segment of the run this journal records (`--segments`); the whole run when
    /// absent. Journals of one run share `seed`, `namespace` and the segment count.
    #[serde(default, skip_serializing_if = "Segment::is_whole")]
    pub segment: Segment,
    /// A scenario's schema versions for this collection, when it switched: each is in
    /// force from operation `from_seq` on (the first from 0). `verify` checks each
    /// document against the version it was last written under.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schema_versions: Vec<SchemaVersion>,
    /// Entries carry the document their write left, when it is known (the `d` key):
    /// `verify` can then show how a stale document differs.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub documents: bool,
}

impl Header {
    /// The header of a journal started now, for `namespace` written by a run seeded
    /// with `seed`; the other fields as the run knows them.
    pub fn starting(namespace: &str, seed: u64) -> Header {
        Header {
            forge_journal: VERSION,
            namespace: namespace.to_string(),
            seed,
            started_at: bson::DateTime::now().try_to_rfc3339_string().unwrap_or_default(),
            server_time_field: None,
            start_operation_time: None,
            preexisting: false,
            segment: Segment::WHOLE,
            schema_versions: Vec::new(),
            documents: false,
        }
    }
}

/// A schema version a run switched to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SchemaVersion {
    /// The first operation written under it.
    pub from_seq: u64,
    /// The schema, as written.
    pub schema: serde_json::Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_named_only_when_entries_carry_them() {
        let header = Header { started_at: String::new(), ..Header::starting("db.c", 1) };
        let plain = serde_json::to_string(&header).unwrap();
        assert_eq!(
            plain,
            r#"{"forge_journal":1,"namespace":"db.c","seed":1,"started_at":"","server_time_field":null,"start_operation_time":null,"preexisting":false}"#
        );
        assert!(!serde_json::from_str::<Header>(&plain).unwrap().documents);
        let with = serde_json::to_string(&Header { documents: true, ..header }).unwrap();
        assert!(with.ends_with(r#","documents":true}"#), "{with}");
        assert!(serde_json::from_str::<Header>(&with).unwrap().documents);
    }
}
