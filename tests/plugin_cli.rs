//! `forge plugin …` and the plugin flags' errors, without a database.

mod support;

use support::run;

#[test]
fn list_shows_every_builtin_with_its_kind_and_contract() {
    let (code, out, err) = run(&["plugin", "list", "--plugin-cache", "off"]);
    assert_eq!(code, 0, "{err}");
    for (name, kind) in [
        ("regenerate", "mutator"),
        ("partial", "mutator"),
        ("increment", "mutator"),
        ("tombstone", "delete-behavior"),
        ("remove", "delete-behavior"),
        ("keep", "delete-behavior"),
    ] {
        let line = out.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("{name} missing:\n{out}"));
        assert!(line.contains(kind) && line.contains("0.1.0") && line.contains("component"), "{line}");
    }
}

#[test]
fn unknown_names_and_arguments_are_one_line_usage_errors() {
    let (code, _, err) = run(&["generate", "--output", "mongo-cdc", "--seed", "1", "--update-strategy", "shuffle"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--update-strategy") && err.contains("regenerate, partial, increment, mixed"), "{err}");
    let (code, _, err) = run(&["generate", "--output", "mongo-cdc", "--seed", "1", "--delete-behavior", "partial"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is a mutator, not a delete-behavior"), "{err}");
    let (code, _, err) = run(&["generate", "--output", "mongo-cdc", "--seed", "1", "--plugin-arg", "nosuch.x=1"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no plugin is named 'nosuch'"), "{err}");
    let (code, _, err) = run(&["generate", "--output", "mongo-cdc", "--seed", "1", "--plugin-arg", "partial"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("expected name.key=value"), "{err}");
    let (code, _, err) =
        run(&["generate", "--output", "mongo-cdc", "--seed", "1", "--plugin-arg", "partial.unset-rate=lots"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("plugin 'partial', export 'init'") && err.contains("unset-rate: cannot use 'lots'"), "{err}");
}

#[test]
fn a_component_of_another_contract_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("next.wasm");
    let wasm =
        wat::parse_str(r#"(component (instance $i) (export "forge:plugin/mutator@0.2.0" (instance $i)))"#).unwrap();
    std::fs::write(&file, wasm).unwrap();
    let (code, _, err) = run(&["plugin", "inspect", file.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("built against plugin contract 0.2.0; this forge supports 0.1.x"), "{err}");
}

#[test]
fn compiled_code_is_cached_and_a_damaged_cache_entry_is_rebuilt() {
    let cache = tempfile::tempdir().unwrap();
    let dir = cache.path().to_str().unwrap();
    let (code, out, err) = run(&["plugin", "test", "--plugin-cache", dir, builtin_remove_file(), "-n", "2"]);
    assert_eq!(code, 0, "{err}");
    let entries: Vec<_> = std::fs::read_dir(cache.path()).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    std::fs::write(&entries[0], b"not compiled code").unwrap();
    let (code, again, err) = run(&["plugin", "test", "--plugin-cache", dir, builtin_remove_file(), "-n", "2"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, again, "same seed, same writes");
    assert!(std::fs::metadata(&entries[0]).unwrap().len() > 1000, "the damaged entry was rebuilt");
}

/// A plugin file to test with: the built-in `remove` component, written out.
fn builtin_remove_file() -> &'static str {
    static PATH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("forge-plugin-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("remove.wasm");
        let bytes = forge::plugin::builtin::find("remove").unwrap().wasm;
        std::fs::write(&file, bytes).unwrap();
        file.display().to_string()
    })
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
