//! One run split into segments (`--segments`): processes started as a Kubernetes
//! Indexed Job starts them, checked from the change stream, their journals and their
//! merged report; determinism per (seed, N); a segment killed mid-run; `--spawn`;
//! `mutate` split by `_id`; bad input.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use bson::Document;

use crate::support::{self, Forge, Report, drain_events, fresh_db};

/// The journal's entries (after its header line) as JSON.
fn journal(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines().skip(1).map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// The `_id`s a journal inserted.
fn inserted(entries: &[serde_json::Value]) -> HashSet<String> {
    entries.iter().filter(|e| e["k"] == "insert").map(|e| e["id"].to_string()).collect()
}

/// A segment of a CDC run, as the Job's pods run it: `JOB_COMPLETION_INDEX` set, the
/// rest of the command line the same for all.
fn pod(db: &str, dir: &Path, index: u64, more: impl FnOnce(Forge) -> Forge) -> Forge {
    let run = Forge::generate().output("mongo-cdc").db(db).collection("c").quiet().seed(21);
    let run = run.arg("--operation-ratios", "insert:40,update:40,replace:10,delete:10").arg("--segments", "3");
    let run = run.arg("--journal", dir.join("segment-{segment}.jsonl")).arg("--report", dir.join("{segment}.json"));
    more(run.env("JOB_COMPLETION_INDEX", index.to_string()))
}

/// How a `forge` that needs no server ended.
struct Ran {
    code: i32,
    stderr: String,
}

fn forge(args: &[&std::ffi::OsStr]) -> Ran {
    let out = Command::new(env!("CARGO_BIN_EXE_forge")).args(args).output().unwrap();
    Ran { code: out.status.code().unwrap_or(-1), stderr: String::from_utf8_lossy(&out.stderr).into_owned() }
}

/// `forge report merge REPORTS… [--out OUT]`.
fn report_merge(reports: &[&Path], out: Option<&Path>) -> Ran {
    let mut args: Vec<&std::ffi::OsStr> = vec!["report".as_ref(), "merge".as_ref()];
    args.extend(reports.iter().map(|p| p.as_os_str()));
    if let Some(out) = out {
        args.extend(["--out".as_ref(), out.as_os_str()]);
    }
    forge(&args)
}

/// Waits up to 30 s for `done`; whether it came.
async fn wait_for(done: impl Fn() -> bool) -> bool {
    for _ in 0..600 {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    done()
}

fn read_report(path: &Path) -> forge::metrics::report::Report {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn three_pods_of_a_job_hold_the_total_rate_and_merge_into_one_exact_report() {
    let client = support::client().await;
    let db = fresh_db("segments_job");
    let dir = tempfile::tempdir().unwrap();
    let coll = client.database(&db).collection::<Document>("c");
    let mut stream = coll.watch().await.unwrap();
    // The built-in plugins compiled once into the shared cache (as a Job's image would
    // ship them warm): three cold compiles on two loaded cores can take longer than
    // the 2 s before the start.
    let warm = Forge::generate().output("mongo-cdc").flag("--dry-run").quiet().count(10);
    warm.arg("--operation-ratios", "insert:40,update:40,replace:10,delete:10").run_async().await.success();
    let machine = tokio::task::spawn_blocking(support::alone).await.unwrap();
    // 600 ops/s in all, 200 per segment, for 32 s.
    let runs: Vec<_> = (0..3)
        .map(|k| {
            pod(&db, dir.path(), k, |f| {
                f.arg("--start-at", "+2s").arg("--rate-limit", "600").count(19_200).held(&machine)
            })
            .spawn()
        })
        .collect();
    let outputs = tokio::task::spawn_blocking(move || {
        runs.into_iter().map(|r| r.wait(Duration::from_secs(120))).collect::<Vec<_>>()
    })
    .await
    .unwrap();
    drop(machine);
    for out in &outputs {
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(!out.stderr.contains("after its start time"), "a segment started late: {}", out.stderr);
    }

    // The server saw 600 ops/s in every 10 s window, sliding by 500 ms.
    let events = drain_events(&mut stream, Duration::from_secs(3)).await;
    assert_eq!(events.len() as u64, expected_events(dir.path()), "one event per modifying write");
    let times: Vec<i64> = events.iter().map(|e| e.wall_ms.expect("events carry wallTime")).collect();
    let (first, last) = (*times.iter().min().unwrap(), *times.iter().max().unwrap());
    let mut start = first;
    let mut windows = 0;
    while start + 10_000 <= last {
        let n = times.iter().filter(|t| **t >= start && **t < start + 10_000).count() as f64;
        let all_writes = n * writes_per_event(dir.path());
        assert!(
            (all_writes - 6000.0).abs() <= 120.0,
            "{all_writes:.0} writes in the 10 s from +{} ms; schedules: {:?}",
            start - first,
            (0..3).map(|k| read_report(&dir.path().join(format!("{k}.json"))).schedule).collect::<Vec<_>>()
        );
        start += 500;
        windows += 1;
    }
    assert!(windows >= 30, "{windows} windows");

    // Every _id has one writer, and its events come in its journal's order.
    let journals: Vec<_> = (0..3).map(|k| journal(&dir.path().join(format!("segment-{k}.jsonl")))).collect();
    let ids: Vec<_> = journals.iter().map(|j| inserted(j)).collect();
    for (a, b) in [(0, 1), (0, 2), (1, 2)] {
        assert!(ids[a].is_disjoint(&ids[b]), "segments {a} and {b} inserted the same _id");
    }
    let mut written_by: HashMap<String, usize> = HashMap::new();
    let mut expected: HashMap<String, Vec<String>> = HashMap::new();
    for (k, entries) in journals.iter().enumerate() {
        for e in entries {
            let id = e["id"].to_string();
            assert_eq!(*written_by.entry(id.clone()).or_insert(k), k, "{id} written by two segments");
            if makes_event(e) {
                expected.entry(id).or_default().push(event_of(e));
            }
        }
    }
    let mut seen: HashMap<String, Vec<String>> = HashMap::new();
    for e in &events {
        let id = e.id.clone().into_canonical_extjson().to_string();
        seen.entry(id).or_default().push(e.op.clone());
    }
    assert_eq!(seen, expected, "each document's history, in order");

    // The merged report: the sum of the three, and the p99 of their histograms added.
    let paths: Vec<_> = (0..3).map(|k| dir.path().join(format!("{k}.json"))).collect();
    let merged_path = dir.path().join("merged.json");
    let out = report_merge(&paths.iter().map(|p| p.as_path()).collect::<Vec<_>>(), Some(&merged_path));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("3 segments merged"), "{}", out.stderr);
    let parts: Vec<_> = paths.iter().map(|p| read_report(p)).collect();
    let merged = read_report(&merged_path);
    for kind in merged.ops.keys() {
        let sum: u64 = parts.iter().filter_map(|p| p.ops.get(kind)).map(|c| c.acknowledged).sum();
        assert_eq!(merged.ops[kind].acknowledged, sum, "{kind:?}");
    }
    assert_eq!(merged.ops.values().map(|c| c.acknowledged).sum::<u64>(), 19_200);
    let mut added = forge::metrics::latency::Latencies::default();
    for part in &parts {
        for encoded in part.histograms.values() {
            added.add(&encoded.decode().unwrap());
        }
    }
    let p99 = added.percentiles().response.p99_ms;
    assert_eq!(merged.latency.all.response.p99_ms, p99);
    assert_eq!(merged.target_rate, Some(600.0));
    assert!((merged.achieved_rate - 600.0).abs() < 12.0, "{}", merged.achieved_rate);

    // The three journals verify together: the collection and its change stream.
    let check = Forge::verify().arg("--journal", dir.path()).flag("--change-stream").uri(support::server_uri());
    let out = check.run_async().await.success();
    assert!(out.stdout.contains("segments 0, 1, 2 of 3"), "{}", out.stdout);
}

/// Whether a journaled write shows in the change stream: inserts and deletes that
/// matched, updates and replaces that modified.
fn makes_event(e: &serde_json::Value) -> bool {
    match e["w"].as_str().unwrap() {
        "insert" | "delete" => e["m"].as_u64() > Some(0),
        _ => e["n"].as_u64() > Some(0),
    }
}

fn event_of(e: &serde_json::Value) -> String {
    e["w"].as_str().unwrap().to_string()
}

/// The change events the three journals in `dir` expect.
fn expected_events(dir: &Path) -> u64 {
    (0..3).flat_map(|k| journal(&dir.join(format!("segment-{k}.jsonl")))).filter(makes_event).count() as u64
}

/// Writes per change event (updates that change nothing make none): scales a window's
/// event count to the writes the server was sent.
fn writes_per_event(dir: &Path) -> f64 {
    let entries: Vec<_> = (0..3).flat_map(|k| journal(&dir.join(format!("segment-{k}.jsonl")))).collect();
    entries.len() as f64 / entries.iter().filter(|e| makes_event(e)).count() as f64
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_seed_and_segment_count_give_the_same_stream_per_segment() {
    let dir = tempfile::tempdir().unwrap();
    let stream_of = |db: &str, k: u64, workers: &str| {
        let run = Forge::generate().output("mongo-cdc").db(db).collection("c").quiet().seed(5).count(900);
        let run = run.arg("--operation-ratios", "insert:50,update:30,replace:10,delete:10").arg("--segments", "2");
        let path = dir.path().join(format!("{db}-{k}.jsonl"));
        let run = run.arg("--segment", k.to_string()).arg("--workers", workers).arg("--journal", &path);
        (run, path)
    };
    let (a, b) = (fresh_db("segments_same_a"), fresh_db("segments_same_b"));
    for k in 0..2 {
        let (run_a, path_a) = stream_of(&a, k, "4");
        let (run_b, path_b) = stream_of(&b, k, "1");
        run_a.run_async().await.success();
        run_b.run_async().await.success();
        // What was written, to which _id, leaving which document: all but the times.
        let strip = |p: &Path| -> BTreeMap<u64, (String, String, Option<String>)> {
            journal(p)
                .iter()
                .map(|e| {
                    let h = e["h"].as_str().map(String::from);
                    (e["s"].as_u64().unwrap(), (e["k"].as_str().unwrap().to_string(), e["id"].to_string(), h))
                })
                .collect()
        };
        let (sa, sb) = (strip(&path_a), strip(&path_b));
        assert_eq!(sa.len(), 450, "half of the 900 operations");
        assert!(sa.keys().all(|s| s % 2 == k), "segment {k} runs the operations i ≡ {k} (mod 2)");
        assert_eq!(sa, sb, "segment {k}: same stream");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_segment_is_named_by_the_merge_and_the_others_still_verify() {
    let db = fresh_db("segments_killed");
    let dir = tempfile::tempdir().unwrap();
    let runs: Vec<_> = (0..3)
        .map(|k| {
            pod(&db, dir.path(), k, |f| f.arg("--start-at", "+1s").arg("--rate-limit", "600").count(4_800)).spawn()
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(4)).await;
    runs[1].signal(libc::SIGKILL);
    let outputs = tokio::task::spawn_blocking(move || {
        runs.into_iter().map(|r| r.wait(Duration::from_secs(60))).collect::<Vec<_>>()
    })
    .await
    .unwrap();
    assert_eq!(outputs.iter().map(|o| o.code).collect::<Vec<_>>(), [0, -1, 0]);
    assert!(!dir.path().join("1.json").exists(), "a killed process writes no report");

    let (r0, r2, merged) = (dir.path().join("0.json"), dir.path().join("2.json"), dir.path().join("merged.json"));
    let out = report_merge(&[&r0, &r2], Some(&merged));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("the run is incomplete: segment 1 (no report) of 3"), "{}", out.stderr);
    assert!(out.stderr.contains("missing"), "the segment table shows it: {}", out.stderr);
    let m = read_report(&merged);
    assert_eq!(m.segments.iter().map(|s| s.ending.is_some()).collect::<Vec<_>>(), [true, false, true]);
    assert_eq!(m.acknowledged(), read_report(&r0).acknowledged() + read_report(&r2).acknowledged());

    // The others' journals still check what they wrote; segment 1's documents are
    // neither missing nor extra.
    let (j0, j2) = (dir.path().join("segment-0.jsonl"), dir.path().join("segment-2.jsonl"));
    let check = Forge::verify().arg("--journal", &j0).arg("--journal", &j2).flag("--change-stream");
    let out = check.uri(support::server_uri()).run_async().await.success();
    assert!(out.stderr.contains("warning: segment 1 of 3 has no journal here"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_segment_that_starts_late_says_so_and_joins_the_schedule_without_a_burst() {
    let db = fresh_db("segments_late");
    let past = bson::DateTime::from_system_time(std::time::SystemTime::now() - Duration::from_secs(3));
    let run = Forge::generate().output("mongo-cdc").db(&db).collection("c").seed(2).count(300).report();
    let run = run.arg("--segments", "2").arg("--segment", "1").arg("--rate-limit", "200");
    let out = run.arg("--start-at", past.try_to_rfc3339_string().unwrap()).run_async().await.success();
    // 3 s and what starting took.
    let late = out.stderr.split("warning: segment 1 of 2 started ").nth(1).and_then(|rest| rest.split(" after").next());
    let late = humantime::parse_duration(late.unwrap_or_else(|| panic!("no late-start warning: {}", out.stderr)));
    assert!(late.unwrap() >= Duration::from_secs(3), "{}", out.stderr);
    let report: Report = out.report();
    let schedule = report.schedule.as_ref().expect("a paced run reports its schedule");
    assert!(schedule.slipped_s >= 2.9, "{schedule:?}");
    // Its 150 ops at its 100 ops/s: no catching up.
    assert!(report.duration_s >= 1.4, "{} s", report.duration_s);
    assert_eq!(report.segment.index, 1);
    assert_eq!(report.target_rate, Some(100.0), "its share of the run's rate");
}

#[tokio::test(flavor = "multi_thread")]
async fn spawn_runs_every_segment_here_and_prints_the_merged_report() {
    let db = fresh_db("segments_spawn");
    let dir = tempfile::tempdir().unwrap();
    let run = Forge::generate().output("mongo-cdc").db(&db).collection("c").seed(8).count(3000).report();
    let run = run.arg("--operation-ratios", "insert:60,update:30,delete:10").arg("--segments", "2").flag("--spawn");
    let out = run.arg("--journal", dir.path().join("j-{segment}.jsonl")).run_async().await.success();
    assert!(out.stderr.contains("(2 segments merged)"), "{}", out.stderr);
    let report: Report = out.report();
    assert_eq!(report.segments.iter().map(|s| (s.index, s.done)).collect::<Vec<_>>(), [(0, 1500), (1, 1500)]);
    let inserts = report.ops[&support::Kind::Insert].acknowledged;
    let deletes = report.ops.get(&support::Kind::Delete).map_or(0, |c| c.matched);
    let held = support::client().await.database(&db).collection::<Document>("c").count_documents(bson::doc! {}).await;
    assert_eq!(held.unwrap(), inserts - deletes);
    let (j0, j1) = (journal(&dir.path().join("j-0.jsonl")), journal(&dir.path().join("j-1.jsonl")));
    assert!(inserted(&j0).is_disjoint(&inserted(&j1)));
    assert_eq!(j0.len() + j1.len(), 3000);
}

#[tokio::test(flavor = "multi_thread")]
async fn mutate_segments_split_the_documents_by_id() {
    let db = fresh_db("segments_mutate");
    Forge::generate().output("mongo").db(&db).collection("c").quiet().seed(3).count(400).run_async().await.success();
    let dir = tempfile::tempdir().unwrap();
    for k in 0..2 {
        let run = Forge::mutate().db(&db).collection("c").quiet().seed(4).count(300).arg("--ratio", "update:1");
        let run = run.arg("--segments", "2").arg("--segment", k.to_string());
        run.arg("--journal", dir.path().join(format!("{k}.jsonl"))).run_async().await.success();
    }
    let touched: Vec<HashSet<String>> = (0..2)
        .map(|k| journal(&dir.path().join(format!("{k}.jsonl"))).iter().map(|e| e["id"].to_string()).collect())
        .collect();
    assert!(touched[0].is_disjoint(&touched[1]), "no document is touched by both segments");
    for (k, ids) in touched.iter().enumerate() {
        let segment = forge::segment::Segment::new(k as u64, 2).unwrap();
        assert!(ids.len() > 50, "segment {k} touched {}", ids.len());
        for id in ids {
            let id = bson::Bson::try_from(serde_json::from_str::<serde_json::Value>(id).unwrap()).unwrap();
            assert!(segment.owns(&id), "segment {k} touched {id}, not its own");
        }
    }
}

#[test]
fn bad_segment_flags_are_one_line_naming_the_culprit() {
    let refused = |args: &[&str], env: Option<&str>, words: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_forge"));
        cmd.args(["generate", "--output", "mongo-cdc", "--dry-run", "-n", "10"]).args(args);
        match env {
            Some(v) => cmd.env("JOB_COMPLETION_INDEX", v),
            None => cmd.env_remove("JOB_COMPLETION_INDEX"),
        };
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
        assert!(words.iter().all(|w| stderr.contains(w)), "{words:?} not in {stderr}");
    };
    refused(&["--segments", "3"], None, &["--segments 3", "--segment K (0 to 2)", "JOB_COMPLETION_INDEX"]);
    refused(&["--segments", "3", "--segment", "3"], None, &["--segment", "segment 3 does not exist"]);
    refused(&["--segments", "3"], Some("x"), &["JOB_COMPLETION_INDEX", "'x'"]);
    refused(&["--segments", "0"], None, &["--segments"]);
    refused(&["--start-at", "tomorrow"], None, &["--start-at", "RFC 3339"]);
    refused(&["--segments", "2", "--spawn", "--journal", "j.jsonl"], None, &["--spawn", "{segment}"]);
    refused(&["--spawn"], None, &["--spawn", "--segments"]);
}

#[test]
fn reports_of_different_runs_are_refused_naming_both_files() {
    let dir = tempfile::tempdir().unwrap();
    let report = |seed: &str, k: &str| {
        let path = dir.path().join(format!("{seed}-{k}.json"));
        let out = Command::new(env!("CARGO_BIN_EXE_forge"))
            .args(["generate", "--output", "mongo-cdc", "--dry-run", "-n", "20", "--quiet", "--seed", seed])
            .args(["--segments", "2", "--segment", k, "--report"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        path
    };
    let (a, b, c) = (report("1", "0"), report("2", "1"), report("1", "0"));
    let merge = |x: &Path, y: &Path| report_merge(&[x, y], None);
    let out = merge(&a, &b);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("1-0.json") && out.stderr.contains("2-1.json") && out.stderr.contains("seed 1 and seed 2")
    );
    let out = merge(&a, &c);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("both reports of segment 0 of 2"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_stops_a_segment_like_ctrl_c_with_its_report_and_journal() {
    let db = fresh_db("segments_sigterm");
    let dir = tempfile::tempdir().unwrap();
    let run = Forge::generate().output("mongo-cdc").db(&db).collection("c").quiet().seed(6).report();
    let run = run.arg("--segments", "2").arg("--segment", "0").arg("--rate-limit", "300").arg("--duration", "60s");
    let path = dir.path().join("j.jsonl");
    let running = run.arg("--journal", &path).spawn();
    // Signalled once it writes (its handlers are in place by then), not after a guess.
    let writing = || std::fs::read_to_string(&path).is_ok_and(|j| j.lines().count() > 100);
    assert!(wait_for(writing).await, "the run wrote nothing in 30 s");
    running.signal(libc::SIGTERM);
    let out = tokio::task::spawn_blocking(move || running.wait(Duration::from_secs(30))).await.unwrap();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report: Report = out.report();
    assert_eq!(report.ending, support::Ending::Interrupted);
    let held = support::client().await.database(&db).collection::<Document>("c").count_documents(bson::doc! {}).await;
    assert_eq!(held.unwrap(), report.ops[&support::Kind::Insert].acknowledged);
    assert_eq!(journal(&path).len() as u64, report.ops.values().map(|c| c.acknowledged).sum::<u64>());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ctrl_c_to_spawn_stops_every_segment_and_the_merged_report_prints() {
    let db = fresh_db("segments_spawn_stop");
    let dir = tempfile::tempdir().unwrap();
    let run = Forge::generate().output("mongo-cdc").db(&db).collection("c").quiet().seed(9).report();
    let run = run.arg("--segments", "2").flag("--spawn").arg("--rate-limit", "200").arg("--duration", "60s");
    let running = run.arg("--journal", dir.path().join("j-{segment}.jsonl")).spawn();
    let writing =
        |k: u64| std::fs::read_to_string(dir.path().join(format!("j-{k}.jsonl"))).is_ok_and(|j| j.lines().count() > 50);
    assert!(wait_for(|| writing(0) && writing(1)).await, "the segments wrote nothing in 30 s");
    running.signal(libc::SIGINT); // to the parent alone: it passes it on
    let out = tokio::task::spawn_blocking(move || running.wait(Duration::from_secs(30))).await.unwrap();
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("the run is incomplete: segments 0 (interrupted), 1 (interrupted) of 2"),
        "{}",
        out.stderr
    );
    let report: Report = out.report();
    let held = support::client().await.database(&db).collection::<Document>("c").count_documents(bson::doc! {}).await;
    assert_eq!(held.unwrap(), report.ops[&support::Kind::Insert].acknowledged, "the merged report counts every write");
}

#[tokio::test(flavor = "multi_thread")]
async fn thresholds_are_checked_again_on_the_merged_figures() {
    let db = fresh_db("segments_thresholds");
    let dir = tempfile::tempdir().unwrap();
    // Each segment runs 100 of the 200 operations: alone, each misses `count>=150`.
    for k in 0..2 {
        let run = Forge::generate().output("mongo-cdc").db(&db).collection("c").quiet().seed(3).count(200);
        let run = run.arg("--segments", "2").arg("--segment", k.to_string()).arg("--threshold", "count>=150");
        let out = run.arg("--report", dir.path().join(format!("{k}.json"))).run_async().await;
        assert_eq!(out.code, 99, "{}", out.stderr);
    }
    let (a, b, merged) = (dir.path().join("0.json"), dir.path().join("1.json"), dir.path().join("m.json"));
    let out = report_merge(&[&a, &b], Some(&merged));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report: Report = serde_json::from_str(&std::fs::read_to_string(&merged).unwrap()).unwrap();
    assert_eq!(report.thresholds.len(), 1, "each threshold once: {:?}", report.thresholds);
    assert!(report.thresholds[0].passed, "{:?}", report.thresholds);
}
