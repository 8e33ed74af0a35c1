//! The server's answer to one attempt at a batch, whichever API sent it.

use crate::metrics::Outcome;

/// What one attempt at writing a batch came to, op by op.
#[derive(Debug, Default)]
pub struct Reply {
    /// One per op, in order: `Some` when the server answered for it (`NotExecuted`
    /// when an ordered batch stopped at an earlier error); `None` when its fate is
    /// unknown, because the connection was lost before the server's answer.
    pub outcomes: Vec<Option<Outcome>>,
    /// Ops whose matched and modified counts were inferred from totals that disagreed
    /// with the model's prediction, rather than reported per op.
    pub inferred: Vec<usize>,
    /// The error that left some outcomes unknown.
    pub lost: Option<mongodb::error::Error>,
}

impl Reply {
    /// Every op of a batch of `n` unknown, because of `error`.
    pub fn lost(n: usize, error: mongodb::error::Error) -> Self {
        Reply { outcomes: vec![None; n], inferred: Vec::new(), lost: Some(error) }
    }

    /// Every op of a batch answered.
    pub fn answered(outcomes: Vec<Outcome>) -> Self {
        Reply { outcomes: outcomes.into_iter().map(Some).collect(), inferred: Vec::new(), lost: None }
    }
}
