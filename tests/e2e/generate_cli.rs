//! `forge generate` as a user runs it: bytes on stdout and in files, exit codes, errors.

use std::io::{BufRead, BufReader};
use std::sync::Arc;
use std::time::Duration;

use forge::generate::Generator;
use forge::schema::Schema;

use crate::support::{Forge, parse_ndjson};

/// Quiet `forge generate` of `count` documents from `seed`, which must succeed.
fn generate(seed: u64, count: u64) -> Forge {
    Forge::generate().quiet().seed(seed).count(count)
}

#[test]
fn default_run_prints_ten_example_documents_and_its_seed() {
    let out = Forge::generate().run().success();
    let docs = parse_ndjson(&out.stdout);
    assert_eq!(docs.len(), 10);
    for d in &docs {
        assert!(matches!(d.get("_id"), Some(bson::Bson::ObjectId(_))));
        assert!(matches!(d.get("createdAt"), Some(bson::Bson::DateTime(_))));
        assert!(matches!(d.get("balance"), Some(bson::Bson::Decimal128(_))));
    }
    assert!(out.stderr.contains("--seed "), "the random seed is reported: {}", out.stderr);
}

#[test]
fn same_seed_gives_identical_bytes_and_other_seeds_differ() {
    let orders = |seed| generate(seed, 300).schema("example:orders").run().success().stdout;
    let (a, b, c) = (orders(42), orders(42), orders(43));
    assert_eq!(a, b);
    let (a, c) = (parse_ndjson(&a), parse_ndjson(&c));
    assert_eq!((a.len(), c.len()), (300, 300));
    assert!(a.iter().zip(&c).all(|(x, y)| x != y), "every document differs between seeds");
}

#[test]
fn thread_count_does_not_change_the_output() {
    let threads = |n: &str| generate(5, 5000).arg("--threads", n).run().success().stdout;
    let (one, two, seven) = (threads("1"), threads("2"), threads("7"));
    assert_eq!(one.len(), two.len());
    assert!(one == two && two == seven);
    assert_eq!(one.lines().count(), 5000);
}

#[test]
fn a_stream_splits_across_processes_with_start() {
    let whole = generate(9, 2000).run().success().stdout;
    let first = generate(9, 1200).run().success().stdout;
    let rest = generate(9, 800).arg("--start", "1200").run().success().stdout;
    assert_eq!(whole, first + &rest);
}

#[test]
fn file_output_matches_the_library_in_both_extended_json_flavours() {
    let dir = tempfile::tempdir().unwrap();
    let schema = Arc::new(Schema::from_json_str(forge::examples::ORDERS.json).unwrap());
    let expected: Vec<_> = (0..200).map(|i| Generator::new(schema.clone(), 11).document(i)).collect();
    for flavour in ["canonical", "relaxed"] {
        let path = dir.path().join(format!("{flavour}.ndjson"));
        let forge = Forge::generate().schema("example:orders").seed(11).count(200);
        let out = forge.arg("--ejson", flavour).arg("--out", &path).run().success();
        assert!(out.stderr.contains("wrote 200 documents"), "summary on stderr: {}", out.stderr);
        // Both flavours keep every BSON type, so parsing the file gives the documents back.
        let docs = parse_ndjson(&std::fs::read_to_string(&path).unwrap());
        assert_eq!(docs, expected, "{flavour}");
    }
}

#[test]
fn json_output_is_one_array() {
    let out = generate(1, 3).output("json").run().success().stdout;
    let value: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
    assert_eq!(value.as_array().map(Vec::len), Some(3));
    let empty = generate(1, 0).output("json").run().success().stdout;
    assert_eq!(serde_json::from_str::<serde_json::Value>(&empty).unwrap(), serde_json::json!([]));
}

#[test]
fn a_closed_pipe_ends_the_run_quietly() {
    let mut child = generate(1, 100_000_000).spawn();
    let mut first = String::new();
    BufReader::new(child.stdout()).read_line(&mut first).unwrap();
    assert!(first.starts_with("{\"_id\""));
    // The reader is dropped here, as `| head -1` would.
    let out = child.wait(Duration::from_secs(60));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.is_empty(), "no error for a closed pipe: {}", out.stderr);
}
#[test]
fn bad_input_gets_one_line_naming_the_culprit_and_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    let invalid = write(
        "invalid.json",
        r#"{"type": "object", "properties": {"age": {"type": "integer", "minimum": 5, "maximum": 1}}}"#,
    );
    let format =
        write("format.json", r#"{"type": "object", "properties": {"zip": {"type": "string", "format": "zipcode"}}}"#);
    let not_json = write("broken.json", "{\"type\": \"object\",");
    let missing = dir.path().join("nope.json").to_str().unwrap().to_string();
    let cases: [(&[&str], &str); 16] = [
        (&["--schema", &invalid], "#/properties/age"),
        (&["--schema", &format], "unknown format 'zipcode'"),
        (&["--schema", &not_json], "not valid JSON"),
        (&["--schema", &missing], "cannot read schema file"),
        (&["--schema", "example:nope"], "no built-in example 'nope'"),
        (&["-n", "ten"], "--count"),
        (&["-n", "-5"], "-5"),
        (&["--threads", "0"], "--threads"),
        (&["--output", "xml"], "--output"),
        (&["--ejson", "loose"], "--ejson"),
        (&["--seed", ""], "--seed"),
        (&["--bogus"], "--bogus"),
        (&["--out", "/nonexistent-dir/out.ndjson"], "--out"),
        (&["--rate-limit", "100"], "--rate-limit applies to --output mongo"),
        (&["--journal", "j.ndjson"], "--journal applies to --output mongo"),
        (&["--output", "mongo", "--threads", "2"], "--threads applies to --output ndjson"),
    ];
    for (args, culprit) in cases {
        let out = Forge::generate().quiet().raw(args).run();
        let err = &out.stderr;
        assert_eq!(out.code, 2, "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?} printed documents");
        let lines: Vec<_> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{args:?}: one line, got {err:?}");
        assert!(lines[0].starts_with("error: "), "{args:?}: {err}");
        assert!(lines[0].contains(culprit), "{args:?}: {culprit:?} not named in {err:?}");
    }
}

#[test]
fn unknown_keywords_warn_but_generate() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    std::fs::write(
        &path,
        r#"{"type": "object", "properties": {"a": {"type": "string", "x-ui": 1}, "b": {"type": "string", "x-ui": 2}}}"#,
    )
    .unwrap();
    let out = generate(1, 2).schema(&path).run().success();
    assert_eq!(out.stdout.lines().count(), 2);
    assert_eq!(out.stderr.matches("warning: ").count(), 1, "one warning per keyword: {}", out.stderr);
}
