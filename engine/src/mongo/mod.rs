//! MongoDB connection handling: connection strings, write concerns, redaction.

pub mod targets;
pub mod writer;

use std::time::Duration;

use mongodb::options::{Acknowledgment, ClientOptions, WriteConcern};
use mongodb::{Client, Collection};

use crate::error::Error;

/// How long to wait for a server before an operation fails (the driver's default of
/// 30 s would make a down server look like a hang).
const SERVER_SELECTION_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection string with its password replaced by `***`, for logs and reports.
pub fn redact_uri(uri: &str) -> String {
    let Some(scheme_end) = uri.find("://") else { return uri.to_string() };
    let rest = &uri[scheme_end + 3..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else { return uri.to_string() };
    let credentials = &rest[..at];
    let user = credentials.split(':').next().unwrap_or("");
    format!("{}{user}:***{}", &uri[..scheme_end + 3], &rest[at..])
}

/// A connected client and the database name to use (`--db`, else the URI's, else `forge`).
pub async fn connect(uri: &str, db: Option<&str>) -> Result<(Client, String), Error> {
    let shown = redact_uri(uri);
    let mut options = ClientOptions::parse(uri)
        .await
        .map_err(|e| Error::Usage(format!("--uri: invalid connection string '{shown}': {}", e.kind)))?;
    options.app_name.get_or_insert_with(|| "forge".into());
    options.server_selection_timeout.get_or_insert(SERVER_SELECTION_TIMEOUT);
    options.connect_timeout.get_or_insert(SERVER_SELECTION_TIMEOUT);
    let db = db.map(str::to_string).or_else(|| options.default_database.clone()).unwrap_or_else(|| "forge".into());
    let client = Client::with_options(options).map_err(|e| Error::Usage(format!("--uri '{shown}': {}", e.kind)))?;
    client.database("admin").run_command(bson::doc! { "ping": 1 }).await.map_err(|e| {
        if is_auth_failure(&e) {
            // Bad credentials are bad input, like a bad flag.
            Error::Usage(format!("--uri: authentication failed at {shown}: {}", one_line(&e.kind.to_string())))
        } else {
            Error::Runtime(format!("cannot reach MongoDB at {shown}: {}", one_line(&e.kind.to_string())))
        }
    })?;
    Ok((client, db))
}

/// MongoDB's AuthenticationFailed, however the driver wraps it.
fn is_auth_failure(e: &mongodb::error::Error) -> bool {
    match &*e.kind {
        mongodb::error::ErrorKind::Authentication { .. } => true,
        mongodb::error::ErrorKind::Command(c) => c.code == 18,
        _ => e.to_string().contains("Authentication failed"),
    }
}

pub fn collection(client: &Client, db: &str, name: &str) -> Collection<bson::Document> {
    client.database(db).collection(name)
}

/// `--write-concern`: `majority`, a node count (`1`, `0` for unacknowledged), with
/// `,j` for journaled (`majority,j`).
pub fn parse_write_concern(spec: &str) -> Result<WriteConcern, String> {
    let mut parts = spec.split(',').map(str::trim);
    let w = parts.next().unwrap_or_default();
    let w = w.strip_prefix("w:").unwrap_or(w);
    let acknowledgment = match w {
        "majority" => Acknowledgment::Majority,
        n => Acknowledgment::Nodes(n.parse().map_err(|_| {
            format!("'{spec}' is not a write concern (expected majority, a number such as 1 or 0, optionally ,j)")
        })?),
    };
    let mut journal = None;
    for part in parts {
        match part {
            "j" | "j:true" => journal = Some(true),
            "j:false" => journal = Some(false),
            other => return Err(format!("unknown write concern option '{other}' (expected j)")),
        }
    }
    let mut wc = WriteConcern::default();
    wc.w = Some(acknowledgment);
    wc.journal = journal;
    Ok(wc)
}

pub fn is_unacknowledged(wc: &WriteConcern) -> bool {
    matches!(wc.w, Some(Acknowledgment::Nodes(0)))
}

pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        assert_eq!(redact_uri("mongodb://bob:s3cret@h:27017/db?x=1"), "mongodb://bob:***@h:27017/db?x=1");
        assert_eq!(redact_uri("mongodb+srv://bob:p@ss@cluster/"), "mongodb+srv://bob:***@cluster/");
        assert_eq!(redact_uri("mongodb://h:1/db?authSource=a@b"), "mongodb://h:1/db?authSource=a@b");
        assert_eq!(redact_uri("mongodb://h:1"), "mongodb://h:1");
    }

    #[test]
    fn write_concerns_parse() {
        assert_eq!(parse_write_concern("majority,j").unwrap().journal, Some(true));
        assert_eq!(parse_write_concern("w:1").unwrap().w, Some(Acknowledgment::Nodes(1)));
        assert!(is_unacknowledged(&parse_write_concern("0").unwrap()));
        assert!(parse_write_concern("most").unwrap_err().contains("most"));
    }
}
