//! The plugin host: mutation strategies and delete behaviors as WebAssembly
//! components, core modules (the fallback ABI) or, opt-in, native libraries, all behind
//! one [`Plugin`] trait. Built-ins are components embedded in the binary and take
//! exactly the path user plugins take.

pub mod builtin;
mod component;
mod core_module;
pub mod error;
pub mod host_calls;
mod native;
pub mod runtime;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bson::{Bson, Document};
use forge_plugin_sdk::{Context, DeleteAction, DeleteShape, Info, Kind, Mutation};

pub use error::{Failure, PluginError};
pub use host_calls::SchemaAccess;
pub use runtime::{Limits, Runtime};

use crate::seed::Rng;

/// The contract this host runs. Before 1.0 a minor version is a break, so a plugin
/// built against another minor (0.1.x) is refused; a patch release is compatible.
pub const SUPPORTED_CONTRACT: &str = forge_plugin_sdk::CONTRACT_VERSION;

pub fn check_contract(label: &str, version: &str) -> Result<(), PluginError> {
    let mut parts = version.split('.');
    let mut ours = SUPPORTED_CONTRACT.split('.');
    if parts.next() == ours.next() && parts.next() == ours.next() && parts.next().is_some() {
        return Ok(());
    }
    Err(contract_error(label, version))
}

/// The one line that refuses a plugin built against another contract.
pub(crate) fn contract_error(label: &str, version: &str) -> PluginError {
    PluginError::load(
        label,
        format!("was built against plugin contract {version}; this forge supports {SUPPORTED_CONTRACT}"),
    )
}

/// What every form checks of a plugin's info, at load and again after `init` (when a
/// delete behavior's shape may follow its configuration).
pub(crate) fn check_info(label: &str, info: &Info, kind: Kind) -> Result<(), PluginError> {
    check_contract(label, &info.contract_version)?;
    if info.kind != kind {
        return Err(PluginError::load(
            label,
            format!("says it is a {} but exports the other world's calls", info.kind.name()),
        ));
    }
    match (&info.deletes, kind) {
        (None, Kind::DeleteBehavior) => Err(PluginError::load(
            label,
            format!(
                "is a delete behavior that declares no delete shape (info 'deletes', contract {SUPPORTED_CONTRACT})"
            ),
        )),
        (Some(_), Kind::Mutator) => {
            Err(PluginError::load(label, "is a mutator that declares a delete shape (info 'deletes')"))
        }
        (Some(shape), _) => {
            shape.validate().map_err(|m| PluginError::load(label, format!("declares a bad delete shape: {m}")))
        }
        (None, Kind::Mutator) => Ok(()),
    }
}

/// A delete answer, refused as a broken contract unless it is of the declared shape.
pub(crate) fn of_declared_shape(
    label: &str,
    export: &'static str,
    op: Option<u64>,
    shape: Option<&DeleteShape>,
    action: DeleteAction,
) -> Result<DeleteAction, PluginError> {
    let Some(shape) = shape else { return Ok(action) };
    match shape.check(&action) {
        Ok(()) => Ok(action),
        Err(m) => Err(PluginError { plugin: label.into(), export, op, failure: Failure::BadReturn(m) }),
    }
}

/// One call of a plugin.
pub struct Call<'a> {
    pub ctx: Context,
    pub id: &'a Bson,
    /// The target's current document, as BSON, when the caller knows it.
    pub current: Option<&'a bson::RawDocument>,
    /// The operation's random stream: the plugin's host imports draw from it.
    pub rng: &'a mut Rng,
}

/// A started plugin (initialised with its config and the schema).
pub trait Plugin: Send {
    /// Its info as it answered after `init`: a delete behavior's shape may follow its
    /// configuration.
    fn info(&self) -> &Info;
    fn mutate(&mut self, call: Call<'_>) -> Result<Mutation, PluginError>;
    fn on_delete(&mut self, call: Call<'_>) -> Result<DeleteAction, PluginError>;
}

/// A BSON answer to `mutate` (core modules, native libraries), decoded and checked.
pub(crate) fn mutation_answer(label: &str, call: &Call<'_>, bytes: &[u8]) -> Result<Mutation, PluginError> {
    let op = Some(call.ctx.op_index);
    let fail = |failure| PluginError { plugin: label.into(), export: "mutate", op, failure };
    match forge_plugin_sdk::wire::decode_mutation_result(bytes).map_err(|m| fail(Failure::BadReturn(m)))? {
        Ok(Mutation::Replace(doc)) => Ok(Mutation::Replace(with_id(call.id, doc))),
        Ok(m) => Ok(m),
        Err(e) => Err(fail(Failure::Plugin { kind: e.kind.name(), message: e.message })),
    }
}

/// A BSON answer to `delete` (core modules, native libraries), decoded and checked
/// against the declared shape.
pub(crate) fn delete_answer(
    label: &str,
    info: &Info,
    call: &Call<'_>,
    bytes: &[u8],
) -> Result<DeleteAction, PluginError> {
    let op = Some(call.ctx.op_index);
    let fail = |failure| PluginError { plugin: label.into(), export: "delete", op, failure };
    let action = forge_plugin_sdk::wire::decode_delete_result(bytes)
        .map_err(|m| fail(Failure::BadReturn(m)))?
        .map_err(|e| fail(Failure::Plugin { kind: e.kind.name(), message: e.message }))?;
    of_declared_shape(label, "delete", op, info.deletes.as_ref(), action)
}

/// A document a plugin returned, decoded only after its bytes are checked (a guest's
/// length prefixes are never trusted); the error is the contract breach.
pub fn checked_document(bytes: &[u8]) -> Result<Document, Failure> {
    let malformed = |e: bson::error::Error| Failure::BadReturn(format!("returned malformed BSON: {e}"));
    let raw = bson::RawDocument::from_bytes(bytes).map_err(malformed)?;
    Document::try_from(raw).map_err(malformed)
}

/// A replacement with the target's `_id` first, whatever `_id` the plugin put in.
pub fn with_id(id: &Bson, doc: Document) -> Document {
    let mut out = Document::new();
    out.insert("_id", id.clone());
    out.extend(doc.into_iter().filter(|(k, _)| k != "_id"));
    out
}

/// Where a plugin came from.
#[derive(Debug, Clone)]
pub enum Origin {
    Builtin,
    File(PathBuf),
    Native(PathBuf),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Builtin => f.write_str("built-in"),
            Origin::File(p) | Origin::Native(p) => write!(f, "{}", p.display()),
        }
    }
}

enum Code {
    Component(Arc<component::ComponentCode>),
    Core(Arc<core_module::CoreCode>),
    Native(Arc<native::NativeLib>),
}

/// A plugin loaded and checked, ready to start.
pub struct Loaded {
    pub info: Info,
    pub origin: Origin,
    code: Code,
}

impl Loaded {
    /// "component", "core module" or "native library".
    pub fn form(&self) -> &'static str {
        match self.code {
            Code::Component(_) => "component",
            Code::Core(_) => "core module",
            Code::Native(_) => "native library",
        }
    }

    /// What it imports (none for a native library: it links what it likes).
    pub fn imports(&self) -> &[String] {
        match &self.code {
            Code::Component(c) => &c.imports,
            Code::Core(c) => &c.imports,
            Code::Native(_) => &[],
        }
    }

    /// The exports the contract looks at.
    pub fn exports(&self) -> &'static [&'static str] {
        match (&self.code, self.info.kind) {
            (Code::Component(_), Kind::Mutator) => &["forge:plugin/mutator@0.2.0: info, init, mutate"],
            (Code::Component(_), Kind::DeleteBehavior) => {
                &["forge:plugin/delete-behavior@0.2.0: info, init, on-delete"]
            }
            (Code::Core(_), Kind::Mutator) => {
                &["forge_abi_version", "forge_alloc", "forge_free", "forge_info", "forge_init", "forge_mutate"]
            }
            (Code::Core(_), Kind::DeleteBehavior) => {
                &["forge_abi_version", "forge_alloc", "forge_free", "forge_info", "forge_init", "forge_delete"]
            }
            (Code::Native(_), Kind::Mutator) => &["forge_native_* (mutate)"],
            (Code::Native(_), Kind::DeleteBehavior) => &["forge_native_* (delete)"],
        }
    }

    /// A running instance: `init` has been called with `config` and the schema.
    pub fn start(
        &self,
        rt: &Runtime,
        schema: Arc<SchemaAccess>,
        config: Vec<(String, String)>,
        seed: u64,
    ) -> Result<Box<dyn Plugin>, PluginError> {
        let label = self.info.name.as_str();
        Ok(match &self.code {
            Code::Component(c) => Box::new(component::ComponentPlugin::start(rt, c, label, schema, config, seed)?),
            Code::Core(c) => Box::new(core_module::CorePlugin::start(rt, c.clone(), label, schema, config, seed)?),
            Code::Native(lib) => Box::new(native::NativePlugin::start(lib.clone(), label, schema, config)?),
        })
    }
}

/// Loads WebAssembly bytes, a component or a core module (told apart by their header).
pub fn load_wasm(rt: &Runtime, bytes: &[u8], label: &str, origin: Origin) -> Result<Loaded, PluginError> {
    if !bytes.starts_with(b"\0asm") {
        return Err(PluginError::load(label, "is not a WebAssembly file (no \\0asm header)"));
    }
    let is_component = wasmparser::Parser::is_component(bytes);
    let compiled = rt.compile(label, bytes, is_component)?;
    let (info, code) = match compiled {
        runtime::Compiled::Component(c) => {
            let code = component::load(rt, c, label)?;
            (code.info.clone(), Code::Component(Arc::new(code)))
        }
        runtime::Compiled::Module(m) => {
            let code = core_module::load(rt, m, label)?;
            (code.info.clone(), Code::Core(Arc::new(code)))
        }
    };
    Ok(Loaded { info, origin, code })
}

pub fn load_file(rt: &Runtime, path: &Path) -> Result<Loaded, PluginError> {
    let label = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| PluginError::load(&label, format!("cannot read: {e}")))?;
    load_wasm(rt, &bytes, &label, Origin::File(path.to_owned()))
}

pub fn load_native(path: &Path) -> Result<Loaded, PluginError> {
    let label = path.display().to_string();
    let lib = native::NativeLib::load(path, &label)?;
    Ok(Loaded { info: lib.info.clone(), origin: Origin::Native(path.to_owned()), code: Code::Native(lib) })
}

/// The plugins a run can choose from: the built-ins (loaded when first asked for) and
/// the `--plugin`/`--native-plugin` files (loaded up front, so bad ones fail at once).
pub struct Registry {
    pub runtime: Runtime,
    loaded: Vec<Arc<Loaded>>,
}

impl Registry {
    pub fn new(runtime: Runtime, files: &[PathBuf], natives: &[PathBuf]) -> Result<Self, PluginError> {
        let mut loaded: Vec<Arc<Loaded>> = Vec::new();
        let all = files.iter().map(|p| load_file(&runtime, p)).chain(natives.iter().map(|p| load_native(p)));
        for plugin in all {
            let plugin = plugin?;
            if let Some(other) = loaded.iter().find(|l| l.info.name == plugin.info.name) {
                return Err(PluginError::load(
                    plugin.origin.to_string(),
                    format!("is named '{}' like {}; names must be unique", plugin.info.name, other.origin),
                ));
            }
            loaded.push(Arc::new(plugin));
        }
        Ok(Registry { runtime, loaded })
    }

    /// The plugin named `name` of `kind`: a loaded file first (it may replace a
    /// built-in), then a built-in.
    pub fn find(&mut self, name: &str, kind: Kind) -> Result<Arc<Loaded>, PluginError> {
        if let Some(l) = self.loaded.iter().find(|l| l.info.name == name) {
            if l.info.kind != kind {
                return Err(PluginError::load(name, format!("is a {}, not a {}", l.info.kind.name(), kind.name())));
            }
            return Ok(l.clone());
        }
        if let Some(b) = builtin::find(name) {
            let l = Arc::new(load_wasm(&self.runtime, b.wasm, name, Origin::Builtin)?);
            if l.info.kind != kind {
                return Err(PluginError::load(name, format!("is a {}, not a {}", l.info.kind.name(), kind.name())));
            }
            self.loaded.push(l.clone());
            return Ok(l);
        }
        let names = self.names(kind);
        Err(PluginError::load(name, format!("no {} by that name (available: {names})", kind.name())))
    }

    /// Every plugin of `kind` this run knows, built-ins first.
    pub fn names(&self, kind: Kind) -> String {
        let builtins: &[&str] = match kind {
            Kind::Mutator => &["regenerate", "partial", "increment", "mixed"],
            Kind::DeleteBehavior => &["remove", "keep", "tombstone"],
        };
        let mut names: Vec<String> = builtins.iter().map(|s| s.to_string()).collect();
        for l in &self.loaded {
            if l.info.kind == kind && !names.contains(&l.info.name) {
                names.push(l.info.name.clone());
            }
        }
        names.join(", ")
    }

    /// The names of the loaded (non-built-in) plugins, to check `--plugin-arg`s against.
    pub fn is_known(&self, name: &str) -> bool {
        builtin::find(name).is_some() || self.loaded.iter().any(|l| l.info.name == name)
    }
}
