//! What the end-to-end tests share: the `forge` binary ([`Forge`]), its reports
//! ([`Report`]) and a real MongoDB-compatible server (ARCHITECTURE.md, "The test server").
//!
//! The server is `FORGE_TEST_URI` when set (a real mongod or Atlas wins), otherwise a
//! `secantusd-rs` this process starts once and that dies with it. There is no
//! fallback to a mock: with no server the tests fail and say how to get one.

mod forge;
mod postgres;
mod report;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

pub use forge::{Forge, Output, Running};
pub use postgres::{postgres_ca, postgres_uri};
pub use report::{Ending, Kind, Report, ValidateReport, VerifyReport};

/// The connection string of the shared test server.
pub fn server_uri() -> &'static str {
    static URI: OnceLock<String> = OnceLock::new();
    URI.get_or_init(|| match std::env::var("FORGE_TEST_URI") {
        Ok(uri) if !uri.is_empty() => uri,
        _ => start_shared_server(),
    })
}

/// The lines of a journal (or a transaction log) after its header, parsed; a line
/// that is not JSON fails the test.
pub fn journal_lines(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines().skip(1).map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
}

/// A database name no other test (or earlier run) uses.
pub fn fresh_db(name: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!("forge_test_{}_{}_{name}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// A driver connected to the shared test server, checked with a ping.
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

/// Every document of `db`.c, from a blocking test.
pub fn documents(db: &str) -> Vec<bson::Document> {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        use futures_util::TryStreamExt;
        let coll = client().await.database(db).collection::<bson::Document>("c");
        coll.find(bson::doc! {}).await.expect("find").try_collect().await.expect("read documents")
    })
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
    idle: Duration,
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

/// The tests run in parallel in one process, but a test that measures timing needs
/// the machine (and the server) to itself: it holds the machine alone while every step
/// that makes load (a `forge` run, a plugin build, a heavy fuzz case) holds a share.
struct Machine {
    shares: usize,
    alone: bool,
    /// Measuring tests waiting: no new share is given meanwhile.
    waiting_alone: usize,
}

static MACHINE: Mutex<Machine> = Mutex::new(Machine { shares: 0, alone: false, waiting_alone: 0 });
static MACHINE_CHANGED: Condvar = Condvar::new();

/// Held while a step uses the machine; see [`busy`] and [`alone`].
pub struct MachineGuard {
    alone: bool,
}

fn machine() -> MutexGuard<'static, Machine> {
    MACHINE.lock().unwrap_or_else(PoisonError::into_inner)
}

fn wait_for_machine(m: MutexGuard<'static, Machine>) -> MutexGuard<'static, Machine> {
    MACHINE_CHANGED.wait(m).unwrap_or_else(PoisonError::into_inner)
}

/// A share of the machine for one load-making step. Hold one at a time: a second
/// share asked for while a measuring test waits would wait for the first.
pub fn busy() -> MachineGuard {
    let mut m = machine();
    while m.alone || m.waiting_alone > 0 {
        m = wait_for_machine(m);
    }
    m.shares += 1;
    MachineGuard { alone: false }
}

/// The machine to oneself, once every share in use is given back.
pub fn alone() -> MachineGuard {
    let mut m = machine();
    m.waiting_alone += 1;
    while m.alone || m.shares > 0 {
        m = wait_for_machine(m);
    }
    m.waiting_alone -= 1;
    m.alone = true;
    MachineGuard { alone: true }
}

impl Drop for MachineGuard {
    fn drop(&mut self) {
        let mut m = machine();
        if self.alone {
            m.alone = false;
        } else {
            m.shares -= 1;
        }
        MACHINE_CHANGED.notify_all();
    }
}

/// A `secantusd-rs` on loopback with its data in `dir`, dying with the thread that
/// started it (`PR_SET_PDEATHSIG`). The shared server is one of these; tests that
/// stop, kill or restart a server start their own.
pub struct Server {
    child: Option<Child>,
    pub uri: String,
    pub dir: PathBuf,
    pub port: u16,
}

impl Server {
    /// On any free port.
    pub fn start(dir: &Path) -> Self {
        Self::start_with(dir, 0, &[])
    }

    /// On a given port (0: any free one), with extra server flags.
    pub fn start_with(dir: &Path, port: u16, extra: &[&str]) -> Self {
        Self::spawn(dir, port, extra).unwrap_or_else(|e| panic!("{e}"))
    }

    fn spawn(dir: &Path, port: u16, extra: &[&str]) -> Result<Self, String> {
        let (child, port) = spawn_secantus(dir, port, extra)?;
        Ok(Server { child: Some(child), uri: format!("mongodb://127.0.0.1:{port}/"), dir: dir.to_path_buf(), port })
    }

    /// Sends `signal` to the server (SIGSTOP and SIGCONT pause and resume it).
    pub fn signal(&self, signal: i32) {
        if let Some(child) = &self.child {
            // SAFETY: a plain syscall on the pid of a child not yet waited for.
            unsafe { libc::kill(child.id() as i32, signal) };
        }
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
            // SAFETY: a plain syscall on the pid of a child not yet waited for.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let _ = child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn start_shared_server() -> String {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("secantus-{}", std::process::id()));
    // Started from a thread that never ends, so that PR_SET_PDEATHSIG (which follows
    // the spawning thread) kills the server exactly when this test process exits.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let server = Server::spawn(&dir, 0, &[]);
        let _ = tx.send(server.as_ref().map(|s| s.uri.clone()).map_err(Clone::clone));
        loop {
            std::thread::park();
        }
    });
    rx.recv().expect("server thread").unwrap_or_else(|e| panic!("{e}"))
}

fn spawn_secantus(dir: &Path, port: u16, extra: &[&str]) -> Result<(Child, u16), String> {
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
