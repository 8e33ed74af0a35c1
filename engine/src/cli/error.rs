//! forge's error type and its mapping to exit codes (DESIGN.md §6).

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
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) | Error::Schema(_) => 2,
            Error::Runtime(_) | Error::Reported(_) => 1,
        }
    }
}
