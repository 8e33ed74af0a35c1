//! References between collections (`x-gen.ref`), as planners see them: the `_id`s an
//! operation may reference, drawn when it is planned, and the acknowledgements it
//! waits for before it is written, so that it never points at a document the server
//! does not hold yet.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use bson::Bson;
use rand::Rng as _;

use super::IdKey;
use crate::generate::op_context::Drawn;

/// `_id`s drawn per referenced collection and operation: fields that reference it
/// take them in turn (an array of references gets several).
pub const PER_COLLECTION: usize = 4;

/// What a planner draws references from (a scenario's referenced collections).
pub trait ReferenceSource: Send {
    /// The `_id`s operation `index` may reference; `None` when there is nothing to
    /// reference yet.
    fn draw(&mut self, index: u64) -> Option<Arc<RefDraws>>;
}

/// The `_id`s one operation may reference, and whose inserts it waits for.
pub struct RefDraws {
    values: Arc<Drawn>,
    waits: Vec<(Arc<Acknowledged>, IdKey)>,
}

impl RefDraws {
    /// `values` per referenced collection; each `_id` waits in its collection's
    /// `Acknowledged` (given in the same order as `values`).
    pub fn new(values: Vec<(Arc<str>, Vec<Bson>)>, acknowledged: &[Arc<Acknowledged>]) -> RefDraws {
        let waits = values
            .iter()
            .zip(acknowledged)
            .flat_map(|((_, ids), acked)| ids.iter().map(|id| (acked.clone(), IdKey::of(id))))
            .collect();
        RefDraws { values: Arc::from(values), waits }
    }

    pub fn values(&self) -> &Arc<Drawn> {
        &self.values
    }

    /// Blocks until the server acknowledged every drawn `_id`'s insert; false if `stop`
    /// was raised first.
    pub fn wait(&self, stop: &AtomicBool) -> bool {
        self.waits.iter().all(|(acked, id)| acked.wait_for(id, stop))
    }
}

/// References to collections that hold their documents before the run (`forge
/// mutate`): a pool of `_id`s per collection, read before it starts, drawn from with
/// each operation's own randomness. Nothing to wait for: they exist.
pub struct ExistingIds {
    seed: u64,
    pools: Vec<(Arc<str>, Vec<Bson>)>,
}

impl ExistingIds {
    /// `pools`: each referenced collection's `_id`s, in an order fixed by the data
    /// (so the same data and seed draw the same references); none empty.
    pub fn new(seed: u64, pools: Vec<(Arc<str>, Vec<Bson>)>) -> ExistingIds {
        ExistingIds { seed, pools: pools.into_iter().filter(|(_, ids)| !ids.is_empty()).collect() }
    }
}

impl ReferenceSource for ExistingIds {
    fn draw(&mut self, index: u64) -> Option<Arc<RefDraws>> {
        let mut rng = crate::seed::rng(self.seed, crate::seed::Stream::Reference, index);
        let values: Vec<(Arc<str>, Vec<Bson>)> = self
            .pools
            .iter()
            .map(|(name, ids)| {
                (name.clone(), (0..PER_COLLECTION).map(|_| ids[rng.random_range(0..ids.len())].clone()).collect())
            })
            .collect();
        (!values.is_empty()).then(|| Arc::new(RefDraws::new(values, &[])))
    }
}

impl PartialEq for RefDraws {
    fn eq(&self, other: &Self) -> bool {
        self.values == other.values
    }
}

impl std::fmt::Debug for RefDraws {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.values.iter()).finish()
    }
}

/// The `_id`s of a collection whose insert the server answered (acknowledged, as
/// nearly all are, or refused): what references to it wait for.
#[derive(Debug, Default)]
pub struct Acknowledged {
    ids: Mutex<HashSet<IdKey>>,
    changed: Condvar,
}

/// How often a waiting reference looks at the stop flag.
const NAP: Duration = Duration::from_millis(50);

impl Acknowledged {
    /// Records acknowledged inserts.
    pub fn insert<'a>(&self, ids: impl IntoIterator<Item = &'a Bson>) {
        let mut set = self.ids.lock().expect("no panics while holding the set");
        let before = set.len();
        set.extend(ids.into_iter().map(IdKey::of));
        if set.len() > before {
            self.changed.notify_all();
        }
    }

    /// Blocks until `id`'s insert is acknowledged; false if `stop` was raised first.
    pub fn wait_for(&self, id: &IdKey, stop: &AtomicBool) -> bool {
        let mut set = self.ids.lock().expect("no panics while holding the set");
        while !set.contains(id) {
            if stop.load(Ordering::Relaxed) {
                return false;
            }
            set = self.changed.wait_timeout(set, NAP).expect("no panics while holding the set").0;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn existing_ids_are_drawn_by_op_and_wait_for_nothing() {
        let pool = vec![(Arc::from("c"), (0..50).map(Bson::Int32).collect::<Vec<_>>())];
        let mut a = ExistingIds::new(3, pool.clone());
        let mut b = ExistingIds::new(3, pool);
        let first = a.draw(7).unwrap();
        assert_eq!(first, b.draw(7).unwrap(), "the same op draws the same _ids");
        assert_eq!(first.values()[0].1.len(), PER_COLLECTION);
        assert!(first.wait(&AtomicBool::new(true)), "nothing to wait for");
        assert!(ExistingIds::new(3, vec![(Arc::from("c"), vec![])]).draw(0).is_none());
    }

    #[test]
    fn a_reference_waits_for_the_acknowledgement_or_the_stop() {
        let acked = Arc::new(Acknowledged::default());
        let draws = RefDraws::new(vec![(Arc::from("c"), vec![Bson::Int32(7)])], std::slice::from_ref(&acked));
        let stop = AtomicBool::new(true);
        assert!(!draws.wait(&stop), "not acknowledged: stops");
        let later = acked.clone();
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            later.insert([&Bson::Int64(7)]);
        });
        assert!(draws.wait(&AtomicBool::new(false)));
        writer.join().unwrap();
    }
}
