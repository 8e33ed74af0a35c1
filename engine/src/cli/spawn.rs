//! `--segments N --spawn`: the N segments of a run as N processes of this machine,
//! started with the same command line (plus `--segment K`), side by side; their
//! reports merged into the run's. What a Kubernetes Indexed Job does across machines,
//! on one: to use every core with processes that share nothing, or to rehearse a Job.

use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use super::error::Error;
use crate::metrics::report::Report;

/// When the segments start if `--start-at` is not given: time for every process to
/// load its schema and plugins and connect.
const START_DELAY: Duration = Duration::from_secs(2);

/// Flags the parent gives each segment itself (dropped from the command line it copies).
const REPLACED: [&str; 5] = ["--report", "--report-html", "--start-at", "--segment", "--seed"];

/// What the parent needs to know to run the segments.
pub struct Spawn<'a> {
    pub segments: u64,
    /// The run's seed, as given or drawn: every segment gets the same.
    pub seed: &'a str,
    pub start_at: Option<SystemTime>,
    /// Where the merged report goes, and its page.
    pub report: Option<PathBuf>,
    pub report_html: Option<PathBuf>,
}

/// Runs the segments, relays their stderr line by line (prefixed with their
/// segment), waits for all, and prints the merged report.
pub fn run(spawn: Spawn) -> Result<(), Error> {
    let dir = tempfile::Builder::new()
        .prefix("forge-segments-")
        .tempdir()
        .map_err(|e| Error::Runtime(format!("cannot create a directory for the segments' reports: {e}")))?;
    let start = spawn.start_at.unwrap_or_else(|| SystemTime::now() + START_DELAY);
    let start = bson::DateTime::from_system_time(start).try_to_rfc3339_string().unwrap_or_default();
    let exe = std::env::current_exe().map_err(|e| Error::Runtime(format!("cannot find forge's own binary: {e}")))?;
    let given: Vec<OsString> = std::env::args_os().skip(1).collect();
    // Ctrl-C and SIGTERM reach this process alone (the segments have a process group
    // of their own): each is passed on to every segment once, which stops and reports,
    // and this process waits for them to merge what they did.
    catch_signals();
    let paths: Vec<PathBuf> = (0..spawn.segments).map(|k| dir.path().join(format!("segment-{k}.json"))).collect();
    let mut children = Vec::new();
    for (k, report) in paths.iter().enumerate() {
        let args = child_args(&given, k as u64, spawn.seed, &start, report);
        let started = Command::new(&exe)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn();
        match started {
            Ok(child) => children.push(relay(child, k)),
            Err(e) => {
                for (child, _) in &mut children {
                    let _ = child.kill();
                    let _ = child.wait();
                }
                return Err(Error::Runtime(format!("cannot start segment {k}: {e}")));
            }
        }
    }
    let codes = wait_all(&mut children)?;
    for (_, relay) in children {
        let _ = relay.join();
    }
    // Bad flags are refused by every segment alike: say it once. One segment's own
    // trouble (its journal file, say) leaves it missing from the merge instead.
    if codes.iter().all(|code| *code == Some(2)) {
        return Err(Error::Usage("the segments refused their flags (above)".into()));
    }
    // A segment that wrote no report (it crashed, or was killed) is merged as missing.
    let reports: Vec<(PathBuf, Report)> =
        paths.iter().filter_map(|p| Some((p.clone(), super::report::read(p).ok()?))).collect();
    if reports.is_empty() {
        return Err(Error::Runtime("no segment wrote a report".into()));
    }
    let (paths, reports): (Vec<PathBuf>, Vec<Report>) = reports.into_iter().unzip();
    super::report::conclude(&reports, &paths, spawn.report.as_ref(), spawn.report_html.as_ref())
}

/// The command line of segment `k`: this one without `--spawn` and the flags the
/// parent sets, with `--segment k`, the shared seed and start time, and its report
/// file. Its progress lines and summary reach the user through [`relay`].
fn child_args(given: &[OsString], k: u64, seed: &str, start: &str, report: &Path) -> Vec<OsString> {
    let mut args = Vec::new();
    let mut skip_value = false;
    for arg in given {
        if std::mem::take(&mut skip_value) {
            continue;
        }
        let text = arg.to_string_lossy();
        if text == "--spawn" {
            continue;
        }
        if REPLACED.contains(&text.as_ref()) {
            skip_value = true;
            continue;
        }
        if REPLACED.iter().any(|flag| text.starts_with(&format!("{flag}="))) {
            continue;
        }
        args.push(arg.clone());
    }
    // `--flag=value`: a value may start with '-' (a seed of -7).
    let k = k.to_string();
    for (flag, value) in [
        ("--segment", OsStr::new(&k)),
        ("--seed", seed.as_ref()),
        ("--start-at", start.as_ref()),
        ("--report", report.as_os_str()),
    ] {
        let mut arg = OsString::from(format!("{flag}="));
        arg.push(value);
        args.push(arg);
    }
    args
}

/// Relays a segment's stderr, each line prefixed with its segment, on a thread.
fn relay(mut child: Child, k: usize) -> (Child, std::thread::JoinHandle<()>) {
    let stderr = child.stderr.take().expect("stderr is piped");
    let handle = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            errln!("[segment {k}] {line}");
        }
    });
    (child, handle)
}

/// Signals received and not yet passed on to the segments.
static SIGNALS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn count_signal(_: libc::c_int) {
    SIGNALS.fetch_add(1, Ordering::Relaxed);
}

fn catch_signals() {
    // SAFETY: the handler only increments an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, count_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, count_signal as *const () as libc::sighandler_t);
    }
}

/// Waits for every segment, passing each signal this process gets on to those still
/// running (as a Ctrl-C: the first stops a segment after its batches in flight, a
/// second quits it at once); their exit codes.
fn wait_all(children: &mut [(Child, std::thread::JoinHandle<()>)]) -> Result<Vec<Option<i32>>, Error> {
    let mut codes: Vec<Option<Option<i32>>> = vec![None; children.len()];
    let mut passed_on = 0;
    loop {
        let received = SIGNALS.load(Ordering::Relaxed);
        while passed_on < received {
            for (k, (child, _)) in children.iter().enumerate() {
                if codes[k].is_none() {
                    // SAFETY: a plain syscall on the pid of a child not yet waited for.
                    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
                }
            }
            passed_on += 1;
        }
        for (k, (child, _)) in children.iter_mut().enumerate() {
            if codes[k].is_none()
                && let Some(status) = child.try_wait().map_err(|e| Error::Runtime(format!("segment {k}: {e}")))?
            {
                codes[k] = Some(status.code());
            }
        }
        if codes.iter().all(Option::is_some) {
            return Ok(codes.into_iter().flatten().collect());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_segment_gets_the_command_line_with_its_own_flags() {
        let given: Vec<OsString> = [
            "generate",
            "--output",
            "mongo-cdc",
            "--segments",
            "3",
            "--spawn",
            "--report",
            "r.json",
            "--seed=9",
            "-q",
            "--start-at",
            "+5s",
            "--journal",
            "j-{segment}.jsonl",
        ]
        .iter()
        .map(OsString::from)
        .collect();
        let args = child_args(&given, 2, "-9", "2026-12-02T15:00:00Z", Path::new("/tmp/s-2.json"));
        let args: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
        assert_eq!(
            args,
            [
                "generate",
                "--output",
                "mongo-cdc",
                "--segments",
                "3",
                "-q",
                "--journal",
                "j-{segment}.jsonl",
                "--segment=2",
                "--seed=-9",
                "--start-at=2026-12-02T15:00:00Z",
                "--report=/tmp/s-2.json"
            ]
        );
    }
}
