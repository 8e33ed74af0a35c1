//! The flags that split one run across processes: `--segments`, `--segment` (or a
//! Kubernetes Indexed Job's `JOB_COMPLETION_INDEX`) and `--start-at`; and the
//! `{segment}` placeholder of the output paths.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::error::Error;
use crate::segment::Segment;

/// What a Kubernetes Indexed Job sets in each pod: the pod's index.
pub const JOB_INDEX_VAR: &str = "JOB_COMPLETION_INDEX";

#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Segments: one run split across processes or machines")]
pub struct SegmentArgs {
    /// Split the run into N segments that run side by side (machines, the pods of a
    /// Kubernetes Indexed Job, or --spawn): segment K runs operations K, K+N, K+2N… of
    /// the stream the seed defines, inserts documents no other segment inserts and
    /// changes only those. -n, --warmup-inserts and --rate-limit stay the whole run's;
    /// every segment needs the same --seed and flags. `forge report merge` and `forge
    /// verify --journal DIR` put the segments back together
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub segments: u64,

    /// This process's segment, 0 to N-1 [default: $JOB_COMPLETION_INDEX, which a
    /// Kubernetes Indexed Job sets in each pod]
    #[arg(long, value_name = "K")]
    pub segment: Option<u64>,

    /// Start the run at this time, RFC 3339 (2026-12-02T15:00:00Z) or +DURATION from now
    /// (+30s): segments given the same time start together and share one schedule. A
    /// segment that gets there late says so and joins the schedule without a burst
    #[arg(long, value_name = "TIME", value_parser = start_at)]
    pub start_at: Option<SystemTime>,
}

impl SegmentArgs {
    /// The segment this process runs: `--segment`, else `$JOB_COMPLETION_INDEX`.
    pub fn segment(&self) -> Result<Segment, Error> {
        self.segment_from(std::env::var(JOB_INDEX_VAR).ok())
    }

    fn segment_from(&self, job_index: Option<String>) -> Result<Segment, Error> {
        let (index, source) = match (self.segment, job_index) {
            (Some(k), _) => (k, "--segment"),
            (None, Some(text)) if self.segments == 1 && text.trim() != "0" => {
                return Err(Error::Usage(format!(
                    "{JOB_INDEX_VAR} is {text} but there is no --segments: give --segments N (the Job's completions), \
                     or every pod would run the whole run"
                )));
            }
            (None, _) if self.segments == 1 => (0, "--segment"),
            (None, Some(text)) => match text.trim().parse() {
                Ok(k) => (k, JOB_INDEX_VAR),
                Err(_) => return Err(Error::Usage(format!("{JOB_INDEX_VAR}: '{text}' is not a segment number"))),
            },
            (None, None) => {
                return Err(Error::Usage(format!(
                    "--segments {}: which one is this? Give --segment K (0 to {}), or run it where {JOB_INDEX_VAR} \
                     is set (a Kubernetes Indexed Job), or add --spawn to run them all here",
                    self.segments,
                    self.segments - 1
                )));
            }
        };
        Segment::new(index, self.segments)
            .map_err(|e| Error::Usage(format!("{source}: {e} (--segments {})", self.segments)))
    }
}

/// `--start-at`: an RFC 3339 time, or `+DURATION` from now.
fn start_at(text: &str) -> Result<SystemTime, String> {
    if let Some(after) = text.strip_prefix('+') {
        let wait = humantime::parse_duration(after).map_err(|e| format!("'+{after}': {e}"))?;
        return Ok(SystemTime::now() + wait);
    }
    let at = bson::DateTime::parse_rfc3339_str(text)
        .map_err(|_| "expected an RFC 3339 time (2026-12-02T15:00:00Z) or +DURATION (+30s)".to_string())?;
    Ok(at.to_system_time())
}

/// `path` with `{segment}` replaced by the segment's index: one file per segment from
/// one command line.
pub fn path_for(path: &Path, segment: Segment) -> PathBuf {
    match path.to_str() {
        Some(text) if text.contains("{segment}") => {
            PathBuf::from(text.replace("{segment}", &segment.index.to_string()))
        }
        _ => path.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn args(segments: u64, segment: Option<u64>) -> SegmentArgs {
        SegmentArgs { segments, segment, start_at: None }
    }

    #[test]
    fn the_segment_comes_from_the_flag_or_the_job_index() {
        assert_eq!(args(3, Some(1)).segment_from(Some("2".into())).unwrap(), Segment::new(1, 3).unwrap());
        assert_eq!(args(3, None).segment_from(Some("2".into())).unwrap(), Segment::new(2, 3).unwrap());
        assert_eq!(args(1, None).segment_from(Some("0".into())).unwrap(), Segment::WHOLE);
        assert_eq!(args(1, None).segment_from(None).unwrap(), Segment::WHOLE);
        let message = |r: Result<Segment, Error>| r.unwrap_err().to_string();
        assert!(message(args(3, None).segment_from(None)).contains("--segment K (0 to 2)"));
        assert!(message(args(3, None).segment_from(Some("x".into()))).starts_with("JOB_COMPLETION_INDEX: 'x'"));
        assert!(message(args(3, None).segment_from(Some("3".into()))).starts_with("JOB_COMPLETION_INDEX: segment 3"));
        assert!(message(args(3, Some(5)).segment_from(None)).starts_with("--segment: segment 5 does not exist"));
        assert!(message(args(1, None).segment_from(Some("2".into()))).contains("there is no --segments"));
    }

    #[test]
    fn start_times_are_absolute_or_from_now() {
        let at = start_at("2026-12-02T15:00:00Z").unwrap();
        assert_eq!(at, SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_223_600));
        let soon = start_at("+30s").unwrap().duration_since(SystemTime::now()).unwrap();
        assert!(soon > Duration::from_secs(29) && soon <= Duration::from_secs(30));
        assert!(start_at("tomorrow").unwrap_err().contains("RFC 3339"));
    }

    #[test]
    fn paths_name_their_segment() {
        let s = Segment::new(2, 3).unwrap();
        assert_eq!(path_for(Path::new("/j/segment-{segment}.jsonl"), s), PathBuf::from("/j/segment-2.jsonl"));
        assert_eq!(path_for(Path::new("run.json"), s), PathBuf::from("run.json"));
    }
}
