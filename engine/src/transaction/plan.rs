//! What transaction `i` of a stream does, drawn from its own seed.

use rand::Rng as _;

use super::Spec;
use crate::seed::{self, Stream};

/// One transaction's plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    /// Its place in the stream; also the document index of its insert.
    pub index: u64,
    /// Commit (or write and then abort).
    pub commit: bool,
    /// The updated collection's documents it changes (load indices, distinct, in the
    /// order it changes them).
    pub updates: Vec<u64>,
}

impl Spec {
    /// Transaction `index` of the stream seeded with `seed`.
    pub fn plan(&self, seed: u64, index: u64) -> Planned {
        let mut rng = seed::rng(seed, Stream::Transaction, index);
        let commit = rng.random::<f64>() * (self.commit + self.abort) < self.commit;
        let updates = match &self.update {
            Some(u) => {
                let (min, max) = self.size;
                let size = rng.random_range(min..=max).min(u.documents);
                rand::seq::index::sample(&mut rng, u.documents as usize, size as usize)
                    .into_iter()
                    .map(|i| i as u64)
                    .collect()
            }
            None => Vec::new(),
        };
        Planned { index, commit, updates }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::schema::Schema;
    use crate::transaction::Updated;

    fn spec(commit: f64, abort: f64) -> Spec {
        let schema =
            Arc::new(Schema::from_json_str(r#"{"type":"object","properties":{"n":{"type":"integer"}}}"#).unwrap());
        Spec {
            size: (1, 3),
            commit,
            abort,
            update: Some(Updated { collection: "items".into(), schema, documents: 10, inc: bson::doc! { "n": -1 } }),
            insert: None,
        }
    }

    #[test]
    fn the_same_seed_plans_the_same_transactions() {
        let s = spec(9.0, 1.0);
        for i in 0..100 {
            assert_eq!(s.plan(7, i), s.plan(7, i));
        }
        assert!((0..100).any(|i| s.plan(7, i) != s.plan(8, i)));
    }

    #[test]
    fn sizes_stay_in_range_and_targets_are_distinct() {
        let s = spec(1.0, 0.0);
        let mut sizes = std::collections::BTreeSet::new();
        for i in 0..500 {
            let p = s.plan(1, i);
            sizes.insert(p.updates.len());
            let mut sorted = p.updates.clone();
            sorted.sort();
            sorted.dedup();
            assert_eq!(sorted.len(), p.updates.len(), "distinct targets");
            assert!(p.updates.iter().all(|&d| d < 10));
            assert!(p.commit);
        }
        assert_eq!(sizes.into_iter().collect::<Vec<_>>(), vec![1, 2, 3]);
    }

    #[test]
    fn outcomes_follow_their_weights() {
        let s = spec(3.0, 1.0);
        let aborted = (0..4000).filter(|&i| !s.plan(5, i).commit).count();
        assert!((900..1100).contains(&aborted), "{aborted} of 4000 aborted, about 1000 expected");
    }
}
