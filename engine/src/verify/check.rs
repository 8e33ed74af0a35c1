//! A verification: the journal read first (before anything is asked of the server),
//! then the collection, and optionally its change stream, compared with it.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bson::Document;
use mongodb::Collection;
use mongodb::change_stream::event::ResumeToken;

use super::VerifyError;
use super::change_stream::ExpectedEvents;
use super::final_state::FinalState;
use super::report::{FinalStateCheck, Report};
use super::server::{self, StreamStart};
use crate::journal::{Header, Reader};

/// `_id`s looked up per query when only the journaled documents are checked.
const LOOKUP_BATCH: usize = 1000;

/// How to read the change stream for the change-stream check.
#[derive(Debug, Clone)]
pub struct ChangeStreamOptions {
    /// Read from just after this event instead of from the run's start.
    pub resume_after: Option<ResumeToken>,
    /// Stop reading once no event arrives for this long.
    pub idle: Duration,
}

/// A verification prepared from a journal, ready to run against a collection.
#[derive(Debug)]
pub struct Check {
    journal: PathBuf,
    header: Header,
    operations: u64,
    incomplete_line: Option<u64>,
    final_state: FinalState,
    change_stream: Option<(ChangeStreamOptions, ExpectedEvents)>,
}

impl Check {
    /// Reads the journal at `path`; with `change_stream`, the stream is checked too.
    pub fn load(path: &Path, change_stream: Option<ChangeStreamOptions>) -> Result<Self, VerifyError> {
        Check::from_reader(path.to_path_buf(), Reader::open(path)?, change_stream)
    }

    /// Reads a journal from `reader`; `journal` is the name the report gives it.
    pub fn from_reader<R: BufRead>(
        journal: PathBuf,
        mut reader: Reader<R>,
        change_stream: Option<ChangeStreamOptions>,
    ) -> Result<Self, VerifyError> {
        let mut final_state = FinalState::new(reader.header().server_time_field.clone());
        // Expected events are collected only when asked for: they cost memory per write.
        let mut change_stream = change_stream.map(|options| (options, ExpectedEvents::default()));
        let mut operations = 0;
        for entry in &mut reader {
            let entry = entry?;
            operations += 1;
            final_state.record(&entry);
            if let Some((_, events)) = &mut change_stream {
                events.record(&entry);
            }
        }
        let incomplete_line = reader.incomplete_line();
        Ok(Check { journal, header: reader.header().clone(), operations, incomplete_line, final_state, change_stream })
    }

    /// The journal's header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The journal line where reading stopped because it was torn, if it did.
    pub fn incomplete_line(&self) -> Option<u64> {
        self.incomplete_line
    }

    /// Entries read from the journal.
    pub fn operations(&self) -> u64 {
        self.operations
    }

    /// Compares `coll` (after its change stream, when asked for) with the journal.
    pub async fn run(self, coll: &Collection<Document>) -> Result<Report, VerifyError> {
        let change_stream = match &self.change_stream {
            Some((options, expected)) => {
                let seen = server::read_events(coll, self.stream_start(options)?, options.idle).await?;
                Some(expected.compare(&seen))
            }
            None => None,
        };
        let final_state = if self.header.preexisting {
            // Documents the run never wrote are not read: memory and time follow the
            // journal, not the collection.
            let mut found = FinalStateCheck { journaled_only: true, ..Default::default() };
            for batch in self.final_state.into_batches(LOOKUP_BATCH) {
                let ids = batch.ids();
                let mut comparison = batch.compare();
                server::lookup_documents(coll, ids, &mut comparison).await?;
                found.absorb(comparison.finish());
            }
            found
        } else {
            // Every document is the run's: one the journal does not know is extra.
            let mut comparison = self.final_state.compare();
            server::compare_documents(coll, &mut comparison).await?;
            comparison.finish()
        };
        Ok(Report {
            namespace: coll.namespace().to_string(),
            journal: self.journal,
            operations: self.operations,
            final_state,
            change_stream,
            incomplete_journal_line: self.incomplete_line,
        })
    }

    fn stream_start(&self, options: &ChangeStreamOptions) -> Result<StreamStart, VerifyError> {
        if let Some(token) = &options.resume_after {
            return Ok(StreamStart::After(token.clone()));
        }
        let (time, increment) = self.header.start_operation_time.ok_or(VerifyError::NoStartTime)?;
        Ok(StreamStart::At(bson::Timestamp { time, increment }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = r#"{"forge_journal":1,"namespace":"db.c","seed":1,"started_at":"","server_time_field":null,"start_operation_time":null}"#;

    fn check(text: &str, change_stream: bool) -> Check {
        let options = change_stream.then_some(ChangeStreamOptions { resume_after: None, idle: Duration::ZERO });
        Check::from_reader("j".into(), Reader::new(text.as_bytes()).unwrap(), options).unwrap()
    }

    #[test]
    fn counts_every_entry_and_notes_a_torn_last_line() {
        let entry = r#"{"s":0,"k":"insert","w":"insert","id":1,"t":0,"m":0,"h":null}"#;
        let check = check(&format!("{HEADER}\n{entry}\n{entry}\n{{\"s\":"), false);
        assert_eq!((check.operations(), check.incomplete_line()), (2, Some(4)));
        assert_eq!(check.header().namespace, "db.c");
    }

    #[test]
    fn the_change_stream_needs_a_start() {
        let check = check(HEADER, true);
        let options = &check.change_stream.as_ref().unwrap().0;
        assert!(matches!(check.stream_start(options), Err(VerifyError::NoStartTime)));
    }
}
