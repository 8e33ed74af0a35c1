//! File output: documents generated in parallel and rendered, in index order, as one
//! text stream (NDJSON or a JSON array).
//!
//! Documents are made in chunks; worker `w` of `n` takes chunks `w, w+n, w+2n, ...` and
//! hands each, serialised, to its own small bounded channel. The writer takes chunks
//! round-robin from the workers, so output order is the index order, memory is bounded
//! by `threads × (channel depth + 1)` chunks, and no reorder buffer is needed.

use std::io::{self, Write};
use std::sync::mpsc;

use bson::RawDocument;

use crate::generate::Generator;
use crate::output::TextFormat;
use crate::output::ejson::Mode;

/// Documents per chunk: large enough to amortise channel hand-offs, small enough to
/// keep memory flat (a chunk of 2 KB documents is about 1 MB).
pub const CHUNK: u64 = 512;

#[derive(Debug, Clone)]
pub struct Job {
    pub generator: Generator,
    /// First document index (so a stream can be split across processes) and count.
    pub start: u64,
    pub count: u64,
    pub threads: usize,
    pub format: TextFormat,
    pub mode: Mode,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct Written {
    pub docs: u64,
    pub bytes: u64,
}

impl Job {
    fn chunks(&self) -> u64 {
        self.count.div_ceil(CHUNK)
    }

    fn render_chunk(&self, chunk: u64, buf: &mut Vec<u8>) -> u64 {
        let first = chunk * CHUNK;
        let last = (first + CHUNK).min(self.count);
        let mut raw = Vec::with_capacity(4096);
        for i in first..last {
            raw.clear();
            let written = self.generator.write_raw_document(self.start + i, &mut raw).ok().and_then(|()| {
                let doc = RawDocument::from_bytes(&raw).ok()?;
                self.format.write_raw_doc(buf, i, doc, self.mode).ok()
            });
            // A document BSON cannot hold (a NUL in a key) is still valid JSON.
            if written.is_none() {
                let doc = self.generator.document(self.start + i);
                self.format.write_doc(buf, i, &doc, self.mode);
            }
        }
        last - first
    }

    /// Writes the whole job to `out`. A closed pipe (`forge generate | head`) ends the
    /// run early without error; the returned counts say what was written.
    pub fn run(&self, out: &mut dyn Write) -> io::Result<Written> {
        let mut written = Written::default();
        let result = self.run_inner(out, &mut written);
        match result {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(written),
            Err(e) => Err(e),
            Ok(()) => {
                out.write_all(self.format.footer(self.count))?;
                out.flush().or_else(|e| if e.kind() == io::ErrorKind::BrokenPipe { Ok(()) } else { Err(e) })?;
                Ok(written)
            }
        }
    }

    fn run_inner(&self, out: &mut dyn Write, written: &mut Written) -> io::Result<()> {
        out.write_all(self.format.header())?;
        let threads = self.threads.max(1);
        if threads == 1 || self.chunks() <= 1 {
            let mut buf = Vec::with_capacity(1 << 20);
            for chunk in 0..self.chunks() {
                buf.clear();
                written.docs += self.render_chunk(chunk, &mut buf);
                out.write_all(&buf)?;
                written.bytes += buf.len() as u64;
            }
            return Ok(());
        }
        std::thread::scope(|scope| {
            let mut inboxes = Vec::with_capacity(threads);
            for worker in 0..threads as u64 {
                let (tx, rx) = mpsc::sync_channel::<(Vec<u8>, u64)>(2);
                inboxes.push(rx);
                scope.spawn(move || {
                    let mut chunk = worker;
                    while chunk < self.chunks() {
                        let mut buf = Vec::with_capacity(1 << 20);
                        let n = self.render_chunk(chunk, &mut buf);
                        if tx.send((buf, n)).is_err() {
                            return; // the writer stopped (closed pipe or write error)
                        }
                        chunk += threads as u64;
                    }
                });
            }
            for chunk in 0..self.chunks() {
                let (buf, n) =
                    inboxes[(chunk % threads as u64) as usize].recv().expect("a worker ended before its last chunk");
                out.write_all(&buf)?;
                written.docs += n;
                written.bytes += buf.len() as u64;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::examples;
    use crate::schema::Schema;

    const FIXTURES: &[&str] = &[
        include_str!("../../../tests/fixtures/original-dialect/orders.generation.schema.json"),
        include_str!("../../../tests/fixtures/original-dialect/dynamic-keys.schema.json"),
        include_str!("../../../tests/fixtures/original-dialect/types-and-formats.schema.json"),
    ];

    /// What the writer produced when it rendered decoded documents: the reference.
    fn from_documents(job: &Job) -> Vec<u8> {
        let mut out = job.format.header().to_vec();
        for i in 0..job.count {
            job.format.write_doc(&mut out, i, &job.generator.document(job.start + i), job.mode);
        }
        out.extend_from_slice(job.format.footer(job.count));
        out
    }

    #[test]
    fn output_is_what_rendering_decoded_documents_gave() {
        let jsons = examples::ALL.iter().map(|e| e.json).chain(FIXTURES.iter().copied());
        for json in jsons {
            let generator = Generator::new(Arc::new(Schema::from_json_str(json).unwrap()), 11);
            for (format, mode, threads) in [
                (TextFormat::Ndjson, Mode::Relaxed, 1),
                (TextFormat::Ndjson, Mode::Canonical, 2),
                (TextFormat::Json, Mode::Relaxed, 2),
                (TextFormat::Json, Mode::Canonical, 1),
            ] {
                let job = Job { generator: generator.clone(), start: 3, count: 1200, threads, format, mode };
                let mut out = Vec::new();
                let written = job.run(&mut out).unwrap();
                assert_eq!(written.docs, 1200);
                assert!(out == from_documents(&job), "{format:?} {mode:?}: output differs");
            }
        }
    }

    #[test]
    fn documents_bson_cannot_hold_are_still_written() {
        let json = r#"{"type":"object","required":["a\u0000b"],"properties":{"a\u0000b":{"type":"integer"}}}"#;
        let generator = Generator::new(Arc::new(Schema::from_json_str(json).unwrap()), 1);
        let job = Job { generator, start: 0, count: 3, threads: 1, format: TextFormat::Ndjson, mode: Mode::Relaxed };
        let mut out = Vec::new();
        job.run(&mut out).unwrap();
        assert_eq!(out, from_documents(&job));
        assert!(String::from_utf8(out).unwrap().contains(r#""a\u0000b":"#));
    }
}
