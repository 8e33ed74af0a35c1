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
