//! Test support for the end-to-end tests: the `forge` binary and a real
//! MongoDB-compatible server (DESIGN.md §5).
//!
//! The server is `FORGE_TEST_URI` when set (a real mongod or Atlas wins), otherwise a
//! `secantusd-rs` this process starts once and that dies with it. There is no
//! fallback to a mock: with no server the tests fail and say how to get one.
#![allow(dead_code)] // each test binary uses its own part of this module

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// A `forge` command, built by cargo for this test run.
pub fn forge() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_forge"));
    cmd.env_remove("MONGODB_URI");
    cmd
}

/// The connection string of the test server.
pub fn server_uri() -> &'static str {
    static URI: OnceLock<String> = OnceLock::new();
    URI.get_or_init(|| match std::env::var("FORGE_TEST_URI") {
        Ok(uri) if !uri.is_empty() => uri,
        _ => start_server(),
    })
}

/// A database name no other test (or earlier run) uses.
pub fn fresh_db(name: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!("forge_test_{}_{}_{name}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

pub async fn client() -> mongodb::Client {
    let client = mongodb::Client::with_uri_str(server_uri())
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the test server at {}: {e}", server_uri()));
    client
        .database("admin")
        .run_command(bson::doc! { "ping": 1 })
        .await
        .unwrap_or_else(|e| panic!("the test server at {} does not answer: {e}", server_uri()));
    client
}

fn start_server() -> String {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("secantus-{}", std::process::id()));
    // Spawned from a thread that never ends, so that PR_SET_PDEATHSIG (which follows
    // the spawning thread) kills the server exactly when this test process exits.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(spawn_secantus(&dir, 0, &[]).map(|(_child, port)| port));
        loop {
            std::thread::park();
        }
    });
    match rx.recv().expect("server thread") {
        Ok(port) => format!("mongodb://127.0.0.1:{port}/"),
        Err(e) => panic!("{e}"),
    }
}

/// Starts `secantusd-rs` on a free loopback port with its data in `dir`; it dies with
/// the thread that called this.
pub fn spawn_secantus(dir: &std::path::Path, port: u16, extra: &[&str]) -> Result<(std::process::Child, u16), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut cmd = Command::new("secantusd-rs");
    cmd.args(["--host", "127.0.0.1", "--port", &port.to_string(), "--cache-size", "256M"])
        .args(extra)
        .args(["--log-file-max", "16MB", "--log-level", "WARNING", "--oplog-max-entries", "2000000"])
        .arg("--storage-path")
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(|e| {
        format!(
            "no MongoDB test server: set FORGE_TEST_URI, or install secantusd-rs with \
             `scripts/test-server.sh install` (starting it failed: {e})"
        )
    })?;
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let port = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| line.split("listening on 127.0.0.1:").nth(1).and_then(|p| p.trim().parse().ok()))
        .ok_or_else(|| "secantusd-rs exited without reporting a port".to_string())?;
    // Keep reading so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Ok((child, port))
}

/// A server of one test's own, for tests that stop it.
pub struct PrivateServer {
    child: Option<std::process::Child>,
    pub uri: String,
    pub dir: std::path::PathBuf,
    pub port: u16,
}

impl PrivateServer {
    pub fn start(dir: &std::path::Path) -> Self {
        Self::start_with(dir, 0, &[])
    }

    /// On a given port (0: any free one), with extra server flags.
    pub fn start_with(dir: &std::path::Path, port: u16, extra: &[&str]) -> Self {
        let (child, port) = spawn_secantus(dir, port, extra).unwrap_or_else(|e| panic!("{e}"));
        PrivateServer { child: Some(child), uri: format!("mongodb://127.0.0.1:{port}/"), dir: dir.to_path_buf(), port }
    }

    /// Kills the server at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the server with SIGTERM (a clean shutdown) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs `forge` with `args` and returns (exit code, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    let out = forge().args(args).output().expect("run forge");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Parses Extended JSON lines back into BSON documents.
pub fn parse_ndjson(text: &str) -> Vec<bson::Document> {
    text.lines()
        .map(|line| {
            let json: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("bad JSON line {line:?}: {e}"));
            match bson::Bson::try_from(json).expect("valid Extended JSON") {
                bson::Bson::Document(d) => d,
                other => panic!("not a document: {other:?}"),
            }
        })
        .collect()
}

/// A change event reduced to what the tests check.
#[derive(Debug, Clone)]
pub struct Event {
    pub op: String,
    pub id: bson::Bson,
    pub wall_ms: Option<i64>,
}

/// Reads a change stream until no event arrives for `idle`.
pub async fn drain_events(
    stream: &mut mongodb::change_stream::ChangeStream<mongodb::change_stream::event::ChangeStreamEvent<bson::Document>>,
    idle: std::time::Duration,
) -> Vec<Event> {
    use futures_util::StreamExt;
    let mut events = Vec::new();
    while let Ok(Some(next)) = tokio::time::timeout(idle, stream.next()).await {
        let event = next.expect("change stream event");
        let id = event.document_key.as_ref().and_then(|k| k.get("_id")).cloned().unwrap_or(bson::Bson::Null);
        events.push(Event {
            op: format!("{:?}", event.operation_type).to_lowercase(),
            id,
            wall_ms: event.wall_time.map(|t| t.timestamp_millis()),
        });
    }
    events
}

/// Runs `forge` off the async runtime (the driver keeps its connections alive meanwhile).
pub async fn run_async(args: Vec<String>) -> (i32, String, String) {
    tokio::task::spawn_blocking(move || run(&args.iter().map(String::as_str).collect::<Vec<_>>())).await.unwrap()
}

/// Reads a `--report` file.
pub fn read_report(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("report written")).expect("report is JSON")
}

/// `report.ops.<kind>.<field>`, 0 when absent.
pub fn count(report: &serde_json::Value, kind: &str, field: &str) -> u64 {
    report["ops"][kind][field].as_u64().unwrap_or(0)
}

/// Waits for a child process, failing the test if it runs longer than `limit`.
pub fn wait_for(child: &mut std::process::Child, limit: std::time::Duration) -> std::process::ExitStatus {
    let started = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("child status") {
            return status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("forge did not finish within {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// The start of a `generate --output mongo-cdc` command line writing to `db`.c, quiet.
pub fn cdc_args(db: &str) -> Vec<String> {
    ["generate", "--output", "mongo-cdc", "--uri", server_uri(), "--db", db, "--collection", "c", "-q"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// Every document of `db`.c, from a blocking test.
pub fn documents(db: &str) -> Vec<bson::Document> {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        use futures_util::TryStreamExt;
        let coll = client().await.database(db).collection::<bson::Document>("c");
        coll.find(bson::doc! {}).await.expect("find").try_collect().await.expect("read documents")
    })
}
