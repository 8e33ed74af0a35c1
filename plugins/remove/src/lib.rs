//! `remove`: delete the document and never target its `_id` again.

use forge_plugin_sdk::{
    Config, Context, DeleteAction, DeleteBehavior, DeleteShape, Error, Target, export_delete_behavior,
};

pub struct Remove;

impl DeleteBehavior for Remove {
    const NAME: &'static str = "remove";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const SHAPE: DeleteShape = DeleteShape::Remove;

    fn init(_config: &Config, _schema: &str) -> Result<Self, Error> {
        Ok(Remove)
    }

    fn on_delete(&mut self, _ctx: &Context, _target: &Target) -> Result<DeleteAction, Error> {
        Ok(DeleteAction::Remove)
    }
}

export_delete_behavior!(Remove);
