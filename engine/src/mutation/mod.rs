//! Update strategies and delete behaviors as the planner uses them: plugins (the
//! built-ins are plugins too) chosen by name, `mixed` as a seeded choice among the
//! built-in strategies, and what a delete behavior means for the planner's targets.

use std::collections::BTreeMap;
use std::sync::Arc;

use bson::{Bson, Document};

pub use forge_plugin_sdk::{DeleteAction, DeleteShape, Kind, Mutation};

use crate::plugin::{Call, Failure, Plugin, PluginError, Registry, SchemaAccess};
use crate::seed::{Rng, draw};

/// What the planner knows of the operation a plugin is called for.
#[derive(Debug, Clone)]
pub struct OpContext<'a> {
    pub run_seed: u64,
    pub op_index: u64,
    /// The shard the operation runs on (of `--workers`): every operation on one `_id`
    /// runs on the same one, in plan order.
    pub shard: u32,
    pub collection: &'a str,
    pub target: &'a Bson,
    pub current: Option<&'a bson::RawDocument>,
}

impl OpContext<'_> {
    /// The plugin call for this operation, drawing from `rng`.
    pub fn call<'r>(&'r self, rng: &'r mut Rng) -> Call<'r> {
        Call {
            ctx: forge_plugin_sdk::Context {
                run_seed: self.run_seed,
                op_index: self.op_index,
                shard: self.shard,
                collection: self.collection.to_owned(),
            },
            id: self.target,
            current: self.current,
            rng,
        }
    }
}

/// An update strategy: one plugin, or a seeded choice among several (`mixed`).
pub struct Strategy {
    pub name: String,
    choices: Vec<Box<dyn Plugin>>,
}

impl std::fmt::Debug for Strategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Strategy").field("name", &self.name).finish()
    }
}

impl Strategy {
    /// Draws only from `rng` (seeded from the run seed and the op index), so the same
    /// seed gives the same mutations.
    pub fn mutate(&mut self, ctx: &OpContext, rng: &mut Rng) -> Result<Mutation, PluginError> {
        let pick = if self.choices.len() == 1 { 0 } else { draw::below(rng, self.choices.len() as u64) as usize };
        self.choices[pick].mutate(ctx.call(rng))
    }
}

/// A delete behavior, and the bookkeeping its declared shape implies.
pub struct Deleter {
    pub name: String,
    plugin: Box<dyn Plugin>,
    shape: DeleteShape,
    guard: Option<Document>,
}

impl std::fmt::Debug for Deleter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deleter").field("name", &self.name).field("shape", &self.shape).finish()
    }
}

impl Deleter {
    /// Takes the shape the started behavior declared (its info after `init`): a
    /// tombstone's flag becomes the guard that keeps writes off documents it already
    /// deleted (`--delete-tracking filter`). The plugin is not called.
    pub fn new(name: &str, plugin: Box<dyn Plugin>) -> Result<Self, PluginError> {
        let Some(shape) = plugin.info().deletes.clone() else {
            return Err(PluginError::load(name, "is a delete behavior that declares no delete shape"));
        };
        let guard = match &shape {
            DeleteShape::Tombstone { flag, .. } => {
                let mut guard = Document::new();
                guard.insert(flag.as_ref(), bson::doc! { "$ne": true });
                Some(guard)
            }
            DeleteShape::Remove | DeleteShape::Keep => None,
        };
        Ok(Deleter { name: name.to_owned(), plugin, shape, guard })
    }

    /// What this behavior's deletes do: `Remove` takes the `_id` out of the targets,
    /// `Keep` and `Tombstone` leave it in. Every [`Deleter::on_delete`] answer is of
    /// this shape (an answer that is not fails as a broken contract).
    pub fn shape(&self) -> &DeleteShape {
        &self.shape
    }

    pub fn on_delete(&mut self, ctx: &OpContext, rng: &mut Rng) -> Result<DeleteAction, PluginError> {
        self.plugin.on_delete(ctx.call(rng))
    }

    /// The filter that makes a write skip documents this behavior already deleted:
    /// `{flag: {$ne: true}}` for a tombstone.
    pub fn guard(&self) -> Option<&Document> {
        self.guard.as_ref()
    }

    /// The field a tombstone fills with the server's time (`$currentDate`), which the
    /// journal leaves out of content hashes.
    pub fn server_time_field(&self) -> Option<String> {
        match &self.shape {
            DeleteShape::Tombstone { deleted_at, .. } => deleted_at.as_deref().map(str::to_owned),
            DeleteShape::Remove | DeleteShape::Keep => None,
        }
    }
}

/// Why a run's plugins could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// Configuration was given for a plugin nobody loaded.
    #[error("no plugin is named '{0}'")]
    ArgsForUnknownPlugin(String),
    #[error(transparent)]
    Runtime(#[from] crate::plugin::runtime::RuntimeError),
    #[error(transparent)]
    Plugin(#[from] PluginError),
}

/// Starts plugins for a run: the registry, the schema they see, their configuration.
pub struct Plugins {
    pub registry: Registry,
    schema: Arc<SchemaAccess>,
    args: BTreeMap<String, Vec<(String, String)>>,
    seed: u64,
}

/// The built-in strategies `mixed` chooses among.
const MIXED: &[&str] = &["regenerate", "partial", "increment", "lifecycle", "drift", "array"];

/// Of [`MIXED`], those a schema may give nothing to work on (numbers, transitions, arrays):
/// their `init` refuses it, and `mixed` goes on without them.
const MIXED_IF_USABLE: &[&str] = &["increment", "lifecycle", "drift", "array"];

impl Plugins {
    pub fn new(
        registry: Registry,
        schema: Arc<SchemaAccess>,
        args: BTreeMap<String, Vec<(String, String)>>,
        seed: u64,
    ) -> Result<Self, SetupError> {
        if let Some(unknown) = args.keys().find(|n| !registry.is_known(n) && n.as_str() != "mixed") {
            return Err(SetupError::ArgsForUnknownPlugin(unknown.clone()));
        }
        Ok(Plugins { registry, schema, args, seed })
    }

    /// The built-ins only, with default limits: for benchmarks and tests.
    pub fn builtins(generator: &Arc<crate::generate::Generator>, seed: u64) -> Result<Self, SetupError> {
        let runtime = crate::plugin::Runtime::new(crate::plugin::Limits::default())?;
        let registry = Registry::new(runtime, &[], &[])?;
        Plugins::new(registry, SchemaAccess::new(generator.clone()), BTreeMap::new(), seed)
    }

    fn start(&mut self, name: &str, kind: Kind) -> Result<Box<dyn Plugin>, PluginError> {
        let loaded = self.registry.find(name, kind)?;
        let config = self.args.get(name).cloned().unwrap_or_default();
        loaded.start(&self.registry.runtime, self.schema.clone(), config, self.seed)
    }

    pub fn strategy(&mut self, name: &str) -> Result<Strategy, PluginError> {
        if name == "mixed" && self.registry.find("mixed", Kind::Mutator).is_err() {
            let mut choices = Vec::new();
            for n in MIXED {
                match self.start(n, Kind::Mutator) {
                    Ok(p) => choices.push(p),
                    // Unless the user configured it: then their mistake is reported.
                    Err(PluginError { failure: Failure::Plugin { kind: "invalid-config", .. }, .. })
                        if MIXED_IF_USABLE.contains(n) && !self.args.contains_key(*n) => {}
                    Err(e) => return Err(e),
                }
            }
            return Ok(Strategy { name: name.into(), choices });
        }
        Ok(Strategy { name: name.into(), choices: vec![self.start(name, Kind::Mutator)?] })
    }

    pub fn deleter(&mut self, name: &str) -> Result<Deleter, PluginError> {
        let plugin = self.start(name, Kind::DeleteBehavior)?;
        Deleter::new(name, plugin)
    }
}

#[cfg(test)]
mod tests;
