//! Why a journal could not be read. Messages name neither the file nor a flag: the
//! caller knows both and adds them. (Writing can only fail on I/O, so the writer
//! returns `std::io::Error`.)

use super::header::VERSION;

/// A failure reading a journal.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// The file could not be opened or read.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The file has no header line.
    #[error("the file is empty")]
    Empty,
    /// The first line is not a journal header.
    #[error("not a forge journal (header: {0})")]
    NotAJournal(serde_json::Error),
    /// The journal was written in a format version this forge does not read.
    #[error("journal version {0}; this forge reads version {VERSION}")]
    Version(u32),
}
