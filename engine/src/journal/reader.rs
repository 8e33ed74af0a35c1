//! Reading a journal back: its header, then its entries in turn.

use std::fs::File;
use std::io::{BufRead, BufReader, Lines, Read};
use std::path::Path;

use super::{Entry, Header, JournalError, VERSION};

/// A header line is far shorter: a longer first line is not one.
const HEADER_MAX: u64 = 64 * 1024;

/// The header of the file at `path` if its first line is a journal header, `None` for
/// any other file (of which at most [`HEADER_MAX`] bytes are read): to pick the
/// journals out of a directory. A journal of another format version is an error, not
/// another file.
pub fn probe(path: &Path) -> Result<Option<Header>, JournalError> {
    let mut first = Vec::new();
    BufReader::new(File::open(path)?).take(HEADER_MAX).read_until(b'\n', &mut first)?;
    let Ok(header) = serde_json::from_slice::<Header>(&first) else { return Ok(None) };
    if header.forge_journal != VERSION {
        return Err(JournalError::Version(header.forge_journal));
    }
    Ok(Some(header))
}

/// A journal being read: the header is read on opening, entries by iterating.
/// Iteration ends at the first incomplete line (see [`Reader::incomplete_line`]).
pub struct Reader<R> {
    header: Header,
    lines: Lines<R>,
    /// Line number of the line read last (the header is line 1).
    line: u64,
    incomplete_line: Option<u64>,
}

impl Reader<BufReader<File>> {
    /// Opens the journal at `path` and reads its header.
    pub fn open(path: &Path) -> Result<Self, JournalError> {
        Reader::new(BufReader::new(File::open(path)?))
    }
}

impl<R: BufRead> Reader<R> {
    /// Reads the header of a journal from `input`.
    pub fn new(input: R) -> Result<Self, JournalError> {
        let mut lines = input.lines();
        let first = lines.next().ok_or(JournalError::Empty)??;
        let header: Header = serde_json::from_str(&first).map_err(JournalError::NotAJournal)?;
        if header.forge_journal != VERSION {
            return Err(JournalError::Version(header.forge_journal));
        }
        Ok(Reader { header, lines, line: 1, incomplete_line: None })
    }

    /// The journal's header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The line (1-based) where reading stopped because it was not a whole entry.
    pub fn incomplete_line(&self) -> Option<u64> {
        self.incomplete_line
    }
}

impl<R: BufRead> Iterator for Reader<R> {
    type Item = Result<Entry, JournalError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.incomplete_line.is_some() {
            return None;
        }
        loop {
            let line = match self.lines.next()? {
                Ok(line) => line,
                Err(e) => return Some(Err(e.into())),
            };
            self.line += 1;
            if line.is_empty() {
                continue;
            }
            // A run killed mid-write can leave a torn last line: stop there.
            return match serde_json::from_str(&line) {
                Ok(entry) => Some(Ok(entry)),
                Err(_) => {
                    self.incomplete_line = Some(self.line);
                    None
                }
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = r#"{"forge_journal":1,"namespace":"forge.c","seed":1,"started_at":"2025-01-01T00:00:00Z","server_time_field":null,"start_operation_time":[1735689600,1]}"#;
    const ENTRY: &str = r#"{"s":0,"k":"insert","w":"insert","id":{"$numberInt":"1"},"t":5,"m":1,"n":0,"h":"gone"}"#;

    fn read(text: &str) -> Result<(Reader<&[u8]>, Vec<Entry>), JournalError> {
        let mut reader = Reader::new(text.as_bytes())?;
        let entries = reader.by_ref().collect::<Result<Vec<_>, _>>()?;
        Ok((reader, entries))
    }

    #[test]
    fn reads_the_header_and_every_entry_skipping_blank_lines() {
        let text = format!("{HEADER}\n{ENTRY}\n\n{ENTRY}\n");
        let (reader, entries) = read(&text).unwrap();
        assert_eq!(reader.header().namespace, "forge.c");
        assert_eq!(reader.header().start_operation_time, Some((1_735_689_600, 1)));
        assert_eq!(entries.len(), 2);
        assert_eq!(reader.incomplete_line(), None);
    }

    #[test]
    fn stops_at_a_torn_line_and_says_which() {
        let torn = &ENTRY[..ENTRY.len() / 2];
        let text = format!("{HEADER}\n{ENTRY}\n{ENTRY}\n{torn}");
        let (reader, entries) = read(&text).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(reader.incomplete_line(), Some(4));
    }

    #[test]
    fn refuses_what_is_not_a_journal_of_this_version() {
        assert!(matches!(read(""), Err(JournalError::Empty)));
        assert!(matches!(read("{\"a\":1}\n"), Err(JournalError::NotAJournal(_))));
        let v2 = HEADER.replace("\"forge_journal\":1", "\"forge_journal\":2");
        let err = read(&v2).err().unwrap();
        assert!(matches!(err, JournalError::Version(2)));
        assert_eq!(err.to_string(), "journal version 2; this forge reads version 1");
    }

    #[test]
    fn a_probe_tells_journals_from_other_files() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, bytes: &[u8]| {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            path
        };
        let journal = write("j", format!("{HEADER}\n{ENTRY}\n").as_bytes());
        assert_eq!(probe(&journal).unwrap().unwrap().namespace, "forge.c");
        assert_eq!(probe(&write("header-only", HEADER.as_bytes())).unwrap().unwrap().seed, 1);
        for (name, bytes) in
            [("empty", &b""[..]), ("json", b"{\"a\":1}\n"), ("binary", b"\xff\xfe\x00\n"), ("entry", ENTRY.as_bytes())]
        {
            assert!(probe(&write(name, bytes)).unwrap().is_none(), "{name}");
        }
        let long = write("long", &vec![b'x'; 200_000]);
        assert!(probe(&long).unwrap().is_none());
        let v2 = write("v2", HEADER.replace("\"forge_journal\":1", "\"forge_journal\":2").as_bytes());
        assert!(matches!(probe(&v2), Err(JournalError::Version(2))));
        assert!(matches!(probe(&dir.path().join("absent")), Err(JournalError::Io(_))));
    }

    #[test]
    fn a_missing_file_is_an_io_error() {
        let err = Reader::open(Path::new("/nonexistent/journal.ndjson")).err().unwrap();
        assert!(matches!(err, JournalError::Io(_)));
    }
}
