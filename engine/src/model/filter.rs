//! Which documents a write's filter selects: forge's guards (`{field: {$ne: value}}` or
//! plain equality), and the conditions `$pull` removes array elements by.

use std::cmp::Ordering;

use bson::{Bson, Document};

use super::compare::{cmp, equal, type_rank};

/// Whether `doc` passes forge's filter guard: every field `{$ne: value}` differs from
/// `value` (a missing field differs from everything), every other field equals its
/// value. Paths may be dotted, through documents and array indexes.
pub fn passes(doc: &Document, guard: &Document) -> bool {
    guard.iter().all(|(field, cond)| match cond.as_document().and_then(|c| c.get("$ne")) {
        Some(value) => lookup(doc, field) != Some(value),
        None => lookup(doc, field) == Some(cond),
    })
}

/// The value at a dotted path, through documents and (by numeric component) arrays.
pub fn lookup<'d>(doc: &'d Document, path: &str) -> Option<&'d Bson> {
    let mut parts = path.split('.');
    let mut value = doc.get(parts.next()?)?;
    for part in parts {
        value = match value {
            Bson::Document(d) => d.get(part)?,
            Bson::Array(a) => a.get(array_index(part)?)?,
            _ => return None,
        };
    }
    Some(value)
}

/// A path component as an array index: decimal digits, no sign, no leading zero.
pub fn array_index(part: &str) -> Option<usize> {
    let valid = !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) && (part == "0" || !part.starts_with('0'));
    if valid { part.parse().ok() } else { None }
}

/// Whether an operator expression (`{$gt: 5, $lt: 9}`) holds for `value`.
pub fn value_satisfies(value: Option<&Bson>, ops: &Document) -> Result<bool, String> {
    for (op, arg) in ops {
        if !satisfies_one(value, op, arg)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Whether the document `doc` matches a query of fields to values or operator
/// expressions, with the query language's array rules (an array field matches when one
/// of its elements does).
pub fn document_matches(doc: &Document, query: &Document) -> Result<bool, String> {
    for (path, cond) in query {
        if path.starts_with('$') {
            return Err(format!("the query operator {path} is not supported"));
        }
        // Exact paths only: no implicit descent into arrays of documents.
        let value = lookup(doc, path);
        let ok = match cond {
            Bson::Document(ops) if is_operator_expression(ops) => value_satisfies(value, ops)?,
            _ => satisfies_one(value, "$eq", cond)?,
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

/// A document whose first field starts with `$` is an operator expression.
pub fn is_operator_expression(d: &Document) -> bool {
    d.keys().next().is_some_and(|k| k.starts_with('$'))
}

fn satisfies_one(value: Option<&Bson>, op: &str, arg: &Bson) -> Result<bool, String> {
    let eq = |v: Option<&Bson>| match (v, arg) {
        // `null` matches a missing field too.
        (None, Bson::Null) => true,
        (None, _) => false,
        (Some(v), arg) => equal(v, arg) || matches!(v, Bson::Array(a) if a.iter().any(|e| equal(e, arg))),
    };
    // Comparisons only hold within one canonical type (`{$gt: 5}` skips strings).
    let ordered = |v: Option<&Bson>, want: &[Ordering]| match v {
        None => arg == &Bson::Null && want.contains(&Ordering::Equal),
        Some(v) => {
            let one = |e: &Bson| type_rank(e) == type_rank(arg) && want.contains(&cmp(e, arg));
            one(v) || matches!(v, Bson::Array(a) if a.iter().any(one))
        }
    };
    let list = || match arg {
        Bson::Array(items) => Ok(items),
        other => Err(format!("{op} needs an array, not {}", super::compare::type_name(other))),
    };
    Ok(match op {
        "$eq" => eq(value),
        "$ne" => !eq(value),
        "$gt" => ordered(value, &[Ordering::Greater]),
        "$gte" => ordered(value, &[Ordering::Greater, Ordering::Equal]),
        "$lt" => ordered(value, &[Ordering::Less]),
        "$lte" => ordered(value, &[Ordering::Less, Ordering::Equal]),
        "$in" => list()?.iter().any(|item| satisfies_one(value, "$eq", item).unwrap_or(false)),
        "$nin" => !list()?.iter().any(|item| satisfies_one(value, "$eq", item).unwrap_or(false)),
        other => return Err(format!("the query operator {other} is not supported")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn guards_are_ne_or_equality_on_dotted_paths() {
        let d = doc! { "_id": 1, "s": { "deleted": false }, "tags": ["a", "b"], "v": 3 };
        assert!(passes(&d, &doc! { "s.deleted": { "$ne": true } }));
        assert!(!passes(&d, &doc! { "s.deleted": { "$ne": false } }));
        assert!(passes(&d, &doc! { "gone": { "$ne": true } }));
        assert!(passes(&d, &doc! { "v": 3, "tags.1": "b" }));
        assert!(!passes(&d, &doc! { "v": 4 }));
        assert!(!passes(&d, &doc! { "s.deleted.x": false }));
    }

    #[test]
    fn query_conditions_follow_the_query_language() {
        let d = doc! { "qty": 5, "name": "x", "tags": ["a", "b"], "price": 1.5 };
        assert_eq!(document_matches(&d, &doc! { "qty": 5.0, "name": "x" }), Ok(true));
        assert_eq!(document_matches(&d, &doc! { "qty": { "$gt": 4, "$lte": 5 } }), Ok(true));
        assert_eq!(document_matches(&d, &doc! { "name": { "$gt": 4 } }), Ok(false));
        assert_eq!(document_matches(&d, &doc! { "tags": "b" }), Ok(true));
        assert_eq!(document_matches(&d, &doc! { "tags": { "$in": ["z", "a"] } }), Ok(true));
        assert_eq!(document_matches(&d, &doc! { "tags": { "$nin": ["a"] } }), Ok(false));
        assert_eq!(document_matches(&d, &doc! { "gone": null }), Ok(true));
        assert_eq!(document_matches(&d, &doc! { "gone": { "$ne": 1 } }), Ok(true));
        assert!(document_matches(&d, &doc! { "qty": { "$regex": "x" } }).is_err());
        assert_eq!(value_satisfies(Some(&Bson::Int64(7)), &doc! { "$gte": 6.5 }), Ok(true));
    }
}
