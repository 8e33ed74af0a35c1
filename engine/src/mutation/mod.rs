//! Update strategies and delete behaviors: what an update or a delete does to its
//! target. One trait for all of them, so that built-ins and plugins are called the
//! same way.

mod delete;
mod increment;
mod partial;
mod regenerate;

use std::fmt::Debug;
use std::sync::Arc;

use bson::{Bson, Document};

pub use delete::{DeleteAction, DeleteBehavior};

use crate::generate::Generator;
use crate::seed::Rng;

/// What an update strategy asks the writer to do to its target.
#[derive(Debug, Clone, PartialEq)]
pub enum Mutation {
    /// An update document (`{"$set": ...}`) for `updateOne`.
    Update(Document),
    /// A whole new document (same `_id`) for `replaceOne`.
    Replace(Document),
    /// Nothing to do for this target; the operation is counted as skipped.
    Skip,
}

/// The operation an update strategy is called for.
#[derive(Debug)]
pub struct OpContext<'a> {
    pub op_index: u64,
    pub target: &'a Bson,
}

pub trait UpdateStrategy: Send + Sync + Debug {
    fn name(&self) -> &str;
    /// Draws only from `rng` (seeded from the run seed and the op index), so the same
    /// seed gives the same mutations.
    fn mutate(&self, ctx: &OpContext, rng: &mut Rng) -> Mutation;
}

pub const BUILTIN_NAMES: &str = "regenerate, partial, increment, mixed";

/// A built-in update strategy by name.
pub fn builtin(name: &str, generator: Arc<Generator>) -> Result<Box<dyn UpdateStrategy>, String> {
    Ok(match name {
        "regenerate" => Box::new(regenerate::Regenerate::new(generator)),
        "partial" => Box::new(partial::Partial::new(generator)?),
        "increment" => Box::new(increment::Increment::new(generator)?),
        "mixed" => {
            let mut choices: Vec<Box<dyn UpdateStrategy>> = vec![
                Box::new(regenerate::Regenerate::new(generator.clone())),
                Box::new(partial::Partial::new(generator.clone())?),
            ];
            // Schemas without numbers still mix the other two.
            if let Ok(inc) = increment::Increment::new(generator) {
                choices.push(Box::new(inc));
            }
            Box::new(Mixed { choices })
        }
        other => return Err(format!("unknown update strategy '{other}' (built in: {BUILTIN_NAMES})")),
    })
}

/// A seeded choice among strategies, one per operation.
#[derive(Debug)]
struct Mixed {
    choices: Vec<Box<dyn UpdateStrategy>>,
}

impl UpdateStrategy for Mixed {
    fn name(&self) -> &str {
        "mixed"
    }

    fn mutate(&self, ctx: &OpContext, rng: &mut Rng) -> Mutation {
        let pick = crate::seed::draw::below(rng, self.choices.len() as u64) as usize;
        self.choices[pick].mutate(ctx, rng)
    }
}

#[cfg(test)]
mod tests;
