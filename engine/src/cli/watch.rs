//! `forge watch`: a collection's change stream as canonical Extended JSON lines (every
//! BSON type kept, so that `forge verify --sink` can check a saved log losslessly),
//! with per-second counts by operation type on stderr.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bson::Document;
use futures_util::StreamExt;

use super::error::Error;
use super::traffic::ConnectionArgs;
use crate::output::ejson;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    connection: ConnectionArgs,

    /// Resume after this token (an event's _id, as Extended JSON)
    #[arg(long, value_name = "TOKEN")]
    resume_after: Option<String>,

    /// Stop after this many events
    #[arg(short = 'n', long, value_name = "N")]
    count: Option<u64>,

    /// No per-second counts on stderr
    #[arg(short, long)]
    quiet: bool,
}

/// A resume token given as Extended JSON (an event's `_id`, as `watch` prints it).
pub(super) fn parse_resume_token(text: &str) -> Result<mongodb::change_stream::event::ResumeToken, Error> {
    let json: serde_json::Value =
        serde_json::from_str(text).map_err(|e| Error::Usage(format!("--resume-after: not JSON: {e}")))?;
    let doc = bson::Bson::try_from(json)
        .ok()
        .and_then(|b| b.as_document().cloned())
        .ok_or_else(|| Error::Usage("--resume-after: expected an event _id such as {\"_data\": \"...\"}".into()))?;
    bson::deserialize_from_document(doc).map_err(|e| Error::Usage(format!("--resume-after: not a resume token: {e}")))
}

pub fn run(args: Args) -> Result<(), Error> {
    let name = args.connection.collection.clone().ok_or_else(|| Error::Usage("--collection is required".into()))?;
    let token = args.resume_after.as_deref().map(parse_resume_token).transpose()?;
    let runtime = super::traffic::runtime()?;
    runtime.block_on(async {
        let (client, db) = args.connection.connect().await?;
        let coll = client.database(&db).collection::<Document>(&name);
        let mut stream = coll
            .watch()
            .resume_after(token)
            .await
            .map_err(|e| Error::Runtime(format!("cannot watch {db}.{name}: {}", e.kind)))?;
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        let mut last = Instant::now();
        let mut seen = 0u64;
        let mut out = Vec::with_capacity(4096);
        loop {
            let next = tokio::select! {
                next = stream.next() => next,
                _ = tokio::signal::ctrl_c() => break,
            };
            let Some(event) = next else { break };
            let event =
                event.map_err(|e| Error::Runtime(format!("change stream of {db}.{name} failed: {}", e.kind)))?;
            let event = bson::serialize_to_document(&event)
                .map_err(|e| Error::Runtime(format!("an event of {db}.{name} does not serialise: {e}")))?;
            let op = event.get_str("operationType").unwrap_or("unknown").to_string();
            *counts.entry(op).or_default() += 1;
            out.clear();
            ejson::write_document(&mut out, &event, ejson::Mode::Canonical);
            out.push(b'\n');
            use std::io::Write;
            let line = String::from_utf8_lossy(&out);
            if std::io::stdout().write_all(super::secrets::scrub(&line).as_bytes()).is_err() {
                break; // closed pipe
            }
            seen += 1;
            if !args.quiet && last.elapsed() >= Duration::from_secs(1) {
                let line: Vec<String> = counts.iter().map(|(k, n)| format!("{k} {n}")).collect();
                errln!("[watch] {}", line.join(", "));
                counts.clear();
                last = Instant::now();
            }
            if args.count.is_some_and(|n| seen >= n) {
                break;
            }
        }
        Ok(())
    })
}
