//! The order-insensitive content hash that journal entries record and `verify`
//! compares documents by.

use bson::{Bson, Document};

/// A content hash of a document that ignores field order (the server may reorder
/// fields on update) and, at the top level, `exclude`. FNV-1a over canonical BSON of
/// the key-sorted document: stable across runs, machines and forge versions.
pub fn doc_hash(doc: &Document, exclude: Option<&str>) -> u64 {
    let mut sorted = sort_keys(doc);
    if let Some(field) = exclude {
        sorted.remove(field);
    }
    let bytes = bson::serialize_to_vec(&sorted).unwrap_or_default();
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ *b as u64).wrapping_mul(0x0000_0100_0000_01b3))
}

fn sort_keys(doc: &Document) -> Document {
    let mut keys: Vec<&String> = doc.keys().collect();
    keys.sort();
    keys.into_iter().map(|k| (k.clone(), sort_value(&doc[k]))).collect()
}

fn sort_value(v: &Bson) -> Bson {
    match v {
        Bson::Document(d) => Bson::Document(sort_keys(d)),
        Bson::Array(items) => Bson::Array(items.iter().map(sort_value).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn hashes_ignore_field_order_and_the_excluded_field() {
        let a = doc! { "_id": 1, "x": { "p": 1, "q": 2 }, "t": 5 };
        let b = doc! { "x": { "q": 2, "p": 1 }, "_id": 1, "t": 6 };
        assert_ne!(doc_hash(&a, None), doc_hash(&b, None));
        assert_eq!(doc_hash(&a, Some("t")), doc_hash(&b, Some("t")));
        assert_ne!(doc_hash(&a, Some("t")), doc_hash(&doc! { "_id": 1, "x": { "p": 1, "q": 3 } }, None));
    }
}
