//! No secret in any output. The secrets of a run are read off the command line (and
//! `MONGODB_URI`) before anything else happens: the connection string's password and
//! credential options, `--plugin-secret` values, and `--plugin-arg` values whose key
//! names a password, secret, token or credential. Everything the binary writes (its
//! lines on stdout and stderr, tracing events and plugin log lines, the summary,
//! `--report` files, the flags a report records) passes through [`scrub`], which
//! replaces each secret with `***`. Printing goes through [`outln!`] and [`errln!`]:
//! the standard printing macros are refused in this crate (engine/clippy.toml).
//!
//! The library knows nothing of this: it is handed the real values, and what it says
//! about them reaches the terminal through this module.

use std::borrow::Cow;
use std::io::Write as _;
use std::path::Path;
use std::sync::OnceLock;

use crate::mongo::{HIDDEN, is_secret_name, redact_uri, uri_secrets};

/// The flag whose every value is secret.
const PLUGIN_SECRET: &str = "--plugin-secret";
/// The flag whose values are secret when their key says so.
const PLUGIN_ARG: &str = "--plugin-arg";

static SECRETS: OnceLock<Vec<String>> = OnceLock::new();

/// Reads the run's secrets from its arguments and environment; the first call wins.
pub fn init() {
    let uri = std::env::var("MONGODB_URI").ok();
    SECRETS.get_or_init(|| collect(std::env::args().skip(1), uri.as_deref()));
}

/// The secrets in `args` (and the connection string `env_uri`), longest first so that
/// one containing another is hidden whole.
fn collect(args: impl IntoIterator<Item = String>, env_uri: Option<&str>) -> Vec<String> {
    let mut secrets: Vec<String> = env_uri.map(uri_secrets).unwrap_or_default();
    let mut previous: Option<String> = None;
    for arg in args {
        if arg.contains("://") {
            secrets.extend(uri_secrets(&arg));
        }
        if let Some(value) = plugin_secret(previous.as_deref(), &arg) {
            secrets.push(value.to_string());
        }
        previous = Some(arg);
    }
    secrets.retain(|s| !s.is_empty());
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    secrets.dedup();
    secrets
}

/// The secret in `arg` if it is the value of a secret plugin argument (`previous` is
/// the argument before it): `--plugin-secret NAME.KEY=VALUE`, `--plugin-arg
/// NAME.KEY=VALUE` with a secret-sounding KEY, or either as `--flag=NAME.KEY=VALUE`.
/// A malformed `--plugin-secret` value (or `--plugin-arg` one that names a secret) is
/// secret whole.
fn plugin_secret<'a>(previous: Option<&str>, arg: &'a str) -> Option<&'a str> {
    let (flag, value) = match previous {
        Some(flag @ (PLUGIN_SECRET | PLUGIN_ARG)) => (flag, arg),
        _ => {
            let (flag, value) = arg.split_once('=')?;
            (flag, value)
        }
    };
    let Some((name_key, secret)) = value.split_once('=') else {
        // Malformed: refused with the value quoted, which must then be hidden whole.
        return (flag == PLUGIN_SECRET || (flag == PLUGIN_ARG && is_secret_name(value))).then_some(value);
    };
    let key = name_key.split_once('.').map_or(name_key, |(_, k)| k);
    match flag {
        PLUGIN_SECRET => Some(secret),
        PLUGIN_ARG if is_secret_name(key) => Some(secret),
        _ => None,
    }
}

fn secrets() -> &'static [String] {
    SECRETS.get().map_or(&[], Vec::as_slice)
}

/// Whether this run has any secret (plugins then keep no stderr of their own).
pub fn any() -> bool {
    !secrets().is_empty()
}

/// `text` with every secret of the run replaced by `***`.
pub fn scrub(text: &str) -> Cow<'_, str> {
    scrub_with(secrets(), text)
}

fn scrub_with<'a>(secrets: &[String], text: &'a str) -> Cow<'a, str> {
    let mut text = Cow::Borrowed(text);
    for secret in secrets {
        if text.contains(secret.as_str()) {
            text = Cow::Owned(text.replace(secret.as_str(), HIDDEN));
        }
    }
    text
}

/// The command line for a report: connection strings redacted, secret plugin values
/// replaced, and anything else secret scrubbed.
pub fn redacted_flags() -> Vec<String> {
    redact_flags(std::env::args())
}

fn redact_flags(args: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for arg in args {
        let shown = match plugin_secret(out.last().map(String::as_str), &arg) {
            Some(secret) => format!("{}{HIDDEN}", &arg[..arg.len() - secret.len()]),
            None if arg.contains("://") => redact_uri(&arg),
            None => arg,
        };
        out.push(scrub(&shown).into_owned());
    }
    out
}

/// Writes `text`, scrubbed, to standard output.
pub fn print_out(text: &str) {
    let mut out = std::io::stdout().lock();
    // A closed pipe (`forge … | head`) is not an error worth a panic.
    let _ = out.write_all(scrub(text).as_bytes()).and_then(|()| out.flush());
}

/// Writes `text`, scrubbed, to standard error.
pub fn print_err(text: &str) {
    let _ = std::io::stderr().lock().write_all(scrub(text).as_bytes());
}

/// Writes `text`, scrubbed, to the file at `path` (a report).
pub fn write_file(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, scrub(text).as_bytes())
}

/// `print!` to stdout, scrubbed.
macro_rules! out {
    ($($arg:tt)*) => { $crate::cli::secrets::print_out(&format!($($arg)*)) };
}

/// `println!` to stdout, scrubbed.
macro_rules! outln {
    () => { $crate::cli::secrets::print_out("\n") };
    ($($arg:tt)*) => { $crate::cli::secrets::print_out(&format!("{}\n", format_args!($($arg)*))) };
}

/// `eprint!`, scrubbed.
macro_rules! err {
    ($($arg:tt)*) => { $crate::cli::secrets::print_err(&format!($($arg)*)) };
}

/// `eprintln!`, scrubbed.
macro_rules! errln {
    () => { $crate::cli::secrets::print_err("\n") };
    ($($arg:tt)*) => { $crate::cli::secrets::print_err(&format!("{}\n", format_args!($($arg)*))) };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split(' ').map(str::to_string).collect()
    }

    #[test]
    fn collects_every_kind_of_secret() {
        let line = "mutate --uri mongodb://u:pw1@h/?tlsCertificateKeyFilePassword=pw2 --plugin-secret p.k=pw3 \
                    --plugin-arg p.api_token=pw4 --plugin-arg=p.password=pw5 --plugin-secret=p.x=pw6 \
                    --plugin-arg p.flag=visible --plugin-secret malformed --plugin-arg p.tokenvalue";
        let found = collect(args(line), Some("mongodb://v:pw0@h"));
        for s in ["pw0", "pw1", "pw2", "pw3", "pw4", "pw5", "pw6", "malformed", "p.tokenvalue"] {
            assert!(found.iter().any(|f| f == s), "{s} in {found:?}");
        }
        assert!(!found.iter().any(|f| f == "visible"), "{found:?}");
    }

    #[test]
    fn scrubs_longest_first() {
        let secrets = collect(args("--plugin-secret a.b=abc --plugin-secret a.c=abcdef"), None);
        assert_eq!(scrub_with(&secrets, "x abcdef abc y"), "x *** *** y");
        assert!(matches!(scrub_with(&secrets, "nothing"), Cow::Borrowed(_)));
    }

    #[test]
    fn flags_hide_secret_values_but_keep_their_names() {
        let line = "forge --uri mongodb://h/?authMechanismProperties=AWS_SESSION_TOKEN:t --plugin-secret p.k=s \
                    --plugin-arg=p.token=t2 --plugin-arg p.flag=f";
        assert_eq!(
            redact_flags(args(line)),
            [
                "forge",
                "--uri",
                "mongodb://h/?authMechanismProperties=***",
                "--plugin-secret",
                "p.k=***",
                "--plugin-arg=p.token=***",
                "--plugin-arg",
                "p.flag=f"
            ]
        );
    }
}
