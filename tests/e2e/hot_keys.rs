//! `forge generate --output mongo-cdc --sampling zipfian | latest`: hot keys, seen in a
//! change stream opened before the run, against `random` on the same flags.

use std::collections::HashMap;
use std::time::Duration;

use bson::{Document, doc};

use crate::support::{self, Event, Forge, Kind, Report, drain_events, fresh_db};

/// A CDC run into a fresh collection with `sampling` and one worker (the change
/// stream then follows the plan order); its report and every change event.
async fn cdc_events(name: &str, sampling: &str, more: impl FnOnce(Forge) -> Forge) -> (Report, Vec<Event>) {
    let client = support::client().await;
    let db = fresh_db(name);
    let coll = client.database(&db).collection::<Document>("c");
    let mut stream = coll.watch().await.expect("open a change stream");
    let forge = Forge::generate().output("mongo-cdc").db(&db).collection("c").quiet().report();
    let out = more(forge.arg("--sampling", sampling).arg("--workers", "1").seed(11)).run_async().await;
    let report: Report = out.success().report();
    let events = drain_events(&mut stream, Duration::from_secs(4)).await;
    let updates = report.op(Kind::Update);
    assert_eq!(updates.matched, updates.acknowledged, "every update found its document: {report:?}");
    let updated = events.iter().filter(|e| e.op == "update").count() as u64;
    assert_eq!(updated, updates.modified, "one event per modifying update: {report:?}");
    assert!(coll.count_documents(doc! {}).await.unwrap() > 0);
    (report, events)
}

/// Update events per `_id`, most first, and the `_id` of the first.
fn per_id(events: &[Event]) -> (Vec<usize>, String) {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for e in events.iter().filter(|e| e.op == "update") {
        *counts.entry(format!("{:?}", e.id)).or_default() += 1;
    }
    let mut counts: Vec<(String, usize)> = counts.into_iter().collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let hottest = counts.first().map(|c| c.0.clone()).unwrap_or_default();
    (counts.into_iter().map(|c| c.1).collect(), hottest)
}

#[tokio::test(flavor = "multi_thread")]
async fn zipfian_concentrates_updates_on_a_fixed_hot_set() {
    // 2,000 inserts through a cache of 300: the first 300 stay the targets.
    let flags =
        |f: Forge| f.count(10_000).arg("--operation-ratios", "insert:20,update:80").arg("--id-cache-size", "300");
    let (report, events) = cdc_events("hot_zipfian", "zipfian", flags).await;
    let (counts, hottest) = per_id(&events);
    let updates: usize = counts.iter().sum();
    assert!(report.op(Kind::Insert).acknowledged > 1500 && updates > 7000, "{report:?}");
    assert!(counts.len() <= 300, "{} _ids updated: the hot set moved", counts.len());
    // Zipf (0.99) over 300 gives the hottest about 16%, the hottest 30 about 60%.
    let share = |n: usize| counts[..n].iter().sum::<usize>() as f64 / updates as f64;
    assert!(share(1) > 0.1 && share(30) > 0.5, "hottest {:.3}, hottest 30 {:.3}", share(1), share(30));
    // The hottest is the first document inserted.
    let first = events.iter().find(|e| e.op == "insert").unwrap();
    assert_eq!(hottest, format!("{:?}", first.id));

    // Uniform picks over the same _ids come nowhere near.
    let (_, events) = cdc_events("hot_zipfian_uniform", "random", flags).await;
    let (counts, _) = per_id(&events);
    let updates: usize = counts.iter().sum();
    assert!(counts[0] as f64 / (updates as f64) < 0.02, "random: hottest {} of {updates}", counts[0]);
}

/// For each update event, how many documents were inserted after its target (0: it
/// updates the newest document).
fn recency(events: &[Event]) -> Vec<usize> {
    let mut inserted: HashMap<String, usize> = HashMap::new();
    let mut ranks = Vec::new();
    for e in events {
        let key = format!("{:?}", e.id);
        match e.op.as_str() {
            "insert" => {
                inserted.insert(key, inserted.len());
            }
            "update" => ranks.push(inserted.len() - 1 - inserted[&key]),
            other => panic!("unexpected {other} event"),
        }
    }
    ranks
}

#[tokio::test(flavor = "multi_thread")]
async fn latest_concentrates_updates_on_the_newest_documents() {
    let flags = |f: Forge| f.count(6000).arg("--warmup-inserts", "500").arg("--operation-ratios", "insert:5,update:95");
    let (_, events) = cdc_events("hot_latest", "latest", flags).await;
    let ranks = recency(&events);
    let share = |newest: usize| ranks.iter().filter(|r| **r < newest).count() as f64 / ranks.len() as f64;
    // Zipf (0.99) over 500 to 800 documents gives the newest about 14%, the 10 newest
    // about 40%; uniform picks give them 0.2% and 2%.
    assert!(ranks.len() > 5000, "{} updates", ranks.len());
    assert!(share(1) > 0.1 && share(10) > 0.3, "newest {:.3}, 10 newest {:.3}", share(1), share(10));

    let (_, events) = cdc_events("hot_latest_uniform", "random", flags).await;
    let ranks = recency(&events);
    let uniform = ranks.iter().filter(|r| **r < 10).count() as f64 / ranks.len() as f64;
    assert!(uniform < 0.05, "random: the 10 newest got {uniform:.3}");
}

#[test]
fn sampling_is_refused_where_it_means_nothing() {
    for (args, words) in [
        (&["--sampling", "zipfian"][..], &["--sampling", "--output mongo or mongo-cdc"][..]),
        (&["--output", "mongo", "--sampling", "latest", "--dry-run"], &["--sampling needs --output mongo-cdc"]),
        (
            &["--output", "mongo-cdc", "--sampling", "sequential", "--dry-run"],
            &["invalid value 'sequential' for '--sampling"],
        ),
    ] {
        let out = Forge::generate().raw(args).run();
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(words.iter().all(|w| out.stderr.contains(w)), "{args:?}: {}", out.stderr);
    }
}
