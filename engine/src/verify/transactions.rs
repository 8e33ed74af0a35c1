//! Checking a transaction stream's log against what the server shows: each committed
//! transaction's change events share one `lsid` and `txnNumber` and are exactly its
//! writes; an aborted one left no event and no document; the final state holds every
//! committed insert. (The updated documents' content is checked by their collection's
//! journal, as any collection's.)

use std::collections::{BTreeMap, HashMap, HashSet};

use bson::Bson;
use serde::{Deserialize, Serialize};

use crate::plan::IdKey;
use crate::transaction::log::{LogLine, Outcome};

/// A change event written inside a transaction.
#[derive(Debug, Clone)]
pub struct TxnEvent {
    /// Its `lsid.id`, in hex.
    pub lsid: String,
    pub txn_number: i64,
    pub collection: String,
    /// insert, update, replace, delete.
    pub operation: String,
    pub id: Bson,
}

/// What the check found.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TransactionCheck {
    /// Transactions in the log, by outcome.
    pub committed: u64,
    pub aborted: u64,
    pub unknown: u64,
    /// Transactional events read from the change stream.
    pub events: u64,
    /// Committed transactions whose events are not exactly their writes under one
    /// `lsid` and `txnNumber` (some missing, split, or mixed with others): indices.
    pub not_atomic: Vec<u64>,
    /// Aborted transactions that left events: indices.
    pub aborted_with_events: Vec<u64>,
    /// Transactional events of these collections that no committed transaction of
    /// the log accounts for.
    pub unaccounted_events: u64,
    /// Committed inserts missing from the final state, and inserts of aborted
    /// transactions present in it: `_id`s as relaxed Extended JSON.
    pub committed_inserts_missing: Vec<String>,
    pub aborted_inserts_present: Vec<String>,
}

impl TransactionCheck {
    /// How many things are wrong.
    pub fn differences(&self) -> u64 {
        (self.not_atomic.len()
            + self.aborted_with_events.len()
            + self.committed_inserts_missing.len()
            + self.aborted_inserts_present.len()) as u64
            + self.unaccounted_events
    }
}

/// One write, as events and log lines both name it.
type Write = (String, String, IdKey);

fn write_of(collection: &str, operation: &str, id: &Bson) -> Write {
    (collection.to_string(), operation.to_string(), IdKey::of(id))
}

/// Compares the log's transactions with the change stream's transactional events.
pub fn compare_events(lines: &[LogLine], events: &[TxnEvent], check: &mut TransactionCheck) {
    check.events = events.len() as u64;
    // The events of each server transaction, as a multiset of writes.
    let mut groups: HashMap<(String, i64), Vec<Write>> = HashMap::new();
    for e in events {
        groups.entry((e.lsid.clone(), e.txn_number)).or_default().push(write_of(&e.collection, &e.operation, &e.id));
    }
    let writes = |line: &LogLine| -> Option<Vec<Write>> {
        line.ops
            .iter()
            .map(|op| Bson::try_from(op.id.clone()).ok().map(|id| write_of(&op.collection, &op.write, &id)))
            .collect()
    };
    // Per session, the server's numbering: txnNumber = attempt + offset. The offset
    // most committed transactions agree on (a transaction of which one event is found
    // votes for the number it carries).
    let mut votes: HashMap<&str, BTreeMap<i64, u64>> = HashMap::new();
    let mut by_write: HashMap<(&str, Write), Vec<i64>> = HashMap::new();
    for ((lsid, number), ws) in &groups {
        for w in ws {
            by_write.entry((lsid.as_str(), w.clone())).or_default().push(*number);
        }
    }
    for line in lines.iter().filter(|l| l.outcome == Outcome::Commit) {
        let Some(first) = writes(line).and_then(|w| w.into_iter().next()) else { continue };
        for number in by_write.get(&(line.lsid.as_str(), first)).into_iter().flatten() {
            *votes.entry(line.lsid.as_str()).or_default().entry(number - line.attempt as i64).or_default() += 1;
        }
    }
    let offset = |lsid: &str| votes.get(lsid).and_then(|v| v.iter().max_by_key(|(_, n)| **n)).map(|(o, _)| *o);
    let mut accounted: HashSet<(String, i64)> = HashSet::new();
    for line in lines {
        match line.outcome {
            Outcome::Commit => check.committed += 1,
            Outcome::Abort => check.aborted += 1,
            Outcome::Unknown => check.unknown += 1,
        }
        let key = offset(&line.lsid).map(|o| (line.lsid.clone(), line.attempt as i64 + o));
        let seen = key.as_ref().and_then(|k| groups.get(k));
        match line.outcome {
            Outcome::Commit => {
                if !same(writes(line).unwrap_or_default(), seen.cloned().unwrap_or_default()) {
                    check.not_atomic.push(line.index);
                }
                accounted.extend(key);
            }
            Outcome::Abort => {
                if seen.is_some() {
                    check.aborted_with_events.push(line.index);
                    accounted.extend(key);
                }
            }
            // All or nothing: either is right.
            Outcome::Unknown => {
                if let (Some(k), Some(got)) = (key, seen) {
                    if !same(writes(line).unwrap_or_default(), got.clone()) {
                        check.not_atomic.push(line.index);
                    }
                    accounted.insert(k);
                }
            }
        }
    }
    check.unaccounted_events =
        groups.iter().filter(|(key, _)| !accounted.contains(*key)).map(|(_, ws)| ws.len() as u64).sum();
}

/// Whether two lists hold the same writes, in any order.
fn same(mut a: Vec<Write>, mut b: Vec<Write>) -> bool {
    a.sort();
    b.sort();
    a == b
}

/// The inserts whose presence the final state must show: (committed ones, aborted
/// ones), by collection.
pub fn inserts(lines: &[LogLine]) -> (BTreeMap<String, Vec<Bson>>, BTreeMap<String, Vec<Bson>>) {
    let (mut committed, mut aborted) = (BTreeMap::new(), BTreeMap::new());
    for line in lines {
        let into: &mut BTreeMap<String, Vec<Bson>> = match line.outcome {
            Outcome::Commit => &mut committed,
            Outcome::Abort => &mut aborted,
            Outcome::Unknown => continue,
        };
        for op in line.ops.iter().filter(|op| op.write == "insert") {
            if let Ok(id) = Bson::try_from(op.id.clone()) {
                into.entry(op.collection.clone()).or_default().push(id);
            }
        }
    }
    (committed, aborted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transaction::log::LogOp;

    fn line(index: u64, attempt: u64, outcome: Outcome, ids: &[i32]) -> LogLine {
        let mut ops =
            vec![LogOp { collection: "r".into(), write: "insert".into(), id: serde_json::json!(1000 + index) }];
        ops.extend(ids.iter().map(|i| LogOp {
            collection: "inv".into(),
            write: "update".into(),
            id: serde_json::json!(i),
        }));
        LogLine { index, lsid: "aa".into(), attempt, outcome, ops, at_ms: 0 }
    }

    fn events_of(l: &LogLine, number: i64) -> Vec<TxnEvent> {
        l.ops
            .iter()
            .map(|op| TxnEvent {
                lsid: l.lsid.clone(),
                txn_number: number,
                collection: op.collection.clone(),
                operation: op.write.clone(),
                id: Bson::try_from(op.id.clone()).unwrap(),
            })
            .collect()
    }

    #[test]
    fn committed_transactions_with_their_events_and_silent_aborts_are_clean() {
        // The session had run 4 transactions before: txnNumber = attempt + 4.
        let lines = vec![
            line(0, 1, Outcome::Commit, &[1, 2]),
            line(1, 2, Outcome::Abort, &[3]),
            line(2, 4, Outcome::Commit, &[2]),
        ];
        let mut events = events_of(&lines[0], 5);
        events.extend(events_of(&lines[2], 8));
        let mut check = TransactionCheck::default();
        compare_events(&lines, &events, &mut check);
        assert_eq!((check.committed, check.aborted, check.events), (2, 1, 5));
        assert_eq!(check.differences(), 0, "{check:?}");
    }

    #[test]
    fn a_missing_event_a_split_transaction_and_a_leaking_abort_are_each_found() {
        let lines = vec![
            line(0, 1, Outcome::Commit, &[1, 2]),
            line(1, 2, Outcome::Commit, &[3]),
            line(2, 3, Outcome::Abort, &[4]),
            line(3, 4, Outcome::Commit, &[5, 6]),
        ];
        let mut events = events_of(&lines[0], 1);
        events.pop(); // transaction 0 lost an event
        events.extend(events_of(&lines[1], 2));
        events.extend(events_of(&lines[2], 3)); // the abort shows
        let mut split = events_of(&lines[3], 4);
        split[1].txn_number = 9; // transaction 3's writes under two numbers
        events.extend(split);
        let mut check = TransactionCheck::default();
        compare_events(&lines, &events, &mut check);
        assert_eq!(check.not_atomic, vec![0, 3]);
        assert_eq!(check.aborted_with_events, vec![2]);
        assert_eq!(check.unaccounted_events, 1, "the stray half of transaction 3");
    }

    #[test]
    fn inserts_are_sorted_by_outcome() {
        let lines = vec![line(0, 1, Outcome::Commit, &[]), line(1, 2, Outcome::Abort, &[])];
        let (c, a) = inserts(&lines);
        assert_eq!(c["r"].iter().map(IdKey::of).collect::<Vec<_>>(), vec![IdKey::Int(1000)]);
        assert_eq!(a["r"].iter().map(IdKey::of).collect::<Vec<_>>(), vec![IdKey::Int(1001)]);
    }
}
