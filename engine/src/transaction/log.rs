//! A transaction stream's log (`--journal`, one file per stream): a header, then one
//! line per transaction the stream ran to an end, committed or aborted, in order.
//! NDJSON, like the journal; short keys, since a log holds a line per transaction.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The log format this forge writes and reads.
pub const VERSION: u32 = 1;

/// The first line of a transaction log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogHeader {
    /// The format version ([`VERSION`]); its key also marks the file as a log.
    pub forge_transactions: u32,
    /// The stream's name in the scenario.
    pub name: String,
    pub database: String,
    /// The collection its transactions update, and the one they insert into.
    pub update: Option<String>,
    pub insert: Option<String>,
    /// The stream's seed.
    pub seed: u64,
    /// When the stream started, RFC 3339.
    pub started_at: String,
    /// The server's operation time before the first write: where a change stream
    /// that must see every transaction starts (seconds and increment).
    pub start_operation_time: Option<(u32, u32)>,
}

/// How a transaction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The server acknowledged its commit: every write is visible, together.
    Commit,
    /// Its writes were sent and then aborted (as planned): none is visible.
    Abort,
    /// Its commit was sent but no answer told whether it applied (a lost
    /// connection): all of it or none is visible.
    Unknown,
}

/// One write of a transaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogOp {
    /// The collection.
    #[serde(rename = "c")]
    pub collection: String,
    /// insert or update.
    #[serde(rename = "w")]
    pub write: String,
    /// The document's `_id`, as canonical Extended JSON.
    pub id: serde_json::Value,
}

/// One transaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogLine {
    /// Its index in the stream (the plan's).
    #[serde(rename = "n")]
    pub index: u64,
    /// Its session's id (the `lsid.id` UUID of its change events), in hex.
    pub lsid: String,
    /// Transactions started on the session up to and including this one: the
    /// server numbers them (`txnNumber`) from where the session's count stood, so
    /// within one session `txnNumber - attempt` is the same for every transaction.
    #[serde(rename = "a")]
    pub attempt: u64,
    #[serde(rename = "o")]
    pub outcome: Outcome,
    pub ops: Vec<LogOp>,
    /// When it ended (its commit or abort was answered), ms since the epoch.
    #[serde(rename = "t")]
    pub at_ms: i64,
}

/// Why a log cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("not a transaction log (its first line is no log header)")]
    NotALog,
    #[error("transaction log format {0}; this forge reads format {VERSION}")]
    Version(u32),
    #[error("line {line}: {message}")]
    Line { line: u64, message: String },
}

/// A log being written.
pub struct LogWriter {
    out: BufWriter<File>,
}

impl LogWriter {
    /// Creates (or truncates) the log at `path` and writes its header.
    pub fn create(path: &Path, header: &LogHeader) -> std::io::Result<Self> {
        let mut out = BufWriter::new(File::create(path)?);
        line(&mut out, header)?;
        Ok(LogWriter { out })
    }

    pub fn append(&mut self, entry: &LogLine) -> std::io::Result<()> {
        line(&mut self.out, entry)
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

fn line(out: &mut impl Write, value: &impl Serialize) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    out.write_all(b"\n")
}

/// Reads a whole log. A last line cut short (a run killed mid-write) is left out.
pub fn read(path: &Path) -> Result<(LogHeader, Vec<LogLine>), LogError> {
    let mut lines = BufReader::new(File::open(path)?).lines();
    let first = lines.next().transpose()?.ok_or(LogError::NotALog)?;
    let header: LogHeader = serde_json::from_str(&first).map_err(|_| LogError::NotALog)?;
    if header.forge_transactions != VERSION {
        return Err(LogError::Version(header.forge_transactions));
    }
    let mut out = Vec::new();
    let mut pending: Option<(u64, String)> = None;
    for (n, text) in lines.enumerate() {
        let text = text?;
        if let Some((line, message)) = pending.take() {
            return Err(LogError::Line { line, message });
        }
        match serde_json::from_str::<LogLine>(&text) {
            Ok(l) => out.push(l),
            Err(e) => pending = Some((n as u64 + 2, e.to_string())),
        }
    }
    Ok((header, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> LogHeader {
        LogHeader {
            forge_transactions: VERSION,
            name: "checkout".into(),
            database: "shop".into(),
            update: Some("inventory".into()),
            insert: Some("reservations".into()),
            seed: 1,
            started_at: "2026-01-01T00:00:00Z".into(),
            start_operation_time: Some((5, 1)),
        }
    }

    fn txn(index: u64, outcome: Outcome) -> LogLine {
        LogLine {
            index,
            lsid: "00ff".into(),
            attempt: index + 1,
            outcome,
            ops: vec![LogOp { collection: "inventory".into(), write: "update".into(), id: serde_json::json!(3) }],
            at_ms: 9,
        }
    }

    #[test]
    fn what_is_written_reads_back_and_a_cut_last_line_is_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.jsonl");
        let mut w = LogWriter::create(&path, &header()).unwrap();
        w.append(&txn(0, Outcome::Commit)).unwrap();
        w.append(&txn(1, Outcome::Abort)).unwrap();
        w.flush().unwrap();
        drop(w);
        std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(b"{\"n\":2,\"ls").unwrap();
        let (h, lines) = read(&path).unwrap();
        assert_eq!(h, header());
        assert_eq!(lines, vec![txn(0, Outcome::Commit), txn(1, Outcome::Abort)]);
    }

    #[test]
    fn a_journal_is_not_a_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        std::fs::write(&path, "{\"forge_journal\":1}\n").unwrap();
        assert!(matches!(read(&path), Err(LogError::NotALog)));
    }
}
