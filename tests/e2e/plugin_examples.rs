//! The example plugins in other languages (plugins/examples/*), built by this test run
//! with their README's commands, then used for a CDC run against the server: the
//! documents must show their writes. The stateful ones (JavaScript, Go) are checked
//! against each document's history in a change stream. And the native form of a
//! built-in.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use bson::{Bson, Document};
use mongodb::change_stream::event::{ChangeStreamEvent, OperationType};

use crate::support::{self, Forge, Kind, Report, fresh_db};

fn example_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/examples").join(name)
}

/// Runs the example's build.sh; its toolchain must be installed (scripts/test.sh does).
fn build(name: &str, output: &str) -> PathBuf {
    let dir = example_dir(name);
    let _machine = support::busy();
    let out = Command::new("sh").arg(dir.join("build.sh")).output().expect("run build.sh");
    assert!(
        out.status.success(),
        "building plugins/examples/{name} failed (is its toolchain installed? see its README):\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let wasm = dir.join("build").join(output);
    assert!(wasm.exists(), "{} was not built", wasm.display());
    wasm
}

/// A CDC run of 2000 example orders with `ratios`; `plugin` adds the plugin's flags.
/// Returns the report and the collection's documents.
fn cdc(name: &str, ratios: &str, plugin: impl FnOnce(Forge) -> Forge) -> (Report, Vec<Document>) {
    let db = fresh_db(name);
    let run = Forge::generate().output("mongo-cdc").db(&db).collection("c").quiet().report();
    let run = run.schema("example:orders").count(2000).seed(3).arg("--operation-ratios", ratios);
    let report = plugin(run).run().success().report();
    (report, support::documents(&db))
}

#[test]
fn zig_core_module_mutator() {
    let wasm = build("zig", "zig_touch.wasm");
    let (report, docs) =
        cdc("ex_zig", "insert:50,update:50", |f| f.arg("--plugin", &wasm).arg("--update-strategy", "zig-touch"));
    let touched: Vec<&Document> = docs.iter().filter(|d| d.get_document("zig").is_ok()).collect();
    assert!(touched.len() > 100, "{} of {} documents show zig-touch's updates", touched.len(), docs.len());
    let mut edits = 0;
    for d in &touched {
        let z = d.get_document("zig").unwrap();
        assert!((1..=6).contains(&z.get_i64("lucky").unwrap()), "{z}");
        assert!(z.get_i64("op").unwrap() >= 0);
        edits += z.get_i32("edits").unwrap() as u64;
    }
    assert_eq!(edits, report.op(Kind::Update).matched, "every matched update incremented zig.edits once");
}

#[test]
fn assemblyscript_core_module_delete_behavior() {
    let wasm = build("assemblyscript", "as_archive.wasm");
    let out = Forge::plugin("inspect").raw(&[wasm.to_str().unwrap()]).run().success().stdout;
    assert!(out.contains("name:      as-archive") && out.contains("contract:  0.2.0"), "{out}");
    let (report, docs) = cdc("ex_as", "insert:60,delete:40", |f| {
        f.arg("--plugin", &wasm).arg("--delete-behavior", "as-archive").arg("--plugin-arg", "as-archive.reason=cleanup")
    });
    // Soft deletes: nothing is removed, and each delete left its mark.
    assert_eq!(docs.len() as u64, report.op(Kind::Insert).acknowledged);
    let gone: Vec<&Document> = docs.iter().filter(|d| d.get_bool("archived").unwrap_or(false)).collect();
    // A tombstoned document stays targetable, so it may be archived more than once.
    let matched = report.op(Kind::Delete).matched;
    assert!(gone.len() > 100 && gone.len() as u64 <= matched, "{} archived, {matched} deletes matched", gone.len());
    for d in gone {
        assert!(d.get_i64("archivedOp").unwrap() >= 0 && d.get_datetime("archivedAt").is_ok(), "{d}");
        assert_eq!(d.get_str("archivedReason").ok(), Some("cleanup"), "{d}");
    }
}

#[test]
fn c_component_mutator() {
    let wasm = build("c-component", "c_stamp.wasm");
    let out = Forge::plugin("inspect").raw(&[wasm.to_str().unwrap()]).run().success().stdout;
    assert!(out.contains("form:      component") && out.contains("name:      c-stamp"), "{out}");
    let (report, docs) =
        cdc("ex_c", "insert:50,update:50", |f| f.arg("--plugin", &wasm).arg("--update-strategy", "c-stamp"));
    let stamped = docs.iter().filter(|d| d.get_i64("cStamp").is_ok()).count() as u64;
    assert!(stamped > 100, "{stamped} of {} documents show c-stamp's updates", docs.len());
    assert!(stamped <= report.op(Kind::Update).matched);
    // The fresh values are schema-typed: the example's total stays a Decimal128.
    for d in &docs {
        assert!(matches!(d.get("total"), Some(Bson::Decimal128(_))), "{d}");
    }
}

#[test]
fn native_library_of_a_builtin_runs_behind_the_explicit_flag() {
    let native = forge::plugin::builtin::find("partial").unwrap().native;
    let (report, docs) = cdc("ex_native", "insert:50,update:50", |f| {
        f.arg("--native-plugin", native).arg("--update-strategy", "partial")
    });
    assert!(report.op(Kind::Update).matched > 100, "{report:?}");
    assert_eq!(docs.len() as u64, report.op(Kind::Insert).acknowledged);
}

#[test]
fn python_component_mutator() {
    let wasm = build("python", "py_churn.wasm");
    // componentize-py's interpreter imports files and sockets it never uses: refused
    // unless the user says to link them inert.
    let out = Forge::plugin("inspect").raw(&[wasm.to_str().unwrap()]).run();
    let err = &out.stderr;
    assert_eq!(out.code, 2, "{err}");
    assert!(err.contains("imports 'wasi:filesystem/") && err.contains("--plugin-inert-wasi"), "{err}");
    let (report, docs) = cdc("ex_py", "insert:50,update:50", |f| {
        f.arg("--plugin", &wasm)
            .flag("--plugin-inert-wasi")
            .arg("--update-strategy", "py-churn")
            .arg("--plugin-arg", "py-churn.unset-percent=50")
    });
    let stamped = docs.iter().filter(|d| d.get_i64("pyOp").is_ok()).count() as u64;
    assert!(stamped > 100, "{stamped} of {} documents show py-churn's updates", docs.len());
    assert!(stamped <= report.op(Kind::Update).matched);
    for d in &docs {
        assert!(matches!(d.get("total"), Some(Bson::Decimal128(_))), "{d}");
    }
}

/// Every change event of `db`.c during `run` (a stream opened before it), with the run's
/// report and the collection's documents afterwards.
fn cdc_with_events(db: &str, run: Forge) -> (Report, Vec<Document>, Vec<ChangeStreamEvent<Document>>) {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        use futures_util::{StreamExt, TryStreamExt};
        let coll = support::client().await.database(db).collection::<Document>("c");
        let mut stream = coll.watch().await.expect("open a change stream");
        let report = run.run_async().await.success().report();
        let mut events = Vec::new();
        while let Ok(Some(next)) = tokio::time::timeout(Duration::from_secs(3), stream.next()).await {
            events.push(next.expect("change stream event"));
        }
        let docs = coll.find(bson::doc! {}).await.expect("find").try_collect().await.expect("read documents");
        (report, docs, events)
    })
}

/// The events of each `_id`, in stream order, keyed by its Extended JSON.
fn history(events: &[ChangeStreamEvent<Document>]) -> HashMap<String, Vec<&ChangeStreamEvent<Document>>> {
    let mut by_id: HashMap<String, Vec<&ChangeStreamEvent<Document>>> = HashMap::new();
    for e in events {
        let id = e.document_key.as_ref().and_then(|k| k.get("_id")).expect("an event names its _id");
        by_id.entry(id.to_string()).or_default().push(e);
    }
    by_id
}

fn id_key(d: &Document) -> String {
    d.get("_id").expect("_id").to_string()
}

/// `forge plugin test` (which hands the plugin each generated document as the current
/// one) beside the same documents from `forge generate`: (document, write) pairs.
fn plugin_test(wasm: &Path, schema: &str, extra: &[&str]) -> Vec<(Document, Document)> {
    let n = "40";
    let mut args = vec![wasm.to_str().unwrap(), "--schema", schema, "-n", n, "--seed", "5"];
    args.extend_from_slice(extra);
    let writes = support::parse_ndjson(&Forge::plugin("test").raw(&args).run().success().stdout);
    let docs = Forge::generate().schema(schema).arg("--seed", "5").raw(&["-n", n]).run().success().stdout;
    let docs = support::parse_ndjson(&docs);
    assert_eq!(writes.len(), docs.len(), "one write per document");
    docs.into_iter()
        .zip(writes)
        .map(|(doc, write)| {
            let (_, body) = write.iter().next().expect("a write");
            let filter = body.as_document().and_then(|b| b.get_document("filter").ok()).expect("a filter");
            assert_eq!(filter.get("_id"), doc.get("_id"), "plugin test and generate draw the same documents");
            (doc, write)
        })
        .collect()
}

fn int(v: Option<&Bson>) -> Option<i64> {
    match v? {
        Bson::Int32(i) => Some(*i as i64),
        Bson::Int64(i) => Some(*i),
        _ => None,
    }
}

const ORDER_CHAIN: [&str; 5] = ["created", "paid", "packed", "shipped", "delivered"];

fn next_status(status: &str) -> Option<&'static str> {
    let at = ORDER_CHAIN.iter().position(|s| *s == status)?;
    ORDER_CHAIN.get(at + 1).copied()
}

#[test]
fn javascript_component_is_a_stateful_mutator() {
    let wasm = build("javascript", "order_status.wasm");
    // componentize-js with every WASI feature disabled: the component imports forge's
    // host alone, so it needs no --plugin-inert-wasi.
    let out = Forge::plugin("inspect").raw(&[wasm.to_str().unwrap()]).run().success().stdout;
    assert!(out.contains("form:      component") && out.contains("name:      order-status"), "{out}");
    assert!(!out.contains("wasi:"), "{out}");

    // Given the current document, it moves its status one step and bumps its version.
    let mut moved = 0;
    for (doc, write) in plugin_test(&wasm, "example:orders", &[]) {
        match next_status(doc.get_str("status").unwrap()) {
            Some(next) => {
                let update = write.get_document("updateOne").and_then(|w| w.get_document("update")).unwrap();
                assert_eq!(update.get_document("$set").unwrap().get_str("status").ok(), Some(next), "{doc} -> {write}");
                assert_eq!(int(update.get_document("$inc").unwrap().get("version")), Some(1), "{write}");
                moved += 1;
            }
            None => assert!(write.contains_key("skip"), "a final status is left alone: {doc} -> {write}"),
        }
    }
    assert!(moved > 5, "{moved} of 40 orders moved");

    // In a CDC run each document's history in the change stream follows the chain from
    // its inserted status, and `version` counts its updates.
    let db = fresh_db("ex_js");
    let run = Forge::generate().output("mongo-cdc").db(&db).collection("c").quiet().report();
    let run = run.schema("example:orders").count(2000).seed(3).arg("--operation-ratios", "insert:40,update:60");
    let run = run.arg("--plugin", &wasm).arg("--update-strategy", "order-status");
    let (report, docs, events) = cdc_with_events(&db, run);
    let by_id = history(&events);
    let mut updates = 0;
    for doc in &docs {
        let history = &by_id[&id_key(doc)];
        let inserted = history[0].full_document.as_ref().expect("the insert event carries the document");
        let mut status = inserted.get_str("status").unwrap().to_owned();
        let mut version = int(inserted.get("version")).unwrap_or(0);
        for e in &history[1..] {
            assert_eq!(e.operation_type, OperationType::Update, "{doc}");
            let set = &e.update_description.as_ref().expect("an update's description").updated_fields;
            let next = next_status(&status).unwrap_or_else(|| panic!("{doc}: updated past its final status {status}"));
            assert_eq!(set.get_str("status").ok(), Some(next), "{doc}: {set}");
            assert_eq!(int(set.get("version")), Some(version + 1), "{doc}: {set}");
            (status, version) = (next.to_owned(), version + 1);
            updates += 1;
        }
        assert_eq!(doc.get_str("status").ok(), Some(status.as_str()), "{doc}");
        assert_eq!(int(doc.get("version")).unwrap_or(0), version, "{doc}");
    }
    // The run's updates reach documents not yet delivered: without the current document
    // the plugin would skip them all.
    assert!(updates > 100, "{updates} status moves in the change stream; report: {report:?}");
    assert_eq!(updates, report.op(Kind::Update).modified, "every modified update is one move");
}

#[test]
fn go_core_module_is_a_stateful_mutator() {
    let wasm = build("go", "counter_drift.wasm");
    let out = Forge::plugin("inspect").raw(&[wasm.to_str().unwrap()]).run().success().stdout;
    assert!(out.contains("form:      core module") && out.contains("name:      counter-drift"), "{out}");
    assert!(out.contains("forge.random_range"), "{out}");

    let dir = tempfile::tempdir().unwrap();
    let schema = dir.path().join("counters.schema.json");
    std::fs::write(&schema, COUNTERS).unwrap();
    let schema = schema.to_str().unwrap();

    // Given the current document, it moves the field by -3..3 (0 skips).
    for (field, extra) in [("quantity", &[][..]), ("reserved", &["--plugin-arg", "counter-drift.field=reserved"][..])] {
        let mut moved = 0;
        for (doc, write) in plugin_test(&wasm, schema, extra) {
            let Ok(w) = write.get_document("updateOne") else {
                assert!(write.contains_key("skip"), "{write}");
                continue;
            };
            let set = w.get_document("update").and_then(|u| u.get_document("$set")).unwrap();
            assert_eq!(set.keys().collect::<Vec<_>>(), [field], "{write}");
            let delta = int(set.get(field)).unwrap() - int(doc.get(field)).unwrap();
            assert!((1..=3).contains(&delta.abs()), "{doc} -> {write}");
            moved += 1;
        }
        assert!(moved > 20, "{moved} of 40 documents moved their {field}");
    }

    // In a CDC run every update moves the document's quantity from its previous value
    // by at most 3, and it stays an int32.
    let db = fresh_db("ex_go");
    let run = Forge::generate().output("mongo-cdc").db(&db).collection("c").quiet().report();
    let run = run.schema(schema).count(2000).seed(3).arg("--operation-ratios", "insert:40,update:60");
    let run = run.arg("--plugin", &wasm).arg("--update-strategy", "counter-drift");
    let (report, docs, events) = cdc_with_events(&db, run);
    let by_id = history(&events);
    let mut updates = 0;
    for doc in &docs {
        let history = &by_id[&id_key(doc)];
        let inserted = history[0].full_document.as_ref().expect("the insert event carries the document");
        let mut quantity = inserted.get_i32("quantity").unwrap();
        for e in &history[1..] {
            assert_eq!(e.operation_type, OperationType::Update, "{doc}");
            let set = &e.update_description.as_ref().expect("an update's description").updated_fields;
            let Some(Bson::Int32(next)) = set.get("quantity") else {
                panic!("{doc}: quantity set to {set}, not an int32")
            };
            assert!((1..=3).contains(&(next - quantity).abs()), "{doc}: {quantity} -> {next}");
            quantity = *next;
            updates += 1;
        }
        assert_eq!(doc.get("quantity"), Some(&Bson::Int32(quantity)), "{doc}");
    }
    assert!(updates > 300, "{updates} drifts in the change stream; report: {report:?}");
    assert_eq!(updates, report.op(Kind::Update).modified, "every modified update is one drift");
}

/// A small schema with an int32 and an int64 counter.
const COUNTERS: &str = r#"{
  "type": "object",
  "required": ["_id", "sku", "quantity", "reserved"],
  "properties": {
    "_id": {"type": "string", "x-gen": {"mongoType": "objectId"}},
    "sku": {"type": "string", "pattern": "^SKU-[0-9]{6}$"},
    "quantity": {"type": "integer", "minimum": 0, "maximum": 1000},
    "reserved": {"type": "integer", "minimum": 0, "maximum": 1000000, "x-gen": {"mongoType": "long"}}
  }
}"#;
