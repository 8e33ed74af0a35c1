//! MongoDB connection handling: connection strings, write concerns, redaction.

pub mod client_api;
pub mod collection_api;
pub mod recovery;
mod redact;
pub mod reply;
pub mod targets;
pub mod writer;

use std::time::Duration;

use mongodb::options::{Acknowledgment, ClientOptions, WriteConcern};
use mongodb::{Client, Collection};

pub use redact::{HIDDEN, is_secret_name, redact_uri, uri_secrets};

/// How long to wait for a server before an operation fails (the driver's default of
/// 30 s would make a down server look like a hang).
const SERVER_SELECTION_TIMEOUT: Duration = Duration::from_secs(5);

/// Why connecting failed. The connection string is shown with its secrets redacted.
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
    // The driver's messages may quote an option's value.
    let secrets = uri_secrets(uri);
    let hide = |reason: String| secrets.iter().fold(reason, |r, s| r.replace(s.as_str(), HIDDEN));
    let invalid =
        |e: mongodb::error::Error| ConnectError::InvalidUri { uri: shown.clone(), reason: hide(e.kind.to_string()) };
    let mut options = ClientOptions::parse(uri).await.map_err(invalid)?;
    options.app_name.get_or_insert_with(|| "forge".into());
    options.server_selection_timeout.get_or_insert(SERVER_SELECTION_TIMEOUT);
    options.connect_timeout.get_or_insert(SERVER_SELECTION_TIMEOUT);
    // forge retries writes itself, exactly (see writer.rs): a driver retry of a batch
    // whose first attempt applied would apply it twice on a server without
    // retryable-write support. A connection string that asks for them keeps them.
    options.retry_writes.get_or_insert(false);
    let db = db.map(str::to_string).or_else(|| options.default_database.clone()).unwrap_or_else(|| "forge".into());
    let client = Client::with_options(options).map_err(invalid)?;
    client.database("admin").run_command(bson::doc! { "ping": 1 }).await.map_err(|e| {
        let reason = hide(one_line(&e.kind.to_string()));
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
