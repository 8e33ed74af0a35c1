//! After a lost connection: which writes of a batch the server applied, told from the
//! documents as they stand. Each write carries its target's state before and after it
//! (the model's prediction), so the document read back shows how many of the writes
//! on it applied. An ordered batch applies a prefix of its writes: the prefixes that
//! agree with every document read back are the possible truths.

use std::collections::HashMap;
use std::hash::Hash;

use crate::plan::State;

/// What became of one write sent before the connection was lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// It applied: the document shows it.
    Applied,
    /// It did not apply: send it again.
    NotApplied,
    /// The document reads the same whether it applied or not (the writes on it came
    /// back to an earlier state, as an insert and its delete do). Sent again: its
    /// replay leaves the same state, and its journal entry says it was retried.
    Ambiguous,
    /// The document is in no state these writes could have left (something else
    /// wrote it): not sent again, its fate unknown.
    Unexplained,
}

/// The fate of each write (in batch order) on `targets[i]`, whose states before and
/// after it are `befores[i]` and `afters[i]`; `shows(target, state)` says whether the
/// server's document of `target` is now in `state`.
pub fn fates<K: Eq + Hash + Clone>(
    targets: &[K],
    befores: &[&State],
    afters: &[&State],
    ordered: bool,
    mut shows: impl FnMut(&K, &State) -> bool,
) -> Vec<Fate> {
    // For each target: the batch positions of its writes, and which of its states
    // (before the first, after each) the document shows.
    let mut chains: HashMap<K, (Vec<usize>, Vec<bool>)> = HashMap::new();
    for (i, target) in targets.iter().enumerate() {
        let chain = chains.entry(target.clone()).or_insert_with(|| (Vec::new(), vec![shows(target, befores[i])]));
        chain.0.push(i);
        chain.1.push(shows(target, afters[i]));
    }
    let mut fates = vec![Fate::NotApplied; targets.len()];
    if ordered && let Some((lo, hi)) = consistent_prefixes(targets, &chains) {
        for (i, fate) in fates.iter_mut().enumerate() {
            *fate = if i < lo {
                Fate::Applied
            } else if i < hi {
                Fate::Ambiguous
            } else {
                Fate::NotApplied
            };
        }
        return fates;
    }
    // Target by target: the writes on one `_id` apply in order.
    for (positions, shown) in chains.values() {
        let (Some(lo), Some(hi)) = (shown.iter().position(|s| *s), shown.iter().rposition(|s| *s)) else {
            positions.iter().for_each(|&i| fates[i] = Fate::Unexplained);
            continue;
        };
        for (n, &i) in positions.iter().enumerate() {
            fates[i] = if n < lo {
                Fate::Applied
            } else if n < hi {
                Fate::Ambiguous
            } else {
                Fate::NotApplied
            };
        }
    }
    fates
}

/// The smallest and largest prefix lengths of the batch that agree with every
/// document, if any does.
fn consistent_prefixes<K: Eq + Hash>(
    targets: &[K],
    chains: &HashMap<K, (Vec<usize>, Vec<bool>)>,
) -> Option<(usize, usize)> {
    // Sweep the prefix length p from 0 to n, counting the targets whose document does
    // not show the state p writes leave it in.
    let mut applied: HashMap<&K, usize> = HashMap::new();
    let mut disagreeing = chains.values().filter(|(_, shown)| !shown[0]).count();
    let mut range: Option<(usize, usize)> = None;
    for p in 0..=targets.len() {
        if disagreeing == 0 {
            range = Some(range.map_or((p, p), |(lo, _)| (lo, p)));
        }
        let Some(target) = targets.get(p) else { break };
        let shown = &chains[target].1;
        let n = applied.entry(target).or_default();
        disagreeing = disagreeing + usize::from(!shown[*n + 1]) - usize::from(!shown[*n]);
        *n += 1;
    }
    range
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn doc(v: i32) -> State {
        State::Doc(Arc::new(bson::rawdoc! { "_id": 1, "v": v }))
    }

    /// Fates of writes `(target, before, after)` when the server shows `now`.
    fn run(writes: &[(u8, State, State)], now: &[(u8, State)], ordered: bool) -> Vec<Fate> {
        let targets: Vec<u8> = writes.iter().map(|w| w.0).collect();
        let befores: Vec<&State> = writes.iter().map(|w| &w.1).collect();
        let afters: Vec<&State> = writes.iter().map(|w| &w.2).collect();
        let now: HashMap<u8, &State> = now.iter().map(|(k, s)| (*k, s)).collect();
        fates(&targets, &befores, &afters, ordered, |k, s| *s == State::Unknown || now[k].same_as(s))
    }

    use Fate::*;

    #[test]
    fn increments_that_applied_are_not_sent_again() {
        let writes = [(1, doc(1), doc(2)), (2, doc(1), doc(2)), (1, doc(2), doc(3))];
        assert_eq!(run(&writes, &[(1, doc(2)), (2, doc(2))], true), [Applied, Applied, NotApplied]);
        assert_eq!(run(&writes, &[(1, doc(1)), (2, doc(1))], true), [NotApplied; 3]);
        assert_eq!(run(&writes, &[(1, doc(3)), (2, doc(2))], true), [Applied; 3]);
    }

    #[test]
    fn an_insert_and_its_delete_are_ambiguous_unless_a_neighbour_tells() {
        let pair = [(1, State::Absent, doc(1)), (1, doc(1), State::Absent)];
        assert_eq!(run(&pair, &[(1, State::Absent)], true), [Ambiguous, Ambiguous]);
        // A write on another document, after the pair, did not apply: nor did the pair?
        // Either way the pair may have; but one before it that applied does not tell.
        let mut told = pair.to_vec();
        told.insert(0, (2, doc(1), doc(2)));
        assert_eq!(run(&told, &[(1, State::Absent), (2, doc(1))], true), [NotApplied; 3]);
        assert_eq!(run(&told, &[(1, State::Absent), (2, doc(2))], true), [Applied, Ambiguous, Ambiguous]);
        told.push((2, doc(2), doc(3)));
        assert_eq!(run(&told, &[(1, State::Absent), (2, doc(3))], true), [Applied; 4]);
    }

    #[test]
    fn a_document_no_write_explains_is_left_unknown() {
        let writes = [(1, doc(1), doc(2)), (2, doc(1), doc(2))];
        assert_eq!(run(&writes, &[(1, doc(9)), (2, doc(2))], true), [Unexplained, Applied]);
    }

    #[test]
    fn unordered_batches_are_read_document_by_document() {
        let writes = [(1, doc(1), doc(2)), (2, doc(1), doc(2))];
        assert_eq!(run(&writes, &[(1, doc(1)), (2, doc(2))], false), [NotApplied, Applied]);
    }
}
