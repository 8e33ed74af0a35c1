//! Why planning stopped: a plugin failed (and the run does not skip failures), or the
//! source of a mutation's targets could not be read.

use crate::mongo::targets::TargetsError;
use crate::plugin::PluginError;

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Plugin(#[from] PluginError),
    #[error(transparent)]
    Targets(#[from] TargetsError),
    /// A shard skipped this many operations in a row: its plugin writes nothing.
    #[error(
        "plugin '{plugin}' skipped {skips} operations in a row (its `skip` answers or skipped failures): \
         the run writes nothing; check its --plugin-arg and the schema, or choose another strategy"
    )]
    TooManySkips { plugin: String, skips: u64 },
}
