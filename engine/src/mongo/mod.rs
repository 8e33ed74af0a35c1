//! MongoDB connection handling: connection strings, write concerns, redaction.

pub mod collection_api;
pub mod reply;
pub mod targets;
pub mod writer;

use std::time::Duration;

use mongodb::options::{Acknowledgment, ClientOptions, WriteConcern};
use mongodb::{Client, Collection};

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

/// Why connecting failed. The connection string is shown with its password redacted.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("invalid connection string '{uri}': {reason}")]
    InvalidUri { uri: String, reason: String },
    #[error("authentication failed at {uri}: {reason}")]
    Authentication { uri: String, reason: String },
    #[error("cannot reach MongoDB at {uri}: {reason}")]
    Unreachable { uri: String, reason: String },
}

impl ConnectError {
    /// Whether the input (the connection string or its credentials) is at fault,
    /// rather than the server or the network.
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, ConnectError::Unreachable { .. })
    }
}

/// A connected client and the database name to use (`db`, else the URI's, else `forge`).
pub async fn connect(uri: &str, db: Option<&str>) -> Result<(Client, String), ConnectError> {
    let shown = redact_uri(uri);
    let invalid =
        |e: mongodb::error::Error| ConnectError::InvalidUri { uri: shown.clone(), reason: e.kind.to_string() };
    let mut options = ClientOptions::parse(uri).await.map_err(invalid)?;
    options.app_name.get_or_insert_with(|| "forge".into());
    options.server_selection_timeout.get_or_insert(SERVER_SELECTION_TIMEOUT);
    options.connect_timeout.get_or_insert(SERVER_SELECTION_TIMEOUT);
    let db = db.map(str::to_string).or_else(|| options.default_database.clone()).unwrap_or_else(|| "forge".into());
    let client = Client::with_options(options).map_err(invalid)?;
    client.database("admin").run_command(bson::doc! { "ping": 1 }).await.map_err(|e| {
        let reason = one_line(&e.kind.to_string());
        if is_auth_failure(&e) {
            ConnectError::Authentication { uri: shown.clone(), reason }
        } else {
            ConnectError::Unreachable { uri: shown.clone(), reason }
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
}
