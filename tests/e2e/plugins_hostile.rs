//! Plugins that misbehave: each gets a clear error naming the plugin, the export and
//! the op index, forge does not crash, the final report prints with the plugin error
//! counts, and every acknowledged write is still counted (the collection agrees).

use std::time::Duration;

use bson::{Document, doc};

use crate::support::{self, Forge, Kind, Report, fresh_db};

/// A core-module plugin (plugin-sdk/ABI.md) in WebAssembly text, whose `forge_mutate`
/// body is `mutate`; `abi` is what `forge_abi_version` returns (200 for contract 0.2.0,
/// which its info names too); `imports` go first.
fn core_plugin(name: &str, abi: i32, imports: &str, mutate: &str) -> Vec<u8> {
    let contract = format!("{}.{}.{}", abi / 10_000, abi / 100 % 100, abi % 100);
    let info = doc! { "name": name, "kind": "mutator", "version": "0.0.1", "contract": contract };
    let init_ok = doc! { "ok": null };
    let update = doc! { "ok": { "update": { "$set": { "touched": true } } } };
    let skip = doc! { "ok": { "skip": true } };
    let data = |d: &Document| {
        let bytes = d.to_vec().unwrap();
        (bytes.iter().map(|b| format!("\\{b:02x}")).collect::<String>(), bytes.len())
    };
    let (info, info_len) = data(&info);
    let (init, init_len) = data(&init_ok);
    let (upd, upd_len) = data(&update);
    let (skp, skp_len) = data(&skip);
    let pack = |ptr: u64, len: usize| ((ptr << 32) | len as u64) as i64;
    let wat = format!(
        r#"(module
  {imports}
  (memory (export "memory") 2)
  (data (i32.const 1024) "{info}")
  (data (i32.const 2048) "{init}")
  (data (i32.const 3072) "{upd}")
  (data (i32.const 4096) "\ff\ff\00\00 not a document at all")
  (data (i32.const 5120) "{skp}")
  (func (export "forge_abi_version") (result i32) (i32.const {abi}))
  ;; One request at a time: the host frees it before the next.
  (func (export "forge_alloc") (param $n i32) (result i32)
    (if (i32.gt_u (local.get $n) (i32.const 65536)) (then unreachable))
    (i32.const 65536))
  (func (export "forge_free") (param i32 i32))
  (func (export "forge_info") (result i64) (i64.const {info_pack}))
  (func (export "forge_init") (param i32 i32) (result i64) (i64.const {init_pack}))
  (func (export "forge_mutate") (param i32 i32) (result i64) {mutate}))"#,
        info_pack = pack(1024, info_len),
        init_pack = pack(2048, init_len),
        mutate = mutate
            .replace("$UPDATE", &pack(3072, upd_len).to_string())
            .replace("$SKIP", &pack(5120, skp_len).to_string())
            .replace("$GARBAGE", &pack(4096, 30).to_string()),
    );
    wat::parse_str(&wat).unwrap_or_else(|e| panic!("{e}\n{wat}"))
}

struct Outcome {
    code: i32,
    stderr: String,
    report: Report,
    in_collection: u64,
}

/// A CDC run of inserts and updates with the plugin `wasm`, named `name`, as the update
/// strategy; `extra` adds flags.
fn cdc_with(name: &str, wasm: &[u8], extra: &[(&str, &str)]) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(format!("{name}.wasm"));
    std::fs::write(&file, wasm).unwrap();
    let db = fresh_db(name);
    let run = Forge::generate().output("mongo-cdc").db(&db).collection("c").quiet().report().count(400);
    let run = run.arg("--operation-ratios", "insert:50,update:50").arg("--batch-size", "50");
    let run = run.arg("--plugin", &file).arg("--update-strategy", name);
    let out = extra.iter().fold(run, |run, (flag, value)| run.arg(flag, value)).run();
    let in_collection = support::documents(&db).len() as u64;
    Outcome { code: out.code, report: out.report(), stderr: out.stderr, in_collection }
}

/// The failure stopped the run with one error naming the plugin, the export and an op,
/// the report printed, and what was acknowledged is all there.
fn assert_stopped_cleanly(o: &Outcome, name: &str, kind: &str, words: &str) {
    assert_eq!(o.code, 1, "{}", o.stderr);
    let line = o
        .stderr
        .lines()
        .find(|l| l.contains(&format!("plugin '{name}', export 'mutate', op ")))
        .unwrap_or_else(|| panic!("no error line naming the plugin, export and op:\n{}", o.stderr));
    assert!(line.contains(words), "{line}");
    assert!(o.stderr.contains("operations acknowledged"), "no final report:\n{}", o.stderr);
    // Each of the 4 shards stops at its own instance's first failure; one may get
    // there before another shard's failure stops the planner.
    let failures = o.report.plugin_errors.get(kind).copied().unwrap_or(0);
    assert!((1..=4).contains(&failures), "{:?}", o.report);
    assert!(o.stderr.contains(&format!("plugin errors {failures} ({kind} {failures})")), "{}", o.stderr);
    // No update was written: the run stopped at the first one (no counts at all is none).
    let updates = o.report.ops.get(&Kind::Update).map(|u| u.acknowledged);
    assert!(matches!(updates, None | Some(0)), "{:?}", o.report);
    assert_eq!(o.in_collection, o.report.op(Kind::Insert).acknowledged, "acknowledged inserts lost");
}

#[test]
fn a_well_behaved_core_module_updates_documents() {
    let o = cdc_with("good-core", &core_plugin("good-core", 200, "", "(i64.const $UPDATE)"), &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.report.op(Kind::Update).matched > 100, "{:?}", o.report);
}

#[test]
fn an_infinite_loop_is_stopped_by_the_deadline() {
    let wasm = core_plugin("spin", 200, "", "(loop $l (br $l)) unreachable");
    let o = cdc_with("spin", &wasm, &[("--plugin-timeout", "50ms")]);
    assert_stopped_cleanly(&o, "spin", "timeout", "timed out after 50ms");
}

#[test]
fn a_memory_bomb_is_stopped_by_the_cap() {
    let wasm = core_plugin("bomb", 200, "", "(loop $l (drop (memory.grow (i32.const 256))) (br $l)) unreachable");
    let o = cdc_with("bomb", &wasm, &[("--plugin-memory", "32")]);
    assert_stopped_cleanly(&o, "bomb", "out-of-memory", "past 32 MiB");
}

#[test]
fn a_trap_stops_the_run() {
    let o = cdc_with("trap", &core_plugin("trap", 200, "", "unreachable"), &[]);
    assert_stopped_cleanly(&o, "trap", "trap", "trapped");
}

#[test]
fn malformed_bson_is_refused() {
    let o = cdc_with("garbage", &core_plugin("garbage", 200, "", "(i64.const $GARBAGE)"), &[]);
    assert_stopped_cleanly(&o, "garbage", "bad-return", "not a BSON document");
}

#[test]
fn with_skip_every_failing_call_is_counted_and_a_fresh_instance_takes_the_next() {
    let o = cdc_with("trap-skip", &core_plugin("trap-skip", 200, "", "unreachable"), &[("--on-plugin-error", "skip")]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let traps = o.report.plugin_errors.get("trap").copied();
    // Each update trapped, each on a re-created instance: none refused as "already trapped".
    assert!(traps.is_some_and(|n| n > 100), "{:?}", o.report);
    assert_eq!(o.stderr.matches("skipped: plugin 'trap-skip', export 'mutate', op").count(), 5, "{}", o.stderr);
    assert_eq!(o.in_collection, o.report.op(Kind::Insert).acknowledged);
    // -n counts planned operations: the inserts were written, the updates skipped.
    assert_eq!(o.report.op(Kind::Insert).acknowledged + traps.unwrap(), 400, "{:?}", o.report);
}

/// A mutator that answers `skip` to every call.
fn always_skips() -> Vec<u8> {
    core_plugin("skipper", 200, "", "(i64.const $SKIP)")
}

/// A run with the always-skipping `skipper` as the update strategy, spawned.
fn skipping_run(ratios: &str, extra: &[(&str, &str)]) -> (crate::support::Running, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("skipper.wasm");
    std::fs::write(&file, always_skips()).unwrap();
    let run = Forge::generate().output("mongo-cdc").db(&fresh_db("skipper")).collection("c").quiet().report();
    let run = run.arg("--operation-ratios", ratios).arg("--plugin", &file).arg("--update-strategy", "skipper");
    (extra.iter().fold(run, |run, (flag, value)| run.arg(flag, value)).spawn(), dir)
}

#[test]
fn a_plugin_that_skips_everything_ends_the_run_with_one_line_and_the_report() {
    // Every update skipped, nothing else to do: without a bound, it would run its hour.
    let (child, _dir) = skipping_run("update:100", &[("--duration", "1h")]);
    let out = child.wait(Duration::from_secs(120));
    assert_eq!(out.code, 1, "{}", out.stderr);
    // The summary (which names the error too) and then one error line.
    let errors: Vec<&str> = out.stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{}", out.stderr);
    assert!(errors[0].contains("plugin 'skipper' skipped 10000 operations in a row"), "{}", out.stderr);
    let report: Report = out.report();
    assert_eq!(report.ending, crate::support::Ending::Failed);
}

#[test]
fn a_mix_a_plugin_skews_is_called_out_and_ctrl_c_still_prints_the_report() {
    // One insert in a hundred: skips never run 10,000 in a row, so only Ctrl-C ends it.
    let (child, _dir) = skipping_run("insert:1,update:99", &[]);
    // Long enough, even on a loaded machine, to plan the 1,000 ops the mix is judged on.
    std::thread::sleep(Duration::from_secs(6));
    child.signal(libc::SIGINT);
    let out = child.wait(Duration::from_secs(30));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report: Report = out.report();
    assert_eq!(report.ending, crate::support::Ending::Interrupted);
    assert!(report.op(Kind::Insert).acknowledged > 0, "{report:?}");
    assert!(out.stderr.contains("warning: the achieved mix (insert 100%) is more than 5 points off"), "{}", out.stderr);
    assert!(out.stderr.contains("operations skipped by a plugin"), "{}", out.stderr);
}

/// Refused before anything is written: exit 2 and one line.
fn assert_refused_at_load(wasm: &[u8], name: &str, words: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.wasm");
    std::fs::write(&file, wasm).unwrap();
    let db = fresh_db(name);
    let run = Forge::generate().output("mongo-cdc").db(&db).count(10).seed(1);
    let out = run.arg("--plugin", &file).arg("--update-strategy", name).run();
    let stderr = &out.stderr;
    assert_eq!(out.code, 2, "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains(file.to_str().unwrap()) && stderr.contains(words), "{stderr}");
}

#[test]
fn a_wrong_contract_version_is_refused_with_the_supported_ones() {
    let wasm = core_plugin("future", 20_000, "", "(i64.const $UPDATE)");
    assert_refused_at_load(&wasm, "future", "built against plugin contract 2.0.0; this forge supports 0.2.0");
}

#[test]
fn a_core_module_built_against_contract_0_1_is_refused_before_it_is_linked() {
    // 0.1.0's `log` took no level: the version is what is reported, not the signature.
    let log = r#"(import "forge" "log" (func (param i32 i32)))"#;
    let wasm = core_plugin("old-core", 100, log, "(i64.const $UPDATE)");
    assert_refused_at_load(&wasm, "old-core", "built against plugin contract 0.1.0; this forge supports 0.2.0");
}

#[test]
fn a_component_built_against_contract_0_1_is_refused() {
    // The built-in `partial` as committed before contract 0.2.0.
    let fixture =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/plugins/partial-contract-0.1.0.wasm");
    let wasm = std::fs::read(fixture).unwrap();
    assert_refused_at_load(&wasm, "partial", "built against plugin contract 0.1.0; this forge supports 0.2.0");
}

#[test]
fn filesystem_and_socket_imports_are_refused() {
    let fs = r#"(import "wasi_snapshot_preview1" "path_open" (func (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))"#;
    assert_refused_at_load(&core_plugin("files", 200, fs, "(i64.const $UPDATE)"), "files", "path_open");
    let sock = r#"(import "wasi_snapshot_preview1" "sock_accept" (func (param i32 i32 i32) (result i32)))"#;
    assert_refused_at_load(&core_plugin("net", 200, sock, "(i64.const $UPDATE)"), "net", "sock_accept");
    let component = wat::parse_str(r#"(component (import "wasi:sockets/tcp@0.2.0" (instance)))"#).unwrap();
    assert_refused_at_load(&component, "tcp", "imports 'wasi:sockets/tcp@0.2.0'");
    let component = wat::parse_str(r#"(component (import "wasi:filesystem/preopens@0.2.0" (instance)))"#).unwrap();
    assert_refused_at_load(&component, "fs", "imports 'wasi:filesystem/preopens@0.2.0'");
}

#[test]
fn not_webassembly_is_refused() {
    assert_refused_at_load(b"#!/bin/sh\necho hi\n", "script", "not a WebAssembly file");
}
