//! Latency that stays honest under overload, and thresholds for CI: a paced run whose
//! server stalls shows the stall in its response times (counted from each op's slot
//! on the schedule), not in its service times, reports how far behind schedule it
//! fell, and does not make up for it in a burst (counted from the change stream's
//! event times, as the server saw them).

use std::time::Duration;

use bson::Document;

use crate::support::{self, Ending, Forge, Report, Server, drain_events, fresh_db};

#[tokio::test(flavor = "multi_thread")]
async fn a_stalled_server_shows_in_response_times_and_the_run_does_not_catch_up_in_a_burst() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    let client = mongodb::Client::with_uri_str(&server.uri).await.unwrap();
    let coll = client.database("f").collection::<Document>("c");
    let mut stream = coll.watch().await.unwrap();
    let run = Forge::generate().output("mongo-cdc").quiet().uri(&server.uri).db("f").collection("c").seed(13);
    let run = run.arg("--rate-limit", "1000").arg("--duration", "12s").arg("--max-retries", "10");
    let run = run.arg("--operation-ratios", "insert:40,update:40,replace:10,delete:10");
    let child = run.report().alone().spawn();
    tokio::time::sleep(Duration::from_secs(4)).await;
    server.signal(libc::SIGSTOP);
    tokio::time::sleep(Duration::from_secs(2)).await;
    server.signal(libc::SIGCONT);
    let out = tokio::task::spawn_blocking(move || child.wait(Duration::from_secs(60))).await.unwrap();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report: Report = out.report();

    let all = &report.latency.all;
    assert!(all.response.p999_ms >= 2000.0, "the 2 s stall is in the response times: {all:?}");
    assert!(all.service.p99_ms < 2000.0, "but not in 1% of the service times: {all:?}");
    assert!(all.response.p50_ms < 2000.0 && all.response.max_ms >= all.response.p999_ms, "{all:?}");
    // Every acknowledged op has both latencies, counted under its kind.
    let counted: u64 = report.latency.kinds.values().map(|l| l.response.count).sum();
    assert_eq!(counted, report.acknowledged());
    assert_eq!(all.service.count, report.acknowledged());
    let schedule = report.schedule.as_ref().expect("a paced run reports its schedule");
    assert!(schedule.max_lag_ms >= 1500.0 && schedule.slipped_s >= 1.5 && schedule.late_ops >= 1, "{schedule:?}");
    // It fell behind and stayed behind: about 2 s of 12 lost.
    assert!(report.achieved_rate < 900.0, "{}", report.achieved_rate);
    // The time series covers the run, and one of its samples caught the lag.
    assert!(report.series.iter().any(|s| s.lag_ms >= 500.0), "a sample shows the lag: {:?}", report.series);
    let in_series: u64 = report.series.iter().flat_map(|s| s.ops.values()).map(|c| c.acknowledged).sum();
    assert_eq!(in_series, report.acknowledged());
    assert!(report.series.windows(2).all(|w| w[0].t_s < w[1].t_s && w[1].interval_s > 0.0));

    // The server's own clock: no second holds more than 110% of the rate, before
    // the stall or after it.
    let events = drain_events(&mut stream, Duration::from_secs(3)).await;
    let times: Vec<i64> = events.iter().map(|e| e.wall_ms.expect("events carry wallTime")).collect();
    assert!(times.len() as u64 >= report.acknowledged() / 2, "{} events", times.len());
    let (first, last) = (times[0], *times.last().unwrap());
    let mut start = first;
    while start + 1000 <= last {
        let n = times.iter().filter(|t| **t >= start && **t < start + 1000).count();
        assert!(n <= 1100, "{n} events in the second from +{} ms: a burst above 110% of 1000/s", start - first);
        start += 100;
    }
}

/// A short paced run against the shared server with these thresholds.
fn run_with(db: &str, thresholds: &[&str]) -> Forge {
    let mut run = Forge::generate().output("mongo-cdc").quiet().db(db).collection("c").seed(5).report();
    run = run.arg("--rate-limit", "400").arg("--duration", "3s").arg("--metrics-interval", "500ms");
    for t in thresholds {
        run = run.arg("--threshold", t);
    }
    run
}

#[tokio::test(flavor = "multi_thread")]
async fn thresholds_that_hold_exit_zero_and_one_that_fails_exits_99_naming_it() {
    let db = fresh_db("thresholds");
    let held = ["rate>=0.5*target", "errors==0", "insert.response.p99<30s", "service.max<1m"];
    let out = run_with(&db, &held).run_async().await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report: Report = out.report();
    assert_eq!(report.thresholds.len(), 4);
    assert!(report.thresholds.iter().all(|v| v.passed && v.actual.is_some()), "{:?}", report.thresholds);
    assert!(out.stderr.contains("threshold errors==0: passed (measured 0)"), "{}", out.stderr);

    let out = run_with(&fresh_db("thresholds"), &["errors==0", "insert.service.p50<0.001ms"]).run_async().await;
    assert_eq!(out.code, 99, "{}", out.stderr);
    let report: Report = out.report();
    assert_eq!(report.ending, Ending::Completed);
    let failed: Vec<&str> = report.thresholds.iter().filter(|v| !v.passed).map(|v| v.threshold.as_str()).collect();
    assert_eq!(failed, ["insert.service.p50<0.001ms"]);
    assert!(out.stderr.contains("threshold insert.service.p50<0.001ms: FAILED (measured"), "{}", out.stderr);
    assert!(out.stderr.trim_end().ends_with("error: threshold failed: insert.service.p50<0.001ms"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_threshold_aborts_the_run_when_asked() {
    let db = fresh_db("abort");
    let run = Forge::generate().output("mongo-cdc").quiet().db(&db).collection("c").seed(6).report();
    let run = run.arg("--rate-limit", "200").arg("--duration", "60s").arg("--metrics-interval", "500ms");
    let out = run.arg("--threshold", "count<100").flag("--abort-on-threshold").run_async().await;
    assert_eq!(out.code, 99, "{}", out.stderr);
    let report: Report = out.report();
    assert_eq!(report.ending, Ending::Aborted, "{}", out.stderr);
    // Stopped within a few intervals of the 100th op (0.5 s at 200/s), not after 60 s.
    assert!((100..1000).contains(&report.acknowledged()), "{report:?}");
    let coll = support::client().await.database(&db).collection::<Document>("c");
    let held = coll.count_documents(bson::doc! {}).await.unwrap();
    assert_eq!(report.acknowledged(), held, "the report counts what the server holds");
}

#[test]
fn a_malformed_threshold_is_a_usage_error_naming_it() {
    for (threshold, words) in [
        ("update.p99<20ms", "unknown figure 'update.p99'"),
        ("rate>=fast", "'fast' is not ops/s"),
        ("errors=0", "no comparison"),
    ] {
        let out = Forge::generate().output("mongo-cdc").arg("--threshold", threshold).run();
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert!(out.stderr.contains(&format!("'{threshold}'")) && out.stderr.contains(words), "{}", out.stderr);
        assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    }
    // A flag that needs another names it.
    let out = Forge::generate().output("mongo-cdc").flag("--abort-on-threshold").run();
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("not provided: --threshold <EXPR>"), "{}", out.stderr);
    let out = Forge::generate().output("mongo-cdc").arg("--threshold", "rate>=0.9*target").run();
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("--threshold 'rate>=0.9*target': there is no target without --rate-limit"),
        "{}",
        out.stderr
    );
}
