//! Native plugins: the same contract as a C ABI `cdylib` (`forge_native_*`, see
//! plugin-sdk/ABI.md), for trusted code only: no sandbox, no deadline, no memory cap.

use std::cell::{Cell, RefCell};
use std::path::Path;
use std::sync::Arc;

use forge_plugin_sdk::abi::NativeHost;
use forge_plugin_sdk::{DeleteAction, Info, Kind, Mutation, wire};
use libloading::Library;

use super::error::{Failure, PluginError};
use super::host_calls::{FieldError, HostCalls, SchemaAccess};
use super::{Call, Plugin, check_contract, check_info, delete_answer, mutation_answer};

type Answer = unsafe extern "C" fn(*const u8, usize, *mut usize) -> *mut u8;

pub struct NativeLib {
    // Kept loaded for as long as any function pointer below may be called.
    _lib: Library,
    pub info: Info,
    free: unsafe extern "C" fn(*mut u8, usize),
    init: Answer,
    call: Answer,
    info_fn: unsafe extern "C" fn(*mut usize) -> *mut u8,
}

thread_local! {
    /// The host state of the call in progress on this thread (the table's functions
    /// have no context argument).
    static CURRENT: Cell<*mut HostCalls> = const { Cell::new(std::ptr::null_mut()) };
    /// The last buffer handed to the plugin, valid until the next host call.
    static LENT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

fn with_host<R>(f: impl FnOnce(&mut HostCalls) -> R, default: R) -> R {
    let ptr = CURRENT.with(Cell::get);
    if ptr.is_null() {
        return default;
    }
    // SAFETY: set by `NativePlugin::enter` for the duration of a call on this thread.
    f(unsafe { &mut *ptr })
}

fn lend(bytes: Vec<u8>, out_len: *mut usize) -> *const u8 {
    LENT.with(|l| {
        let mut l = l.borrow_mut();
        *l = bytes;
        if !out_len.is_null() {
            // SAFETY: the plugin passes a writable length.
            unsafe { *out_len = l.len() };
        }
        l.as_ptr()
    })
}

extern "C" fn h_random_u64() -> u64 {
    with_host(|h| h.random_u64(), 0)
}
extern "C" fn h_random_below(n: u64) -> u64 {
    with_host(|h| h.random_below(n), 0)
}
extern "C" fn h_random_range(lo: i64, hi: i64) -> i64 {
    with_host(|h| h.random_range(lo, hi), lo)
}
extern "C" fn h_random_bool(p: f64) -> i32 {
    with_host(|h| h.random_bool(p) as i32, 0)
}
extern "C" fn h_random_f64() -> f64 {
    with_host(|h| h.random_f64(), 0.0)
}
extern "C" fn h_fields(out_len: *mut usize) -> *const u8 {
    lend(with_host(|h| wire::encode_fields(h.fields()), wire::encode_fields(&[])), out_len)
}
extern "C" fn h_generate_document(out_len: *mut usize) -> *const u8 {
    let doc = with_host(|h| h.generate_document(), bson::Document::new());
    lend(wire::encode_document(&doc), out_len)
}
extern "C" fn h_generate_field(ptr: *const u8, len: usize, out_len: *mut usize) -> *const u8 {
    // SAFETY: the plugin passes a readable UTF-8 path.
    let path = String::from_utf8_lossy(unsafe { std::slice::from_raw_parts(ptr, len) }).into_owned();
    let v = with_host(|h| h.generate_field(&path), Err(FieldError::NoCall)).map_err(|e| e.to_string());
    lend(wire::encode_value(v), out_len)
}
extern "C" fn h_log(level: i32, ptr: *const u8, len: usize) {
    // SAFETY: the plugin passes a readable buffer.
    let msg = String::from_utf8_lossy(unsafe { std::slice::from_raw_parts(ptr, len) }).into_owned();
    with_host(|h| h.log(forge_plugin_sdk::Level::from_number(level), &msg), ())
}

static HOST_TABLE: NativeHost = NativeHost {
    random_u64: h_random_u64,
    random_below: h_random_below,
    random_range: h_random_range,
    random_bool: h_random_bool,
    random_f64: h_random_f64,
    fields: h_fields,
    generate_document: h_generate_document,
    generate_field: h_generate_field,
    log: h_log,
};

impl NativeLib {
    pub fn load(path: &Path, label: &str) -> Result<Arc<NativeLib>, PluginError> {
        let err = |m: String| PluginError::load(label, m);
        // SAFETY: loading runs the library's initialisers; --native-plugin is an explicit
        // statement that the library is trusted.
        let lib = unsafe { Library::new(path) }.map_err(|e| err(format!("cannot load: {e}")))?;
        // SAFETY: the symbols' types are the ABI's; a library without them is refused.
        unsafe {
            let version = lib
                .get::<unsafe extern "C" fn() -> i32>(b"forge_native_abi_version")
                .map_err(|_| err("exports no forge_native_abi_version: not a forge native plugin".into()))?;
            check_contract(label, &wire::abi_version_string(version()))?;
            let set_host = lib
                .get::<unsafe extern "C" fn(*const NativeHost)>(b"forge_native_set_host")
                .map_err(|_| err("exports no forge_native_set_host".into()))?;
            set_host(&HOST_TABLE);
            let info_fn = *lib
                .get::<unsafe extern "C" fn(*mut usize) -> *mut u8>(b"forge_native_info")
                .map_err(|_| err("exports no forge_native_info".into()))?;
            let free = *lib
                .get::<unsafe extern "C" fn(*mut u8, usize)>(b"forge_native_free")
                .map_err(|_| err("exports no forge_native_free".into()))?;
            let init =
                *lib.get::<Answer>(b"forge_native_init").map_err(|_| err("exports no forge_native_init".into()))?;
            let mutate = lib.get::<Answer>(b"forge_native_mutate").ok().map(|f| *f);
            let delete = lib.get::<Answer>(b"forge_native_delete").ok().map(|f| *f);
            let (kind, call) = match (mutate, delete) {
                (Some(m), None) => (Kind::Mutator, m),
                (None, Some(d)) => (Kind::DeleteBehavior, d),
                _ => return Err(err("must export exactly one of forge_native_mutate and forge_native_delete".into())),
            };
            let mut lib = NativeLib { _lib: lib, info: Info::new("", kind, ""), free, init, call, info_fn };
            lib.info = lib.read_info(label, kind)?;
            Ok(Arc::new(lib))
        }
    }

    /// `forge_native_info`, decoded and checked against the exports' kind.
    fn read_info(&self, label: &str, kind: Kind) -> Result<Info, PluginError> {
        let mut len = 0usize;
        // SAFETY: per the ABI, the library returns a buffer it frees with forge_native_free.
        let bytes = unsafe {
            let ptr = (self.info_fn)(&mut len);
            if ptr.is_null() {
                return Err(PluginError::load(label, "forge_native_info returned nothing"));
            }
            let bytes = std::slice::from_raw_parts(ptr, len).to_vec();
            (self.free)(ptr, len);
            bytes
        };
        let info =
            wire::decode_info(&bytes).map_err(|m| PluginError::load(label, format!("forge_native_info: {m}")))?;
        check_info(label, &info, kind)?;
        Ok(info)
    }

    /// # Safety
    /// `f` is one of this library's answer functions.
    unsafe fn answer(&self, f: Answer, request: &[u8]) -> Vec<u8> {
        let mut len = 0usize;
        // SAFETY: per the ABI, the library returns a buffer it frees with forge_native_free.
        unsafe {
            let ptr = f(request.as_ptr(), request.len(), &mut len);
            if ptr.is_null() {
                return Vec::new();
            }
            let v = std::slice::from_raw_parts(ptr, len).to_vec();
            (self.free)(ptr, len);
            v
        }
    }
}

pub struct NativePlugin {
    lib: Arc<NativeLib>,
    /// The info after `init`.
    info: Info,
    label: Arc<str>,
    host: Box<HostCalls>,
}

impl NativePlugin {
    pub fn start(
        lib: Arc<NativeLib>,
        label: &str,
        schema: Arc<SchemaAccess>,
        config: Vec<(String, String)>,
    ) -> Result<Self, PluginError> {
        let text = schema.text.clone();
        let info = lib.info.clone();
        let mut p =
            NativePlugin { lib, info, label: label.into(), host: Box::new(HostCalls::new(label.into(), Some(schema))) };
        let req = wire::encode_init(&forge_plugin_sdk::Config(config.into_iter().collect()), &text);
        let init = p.lib.init;
        let answer = p.enter(|lib| unsafe { lib.answer(init, &req) });
        let fail = |failure| PluginError { plugin: label.into(), export: "init", op: None, failure };
        wire::decode_unit_result(&answer)
            .map_err(|m| fail(Failure::BadReturn(m)))?
            .map_err(|e| fail(Failure::Plugin { kind: e.kind.name(), message: e.message }))?;
        let kind = p.info.kind;
        p.info = p.enter(|lib| lib.read_info(label, kind))?;
        Ok(p)
    }

    fn enter<R>(&mut self, f: impl FnOnce(&NativeLib) -> R) -> R {
        let previous = CURRENT.with(|c| c.replace(&mut *self.host));
        let r = f(&self.lib);
        CURRENT.with(|c| c.set(previous));
        r
    }

    fn call(&mut self, call: &mut Call<'_>) -> Vec<u8> {
        let req = wire::encode_call(&call.ctx, call.id, call.current.map(|d| d.as_bytes()));
        self.host.rng = call.rng.clone();
        let f = self.lib.call;
        // SAFETY: `call` is this library's answer function.
        let answer = self.enter(|lib| unsafe { lib.answer(f, &req) });
        *call.rng = self.host.rng.clone();
        answer
    }
}

impl Plugin for NativePlugin {
    fn info(&self) -> &Info {
        &self.info
    }

    fn mutate(&mut self, mut call: Call<'_>) -> Result<Mutation, PluginError> {
        let bytes = self.call(&mut call);
        mutation_answer(&self.label, &call, &bytes)
    }

    fn on_delete(&mut self, mut call: Call<'_>) -> Result<DeleteAction, PluginError> {
        let bytes = self.call(&mut call);
        delete_answer(&self.label, &self.info, &call, &bytes)
    }
}
