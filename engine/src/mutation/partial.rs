//! `partial`: `$set` one to three schema paths (nested ones included) to fresh values,
//! and now and then `$unset` an optional one, as application updates do.

use std::sync::Arc;

use bson::{Document, doc};

use super::{Mutation, OpContext, UpdateStrategy};
use crate::generate::Generator;
use crate::schema::paths::{FieldPath, field_paths};
use crate::seed::{Rng, draw};

/// Share of updates that also remove an optional field.
const UNSET_RATE: f64 = 0.1;

#[derive(Debug)]
pub struct Partial {
    generator: Arc<Generator>,
    paths: Vec<FieldPath>,
    optional: Vec<usize>,
}

impl Partial {
    pub fn new(generator: Arc<Generator>) -> Result<Self, String> {
        let paths = field_paths(&generator.schema().compiled);
        if paths.is_empty() {
            return Err("the partial strategy needs a schema with at least one field besides _id".into());
        }
        let optional = paths.iter().enumerate().filter(|(_, p)| p.optional).map(|(i, _)| i).collect();
        Ok(Partial { generator, paths, optional })
    }
}

/// Two paths conflict in one update when one is the other or a prefix of it.
pub(super) fn conflicts(a: &str, b: &str) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    long == short || (long.starts_with(short) && long.as_bytes()[short.len()] == b'.')
}

/// Up to `n` distinct, non-conflicting paths from `candidates` (indices into `paths`).
pub(super) fn pick_paths<'p>(
    paths: &'p [FieldPath],
    candidates: &[usize],
    n: usize,
    rng: &mut Rng,
) -> Vec<&'p FieldPath> {
    let mut chosen: Vec<&FieldPath> = Vec::with_capacity(n);
    for _ in 0..n * 3 {
        if chosen.len() == n {
            break;
        }
        let p = &paths[candidates[draw::below(rng, candidates.len() as u64) as usize]];
        if !chosen.iter().any(|c| conflicts(&c.path, &p.path)) {
            chosen.push(p);
        }
    }
    chosen
}

impl UpdateStrategy for Partial {
    fn name(&self) -> &str {
        "partial"
    }

    fn mutate(&self, _ctx: &OpContext, rng: &mut Rng) -> Mutation {
        let all: Vec<usize> = (0..self.paths.len()).collect();
        let n = draw::range(rng, 1, 3.min(self.paths.len()) as i64) as usize;
        let chosen = pick_paths(&self.paths, &all, n, rng);
        let mut set = Document::new();
        for p in &chosen {
            set.insert(p.path.clone(), self.generator.value_of(p.node, rng));
        }
        let mut update = doc! { "$set": set };
        if !self.optional.is_empty() && draw::chance(rng, UNSET_RATE) {
            let p = &self.paths[self.optional[draw::below(rng, self.optional.len() as u64) as usize]];
            if !chosen.iter().any(|c| conflicts(&c.path, &p.path)) {
                update.insert("$unset", doc! { p.path.clone(): "" });
            }
        }
        Mutation::Update(update)
    }
}
