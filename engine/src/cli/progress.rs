//! What a traffic run shows while it runs, from the metrics' samples: on a terminal, a
//! display redrawn in place (a progress bar with ETA for `-n`/`--duration`, ops/s by
//! kind against the target, response p99, errors, schedule lag); elsewhere (a pipe, a
//! CI log) one line per `--metrics-interval`.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::metrics::{Metrics, Sample};
use crate::plan::OpKind;

/// How far the run has to go, for the bar.
#[derive(Debug, Clone, Copy)]
pub struct Goal {
    /// Operations after warm-up (`-n`).
    pub count: Option<u64>,
    pub duration: Option<Duration>,
    /// Warm-up inserts settle before the counted operations.
    pub warmup: u64,
}

/// Shows the run's progress until the returned handle is dropped.
pub struct Progress {
    task: tokio::task::JoinHandle<()>,
    bar: Option<ProgressBar>,
}

impl Progress {
    pub fn start(metrics: Arc<Metrics>, goal: Goal) -> Progress {
        if std::io::stderr().is_terminal() {
            let bar = bar(goal);
            let task = tokio::spawn(redraw(metrics, bar.clone(), goal));
            Progress { task, bar: Some(bar) }
        } else {
            Progress { task: tokio::spawn(lines(metrics)), bar: None }
        }
    }

    /// Stops showing progress and clears the display (the summary follows).
    pub fn finish(self) {
        self.task.abort();
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

fn bar(goal: Goal) -> ProgressBar {
    let (len, template) = match (goal.count, goal.duration) {
        (Some(n), _) => (n, "{spinner} {elapsed_precise} [{bar:36}] {human_pos}/{human_len} ops, ETA {eta}\n{msg}"),
        (None, Some(d)) => (d.as_millis() as u64, "{spinner} {elapsed_precise} [{bar:36}] ETA {eta}\n{msg}"),
        (None, None) => (0, "{spinner} {elapsed_precise} until Ctrl-C\n{msg}"),
    };
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr_with_hz(4));
    bar.set_style(ProgressStyle::with_template(template).expect("a valid template").progress_chars("=> "));
    bar.set_message("waiting for the first acknowledgements…");
    bar
}

/// Moves the bar four times a second; rewrites the figures at each sample.
async fn redraw(metrics: Arc<Metrics>, bar: ProgressBar, goal: Goal) {
    let mut samples = metrics.subscribe();
    let started = tokio::time::Instant::now();
    let mut ticks = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            _ = ticks.tick() => {
                let position = match (goal.count, goal.duration) {
                    (Some(_), _) => metrics.settled().saturating_sub(goal.warmup),
                    (None, Some(_)) => started.elapsed().as_millis() as u64,
                    (None, None) => 0,
                };
                bar.set_position(position);
                bar.tick();
            }
            changed = samples.changed() => {
                if changed.is_err() {
                    return;
                }
                let sample = samples.borrow_and_update().clone();
                if let Some(sample) = sample {
                    bar.set_message(figures(&sample));
                }
            }
        }
    }
}

/// The two lines under the bar.
fn figures(s: &Sample) -> String {
    let target = s.target_rate.map(|t| format!(" of {t} ({:.0}%)", 100.0 * s.rate() / t.max(1e-9))).unwrap_or_default();
    let response = s.response_p99_ms();
    let service = s.latency.values().map(|l| l.service.p99_ms).fold(0.0, f64::max);
    format!(
        "{:.0} ops/s{target}: {}\nresponse p99 {response:.1}ms, service p99 {service:.1}ms, errors {}{}",
        s.rate(),
        by_kind(s),
        s.errors_total,
        lag(s)
    )
}

fn by_kind(s: &Sample) -> String {
    let kinds: Vec<String> = OpKind::ALL
        .iter()
        .filter(|k| s.ops.contains_key(k))
        .map(|k| format!("{} {:.0}", &k.name()[..3], s.rate_of(*k)))
        .collect();
    if kinds.is_empty() { "idle".into() } else { kinds.join(", ") }
}

fn lag(s: &Sample) -> String {
    if s.target_rate.is_none() {
        return String::new();
    }
    if s.lag_ms >= 1000.0 {
        format!(", behind schedule {:.1}s", s.lag_ms / 1000.0)
    } else {
        format!(", behind schedule {:.0}ms", s.lag_ms)
    }
}

/// One line per sample, for logs.
async fn lines(metrics: Arc<Metrics>) {
    let mut samples = metrics.subscribe();
    while samples.changed().await.is_ok() {
        let sample = samples.borrow_and_update().clone();
        if let Some(s) = sample {
            errln!("{}", line(&s));
        }
    }
}

fn line(s: &Sample) -> String {
    let target = s.target_rate.map(|t| format!(" of {t}")).unwrap_or_default();
    let errors = if s.errors_total > 0 { format!("  errors {}", s.errors_total) } else { String::new() };
    format!(
        "[{:>7.1}s] {:>8.0} ops/s{target} ({})  response p99 {:.1}ms  total {}{errors}{}",
        s.t_s,
        s.rate(),
        by_kind(s),
        s.response_p99_ms(),
        s.done_total,
        lag(s).replacen(", ", "  ", 1)
    )
}
