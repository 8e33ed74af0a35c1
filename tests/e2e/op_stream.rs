//! The operation stream of each built-in strategy and delete behavior is pinned by
//! fixtures: the same seed must keep giving the same operations and documents.
//! `FORGE_BLESS=1` rewrites them (last when plugin calls got a random stream of their
//! own, apart from the planner's, with the planner/materializer split).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use forge::generate::Generator;
use forge::materialize::{Materializer, Settings, ShardPlugins};
use forge::mutation::Plugins;
use forge::plan::{OpKind, OpSelector, Planner, PlannerConfig, Write};
use forge::schema::Schema;

use crate::support;

const OPS: u64 = 20_000;
/// Ops written out in full; the rest are covered by the digest on the last line.
const SHOWN: u64 = 40;

fn line(op: &forge::plan::OpPlan) -> String {
    let write = match &op.write {
        Write::Insert(raw) => bson::doc! { "insert": bson::Document::try_from(raw.as_ref()).unwrap() },
        Write::Update { filter, update } => bson::doc! { "filter": filter.clone(), "update": update.clone() },
        Write::Replace { filter, replacement } => {
            bson::doc! { "filter": filter.clone(), "replacement": replacement.clone() }
        }
        Write::Delete { filter } => bson::doc! { "filter": filter.clone(), "delete": true },
    };
    let doc = bson::doc! { "i": op.index as i64, "k": op.kind.name(), "id": op.id.clone(), "w": write };
    bson::Bson::Document(doc).into_canonical_extjson().to_string()
}

fn generator() -> Arc<Generator> {
    let schema = Arc::new(Schema::from_json_str(forge::examples::ORDERS.json).unwrap());
    Arc::new(Generator::new(schema, 42))
}

fn stream(generator: Arc<Generator>, mut plugins: Plugins, strategy: &str, delete: &str) -> String {
    let _machine = support::busy();
    let settings = Arc::new(Settings::new(42, "c", generator.clone()));
    let shard_plugins = ShardPlugins::start(&mut plugins, strategy, delete).unwrap();
    let delete_removes = delete == "remove";
    let mut materializer = Materializer::new(0, settings, shard_plugins, Default::default());
    let mut planner = Planner::new(PlannerConfig {
        seed: 42,
        selector: OpSelector::parse("insert:40,update:30,replace:10,delete:20", &OpKind::ALL).unwrap(),
        generator,
        id_cache_size: 500,
        first_document: 0,
        segment: forge::segment::Segment::WHOLE,
        shards: 1,
        delete_removes,
    });
    let mut out = String::new();
    let mut digest: u64 = 0xcbf2_9ce4_8422_2325;
    let mut inputs = Vec::new();
    for _ in 0..OPS {
        assert!(planner.next_op(&mut inputs).unwrap());
        for (_, input) in inputs.drain(..) {
            let Some(op) = materializer.materialize(input, std::time::Instant::now()).unwrap() else { continue };
            let l = line(&op);
            for b in l.bytes().chain([b'\n']) {
                digest = (digest ^ b as u64).wrapping_mul(0x0100_0000_01b3);
            }
            if op.index < SHOWN {
                out.push_str(&l);
                out.push('\n');
            }
        }
    }
    writeln!(out, "{{\"ops\":{OPS},\"fnv64\":\"{digest:016x}\"}}").unwrap();
    out
}

fn check(name: &str, strategy: &str, delete: &str) {
    let generator = generator();
    let plugins = Plugins::builtins(&generator, 42).unwrap();
    check_stream(name, stream(generator, plugins, strategy, delete));
}

fn check_stream(name: &str, got: String) {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/op-stream").join(format!("{name}.ndjson"));
    if std::env::var_os("FORGE_BLESS").is_some() {
        std::fs::write(&path, &got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if got != want {
        let first = got.lines().zip(want.lines()).position(|(g, w)| g != w);
        panic!("{name}: the operation stream changed (first differing line: {first:?})");
    }
}

#[test]
fn regenerate_stream_is_pinned() {
    check("regenerate", "regenerate", "remove");
}

#[test]
fn partial_stream_is_pinned() {
    check("partial", "partial", "remove");
}

#[test]
fn increment_stream_is_pinned() {
    check("increment", "increment", "remove");
}

#[test]
fn mixed_stream_is_pinned() {
    check("mixed", "mixed", "remove");
}

#[test]
fn keep_stream_is_pinned() {
    check("keep", "partial", "keep");
}

#[test]
fn tombstone_stream_is_pinned() {
    check("tombstone", "partial", "tombstone");
}

/// The same SDK source built as a native library (`--native-plugin`) draws the same
/// stream as its WASM build.
#[test]
fn native_partial_gives_the_same_stream() {
    let generator = generator();
    let native = std::path::PathBuf::from(forge::plugin::builtin::find("partial").unwrap().native);
    let runtime = forge::plugin::Runtime::new(forge::plugin::Limits::default()).unwrap();
    let registry = forge::plugin::Registry::new(runtime, &[], &[native]).unwrap();
    let schema = forge::plugin::SchemaAccess::new(generator.clone());
    let plugins = Plugins::new(registry, schema, Default::default(), 42).unwrap();
    check_stream("partial", stream(generator, plugins, "partial", "remove"));
}
