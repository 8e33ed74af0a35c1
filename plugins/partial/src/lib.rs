//! `partial`: `$set` one to three schema fields (nested ones included) to fresh values,
//! and now and then `$unset` an optional one, as application updates do.

use forge_plugin_sdk::select::{conflicts, pick_fields};
use forge_plugin_sdk::update::Update;
use forge_plugin_sdk::{Config, Context, Error, Field, Mutation, Mutator, Target, export_mutator, host};

pub struct Partial {
    fields: Vec<Field>,
    all: Vec<usize>,
    optional: Vec<usize>,
    /// Share of updates that also remove an optional field (`--plugin-arg partial.unset-rate=0.1`).
    unset_rate: f64,
    /// Most fields one update sets (`--plugin-arg partial.max-fields=3`).
    max_fields: usize,
}

impl Mutator for Partial {
    const NAME: &'static str = "partial";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn init(config: &Config, _schema: &str) -> Result<Self, Error> {
        let fields = host::fields();
        if fields.is_empty() {
            return Err(Error::invalid_config(
                "the partial strategy needs a schema with at least one field besides _id",
            ));
        }
        let unset_rate = config.parse_or("unset-rate", 0.1)?;
        let max_fields = config.parse_or("max-fields", 3usize)?.max(1);
        let optional = fields.iter().enumerate().filter(|(_, f)| f.optional).map(|(i, _)| i).collect();
        Ok(Partial { all: (0..fields.len()).collect(), fields, optional, unset_rate, max_fields })
    }

    fn mutate(&mut self, _ctx: &Context, _target: &Target) -> Result<Mutation, Error> {
        let n = host::random_range(1, self.max_fields.min(self.fields.len()) as i64) as usize;
        let chosen = pick_fields(&self.fields, &self.all, n);
        let mut update = Update::new();
        for f in &chosen {
            update = update.set(f.path.clone(), host::generate_field(&f.path).map_err(Error::internal)?);
        }
        if !self.optional.is_empty() && host::random_bool(self.unset_rate) {
            let f = &self.fields[self.optional[host::random_below(self.optional.len() as u64) as usize]];
            if !chosen.iter().any(|c| conflicts(&c.path, &f.path)) {
                update = update.unset(f.path.clone());
            }
        }
        Ok(Mutation::Update(update.build()))
    }
}

export_mutator!(Partial);
