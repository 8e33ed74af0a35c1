//! `forge verify`: does a collection hold what the journal says was written? Run it
//! against the source, or against the copy a CDC pipeline made of it. The comparisons
//! live in [`crate::verify`]; this file parses flags, connects and renders the report.

use std::path::{Path, PathBuf};

use bson::{Bson, Document};

use super::error::Error;
use super::traffic::ConnectionArgs;
use crate::verify::{ChangeStreamOptions, Check, Report, VerifyError};

/// Differences listed in full, per kind.
const SHOWN: usize = 20;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The journal a `--journal` run wrote
    #[arg(long, value_name = "FILE")]
    journal: PathBuf,

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

    /// With --change-stream: stop reading after no event arrives for this long
    #[arg(long, value_name = "TIME", default_value = "3s", value_parser = humantime::parse_duration)]
    idle: std::time::Duration,
}

/// Runs `forge verify`.
pub fn run(args: Args) -> Result<(), Error> {
    let change_stream = if args.change_stream {
        let resume_after = args.resume_after.as_deref().map(super::watch::parse_resume_token).transpose()?;
        Some(ChangeStreamOptions { resume_after, idle: args.idle })
    } else {
        None
    };
    let check = Check::load(&args.journal, change_stream).map_err(|e| cli_error(e, &args.journal))?;
    if let Some(line) = check.incomplete_line() {
        errln!("warning: journal line {line} is incomplete; reading stops there");
    }
    let (default_db, default_coll) =
        check.header().namespace.split_once('.').unwrap_or(("forge", &check.header().namespace));
    let db = args.connection.db.clone().unwrap_or_else(|| default_db.to_string());
    let coll_name = args.connection.collection.clone().unwrap_or_else(|| default_coll.to_string());

    let runtime = super::traffic::runtime()?;
    let report = runtime.block_on(async {
        let (client, _) = crate::mongo::connect(&args.connection.uri, Some(&db)).await?;
        let coll = client.database(&db).collection::<Document>(&coll_name);
        check.run(&coll).await.map_err(|e| cli_error(e, &args.journal))
    })?;
    print(&report);
    if let Some(path) = &args.report {
        write_json(&report, path)?;
    }
    let differences = report.differences();
    if differences > 0 {
        return Err(Error::Reported(format!("{differences} documents differ from the journal")));
    }
    outln!("  everything matches");
    Ok(())
}

/// The library's error, with the flag it concerns.
fn cli_error(e: VerifyError, journal: &Path) -> Error {
    match e {
        VerifyError::Journal(e) => Error::Usage(format!("--journal: cannot read '{}': {e}", journal.display())),
        VerifyError::NoStartTime => {
            Error::Usage("--change-stream: the journal has no start time; give --resume-after".into())
        }
        e @ (VerifyError::ChangeStream { .. } | VerifyError::Collection { .. }) => Error::Runtime(e.to_string()),
    }
}

/// The report as text on stdout.
fn print(report: &Report) {
    let f = &report.final_state;
    outln!(
        "verify {} against {} ({} journaled operations, {} documents):",
        report.namespace,
        report.journal.display(),
        report.operations,
        f.documents
    );
    if f.journaled_only {
        outln!(
            "  checked the {} documents the run wrote ({} found); the collection held documents before the run, the others were not read",
            f.journaled_documents,
            f.documents
        );
    }
    for (name, ids) in [("missing", &f.missing), ("extra", &f.extra), ("stale (content differs)", &f.stale)] {
        outln!("  {name}: {}{}", ids.len(), if ids.is_empty() { String::new() } else { format!("  [{}]", first(ids)) });
    }
    if let Some(c) = &report.change_stream {
        let retries = match c.retry_duplicates {
            0 => String::new(),
            n => format!(" ({n} more explained by forge's own retries)"),
        };
        outln!(
            "change stream: {} events; missing {}, duplicated {}{retries}, out of order {} documents, unexpected {}",
            c.events,
            c.missing,
            c.duplicated,
            c.out_of_order,
            c.unexpected
        );
        outln!(
            "  event time minus acknowledgement: p50 {} ms, p99 {} ms (negative: the event's commit preceded the acknowledgement)",
            c.lag_p50,
            c.lag_p99
        );
    }
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
