//! `forge verify`: does a collection hold what the journal says was written? Run it
//! against the source, or against the copy a CDC pipeline made of it; with the journals
//! of a run's segments, against what they wrote together. The comparisons live in
//! [`crate::verify`]; this file parses flags and connects, `report.rs` renders the
//! report, `follow.rs` and `transactions.rs` hold the two other modes.

use std::path::PathBuf;

use bson::Document;

use super::error::Error;
use super::traffic::ConnectionArgs;
use crate::verify::{
    ChangeStreamOptions, Check, EventLog, EventLogError, EventRules, Format, Journals, PgServer, Report, Since,
    SinkTypes, Table, VerifyError,
};

mod follow;
mod report;
mod transactions;

use follow::run_follow;
use report::{list, print, print_diffs, write_json};
use transactions::run_transactions;

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

    /// A PostgreSQL sink's CA certificates (PEM): TLS is required, and the server's
    /// certificate and host name are checked against them. Without it, TLS follows the
    /// URI's sslmode (prefer by default, require, disable) and encrypts without
    /// checking who answers
    #[arg(long, value_name = "FILE", requires = "sink")]
    sink_ca: Option<PathBuf>,

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
            None => Sink::Mongo(&self.connection.server.uri),
            Some(uri) if uri.starts_with("mongodb://") || uri.starts_with("mongodb+srv://") => Sink::Mongo(uri),
            Some(uri) if uri.starts_with("postgres://") || uri.starts_with("postgresql://") => Sink::Postgres(uri),
            Some(path) => Sink::Log(PathBuf::from(path)),
        }
    }

    /// The PostgreSQL server of a `postgres://` sink.
    fn pg_server(&self, uri: &str) -> PgServer {
        PgServer { uri: uri.to_string(), ca: self.sink_ca.clone() }
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
            let log = EventLog::read(&path, args.sink_format, &coll_name).map_err(|e| {
                let hint =
                    if matches!(e, EventLogError::UnknownFormat { .. }) { "; name it with --sink-format" } else { "" };
                Error::Usage(format!("--sink: {}: {e}{hint}", path.display()))
            })?;
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
            let server = args.pg_server(uri);
            let run = check.run_on_table(&server, &table, (&types.0, types.1.clone()));
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
        e @ VerifyError::NoDocuments { .. } => Error::Usage(format!("--journal: {e}; write it with --journal-docs")),
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
