//! `forge validate`: conformance of documents to a schema, and how their array lengths,
//! presence rates and sizes compare with the schema's statistics.

use std::io::BufRead;

use bson::{Bson, Document, RawDocumentBuf, doc};
use futures_util::TryStreamExt;
use serde_json::{Value, json};

use super::error::Error;
use super::traffic::ConnectionArgs;
use crate::infer::{Collector, Counts, DEFAULT_DYNAMIC_KEY_THRESHOLD};
use crate::schema::validate::{Violation, check};

/// Relative deviation of a length or size percentile that gets flagged.
const MAX_DEVIATION: f64 = 0.10;
/// Presence rates further apart than this (absolute) get flagged.
const MAX_PRESENCE_GAP: f64 = 0.05;
/// Violations listed in full.
const SHOWN_VIOLATIONS: usize = 10;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The schema to check against (file or example:NAME)
    #[arg(long, value_name = "FILE")]
    schema: String,

    /// Documents as Extended JSON, one per line (what `forge generate` writes);
    /// without it, the --collection is read
    #[arg(long, value_name = "FILE")]
    input: Option<String>,

    #[command(flatten)]
    connection: ConnectionArgs,

    /// Read at most this many documents of the collection
    #[arg(long, value_name = "N")]
    sample_size: Option<u64>,

    /// Write the results as JSON to this file
    #[arg(long, value_name = "FILE")]
    report: Option<String>,

    /// Also fail (exit 1) when a statistic deviates, not only when documents do not
    /// conform
    #[arg(long)]
    strict: bool,
}

#[derive(Debug, serde::Serialize)]
struct Row {
    path: String,
    metric: String,
    schema: f64,
    observed: f64,
    deviation: f64,
    flagged: bool,
}

pub fn run(args: Args) -> Result<(), Error> {
    let schema = super::load_schema(Some(&args.schema))?;
    let mut collector = Collector::new(DEFAULT_DYNAMIC_KEY_THRESHOLD);
    let mut violations: Vec<(u64, Violation)> = Vec::new();
    let mut conforming = 0u64;
    let mut observe = |doc: &Document, size: Option<usize>| {
        match check(&schema.compiled, doc) {
            Ok(()) => conforming += 1,
            Err(v) => violations.push((collector.documents(), v)),
        }
        collector.observe(doc, size);
    };
    match &args.input {
        Some(path) => {
            let file =
                std::fs::File::open(path).map_err(|e| Error::Usage(format!("--input: cannot read '{path}': {e}")))?;
            for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
                let line = line.map_err(|e| Error::Runtime(format!("reading '{path}': {e}")))?;
                if line.trim().is_empty() {
                    continue;
                }
                let bad = |e: String| {
                    Error::Usage(format!("--input: line {} of '{path}' is not an Extended JSON document: {e}", n + 1))
                };
                let json: Value = serde_json::from_str(&line).map_err(|e| bad(e.to_string()))?;
                match Bson::try_from(json).map_err(|e| bad(e.to_string()))? {
                    Bson::Document(doc) => observe(&doc, None),
                    _ => return Err(bad("not an object".into())),
                }
            }
        }
        None => {
            let name = args
                .connection
                .collection
                .clone()
                .ok_or_else(|| Error::Usage("give --input FILE or --collection NAME".into()))?;
            let runtime = super::traffic::runtime()?;
            runtime.block_on(async {
                let (client, db) = args.connection.connect().await?;
                let fail = |e: mongodb::error::Error| Error::Runtime(format!("reading {db}.{name}: {}", e.kind));
                let coll = client.database(&db).collection::<RawDocumentBuf>(&name);
                let mut find = coll.find(doc! {});
                if let Some(n) = args.sample_size {
                    find = find.limit(n as i64);
                }
                let mut cursor = find.await.map_err(fail)?;
                while let Some(raw) = cursor.try_next().await.map_err(fail)? {
                    let doc =
                        Document::try_from(raw.as_ref()).map_err(|e| Error::Runtime(format!("invalid BSON: {e}")))?;
                    observe(&doc, Some(raw.as_bytes().len()));
                }
                Ok::<_, Error>(())
            })?;
        }
    }
    let total = collector.documents();
    if total == 0 {
        return Err(Error::Usage("no documents to validate".into()));
    }
    let mut rows = Vec::new();
    compare(&schema.source, &schema.source, &[], &collector, &mut rows);
    print(total, conforming, &violations, &rows);
    if let Some(path) = &args.report {
        let shown: Vec<Value> = violations
            .iter()
            .take(SHOWN_VIOLATIONS)
            .map(|(n, v)| json!({ "document": n, "path": v.path, "problem": v.problem }))
            .collect();
        let report = json!({ "documents": total, "conforming": conforming, "violations": shown, "rows": rows });
        std::fs::write(path, serde_json::to_string_pretty(&report).expect("serialises") + "\n")
            .map_err(|e| Error::Usage(format!("--report: cannot write '{path}': {e}")))?;
    }
    let flagged = rows.iter().filter(|r| r.flagged).count();
    if conforming < total || (args.strict && flagged > 0) {
        return Err(Error::Reported(format!(
            "{} of {total} documents do not conform; {} statistics deviate",
            total - conforming,
            flagged
        )));
    }
    Ok(())
}

fn print(total: u64, conforming: u64, violations: &[(u64, Violation)], rows: &[Row]) {
    outln!("conformance: {conforming}/{total} documents ({:.2}%)", 100.0 * conforming as f64 / total as f64);
    for (n, v) in violations.iter().take(SHOWN_VIOLATIONS) {
        outln!("  document {n}: {}: {}", v.path, v.problem);
    }
    if !rows.is_empty() {
        outln!("{:<40} {:<16} {:>10} {:>10} {:>9}", "path", "metric", "schema", "observed", "deviation");
    }
    for r in rows {
        outln!(
            "{:<40} {:<16} {:>10.2} {:>10.2} {:>8.1}%{}",
            r.path,
            r.metric,
            r.schema,
            r.observed,
            100.0 * r.deviation,
            if r.flagged { "  <-- deviates" } else { "" }
        );
    }
}

fn display(path: &[String]) -> String {
    if path.is_empty() { "(document)".into() } else { path.join(".").replace(".[]", "[]") }
}

fn percentiles(rows: &mut Vec<Row>, path: &[String], what: &str, hint: &Value, observed: &Counts, tolerance: f64) {
    for q in ["p50", "p90", "p99"] {
        let Some(want) = hint.get(q).and_then(Value::as_f64) else { continue };
        let quantile = match q {
            "p50" => 0.5,
            "p90" => 0.9,
            _ => 0.99,
        };
        let got = observed.percentile(quantile) as f64;
        let deviation = if want > 0.0 { (got - want).abs() / want } else { got };
        rows.push(Row {
            path: display(path),
            metric: format!("{what} {q}"),
            schema: want,
            observed: got,
            deviation,
            flagged: deviation > tolerance,
        });
    }
}

/// Walks the schema as written and compares each statistic it carries (arrayLen,
/// presence, docSize) with what the documents show.
fn compare(root: &Value, node: &Value, path: &[String], c: &Collector, rows: &mut Vec<Row>) {
    let node = match node
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix('#'))
        .and_then(|p| root.pointer(p))
    {
        Some(target) => target,
        None => node,
    };
    let segs: Vec<&str> = path.iter().map(String::as_str).collect();
    if path.is_empty()
        && let Some(hint) = node.get("x-gen").and_then(|g| g.get("docSize"))
    {
        percentiles(rows, path, "document bytes", hint, &c.doc_sizes, MAX_DEVIATION);
    }
    if let Some(hint) = node.get("x-gen").and_then(|g| g.get("arrayLen"))
        && let Some(arr) = c.at(&segs).and_then(|s| s.array.as_ref())
    {
        percentiles(rows, path, "array length", hint, &arr.lengths, MAX_DEVIATION);
    }
    if let Some(props) = node.get("properties").and_then(Value::as_object) {
        for (name, sub) in props {
            let child = [path, std::slice::from_ref(name)].concat();
            if let Some(want) = sub.get("x-gen").and_then(|g| g.get("presence")).and_then(Value::as_f64)
                && let Some(got) = c.presence(&segs, name)
            {
                let gap = (got - want).abs();
                rows.push(Row {
                    path: display(&child),
                    metric: "presence".into(),
                    schema: want,
                    observed: got,
                    deviation: gap,
                    flagged: gap > MAX_PRESENCE_GAP,
                });
            }
            compare(root, sub, &child, c, rows);
        }
    }
    if let Some(items) = node.get("items").filter(|i| i.is_object()) {
        compare(root, items, &[path, &["[]".to_string()]].concat(), c, rows);
    }
    for key in ["anyOf", "oneOf"] {
        for alt in node.get(key).and_then(Value::as_array).into_iter().flatten() {
            compare(root, alt, path, c, rows);
        }
    }
}
