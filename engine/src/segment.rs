//! A run split into segments, so that several processes (machines, pods of a
//! Kubernetes Indexed Job) drive one run together without a coordinator.
//!
//! The run's seed and the segment count N define one operation stream; segment K of N
//! runs its global operation indices i ≡ K (mod N). Everything random about an
//! operation is drawn from (seed, global index), so what a segment does depends on
//! (seed, N, K) alone. Each segment keeps its own targets: it inserts documents with
//! globally unique indices (local insert m is global document m·N + K) and updates
//! and deletes only the `_id`s it inserted, so every document has one writer and its
//! history stays in order across machines. `mutate` partitions the existing `_id`s by
//! a stable hash ([`Segment::owns`]). With N = 1 (the default) the stream is exactly
//! the unsplit run's.

use std::fmt;

use bson::Bson;
use serde::{Deserialize, Serialize};

/// Segment `index` of `count`. Read back (from a report or a journal) only if it can
/// be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "Fields")]
pub struct Segment {
    /// K: 0-based.
    pub index: u64,
    /// N: how many segments share the run.
    pub count: u64,
}

/// A segment that cannot be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SegmentError {
    #[error("there must be at least one segment")]
    NoSegments,
    #[error("segment {index} does not exist: segments are numbered 0 to {last}", last = count - 1)]
    OutOfRange { index: u64, count: u64 },
}

/// A segment as written, before it is checked.
#[derive(Deserialize)]
struct Fields {
    index: u64,
    count: u64,
}

impl TryFrom<Fields> for Segment {
    type Error = SegmentError;

    fn try_from(f: Fields) -> Result<Self, SegmentError> {
        Segment::new(f.index, f.count)
    }
}

impl Default for Segment {
    fn default() -> Self {
        Segment::WHOLE
    }
}

impl Segment {
    /// The whole run: one segment.
    pub const WHOLE: Segment = Segment { index: 0, count: 1 };

    pub fn new(index: u64, count: u64) -> Result<Self, SegmentError> {
        match (index, count) {
            (_, 0) => Err(SegmentError::NoSegments),
            (index, count) if index >= count => Err(SegmentError::OutOfRange { index, count }),
            _ => Ok(Segment { index, count }),
        }
    }

    /// Whether this is the whole run (no split).
    pub fn is_whole(&self) -> bool {
        self.count == 1
    }

    /// Every segment of a run split in `count`.
    pub fn all(count: u64) -> impl Iterator<Item = Segment> {
        (0..count).map(move |index| Segment { index, count })
    }

    /// The global index of this segment's `local`-th operation (or inserted document).
    pub fn global(&self, local: u64) -> u64 {
        local * self.count + self.index
    }

    /// How many of the global indices `0..total` are this segment's.
    pub fn share(&self, total: u64) -> u64 {
        total.saturating_sub(self.index).div_ceil(self.count)
    }

    /// Whether this segment owns an existing document (`mutate`): a stable hash of the
    /// `_id`, independent of the one that picks its shard (`plan::shard_of`), so a
    /// segment's documents still spread over all its shards.
    pub fn owns(&self, id: &Bson) -> bool {
        self.is_whole() || crate::plan::shard::segment_hash(id) % self.count == self.index
    }
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "segment {} of {}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_partition_the_indices() {
        let segments: Vec<_> = Segment::all(3).collect();
        let mut seen = Vec::new();
        for s in &segments {
            assert_eq!(s.share(10), (0..10).filter(|i| i % 3 == s.index).count() as u64);
            seen.extend((0..s.share(10)).map(|local| s.global(local)));
        }
        seen.sort();
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
        assert_eq!(Segment::WHOLE.global(7), 7);
        assert_eq!(Segment::WHOLE.share(7), 7);
        assert_eq!(Segment::new(1, 3).unwrap().share(1), 0);
    }

    #[test]
    fn every_id_has_one_segment_and_the_shards_stay_even() {
        let segments: Vec<_> = Segment::all(2).collect();
        let mut shards = [[0u32; 2]; 2];
        for i in 0..20_000 {
            let id = Bson::Int64(i);
            let owners: Vec<_> = segments.iter().filter(|s| s.owns(&id)).collect();
            assert_eq!(owners.len(), 1);
            shards[owners[0].index as usize][crate::plan::shard_of(&id, 2)] += 1;
        }
        // Within each segment, both shards get about half.
        assert!(shards.iter().flatten().all(|&n| (4_500..5_500).contains(&n)), "{shards:?}");
    }

    #[test]
    fn impossible_segments_are_refused() {
        assert_eq!(Segment::new(0, 0), Err(SegmentError::NoSegments));
        assert_eq!(
            Segment::new(3, 3).unwrap_err().to_string(),
            "segment 3 does not exist: segments are numbered 0 to 2"
        );
        let read = |json| serde_json::from_str::<Segment>(json).map_err(|e| e.to_string());
        assert_eq!(read(r#"{"index":1,"count":3}"#), Ok(Segment::new(1, 3).unwrap()));
        assert!(read(r#"{"index":0,"count":0}"#).unwrap_err().contains("at least one segment"));
    }
}
