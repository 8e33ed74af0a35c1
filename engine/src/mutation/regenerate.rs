//! `regenerate`: replace the target with a freshly generated document, same `_id`.

use std::sync::Arc;

use super::{Mutation, OpContext, UpdateStrategy};
use crate::generate::Generator;
use crate::seed::Rng;

#[derive(Debug)]
pub struct Regenerate {
    generator: Arc<Generator>,
}

impl Regenerate {
    pub fn new(generator: Arc<Generator>) -> Self {
        Regenerate { generator }
    }
}

impl UpdateStrategy for Regenerate {
    fn name(&self) -> &str {
        "regenerate"
    }

    fn mutate(&self, ctx: &OpContext, rng: &mut Rng) -> Mutation {
        Mutation::Replace(self.generator.document_with_id(ctx.target.clone(), rng))
    }
}
