//! A verification: the journals read first (before anything is asked of the server),
//! then the collection, and optionally its change stream, compared with them.
//!
//! The journals of a run's segments are read one after the other into one expected
//! state: each document has one writer, so its entries are all in one journal, in
//! write order; across journals no order is needed.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bson::Document;
use mongodb::Collection;
use mongodb::change_stream::event::ResumeToken;

use super::VerifyError;
use super::change_stream::{EventRules, ExpectedEvents};
use super::event_log::{EventLog, Replayed};
use super::final_state::{FinalState, Since};
use super::journals::Journals;
use super::pg_server::PgServer;
use super::postgres::{self, Table};
use super::report::{ChangeStreamCheck, FinalStateCheck, JournalRead, Report, SegmentsRead, SinkRead};
use super::server::{self, StreamStart};
use super::sink_types::SinkTypes;
use crate::journal::{Header, Reader};
use crate::schema::Schema;

/// `_id`s looked up per query when only the journaled documents are checked.
const LOOKUP_BATCH: usize = 1000;

/// How to read the change stream for the change-stream check.
#[derive(Debug, Clone)]
pub struct ChangeStreamOptions {
    /// Read from just after this event instead of from the run's start.
    pub resume_after: Option<ResumeToken>,
    /// Stop reading once no event arrives for this long.
    pub idle: Duration,
}

/// A verification prepared from journals, ready to run against a collection.
#[derive(Debug)]
pub struct Check {
    /// The first journal's header (namespace, seed and segment count are all journals').
    header: Header,
    /// The journals read, in segment order.
    journals: Vec<JournalRead>,
    segment_count: u64,
    /// Segments of the run without a journal here.
    missing: Vec<u64>,
    /// The collection held documents before the run.
    preexisting: bool,
    /// Where the change stream starts, or a journal that does not say.
    start: Result<(u32, u32), PathBuf>,
    final_state: FinalState,
    /// The events each document should have, when events are to be checked.
    events: Option<ExpectedEvents>,
}

impl Check {
    /// Reads `journals`; with `events`, what each document's events should be too
    /// (for a change stream or an event log). With `since`, only documents written
    /// from then on are expected.
    pub fn load(journals: &Journals, events: bool, since: Option<Since>) -> Result<Self, VerifyError> {
        let mut check = Check::expecting(journals, events, since)?;
        for (path, _) in journals.iter() {
            let reader = Reader::open(path).map_err(|source| VerifyError::Journal { journal: path.into(), source })?;
            check.read(path, reader)?;
        }
        Ok(check)
    }

    /// A check of `journals` before any entry is read.
    fn expecting(journals: &Journals, events: bool, since: Option<Since>) -> Result<Self, VerifyError> {
        let header = journals.header().clone();
        let versions = header
            .schema_versions
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let schema = Schema::from_value(v.schema.clone())
                    .map_err(|e| VerifyError::SchemaVersion { version: i, why: e.to_string() })?;
                Ok((v.from_seq, schema))
            })
            .collect::<Result<Vec<_>, VerifyError>>()?;
        let missing = journals.missing();
        let expected = if missing.is_empty() { ExpectedEvents::default() } else { ExpectedEvents::of_some_writers() };
        Ok(Check {
            final_state: FinalState::new(header.server_time_field.clone()).with_versions(versions).since(since),
            // Expected events are collected only when asked for: they cost memory per write.
            events: events.then(|| expected.since(since)),
            journals: Vec::new(),
            segment_count: journals.segment_count(),
            missing,
            preexisting: journals.preexisting(),
            start: journals.start_operation_time().map_err(Path::to_path_buf),
            header,
        })
    }

    /// Reads the entries of the journal at `path` from `reader`.
    fn read<R: BufRead>(&mut self, path: &Path, mut reader: Reader<R>) -> Result<(), VerifyError> {
        let mut operations = 0;
        for entry in &mut reader {
            let entry = entry.map_err(|source| VerifyError::Journal { journal: path.into(), source })?;
            operations += 1;
            self.final_state.record(&entry);
            if let Some(events) = &mut self.events {
                events.record(&entry);
            }
        }
        self.journals.push(JournalRead {
            path: path.into(),
            segment: reader.header().segment.index,
            operations,
            incomplete_line: reader.incomplete_line(),
        });
        Ok(())
    }

    /// The first journal's header: its namespace, seed and segment count are all journals'.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The journals read, in segment order.
    pub fn journals(&self) -> &[JournalRead] {
        &self.journals
    }

    /// The segments of the run that have no journal here.
    pub fn missing_segments(&self) -> &[u64] {
        &self.missing
    }

    /// Entries read from the journals.
    pub fn operations(&self) -> u64 {
        self.journals.iter().map(|j| j.operations).sum()
    }

    /// Compares `coll` (after its change stream, with `change_stream`) with the
    /// journal, its documents' types mapped by `types`.
    pub async fn run(
        mut self,
        coll: &Collection<Document>,
        change_stream: Option<&ChangeStreamOptions>,
        types: &SinkTypes,
    ) -> Result<Report, VerifyError> {
        let change_stream = match (change_stream, &self.events) {
            (Some(options), Some(expected)) => {
                let seen = server::read_events(coll, self.stream_start(options)?, options.idle).await?;
                Some(expected.compare(&seen))
            }
            _ => None,
        };
        let state = std::mem::take(&mut self.final_state);
        let final_state = if self.preexisting || !self.missing.is_empty() {
            // Documents the journals do not know are not read (they may be there before
            // the run, or a missing segment's): memory and time follow the journals,
            // not the collection.
            let mut found = FinalStateCheck { journaled_only: true, ..Default::default() };
            for batch in state.into_batches(LOOKUP_BATCH) {
                let ids = batch.ids();
                let mut comparison = batch.compare_as(types);
                server::lookup_documents(coll, ids, &mut comparison).await?;
                found.absorb(comparison.finish());
            }
            found
        } else {
            // Every document is the run's: one the journal does not know is extra.
            let mut comparison = state.compare_as(types);
            server::compare_documents(coll, &mut comparison).await?;
            comparison.finish()
        };
        Ok(self.report(coll.namespace().to_string(), final_state, change_stream, None))
    }

    /// Compares an event log (a pipeline's output) with the journal: the state it
    /// leaves each document in, its types mapped by `types`, and (formats with
    /// operation kinds, when events were loaded) each document's events by `rules`.
    pub fn run_on_log(
        mut self,
        log: EventLog,
        location: String,
        types: (&SinkTypes, String),
        rules: EventRules,
    ) -> Report {
        let change_stream = match (&log.seen, &self.events) {
            (Some(seen), Some(expected)) => Some(expected.compare_with(seen, rules)),
            _ => None,
        };
        let mut comparison = self.comparison(types.0);
        for (id, state) in log.documents.values() {
            match state {
                Replayed::Document(doc) => comparison.document(doc),
                Replayed::Unknown => comparison.present(id),
                Replayed::Gone => {}
            }
        }
        let sink = SinkRead {
            kind: serde_json::to_value(log.format)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            location,
            events: Some(log.events),
            rows: None,
            snapshot_reads: log.snapshot_reads,
            stream: log.stream,
            types: types.1,
        };
        let namespace = self.header.namespace.clone();
        self.report(namespace, comparison.finish(), change_stream, Some(sink))
    }

    /// Compares a PostgreSQL table (a pipeline's sink) with the journal, its
    /// documents' types mapped by `types`.
    pub async fn run_on_table(
        mut self,
        server: &PgServer,
        table: &Table,
        types: (&SinkTypes, String),
    ) -> Result<Report, VerifyError> {
        let mut comparison = self.comparison(types.0);
        let (rows, document_column) = postgres::compare_table(server, table, &mut comparison).await?;
        let sink = SinkRead {
            kind: match document_column {
                Some(c) => format!("postgresql (document column {c})"),
                None => "postgresql (a column per field)".into(),
            },
            location: table.name.clone(),
            events: None,
            rows: Some(rows),
            snapshot_reads: 0,
            stream: None,
            types: types.1,
        };
        let namespace = self.header.namespace.clone();
        Ok(self.report(namespace, comparison.finish(), None, Some(sink)))
    }

    /// A comparison of a sink read whole with the journals' final state: documents
    /// they do not know are extra only when the journals know every document.
    fn comparison(&mut self, types: &SinkTypes) -> super::final_state::Comparison {
        let comparison = std::mem::take(&mut self.final_state).compare_as(types);
        if self.preexisting || !self.missing.is_empty() { comparison.journaled_only() } else { comparison }
    }

    /// The report of this check's findings.
    fn report(
        self,
        namespace: String,
        final_state: FinalStateCheck,
        change_stream: Option<ChangeStreamCheck>,
        sink: Option<SinkRead>,
    ) -> Report {
        let operations = self.operations();
        let incomplete_journal_line = match self.journals.as_slice() {
            [one] => one.incomplete_line,
            _ => None,
        };
        Report {
            namespace,
            journal: self.journals.first().map(|j| j.path.clone()).unwrap_or_default(),
            operations,
            final_state,
            change_stream,
            sink,
            follow: None,
            incomplete_journal_line,
            segments: (self.segment_count > 1).then(|| SegmentsRead {
                segment_count: self.segment_count,
                segments_checked: self.journals.iter().map(|j| j.segment).collect(),
                segments_missing: self.missing,
                journals: self.journals,
            }),
        }
    }

    /// Where the stream starts: after the token given, or where every journal's
    /// writes are in it (the earliest start).
    fn stream_start(&self, options: &ChangeStreamOptions) -> Result<StreamStart, VerifyError> {
        if let Some(token) = &options.resume_after {
            return Ok(StreamStart::After(token.clone()));
        }
        let (time, increment) = self.start.clone().map_err(|journal| VerifyError::NoStartTime { journal })?;
        Ok(StreamStart::At(bson::Timestamp { time, increment }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::materialize::model::Expect;
    use crate::segment::Segment;
    use crate::verify::tests::entry;
    use bson::{Bson, doc};

    const HEADER: &str = r#"{"forge_journal":1,"namespace":"db.c","seed":1,"started_at":"","server_time_field":null,"start_operation_time":null}"#;

    /// A check of journals given as (name, text), read as `load` reads files.
    fn check_of(journals: &[(&str, &str)], change_stream: bool) -> Result<Check, VerifyError> {
        fn reader(text: &str) -> Reader<&[u8]> {
            Reader::new(text.as_bytes()).unwrap()
        }
        let headers = journals.iter().map(|(name, text)| (PathBuf::from(name), reader(text).header().clone()));
        let set = Journals::new(headers.collect())?;
        let mut check = Check::expecting(&set, change_stream, None)?;
        for (path, _) in set.iter() {
            let (_, text) = journals.iter().find(|(name, _)| Path::new(name) == path).unwrap();
            check.read(path, reader(text))?;
        }
        Ok(check)
    }

    fn check(text: &str, change_stream: bool) -> Check {
        check_of(&[("j", text)], change_stream).unwrap()
    }

    #[test]
    fn counts_every_entry_and_notes_a_torn_last_line() {
        let entry = r#"{"s":0,"k":"insert","w":"insert","id":1,"t":0,"m":0,"h":null}"#;
        let check = check(&format!("{HEADER}\n{entry}\n{entry}\n{{\"s\":"), false);
        assert_eq!((check.operations(), check.journals()[0].incomplete_line), (2, Some(4)));
        assert_eq!(check.header().namespace, "db.c");
        assert!(check.missing_segments().is_empty());
    }

    #[test]
    fn the_change_stream_needs_a_start() {
        let check = check(HEADER, true);
        let options = &ChangeStreamOptions { resume_after: None, idle: Duration::ZERO };
        let err = check.stream_start(options).err().unwrap();
        assert!(matches!(err, VerifyError::NoStartTime { journal } if journal == Path::new("j")));
    }

    /// The journal of segment `k` of `n`: its header and `entries`.
    fn segment_journal(k: u64, n: u64, start: (u32, u32), entries: &[crate::journal::Entry]) -> String {
        let header = Header {
            forge_journal: crate::journal::VERSION,
            namespace: "db.c".into(),
            seed: 5,
            started_at: String::new(),
            server_time_field: None,
            start_operation_time: Some(start),
            preexisting: k > 0,
            segment: Segment::new(k, n).unwrap(),
            schema_versions: Vec::new(),
            documents: false,
        };
        let mut text = serde_json::to_string(&header).unwrap() + "\n";
        for e in entries {
            text += &(serde_json::to_string(e).unwrap() + "\n");
        }
        text
    }

    fn hash(d: &Document) -> Expect {
        Expect::Exists(crate::journal::doc_hash(d, None))
    }

    #[test]
    fn the_union_of_segment_journals_expects_each_segment_s_last_state_of_its_documents() {
        let (a, a2, b) = (doc! { "_id": 1, "v": 1 }, doc! { "_id": 1, "v": 2 }, doc! { "_id": 2 });
        let s0 = segment_journal(
            0,
            2,
            (200, 1),
            &[entry("insert", Bson::Int32(1), 1, 0, hash(&a)), entry("update", Bson::Int32(1), 1, 1, hash(&a2))],
        );
        let s1 = segment_journal(
            1,
            2,
            (100, 7),
            &[
                entry("insert", Bson::Int32(2), 1, 0, hash(&b)),
                entry("insert", Bson::Int32(3), 1, 0, Expect::Unknown),
                entry("delete", Bson::Int32(3), 1, 0, Expect::Gone),
            ],
        );
        // Given in any order, read in segment order.
        let check = check_of(&[("s1", &s1), ("s0", &s0)], true).unwrap();
        let segments: Vec<u64> = check.journals().iter().map(|j| j.segment).collect();
        assert_eq!((segments, check.operations(), check.missing_segments()), (vec![0, 1], 5, &[][..]));
        assert!(!check.preexisting, "segment 0 found the collection empty");
        let options = &ChangeStreamOptions { resume_after: None, idle: Duration::ZERO };
        let Ok(StreamStart::At(ts)) = check.stream_start(options) else { panic!("no start") };
        assert_eq!((ts.time, ts.increment), (100, 7), "the earliest segment's start");

        let mut comparison = check.final_state.compare();
        comparison.document(&b);
        comparison.document(&a);
        comparison.document(&doc! { "_id": 3 });
        let found = comparison.finish();
        assert_eq!((found.journaled_documents, found.documents), (3, 3));
        assert_eq!((found.stale, found.extra, found.missing), (vec![Bson::Int32(1)], vec![Bson::Int32(3)], vec![]));
    }

    #[test]
    fn segments_without_a_journal_are_named_and_their_events_unchecked() {
        let s0 = segment_journal(0, 3, (100, 1), &[entry("insert", Bson::Int32(1), 1, 0, Expect::Unknown)]);
        let s2 = segment_journal(2, 3, (100, 2), &[entry("insert", Bson::Int32(3), 1, 0, Expect::Unknown)]);
        let check = check_of(&[("s0", &s0), ("s2", &s2)], true).unwrap();
        assert_eq!(check.missing_segments(), [1]);
        let mut seen = crate::verify::SeenEvents::default();
        for id in [1, 2, 3] {
            seen.push(&Bson::Int32(id), crate::verify::Event { operation: "insert".into(), wall_ms: 0 });
        }
        let stream = check.events.as_ref().unwrap().compare(&seen);
        assert_eq!((stream.unexpected, stream.unchecked, stream.differences()), (0, 1, 0));

        let all = segment_journal(1, 3, (100, 3), &[entry("insert", Bson::Int32(2), 1, 0, Expect::Unknown)]);
        let check = check_of(&[("s0", &s0), ("s1", &all), ("s2", &s2)], true).unwrap();
        assert!(check.missing_segments().is_empty());
        seen.push(&Bson::Int32(4), crate::verify::Event { operation: "insert".into(), wall_ms: 0 });
        let stream = check.events.as_ref().unwrap().compare(&seen);
        assert_eq!((stream.unexpected, stream.unchecked), (1, 0), "with every segment, an unknown _id is unexpected");
    }

    #[test]
    fn journals_of_other_runs_are_refused_before_any_entry_is_read() {
        let s0 = segment_journal(0, 2, (1, 1), &[]);
        let other_seed = segment_journal(1, 2, (1, 1), &[]).replace("\"seed\":5", "\"seed\":6");
        let err = check_of(&[("s0", &s0), ("s1", &other_seed)], false).unwrap_err();
        assert_eq!(err.to_string(), "journals 's0' and 's1' are not of one run: their seeds are 5 and 6");
    }
}
