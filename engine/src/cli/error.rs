//! The command line's one error type: every library error becomes a message (with the
//! flag it concerns, which only the CLI knows) and an exit code here. 2: bad flags or
//! input; 1: a failure while running; 99: a `--threshold` that did not hold.

use crate::mongo::ConnectError;
use crate::plugin::{Failure, PluginError};
use crate::schema::LoadError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad flags or input: exit code 2.
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Schema(#[from] LoadError),
    /// A failure while running: exit code 1.
    #[error("{0}")]
    Runtime(String),
    /// A run that failed after its final report was printed: exit code 1.
    #[error("{0}")]
    Reported(String),
    /// A run whose `--threshold`s did not all hold: exit code 99.
    #[error("{0}")]
    ThresholdFailed(String),
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) | Error::Schema(_) => 2,
            Error::Runtime(_) | Error::Reported(_) => 1,
            Error::ThresholdFailed(_) => 99,
        }
    }
}

impl From<ConnectError> for Error {
    fn from(e: ConnectError) -> Self {
        if e.is_bad_input() { Error::Usage(format!("--uri: {e}")) } else { Error::Runtime(e.to_string()) }
    }
}

/// A plugin error with the flag that changes the limit it hit, if any.
pub fn describe_plugin_error(e: &PluginError) -> String {
    match e.failure {
        Failure::Timeout(_) => format!("{e} (--plugin-timeout)"),
        Failure::OutOfMemory(_) => format!("{e} (--plugin-memory)"),
        _ => e.to_string(),
    }
}
