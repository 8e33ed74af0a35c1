//! The built-in plugins, compiled from plugins/* by engine/build.rs and embedded (from
//! their sources when the wasm32-wasip2 target is installed, else the committed copies
//! in plugins/prebuilt/).

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

#[cfg(test)]
mod tests {
    use super::BUILTINS;

    /// The committed components are what a checkout without the wasm target embeds:
    /// they must be exactly what the sources build to.
    #[test]
    fn prebuilt_components_are_what_the_sources_build_to() {
        assert_eq!(
            env!("FORGE_BUILTINS_ORIGIN"),
            "source",
            "this build embedded plugins/prebuilt/, so it cannot check them: install the wasm32-wasip2 \
             target (`rustup target add wasm32-wasip2`) and run the tests again"
        );
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/prebuilt");
        for b in BUILTINS {
            let path = dir.join(format!("{}.wasm", b.name));
            let committed = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(
                committed == b.wasm,
                "{} differs from what plugins/{} builds to: run scripts/update-prebuilt-plugins.sh and commit it",
                path.display(),
                b.name
            );
        }
    }
}
