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

/// A server error code as the report shows it: "14 TypeMismatch", or the code alone
/// when neither the server nor this table names it. Servers often leave `codeName` out
/// of `writeErrors`; the table holds the codes a write is refused with.
pub fn failure_label(code: i32, name: Option<&str>) -> String {
    let name = name.filter(|n| !n.is_empty()).or_else(|| code_name(code));
    match name {
        Some(name) => format!("{code} {name}"),
        None => code.to_string(),
    }
}

fn code_name(code: i32) -> Option<&'static str> {
    Some(match code {
        2 => "BadValue",
        4 => "NoSuchKey",
        9 => "FailedToParse",
        10 => "CannotMutateObject",
        14 => "TypeMismatch",
        16 => "InvalidLength",
        17 => "ProtocolError",
        28 => "PathNotViable",
        40 => "ConflictingUpdateOperators",
        52 => "DollarPrefixedFieldName",
        54 => "NotSingleValueField",
        55 => "InvalidDBRef",
        56 => "EmptyFieldName",
        57 => "DottedFieldName",
        61 => "ShardKeyNotFound",
        66 => "ImmutableField",
        100 => "UnsatisfiableWriteConcern",
        112 => "WriteConflict",
        121 => "DocumentValidationFailure",
        10334 => "BSONObjectTooLarge",
        11000 => "DuplicateKey",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_named_by_the_server_else_by_the_table() {
        assert_eq!(failure_label(14, None), "14 TypeMismatch");
        assert_eq!(failure_label(14, Some("")), "14 TypeMismatch");
        assert_eq!(failure_label(11000, Some("DuplicateKey")), "11000 DuplicateKey");
        assert_eq!(failure_label(7, Some("HostNotFound")), "7 HostNotFound");
        assert_eq!(failure_label(99999, None), "99999");
    }
}
