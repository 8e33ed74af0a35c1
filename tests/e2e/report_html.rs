//! The HTML report (`--report-html`, `forge report html`): one self-contained page with
//! three charts drawn as SVG, that a real browser (headless Chromium) renders into a
//! screenshot showing them; and `forge report merge`, one report from two processes.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Forge, Report, fresh_db};

/// The colours the charts draw their series in (engine/src/metrics/charts.rs): the
/// insert line, service time, response time, and the target's dashed line.
const SERIES_COLORS: [(&str, [u8; 3]); 4] = [
    ("insert ops/s", [31, 119, 180]),
    ("service time", [23, 140, 160]),
    ("response time", [200, 30, 90]),
    ("target rate", [90, 90, 90]),
];

#[test]
fn a_paced_run_writes_a_page_with_three_charts_that_a_browser_draws() {
    let dir = tempfile::tempdir().unwrap();
    let (html, json) = (dir.path().join("run.html"), dir.path().join("run.json"));
    let db = fresh_db("report_html");
    let run = Forge::generate().output("mongo-cdc").db(&db).collection("c").quiet().seed(13);
    let run = run.arg("--operation-ratios", "insert:60,update:30,delete:10");
    let run = run.arg("--rate-limit", "300").arg("--duration", "4s").arg("--metrics-interval", "500ms");
    let out = run.arg("--report", &json).arg("--report-html", &html).run().success();
    let report: Report = serde_json::from_str(&std::fs::read_to_string(&json).expect("--report written"))
        .unwrap_or_else(|e| panic!("the report does not parse: {e}\n{}", out.stderr));
    assert!(report.acknowledged() >= 600, "{} ops acknowledged in 4 s at 300/s", report.acknowledged());

    let page =
        std::fs::read_to_string(&html).unwrap_or_else(|e| panic!("no --report-html page ({e}):\n{}", out.stderr));
    check_page(&page);
    assert!(page.contains(&db), "the page names the namespace");
    assert!(page.contains("target 300/s"), "the throughput chart labels the target line");

    // The same page from the JSON report.
    let again = dir.path().join("again.html");
    let rendered = forge_report_html(&[json.as_os_str(), "-o".as_ref(), again.as_os_str()]);
    assert_eq!(rendered.status.code(), Some(0), "{}", String::from_utf8_lossy(&rendered.stderr));
    let again = std::fs::read_to_string(&again).expect("forge report html wrote -o");
    check_page(&again);
    assert_eq!(svgs(&again), svgs(&page), "the same charts from the JSON report as from the run");
    // Without -o, next to the report.
    let rendered = forge_report_html(&[json.as_os_str()]);
    assert_eq!(rendered.status.code(), Some(0), "{}", String::from_utf8_lossy(&rendered.stderr));
    assert!(dir.path().join("run.html").exists());

    let shot = dir.path().join("shot.png");
    screenshot(&html, &shot);
    check_screenshot(&shot);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_reports_of_two_processes_merge_into_the_report_of_both() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_db("merge");
    let start = bson::DateTime::from_system_time(std::time::SystemTime::now() + Duration::from_secs(2));
    let start = start.try_to_rfc3339_string().unwrap();
    let part = |segment: u64| {
        let run = Forge::generate().output("mongo-cdc").db(&db).collection("c").quiet().seed(7);
        let run = run.arg("--segments", "2").arg("--segment", segment.to_string()).arg("--start-at", &start);
        let run = run.arg("--rate-limit", "500").arg("--duration", "3s").arg("--metrics-interval", "500ms");
        run.arg("--report", dir.path().join("{segment}.json")).spawn()
    };
    // The two segments of one run, side by side on one collection.
    let (a, b) = (part(0), part(1));
    let (a, b) =
        tokio::task::spawn_blocking(move || (a.wait(Duration::from_secs(60)), b.wait(Duration::from_secs(60))))
            .await
            .unwrap();
    assert_eq!((a.code, b.code), (0, 0), "{}{}", a.stderr, b.stderr);
    let read = |name: &str| -> Report {
        serde_json::from_str(&std::fs::read_to_string(dir.path().join(name)).unwrap()).unwrap()
    };
    let (ra, rb) = (read("0.json"), read("1.json"));
    let merged = dir.path().join("merged.json");
    let out = Command::new(env!("CARGO_BIN_EXE_forge"))
        .args(["report", "merge"])
        .args([dir.path().join("0.json"), dir.path().join("1.json")])
        .arg("--out")
        .arg(&merged)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let m: Report = serde_json::from_str(&std::fs::read_to_string(&merged).unwrap()).unwrap();
    // Every insert of both is a document of the collection, and has its latencies.
    let held = crate::support::client().await.database(&db).collection::<bson::Document>("c");
    let held = held.count_documents(bson::doc! {}).await.unwrap();
    assert_eq!(m.acknowledged(), ra.acknowledged() + rb.acknowledged());
    assert_eq!(m.acknowledged(), held);
    assert_eq!(m.latency.all.response.count, held);
    let slowest = ra.latency.all.service.max_ms.max(rb.latency.all.service.max_ms);
    assert!((m.latency.all.service.max_ms - slowest).abs() < 1e-9, "{} vs {slowest}", m.latency.all.service.max_ms);
    let in_series: u64 = m.series.iter().flat_map(|s| s.ops.values()).map(|c| c.acknowledged).sum();
    assert_eq!(in_series, held);
    assert_eq!(m.target_rate, Some(500.0), "the run's target");
    // And the merged report draws.
    let out = forge_report_html(&[merged.as_os_str()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    check_page(&std::fs::read_to_string(merged.with_extension("html")).unwrap());
}

#[test]
fn a_file_that_is_not_a_report_is_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("not-a-report.json");
    std::fs::write(&path, r#"{"documents": [1, 2, 3]}"#).unwrap();
    let out = forge_report_html(&[path.as_os_str()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains(&path.display().to_string()), "names the file: {stderr}");
    assert!(stderr.contains("not a forge report"), "{stderr}");
    assert!(!dir.path().join("not-a-report.html").exists(), "no page for a file that is not a report");
}

/// `forge report html ARGS...`.
fn forge_report_html(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_forge"))
        .args(["report", "html"])
        .args(args)
        .output()
        .expect("run forge report html")
}

/// The page's `<svg>` elements.
fn svgs(page: &str) -> Vec<&str> {
    page.match_indices("<svg").map(|(at, _)| &page[at..at + page[at..].find("</svg>").expect("closed svg")]).collect()
}

/// Three charts, each with drawn lines and labelled axes, and nothing fetched from
/// elsewhere.
fn check_page(page: &str) {
    let charts = svgs(page);
    assert_eq!(charts.len(), 3, "three charts");
    for (chart, what) in charts.iter().zip(["throughput", "latency over time", "latency by percentile"]) {
        let lines: Vec<&str> = chart.split("<polyline").skip(1).filter(|l| l.contains("points=\"")).collect();
        assert!(!lines.is_empty(), "the {what} chart draws lines");
        let longest = lines.iter().map(|l| l.split("points=\"").nth(1).unwrap().split(' ').count()).max().unwrap();
        assert!(longest >= 6, "the {what} chart's longest line has {longest} points");
        assert!(chart.matches("<text").count() >= 8, "the {what} chart has labels");
    }
    assert!(charts[1].contains("ms, log scale") && charts[2].contains("99.9%"), "axes say what they show");
    for external in ["src=\"http", "href=\"http", "src='http", "href='http", "<script", "<link", "@import", "url("] {
        assert!(!page.contains(external), "the page must stand alone, but has {external}");
    }
}

/// A screenshot of `page` by headless Chromium, 1200 px wide.
fn screenshot(page: &Path, shot: &Path) {
    let chromium = which("chromium").unwrap_or_else(|| {
        panic!("chromium is not installed: this test opens the HTML report in it (apt-get install chromium; scripts/test.sh installs it)")
    });
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new(chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1200,2400"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("chromium took more than 120 s for a screenshot");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(status.success() && shot.exists(), "chromium made no screenshot ({status}):\n{stderr}");
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(program)).find(|p| p.is_file())
}

/// The screenshot shows the page: not blank, and each series' colour drawn in it.
fn check_screenshot(shot: &Path) {
    let mut decoder = png::Decoder::new(std::fs::File::open(shot).unwrap());
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size()];
    let frame = reader.next_frame(&mut buf).expect("a PNG frame");
    let channels = frame.color_type.samples();
    assert!(channels >= 3, "a colour screenshot, not {:?}", frame.color_type);
    let pixels: Vec<[u8; 3]> = buf[..frame.buffer_size()].chunks(channels).map(|p| [p[0], p[1], p[2]]).collect();
    assert_eq!((frame.width, frame.height), (1200, 2400));
    let not_white = pixels.iter().filter(|p| p.iter().any(|c| *c < 240)).count();
    let share = not_white as f64 / pixels.len() as f64;
    assert!(share > 0.02, "only {:.2}% of the screenshot is not white", share * 100.0);
    let colors: std::collections::HashSet<[u8; 3]> = pixels.iter().copied().collect();
    assert!(colors.len() > 100, "{} distinct colours in the screenshot", colors.len());
    for (what, color) in SERIES_COLORS {
        let near = pixels.iter().filter(|p| p.iter().zip(color).all(|(a, b)| a.abs_diff(b) <= 12)).count();
        assert!(near >= 300, "the {what} line ({color:?}) shows in {near} pixels of the screenshot");
    }
}
