//! `--rate-limit`: operations are admitted at a steady pace (GCRA, via governor), with
//! no drift: the limiter keeps absolute time, unlike sleeping a period per operation.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// Longest single sleep, so a stop request is noticed promptly.
const MAX_NAP: Duration = Duration::from_millis(50);

pub struct Pace {
    limiter: DefaultDirectRateLimiter,
    clock: DefaultClock,
}

impl Pace {
    /// `per_second` operations per second. The burst allowance is 10 ms worth of
    /// operations (at least one): enough to absorb sleep granularity at high rates,
    /// too little to show in any window a user measures.
    pub fn new(per_second: f64) -> Self {
        let period = Duration::from_secs_f64(1.0 / per_second);
        let burst = NonZeroU32::new(((per_second / 100.0) as u32).max(1)).expect("at least one");
        let quota = Quota::with_period(period).expect("a positive rate gives a positive period").allow_burst(burst);
        Pace { limiter: RateLimiter::direct(quota), clock: DefaultClock::default() }
    }

    /// Blocks until the next operation may go; false if `stop` was raised meanwhile.
    pub fn wait(&self, stop: &AtomicBool) -> bool {
        loop {
            if stop.load(Ordering::Relaxed) {
                return false;
            }
            match self.limiter.check() {
                Ok(()) => return true,
                Err(not_until) => std::thread::sleep(not_until.wait_time_from(self.clock.now()).min(MAX_NAP)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn holds_the_rate_without_drift() {
        let pace = Pace::new(2000.0);
        let stop = AtomicBool::new(false);
        let started = Instant::now();
        for _ in 0..1000 {
            assert!(pace.wait(&stop));
        }
        // 1000 operations at 2000/s take 0.5 s less the initial burst of 20.
        let secs = started.elapsed().as_secs_f64();
        assert!((0.45..0.6).contains(&secs), "{secs}");
    }
}
