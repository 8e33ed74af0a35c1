//! The document model's update operators against the server: each update applied with
//! `update_one` and with `forge::model::update::apply` to the same document must give
//! the same document (same fields, order and types), and what the server refuses the
//! model must refuse.

use bson::{Bson, Decimal128, Document, Timestamp, doc};

use crate::support::{self, fresh_db};

fn dec(s: &str) -> Bson {
    Bson::Decimal128(s.parse::<Decimal128>().unwrap())
}

/// A document with most of the BSON types forge generates, `_id` first.
fn base(id: i32) -> Document {
    doc! {
        "_id": id,
        "i": 5,
        "big": i32::MAX,
        "l": 5i64,
        "lmax": i64::MAX,
        "f": 1.5,
        "d": dec("123.45"),
        "s": "text",
        "nested": { "a": 1, "b": { "c": "x" } },
        "tags": ["a", "b", "c"],
        "nums": [1, 5, 5.0, 8, "5"],
        "items": [
            { "sku": "A", "qty": 1, "price": dec("9.99") },
            { "sku": "B", "qty": 7, "price": dec("120.00") },
        ],
        "flag": true,
        "nil": null,
        "when": bson::DateTime::from_millis(1_600_000_000_000),
    }
}

/// The updates, each applied to a fresh copy of [`base`]; `true` when the server must
/// refuse it.
fn cases() -> Vec<(Document, bool)> {
    let ok = |u: Document| (u, false);
    let refused = |u: Document| (u, true);
    vec![
        // $set: in place, new fields in name order, nested creation, array indexes.
        ok(doc! { "$set": { "z": 1, "s": "new", "a": 1 } }),
        // Not here: `{$set: {"m.10": 1, "m.9": 2}}` on a missing `m`. MongoDB (5.0 and later)
        // creates numeric names in numeric order, {"9", "10"}, and so does the model; the
        // test server creates them in string order, {"10", "9"}.
        ok(doc! { "$set": { "n2.b": 1, "n2.a.c": 2, "m.b": 1, "m.a": 2 } }),
        ok(doc! { "$set": { "tags.4.x": 1, "items.5": { "sku": "F" } } }),
        ok(doc! { "$set": { "items.1.qty": 9, "tags.5": "f" } }),
        ok(doc! { "$set": { "items.3.qty": 4 } }),
        // `_id` set to the value it has: "SAME" stands for it.
        ok(doc! { "$set": { "nested.0": 1, "_id": "SAME" } }),
        ok(doc! { "$set": {} }),
        // $unset, an array element becomes null.
        ok(doc! { "$unset": { "tags.1": "", "nested.a": "", "missing": "" } }),
        ok(doc! { "$unset": { "items.0": "", "s.x": "" } }),
        ok(doc! { "$unset": { "items.1.sku": "", "tags.9": "" } }),
        // $inc: widening, mixed types, decimals.
        ok(doc! { "$inc": { "i": 1, "f": 1, "missing": 3i64 } }),
        ok(doc! { "$inc": { "big": 1, "l": -6 } }),
        ok(doc! { "$inc": { "i": 5i64, "nested.a": 0.5 } }),
        ok(doc! { "$inc": { "d": dec("0.55"), "items.0.price": 2 } }),
        ok(doc! { "$inc": { "i": dec("1.5"), "l": dec("-0.01") } }),
        ok(doc! { "$inc": { "d": 0.1 } }),
        ok(doc! { "$inc": { "third": dec("0.3333333333333333333333333333333333") } }),
        // $mul.
        ok(doc! { "$mul": { "i": 3, "f": 2, "l": 2 } }),
        ok(doc! { "$mul": { "big": 2, "items.0.price": dec("1.5") } }),
        ok(doc! { "$mul": { "m1": 5, "m2": 5i64, "m3": 2.5, "m4": dec("1.50") } }),
        ok(doc! { "$mul": { "f": dec("2"), "d": 0.5, "i": -1.0 } }),
        ok(doc! { "$mul": { "l": i32::MAX, "big": 0 } }),
        // $min/$max across types.
        ok(doc! { "$min": { "i": 4.5, "s": 1, "l": 5.0, "new": "v" } }),
        ok(doc! { "$max": { "d": 124, "s": "a", "nil": 0, "f": dec("1.49") } }),
        ok(doc! { "$max": { "when": Timestamp { time: 1, increment: 1 }, "tags": "zzz" } }),
        ok(doc! { "$min": { "nested": { "a": 0 }, "flag": false, "i": dec("5.000") } }),
        ok(doc! { "$max": { "l": 6, "big": 2147483648i64, "tags": ["a", "c"] } }),
        // $rename.
        ok(doc! { "$rename": { "s": "s2", "nested.a": "nested.z" } }),
        ok(doc! { "$rename": { "i": "moved.i", "nope": "x" } }),
        ok(doc! { "$rename": { "l": "f" } }),
        // $push.
        ok(doc! { "$push": { "tags": "d", "newarr": { "$each": [1, 2] } } }),
        ok(doc! { "$push": { "tags": { "$each": ["x", "y"], "$position": 1, "$slice": 4 } } }),
        ok(doc! { "$push": { "nums": { "$each": [9], "$slice": -2 }, "tags": { "$each": ["z"], "$position": -1 } } }),
        ok(doc! { "$push": { "items": { "$each": [{ "sku": "C", "qty": 3 }], "$sort": { "qty": -1 } } } }),
        ok(doc! { "$push": { "tags": ["p", "q"], "empty": { "$each": [] } } }),
        ok(
            doc! { "$push": { "tags": { "$each": ["x"], "$position": 0, "$slice": 0 }, "nums": { "$each": [2], "$sort": 1 } } },
        ),
        // $addToSet: BSON equality, documents with their field order.
        ok(doc! { "$addToSet": { "tags": "a", "nums": 8.0 } }),
        ok(doc! { "$addToSet": { "tags": { "$each": ["a", "new", "new"] }, "fresh": { "$each": [3, 3] } } }),
        ok(doc! { "$addToSet": { "items": { "sku": "A", "qty": 1, "price": dec("9.99") } } }),
        ok(doc! { "$addToSet": { "items": { "qty": 1, "sku": "A", "price": dec("9.99") } } }),
        ok(doc! { "$addToSet": { "items": { "sku": "A", "qty": 1.0, "price": dec("9.990") }, "tags": ["a"] } }),
        // $pull.
        ok(doc! { "$pull": { "nums": 5, "nope": 1 } }),
        ok(doc! { "$pull": { "nums": { "$gte": 5 }, "items": { "qty": { "$gt": 5 } } } }),
        ok(doc! { "$pull": { "items": { "sku": "A" }, "tags": { "$in": ["a", "c"] } } }),
        ok(doc! { "$pull": { "tags": { "$nin": ["a"] }, "nums": { "$ne": 1 } } }),
        ok(doc! { "$pull": { "items": { "sku": { "$ne": "A" }, "qty": { "$lte": 7 } } } }),
        ok(doc! { "$pull": { "items": { "price": { "$lt": 10 } }, "nums": { "$eq": 8, "$lt": 100 } } }),
        ok(doc! { "$pull": { "items": { "qty": 1, "gone": null } } }),
        // $pop.
        ok(doc! { "$pop": { "tags": 1, "nums": -1, "nope": 1 } }),
        // $currentDate.
        ok(doc! { "$currentDate": { "when": true, "ts": { "$type": "timestamp" }, "d2": { "$type": "date" } } }),
        ok(doc! { "$currentDate": { "nested.b.at": false } }),
        // Several operators at once.
        ok(
            doc! { "$set": { "nested.b.c": "y" }, "$inc": { "items.0.qty": 1 }, "$push": { "tags": "k" }, "$unset": { "flag": "" } },
        ),
        // What the server refuses.
        refused(doc! { "$inc": { "s": 1 } }),
        refused(doc! { "$inc": { "nil": 1 } }),
        refused(doc! { "$inc": { "lmax": 1 } }),
        refused(doc! { "$mul": { "lmax": 2 } }),
        refused(doc! { "$inc": { "i": "1" } }),
        refused(doc! { "$set": { "s.x": 1 } }),
        refused(doc! { "$set": { "items.sku": "Z" } }),
        refused(doc! { "$set": { "i": 1 }, "$inc": { "i": 1 } }),
        refused(doc! { "$set": { "nested.a": 2 }, "$unset": { "nested": "" } }),
        refused(doc! { "$rename": { "i": "tags" }, "$set": { "tags": 1 } }),
        refused(doc! { "$foo": { "i": 1 } }),
        refused(doc! { "$set": 1 }),
        refused(doc! { "$push": { "s": 1 } }),
        refused(doc! { "$addToSet": { "i": 1 } }),
        refused(doc! { "$pull": { "nested": 1 } }),
        refused(doc! { "$pop": { "tags": 2 } }),
        refused(doc! { "$pop": { "i": 1 } }),
        refused(doc! { "$set": { "_id": 99 } }),
        refused(doc! { "$unset": { "_id": "" } }),
        refused(doc! { "$rename": { "nested": "nested.x" } }),
        refused(doc! { "$rename": { "i": 5 } }),
        refused(doc! { "$rename": { "tags.0": "t0" } }),
        refused(doc! { "$push": { "tags": { "$each": "x" } } }),
        refused(doc! { "$push": { "tags": { "$each": ["x"], "$slice": 1.5 } } }),
        refused(doc! { "$currentDate": { "when": { "$type": "string" } } }),
        refused(doc! { "$set": { "a..b": 1 } }),
        refused(doc! { "$pop": { "tags": "1" } }),
        refused(doc! { "$push": { "tags": { "$each": ["x"], "$bogus": 1 } } }),
        refused(doc! { "$set": { "tags.x.y": 1 } }),
        refused(doc! { "$inc": { "flag": 1 } }),
        refused(doc! { "$mul": { "when": 2 } }),
        refused(doc! { "$addToSet": { "tags": { "$each": ["x"], "$slice": 1 } } }),
    ]
}

/// The value at a dotted path through documents.
fn get_mut<'d>(doc: &'d mut Document, path: &str) -> Option<&'d mut Bson> {
    let (head, rest) = path.split_once('.').map_or((path, None), |(h, r)| (h, Some(r)));
    let value = doc.get_mut(head)?;
    match rest {
        None => Some(value),
        Some(rest) => match value {
            Bson::Document(sub) => get_mut(sub, rest),
            _ => None,
        },
    }
}

/// Replaces the values of `$currentDate` fields by a fixed value of the same type: the
/// server's clock is not the model's.
fn blank_clock(doc: &mut Document, update: &Document) {
    let Ok(fields) = update.get_document("$currentDate") else { return };
    for path in fields.keys() {
        match get_mut(doc, path) {
            Some(v @ Bson::DateTime(_)) => *v = Bson::DateTime(bson::DateTime::from_millis(0)),
            Some(v @ Bson::Timestamp(_)) => *v = Bson::Timestamp(Timestamp { time: 0, increment: 0 }),
            _ => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_model_applies_each_update_as_the_server_does() {
    let client = support::client().await;
    let coll = client.database(&fresh_db("update_model")).collection::<Document>("c");
    let cases = cases();
    assert!(cases.len() >= 40, "{} cases", cases.len());
    let mut failures = Vec::new();
    for (n, (update, must_fail)) in cases.iter().enumerate() {
        let id = n as i32;
        let original = base(id);
        coll.insert_one(&original).await.unwrap();
        let mut update = update.clone();
        if let Ok(set) = update.get_document_mut("$set")
            && set.get("_id") == Some(&Bson::String("SAME".into()))
        {
            set.insert("_id", id);
        }
        let update = &update;
        let server = coll.update_one(doc! { "_id": id }, update.clone()).await;
        let mut model = original.clone();
        let modelled = forge::model::update::apply(&mut model, update, bson::DateTime::now());
        let mut stored = coll.find_one(doc! { "_id": id }).await.unwrap().expect("the document is still there");
        match (server, modelled) {
            (Ok(_), Ok(())) => {
                blank_clock(&mut stored, update);
                blank_clock(&mut model, update);
                // Byte for byte: field order and types count.
                if stored.to_vec().unwrap() != model.to_vec().unwrap() {
                    failures.push(format!("{update}:\n  server {stored}\n  model  {model}"));
                } else if *must_fail {
                    failures.push(format!("{update}: both accepted it; the case expects a refusal"));
                }
            }
            (Err(_), Err(_)) => {
                if stored.to_vec().unwrap() != original.to_vec().unwrap() {
                    failures.push(format!("{update}: refused, yet the server changed the document to {stored}"));
                } else if !must_fail {
                    failures.push(format!("{update}: both refused it; the case expects success"));
                }
            }
            (Ok(_), Err(e)) => failures.push(format!("{update}: the server accepted it ({stored}), the model: {e}")),
            (Err(e), Ok(())) => failures.push(format!("{update}: the server refused it ({e}), the model gave {model}")),
        }
    }
    assert!(failures.is_empty(), "{} of {} cases differ:\n{}", failures.len(), cases.len(), failures.join("\n"));
}
