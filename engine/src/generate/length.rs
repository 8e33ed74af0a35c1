//! Sampling lengths (array sizes, dynamic key counts) from a [`LengthDist`].

use rand::Rng as _;

use crate::schema::model::LengthDist;
use crate::seed::Rng;

const KNOTS: [f64; 5] = [0.0, 0.5, 0.9, 0.99, 1.0];

pub fn sample(dist: &LengthDist, rng: &mut Rng) -> u32 {
    match *dist {
        LengthDist::Uniform { min, max } => rng.random_range(min..=max),
        LengthDist::Percentiles { min, p50, p90, p99, max } => {
            let values = [min, p50, p90, p99, max];
            let u: f64 = rng.random();
            let seg = KNOTS.windows(2).position(|w| u < w[1]).unwrap_or(3);
            let (u0, u1) = (KNOTS[seg], KNOTS[seg + 1]);
            let (v0, v1) = (values[seg], values[seg + 1]);
            let v = v0 + (u - u0) / (u1 - u0) * (v1 - v0);
            v.round() as u32
        }
        LengthDist::Frequencies(ref f) => *f.pick(rng.random()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// Nearest-rank percentile of sorted values.
    fn percentile(sorted: &[u32], q: f64) -> u32 {
        sorted[((q * sorted.len() as f64).ceil() as usize).saturating_sub(1)]
    }

    #[test]
    fn percentiles_land_on_the_hints() {
        let cases = [(0.0, 3.0, 10.0, 25.0, 40.0), (1.0, 1.0, 2.0, 6.0, 8.0), (0.0, 20.0, 80.0, 200.0, 500.0)];
        for (min, p50, p90, p99, max) in cases {
            let dist = LengthDist::Percentiles { min, p50, p90, p99, max };
            let mut rng = Rng::seed_from_u64(42);
            let mut v: Vec<u32> = (0..100_000).map(|_| sample(&dist, &mut rng)).collect();
            v.sort_unstable();
            for (q, want) in [(0.5, p50), (0.9, p90), (0.99, p99)] {
                let got = percentile(&v, q) as f64;
                assert!((got - want).abs() <= want * 0.1, "p{} = {got}, hint {want} ({dist:?})", q * 100.0);
            }
            assert!(v[0] as f64 >= min && *v.last().unwrap() as f64 <= max);
        }
    }
}
