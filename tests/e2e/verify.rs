//! The journal and `forge verify`: a run's acknowledged operations against the final
//! state of a collection, on a healthy server, a corrupted copy, and a server that
//! crashes in the middle.

use std::path::Path;
use std::time::Duration;

use bson::{Bson, Document, doc};
use futures_util::TryStreamExt;
use serde_json::Value;

use crate::support::{self, Forge, Kind, Report, Server, VerifyReport, fresh_db, server_uri};

/// The operation indexes of a journal's entries (the first line is its header).
fn journal_seqs(path: &Path) -> Vec<u64> {
    support::journal_lines(path).iter().map(|e| e["s"].as_u64().unwrap()).collect()
}

/// `forge verify` of `journal` against the server at `uri`.
fn verify(journal: &Path, uri: &str) -> Forge {
    Forge::verify().arg("--journal", journal).uri(uri)
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_finds_nothing_after_a_clean_run_and_exactly_the_damage_to_a_copy() {
    let client = support::client().await;
    let db = fresh_db("verify");
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.ndjson");
    let run = Forge::generate().output("mongo-cdc").db(&db).collection("src").quiet().count(50000).seed(21);
    let run = run.arg("--operation-ratios", "insert:40,update:30,replace:10,delete:20");
    let run = run.arg("--update-strategy", "mixed").arg("--journal", &journal).report();
    let report: Report = run.run_async().await.success().report();
    for kind in [Kind::Insert, Kind::Update, Kind::Replace, Kind::Delete] {
        assert!(report.op(kind).acknowledged > 0, "{kind:?}: {report:?}");
    }
    assert_eq!(
        journal_seqs(&journal).len() as u64,
        report.acknowledged(),
        "one journal line per acknowledged operation"
    );

    let out = verify(&journal, server_uri()).run_async().await.success();
    assert!(out.stdout.contains("everything matches"), "{}", out.stdout);

    // A copy, as a pipeline would make it, then damaged: 3 lost, 2 altered, 2 invented.
    let src = client.database(&db).collection::<Document>("src");
    let copy = client.database(&db).collection::<Document>("copy");
    let docs: Vec<Document> = src.find(doc! {}).await.unwrap().try_collect().await.unwrap();
    copy.insert_many(&docs).await.unwrap();
    let ids: Vec<Bson> = docs.iter().map(|d| d.get("_id").unwrap().clone()).collect();
    for id in &ids[..3] {
        copy.delete_one(doc! { "_id": id.clone() }).await.unwrap();
    }
    for id in &ids[3..5] {
        copy.update_one(doc! { "_id": id.clone() }, doc! { "$set": { "status": "tampered" } }).await.unwrap();
    }
    let invented = [bson::oid::ObjectId::new(), bson::oid::ObjectId::new()];
    for id in invented {
        copy.insert_one(doc! { "_id": id, "name": "nobody" }).await.unwrap();
    }
    let out = verify(&journal, server_uri()).db(&db).collection("copy").report().run_async().await;
    assert_eq!(out.code, 1, "{}", out.stdout);
    let diff: VerifyReport = out.report();
    let sorted = |mut v: Vec<Bson>| {
        v.sort_by_key(|b| b.to_string());
        v
    };
    assert_eq!(diff.missing, sorted(ids[..3].to_vec()));
    assert_eq!(diff.stale, sorted(ids[3..5].to_vec()));
    assert_eq!(diff.extra, sorted(invented.iter().map(|o| Bson::ObjectId(*o)).collect()));
}

#[tokio::test(flavor = "multi_thread")]
async fn tombstones_verify_with_their_server_time_left_out() {
    let db = fresh_db("verify_tomb");
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.ndjson");
    let run = Forge::generate().output("mongo-cdc").db(&db).collection("c").quiet().count(5000).seed(22);
    let run = run.arg("--operation-ratios", "insert:50,update:25,delete:25").arg("--delete-behavior", "tombstone");
    let report: Report = run.arg("--journal", &journal).report().run_async().await.success().report();
    // Verifying an empty journal would prove nothing.
    assert_eq!(report.acknowledged(), 5000, "{report:?}");
    assert_eq!(journal_seqs(&journal).len(), 5000);
    verify(&journal, server_uri()).run_async().await.success();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_gone_for_good_leaves_a_journal_of_exactly_the_acknowledged_operations() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(&dir.path().join("data"));
    let journal = dir.path().join("journal.ndjson");
    let run = Forge::generate().output("mongo-cdc").quiet().uri(&server.uri).db("f").collection("c");
    let run = run.arg("--rate-limit", "2000").arg("--operation-ratios", "insert:70,update:20,delete:10");
    let child = run.arg("--max-retries", "1").arg("--journal", &journal).report().spawn();
    std::thread::sleep(Duration::from_secs(2));
    server.stop();
    let out = child.wait(Duration::from_secs(60));
    assert_eq!(out.code, 1, "{}", out.stderr);
    let report: Report = out.report();
    assert!(report.acknowledged() > 1000, "{report:?}");
    let mut seqs = journal_seqs(&journal);
    assert_eq!(seqs.len() as u64, report.acknowledged());
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(seqs.len() as u64, report.acknowledged(), "no operation journaled twice");
}

#[tokio::test(flavor = "multi_thread")]
async fn watch_prints_the_change_stream_as_extended_json_lines() {
    let client = support::client().await;
    let db = fresh_db("watch");
    let coll = client.database(&db).collection::<Document>("c");
    let child = Forge::watch().db(&db).collection("c").count(3).quiet().spawn();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    coll.insert_one(doc! { "_id": 1, "d": bson::Decimal128::from_bytes([0; 16]) }).await.unwrap();
    coll.update_one(doc! { "_id": 1 }, doc! { "$set": { "x": 1 } }).await.unwrap();
    coll.delete_one(doc! { "_id": 1 }).await.unwrap();
    let out = tokio::task::spawn_blocking(move || child.wait(Duration::from_secs(60))).await.unwrap().success();
    let events: Vec<Value> = out.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let ops: Vec<&str> = events.iter().map(|e| e["operationType"].as_str().unwrap()).collect();
    assert_eq!(ops, ["insert", "update", "delete"]);
    assert!(events[0]["fullDocument"]["d"]["$numberDecimal"].is_string(), "types survive: {}", events[0]);
    assert!(events[0]["_id"]["_data"].is_string(), "the resume token is printed");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_change_stream_check_can_start_from_a_resume_token() {
    use futures_util::StreamExt;
    let client = support::client().await;
    let db = fresh_db("verify_token");
    let coll = client.database(&db).collection::<Document>("c");
    let mut stream = coll.watch().await.unwrap();
    // Touch the collection and undo it: the token of the undo is where the check starts.
    coll.insert_one(doc! { "_id": "marker" }).await.unwrap();
    coll.delete_one(doc! { "_id": "marker" }).await.unwrap();
    stream.next().await.unwrap().unwrap();
    let undo = stream.next().await.unwrap().unwrap();
    let token = serde_json::to_string(&bson::serialize_to_bson(&undo.id).unwrap().into_relaxed_extjson()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.ndjson");
    let run = Forge::generate().output("mongo-cdc").db(&db).collection("c").quiet().count(3000).seed(23);
    let run = run.arg("--operation-ratios", "insert:60,update:30,delete:10").arg("--journal", &journal);
    run.run_async().await.success();
    let check = verify(&journal, server_uri()).flag("--change-stream").arg("--resume-after", &token);
    let out = check.run_async().await.success();
    assert!(out.stdout.contains("missing 0, duplicated 0, out of order 0 documents, unexpected 0"), "{}", out.stdout);
}

/// A journal's entries that changed a document: (`_id`, write, expected state).
fn journal_writes(path: &Path) -> Vec<(Bson, String, Option<String>)> {
    support::journal_lines(path)
        .into_iter()
        .filter(|e| e["m"].as_u64() > Some(0))
        .map(|e| {
            let id = Bson::try_from(e["id"].clone()).unwrap();
            (id, e["w"].as_str().unwrap().to_string(), e["h"].as_str().map(str::to_string))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn on_a_collection_that_held_documents_only_the_journaled_ones_are_checked() {
    let client = support::client().await;
    let db = fresh_db("verify_pre");
    let coll = client.database(&db).collection::<Document>("c");
    let load = Forge::generate().output("mongo").db(&db).collection("c").quiet().seed(1).count(2000);
    load.run_async().await.success();
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("mutate.ndjson");
    let run = Forge::mutate().db(&db).collection("c").quiet().count(300).seed(3).arg("--journal", &journal);
    run.run_async().await.success();
    let writes = journal_writes(&journal);
    let touched: std::collections::HashSet<String> = writes.iter().map(|(id, ..)| id.to_string()).collect();
    assert!(touched.len() > 100, "{} documents written", touched.len());

    // A document the run never wrote, altered: not forge's to judge.
    let all: Vec<Document> = coll.find(doc! {}).await.unwrap().try_collect().await.unwrap();
    let untouched = all.iter().map(|d| d.get("_id").unwrap().clone()).find(|id| !touched.contains(&id.to_string()));
    let untouched = untouched.expect("a document the run did not write");
    coll.update_one(doc! { "_id": untouched.clone() }, doc! { "$set": { "status": "tampered" } }).await.unwrap();
    let out = verify(&journal, server_uri()).db(&db).collection("c").report().run_async().await.success();
    let says = format!("checked the {} documents the run wrote", touched.len());
    assert!(out.stdout.contains(&says) && out.stdout.contains("everything matches"), "{}", out.stdout);
    let report: Value = out.report();
    assert_eq!(report["journaled_documents"], touched.len() as u64, "{report}");
    assert_eq!(report["journaled_only"], true);
    assert!(report["documents"].as_u64().unwrap() < touched.len() as u64, "deleted ones are not found: {report}");

    // A document the run deleted, back again: that difference is the run's.
    let (deleted, ..) = writes.iter().find(|(_, w, _)| w == "delete").expect("a delete");
    coll.insert_one(doc! { "_id": deleted.clone(), "back": true }).await.unwrap();
    let out = verify(&journal, server_uri()).db(&db).collection("c").report().run_async().await;
    assert_eq!(out.code, 1, "{}", out.stdout);
    let diff: VerifyReport = out.report();
    assert_eq!((diff.extra, diff.missing.len(), diff.stale.len()), (vec![deleted.clone()], 0, 0));

    // A run whose writes forge knows to the byte, into the same collection: a document
    // it wrote, altered, is stale; the documents it did not write, altered or back from
    // the dead, are not its business.
    let journal = dir.path().join("generate.ndjson");
    let run = Forge::generate().output("mongo-cdc").db(&db).collection("c").quiet().count(500).seed(4);
    let run = run.arg("--operation-ratios", "insert:60,update:30,delete:10").arg("--journal", &journal);
    run.run_async().await.success();
    let writes = journal_writes(&journal);
    let once = |id: &Bson| writes.iter().filter(|(other, ..)| other == id).count() == 1;
    let (inserted, ..) = writes.iter().find(|(id, w, h)| w == "insert" && h.is_some() && once(id)).unwrap();
    coll.update_one(doc! { "_id": inserted.clone() }, doc! { "$set": { "status": "tampered" } }).await.unwrap();
    let out = verify(&journal, server_uri()).db(&db).collection("c").report().run_async().await;
    assert_eq!(out.code, 1, "{}", out.stdout);
    let diff: VerifyReport = out.report();
    assert_eq!((diff.stale, diff.missing.len(), diff.extra.len()), (vec![inserted.clone()], 0, 0), "{}", out.stdout);
}

/// Segment `k` of 3 of the run of `n` operations and `seed` into `db.c`, journaled to
/// `dir/segment-{k}.jsonl`.
fn segment_of_three(db: &str, n: u64, seed: u64, k: u64, dir: &Path) -> Forge {
    let run = Forge::generate().output("mongo-cdc").db(db).collection("c").quiet().count(n).seed(seed);
    let run = run.arg("--operation-ratios", "insert:40,update:40,replace:10,delete:10");
    let run = run.arg("--segments", "3").arg("--segment", k.to_string());
    run.arg("--journal", dir.join("segment-{segment}.jsonl"))
}

/// The `_id`s a journal leaves with a known content (their last entry records a hash).
fn known_content(path: &Path) -> Vec<Bson> {
    let mut last = std::collections::HashMap::new();
    for (id, _, state) in journal_writes(path) {
        last.insert(id.to_string(), (id, state));
    }
    last.into_values().filter(|(_, s)| s.as_deref().is_some_and(|h| h != "gone")).map(|(id, _)| id).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_journals_of_a_run_s_segments_verify_together_and_without_one_segment_check_the_rest() {
    let client = support::client().await;
    let db = fresh_db("verify_segments");
    let dir = tempfile::tempdir().unwrap();
    for k in 0..3 {
        segment_of_three(&db, 3000, 31, k, dir.path()).run_async().await.success();
    }
    std::fs::write(dir.path().join("NOTES"), "not a journal\n").unwrap();
    let all = || Forge::verify().arg("--journal", dir.path()).uri(server_uri());

    let out = all().report().run_async().await.success();
    let found = format!("3 journals found in {} (1 other file passed over)", dir.path().display());
    assert!(
        out.stdout.contains("against 3 journals, segments 0, 1, 2 of 3 (3000 journaled operations"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains(&found) && out.stdout.contains("everything matches"), "{}", out.stdout);
    assert!(!out.stderr.contains("warning"), "{}", out.stderr);
    let report: Value = out.report();
    assert_eq!(
        (&report["segments_checked"], &report["segments_missing"]),
        (&serde_json::json!([0, 1, 2]), &serde_json::json!([]))
    );
    assert_eq!((report["operations"].as_u64(), report["journaled_only"].as_bool()), (Some(3000), Some(false)));

    // The stream from the earliest segment's start shows every segment's writes.
    let out = all().flag("--change-stream").report().run_async().await.success();
    assert!(out.stdout.contains("missing 0, duplicated 0, out of order 0 documents, unexpected 0\n"), "{}", out.stdout);
    let report: Value = out.report();
    assert!(report["change_stream"]["events"].as_u64().unwrap() > 1500, "{report}");

    // A copy, damaged: a document of segment 1 lost, one of segment 2 altered, one invented.
    let src = client.database(&db).collection::<Document>("c");
    let copy = client.database(&db).collection::<Document>("copy");
    let docs: Vec<Document> = src.find(doc! {}).await.unwrap().try_collect().await.unwrap();
    copy.insert_many(&docs).await.unwrap();
    let (s1, s2) = (dir.path().join("segment-1.jsonl"), dir.path().join("segment-2.jsonl"));
    let (lost, altered) = (known_content(&s1).remove(0), known_content(&s2).remove(0));
    copy.delete_one(doc! { "_id": lost.clone() }).await.unwrap();
    copy.update_one(doc! { "_id": altered.clone() }, doc! { "$set": { "status": "tampered" } }).await.unwrap();
    let invented = Bson::ObjectId(bson::oid::ObjectId::new());
    copy.insert_one(doc! { "_id": invented.clone(), "name": "nobody" }).await.unwrap();
    let out = all().db(&db).collection("copy").report().run_async().await;
    assert_eq!(out.code, 1, "{}", out.stdout);
    let diff: VerifyReport = out.report();
    assert_eq!((diff.missing, diff.stale, diff.extra), (vec![lost], vec![altered.clone()], vec![invented]));

    // Segment 1's journal lost: its documents are neither missing nor extra, the rest is checked.
    std::fs::remove_file(&s1).unwrap();
    let warning = "warning: segment 1 of 3 has no journal here: its documents are not checked, and extra documents cannot be detected\n";
    let out = all().flag("--change-stream").report().run_async().await.success();
    assert!(out.stderr.contains(warning), "{}", out.stderr);
    assert!(out.stdout.contains("against 2 journals, segments 0, 2 of 3") && out.stdout.contains("everything matches"));
    assert!(out.stdout.contains("unexpected 0 (") && out.stdout.contains("these journals do not know not checked"));
    let report: Value = out.report();
    assert_eq!(
        (&report["segments_checked"], &report["segments_missing"]),
        (&serde_json::json!([0, 2]), &serde_json::json!([1]))
    );
    assert_eq!(report["journaled_only"], true);
    assert!(report["documents"].as_u64().unwrap() < docs.len() as u64, "segment 1's documents not read: {report}");
    assert!(report["change_stream"]["unchecked"].as_u64().unwrap() > 500, "segment 1's events: {report}");
    let out = all().db(&db).collection("copy").report().run_async().await;
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(out.stderr.contains(warning), "{}", out.stderr);
    let diff: VerifyReport = out.report();
    assert_eq!((diff.missing.len(), diff.stale, diff.extra.len()), (0, vec![altered], 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn journals_of_one_segment_twice_or_of_different_runs_are_refused() {
    let db = fresh_db("verify_not_one_run");
    let dir = tempfile::tempdir().unwrap();
    let (a, b, whole) = (dir.path().join("a"), dir.path().join("b"), dir.path().join("whole.jsonl"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    // The whole run first: its documents are segment 0's too (same seed), so it goes.
    let run = Forge::generate().output("mongo-cdc").db(&db).collection("c").quiet().count(300).seed(41);
    run.arg("--journal", &whole).run_async().await.success();
    support::client().await.database(&db).collection::<Document>("c").drop().await.unwrap();
    for (seed, k, into) in [(41, 0, &a), (41, 1, &a), (42, 1, &b)] {
        segment_of_three(&db, 300, seed, k, into).run_async().await.success();
    }
    let (s0, s1, other_s1) = (a.join("segment-0.jsonl"), a.join("segment-1.jsonl"), b.join("segment-1.jsonl"));
    let again = a.join("segment-0-again.jsonl");
    std::fs::copy(&s0, &again).unwrap();

    let refused = |journals: &[&Path], says: String| {
        let check = journals.iter().fold(Forge::verify().uri(server_uri()), |f, j| f.arg("--journal", j));
        let out = check.run();
        assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
        assert_eq!(out.stderr.lines().count(), 1, "one line: {}", out.stderr);
        assert!(out.stderr.contains(&says), "want {says:?}: {}", out.stderr);
    };
    let d = |p: &Path| p.display().to_string();
    refused(&[&s0, &again], format!("--journal: journals '{}' and '{}' both record segment 0 of 3", d(&s0), d(&again)));
    // In a directory, in file-name order ('-' before '.').
    refused(&[&a], format!("journals '{}' and '{}' both record segment 0 of 3", d(&again), d(&s0)));
    std::fs::remove_file(&again).unwrap();
    refused(
        &[&s0, &other_s1],
        format!("journals '{}' and '{}' are not of one run: their seeds are 41 and 42", d(&s0), d(&other_s1)),
    );
    refused(
        &[&s1, &whole],
        format!(
            "journals '{}' and '{}' are not of one run: one records a whole run, the other segment 1 of 3",
            d(&whole),
            d(&s1)
        ),
    );
    // Those of one run are taken, though a segment is missing.
    let out = Forge::verify().arg("--journal", &a).uri(server_uri()).run_async().await.success();
    assert!(out.stderr.contains("warning: segment 2 of 3 has no journal here"), "{}", out.stderr);
}

/// A document's journaled entries: (seq, the document it carries).
type Versions = Vec<(u64, Option<Document>)>;

/// A journal's header line.
fn journal_header(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::from_str(text.lines().next().unwrap()).unwrap()
}

/// Every dotted path of `doc`, into embedded documents (not arrays).
fn doc_paths(doc: &Document, prefix: &str, out: &mut Vec<String>) {
    for (k, v) in doc {
        let path = format!("{prefix}{k}");
        if let Bson::Document(inner) = v {
            doc_paths(inner, &format!("{path}."), out);
        }
        out.push(path);
    }
}

/// The value at a dotted `path` of `doc`.
fn at<'a>(doc: &'a Document, path: &str) -> Option<&'a Bson> {
    let (head, rest) = path.split_once('.').map_or((path, None), |(h, r)| (h, Some(r)));
    match (doc.get(head), rest) {
        (Some(Bson::Document(inner)), Some(rest)) => at(inner, rest),
        (found, None) => found,
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_journal_with_documents_shows_how_each_stale_document_differs_and_one_without_is_unchanged() {
    let client = support::client().await;
    let db = fresh_db("verify_docs");
    let dir = tempfile::tempdir().unwrap();
    let (with, without) = (dir.path().join("with.ndjson"), dir.path().join("without.ndjson"));
    let run = |db: &str, journal: &Path| {
        let run = Forge::generate().output("mongo-cdc").db(db).collection("c").quiet().count(3000).seed(41);
        let run = run.arg("--operation-ratios", "insert:30,update:60,delete:10").arg("--update-strategy", "partial");
        run.arg("--plugin-arg", "partial.unset-rate=0.5").arg("--journal", journal)
    };
    run(&db, &with).flag("--journal-docs").run_async().await.success();
    verify(&with, server_uri()).db(&db).collection("c").run_async().await.success();

    // Each document's journaled history: (seq, document or none), in seq order.
    let (header, entries) = (journal_header(&with), support::journal_lines(&with));
    assert_eq!(header["documents"], true, "{header}");
    let mut history: std::collections::HashMap<String, Versions> = Default::default();
    let mut sorted = entries.clone();
    sorted.sort_by_key(|e| e["s"].as_u64());
    for e in sorted.iter().filter(|e| e["m"].as_u64() > Some(0)) {
        let doc = e.get("d").map(|d| match Bson::try_from(d.clone()).unwrap() {
            Bson::Document(d) => d,
            other => panic!("not a document: {other}"),
        });
        assert_eq!(doc.is_some(), e["h"].as_str().is_some_and(|h| h != "gone"), "a document where a hash is: {e}");
        let id = Bson::try_from(e["id"].clone()).unwrap().to_string();
        history.entry(id).or_default().push((e["s"].as_u64().unwrap(), doc));
    }
    let alive: Vec<(Bson, &Document, &Versions)> = history
        .values()
        .filter_map(|h| h.last().and_then(|(_, d)| d.as_ref()).map(|d| (d.get("_id").unwrap().clone(), d, h)))
        .collect();
    // A document an update `$unset` a path of (whose parent it still has), and the seq
    // of the entry after the last one whose document had the path.
    let unset = alive.iter().find_map(|(id, last, h)| {
        let mut now = Vec::new();
        doc_paths(last, "", &mut now);
        let mut had = Vec::new();
        h.iter().filter_map(|(_, d)| d.as_ref()).for_each(|d| doc_paths(d, "", &mut had));
        let path = had.into_iter().find(|p| {
            let parent = p.rsplit_once('.').map(|(parent, _)| parent);
            !now.contains(p) && parent.is_none_or(|parent| matches!(at(last, parent), Some(Bson::Document(_))))
        })?;
        let last_had = h.iter().rposition(|(_, d)| d.as_ref().is_some_and(|d| at(d, &path).is_some()))?;
        Some((id.clone(), path, h[last_had + 1].0))
    });
    let (c, unset_path, unset_since) = unset.expect("an update that unset a field of a document still there");
    let string_field =
        |d: &Document| d.iter().find(|(k, v)| *k != "_id" && matches!(v, Bson::String(_))).map(|(k, _)| k.clone());
    let (a, a_field) = alive
        .iter()
        .find_map(|(id, d, _)| (*id != c).then(|| string_field(d)).flatten().map(|f| (id.clone(), f)))
        .unwrap();
    let (b, b_field) = alive
        .iter()
        .find_map(|(id, d, _)| {
            (*id != c && *id != a).then(|| d.keys().find(|k| *k != "_id").cloned()).flatten().map(|f| (id.clone(), f))
        })
        .unwrap();

    // Behind forge's back: a value changed, a field unset, and the unset path back with a new field.
    let coll = client.database(&db).collection::<Document>("c");
    let set = |id: &Bson, update: Document| coll.update_one(doc! { "_id": id.clone() }, update);
    set(&a, doc! { "$set": { &a_field: "changed behind forge's back" } }).await.unwrap();
    set(&b, doc! { "$unset": { &b_field: "" } }).await.unwrap();
    set(&c, doc! { "$set": { &unset_path: "back", "addedBehindForgesBack": 1 } }).await.unwrap();

    let out = verify(&with, server_uri()).db(&db).collection("c").report().run_async().await;
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let report: Value = out.report();
    let canonical = |id: &Bson| id.clone().into_canonical_extjson();
    let mut stale: Vec<String> = report["stale"].as_array().unwrap().iter().map(Value::to_string).collect();
    let mut expected: Vec<String> = [&a, &b, &c].iter().map(|id| canonical(id).to_string()).collect();
    stale.sort();
    expected.sort();
    assert_eq!(stale, expected, "{report}");
    let diffs = report["diffs"].as_array().unwrap();
    assert_eq!(diffs.len(), 3, "{report}");
    let paths_of = |id: &Bson| {
        let d = diffs.iter().find(|d| d["id"] == canonical(id)).unwrap_or_else(|| panic!("no diff of {id}: {report}"));
        d["paths"].clone()
    };
    assert_eq!(paths_of(&a), serde_json::json!([{ "path": a_field, "kind": "value" }]));
    assert_eq!(paths_of(&b), serde_json::json!([{ "path": b_field, "kind": "missing" }]));
    let mut c_paths = vec![
        serde_json::json!({ "path": "addedBehindForgesBack", "kind": "extra" }),
        serde_json::json!({ "path": unset_path, "kind": "extra", "unset_since": unset_since }),
    ];
    c_paths.sort_by_key(|p| p["path"].as_str().unwrap().to_string());
    assert_eq!(paths_of(&c), Value::Array(c_paths));
    let says = format!("`{unset_path}`: present in the collection, unset at the source since seq {unset_since}");
    assert!(out.stdout.contains(&says), "{}", out.stdout);
    assert!(out.stdout.contains(&format!("`{b_field}`: missing in the collection")), "{}", out.stdout);

    // Without --journal-docs: the same run's journal, as before the flag existed.
    let db2 = fresh_db("verify_nodocs");
    run(&db2, &without).run_async().await.success();
    let text = std::fs::read_to_string(&without).unwrap();
    assert!(!text.contains("\"d\":") && !text.contains("documents"), "{}", &text[..text.len().min(2000)]);
    let plain = support::journal_lines(&without);
    let strip = |mut entries: Vec<Value>| {
        for e in &mut entries {
            let e = e.as_object_mut().unwrap();
            e.remove("t");
            e.remove("d");
        }
        entries.sort_by_key(|e| e["s"].as_u64());
        entries
    };
    assert_eq!(strip(plain), strip(entries), "the same entries, less the documents");
    verify(&without, server_uri()).db(&db2).collection("c").run_async().await.success();
    let coll2 = client.database(&db2).collection::<Document>("c");
    coll2.update_one(doc! { "_id": a.clone() }, doc! { "$set": { &a_field: "changed" } }).await.unwrap();
    let out = verify(&without, server_uri()).db(&db2).collection("c").report().run_async().await;
    assert_eq!(out.code, 1, "{}", out.stdout);
    let report: Value = out.report();
    assert_eq!(report["stale"].as_array().map(Vec::len), Some(1), "{report}");
    assert!(report.get("diffs").is_none(), "{report}");
    assert!(out.stdout.contains("with --journal-docs, verify shows how stale documents differ"), "{}", out.stdout);
}
