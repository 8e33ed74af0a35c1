//! Checks of what a plugin answers, before anything is queued: an update must be one
//! the server accepts and must leave `_id` alone, a replacement must keep the
//! document's `_id`, a tombstone must set its flag.

use bson::{Bson, Document};
use thiserror::Error;

use super::compare::type_name;
use super::update::{self, UpdateError};

/// What is wrong with a plugin's answer.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum AnswerError {
    #[error("the update is empty")]
    EmptyUpdate,
    #[error("the update's top-level field '{key}' is not a $-operator")]
    NotAnOperator { key: String },
    #[error("{op}: its argument is {found}, not a document of paths")]
    OperandNotDocument { op: String, found: &'static str },
    #[error("{op}: names no field")]
    EmptyOperator { op: String },
    #[error("{op} on '{path}': '_id' cannot be modified")]
    TouchesId { op: String, path: String },
    #[error("{0}")]
    Update(#[from] UpdateError),
    #[error("the replacement's top-level field '{key}' starts with '$'")]
    DollarField { key: String },
    #[error("the replacement's _id {found} differs from the document's {expected}")]
    IdChanged { expected: String, found: String },
    #[error("a tombstone must $set '{flag}' to true")]
    NotATombstone { flag: String },
}

/// A non-empty update of `$`-operators, each naming fields, none touching `_id`, that
/// the update model accepts (known operators, valid arguments, no conflicting paths).
pub fn check_update(update: &Document) -> Result<(), AnswerError> {
    if update.is_empty() {
        return Err(AnswerError::EmptyUpdate);
    }
    for (op, args) in update {
        if !op.starts_with('$') {
            return Err(AnswerError::NotAnOperator { key: op.clone() });
        }
        let Bson::Document(args) = args else {
            return Err(AnswerError::OperandNotDocument { op: op.clone(), found: type_name(args) });
        };
        if args.is_empty() {
            return Err(AnswerError::EmptyOperator { op: op.clone() });
        }
        for (path, arg) in args {
            let renamed_to = (op == "$rename").then(|| arg.as_str()).flatten();
            if let Some(path) = [Some(path.as_str()), renamed_to].into_iter().flatten().find(|p| is_id_path(p)) {
                return Err(AnswerError::TouchesId { op: op.clone(), path: path.to_string() });
            }
        }
    }
    update::validate(update)?;
    Ok(())
}

fn is_id_path(path: &str) -> bool {
    path == "_id" || path.starts_with("_id.")
}

/// A replacement: no top-level `$` field, and `_id` absent or equal to `id` (int32 and
/// int64 equal by value).
pub fn check_replacement(replacement: &Document, id: &Bson) -> Result<(), AnswerError> {
    if let Some(key) = replacement.keys().find(|k| k.starts_with('$')) {
        return Err(AnswerError::DollarField { key: key.clone() });
    }
    match replacement.get("_id") {
        None => Ok(()),
        Some(found) if same_id(found, id) => Ok(()),
        Some(found) => Err(AnswerError::IdChanged { expected: id.to_string(), found: found.to_string() }),
    }
}

fn same_id(a: &Bson, b: &Bson) -> bool {
    let int = |v: &Bson| match v {
        Bson::Int32(i) => Some(*i as i64),
        Bson::Int64(i) => Some(*i),
        _ => None,
    };
    match (int(a), int(b)) {
        (Some(x), Some(y)) => x == y,
        _ => super::compare::identical(a, b),
    }
}

/// A valid update that `$set`s `flag` to `true`.
pub fn check_tombstone(update: &Document, flag: &str) -> Result<(), AnswerError> {
    check_update(update)?;
    let sets_flag = update.get_document("$set").ok().and_then(|set| set.get(flag)) == Some(&Bson::Boolean(true));
    if sets_flag { Ok(()) } else { Err(AnswerError::NotATombstone { flag: flag.to_string() }) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn updates_must_be_operators_naming_fields() {
        assert_eq!(check_update(&doc! { "$set": { "a": 1 }, "$inc": { "n": 1 } }), Ok(()));
        assert_eq!(check_update(&doc! {}), Err(AnswerError::EmptyUpdate));
        assert_eq!(check_update(&doc! { "a": 1 }), Err(AnswerError::NotAnOperator { key: "a".into() }));
        assert_eq!(
            check_update(&doc! { "$set": 1 }),
            Err(AnswerError::OperandNotDocument { op: "$set".into(), found: "an int32" })
        );
        assert_eq!(check_update(&doc! { "$set": {} }), Err(AnswerError::EmptyOperator { op: "$set".into() }));
        let e = check_update(&doc! { "$bogus": { "a": 1 } }).unwrap_err();
        assert_eq!(e.to_string(), "$bogus: not an update operator");
        let e = check_update(&doc! { "$set": { "a": 1 }, "$unset": { "a": "" } }).unwrap_err();
        assert!(matches!(e, AnswerError::Update(UpdateError::Conflict { .. })), "{e}");
        assert!(check_update(&doc! { "$inc": { "a": "x" } }).is_err());
    }

    #[test]
    fn updates_must_leave_the_id_alone() {
        for update in [
            doc! { "$set": { "_id": 1 } },
            doc! { "$set": { "_id.k": 1 } },
            doc! { "$unset": { "_id": "" } },
            doc! { "$rename": { "_id": "x" } },
            doc! { "$rename": { "x": "_id" } },
        ] {
            let e = check_update(&update).unwrap_err();
            assert!(matches!(e, AnswerError::TouchesId { .. }), "{update}: {e}");
        }
        assert_eq!(check_update(&doc! { "$set": { "_idx": 1 } }), Ok(()));
    }

    #[test]
    fn replacements_keep_the_id() {
        let id = Bson::Int64(7);
        assert_eq!(check_replacement(&doc! { "a": 1 }, &id), Ok(()));
        assert_eq!(check_replacement(&doc! { "_id": 7, "a": 1 }, &id), Ok(()));
        assert_eq!(check_replacement(&doc! { "_id": 7i64 }, &Bson::Int32(7)), Ok(()));
        let e = check_replacement(&doc! { "_id": 8 }, &id).unwrap_err();
        assert_eq!(e.to_string(), "the replacement's _id 8 differs from the document's 7");
        assert!(check_replacement(&doc! { "_id": 7.0 }, &id).is_err());
        assert!(check_replacement(&doc! { "_id": "7" }, &id).is_err());
        assert_eq!(
            check_replacement(&doc! { "a": 1, "$set": { "b": 1 } }, &id),
            Err(AnswerError::DollarField { key: "$set".into() })
        );
        let oid = Bson::ObjectId(bson::oid::ObjectId::from_bytes([1; 12]));
        assert_eq!(check_replacement(&doc! { "_id": oid.clone() }, &oid), Ok(()));
    }

    #[test]
    fn tombstones_set_their_flag() {
        let tomb = doc! { "$set": { "_deleted": true }, "$currentDate": { "_deletedAt": true } };
        assert_eq!(check_tombstone(&tomb, "_deleted"), Ok(()));
        let e = check_tombstone(&doc! { "$set": { "_deleted": 1 } }, "_deleted").unwrap_err();
        assert_eq!(e.to_string(), "a tombstone must $set '_deleted' to true");
        assert!(check_tombstone(&doc! { "$set": { "other": true } }, "_deleted").is_err());
        assert!(matches!(check_tombstone(&doc! {}, "_deleted"), Err(AnswerError::EmptyUpdate)));
    }
}
