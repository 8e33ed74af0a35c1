//! A pipeline's event log as a sink: a file of one JSON event per line, in the order
//! the pipeline delivered them. Three formats are read:
//!
//! - **Singer** messages (`{"type": "RECORD", "stream": …, "record": {…}}`): each
//!   record is the document as the tap read it (whole, or under `document` as some
//!   taps nest it), a delete when `_sdc_deleted_at` is set. Records are upserts with
//!   no operation kind, so only the state they leave is checked.
//! - **Change events** as `forge watch` prints them (a change stream's events as
//!   Extended JSON): insert, update (its `updateDescription` applied), replace,
//!   delete.
//! - **Debezium MongoDB connector** events: the documented envelope (`op` c, u, d or
//!   r; `after`/`before` as Extended JSON text or objects; `updateDescription` or
//!   the older `patch`/`filter`; `source.ts_ms`), as the bare value, as
//!   `{"schema", "payload"}`, as `{"key", "value"}` or as a key and a value separated
//!   by a tab (a console consumer printing keys). Tombstones (null values) are skipped.
//!
//! Reading replays the log into the state it leaves each document in and, for the
//! formats with operation kinds, the sequence of operations per document, which the
//! change-stream check compares with the journal. Memory follows the documents, not
//! the events.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;

use bson::{Bson, Document};
use serde_json::Value;

use super::change_stream::{Event, SeenEvents};
use crate::plan::IdKey;

/// The format of an event log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    Singer,
    ChangeStream,
    Debezium,
}

/// What an event log leaves: each document's final state, and (formats with
/// operation kinds) each document's operations.
#[derive(Debug)]
pub struct EventLog {
    pub format: Format,
    /// Events read (Singer: records of the stream read).
    pub events: u64,
    /// Snapshot reads (Debezium `r`): documents as they stood, not writes.
    pub snapshot_reads: u64,
    /// The Singer stream read, when the log holds several.
    pub stream: Option<String>,
    /// Each document's operations, in log order (none for Singer).
    pub seen: Option<SeenEvents>,
    /// Each document's last state, by `_id`.
    pub documents: HashMap<IdKey, (Bson, Replayed)>,
}

/// The state the log leaves a document in.
#[derive(Debug, Clone, PartialEq)]
pub enum Replayed {
    /// Its content, as the events carried or built it.
    Document(Document),
    /// It exists, but an update the log could not apply (one whose base the log never
    /// carried) left its content unknown.
    Unknown,
    /// Deleted.
    Gone,
}

/// A log that cannot be read as events.
#[derive(Debug, thiserror::Error)]
pub enum EventLogError {
    #[error("cannot read '{}': {source}", .path.display())]
    Io { path: std::path::PathBuf, source: std::io::Error },
    #[error("line {line}: {why}")]
    Line { line: u64, why: String },
    /// The first event's format cannot be told from it: it must be named.
    #[error("line {line}: neither a Singer message, a change event nor a Debezium event")]
    UnknownFormat { line: u64 },
    #[error("no event of a document in the log")]
    Empty,
    #[error("the log holds the Singer streams {0}: none is named after the collection {1}")]
    Streams(String, String),
}

/// One event, as far as the replay needs it.
struct Change {
    id: Bson,
    /// The operation, as a change stream names it (`insert`, `update`, `replace`,
    /// `delete`), or `read` for a snapshot read, `upsert` for a Singer record.
    operation: &'static str,
    /// The whole document afterwards, when the event carries it.
    document: Option<Document>,
    /// An update's fields set (dotted paths) and removed, and arrays truncated.
    set: Document,
    removed: Vec<String>,
    truncated: Vec<(String, usize)>,
    /// When the pipeline read or delivered it (milliseconds), when it says.
    at_ms: i64,
}

impl EventLog {
    /// Reads the log at `path` in `format` (None: from its first event). For Singer,
    /// `collection` picks the stream when there are several (`collection` or
    /// `database-collection`).
    pub fn read(path: &Path, format: Option<Format>, collection: &str) -> Result<Self, EventLogError> {
        let io = |source| EventLogError::Io { path: path.into(), source };
        let file = std::fs::File::open(path).map_err(io)?;
        let mut lines = Vec::new();
        // Singer streams are chosen after a first pass over the stream names.
        let mut format = format;
        let mut streams: Vec<String> = Vec::new();
        for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
            let line = line.map_err(io)?;
            if line.trim().is_empty() {
                continue;
            }
            let n = n as u64 + 1;
            let value = parse_line(&line).map_err(|why| EventLogError::Line { line: n, why })?;
            let Some(value) = value else { continue };
            let detected = format.or_else(|| detect(&value)).ok_or(EventLogError::UnknownFormat { line: n })?;
            format.get_or_insert(detected);
            if detected == Format::Singer
                && let Some(s) = value.get("stream").and_then(Value::as_str)
                && !streams.iter().any(|x| x == s)
            {
                streams.push(s.to_string());
            }
            lines.push((n, value));
        }
        let format = format.ok_or(EventLogError::Empty)?;
        let stream = match (format, streams.as_slice()) {
            (Format::Singer, [_, _, ..]) => Some(
                streams
                    .iter()
                    .find(|s| is_stream_of(s, collection))
                    .cloned()
                    .ok_or_else(|| EventLogError::Streams(streams.join(", "), collection.to_string()))?,
            ),
            _ => None,
        };
        let mut log = EventLog {
            format,
            events: 0,
            snapshot_reads: 0,
            stream: stream.clone(),
            seen: (format != Format::Singer).then(SeenEvents::default),
            documents: HashMap::new(),
        };
        for (n, value) in lines {
            let change = match format {
                Format::Singer => singer(&value, stream.as_deref()),
                Format::ChangeStream => change_event(&value),
                Format::Debezium => debezium(&value),
            }
            .map_err(|why| EventLogError::Line { line: n, why })?;
            if let Some(change) = change {
                log.apply(change);
            }
        }
        if log.events == 0 {
            return Err(EventLogError::Empty);
        }
        Ok(log)
    }

    fn apply(&mut self, change: Change) {
        self.events += 1;
        if change.operation == "read" {
            self.snapshot_reads += 1;
        } else if let Some(seen) = &mut self.seen {
            seen.push(&change.id, Event { operation: change.operation.to_string(), wall_ms: change.at_ms });
        }
        let key = IdKey::of(&change.id);
        let before = self.documents.remove(&key).map(|(_, r)| r);
        let after = match (change.operation, change.document) {
            ("delete", _) => Replayed::Gone,
            (_, Some(doc)) => Replayed::Document(doc),
            ("update", None) => match before {
                Some(Replayed::Document(mut doc)) => {
                    apply_update(&mut doc, &change.set, &change.removed, &change.truncated);
                    Replayed::Document(doc)
                }
                _ => Replayed::Unknown,
            },
            _ => Replayed::Unknown,
        };
        self.documents.insert(key, (change.id, after));
    }
}

/// What one line of a log shows.
#[derive(Debug, Clone, PartialEq)]
pub enum Seen {
    /// An event of the document with this `_id` (change events, Debezium).
    Event(Bson),
    /// The document as the pipeline now holds it (None: deleted). A Singer record
    /// carries the whole document, which a tap may have re-read later than the write
    /// that made it emit the record: it is a state, not an event.
    Document { id: Bson, content: Option<Document> },
}

/// An event log read as it grows (`verify --follow`): line by line, what each line
/// shows of a document.
#[derive(Debug)]
pub struct Tail {
    format: Option<Format>,
    /// The collection: Singer records of streams named otherwise are passed over.
    collection: String,
    line: u64,
}

impl Tail {
    /// A tail of a log in `format` (None: from its first event) of `collection`.
    pub fn new(format: Option<Format>, collection: &str) -> Self {
        Tail { format, collection: collection.to_string(), line: 0 }
    }

    /// What the next line shows; None for a line that concerns no document's write
    /// (a Singer SCHEMA or STATE, a tombstone, a snapshot read).
    pub fn line(&mut self, line: &str) -> Result<Option<Seen>, EventLogError> {
        self.line += 1;
        let n = self.line;
        if line.trim().is_empty() {
            return Ok(None);
        }
        let at = |why| EventLogError::Line { line: n, why };
        let Some(value) = parse_line(line).map_err(at)? else { return Ok(None) };
        let format = match self.format {
            Some(f) => f,
            None => *self.format.insert(detect(&value).ok_or(EventLogError::UnknownFormat { line: n })?),
        };
        let stream = value.get("stream").and_then(Value::as_str);
        let other_stream = stream.is_some_and(|s| !is_stream_of(s, &self.collection));
        let change = match format {
            Format::Singer if other_stream => return Ok(None),
            Format::Singer => singer(&value, None),
            Format::ChangeStream => change_event(&value),
            Format::Debezium => debezium(&value),
        }
        .map_err(at)?;
        Ok(change.filter(|c| c.operation != "read").map(|c| match format {
            Format::Singer => Seen::Document { id: c.id, content: c.document },
            _ => Seen::Event(c.id),
        }))
    }
}

/// Whether the Singer stream `stream` is the collection's: named after it, or
/// `DB-COLLECTION` as taps name streams.
fn is_stream_of(stream: &str, collection: &str) -> bool {
    stream == collection || stream.strip_suffix(collection).is_some_and(|rest| rest.ends_with('-'))
}

/// A line as JSON: the value of a `key<TAB>value` line; None for a tombstone.
fn parse_line(line: &str) -> Result<Option<Value>, String> {
    let value = match serde_json::from_str::<Value>(line) {
        Ok(v) => v,
        Err(e) => match line.split_once('\t') {
            Some((key, value)) => {
                let key: Value = serde_json::from_str(key).map_err(|e| format!("not JSON: {e}"))?;
                let value: Value = serde_json::from_str(value).map_err(|e| format!("not JSON: {e}"))?;
                serde_json::json!({ "key": key, "value": value })
            }
            None => return Err(format!("not JSON: {e}")),
        },
    };
    Ok((!value.is_null()).then_some(value))
}

/// The format a first event is in, when it can be told.
fn detect(value: &Value) -> Option<Format> {
    if value.get("type").and_then(Value::as_str).is_some() && value.get("operationType").is_none() {
        return Some(Format::Singer);
    }
    if value.get("operationType").is_some() {
        return Some(Format::ChangeStream);
    }
    if debezium_value(value).is_some_and(|v| v.get("op").is_some()) || value.get("key").is_some() {
        return Some(Format::Debezium);
    }
    None
}

/// Extended JSON (an object, or text holding one) as BSON.
fn ejson(value: &Value) -> Result<Bson, String> {
    let value = match value {
        Value::String(text) => serde_json::from_str(text).map_err(|e| format!("Extended JSON text: {e}"))?,
        other => other.clone(),
    };
    Bson::try_from(value).map_err(|e| format!("not Extended JSON: {e}"))
}

fn ejson_document(value: &Value) -> Result<Document, String> {
    match ejson(value)? {
        Bson::Document(d) => Ok(d),
        other => Err(format!("expected a document, found {other}")),
    }
}

fn singer(value: &Value, stream: Option<&str>) -> Result<Option<Change>, String> {
    // A bare record (what a target that writes records one per line keeps) has no
    // message type around it.
    let record = match value.get("type").and_then(Value::as_str) {
        None if value.get("_id").is_some() => value.as_object().ok_or("a record that is not an object")?,
        Some("RECORD") => {
            if stream.is_some_and(|s| value.get("stream").and_then(Value::as_str) != Some(s)) {
                return Ok(None);
            }
            value.get("record").and_then(Value::as_object).ok_or("a RECORD without a record")?
        }
        None => return Err("neither a Singer message nor a record with an _id".into()),
        Some(_) => return Ok(None),
    };
    let id = record.get("_id").ok_or("a record without _id")?;
    let id = Bson::try_from(id.clone()).map_err(|e| format!("_id: {e}"))?;
    let deleted = record.get("_sdc_deleted_at").is_some_and(|d| !d.is_null());
    // Some taps nest the document under `document`, beside the _id and metadata.
    let nested = record
        .get("document")
        .filter(|_| record.keys().all(|k| k == "_id" || k == "document" || k.starts_with("_sdc_")));
    let document = match nested {
        Some(doc) => {
            let mut doc = ejson_document(doc)?;
            if !doc.contains_key("_id") {
                doc.insert("_id", id.clone());
            }
            doc
        }
        None => Bson::try_from(Value::Object(record.clone()))
            .ok()
            .and_then(|b| b.as_document().cloned())
            .ok_or("a record that is not a document")?,
    };
    let at_ms = value
        .get("time_extracted")
        .and_then(Value::as_str)
        .and_then(|t| bson::DateTime::parse_rfc3339_str(t).ok())
        .map_or(0, |t| t.timestamp_millis());
    Ok(Some(Change {
        id,
        operation: if deleted { "delete" } else { "upsert" },
        document: (!deleted).then_some(document),
        set: Document::new(),
        removed: Vec::new(),
        truncated: Vec::new(),
        at_ms,
    }))
}

fn change_event(value: &Value) -> Result<Option<Change>, String> {
    let event = ejson_document(value)?;
    let operation = match event.get_str("operationType").map_err(|_| "an event without operationType")? {
        "insert" => "insert",
        "update" => "update",
        "replace" => "replace",
        "delete" => "delete",
        // Collection-level events (drop, rename, invalidate) concern no document.
        _ => return Ok(None),
    };
    let id =
        event.get_document("documentKey").ok().and_then(|k| k.get("_id")).ok_or("an event without documentKey._id")?;
    let description = event.get_document("updateDescription").ok();
    let at_ms = match event.get("wallTime") {
        Some(Bson::DateTime(t)) => t.timestamp_millis(),
        _ => 0,
    };
    Ok(Some(Change {
        id: id.clone(),
        operation,
        document: event.get_document("fullDocument").ok().filter(|_| operation != "update").cloned(),
        set: description.and_then(|d| d.get_document("updatedFields").ok()).cloned().unwrap_or_default(),
        removed: strings(description.and_then(|d| d.get_array("removedFields").ok())),
        truncated: truncated(description.and_then(|d| d.get_array("truncatedArrays").ok())),
        at_ms,
    }))
}

fn strings(array: Option<&bson::Array>) -> Vec<String> {
    array.into_iter().flatten().filter_map(|v| v.as_str().map(str::to_string)).collect()
}

fn truncated(array: Option<&bson::Array>) -> Vec<(String, usize)> {
    let entries = array.into_iter().flatten().filter_map(Bson::as_document);
    entries
        .filter_map(|t| {
            let size = t.get("newSize").and_then(|n| n.as_i32().map(i64::from).or_else(|| n.as_i64()))?;
            Some((t.get_str("field").ok()?.to_string(), usize::try_from(size).ok()?))
        })
        .collect()
}

/// The value of a Debezium message in any of its shapes (bare, `payload`, `value`).
fn debezium_value(value: &Value) -> Option<&Value> {
    let value = value.get("value").unwrap_or(value);
    let value = value.get("payload").filter(|p| p.is_object()).unwrap_or(value);
    value.is_object().then_some(value)
}

fn debezium(message: &Value) -> Result<Option<Change>, String> {
    let Some(value) = debezium_value(message) else { return Ok(None) };
    let operation = match value.get("op").and_then(Value::as_str) {
        Some("c") => "insert",
        Some("u") => "update",
        Some("d") => "delete",
        Some("r") => "read",
        // Truncates and messages concern no document; a key alone, nothing.
        _ => return Ok(None),
    };
    let document = |field: &str| match value.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => ejson_document(v).map(Some),
    };
    let (after, before) = (document("after")?, document("before")?);
    let filter = document("filter")?;
    let key = message.get("key").map(|k| k.get("payload").filter(|p| p.is_object()).unwrap_or(k));
    let key_id = match key.and_then(|k| k.get("id").or_else(|| k.get("_id"))) {
        Some(id) => Some(ejson(id).or_else(|_| Bson::try_from(id.clone()).map_err(|e| e.to_string()))?),
        None => None,
    };
    let id = after
        .as_ref()
        .and_then(|d| d.get("_id"))
        .or_else(|| before.as_ref().and_then(|d| d.get("_id")))
        .cloned()
        .or(key_id)
        .or_else(|| filter.as_ref().and_then(|f| f.get("_id")).cloned())
        .ok_or(
            "an event whose document _id is in neither after, before, its key nor filter: log the key with the value",
        )?;
    let (mut set, mut removed, mut truncated) = (Document::new(), Vec::new(), Vec::new());
    if let Some(description) = value.get("updateDescription").filter(|d| !d.is_null()) {
        if let Some(fields) = description.get("updatedFields").filter(|f| !f.is_null()) {
            set = ejson_document(fields)?;
        }
        if let Some(Value::Array(fields)) = description.get("removedFields") {
            removed = fields.iter().filter_map(|f| f.as_str().map(str::to_string)).collect();
        }
        if let Some(Value::Array(arrays)) = description.get("truncatedArrays") {
            let sizes = arrays.iter().filter_map(|a| {
                let size = a.get("size").or_else(|| a.get("newSize")).and_then(Value::as_u64)?;
                Some((a.get("field")?.as_str()?.to_string(), usize::try_from(size).ok()?))
            });
            truncated = sizes.collect();
        }
    } else if let Some(patch) = value.get("patch").filter(|p| !p.is_null()) {
        let patch = ejson_document(patch)?;
        set = patch.get_document("$set").cloned().unwrap_or_default();
        removed = patch.get_document("$unset").map(|u| u.keys().cloned().collect()).unwrap_or_default();
    }
    let at_ms = value
        .get("source")
        .and_then(|s| s.get("ts_ms"))
        .or_else(|| value.get("ts_ms"))
        .and_then(Value::as_i64)
        .unwrap_or(0);
    Ok(Some(Change { id, operation, document: after, set, removed, truncated, at_ms }))
}

/// Applies an update's description to `doc`: fields set and removed by dotted path
/// (a numeric part indexes an array), arrays truncated.
fn apply_update(doc: &mut Document, set: &Document, removed: &[String], truncated: &[(String, usize)]) {
    for (path, size) in truncated {
        if let Some(Bson::Array(a)) = get_mut(doc, path) {
            a.truncate(*size);
        }
    }
    for (path, value) in set {
        set_path(doc, path, value.clone());
    }
    for path in removed {
        match path.rsplit_once('.') {
            None => {
                doc.remove(path);
            }
            Some((parent, last)) => {
                if let Some(Bson::Document(d)) = get_mut(doc, parent) {
                    d.remove(last);
                }
            }
        }
    }
}

fn get_mut<'a>(doc: &'a mut Document, path: &str) -> Option<&'a mut Bson> {
    let mut parts = path.split('.');
    let mut current = doc.get_mut(parts.next()?)?;
    for part in parts {
        current = match current {
            Bson::Document(d) => d.get_mut(part)?,
            Bson::Array(a) => a.get_mut(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(current)
}

fn set_path(doc: &mut Document, path: &str, value: Bson) {
    let Some((parent, last)) = path.rsplit_once('.') else {
        doc.insert(path, value);
        return;
    };
    if get_mut(doc, parent).is_none() {
        set_path(doc, parent, Bson::Document(Document::new()));
    }
    match get_mut(doc, parent) {
        Some(Bson::Document(d)) => {
            d.insert(last, value);
        }
        Some(Bson::Array(a)) => {
            if let Ok(i) = last.parse::<usize>() {
                if i >= a.len() {
                    a.resize(i + 1, Bson::Null);
                }
                a[i] = value;
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn log_of(text: &str, format: Option<Format>) -> Result<EventLog, EventLogError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        std::fs::write(&path, text).unwrap();
        EventLog::read(&path, format, "c")
    }

    fn state(log: &EventLog, id: Bson) -> Replayed {
        log.documents.get(&IdKey::of(&id)).map(|(_, r)| r.clone()).unwrap()
    }

    #[test]
    fn change_events_replay_updates_onto_the_inserted_document() {
        let text = [
            r#"{"_id":{"_data":"1"},"operationType":"insert","documentKey":{"_id":1},"fullDocument":{"_id":1,"a":{"b":1},"l":[1,2,3],"x":1}}"#,
            r#"{"_id":{"_data":"2"},"operationType":"update","documentKey":{"_id":1},"updateDescription":{"updatedFields":{"a.c":2,"l.1":9,"n":"new"},"removedFields":["x"],"truncatedArrays":[{"field":"l","newSize":2}]}}"#,
            r#"{"_id":{"_data":"3"},"operationType":"update","documentKey":{"_id":2},"updateDescription":{"updatedFields":{"v":1},"removedFields":[]}}"#,
            r#"{"_id":{"_data":"4"},"operationType":"insert","documentKey":{"_id":3},"fullDocument":{"_id":3}}"#,
            r#"{"_id":{"_data":"5"},"operationType":"delete","documentKey":{"_id":3}}"#,
            r#"{"_id":{"_data":"6"},"operationType":"drop"}"#,
        ]
        .join("\n");
        let log = log_of(&text, None).unwrap();
        assert_eq!((log.format, log.events), (Format::ChangeStream, 5));
        let want = doc! { "_id": 1, "a": { "b": 1, "c": 2 }, "l": [1, 9], "n": "new" };
        assert_eq!(state(&log, Bson::Int32(1)), Replayed::Document(want));
        assert_eq!(state(&log, Bson::Int32(2)), Replayed::Unknown, "an update of a document never carried");
        assert_eq!(state(&log, Bson::Int32(3)), Replayed::Gone);
    }

    #[test]
    fn debezium_events_in_each_documented_shape() {
        let after = r#""{\"_id\": {\"$numberLong\": \"7\"}, \"name\": \"a\", \"gone\": 1}""#;
        let text = [
            format!(r#"{{"schema":{{}},"payload":{{"op":"c","after":{after},"source":{{"ord":1,"ts_ms":1000}},"ts_ms":1001}}}}"#),
            r#"{"key":{"payload":{"id":"{\"$numberLong\": \"7\"}"}},"value":{"op":"u","after":null,"updateDescription":{"updatedFields":"{\"name\": \"b\"}","removedFields":["gone"]},"source":{"ord":2,"ts_ms":2000}}}"#.into(),
            "{\"id\":\"{\\\"$numberLong\\\": \\\"8\\\"}\"}\t{\"op\":\"d\",\"after\":null,\"source\":{\"ts_ms\":3000}}".into(),
            "{\"id\":\"{\\\"$numberLong\\\": \\\"8\\\"}\"}\tnull".into(),
            r#"{"op":"r","after":{"_id":{"$numberLong":"9"}},"source":{"ts_ms":1}}"#.into(),
        ]
        .join("\n");
        let log = log_of(&text, None).unwrap();
        assert_eq!((log.format, log.events, log.snapshot_reads), (Format::Debezium, 4, 1));
        assert_eq!(state(&log, Bson::Int64(7)), Replayed::Document(doc! { "_id": 7_i64, "name": "b" }));
        assert_eq!(state(&log, Bson::Int64(8)), Replayed::Gone);
        assert!(matches!(state(&log, Bson::Int64(9)), Replayed::Document(_)));
        let err = log_of(r#"{"op":"d","after":null}"#, None).unwrap_err().to_string();
        assert!(err.starts_with("line 1: an event whose document _id"), "{err}");
    }

    #[test]
    fn singer_records_flat_or_nested_and_the_stream_named_after_the_collection() {
        let text = [
            r#"{"type":"SCHEMA","stream":"db-c","schema":{},"key_properties":["_id"]}"#,
            r#"{"type":"RECORD","stream":"db-c","record":{"_id":"a1","document":{"_id":"a1","v":1},"_sdc_deleted_at":null}}"#,
            r#"{"type":"RECORD","stream":"db-other","record":{"_id":"zz","v":1}}"#,
            r#"{"type":"RECORD","stream":"db-c","record":{"_id":"b2","v":2,"_sdc_deleted_at":null}}"#,
            r#"{"type":"RECORD","stream":"db-c","record":{"_id":"b2","_sdc_deleted_at":"2024-01-01T00:00:00Z"}}"#,
            r#"{"type":"STATE","value":{}}"#,
        ]
        .join("\n");
        let log = log_of(&text, None).unwrap();
        assert_eq!((log.format, log.events, log.stream.as_deref()), (Format::Singer, 3, Some("db-c")));
        assert!(log.seen.is_none(), "records carry no operation kind");
        assert_eq!(state(&log, Bson::String("a1".into())), Replayed::Document(doc! { "_id": "a1", "v": 1 }));
        assert_eq!(state(&log, Bson::String("b2".into())), Replayed::Gone);
        let bare = "{\"_id\":\"a1\",\"v\":1}\n{\"_id\":\"b2\",\"_sdc_deleted_at\":\"2024-01-01T00:00:00Z\"}";
        let log = log_of(bare, Some(Format::Singer)).unwrap();
        assert_eq!((log.events, state(&log, Bson::String("b2".into()))), (2, Replayed::Gone), "bare records");
        let err = log_of(r#"{"type":"STATE","value":{}}"#, None).unwrap_err().to_string();
        assert_eq!(err, "no event of a document in the log");
        let err = log_of(&text.replace("db-c", "db-d"), None).unwrap_err().to_string();
        assert_eq!(err, "the log holds the Singer streams db-d, db-other: none is named after the collection c");
    }

    #[test]
    fn a_line_that_is_no_event_is_named() {
        let err = log_of("{\"op\":\"c\",\"after\":{\"_id\":1}}\nnot json", None).unwrap_err().to_string();
        assert!(err.starts_with("line 2: not JSON"), "{err}");
        let err = log_of("{\"hello\":1}", None).unwrap_err().to_string();
        assert!(err.starts_with("line 1: neither a Singer message"), "{err}");
    }

    #[test]
    fn a_tail_shows_a_singer_record_as_a_document_and_a_change_event_as_an_event() {
        let mut singer = Tail::new(None, "c");
        assert_eq!(singer.line(r#"{"type": "STATE", "value": {}}"#).unwrap(), None);
        let record = r#"{"type": "RECORD", "stream": "db-c", "record": {"_id": "a1", "v": 1}}"#;
        let content = Some(bson::doc! { "_id": "a1", "v": 1 });
        assert_eq!(singer.line(record).unwrap(), Some(Seen::Document { id: Bson::String("a1".into()), content }));
        let deleted =
            r#"{"type": "RECORD", "stream": "c", "record": {"_id": "a1", "_sdc_deleted_at": "2026-01-01T00:00:00Z"}}"#;
        assert_eq!(
            singer.line(deleted).unwrap(),
            Some(Seen::Document { id: Bson::String("a1".into()), content: None })
        );
        let other = r#"{"type": "RECORD", "stream": "db-d", "record": {"_id": "a1"}}"#;
        assert_eq!(singer.line(other).unwrap(), None, "another collection's stream");
        let mut events = Tail::new(None, "c");
        let insert = r#"{"operationType": "insert", "documentKey": {"_id": 7}, "fullDocument": {"_id": 7}}"#;
        assert_eq!(events.line(insert).unwrap(), Some(Seen::Event(Bson::Int32(7))));
    }
}
