//! Where generated documents go, and in which text form.

pub mod ejson;
pub mod render;

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use bson::{Document, RawDocument};

/// Text layouts for file output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextFormat {
    /// One document per line (what `mongoimport` reads by default).
    Ndjson,
    /// One JSON array (for `mongoimport --jsonArray`).
    Json,
}

impl TextFormat {
    /// Appends document `index` to `out`, with the separators its layout needs.
    pub fn write_doc(self, out: &mut Vec<u8>, index: u64, doc: &Document, mode: ejson::Mode) {
        self.separate(out, index);
        ejson::write_document(out, doc, mode);
        self.terminate(out);
    }

    /// [`TextFormat::write_doc`] for a document in BSON bytes; on error `out` is left
    /// as it was.
    pub fn write_raw_doc(
        self,
        out: &mut Vec<u8>,
        index: u64,
        doc: &RawDocument,
        mode: ejson::Mode,
    ) -> Result<(), bson::error::Error> {
        let start = out.len();
        self.separate(out, index);
        if let Err(e) = ejson::write_raw_document(out, doc, mode) {
            out.truncate(start);
            return Err(e);
        }
        self.terminate(out);
        Ok(())
    }

    fn separate(self, out: &mut Vec<u8>, index: u64) {
        if self == TextFormat::Json {
            out.extend_from_slice(if index == 0 { b"  " } else { b",\n  " });
        }
    }

    fn terminate(self, out: &mut Vec<u8>) {
        if self == TextFormat::Ndjson {
            out.push(b'\n');
        }
    }

    pub fn header(self) -> &'static [u8] {
        match self {
            TextFormat::Ndjson => b"",
            TextFormat::Json => b"[\n",
        }
    }

    pub fn footer(self, count: u64) -> &'static [u8] {
        match self {
            TextFormat::Ndjson => b"",
            TextFormat::Json if count == 0 => b"]\n",
            TextFormat::Json => b"\n]\n",
        }
    }
}

/// `-` for standard output, otherwise a file that is created or truncated.
#[derive(Debug, Clone)]
pub enum Target {
    Stdout,
    File(PathBuf),
}

impl Target {
    pub fn parse(s: &str) -> Self {
        if s == "-" { Target::Stdout } else { Target::File(PathBuf::from(s)) }
    }

    pub fn name(&self) -> String {
        match self {
            Target::Stdout => "standard output".into(),
            Target::File(p) => p.display().to_string(),
        }
    }

    /// The stream to write to; the error is the file's, which could not be created.
    pub fn open(&self) -> io::Result<Box<dyn Write + Send>> {
        Ok(match self {
            Target::Stdout => Box::new(BufWriter::with_capacity(1 << 16, io::stdout())),
            Target::File(p) => Box::new(BufWriter::with_capacity(1 << 16, File::create(p)?)),
        })
    }
}
