//! The two bulk APIs (`--bulk-api`): the collection-level insert/update/delete commands
//! that every server has, and the client-level bulkWrite of MongoDB 8.0+. The test
//! server has both, so each path is forced by the flag.

use std::sync::Arc;

use bson::{Bson, Document, RawDocumentBuf, doc};
use forge::metrics::Outcome;
use forge::mongo::collection_api;
use forge::plan::{Change, OpKind, OpPlan, State, Write};
use futures_util::TryStreamExt;

use crate::support::{self, Forge, Kind, Report, fresh_db, server_uri};

fn op(index: u64, id: i64, write: Write, matched: u64, modified: u64) -> OpPlan {
    let kind = match &write {
        Write::Insert(_) => OpKind::Insert,
        Write::Update { .. } => OpKind::Update,
        Write::Replace { .. } => OpKind::Replace,
        Write::Delete { .. } => OpKind::Delete,
    };
    let change =
        Change { before: State::Unknown, after: State::Unknown, matched: Some(matched), modified: Some(modified) };
    OpPlan {
        index,
        kind,
        id: Bson::Int64(id),
        shard: 0,
        write,
        change,
        expect: None,
        scheduled: std::time::Instant::now(),
    }
}

fn insert(index: u64, id: i64) -> OpPlan {
    let raw = RawDocumentBuf::try_from(&doc! { "_id": id, "n": 0, "s": "new" }).unwrap();
    op(index, id, Write::Insert(Arc::new(raw)), 1, 0)
}

fn inc(index: u64, id: i64, field: &str) -> OpPlan {
    op(index, id, Write::Update { filter: doc! { "_id": id }, update: doc! { "$inc": { field: 1 } } }, 1, 1)
}

/// Inserts, an `$inc` of a number, an `$inc` of a string (refused: 14 TypeMismatch), then
/// an update, a replace, a delete and an insert, each on its own `_id`.
fn mixed_batch() -> Vec<OpPlan> {
    vec![
        insert(0, 100),
        insert(1, 101),
        inc(2, 1, "n"),
        inc(3, 2, "s"),
        inc(4, 3, "n"),
        op(5, 4, Write::Replace { filter: doc! { "_id": 4_i64 }, replacement: doc! { "replaced": true } }, 1, 1),
        op(6, 5, Write::Delete { filter: doc! { "_id": 5_i64 } }, 1, 0),
        insert(7, 102),
    ]
}

async fn seeded(db: &str) -> mongodb::Collection<Document> {
    let coll = support::client().await.database(db).collection::<Document>("c");
    let docs: Vec<Document> = (1..=5_i64).map(|id| doc! { "_id": id, "n": 0, "s": "text" }).collect();
    coll.insert_many(docs).await.unwrap();
    coll
}

async fn by_id(coll: &mongodb::Collection<Document>) -> std::collections::BTreeMap<i64, Document> {
    let docs: Vec<Document> = coll.find(doc! {}).await.unwrap().try_collect().await.unwrap();
    docs.into_iter().map(|d| (d.get_i64("_id").unwrap(), d)).collect()
}

/// Refusals by code alone: mongod may name the code ("14 TypeMismatch"), the test
/// server does not.
fn codes_only(outcomes: Vec<Option<Outcome>>) -> Vec<Option<Outcome>> {
    let code = |label: String| label.split(' ').next().unwrap_or_default().to_string();
    outcomes
        .into_iter()
        .map(|o| if let Some(Outcome::Failed(l)) = o { Some(Outcome::Failed(code(l))) } else { o })
        .collect()
}

fn acked(matched: u64, modified: u64) -> Option<Outcome> {
    Some(Outcome::Acked { matched, modified })
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ordered_mixed_batch_stops_where_the_server_refused_and_says_so_per_op() {
    let db = fresh_db("bulk_ordered");
    let coll = seeded(&db).await;
    let client = support::client().await;
    let reply = collection_api::send(&client.database(&db), "c", &mixed_batch(), true, None).await;
    assert!(reply.lost.is_none(), "{:?}", reply.lost);
    // Three commands: the inserts (the last one included: its _id has no earlier op),
    // the updates and the replace, stopped by the refused $inc, and the delete, never sent.
    let refused = Some(Outcome::Failed("14".into()));
    let not_run = Some(Outcome::NotExecuted);
    assert_eq!(
        codes_only(reply.outcomes),
        vec![acked(1, 0), acked(1, 0), acked(1, 1), refused, not_run.clone(), not_run.clone(), not_run, acked(1, 0)]
    );
    assert!(reply.inferred.is_empty(), "the predictions add up: {:?}", reply.inferred);
    // The collection proves it: what the server ran, and nothing it did not.
    let docs = by_id(&coll).await;
    assert!(docs.contains_key(&100) && docs.contains_key(&101) && docs.contains_key(&102));
    assert_eq!(docs[&1].get_i32("n").unwrap(), 1);
    assert_eq!(docs[&2].get_str("s").unwrap(), "text");
    assert_eq!(docs[&3].get_i32("n").unwrap(), 0, "not executed");
    assert!(docs[&4].get("replaced").is_none(), "not executed");
    assert!(docs.contains_key(&5), "not executed");
}

#[tokio::test(flavor = "multi_thread")]
async fn one_ids_history_reaches_the_server_in_plan_order() {
    let db = fresh_db("bulk_history");
    let coll = seeded(&db).await;
    let client = support::client().await;
    // _id 50: inserted, incremented, deleted, inserted again, incremented; _id 1 and
    // 2 in between. Any other order leaves another document (or none).
    let ops = vec![
        insert(0, 50),
        inc(1, 50, "n"),
        inc(2, 1, "n"),
        op(3, 50, Write::Delete { filter: doc! { "_id": 50_i64 } }, 1, 0),
        insert(4, 2000),
        insert(5, 50),
        op(6, 2, Write::Replace { filter: doc! { "_id": 2_i64 }, replacement: doc! { "n": 7 } }, 1, 1),
        inc(7, 50, "n"),
        inc(8, 50, "n"),
    ];
    let reply = collection_api::send(&client.database(&db), "c", &ops, true, None).await;
    let expected = vec![
        acked(1, 0),
        acked(1, 1),
        acked(1, 1),
        acked(1, 0),
        acked(1, 0),
        acked(1, 0),
        acked(1, 1),
        acked(1, 1),
        acked(1, 1),
    ];
    assert_eq!(reply.outcomes, expected);
    let docs = by_id(&coll).await;
    assert_eq!(docs[&50], doc! { "_id": 50_i64, "n": 2, "s": "new" });
    assert_eq!(docs[&2], doc! { "_id": 2_i64, "n": 7 });
    assert_eq!(docs[&1].get_i32("n").unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unordered_mixed_batch_runs_everything_but_the_refused_op() {
    let db = fresh_db("bulk_unordered");
    let coll = seeded(&db).await;
    let client = support::client().await;
    let reply = collection_api::send(&client.database(&db), "c", &mixed_batch(), false, None).await;
    assert!(reply.lost.is_none(), "{:?}", reply.lost);
    assert_eq!(
        codes_only(reply.outcomes),
        vec![
            acked(1, 0),
            acked(1, 0),
            acked(1, 1),
            Some(Outcome::Failed("14".into())),
            acked(1, 1),
            acked(1, 1),
            acked(1, 0),
            acked(1, 0)
        ]
    );
    let docs = by_id(&coll).await;
    assert_eq!(docs[&1].get_i32("n").unwrap(), 1);
    assert_eq!(docs[&2].get_str("s").unwrap(), "text", "refused");
    assert_eq!(docs[&3].get_i32("n").unwrap(), 1);
    assert!(docs[&4].get_bool("replaced").unwrap());
    assert!(!docs.contains_key(&5));
    assert!(docs.contains_key(&102));
}

#[tokio::test(flavor = "multi_thread")]
async fn counts_the_model_got_wrong_follow_the_server_and_are_marked_inferred() {
    let db = fresh_db("bulk_inferred");
    let coll = seeded(&db).await;
    let client = support::client().await;
    // The model thinks _id 9 exists; the server matches nothing for it.
    let ops = vec![inc(0, 1, "n"), inc(1, 9, "n"), inc(2, 2, "n")];
    let reply = collection_api::send(&client.database(&db), "c", &ops, true, None).await;
    let total = |f: fn(&Outcome) -> u64| reply.outcomes.iter().map(|o| f(o.as_ref().unwrap())).sum::<u64>();
    let matched = |o: &Outcome| if let Outcome::Acked { matched, .. } = o { *matched } else { panic!("{o:?}") };
    let modified = |o: &Outcome| if let Outcome::Acked { modified, .. } = o { *modified } else { panic!("{o:?}") };
    assert_eq!((total(matched), total(modified)), (2, 2), "the server's totals: {:?}", reply.outcomes);
    assert_eq!(reply.inferred, vec![0, 1, 2]);
    let docs = by_id(&coll).await;
    assert_eq!((docs[&1].get_i32("n").unwrap(), docs[&2].get_i32("n").unwrap()), (1, 1));
}

/// A CDC run with `--write-concern 2` on the single-node test server: every write
/// applies, none meets its write concern.
async fn write_concern_2(api: &str) {
    let db = fresh_db(&format!("bulk_wc_{api}"));
    let run = Forge::generate().output("mongo-cdc").db(&db).collection("c").quiet().count(3000).seed(5);
    let run = run.arg("--operation-ratios", "insert:40,update:40,replace:10,delete:10").arg("--batch-size", "200");
    let out = run.arg("--write-concern", "2").arg("--bulk-api", api).report().run_async().await;
    let report: Report = out.report();
    for kind in [Kind::Insert, Kind::Update, Kind::Replace, Kind::Delete] {
        let c = report.op(kind);
        assert_eq!(c.acknowledged, 0, "{api} {kind:?}: {report:?}");
        assert!(c.write_concern_failed > 0, "{api} {kind:?}: {report:?}");
    }
    let inserted = report.op(Kind::Insert).write_concern_failed;
    let deleted = report.op(Kind::Delete).write_concern_failed;
    let stored = support::client().await.database(&db).collection::<Document>("c").count_documents(doc! {}).await;
    assert_eq!(stored.unwrap(), inserted - deleted, "{api}: the writes applied: {report:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unmet_write_concern_is_never_acknowledged_through_the_collection_commands() {
    write_concern_2("collection").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unmet_write_concern_is_never_acknowledged_through_bulk_write() {
    write_concern_2("client").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cdc_run_through_the_collection_commands_verifies_clean() {
    let db = fresh_db("bulk_cdc");
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.ndjson");
    let run = Forge::generate().output("mongo-cdc").db(&db).collection("c").quiet().count(20000).seed(33);
    let run = run.arg("--operation-ratios", "insert:40,update:40,replace:10,delete:10");
    let run = run.arg("--update-strategy", "increment").arg("--bulk-api", "collection").arg("--journal", &journal);
    let report: Report = run.report().run_async().await.success().report();
    assert_eq!(report.bulk_api.as_deref(), Some("collection"));
    for kind in [Kind::Insert, Kind::Update, Kind::Replace, Kind::Delete] {
        let c = report.op(kind);
        assert!(c.acknowledged > 0 && c.acknowledged == c.attempted, "{kind:?}: {report:?}");
    }
    let out = Forge::verify().arg("--journal", &journal).uri(server_uri()).run_async().await.success();
    assert!(out.stdout.contains("everything matches"), "{}", out.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn auto_picks_bulk_write_on_a_server_that_has_it() {
    let db = fresh_db("bulk_auto");
    let run = Forge::generate().output("mongo-cdc").db(&db).collection("c").quiet().count(500).seed(1);
    let report: Report = run.arg("--bulk-api", "auto").report().run_async().await.success().report();
    // The test server reports wire version 27 (8.x).
    assert_eq!(report.bulk_api.as_deref(), Some("client"));
    let collection: Report = Forge::generate()
        .output("mongo-cdc")
        .db(&db)
        .collection("d")
        .quiet()
        .count(500)
        .seed(1)
        .env("FORGE_BULK_API", "collection")
        .report()
        .run_async()
        .await
        .success()
        .report();
    assert_eq!(collection.bulk_api.as_deref(), Some("collection"), "FORGE_BULK_API chooses it");
}
