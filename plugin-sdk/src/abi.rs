//! The fallback ABI (ABI.md): what `export_mutator!` exports when the target is not a
//! component: a wasm32 core module (`forge_*`, pointers packed into an i64) or a native
//! `cdylib` (`forge_native_*`, lengths through out-pointers). Both carry the BSON
//! messages of [`crate::wire`].

use std::alloc::Layout;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::{Config, Context, Error, Info, Target, wire};

/// `ptr << 32 | len`: how a core module returns a buffer.
pub fn pack(ptr: u32, len: u32) -> i64 {
    ((ptr as u64) << 32 | len as u64) as i64
}

pub fn unpack(v: i64) -> (u32, u32) {
    ((v as u64 >> 32) as u32, v as u32)
}

/// Memory the other side fills and this side owns, freed with [`free`].
pub fn alloc(len: usize) -> *mut u8 {
    if len == 0 {
        return std::ptr::NonNull::dangling().as_ptr();
    }
    // SAFETY: non-zero size, alignment 1.
    unsafe { std::alloc::alloc(Layout::from_size_align_unchecked(len, 1)) }
}

/// # Safety
/// `ptr` came from [`alloc`] with the same `len`.
pub unsafe fn free(ptr: *mut u8, len: usize) {
    if len != 0 && !ptr.is_null() {
        // SAFETY: per the contract above.
        unsafe { std::alloc::dealloc(ptr, Layout::from_size_align_unchecked(len, 1)) }
    }
}

/// A buffer handed to the other side, which frees it with `forge_free`.
pub fn leak(bytes: Vec<u8>) -> (*mut u8, usize) {
    let len = bytes.len();
    let ptr = alloc(len);
    // SAFETY: `ptr` has room for `len` bytes.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), ptr, len) };
    (ptr, len)
}

/// Takes ownership of a buffer the other side filled.
///
/// # Safety
/// `ptr` came from [`alloc`] with `len` bytes, all written.
pub unsafe fn take(ptr: *mut u8, len: usize) -> Vec<u8> {
    // SAFETY: per the contract above.
    let v = unsafe { std::slice::from_raw_parts(ptr, len) }.to_vec();
    unsafe { free(ptr, len) };
    v
}

/// Runs an entry point; a panic becomes an internal error rather than unwinding into
/// the host.
fn guarded(f: impl FnOnce() -> Vec<u8>, on_panic: impl FnOnce(Error) -> Vec<u8>) -> Vec<u8> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|p| {
        let msg = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".into());
        on_panic(Error::internal(format!("panicked: {msg}")))
    })
}

// ---- what the export macros call, whatever the target ----

pub fn info_bytes(info: fn() -> Info) -> Vec<u8> {
    wire::encode_info(&info())
}

/// # Safety
/// `ptr..ptr+len` is readable.
pub unsafe fn init_bytes(ptr: *const u8, len: usize, init: fn(&Config, &str) -> Result<(), Error>) -> Vec<u8> {
    // SAFETY: per the contract above.
    let req = unsafe { std::slice::from_raw_parts(ptr, len) };
    guarded(
        || wire::encode_unit_result(wire::decode_init(req).and_then(|(c, s)| init(&c, &s))),
        |e| wire::encode_unit_result(Err(e)),
    )
}

/// # Safety
/// `ptr..ptr+len` is readable.
pub unsafe fn mutate_bytes(
    ptr: *const u8,
    len: usize,
    call: fn(&Context, &Target) -> Result<crate::Mutation, Error>,
) -> Vec<u8> {
    // SAFETY: per the contract above.
    let req = unsafe { std::slice::from_raw_parts(ptr, len) };
    guarded(
        || wire::encode_mutation_result(wire::decode_call(req).and_then(|(c, t)| call(&c, &t))),
        |e| wire::encode_mutation_result(Err(e)),
    )
}

/// # Safety
/// `ptr..ptr+len` is readable.
pub unsafe fn delete_bytes(
    ptr: *const u8,
    len: usize,
    call: fn(&Context, &Target) -> Result<crate::DeleteAction, Error>,
) -> Vec<u8> {
    // SAFETY: per the contract above.
    let req = unsafe { std::slice::from_raw_parts(ptr, len) };
    guarded(
        || wire::encode_delete_result(wire::decode_call(req).and_then(|(c, t)| call(&c, &t))),
        |e| wire::encode_delete_result(Err(e)),
    )
}

/// The wasm32 form of a returned buffer.
pub fn packed(bytes: Vec<u8>) -> i64 {
    let (ptr, len) = leak(bytes);
    pack(ptr as usize as u32, len as u32)
}

/// The native form of a returned buffer.
///
/// # Safety
/// `out_len` is writable.
pub unsafe fn out(bytes: Vec<u8>, out_len: *mut usize) -> *mut u8 {
    let (ptr, len) = leak(bytes);
    // SAFETY: per the contract above.
    unsafe { *out_len = len };
    ptr
}

/// What a native host gives its plugin (`forge_native_set_host`). Buffers it returns
/// stay valid until the next call into the host.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct NativeHost {
    pub random_u64: extern "C" fn() -> u64,
    pub random_below: extern "C" fn(u64) -> u64,
    pub random_range: extern "C" fn(i64, i64) -> i64,
    pub random_bool: extern "C" fn(f64) -> i32,
    pub random_f64: extern "C" fn() -> f64,
    pub fields: extern "C" fn(*mut usize) -> *const u8,
    pub generate_document: extern "C" fn(*mut usize) -> *const u8,
    pub generate_field: extern "C" fn(*const u8, usize, *mut usize) -> *const u8,
    /// (level: 0 debug … 3 error, message, its length)
    pub log: extern "C" fn(i32, *const u8, usize),
}

#[cfg(not(target_arch = "wasm32"))]
pub(crate) static NATIVE_HOST: std::sync::OnceLock<NativeHost> = std::sync::OnceLock::new();

/// # Safety
/// `host` points to a valid table that outlives the plugin.
#[cfg(not(target_arch = "wasm32"))]
pub unsafe fn set_native_host(host: *const NativeHost) {
    // SAFETY: per the contract above.
    let _ = NATIVE_HOST.set(unsafe { *host });
}

/// The exports of a core module or native library; `$kind_bytes` is `mutate_bytes` or
/// `delete_bytes`, `$wasm_name`/`$native_name` the export it becomes.
#[doc(hidden)]
#[macro_export]
macro_rules! __export_abi {
    ($info:ident, $init:ident, $call:ident, $kind_bytes:ident, $wasm_name:ident, $native_name:ident) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            #[unsafe(no_mangle)]
            pub extern "C" fn forge_abi_version() -> i32 {
                $crate::wire::abi_version_number($crate::CONTRACT_VERSION).unwrap_or(0)
            }
            #[unsafe(no_mangle)]
            pub extern "C" fn forge_alloc(len: u32) -> *mut u8 {
                $crate::abi::alloc(len as usize)
            }
            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn forge_free(ptr: *mut u8, len: u32) {
                unsafe { $crate::abi::free(ptr, len as usize) }
            }
            #[unsafe(no_mangle)]
            pub extern "C" fn forge_info() -> i64 {
                $crate::abi::packed($crate::abi::info_bytes($info))
            }
            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn forge_init(ptr: *const u8, len: u32) -> i64 {
                $crate::abi::packed(unsafe { $crate::abi::init_bytes(ptr, len as usize, $init) })
            }
            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn $wasm_name(ptr: *const u8, len: u32) -> i64 {
                $crate::abi::packed(unsafe { $crate::abi::$kind_bytes(ptr, len as usize, $call) })
            }
        };
        #[cfg(not(target_arch = "wasm32"))]
        const _: () = {
            #[unsafe(no_mangle)]
            pub extern "C" fn forge_native_abi_version() -> i32 {
                $crate::wire::abi_version_number($crate::CONTRACT_VERSION).unwrap_or(0)
            }
            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn forge_native_set_host(host: *const $crate::abi::NativeHost) {
                unsafe { $crate::abi::set_native_host(host) }
            }
            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn forge_native_free(ptr: *mut u8, len: usize) {
                unsafe { $crate::abi::free(ptr, len) }
            }
            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn forge_native_info(out_len: *mut usize) -> *mut u8 {
                unsafe { $crate::abi::out($crate::abi::info_bytes($info), out_len) }
            }
            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn forge_native_init(ptr: *const u8, len: usize, out_len: *mut usize) -> *mut u8 {
                unsafe { $crate::abi::out($crate::abi::init_bytes(ptr, len, $init), out_len) }
            }
            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn $native_name(ptr: *const u8, len: usize, out_len: *mut usize) -> *mut u8 {
                unsafe { $crate::abi::out($crate::abi::$kind_bytes(ptr, len, $call), out_len) }
            }
        };
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __export_mutator_backend {
    ($info:ident, $init:ident, $call:ident) => {
        $crate::__export_abi!($info, $init, $call, mutate_bytes, forge_mutate, forge_native_mutate);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __export_delete_backend {
    ($info:ident, $init:ident, $call:ident) => {
        $crate::__export_abi!($info, $init, $call, delete_bytes, forge_delete, forge_native_delete);
    };
}
