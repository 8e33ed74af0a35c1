//! A real PostgreSQL server for the sink tests: `FORGE_TEST_POSTGRES_URI` when set
//! (with `FORGE_TEST_POSTGRES_CA`, the PEM of the CA that signed its certificate, for
//! the TLS test), otherwise Debian's PostgreSQL started once by this test process on
//! a loopback port (a fresh cluster under the target directory, trust
//! authentication, TLS with a certificate for 127.0.0.1 signed by a CA made for the
//! run), which dies with it. Run as root, the server runs as the `postgres` user, as
//! PostgreSQL requires.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The shared server: its connection string, and the CA file its certificate chains to.
fn server() -> &'static (String, Option<PathBuf>) {
    static SERVER: OnceLock<(String, Option<PathBuf>)> = OnceLock::new();
    SERVER.get_or_init(|| match std::env::var("FORGE_TEST_POSTGRES_URI") {
        Ok(uri) if !uri.is_empty() => (uri, std::env::var_os("FORGE_TEST_POSTGRES_CA").map(PathBuf::from)),
        _ => start(),
    })
}

/// The connection string of the shared PostgreSQL server.
pub fn postgres_uri() -> &'static str {
    &server().0
}

/// The CA file the shared server's certificate chains to; on the server this process
/// starts, the role `forge_tls` may only connect over TLS.
pub fn postgres_ca() -> &'static Path {
    server()
        .1
        .as_deref()
        .expect("FORGE_TEST_POSTGRES_URI is set without FORGE_TEST_POSTGRES_CA, the CA of its certificate")
}

/// A PostgreSQL program: on PATH, else in Debian's newest /usr/lib/postgresql/N/bin.
fn program(name: &str) -> PathBuf {
    let on_path = std::env::var_os("PATH").into_iter().flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>());
    if let Some(found) = on_path.map(|dir| dir.join(name)).find(|p| p.is_file()) {
        return found;
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.filter_map(Result::ok).map(|e| e.path().join("bin").join(name)).filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    versions.sort();
    versions.pop().unwrap_or_else(|| {
        panic!(
            "no PostgreSQL ({name}): set FORGE_TEST_POSTGRES_URI, or install Debian's postgresql (scripts/test.sh does)"
        )
    })
}

/// The user and group to run the server as: `postgres` when this process is root.
fn server_user() -> Option<(libc::uid_t, libc::gid_t)> {
    // SAFETY: geteuid cannot fail; getpwnam returns null or a pointer to static data,
    // read at once.
    unsafe {
        if libc::geteuid() != 0 {
            return None;
        }
        let pw = libc::getpwnam(c"postgres".as_ptr());
        assert!(!pw.is_null(), "running as root, PostgreSQL needs a postgres user (Debian's package creates it)");
        Some(((*pw).pw_uid, (*pw).pw_gid))
    }
}

/// `program` as the server user, killed when the thread that spawned it ends.
fn command(program: &Path, user: Option<(libc::uid_t, libc::gid_t)>, die_with_parent: bool) -> Command {
    let mut cmd = Command::new(program);
    // SAFETY: setgid, setuid and prctl are async-signal-safe and touch no memory of
    // the parent. The death signal is set after the user changes, which clears it.
    unsafe {
        cmd.pre_exec(move || {
            if let Some((uid, gid)) = user
                && (libc::setgid(gid) != 0 || libc::setuid(uid) != 0)
            {
                return Err(std::io::Error::last_os_error());
            }
            if die_with_parent {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            }
            Ok(())
        });
    }
    cmd
}

/// A CA and a certificate for 127.0.0.1 it signed, made with openssl (which Debian's
/// PostgreSQL depends on) in `dir`: (CA file, certificate, key).
fn certificates(dir: &Path, user: Option<(libc::uid_t, libc::gid_t)>) -> (PathBuf, PathBuf, PathBuf) {
    let openssl = |args: &[&str]| {
        let out =
            Command::new("openssl").args(args).current_dir(dir).output().unwrap_or_else(|e| panic!("openssl: {e}"));
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let days = ["-days", "2"];
    openssl(
        &[
            &["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem"][..],
            &days,
            &["-subj", "/CN=forge test CA"],
        ]
        .concat(),
    );
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n").unwrap();
    openssl(
        &[
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "server.pem",
                "-extfile",
                "san.ext",
            ][..],
            &days,
        ]
        .concat(),
    );
    let key = dir.join("server.key");
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    if let Some((uid, gid)) = user {
        std::os::unix::fs::chown(&key, Some(uid), Some(gid)).unwrap();
    }
    (dir.join("ca.pem"), dir.join("server.pem"), key)
}

fn start() -> (String, Option<PathBuf>) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("postgres-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let user = server_user();
    if let Some((uid, gid)) = user {
        std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).unwrap();
    }
    let data = dir.join("data");
    let init = command(&program("initdb"), user, false)
        .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync", "-D"])
        .arg(&data)
        .output()
        .unwrap_or_else(|e| panic!("initdb: {e}"));
    assert!(init.status.success(), "initdb failed: {}", String::from_utf8_lossy(&init.stderr));
    let (ca, cert, key) = certificates(&dir, user);
    // The first matching line decides: forge_tls over TLS only, everyone else either way.
    let hba = data.join("pg_hba.conf");
    let rules = std::fs::read_to_string(&hba).unwrap();
    std::fs::write(&hba, format!("hostnossl all forge_tls all reject\nhostssl all forge_tls all trust\n{rules}"))
        .unwrap();
    let ssl = ["-c", "ssl=on", "-c"];
    let (cert, key) = (format!("ssl_cert_file={}", cert.display()), format!("ssl_key_file={}", key.display()));
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    // Spawned from a thread that never ends: the death signal follows the spawning thread.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let child = command(&program("postgres"), user, true)
            .arg("-D")
            .arg(&data)
            .args(["-h", "127.0.0.1", "-p", &port.to_string()])
            .args(ssl)
            .arg(cert)
            .args(["-c", &key])
            .arg("-k")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) => {
                let _ = tx.send(Err(format!("postgres: {e}")));
                return;
            }
        };
        let mut log = Vec::new();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let ready = lines.by_ref().map_while(Result::ok).any(|line| {
            log.push(line.clone());
            line.contains("ready to accept connections")
        });
        let _ = tx.send(if ready { Ok(port) } else { Err(format!("postgres did not start:\n{}", log.join("\n"))) });
        for _ in lines {}
        loop {
            std::thread::park();
        }
    });
    let port = rx.recv().unwrap().unwrap_or_else(|e| panic!("{e}"));
    (format!("postgres://postgres@127.0.0.1:{port}/postgres"), Some(ca))
}
