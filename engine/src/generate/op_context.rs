//! What one operation is generated with, beyond its seed: the `_id`s its `x-gen.ref`
//! fields take, and the schema version in force.
//!
//! Both depend on where the operation falls in a scenario, which only the planner
//! knows; generation happens later, on the operation's shard, in the generator and in
//! the plugins that generate (regenerate, partial) through the host. So the shard
//! lends them for the duration of the operation on its own thread, and whatever
//! generates on that thread reads them here.

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use bson::Bson;

/// The `_id`s drawn for one operation, per referenced collection.
pub type Drawn = [(Arc<str>, Vec<Bson>)];

thread_local! {
    /// The drawn values and how many of each collection's were used.
    static LENT: RefCell<Option<(Arc<Drawn>, Vec<usize>)>> = const { RefCell::new(None) };
    /// The schema version of the operation being materialized (0: the first).
    static VERSION: Cell<usize> = const { Cell::new(0) };
}

/// Runs `f` with `drawn` as the values references take (in turn, cycling; without
/// any, references are null) and `version` as the schema version in force.
pub fn with<R>(drawn: Option<&Arc<Drawn>>, version: usize, f: impl FnOnce() -> R) -> R {
    if let Some(drawn) = drawn {
        LENT.with(|lent| *lent.borrow_mut() = Some((drawn.clone(), vec![0; drawn.len()])));
    }
    VERSION.with(|v| v.set(version));
    let result = f();
    VERSION.with(|v| v.set(0));
    LENT.with(|lent| *lent.borrow_mut() = None);
    result
}

/// The schema version in force for the operation being materialized on this thread.
pub fn version() -> usize {
    VERSION.with(Cell::get)
}

/// The next drawn `_id` of `collection`, if the operation drew any.
pub fn draw(collection: &str) -> Option<Bson> {
    LENT.with(|lent| {
        let mut lent = lent.borrow_mut();
        let (drawn, used) = lent.as_mut()?;
        let at = drawn.iter().position(|(name, _)| &**name == collection)?;
        let values = &drawn[at].1;
        let value = values.get(used[at] % values.len().max(1)).cloned();
        used[at] += 1;
        value
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lent_values_are_used_in_turn_and_only_while_lent() {
        let drawn: Arc<Drawn> = Arc::from(vec![(Arc::from("customers"), vec![Bson::Int32(1), Bson::Int32(2)])]);
        let seen = with(Some(&drawn), 2, || ((0..3).map(|_| draw("customers")).collect::<Vec<_>>(), version()));
        assert_eq!(seen.0, [Some(Bson::Int32(1)), Some(Bson::Int32(2)), Some(Bson::Int32(1))]);
        assert_eq!(seen.1, 2);
        assert_eq!(with(Some(&drawn), 0, || draw("products")), None);
        assert_eq!((draw("customers"), version()), (None, 0));
    }
}
