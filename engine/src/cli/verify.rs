//! `forge verify`: does a collection hold what the journal says was written? Run it
//! against the source, or against the copy a CDC pipeline made of it; with the journals
//! of a run's segments, against what they wrote together. The comparisons live in
//! [`crate::verify`]; this file parses flags, connects and renders the report.

use std::path::{Path, PathBuf};

use bson::{Bson, Document};

use super::error::Error;
use super::traffic::ConnectionArgs;
use crate::verify::{
    ChangeStreamOptions, Check, EventLog, EventRules, FollowSink, Format, Journals, Lag, PathDiff, PathKind, Report,
    Searched, Since, SinkTypes, Table, VerifyError, follow,
};

/// Differences listed in full, per kind.
const SHOWN: usize = 20;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The journal a `--journal` run wrote. Repeat it for the journals of the segments
    /// of one run (`--segments`), or give a directory: every journal in it is read
    #[arg(long, value_name = "FILE|DIR", required_unless_present = "transactions")]
    journal: Vec<PathBuf>,

    /// A transaction stream's log (what `forge run --journal` writes for a
    /// scenario's `transactions:`), instead of a journal: checks that each committed
    /// transaction's change events are exactly its writes under one lsid and
    /// txnNumber, that an aborted one left no event and no document, and that every
    /// committed insert is there. Each collection's content is checked with its own
    /// journal
    #[arg(long, value_name = "FILE", conflicts_with_all = ["journal", "change_stream", "collection"])]
    transactions: Option<PathBuf>,

    /// Connection and collection to check (default database and collection: the
    /// journal's)
    #[command(flatten)]
    connection: ConnectionArgs,

    /// Write the differences as JSON to this file
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,

    /// Also check the collection's change stream, from the start of the run: every
    /// acknowledged write exactly once per document, in order, and the time from its
    /// acknowledgement to its event
    #[arg(long)]
    change_stream: bool,

    /// With --change-stream: read from just after this event (an event _id as `forge
    /// watch` prints it) instead of from the start time in the journal
    #[arg(long, value_name = "TOKEN", requires = "change_stream")]
    resume_after: Option<String>,

    /// With --change-stream: stop reading after no event arrives for this long; with
    /// --follow, stop following once neither the journal nor the sink grew for this
    /// long (longer than the run's pauses)
    #[arg(long, value_name = "TIME", default_value = "3s", value_parser = humantime::parse_duration)]
    idle: std::time::Duration,

    /// Where the pipeline delivered: a MongoDB connection string (the collection as
    /// --db and --collection name it, default the journal's), a PostgreSQL one
    /// (postgres://user@host:port/database; see --sink-table), or an event log file:
    /// Singer messages, change events as `forge watch` prints them, or Debezium
    /// MongoDB connector events (one JSON per line). An event log is checked for the
    /// state it leaves each document in and, unless Singer, for each document's
    /// events: each acknowledged write once, in order
    #[arg(long, value_name = "URI|FILE", conflicts_with = "transactions")]
    sink: Option<String>,

    /// A PostgreSQL sink's table, `table` or `schema.table` (default: the collection's
    /// name)
    #[arg(long, value_name = "TABLE", requires = "sink")]
    sink_table: Option<String>,

    /// A PostgreSQL sink's json or jsonb column holding each row's document (default:
    /// `document` if the table has one, else each column is a top-level field)
    #[arg(long, value_name = "COLUMN", requires = "sink")]
    sink_document_column: Option<String>,

    /// The event log's format, when its first event does not tell
    #[arg(long, value_name = "FORMAT", requires = "sink")]
    sink_format: Option<Format>,

    /// How the sink keeps BSON types: `lossless` (as MongoDB does), `flattened` (as
    /// JSON pipelines do: ObjectId as hex, dates as ISO text or epoch ms, Decimal128
    /// and 64-bit integers as text or numbers within 1e-9, binary as base64, embedded
    /// documents as JSON text, null columns as absent, `_sdc_*` metadata ignored), or
    /// a YAML profile file of those choices. Anything but lossless needs a journal
    /// written with --journal-docs: types are restored from the journaled documents
    #[arg(long, value_name = "lossless|flattened|FILE", default_value = "lossless")]
    sink_types: String,

    /// Check only the documents written from this journal seq (a number) or
    /// acknowledgement time (RFC 3339) on: a pipeline that takes no snapshot never
    /// sees the documents last written before its first sync
    #[arg(long, value_name = "SEQ|TIME", value_parser = parse_since)]
    since: Option<Since>,

    /// An event log's consecutive updates of one document may arrive as one (a
    /// pipeline that merges them per flush)
    #[arg(long, requires = "sink")]
    merged_updates: bool,

    /// Start before the run: tail its journal (--journal FILE, created by the run) and
    /// the sink (a MongoDB collection's change stream, an event log as it grows, or a
    /// PostgreSQL table, the rows of documents awaited read by _id every --poll),
    /// printing the end-to-end lag every second: from each write's acknowledgement at
    /// the source to the moment the sink shows it (p50, p99, max), and how far behind
    /// the sink is. A table or a Singer log shows a write once a row or record equals
    /// the document it left (or is gone after a delete): the journal must be written
    /// with --journal-docs. Once neither grows for --idle (or on Ctrl-C), the sink is
    /// verified as without --follow, the lag in the report
    #[arg(long, conflicts_with_all = ["change_stream", "transactions"])]
    follow: bool,

    /// --follow of a PostgreSQL table: how often it is read
    #[arg(long, value_name = "TIME", default_value = "250ms", value_parser = humantime::parse_duration, requires = "follow")]
    poll: std::time::Duration,
}

/// `--since`: a journal seq, or an RFC 3339 time.
fn parse_since(text: &str) -> Result<Since, String> {
    if let Ok(seq) = text.parse::<u64>() {
        return Ok(Since::Seq(seq));
    }
    bson::DateTime::parse_rfc3339_str(text)
        .map(|t| Since::Time(t.timestamp_millis()))
        .map_err(|_| "expected a journal seq (a number) or an RFC 3339 time such as 2026-01-31T12:00:00Z".into())
}

/// The sink `--sink` names.
enum Sink<'a> {
    /// A MongoDB deployment, at this connection string.
    Mongo(&'a str),
    /// A PostgreSQL database, at this connection string.
    Postgres(&'a str),
    /// An event log file.
    Log(PathBuf),
}

impl Args {
    fn sink(&self) -> Sink<'_> {
        match self.sink.as_deref() {
            None => Sink::Mongo(&self.connection.uri),
            Some(uri) if uri.starts_with("mongodb://") || uri.starts_with("mongodb+srv://") => Sink::Mongo(uri),
            Some(uri) if uri.starts_with("postgres://") || uri.starts_with("postgresql://") => Sink::Postgres(uri),
            Some(path) => Sink::Log(PathBuf::from(path)),
        }
    }

    /// The PostgreSQL table to read: --sink-table, else one named after the collection.
    fn table(&self, collection: &str) -> Table {
        Table {
            name: self.sink_table.clone().unwrap_or_else(|| collection.to_string()),
            document_column: self.sink_document_column.clone(),
        }
    }

    /// The type mapping `--sink-types` names, and its name for the report.
    fn sink_types(&self) -> Result<(SinkTypes, String), Error> {
        let types = match self.sink_types.as_str() {
            "lossless" => SinkTypes::lossless(),
            "flattened" => SinkTypes::flattened(),
            path => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| Error::Usage(format!("--sink-types: cannot read '{path}': {e}")))?;
                SinkTypes::parse(&text).map_err(|e| Error::Usage(format!("--sink-types: {path}: {e}")))?
            }
        };
        Ok((types, self.sink_types.clone()))
    }
}

/// Runs `forge verify`.
pub fn run(args: Args) -> Result<(), Error> {
    if let Some(log) = &args.transactions {
        return run_transactions(&args, log);
    }
    // Bad input fails before anything is followed or read.
    let types = args.sink_types()?;
    let follow = if args.follow { Some(run_follow(&args, &types.0)?) } else { None };
    let change_stream = if args.change_stream {
        let resume_after = args.resume_after.as_deref().map(super::watch::parse_resume_token).transpose()?;
        Some(ChangeStreamOptions { resume_after, idle: args.idle })
    } else {
        None
    };
    let journals = Journals::find(&args.journal).map_err(|e| cli_error(e, false))?;
    let several = journals.len() > 1;
    let header = journals.header();
    if !types.0.is_lossless() && !header.documents {
        return Err(Error::Usage(format!(
            "--sink-types {}: the journal holds no documents to restore the sink's types from; write it with --journal-docs",
            types.1
        )));
    }
    let (default_db, default_coll) = header.namespace.split_once('.').unwrap_or(("forge", &header.namespace));
    let db = args.connection.db.clone().unwrap_or_else(|| default_db.to_string());
    let coll_name = args.connection.collection.clone().unwrap_or_else(|| default_coll.to_string());

    let report = match args.sink() {
        Sink::Log(path) => {
            if args.change_stream {
                return Err(Error::Usage(
                    "--change-stream: an event log's events are checked from the log itself; leave it out".into(),
                ));
            }
            let log = EventLog::read(&path, args.sink_format, &coll_name)
                .map_err(|e| Error::Usage(format!("--sink: {}: {e}", path.display())))?;
            let check = Check::load(&journals, log.seen.is_some(), args.since).map_err(|e| cli_error(e, several))?;
            warn_of_gaps(&check);
            let rules =
                EventRules { replace_as_update: log.format == Format::Debezium, merged_updates: args.merged_updates };
            check.run_on_log(log, path.display().to_string(), (&types.0, types.1), rules)
        }
        Sink::Postgres(uri) => {
            if args.change_stream {
                return Err(Error::Usage(
                    "--change-stream: a PostgreSQL sink has no change stream; leave it out".into(),
                ));
            }
            let check = Check::load(&journals, false, args.since).map_err(|e| cli_error(e, several))?;
            warn_of_gaps(&check);
            let table = args.table(&coll_name);
            let run = check.run_on_table(uri, &table, (&types.0, types.1.clone()));
            super::traffic::runtime()?.block_on(run).map_err(|e| cli_error(e, several))?
        }
        Sink::Mongo(uri) => {
            let check =
                Check::load(&journals, change_stream.is_some(), args.since).map_err(|e| cli_error(e, several))?;
            warn_of_gaps(&check);
            super::traffic::runtime()?.block_on(async {
                let (client, _) = crate::mongo::connect(uri, Some(&db)).await?;
                let coll = client.database(&db).collection::<Document>(&coll_name);
                check.run(&coll, change_stream.as_ref(), &types.0).await.map_err(|e| cli_error(e, several))
            })?
        }
    };
    let report = Report { follow, ..report };
    let documents = journals.header().documents;
    print(&report, journals.searched());
    print_diffs(&report, documents, if args.sink.is_some() { "sink" } else { "collection" });
    if let Some(path) = &args.report {
        write_json(&report, path)?;
    }
    let differences = report.differences();
    if differences > 0 {
        let journal =
            if report.segments.as_ref().is_some_and(|s| s.journals.len() > 1) { "journals" } else { "journal" };
        return Err(Error::Reported(format!("{differences} documents differ from the {journal}")));
    }
    outln!("  everything matches");
    Ok(())
}

/// `forge verify --follow`: the lag, live on stderr, until the run is over.
fn run_follow(args: &Args, types: &SinkTypes) -> Result<Lag, Error> {
    let [journal] = args.journal.as_slice() else {
        return Err(Error::Usage("--follow: give the one journal the run writes (--journal FILE)".into()));
    };
    if journal.is_dir() {
        return Err(Error::Usage("--follow: --journal must name the file the run writes, not a directory".into()));
    }
    let runtime = super::traffic::runtime()?;
    runtime.block_on(async {
        // The collection, unless named, is the journal's: wait for the run to create it.
        let namespace = match (&args.connection.db, &args.connection.collection) {
            (Some(db), Some(coll)) => (db.clone(), coll.clone()),
            _ => {
                errln!("[follow] waiting for the run to create {}", journal.display());
                let header = loop {
                    if let Ok(reader) = crate::journal::Reader::open(journal) {
                        break reader.header().clone();
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                };
                let (db, coll) = header.namespace.split_once('.').unwrap_or(("forge", &header.namespace));
                (
                    args.connection.db.clone().unwrap_or_else(|| db.to_string()),
                    args.connection.collection.clone().unwrap_or_else(|| coll.to_string()),
                )
            }
        };
        let sink = match args.sink() {
            Sink::Postgres(uri) => FollowSink::Table {
                uri: uri.to_string(),
                table: args.table(&namespace.1),
                types: Box::new(types.clone()),
                every: args.poll,
            },
            Sink::Log(path) => FollowSink::Log {
                path,
                format: args.sink_format,
                collection: namespace.1.clone(),
                types: Box::new(types.clone()),
            },
            Sink::Mongo(uri) => {
                let (client, _) = crate::mongo::connect(uri, Some(&namespace.0)).await?;
                FollowSink::Collection(client.database(&namespace.0).collection(&namespace.1))
            }
        };
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        let tick = |lag: &Lag| errln!("[follow] {}", describe_lag(lag));
        let lag = follow(journal, sink, args.idle, std::time::Duration::from_secs(1), shutdown, tick)
            .await
            .map_err(|e| Error::Runtime(format!("--follow: {e}")))?;
        outln!("end-to-end lag: {}", describe_lag(&lag));
        Ok(lag)
    })
}

/// The lag figures, in words.
fn describe_lag(lag: &Lag) -> String {
    let early = match lag.unmatched_sink_events {
        0 => String::new(),
        n => format!("; {n} sink events without a journaled write yet"),
    };
    format!(
        "{} writes seen in the sink, lag p50 {} ms, p99 {} ms, max {} ms; behind: {} writes, {:.1} s{early}",
        lag.matched,
        lag.p50_ms,
        lag.p99_ms,
        lag.max_ms,
        lag.behind_ops,
        lag.behind_ms as f64 / 1000.0
    )
}

/// `forge verify --transactions LOG`.
fn run_transactions(args: &Args, path: &Path) -> Result<(), Error> {
    use crate::verify::TransactionCheck;
    let (header, lines) = crate::transaction::log::read(path)
        .map_err(|e| Error::Usage(format!("--transactions: cannot read '{}': {e}", path.display())))?;
    let Some((secs, inc)) = header.start_operation_time else {
        return Err(Error::Usage("--transactions: the log has no start time".into()));
    };
    let db_name = args.connection.db.clone().unwrap_or_else(|| header.database.clone());
    let collections: Vec<String> = header.update.iter().chain(&header.insert).cloned().collect();
    let check = super::traffic::runtime()?.block_on(async {
        let (client, _) = crate::mongo::connect(&args.connection.uri, Some(&db_name)).await?;
        let db = client.database(&db_name);
        let runtime = |e: VerifyError| Error::Runtime(e.to_string());
        let events = crate::verify::read_transaction_events(
            &db,
            &collections,
            bson::Timestamp { time: secs, increment: inc },
            args.idle,
        )
        .await
        .map_err(runtime)?;
        let mut check = TransactionCheck::default();
        crate::verify::compare_events(&lines, &events, &mut check);
        let (committed, aborted) = crate::verify::inserts(&lines);
        for (collection, ids) in committed {
            let found = crate::verify::present(&db.collection(&collection), &ids).await.map_err(runtime)?;
            let found: std::collections::HashSet<_> = found.iter().map(crate::plan::IdKey::of).collect();
            check.committed_inserts_missing.extend(
                ids.iter()
                    .filter(|id| !found.contains(&crate::plan::IdKey::of(id)))
                    .map(|id| id.clone().into_relaxed_extjson().to_string()),
            );
        }
        for (collection, ids) in aborted {
            let found = crate::verify::present(&db.collection(&collection), &ids).await.map_err(runtime)?;
            check.aborted_inserts_present.extend(found.into_iter().map(|id| id.into_relaxed_extjson().to_string()));
        }
        Ok::<_, Error>(check)
    })?;
    outln!(
        "verify transactions {} ({db_name}: {}) against {}: {} committed, {} aborted{}; {} transactional events",
        header.name,
        collections.join(", "),
        path.display(),
        check.committed,
        check.aborted,
        if check.unknown > 0 { format!(", {} of unknown outcome", check.unknown) } else { String::new() },
        check.events
    );
    let numbers = |v: &[u64]| v.iter().take(SHOWN).map(u64::to_string).collect::<Vec<_>>().join(", ");
    let shown = |v: &[String]| v.iter().take(SHOWN).cloned().collect::<Vec<_>>().join(", ");
    for (what, n, list) in [
        (
            "committed, not exactly their writes under one lsid and txnNumber",
            check.not_atomic.len(),
            numbers(&check.not_atomic),
        ),
        ("aborted, with events", check.aborted_with_events.len(), numbers(&check.aborted_with_events)),
        ("committed inserts missing", check.committed_inserts_missing.len(), shown(&check.committed_inserts_missing)),
        (
            "inserts of aborted transactions present",
            check.aborted_inserts_present.len(),
            shown(&check.aborted_inserts_present),
        ),
    ] {
        outln!("  {what}: {n}{}", if n == 0 { String::new() } else { format!("  [{list}]") });
    }
    outln!("  transactional events no logged transaction accounts for: {}", check.unaccounted_events);
    if let Some(path) = &args.report {
        super::traffic::write_json_report(path, &check)?;
    }
    let differences = check.differences();
    if differences > 0 {
        return Err(Error::Reported(format!("{differences} differences from the transaction log")));
    }
    outln!("  every transaction is all or nothing");
    Ok(())
}

/// The library's error, with the flag it concerns. `several`: more than one journal,
/// so a message names the one it is about.
fn cli_error(e: VerifyError, several: bool) -> Error {
    match e {
        VerifyError::Journal { journal, source } => {
            Error::Usage(format!("--journal: cannot read '{}': {source}", journal.display()))
        }
        e @ (VerifyError::Directory { .. }
        | VerifyError::NoJournalIn { .. }
        | VerifyError::NoJournal
        | VerifyError::NotOneRun(_)) => Error::Usage(format!("--journal: {e}")),
        VerifyError::NoStartTime { journal } if several => Error::Usage(format!(
            "--change-stream: the journal '{}' has no start time; give --resume-after",
            journal.display()
        )),
        VerifyError::NoStartTime { .. } => {
            Error::Usage("--change-stream: the journal has no start time; give --resume-after".into())
        }
        e @ VerifyError::SchemaVersion { .. } => Error::Usage(format!("--journal: {e}")),
        e @ (VerifyError::ChangeStream { .. } | VerifyError::Collection { .. }) => Error::Runtime(e.to_string()),
        e @ VerifyError::Sink { .. } => Error::Runtime(format!("--sink: {e}")),
    }
}

/// One line each for what the journals cannot vouch for: segments without a journal,
/// journals cut short.
fn warn_of_gaps(check: &Check) {
    let missing = check.missing_segments();
    if !missing.is_empty() {
        let count = check.header().segment.count;
        let (segments, have, their) =
            if missing.len() == 1 { ("segment", "has", "its") } else { ("segments", "have", "their") };
        errln!(
            "warning: {segments} {} of {count} {have} no journal here: {their} documents are not checked, and extra documents cannot be detected",
            list(missing)
        );
    }
    let several = check.journals().len() > 1 || !check.header().segment.is_whole();
    for journal in check.journals() {
        match journal.incomplete_line {
            Some(line) if several => {
                errln!("warning: {}: journal line {line} is incomplete; reading stops there", journal.path.display())
            }
            Some(line) => errln!("warning: journal line {line} is incomplete; reading stops there"),
            None => {}
        }
    }
}

/// Numbers, comma-separated.
fn list(numbers: &[u64]) -> String {
    numbers.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
}

/// The report as text on stdout.
fn print(report: &Report, searched: &[Searched]) {
    let f = &report.final_state;
    if let Some(sink) = &report.sink {
        let stream = sink.stream.as_ref().map(|s| format!(", stream {s}")).unwrap_or_default();
        match sink.rows {
            Some(rows) => outln!(
                "verify the table {}, {} ({rows} rows; types {}) against {} of {} ({} journaled operations):",
                sink.location,
                sink.kind,
                sink.types,
                report.journal.display(),
                report.namespace,
                report.operations,
            ),
            None => outln!(
                "verify the {} log {} ({} events{stream}; types {}) against {} of {} ({} journaled operations; {} documents in the log's final state):",
                sink.kind,
                sink.location,
                sink.events.unwrap_or(0),
                sink.types,
                report.journal.display(),
                report.namespace,
                report.operations,
                f.documents
            ),
        }
        if sink.snapshot_reads > 0 {
            outln!(
                "  {} snapshot reads (not writes of the run: they only set a document's state)",
                sink.snapshot_reads
            );
        }
    } else {
        print_heading(report);
    }
    print_findings(report, searched);
}

/// The first line of the report of a MongoDB collection.
fn print_heading(report: &Report) {
    let f = &report.final_state;
    match &report.segments {
        None => outln!(
            "verify {} against {} ({} journaled operations, {} documents):",
            report.namespace,
            report.journal.display(),
            report.operations,
            f.documents
        ),
        Some(s) => {
            let journals =
                if s.journals.len() == 1 { "1 journal".to_string() } else { format!("{} journals", s.journals.len()) };
            let segments = if s.segments_checked.len() == 1 { "segment" } else { "segments" };
            outln!(
                "verify {} against {journals}, {segments} {} of {} ({} journaled operations, {} documents):",
                report.namespace,
                list(&s.segments_checked),
                s.segment_count,
                report.operations,
                f.documents
            );
        }
    }
}

/// Everything below the report's first line.
fn print_findings(report: &Report, searched: &[Searched]) {
    let f = &report.final_state;
    for dir in searched {
        let journals = if dir.journals == 1 { "1 journal".to_string() } else { format!("{} journals", dir.journals) };
        let others = match dir.others {
            0 => String::new(),
            1 => " (1 other file passed over)".into(),
            n => format!(" ({n} other files passed over)"),
        };
        outln!("  {journals} found in {}{others}", dir.dir.display());
    }
    for j in report.segments.iter().flat_map(|s| &s.journals) {
        outln!("  segment {}: {} ({} operations)", j.segment, j.path.display(), j.operations);
    }
    let missing = report.segments.as_ref().map_or(&[][..], |s| s.segments_missing.as_slice());
    if f.journaled_only && !missing.is_empty() {
        outln!(
            "  checked the {} documents these journals wrote ({} found); documents they do not know were not read",
            f.journaled_documents,
            f.documents
        );
    } else if f.journaled_only {
        outln!(
            "  checked the {} documents the run wrote ({} found); the collection held documents before the run, the others were not read",
            f.journaled_documents,
            f.documents
        );
    }
    if f.excluded_before_since > 0 {
        outln!(
            "  {} documents last written before --since left out (a pipeline's first sync never sees them)",
            f.excluded_before_since
        );
    }
    for (name, ids) in [("missing", &f.missing), ("extra", &f.extra), ("stale (content differs)", &f.stale)] {
        outln!("  {name}: {}{}", ids.len(), if ids.is_empty() { String::new() } else { format!("  [{}]", first(ids)) });
    }
    if !f.off_version.is_empty() {
        outln!("  not the shape of their schema version: {}", f.off_version.len());
        for o in f.off_version.iter().take(5) {
            let id = o.id.clone().into_relaxed_extjson();
            outln!("    {id}: version {}, {}: {}", o.version, o.path, o.problem);
        }
    }
    if let Some(c) = &report.change_stream {
        let retries = match c.retry_duplicates {
            0 => String::new(),
            n => format!(" ({n} more explained by forge's own retries)"),
        };
        let unchecked = match c.unchecked {
            0 => String::new(),
            n => format!(" ({n} events of documents these journals do not know not checked)"),
        };
        outln!(
            "{}: {} events; missing {}, duplicated {}{retries}, out of order {} documents, unexpected {}{unchecked}",
            if report.sink.is_some() { "events of the log" } else { "change stream" },
            c.events,
            c.missing,
            c.duplicated,
            c.out_of_order,
            c.unexpected
        );
        for (what, ids) in [
            ("missing events", &c.missing_ids),
            ("duplicated events", &c.duplicated_ids),
            ("events out of order", &c.out_of_order_ids),
            ("unexpected events", &c.unexpected_ids),
        ] {
            if !ids.is_empty() {
                let shown: Vec<String> = ids.iter().take(SHOWN).map(relaxed).collect();
                let more = if ids.len() > SHOWN { format!(" and {} more", ids.len() - SHOWN) } else { String::new() };
                outln!("  documents with {what}: [{}]{more}", shown.join(", "));
            }
        }
        outln!(
            "  event time minus acknowledgement: p50 {} ms, p99 {} ms (negative: the event's commit preceded the acknowledgement)",
            c.lag_p50,
            c.lag_p99
        );
    }
}

/// How the first [`SHOWN`] stale documents differ, path by path; or, when the
/// journal holds no documents to diff against, how to get that.
fn print_diffs(report: &Report, documents: bool, place: &str) {
    let f = &report.final_state;
    if f.stale.is_empty() {
        return;
    }
    if !documents {
        outln!("  (the journal holds no documents: with --journal-docs, verify shows how stale documents differ)");
        return;
    }
    if f.diffs.is_empty() {
        return;
    }
    let more = f.diffs.len().saturating_sub(SHOWN);
    outln!(
        "  how they differ from the journal{}:",
        if more > 0 { format!(" (the first {SHOWN} of {})", f.diffs.len()) } else { String::new() }
    );
    for d in f.diffs.iter().take(SHOWN) {
        outln!("    {}:", d.id.clone().into_relaxed_extjson());
        for p in d.paths.iter().take(SHOWN) {
            outln!("      {}", describe(p, place));
        }
        if d.paths.len() > SHOWN {
            outln!("      and {} more paths", d.paths.len() - SHOWN);
        }
    }
}

/// One differing path, in words.
fn describe(p: &PathDiff, place: &str) -> String {
    let how = match (p.kind, p.unset_since) {
        (PathKind::Missing, _) => format!("missing in the {place}"),
        (PathKind::Extra, Some(seq)) => format!("present in the {place}, unset at the source since seq {seq}"),
        (PathKind::Extra, None) => format!("present in the {place}, not in the journal's document"),
        (PathKind::Value, _) => "a different value".to_string(),
        (PathKind::Type, _) => format!(
            "a different type: {} in the journal, {} in the {place}",
            p.journal_type.unwrap_or("?"),
            p.collection_type.unwrap_or("?")
        ),
    };
    format!("`{}`: {how}", p.path)
}

/// An `_id` given as canonical Extended JSON, as relaxed.
fn relaxed(id: &serde_json::Value) -> String {
    Bson::try_from(id.clone()).map_or_else(|_| id.to_string(), |b| b.to_string())
}

/// The first [`SHOWN`] `_id`s, comma-separated.
fn first(ids: &[Bson]) -> String {
    ids.iter().take(SHOWN).map(|i| i.to_string()).collect::<Vec<_>>().join(", ")
}

/// The report as JSON, for `--report`.
fn write_json(report: &Report, path: &Path) -> Result<(), Error> {
    let json = serde_json::to_string_pretty(report)
        .map_err(|e| Error::Runtime(format!("--report: cannot serialise the report: {e}")))?;
    super::secrets::write_file(path, &(json + "\n"))
        .map_err(|e| Error::Usage(format!("--report: cannot write '{}': {e}", path.display())))
}
