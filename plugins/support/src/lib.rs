//! What the stateful built-ins (lifecycle, drift, array) share: reading the schema text
//! `init` receives, reading a dotted path of the current document, and a random source
//! behind a trait so their logic runs in native unit tests without a host.

pub mod schema;

use bson::{Bson, Document};

/// Where the plugins draw randomness: the host in a run, a fixed sequence in tests.
pub trait Draw {
    /// Uniform in `[0, n)`; `n` is positive.
    fn below(&mut self, n: u64) -> u64;
    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64;
}

/// The value at a dotted path (`address.city`, `items.2.qty`) of `doc`, through
/// embedded documents and array indices.
pub fn get_path<'d>(doc: &'d Document, path: &str) -> Option<&'d Bson> {
    let mut parts = path.split('.');
    let mut value = doc.get(parts.next()?)?;
    for part in parts {
        value = match value {
            Bson::Document(d) => d.get(part)?,
            Bson::Array(a) => a.get(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(value)
}

/// `count` distinct indices below `len`, drawn uniformly (a partial shuffle).
pub fn pick_distinct(draw: &mut impl Draw, len: usize, count: usize) -> Vec<usize> {
    let mut all: Vec<usize> = (0..len).collect();
    let count = count.min(len);
    for i in 0..count {
        let j = i + draw.below((len - i) as u64) as usize;
        all.swap(i, j);
    }
    all.truncate(count);
    all
}

/// A [`Draw`] for tests: replays `units` (cycling), and derives `below` from them.
#[derive(Debug, Clone)]
pub struct Replay {
    units: Vec<f64>,
    next: usize,
}

impl Replay {
    pub fn new(units: &[f64]) -> Self {
        assert!(!units.is_empty() && units.iter().all(|u| (0.0..1.0).contains(u)));
        Replay { units: units.to_vec(), next: 0 }
    }

    /// A long, well spread sequence from `seed` (a small LCG; tests only).
    pub fn seeded(seed: u64, len: usize) -> Self {
        let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let units = (0..len.max(1))
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (s >> 11) as f64 / (1u64 << 53) as f64
            })
            .collect::<Vec<_>>();
        Replay { units, next: 0 }
    }
}

impl Draw for Replay {
    fn below(&mut self, n: u64) -> u64 {
        ((self.unit() * n as f64) as u64).min(n - 1)
    }

    fn unit(&mut self) -> f64 {
        let u = self.units[self.next % self.units.len()];
        self.next += 1;
        u
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn get_path_walks_documents_and_array_indices() {
        let d = doc! { "a": { "b": 1 }, "items": [ { "qty": 2 }, { "qty": 3 } ] };
        assert_eq!(get_path(&d, "a.b"), Some(&Bson::Int32(1)));
        assert_eq!(get_path(&d, "items.1.qty"), Some(&Bson::Int32(3)));
        assert_eq!(get_path(&d, "items.2.qty"), None);
        assert_eq!(get_path(&d, "a.b.c"), None);
        assert_eq!(get_path(&d, "zz"), None);
    }

    #[test]
    fn pick_distinct_gives_distinct_indices_in_range() {
        let mut r = Replay::seeded(7, 100);
        for len in 1..6 {
            for count in 1..4 {
                let got = pick_distinct(&mut r, len, count);
                assert_eq!(got.len(), count.min(len));
                let mut sorted = got.clone();
                sorted.sort();
                sorted.dedup();
                assert_eq!(sorted.len(), got.len());
                assert!(got.iter().all(|i| *i < len));
            }
        }
    }
}
