//! The IdCache: the `_id`s a run may target, bounded, oldest evicted first, with an
//! O(1) uniformly random pick and an O(log n) pick by rank in insertion order (for
//! picks that favour the oldest or the newest).
//!
//! `_id`s stay typed BSON values (an ObjectId stays an ObjectId): the TypeScript
//! original kept `_id.toString()` and its updates then matched nothing.

use std::collections::HashMap;

use bson::Bson;
use rand::Rng as _;
use rand_distr::{Distribution as _, Zipf};

use crate::seed::Rng;

/// A hashable form of an `_id`, equal when MongoDB considers two `_id`s equal
/// (numbers compare by value across int/long).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
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

/// The exponent of `zipfian` and `latest` picks: the usual one for hot keys in
/// database benchmarks (the hottest of 1,000 targets gets about 13% of the picks).
pub const ZIPF_EXPONENT: f64 = 0.99;

/// A slot of `slots` whose `_id` left the cache.
const EMPTY: usize = usize::MAX;

#[derive(Debug)]
struct Entry {
    key: IdKey,
    id: Bson,
    /// Its place in `slots`.
    slot: usize,
}

#[derive(Debug)]
pub struct IdCache {
    capacity: usize,
    /// Live entries in no particular order, for the uniform pick.
    live: Vec<Entry>,
    /// Position of each live key in `live`.
    index: HashMap<IdKey, usize>,
    /// Insertion order: one slot per insert, holding its entry's position in `live`,
    /// or EMPTY once it left (compacted away when the empty ones dominate).
    slots: Vec<usize>,
    /// Counts the live slots: the k-th live `_id` in insertion order in O(log n).
    ranks: Fenwick,
    /// Every slot before this one is empty.
    front: usize,
    /// The Zipf distribution for the current number of live `_id`s (cheap to build:
    /// rebuilt when the number changes).
    zipf: Option<(usize, Zipf<f64>)>,
}

impl IdCache {
    pub fn new(capacity: usize) -> Self {
        IdCache {
            capacity: capacity.max(1),
            live: Vec::with_capacity(capacity.min(1 << 20)),
            index: HashMap::with_capacity(capacity.min(1 << 20)),
            slots: Vec::with_capacity(capacity.min(1 << 20)),
            ranks: Fenwick::default(),
            front: 0,
            zipf: None,
        }
    }

    pub fn len(&self) -> usize {
        self.live.len()
    }

    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }

    /// Whether an insert would evict.
    pub fn is_full(&self) -> bool {
        self.live.len() >= self.capacity
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
            let Some(oldest) = self.pop_oldest() else { break };
            evicted = Some(oldest);
        }
        let slot = self.slots.len();
        self.index.insert(key.clone(), self.live.len());
        self.slots.push(self.live.len());
        self.ranks.push(1);
        self.live.push(Entry { key, id, slot });
        evicted
    }

    /// Forgets an `_id`; returns whether it was known.
    pub fn remove(&mut self, id: &Bson) -> bool {
        self.take_key(&IdKey::of(id)).is_some()
    }

    fn take_key(&mut self, key: &IdKey) -> Option<Bson> {
        let pos = self.index.remove(key)?;
        let entry = self.live.swap_remove(pos);
        self.slots[entry.slot] = EMPTY;
        self.ranks.decrement(entry.slot);
        if let Some(moved) = self.live.get(pos) {
            self.index.insert(moved.key.clone(), pos);
            self.slots[moved.slot] = pos;
        }
        // Empty slots only cost memory and a little time: squeeze them out when they
        // outnumber the live ones (amortized O(1) per removal).
        if self.slots.len() > 2 * self.live.len() + 64 {
            self.compact();
        }
        Some(entry.id)
    }

    fn compact(&mut self) {
        let mut slots = Vec::with_capacity(self.live.len());
        for &pos in &self.slots {
            if pos != EMPTY {
                self.live[pos].slot = slots.len();
                slots.push(pos);
            }
        }
        self.slots = slots;
        self.ranks = Fenwick::ones(self.slots.len());
        self.front = 0;
    }

    /// The live `_id` of rank `k` (0: the oldest) in insertion order.
    fn nth_oldest(&self, k: usize) -> Option<&Bson> {
        if k >= self.live.len() {
            return None;
        }
        let pos = self.slots[self.ranks.find(k)];
        Some(&self.live[pos].id)
    }

    /// A live `_id` favouring the newest: the rank from the newest end is
    /// `len × u³`, so half the picks fall in the newest eighth.
    pub fn pick_recent(&self, rng: &mut Rng) -> Option<&Bson> {
        let n = self.live.len();
        if n == 0 {
            return None;
        }
        let u: f64 = rng.random();
        let rank = ((n as f64) * u * u * u) as usize;
        self.nth_oldest(n - 1 - rank.min(n - 1))
    }

    /// A rank in `0..n` (0 the hottest) from a Zipf distribution over `n` ranks.
    fn zipf_rank(&mut self, rng: &mut Rng) -> Option<usize> {
        let n = self.live.len();
        if n == 0 {
            return None;
        }
        let zipf = match self.zipf {
            Some((m, zipf)) if m == n => zipf,
            _ => {
                let zipf = Zipf::new(n as f64, ZIPF_EXPONENT).expect("n ≥ 1 and a positive exponent");
                self.zipf = Some((n, zipf));
                zipf
            }
        };
        // Ranks are 1..=n as floats; clamp against rounding at the top end.
        Some((zipf.sample(rng) as usize).clamp(1, n) - 1)
    }

    /// A live `_id` drawn with a Zipf distribution over insertion order: the oldest
    /// is the hottest, the k-th oldest picked in proportion to 1/k^0.99.
    pub fn pick_zipf_oldest(&mut self, rng: &mut Rng) -> Option<&Bson> {
        let rank = self.zipf_rank(rng)?;
        self.nth_oldest(rank)
    }

    /// A live `_id` drawn with a Zipf distribution over recency: the newest is the
    /// hottest, the k-th newest picked in proportion to 1/k^0.99.
    pub fn pick_zipf_newest(&mut self, rng: &mut Rng) -> Option<&Bson> {
        let rank = self.zipf_rank(rng)?;
        self.nth_oldest(self.live.len() - 1 - rank)
    }

    /// Takes the oldest live `_id` out of the cache: consumed in the order added, so a
    /// source refilled in `_id` order is walked through in `_id` order.
    pub fn pop_oldest(&mut self) -> Option<Bson> {
        while self.front < self.slots.len() {
            let pos = self.slots[self.front];
            if pos != EMPTY {
                let key = self.live[pos].key.clone();
                return self.take_key(&key);
            }
            self.front += 1;
        }
        None
    }

    /// A uniformly random live `_id`.
    pub fn pick(&self, rng: &mut Rng) -> Option<&Bson> {
        if self.live.is_empty() {
            return None;
        }
        Some(&self.live[rng.random_range(0..self.live.len())].id)
    }
}

/// A Fenwick (binary indexed) tree of counts that grows at the end: prefix sums
/// and "the slot holding the k-th one" in O(log n).
#[derive(Debug, Default)]
struct Fenwick {
    /// `tree[i - 1]` sums the counts of slots `(i - lowbit(i), i]` (1-based).
    tree: Vec<u32>,
}

fn lowbit(i: usize) -> usize {
    i & i.wrapping_neg()
}

impl Fenwick {
    /// `n` slots counting one each.
    fn ones(n: usize) -> Self {
        Fenwick { tree: (1..=n).map(|i| lowbit(i) as u32).collect() }
    }

    /// Appends a slot counting `count`.
    fn push(&mut self, count: u32) {
        let i = self.tree.len() + 1;
        let mut sum = count;
        // Node i also covers the slots (i - lowbit(i), i - 1]: the nodes below it.
        let mut j = i - 1;
        while j > i - lowbit(i) {
            sum += self.tree[j - 1];
            j -= lowbit(j);
        }
        self.tree.push(sum);
    }

    /// Takes one from slot `slot` (0-based), which counts one.
    fn decrement(&mut self, slot: usize) {
        let mut i = slot + 1;
        while i <= self.tree.len() {
            self.tree[i - 1] -= 1;
            i += lowbit(i);
        }
    }

    /// The 0-based slot holding the `k`-th one (0-based); `k` is below the total.
    fn find(&self, k: usize) -> usize {
        let n = self.tree.len();
        let mut pos = 0;
        let mut rest = k as u64;
        let mut step = if n == 0 { 0 } else { 1 << n.ilog2() };
        while step > 0 {
            if pos + step <= n && u64::from(self.tree[pos + step - 1]) <= rest {
                pos += step;
                rest -= u64::from(self.tree[pos - 1]);
            }
            step >>= 1;
        }
        pos
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

    /// The share of `draws` picks that fall on each `_id` (inserted in order from 0).
    fn shares(cache: &mut IdCache, seed: u64, draws: usize, pick: fn(&mut IdCache, &mut Rng) -> i32) -> Vec<f64> {
        let mut rng = Rng::seed_from_u64(seed);
        let mut counts = vec![0usize; 1000];
        for _ in 0..draws {
            counts[pick(cache, &mut rng) as usize] += 1;
        }
        counts.into_iter().map(|c| c as f64 / draws as f64).collect()
    }

    fn oldest(cache: &mut IdCache, rng: &mut Rng) -> i32 {
        cache.pick_zipf_oldest(rng).unwrap().as_i32().unwrap()
    }

    fn newest(cache: &mut IdCache, rng: &mut Rng) -> i32 {
        cache.pick_zipf_newest(rng).unwrap().as_i32().unwrap()
    }

    fn filled(n: i32) -> IdCache {
        let mut cache = IdCache::new(n as usize);
        (0..n).for_each(|i| {
            cache.insert(Bson::Int32(i));
        });
        cache
    }

    /// What a Zipf distribution of exponent 0.99 over `n` ranks gives the first `top`.
    fn zipf_share(n: usize, top: usize) -> f64 {
        let weight = |k: usize| (k as f64).powf(-ZIPF_EXPONENT);
        (1..=top).map(weight).sum::<f64>() / (1..=n).map(weight).sum::<f64>()
    }

    #[test]
    fn zipfian_picks_concentrate_on_the_oldest() {
        let mut cache = filled(1000);
        let shares = shares(&mut cache, 3, 100_000, oldest);
        let (hottest, top_tenth) = (shares[0], shares[..100].iter().sum::<f64>());
        // Uniform picks would give the hottest 0.1% and the top tenth 10%.
        assert!((zipf_share(1000, 1) - 0.13).abs() < 0.01, "{}", zipf_share(1000, 1));
        assert!((hottest - zipf_share(1000, 1)).abs() < 0.01, "hottest: {hottest}");
        assert!((top_tenth - zipf_share(1000, 100)).abs() < 0.01, "top tenth: {top_tenth}");
        assert!(top_tenth > 0.6, "{top_tenth}");
        assert!(shares[1] > shares[9] && shares[9] > shares[99] && shares[99] > shares[999]);
        // The newest are the coldest.
        assert!(shares[900..].iter().sum::<f64>() < 0.02);
    }

    #[test]
    fn latest_picks_concentrate_on_the_newest() {
        let mut cache = filled(1000);
        let shares = shares(&mut cache, 4, 100_000, newest);
        let (hottest, top_tenth) = (shares[999], shares[900..].iter().sum::<f64>());
        assert!((hottest - zipf_share(1000, 1)).abs() < 0.01, "hottest: {hottest}");
        assert!((top_tenth - zipf_share(1000, 100)).abs() < 0.01, "newest tenth: {top_tenth}");
        assert!(shares[..100].iter().sum::<f64>() < 0.02);
        // Far steeper than weighted-recent, whose newest tenth gets under half.
        let mut rng = Rng::seed_from_u64(4);
        let recent = (0..100_000).filter(|_| cache.pick_recent(&mut rng).unwrap().as_i32().unwrap() >= 900).count();
        assert!((recent as f64 / 100_000.0) < 0.5 && top_tenth > 0.6, "{recent}");
    }

    #[test]
    fn zipf_picks_depend_on_the_seed_alone() {
        let draw = |seed: u64, pick: fn(&mut IdCache, &mut Rng) -> i32| {
            let mut cache = filled(500);
            let mut rng = Rng::seed_from_u64(seed);
            (0..2000).map(|_| pick(&mut cache, &mut rng)).collect::<Vec<_>>()
        };
        assert_eq!(draw(7, oldest), draw(7, oldest));
        assert_eq!(draw(7, newest), draw(7, newest));
        assert_ne!(draw(7, oldest), draw(8, oldest));
    }

    #[test]
    fn ranks_follow_the_live_ids_as_the_cache_changes() {
        // The k-th oldest against a plain list, through inserts, evictions, removals
        // and sequential takes (compactions included).
        let mut cache = IdCache::new(300);
        let mut order: Vec<i32> = Vec::new();
        let mut rng = Rng::seed_from_u64(9);
        for i in 0..20_000 {
            match rng.random_range(0..10) {
                0..5 => {
                    cache.insert(Bson::Int32(i));
                    order.push(i);
                    if order.len() > 300 {
                        order.remove(0);
                    }
                }
                5..9 if !order.is_empty() => {
                    let gone = order.remove(rng.random_range(0..order.len()));
                    assert!(cache.remove(&Bson::Int32(gone)));
                }
                _ => assert_eq!(
                    cache.pop_oldest().and_then(|b| b.as_i32()),
                    (!order.is_empty()).then(|| order.remove(0))
                ),
            }
            assert_eq!(cache.len(), order.len());
            if i % 97 == 0 {
                let ranked: Vec<i32> =
                    (0..order.len()).map(|k| cache.nth_oldest(k).unwrap().as_i32().unwrap()).collect();
                assert_eq!(ranked, order, "after step {i}");
            }
        }
        // The hottest is the oldest live one, whatever left before it.
        let mut cache = filled(100);
        assert!(cache.remove(&Bson::Int32(0)));
        cache.pop_oldest();
        let shares = shares(&mut cache, 5, 20_000, oldest);
        assert!(shares[0] == 0.0 && shares[1] == 0.0);
        assert!((shares[2] - zipf_share(98, 1)).abs() < 0.015, "{}", shares[2]);
    }

    #[test]
    fn a_million_ids_pick_by_rank_without_scanning() {
        // Removals between picks: a pick that compacted or scanned the order would take
        // minutes here.
        let mut cache = filled(1_000_000);
        let mut rng = Rng::seed_from_u64(6);
        for i in 0..50_000 {
            let id = cache.pick_zipf_oldest(&mut rng).unwrap().clone();
            assert!(cache.remove(&id));
            cache.insert(Bson::Int32(1_000_000 + i));
            assert!(cache.pick_zipf_newest(&mut rng).is_some() && cache.pick_recent(&mut rng).is_some());
        }
        assert_eq!(cache.len(), 1_000_000);
    }

    #[test]
    fn int_and_long_ids_are_the_same_key_as_in_mongodb() {
        assert_eq!(IdKey::of(&Bson::Int32(5)), IdKey::of(&Bson::Int64(5)));
        assert_ne!(IdKey::of(&Bson::Int32(5)), IdKey::of(&Bson::String("5".into())));
    }
}
