//! Why a verification could not be carried out (differences are not errors: they
//! are what the report holds).

use crate::journal::JournalError;

/// A failure reading the journal or the server.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The journal could not be read.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The change stream was to start at the run's start, which the journal lacks.
    #[error("the journal has no start time to read the change stream from")]
    NoStartTime,
    /// Reading the change stream failed.
    #[error("change stream of {namespace}: {}", .source.kind)]
    ChangeStream { namespace: String, source: mongodb::error::Error },
    /// Reading the collection failed.
    #[error("reading {namespace}: {}", .source.kind)]
    Collection { namespace: String, source: mongodb::error::Error },
}
