//! `--rate-limit`: a constant schedule. Op `i` is due at `start + i / rate`; the
//! planner admits it then (never before: governor's GCRA guards the pace), and its
//! response time counts from that slot, so time an op waits behind a slow or stalled
//! server shows in its latency (no coordinated omission).
//!
//! When the run falls more than [`LATE`] behind (the server stalled, queues filled,
//! the planner had to wait), the schedule slips: later slots move back by the lag
//! (and, after a stall, by the backlog of ops still in flight, which go out at once
//! when the server answers), so the run goes on at the target rate and never catches
//! up in a burst. The lag, the ops that started late and the total slip
//! are reported.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// Longest single sleep, so a stop request is noticed promptly.
const MAX_NAP: Duration = Duration::from_millis(50);

/// How far behind its slot an op may start and still count as on time (and be
/// admitted at once to keep the rate): sleep granularity and scheduling noise.
pub const LATE: Duration = Duration::from_millis(10);

pub struct Pace {
    limiter: DefaultDirectRateLimiter,
    clock: DefaultClock,
    period: Duration,
    start: Instant,
    /// Ops admitted so far.
    admitted: u64,
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

impl Pace {
    /// `per_second` operations per second. The limiter's burst allowance is [`LATE`]
    /// worth of operations (at least one): enough to absorb sleep granularity, too
    /// little to show in any window a user measures.
    pub fn new(per_second: f64) -> Self {
        Pace::starting(per_second, Instant::now())
    }

    /// A schedule whose first slot is `start` (the segments of a run share one
    /// schedule, each with its own phase).
    pub fn starting(per_second: f64, start: Instant) -> Self {
        let period = Duration::from_secs_f64(1.0 / per_second);
        let burst = NonZeroU32::new((per_second * LATE.as_secs_f64()) as u32).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::with_period(period).expect("a positive rate gives a positive period").allow_burst(burst);
        Pace {
            limiter: RateLimiter::direct(quota),
            clock: DefaultClock::default(),
            period,
            start,
            admitted: 0,
            slip: Duration::ZERO,
        }
    }

    /// The time between two slots.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// When the next op is due.
    pub fn next_due(&self) -> Instant {
        self.start + self.slip + self.period.mul_f64(self.admitted as f64)
    }

    /// Blocks until the next op's slot; false if `stop` was raised meanwhile.
    pub fn wait(&self, stop: &AtomicBool) -> bool {
        loop {
            if stop.load(Ordering::Relaxed) {
                return false;
            }
            let due = self.next_due();
            let now = Instant::now();
            if now < due {
                std::thread::sleep((due - now).min(MAX_NAP));
                continue;
            }
            match self.limiter.check() {
                Ok(()) => return true,
                Err(not_until) => std::thread::sleep(not_until.wait_time_from(self.clock.now()).min(MAX_NAP)),
            }
        }
    }

    /// Admits the op whose slot [`Pace::wait`] waited for, now. `backlog`: how many
    /// admitted ops are still in flight when the op had to wait for them (a stalled
    /// server): they are sent at once when it answers again, so a slipping schedule
    /// leaves them their share of the next slots.
    pub fn admit(&mut self, backlog: u64) -> Admission {
        let due = self.next_due();
        let lag = Instant::now().saturating_duration_since(due);
        let late = lag > LATE;
        let slipped = if late { lag + self.period.mul_f64(backlog as f64) } else { Duration::ZERO };
        self.slip += slipped;
        self.admitted += 1;
        Admission { due, lag, late, slipped, next_due: self.next_due() }
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
}
