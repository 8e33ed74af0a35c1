//! `forge bench --verify`: what checking a sink costs forge itself, without a server.
//! Three cases on the same journal (one insert per generated document, carrying the
//! document, as `--journal-docs` writes it):
//!
//! - `lossless`: the final-state check of a MongoDB collection (`forge verify`);
//! - `flattened`: the same check of a flattening sink's documents (`--sink-types
//!   flattened`: each value restored to the journaled type before hashing);
//! - `follow (states)`: following a sink of states (`verify --follow` on a table or a
//!   Singer log: each row matched with the document its write left).
//!
//! Only the check is timed (the entries replayed, then every document compared or
//! shown), not generating or flattening the documents. Five interleaved rounds: the
//! medians, and the median of the rounds' ratios to `lossless`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use bson::{Bson, Document};

use super::bench_cdc::median;
use super::error::Error;
use crate::generate::Generator;
use crate::journal::Entry;
use crate::verify::{FinalState, FinalStateCheck, Follower, SinkTypes, flat_id};

/// Rounds of each case, interleaved so that drift in the machine's load hits all alike.
const ROUNDS: usize = 5;

/// Acknowledgement time of the first entry (any fixed point will do); entry `i` is
/// acknowledged `i` ms later.
const ACKED_AT_MS: i64 = 1_700_000_000_000;

pub struct VerifyBench {
    pub schema: String,
    pub docs: u64,
    pub seed: u64,
}

/// What every case checks: the journal, and the documents as a collection and as a
/// flattening sink hold them.
struct Fixture {
    entries: Vec<Entry>,
    typed: Vec<Document>,
    flat: Vec<Document>,
}

impl Fixture {
    fn new(generator: &Generator, docs: u64) -> Self {
        let typed: Vec<Document> = (0..docs).map(|i| generator.document(i)).collect();
        let entries = typed.iter().zip(0..).map(|(doc, seq)| insert(seq, doc)).collect();
        let flat = typed.iter().map(flatten_document).collect();
        Fixture { entries, typed, flat }
    }
}

/// The journal line of an acknowledged insert of `doc`, as the writer makes it with
/// `--journal-docs`.
fn insert(seq: u64, doc: &Document) -> Entry {
    let id = doc.get("_id").unwrap_or(&Bson::Null);
    Entry::acked(seq, "insert", id, ACKED_AT_MS + seq as i64, doc).with_document(doc)
}

#[derive(Debug, Clone, Copy)]
enum Case {
    Lossless,
    Flattened,
    Follow,
}

impl Case {
    const ALL: [Case; 3] = [Case::Lossless, Case::Flattened, Case::Follow];

    fn name(self) -> &'static str {
        match self {
            Case::Lossless => "lossless",
            Case::Flattened => "flattened",
            Case::Follow => "follow (states)",
        }
    }

    /// How long the check of `f` took; an error if it found any difference.
    fn time(self, f: &Fixture) -> Result<Duration, Error> {
        match self {
            Case::Lossless | Case::Flattened => {
                let (docs, types) = match self {
                    Case::Lossless => (&f.typed, SinkTypes::lossless()),
                    _ => (&f.flat, SinkTypes::flattened()),
                };
                let started = Instant::now();
                let mut state = FinalState::new(None);
                f.entries.iter().for_each(|e| state.record(e));
                let mut comparison = state.compare_as(&types);
                docs.iter().for_each(|d| comparison.document(d));
                let check = comparison.finish();
                let took = started.elapsed();
                self.clean(&check, docs.len())?;
                Ok(took)
            }
            Case::Follow => {
                // A table's reader hands over the rows it read: copied beforehand, untimed.
                let rows = f.flat.clone();
                let now = ACKED_AT_MS + f.entries.len() as i64 + 1000;
                let started = Instant::now();
                let mut follower = Follower::of_states(SinkTypes::flattened());
                f.entries.iter().for_each(|e| follower.entry(e));
                for (doc, row) in f.typed.iter().zip(rows) {
                    follower.shows(&flat_id(doc.get("_id").unwrap_or(&Bson::Null)), Some(row), now);
                }
                let lag = follower.lag(now);
                let took = started.elapsed();
                if lag.matched != f.typed.len() as u64 || lag.behind_ops != 0 {
                    return Err(Error::Runtime(format!(
                        "bench --verify {}: {} of {} writes seen, {} behind",
                        self.name(),
                        lag.matched,
                        f.typed.len(),
                        lag.behind_ops
                    )));
                }
                Ok(took)
            }
        }
    }

    /// Whether the check found every document as journaled.
    fn clean(self, check: &FinalStateCheck, docs: usize) -> Result<(), Error> {
        if check.differences() == 0 && check.documents == docs as u64 {
            return Ok(());
        }
        let first = check.diffs.first().map_or_else(String::new, |d| {
            let paths: Vec<String> = d.paths.iter().map(|p| format!("{} ({:?})", p.path, p.kind)).collect();
            format!("; the first stale one differs at {}", paths.join(", "))
        });
        Err(Error::Runtime(format!(
            "bench --verify {}: {} of {docs} documents compared, {} missing, {} extra, {} stale{first}",
            self.name(),
            check.documents,
            check.missing.len(),
            check.extra.len(),
            check.stale.len()
        )))
    }
}

pub fn run(bench: VerifyBench) -> Result<(), Error> {
    let schema = Arc::new(super::load_schema(Some(&bench.schema))?);
    let fixture = Fixture::new(&Generator::new(schema, bench.seed), bench.docs);
    let bytes: usize =
        fixture.typed.iter().map(|d| bson::RawDocumentBuf::try_from(d).map_or(0, |r| r.as_bytes().len())).sum();
    outln!(
        "forge bench --verify: {} documents of {} ({} B mean BSON) per case, one journaled insert each \
         (with its document), {ROUNDS} interleaved rounds, no server",
        bench.docs,
        bench.schema,
        bytes / fixture.typed.len().max(1)
    );
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); Case::ALL.len()];
    for _ in 0..ROUNDS {
        for (i, case) in Case::ALL.into_iter().enumerate() {
            rates[i].push(bench.docs as f64 / case.time(&fixture)?.as_secs_f64());
        }
    }
    outln!("{:<16} {:>12} {:>24}", "case", "docs/s", "/ lossless (of rounds)");
    for (i, case) in Case::ALL.into_iter().enumerate() {
        let ratios = rates[i].iter().zip(&rates[0]).map(|(r, l)| r / l).collect();
        outln!("{:<16} {:>12.0} {:>23.2}x", case.name(), median(rates[i].clone()), median(ratios));
    }
    outln!(
        "timed: the journal's entries replayed, then every document compared (follow: shown as a table's row); \
         not generating or flattening"
    );
    Ok(())
}

/// A document as a flattening sink stores it (see [`flatten`]).
fn flatten_document(doc: &Document) -> Document {
    doc.iter().map(|(k, v)| (k.clone(), flatten(v))).collect()
}

/// A value as a flattening sink (a JSON-speaking pipeline) stores it: an ObjectId as
/// its hex digits, a date as RFC 3339 text (from 1970 to the year 9999, as relaxed
/// Extended JSON has it; else as milliseconds since the epoch), a Decimal128 and a 64-bit integer as their decimal
/// text, binary data (a UUID too) as base64, a timestamp as the RFC 3339 time of its
/// seconds (as Singer taps write it), embedded documents and arrays element by
/// element. Everything else is kept as it is: 32-bit integers, doubles, strings,
/// booleans and nulls are JSON already.
fn flatten(value: &Bson) -> Bson {
    match value {
        Bson::ObjectId(oid) => Bson::String(oid.to_hex()),
        Bson::DateTime(d) => match d.try_to_rfc3339_string() {
            Ok(iso) if (0..=MAX_ISO_DATE_MS).contains(&d.timestamp_millis()) => Bson::String(iso),
            _ => Bson::Int64(d.timestamp_millis()),
        },
        Bson::Timestamp(t) => flatten(&Bson::DateTime(bson::DateTime::from_millis(i64::from(t.time) * 1000))),
        Bson::Decimal128(d) => Bson::String(d.to_string()),
        Bson::Int64(n) => Bson::String(n.to_string()),
        Bson::Binary(b) => Bson::String(base64::engine::general_purpose::STANDARD.encode(&b.bytes)),
        Bson::Document(d) => Bson::Document(flatten_document(d)),
        Bson::Array(a) => Bson::Array(a.iter().map(flatten).collect()),
        other => other.clone(),
    }
}

/// The last moment RFC 3339 text can show (9999-12-31T23:59:59.999Z); `bson` clamps
/// later dates to it.
const MAX_ISO_DATE_MS: i64 = 253_402_300_799_999;

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;
    use bson::spec::BinarySubtype;

    #[test]
    fn a_flattened_document_restores_to_the_original_under_the_flattened_profile() {
        let original = doc! {
            "_id": bson::oid::ObjectId::parse_str("65a1b2c3d4e5f60718293a4b").unwrap(),
            "at": bson::DateTime::from_millis(1_700_000_000_123),
            "far": bson::DateTime::from_millis(300_000_000_000_000),
            "before": bson::DateTime::from_millis(-1),
            "price": "12.50".parse::<bson::Decimal128>().unwrap(),
            "big": 9_007_199_254_740_993_i64,
            "n": 7,
            "x": 0.1,
            "blob": bson::Binary { subtype: BinarySubtype::Generic, bytes: vec![1, 2, 3] },
            "uuid": bson::Binary { subtype: BinarySubtype::Uuid, bytes: (0..16).collect() },
            "address": { "city": "Oslo", "since": bson::DateTime::from_millis(0) },
            "items": [{ "qty": 2_i64 }, "a", null],
            "empty": {},
        };
        let flat = flatten_document(&original);
        assert_eq!(flat.get("_id"), Some(&Bson::String("65a1b2c3d4e5f60718293a4b".into())));
        assert_eq!(flat.get("blob"), Some(&Bson::String("AQID".into())));
        assert_eq!(flat.get("far"), Some(&Bson::Int64(300_000_000_000_000)), "past year 9999: epoch milliseconds");
        assert_eq!(SinkTypes::flattened().restore(&original, &flat), original);
    }

    #[test]
    fn every_case_finds_generated_documents_as_journaled() {
        let schema = Arc::new(super::super::load_schema(Some("example:orders")).unwrap());
        let fixture = Fixture::new(&Generator::new(schema, 7), 50);
        for case in Case::ALL {
            case.time(&fixture).unwrap_or_else(|e| panic!("{}: {e}", case.name()));
        }
    }
}
