//! Paced admission. Op `i` is due when the run's [`Profile`] says (with
//! `--rate-limit`, one steady stage: `start + i / rate`); the planner admits it then
//! (never before: governor's GCRA guards the pace), and its response time counts
//! from that slot, so time an op waits behind a slow or stalled server shows in its
//! latency (no coordinated omission).
//!
//! When the run falls more than [`LATE`] behind (the server stalled, queues filled,
//! the planner had to wait), the schedule slips: later slots move back by the lag
//! (and, after a stall, by the backlog of ops still in flight, which go out at once
//! when the server answers), so the run goes on at the target rate and never catches
//! up in a burst. The lag, the ops that started late and the total slip
//! are reported.
//!
//! Unpaced stages have no slots: their ops go out as soon as they are admitted, and
//! the clock of the stages after one starts when the first op after it is admitted.

mod profile;

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use profile::{FAR, Placed, secs};
pub use profile::{Profile, ProfileError, Stage};

/// Longest single sleep, so a stop request is noticed promptly.
const MAX_NAP: Duration = Duration::from_millis(50);

/// How far behind its slot an op may start and still count as on time (and be
/// admitted at once to keep the rate): sleep granularity and scheduling noise. On a
/// busy two-core machine a thread waits 10-35 ms for a core now and then; were that
/// late, every such wait would push the schedule back for good (0.2-0.4 s lost in
/// 40 s, measured), while catching up 50 ms of ops (they were due in the same second)
/// is no burst in any window a user measures. A stall longer than that slips.
pub const LATE: Duration = Duration::from_millis(50);

/// A burst guard slower than this guards nothing a run could show.
const SLOWEST_GUARD: Duration = Duration::from_secs(24 * 3600);

/// One pacer's share of a profile's schedule: it admits global ops `first`,
/// `first + step`, ... (the segments of a run share one schedule, each with its own
/// ops).
pub struct Pace {
    stages: Vec<Stage>,
    layout: Vec<Placed>,
    first: u64,
    step: u64,
    /// Ops admitted so far.
    admitted: u64,
    /// The stage of the next op; `None` once the profile is done.
    stage: Option<usize>,
    /// The next op's stage's burst guard: its peak rate (none for unpaced stages).
    limiter: Option<DefaultDirectRateLimiter>,
    clock: DefaultClock,
    /// When the stages of `epoch` (those after its unpaced stage) started.
    origin: Instant,
    epoch: usize,
    /// When the last op was admitted (the start before the first): where an
    /// unpaced stage ends, for the pauses after it.
    last: Instant,
    /// How far the schedule has been pushed back.
    slip: Duration,
}

/// When an admitted op was due, and how late it started.
#[derive(Debug, Clone, Copy)]
pub struct Admission {
    /// Its slot: response time counts from here.
    pub due: Instant,
    pub lag: Duration,
    /// More than [`LATE`] behind.
    pub late: bool,
    /// How far later slots were pushed back for it.
    pub slipped: Duration,
    /// When the next op is due.
    pub next_due: Instant,
}

/// When the next op may go.
#[derive(Debug, Clone, Copy)]
enum Due {
    /// Its slot: it may start late, and is guarded against bursts.
    At(Instant),
    /// As soon as possible from then on: an unpaced op, or the first op of a stage
    /// whose clock starts with it.
    NotBefore(Instant),
}

/// `t + d`, for `d` up to [`FAR`].
fn at(t: Instant, d: Duration) -> Instant {
    t.checked_add(d.min(FAR)).unwrap_or(t)
}

/// A limiter at `per_second`, with a burst allowance of [`LATE`] worth of operations
/// (at least one): enough to absorb sleep granularity, too little to show in any
/// window a user measures.
fn guard(per_second: f64) -> Option<DefaultDirectRateLimiter> {
    let period = Duration::try_from_secs_f64(1.0 / per_second).ok().filter(|p| *p <= SLOWEST_GUARD)?;
    let burst = NonZeroU32::new((per_second * LATE.as_secs_f64()) as u32).unwrap_or(NonZeroU32::MIN);
    Some(RateLimiter::direct(Quota::with_period(period)?.allow_burst(burst)))
}

impl Pace {
    /// `per_second` operations per second, from now on.
    pub fn new(per_second: f64) -> Self {
        Pace::starting(per_second, Instant::now())
    }

    /// A steady schedule whose first slot is `start` (`--rate-limit` in one segment).
    pub fn starting(per_second: f64, start: Instant) -> Self {
        Pace::profile(Profile::constant(per_second), start, 0, 1)
    }

    /// `profile`'s schedule from `start`, for the global ops `first`, `first + step`,
    /// ... (a segment's share: `step` is the number of segments, at least 1).
    pub fn profile(profile: Profile, start: Instant, first: u64, step: u64) -> Self {
        let layout = profile.layout();
        let step = step.max(1);
        let stage = profile.stage_of(first);
        let limiter = stage.and_then(|s| guard(profile.stages()[s].peak() / step as f64));
        Pace {
            stages: profile.stages().to_vec(),
            layout,
            first,
            step,
            admitted: 0,
            stage,
            limiter,
            clock: DefaultClock::default(),
            origin: start,
            epoch: 0,
            last: start,
            slip: Duration::ZERO,
        }
    }

    /// The global index of the next op; `None` once the profile is done.
    pub fn next_op(&self) -> Option<u64> {
        self.stage.map(|_| self.op())
    }

    /// The stage of the next op, so the caller can mark where phases begin; `None`
    /// once the profile is done.
    pub fn stage(&self) -> Option<usize> {
        self.stage
    }

    /// Whether the profile has no more ops for this pacer.
    pub fn done(&self) -> bool {
        self.stage.is_none()
    }

    fn op(&self) -> u64 {
        self.first.saturating_add(self.admitted.saturating_mul(self.step))
    }

    /// The next op's index within its stage.
    fn index_in_stage(&self, stage: usize) -> u64 {
        self.op() - self.layout[stage].first_op
    }

    /// The time between this pacer's slots at the next op: stalls are measured in
    /// it. A ramp's is the one at that op; zero where there are no slots (unpaced
    /// stages, the end).
    pub fn period(&self) -> Duration {
        let Some(s) = self.stage else { return Duration::ZERO };
        let stage = &self.stages[s];
        if !matches!(stage, Stage::Paced { .. }) {
            return Duration::ZERO;
        }
        let k = self.index_in_stage(s);
        let rate = stage.rate_at(k);
        if rate > 0.0 {
            secs(self.step as f64 / rate)
        } else {
            // A ramp from zero, at its first op: the gap to this pacer's next.
            secs(stage.time_of(k.saturating_add(self.step)) - stage.time_of(k))
        }
    }

    fn due(&self) -> Option<Due> {
        let s = self.stage?;
        let placed = self.layout[s];
        let stage = &self.stages[s];
        let into = placed.offset.saturating_add(secs(stage.time_of(self.index_in_stage(s))));
        if placed.epoch != self.epoch {
            // After an unpaced stage: not before its end plus the pauses since.
            return Some(Due::NotBefore(at(self.last, into)));
        }
        let due = at(self.origin, into.saturating_add(self.slip));
        Some(match stage {
            Stage::Paced { .. } => Due::At(due),
            Stage::Pause(_) | Stage::Unpaced { .. } => Due::NotBefore(due),
        })
    }

    /// When the next op is due (now, for one that may go at once or when there is
    /// none).
    pub fn next_due(&self) -> Instant {
        match self.due() {
            Some(Due::At(due)) => due,
            Some(Due::NotBefore(due)) => due.max(Instant::now()),
            None => Instant::now(),
        }
    }

    /// Blocks until the next op's slot; false if `stop` was raised meanwhile or the
    /// profile is [`Pace::done`].
    pub fn wait(&self, stop: &AtomicBool) -> bool {
        loop {
            if stop.load(Ordering::Relaxed) {
                return false;
            }
            let (due, guarded) = match self.due() {
                None => return false,
                Some(Due::At(due)) => (due, true),
                Some(Due::NotBefore(due)) => (due, false),
            };
            let now = Instant::now();
            if now < due {
                std::thread::sleep((due - now).min(MAX_NAP));
                continue;
            }
            match self.limiter.as_ref().filter(|_| guarded).map(|l| l.check()) {
                None | Some(Ok(())) => return true,
                Some(Err(not_until)) => std::thread::sleep(not_until.wait_time_from(self.clock.now()).min(MAX_NAP)),
            }
        }
    }

    /// Admits the op whose slot [`Pace::wait`] waited for, now. `backlog`: how many
    /// admitted ops are still in flight when the op had to wait for them (a stalled
    /// server): they are sent at once when it answers again, so a slipping schedule
    /// leaves them their share of the next slots.
    pub fn admit(&mut self, backlog: u64) -> Admission {
        let now = Instant::now();
        let (due, lag, slipped) = match self.due() {
            Some(Due::At(due)) => {
                let lag = now.saturating_duration_since(due);
                let slipped = if lag > LATE { lag + self.period().mul_f64(backlog as f64) } else { Duration::ZERO };
                self.slip += slipped;
                (due, lag, slipped)
            }
            Some(Due::NotBefore(floor)) => {
                let due = now.max(floor);
                if let Some(s) = self.stage
                    && self.layout[s].epoch != self.epoch
                {
                    // The first op after an unpaced stage starts the clock of the
                    // stages after it: due now, so never late.
                    self.origin = at(self.last, due - floor);
                    self.epoch = self.layout[s].epoch;
                    self.slip = Duration::ZERO;
                }
                (due, Duration::ZERO, Duration::ZERO)
            }
            None => (now, Duration::ZERO, Duration::ZERO),
        };
        self.last = now.max(due);
        self.admitted += 1;
        self.advance();
        Admission { due, lag, late: lag > LATE, slipped, next_due: self.next_due() }
    }

    /// Moves on to the next op's stage, with that stage's burst guard.
    fn advance(&mut self) {
        let Some(current) = self.stage else { return };
        let op = self.op();
        let stage = (current..self.layout.len()).find(|&s| {
            let p = self.layout[s];
            op >= p.first_op && op - p.first_op < p.ops
        });
        if stage != Some(current) {
            self.limiter = stage.and_then(|s| guard(self.stages[s].peak() / self.step as f64));
            self.stage = stage;
        }
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    fn paced(pace: &mut Pace, ops: u64) -> Vec<Admission> {
        let stop = AtomicBool::new(false);
        (0..ops)
            .map(|_| {
                assert!(pace.wait(&stop));
                pace.admit(0)
            })
            .collect()
    }

    #[test]
    fn holds_the_rate_without_drift() {
        let mut pace = Pace::new(2000.0);
        let started = Instant::now();
        let admitted = paced(&mut pace, 1000);
        // 1000 operations at 2000/s: the last is due 0.4995 s after the first.
        let secs = started.elapsed().as_secs_f64();
        assert!((0.49..0.6).contains(&secs), "{secs}");
        assert!(admitted.iter().filter(|a| a.late).count() < 5);
    }

    #[test]
    fn a_stall_slips_the_schedule_instead_of_bursting() {
        let mut pace = Pace::new(1000.0);
        paced(&mut pace, 100);
        std::thread::sleep(Duration::from_millis(300)); // the planner was held up
        let stalled = paced(&mut pace, 1)[0];
        assert!(stalled.late && stalled.lag >= Duration::from_millis(200), "{stalled:?}");
        assert!(stalled.slipped >= stalled.lag);
        // The next 200 ops take their 200 ms: no catching up.
        let resumed = Instant::now();
        let after = paced(&mut pace, 200);
        let secs = resumed.elapsed().as_secs_f64();
        assert!(secs >= 0.19, "caught up in a burst: 200 ops in {secs}s");
        assert!(after.iter().all(|a| !a.late || a.lag < Duration::from_millis(50)));
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn steady(rate: f64, duration: Duration) -> Stage {
        Stage::Paced { from: rate, to: rate, duration }
    }

    fn close(a: Instant, b: Instant) -> bool {
        a.max(b) - a.min(b) < Duration::from_micros(2)
    }

    /// Admits until the profile is done: (global op, admission) pairs.
    fn run_out(pace: &mut Pace) -> Vec<(u64, Admission)> {
        let stop = AtomicBool::new(false);
        let mut admitted = Vec::new();
        while let Some(op) = pace.next_op() {
            assert!(pace.wait(&stop));
            admitted.push((op, pace.admit(0)));
        }
        assert!(pace.done() && !pace.wait(&stop), "nothing left to wait for");
        admitted
    }

    #[test]
    fn a_steady_profile_keeps_the_steady_schedule() {
        // What --rate-limit's segments computed before profiles: segment `first` of
        // `step` at rate/step from start + first/rate.
        let start = Instant::now();
        let (rate, first, step) = (500.0, 2, 4);
        let mut pace = Pace::profile(Profile::constant(rate), start, first, step);
        let share_period = Duration::from_secs_f64(step as f64 / rate);
        assert_eq!(pace.period(), share_period);
        for i in 0..20u64 {
            let expected = start + Duration::from_secs_f64(first as f64 / rate) + share_period.mul_f64(i as f64);
            assert!(close(pace.next_due(), expected), "op {i}");
            assert_eq!(pace.next_op(), Some(first + i * step));
            let admission = pace.admit(0); // early: never late
            assert!(!admission.late && close(admission.due, expected));
        }
        assert_eq!((pace.stage(), pace.done()), (Some(0), false));
        let plain = Pace::starting(rate, start);
        assert!(close(plain.next_due(), start) && plain.period() == Duration::from_secs_f64(1.0 / rate));
    }

    #[test]
    fn a_ramp_admits_slowly_then_faster() {
        // 0 -> 2000/s over 200 ms: 200 ops, a quarter of them in the first half.
        let profile = Profile::new(vec![Stage::Paced { from: 0.0, to: 2000.0, duration: ms(200) }]).unwrap();
        let start = Instant::now();
        let mut pace = Pace::profile(profile.clone(), start, 0, 1);
        assert_eq!(pace.period(), Duration::from_secs_f64(0.0002f64.sqrt()), "the gap to op 1");
        let admitted = run_out(&mut pace);
        let secs = start.elapsed().as_secs_f64();
        assert_eq!(admitted.len(), 200);
        assert!((0.19..0.4).contains(&secs), "{secs}");
        let mut slip = Duration::ZERO;
        for (op, admission) in &admitted {
            assert!(close(admission.due, start + profile.offset(*op).unwrap() + slip), "op {op}");
            slip += admission.slipped;
        }
        let first_half = admitted.iter().filter(|(op, _)| profile.offset(*op).unwrap() < ms(100)).count();
        assert!((49..=51).contains(&first_half), "{first_half}");

        // Mid-ramp, the period is the rate's there: 1000/s at op 50.
        let mut pace = Pace::profile(profile, Instant::now() + ms(500), 0, 1);
        for _ in 0..50 {
            pace.admit(0);
        }
        assert!(pace.period().abs_diff(ms(1)) < Duration::from_micros(1), "{:?}", pace.period());
    }

    #[test]
    fn stages_and_pauses_follow_each_other_in_segments() {
        // 60 ops over 60 ms, a 40 ms pause, 60 ops over 30 ms; this segment admits
        // ops 1, 4, 7, ... of them.
        let profile = Profile::new(vec![steady(1000.0, ms(60)), Stage::Pause(ms(40)), steady(2000.0, ms(30))]).unwrap();
        let start = Instant::now();
        let mut pace = Pace::profile(profile.clone(), start, 1, 3);
        let mut stages = Vec::new();
        let stop = AtomicBool::new(false);
        let mut admitted = Vec::new();
        while let Some(op) = pace.next_op() {
            stages.push(pace.stage().unwrap());
            assert!(pace.wait(&stop));
            admitted.push((op, pace.admit(0)));
        }
        let ops: Vec<u64> = admitted.iter().map(|(op, _)| *op).collect();
        assert_eq!(ops, (1..120).step_by(3).collect::<Vec<_>>());
        assert_eq!(stages.iter().filter(|s| **s == 0).count(), 20);
        assert_eq!(stages.iter().filter(|s| **s == 2).count(), 20);
        let mut slip = Duration::ZERO;
        for (op, admission) in &admitted {
            assert!(close(admission.due, start + profile.offset(*op).unwrap() + slip), "op {op}");
            slip += admission.slipped;
        }
        // Op 61 is due 100 ms in (60 ms, then the pause), 1.5 ms after stage 2's start.
        assert_eq!(profile.offset(61), Some(Duration::from_micros(100_500)));
        let secs = start.elapsed().as_secs_f64();
        assert!((0.125..0.3).contains(&secs), "{secs}");
        assert!(pace.done() && pace.stage().is_none() && pace.period() == Duration::ZERO);
    }

    #[test]
    fn the_stage_after_an_unpaced_one_starts_when_its_first_op_is_admitted() {
        let profile = Profile::new(vec![
            Stage::Unpaced { ops: 5 },
            steady(1000.0, ms(20)),
            Stage::Unpaced { ops: 2 },
            Stage::Pause(ms(60)),
            steady(1000.0, ms(5)),
        ])
        .unwrap();
        let stop = AtomicBool::new(false);
        let mut pace = Pace::profile(profile, Instant::now(), 0, 1);
        for _ in 0..5 {
            assert_eq!((pace.stage(), pace.period()), (Some(0), Duration::ZERO));
            assert!(pace.wait(&stop));
            let a = pace.admit(3);
            assert!(!a.late && a.lag.is_zero() && a.slipped.is_zero());
        }
        // The unpaced ops are slow to drain: the paced stage starts late, not its
        // first op.
        std::thread::sleep(ms(40));
        assert!(pace.wait(&stop));
        let first = pace.admit(0);
        assert!(!first.late && first.lag.is_zero(), "{first:?}");
        assert!(first.due.elapsed() < ms(10));
        assert_eq!(first.next_due - first.due, ms(1));
        let paced: Vec<Admission> = (1..20)
            .map(|_| {
                assert!(pace.wait(&stop));
                pace.admit(0)
            })
            .collect();
        let mut slip = Duration::ZERO;
        for (k, a) in paced.iter().enumerate() {
            assert!(close(a.due, first.due + ms(k as u64 + 1) + slip), "op {k}");
            slip += a.slipped;
        }
        // The pause after the next unpaced stage counts from its last op.
        pace.admit(0);
        let last_unpaced = pace.admit(0);
        assert_eq!(pace.stage(), Some(4));
        assert!(pace.wait(&stop));
        let after_pause = pace.admit(0);
        assert!(after_pause.due >= last_unpaced.due + ms(60), "{after_pause:?} {last_unpaced:?}");
        assert!(after_pause.due - last_unpaced.due < ms(90));
        assert!(!after_pause.late);
    }
}
