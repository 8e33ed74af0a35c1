use super::*;
use bson::{Decimal128, doc};

fn now() -> DateTime {
    DateTime::from_millis(1_700_000_000_123)
}

/// Applies `update` to `doc` and returns the result, order-sensitively comparable.
fn run(doc: Document, update: Document) -> Result<Document, UpdateError> {
    let mut d = doc;
    apply(&mut d, &update, now())?;
    Ok(d)
}

fn ok(doc: Document, update: Document) -> Document {
    run(doc, update.clone()).unwrap_or_else(|e| panic!("{update}: {e}"))
}

fn err(doc: Document, update: Document) -> String {
    match run(doc, update.clone()) {
        Ok(d) => panic!("{update} applied: {d}"),
        Err(e) => e.to_string(),
    }
}

/// Same fields, same order, same types.
#[track_caller]
fn same(a: &Document, b: &Document) {
    assert!(identical(&Bson::Document(a.clone()), &Bson::Document(b.clone())), "\n  got {a}\n want {b}");
}

fn dec(s: &str) -> Bson {
    Bson::Decimal128(s.parse::<Decimal128>().unwrap())
}

#[test]
fn set_replaces_in_place_and_appends_new_fields_in_name_order() {
    let d = ok(doc! { "_id": 1, "b": 1, "a": { "x": 1 } }, doc! { "$set": { "z": 1, "b": 2, "a.y": 3, "c": 4 } });
    same(&d, &doc! { "_id": 1, "b": 2, "a": { "x": 1, "y": 3 }, "c": 4, "z": 1 });
    // New nested documents, and numeric names in numeric order.
    let d = ok(doc! { "_id": 1 }, doc! { "$set": { "n.b": 1, "n.a.c": 2, "m.10": 1, "m.9": 2 } });
    same(&d, &doc! { "_id": 1, "m": { "9": 2, "10": 1 }, "n": { "a": { "c": 2 }, "b": 1 } });
    // Operators share one order.
    let d = ok(doc! { "_id": 1 }, doc! { "$set": { "z": 1 }, "$inc": { "a": 1 } });
    same(&d, &doc! { "_id": 1, "a": 1, "z": 1 });
}

#[test]
fn array_indexes_are_paths_and_pad_with_nulls() {
    let base = doc! { "_id": 1, "items": [{ "qty": 1 }, { "qty": 2 }], "tags": ["a"] };
    let d = ok(base.clone(), doc! { "$set": { "items.1.qty": 5, "tags.3": "d" } });
    same(&d, &doc! { "_id": 1, "items": [{ "qty": 1 }, { "qty": 5 }], "tags": ["a", null, null, "d"] });
    let d = ok(base.clone(), doc! { "$set": { "items.2.qty": 7 } });
    same(&d, &doc! { "_id": 1, "items": [{ "qty": 1 }, { "qty": 2 }, { "qty": 7 }], "tags": ["a"] });
    let d = ok(base.clone(), doc! { "$unset": { "tags.0": "", "items.0.qty": "" } });
    same(&d, &doc! { "_id": 1, "items": [{}, { "qty": 2 }], "tags": [null] });
    let d = ok(base.clone(), doc! { "$inc": { "items.0.qty": 10 } });
    same(&d, &doc! { "_id": 1, "items": [{ "qty": 11 }, { "qty": 2 }], "tags": ["a"] });
    // A numeric name on a missing path makes a document, as the server does.
    let d = ok(doc! { "_id": 1 }, doc! { "$set": { "m.0": 1 } });
    same(&d, &doc! { "_id": 1, "m": { "0": 1 } });
    let e = err(base, doc! { "$set": { "items.qty": 1 } });
    assert_eq!(e, "$set on 'items.qty': cannot create the field 'qty' inside an array");
}

#[test]
fn paths_through_scalars_fail_for_writes_and_do_nothing_for_removals() {
    let base = doc! { "_id": 1, "a": 5 };
    assert_eq!(
        err(base.clone(), doc! { "$set": { "a.b": 1 } }),
        "$set on 'a.b': 'a' is an int32, so no field can be created inside it"
    );
    assert!(err(base.clone(), doc! { "$inc": { "a.b.c": 1 } }).starts_with("$inc on 'a.b.c'"));
    same(&ok(base.clone(), doc! { "$unset": { "a.b": "" } }), &base);
    same(&ok(base.clone(), doc! { "$pull": { "a.b": 1 } }), &base);
    same(&ok(base.clone(), doc! { "$pop": { "a.b": 1 } }), &base);
}

#[test]
fn unset_removes_and_ignores_missing() {
    let d = ok(doc! { "_id": 1, "a": 1, "b": { "c": 1, "d": 2 } }, doc! { "$unset": { "a": "", "b.c": 1, "zz": "" } });
    same(&d, &doc! { "_id": 1, "b": { "d": 2 } });
}

#[test]
fn inc_widens_int32_and_refuses_int64_overflow() {
    let d = ok(
        doc! { "_id": 1, "i": i32::MAX, "l": 5i64, "f": 1.5, "m": 1 },
        doc! { "$inc": { "i": 1, "l": 2, "f": 1, "m": 0.5, "new": 3i64 } },
    );
    same(&d, &doc! { "_id": 1, "i": i32::MAX as i64 + 1, "l": 7i64, "f": 2.5, "m": 1.5, "new": 3i64 });
    let d = ok(doc! { "_id": 1, "i": i32::MIN }, doc! { "$inc": { "i": -1 } });
    same(&d, &doc! { "_id": 1, "i": i32::MIN as i64 - 1 });
    assert_eq!(
        err(doc! { "_id": 1, "l": i64::MAX }, doc! { "$inc": { "l": 1 } }),
        format!("$inc on 'l': {} and 1 overflow int64", i64::MAX)
    );
    assert_eq!(
        err(doc! { "_id": 1, "price": "x" }, doc! { "$inc": { "price": 1 } }),
        "$inc on 'price': the current value is a string, not a number"
    );
    assert_eq!(
        err(doc! { "_id": 1 }, doc! { "$inc": { "n": "1" } }),
        "$inc on 'n': the argument is a string, not a number"
    );
    assert!(err(doc! { "_id": 1, "n": null }, doc! { "$inc": { "n": 1 } }).contains("null, not a number"));
}

#[test]
fn decimal_operands_make_decimals() {
    let d = ok(
        doc! { "_id": 1, "p": dec("123.45"), "q": 2, "r": dec("1.10") },
        doc! { "$inc": { "p": dec("0.55"), "q": dec("0.5") }, "$mul": { "r": 3 } },
    );
    same(&d, &doc! { "_id": 1, "p": dec("124.00"), "q": dec("2.5"), "r": dec("3.30") });
    let d = ok(doc! { "_id": 1, "p": dec("123.45") }, doc! { "$inc": { "p": 0.1 } });
    same(&d, &doc! { "_id": 1, "p": dec("123.550000000000000") });
    let d = ok(doc! { "_id": 1, "p": dec("19.99") }, doc! { "$mul": { "p": dec("1.5") } });
    same(&d, &doc! { "_id": 1, "p": dec("29.985") });
}

#[test]
fn mul_follows_the_type_rules_and_creates_zero() {
    let d = ok(doc! { "_id": 1, "i": 100_000, "l": 3i64, "f": 1.5 }, doc! { "$mul": { "i": 100_000, "l": 2, "f": 2 } });
    same(&d, &doc! { "_id": 1, "i": 10_000_000_000i64, "l": 6i64, "f": 3.0 });
    let d = ok(doc! { "_id": 1 }, doc! { "$mul": { "a": 5, "b": 5i64, "c": 2.5, "d": dec("1.50") } });
    same(&d, &doc! { "_id": 1, "a": 0, "b": 0i64, "c": 0.0, "d": dec("0.00") });
    assert!(err(doc! { "_id": 1, "l": i64::MAX }, doc! { "$mul": { "l": 2 } }).contains("overflow int64"));
    assert!(err(doc! { "_id": 1, "s": [1] }, doc! { "$mul": { "s": 2 } }).contains("an array, not a number"));
}

#[test]
fn min_and_max_compare_in_bson_order() {
    let base = doc! { "_id": 1, "n": 5, "s": "b", "x": 5 };
    let d = ok(base.clone(), doc! { "$min": { "n": 4.5, "s": 1, "new": "v" }, "$max": { "x": 5.0 } });
    // 4.5 < 5 by value; a number sorts before a string; equal values keep the old type.
    same(&d, &doc! { "_id": 1, "n": 4.5, "s": 1, "x": 5, "new": "v" });
    let d = ok(base.clone(), doc! { "$max": { "n": dec("5.01"), "s": "a", "x": null } });
    same(&d, &doc! { "_id": 1, "n": dec("5.01"), "s": "b", "x": 5 });
    let d = ok(doc! { "_id": 1, "v": 10i64 }, doc! { "$min": { "v": { "a": 1 } } });
    same(&d, &doc! { "_id": 1, "v": 10i64 });
}

#[test]
fn rename_moves_the_value_and_ignores_missing_sources() {
    let d = ok(
        doc! { "_id": 1, "a": 1, "b": 2, "n": { "x": 3 } },
        doc! { "$rename": { "a": "z", "n.x": "n.y", "gone": "g" } },
    );
    same(&d, &doc! { "_id": 1, "b": 2, "n": { "y": 3 }, "z": 1 });
    // An existing target keeps its place.
    let d = ok(doc! { "_id": 1, "t": 0, "a": 1 }, doc! { "$rename": { "a": "t" } });
    same(&d, &doc! { "_id": 1, "t": 1 });
    let d = ok(doc! { "_id": 1, "a": 1 }, doc! { "$rename": { "a": "p.q" } });
    same(&d, &doc! { "_id": 1, "p": { "q": 1 } });
    assert!(err(doc! { "_id": 1, "a": [1, 2] }, doc! { "$rename": { "a.0": "b" } }).contains("inside an array"));
    assert!(err(doc! { "_id": 1, "a": 1, "b": [] }, doc! { "$rename": { "a": "b.0" } }).contains("inside an array"));
    assert!(err(doc! { "_id": 1, "a": 1 }, doc! { "$rename": { "a": "a.b" } }).contains("on one path"));
    assert!(err(doc! { "_id": 1, "a": 1 }, doc! { "$rename": { "a": 1 } }).contains("not a string"));
    assert!(err(doc! { "_id": 1, "a": 1 }, doc! { "$rename": { "a": "b" }, "$set": { "b": 1 } }).contains("conflicts"));
    assert!(
        err(doc! { "_id": 1, "a": 1 }, doc! { "$rename": { "a": "b" }, "$set": { "a.x": 1 } }).contains("conflicts")
    );
}

#[test]
fn push_appends_and_takes_each_position_slice_sort() {
    let base = doc! { "_id": 1, "a": [1, 2, 3] };
    same(&ok(base.clone(), doc! { "$push": { "a": 4 } }), &doc! { "_id": 1, "a": [1, 2, 3, 4] });
    same(&ok(base.clone(), doc! { "$push": { "a": [4] } }), &doc! { "_id": 1, "a": [1, 2, 3, [4]] });
    same(
        &ok(base.clone(), doc! { "$push": { "a": { "$each": [4, 5], "$position": 1 } } }),
        &doc! { "_id": 1, "a": [1, 4, 5, 2, 3] },
    );
    same(
        &ok(base.clone(), doc! { "$push": { "a": { "$each": [9], "$position": -1 } } }),
        &doc! { "_id": 1, "a": [1, 2, 9, 3] },
    );
    same(
        &ok(base.clone(), doc! { "$push": { "a": { "$each": [4, 5], "$slice": -3 } } }),
        &doc! { "_id": 1, "a": [3, 4, 5] },
    );
    same(&ok(base.clone(), doc! { "$push": { "a": { "$each": [], "$slice": 1 } } }), &doc! { "_id": 1, "a": [1] });
    same(
        &ok(base.clone(), doc! { "$push": { "a": { "$each": [0, 7], "$sort": -1, "$slice": 2 } } }),
        &doc! { "_id": 1, "a": [7, 3] },
    );
    let d = ok(
        doc! { "_id": 1, "r": [{ "s": 2 }, { "s": 1 }] },
        doc! { "$push": { "r": { "$each": [{ "s": 3 }], "$sort": { "s": 1 } } } },
    );
    same(&d, &doc! { "_id": 1, "r": [{ "s": 1 }, { "s": 2 }, { "s": 3 }] });
    same(&ok(doc! { "_id": 1 }, doc! { "$push": { "a": { "$each": [] } } }), &doc! { "_id": 1, "a": [] });
    same(&ok(doc! { "_id": 1 }, doc! { "$push": { "a": { "k": 1 } } }), &doc! { "_id": 1, "a": [{ "k": 1 }] });
    assert_eq!(
        err(doc! { "_id": 1, "a": 1 }, doc! { "$push": { "a": 2 } }),
        "$push on 'a': the current value is an int32, not an array"
    );
    assert!(err(base.clone(), doc! { "$push": { "a": { "$each": 1 } } }).contains("not an array"));
    assert!(err(base.clone(), doc! { "$push": { "a": { "$each": [1], "$slice": 1.5 } } }).contains("$slice"));
    assert!(err(base, doc! { "$push": { "a": { "$each": [1], "$bogus": 1 } } }).contains("not a $push clause"));
}

#[test]
fn add_to_set_compares_in_bson_order() {
    let base = doc! { "_id": 1, "a": [1, { "x": 1, "y": 2 }] };
    same(&ok(base.clone(), doc! { "$addToSet": { "a": 1.0 } }), &base);
    let d = ok(base.clone(), doc! { "$addToSet": { "a": { "y": 2, "x": 1 } } });
    same(&d, &doc! { "_id": 1, "a": [1, { "x": 1, "y": 2 }, { "y": 2, "x": 1 }] });
    let d = ok(base.clone(), doc! { "$addToSet": { "a": { "$each": [2, 1, 2, "2"] } } });
    same(&d, &doc! { "_id": 1, "a": [1, { "x": 1, "y": 2 }, 2, "2"] });
    same(&ok(doc! { "_id": 1 }, doc! { "$addToSet": { "s": { "$each": [3, 3] } } }), &doc! { "_id": 1, "s": [3] });
    assert!(err(doc! { "_id": 1, "a": "x" }, doc! { "$addToSet": { "a": 1 } }).contains("not an array"));
    assert!(err(base, doc! { "$addToSet": { "a": { "$each": [1], "$slice": 1 } } }).contains("no other clause"));
}

#[test]
fn pull_removes_by_value_or_condition() {
    let base = doc! { "_id": 1, "n": [1, 5, 5.0, 8, "5"], "items": [{ "q": 1, "k": "a" }, { "q": 7, "k": "b" }, 3] };
    let d = ok(base.clone(), doc! { "$pull": { "n": 5 } });
    same(&d, &doc! { "_id": 1, "n": [1, 8, "5"], "items": [{ "q": 1, "k": "a" }, { "q": 7, "k": "b" }, 3] });
    let d = ok(base.clone(), doc! { "$pull": { "n": { "$gte": 5 }, "items": { "q": { "$gt": 5 } } } });
    same(&d, &doc! { "_id": 1, "n": [1, "5"], "items": [{ "q": 1, "k": "a" }, 3] });
    let d = ok(base.clone(), doc! { "$pull": { "n": { "$in": [1, "5"] }, "items": { "k": "a", "q": 1 } } });
    same(&d, &doc! { "_id": 1, "n": [5, 5.0, 8], "items": [{ "q": 7, "k": "b" }, 3] });
    let d = ok(base.clone(), doc! { "$pull": { "items": { "k": { "$ne": "a" } } } });
    same(&d, &doc! { "_id": 1, "n": [1, 5, 5.0, 8, "5"], "items": [{ "q": 1, "k": "a" }, 3] });
    same(&ok(base.clone(), doc! { "$pull": { "gone": 1 } }), &base);
    assert!(err(doc! { "_id": 1, "a": 1 }, doc! { "$pull": { "a": 1 } }).contains("not an array"));
    assert!(err(base, doc! { "$pull": { "n": { "$regex": "5" } } }).contains("not supported"));
}

#[test]
fn pop_takes_one_from_either_end() {
    let base = doc! { "_id": 1, "a": [1, 2, 3], "e": [] };
    same(&ok(base.clone(), doc! { "$pop": { "a": 1, "e": 1, "gone": 1 } }), &doc! { "_id": 1, "a": [1, 2], "e": [] });
    same(&ok(base.clone(), doc! { "$pop": { "a": -1.0 } }), &doc! { "_id": 1, "a": [2, 3], "e": [] });
    assert!(err(base.clone(), doc! { "$pop": { "a": 2 } }).contains("1 or -1"));
    assert!(err(base, doc! { "$pop": { "a": "1" } }).contains("1 or -1"));
    assert!(err(doc! { "_id": 1, "a": {} }, doc! { "$pop": { "a": 1 } }).contains("a document, not an array"));
}

#[test]
fn current_date_is_now_as_a_date_or_a_timestamp() {
    let d = ok(
        doc! { "_id": 1, "t": 0 },
        doc! { "$currentDate": { "t": true, "d": { "$type": "date" }, "ts": { "$type": "timestamp" } } },
    );
    same(
        &d,
        &doc! { "_id": 1, "t": now(), "d": now(), "ts": Bson::Timestamp(Timestamp { time: 1_700_000_000, increment: 1 }) },
    );
    assert!(err(doc! { "_id": 1 }, doc! { "$currentDate": { "t": { "$type": "string" } } }).contains("$type"));
    assert!(err(doc! { "_id": 1 }, doc! { "$currentDate": { "t": 1 } }).starts_with("$currentDate on 't'"));
}

#[test]
fn conflicting_paths_are_refused() {
    let base = doc! { "_id": 1, "a": { "b": 1 } };
    assert_eq!(
        err(base.clone(), doc! { "$set": { "a": 1 }, "$inc": { "a": 1 } }),
        "$inc on 'a': conflicts with $set on 'a'"
    );
    assert_eq!(
        err(base.clone(), doc! { "$set": { "a.b": 1 }, "$unset": { "a": "" } }),
        "$unset on 'a': conflicts with $set on 'a.b'"
    );
    assert_eq!(err(base.clone(), doc! { "$set": { "a": 1, "a.b": 2 } }), "$set on 'a.b': conflicts with $set on 'a'");
    // Siblings and shared prefixes of names are fine.
    same(
        &ok(base, doc! { "$set": { "a.b": 2, "a.c": 3, "ab": 1 } }),
        &doc! { "_id": 1, "a": { "b": 2, "c": 3 }, "ab": 1 },
    );
}

#[test]
fn malformed_updates_are_refused() {
    let base = doc! { "_id": 1 };
    assert_eq!(err(base.clone(), doc! {}), "the update has no operators");
    assert_eq!(err(base.clone(), doc! { "$setOnInsert": { "a": 1 } }), "$setOnInsert: not an update operator");
    assert_eq!(err(base.clone(), doc! { "a": 1 }), "a: not an update operator");
    assert_eq!(err(base.clone(), doc! { "$set": [1] }), "$set: its argument is an array, not a document of paths");
    assert!(err(base.clone(), doc! { "$set": { "a..b": 1 } }).contains("empty component"));
    assert!(err(base.clone(), doc! { "$set": { "": 1 } }).contains("empty"));
    assert!(err(base.clone(), doc! { "$set": { "a.$": 1 } }).contains("positional"));
    assert!(err(base.clone(), doc! { "$set": { "a.$[]": 1 } }).contains("positional"));
    assert!(err(base.clone(), doc! { "$set": { "$a": 1 } }).contains("starts with '$'"));
    // An operator naming no field is a no-op, as on the server.
    same(&ok(base.clone(), doc! { "$set": {} }), &base);
}

#[test]
fn id_cannot_change() {
    let base = doc! { "_id": 1, "a": 1 };
    assert_eq!(err(base.clone(), doc! { "$set": { "_id": 2 } }), "$set on '_id': '_id' cannot be modified");
    assert!(err(base.clone(), doc! { "$set": { "_id": 1.0 } }).contains("'_id' cannot be modified"));
    assert!(err(base.clone(), doc! { "$unset": { "_id": "" } }).contains("'_id' cannot be modified"));
    assert!(err(base.clone(), doc! { "$inc": { "_id": 1 } }).contains("'_id' cannot be modified"));
    assert!(err(base.clone(), doc! { "$rename": { "_id": "x" } }).contains("'_id' cannot be modified"));
    assert!(err(doc! { "_id": { "k": 1 } }, doc! { "$set": { "_id.k": 2 } }).contains("'_id' cannot be modified"));
    // Setting it to what it is changes nothing.
    same(&ok(base.clone(), doc! { "$set": { "_id": 1, "a": 2 } }), &doc! { "_id": 1, "a": 2 });
}

#[test]
fn a_failed_update_leaves_the_document_alone() {
    let mut d = doc! { "_id": 1, "a": 1, "s": "x" };
    let before = d.clone();
    assert!(apply(&mut d, &doc! { "$set": { "a": 2 }, "$inc": { "s": 1 } }, now()).is_err());
    same(&d, &before);
}
