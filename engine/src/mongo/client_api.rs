//! The client-level write path (MongoDB 8.0+): an all-insert batch as one
//! `insertMany`, any other as one `bulkWrite` command with per-op results.

use bson::{Document, RawDocumentBuf};
use mongodb::error::{Error as DbError, ErrorKind, PartialBulkWriteResult};
use mongodb::options::{DeleteOneModel, InsertOneModel, ReplaceOneModel, UpdateOneModel, WriteConcern, WriteModel};
use mongodb::results::VerboseBulkWriteResult;
use mongodb::{Client, Collection};

use super::reply::{Reply, failure_label};
use crate::metrics::Outcome;
use crate::plan::{OpPlan, Write};

/// One attempt at `ops`.
pub async fn send(
    client: &Client,
    coll: &Collection<Document>,
    ops: &[OpPlan],
    ordered: bool,
    wc: Option<&WriteConcern>,
) -> Reply {
    let unacknowledged = wc.is_some_and(super::is_unacknowledged);
    let raws: Vec<&RawDocumentBuf> =
        ops.iter().filter_map(|op| if let Write::Insert(d) = &op.write { Some(&**d) } else { None }).collect();
    if raws.len() == ops.len() {
        let raw_coll = coll.clone_with_type::<RawDocumentBuf>();
        let mut action = raw_coll.insert_many(raws).ordered(ordered);
        if let Some(wc) = wc {
            action = action.write_concern(wc.clone());
        }
        return match action.await {
            Ok(_) if unacknowledged => Reply::answered(vec![Outcome::Unacknowledged; ops.len()]),
            Ok(_) => Reply::answered(vec![INSERTED; ops.len()]),
            Err(e) => insert_errors(e, ops.len(), ordered),
        };
    }
    let models = models(coll, ops);
    if unacknowledged {
        // The server returns no per-op results without acknowledgement.
        let action = client.bulk_write(models).ordered(ordered).write_concern(wc.cloned().expect("checked"));
        return match action.await {
            Ok(_) => Reply::answered(vec![Outcome::Unacknowledged; ops.len()]),
            Err(e) => Reply::lost(ops.len(), e),
        };
    }
    let mut action = client.bulk_write(models).ordered(ordered).verbose_results();
    if let Some(wc) = wc {
        action = action.write_concern(wc.clone());
    }
    match action.await {
        Ok(result) => Reply::answered(verbose_outcomes(&result, ops.len())),
        Err(e) => bulk_errors(e, ops.len(), ordered),
    }
}

const INSERTED: Outcome = Outcome::Acked { matched: 1, modified: 0 };

fn models(coll: &Collection<Document>, ops: &[OpPlan]) -> Vec<WriteModel> {
    let ns = coll.namespace();
    ops.iter()
        .map(|op| match &op.write {
            Write::Insert(raw) => InsertOneModel::builder()
                .namespace(ns.clone())
                .document(Document::try_from(raw.as_ref().as_ref()).expect("forge serialised it"))
                .build()
                .into(),
            Write::Update { filter, update } => UpdateOneModel::builder()
                .namespace(ns.clone())
                .filter(filter.clone())
                .update(update.clone())
                .build()
                .into(),
            Write::Replace { filter, replacement } => ReplaceOneModel::builder()
                .namespace(ns.clone())
                .filter(filter.clone())
                .replacement(replacement.clone())
                .build()
                .into(),
            Write::Delete { filter } => {
                DeleteOneModel::builder().namespace(ns.clone()).filter(filter.clone()).build().into()
            }
        })
        .collect()
}

/// A failed `insertMany`: per-op outcomes when the server answered with write or
/// write-concern errors, else every op unknown.
fn insert_errors(e: DbError, n: usize, ordered: bool) -> Reply {
    let ErrorKind::InsertMany(ime) = &*e.kind else { return Reply::lost(n, e) };
    let errors: Vec<(usize, Outcome)> =
        ime.write_errors.iter().flatten().map(|we| (we.index, refused(we.code, we.code_name.as_deref()))).collect();
    let applied = if ime.write_concern_error.is_some() {
        Outcome::WriteConcernFailed { matched: 1, modified: 0 }
    } else {
        INSERTED
    };
    Reply::answered(with_errors(vec![applied; n], errors, ordered))
}

/// A failed `bulkWrite`: per-op outcomes from its partial result and errors, else
/// every op unknown.
fn bulk_errors(e: DbError, n: usize, ordered: bool) -> Reply {
    let ErrorKind::BulkWrite(bwe) = &*e.kind else { return Reply::lost(n, e) };
    let errors: Vec<(usize, Outcome)> =
        bwe.write_errors.iter().map(|(i, we)| (*i, refused(we.code, we.code_name.as_deref()))).collect();
    let Some(PartialBulkWriteResult::Verbose(partial)) = &bwe.partial_result else {
        if errors.is_empty() {
            return Reply::lost(n, e);
        }
        // The driver leaves the result out when no op succeeded: those that did not
        // fail did not run.
        return Reply::answered(with_errors(vec![Outcome::NotExecuted; n], errors, ordered));
    };
    let mut outcomes = verbose_outcomes(partial, n);
    if !bwe.write_concern_errors.is_empty() {
        for o in &mut outcomes {
            if let Outcome::Acked { matched, modified } = *o {
                *o = Outcome::WriteConcernFailed { matched, modified };
            }
        }
    }
    let outcomes = with_errors(outcomes, errors, ordered);
    // An op with no result and no error did not run (an unordered batch cut short).
    Reply::answered(
        outcomes.into_iter().map(|o| if o == Outcome::Unknown { Outcome::NotExecuted } else { o }).collect(),
    )
}

/// `outcomes` with the refused ops' failures; an ordered batch stopped at its first.
fn with_errors(mut outcomes: Vec<Outcome>, errors: Vec<(usize, Outcome)>, ordered: bool) -> Vec<Outcome> {
    let first = errors.iter().map(|(i, _)| *i).min();
    for (i, failure) in errors {
        if let Some(o) = outcomes.get_mut(i) {
            *o = failure;
        }
    }
    if ordered && let Some(first) = first {
        outcomes.iter_mut().skip(first + 1).for_each(|o| *o = Outcome::NotExecuted);
    }
    outcomes
}

/// A refused op, labelled as [`failure_label`] does.
fn refused(code: i32, name: Option<&str>) -> Outcome {
    Outcome::Failed(failure_label(code, name))
}

fn verbose_outcomes(result: &VerboseBulkWriteResult, n: usize) -> Vec<Outcome> {
    (0..n)
        .map(|i| {
            if result.insert_results.contains_key(&i) {
                INSERTED
            } else if let Some(u) = result.update_results.get(&i) {
                Outcome::Acked { matched: u.matched_count, modified: u.modified_count }
            } else if let Some(d) = result.delete_results.get(&i) {
                Outcome::Acked { matched: d.deleted_count, modified: 0 }
            } else {
                Outcome::Unknown
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: Outcome = INSERTED;

    #[test]
    fn an_ordered_batch_stops_at_its_first_refusal() {
        let got = with_errors(vec![OK; 4], vec![(1, refused(11000, Some("DuplicateKey")))], true);
        let failed = Outcome::Failed("11000 DuplicateKey".into());
        assert_eq!(got, [OK, failed, Outcome::NotExecuted, Outcome::NotExecuted]);
    }

    #[test]
    fn an_unordered_batch_goes_on_after_a_refusal() {
        let got = with_errors(vec![OK; 3], vec![(1, refused(121, None))], false);
        assert_eq!(got, [OK, Outcome::Failed("121".into()), OK]);
    }
}
