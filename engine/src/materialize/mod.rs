//! Materializers: one per shard, each on a plain thread of its own. A materializer
//! turns its shard's planned operations into writes, in plan order: it generates the
//! shard's inserts, calls the shard's own plugin instances with the target's current
//! document, checks and applies their answers to the shard's document model, and
//! serialises. Operations on one `_id` all go through one shard, so every document's
//! history, and so every write, is the same for any number of shards.

pub mod corrections;
pub mod model;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bson::{Bson, Document, doc};

use crate::generate::Generator;
use crate::mutation::{DeleteAction, Deleter, Mutation, OpContext, Strategy};
use crate::plan::{
    Change, DeleteTracking, Expectation, OnPluginError, OpKind, OpPlan, PlanError, PlannedOp, ShardInput, State, Write,
};
use crate::plugin::{Failure, PluginError};
use crate::seed::{self, Stream};
pub use corrections::Corrections;
use model::Model;

/// Plugin errors shown in full when they are skipped; the rest are counted.
const PLUGIN_ERRORS_SHOWN: u64 = 5;

/// Operations a shard may skip in a row (a plugin's `skip` answers, or failures skipped
/// by `--on-plugin-error skip`) before the run stops: a plugin that skips everything
/// would otherwise keep the run busy writing nothing.
pub const MAX_CONSECUTIVE_SKIPS: u64 = 10_000;

/// One shard's own plugin instances.
pub struct ShardPlugins {
    /// What updates do (`--update-strategy`).
    pub strategy: Strategy,
    /// What replaces write (the `regenerate` plugin).
    pub replace: Strategy,
    /// What deletes do (`--delete-behavior`).
    pub delete: Deleter,
}

impl ShardPlugins {
    /// A shard's own instances of the named strategy and delete behavior (replaces
    /// always regenerate).
    pub fn start(plugins: &mut crate::mutation::Plugins, strategy: &str, delete: &str) -> Result<Self, PluginError> {
        Ok(ShardPlugins {
            strategy: plugins.strategy(strategy)?,
            replace: plugins.strategy("regenerate")?,
            delete: plugins.deleter(delete)?,
        })
    }
}

/// What every shard of a run shares.
#[derive(Debug, Clone)]
pub struct Settings {
    pub seed: u64,
    pub collection: Arc<str>,
    pub generator: Arc<Generator>,
    pub on_plugin_error: OnPluginError,
    pub tracking: DeleteTracking,
    /// Predict each write's effect (a journal is kept).
    pub expectations: bool,
    /// Keep documents for later operations (false for a pure bulk load, which never
    /// targets what it inserts).
    pub keep_documents: bool,
    /// Skipped plugin errors shown so far, by all shards together.
    pub errors_shown: Arc<AtomicU64>,
    /// Later schema versions (a scenario's), each in force from a global operation
    /// index on, in order; `generator` is version 0.
    pub later_versions: Vec<(u64, Arc<Generator>)>,
}

impl Settings {
    /// Settings that write plainly: a plugin failure stops the run, no delete tracking,
    /// no journal expectations, documents kept for later operations (benches, tests).
    pub fn new(seed: u64, collection: &str, generator: Arc<Generator>) -> Self {
        Settings {
            seed,
            collection: Arc::from(collection),
            generator,
            on_plugin_error: OnPluginError::Fail,
            tracking: DeleteTracking::None,
            expectations: false,
            keep_documents: true,
            errors_shown: Default::default(),
            later_versions: Vec::new(),
        }
    }

    /// The schema version in force at global operation `index`, and its generator.
    pub fn version_at(&self, index: u64) -> (usize, &Arc<Generator>) {
        match self.later_versions.iter().rposition(|(from, _)| *from <= index) {
            Some(i) => (i + 1, &self.later_versions[i].1),
            None => (0, &self.generator),
        }
    }
}

/// What a shard counted, for the report.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    /// Plugin failures by kind (timeout, trap...): each a skipped operation, or with
    /// `OnPluginError::Fail` the one that stopped the run.
    pub plugin_errors: BTreeMap<String, u64>,
    /// Operations a plugin answered `skip` to: planned, never written.
    pub skipped: BTreeMap<OpKind, u64>,
}

impl Tally {
    pub fn merge(&mut self, other: &Tally) {
        for (k, n) in &other.plugin_errors {
            *self.plugin_errors.entry(k.clone()).or_default() += n;
        }
        for (k, n) in &other.skipped {
            *self.skipped.entry(*k).or_default() += n;
        }
    }
}

pub struct Materializer {
    shard: usize,
    settings: Arc<Settings>,
    plugins: ShardPlugins,
    model: Model,
    /// What the shard's writer learned the model got wrong.
    corrections: Arc<Corrections>,
    /// The filter guard that keeps writes off soft-deleted documents
    /// (`--delete-tracking filter`).
    guard: Option<Document>,
    pub tally: Tally,
    /// Operations skipped since the last write, and the plugin that skipped the last.
    skips_in_a_row: u64,
    skipper: String,
}

impl Materializer {
    pub fn new(shard: usize, settings: Arc<Settings>, plugins: ShardPlugins, corrections: Arc<Corrections>) -> Self {
        let guard = if settings.tracking == DeleteTracking::Filter { plugins.delete.guard().cloned() } else { None };
        let model = Model::new(plugins.delete.server_time_field());
        Materializer {
            shard,
            settings,
            plugins,
            model,
            corrections,
            guard,
            tally: Tally::default(),
            skips_in_a_row: 0,
            skipper: String::new(),
        }
    }

    /// Documents the shard's model holds now.
    pub fn documents(&self) -> usize {
        self.model.len()
    }

    /// The write for one input, if it makes one, due at `scheduled` (its response time
    /// counts from there). A plugin failure stops the shard, or with
    /// `OnPluginError::Skip` is counted and the operation skipped.
    pub fn materialize(&mut self, input: ShardInput, scheduled: Instant) -> Result<Option<OpPlan>, PlanError> {
        let op = match input {
            ShardInput::Op(op) => op,
            ShardInput::Known(id, doc) => {
                self.model.know(&id, doc);
                return Ok(None);
            }
            ShardInput::Forget(id) => {
                self.model.forget(&id);
                return Ok(None);
            }
        };
        let (id, index, last) = (op.id.clone(), op.index, op.last);
        if let Some(seq) = self.model.last(&id)
            && let Some(state) = self.corrections.take_if_current(&id, seq)
        {
            self.model.correct(&id, state);
        }
        let result = self.write(op, scheduled);
        if matches!(result, Ok(Some(_))) {
            self.model.touch(&id, index);
        }
        if last {
            self.model.forget(&id);
        }
        match result {
            Ok(Some(plan)) => {
                self.skips_in_a_row = 0;
                Ok(Some(plan))
            }
            Ok(None) => self.skipped(),
            Err(e) => {
                let count = self.tally.plugin_errors.entry(e.kind().to_owned()).or_default();
                *count += 1;
                if self.settings.on_plugin_error == OnPluginError::Fail {
                    return Err(PlanError::Plugin(e));
                }
                if self.settings.errors_shown.fetch_add(1, Ordering::Relaxed) < PLUGIN_ERRORS_SHOWN {
                    tracing::warn!("skipped: {e}");
                }
                self.skipper.clone_from(&e.plugin);
                self.skipped()
            }
        }
    }

    /// Counts a skipped operation; too many in a row stop the run.
    fn skipped(&mut self) -> Result<Option<OpPlan>, PlanError> {
        self.skips_in_a_row += 1;
        if self.skips_in_a_row >= MAX_CONSECUTIVE_SKIPS {
            return Err(PlanError::TooManySkips { plugin: self.skipper.clone(), skips: self.skips_in_a_row });
        }
        Ok(None)
    }

    fn write(&mut self, op: PlannedOp, scheduled: Instant) -> Result<Option<OpPlan>, PluginError> {
        // Its references, for the generator and the plugins that generate.
        let refs = op.refs.clone();
        let (version, _) = self.settings.version_at(op.index);
        let drawn = refs.as_deref().map(crate::plan::RefDraws::values);
        crate::generate::op_context::with(drawn, version, || self.write_op(op, scheduled))
    }

    fn write_op(&mut self, op: PlannedOp, scheduled: Instant) -> Result<Option<OpPlan>, PluginError> {
        if let Some(document) = op.document {
            return Ok(Some(self.insert(op, document, scheduled)));
        }
        let PlannedOp { index, kind, id, .. } = op;
        let settings = self.settings.clone();
        let ctx = OpContext {
            run_seed: settings.seed,
            op_index: index,
            shard: self.shard as u32,
            collection: &settings.collection,
            target: &id,
            current: self.model.current(&id),
        };
        let mut rng = seed::rng(settings.seed, Stream::Mutation, index);
        let now = bson::DateTime::now();
        let filter = self.filter(&id);
        let before = self.model.state(&id);
        let (write, matched) = match kind {
            OpKind::Update | OpKind::Replace => {
                let strategy =
                    if kind == OpKind::Update { &mut self.plugins.strategy } else { &mut self.plugins.replace };
                let (name, export) = (strategy.name.clone(), "mutate");
                match strategy.mutate(&ctx, &mut rng)? {
                    Mutation::Update(update) => {
                        let bad = |m: String| bad_return(&name, export, index, m);
                        crate::model::answer::check_update(&update).map_err(|e| bad(e.to_string()))?;
                        let matched = self
                            .model
                            .update(&id, self.guard.as_ref(), &update, now)
                            .map_err(|e| bad(format!("its update cannot be applied to the document: {e}")))?;
                        (Write::Update { filter, update }, matched)
                    }
                    Mutation::Replace(replacement) => {
                        crate::model::answer::check_replacement(&replacement, &id)
                            .map_err(|e| bad_return(&name, export, index, e.to_string()))?;
                        let matched = self.model.replace(&id, self.guard.as_ref(), &replacement);
                        (Write::Replace { filter, replacement }, matched)
                    }
                    Mutation::Skip => {
                        *self.tally.skipped.entry(kind).or_default() += 1;
                        self.skipper.clone_from(&strategy.name);
                        return Ok(None);
                    }
                }
            }
            OpKind::Delete => match self.plugins.delete.on_delete(&ctx, &mut rng)? {
                DeleteAction::Remove | DeleteAction::Keep => {
                    let matched = self.model.delete(&id, self.guard.as_ref());
                    (Write::Delete { filter }, matched)
                }
                DeleteAction::Tombstone(update) => {
                    let name = self.plugins.delete.name.clone();
                    let bad = |m: String| bad_return(&name, "on-delete", index, m);
                    let matched = self
                        .model
                        .update(&id, self.guard.as_ref(), &update, now)
                        .map_err(|e| bad(format!("its tombstone cannot be applied to the document: {e}")))?;
                    (Write::Update { filter, update }, matched)
                }
            },
            OpKind::Insert => unreachable!("inserts carry their document index"),
        };
        let expect = self.expectation(&id, matched);
        let after = self.model.state(&id);
        let change = match write {
            Write::Delete { .. } => Change { modified: Some(0), ..Change::new(before, after, matched) },
            _ => Change::new(before, after, matched),
        };
        Ok(Some(OpPlan { index, kind, id, shard: self.shard, write, change, expect, scheduled }))
    }

    fn insert(&mut self, op: PlannedOp, document: u64, scheduled: Instant) -> OpPlan {
        // A schema whose field names hold a NUL byte cannot be BSON at all.
        let generator = self.settings.version_at(op.index).1;
        let raw = Arc::new(generator.raw_document(document).expect("generated documents encode"));
        let change =
            Change { before: State::Absent, after: State::Doc(raw.clone()), matched: Some(1), modified: Some(0) };
        if self.settings.keep_documents || self.settings.expectations {
            self.model.insert(&op.id, raw.clone());
        }
        let expect = self.expectation(&op.id, Some(1));
        if !self.settings.keep_documents {
            self.model.forget(&op.id);
        }
        OpPlan {
            index: op.index,
            kind: OpKind::Insert,
            id: op.id,
            shard: self.shard,
            write: Write::Insert(raw),
            change,
            expect,
            scheduled,
        }
    }

    fn expectation(&self, id: &Bson, matched: Option<u64>) -> Option<Expectation> {
        self.settings.expectations.then(|| Expectation { matched, state: self.model.expect(id) })
    }

    fn filter(&self, id: &Bson) -> Document {
        let mut filter = doc! { "_id": id.clone() };
        if let Some(guard) = &self.guard {
            filter.extend(guard.clone());
        }
        filter
    }
}

/// A plugin answer forge cannot use: a contract breach, named like any plugin failure.
fn bad_return(plugin: &str, export: &'static str, op: u64, message: String) -> PluginError {
    PluginError { plugin: plugin.to_owned(), export, op: Some(op), failure: Failure::BadReturn(message) }
}

#[cfg(test)]
mod tests;
