//! The IdCache: the `_id`s a run may target, bounded, oldest evicted first, with an
//! O(1) uniformly random pick.
//!
//! `_id`s stay typed BSON values (an ObjectId stays an ObjectId): the TypeScript
//! original kept `_id.toString()` and its updates then matched nothing.

use std::collections::{HashMap, VecDeque};

use bson::Bson;
use rand::Rng as _;

use crate::seed::Rng;

/// A hashable form of an `_id`, equal when MongoDB considers two `_id`s equal
/// (numbers compare by value across int/long).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum IdKey {
    ObjectId([u8; 12]),
    Int(i64),
    String(String),
    Other(Vec<u8>),
}

impl IdKey {
    pub fn of(id: &Bson) -> Self {
        match id {
            Bson::ObjectId(oid) => IdKey::ObjectId(oid.bytes()),
            Bson::Int32(n) => IdKey::Int(*n as i64),
            Bson::Int64(n) => IdKey::Int(*n),
            Bson::String(s) => IdKey::String(s.clone()),
            other => IdKey::Other(bson::serialize_to_vec(&bson::doc! { "": other.clone() }).unwrap_or_default()),
        }
    }
}

#[derive(Debug)]
pub struct IdCache {
    capacity: usize,
    /// Live entries in no particular order, for the random pick.
    live: Vec<(IdKey, Bson)>,
    /// Position of each live key in `live`.
    index: HashMap<IdKey, usize>,
    /// Keys in insertion order; may hold keys already removed (skipped on eviction).
    order: VecDeque<IdKey>,
}

impl IdCache {
    pub fn new(capacity: usize) -> Self {
        IdCache {
            capacity: capacity.max(1),
            live: Vec::with_capacity(capacity.min(1 << 20)),
            index: HashMap::with_capacity(capacity.min(1 << 20)),
            order: VecDeque::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.live.len()
    }

    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }

    pub fn contains_key(&self, key: &IdKey) -> bool {
        self.index.contains_key(key)
    }

    pub fn contains(&self, id: &Bson) -> bool {
        self.index.contains_key(&IdKey::of(id))
    }

    /// Adds an `_id` as the newest entry, evicting the oldest when full; returns the
    /// evicted `_id`, if any. An `_id` already present stays where it is.
    pub fn insert(&mut self, id: Bson) -> Option<Bson> {
        let key = IdKey::of(&id);
        if self.index.contains_key(&key) {
            return None;
        }
        let mut evicted = None;
        while self.live.len() >= self.capacity {
            let Some(oldest) = self.order.pop_front() else { break };
            evicted = self.take_key(&oldest).or(evicted);
        }
        self.index.insert(key.clone(), self.live.len());
        self.live.push((key.clone(), id));
        self.order.push_back(key);
        // Removed keys linger in `order`; compact when they dominate it.
        if self.order.len() > 2 * self.capacity + 64 {
            let index = &self.index;
            self.order.retain(|k| index.contains_key(k));
        }
        evicted
    }

    /// Forgets an `_id`; returns whether it was known.
    pub fn remove(&mut self, id: &Bson) -> bool {
        self.take_key(&IdKey::of(id)).is_some()
    }

    fn take_key(&mut self, key: &IdKey) -> Option<Bson> {
        let pos = self.index.remove(key)?;
        let (_, id) = self.live.swap_remove(pos);
        if let Some((moved, _)) = self.live.get(pos) {
            self.index.insert(moved.clone(), pos);
        }
        Some(id)
    }

    /// A live `_id` favouring the newest: the rank from the newest end is
    /// `len × u³`, so half the picks fall in the newest eighth.
    pub fn pick_recent(&mut self, rng: &mut Rng) -> Option<Bson> {
        self.compact_order();
        let n = self.order.len();
        if n == 0 {
            return None;
        }
        let u: f64 = rng.random();
        let rank = ((n as f64) * u * u * u) as usize;
        let key = &self.order[n - 1 - rank.min(n - 1)];
        self.index.get(key).map(|&pos| self.live[pos].1.clone())
    }

    /// Takes the oldest live `_id` out of the cache: consumed in the order added, so a
    /// source refilled in `_id` order is walked through in `_id` order.
    pub fn pop_oldest(&mut self) -> Option<Bson> {
        while let Some(key) = self.order.pop_front() {
            if let Some(id) = self.take_key(&key) {
                return Some(id);
            }
        }
        None
    }

    fn compact_order(&mut self) {
        if self.order.len() != self.live.len() {
            let index = &self.index;
            self.order.retain(|k| index.contains_key(k));
        }
    }

    /// A uniformly random live `_id`.
    pub fn pick(&self, rng: &mut Rng) -> Option<&Bson> {
        if self.live.is_empty() {
            return None;
        }
        Some(&self.live[rng.random_range(0..self.live.len())].1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn evicts_oldest_first_and_picks_only_live_ids() {
        let mut cache = IdCache::new(3);
        for i in 0..5 {
            cache.insert(Bson::Int32(i));
        }
        assert_eq!(cache.len(), 3);
        assert!(!cache.contains(&Bson::Int32(1)) && cache.contains(&Bson::Int32(2)));
        assert!(cache.remove(&Bson::Int32(3)));
        assert!(!cache.remove(&Bson::Int32(3)));
        cache.insert(Bson::Int32(5));
        cache.insert(Bson::Int32(6)); // evicts 2, the oldest live entry
        let mut rng = Rng::seed_from_u64(1);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            seen.insert(cache.pick(&mut rng).unwrap().as_i32().unwrap());
        }
        assert_eq!(seen, [4, 5, 6].into_iter().collect());
        assert_eq!(cache.pop_oldest(), Some(Bson::Int32(4)));
        assert_eq!(cache.pop_oldest(), Some(Bson::Int32(5)));
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn recent_picks_favour_the_newest() {
        let mut cache = IdCache::new(1000);
        (0..1000).for_each(|i| {
            cache.insert(Bson::Int32(i));
        });
        let mut rng = Rng::seed_from_u64(2);
        let newest_eighth = (0..4000).filter(|_| cache.pick_recent(&mut rng).unwrap().as_i32().unwrap() >= 875).count();
        assert!(newest_eighth > 1800, "{newest_eighth} of 4000 picks in the newest eighth");
    }

    #[test]
    fn int_and_long_ids_are_the_same_key_as_in_mongodb() {
        assert_eq!(IdKey::of(&Bson::Int32(5)), IdKey::of(&Bson::Int64(5)));
        assert_ne!(IdKey::of(&Bson::Int32(5)), IdKey::of(&Bson::String("5".into())));
    }
}
