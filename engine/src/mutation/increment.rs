//! `increment`: `$inc` one or two numeric schema paths by small amounts (counters,
//! balances, scores).

use std::sync::Arc;

use bson::{Bson, Document, doc};

use super::partial::pick_paths;
use super::{Mutation, OpContext, UpdateStrategy};
use crate::generate::{Generator, scalars};
use crate::schema::paths::{FieldPath, Numeric, field_paths};
use crate::seed::{Rng, draw};

#[derive(Debug)]
pub struct Increment {
    paths: Vec<FieldPath>,
    numeric: Vec<usize>,
}

impl Increment {
    pub fn new(generator: Arc<Generator>) -> Result<Self, String> {
        let paths = field_paths(&generator.schema().compiled);
        let numeric: Vec<usize> =
            paths.iter().enumerate().filter(|(_, p)| p.numeric.is_some()).map(|(i, _)| i).collect();
        if numeric.is_empty() {
            return Err(
                "the increment strategy needs a schema with a numeric field (integer, long, double or decimal)".into(),
            );
        }
        Ok(Increment { paths, numeric })
    }
}

impl UpdateStrategy for Increment {
    fn name(&self) -> &str {
        "increment"
    }

    fn mutate(&self, _ctx: &OpContext, rng: &mut Rng) -> Mutation {
        let n = draw::range(rng, 1, 2.min(self.numeric.len()) as i64) as usize;
        let mut inc = Document::new();
        for p in pick_paths(&self.paths, &self.numeric, n, rng) {
            let by = match p.numeric.expect("numeric paths only") {
                Numeric::Int32 => Bson::Int32(draw::range(rng, 1, 10) as i32),
                Numeric::Int64 => Bson::Int64(draw::range(rng, 1, 10)),
                Numeric::Double => Bson::Double(draw::range(rng, 1, 1000) as f64 / 100.0),
                Numeric::Decimal128 => Bson::Decimal128(scalars::decimal128(draw::range(rng, 1, 1000) as i128, 2)),
            };
            inc.insert(p.path.clone(), by);
        }
        Mutation::Update(doc! { "$inc": inc })
    }
}
