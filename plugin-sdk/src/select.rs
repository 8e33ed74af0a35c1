//! Choosing which fields an update touches.

use crate::Field;
use crate::host::random_below;

/// Whether two dotted paths conflict in one update (one is the other or its prefix).
pub fn conflicts(a: &str, b: &str) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    long == short || (long.starts_with(short) && long.as_bytes()[short.len()] == b'.')
}

/// Up to `n` distinct, non-conflicting fields drawn from `candidates` (indices into
/// `fields`), with a bounded number of draws.
pub fn pick_fields<'f>(fields: &'f [Field], candidates: &[usize], n: usize) -> Vec<&'f Field> {
    let mut chosen: Vec<&Field> = Vec::with_capacity(n);
    if candidates.is_empty() {
        return chosen;
    }
    for _ in 0..n * 3 {
        if chosen.len() == n {
            break;
        }
        let f = &fields[candidates[random_below(candidates.len() as u64) as usize]];
        if !chosen.iter().any(|c| conflicts(&c.path, &f.path)) {
            chosen.push(f);
        }
    }
    chosen
}
