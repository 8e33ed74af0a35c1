//! `keep`: delete the document but keep targeting its `_id`, so later updates find
//! nothing: exercises updates after deletes downstream.

use forge_plugin_sdk::{
    Config, Context, DeleteAction, DeleteBehavior, DeleteShape, Error, Target, export_delete_behavior,
};

pub struct Keep;

impl DeleteBehavior for Keep {
    const NAME: &'static str = "keep";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const SHAPE: DeleteShape = DeleteShape::Keep;

    fn init(_config: &Config, _schema: &str) -> Result<Self, Error> {
        Ok(Keep)
    }

    fn on_delete(&mut self, _ctx: &Context, _target: &Target) -> Result<DeleteAction, Error> {
        Ok(DeleteAction::Keep)
    }
}

export_delete_behavior!(Keep);
