//! Targets for `forge mutate`: whole documents drawn from the real collection (plugins
//! see them as the targets' current documents), refilled as deletes drain them.

use std::collections::HashSet;

use bson::{Bson, Document, RawDocumentBuf, doc};
use futures_util::TryStreamExt;
use mongodb::Collection;
use tokio::runtime::Handle;

use crate::plan::{IdKey, PlanError, Sampling, TargetSource};
use crate::segment::Segment;

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
    /// The field that orders documents by age for weighted-recent and latest (default
    /// `_id`).
    pub recent_field: String,
    /// The documents this process may target: its segment's (`Segment::owns`).
    pub segment: Segment,
    /// Where the sequential walk stands.
    last: Option<Bson>,
}

/// Fetches a segment tries before it concludes the collection holds none of its
/// documents (each fetch holds about 1/N of them).
const SEGMENT_TRIES: usize = 16;

impl CollectionTargets {
    pub fn new(
        coll: Collection<Document>,
        handle: Handle,
        sampling: Sampling,
        batch: usize,
        recent_field: String,
    ) -> Self {
        CollectionTargets { coll, handle, sampling, batch, recent_field, segment: Segment::WHOLE, last: None }
    }

    async fn fetch(&mut self) -> Result<Vec<RawDocumentBuf>, mongodb::error::Error> {
        let coll = self.coll.clone_with_type::<RawDocumentBuf>();
        let limit = self.batch as i64;
        Ok(match self.sampling {
            // Zipfian: the hot documents are the sample's first ones, so any documents.
            Sampling::Random | Sampling::Zipfian => {
                let pipeline = [doc! { "$sample": { "size": limit } }];
                let docs: Vec<Document> = self.coll.aggregate(pipeline).await?.try_collect().await?;
                docs.iter().filter_map(|d| RawDocumentBuf::try_from(d).ok()).collect()
            }
            Sampling::Sequential => {
                for _ in 0..2 {
                    let filter = match &self.last {
                        Some(last) => doc! { "_id": { "$gt": last.clone() } },
                        None => doc! {},
                    };
                    let found: Vec<RawDocumentBuf> =
                        coll.find(filter).sort(doc! { "_id": 1 }).limit(limit).await?.try_collect().await?;
                    if let Some(last) = found.last().and_then(id_of) {
                        self.last = Some(last);
                        return Ok(found);
                    }
                    self.last = None; // reached the end: wrap around once
                }
                Vec::new()
            }
            Sampling::WeightedRecent | Sampling::Latest => {
                let cursor = coll.find(doc! {}).sort(doc! { self.recent_field.as_str(): -1 }).limit(limit);
                let mut newest_first: Vec<RawDocumentBuf> = cursor.await?.try_collect().await?;
                newest_first.reverse(); // the cache takes the newest last
                newest_first
            }
        })
    }
}

fn id_of(doc: &RawDocumentBuf) -> Option<Bson> {
    doc.get("_id").ok().flatten().and_then(|v| Bson::try_from(v).ok())
}

impl TargetSource for CollectionTargets {
    fn refill(&mut self, skip: &HashSet<IdKey>) -> Result<Vec<RawDocumentBuf>, PlanError> {
        let handle = self.handle.clone();
        for _ in 0..SEGMENT_TRIES {
            let docs = handle.block_on(self.fetch()).map_err(TargetsError)?;
            let fetched = docs.len();
            let mine: Vec<_> = docs
                .into_iter()
                .filter(|d| id_of(d).is_some_and(|id| self.segment.owns(&id)))
                .filter(|d| id_of(d).is_none_or(|id| !skip.contains(&IdKey::of(&id))))
                .collect();
            // Another segment's documents only: fetch on (the walk goes on, a sample
            // is drawn again).
            if !mine.is_empty() || fetched == 0 || self.segment.is_whole() {
                return Ok(mine);
            }
        }
        Ok(Vec::new())
    }
}
