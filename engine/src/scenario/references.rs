//! References between a scenario's collections (`x-gen.ref`), drawn so that the same
//! seed gives the same documents, and written so that every reference points at a
//! document the server holds.
//!
//! The `_id`s a reference may take at operation `i` are the referenced collection's
//! live documents after the operations it is due to have made by then: the phases
//! give both collections one schedule, so that is a fixed operation count. The
//! referencing planner replays the referenced collection's planner up to that count
//! (planning is cheap and deterministic, and nothing is sent) and draws from its
//! targets. The shard then waits for the drawn `_id`s' inserts to be acknowledged by
//! the server before it writes (real time may lag the schedule).
//!
//! A document the referenced collection deletes after the reference is drawn may
//! still be deleted before the referencing write, when the referencing collection's
//! writes lag behind; referenced collections that soft-delete, or never delete, never
//! see that.

use std::sync::Arc;

use bson::Bson;

use crate::plan::reference::PER_COLLECTION;
use crate::plan::{Acknowledged, Planner, RefDraws, ReferenceSource};
use crate::rate::Profile;
use crate::seed::{self, Stream};

/// A referenced collection, as a referencing planner sees it.
pub struct Referenced {
    pub name: Arc<str>,
    /// A replay of its planner: the same configuration, planning nothing that is sent.
    pub planner: Planner,
    pub profile: Profile,
    /// Its writers' acknowledged inserts.
    pub acknowledged: Arc<Acknowledged>,
}

/// The references of one collection's operations.
pub struct Draws {
    seed: u64,
    /// The referencing collection's profile.
    own: Profile,
    targets: Vec<Referenced>,
    scratch: Vec<(usize, crate::plan::ShardInput)>,
}

impl Draws {
    pub fn new(seed: u64, own: Profile, targets: Vec<Referenced>) -> Draws {
        Draws { seed, own, targets, scratch: Vec::new() }
    }
}

impl ReferenceSource for Draws {
    fn draw(&mut self, index: u64) -> Option<Arc<RefDraws>> {
        let mut rng = seed::rng(self.seed, Stream::Reference, index);
        let (mut values, mut acknowledged) = (Vec::new(), Vec::new());
        for target in &mut self.targets {
            let due = due_ops(&self.own, &target.profile, index);
            let total = target.profile.total_ops().unwrap_or(u64::MAX);
            // Up to the ops it is due to have made, and on until it holds a document.
            while target.planner.planned() < total
                && (target.planner.planned() < due || !target.planner.holds_targets())
            {
                match target.planner.next_op(&mut self.scratch) {
                    Ok(true) => self.scratch.clear(),
                    _ => break,
                }
            }
            let ids: Vec<Bson> = (0..PER_COLLECTION).filter_map(|_| target.planner.live_id(&mut rng)).collect();
            if !ids.is_empty() {
                values.push((target.name.clone(), ids));
                acknowledged.push(target.acknowledged.clone());
            }
        }
        (!values.is_empty()).then(|| Arc::new(RefDraws::new(values, &acknowledged)))
    }
}

/// How many operations the collection of `target` is due to have made when
/// operation `index` of `own` is due: the same fraction of the same phase.
pub fn due_ops(own: &Profile, target: &Profile, index: u64) -> u64 {
    let Some(stage) = own.stage_of(index) else { return target.total_ops().unwrap_or(u64::MAX) };
    let into = index - own.stage_start_op(stage);
    let (own_ops, target_ops) = (own.stages()[stage].ops(), target.stages()[stage].ops());
    let part = if own_ops == 0 { 0 } else { (into as u128 * target_ops as u128 / own_ops as u128) as u64 };
    target.stage_start_op(stage) + part
}
