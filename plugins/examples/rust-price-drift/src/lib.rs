//! price-drift: moves a price up or down by a few percent, and now and then
//! re-generates the status field from the schema.
use forge_plugin_sdk::update::Update;
use forge_plugin_sdk::{Config, Context, Error, Mutation, Mutator, Target, export_mutator, host};

pub struct PriceDrift {
    field: String,
    max_percent: i64,
}

impl Mutator for PriceDrift {
    const NAME: &'static str = "price-drift";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn init(config: &Config, _schema: &str) -> Result<Self, Error> {
        let field = config.get("field").unwrap_or("price").to_owned();
        if !host::fields().iter().any(|f| f.path == field && f.is_numeric()) {
            return Err(Error::invalid_config(format!("the schema has no numeric field '{field}'")));
        }
        Ok(PriceDrift { field, max_percent: config.parse_or("max-percent", 5)? })
    }

    fn mutate(&mut self, _ctx: &Context, target: &Target) -> Result<Mutation, Error> {
        // The current document (as every earlier write left it) is raw BSON: read one
        // field without decoding the rest. It is absent only for a deleted document.
        let current = target.current.as_ref().and_then(|d| d.get_f64(&self.field).ok());
        let Some(price) = current else {
            host::debug(&format!("no double '{}' in {}: skipped", self.field, target.id));
            return Ok(Mutation::Skip);
        };
        // All randomness comes from `host`: seeded per operation, so runs repeat.
        let percent = host::random_range(-self.max_percent, self.max_percent) as f64;
        let mut update = Update::new().set(self.field.clone(), price * (1.0 + percent / 100.0));
        if host::random_bool(0.2) {
            update = update.set("status", host::generate_field("status").map_err(Error::internal)?);
        }
        Ok(Mutation::Update(update.build()))
    }
}

export_mutator!(PriceDrift);
