//! The example plugins in other languages (plugins/examples/*), built by this test run
//! with their README's commands, then used for a CDC run against the server: the
//! documents must show their writes. And the native form of a built-in.

use std::path::{Path, PathBuf};
use std::process::Command;

use bson::{Bson, Document};

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
    let (report, docs) = cdc("ex_as", "insert:60,delete:40", |f| {
        f.arg("--plugin", &wasm).arg("--delete-behavior", "as-archive").arg("--plugin-arg", "as-archive.field=gone")
    });
    // Soft deletes: nothing is removed, and each delete left its mark.
    assert_eq!(docs.len() as u64, report.op(Kind::Insert).acknowledged);
    let gone: Vec<&Document> = docs.iter().filter(|d| d.get_bool("gone").unwrap_or(false)).collect();
    // A tombstoned document stays targetable, so it may be archived more than once.
    let matched = report.op(Kind::Delete).matched;
    assert!(gone.len() > 100 && gone.len() as u64 <= matched, "{} archived, {matched} deletes matched", gone.len());
    for d in gone {
        assert!(d.get_i64("goneOp").unwrap() >= 0 && d.get_datetime("goneAt").is_ok(), "{d}");
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
