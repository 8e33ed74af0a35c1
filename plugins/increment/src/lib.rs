//! `increment`: `$inc` one or two numeric schema fields by small amounts (counters,
//! balances, scores).

use forge_plugin_sdk::bson::{Bson, Decimal128};
use forge_plugin_sdk::select::pick_fields;
use forge_plugin_sdk::update::Update;
use forge_plugin_sdk::{BsonType, Config, Context, Error, Field, Mutation, Mutator, Target, export_mutator, host};

pub struct Increment {
    fields: Vec<Field>,
    numeric: Vec<usize>,
}

impl Mutator for Increment {
    const NAME: &'static str = "increment";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn init(_config: &Config, _schema: &str) -> Result<Self, Error> {
        let fields = host::fields();
        let numeric: Vec<usize> = fields.iter().enumerate().filter(|(_, f)| f.is_numeric()).map(|(i, _)| i).collect();
        if numeric.is_empty() {
            return Err(Error::invalid_config(
                "the increment strategy needs a schema with a numeric field (integer, long, double or decimal)",
            ));
        }
        Ok(Increment { fields, numeric })
    }

    fn mutate(&mut self, _ctx: &Context, _target: &Target) -> Result<Mutation, Error> {
        let n = host::random_range(1, 2.min(self.numeric.len()) as i64) as usize;
        let mut update = Update::new();
        for f in pick_fields(&self.fields, &self.numeric, n) {
            let by = match f.kind {
                BsonType::Int32 => Bson::Int32(host::random_range(1, 10) as i32),
                BsonType::Int64 => Bson::Int64(host::random_range(1, 10)),
                BsonType::Double => Bson::Double(host::random_range(1, 1000) as f64 / 100.0),
                _ => {
                    let cents = host::random_range(1, 1000);
                    let d: Decimal128 = format!("{}.{:02}", cents / 100, cents % 100)
                        .parse()
                        .map_err(|e| Error::internal(format!("decimal: {e}")))?;
                    Bson::Decimal128(d)
                }
            };
            update = update.inc(f.path.clone(), by);
        }
        Ok(Mutation::Update(update.build()))
    }
}

export_mutator!(Increment);
