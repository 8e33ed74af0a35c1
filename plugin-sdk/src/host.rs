//! What forge gives a plugin during a call: a random source re-seeded from the op
//! context before every call (so every language draws the same stream for the same
//! seed) and schema-driven values.

use bson::{Bson, Document};

use crate::{Field, Level};

/// 64 random bits.
pub fn random_u64() -> u64 {
    imp::random_u64()
}

/// Uniform in `[0, n)`; `n` must be positive.
pub fn random_below(n: u64) -> u64 {
    imp::random_below(n)
}

/// Uniform in `[lo, hi]`, both included.
pub fn random_range(lo: i64, hi: i64) -> i64 {
    imp::random_range(lo, hi)
}

/// True with probability `p`.
pub fn random_bool(p: f64) -> bool {
    imp::random_bool(p)
}

/// Uniform in `[0, 1)`.
pub fn random_f64() -> f64 {
    imp::random_f64()
}

/// One of `items`, uniformly; `None` when empty.
pub fn choose<T>(items: &[T]) -> Option<&T> {
    (!items.is_empty()).then(|| &items[random_below(items.len() as u64) as usize])
}

/// The schema's fields, `_id` excluded.
pub fn fields() -> Vec<Field> {
    imp::fields()
}

/// A fresh document from the schema, `_id` excluded.
pub fn generate_document() -> Document {
    crate::wire::decode_document(&imp::generate_document())
}

/// A fresh value for the field at `path` (dotted); an error names an unknown path.
pub fn generate_field(path: &str) -> Result<Bson, String> {
    imp::generate_field(path)
}

/// A line in forge's log at `level` (rate-limited by forge).
pub fn log(level: Level, message: &str) {
    imp::log(level, message)
}

/// A debug line in forge's log (shown with `RUST_LOG=debug`).
pub fn debug(message: &str) {
    log(Level::Debug, message)
}

/// An info line in forge's log.
pub fn info(message: &str) {
    log(Level::Info, message)
}

/// A warning in forge's log.
pub fn warn(message: &str) {
    log(Level::Warn, message)
}

/// An error line in forge's log (the call's outcome is what it returns, not this).
pub fn error(message: &str) {
    log(Level::Error, message)
}

#[cfg(all(target_arch = "wasm32", target_env = "p2"))]
use crate::component::host as imp;

#[cfg(all(target_arch = "wasm32", not(target_env = "p2")))]
mod imp {
    //! Core module: imports from the "forge" module.
    use crate::abi::{take, unpack};

    #[link(wasm_import_module = "forge")]
    unsafe extern "C" {
        #[link_name = "random_u64"]
        fn forge_random_u64() -> i64;
        #[link_name = "random_below"]
        fn forge_random_below(n: i64) -> i64;
        #[link_name = "random_range"]
        fn forge_random_range(lo: i64, hi: i64) -> i64;
        #[link_name = "random_bool"]
        fn forge_random_bool(p: f64) -> i32;
        #[link_name = "random_f64"]
        fn forge_random_f64() -> f64;
        #[link_name = "fields"]
        fn forge_fields() -> i64;
        #[link_name = "generate_document"]
        fn forge_generate_document() -> i64;
        #[link_name = "generate_field"]
        fn forge_generate_field(ptr: *const u8, len: u32) -> i64;
        #[link_name = "log"]
        fn forge_log(level: i32, ptr: *const u8, len: u32);
    }

    fn owned(packed: i64) -> Vec<u8> {
        let (ptr, len) = unpack(packed);
        // SAFETY: the host filled a buffer it got from our forge_alloc.
        unsafe { take(ptr as usize as *mut u8, len as usize) }
    }

    pub fn random_u64() -> u64 {
        unsafe { forge_random_u64() as u64 }
    }
    pub fn random_below(n: u64) -> u64 {
        unsafe { forge_random_below(n as i64) as u64 }
    }
    pub fn random_range(lo: i64, hi: i64) -> i64 {
        unsafe { forge_random_range(lo, hi) }
    }
    pub fn random_bool(p: f64) -> bool {
        unsafe { forge_random_bool(p) != 0 }
    }
    pub fn random_f64() -> f64 {
        unsafe { forge_random_f64() }
    }
    pub fn fields() -> Vec<crate::Field> {
        crate::wire::decode_fields(&owned(unsafe { forge_fields() }))
    }
    pub fn generate_document() -> Vec<u8> {
        owned(unsafe { forge_generate_document() })
    }
    pub fn generate_field(path: &str) -> Result<bson::Bson, String> {
        crate::wire::decode_value(&owned(unsafe { forge_generate_field(path.as_ptr(), path.len() as u32) }))
    }
    pub fn log(level: crate::Level, message: &str) {
        unsafe { forge_log(level.number(), message.as_ptr(), message.len() as u32) }
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    //! Native library: the table forge passed to `forge_native_set_host`.
    use crate::abi::{NATIVE_HOST, NativeHost};

    fn host() -> &'static NativeHost {
        NATIVE_HOST.get().expect("forge_native_set_host is called before any plugin code")
    }

    fn borrowed(f: impl FnOnce(*mut usize) -> *const u8) -> Vec<u8> {
        let mut len = 0usize;
        let ptr = f(&mut len);
        if ptr.is_null() {
            return Vec::new();
        }
        // SAFETY: the host's buffer is valid until the next host call.
        unsafe { std::slice::from_raw_parts(ptr, len) }.to_vec()
    }

    pub fn random_u64() -> u64 {
        (host().random_u64)()
    }
    pub fn random_below(n: u64) -> u64 {
        (host().random_below)(n)
    }
    pub fn random_range(lo: i64, hi: i64) -> i64 {
        (host().random_range)(lo, hi)
    }
    pub fn random_bool(p: f64) -> bool {
        (host().random_bool)(p) != 0
    }
    pub fn random_f64() -> f64 {
        (host().random_f64)()
    }
    pub fn fields() -> Vec<crate::Field> {
        crate::wire::decode_fields(&borrowed(|len| (host().fields)(len)))
    }
    pub fn generate_document() -> Vec<u8> {
        borrowed(|len| (host().generate_document)(len))
    }
    pub fn generate_field(path: &str) -> Result<bson::Bson, String> {
        crate::wire::decode_value(&borrowed(|len| (host().generate_field)(path.as_ptr(), path.len(), len)))
    }
    pub fn log(level: crate::Level, message: &str) {
        (host().log)(level.number(), message.as_ptr(), message.len())
    }
}
