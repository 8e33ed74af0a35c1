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
}
