//! What one attempt at writing a batch found out, whichever bulk API carried it.

use crate::metrics::Outcome;

/// The server's answer to one attempt at a batch, op by op.
#[derive(Debug, Default)]
pub struct Reply {
    /// One per op, in batch order: `Some(outcome)` when the server answered for it;
    /// `None` when its fate is unknown (a transport error before its command's reply).
    /// Unknown and not-executed ops need not be a suffix of the batch: the collection
    /// path may send ops on different `_id`s out of batch order.
    pub outcomes: Vec<Option<Outcome>>,
    /// Ops whose per-op matched/modified were inferred from a command's totals, not
    /// predicted exactly (indices into the batch, ascending).
    pub inferred: Vec<usize>,
    /// The transport error that left some outcomes unknown (the writer retries those).
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

/// A server error code as the report shows it: "14 TypeMismatch" when the server names
/// it, else the code alone ("14": servers often leave `codeName` out of `writeErrors`).
/// Both bulk APIs label the same refusal the same way.
pub fn failure_label(code: i32, name: Option<&str>) -> String {
    match name.filter(|n| !n.is_empty()) {
        Some(name) => format!("{code} {name}"),
        None => code.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_named_when_the_server_names_them() {
        assert_eq!(failure_label(14, None), "14");
        assert_eq!(failure_label(14, Some("")), "14");
        assert_eq!(failure_label(11000, Some("DuplicateKey")), "11000 DuplicateKey");
    }
}
