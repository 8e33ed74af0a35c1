//! `forge verify --transactions LOG`: every transaction of a stream all or nothing,
//! from the server's side.

use std::path::Path;

use super::{Args, SHOWN};
use crate::cli::error::Error;
use crate::verify::VerifyError;

/// `forge verify --transactions LOG`.
pub(super) fn run_transactions(args: &Args, path: &Path) -> Result<(), Error> {
    use crate::verify::TransactionCheck;
    let (header, lines) = crate::transaction::log::read(path)
        .map_err(|e| Error::Usage(format!("--transactions: cannot read '{}': {e}", path.display())))?;
    let Some((secs, inc)) = header.start_operation_time else {
        return Err(Error::Usage("--transactions: the log has no start time".into()));
    };
    let db_name = args.connection.db.clone().unwrap_or_else(|| header.database.clone());
    let collections: Vec<String> = header.update.iter().chain(&header.insert).cloned().collect();
    let check = crate::cli::traffic::runtime()?.block_on(async {
        let (client, _) = crate::mongo::connect(&args.connection.server.uri, Some(&db_name)).await?;
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
        crate::cli::traffic::write_json_report(path, &check)?;
    }
    let differences = check.differences();
    if differences > 0 {
        return Err(Error::Reported(format!("{differences} differences from the transaction log")));
    }
    outln!("  every transaction is all or nothing");
    Ok(())
}
