//! The operation journal (`--journal FILE`): one line per acknowledged operation, so
//! that `forge verify` can check what a collection (or a pipeline's copy of it) should
//! hold. NDJSON: a header line, then entries, written as the server acknowledges.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;
use std::sync::Mutex;

use bson::{Bson, Document};
use serde::{Deserialize, Serialize};

use crate::plan::expected::Expect;

pub const VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Header {
    pub forge_journal: u32,
    pub namespace: String,
    pub seed: u64,
    pub started_at: String,
    /// Top-level field left out of content hashes (the tombstone time the server sets).
    pub server_time_field: Option<String>,
    /// The server's operation time before the first write: where a change stream that
    /// must see the whole run starts (seconds and increment of a BSON timestamp).
    pub start_operation_time: Option<(u32, u32)>,
}

/// One acknowledged operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Operation index (`seq`): the plan order.
    pub s: u64,
    /// The operation: insert, update, replace or delete (a tombstone is a delete).
    pub k: String,
    /// The write it was sent as: insert, update, replace or delete (a tombstone is an
    /// update, a `regenerate` update a replace).
    pub w: String,
    /// The `_id`, as canonical Extended JSON.
    pub id: serde_json::Value,
    /// Acknowledgement time, milliseconds since the epoch.
    pub t: i64,
    /// Documents the server reported inserted, matched or deleted.
    pub m: u64,
    /// Documents it reported modified (updates that change nothing make no event).
    #[serde(default)]
    pub n: u64,
    /// The document afterwards: its content hash, "gone", or null when unknown.
    pub h: Option<String>,
}

impl Entry {
    pub fn expect(&self) -> Expect {
        match self.h.as_deref() {
            Some("gone") => Expect::Gone,
            Some(hex) => u64::from_str_radix(hex, 16).map_or(Expect::Unknown, Expect::Exists),
            None => Expect::Unknown,
        }
    }

    pub fn id(&self) -> Option<Bson> {
        Bson::try_from(self.id.clone()).ok()
    }
}

pub fn encode_expect(e: &Expect) -> Option<String> {
    match e {
        Expect::Exists(h) => Some(format!("{h:016x}")),
        Expect::Gone => Some("gone".into()),
        Expect::Unknown => None,
    }
}

pub struct JournalWriter {
    out: Mutex<BufWriter<File>>,
}

impl JournalWriter {
    pub fn create(path: &Path, header: &Header) -> std::io::Result<Self> {
        let mut out = BufWriter::new(File::create(path)?);
        serde_json::to_writer(&mut out, header)?;
        out.write_all(b"\n")?;
        Ok(JournalWriter { out: Mutex::new(out) })
    }

    pub fn append(&self, entries: &[Entry]) -> std::io::Result<()> {
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        for e in entries {
            serde_json::to_writer(&mut *out, e)?;
            out.write_all(b"\n")?;
        }
        Ok(())
    }

    pub fn flush(&self) -> std::io::Result<()> {
        self.out.lock().unwrap_or_else(|e| e.into_inner()).flush()
    }
}

/// Reads a journal: its header, then each entry in turn.
pub fn read(path: &Path, mut each: impl FnMut(Entry)) -> Result<Header, String> {
    let shown = path.display();
    let file = File::open(path).map_err(|e| format!("cannot read journal '{shown}': {e}"))?;
    let mut lines = BufReader::new(file).lines();
    let first = lines.next().ok_or_else(|| format!("journal '{shown}' is empty"))?.map_err(|e| e.to_string())?;
    let header: Header =
        serde_json::from_str(&first).map_err(|e| format!("'{shown}' is not a forge journal (header: {e})"))?;
    if header.forge_journal != VERSION {
        return Err(format!(
            "journal '{shown}' has version {}; this forge reads version {VERSION}",
            header.forge_journal
        ));
    }
    for (n, line) in lines.enumerate() {
        let line = line.map_err(|e| format!("reading '{shown}': {e}"))?;
        if line.is_empty() {
            continue;
        }
        // A run killed mid-write can leave a torn last line: stop there.
        match serde_json::from_str(&line) {
            Ok(entry) => each(entry),
            Err(_) => {
                eprintln!("warning: journal line {} is incomplete; reading stops there", n + 2);
                break;
            }
        }
    }
    Ok(header)
}

/// A content hash of a document that ignores field order (the server may reorder
/// fields on update) and, at the top level, `exclude`. FNV-1a over canonical BSON of
/// the key-sorted document: stable across runs, machines and forge versions.
pub fn doc_hash(doc: &Document, exclude: Option<&str>) -> u64 {
    let mut sorted = sort_keys(doc);
    if let Some(field) = exclude {
        sorted.remove(field);
    }
    let bytes = bson::serialize_to_vec(&sorted).unwrap_or_default();
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ *b as u64).wrapping_mul(0x0000_0100_0000_01b3))
}

fn sort_keys(doc: &Document) -> Document {
    let mut keys: Vec<&String> = doc.keys().collect();
    keys.sort();
    keys.into_iter().map(|k| (k.clone(), sort_value(&doc[k]))).collect()
}

fn sort_value(v: &Bson) -> Bson {
    match v {
        Bson::Document(d) => Bson::Document(sort_keys(d)),
        Bson::Array(items) => Bson::Array(items.iter().map(sort_value).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn hashes_ignore_field_order_and_the_excluded_field() {
        let a = doc! { "_id": 1, "x": { "p": 1, "q": 2 }, "t": 5 };
        let b = doc! { "x": { "q": 2, "p": 1 }, "_id": 1, "t": 6 };
        assert_ne!(doc_hash(&a, None), doc_hash(&b, None));
        assert_eq!(doc_hash(&a, Some("t")), doc_hash(&b, Some("t")));
        assert_ne!(doc_hash(&a, Some("t")), doc_hash(&doc! { "_id": 1, "x": { "p": 1, "q": 3 } }, None));
    }
}
