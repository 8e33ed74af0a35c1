//! Appending to a journal while a run writes: shared by the writer tasks.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Mutex;

use serde::Serialize;

use super::{Entry, Header};

/// A journal being written: the header on creation, then entries as they are acknowledged.
pub struct JournalWriter {
    out: Mutex<BufWriter<File>>,
    /// Entries carry their documents (the header says so).
    documents: bool,
}

impl JournalWriter {
    /// Creates (or truncates) the journal at `path` and writes its header.
    pub fn create(path: &Path, header: &Header) -> std::io::Result<Self> {
        let mut out = BufWriter::new(File::create(path)?);
        write_line(&mut out, header)?;
        Ok(JournalWriter { out: Mutex::new(out), documents: header.documents })
    }

    /// Whether entries should carry the document their write left (the header's
    /// `documents`): what writers check before attaching one.
    pub fn documents(&self) -> bool {
        self.documents
    }

    /// Appends entries, one line each, and writes them out: a batch's lines reach the
    /// file as it is acknowledged, for `verify --follow` to tail and for a run that
    /// is killed to leave behind.
    pub fn append(&self, entries: &[Entry]) -> std::io::Result<()> {
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        for e in entries {
            write_line(&mut *out, e)?;
        }
        out.flush()
    }

    /// Writes out what is buffered.
    pub fn flush(&self) -> std::io::Result<()> {
        self.out.lock().unwrap_or_else(|e| e.into_inner()).flush()
    }
}

fn write_line(out: &mut impl Write, value: &impl Serialize) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::Reader;

    #[test]
    fn what_is_written_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.ndjson");
        let header = Header {
            forge_journal: crate::journal::VERSION,
            namespace: "forge.c".into(),
            seed: 3,
            started_at: "2025-01-01T00:00:00Z".into(),
            server_time_field: Some("deletedAt".into()),
            start_operation_time: None,
            preexisting: true,
            segment: crate::segment::Segment::new(1, 3).unwrap(),
            schema_versions: Vec::new(),
            documents: true,
        };
        let entry = Entry {
            seq: 4,
            kind: "update".into(),
            write: "update".into(),
            id: serde_json::json!({ "$numberLong": "9" }),
            acked_at_ms: 10,
            matched: 1,
            modified: 1,
            expect: Some("gone".into()),
            retried: true,
            write_concern_failed: false,
            document: None,
        }
        .with_document(&bson::doc! { "_id": 9_i64, "v": [1, 2] });
        let journal = JournalWriter::create(&path, &header).unwrap();
        journal.append(std::slice::from_ref(&entry)).unwrap();
        journal.flush().unwrap();
        let mut reader = Reader::open(&path).unwrap();
        assert_eq!(reader.header().server_time_field.as_deref(), Some("deletedAt"));
        assert_eq!(reader.header().segment, crate::segment::Segment::new(1, 3).unwrap());
        assert!(reader.header().documents && journal.documents());
        assert_eq!(reader.next().unwrap().unwrap(), entry);
        assert!(reader.next().is_none());
    }
}
