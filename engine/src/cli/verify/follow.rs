//! `forge verify --follow`: the end-to-end lag, live, while a run writes.

use super::{Args, Sink};
use crate::cli::error::Error;
use crate::verify::{FollowSink, Lag, SinkTypes, VerifyError, follow};

/// `forge verify --follow`: the lag, live on stderr, until the run is over.
pub(super) fn run_follow(args: &Args, types: &SinkTypes) -> Result<Lag, Error> {
    let [journal] = args.journal.as_slice() else {
        return Err(Error::Usage("--follow: give the one journal the run writes (--journal FILE)".into()));
    };
    if journal.is_dir() {
        return Err(Error::Usage("--follow: --journal must name the file the run writes, not a directory".into()));
    }
    let runtime = crate::cli::traffic::runtime()?;
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
                server: args.pg_server(uri),
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
        let lag =
            follow(journal, sink, args.idle, std::time::Duration::from_secs(1), shutdown, tick).await.map_err(|e| {
                match e {
                    VerifyError::NoDocuments { .. } => {
                        Error::Usage(format!("--follow: {e}; write it with --journal-docs"))
                    }
                    e => Error::Runtime(format!("--follow: {e}")),
                }
            })?;
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
