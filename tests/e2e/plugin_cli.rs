//! `forge plugin …` and the plugin flags' errors, without a database.

use crate::support::{Forge, Output};

#[test]
fn list_shows_every_builtin_with_its_kind_and_contract() {
    let out = Forge::plugin("list").arg("--plugin-cache", "off").run().success().stdout;
    for (name, kind) in [
        ("regenerate", "mutator"),
        ("partial", "mutator"),
        ("increment", "mutator"),
        ("tombstone", "delete-behavior"),
        ("remove", "delete-behavior"),
        ("keep", "delete-behavior"),
    ] {
        let line = out.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("{name} missing:\n{out}"));
        assert!(line.contains(kind) && line.contains("0.2.0") && line.contains("component"), "{line}");
    }
}

#[test]
fn unknown_names_and_arguments_are_one_line_usage_errors() {
    let cdc = |name: &str, value: &str| Forge::generate().output("mongo-cdc").seed(1).arg(name, value).run();
    let refused = |out: Output, words: &[&str]| {
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert!(words.iter().all(|w| out.stderr.contains(w)), "{words:?} not in {}", out.stderr);
    };
    refused(cdc("--update-strategy", "shuffle"), &["--update-strategy", "regenerate, partial, increment, mixed"]);
    refused(cdc("--delete-behavior", "partial"), &["is a mutator, not a delete-behavior"]);
    refused(cdc("--plugin-arg", "nosuch.x=1"), &["no plugin is named 'nosuch'"]);
    refused(cdc("--plugin-arg", "partial"), &["expected name.key=value"]);
    refused(
        cdc("--plugin-arg", "partial.unset-rate=lots"),
        &["plugin 'partial', export 'init'", "unset-rate: cannot use 'lots'"],
    );
}

#[test]
fn a_component_of_another_contract_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("next.wasm");
    let wasm =
        wat::parse_str(r#"(component (instance $i) (export "forge:plugin/mutator@0.3.0" (instance $i)))"#).unwrap();
    std::fs::write(&file, wasm).unwrap();
    let out = Forge::plugin("inspect").raw(&[file.to_str().unwrap()]).run();
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("built against plugin contract 0.3.0; this forge supports 0.2.0"), "{}", out.stderr);
}

#[test]
fn plugins_built_against_contract_0_1_are_refused_in_one_line_naming_both_versions() {
    let dir = tempfile::tempdir().unwrap();
    // A 0.1.0 core module: forge_abi_version 100, and 0.1.0's `log` without a level.
    let core = wat::parse_str(
        r#"(module (import "forge" "log" (func (param i32 i32))) (memory (export "memory") 1)
             (func (export "forge_abi_version") (result i32) (i32.const 100))
             (func (export "forge_alloc") (param i32) (result i32) (i32.const 1024))
             (func (export "forge_free") (param i32 i32))
             (func (export "forge_info") (result i64) unreachable)
             (func (export "forge_init") (param i32 i32) (result i64) unreachable)
             (func (export "forge_mutate") (param i32 i32) (result i64) unreachable))"#,
    )
    .unwrap();
    let core_file = dir.path().join("old-core.wasm");
    std::fs::write(&core_file, core).unwrap();
    // The built-in `partial` as committed before contract 0.2.0: it imports
    // forge:plugin/host@0.1.0, which this forge does not link.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let component_file = root.join("tests/fixtures/plugins/partial-contract-0.1.0.wasm");
    for file in [&core_file, &component_file] {
        let out = Forge::plugin("inspect").arg("--plugin-cache", "off").raw(&[file.to_str().unwrap()]).run();
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
        assert!(out.stderr.contains(file.to_str().unwrap()), "{}", out.stderr);
        assert!(
            out.stderr.contains("was built against plugin contract 0.1.0; this forge supports 0.2.0"),
            "{}",
            out.stderr
        );
    }
}

#[test]
fn compiled_code_is_cached_and_a_damaged_cache_entry_is_rebuilt() {
    let (cache, dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // The built-in `remove` component, written out.
    let plugin = dir.path().join("remove.wasm");
    std::fs::write(&plugin, forge::plugin::builtin::find("remove").unwrap().wasm).unwrap();
    let plugin = plugin.to_str().unwrap();
    let test = || Forge::plugin("test").arg("--plugin-cache", cache.path()).raw(&[plugin]).count(2).run();
    let out = test().success().stdout;
    let entries: Vec<_> = std::fs::read_dir(cache.path()).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    std::fs::write(&entries[0], b"not compiled code").unwrap();
    let again = test().success().stdout;
    assert_eq!(out, again, "same seed, same writes");
    assert!(std::fs::metadata(&entries[0]).unwrap().len() > 1000, "the damaged entry was rebuilt");
}

#[test]
fn the_sdk_readme_shows_the_example_crate_it_points_to() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(root.join("plugin-sdk/README.md")).unwrap();
    let code = std::fs::read_to_string(root.join("plugins/examples/rust-price-drift/src/lib.rs")).unwrap();
    assert!(
        readme.contains(&format!("```rust\n{code}```")),
        "plugin-sdk/README.md and rust-price-drift/src/lib.rs differ"
    );
}
