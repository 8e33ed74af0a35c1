//! No secret in any output: a connection string's password and credential options,
//! and plugin arguments that are secret, never appear on stdout, stderr, in the
//! `--report` file or in the journal, while the run still says what went wrong.

use std::path::Path;

use bson::doc;

use crate::support::{Forge, Output, Server, fresh_db, server_uri};

/// Fails the test if `secret` shows anywhere the run wrote.
fn nowhere(secret: &str, out: &Output, journal: Option<&Path>) {
    let report = out.report_text().unwrap_or_default();
    let journal = journal.and_then(|j| std::fs::read_to_string(j).ok()).unwrap_or_default();
    for (place, text) in [("stdout", &out.stdout), ("stderr", &out.stderr), ("report", &report), ("journal", &journal)]
    {
        assert!(!text.contains(secret), "'{secret}' shows in the {place}:\n{text}");
    }
}

/// A mongo-cdc run of `n` operations with progress lines, a report and a journal.
fn traffic(db: &str, journal: &Path, n: u64) -> Forge {
    let run = Forge::generate().output("mongo-cdc").db(db).collection("c").count(n).seed(5);
    run.arg("--metrics-interval", "50ms").arg("--rate-limit", "3000").arg("--journal", journal).report()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connection_string_password_never_shows() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(&dir.path().join("data"), 0, &["--auth"]);
    // The first user may be created from localhost without credentials.
    let admin = mongodb::Client::with_uri_str(&server.uri).await.unwrap();
    let create = doc! { "createUser": "alice", "pwd": "horse/battery-staple", "roles": ["root"] };
    admin.database("admin").run_command(create).await.expect("create the first user");
    let port = server.port;

    // Right, and percent-encoded as it must be: a whole run with progress lines.
    let journal = dir.path().join("journal.ndjson");
    let uri = format!("mongodb://alice:horse%2Fbattery-staple@127.0.0.1:{port}/");
    let out = traffic("d", &journal, 2000).uri(&uri).run_async().await.success();
    assert!(out.stderr.contains("acknowledged"), "the run reports: {}", out.stderr);
    for secret in ["horse%2Fbattery-staple", "horse/battery-staple"] {
        nowhere(secret, &out, Some(&journal));
    }

    // Typed as is, unescaped: the driver refuses it, and the refusal says why.
    let uri = format!("mongodb://alice:horse/battery-staple@127.0.0.1:{port}/");
    let out = traffic("d", &journal, 10).uri(&uri).run_async().await;
    nowhere("battery-staple", &out, Some(&journal));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("invalid connection string") && out.stderr.contains("alice:***@"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_in_the_query_string_never_show() {
    let port = server_uri().trim_start_matches("mongodb://").split(['/', ':']).nth(1).unwrap().to_string();
    let cases = [
        ("tls=true&tlsCertificateKeyFile=/nonexistent/key.pem&tlsCertificateKeyFilePassword=", "pem-pass-6a1f"),
        ("authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:", "IQoJb3JpZ2luX2Vj-token-9d2e"),
    ];
    for (query, secret) in cases {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("journal.ndjson");
        let uri = format!("mongodb://u:p-7c3b@127.0.0.1:{port}/?{query}{secret}");
        let out = traffic(&fresh_db("secret_query"), &journal, 10).uri(&uri).run_async().await;
        nowhere(secret, &out, Some(&journal));
        nowhere("p-7c3b", &out, Some(&journal));
        assert_ne!(out.code, 0, "{uri}: {}", out.stderr);
        // The message names the connection string, its secrets hidden.
        assert!(out.stderr.starts_with("error: ") && out.stderr.contains("127.0.0.1"), "{}", out.stderr);
        assert!(out.stderr.contains("=***"), "{}", out.stderr);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_secret_plugin_argument_never_shows() {
    let db = fresh_db("secret_plugin");
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.ndjson");
    let tombstones =
        |run: Forge| run.arg("--operation-ratios", "insert:60,delete:40").arg("--delete-behavior", "tombstone");

    // The plugin refuses the value and quotes it in its error.
    let secret = "$s3cret-flag-81e0";
    let run = tombstones(traffic(&db, &journal, 100)).arg("--plugin-secret", format!("tombstone.flag={secret}"));
    let out = run.run_async().await;
    nowhere(secret, &out, Some(&journal));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("'***' cannot be a tombstone field"), "the refusal still reads: {}", out.stderr);

    // Accepted: a whole run, its report recording the flag without its value.
    let secret = "deleted_by_4f9c";
    let run = tombstones(traffic(&db, &journal, 2000)).arg("--plugin-secret", format!("tombstone.flag={secret}"));
    let out = run.run_async().await.success();
    nowhere(secret, &out, Some(&journal));
    assert!(out.report_text().unwrap().contains("tombstone.flag=***"), "{}", out.report_text().unwrap());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plugin_argument_named_like_a_secret_never_shows() {
    let db = fresh_db("secret_arg");
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.ndjson");
    let secret = "tok-2b7d9e";
    let run = traffic(&db, &journal, 2000).arg("--operation-ratios", "insert:60,delete:40");
    let run = run.arg("--delete-behavior", "tombstone").arg("--plugin-arg", format!("tombstone.api_token={secret}"));
    let out = run.run_async().await.success();
    nowhere(secret, &out, Some(&journal));
    assert!(out.report_text().unwrap().contains("tombstone.api_token=***"), "{}", out.report_text().unwrap());

    // Malformed, it is refused without being quoted.
    let run = Forge::generate().arg("--plugin-arg", format!("tombstone.password{secret}"));
    let out = run.arg("--output", "mongo").arg("--uri", "mongodb://127.0.0.1:1/").run_async().await;
    assert!(!out.stdout.contains(secret) && !out.stderr.contains(secret), "shows: {}", out.stderr);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("--plugin-arg '***': expected name.key=value"), "{}", out.stderr);
}
