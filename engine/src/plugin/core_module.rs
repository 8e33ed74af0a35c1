//! Core WebAssembly modules speaking the fallback ABI (plugin-sdk/ABI.md), for
//! languages without component tooling: BSON in, BSON out, buffers packed in an i64.

use std::sync::Arc;

use forge_plugin_sdk::{DeleteAction, Info, Kind, Mutation, wire};
use wasmtime::{Caller, Extern, InstancePre, Linker, Memory, Module, Store, TypedFunc};

use super::error::{Failure, PluginError};
use super::host_calls::{HostCalls, SchemaAccess};
use super::runtime::{Runtime, State, classify};
use super::{Call, Plugin, check_contract, check_info, delete_answer, mutation_answer};

/// WASI preview 1 calls a plugin may import: no files beyond stdio, no sockets.
fn wasi_allowed(name: &str) -> bool {
    !(name.starts_with("path_") || name.starts_with("fd_prestat") || name.starts_with("sock_"))
}

const FORGE_IMPORTS: &[&str] = &[
    "random_u64",
    "random_below",
    "random_range",
    "random_bool",
    "random_f64",
    "fields",
    "generate_document",
    "generate_field",
    "log",
];

pub struct CoreCode {
    pre: InstancePre<State>,
    pub info: Info,
    pub imports: Vec<String>,
    wasi: bool,
}

pub fn load(rt: &Runtime, module: Module, label: &str) -> Result<CoreCode, PluginError> {
    let mut wasi = false;
    for import in module.imports() {
        let (m, n) = (import.module(), import.name());
        let ok = match m {
            "forge" => FORGE_IMPORTS.contains(&n),
            "wasi_snapshot_preview1" => {
                wasi = true;
                wasi_allowed(n)
            }
            _ => false,
        };
        if !ok {
            return Err(PluginError::load(
                label,
                format!(
                    "imports '{m}.{n}'; a core-module plugin may import the forge host functions and WASI preview 1 without files or sockets"
                ),
            ));
        }
    }
    if module.get_export("forge_abi_version").is_none() {
        return Err(PluginError::load(
            label,
            "exports no forge_abi_version: not a forge plugin (see plugin-sdk/ABI.md)",
        ));
    }
    let kind = match (module.get_export("forge_mutate").is_some(), module.get_export("forge_delete").is_some()) {
        (true, false) => Kind::Mutator,
        (false, true) => Kind::DeleteBehavior,
        _ => {
            return Err(PluginError::load(label, "must export exactly one of forge_mutate and forge_delete"));
        }
    };
    // The version first, before linking: a module of another contract may import the
    // host functions with other signatures, and its version is the error to report.
    check_contract(label, &wire::abi_version_string(probe_abi_version(rt, &module, label, wasi)?))?;
    let mut linker: Linker<State> = Linker::new(&rt.engine);
    if wasi {
        wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |s: &mut State| s.p1.as_mut().expect("core stores have p1"))
            .map_err(|e| PluginError::load(label, format!("{e:#}")))?;
    }
    add_forge_imports(&mut linker).map_err(|e| PluginError::load(label, format!("{e:#}")))?;
    let pre =
        linker.instantiate_pre(&module).map_err(|e| PluginError::load(label, format!("cannot be linked: {e:#}")))?;
    let imports = module.imports().map(|i| format!("{}.{}", i.module(), i.name())).collect();
    let mut code = CoreCode { pre, info: Info::new("", kind, ""), imports, wasi };
    let mut instance = Instance::new(rt, &code, HostCalls::new(label.into(), None), 0, label)?;
    code.info = instance.info(rt, label, kind)?;
    Ok(code)
}

/// What `forge_abi_version` answers, from an instance whose forge imports all trap
/// (it must answer without calling any).
fn probe_abi_version(rt: &Runtime, module: &Module, label: &str, wasi: bool) -> Result<i32, PluginError> {
    let load = |e: wasmtime::Error| PluginError::load(label, format!("{e:#}"));
    let call = |export: &'static str, e: wasmtime::Error| PluginError {
        plugin: label.into(),
        export,
        op: None,
        failure: classify(&e, &rt.limits),
    };
    // WASI (whose signatures do not change between contracts) is linked as in a real
    // instance, so a reactor's `_initialize` can start its runtime: Go's exports trap
    // until it has.
    let mut linker: Linker<State> = Linker::new(&rt.engine);
    if wasi {
        wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |s: &mut State| s.p1.as_mut().expect("core stores have p1"))
            .map_err(load)?;
    }
    linker.define_unknown_imports_as_traps(module).map_err(load)?;
    let mut store = rt.store(HostCalls::new(label.into(), None), 0, wasi);
    let instance = linker.instantiate(&mut store, module).map_err(|e| call("instantiate", e))?;
    if let Ok(init) = instance.get_typed_func::<(), ()>(&mut store, "_initialize") {
        rt.arm(&mut store);
        init.call(&mut store, ()).map_err(|e| call("_initialize", e))?;
    }
    let f = instance
        .get_typed_func::<(), i32>(&mut store, "forge_abi_version")
        .map_err(|_| PluginError::load(label, "forge_abi_version must be () -> i32"))?;
    rt.arm(&mut store);
    f.call(&mut store, ()).map_err(|e| call("forge_abi_version", e))
}

/// Reads the packed (ptr, len) buffer a guest returned, checking it lies in memory.
fn read(memory: &Memory, store: &Store<State>, packed: i64) -> Result<Vec<u8>, String> {
    let (ptr, len) = forge_plugin_sdk::abi::unpack(packed);
    let data = memory.data(store);
    let (start, end) = (ptr as usize, ptr as usize + len as usize);
    data.get(start..end).map(<[u8]>::to_vec).ok_or_else(|| format!("returned {len} bytes at {ptr}, outside its memory"))
}

/// Copies `bytes` into a buffer from the guest's `forge_alloc`; returns it packed.
fn give(caller: &mut Caller<'_, State>, bytes: &[u8]) -> wasmtime::Result<i64> {
    let Some(Extern::Func(alloc)) = caller.get_export("forge_alloc") else {
        wasmtime::bail!("the plugin exports no forge_alloc");
    };
    let alloc = alloc.typed::<u32, u32>(&caller)?;
    let ptr = alloc.call(&mut *caller, bytes.len() as u32)?;
    let Some(Extern::Memory(memory)) = caller.get_export("memory") else {
        wasmtime::bail!("the plugin exports no memory");
    };
    memory.write(&mut *caller, ptr as usize, bytes)?;
    Ok(forge_plugin_sdk::abi::pack(ptr, bytes.len() as u32))
}

fn guest_str(caller: &mut Caller<'_, State>, ptr: u32, len: u32) -> wasmtime::Result<String> {
    let Some(Extern::Memory(memory)) = caller.get_export("memory") else {
        wasmtime::bail!("the plugin exports no memory");
    };
    let mut buf = vec![0u8; len as usize];
    memory.read(&*caller, ptr as usize, &mut buf)?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

fn add_forge_imports(linker: &mut Linker<State>) -> wasmtime::Result<()> {
    linker.func_wrap("forge", "random_u64", |mut c: Caller<'_, State>| c.data_mut().host.random_u64() as i64)?;
    linker.func_wrap("forge", "random_below", |mut c: Caller<'_, State>, n: i64| {
        c.data_mut().host.random_below(n as u64) as i64
    })?;
    linker.func_wrap("forge", "random_range", |mut c: Caller<'_, State>, lo: i64, hi: i64| {
        c.data_mut().host.random_range(lo, hi)
    })?;
    linker.func_wrap("forge", "random_bool", |mut c: Caller<'_, State>, p: f64| {
        c.data_mut().host.random_bool(p) as i32
    })?;
    linker.func_wrap("forge", "random_f64", |mut c: Caller<'_, State>| c.data_mut().host.random_f64())?;
    linker.func_wrap("forge", "fields", |mut c: Caller<'_, State>| {
        let bytes = wire::encode_fields(c.data().host.fields());
        give(&mut c, &bytes)
    })?;
    linker.func_wrap("forge", "generate_document", |mut c: Caller<'_, State>| {
        let bytes = wire::encode_document(&c.data_mut().host.generate_document());
        give(&mut c, &bytes)
    })?;
    linker.func_wrap("forge", "generate_field", |mut c: Caller<'_, State>, ptr: u32, len: u32| {
        let path = guest_str(&mut c, ptr, len)?;
        let bytes = wire::encode_value(c.data_mut().host.generate_field(&path).map_err(|e| e.to_string()));
        give(&mut c, &bytes)
    })?;
    linker.func_wrap("forge", "log", |mut c: Caller<'_, State>, level: i32, ptr: u32, len: u32| {
        let message = guest_str(&mut c, ptr, len.min(4096))?;
        c.data_mut().host.log(forge_plugin_sdk::Level::from_number(level), &message);
        Ok(())
    })?;
    Ok(())
}

struct Instance {
    store: Store<State>,
    memory: Memory,
    alloc: TypedFunc<u32, u32>,
    free: TypedFunc<(u32, u32), ()>,
    instance: wasmtime::Instance,
}

impl Instance {
    fn new(rt: &Runtime, code: &CoreCode, host: HostCalls, seed: u64, label: &str) -> Result<Self, PluginError> {
        let err = |export: &'static str, e: wasmtime::Error| PluginError {
            plugin: label.into(),
            export,
            op: None,
            failure: classify(&e, &rt.limits),
        };
        let missing = |what: &str| PluginError::load(label, format!("exports no {what} (see plugin-sdk/ABI.md)"));
        let mut store = rt.store(host, seed, code.wasi);
        let instance = code.pre.instantiate(&mut store).map_err(|e| err("instantiate", e))?;
        // C, Go and Zig reactors set up their runtime here.
        if let Ok(init) = instance.get_typed_func::<(), ()>(&mut store, "_initialize") {
            init.call(&mut store, ()).map_err(|e| err("_initialize", e))?;
        }
        let memory = instance.get_memory(&mut store, "memory").ok_or_else(|| missing("memory"))?;
        let alloc =
            instance.get_typed_func(&mut store, "forge_alloc").map_err(|_| missing("forge_alloc(i32) -> i32"))?;
        let free = instance.get_typed_func(&mut store, "forge_free").map_err(|_| missing("forge_free(i32, i32)"))?;
        Ok(Instance { store, memory, alloc, free, instance })
    }

    /// `forge_info`, decoded and checked against the exports' kind.
    fn info(&mut self, rt: &Runtime, label: &str, kind: Kind) -> Result<Info, PluginError> {
        let bytes = self.call_packed(rt, label, "info", None, None)?;
        let info = wire::decode_info(&bytes).map_err(|m| PluginError::load(label, format!("forge_info: {m}")))?;
        check_info(label, &info, kind)?;
        Ok(info)
    }

    /// Calls `forge_<export>` with `request` (none for info) and returns its answer.
    fn call_packed(
        &mut self,
        rt: &Runtime,
        label: &str,
        export: &'static str,
        op: Option<u64>,
        request: Option<&[u8]>,
    ) -> Result<Vec<u8>, PluginError> {
        let fail = |failure| PluginError { plugin: label.into(), export, op, failure };
        rt.arm(&mut self.store);
        let name = format!("forge_{}", export.replace('-', "_"));
        let packed = match request {
            None => {
                let f = self
                    .instance
                    .get_typed_func::<(), i64>(&mut self.store, &name)
                    .map_err(|_| fail(Failure::Load(format!("{name} must be () -> i64"))))?;
                f.call(&mut self.store, ()).map_err(|e| fail(classify(&e, &rt.limits)))?
            }
            Some(req) => {
                let f = self
                    .instance
                    .get_typed_func::<(u32, u32), i64>(&mut self.store, &name)
                    .map_err(|_| fail(Failure::Load(format!("{name} must be (i32, i32) -> i64"))))?;
                let len = req.len() as u32;
                let ptr = self.alloc.call(&mut self.store, len).map_err(|e| fail(classify(&e, &rt.limits)))?;
                self.memory
                    .write(&mut self.store, ptr as usize, req)
                    .map_err(|_| fail(Failure::BadReturn(format!("forge_alloc gave {ptr}, outside its memory"))))?;
                let packed = f.call(&mut self.store, (ptr, len)).map_err(|e| fail(classify(&e, &rt.limits)))?;
                self.free.call(&mut self.store, (ptr, len)).map_err(|e| fail(classify(&e, &rt.limits)))?;
                packed
            }
        };
        let bytes = read(&self.memory, &self.store, packed).map_err(|m| fail(Failure::BadReturn(m)))?;
        let (ptr, len) = forge_plugin_sdk::abi::unpack(packed);
        self.free.call(&mut self.store, (ptr, len)).map_err(|e| fail(classify(&e, &rt.limits)))?;
        Ok(bytes)
    }
}

pub struct CorePlugin {
    rt: Runtime,
    code: Arc<CoreCode>,
    /// The info after `init`.
    info: Info,
    label: Arc<str>,
    schema: Arc<SchemaAccess>,
    config: forge_plugin_sdk::Config,
    seed: u64,
    instance: Option<Instance>,
}

impl CorePlugin {
    pub fn start(
        rt: &Runtime,
        code: Arc<CoreCode>,
        label: &str,
        schema: Arc<SchemaAccess>,
        config: Vec<(String, String)>,
        seed: u64,
    ) -> Result<Self, PluginError> {
        let mut p = CorePlugin {
            rt: rt.clone(),
            info: code.info.clone(),
            code,
            label: label.into(),
            schema,
            config: forge_plugin_sdk::Config(config.into_iter().collect()),
            seed,
            instance: None,
        };
        let (rt, label, kind) = (p.rt.clone(), p.label.clone(), p.info.kind);
        p.info = p.instance()?.info(&rt, &label, kind)?;
        Ok(p)
    }

    fn instance(&mut self) -> Result<&mut Instance, PluginError> {
        if self.instance.is_none() {
            let host = HostCalls::new(self.label.clone(), Some(self.schema.clone()));
            let mut instance = Instance::new(&self.rt, &self.code, host, self.seed, &self.label)?;
            let req = wire::encode_init(&self.config, &self.schema.text);
            let answer = instance.call_packed(&self.rt, &self.label, "init", None, Some(&req))?;
            let bad = |m| PluginError {
                plugin: self.label.to_string(),
                export: "init",
                op: None,
                failure: Failure::BadReturn(m),
            };
            wire::decode_unit_result(&answer).map_err(bad)?.map_err(|e| PluginError {
                plugin: self.label.to_string(),
                export: "init",
                op: None,
                failure: Failure::Plugin { kind: e.kind.name(), message: e.message },
            })?;
            self.instance = Some(instance);
        }
        Ok(self.instance.as_mut().expect("made above"))
    }

    fn call(&mut self, export: &'static str, call: &mut Call<'_>) -> Result<Vec<u8>, PluginError> {
        let req = wire::encode_call(&call.ctx, call.id, call.current.map(|d| d.as_bytes()));
        let (rt, label) = (self.rt.clone(), self.label.clone());
        let instance = self.instance()?;
        instance.store.data_mut().host.rng = call.rng.clone();
        let r = instance.call_packed(&rt, &label, export, Some(call.ctx.op_index), Some(&req));
        *call.rng = instance.store.data().host.rng.clone();
        if r.is_err() {
            // A trapped or broken instance is not reused.
            self.instance = None;
        }
        r
    }
}

impl Plugin for CorePlugin {
    fn info(&self) -> &Info {
        &self.info
    }

    fn mutate(&mut self, mut call: Call<'_>) -> Result<Mutation, PluginError> {
        let bytes = self.call("mutate", &mut call)?;
        mutation_answer(&self.label, &call, &bytes)
    }

    fn on_delete(&mut self, mut call: Call<'_>) -> Result<DeleteAction, PluginError> {
        let bytes = self.call("delete", &mut call)?;
        delete_answer(&self.label, &self.info, &call, &bytes)
    }
}
