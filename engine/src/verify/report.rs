//! The outcome of a verification: one typed report, rendered to text by the CLI and
//! serialised as the JSON of `--report`. The JSON keys are an interface: add, never
//! rename or remove.

use std::path::PathBuf;

use bson::Bson;
use serde::{Serialize, Serializer};

use super::diff::DocumentDiff;

/// Everything a verification found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The collection checked, as `db.collection`.
    pub namespace: String,
    /// The journal it was checked against (with several, the first: see `segments`).
    pub journal: PathBuf,
    /// Entries read from the journal (from all of them).
    pub operations: u64,
    /// The final-state check (its keys sit at the top level of the JSON).
    #[serde(flatten)]
    pub final_state: FinalStateCheck,
    /// The change-stream check, when one was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change_stream: Option<ChangeStreamCheck>,
    /// End-to-end lag measured while the run wrote (`--follow`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub follow: Option<super::follow::Lag>,
    /// The sink read instead of a MongoDB collection (an event log), and the type
    /// mapping it was compared under, when not the collection's own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sink: Option<SinkRead>,
    /// The journal line where reading stopped because it was torn (a run killed
    /// mid-write), when one journal was read; with several, each journal's is in
    /// `segments`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incomplete_journal_line: Option<u64>,
    /// The journals of the segments of a run split into segments (its keys sit at the
    /// top level of the JSON); absent for a whole run's journal.
    #[serde(flatten)]
    pub segments: Option<SegmentsRead>,
}

/// A sink other than a MongoDB collection keeping BSON types.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SinkRead {
    /// What was read: an event log's format (`singer`, `change-stream`,
    /// `debezium`), or `postgresql` and the table's layout.
    pub kind: String,
    /// The log's path, or the table's name.
    pub location: String,
    /// Events read from a log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<u64>,
    /// Rows read from a table.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    /// Debezium snapshot reads (`r`) among them: they set a document's state but are
    /// no write of the run.
    #[serde(skip_serializing_if = "is_zero")]
    pub snapshot_reads: u64,
    /// The Singer stream read, when the log holds several.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    /// The type mapping (`lossless`, `flattened`, or the profile file).
    pub types: String,
}

/// Which segments of a run had their journals read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentsRead {
    /// How many segments the run was split into.
    pub segment_count: u64,
    /// The segments whose journals were read, in order.
    pub segments_checked: Vec<u64>,
    /// The segments that had no journal: their documents were not checked (nor could
    /// documents no journal knows be called extra).
    pub segments_missing: Vec<u64>,
    /// The journals read, in segment order.
    pub journals: Vec<JournalRead>,
}

/// One journal read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JournalRead {
    pub path: PathBuf,
    /// Its segment's index.
    pub segment: u64,
    /// Entries read from it.
    pub operations: u64,
    /// The line where reading stopped because it was torn.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incomplete_line: Option<u64>,
}

impl Report {
    /// How many differences were found, over both checks.
    pub fn differences(&self) -> u64 {
        self.final_state.differences() + self.change_stream.as_ref().map_or(0, ChangeStreamCheck::differences)
    }
}

/// The documents of a collection against the final state the journal predicts.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FinalStateCheck {
    /// Documents read from the collection.
    pub documents: u64,
    /// Documents the journal says something about (exist with some content, or gone).
    pub journaled_documents: u64,
    /// Only the journaled documents were read, by `_id`: the collection held documents
    /// before the run (the journal says so), whose content forge cannot know, or
    /// segments of the run had no journal; so documents the journals do not know are
    /// neither read nor called extra.
    pub journaled_only: bool,
    /// Journaled documents left out because their last write came before `--since`
    /// (the pipeline's first sync).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub excluded_before_since: u64,
    /// `_id`s the journal says exist that the collection lacks.
    #[serde(serialize_with = "canonical_ids")]
    pub missing: Vec<Bson>,
    /// `_id`s in the collection that the journal does not know or says are gone.
    #[serde(serialize_with = "canonical_ids")]
    pub extra: Vec<Bson>,
    /// `_id`s whose content differs from what the journal says.
    #[serde(serialize_with = "canonical_ids")]
    pub stale: Vec<Bson>,
    /// Documents whose shape is not that of the schema version they were last
    /// written under (a scenario's schema evolution).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub off_version: Vec<OffVersion>,
    /// How each stale document differs, path by path, when its journal carries
    /// documents (`documents` in its header); in the order they were found.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub diffs: Vec<DocumentDiff>,
}

/// A document that does not have its schema version's shape.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OffVersion {
    #[serde(serialize_with = "canonical_id")]
    pub id: Bson,
    /// The version (0: the first schema) it was last written under.
    pub version: usize,
    /// The top-level field at fault, and what is wrong with it.
    pub path: String,
    pub problem: String,
}

impl FinalStateCheck {
    /// Missing, extra and stale documents together.
    pub fn differences(&self) -> u64 {
        (self.missing.len() + self.extra.len() + self.stale.len() + self.off_version.len()) as u64
    }

    /// Adds the findings of another part of the same collection (a batch of `_id`s).
    pub fn absorb(&mut self, part: FinalStateCheck) {
        self.documents += part.documents;
        self.journaled_documents += part.journaled_documents;
        self.excluded_before_since += part.excluded_before_since;
        self.missing.extend(part.missing);
        self.extra.extend(part.extra);
        self.stale.extend(part.stale);
        self.off_version.extend(part.off_version);
        self.diffs.extend(part.diffs);
    }
}

/// A collection's change stream against the writes the journal acknowledged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ChangeStreamCheck {
    /// Events read.
    pub events: u64,
    /// Expected events that did not arrive.
    pub missing: u64,
    /// Events beyond the expected ones of their document and type, not explained by
    /// forge's own retries.
    pub duplicated: u64,
    /// Extra events explained by forge's own retries: one per journaled write marked
    /// `retried` (sent again after a lost connection, its first attempt may have
    /// applied too). Not a difference.
    pub retry_duplicates: u64,
    /// Documents whose events arrived in another order than their operations.
    pub out_of_order: u64,
    /// Events of documents the journal does not know.
    pub unexpected: u64,
    /// Events of documents no journal knows when some segments had no journal: they
    /// may be those segments' writes, so they are not differences.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unchecked: u64,
    /// Median of event time minus acknowledgement time, in milliseconds (negative: the
    /// event's commit preceded the acknowledgement).
    pub lag_p50: i64,
    /// 99th percentile of the same, in milliseconds.
    pub lag_p99: i64,
    /// The documents (`_id`s, canonical Extended JSON) behind each count above, in
    /// no particular order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing_ids: Vec<serde_json::Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub duplicated_ids: Vec<serde_json::Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub out_of_order_ids: Vec<serde_json::Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unexpected_ids: Vec<serde_json::Value>,
}

impl ChangeStreamCheck {
    /// Missing, duplicated, out-of-order and unexpected together.
    pub fn differences(&self) -> u64 {
        self.missing + self.duplicated + self.out_of_order + self.unexpected
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// `_id`s as canonical Extended JSON, so that they read back with their BSON types.
fn canonical_id<S: Serializer>(id: &Bson, s: S) -> Result<S::Ok, S::Error> {
    serde::Serialize::serialize(&id.clone().into_canonical_extjson(), s)
}

fn canonical_ids<S: Serializer>(ids: &[Bson], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(ids.iter().map(|id| id.clone().into_canonical_extjson()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn report(change_stream: Option<ChangeStreamCheck>) -> Report {
        Report {
            namespace: "forge.c".into(),
            journal: "j.ndjson".into(),
            operations: 9,
            final_state: FinalStateCheck {
                documents: 4,
                journaled_documents: 5,
                journaled_only: false,
                excluded_before_since: 0,
                missing: vec![Bson::Int32(1)],
                extra: vec![Bson::Int64(2)],
                stale: vec![Bson::String("s".into())],
                off_version: Vec::new(),
                diffs: Vec::new(),
            },
            change_stream,
            sink: None,
            follow: None,
            incomplete_journal_line: None,
            segments: None,
        }
    }

    #[test]
    fn serialises_to_the_keys_of_the_report_file() {
        let stream = ChangeStreamCheck { events: 5, missing: 1, lag_p50: 3, lag_p99: 8, ..Default::default() };
        let value = serde_json::to_value(report(Some(stream))).unwrap();
        assert_eq!(
            value,
            json!({
                "namespace": "forge.c", "journal": "j.ndjson", "operations": 9, "documents": 4,
                "journaled_documents": 5, "journaled_only": false,
                "missing": [{ "$numberInt": "1" }], "extra": [{ "$numberLong": "2" }], "stale": ["s"],
                "change_stream": {
                    "events": 5, "missing": 1, "duplicated": 0, "retry_duplicates": 0, "out_of_order": 0, "unexpected": 0,
                    "lag_p50": 3, "lag_p99": 8
                }
            })
        );
    }

    #[test]
    fn a_split_run_adds_its_segments_and_journals() {
        let journals = vec![
            JournalRead { path: "s0".into(), segment: 0, operations: 4, incomplete_line: None },
            JournalRead { path: "s2".into(), segment: 2, operations: 5, incomplete_line: Some(7) },
        ];
        let segments =
            SegmentsRead { segment_count: 3, segments_checked: vec![0, 2], segments_missing: vec![1], journals };
        let stream = ChangeStreamCheck { events: 5, unchecked: 2, ..Default::default() };
        let value = serde_json::to_value(Report { segments: Some(segments), ..report(Some(stream)) }).unwrap();
        assert_eq!(value["segment_count"], 3);
        assert_eq!((&value["segments_checked"], &value["segments_missing"]), (&json!([0, 2]), &json!([1])));
        assert_eq!(
            value["journals"],
            json!([
                { "path": "s0", "segment": 0, "operations": 4 },
                { "path": "s2", "segment": 2, "operations": 5, "incomplete_line": 7 }
            ])
        );
        assert_eq!(value["change_stream"]["unchecked"], 2);
        assert_eq!(value["namespace"], "forge.c", "the rest as for one journal");
    }

    #[test]
    fn leaves_out_checks_not_asked_for_and_counts_differences_over_both() {
        let value = serde_json::to_value(report(None)).unwrap();
        assert!(value.get("change_stream").is_none() && value.get("incomplete_journal_line").is_none());
        assert_eq!(report(None).differences(), 3);
        let stream = ChangeStreamCheck {
            duplicated: 2,
            retry_duplicates: 4,
            out_of_order: 1,
            unexpected: 1,
            ..Default::default()
        };
        assert_eq!(report(Some(stream)).differences(), 7, "retry duplicates are explained, not differences");
    }
}
