//! `forge verify`: does a collection hold what the journal says was written? Run it
//! against the source, or against the copy a CDC pipeline made of it.

use std::collections::HashMap;
use std::path::PathBuf;

use bson::{Bson, Document, doc};
use futures_util::TryStreamExt;
use serde_json::json;

use super::traffic::ConnectionArgs;
use crate::error::Error;
use crate::journal::{self, doc_hash};
use crate::plan::IdKey;
use crate::plan::expected::Expect;

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

/// The change event a journaled write should cause, if any (updates and replaces that
/// modify nothing cause none).
fn expected_event(write: &str, modified: u64) -> Option<&'static str> {
    match write {
        "insert" => Some("insert"),
        "delete" => Some("delete"),
        "update" if modified > 0 => Some("update"),
        "replace" if modified > 0 => Some("replace"),
        _ => None,
    }
}

/// Where the change stream check starts reading.
enum StreamStart {
    At(bson::Timestamp),
    After(mongodb::change_stream::event::ResumeToken),
}

/// Events of the collection from `from`, by document: (operation type, wall time ms).
async fn read_events(
    coll: &mongodb::Collection<Document>,
    from: StreamStart,
    idle: std::time::Duration,
) -> Result<HashMap<IdKey, Vec<(String, i64)>>, Error> {
    use futures_util::StreamExt;
    let fail = |e: mongodb::error::Error| Error::Runtime(format!("change stream of {}: {}", coll.namespace(), e.kind));
    let watch = coll.watch();
    let watch = match from {
        StreamStart::At(ts) => watch.start_at_operation_time(ts),
        StreamStart::After(token) => watch.resume_after(token),
    };
    let mut stream = watch.await.map_err(fail)?;
    let mut seen: HashMap<IdKey, Vec<(String, i64)>> = HashMap::new();
    while let Ok(Some(event)) = tokio::time::timeout(idle, stream.next()).await {
        let event = event.map_err(fail)?;
        let Some(id) = event.document_key.as_ref().and_then(|k| k.get("_id")) else { continue };
        let op = format!("{:?}", event.operation_type).to_lowercase();
        let wall = event.wall_time.map_or(0, |t| t.timestamp_millis());
        seen.entry(IdKey::of(id)).or_default().push((op, wall));
    }
    Ok(seen)
}

#[derive(Debug, Default, serde::Serialize)]
struct StreamCheck {
    events: u64,
    missing: u64,
    duplicated: u64,
    /// Documents whose events arrived in another order than their operations.
    out_of_order: u64,
    /// Events of documents the journal does not know.
    unexpected: u64,
    lag_p50: i64,
    lag_p99: i64,
}

fn tally<'a>(ops: impl Iterator<Item = &'a str>) -> HashMap<&'a str, i64> {
    let mut m = HashMap::new();
    ops.for_each(|o| *m.entry(o).or_default() += 1);
    m
}

fn compare_events(
    expected: &HashMap<IdKey, Vec<(&'static str, i64)>>,
    seen: &HashMap<IdKey, Vec<(String, i64)>>,
) -> StreamCheck {
    let mut check = StreamCheck { events: seen.values().map(|v| v.len() as u64).sum(), ..Default::default() };
    let mut lags = Vec::new();
    for (key, want) in expected {
        let got = seen.get(key).map(Vec::as_slice).unwrap_or(&[]);
        let (w, g) = (tally(want.iter().map(|(o, _)| *o)), tally(got.iter().map(|(o, _)| o.as_str())));
        for (op, n) in &w {
            let have = g.get(op).copied().unwrap_or(0);
            check.missing += (n - have).max(0) as u64;
            check.duplicated += (have - n).max(0) as u64;
        }
        check.duplicated += g.iter().filter(|(op, _)| !w.contains_key(*op)).map(|(_, n)| *n as u64).sum::<u64>();
        let in_order = want.len() == got.len() && want.iter().zip(got).all(|((a, _), (b, _))| *a == b.as_str());
        if w == g && !in_order {
            check.out_of_order += 1;
        }
        if in_order {
            lags.extend(want.iter().zip(got).map(|((_, ack), (_, wall))| wall - ack));
        }
    }
    check.unexpected = seen.iter().filter(|(k, _)| !expected.contains_key(*k)).map(|(_, v)| v.len() as u64).sum();
    lags.sort_unstable();
    let pct = |q: f64| lags.get(((q * lags.len() as f64).ceil() as usize).saturating_sub(1)).copied().unwrap_or(0);
    (check.lag_p50, check.lag_p99) = (pct(0.5), pct(0.99));
    check
}

/// What the journal says a document should be.
struct Expected {
    id: Bson,
    state: Expect,
}

pub fn run(args: Args) -> Result<(), Error> {
    let mut expected: HashMap<IdKey, Expected> = HashMap::new();
    let mut events: HashMap<IdKey, Vec<(&'static str, i64)>> = HashMap::new();
    let mut entries = 0u64;
    let header = journal::read(&args.journal, |e| {
        entries += 1;
        // Operations that matched nothing changed nothing.
        if e.m == 0 {
            return;
        }
        if let Some(id) = e.id() {
            let state = if e.w == "delete" && e.h.is_none() { Expect::Gone } else { e.expect() };
            if args.change_stream
                && let Some(event) = expected_event(&e.w, e.n)
            {
                events.entry(IdKey::of(&id)).or_default().push((event, e.t));
            }
            expected.insert(IdKey::of(&id), Expected { id, state });
        }
    })
    .map_err(Error::Usage)?;
    let (default_db, default_coll) = header.namespace.split_once('.').unwrap_or(("forge", &header.namespace));
    let db = args.connection.db.clone().unwrap_or_else(|| default_db.to_string());
    let coll_name = args.connection.collection.clone().unwrap_or_else(|| default_coll.to_string());
    let exclude = header.server_time_field.clone();

    let runtime = super::traffic::runtime()?;
    let (mut missing, mut extra, mut stale) = (Vec::new(), Vec::new(), Vec::new());
    let mut checked = 0u64;
    let mut stream_check = None;
    runtime.block_on(async {
        let (client, _) = crate::mongo::connect(&args.connection.uri, Some(&db)).await?;
        let coll = client.database(&db).collection::<Document>(&coll_name);
        if args.change_stream {
            let from = match &args.resume_after {
                Some(text) => StreamStart::After(super::watch::parse_resume_token(text)?),
                None => {
                    let start = header.start_operation_time.ok_or_else(|| {
                        Error::Usage("--change-stream: the journal has no start time; give --resume-after".into())
                    })?;
                    StreamStart::At(bson::Timestamp { time: start.0, increment: start.1 })
                }
            };
            let seen = read_events(&coll, from, args.idle).await?;
            stream_check = Some(compare_events(&events, &seen));
        }
        let fail = |e: mongodb::error::Error| Error::Runtime(format!("reading {db}.{coll_name}: {}", e.kind));
        let mut cursor = coll.find(doc! {}).await.map_err(fail)?;
        while let Some(d) = cursor.try_next().await.map_err(fail)? {
            checked += 1;
            let id = d.get("_id").cloned().unwrap_or(Bson::Null);
            match expected.remove(&IdKey::of(&id)) {
                None | Some(Expected { state: Expect::Gone, .. }) => extra.push(id),
                Some(Expected { state: Expect::Exists(h), .. }) if doc_hash(&d, exclude.as_deref()) != h => {
                    stale.push(id)
                }
                Some(_) => {}
            }
        }
        Ok::<_, Error>(())
    })?;
    for (_, e) in expected {
        if !matches!(e.state, Expect::Gone) {
            missing.push(e.id);
        }
    }
    let show = |ids: &[Bson]| ids.iter().take(SHOWN).map(|i| i.to_string()).collect::<Vec<_>>().join(", ");
    println!(
        "verify {db}.{coll_name} against {} ({entries} journaled operations, {checked} documents):",
        args.journal.display()
    );
    for (name, ids) in [("missing", &missing), ("extra", &extra), ("stale (content differs)", &stale)] {
        println!(
            "  {name}: {}{}",
            ids.len(),
            if ids.is_empty() { String::new() } else { format!("  [{}]", show(ids)) }
        );
    }
    if let Some(path) = &args.report {
        let ids = |v: &[Bson]| v.iter().map(|i| i.clone().into_canonical_extjson()).collect::<Vec<_>>();
        let report = json!({
            "namespace": format!("{db}.{coll_name}"), "journal": args.journal, "operations": entries, "documents": checked,
            "missing": ids(&missing), "extra": ids(&extra), "stale": ids(&stale),
        });
        std::fs::write(path, serde_json::to_string_pretty(&report).expect("serialises") + "\n")
            .map_err(|e| Error::Usage(format!("--report: cannot write '{}': {e}", path.display())))?;
    }
    let mut differences = missing.len() + extra.len() + stale.len();
    if let Some(c) = &stream_check {
        println!(
            "change stream: {} events; missing {}, duplicated {}, out of order {} documents, unexpected {}",
            c.events, c.missing, c.duplicated, c.out_of_order, c.unexpected
        );
        println!(
            "  event time minus acknowledgement: p50 {} ms, p99 {} ms (negative: the event's commit preceded the acknowledgement)",
            c.lag_p50, c.lag_p99
        );
        differences += (c.missing + c.duplicated + c.out_of_order + c.unexpected) as usize;
        if let Some(path) = &args.report {
            let mut report: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(path).unwrap_or_default()).unwrap_or(json!({}));
            report["change_stream"] = serde_json::to_value(c).expect("serialises");
            std::fs::write(path, serde_json::to_string_pretty(&report).expect("serialises") + "\n")
                .map_err(|e| Error::Usage(format!("--report: cannot write '{}': {e}", path.display())))?;
        }
    }
    if differences > 0 {
        return Err(Error::Reported(format!("{differences} documents differ from the journal")));
    }
    println!("  everything matches");
    Ok(())
}
