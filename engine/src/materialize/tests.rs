use std::sync::Arc;

use bson::Document;

use super::*;
use crate::mutation::Plugins;
use crate::plan::{OpSelector, Planner, PlannerConfig};
use crate::schema::Schema;

/// Plans `n` operations and materializes them on `shards` shards, in-process; the
/// writes come back in plan order.
fn run(mix: &str, strategy: &str, delete: &str, shards: usize, n: usize) -> Vec<OpPlan> {
    let schema = Arc::new(Schema::from_json_str(crate::examples::ORDERS.json).unwrap());
    let generator = Arc::new(Generator::new(schema, 9));
    let mut plugins = Plugins::builtins(&generator, 9).unwrap();
    let settings = Arc::new(Settings { expectations: true, ..Settings::new(9, "c", generator.clone()) });
    let mut materializers: Vec<Materializer> = (0..shards)
        .map(|s| {
            Materializer::new(
                s,
                settings.clone(),
                ShardPlugins::start(&mut plugins, strategy, delete).unwrap(),
                Default::default(),
            )
        })
        .collect();
    let removes = delete == "remove";
    let mut planner = Planner::new(PlannerConfig {
        seed: 9,
        selector: OpSelector::parse(mix, &OpKind::ALL).unwrap(),
        generator,
        id_cache_size: 50,
        first_document: 0,
        segment: crate::segment::Segment::WHOLE,
        shards,
        delete_removes: removes,
    });
    let mut out = Vec::new();
    let mut writes = Vec::new();
    for _ in 0..n {
        planner.next_op(&mut out).unwrap();
        for (shard, input) in out.drain(..) {
            if let Some(op) = materializers[shard].materialize(input, std::time::Instant::now()).unwrap() {
                writes.push(op);
            }
        }
    }
    assert!(materializers.iter().map(Materializer::documents).sum::<usize>() <= 50, "the model follows the cache");
    writes
}

fn strip(ops: Vec<OpPlan>) -> Vec<(u64, OpKind, Write, Option<Expectation>)> {
    ops.into_iter().map(|o| (o.index, o.kind, o.write, o.expect)).collect()
}

#[test]
fn writes_are_the_same_for_any_number_of_shards() {
    let mix = "insert:40,update:40,replace:10,delete:10";
    for strategy in ["partial", "mixed"] {
        let one = strip(run(mix, strategy, "remove", 1, 1500));
        // mixed's lifecycle skips documents in a final state; partial never skips.
        assert!(one.len() > 1400, "{strategy}: {} writes", one.len());
        for shards in [3, 8] {
            assert!(one == strip(run(mix, strategy, "remove", shards, 1500)), "{strategy} with {shards} shards");
        }
    }
}

#[test]
fn tombstones_are_updates_that_keep_the_target() {
    let all = run("insert:1,delete:1", "partial", "tombstone", 2, 200);
    let deletes: Vec<_> = all.iter().filter(|o| o.kind == OpKind::Delete).collect();
    assert!(deletes.len() > 20);
    for d in deletes {
        let Write::Update { update, .. } = &d.write else { panic!("{d:?}") };
        assert!(update.get_document("$set").unwrap().get_bool("_deleted").unwrap());
    }
}

#[test]
fn the_model_holds_each_document_as_its_writes_leave_it() {
    // increment's updates are $inc: the model must add them up as the server does.
    let ops = run("insert:20,update:80", "increment", "remove", 4, 2000);
    let mut docs: std::collections::HashMap<String, Document> = Default::default();
    for op in &ops {
        let key = op.id.to_string();
        match &op.write {
            Write::Insert(raw) => {
                docs.insert(key.clone(), Document::try_from(raw.as_ref()).unwrap());
            }
            Write::Update { update, .. } => {
                let doc = docs.get_mut(&key).expect("updates target inserted documents");
                crate::model::update::apply(doc, update, bson::DateTime::now()).unwrap();
            }
            other => panic!("unexpected {other:?}"),
        }
        let expected = crate::journal::doc_hash(&docs[&key], None);
        assert_eq!(op.expect.as_ref().unwrap().state, model::Expect::Exists(expected), "op {}", op.index);
    }
}
