use std::path::Path;

use super::*;

const TWO: &str = "collections:
  customers: {schema: 'example:customers', share: 1}
  orders: {schema: 'example:orders', share: 3}
phases:
  - {name: ramp, duration: 10s, rate: {from: 0, to: 40}}
  - {name: rest, pause: 2s}
  - {name: burst, ops: 100, share: {customers: 0}}
";

fn parse(text: &str) -> Result<Scenario, ScenarioError> {
    Scenario::parse(text, "s.yaml", Path::new("."))
}

#[test]
fn shares_split_each_phase_and_a_resting_collection_waits() {
    let s = parse(TWO).unwrap();
    let (customers, orders) = (s.collection_profile(0), s.collection_profile(1));
    // The ramp: 200 ops in all, a quarter for customers.
    assert_eq!(customers.stages()[0].ops() + orders.stages()[0].ops(), 200);
    assert_eq!(customers.stages()[0].ops(), 50);
    assert_eq!(customers.stages()[2].ops(), 0, "customers rest in the burst");
    assert_eq!(orders.stages()[2].ops(), 100);
}

#[test]
fn references_follow_the_same_fraction_of_the_same_phase() {
    let s = parse(TWO).unwrap();
    let (customers, orders) = (s.collection_profile(0), s.collection_profile(1));
    // Halfway through the orders' ramp ops, the customers' are halfway through theirs.
    assert_eq!(references::due_ops(&orders, &customers, 75), 25);
    assert_eq!(references::due_ops(&orders, &customers, 0), 0);
    // In the burst, customers rest: all their ramp ops are due.
    assert_eq!(references::due_ops(&orders, &customers, 160), 50);
}

#[test]
fn mistakes_name_their_key() {
    let cases = [
        (TWO.replace("share: 3}", "share: 3, colour: red}"), "collections.orders"),
        (TWO.replace("from: 0", "from: -1"), "phases[0].rate.from"),
        (TWO.replace("{name: rest, pause: 2s}", "{name: rest, pause: 2s, rate: 5}"), "phases[1].rate"),
        (TWO.replace("share: {customers: 0}", "share: {buyers: 0}"), "phases[2].share.buyers"),
        (TWO.replace("ops: 100,", "duration: 3s,"), "phases[2].duration"),
        (TWO.replace("duration: 10s", "duration: soon"), "phases[0].duration"),
    ];
    for (text, key) in cases {
        let e = parse(&text).unwrap_err().to_string();
        assert!(e.contains(key), "{key}: {e}");
    }
}

const WITH_TRANSACTIONS: &str = "collections:
  orders: {schema: 'example:orders', share: 3}
transactions:
  checkout:
    size: {min: 1, max: 2}
    abort: 1
    update: {collection: stock, schema: 'example:orders', documents: 5, inc: {total: -1, n: 2.5}}
    insert: {collection: holds, schema: 'example:customers', record: items}
phases:
  - {name: steady, duration: 10s, rate: 40}
  - {name: only-orders, ops: 30, share: {checkout: 0}}
";

#[test]
fn a_transaction_stream_takes_its_share_of_each_phase() {
    let s = parse(WITH_TRANSACTIONS).unwrap();
    let (orders, checkout) = (s.collection_profile(0), s.transaction_profile(0));
    assert_eq!((orders.stages()[0].ops(), checkout.stages()[0].ops()), (300, 100));
    assert_eq!((orders.stages()[1].ops(), checkout.stages()[1].ops()), (30, 0));
    let spec = &s.transactions[0].spec;
    assert_eq!((spec.size, spec.commit, spec.abort), ((1, 2), 1.0, 1.0));
    // An integer stays an integer, a fraction is a double.
    let inc = &spec.update.as_ref().unwrap().inc;
    assert_eq!((inc.get("total"), inc.get("n")), (Some(&bson::Bson::Int32(-1)), Some(&bson::Bson::Double(2.5))));
    assert_eq!(s.transactions[0].collections(), vec!["stock", "holds"]);
}

#[test]
fn transaction_mistakes_name_their_key() {
    let t = WITH_TRANSACTIONS;
    let cases = [
        (t.replace("abort: 1", "abort: 1, retries: 2"), "transactions.checkout"),
        (t.replace("collection: stock", "collection: orders"), "transactions.checkout.update.collection"),
        (t.replace("documents: 5", "documents: 1"), "transactions.checkout.update.documents"),
        (t.replace("abort: 1", "commit: 0"), "transactions.checkout.commit"),
        (t.replace("inc: {total: -1, n: 2.5}", "inc: {_id: 1}"), "transactions.checkout.update.inc._id"),
        (t.replace("record: items", "record: a.b"), "transactions.checkout.insert.record"),
        (t.replace("share: {checkout: 0}", "mix: {checkout: 'insert:1'}"), "phases[1].mix.checkout"),
    ];
    for (text, key) in cases {
        let e = parse(&text).unwrap_err().to_string();
        assert!(e.contains(key), "{key}: {e}");
    }
}
