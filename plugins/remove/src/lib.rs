//! `remove`: delete the document and never target its `_id` again.

use forge_plugin_sdk::{Config, Context, DeleteAction, DeleteBehavior, Error, Target, export_delete_behavior};

pub struct Remove;

impl DeleteBehavior for Remove {
    const NAME: &'static str = "remove";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn init(_config: &Config, _schema: &str) -> Result<Self, Error> {
        Ok(Remove)
    }

    fn on_delete(&mut self, _ctx: &Context, _target: &Target) -> Result<DeleteAction, Error> {
        Ok(DeleteAction::Remove)
    }
}

export_delete_behavior!(Remove);
