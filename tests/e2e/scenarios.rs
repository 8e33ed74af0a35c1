//! `forge run SCENARIO`: several collections at once, through phases, with
//! references between them; checked on the server's data and change stream.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::Duration;

use bson::{Bson, Document};
use futures_util::StreamExt;

use crate::support::{self, Forge, fresh_db};

fn example(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/scenarios").join(name)
}

fn run(scenario: &Path) -> Forge {
    Forge::new_run(scenario)
}

/// One change event of the database: its collection, kind, wall time, document, and
/// its transaction (lsid, txnNumber) if it was written in one.
struct Change {
    coll: String,
    op: String,
    wall_ms: i64,
    doc: Option<Document>,
    key: Option<Bson>,
    txn: Option<(String, i64)>,
}

async fn drain(
    stream: &mut mongodb::change_stream::ChangeStream<mongodb::change_stream::event::ChangeStreamEvent<Document>>,
) -> Vec<Change> {
    let mut out = Vec::new();
    while let Ok(Some(next)) = tokio::time::timeout(Duration::from_secs(3), stream.next()).await {
        let e = next.expect("change event");
        out.push(Change {
            coll: e.ns.as_ref().and_then(|n| n.coll.clone()).unwrap_or_default(),
            op: format!("{:?}", e.operation_type).to_lowercase(),
            wall_ms: e.wall_time.expect("events carry wallTime").timestamp_millis(),
            doc: e.full_document,
            key: e.document_key.as_ref().and_then(|k| k.get("_id")).cloned(),
            txn: e.lsid.as_ref().and_then(|l| l.get("id")).map(|id| id.to_string()).zip(e.txn_number),
        });
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn the_ecommerce_example_holds_its_phases_references_and_journals() {
    let client = support::client().await;
    let db = fresh_db("scenario_shop");
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("{collection}.jsonl");
    let mut stream = client.database(&db).watch().await.unwrap();
    // One shard per collection: fewer threads to schedule on two shared cores.
    let out = run(&example("ecommerce.yaml"))
        .db(&db)
        .arg("--workers", "1")
        .arg("--write-concern", "majority")
        .arg("--journal", &journal)
        .quiet()
        .report()
        .alone()
        .run_async()
        .await
        .success();
    let report: serde_json::Value = out.report();
    let events = drain(&mut stream).await;

    // Every order's customerId is a customer whose insert the change stream showed
    // before the order's.
    let mut customers: HashSet<String> = HashSet::new();
    let mut orders = 0;
    for e in events.iter().filter(|e| e.coll == "customers" || e.coll == "orders") {
        if e.op != "insert" {
            continue;
        }
        let doc = e.doc.as_ref().expect("inserts carry their document");
        let id = doc.get("_id").unwrap().to_string();
        match e.coll.as_str() {
            "customers" => {
                customers.insert(id);
            }
            "orders" => {
                let customer = doc.get("customerId").expect("orders reference a customer");
                assert!(!matches!(customer, Bson::Null), "order {id} has no customer");
                assert!(
                    customers.contains(&customer.to_string()),
                    "order {id} refers to {customer}, not inserted before it"
                );
                orders += 1;
            }
            other => panic!("an event of {other}"),
        }
    }
    assert!(orders > 1000, "{orders} orders");
    // And in the final state too: customers are never deleted.
    let held = ids_in(&client, &db, "customers").await;
    let mut final_orders = client.database(&db).collection::<Document>("orders").find(bson::doc! {}).await.unwrap();
    while let Some(order) = final_orders.next().await {
        let order = order.unwrap();
        assert!(held.contains(&order.get("customerId").unwrap().to_string()), "{order}");
    }

    // Each phase holds its rate in every 10 s window of the change stream (of what the
    // collections wrote: the lifecycle strategy skips updates of orders in a final
    // state, and the report counts them), and the ramp rises second by second.
    let phases = report["phases"].as_array().unwrap();
    let length = |i: usize| phases[i]["scheduled_s"].as_f64().unwrap();
    let written = |i: usize| phases[i]["acknowledged"].as_f64().unwrap() / length(i);
    let collections: Vec<&Change> = events.iter().filter(|e| e.coll == "customers" || e.coll == "orders").collect();
    let t0 = collections.iter().map(|e| e.wall_ms).min().unwrap();
    let count = |from_s: f64, to_s: f64| {
        collections
            .iter()
            .filter(|e| {
                let t = (e.wall_ms - t0) as f64 / 1000.0;
                t >= from_s && t < to_s
            })
            .count() as f64
    };
    // Windows start where each phase started (by the report's clock, from the first
    // phase's start, which the first event marks).
    let started = |i: usize| phases[i]["started_s"].as_f64().unwrap() - phases[0]["started_s"].as_f64().unwrap();
    let (steady, spike) = (started(1), started(2));
    for (i, from, to) in [(1, steady, steady + 10.0), (1, steady + 10.0, steady + 20.0), (2, spike, spike + 5.0)] {
        let expected = (to - from) * written(i);
        let seen = count(from, to);
        assert!(
            (seen - expected).abs() <= 0.02 * expected,
            "phase {i}: {seen} events in [{from:.2}, {to:.2}) s, expected {expected:.0}; schedules: {}",
            report["collections"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["schedule"].to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let ramp: Vec<f64> = (0..10).map(|s| count(s as f64, s as f64 + 1.0)).collect();
    for pair in ramp.windows(2) {
        assert!(pair[1] >= pair[0] * 0.95, "the ramp fell: {ramp:?}");
    }
    assert!(ramp[9] > 2.5 * ramp[1], "the ramp did not rise: {ramp:?}");
    // The pause wrote nothing.
    assert_eq!(count(spike + 5.5, 1e9), 0.0, "writes during the closing pause");

    for coll in ["customers", "orders", "inventory", "reservations"] {
        Forge::verify()
            .db(&db)
            .collection(coll)
            .arg("--journal", dir.path().join(format!("{coll}.jsonl")))
            .run_async()
            .await
            .success();
    }
    checkouts_are_all_or_nothing(&client, &db, &events, &report["transactions"][0]).await;
    Forge::verify().db(&db).arg("--transactions", dir.path().join("checkout.jsonl")).run_async().await.success();
}

/// The checkout transactions, from the server's data alone: each committed one shows
/// in the change stream as one reservation and the inventory updates it records,
/// under one lsid and txnNumber; the final stock of every item is its first stock
/// less the reservations that hold it; nothing else touched them.
async fn checkouts_are_all_or_nothing(
    client: &mongodb::Client,
    db: &str,
    events: &[Change],
    report: &serde_json::Value,
) {
    let ours = |e: &&Change| e.coll == "inventory" || e.coll == "reservations";
    let mut first_stock: BTreeMap<String, i64> = BTreeMap::new();
    let mut transactions: BTreeMap<(String, i64), Vec<&Change>> = BTreeMap::new();
    for e in events.iter().filter(ours) {
        match &e.txn {
            Some(txn) => transactions.entry(txn.clone()).or_default().push(e),
            None => {
                // The load: inserts only, outside transactions.
                assert_eq!((e.coll.as_str(), e.op.as_str()), ("inventory", "insert"));
                let doc = e.doc.as_ref().unwrap();
                first_stock.insert(doc.get("_id").unwrap().to_string(), doc.get_i32("stock").unwrap().into());
            }
        }
    }
    assert_eq!(first_stock.len(), 200, "the load");
    let committed = report["committed"].as_u64().unwrap();
    assert!(committed > 500 && report["aborted"].as_u64().unwrap() > 0, "{report}");
    assert_eq!(transactions.len() as u64, committed, "one server transaction per committed checkout, none per abort");
    for (txn, changes) in &transactions {
        let inserts: Vec<_> = changes.iter().filter(|c| c.op == "insert").collect();
        assert_eq!(inserts.len(), 1, "{txn:?}: one reservation");
        assert_eq!(inserts[0].coll, "reservations");
        let mut recorded: Vec<String> =
            inserts[0].doc.as_ref().unwrap().get_array("items").unwrap().iter().map(|i| i.to_string()).collect();
        let mut updated: Vec<String> = changes
            .iter()
            .filter(|c| c.op == "update")
            .map(|c| {
                assert_eq!(c.coll, "inventory");
                c.key.as_ref().unwrap().to_string()
            })
            .collect();
        recorded.sort();
        updated.sort();
        assert!((1..=3).contains(&updated.len()), "{txn:?}: {updated:?}");
        assert_eq!(recorded, updated, "{txn:?}: the reservation records the items its transaction took");
    }
    // Stock is conserved in the final state.
    let mut held: BTreeMap<String, i64> = BTreeMap::new();
    let mut reservations =
        client.database(db).collection::<Document>("reservations").find(bson::doc! {}).await.unwrap();
    let mut count = 0;
    while let Some(r) = reservations.next().await {
        count += 1;
        for item in r.unwrap().get_array("items").unwrap() {
            *held.entry(item.to_string()).or_default() += 1;
        }
    }
    assert_eq!(count, committed, "reservations of aborted checkouts in the final state");
    let mut items = client.database(db).collection::<Document>("inventory").find(bson::doc! {}).await.unwrap();
    while let Some(item) = items.next().await {
        let item = item.unwrap();
        let id = item.get("_id").unwrap().to_string();
        let stock: i64 = item.get_i32("stock").unwrap().into();
        assert_eq!(first_stock[&id] - stock, held.get(&id).copied().unwrap_or(0), "item {id}");
    }
}

/// The `_id`s a collection holds, as text.
async fn ids_in(client: &mongodb::Client, db: &str, coll: &str) -> HashSet<String> {
    let cursor = client.database(db).collection::<Document>(coll).find(bson::doc! {}).await.unwrap();
    cursor.map(|d| d.unwrap().get("_id").unwrap().to_string()).collect::<Vec<_>>().await.into_iter().collect()
}

/// The final documents of every collection of a database, by collection.
async fn contents(db: &str) -> BTreeMap<String, Vec<Document>> {
    let client = support::client().await;
    let mut out = BTreeMap::new();
    for coll in ["customers", "orders"] {
        let docs = client
            .database(db)
            .collection::<Document>(coll)
            .find(bson::doc! {})
            .sort(bson::doc! {"_id": 1})
            .await
            .unwrap();
        out.insert(coll.to_string(), docs.map(|d| d.unwrap()).collect().await);
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_seed_gives_the_same_collections_whatever_the_workers() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("fast.yaml");
    std::fs::copy(example("customers.schema.json"), dir.path().join("customers.schema.json")).unwrap();
    std::fs::copy(example("orders.schema.json"), dir.path().join("orders.schema.json")).unwrap();
    std::fs::write(
        &scenario,
        "collections:
  customers: {schema: customers.schema.json, mix: 'insert:60,update:30,delete:10', update_strategy: partial}
  orders: {schema: orders.schema.json, share: 2, mix: 'insert:50,update:40,delete:10', update_strategy: regenerate}
phases:
  - {name: load, ops: 600}
  - {name: churn, ops: 900, mix: {customers: 'update:1'}}
",
    )
    .unwrap();
    let (a, b) = (fresh_db("scenario_seed_a"), fresh_db("scenario_seed_b"));
    run(&scenario).db(&a).arg("--seed", "7").arg("--workers", "1").quiet().run_async().await.success();
    run(&scenario).db(&b).arg("--seed", "7").arg("--workers", "3").quiet().run_async().await.success();
    let (first, second) = (contents(&a).await, contents(&b).await);
    assert!(
        first["orders"].len() > 100 && first["customers"].len() > 50,
        "{:?}",
        first.values().map(Vec::len).collect::<Vec<_>>()
    );
    assert_eq!(first, second);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_malformed_scenario_fails_before_writing_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(example("customers.schema.json"), dir.path().join("customers.schema.json")).unwrap();
    std::fs::copy(example("orders.schema.json"), dir.path().join("orders.schema.json")).unwrap();
    let body = "collections:\n  customers: {schema: customers.schema.json}\n  orders: {schema: orders.schema.json}\nphases:\n  - {duration: 5s, rate: 10}\n";
    let cases = [
        (body.replace("phases:", "phasess: []\nphases:"), "phasess"),
        (
            body.replace("{schema: customers.schema.json}", "{schema: customers.schema.json, shares: 2}"),
            "collections.customers",
        ),
        (body.replace("rate: 10", "rate: {from: -5, to: 10}"), "phases[0].rate.from"),
        (
            body.replace(
                "  customers: {schema: customers.schema.json}\n",
                "  buyers: {schema: customers.schema.json}\n",
            ),
            "collections.orders.schema: #/properties/customerId/x-gen/ref",
        ),
        (
            format!(
                "{body}transactions:\n  t:\n    size: {{min: 3, max: 2}}\n    insert: {{collection: r, schema: customers.schema.json}}\n"
            ),
            "transactions.t.size",
        ),
        (
            format!("{body}transactions:\n  t:\n    insert: {{collection: orders, schema: customers.schema.json}}\n"),
            "transactions.t.insert.collection",
        ),
    ];
    let db = fresh_db("scenario_malformed");
    for (i, (text, culprit)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("bad-{i}.yaml"));
        std::fs::write(&path, text).unwrap();
        let out = run(&path).db(&db).run_async().await;
        assert_eq!(out.code, 2, "{}", out.stderr);
        let lines: Vec<_> = out.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{}", out.stderr);
        assert!(lines[0].contains(culprit), "case {i}: {}", lines[0]);
    }
    let names = support::client().await.database(&db).list_collection_names().await.unwrap();
    assert!(names.is_empty(), "written: {names:?}");
}

#[test]
fn the_published_json_schema_describes_the_format() {
    let out = Forge::new_print_schema().run().success();
    let schema: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(schema["additionalProperties"], false, "unknown keys are refused");
    assert!(schema["properties"]["phases"].is_object());
    assert!(schema["properties"]["collections"].is_object());
    // The copy editors read next to the examples is the current one.
    let published: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(example("scenario.schema.json")).unwrap()).unwrap();
    assert_eq!(
        published, schema,
        "examples/scenarios/scenario.schema.json: regenerate it with forge run --print-schema"
    );
}

/// Each document's last whole write (insert or replacement), by `_id`, from a journal.
fn last_whole_writes(journal: &Path) -> BTreeMap<String, u64> {
    let mut last = BTreeMap::new();
    for entry in support::journal_lines(journal) {
        let id = entry["id"].to_string();
        match entry["w"].as_str().unwrap() {
            "insert" | "replace" => {
                last.insert(id, entry["s"].as_u64().unwrap());
            }
            "delete" => {
                last.remove(&id);
            }
            _ => {}
        }
    }
    last
}

#[tokio::test(flavor = "multi_thread")]
async fn the_evolution_example_writes_each_version_s_shape_and_verifies() {
    let db = fresh_db("scenario_evolution");
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("profiles.jsonl");
    run(&example("evolution.yaml")).db(&db).arg("--journal", &journal).quiet().run_async().await.success();
    let header: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(&journal).unwrap().lines().next().unwrap()).unwrap();
    let versions = header["schema_versions"].as_array().expect("the journal records the switch");
    assert_eq!(versions.len(), 2);
    let switch = versions[1]["from_seq"].as_u64().unwrap();
    assert_eq!(switch, 1000, "5 s at 200/s before the switch");

    let written = last_whole_writes(&journal);
    let client = support::client().await;
    let coll = client.database(&db).collection::<Document>("profiles");
    let docs: Vec<Document> = coll.find(bson::doc! {}).await.unwrap().map(|d| d.unwrap()).collect().await;
    let (mut old, mut new) = (0, 0);
    for doc in &docs {
        let id = serde_json::to_string(&doc.get("_id").unwrap().clone().into_canonical_extjson()).unwrap();
        let seq = written[&id];
        if seq < switch {
            assert!(doc.contains_key("name") && doc.contains_key("phone") && !doc.contains_key("fullName"), "{doc}");
            assert!(matches!(doc.get("age"), Some(Bson::Int32(_))), "{doc}");
            old += 1;
        } else {
            assert!(doc.contains_key("fullName") && doc.contains_key("marketingOptIn"), "{doc}");
            assert!(!doc.contains_key("name") && !doc.contains_key("phone"), "{doc}");
            assert!(matches!(doc.get("age"), Some(Bson::Int64(_))), "{doc}");
            new += 1;
        }
    }
    assert!(old > 100 && new > 100, "{old} documents of the first version, {new} of the second");
    let verify = || Forge::verify().db(&db).collection("profiles").arg("--journal", &journal);
    let clean = verify().run_async().await.success();
    assert!(clean.stdout.contains("everything matches"), "{}", clean.stdout);

    // A document of the second version put back in the first's shape is called out,
    // with its version and field.
    let newest = docs.iter().find(|d| d.contains_key("fullName")).unwrap();
    let id = newest.get("_id").unwrap().clone();
    coll.update_one(bson::doc! {"_id": id}, bson::doc! {"$rename": {"fullName": "name"}}).await.unwrap();
    let out = verify().run_async().await;
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("not the shape of their schema version: 1"), "{}", out.stdout);
    assert!(out.stdout.contains("version 1, fullName: required field is missing"), "{}", out.stdout);
}

/// The journal's entries of one kind of write, counted by `_id`.
fn writes_by_id(journal: &Path, write: &str) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for entry in support::journal_lines(journal) {
        if entry["w"] == write {
            *counts.entry(entry["id"].to_string()).or_default() += 1;
        }
    }
    counts
}

#[tokio::test(flavor = "multi_thread")]
async fn the_edge_cases_example_makes_hot_keys_reinserts_and_a_huge_array() {
    let db = fresh_db("scenario_edges");
    let dir = tempfile::tempdir().unwrap();
    // The example, with a shorter burst: a debug build takes minutes to push an array
    // past 10,000 elements, one whole-document prediction per push.
    let text = std::fs::read_to_string(example("edge-cases.yaml")).unwrap();
    assert!(text.contains("ops: 12000"));
    let scenario = dir.path().join("edge-cases.yaml");
    std::fs::write(&scenario, text.replace("ops: 12000", "ops: 3000")).unwrap();
    std::fs::copy(example("carts.schema.json"), dir.path().join("carts.schema.json")).unwrap();
    let journal = dir.path().join("{collection}.jsonl");
    run(&scenario).db(&db).arg("--journal", &journal).quiet().run_async().await.success();
    let journal = |c: &str| dir.path().join(format!("{c}.jsonl"));

    // Hot keys: of 100 targets, the hottest takes far more than 1% of the updates.
    let updates = writes_by_id(&journal("accounts"), "update");
    let total: usize = updates.values().sum();
    let hottest = *updates.values().max().unwrap();
    assert!(hottest * 100 > total * 8, "the hottest account got {hottest} of {total} updates");

    // Delete and re-insert: _ids inserted more than once.
    let inserts = writes_by_id(&journal("sessions"), "insert");
    let again = inserts.values().filter(|n| **n > 1).count();
    assert!(again > 20, "{again} sessions inserted again");

    // One cart took nearly every update, in bursts, and its array grew past 2,000.
    let client = support::client().await;
    let carts = client.database(&db).collection::<Document>("carts");
    let mut longest = 0;
    let mut cursor = carts.find(bson::doc! {}).await.unwrap();
    while let Some(cart) = cursor.next().await {
        longest = longest.max(cart.unwrap().get_array("items").unwrap().len());
    }
    assert!(longest > 2000, "the longest array has {longest} elements");
    let mut same_ms: BTreeMap<(String, i64), usize> = BTreeMap::new();
    for line in std::fs::read_to_string(journal("carts")).unwrap().lines().skip(1) {
        let entry: serde_json::Value = serde_json::from_str(line).unwrap();
        *same_ms.entry((entry["id"].to_string(), entry["t"].as_i64().unwrap())).or_default() += 1;
    }
    let burst = same_ms.values().max().unwrap();
    assert!(*burst >= 10, "at most {burst} updates of one cart acknowledged in one millisecond");

    for c in ["accounts", "sessions", "carts"] {
        let out = Forge::verify()
            .db(&db)
            .collection(c)
            .arg("--journal", journal(c))
            .flag("--change-stream")
            .run_async()
            .await;
        assert_eq!(out.code, 0, "{c}: {}{}", out.stdout, out.stderr);
    }
}

#[test]
fn prometheus_sees_each_collection_of_a_scenario() {
    use crate::prometheus::{Prometheus, free_port};
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("two.yaml");
    std::fs::write(
        &scenario,
        "collections:\n  a: {schema: 'example:customers'}\n  b: {schema: 'example:orders', share: 3}\nphases:\n  - {duration: 6s, rate: 200}\n",
    )
    .unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let prometheus = Prometheus::start(dir.path(), &addr);
    let db = fresh_db("scenario_prometheus");
    let report = dir.path().join("report.json");
    run(&scenario)
        .db(&db)
        .quiet()
        .arg("--report", &report)
        .arg("--metrics-listen", &addr)
        .arg("--metrics-linger", "4s")
        .run()
        .success();
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    for (i, name) in ["a", "b"].iter().enumerate() {
        let query =
            format!("max_over_time(forge_operations_total{{outcome=\"acknowledged\",collection=\"{name}\"}}[5m])");
        let seen: f64 = prometheus.query(&query).iter().sum();
        let acknowledged: u64 = report["collections"][i]["ops"]
            .as_object()
            .unwrap()
            .values()
            .map(|k| k["acknowledged"].as_u64().unwrap())
            .sum();
        assert_eq!(seen, acknowledged as f64, "collection {name}:\n{}", prometheus.log());
    }
    assert!(report["collections"][1]["ops"]["insert"]["acknowledged"].as_u64().unwrap() > 800);
}

/// A transaction stream's log vouches for all-or-nothing: `verify --transactions`
/// passes on what the stream did, and names each trace that breaks it.
#[tokio::test(flavor = "multi_thread")]
async fn verify_transactions_finds_what_breaks_all_or_nothing() {
    let client = support::client().await;
    let db = fresh_db("scenario_txn_verify");
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(example("inventory.schema.json"), dir.path().join("inventory.schema.json")).unwrap();
    std::fs::copy(example("reservations.schema.json"), dir.path().join("reservations.schema.json")).unwrap();
    let scenario = dir.path().join("t.yaml");
    std::fs::write(
        &scenario,
        "seed: 4\ntransactions:\n  checkout:\n    size: {min: 1, max: 3}\n    commit: 2\n    abort: 1\n    \
         update: {collection: items, schema: inventory.schema.json, documents: 20, inc: {stock: -2}}\n    \
         insert: {collection: holds, schema: reservations.schema.json, record: items}\n\
         phases:\n  - {duration: 3s, rate: 50}\n",
    )
    .unwrap();
    let journal = dir.path().join("{collection}.jsonl");
    let out = run(&scenario).db(&db).arg("--journal", &journal).quiet().report().run_async().await.success();
    let report: serde_json::Value = out.report();
    let t = &report["transactions"][0];
    assert_eq!(t["started"].as_u64().unwrap(), 150, "{t}");
    assert_eq!(t["committed"].as_u64().unwrap() + t["aborted"].as_u64().unwrap(), 150, "{t}");
    let log = dir.path().join("checkout.jsonl");
    let verify = || Forge::verify().db(&db).arg("--transactions", &log).arg("--idle", "2s").run_async();
    let clean = verify().await.success();
    assert!(clean.stdout.contains("every transaction is all or nothing"), "{}", clean.stdout);

    // Break it three ways: an aborted reservation shows up, a committed one goes,
    // and someone else's transaction takes stock.
    let lines = support::journal_lines(&log);
    let insert_of = |outcome: &str| {
        let line = lines.iter().find(|l| l["o"] == outcome).unwrap();
        Bson::try_from(line["ops"][0]["id"].clone()).unwrap()
    };
    let holds = client.database(&db).collection::<Document>("holds");
    holds.insert_one(bson::doc! { "_id": insert_of("abort") }).await.unwrap();
    holds.delete_one(bson::doc! { "_id": insert_of("commit") }).await.unwrap();
    let mut session = client.start_session().await.unwrap();
    session.start_transaction().await.unwrap();
    client
        .database(&db)
        .collection::<Document>("items")
        .update_one(bson::doc! {}, bson::doc! { "$inc": { "stock": -1 } })
        .session(&mut session)
        .await
        .unwrap();
    session.commit_transaction().await.unwrap();

    let broken = verify().await;
    assert_ne!(broken.code, 0, "{}", broken.stdout);
    for line in [
        "committed inserts missing: 1",
        "inserts of aborted transactions present: 1",
        "transactional events no logged transaction accounts for: 1",
        "committed, not exactly their writes under one lsid and txnNumber: 0",
    ] {
        assert!(broken.stdout.contains(line), "no '{line}' in:\n{}", broken.stdout);
    }
    assert!(broken.stderr.contains("3 differences from the transaction log"), "{}", broken.stderr);
}

/// `forge mutate` draws references from the referenced collection as it stands:
/// every regenerated order points at a customer the database holds.
#[tokio::test(flavor = "multi_thread")]
async fn mutate_draws_references_from_the_existing_collection() {
    let client = support::client().await;
    let db = fresh_db("mutate_refs");
    let load = |coll: &str, schema: &str, n: u64| {
        Forge::generate().output("mongo").db(&db).collection(coll).schema(example(schema)).quiet().seed(2).count(n)
    };
    load("customers", "customers.schema.json", 40).run_async().await.success();
    // Outside a scenario a generated reference has nothing to draw from: null.
    load("orders", "orders.schema.json", 200).run_async().await.success();
    let orders = client.database(&db).collection::<Document>("orders");
    assert_eq!(orders.count_documents(bson::doc! { "customerId": Bson::Null }).await.unwrap(), 200);

    let out = Forge::mutate()
        .db(&db)
        .collection("orders")
        .schema(example("orders.schema.json"))
        .arg("--update-strategy", "regenerate")
        .arg("--ratio", "update:1")
        .quiet()
        .seed(5)
        .count(300)
        .run_async()
        .await
        .success();
    drop(out);
    let customers = ids_in(&client, &db, "customers").await;
    let mut referencing = 0;
    let mut all = orders.find(bson::doc! { "customerId": { "$ne": Bson::Null } }).await.unwrap();
    while let Some(order) = all.next().await {
        let order = order.unwrap();
        assert!(customers.contains(&order.get("customerId").unwrap().to_string()), "{order}");
        referencing += 1;
    }
    assert!(referencing > 100, "{referencing} orders regenerated with a customer");

    // A referenced collection with nothing in it is one line naming the reference.
    client.database(&db).collection::<Document>("customers").drop().await.unwrap();
    let out = Forge::mutate()
        .db(&db)
        .collection("orders")
        .schema(example("orders.schema.json"))
        .arg("--update-strategy", "regenerate")
        .count(10)
        .run_async()
        .await;
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("#/properties/customerId/x-gen/ref"), "{}", out.stderr);
}
