//! The values `x-gen.ref` fields take while one operation is generated.
//!
//! Which `_id` a reference gets depends on what the referenced collection held when
//! the operation was planned, which only the planner knows; generation happens later,
//! on the operation's shard. So the planner draws a few `_id`s per referenced
//! collection ([`crate::plan::RefDraws`]) and the shard lends them to the generator
//! for the duration of the operation (plugins that generate run on the same thread).

use std::cell::RefCell;
use std::sync::Arc;

use bson::Bson;

/// The `_id`s drawn for one operation, per referenced collection.
pub type Drawn = [(Arc<str>, Vec<Bson>)];

thread_local! {
    /// The drawn values and how many of each collection's were used.
    static LENT: RefCell<Option<(Arc<Drawn>, Vec<usize>)>> = const { RefCell::new(None) };
}

/// Runs `f` with `drawn` as the values references take (in turn, cycling); without
/// any, references are null.
pub fn with<R>(drawn: Option<&Arc<Drawn>>, f: impl FnOnce() -> R) -> R {
    let Some(drawn) = drawn else { return f() };
    LENT.with(|lent| *lent.borrow_mut() = Some((drawn.clone(), vec![0; drawn.len()])));
    let result = f();
    LENT.with(|lent| *lent.borrow_mut() = None);
    result
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
        let seen = with(Some(&drawn), || (0..3).map(|_| draw("customers")).collect::<Vec<_>>());
        assert_eq!(seen, [Some(Bson::Int32(1)), Some(Bson::Int32(2)), Some(Bson::Int32(1))]);
        assert_eq!(with(Some(&drawn), || draw("products")), None);
        assert_eq!(draw("customers"), None);
    }
}
