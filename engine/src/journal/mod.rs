//! The operation journal (`--journal FILE`): one line per acknowledged operation, so
//! that `forge verify` can check what a collection (or a pipeline's copy of it) should
//! hold. NDJSON: a header line, then entries, written as the server acknowledges.

mod entry;
mod error;
mod hash;
mod header;
mod reader;
mod writer;

pub use entry::{Entry, encode_expect};
pub use error::JournalError;
pub use hash::doc_hash;
pub use header::{Header, SchemaVersion, VERSION};
pub use reader::{Reader, probe};
pub use writer::JournalWriter;
