//! `--rate-limit` as the server sees it: counted from the change stream's event times,
//! not from forge's own report. The run has the machine to itself (`Forge::alone`), so
//! no other test loads it while it measures.

use std::time::Duration;

use bson::Document;

use crate::support::{self, Forge, drain_events, fresh_db};

#[tokio::test(flavor = "multi_thread")]
async fn every_ten_second_window_holds_the_rate_within_two_percent() {
    let client = support::client().await;
    let db = fresh_db("rate");
    let coll = client.database(&db).collection::<Document>("c");
    let mut stream = coll.watch().await.unwrap();
    let run = Forge::generate().output("mongo-cdc").db(&db).collection("c").quiet().seed(4);
    let run = run.arg("--operation-ratios", "insert:60,update:30,delete:10");
    run.arg("--rate-limit", "200").arg("--duration", "16s").alone().run_async().await.success();
    let events = drain_events(&mut stream, Duration::from_secs(3)).await;
    let times: Vec<i64> = events.iter().map(|e| e.wall_ms.expect("events carry wallTime")).collect();
    let (first, last) = (times[0], *times.last().unwrap());
    assert!(last - first >= 15_000, "the run lasted {} ms", last - first);
    // Every 10 s window that fits in the run, sliding by 500 ms.
    let mut start = first;
    let mut windows = 0;
    while start + 10_000 <= last {
        let n = times.iter().filter(|t| **t >= start && **t < start + 10_000).count() as f64;
        assert!((n - 2000.0).abs() <= 40.0, "{n} events in the 10 s from +{} ms (want 2000 ± 2%)", start - first);
        start += 500;
        windows += 1;
    }
    assert!(windows >= 10, "{windows} windows");
}
