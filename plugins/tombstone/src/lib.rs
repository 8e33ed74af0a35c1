//! `tombstone`: a soft delete. The document gets `<flag>: true` and `<time>`: the
//! server's time, instead of being removed, and stays targetable.
//! Args: `tombstone.flag` (default `_deleted`), `tombstone.time` (default `_deletedAt`).

use forge_plugin_sdk::update::Update;
use forge_plugin_sdk::{
    Config, Context, DeleteAction, DeleteBehavior, DeleteShape, Error, Target, export_delete_behavior,
};

pub struct Tombstone {
    flag: String,
    time: String,
}

impl DeleteBehavior for Tombstone {
    const NAME: &'static str = "tombstone";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    /// The default fields; `shape` gives the configured ones.
    const SHAPE: DeleteShape = DeleteShape::tombstone("_deleted", Some("_deletedAt"));

    fn init(config: &Config, _schema: &str) -> Result<Self, Error> {
        let field = |key: &str, default: &str| {
            let name = config.get(key).unwrap_or(default);
            if name.is_empty() || name.starts_with('$') || name == "_id" {
                return Err(Error::invalid_config(format!("{key}: '{name}' cannot be a tombstone field")));
            }
            Ok(name.to_owned())
        };
        let (flag, time) = (field("flag", "_deleted")?, field("time", "_deletedAt")?);
        if flag == time {
            return Err(Error::invalid_config(format!("flag and time are both '{flag}'")));
        }
        Ok(Tombstone { flag, time })
    }

    fn shape(&self) -> DeleteShape {
        DeleteShape::Tombstone { flag: self.flag.clone().into(), deleted_at: Some(self.time.clone().into()) }
    }

    fn on_delete(&mut self, _ctx: &Context, _target: &Target) -> Result<DeleteAction, Error> {
        Ok(DeleteAction::Tombstone(Update::new().set(self.flag.clone(), true).current_date(self.time.clone()).build()))
    }
}

export_delete_behavior!(Tombstone);
