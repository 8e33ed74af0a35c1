//! The wasmtime engine every WebAssembly plugin of a run shares: its configuration
//! (epoch deadlines, pooling, no async concurrency), the 1 ms epoch ticker, the store
//! each instance lives in, and the on-disk cache of compiled code.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, StoreLimits, StoreLimitsBuilder,
};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::{ResourceTable, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::PluginError;
use super::host_calls::HostCalls;

/// How plugins run: from the `--plugin-*` flags.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Longest one call may run.
    pub timeout: Duration,
    /// Most linear memory one instance may have, in bytes.
    pub memory: u64,
    /// Where compiled code is cached; `None` compiles every time.
    pub cache_dir: Option<PathBuf>,
    /// Let components import `wasi:filesystem` and `wasi:sockets`, linked with no
    /// directory to open and no network allowed: interpreters packed as components,
    /// such as componentize-py's, import them without using them.
    pub inert_wasi: bool,
    /// Pass what plugins write to stderr through to forge's (tracebacks, for plugin
    /// authors: `forge plugin test`); otherwise it is dropped.
    pub stderr: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: Duration::from_secs(1),
            memory: 256 << 20,
            cache_dir: default_cache_dir(),
            inert_wasi: false,
            stderr: false,
        }
    }
}

/// `$XDG_CACHE_HOME/forge/plugins`, else `~/.cache/forge/plugins`.
pub fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("forge").join("plugins"))
}

/// What a plugin instance's store holds.
pub struct State {
    pub host: HostCalls,
    wasi: WasiCtx,
    table: ResourceTable,
    /// WASI preview 1, for core modules that import it.
    pub p1: Option<WasiP1Ctx>,
    limits: StoreLimits,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// Epoch ticks per second: the deadline's resolution.
const TICKS_PER_SECOND: u64 = 1000;

#[derive(Clone)]
pub struct Runtime {
    pub engine: Engine,
    pub limits: Arc<Limits>,
}

/// Why the plugin runtime could not start.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("cannot start the WebAssembly engine: {0}")]
    Engine(#[source] wasmtime::Error),
    #[error("cannot start the plugin deadline ticker: {0}")]
    Ticker(#[source] std::io::Error),
}

impl Runtime {
    pub fn new(limits: Limits) -> Result<Self, RuntimeError> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        // Async component calls make every call 2–3× dearer; plugins are plain calls.
        config.concurrency_support(false);
        let mut pool = PoolingAllocationConfig::default();
        pool.total_memories(64)
            .total_tables(256)
            .total_core_instances(256)
            .total_component_instances(64)
            .max_memory_size(limits.memory.max(1 << 16) as usize);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config).or_else(|_| {
            // Some machines refuse the pool's address-space reservation: run without it.
            let mut config = Config::new();
            config.epoch_interruption(true);
            config.concurrency_support(false);
            Engine::new(&config)
        });
        let engine = engine.map_err(RuntimeError::Engine)?;
        let ticker = engine.weak();
        std::thread::Builder::new()
            .name("forge-plugin-epoch".into())
            .spawn(move || {
                while let Some(engine) = ticker.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(Duration::from_micros(1_000_000 / TICKS_PER_SECOND));
                }
            })
            .map_err(RuntimeError::Ticker)?;
        Ok(Runtime { engine, limits: Arc::new(limits) })
    }

    /// A store with nothing granted: no directories, no environment, no sockets, no
    /// inherited stdio, and WASI's random source seeded from `seed`.
    pub fn store(&self, host: HostCalls, seed: u64, core_wasi: bool) -> Store<State> {
        let stderr = self.limits.stderr;
        let build = |b: &mut WasiCtxBuilder| {
            if stderr {
                b.inherit_stderr();
            }
            b.insecure_random_seed(seed as u128)
                .secure_random(<rand_wasi::rngs::StdRng as rand_wasi::SeedableRng>::seed_from_u64(seed))
                .insecure_random(<rand_wasi::rngs::StdRng as rand_wasi::SeedableRng>::seed_from_u64(!seed))
                .allow_tcp(false)
                .allow_udp(false)
                .allow_ip_name_lookup(false);
        };
        let mut b = WasiCtxBuilder::new();
        build(&mut b);
        let wasi = b.build();
        let p1 = core_wasi.then(|| {
            let mut b = WasiCtxBuilder::new();
            build(&mut b);
            b.build_p1()
        });
        let limits =
            StoreLimitsBuilder::new().memory_size(self.limits.memory as usize).trap_on_grow_failure(true).build();
        let mut store = Store::new(&self.engine, State { host, wasi, table: ResourceTable::new(), p1, limits });
        store.limiter(|s| &mut s.limits);
        store.epoch_deadline_trap();
        self.arm(&mut store);
        store
    }

    /// Starts a call's deadline.
    pub fn arm(&self, store: &mut Store<State>) {
        let ticks = (self.limits.timeout.as_micros() as u64 * TICKS_PER_SECOND / 1_000_000).max(1);
        // One tick more: the next tick may come at once.
        store.set_epoch_deadline(ticks + 1);
    }

    /// Compiled code for plugin `label`'s `bytes`, from the cache when it has it.
    pub fn compile(&self, label: &str, bytes: &[u8], component: bool) -> Result<Compiled, PluginError> {
        let path = self.limits.cache_dir.as_ref().map(|dir| dir.join(format!("{:016x}.cwasm", self.cache_key(bytes))));
        if let Some(path) = &path
            && path.exists()
        {
            // SAFETY: the file is one this engine configuration wrote (the key covers it);
            // a damaged or foreign file fails to deserialise and is rebuilt below.
            let loaded = unsafe {
                if component {
                    wasmtime::component::Component::deserialize_file(&self.engine, path).map(Compiled::Component)
                } else {
                    wasmtime::Module::deserialize_file(&self.engine, path).map(Compiled::Module)
                }
            };
            if let Ok(c) = loaded {
                return Ok(c);
            }
        }
        let compiled = if component {
            wasmtime::component::Component::new(&self.engine, bytes).map(Compiled::Component)
        } else {
            wasmtime::Module::new(&self.engine, bytes).map(Compiled::Module)
        }
        .map_err(|e| {
            let form = if component { "component" } else { "module" };
            PluginError::load(label, format!("not a valid WebAssembly {form}: {e:#}"))
        })?;
        if let Some(path) = &path {
            // A cache we cannot write is a slower next start, not a failure.
            let _ = write_cache(path, &compiled);
        }
        Ok(compiled)
    }

    fn cache_key(&self, bytes: &[u8]) -> u64 {
        // DefaultHasher's keys are fixed, so the key is stable for one forge binary.
        let mut h = std::collections::hash_map::DefaultHasher::new();
        env!("CARGO_PKG_VERSION").hash(&mut h);
        self.engine.precompile_compatibility_hash().hash(&mut h);
        bytes.hash(&mut h);
        h.finish()
    }
}

pub enum Compiled {
    Component(wasmtime::component::Component),
    Module(wasmtime::Module),
}

fn write_cache(path: &Path, compiled: &Compiled) -> Result<(), Box<dyn std::error::Error>> {
    let bytes = match compiled {
        Compiled::Component(c) => c.serialize()?,
        Compiled::Module(m) => m.serialize()?,
    };
    std::fs::create_dir_all(path.parent().ok_or("no parent")?)?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// What a failed call's error means.
pub fn classify(e: &wasmtime::Error, limits: &Limits) -> super::error::Failure {
    use super::error::Failure;
    if let Some(trap) = e.downcast_ref::<wasmtime::Trap>() {
        return match trap {
            wasmtime::Trap::Interrupt => Failure::Timeout(limits.timeout),
            wasmtime::Trap::AllocationTooLarge => Failure::OutOfMemory(limits.memory),
            other => Failure::Trap(format!("{other}")),
        };
    }
    let text = format!("{e:#}");
    if text.contains("growing memory") || text.contains("memory limit") {
        Failure::OutOfMemory(limits.memory)
    } else {
        Failure::Trap(text.lines().next().unwrap_or("unknown").to_owned())
    }
}
