//! The change-stream check: every acknowledged write that changed a document appears
//! exactly once among that document's events, in write order; and how long after its
//! acknowledgement each event committed.
//!
//! A write the journal marks `retried` was sent again after a lost connection, and
//! its first attempt may have applied as well: one extra event of its type on its
//! document is forge's own doing, counted as a retry duplicate, not a difference.
//! Writes whose write concern failed were applied all the same: they expect their
//! event like any other.

use std::borrow::Cow;
use std::collections::HashMap;

use bson::Bson;

use super::changed_id;
use super::final_state::Since;
use super::report::ChangeStreamCheck;
use crate::journal::Entry;
use crate::plan::IdKey;

/// The change event a journaled write should cause, if any (updates and replaces that
/// modify nothing cause none).
pub(super) fn expected_event(write: &str, modified: u64) -> Option<&'static str> {
    match write {
        "insert" => Some("insert"),
        "delete" => Some("delete"),
        "update" if modified > 0 => Some("update"),
        "replace" if modified > 0 => Some("replace"),
        _ => None,
    }
}

/// An event the journal says must appear.
#[derive(Debug, Clone)]
struct Due {
    operation: &'static str,
    acked_at_ms: i64,
    /// Sent more than once: its event may show twice.
    retried: bool,
}

/// The events the journal says each document's change stream must show, in order.
#[derive(Debug, Default)]
pub struct ExpectedEvents {
    /// Per document: its `_id` as journaled, and its events due in order.
    due: HashMap<IdKey, (Bson, Vec<Due>)>,
    /// Some writers' journals are missing: events of documents no journal knows may be
    /// theirs, so they are not differences.
    partial: bool,
    /// Only writes from this point on are expected (`--since`).
    since: Option<Since>,
}

/// How a sink's events stand for the server's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventRules {
    /// A replacement arrives as an update (Debezium's `u` is both).
    pub replace_as_update: bool,
    /// Consecutive updates of one document may arrive as one (a pipeline that
    /// merges them per flush).
    pub merged_updates: bool,
}

impl ExpectedEvents {
    /// Expected events of the journals of only some of a run's writers (segments).
    pub fn of_some_writers() -> Self {
        ExpectedEvents { partial: true, ..Default::default() }
    }

    /// Applies one entry; entries come in journal order, which is write order per document.
    pub fn record(&mut self, entry: &Entry) {
        let Some(id) = changed_id(entry) else { return };
        if self.since.is_some_and(|s| !s.covers(entry.seq, entry.acked_at_ms)) {
            return;
        }
        if let Some(operation) = expected_event(&entry.write, entry.modified) {
            self.due.entry(IdKey::of(&id)).or_insert_with(|| (id.clone(), Vec::new())).1.push(Due {
                operation,
                acked_at_ms: entry.acked_at_ms,
                retried: entry.retried,
            });
        }
    }

    /// Expects only the writes from `since` on.
    pub fn since(mut self, since: Option<Since>) -> Self {
        self.since = since;
        self
    }

    /// Compares the events read from the stream with the expected ones.
    pub fn compare(&self, seen: &SeenEvents) -> ChangeStreamCheck {
        self.compare_with(seen, EventRules::default())
    }

    /// Compares a sink's events, which stand for the server's by `rules`.
    pub fn compare_with(&self, seen: &SeenEvents, rules: EventRules) -> ChangeStreamCheck {
        let mut check =
            ChangeStreamCheck { events: seen.0.values().map(|(_, v)| v.len() as u64).sum(), ..Default::default() };
        let mut lags = Vec::new();
        let canonical = |id: &Bson| id.clone().into_canonical_extjson();
        for (key, (id, want)) in &self.due {
            let got = seen.0.get(key).map(|(_, v)| v.as_slice()).unwrap_or(&[]);
            let (want, got) = rules.apply(want, got);
            let (want, got) = (want.as_ref(), got.as_ref());
            let before = (check.missing, check.duplicated, check.out_of_order);
            let (w, g) = (tally(want.iter().map(|d| d.operation)), tally(got.iter().map(|e| e.operation.as_str())));
            let retried = tally(want.iter().filter(|d| d.retried).map(|d| d.operation));
            for (op, n) in &w {
                let have = g.get(op).copied().unwrap_or(0);
                check.missing += n.saturating_sub(have);
                let extra = have.saturating_sub(*n);
                let explained = extra.min(retried.get(op).copied().unwrap_or(0));
                check.retry_duplicates += explained;
                check.duplicated += extra - explained;
            }
            check.duplicated += g.iter().filter(|(op, _)| !w.contains_key(*op)).map(|(_, n)| n).sum::<u64>();
            // The order is judged on the events left once a retried write's repeat
            // (right after its first event) is set aside.
            let got = without_retry_repeats(want, got);
            let in_order = want.len() == got.len() && want.iter().zip(&got).all(|(d, e)| d.operation == e.operation);
            if w == tally(got.iter().map(|e| e.operation.as_str())) && !in_order {
                check.out_of_order += 1;
            }
            // Lag only where each event is known to be its write's (a repeat's first event).
            if in_order {
                lags.extend(want.iter().zip(&got).map(|(d, e)| e.wall_ms - d.acked_at_ms));
            }
            let after = (check.missing, check.duplicated, check.out_of_order);
            if after.0 > before.0 {
                check.missing_ids.push(canonical(id));
            }
            if after.1 > before.1 {
                check.duplicated_ids.push(canonical(id));
            }
            if after.2 > before.2 {
                check.out_of_order_ids.push(canonical(id));
            }
        }
        let unknown = seen.0.iter().filter(|(k, _)| !self.due.contains_key(*k));
        if self.partial {
            check.unchecked = unknown.map(|(_, (_, v))| v.len() as u64).sum();
        } else {
            for (id, events) in unknown.map(|(_, v)| v) {
                check.unexpected += events.len() as u64;
                check.unexpected_ids.push(canonical(id));
            }
        }
        lags.sort_unstable();
        (check.lag_p50, check.lag_p99) = (nearest_rank(&lags, 0.5), nearest_rank(&lags, 0.99));
        check
    }
}

impl EventRules {
    /// `want` and `got` as these rules compare them: replacements as updates, runs
    /// of updates as one.
    fn apply<'a>(self, want: &'a [Due], got: &'a [Event]) -> (Cow<'a, [Due]>, Cow<'a, [Event]>) {
        if self == EventRules::default() {
            return (Cow::Borrowed(want), Cow::Borrowed(got));
        }
        let mut want: Vec<Due> = want.to_vec();
        let mut got: Vec<Event> = got.to_vec();
        if self.replace_as_update {
            want.iter_mut().filter(|d| d.operation == "replace").for_each(|d| d.operation = "update");
        }
        if self.merged_updates {
            want.dedup_by(|b, a| a.operation == "update" && b.operation == "update");
            got.dedup_by(|b, a| a.operation == "update" && b.operation == "update");
        }
        (Cow::Owned(want), Cow::Owned(got))
    }
}

/// One change event as read: its operation type (as the server names it, e.g.
/// `insert`) and its commit's wall time.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The operation type, lowercase.
    pub operation: String,
    /// Wall time of the commit, milliseconds since the epoch.
    pub wall_ms: i64,
}

/// The events read from a change stream, by document, in stream order.
#[derive(Debug, Default)]
pub struct SeenEvents(HashMap<IdKey, (Bson, Vec<Event>)>);

impl SeenEvents {
    /// Adds the next event of the document `id`.
    pub fn push(&mut self, id: &Bson, event: Event) {
        self.0.entry(IdKey::of(id)).or_insert_with(|| (id.clone(), Vec::new())).1.push(event);
    }
}

/// `got` without the events that repeat a retried write's event right after it (one
/// per retried write), matched against `want` in order.
fn without_retry_repeats<'a>(want: &[Due], got: &'a [Event]) -> Vec<&'a Event> {
    let mut kept: Vec<&Event> = Vec::with_capacity(got.len());
    let mut repeat_allowed = false;
    for event in got {
        let previous = kept.len().checked_sub(1).and_then(|i| want.get(i));
        if repeat_allowed && previous.is_some_and(|d| d.retried && d.operation == event.operation) {
            repeat_allowed = false;
            continue;
        }
        kept.push(event);
        repeat_allowed = true;
    }
    kept
}

/// How many times each operation occurs.
fn tally<'a>(ops: impl Iterator<Item = &'a str>) -> HashMap<&'a str, u64> {
    let mut m = HashMap::new();
    ops.for_each(|o| *m.entry(o).or_default() += 1);
    m
}

/// The nearest-rank `q` quantile of sorted values; 0 when there are none.
fn nearest_rank(sorted: &[i64], q: f64) -> i64 {
    sorted.get(((q * sorted.len() as f64).ceil() as usize).saturating_sub(1)).copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::materialize::model::Expect;
    use crate::verify::tests::entry;

    fn acked(write: &str, id: i32, modified: u64, at: i64) -> Entry {
        Entry { acked_at_ms: at, ..entry(write, Bson::Int32(id), 1, modified, Expect::Unknown) }
    }

    fn check(entries: &[Entry], events: &[(i32, &str, i64)]) -> ChangeStreamCheck {
        check_with(ExpectedEvents::default(), entries, events)
    }

    fn check_with(mut expected: ExpectedEvents, entries: &[Entry], events: &[(i32, &str, i64)]) -> ChangeStreamCheck {
        entries.iter().for_each(|e| expected.record(e));
        let mut seen = SeenEvents::default();
        for (id, op, wall) in events {
            seen.push(&Bson::Int32(*id), Event { operation: op.to_string(), wall_ms: *wall });
        }
        expected.compare(&seen)
    }

    #[test]
    fn every_write_once_and_in_order_is_clean_and_gives_the_lag() {
        let entries = [acked("insert", 1, 0, 100), acked("update", 1, 1, 200), acked("delete", 1, 0, 300)];
        let found = check(&entries, &[(1, "insert", 101), (1, "update", 205), (1, "delete", 330)]);
        assert_eq!(found, ChangeStreamCheck { events: 3, lag_p50: 5, lag_p99: 30, ..Default::default() });
    }

    #[test]
    fn writes_that_modified_or_matched_nothing_expect_no_event() {
        let mut noop = acked("insert", 2, 0, 0);
        noop.matched = 0;
        let entries = [acked("insert", 1, 0, 0), acked("update", 1, 0, 0), acked("replace", 1, 0, 0), noop];
        assert_eq!(check(&entries, &[(1, "insert", 0)]).differences(), 0);
    }

    #[test]
    fn finds_missing_duplicated_reordered_and_unexpected_events() {
        let entries = [
            acked("insert", 1, 0, 0),
            acked("update", 1, 1, 0),
            acked("insert", 2, 0, 0),
            acked("insert", 3, 0, 0),
            acked("delete", 3, 0, 0),
        ];
        let events = [
            (1, "insert", 0),
            (2, "insert", 0),
            (2, "insert", 0),
            (2, "drop", 0),
            (3, "delete", 0),
            (3, "insert", 0),
            (9, "insert", 0),
        ];
        let found = check(&entries, &events);
        assert_eq!((found.events, found.missing, found.duplicated), (7, 1, 2));
        assert_eq!((found.out_of_order, found.unexpected), (1, 1));
        assert_eq!(found.differences(), 5);
    }

    fn retried(write: &str, id: i32, modified: u64, at: i64) -> Entry {
        Entry { retried: true, ..acked(write, id, modified, at) }
    }

    #[test]
    fn one_extra_event_of_a_retried_write_is_explained() {
        let entries = [acked("insert", 1, 0, 100), retried("update", 1, 1, 200), acked("delete", 1, 0, 300)];
        let events = [(1, "insert", 101), (1, "update", 190), (1, "update", 205), (1, "delete", 330)];
        let found = check(&entries, &events);
        assert_eq!((found.events, found.duplicated, found.retry_duplicates), (4, 0, 1));
        assert_eq!((found.out_of_order, found.differences()), (0, 0));
        // Lags -10 (the retried write's first event is its own), 1 and 30.
        assert_eq!((found.lag_p50, found.lag_p99), (1, 30));
    }

    #[test]
    fn a_second_extra_event_or_an_extra_of_a_write_sent_once_is_a_duplicate() {
        let entries = [retried("update", 1, 1, 0), acked("update", 2, 1, 0), retried("insert", 3, 0, 0)];
        let events = [
            (1, "update", 0),
            (1, "update", 0),
            (1, "update", 0),
            (2, "update", 0),
            (2, "update", 0),
            (3, "insert", 0),
            (3, "insert", 0),
        ];
        let found = check(&entries, &events);
        assert_eq!((found.duplicated, found.retry_duplicates), (2, 2));
        assert_eq!((found.missing, found.out_of_order), (0, 0));
        assert_eq!(found.differences(), 2);
    }

    #[test]
    fn writes_whose_write_concern_failed_expect_their_event() {
        let failed = Entry { write_concern_failed: true, ..acked("insert", 1, 0, 0) };
        assert_eq!(check(std::slice::from_ref(&failed), &[]).missing, 1);
        assert_eq!(check(&[failed], &[(1, "insert", 0)]).differences(), 0);
    }

    #[test]
    fn without_every_writer_s_journal_events_of_unknown_documents_are_unchecked_not_unexpected() {
        let entries = [acked("insert", 1, 0, 0), acked("update", 1, 1, 0), acked("insert", 2, 0, 0)];
        let events = [(1, "insert", 0), (2, "insert", 0), (9, "insert", 0), (9, "delete", 0), (1, "update", 0)];
        let all = check(&entries, &events);
        assert_eq!((all.unexpected, all.unchecked, all.differences()), (2, 0, 2));
        let some = check_with(ExpectedEvents::of_some_writers(), &entries, &events);
        assert_eq!((some.events, some.unexpected, some.unchecked, some.differences()), (5, 0, 2, 0));
        // The documents the journals know are checked as strictly as ever.
        let reordered = [(1, "update", 0), (1, "insert", 0), (9, "insert", 0)];
        let some = check_with(ExpectedEvents::of_some_writers(), &entries, &reordered);
        assert_eq!((some.missing, some.out_of_order, some.unchecked, some.differences()), (1, 1, 1, 2));
    }

    #[test]
    fn rules_for_sinks_merged_updates_and_replacements_as_updates() {
        let entries =
            [acked("insert", 1, 0, 0), acked("update", 1, 1, 0), acked("update", 1, 1, 0), acked("replace", 1, 1, 0)];
        let mut expected = ExpectedEvents::default();
        entries.iter().for_each(|e| expected.record(e));
        let mut seen = SeenEvents::default();
        for op in ["insert", "update", "update"] {
            seen.push(&Bson::Int32(1), Event { operation: op.into(), wall_ms: 0 });
        }
        let strict = expected.compare(&seen);
        assert_eq!((strict.missing, strict.missing_ids.len()), (1, 1), "the replacement");
        let replace = EventRules { replace_as_update: true, merged_updates: false };
        assert_eq!(expected.compare_with(&seen, replace).missing, 1, "one update short");
        let both = EventRules { replace_as_update: true, merged_updates: true };
        assert_eq!(expected.compare_with(&seen, both).differences(), 0, "three updates in a row may arrive as two");
    }

    #[test]
    fn nearest_rank_quantiles() {
        let values: Vec<i64> = (1..=100).collect();
        assert_eq!((nearest_rank(&values, 0.5), nearest_rank(&values, 0.99)), (50, 99));
        assert_eq!(nearest_rank(&[], 0.5), 0);
    }
}
