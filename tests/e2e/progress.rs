//! What a run shows while it runs: on a terminal, a display redrawn in place (a bar
//! with the ops done and an ETA, ops/s by kind against the target, response p99,
//! errors, schedule lag); on a pipe, one line per metrics interval.

use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Command, Stdio};

use crate::support::{self, Forge, fresh_db};

/// A pseudo-terminal: (the side forge writes to, the side the test reads).
fn pty() -> (OwnedFd, std::fs::File) {
    let (mut master, mut slave) = (0, 0);
    // SAFETY: openpty writes two new descriptors into the given integers.
    let rc =
        unsafe { libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), std::ptr::null(), std::ptr::null()) };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors are new and owned here alone.
    unsafe { (OwnedFd::from_raw_fd(slave), std::fs::File::from_raw_fd(master)) }
}

#[test]
fn a_terminal_gets_a_display_redrawn_in_place() {
    let db = fresh_db("tty");
    let (slave, mut master) = pty();
    let _machine = support::busy();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_forge"));
    cmd.args(["generate", "--output", "mongo-cdc", "--uri", support::server_uri(), "--db", &db]);
    cmd.args(["--collection", "c", "--rate-limit", "300", "-n", "900", "--seed", "3"]);
    cmd.args(["--operation-ratios", "insert:50,update:50", "--metrics-interval", "500ms"]);
    let mut child = cmd.env_remove("MONGODB_URI").stdout(Stdio::null()).stderr(Stdio::from(slave)).spawn().unwrap();
    drop(cmd); // its copy of the terminal's writing side: reads end when forge's closes
    let reader = std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut chunk = [0u8; 4096];
        // Linux answers EIO once the last writer is gone.
        while let Ok(n) = master.read(&mut chunk) {
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&chunk[..n]);
        }
        String::from_utf8_lossy(&seen).into_owned()
    });
    assert!(child.wait().unwrap().success());
    let screen = reader.join().unwrap();
    // Redrawn in place: cursor-up and erase-line sequences, the bar's count and ETA.
    assert!(screen.contains("\x1b[1A") && screen.contains("\x1b[2K"), "{screen:?}");
    assert!(screen.contains("/900 ops, ETA"), "{screen:?}");
    assert!(screen.contains(" ops/s of 300 (") && screen.contains("ins ") && screen.contains("upd "), "{screen:?}");
    assert!(screen.contains("response p99 ") && screen.contains("behind schedule"), "{screen:?}");
    // Then cleared for the summary, whose latency table follows.
    assert!(screen.contains("900 operations acknowledged"), "{screen:?}");
    assert!(screen.contains("response time (ms)"), "{screen:?}");
    assert!(!screen.contains("[    0.5s]"), "no progress lines on a terminal: {screen:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pipe_gets_one_line_per_interval() {
    let db = fresh_db("lines");
    let run = Forge::generate().output("mongo-cdc").db(&db).collection("c").seed(4).count(600);
    let out = run.arg("--rate-limit", "300").arg("--metrics-interval", "500ms").run_async().await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines: Vec<&str> = out.stderr.lines().filter(|l| l.starts_with('[') && l.contains("ops/s of 300")).collect();
    assert!(lines.len() >= 3, "about four lines in 2 s: {}", out.stderr);
    assert!(lines.iter().all(|l| l.contains("response p99") && l.contains("behind schedule")), "{lines:?}");
    assert!(!out.stderr.contains('\x1b'), "no terminal codes on a pipe: {}", out.stderr);
}
