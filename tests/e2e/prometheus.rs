//! `--metrics-listen` as Prometheus sees it: a real `prometheus` server (Debian's
//! package; scripts/test.sh installs it) scrapes a paced run every second, and its
//! query API must return the run's counters and latency histograms, the final figures
//! equal to the run's report.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Forge, Report, fresh_db};

#[test]
fn a_prometheus_server_scrapes_the_run_counters_and_latency_histograms() {
    let dir = tempfile::tempdir().unwrap();
    let forge_addr = format!("127.0.0.1:{}", free_port());
    let prometheus = Prometheus::start(dir.path(), &forge_addr);

    let db = fresh_db("prometheus");
    let run = Forge::generate().output("mongo-cdc").db(&db).collection("c").quiet().seed(13).report();
    let run = run.arg("--rate-limit", "500").arg("--duration", "8s");
    // Longer than three scrape intervals: a scrape after the run sees its final figures.
    let running = run.arg("--metrics-listen", &forge_addr).arg("--metrics-linger", "4s").spawn();

    // While it runs: counters grow.
    let deadline = Instant::now() + Duration::from_secs(8);
    let during = loop {
        let ops = prometheus.query("sum(forge_operations_total{outcome=\"acknowledged\",segment=\"0\"})");
        if let Some(n) = ops.first().filter(|n| **n > 0.0) {
            break *n;
        }
        assert!(
            Instant::now() < deadline,
            "no forge_operations_total in Prometheus 8 s into the run:\n{}",
            prometheus.log()
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    let output = running.wait(Duration::from_secs(60)).success();
    let report: Report = output.report();
    let acknowledged = report.acknowledged() as f64;
    assert!(during < acknowledged, "{during} acknowledged mid-run, {acknowledged} in the end");

    // The last scrape before forge stopped serving: the report's counts exactly.
    let last = |q: &str| prometheus.query(&format!("max_over_time({q}[5m])"));
    let ops = last("forge_operations_total{outcome=\"acknowledged\"}");
    assert_eq!(ops.iter().sum::<f64>(), acknowledged, "Prometheus {ops:?}, report {report:?}");
    assert!(acknowledged >= 3000.0, "{acknowledged} ops at 500/s for 8 s");
    let failed = last("forge_operations_total{outcome=\"failed\"}");
    assert!(!failed.is_empty() && failed.iter().all(|n| *n == 0.0), "failed {failed:?}");
    let responses = last("forge_latency_seconds_count{measure=\"response\"}");
    assert_eq!(responses.iter().sum::<f64>(), acknowledged, "every acknowledged op has a response time");
    let services = last("forge_latency_seconds_count{measure=\"service\"}");
    assert_eq!(services.iter().sum::<f64>(), acknowledged);
    let in_a_minute = last("forge_latency_seconds_bucket{measure=\"response\",le=~\"60(\\\\.0)?\"}");
    assert_eq!(in_a_minute.iter().sum::<f64>(), acknowledged, "all answered within a minute");
    assert_eq!(last("forge_target_rate"), vec![500.0]);
    // Served as of the end of the run while forge lingers: the rate over its 8 s, not
    // a rate falling as the linger goes on.
    let achieved = prometheus.query("last_over_time(forge_achieved_rate[5m])");
    assert!(achieved.len() == 1 && (achieved[0] * 8.0 / acknowledged - 1.0).abs() < 0.1, "achieved rate {achieved:?}");
    assert_eq!(prometheus.query("last_over_time(forge_schedule_lag_seconds[5m])"), vec![0.0]);
    // Quantiles computed by Prometheus from the buckets: a p99 under a minute.
    let p99 = prometheus.query(
        "histogram_quantile(0.99, sum by (le) (max_over_time(forge_latency_seconds_bucket{measure=\"response\"}[5m])))",
    );
    assert!(p99.len() == 1 && p99[0] > 0.0 && p99[0] <= 60.0, "p99 {p99:?}");
}

#[test]
fn a_metrics_address_in_use_is_a_usage_error_naming_the_flag() {
    let taken = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let db = fresh_db("prometheus_in_use");
    let output =
        Forge::generate().output("mongo-cdc").db(&db).collection("c").count(10).arg("--metrics-listen", &addr).run();
    assert_eq!(output.code, 2, "{}", output.stderr);
    assert!(output.stderr.contains(&format!("--metrics-listen {addr}: cannot listen: ")), "{}", output.stderr);
    assert!(crate::support::documents(&db).is_empty(), "nothing written");
}

/// A port free now (the kernel does not hand it out again at once).
pub(crate) fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap().local_addr().unwrap().port()
}

/// A `prometheus` server on loopback scraping `target` every second, killed on drop.
pub(crate) struct Prometheus {
    child: Child,
    addr: String,
    log: std::path::PathBuf,
}

impl Prometheus {
    pub(crate) fn start(dir: &Path, target: &str) -> Prometheus {
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: forge\n    \
                 static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        let addr = format!("127.0.0.1:{}", free_port());
        let log = dir.join("prometheus.log");
        let mut cmd = Command::new("prometheus");
        cmd.arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address={addr}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
        unsafe {
            use std::os::unix::process::CommandExt;
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = cmd.spawn().unwrap_or_else(|e| {
            panic!(
                "cannot start `prometheus` ({e}): this test needs a Prometheus server; install it with \
                 scripts/prometheus.sh (Debian's package; scripts/test.sh runs it)"
            )
        });
        let mut prometheus = Prometheus { child, addr, log };
        let deadline = Instant::now() + Duration::from_secs(30);
        while get(&prometheus.addr, "/-/ready").is_none_or(|(status, _)| status != 200) {
            if let Ok(Some(status)) = prometheus.child.try_wait() {
                panic!("prometheus exited at start-up ({status}):\n{}", prometheus.log());
            }
            assert!(Instant::now() < deadline, "prometheus not ready within 30 s:\n{}", prometheus.log());
            std::thread::sleep(Duration::from_millis(200));
        }
        prometheus
    }

    /// The values of an instant query's result vector.
    pub(crate) fn query(&self, promql: &str) -> Vec<f64> {
        let path = format!("/api/v1/query?query={}", percent_encode(promql));
        let (status, body) = get(&self.addr, &path).unwrap_or_else(|| panic!("no answer from prometheus to {promql}"));
        let json: serde_json::Value =
            serde_json::from_str(&body).unwrap_or_else(|e| panic!("{promql}: {e}: {status} {body}"));
        assert_eq!(json["status"], "success", "{promql}: {body}");
        let result = json["data"]["result"].as_array().unwrap_or_else(|| panic!("{promql}: {body}"));
        result.iter().map(|r| r["value"][1].as_str().expect("a value").parse().expect("a number")).collect()
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.0 GET: the status and body, or None when nothing answers.
fn get(addr: &str, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
