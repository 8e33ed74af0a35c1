//! Reading what the server holds: a collection's documents and its change stream.

use std::time::Duration;

use bson::{Bson, Document, doc};
use futures_util::{StreamExt, TryStreamExt};
use mongodb::Collection;
use mongodb::change_stream::event::ResumeToken;

use super::VerifyError;
use super::change_stream::{Event, SeenEvents};
use super::final_state::Comparison;

/// Where reading the change stream starts.
pub enum StreamStart {
    /// At this operation time (the run's start, from the journal).
    At(bson::Timestamp),
    /// Just after this event.
    After(ResumeToken),
}

/// The collection's events from `from`, until none arrives for `idle`.
pub async fn read_events(
    coll: &Collection<Document>,
    from: StreamStart,
    idle: Duration,
) -> Result<SeenEvents, VerifyError> {
    let fail = |source| VerifyError::ChangeStream { namespace: coll.namespace().to_string(), source };
    // Only what the check reads: events near 16 MiB (a big document's insert) would
    // otherwise cross the wire whole, and replies of several outgrow a message.
    let watch = coll.watch().pipeline([doc! { "$project": { "operationType": 1, "documentKey": 1, "wallTime": 1 } }]);
    let watch = match from {
        StreamStart::At(ts) => watch.start_at_operation_time(ts),
        StreamStart::After(token) => watch.resume_after(token),
    };
    let mut stream = watch.await.map_err(fail)?;
    let mut seen = SeenEvents::default();
    while let Ok(Some(event)) = tokio::time::timeout(idle, stream.next()).await {
        let event = event.map_err(fail)?;
        let Some(id) = event.document_key.as_ref().and_then(|k| k.get("_id")) else { continue };
        let operation = format!("{:?}", event.operation_type).to_lowercase();
        let wall_ms = event.wall_time.map_or(0, |t| t.timestamp_millis());
        seen.push(id, Event { operation, wall_ms });
    }
    Ok(seen)
}

/// Feeds the documents of the collection whose `_id` is one of `ids` to `comparison`.
pub async fn lookup_documents(
    coll: &Collection<Document>,
    ids: Vec<Bson>,
    comparison: &mut Comparison,
) -> Result<(), VerifyError> {
    let fail = |source| VerifyError::Collection { namespace: coll.namespace().to_string(), source };
    let mut cursor = coll.find(doc! { "_id": { "$in": ids } }).await.map_err(fail)?;
    while let Some(d) = cursor.try_next().await.map_err(fail)? {
        comparison.document(&d);
    }
    Ok(())
}

/// Feeds every document of the collection to `comparison`.
pub async fn compare_documents(coll: &Collection<Document>, comparison: &mut Comparison) -> Result<(), VerifyError> {
    let fail = |source| VerifyError::Collection { namespace: coll.namespace().to_string(), source };
    let mut cursor = coll.find(doc! {}).await.map_err(fail)?;
    while let Some(d) = cursor.try_next().await.map_err(fail)? {
        comparison.document(&d);
    }
    Ok(())
}

/// The transactional events (those with an `lsid`) of `collections` in `db`, from
/// `from`, until none arrives for `idle`.
pub async fn read_transaction_events(
    db: &mongodb::Database,
    collections: &[String],
    from: bson::Timestamp,
    idle: Duration,
) -> Result<Vec<super::transactions::TxnEvent>, VerifyError> {
    let fail = |source| VerifyError::ChangeStream { namespace: db.name().to_string(), source };
    let pipeline = [
        doc! { "$match": { "ns.coll": { "$in": collections }, "lsid": { "$exists": true } } },
        doc! { "$project": { "operationType": 1, "documentKey": 1, "ns": 1, "lsid": 1, "txnNumber": 1 } },
    ];
    let mut stream = db.watch().pipeline(pipeline).start_at_operation_time(from).await.map_err(fail)?;
    let mut events = Vec::new();
    while let Ok(Some(event)) = tokio::time::timeout(idle, stream.next()).await {
        let event = event.map_err(fail)?;
        let Some(id) = event.document_key.as_ref().and_then(|k| k.get("_id")) else { continue };
        let lsid = match event.lsid.as_ref().and_then(|l| l.get("id")) {
            Some(Bson::Binary(b)) => crate::transaction::hex(&b.bytes),
            _ => continue,
        };
        events.push(super::transactions::TxnEvent {
            lsid,
            txn_number: event.txn_number.unwrap_or_default(),
            collection: event.ns.as_ref().and_then(|ns| ns.coll.clone()).unwrap_or_default(),
            operation: format!("{:?}", event.operation_type).to_lowercase(),
            id: id.clone(),
        });
    }
    Ok(events)
}

/// Which of `ids` the collection holds.
pub async fn present(coll: &Collection<Document>, ids: &[Bson]) -> Result<Vec<Bson>, VerifyError> {
    let fail = |source| VerifyError::Collection { namespace: coll.namespace().to_string(), source };
    let mut found = Vec::new();
    for chunk in ids.chunks(10_000) {
        let mut cursor =
            coll.find(doc! { "_id": { "$in": chunk } }).projection(doc! { "_id": 1 }).await.map_err(fail)?;
        while let Some(d) = cursor.try_next().await.map_err(fail)? {
            found.extend(d.get("_id").cloned());
        }
    }
    Ok(found)
}
