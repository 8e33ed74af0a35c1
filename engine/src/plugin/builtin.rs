//! The built-in plugins, compiled from plugins/* by engine/build.rs and embedded.

pub struct Builtin {
    pub name: &'static str,
    /// The component, as built for wasm32-wasip2.
    pub wasm: &'static [u8],
    /// Where the build left the same crate as a native library (for `forge bench`);
    /// it exists only on the machine that built forge.
    pub native: &'static str,
}

pub static BUILTINS: &[Builtin] = include!(concat!(env!("OUT_DIR"), "/builtins.rs"));

pub fn find(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.name == name)
}
