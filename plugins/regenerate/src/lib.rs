//! `regenerate`: replace the target with a freshly generated document (same `_id`).

use forge_plugin_sdk::{Config, Context, Error, Mutation, Mutator, Target, export_mutator, host};

pub struct Regenerate;

impl Mutator for Regenerate {
    const NAME: &'static str = "regenerate";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn init(_config: &Config, _schema: &str) -> Result<Self, Error> {
        Ok(Regenerate)
    }

    fn mutate(&mut self, _ctx: &Context, _target: &Target) -> Result<Mutation, Error> {
        Ok(Mutation::Replace(host::generate_document()))
    }
}

export_mutator!(Regenerate);
