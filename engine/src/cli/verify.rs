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
}

/// What the journal says a document should be.
struct Expected {
    id: Bson,
    state: Expect,
}

pub fn run(args: Args) -> Result<(), Error> {
    let mut expected: HashMap<IdKey, Expected> = HashMap::new();
    let mut entries = 0u64;
    let header = journal::read(&args.journal, |e| {
        entries += 1;
        // Operations that matched nothing changed nothing.
        if e.m == 0 {
            return;
        }
        if let Some(id) = e.id() {
            let state = if e.k == "delete" && e.h.is_none() { Expect::Gone } else { e.expect() };
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
    runtime.block_on(async {
        let (client, _) = crate::mongo::connect(&args.connection.uri, Some(&db)).await?;
        let coll = client.database(&db).collection::<Document>(&coll_name);
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
    let differences = missing.len() + extra.len() + stale.len();
    if differences > 0 {
        return Err(Error::Reported(format!("{differences} documents differ from the journal")));
    }
    println!("  everything matches");
    Ok(())
}
