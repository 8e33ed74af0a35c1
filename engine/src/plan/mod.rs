//! The planner: operation index → what to write, sequentially and deterministically.
//!
//! It owns the targets (the IdCache) and the operation mix. Everything random about
//! operation `i` (its kind, its target, its mutation) is drawn from an RNG seeded by
//! (run seed, i), so the same seed and flags give the same operation stream whatever
//! the number of writers.

pub mod error;
pub mod expected;
pub mod id_cache;
pub mod selector;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use bson::{Bson, Document, doc};

pub use error::PlanError;
pub use id_cache::{IdCache, IdKey};
pub use selector::{OpKind, OpSelector, RatiosError};

use crate::generate::Generator;
use crate::mutation::{DeleteAction, Deleter, Mutation, OpContext, Strategy};
use crate::plugin::PluginError;
use crate::seed::{self, Rng, Stream};

/// One planned write, in the shape the writer sends it.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    Insert(Document),
    /// An insert already serialised to BSON: bulk loads serialise on the planner
    /// thread, off the writer's critical path.
    InsertRaw(bson::RawDocumentBuf),
    Update {
        filter: Document,
        update: Document,
    },
    Replace {
        filter: Document,
        replacement: Document,
    },
    Delete {
        filter: Document,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct OpPlan {
    /// The operation index: its place in the plan.
    pub index: u64,
    /// The kind the mix chose (a tombstone delete is a `Delete` written as an update).
    pub kind: OpKind,
    /// The target's (or the new document's) `_id`.
    pub id: Bson,
    /// The writer that owns `id`, decided here once for every use.
    pub writer: usize,
    pub write: Write,
    /// What the operation should do, when the run keeps a journal.
    pub expect: Option<Expectation>,
}

/// The planner's prediction for one operation.
#[derive(Debug, Clone, PartialEq)]
pub struct Expectation {
    /// Documents it should match (None: unknown).
    pub matched: Option<u64>,
    pub state: expected::Expect,
}

/// How targets are chosen from the IdCache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sampling {
    /// Uniformly at random.
    Random,
    /// In `_id` order, through the whole collection, then again from the start.
    Sequential,
    /// Favouring the newest documents.
    WeightedRecent,
}

/// Where a planner's targets come from when its cache runs dry.
pub trait TargetSource: Send {
    /// Adds targets to `cache`, skipping `skip`; returns how many were added.
    fn refill(&mut self, cache: &mut IdCache, skip: &HashSet<IdKey>) -> Result<usize, PlanError>;
}

/// Which deleted `_id`s a planner keeps away from later operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteTracking {
    /// Deleted `_id`s may be targeted again (their updates then match nothing).
    None,
    /// Never target an `_id` this run deleted.
    Memory,
    /// Keep targeting, with a filter guard so that deleted targets match nothing.
    Filter,
}

/// The writer (of `writers`) that owns `id`: every operation on one `_id` goes through
/// the same one, which keeps each document's history in order.
pub fn writer_of(id: &Bson, writers: usize) -> usize {
    use std::hash::{DefaultHasher, Hash, Hasher};
    if writers <= 1 {
        return 0;
    }
    let mut h = DefaultHasher::new();
    IdKey::of(id).hash(&mut h);
    (h.finish() % writers as u64) as usize
}

/// What planning one operation index gave. Short-lived, so its size does not matter.
#[allow(clippy::large_enum_variant)]
enum Planned {
    Op(OpPlan),
    /// The strategy had nothing to do for this target.
    Skipped,
    /// A mutation run has no target left.
    Exhausted,
}

pub struct Planner {
    seed: u64,
    next: u64,
    inserts: u64,
    selector: OpSelector,
    generator: Arc<Generator>,
    strategy: Strategy,
    replace: Strategy,
    delete: Deleter,
    collection: Arc<str>,
    writers: usize,
    on_plugin_error: OnPluginError,
    cache: IdCache,
    sampling: Sampling,
    source: Option<Box<dyn TargetSource>>,
    tracking: DeleteTracking,
    deleted: HashSet<IdKey>,
    /// Expected document contents, kept only for a journal.
    model: Option<expected::Model>,
    /// Updates and deletes that found no target and became inserts.
    pub converted_to_insert: u64,
    /// Plugin failures by kind (timeout, trap...): each a skipped operation, or with
    /// `OnPluginError::Fail` the one that stopped the run.
    pub plugin_errors: BTreeMap<String, u64>,
}

/// What a failing plugin call does to the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnPluginError {
    /// Stop the run (after what was planned before is written) and report the error
    #[default]
    Fail,
    /// Skip the operation, count the error, and go on
    Skip,
}

/// Plugin errors shown in full when they are skipped; the rest are counted.
const PLUGIN_ERRORS_SHOWN: u64 = 5;

pub struct PlannerConfig {
    pub seed: u64,
    pub selector: OpSelector,
    pub generator: Arc<Generator>,
    pub strategy: Strategy,
    /// What `replace` operations write (the `regenerate` plugin).
    pub replace: Strategy,
    pub delete: Deleter,
    pub id_cache_size: usize,
    /// Index of the first inserted document (`--start`).
    pub first_document: u64,
}

impl Planner {
    /// A CDC planner: it inserts documents and targets the `_id`s it inserted.
    pub fn new(config: PlannerConfig) -> Self {
        Planner {
            seed: config.seed,
            next: 0,
            inserts: config.first_document,
            selector: config.selector,
            generator: config.generator,
            strategy: config.strategy,
            replace: config.replace,
            delete: config.delete,
            collection: Arc::from(""),
            writers: 1,
            on_plugin_error: OnPluginError::Fail,
            cache: IdCache::new(config.id_cache_size),
            sampling: Sampling::Random,
            source: None,
            tracking: DeleteTracking::None,
            deleted: HashSet::new(),
            model: None,
            converted_to_insert: 0,
            plugin_errors: BTreeMap::new(),
        }
    }

    /// What plugins are told (the collection, the number of writers) and what their
    /// failures do.
    pub fn with_plugin_context(mut self, collection: &str, writers: usize, on_error: OnPluginError) -> Self {
        self.collection = Arc::from(collection);
        self.writers = writers;
        self.on_plugin_error = on_error;
        self
    }

    /// Predicts each operation's effect for the journal. The field the server fills in
    /// (a tombstone's time) is left out of content hashes.
    pub fn with_expectations(mut self) -> Self {
        self.model = Some(expected::Model::new(self.delete.server_time_field()));
        self
    }

    /// The field the server fills in on deletes, left out of journal hashes.
    pub fn server_time_field(&self) -> Option<String> {
        self.delete.server_time_field()
    }

    /// A mutation planner: targets come from `source` (an existing collection).
    pub fn with_source(mut self, source: Box<dyn TargetSource>, sampling: Sampling, tracking: DeleteTracking) -> Self {
        self.source = Some(source);
        self.sampling = sampling;
        self.tracking = tracking;
        self
    }

    /// Whether every operation is an insert (a bulk load).
    pub fn inserts_only(&self) -> bool {
        self.selector.inserts_only()
    }

    pub fn planned(&self) -> u64 {
        self.next
    }

    /// An insert, whatever the mix says: warm-up before the measured run.
    pub fn next_insert(&mut self) -> OpPlan {
        let index = self.next;
        self.next += 1;
        self.insert(index)
    }

    fn insert(&mut self, index: u64) -> OpPlan {
        let doc = self.generator.document(self.inserts);
        self.inserts += 1;
        let id = doc.get("_id").cloned().unwrap_or(Bson::Null);
        // A pure bulk load never targets anything: skip the bookkeeping.
        if !self.selector.inserts_only() {
            self.cache.insert(id.clone());
        }
        let expect = self.model.as_mut().map(|m| {
            let (matched, state) = m.insert(&id, &doc);
            Expectation { matched: Some(matched), state }
        });
        self.prune_model(index);
        let writer = writer_of(&id, self.writers);
        OpPlan { index, kind: OpKind::Insert, id, writer, write: Write::Insert(doc), expect }
    }

    /// The next operation, or `None` when a mutation run has no target left. Plugin
    /// failures stop the run or, with `OnPluginError::Skip`, are counted and skipped.
    pub fn next_op(&mut self) -> Result<Option<OpPlan>, PlanError> {
        loop {
            match self.plan_one() {
                Ok(Planned::Op(op)) => return Ok(Some(op)),
                Ok(Planned::Exhausted) => return Ok(None),
                Ok(Planned::Skipped) => continue,
                Err(PlanError::Plugin(e)) => {
                    let count = self.plugin_errors.entry(e.kind().to_owned()).or_default();
                    *count += 1;
                    if self.on_plugin_error == OnPluginError::Fail {
                        return Err(PlanError::Plugin(e));
                    }
                    if *count <= PLUGIN_ERRORS_SHOWN {
                        tracing::warn!("skipped: {e}");
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Plans operation `next`: its kind, its target, then what to write to it.
    fn plan_one(&mut self) -> Result<Planned, PlanError> {
        let index = self.next;
        self.next += 1;
        let mut rng = seed::rng(self.seed, Stream::Operation, index);
        let mut kind = self.selector.pick(&mut rng);
        if kind != OpKind::Insert && self.cache.is_empty() {
            if let Some(source) = &mut self.source {
                source.refill(&mut self.cache, &self.deleted)?;
            }
            if self.cache.is_empty() {
                if self.source.is_some() {
                    return Ok(Planned::Exhausted);
                }
                kind = OpKind::Insert;
                self.converted_to_insert += 1;
            }
        }
        if kind == OpKind::Insert {
            return Ok(Planned::Op(self.insert(index)));
        }
        let id = self.pick_target(&mut rng);
        let writer = writer_of(&id, self.writers);
        let collection = self.collection.clone();
        let ctx = OpContext {
            run_seed: self.seed,
            op_index: index,
            shard: writer as u32,
            collection: &collection,
            target: &id,
            current: None,
        };
        let filter = self.filter(&id);
        let write = match kind {
            OpKind::Update | OpKind::Replace => {
                let strategy = if kind == OpKind::Update { &mut self.strategy } else { &mut self.replace };
                match strategy.mutate(&ctx, &mut rng)? {
                    Mutation::Update(update) => Write::Update { filter, update },
                    Mutation::Replace(replacement) => Write::Replace { filter, replacement },
                    Mutation::Skip => return Ok(Planned::Skipped),
                }
            }
            OpKind::Delete => self.plan_delete(&ctx, &mut rng, filter)?,
            OpKind::Insert => unreachable!("handled above"),
        };
        let expect = self.expect(&id, &write);
        self.prune_model(index);
        Ok(Planned::Op(OpPlan { index, kind, id, writer, write, expect }))
    }

    /// A live target, as `--sampling` chooses; the cache was checked non-empty.
    fn pick_target(&mut self, rng: &mut Rng) -> Bson {
        match self.sampling {
            Sampling::Random => self.cache.pick(rng).cloned(),
            Sampling::Sequential => self.cache.pop_oldest(),
            Sampling::WeightedRecent => self.cache.pick_recent(rng),
        }
        .expect("cache checked non-empty")
    }

    /// What the delete behavior makes of a delete, and what it means for the targets.
    fn plan_delete(&mut self, ctx: &OpContext, rng: &mut Rng, filter: Document) -> Result<Write, PluginError> {
        let action = self.delete.on_delete(ctx, rng)?;
        if action == DeleteAction::Remove || self.tracking == DeleteTracking::Memory {
            self.cache.remove(ctx.target);
        }
        if self.tracking == DeleteTracking::Memory {
            self.deleted.insert(IdKey::of(ctx.target));
        }
        Ok(match action {
            DeleteAction::Remove | DeleteAction::Keep => Write::Delete { filter },
            DeleteAction::Tombstone(update) => Write::Update { filter, update },
        })
    }

    /// The model's prediction for a write to an existing target, when it keeps one.
    fn expect(&mut self, id: &Bson, write: &Write) -> Option<Expectation> {
        let guard = if self.tracking == DeleteTracking::Filter { self.delete.guard().cloned() } else { None };
        let model = self.model.as_mut()?;
        let (matched, state) = match write {
            Write::Update { update, .. } => model.update(id, guard.as_ref(), update),
            Write::Replace { replacement, .. } => model.replace(id, guard.as_ref(), replacement),
            Write::Delete { .. } => model.delete(id, guard.as_ref()),
            Write::Insert(_) | Write::InsertRaw(_) => unreachable!("inserts are planned apart"),
        };
        Some(Expectation { matched, state })
    }

    /// Keeps the model no larger than the targets (plus deleted ones still tracked).
    fn prune_model(&mut self, index: u64) {
        if index % 4096 == 4095
            && let Some(model) = &mut self.model
            && model.len() > 2 * self.cache.len() + 1024
        {
            let cache = &self.cache;
            model.retain(|k| cache.contains_key(k));
        }
    }

    fn filter(&self, id: &Bson) -> Document {
        let mut filter = doc! { "_id": id.clone() };
        if self.tracking == DeleteTracking::Filter
            && let Some(guard) = self.delete.guard()
        {
            filter.extend(guard.clone());
        }
        filter
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Schema;

    fn planner(ratios: &str, cache: usize, delete: &str) -> Planner {
        let schema = Arc::new(Schema::from_json_str(crate::examples::CUSTOMERS.json).unwrap());
        let generator = Arc::new(Generator::new(schema, 5));
        let mut plugins = crate::mutation::Plugins::builtins(&generator, 5).unwrap();
        Planner::new(PlannerConfig {
            seed: 5,
            selector: OpSelector::parse(ratios, &OpKind::ALL).unwrap(),
            strategy: plugins.strategy("partial").unwrap(),
            replace: plugins.strategy("regenerate").unwrap(),
            delete: plugins.deleter(delete).unwrap(),
            generator,
            id_cache_size: cache,
            first_document: 0,
        })
    }

    fn ops(p: &mut Planner, n: usize) -> Vec<OpPlan> {
        (0..n).map(|_| p.next_op().unwrap().unwrap()).collect()
    }

    #[test]
    fn same_seed_same_stream() {
        let a = ops(&mut planner("insert:50,update:30,replace:10,delete:10", 100, "remove"), 2000);
        let b = ops(&mut planner("insert:50,update:30,replace:10,delete:10", 100, "remove"), 2000);
        assert_eq!(a, b);
    }

    #[test]
    fn targets_are_live_inserted_ids_within_the_cache_window() {
        let mut p = planner("insert:50,update:40,delete:10", 100, "remove");
        let mut inserted: Vec<Bson> = Vec::new();
        let mut deleted: HashSet<IdKey> = HashSet::new();
        for op in ops(&mut p, 5000) {
            match op.kind {
                OpKind::Insert => inserted.push(op.id.clone()),
                _ => {
                    let key = IdKey::of(&op.id);
                    assert!(!deleted.contains(&key), "op {} targets a deleted _id", op.index);
                    let pos = inserted.iter().rposition(|i| *i == op.id).expect("targets an inserted _id");
                    assert!(inserted.len() - pos <= 100 + deleted.len(), "older than the cache window");
                    if op.kind == OpKind::Delete {
                        deleted.insert(key);
                    }
                }
            }
        }
    }

    #[test]
    fn an_empty_cache_turns_updates_into_inserts() {
        let mut p = planner("update:1", 10, "remove");
        let first = p.next_op().unwrap().unwrap();
        assert_eq!(first.kind, OpKind::Insert);
        assert_eq!(p.converted_to_insert, 1);
        assert_eq!(p.next_op().unwrap().unwrap().kind, OpKind::Update);
    }

    #[test]
    fn tombstones_are_updates_and_keep_the_target() {
        let mut p = planner("insert:1,delete:1", 1, "tombstone");
        let all = ops(&mut p, 50);
        let deletes: Vec<_> = all.iter().filter(|o| o.kind == OpKind::Delete).collect();
        assert!(!deletes.is_empty());
        for d in deletes {
            let Write::Update { update, .. } = &d.write else { panic!("{d:?}") };
            assert!(update.get_document("$set").unwrap().get_bool("_deleted").unwrap());
        }
    }
}
