//! Why a verification could not be carried out (differences are not errors: they
//! are what the report holds).

use std::path::PathBuf;

use super::journals::NotOneRun;
use crate::journal::JournalError;

/// A failure finding or reading the journals, or reading the server.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// A journal could not be read.
    #[error("cannot read '{}': {source}", .journal.display())]
    Journal { journal: PathBuf, source: JournalError },
    /// A directory to find journals in could not be listed.
    #[error("cannot list '{}': {source}", .dir.display())]
    Directory { dir: PathBuf, source: std::io::Error },
    /// A directory to find journals in holds none.
    #[error("no forge journal in '{}'", .dir.display())]
    NoJournalIn { dir: PathBuf },
    /// No journal was given.
    #[error("no journal to verify against")]
    NoJournal,
    /// The journals are not those of one run.
    #[error(transparent)]
    NotOneRun(#[from] NotOneRun),
    /// The change stream was to start at the run's start, which this journal lacks.
    #[error("the journal '{}' has no start time to read the change stream from", .journal.display())]
    NoStartTime { journal: PathBuf },
    /// Reading the change stream failed.
    #[error("change stream of {namespace}: {}", .source.kind)]
    ChangeStream { namespace: String, source: mongodb::error::Error },
    /// A schema version the journal records does not compile.
    #[error("the journal's schema version {version} does not load: {why}")]
    SchemaVersion { version: usize, why: String },
    /// The sink shows documents rather than events (a table, a Singer log), and the
    /// journal, written without the documents its writes left, has nothing to match
    /// them with.
    #[error("{sink} shows documents, not events: the journal holds no documents to match them with")]
    NoDocuments { sink: &'static str },
    /// A sink other than a MongoDB collection could not be read.
    #[error("{sink}: {why}")]
    Sink { sink: String, why: String },
    /// Reading the collection failed.
    #[error("reading {namespace}: {}", .source.kind)]
    Collection { namespace: String, source: mongodb::error::Error },
}
