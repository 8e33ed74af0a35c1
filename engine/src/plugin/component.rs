//! WebAssembly components against the `forge:plugin` WIT worlds.

use std::sync::Arc;

use bson::Document;
use forge_plugin_sdk::{BsonType, Context, DeleteAction, DeleteShape, ErrorKind, Info, Kind, Level, Mutation};
use wasmtime::Store;
use wasmtime::component::{Component, HasSelf, Linker};

use super::error::{Failure, PluginError};
use super::host_calls::HostCalls;
use super::runtime::{Runtime, State, classify};
use super::{
    Call, Plugin, SUPPORTED_CONTRACT, check_contract, check_info, checked_document, contract_error, of_declared_shape,
    with_id,
};

mod mutator_world {
    wasmtime::component::bindgen!({ world: "mutator-plugin", path: "../plugin-sdk/wit" });
}

mod delete_world {
    wasmtime::component::bindgen!({
        world: "delete-behavior-plugin",
        path: "../plugin-sdk/wit",
        // One set of types and one host for both worlds.
        with: {
            "forge:plugin/host": super::mutator_world::forge::plugin::host,
            "forge:plugin/types": super::mutator_world::forge::plugin::types,
        },
    });
}

use mutator_world::forge::plugin::{host as wit_host, types as wit};

impl wit::Host for State {}

impl wit_host::Host for State {
    fn random_u64(&mut self) -> u64 {
        self.host.random_u64()
    }
    fn random_below(&mut self, n: u64) -> u64 {
        self.host.random_below(n)
    }
    fn random_range(&mut self, lo: i64, hi: i64) -> i64 {
        self.host.random_range(lo, hi)
    }
    fn random_bool(&mut self, p: f64) -> bool {
        self.host.random_bool(p)
    }
    fn random_f64(&mut self) -> f64 {
        self.host.random_f64()
    }
    fn fields(&mut self) -> Vec<wit::Field> {
        self.host
            .fields()
            .iter()
            .map(|f| wit::Field { path: f.path.clone(), kind: wit_type(f.kind), optional: f.optional })
            .collect()
    }
    fn generate_document(&mut self) -> Vec<u8> {
        forge_plugin_sdk::wire::encode_document(&self.host.generate_document())
    }
    fn generate_field(&mut self, path: String) -> Result<wit::Value, String> {
        let v = self.host.generate_field(&path).map_err(|e| e.to_string())?;
        let (kind, bytes) = forge_plugin_sdk::wire::value_parts(&v)?;
        Ok(wit::Value { kind: wit_type(kind), bytes })
    }
    fn log(&mut self, level: wit::LogLevel, message: String) {
        let level = match level {
            wit::LogLevel::Debug => Level::Debug,
            wit::LogLevel::Info => Level::Info,
            wit::LogLevel::Warn => Level::Warn,
            wit::LogLevel::Error => Level::Error,
        };
        self.host.log(level, &message)
    }
}

fn wit_type(t: BsonType) -> wit::BsonType {
    match t {
        BsonType::Double => wit::BsonType::Double,
        BsonType::String => wit::BsonType::String,
        BsonType::Document => wit::BsonType::Document,
        BsonType::Array => wit::BsonType::Array,
        BsonType::Binary => wit::BsonType::Binary,
        BsonType::ObjectId => wit::BsonType::ObjectId,
        BsonType::Boolean => wit::BsonType::Boolean,
        BsonType::DateTime => wit::BsonType::DateTime,
        BsonType::Null => wit::BsonType::Null,
        BsonType::Regex => wit::BsonType::Regex,
        BsonType::Int32 => wit::BsonType::Int32,
        BsonType::Timestamp => wit::BsonType::Timestamp,
        BsonType::Int64 => wit::BsonType::Int64,
        BsonType::Decimal128 => wit::BsonType::Decimal128,
        BsonType::Mixed => wit::BsonType::Mixed,
    }
}

/// The contract version in a `forge:plugin/...@version` name, when it is not ours.
fn other_contract(name: &str) -> Option<&str> {
    let version = name.strip_prefix("forge:plugin/")?.rsplit_once('@')?.1;
    check_contract("", version).is_err().then_some(version)
}

/// Interfaces a plugin may import; anything else (files, sockets, HTTP...) is refused.
const ALLOWED_IMPORTS: &[&str] = &["forge:plugin/", "wasi:io/", "wasi:cli/", "wasi:clocks/", "wasi:random/"];

/// Interfaces linked only with `--plugin-inert-wasi`, and then with nothing granted.
const INERT_IMPORTS: &[&str] = &["wasi:filesystem/", "wasi:sockets/"];

/// A component, checked and ready to instantiate.
pub struct ComponentCode {
    pre: Pre,
    pub info: Info,
    pub imports: Vec<String>,
}

#[derive(Clone)]
enum Pre {
    Mutator(mutator_world::MutatorPluginPre<State>),
    Delete(delete_world::DeleteBehaviorPluginPre<State>),
}

fn trap(label: &str, export: &'static str, op: Option<u64>, e: wasmtime::Error, rt: &Runtime) -> PluginError {
    PluginError { plugin: label.into(), export, op, failure: classify(&e, &rt.limits) }
}

pub fn load(rt: &Runtime, component: Component, label: &str) -> Result<ComponentCode, PluginError> {
    let ty = component.component_type();
    let imports: Vec<String> = ty.imports(&rt.engine).map(|(name, _)| name.to_owned()).collect();
    for name in imports.iter().map(String::as_str) {
        if name.starts_with("forge:plugin/") {
            if let Some(version) = other_contract(name) {
                return Err(contract_error(label, version));
            }
        } else if rt.limits.inert_wasi && INERT_IMPORTS.iter().any(|p| name.starts_with(p)) {
            // Linked, with no directory to open and no network to reach.
        } else if !ALLOWED_IMPORTS.iter().any(|p| name.starts_with(p)) {
            let hint = if INERT_IMPORTS.iter().any(|p| name.starts_with(p)) {
                " (interpreters packed as components, such as componentize-py's, import it unused: \
                 --plugin-inert-wasi links it with nothing granted)"
            } else {
                ""
            };
            return Err(PluginError::load(
                label,
                format!(
                    "imports '{name}'; plugins get no files, sockets or network (allowed: {}){hint}",
                    ALLOWED_IMPORTS.join(" ")
                ),
            ));
        }
    }
    let mut world = None;
    for (name, _) in ty.exports(&rt.engine) {
        for (iface, kind) in
            [("forge:plugin/mutator@", Kind::Mutator), ("forge:plugin/delete-behavior@", Kind::DeleteBehavior)]
        {
            if let Some(version) = name.strip_prefix(iface) {
                check_contract(label, version)?;
                world = Some(kind);
            }
        }
    }
    let Some(kind) = world else {
        return Err(PluginError::load(
            label,
            format!(
                "exports neither forge:plugin/mutator nor forge:plugin/delete-behavior (contract {SUPPORTED_CONTRACT})"
            ),
        ));
    };
    let mut linker: Linker<State> = Linker::new(&rt.engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| PluginError::load(label, format!("{e:#}")))?;
    wit_host::add_to_linker::<State, HasSelf<State>>(&mut linker, |s| s)
        .map_err(|e| PluginError::load(label, format!("{e:#}")))?;
    let pre = linker.instantiate_pre(&component).map_err(|e| {
        // An import of another contract's host interface is missing from the linker:
        // that is a version mismatch, said as one.
        let text = format!("{e:#}");
        let other = text.split(['\'', '`', '"', ' ']).find_map(other_contract);
        match other {
            Some(version) => contract_error(label, version),
            None => PluginError::load(label, format!("cannot be linked: {text}")),
        }
    })?;
    let pre = match kind {
        Kind::Mutator => Pre::Mutator(
            mutator_world::MutatorPluginPre::new(pre).map_err(|e| PluginError::load(label, format!("{e:#}")))?,
        ),
        Kind::DeleteBehavior => Pre::Delete(
            delete_world::DeleteBehaviorPluginPre::new(pre).map_err(|e| PluginError::load(label, format!("{e:#}")))?,
        ),
    };
    // `info` needs an instance; it gets no schema.
    let mut instance = Instance::new(rt, &pre, HostCalls::new(label.into(), None), 0, label)?;
    let info = instance.info(rt, label, kind)?;
    Ok(ComponentCode { pre, info, imports })
}

enum Bindings {
    Mutator(mutator_world::MutatorPlugin),
    Delete(delete_world::DeleteBehaviorPlugin),
}

struct Instance {
    store: Store<State>,
    bindings: Bindings,
}

impl Instance {
    fn new(rt: &Runtime, pre: &Pre, host: HostCalls, seed: u64, label: &str) -> Result<Self, PluginError> {
        let mut store = rt.store(host, seed, false);
        let bindings = match pre {
            Pre::Mutator(p) => p.instantiate(&mut store).map(Bindings::Mutator),
            Pre::Delete(p) => p.instantiate(&mut store).map(Bindings::Delete),
        }
        .map_err(|e| trap(label, "instantiate", None, e, rt))?;
        Ok(Instance { store, bindings })
    }

    /// `info`, checked against the exported world's kind.
    fn info(&mut self, rt: &Runtime, label: &str, kind: Kind) -> Result<Info, PluginError> {
        rt.arm(&mut self.store);
        let i = match &self.bindings {
            Bindings::Mutator(b) => b.forge_plugin_mutator().call_info(&mut self.store),
            Bindings::Delete(b) => b.forge_plugin_delete_behavior().call_info(&mut self.store),
        }
        .map_err(|e| trap(label, "info", None, e, rt))?;
        let info = Info {
            name: i.name,
            kind: match i.kind {
                wit::PluginKind::Mutator => Kind::Mutator,
                wit::PluginKind::DeleteBehavior => Kind::DeleteBehavior,
            },
            version: i.version,
            contract_version: i.contract_version,
            deletes: i.deletes.map(|d| match d {
                wit::DeleteShape::Remove => DeleteShape::Remove,
                wit::DeleteShape::Keep => DeleteShape::Keep,
                wit::DeleteShape::Tombstone(t) => {
                    DeleteShape::Tombstone { flag: t.flag.into(), deleted_at: t.deleted_at.map(Into::into) }
                }
            }),
        };
        check_info(label, &info, kind)?;
        Ok(info)
    }

    fn init(
        &mut self,
        rt: &Runtime,
        label: &str,
        config: &[(String, String)],
        schema: &str,
    ) -> Result<(), PluginError> {
        rt.arm(&mut self.store);
        let r = match &self.bindings {
            Bindings::Mutator(b) => b.forge_plugin_mutator().call_init(&mut self.store, config, schema),
            Bindings::Delete(b) => b.forge_plugin_delete_behavior().call_init(&mut self.store, config, schema),
        }
        .map_err(|e| trap(label, "init", None, e, rt))?;
        r.map_err(|e| guest_error(label, "init", None, e))
    }
}

fn guest_error(label: &str, export: &'static str, op: Option<u64>, e: wit::PluginError) -> PluginError {
    let kind = match e.kind {
        wit::ErrorKind::InvalidConfig => ErrorKind::InvalidConfig,
        wit::ErrorKind::UnsupportedDocument => ErrorKind::UnsupportedDocument,
        wit::ErrorKind::Internal => ErrorKind::Internal,
    };
    PluginError { plugin: label.into(), export, op, failure: Failure::Plugin { kind: kind.name(), message: e.message } }
}

/// The target as the WIT record carries it.
fn wit_target(call: &Call<'_>) -> wit::Target {
    wit::Target {
        id: forge_plugin_sdk::wire::encode_document(&bson::doc! { "_id": call.id.clone() }),
        current: call.current.map(|d| d.as_bytes().to_vec()),
    }
}

/// A running component plugin. After a trap the instance is dropped and a fresh one is
/// made from the `InstancePre` (and `init`ed again) before the next call.
pub struct ComponentPlugin {
    rt: Runtime,
    pre: Pre,
    /// The info after `init`.
    info: Info,
    label: Arc<str>,
    schema: Option<Arc<super::host_calls::SchemaAccess>>,
    config: Vec<(String, String)>,
    seed: u64,
    instance: Option<Instance>,
}

impl ComponentPlugin {
    pub fn start(
        rt: &Runtime,
        code: &ComponentCode,
        label: &str,
        schema: Arc<super::host_calls::SchemaAccess>,
        config: Vec<(String, String)>,
        seed: u64,
    ) -> Result<Self, PluginError> {
        let mut p = ComponentPlugin {
            rt: rt.clone(),
            pre: code.pre.clone(),
            info: code.info.clone(),
            label: label.into(),
            schema: Some(schema),
            config,
            seed,
            instance: None,
        };
        let (rt, label, kind) = (p.rt.clone(), p.label.clone(), p.info.kind);
        p.info = p.instance()?.info(&rt, &label, kind)?;
        Ok(p)
    }

    fn instance(&mut self) -> Result<&mut Instance, PluginError> {
        if self.instance.is_none() {
            let host = HostCalls::new(self.label.clone(), self.schema.clone());
            let mut instance = Instance::new(&self.rt, &self.pre, host, self.seed, &self.label)?;
            let text = self.schema.as_ref().map(|s| s.text.as_str()).unwrap_or("{}");
            instance.init(&self.rt, &self.label, &self.config, text)?;
            self.instance = Some(instance);
        }
        Ok(self.instance.as_mut().expect("made above"))
    }
}

fn wit_ctx(c: &Context) -> wit::OpContext {
    wit::OpContext { run_seed: c.run_seed, op_index: c.op_index, shard: c.shard, collection: c.collection.clone() }
}

impl Plugin for ComponentPlugin {
    fn info(&self) -> &Info {
        &self.info
    }

    fn mutate(&mut self, call: Call<'_>) -> Result<Mutation, PluginError> {
        let (label, rt) = (self.label.clone(), self.rt.clone());
        let op = Some(call.ctx.op_index);
        let (ctx, target) = (wit_ctx(&call.ctx), wit_target(&call));
        let instance = self.instance()?;
        let Bindings::Mutator(b) = &instance.bindings else { unreachable!("kind checked at load") };
        instance.store.data_mut().host.rng = call.rng.clone();
        rt.arm(&mut instance.store);
        let r = b.forge_plugin_mutator().call_mutate(&mut instance.store, &ctx, &target);
        *call.rng = instance.store.data().host.rng.clone();
        let r = match r {
            Ok(r) => r,
            Err(e) => {
                self.instance = None;
                return Err(trap(&label, "mutate", op, e, &rt));
            }
        };
        match r.map_err(|e| guest_error(&label, "mutate", op, e))? {
            wit::Mutation::Update(bytes) => Ok(Mutation::Update(document(&label, "mutate", op, &bytes)?)),
            wit::Mutation::Replace(bytes) => {
                Ok(Mutation::Replace(with_id(call.id, document(&label, "mutate", op, &bytes)?)))
            }
            wit::Mutation::Skip => Ok(Mutation::Skip),
        }
    }

    fn on_delete(&mut self, call: Call<'_>) -> Result<DeleteAction, PluginError> {
        let (label, rt) = (self.label.clone(), self.rt.clone());
        let op = Some(call.ctx.op_index);
        let (ctx, target) = (wit_ctx(&call.ctx), wit_target(&call));
        let instance = self.instance()?;
        let Bindings::Delete(b) = &instance.bindings else { unreachable!("kind checked at load") };
        instance.store.data_mut().host.rng = call.rng.clone();
        rt.arm(&mut instance.store);
        let r = b.forge_plugin_delete_behavior().call_on_delete(&mut instance.store, &ctx, &target);
        *call.rng = instance.store.data().host.rng.clone();
        let r = match r {
            Ok(r) => r,
            Err(e) => {
                self.instance = None;
                return Err(trap(&label, "on-delete", op, e, &rt));
            }
        };
        let action = match r.map_err(|e| guest_error(&label, "on-delete", op, e))? {
            wit::DeleteAction::Remove => DeleteAction::Remove,
            wit::DeleteAction::Keep => DeleteAction::Keep,
            wit::DeleteAction::Tombstone(bytes) => DeleteAction::Tombstone(document(&label, "on-delete", op, &bytes)?),
        };
        of_declared_shape(&label, "on-delete", op, self.info.deletes.as_ref(), action)
    }
}

fn document(label: &str, export: &'static str, op: Option<u64>, bytes: &[u8]) -> Result<Document, PluginError> {
    checked_document(bytes).map_err(|failure| PluginError { plugin: label.into(), export, op, failure })
}
