//! `forge generate` as a user runs it: bytes on stdout and in files, exit codes, errors.

mod support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::Arc;

use forge::generate::Generator;
use forge::schema::Schema;
use support::{forge, parse_ndjson, run};

fn stdout_of(args: &[&str]) -> String {
    let (code, out, err) = run(args);
    assert_eq!(code, 0, "forge {args:?} failed: {err}");
    out
}

#[test]
fn default_run_prints_ten_example_documents_and_its_seed() {
    let (code, out, err) = run(&["generate"]);
    assert_eq!(code, 0, "{err}");
    let docs = parse_ndjson(&out);
    assert_eq!(docs.len(), 10);
    for d in &docs {
        assert!(matches!(d.get("_id"), Some(bson::Bson::ObjectId(_))));
        assert!(matches!(d.get("createdAt"), Some(bson::Bson::DateTime(_))));
        assert!(matches!(d.get("balance"), Some(bson::Bson::Decimal128(_))));
    }
    assert!(err.contains("--seed "), "the random seed is reported: {err}");
}

#[test]
fn same_seed_gives_identical_bytes_and_other_seeds_differ() {
    let a = stdout_of(&["generate", "-q", "--seed", "42", "-n", "300", "--schema", "example:orders"]);
    let b = stdout_of(&["generate", "-q", "--seed", "42", "-n", "300", "--schema", "example:orders"]);
    let c = stdout_of(&["generate", "-q", "--seed", "43", "-n", "300", "--schema", "example:orders"]);
    assert_eq!(a, b);
    let (a, c) = (parse_ndjson(&a), parse_ndjson(&c));
    assert!(a.iter().zip(&c).all(|(x, y)| x != y), "every document differs between seeds");
}

#[test]
fn thread_count_does_not_change_the_output() {
    let one = stdout_of(&["generate", "-q", "--seed", "5", "-n", "5000", "--threads", "1"]);
    let two = stdout_of(&["generate", "-q", "--seed", "5", "-n", "5000", "--threads", "2"]);
    let seven = stdout_of(&["generate", "-q", "--seed", "5", "-n", "5000", "--threads", "7"]);
    assert_eq!(one.len(), two.len());
    assert!(one == two && two == seven);
    assert_eq!(one.lines().count(), 5000);
}

#[test]
fn a_stream_splits_across_processes_with_start() {
    let whole = stdout_of(&["generate", "-q", "--seed", "9", "-n", "2000"]);
    let first = stdout_of(&["generate", "-q", "--seed", "9", "-n", "1200"]);
    let rest = stdout_of(&["generate", "-q", "--seed", "9", "--start", "1200", "-n", "800"]);
    assert_eq!(whole, first + &rest);
}

#[test]
fn file_output_matches_the_library_in_both_extended_json_flavours() {
    let dir = tempfile::tempdir().unwrap();
    let schema = Arc::new(Schema::from_json_str(forge::examples::ORDERS.json).unwrap());
    let expected: Vec<_> = (0..200).map(|i| Generator::new(schema.clone(), 11).document(i)).collect();
    for flavour in ["canonical", "relaxed"] {
        let path = dir.path().join(format!("{flavour}.ndjson"));
        let (code, _, err) = run(&[
            "generate",
            "--schema",
            "example:orders",
            "--seed",
            "11",
            "-n",
            "200",
            "--ejson",
            flavour,
            "--out",
            path.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{err}");
        assert!(err.contains("wrote 200 documents"), "summary on stderr: {err}");
        // Both flavours keep every BSON type, so parsing the file gives the documents back.
        let docs = parse_ndjson(&std::fs::read_to_string(&path).unwrap());
        assert_eq!(docs, expected, "{flavour}");
    }
}

#[test]
fn json_output_is_one_array() {
    let out = stdout_of(&["generate", "-q", "--seed", "1", "-n", "3", "--output", "json"]);
    let value: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
    assert_eq!(value.as_array().map(Vec::len), Some(3));
    let empty = stdout_of(&["generate", "-q", "--seed", "1", "-n", "0", "--output", "json"]);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&empty).unwrap(), serde_json::json!([]));
}

#[test]
fn a_closed_pipe_ends_the_run_quietly() {
    let mut child = forge()
        .args(["generate", "-q", "--seed", "1", "-n", "100000000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    assert!(first.starts_with("{\"_id\""));
    // The reader is dropped here, as `| head -1` would.
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stderr.is_empty(), "no error for a closed pipe: {}", String::from_utf8_lossy(&out.stderr));
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
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--schema", &invalid], "#/properties/age"),
        (vec!["--schema", &format], "unknown format 'zipcode'"),
        (vec!["--schema", &not_json], "not valid JSON"),
        (vec!["--schema", &missing], "cannot read schema file"),
        (vec!["--schema", "example:nope"], "no built-in example 'nope'"),
        (vec!["-n", "ten"], "--count"),
        (vec!["-n", "-5"], "-5"),
        (vec!["--threads", "0"], "--threads"),
        (vec!["--output", "xml"], "--output"),
        (vec!["--ejson", "loose"], "--ejson"),
        (vec!["--seed", "x"], "--seed"),
        (vec!["--bogus"], "--bogus"),
        (vec!["--out", "/nonexistent-dir/out.ndjson"], "--out"),
        (vec!["--rate-limit", "100"], "--rate-limit applies to --output mongo"),
        (vec!["--journal", "j.ndjson"], "--journal applies to --output mongo"),
        (vec!["--output", "mongo", "--threads", "2"], "--threads applies to --output ndjson"),
    ];
    for (args, culprit) in cases {
        let mut full = vec!["generate", "-q"];
        full.extend(&args);
        let (code, out, err) = run(&full);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?} printed documents");
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
    let (code, out, err) = run(&["generate", "-q", "--seed", "1", "-n", "2", "--schema", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 2);
    assert_eq!(err.matches("warning: ").count(), 1, "one warning per keyword: {err}");
}
