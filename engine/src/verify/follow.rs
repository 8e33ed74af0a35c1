//! End-to-end lag, live (`verify --follow`): the journal and the sink are tailed
//! while a run writes, and each acknowledged write is matched with the moment the
//! sink showed it.
//!
//! A sink of **events** (a change stream, a change-event or Debezium log) is matched
//! per document and in order: the k-th sink event of a document is the k-th of its
//! journaled writes that the server turned into a change event (inserts, deletes,
//! updates and replacements that modified something). A sink event read before its
//! journal line waits for it.
//!
//! A sink of **states** (a table, whose rows of the documents awaited are read by
//! `_id` every poll; a Singer log, whose records carry documents) shows each document
//! as the latest write that reached it left it: when a row or record equals, under
//! the sink's type profile, the document a journaled write left (or the document is
//! gone after a delete), that write and every earlier one of the document are seen,
//! at the moment the sink first showed that content. A pipeline that re-reads
//! documents skips states; the skipped writes are seen with the later one. (A
//! document written back to an earlier content is matched with the latest write that
//! left it.)
//!
//! The lag of a write is the time forge saw it in the sink minus the time the source
//! acknowledged it; a write not yet seen in the sink counts as behind, the oldest of
//! them giving how many seconds behind.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::time::Duration;

use bson::{Bson, Document};
use futures_util::StreamExt;
use hdrhistogram::Histogram;
use mongodb::Collection;
use serde::Serialize;

use super::VerifyError;
use super::change_stream::expected_event;
use super::changed_id;
use super::event_log::{Format, Seen, Tail};
use super::pg_server::PgServer;
use super::postgres::{Table, TableReader};
use super::sink_types::{SinkTypes, flat_id};
use crate::journal::{Entry, Header, doc_hash};
use crate::plan::IdKey;

/// The lag figures at one moment.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Lag {
    /// Journaled writes whose sink event was seen.
    pub matched: u64,
    /// Lag of those, milliseconds: median, 99th percentile, largest.
    pub p50_ms: u64,
    pub p99_ms: u64,
    pub max_ms: u64,
    /// Journaled writes not yet seen in the sink.
    pub behind_ops: u64,
    /// How long ago the oldest of them was acknowledged, milliseconds.
    pub behind_ms: u64,
    /// Sink events no journaled write accounts for (yet).
    pub unmatched_sink_events: u64,
}

/// A journaled write the sink has not shown yet.
#[derive(Debug)]
struct Due {
    acked_at_ms: i64,
    seq: u64,
    /// For a sink of states: what the write left.
    after: After,
}

/// What a write left, as a sink of states would show it.
#[derive(Debug)]
enum After {
    /// The document, and its hash.
    Document(Document, u64),
    /// No document: it was deleted.
    Gone,
    /// Not known (a sink of events, or an entry without its document): no content
    /// shows this write alone; a later write's does.
    Unknown,
}

/// The matching of journaled writes with what the sink shows.
#[derive(Debug)]
pub struct Follower {
    /// Per document, its writes not yet seen in the sink, oldest first.
    due: HashMap<IdKey, VecDeque<Due>>,
    /// Per document, sink events read before their write's journal line: seen at.
    early: HashMap<IdKey, VecDeque<i64>>,
    /// Every write not yet seen, oldest first.
    outstanding: BTreeSet<(i64, u64)>,
    lags: Histogram<u64>,
    /// The largest lag, exactly (the histogram keeps 3 significant figures).
    max_ms: u64,
    early_count: u64,
    /// Set for a sink of states.
    states: Option<States>,
}

/// What a sink of states showed, for the documents that matter.
#[derive(Debug)]
struct States {
    /// How the sink maps types.
    types: SinkTypes,
    /// Of each document with due writes, the journal's key by flat `_id` (how the
    /// sink keys a document), and the other way round.
    keys: HashMap<String, IdKey>,
    flats: HashMap<IdKey, String>,
    /// Per flat `_id`, what the sink shows that no due write accounts for yet (a
    /// state read before its journal line, or an older one), and since when.
    shown: HashMap<String, Shown>,
}

#[derive(Debug)]
struct Shown {
    /// The content (None: no such document), and its hash.
    content: Option<Document>,
    hash: u64,
    since_ms: i64,
}

impl Default for Follower {
    fn default() -> Self {
        Follower {
            due: HashMap::new(),
            early: HashMap::new(),
            outstanding: BTreeSet::new(),
            // Up to a day, 3 significant figures; a longer lag counts as a day.
            lags: Histogram::new_with_bounds(1, 86_400_000, 3).expect("valid bounds"),
            max_ms: 0,
            early_count: 0,
            states: None,
        }
    }
}

impl Follower {
    /// A follower of a sink of states whose types `types` maps, fed with
    /// [`Follower::shows`]; its journal must keep documents.
    pub fn of_states(types: SinkTypes) -> Self {
        let states = States { types, keys: HashMap::new(), flats: HashMap::new(), shown: HashMap::new() };
        Follower { states: Some(states), ..Follower::default() }
    }

    /// A journaled write: due in the sink if the server made an event of it.
    pub fn entry(&mut self, entry: &Entry) {
        let Some(id) = changed_id(entry) else { return };
        if expected_event(&entry.write, entry.modified).is_none() {
            return;
        }
        let key = IdKey::of(&id);
        if let Some(seen_at) = self.early.get_mut(&key).and_then(VecDeque::pop_front) {
            self.early_count -= 1;
            self.record(seen_at - entry.acked_at_ms);
            return;
        }
        let after = match (&self.states, entry.write.as_str()) {
            (None, _) => After::Unknown,
            (Some(_), "delete") => After::Gone,
            (Some(_), _) => entry.bson_document().map_or(After::Unknown, |d| {
                let hash = doc_hash(&d, None);
                After::Document(d, hash)
            }),
        };
        self.due.entry(key.clone()).or_default().push_back(Due {
            acked_at_ms: entry.acked_at_ms,
            seq: entry.seq,
            after,
        });
        self.outstanding.insert((entry.acked_at_ms, entry.seq));
        if let Some(states) = &mut self.states {
            let flat = states.flats.entry(key.clone()).or_insert_with(|| flat_id(&id)).clone();
            states.keys.insert(flat.clone(), key);
            // The sink may have shown this write before its line was read.
            if states.shown.contains_key(&flat) {
                self.settle(&flat);
            }
        }
    }

    /// The sink showed an event of document `id` at `seen_at_ms`.
    pub fn sink_event(&mut self, id: &Bson, seen_at_ms: i64) {
        let key = IdKey::of(id);
        match self.due.get_mut(&key).and_then(VecDeque::pop_front) {
            Some(write) => {
                if self.due.get(&key).is_some_and(VecDeque::is_empty) {
                    self.forget(&key);
                }
                self.outstanding.remove(&(write.acked_at_ms, write.seq));
                self.record(seen_at_ms - write.acked_at_ms);
            }
            None => {
                self.early.entry(key).or_default().push_back(seen_at_ms);
                self.early_count += 1;
            }
        }
    }

    /// The flat `_id`s of the documents with writes not yet seen: those a sink of
    /// states must be read for.
    pub fn due_ids(&self) -> Vec<String> {
        self.states.as_ref().map_or_else(Vec::new, |s| s.flats.values().cloned().collect())
    }

    /// A sink of states shows the document `flat` (its flat `_id`) as `content`
    /// (None: no such document) at `now_ms`. Returns whether that is news: a content
    /// it did not show before, or a write seen.
    pub fn shows(&mut self, flat: &str, content: Option<Document>, now_ms: i64) -> bool {
        let Some(states) = &mut self.states else { return false };
        let hash = content.as_ref().map_or(0, |c| doc_hash(c, None));
        let news = match states.shown.get(flat) {
            Some(shown) if shown.hash == hash && shown.content.is_some() == content.is_some() => false,
            _ => {
                states.shown.insert(flat.to_string(), Shown { content, hash, since_ms: now_ms });
                true
            }
        };
        self.settle(flat) || news
    }

    /// Matches what the sink shows of `flat` with the document's due writes: the
    /// latest write it shows is seen, with every earlier one. Returns whether any was.
    fn settle(&mut self, flat: &str) -> bool {
        let Some(states) = &mut self.states else { return false };
        let (Some(key), Some(shown)) = (states.keys.get(flat), states.shown.get(flat)) else { return false };
        let Some(writes) = self.due.get_mut(key) else { return false };
        let types = &states.types;
        let Some(last) = writes.iter().rposition(|w| equals(types, &w.after, shown.content.as_ref())) else {
            return false;
        };
        let since = shown.since_ms;
        let seen: Vec<Due> = writes.drain(..=last).collect();
        let done = writes.is_empty().then(|| key.clone());
        // Kept only while no write accounts for it.
        states.shown.remove(flat);
        if let Some(key) = done {
            self.forget(&key);
        }
        for write in seen {
            self.outstanding.remove(&(write.acked_at_ms, write.seq));
            self.record(since - write.acked_at_ms);
        }
        true
    }

    /// Drops what is kept of a document none of whose writes is due any more.
    fn forget(&mut self, key: &IdKey) {
        self.due.remove(key);
        if let Some(states) = &mut self.states
            && let Some(flat) = states.flats.remove(key)
        {
            states.keys.remove(&flat);
        }
    }

    fn record(&mut self, lag_ms: i64) {
        // A sink event stamped before the acknowledgement (clocks, or the ack's own
        // round trip) has no lag to speak of.
        let lag = lag_ms.max(0) as u64;
        self.lags.saturating_record(lag);
        self.max_ms = self.max_ms.max(lag);
    }

    /// The figures as of `now_ms`.
    pub fn lag(&self, now_ms: i64) -> Lag {
        Lag {
            matched: self.lags.len(),
            p50_ms: self.lags.value_at_quantile(0.5),
            p99_ms: self.lags.value_at_quantile(0.99),
            max_ms: self.max_ms,
            behind_ops: self.outstanding.len() as u64,
            behind_ms: self.outstanding.first().map_or(0, |(at, _)| (now_ms - at).max(0) as u64),
            unmatched_sink_events: self.early_count,
        }
    }
}

/// Whether a sink's `content` (None: no document) is what a write left, once `types`
/// restored its values.
fn equals(types: &SinkTypes, after: &After, content: Option<&Document>) -> bool {
    match (after, content) {
        (After::Gone, None) => true,
        (After::Document(after, hash), Some(content)) => {
            let mut restored = types.restore(after, content);
            if let Some(id) = after.get("_id") {
                restored.insert("_id", id.clone());
            }
            doc_hash(&restored, None) == *hash
        }
        _ => false,
    }
}

/// The sink to follow.
pub enum FollowSink {
    /// A MongoDB collection: its change stream, from now.
    Collection(Collection<Document>),
    /// An event log file as it grows, in `format` (None: from its first event), of
    /// the collection named; a Singer log is a sink of states whose types `types`
    /// maps (the journal must keep documents).
    Log { path: PathBuf, format: Option<Format>, collection: String, types: Box<SinkTypes> },
    /// A PostgreSQL table on `server`, read every `every`, its types mapped by
    /// `types` (it may not exist yet). The journal must keep documents.
    Table { server: PgServer, table: Table, types: Box<SinkTypes>, every: Duration },
}

/// How often the files are polled for new lines.
const POLL: Duration = Duration::from_millis(50);

/// Follows `journal` and `sink` until neither grows for `idle` (once the journal has
/// an entry) or `shutdown` completes, calling `tick` with the figures every
/// `interval`; returns the last figures.
pub async fn follow(
    journal: &Path,
    sink: FollowSink,
    idle: Duration,
    interval: Duration,
    shutdown: impl std::future::Future<Output = ()>,
    mut tick: impl FnMut(&Lag),
) -> Result<Lag, VerifyError> {
    let mut follower = Follower::default();
    let mut journal = JournalTail { tail: LineTail::new(journal.to_path_buf()), documents: None, journaled: false };
    let (mut stream, mut log, mut table) = (None, None, None);
    match sink {
        FollowSink::Collection(coll) => {
            let fail = |source| VerifyError::ChangeStream { namespace: coll.namespace().to_string(), source };
            let watch = coll.watch().pipeline([bson::doc! { "$project": { "documentKey": 1 } }]);
            stream = Some(watch.await.map_err(fail)?);
        }
        FollowSink::Log { path, format, collection, types } => {
            follower = Follower::of_states(*types);
            log = Some((LineTail::new(path), Tail::new(format, &collection)));
        }
        FollowSink::Table { server, table: name, types, every } => {
            follower = Follower::of_states(*types);
            table = Some(TablePoll { server, table: name, reader: None, every: tokio::time::interval(every) });
        }
    }
    let mut shutdown = std::pin::pin!(shutdown);
    let mut poll = tokio::time::interval(POLL);
    let mut last_tick = tokio::time::Instant::now();
    let mut last_growth = tokio::time::Instant::now();
    loop {
        let mut grew = false;
        tokio::select! {
            _ = &mut shutdown => break,
            event = async { stream.as_mut().unwrap().next().await }, if stream.is_some() => {
                match event {
                    Some(Ok(event)) => {
                        if let Some(id) = event.document_key.as_ref().and_then(|k| k.get("_id")) {
                            follower.sink_event(id, now_ms());
                            grew = true;
                        }
                    }
                    Some(Err(e)) => return Err(VerifyError::Sink { sink: "change stream".into(), why: e.to_string() }),
                    None => stream = None,
                }
            }
            _ = async { table.as_mut().unwrap().every.tick().await }, if table.is_some() => {
                // The journal first: a row is matched with the writes known when it was read.
                grew |= journal.read(&mut follower, true)?;
                grew |= table.as_mut().unwrap().read(&mut follower).await?;
            }
            _ = poll.tick() => {
                grew |= journal.read(&mut follower, table.is_some())?;
                if let Some((tail, events)) = &mut log {
                    let lines = tail.lines()?;
                    let fail = |why: String| VerifyError::Sink { sink: tail.path.display().to_string(), why };
                    for line in lines {
                        grew = true;
                        match events.line(&line).map_err(|e| fail(e.to_string()))? {
                            None => {}
                            Some(Seen::Event(id)) => follower.sink_event(&id, now_ms()),
                            Some(Seen::Document { id, content }) => {
                                if journal.documents == Some(false) {
                                    return Err(VerifyError::NoDocuments { sink: "a Singer log" });
                                }
                                follower.shows(&flat_id(&id), content, now_ms());
                            }
                        }
                    }
                }
            }
        }
        let now = tokio::time::Instant::now();
        if grew {
            last_growth = now;
        } else if journal.journaled && now - last_growth >= idle {
            break;
        }
        if now - last_tick >= interval {
            last_tick = now;
            tick(&follower.lag(now_ms()));
        }
    }
    Ok(follower.lag(now_ms()))
}

/// The run's journal as it grows.
struct JournalTail {
    tail: LineTail,
    /// Whether entries carry documents, once the header is read.
    documents: Option<bool>,
    /// Whether an entry was read.
    journaled: bool,
}

impl JournalTail {
    /// Feeds the entries appended since the last call to `follower`; whether any
    /// line was. With `needs_documents`, a journal without them is an error.
    fn read(&mut self, follower: &mut Follower, needs_documents: bool) -> Result<bool, VerifyError> {
        let lines = self.tail.lines()?;
        for line in &lines {
            if self.documents.is_none() {
                let header: Option<Header> = serde_json::from_str(line).ok();
                let documents = header.is_some_and(|h| h.documents);
                if needs_documents && !documents {
                    return Err(VerifyError::NoDocuments { sink: "a table" });
                }
                self.documents = Some(documents);
                continue;
            }
            // A line that is not an entry is left to the full check to report.
            if let Ok(entry) = serde_json::from_str::<Entry>(line) {
                self.journaled = true;
                follower.entry(&entry);
            }
        }
        Ok(!lines.is_empty())
    }
}

/// A table polled for the documents with writes not yet seen.
struct TablePoll {
    server: PgServer,
    table: Table,
    /// Open once the table exists.
    reader: Option<TableReader>,
    every: tokio::time::Interval,
}

impl TablePoll {
    /// Reads the rows of the documents `follower` waits for into it; whether that
    /// was news (nothing while the table does not exist).
    async fn read(&mut self, follower: &mut Follower) -> Result<bool, VerifyError> {
        if self.reader.is_none() {
            self.reader = TableReader::open(&self.server, &self.table).await?;
        }
        let Some(reader) = &self.reader else { return Ok(false) };
        let due = follower.due_ids();
        if due.is_empty() {
            return Ok(false);
        }
        let mut rows = HashMap::new();
        reader
            .for_each_of(&due, |row| {
                let id = row.get("_id").map_or_else(String::new, flat_id);
                rows.insert(id, row);
            })
            .await?;
        let now = now_ms();
        let mut news = false;
        for id in due {
            let row = rows.remove(&id);
            news |= follower.shows(&id, row, now);
        }
        Ok(news)
    }
}

fn now_ms() -> i64 {
    bson::DateTime::now().timestamp_millis()
}

/// A file read as it grows: its complete lines, as they come (it may not exist yet).
struct LineTail {
    path: PathBuf,
    offset: u64,
    partial: Vec<u8>,
}

impl LineTail {
    fn new(path: PathBuf) -> Self {
        LineTail { path, offset: 0, partial: Vec::new() }
    }

    /// The lines completed since the last call.
    fn lines(&mut self) -> Result<Vec<String>, VerifyError> {
        use std::io::{Read, Seek, SeekFrom};
        let fail = |e: std::io::Error| VerifyError::Sink { sink: self.path.display().to_string(), why: e.to_string() };
        let mut file = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(fail(e)),
        };
        file.seek(SeekFrom::Start(self.offset)).map_err(fail)?;
        let mut bytes = std::mem::take(&mut self.partial);
        let read = file.read_to_end(&mut bytes).map_err(fail)?;
        self.offset += read as u64;
        let complete = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        self.partial = bytes.split_off(complete);
        Ok(String::from_utf8_lossy(&bytes).lines().map(str::to_string).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::materialize::model::Expect;
    use crate::verify::tests::entry;

    fn acked(write: &str, id: i32, seq: u64, at: i64) -> Entry {
        Entry { seq, acked_at_ms: at, ..entry(write, Bson::Int32(id), 1, 1, Expect::Unknown) }
    }

    #[test]
    fn each_write_is_matched_with_its_documents_next_sink_event_in_order() {
        let mut f = Follower::default();
        f.entry(&acked("insert", 1, 0, 1000));
        f.entry(&acked("update", 1, 1, 1100));
        f.entry(&acked("insert", 2, 2, 1200));
        // Document 3's event arrives before its journal line.
        f.sink_event(&Bson::Int32(3), 1300);
        assert_eq!(f.lag(1500).unmatched_sink_events, 1);
        f.entry(&acked("insert", 3, 3, 1250));
        f.sink_event(&Bson::Int32(1), 1010);
        let now = f.lag(2000);
        assert_eq!(
            (now.matched, now.behind_ops, now.behind_ms),
            (2, 2, 900),
            "document 1's update is the oldest behind"
        );
        f.sink_event(&Bson::Int32(1), 6100);
        f.sink_event(&Bson::Int32(2), 1230);
        let end = f.lag(7000);
        assert_eq!((end.matched, end.behind_ops, end.behind_ms, end.unmatched_sink_events), (4, 0, 0, 0));
        assert_eq!((end.p50_ms, end.max_ms), (30, 5000));
        // Lags of hours are kept too.
        f.entry(&acked("insert", 4, 4, 0));
        f.sink_event(&Bson::Int32(4), 3_600_000);
        assert_eq!(f.lag(3_600_000).max_ms, 3_600_000);
    }

    #[test]
    fn a_sink_of_states_shows_a_write_once_it_holds_the_document_the_write_left_or_none_after_a_delete() {
        use bson::{doc, oid::ObjectId};
        let reference = ObjectId::new();
        // The sink's row: `_id` and ObjectIds flattened to text, a column it adds.
        let row = |v: i32| doc! { "_id": "1", "v": v, "ref": reference.to_hex(), "_sdc_batched_at": "x" };
        // A table poll: the rows of the documents with writes due.
        let poll = |f: &mut Follower, rows: &[(&str, Document)], now: i64| {
            let mut news = false;
            for id in f.due_ids() {
                let row = rows.iter().find(|(k, _)| *k == id).map(|(_, d)| d.clone());
                news |= f.shows(&id, row, now);
            }
            news
        };
        let write = |w: &str, id: i32, seq: u64, at: i64, v: Option<i32>| {
            let e = acked(w, id, seq, at);
            match v {
                Some(v) => e.with_document(&doc! { "_id": id, "v": v, "ref": reference }),
                None => e,
            }
        };
        let mut f = Follower::of_states(SinkTypes::flattened());
        f.entry(&write("insert", 1, 0, 1000, Some(1)));
        f.entry(&write("update", 1, 1, 1100, Some(2)));
        f.entry(&write("insert", 2, 2, 1200, Some(7)));
        assert!(poll(&mut f, &[("1", row(1))], 1250));
        let now = f.lag(1250);
        assert_eq!((now.matched, now.max_ms, now.behind_ops, now.behind_ms), (1, 250, 2, 150), "{now:?}");

        let two = doc! { "_id": "2", "v": 7, "ref": reference.to_hex() };
        poll(&mut f, &[("1", row(2)), ("2", two)], 1400);
        assert_eq!((f.lag(1400).matched, f.lag(1400).behind_ops), (3, 0));
        f.entry(&write("delete", 2, 3, 1500, None));
        assert!(poll(&mut f, &[("1", row(2))], 1600), "the row is gone");
        assert_eq!((f.lag(1600).matched, f.lag(1600).behind_ops), (4, 0));

        // A pipeline that re-reads documents skips states: both writes are seen.
        f.entry(&write("update", 1, 4, 1700, Some(3)));
        f.entry(&write("update", 1, 5, 1800, Some(4)));
        assert!(poll(&mut f, &[("1", row(2))], 1850), "first read since the writes");
        assert!(!poll(&mut f, &[("1", row(2))], 1870), "nothing changed");
        assert_eq!(f.lag(1870).behind_ops, 2);
        poll(&mut f, &[("1", row(4))], 1900);
        assert_eq!((f.lag(1900).matched, f.lag(1900).behind_ops), (6, 0));

        // A state shown before its journal line (a log's record) is seen when it was shown.
        assert!(f.shows("1", Some(row(5)), 2000));
        assert_eq!(f.lag(2000).matched, 6);
        f.entry(&write("update", 1, 6, 1950, Some(5)));
        let end = f.lag(2500);
        assert_eq!((end.matched, end.behind_ops, end.max_ms), (7, 0, 300), "{end:?}");
        assert_eq!(end.p50_ms, 200, "lags 250 300 200 100 200 100 50: {end:?}");
        // A row altered behind the pipeline's back matches no write.
        f.entry(&write("update", 1, 7, 2600, Some(6)));
        poll(&mut f, &[("1", doc! { "_id": "1", "v": 6, "ref": "tampered" })], 2700);
        assert_eq!(f.lag(2700).behind_ops, 1);
        assert_eq!(f.due_ids(), ["1"], "only documents with writes due are read");

        // An event log (format known only once read) on the same follower: a document
        // whose writes were all seen is forgotten.
        f.entry(&write("insert", 3, 8, 2800, Some(1)));
        f.sink_event(&Bson::Int32(3), 2900);
        assert_eq!(f.due_ids(), ["1"]);

        // A write whose entry lacks its document is not shown by an absent row; the
        // next write's document shows both.
        f.entry(&write("insert", 5, 12, 2910, None));
        poll(&mut f, &[], 2920);
        assert_eq!(f.lag(2920).behind_ops, 2, "the tampered one and the insert");
        f.entry(&write("update", 5, 13, 2930, Some(2)));
        let five = doc! { "_id": "5", "v": 2, "ref": reference.to_hex() };
        poll(&mut f, &[("5", five)], 2940);
        assert_eq!(f.lag(2940).behind_ops, 1);
        f.entry(&write("update", 1, 14, 2950, Some(6)));
        poll(&mut f, &[("1", row(6))], 2960);
        assert_eq!(f.lag(2960).behind_ops, 0);
    }

    #[test]
    fn writes_that_make_no_event_are_not_due() {
        let mut f = Follower::default();
        f.entry(&Entry { modified: 0, ..acked("update", 1, 0, 0) });
        f.entry(&Entry { matched: 0, ..acked("delete", 2, 1, 0) });
        assert_eq!(f.lag(10).behind_ops, 0);
    }

    #[test]
    fn a_tail_returns_complete_lines_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let mut tail = LineTail::new(path.clone());
        assert!(tail.lines().unwrap().is_empty(), "not there yet");
        std::fs::write(&path, "a\nb").unwrap();
        assert_eq!(tail.lines().unwrap(), ["a"]);
        std::fs::write(&path, "a\nbc\n").unwrap();
        assert_eq!(tail.lines().unwrap(), ["bc"]);
    }
}
