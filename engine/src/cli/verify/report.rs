//! The verification report: as text on stdout, and as JSON (`--report`).

use std::path::Path;

use bson::Bson;

use super::SHOWN;
use crate::cli::error::Error;
use crate::verify::{PathDiff, PathKind, Report, Searched};

/// Numbers, comma-separated.
pub(super) fn list(numbers: &[u64]) -> String {
    numbers.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
}

/// The report as text on stdout.
pub(super) fn print(report: &Report, searched: &[Searched]) {
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
pub(super) fn print_diffs(report: &Report, documents: bool, place: &str) {
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
pub(super) fn write_json(report: &Report, path: &Path) -> Result<(), Error> {
    let json = serde_json::to_string_pretty(report)
        .map_err(|e| Error::Runtime(format!("--report: cannot serialise the report: {e}")))?;
    crate::cli::secrets::write_file(path, &(json + "\n"))
        .map_err(|e| Error::Usage(format!("--report: cannot write '{}': {e}", path.display())))
}
