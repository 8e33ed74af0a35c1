//! `forge verify --sink`: what a pipeline delivered somewhere else than a MongoDB
//! collection keeping BSON types: an event log (Debezium's envelope, change events)
//! and a sink that flattens types.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use bson::{Bson, Document, doc};
use futures_util::StreamExt;
use mongodb::change_stream::event::{ChangeStreamEvent, OperationType};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::support::{self, Forge, fresh_db, server_uri};

/// A CDC run of every operation kind on `db`.c with a journal (with documents), and
/// the change events the server emitted for it, read from before the run began.
async fn run_and_watch(db: &str, journal: &Path, seed: u64) -> Vec<ChangeStreamEvent<Document>> {
    let client = support::client().await;
    let coll = client.database(db).collection::<Document>("c");
    let mut stream = coll.watch().await.unwrap();
    let run = Forge::generate().output("mongo-cdc").db(db).collection("c").quiet().count(3000).seed(seed);
    let run =
        run.arg("--operation-ratios", "insert:40,update:35,replace:5,delete:20").arg("--update-strategy", "mixed");
    run.arg("--journal", journal).flag("--journal-docs").run_async().await.success();
    let mut events = Vec::new();
    while let Ok(Some(event)) = tokio::time::timeout(Duration::from_secs(3), stream.next()).await {
        events.push(event.unwrap());
    }
    assert!(events.len() > 2000, "{} events", events.len());
    events
}

/// Extended JSON text, as the connector writes `after`, `updatedFields` and key ids.
fn ejson_text(value: Bson) -> String {
    value.into_canonical_extjson().to_string()
}

/// One change event as the Debezium MongoDB connector documents its messages: the key
/// (`payload.id`), a tab, and the value's envelope (`op`, `after`, `updateDescription`,
/// `source` with `ord` and `ts_ms`); a delete is followed by its tombstone.
fn debezium_lines(event: &ChangeStreamEvent<Document>, ord: usize) -> Vec<String> {
    let id = event.document_key.as_ref().unwrap().get("_id").unwrap().clone();
    let key = json!({
        "schema": { "type": "struct", "fields": [{ "type": "string", "optional": false, "field": "id" }], "optional": false, "name": "forge.c.Key" },
        "payload": { "id": ejson_text(id) },
    });
    let op = match event.operation_type {
        OperationType::Insert => "c",
        OperationType::Update | OperationType::Replace => "u",
        OperationType::Delete => "d",
        ref other => panic!("unexpected event {other:?}"),
    };
    let after = event.full_document.clone().map(|d| ejson_text(Bson::Document(d)));
    let update = event.update_description.as_ref().map(|u| {
        json!({
            "removedFields": u.removed_fields,
            "updatedFields": ejson_text(Bson::Document(u.updated_fields.clone())),
            "truncatedArrays": u.truncated_arrays.as_ref().map(|t| t.iter().map(|a| json!({ "field": a.field, "size": a.new_size })).collect::<Vec<_>>()),
        })
    });
    let ts_ms = event.wall_time.map_or(0, |t| t.timestamp_millis());
    let value = json!({
        "schema": { "type": "struct", "name": "forge.c.Envelope" },
        "payload": {
            "after": after,
            "updateDescription": update,
            "source": {
                "version": "2.7.0.Final", "connector": "mongodb", "name": "forge", "ts_ms": ts_ms,
                "snapshot": "false", "db": "forge", "rs": "rs0", "collection": "c", "ord": ord,
            },
            "op": op,
            "ts_ms": ts_ms,
        },
    });
    let mut lines = vec![format!("{key}\t{value}")];
    if op == "d" {
        lines.push(format!("{key}\tnull"));
    }
    lines
}

/// The `--report` of `forge verify --sink`, as far as these tests read it.
#[derive(Debug, Deserialize)]
struct SinkReport {
    documents: u64,
    missing: Vec<Value>,
    extra: Vec<Value>,
    stale: Vec<Value>,
    #[serde(default)]
    diffs: Vec<DocumentDiff>,
    change_stream: Option<Events>,
    #[serde(default)]
    sink: Value,
}

#[derive(Debug, Deserialize)]
struct Events {
    events: u64,
    missing: u64,
    duplicated: u64,
    out_of_order: u64,
    unexpected: u64,
    #[serde(default)]
    missing_ids: Vec<Value>,
    #[serde(default)]
    duplicated_ids: Vec<Value>,
    #[serde(default)]
    out_of_order_ids: Vec<Value>,
}

#[derive(Debug, Deserialize)]
struct DocumentDiff {
    id: Value,
    paths: Vec<PathDiff>,
}

#[derive(Debug, Deserialize)]
struct PathDiff {
    path: String,
    kind: String,
    unset_since: Option<u64>,
}

fn verify_sink(journal: &Path, sink: &Path) -> Forge {
    Forge::verify().arg("--journal", journal).arg("--sink", sink).report()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_debezium_event_log_verifies_clean_and_names_an_event_removed_one_duplicated_and_two_reordered() {
    let db = fresh_db("debezium");
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.ndjson");
    let events = run_and_watch(&db, &journal, 41).await;

    // The same events as the change stream gave them: a log `forge watch` would print.
    let watched = dir.path().join("watch.jsonl");
    let lines: Vec<String> =
        events.iter().map(|e| bson::serialize_to_bson(e).unwrap().into_canonical_extjson().to_string()).collect();
    std::fs::write(&watched, lines.join("\n") + "\n").unwrap();
    let out = verify_sink(&journal, &watched).run_async().await.success();
    assert!(out.stdout.contains("everything matches"), "{}", out.stdout);
    let report: SinkReport = out.report();
    assert_eq!(report.sink["kind"], "change-stream", "{:?}", report.sink);

    // As the connector would have delivered them.
    let messages: Vec<Vec<String>> = events.iter().enumerate().map(|(i, e)| debezium_lines(e, i + 1)).collect();
    let log = dir.path().join("debezium.jsonl");
    std::fs::write(&log, messages.concat().join("\n") + "\n").unwrap();
    let out = verify_sink(&journal, &log).run_async().await.success();
    let report: SinkReport = out.report();
    assert_eq!(report.sink["kind"], "debezium");
    let checked = report.change_stream.expect("the log's events are checked");
    assert_eq!((checked.events, checked.unexpected), (events.len() as u64, 0), "{}", out.stdout);
    assert!(report.documents > 500, "{}", out.stdout);

    // Tamper with three documents' events, each deleted in the end (or updated once
    // more) so that the state the log leaves is still right: only the events differ.
    let id_of = |e: &ChangeStreamEvent<Document>| e.document_key.as_ref().unwrap().get("_id").unwrap().clone();
    let mut per_doc: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, e) in events.iter().enumerate() {
        per_doc.entry(id_of(e).to_string()).or_default().push(i);
    }
    let op = |i: usize| events[i].operation_type.clone();
    let mut deleted_with_updates = per_doc.values().filter(|ix| {
        ix.len() >= 3 && op(*ix.last().unwrap()) == OperationType::Delete && op(ix[1]) == OperationType::Update
    });
    let removed = deleted_with_updates.next().expect("a deleted document with updates")[1];
    let reordered = deleted_with_updates.next().expect("another")[..2].to_vec();
    let updated_twice = per_doc.values().find(|ix| {
        let (a, b) = (ix[ix.len() - 1], ix.len().checked_sub(2).map(|k| ix[k]));
        op(a) == OperationType::Update && b.is_some_and(|b| op(b) == OperationType::Update) && !ix.contains(&removed)
    });
    let duplicated = *updated_twice.expect("a document updated at least twice last").last().unwrap();
    let mut tampered: Vec<Vec<String>> = messages.clone();
    tampered.swap(reordered[0], reordered[1]);
    tampered[duplicated] = [messages[duplicated].clone(), messages[duplicated].clone()].concat();
    tampered[removed].clear();
    std::fs::write(&log, tampered.concat().join("\n") + "\n").unwrap();

    let out = verify_sink(&journal, &log).run_async().await;
    assert_ne!(out.code, 0, "{}", out.stdout);
    let report: SinkReport = out.report();
    let checked = report.change_stream.unwrap();
    let canonical = |i: usize| id_of(&events[i]).into_canonical_extjson();
    assert_eq!((checked.missing, checked.missing_ids), (1, vec![canonical(removed)]), "{}", out.stdout);
    assert_eq!((checked.duplicated, checked.duplicated_ids), (1, vec![canonical(duplicated)]), "{}", out.stdout);
    assert_eq!((checked.out_of_order, checked.out_of_order_ids), (1, vec![canonical(reordered[0])]), "{}", out.stdout);
    assert_eq!(checked.unexpected, 0);
    assert!(report.missing.is_empty() && report.extra.is_empty() && report.stale.is_empty(), "{}", out.stdout);
    assert!(out.stderr.contains("3 documents differ"), "{}", out.stderr);
    assert!(
        out.stdout.contains(&format!("documents with missing events: [{}]", id_of(&events[removed]))),
        "{}",
        out.stdout
    );
}

/// `doc` as a JSON pipeline flattens it: ObjectIds as hex, dates as ISO text, 64-bit
/// integers and decimals as text, binary as base64, embedded documents kept.
fn flatten(value: &Bson) -> Bson {
    use base64::Engine as _;
    match value {
        Bson::ObjectId(oid) => Bson::String(oid.to_hex()),
        Bson::DateTime(d) => Bson::String(d.try_to_rfc3339_string().unwrap()),
        Bson::Int64(n) => Bson::String(n.to_string()),
        Bson::Decimal128(d) => Bson::String(d.to_string()),
        Bson::Binary(b) => Bson::String(base64::engine::general_purpose::STANDARD.encode(&b.bytes)),
        Bson::Document(d) => Bson::Document(d.iter().map(|(k, v)| (k.clone(), flatten(v))).collect()),
        Bson::Array(a) => Bson::Array(a.iter().map(flatten).collect()),
        other => other.clone(),
    }
}

/// The documents a sink that upserts each write's document with `$set` leaves with
/// fields the source no longer has, by flattened `_id`, with those fields; a field
/// last written null does not count (absent under the flattened profile: sinks with a
/// column per field have a null column for every field another document has).
fn persisting_fields(journal: &Path) -> HashMap<String, Vec<String>> {
    // Per document, each field it ever had with the value last written to it.
    let mut fields_ever: HashMap<String, std::collections::BTreeMap<String, Bson>> = HashMap::new();
    let mut last: HashMap<String, Option<Document>> = HashMap::new();
    for entry in support::journal_lines(journal) {
        if entry["m"].as_u64() == Some(0) {
            continue;
        }
        let key = flatten(&Bson::try_from(entry["id"].clone()).unwrap()).to_string();
        match Bson::try_from(entry["d"].clone()) {
            _ if entry["w"] == "delete" => {
                fields_ever.remove(&key);
                last.insert(key, None);
            }
            Ok(Bson::Document(d)) => {
                fields_ever.entry(key.clone()).or_default().extend(d.iter().map(|(k, v)| (k.clone(), v.clone())));
                last.insert(key, Some(d));
            }
            _ => panic!("an entry without its document: {entry}"),
        }
    }
    let mut persisting = HashMap::new();
    for (key, doc) in &last {
        let Some(doc) = doc else { continue };
        let fields = fields_ever[key].iter().filter(|(f, v)| !doc.contains_key(f.as_str()) && **v != Bson::Null);
        let gone: Vec<String> = fields.map(|(f, _)| f.clone()).collect();
        if !gone.is_empty() {
            persisting.insert(key.clone(), gone);
        }
    }
    persisting
}

/// The documents a target that upserts each of the Singer `records` with `$set`
/// leaves with fields the source (the journal's final state) no longer has, by
/// flattened `_id`, with those fields (a field last delivered null does not count).
fn persisting_in_records(records: &Path, journal: &Path) -> HashMap<String, Vec<String>> {
    let mut delivered: HashMap<String, std::collections::BTreeMap<String, Value>> = HashMap::new();
    for line in std::fs::read_to_string(records).unwrap().lines() {
        let message: Value = serde_json::from_str(line).unwrap();
        if message["type"] != "RECORD" {
            continue;
        }
        let record = message["record"].as_object().unwrap();
        let key = Bson::String(record["_id"].as_str().unwrap().to_string()).to_string();
        if record.get("_sdc_deleted_at").is_some_and(|d| !d.is_null()) {
            delivered.remove(&key);
            continue;
        }
        let fields = record.iter().filter(|(k, _)| !k.starts_with("_sdc_"));
        delivered.entry(key).or_default().extend(fields.map(|(k, v)| (k.clone(), v.clone())));
    }
    let mut persisting = HashMap::new();
    for (id, doc) in final_documents(journal).into_values() {
        let (Some(doc), key) = (doc, flatten(&id).to_string()) else { continue };
        let Some(fields) = delivered.get(&key) else { continue };
        let gone = fields.iter().filter(|(f, v)| !doc.contains_key(f.as_str()) && !v.is_null());
        let gone: Vec<String> = gone.map(|(f, _)| f.clone()).collect();
        if !gone.is_empty() {
            persisting.insert(key, gone);
        }
    }
    persisting
}

/// `check` (a verify of a MongoDB sink that upserts with `$set`) under the flattened
/// profile reports as stale exactly the `persisting` documents, each with exactly
/// those fields, dated, and nothing else.
async fn assert_names_the_persisting_fields(persisting: HashMap<String, Vec<String>>, check: Forge) {
    assert!(persisting.len() >= 3, "the run should remove fields from some documents: {}", persisting.len());
    let out = check.arg("--sink-types", "flattened").report().run_async().await;
    assert_ne!(out.code, 0, "{}", out.stdout);
    let report: SinkReport = out.report();
    assert!(report.missing.is_empty() && report.extra.is_empty(), "{}", out.stdout);
    let mut stale: Vec<String> =
        report.stale.iter().map(|id| Bson::try_from(id.clone()).map(|b| flatten(&b).to_string()).unwrap()).collect();
    stale.sort();
    let mut want: Vec<String> = persisting.keys().cloned().collect();
    want.sort();
    let only = |a: &[String], b: &[String]| a.iter().filter(|x| !b.contains(x)).cloned().collect::<Vec<_>>();
    assert_eq!(stale, want, "reported only {:?}, expected only {:?}", only(&stale, &want), only(&want, &stale));
    for diff in &report.diffs {
        let key = flatten(&Bson::try_from(diff.id.clone()).unwrap()).to_string();
        let extra: Vec<&str> = diff.paths.iter().filter(|p| p.kind == "extra").map(|p| p.path.as_str()).collect();
        let want: Vec<&str> = persisting[&key].iter().map(String::as_str).collect();
        assert_eq!(extra, want, "{key}: {diff:?}");
        assert!(diff.paths.iter().all(|p| p.kind == "extra" && p.unset_since.is_some()), "{diff:?}");
    }
    assert_eq!(report.diffs.len(), want.len());
    assert!(out.stdout.contains("present in the sink, unset at the source since seq"), "{}", out.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flattening_sink_that_upserts_with_set_shows_exactly_the_fields_the_source_removed() {
    let db = fresh_db("flattened");
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.ndjson");
    run_and_watch(&db, &journal, 43).await;

    // A sink as a JSON pipeline with a MongoDB target writes it: every journaled
    // document flattened and upserted with $set, deletes applied. Fields the source
    // removed ($unset, or a replacement without them) persist.
    let client = support::client().await;
    let sink = client.database(&db).collection::<Document>("sink");
    for entry in support::journal_lines(&journal) {
        if entry["m"].as_u64() == Some(0) {
            continue;
        }
        let flat_id = flatten(&Bson::try_from(entry["id"].clone()).unwrap());
        match Bson::try_from(entry["d"].clone()) {
            _ if entry["w"] == "delete" => {
                sink.delete_one(doc! { "_id": flat_id }).await.unwrap();
            }
            Ok(d @ Bson::Document(_)) => {
                let Bson::Document(flat) = flatten(&d) else { unreachable!() };
                sink.update_one(doc! { "_id": flat_id }, doc! { "$set": flat }).upsert(true).await.unwrap();
            }
            _ => panic!("an entry without its document: {entry}"),
        }
    }
    let check = Forge::verify().arg("--journal", &journal).arg("--sink", server_uri()).db(&db).collection("sink");
    assert_names_the_persisting_fields(persisting_fields(&journal), check).await;

    // Lossless, the same sink differs everywhere: no document is found by its _id.
    let lossless = Forge::verify().arg("--journal", &journal).arg("--sink", server_uri()).db(&db).collection("sink");
    let out = lossless.report().run_async().await;
    let report: SinkReport = out.report();
    assert!(report.missing.len() > 500 && report.extra.len() > 500, "{}", out.stdout);
}

/// After one row of `table` (a table with a `document` column, filled by a pipeline)
/// is deleted, one altered and one added, `check` (its verify under the flattened
/// profile) names exactly those three.
async fn assert_names_three_rows_changed_behind_its_back(
    pg: &tokio_postgres::Client,
    table: &str,
    check: impl Fn() -> Forge,
) {
    let rows = pg.query(&format!("SELECT _id FROM {table} ORDER BY _id LIMIT 2"), &[]).await.unwrap();
    let (deleted, altered): (String, String) = (rows[0].get(0), rows[1].get(0));
    pg.execute(&format!("DELETE FROM {table} WHERE _id = $1"), &[&deleted]).await.unwrap();
    let alter = format!("UPDATE {table} SET document = jsonb_set(document, '{{tampered}}', '\"yes\"') WHERE _id = $1");
    pg.execute(&alter, &[&altered]).await.unwrap();
    let add = format!("INSERT INTO {table} (_id, document) VALUES ('invented', '{{\"_id\": \"invented\"}}'::jsonb)");
    pg.execute(&add, &[]).await.unwrap();

    let out = check().run_async().await;
    assert_ne!(out.code, 0, "{}", out.stdout);
    let report: SinkReport = out.report();
    let flat = |v: &[Value]| v.iter().map(|j| flatten(&Bson::try_from(j.clone()).unwrap())).collect::<Vec<_>>();
    assert_eq!(flat(&report.missing), [Bson::String(deleted)], "{}", out.stdout);
    assert_eq!(flat(&report.stale), [Bson::String(altered)], "{}", out.stdout);
    assert_eq!(flat(&report.extra), [Bson::String("invented".into())], "{}", out.stdout);
    let paths: Vec<(&str, &str)> = report.diffs[0].paths.iter().map(|p| (p.path.as_str(), p.kind.as_str())).collect();
    assert_eq!(paths, [("tampered", "extra")]);
    assert!(out.stderr.contains("3 documents differ"), "{}", out.stderr);
}

/// Each journaled document's final state: None when deleted.
fn final_documents(journal: &Path) -> HashMap<String, (Bson, Option<Document>)> {
    let mut last = HashMap::new();
    for entry in support::journal_lines(journal) {
        if entry["m"].as_u64() == Some(0) {
            continue;
        }
        let id = Bson::try_from(entry["id"].clone()).unwrap();
        let doc = match entry["w"].as_str().unwrap() {
            "delete" => None,
            _ => match Bson::try_from(entry["d"].clone()) {
                Ok(Bson::Document(d)) => Some(d),
                _ => panic!("an entry without its document: {entry}"),
            },
        };
        last.insert(id.to_string(), (id, doc));
    }
    last
}

/// `schema`.c read over TLS, by a role the test server admits only over TLS: with the
/// URI's sslmode=require (encrypted, the server unchecked), and with the CA that
/// signed its certificate (checked, TLS required); a CA that did not is refused in
/// one line.
async fn assert_reads_it_over_tls(pg: &tokio_postgres::Client, journal: &Path, schema: &str, dir: &Path) {
    let grant = format!(
        "DO $$ BEGIN CREATE ROLE forge_tls LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$; \
         GRANT USAGE ON SCHEMA {schema} TO forge_tls; GRANT SELECT ON {schema}.c TO forge_tls"
    );
    pg.batch_execute(&grant).await.unwrap();
    let uri =
        |sslmode: &str| format!("{}?sslmode={sslmode}", support::postgres_uri().replacen("postgres@", "forge_tls@", 1));
    let verify = |uri: String| {
        let v = Forge::verify().arg("--journal", journal).arg("--sink", uri);
        v.arg("--sink-table", format!("{schema}.c")).arg("--sink-types", "flattened")
    };
    let out = verify(uri("require")).run_async().await;
    assert!(out.code == 0 && out.stdout.contains("everything matches"), "{}{}", out.stdout, out.stderr);
    // With the CA, TLS is required whatever the URI says.
    let out = verify(uri("disable")).arg("--sink-ca", support::postgres_ca()).run_async().await;
    assert!(out.code == 0 && out.stdout.contains("everything matches"), "{}{}", out.stdout, out.stderr);

    // Those went over TLS: in plain text the server turns the role away.
    let out = verify(uri("disable")).run_async().await;
    assert_ne!(out.code, 0, "{}", out.stdout);
    assert!(out.stderr.contains("no encryption"), "{}", out.stderr);

    let other = dir.join("other-ca.pem");
    let made = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=other CA", "-keyout"])
        .arg(dir.join("other-ca.key"))
        .arg("-out")
        .arg(&other)
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let out = verify(uri("require")).arg("--sink-ca", &other).run_async().await;
    assert_ne!(out.code, 0, "{}", out.stdout);
    assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
    assert!(out.stderr.contains("--sink:") && out.stderr.contains("certificate"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_postgres_table_with_a_document_column_verifies_clean_and_names_a_row_deleted_one_altered_and_one_added() {
    let db = fresh_db("postgres");
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.ndjson");
    run_and_watch(&db, &journal, 47).await;

    // The table as a Singer target writes a tap's records: the _id as text, the
    // document as jsonb (types flattened), the pipeline's own columns beside them.
    let (pg, connection) = tokio_postgres::connect(support::postgres_uri(), tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let schema = db.to_lowercase();
    let ddl = format!(
        "CREATE SCHEMA {schema}; CREATE TABLE {schema}.c (_id text PRIMARY KEY, document jsonb, _sdc_extracted_at timestamptz, _sdc_deleted_at text)"
    );
    pg.batch_execute(&ddl).await.unwrap();
    let insert = format!("INSERT INTO {schema}.c VALUES ($1, ($2::text)::jsonb, now(), NULL)");
    let mut rows = Vec::new();
    for (id, doc) in final_documents(&journal).into_values() {
        let Some(doc) = doc else { continue };
        let Bson::String(key) = flatten(&id) else { panic!("{id}") };
        let document = flatten(&Bson::Document(doc)).into_relaxed_extjson().to_string();
        pg.execute(&insert, &[&key, &document]).await.unwrap();
        rows.push(id);
    }
    assert!(rows.len() > 500, "{} rows", rows.len());

    let table = format!("{schema}.c");
    let check = || verify_table(&journal, &table);
    let out = check().run_async().await.success();
    assert!(out.stdout.contains("everything matches"), "{}", out.stdout);
    assert!(out.stdout.contains("document column document"), "{}", out.stdout);
    assert_reads_it_over_tls(&pg, &journal, &schema, dir.path()).await;

    assert_names_three_rows_changed_behind_its_back(&pg, &table, check).await;

    // A flattened sink needs the journal's documents to restore its types from.
    let without = dir.path().join("without.ndjson");
    let text = std::fs::read_to_string(&journal).unwrap();
    let (header, rest) = text.split_once('\n').unwrap();
    std::fs::write(&without, format!("{}\n{rest}", header.replace("\"documents\":true", "\"documents\":false")))
        .unwrap();
    let out = Forge::verify()
        .arg("--journal", &without)
        .arg("--sink", support::postgres_uri())
        .arg("--sink-types", "flattened");
    let out = out.run_async().await;
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("--sink-types flattened: the journal holds no documents"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn follow_prints_the_lag_through_a_consumer_and_a_consumer_stopped_5_s_shows_in_the_max() {
    use std::io::{BufRead, Write};
    let db = fresh_db("follow");
    let dir = tempfile::tempdir().unwrap();
    let (journal, events) = (dir.path().join("journal.ndjson"), dir.path().join("events.jsonl"));

    // The pipeline: a change-stream consumer appending each event to a log as it comes.
    let mut consumer = Forge::watch().db(&db).collection("c").quiet().spawn();
    let stdout = consumer.stdout();
    let log = events.clone();
    let copier = std::thread::spawn(move || {
        let mut out = std::fs::File::create(log).unwrap();
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            out.write_all(format!("{line}\n").as_bytes()).unwrap();
        }
    });
    let follow = Forge::verify().arg("--journal", &journal).arg("--sink", &events).flag("--follow");
    let follow = follow.arg("--idle", "4s").db(&db).collection("c").report().spawn();
    tokio::time::sleep(Duration::from_secs(2)).await;

    let run = Forge::generate().output("mongo-cdc").db(&db).collection("c").quiet().count(3000).seed(53);
    let run = run.arg("--rate-limit", "300").arg("--operation-ratios", "insert:50,update:30,delete:20");
    let run = tokio::spawn(run.arg("--journal", &journal).run_async());
    // Once the run writes (its journal has entries), the consumer stops for 5 s.
    let written = || std::fs::read_to_string(&journal).map_or(0, |t| t.lines().count());
    while written() < 100 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    consumer.signal(libc::SIGSTOP);
    tokio::time::sleep(Duration::from_secs(5)).await;
    consumer.signal(libc::SIGCONT);
    run.await.unwrap().success();

    let out = tokio::task::spawn_blocking(move || follow.wait(Duration::from_secs(120))).await.unwrap();
    consumer.signal(libc::SIGKILL);
    let _ = tokio::task::spawn_blocking(move || consumer.wait(Duration::from_secs(30))).await;
    copier.join().unwrap();
    let out = out.success();
    let (live, lag) = followed(&out);
    assert!(live.len() >= 5, "a line a second during the run:\n{}", out.stderr);
    assert!(out.stdout.contains("everything matches"), "then the full check:\n{}", out.stdout);
    assert_eq!(lag["matched"].as_u64(), Some(writes_with_events(&journal)), "{lag}");
    assert_eq!((lag["behind_ops"].as_u64(), lag["unmatched_sink_events"].as_u64()), (Some(0), Some(0)), "{lag}");
    assert!(lag["max_ms"].as_u64().unwrap() >= 5000, "the consumer stopped 5 s: {lag}");
    assert!(lag["p50_ms"].as_u64().unwrap() < lag["max_ms"].as_u64().unwrap(), "{lag}");
}

/// The Singer pipelines `scripts/pipelines.sh install` put in `FORGE_PIPELINES`
/// (default `target/pipelines`, where `scripts/test.sh` installs them).
fn pipelines() -> std::path::PathBuf {
    let dir = std::env::var_os("FORGE_PIPELINES")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/pipelines"));
    assert!(
        dir.join("pw-tap/bin/tap-mongodb").exists() && dir.join("si-mongo/bin/macrometa-target-mongo").exists(),
        "no pipelines in {0}: run scripts/pipelines.sh install {0} (scripts/test.sh does)",
        dir.display()
    );
    dir
}

/// `scripts/pipelines.sh ARGS`, which must succeed.
async fn pipelines_sh(args: Vec<String>) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/pipelines.sh");
    let out = tokio::task::spawn_blocking(move || std::process::Command::new(script).args(&args).output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        out.status.success(),
        "pipelines.sh failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CDC run on `db`.orders of `ratios` (updates `$set`/`$unset` a few fields),
/// journaled with documents.
async fn cdc_run(db: &str, journal: &Path, seed: u64, ratios: &str) {
    let run = Forge::generate().output("mongo-cdc").db(db).collection("orders").quiet().count(2000).seed(seed);
    let run = run.arg("--operation-ratios", ratios).arg("--update-strategy", "partial");
    run.arg("--journal", journal).flag("--journal-docs").run_async().await.success();
}

/// A fresh `db`.orders (db named after `name`) synced by the pipelinewise tap into
/// PostgreSQL around a CDC run of `ratios`: the working directory (holding the
/// journal, `run.journal`), and the table the target wrote.
async fn through_pipelinewise(name: &str, seed: u64, ratios: &str) -> (tempfile::TempDir, String) {
    let (work, db, table) = pipelinewise_ready(name).await;
    cdc_run(&db, &work.path().join("run.journal"), seed, ratios).await;
    let path = |p: &Path| p.display().to_string();
    pipelines_sh(["pw-sync", &path(&pipelines()), &path(work.path()), "run2"].map(String::from).to_vec()).await;
    (work, table)
}

/// A fresh `db`.orders (db named after `name`) that the pipelinewise tap is set up to
/// sync into PostgreSQL, its first pass run: the working directory, the database and
/// the table the target writes.
async fn pipelinewise_ready(name: &str) -> (tempfile::TempDir, String, String) {
    let db = fresh_db(name);
    support::client().await.database(&db).create_collection("orders").await.unwrap();
    let work = tempfile::tempdir().unwrap();
    let port = support::postgres_uri().rsplit(':').next().unwrap().split('/').next().unwrap().to_string();
    let schema = db.to_lowercase();
    let path = |p: &Path| p.display().to_string();
    let setup = ["pw-setup", &path(&pipelines()), server_uri(), &db, "orders", &port, &schema, &path(work.path())];
    // The first pass records where the change stream starts (the tap takes no snapshot).
    pipelines_sh(setup.map(String::from).to_vec()).await;
    (work, db, format!("{schema}.orders"))
}

/// The journaled writes the server made a change event of (what a follower must see).
fn writes_with_events(journal: &Path) -> u64 {
    let entries = support::journal_lines(journal);
    let made_event = |e: &&Value| e["m"].as_u64() > Some(0) && (e["w"] != "update" || e["n"].as_u64() > Some(0));
    entries.iter().filter(made_event).count() as u64
}

/// A `verify --follow` that ended well: its live lag lines, and the lag in its report.
fn followed(out: &support::Output) -> (Vec<&str>, Value) {
    let live = out.stderr.lines().filter(|l| l.starts_with("[follow]") && l.contains("lag p50")).collect();
    let report: Value = serde_json::from_str(&out.report_text().unwrap()).unwrap();
    (live, report["follow"].clone())
}

/// `forge verify` of `table` in the test PostgreSQL under the flattened profile.
fn verify_table(journal: &Path, table: &str) -> Forge {
    Forge::verify()
        .arg("--journal", journal)
        .arg("--sink", support::postgres_uri())
        .arg("--sink-table", table)
        .arg("--sink-types", "flattened")
        .report()
}

#[tokio::test(flavor = "multi_thread")]
async fn through_a_change_stream_tap_into_postgres_every_write_arrives_and_three_rows_changed_behind_its_back_are_named()
 {
    let (work, table) = through_pipelinewise("pw", 61, "insert:40,update:40,delete:20").await;
    let journal = work.path().join("run.journal");
    let check = || verify_table(&journal, &table);
    let out = check().run_async().await;
    assert!(out.code == 0 && out.stdout.contains("everything matches"), "{}{}", out.stdout, out.stderr);
    let (pg, connection) = tokio_postgres::connect(support::postgres_uri(), tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    assert_names_three_rows_changed_behind_its_back(&pg, &table, check).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn through_an_oplog_tap_into_a_mongodb_target_verify_names_each_document_whose_removed_fields_persist() {
    let dir = pipelines();
    let db = fresh_db("si");
    let sink_db = format!("{db}_sink");
    support::client().await.database(&db).create_collection("orders").await.unwrap();
    let work = tempfile::tempdir().unwrap();
    let journal = work.path().join("run.journal");
    let path = |p: &Path| p.display().to_string();
    let setup = ["si-setup", &path(&dir), server_uri(), &db, "orders", &sink_db, &path(work.path())];
    pipelines_sh(setup.map(String::from).to_vec()).await;
    cdc_run(&db, &journal, 67, "insert:40,update:40,delete:20").await;
    pipelines_sh(["si-sync", &path(&dir), &path(work.path()), "run2"].map(String::from).to_vec()).await;

    // The target upserts each record with $set: a field the tap delivered that the
    // source no longer has stays. (The tap re-reads updated documents, so states
    // between two passes never reach it: the expectation comes from its records.)
    let persisting = persisting_in_records(&work.path().join("run2.singer"), &journal);
    let check =
        Forge::verify().arg("--journal", &journal).arg("--sink", server_uri()).db(&sink_db).collection("orders");
    assert_names_the_persisting_fields(persisting, check).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_change_stream_tap_drops_replacements_and_verify_names_exactly_the_documents_it_left_stale() {
    let (work, table) = through_pipelinewise("pw_replace", 71, "insert:40,update:25,replace:15,delete:20").await;
    let journal = work.path().join("run.journal");

    // The tap passes on inserts, updates and deletes only, and re-reads the document of
    // each: a replacement arrives only if an update of the same document follows it
    // into the pass. So the live documents replaced and never updated are stale.
    let mut seen: HashMap<String, (bool, bool, bool)> = HashMap::new(); // replaced, updated, deleted
    for e in support::journal_lines(&journal).iter().filter(|e| e["m"].as_u64() > Some(0)) {
        let key = flatten(&Bson::try_from(e["id"].clone()).unwrap()).to_string();
        let state = seen.entry(key).or_default();
        match e["w"].as_str().unwrap() {
            "replace" if e["n"].as_u64() > Some(0) => state.0 = true,
            "update" if e["n"].as_u64() > Some(0) => state.1 = true,
            "delete" => state.2 = true,
            _ => {}
        }
    }
    let mut want: Vec<String> =
        seen.into_iter().filter(|(_, (r, u, d))| *r && !*u && !*d).map(|(key, _)| key).collect();
    want.sort();
    assert!(want.len() >= 3, "the run should replace some documents and leave them be: {}", want.len());

    let out = verify_table(&journal, &table).run_async().await;
    assert_ne!(out.code, 0, "{}", out.stdout);
    let report: SinkReport = out.report();
    assert!(report.missing.is_empty() && report.extra.is_empty(), "{}", out.stdout);
    let mut stale: Vec<String> =
        report.stale.iter().map(|id| flatten(&Bson::try_from(id.clone()).unwrap()).to_string()).collect();
    stale.sort();
    assert_eq!(stale, want, "{}", out.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn follow_through_a_change_stream_tap_into_postgres_prints_the_lag_and_a_target_stopped_5_s_shows_in_the_max() {
    let (work, db, table) = pipelinewise_ready("pw_follow").await;
    let journal = work.path().join("run.journal");
    let path = |p: &Path| p.display().to_string();

    // The pipeline, live: one pass that lasts until the change stream is quiet for 8 s,
    // the target loading each record as it comes.
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/pipelines.sh");
    let pipeline = std::process::Command::new(script)
        .args(["pw-stream", &path(&pipelines()), &path(work.path()), "live", "8000"])
        .spawn()
        .unwrap();
    let follow = Forge::verify()
        .arg("--journal", &journal)
        .arg("--sink", support::postgres_uri())
        .arg("--sink-table", &table)
        .arg("--sink-types", "flattened")
        .flag("--follow")
        .arg("--idle", "6s");
    let follow = follow.db(&db).collection("orders").report().spawn();
    // And the tap's own output, the Singer messages the pass tees to live.singer.
    let tap_log = Forge::verify().arg("--journal", &journal).arg("--sink", work.path().join("live.singer"));
    let tap_log = tap_log.arg("--sink-types", "flattened").flag("--follow").arg("--idle", "6s");
    let tap_log = tap_log.db(&db).collection("orders").report().spawn();
    tokio::time::sleep(Duration::from_secs(1)).await;

    let run = Forge::generate().output("mongo-cdc").db(&db).collection("orders").quiet().count(400).seed(73);
    let run = run.arg("--rate-limit", "20").arg("--operation-ratios", "insert:40,update:40,delete:20");
    let run = run.arg("--update-strategy", "partial").arg("--journal", &journal).flag("--journal-docs");
    let run = tokio::spawn(run.run_async());
    // Once the run writes, the target stops loading for 5 s.
    let written = || std::fs::read_to_string(&journal).map_or(0, |t| t.lines().count());
    while written() < 100 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let target = format!("{}/target-stream.json", path(work.path()));
    let pgrep = std::process::Command::new("pgrep").args(["-f", &target]).output().unwrap();
    let pids: Vec<i32> =
        String::from_utf8_lossy(&pgrep.stdout).split_whitespace().map(|p| p.parse().unwrap()).collect();
    assert_eq!(pids.len(), 1, "one target-postgres process runs with {target}");
    let signal = |sig| assert_eq!(unsafe { libc::kill(pids[0], sig) }, 0);
    signal(libc::SIGSTOP);
    tokio::time::sleep(Duration::from_secs(5)).await;
    signal(libc::SIGCONT);
    run.await.unwrap().success();

    let out = tokio::task::spawn_blocking(move || follow.wait(Duration::from_secs(180))).await.unwrap().success();
    let tap_out = tokio::task::spawn_blocking(move || tap_log.wait(Duration::from_secs(60))).await.unwrap().success();
    let status = tokio::task::spawn_blocking(move || {
        let mut pipeline = pipeline;
        pipeline.wait()
    });
    assert!(status.await.unwrap().unwrap().success(), "the pipeline's pass ended well");
    let (live, lag) = followed(&out);
    assert!(live.len() >= 10, "a line a second during the run:\n{}", out.stderr);
    assert!(out.stdout.contains("everything matches"), "then the full check:\n{}", out.stdout);
    // Every write that made a change event was seen (the tap re-reads updated
    // documents, so some states are skipped: those writes are seen with a later one).
    let due = writes_with_events(&journal);
    assert_eq!((lag["matched"].as_u64(), lag["behind_ops"].as_u64()), (Some(due), Some(0)), "{lag}");
    assert!(lag["max_ms"].as_u64().unwrap() >= 5000, "the target stopped 5 s: {lag}");
    // The tap's records carry documents it re-read, not events: each is matched with
    // the latest write whose document it is, and every write is accounted for.
    assert!(tap_out.stdout.contains("everything matches"), "{}", tap_out.stdout);
    let (_, tap_lag) = followed(&tap_out);
    assert_eq!((tap_lag["matched"].as_u64(), tap_lag["behind_ops"].as_u64()), (Some(due), Some(0)), "{tap_lag}");
}
