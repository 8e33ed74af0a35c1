//! [`Forge`]: a `forge` command line, run as the binary cargo built for this test run.

use std::ffi::OsStr;
use std::io::Read;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;

use super::MachineGuard;

/// A `forge` command line being built:
/// `Forge::generate().output("mongo-cdc").db(&db).collection("c").count(2000).seed(7).run()`.
/// Flags the tests use often have their own method; `arg` and `flag` take the rest.
pub struct Forge {
    cmd: Command,
    /// A database was named: without `--uri`, the run goes to the shared test server.
    needs_server: bool,
    has_uri: bool,
    report: Option<tempfile::TempDir>,
    alone: bool,
    /// The caller holds the machine (for several processes that measure together).
    held: bool,
}

impl Forge {
    /// `forge <subcommand>`.
    fn new(subcommand: &str) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_forge"));
        cmd.env_remove("MONGODB_URI").arg(subcommand);
        Forge { cmd, needs_server: false, has_uri: false, report: None, alone: false, held: false }
    }

    pub fn generate() -> Self {
        Self::new("generate")
    }

    /// `forge run SCENARIO`.
    pub fn new_run(scenario: &std::path::Path) -> Self {
        let mut forge = Self::new("run");
        forge.cmd.arg(scenario);
        forge
    }

    /// `forge run --print-schema`.
    pub fn new_print_schema() -> Self {
        Self::new("run").flag("--print-schema")
    }

    pub fn mutate() -> Self {
        Self::new("mutate")
    }

    pub fn verify() -> Self {
        Self::new("verify")
    }

    pub fn infer() -> Self {
        Self::new("infer")
    }

    pub fn validate() -> Self {
        Self::new("validate")
    }

    pub fn watch() -> Self {
        Self::new("watch")
    }

    /// `forge plugin <action>` (list, inspect, test).
    pub fn plugin(action: &str) -> Self {
        let mut forge = Self::new("plugin");
        forge.cmd.arg(action);
        forge
    }

    /// `--name value`.
    pub fn arg(mut self, name: &str, value: impl AsRef<OsStr>) -> Self {
        self.cmd.arg(name).arg(value);
        self
    }

    /// `--name`, a flag without a value.
    pub fn flag(mut self, name: &str) -> Self {
        self.cmd.arg(name);
        self
    }

    /// An environment variable for this run (the test process's own are inherited).
    pub fn env(mut self, key: &str, value: impl AsRef<OsStr>) -> Self {
        self.cmd.env(key, value);
        self
    }

    /// Arguments exactly as given, for tests about the command line itself.
    pub fn raw(mut self, args: &[&str]) -> Self {
        self.cmd.args(args);
        self
    }

    pub fn schema(self, schema: impl AsRef<OsStr>) -> Self {
        self.arg("--schema", schema)
    }

    pub fn output(self, output: &str) -> Self {
        self.arg("--output", output)
    }

    /// `--uri`; without it, a command naming a database runs on the shared test server.
    pub fn uri(mut self, uri: &str) -> Self {
        self.has_uri = true;
        self.arg("--uri", uri)
    }

    pub fn db(mut self, db: &str) -> Self {
        self.needs_server = true;
        self.arg("--db", db)
    }

    pub fn collection(self, collection: &str) -> Self {
        self.arg("--collection", collection)
    }

    pub fn count(self, n: u64) -> Self {
        self.arg("--count", n.to_string())
    }

    pub fn seed(self, seed: u64) -> Self {
        self.arg("--seed", seed.to_string())
    }

    /// `-q`: no progress, only the summary and errors on stderr.
    pub fn quiet(self) -> Self {
        self.flag("-q")
    }

    /// `--report` to a file of the run's own, read back with [`Output::report`].
    pub fn report(mut self) -> Self {
        let dir = tempfile::tempdir().expect("a directory for the report");
        self.cmd.arg("--report").arg(dir.path().join("report.json"));
        self.report = Some(dir);
        self
    }

    /// Runs with the machine to itself: no other test's `forge` runs meanwhile. For
    /// tests that measure timing.
    pub fn alone(mut self) -> Self {
        self.alone = true;
        self
    }

    /// Runs under a [`MachineGuard`] the caller holds ([`super::alone`]): several
    /// processes that measure together.
    pub fn held(mut self, _guard: &MachineGuard) -> Self {
        self.held = true;
        self
    }

    /// Starts the command with stdout and stderr piped; see [`Running`].
    pub fn spawn(mut self) -> Running {
        let machine = match (self.held, self.alone) {
            (true, _) => None,
            (false, true) => Some(super::alone()),
            (false, false) => Some(super::busy()),
        };
        if self.needs_server && !self.has_uri {
            self.cmd.arg("--uri").arg(super::server_uri());
        }
        let child = self.cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start forge");
        Running { child, report: self.report, _machine: machine }
    }

    /// Runs the command to its end.
    pub fn run(self) -> Output {
        self.spawn().finish(None)
    }

    /// [`run`](Self::run) off the async runtime, so the test's driver keeps its
    /// connections alive meanwhile.
    pub async fn run_async(self) -> Output {
        tokio::task::spawn_blocking(move || self.run()).await.expect("forge run")
    }
}

/// A started `forge`.
pub struct Running {
    child: Child,
    report: Option<tempfile::TempDir>,
    /// The machine, shared or alone, until forge ends (none: the caller holds it).
    _machine: Option<MachineGuard>,
}

impl Running {
    /// Its stdout, to read while it runs.
    pub fn stdout(&mut self) -> ChildStdout {
        self.child.stdout.take().expect("stdout not taken yet")
    }

    /// Sends `signal` (e.g. `libc::SIGINT` for a Ctrl-C).
    pub fn signal(&self, signal: i32) {
        // SAFETY: a plain syscall on the pid of a child not yet waited for.
        unsafe { libc::kill(self.child.id() as i32, signal) };
    }

    /// Waits for the end, failing the test if it takes longer than `limit`.
    pub fn wait(self, limit: Duration) -> Output {
        self.finish(Some(limit))
    }

    fn finish(mut self, limit: Option<Duration>) -> Output {
        let (stdout, stderr) = (drain(self.child.stdout.take()), drain(self.child.stderr.take()));
        let status = match limit {
            None => self.child.wait().expect("forge status"),
            Some(limit) => {
                let started = Instant::now();
                loop {
                    if let Some(status) = self.child.try_wait().expect("forge status") {
                        break status;
                    }
                    if started.elapsed() > limit {
                        let _ = self.child.kill();
                        panic!("forge did not finish within {limit:?}");
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        };
        Output {
            code: status.code().unwrap_or(-1),
            stdout: stdout.join().expect("stdout reader"),
            stderr: stderr.join().expect("stderr reader"),
            report: self.report,
        }
    }
}

/// Reads a pipe to its end on a thread of its own, so a full pipe never blocks forge.
fn drain(pipe: Option<impl Read + Send + 'static>) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            pipe.read_to_end(&mut bytes).expect("read forge's output");
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// How a `forge` run ended.
pub struct Output {
    /// The exit code (-1 when killed by a signal).
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    report: Option<tempfile::TempDir>,
}

impl Output {
    /// Fails the test unless forge exited 0.
    pub fn success(self) -> Self {
        assert_eq!(self.code, 0, "forge failed:\n{}{}", self.stdout, self.stderr);
        self
    }

    /// The `--report` file as written, if the run wrote one.
    pub fn report_text(&self) -> Option<String> {
        let dir = self.report.as_ref().expect("the command was built with .report()");
        std::fs::read_to_string(dir.path().join("report.json")).ok()
    }

    /// The `--report` file, typed: a report that is missing, or lacks a field the type
    /// requires, fails the test.
    pub fn report<T: DeserializeOwned>(&self) -> T {
        let dir = self.report.as_ref().expect("the command was built with .report()");
        let text = std::fs::read_to_string(dir.path().join("report.json"))
            .unwrap_or_else(|e| panic!("no report written ({e}):\n{}", self.stderr));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("the report does not parse: {e}\n{text}"))
    }
}
