//! Targets for `forge mutate`: `_id`s drawn from the real collection, refilled as
//! deletes drain them.

use std::collections::HashSet;

use bson::{Bson, Document, doc};
use futures_util::TryStreamExt;
use mongodb::Collection;
use tokio::runtime::Handle;

use crate::plan::{IdCache, IdKey, PlanError, Sampling, TargetSource};

/// The collection could not be sampled for targets.
#[derive(Debug, thiserror::Error)]
#[error("sampling targets from the collection failed: {}", super::one_line(&.0.kind.to_string()))]
pub struct TargetsError(#[source] pub mongodb::error::Error);

pub struct CollectionTargets {
    pub coll: Collection<Document>,
    pub handle: Handle,
    pub sampling: Sampling,
    /// How many `_id`s one refill fetches (the IdCache size).
    pub batch: usize,
    /// The field that orders documents by age for weighted-recent (default `_id`).
    pub recent_field: String,
    /// Where the sequential walk stands.
    last: Option<Bson>,
}

impl CollectionTargets {
    pub fn new(
        coll: Collection<Document>,
        handle: Handle,
        sampling: Sampling,
        batch: usize,
        recent_field: String,
    ) -> Self {
        CollectionTargets { coll, handle, sampling, batch, recent_field, last: None }
    }

    async fn fetch(&mut self) -> Result<Vec<Bson>, mongodb::error::Error> {
        let ids = |docs: Vec<Document>| docs.into_iter().filter_map(|mut d| d.remove("_id")).collect::<Vec<_>>();
        let limit = self.batch as i64;
        Ok(match self.sampling {
            Sampling::Random => {
                let pipeline = [doc! { "$sample": { "size": limit } }, doc! { "$project": { "_id": 1 } }];
                ids(self.coll.aggregate(pipeline).await?.try_collect().await?)
            }
            Sampling::Sequential => {
                for _ in 0..2 {
                    let filter = match &self.last {
                        Some(last) => doc! { "_id": { "$gt": last.clone() } },
                        None => doc! {},
                    };
                    let cursor =
                        self.coll.find(filter).sort(doc! { "_id": 1 }).limit(limit).projection(doc! { "_id": 1 });
                    let found = ids(cursor.await?.try_collect().await?);
                    if let Some(last) = found.last() {
                        self.last = Some(last.clone());
                        return Ok(found);
                    }
                    self.last = None; // reached the end: wrap around once
                }
                Vec::new()
            }
            Sampling::WeightedRecent => {
                let cursor = self
                    .coll
                    .find(doc! {})
                    .sort(doc! { self.recent_field.as_str(): -1 })
                    .limit(limit)
                    .projection(doc! { "_id": 1 });
                let mut newest_first = ids(cursor.await?.try_collect().await?);
                newest_first.reverse(); // the cache takes the newest last
                newest_first
            }
        })
    }
}

impl TargetSource for CollectionTargets {
    fn refill(&mut self, cache: &mut IdCache, skip: &HashSet<IdKey>) -> Result<usize, PlanError> {
        let handle = self.handle.clone();
        let ids = handle.block_on(self.fetch()).map_err(TargetsError)?;
        let before = cache.len();
        for id in ids {
            if !skip.contains(&IdKey::of(&id)) {
                cache.insert(id);
            }
        }
        Ok(cache.len() - before)
    }
}
