//! A rate profile: the stages a paced run goes through (ramps, steady phases,
//! pauses, flat-out bursts). Ops are numbered from 0 across the stages, and each
//! stage's op count follows from its rates and duration alone, so every segment of
//! a run and every report agrees on which op belongs to which stage.

use std::time::Duration;

/// One stage of a [`Profile`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stage {
    /// Ops per second going linearly from `from` to `to` over `duration` (a steady
    /// phase when they are equal). [`Stage::ENDLESS`] as the duration: a steady phase
    /// that never ends (the last stage only).
    Paced { from: f64, to: f64, duration: Duration },
    /// No ops for this long: the next stage starts that much later.
    Pause(Duration),
    /// `ops` ops as fast as the server takes them: their time cannot be known
    /// beforehand, so the stage after one starts when its first op is admitted.
    Unpaced { ops: u64 },
}

/// A sequence of stages, validated by [`Profile::new`].
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    stages: Vec<Stage>,
}

/// Why a list of stages is not a profile. `stage` is the index in that list, from 0.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProfileError {
    #[error("a profile needs at least one stage")]
    Empty,
    #[error("stage {stage}: the rate {rate} is not a finite number of ops per second of 0 or more")]
    BadRate { stage: usize, rate: f64 },
    #[error("stage {stage}: the rate is zero from start to end (a pause is a stage of its own)")]
    ZeroRate { stage: usize },
    #[error("stage {stage}: the duration must be more than zero")]
    ZeroDuration { stage: usize },
    #[error("stage {stage}: only the last stage may go on forever")]
    EndlessNotLast { stage: usize },
    #[error("stage {stage}: a stage that goes on forever cannot ramp (its two rates differ)")]
    EndlessRamp { stage: usize },
    #[error("stage {stage}: a pause must end")]
    EndlessPause { stage: usize },
}

/// Where a stage sits: its ops and its start within its epoch (the stretch of
/// stages between two unpaced ones, which runs on one clock).
#[derive(Debug, Clone, Copy)]
pub(super) struct Placed {
    pub first_op: u64,
    pub ops: u64,
    /// How many unpaced stages come before it: the same number, the same clock.
    pub epoch: usize,
    /// When it starts, from its epoch's start.
    pub offset: Duration,
}

/// Longer than any run: keeps instants and durations from overflowing on
/// endless stages.
pub(super) const FAR: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// A time in seconds as a duration, saturating where it overflows.
pub(super) fn secs(s: f64) -> Duration {
    Duration::try_from_secs_f64(s).unwrap_or(if s > 0.0 { FAR } else { Duration::ZERO }).min(FAR)
}

impl Stage {
    /// The duration of a stage that never ends.
    pub const ENDLESS: Duration = Duration::MAX;

    /// The stage at `factor` times its rates; an unpaced stage keeps that share of
    /// its ops. `factor` is zero or more and finite.
    pub fn scaled(&self, factor: f64) -> Stage {
        match *self {
            Stage::Paced { from, to, duration } => Stage::Paced { from: from * factor, to: to * factor, duration },
            Stage::Pause(d) => Stage::Pause(d),
            Stage::Unpaced { ops } => Stage::Unpaced { ops: (ops as f64 * factor).round() as u64 },
        }
    }

    /// How many ops it holds: deterministic, so that segments and reports agree
    /// without running it. `u64::MAX` for an endless stage.
    pub fn ops(&self) -> u64 {
        match *self {
            Stage::Paced { duration, .. } if duration == Stage::ENDLESS => u64::MAX,
            Stage::Paced { from, to, duration } => ((from + to) / 2.0 * duration.as_secs_f64()).round() as u64,
            Stage::Pause(_) => 0,
            Stage::Unpaced { ops } => ops,
        }
    }

    /// Whether it goes on forever.
    pub fn is_endless(&self) -> bool {
        matches!(self, Stage::Paced { duration, .. } if *duration == Stage::ENDLESS)
    }

    /// How long it holds the next stage back; an unpaced stage's length is unknown
    /// (the next stage starts a new epoch).
    fn span(&self) -> Duration {
        match *self {
            Stage::Paced { duration, .. } | Stage::Pause(duration) => duration.min(FAR),
            Stage::Unpaced { .. } => Duration::ZERO,
        }
    }

    /// Seconds from the stage's start to its op `k`: when the count of ops since the
    /// start reaches `k`. Zero outside paced stages.
    pub(super) fn time_of(&self, k: u64) -> f64 {
        let Stage::Paced { from, to, duration } = *self else { return 0.0 };
        let k = k as f64;
        if from == to || self.is_endless() {
            return k / from;
        }
        if k == 0.0 {
            return 0.0;
        }
        // from·t + a·t²/2 = k, rationalised so a ramp close to flat loses no
        // precision and one from 0 needs no special case.
        let a = (to - from) / duration.as_secs_f64();
        let root = (from * from + 2.0 * a * k).max(0.0).sqrt();
        2.0 * k / (from + root)
    }

    /// The rate when its op `k` is due; 0 outside paced stages.
    pub(super) fn rate_at(&self, k: u64) -> f64 {
        let Stage::Paced { from, to, duration } = *self else { return 0.0 };
        if from == to || self.is_endless() {
            return from;
        }
        let a = (to - from) / duration.as_secs_f64();
        (from * from + 2.0 * a * k as f64).max(0.0).sqrt()
    }

    /// The highest rate it reaches.
    pub fn peak(&self) -> f64 {
        match *self {
            Stage::Paced { from, to, .. } => from.max(to),
            _ => 0.0,
        }
    }

    fn check(&self, stage: usize, last: bool) -> Result<(), ProfileError> {
        match *self {
            Stage::Paced { from, to, duration } => {
                for rate in [from, to] {
                    if !rate.is_finite() || rate < 0.0 {
                        return Err(ProfileError::BadRate { stage, rate });
                    }
                }
                if from == 0.0 && to == 0.0 {
                    return Err(ProfileError::ZeroRate { stage });
                }
                if duration.is_zero() {
                    return Err(ProfileError::ZeroDuration { stage });
                }
                if self.is_endless() {
                    if !last {
                        return Err(ProfileError::EndlessNotLast { stage });
                    }
                    if from != to {
                        return Err(ProfileError::EndlessRamp { stage });
                    }
                }
            }
            Stage::Pause(duration) if duration.is_zero() => return Err(ProfileError::ZeroDuration { stage }),
            Stage::Pause(duration) if duration == Stage::ENDLESS => {
                return Err(ProfileError::EndlessPause { stage });
            }
            Stage::Pause(_) | Stage::Unpaced { .. } => {}
        }
        Ok(())
    }
}

impl Profile {
    /// `--rate-limit`: one steady stage that never ends. `rate` must be positive and
    /// finite (the caller has checked it).
    pub fn constant(rate: f64) -> Self {
        Profile { stages: vec![Stage::Paced { from: rate, to: rate, duration: Stage::ENDLESS }] }
    }

    /// A scenario's stages, in order, checked so that every op has a finite, known
    /// place in the schedule.
    pub fn new(stages: Vec<Stage>) -> Result<Self, ProfileError> {
        if stages.is_empty() {
            return Err(ProfileError::Empty);
        }
        let last = stages.len() - 1;
        for (i, stage) in stages.iter().enumerate() {
            stage.check(i, i == last)?;
        }
        Ok(Profile { stages })
    }

    /// The stages, in order.
    pub fn stages(&self) -> &[Stage] {
        &self.stages
    }

    /// The same stages at `factor` times the rates (a collection's share of a
    /// scenario's rate): unpaced stages keep their share of the ops. `factor` is
    /// positive and finite.
    pub fn scaled(&self, factor: f64) -> Profile {
        Profile { stages: self.stages.iter().map(|stage| stage.scaled(factor)).collect() }
    }

    /// How long the pauses at its end last: a run that ends with them stays open
    /// that long after its last op.
    pub fn closing_pause(&self) -> Duration {
        self.stages
            .iter()
            .rev()
            .map_while(|s| match s {
                Stage::Pause(d) => Some(*d),
                _ => None,
            })
            .sum()
    }

    /// Its operations over its time, when every stage is paced (the target a run's
    /// figures are checked against).
    pub fn mean_rate(&self) -> Option<f64> {
        let mut time = 0.0;
        for stage in &self.stages {
            match stage {
                Stage::Paced { duration, .. } | Stage::Pause(duration) => time += duration.as_secs_f64(),
                Stage::Unpaced { .. } => return None,
            }
        }
        Some(self.total_ops()? as f64 / time).filter(|r| r.is_finite())
    }

    /// How many ops the whole profile holds; `None` if it never ends.
    pub fn total_ops(&self) -> Option<u64> {
        self.stages.iter().try_fold(0u64, |sum, stage| (!stage.is_endless()).then(|| sum.saturating_add(stage.ops())))
    }

    /// Which stage global op `op` belongs to (pauses hold none); `None` past the end.
    pub fn stage_of(&self, op: u64) -> Option<usize> {
        self.layout().iter().position(|p| op >= p.first_op && op - p.first_op < p.ops)
    }

    /// The global index of the stage's first op (where it would be, for a stage
    /// without ops).
    pub fn stage_start_op(&self, stage: usize) -> u64 {
        self.stages[..stage.min(self.stages.len())].iter().fold(0u64, |sum, s| sum.saturating_add(s.ops()))
    }

    /// When op `op` is due from the profile's start, for reports and tests; `None` if
    /// it is past the end, unpaced, or after an unpaced stage (whose end is only
    /// known when the run gets there).
    pub fn offset(&self, op: u64) -> Option<Duration> {
        let stage = self.stage_of(op)?;
        let placed = self.layout()[stage];
        if placed.epoch > 0 || !matches!(self.stages[stage], Stage::Paced { .. }) {
            return None;
        }
        Some(placed.offset.saturating_add(secs(self.stages[stage].time_of(op - placed.first_op))).min(FAR))
    }

    /// Every stage's ops and start.
    pub(super) fn layout(&self) -> Vec<Placed> {
        let mut placed = Vec::with_capacity(self.stages.len());
        let (mut first_op, mut epoch, mut offset) = (0u64, 0usize, Duration::ZERO);
        for stage in &self.stages {
            let ops = stage.ops();
            placed.push(Placed { first_op, ops, epoch, offset });
            first_op = first_op.saturating_add(ops);
            if matches!(stage, Stage::Unpaced { .. }) {
                epoch += 1;
                offset = Duration::ZERO;
            } else {
                offset = offset.saturating_add(stage.span()).min(FAR);
            }
        }
        placed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn ramp(from: f64, to: f64, duration: Duration) -> Stage {
        Stage::Paced { from, to, duration }
    }

    #[test]
    fn a_ramp_holds_the_ops_its_rates_average_to() {
        let up = Profile::new(vec![ramp(0.0, 100.0, ms(2000))]).unwrap();
        assert_eq!(up.stages()[0].ops(), 100);
        assert_eq!(up.total_ops(), Some(100));
        let offsets: Vec<Duration> = (0..100).map(|op| up.offset(op).unwrap()).collect();
        assert_eq!(offsets[0], Duration::ZERO);
        assert!(offsets.windows(2).all(|w| w[0] < w[1]), "offsets go forward");
        assert!(offsets[99] < ms(2000), "{:?}", offsets[99]);
        // Half-way, the rate is 50/s and a quarter of the ops have gone.
        let by_one_second = offsets.iter().filter(|o| **o < ms(1000)).count();
        assert!((24..=26).contains(&by_one_second), "{by_one_second}");
        assert_eq!(up.offset(100), None, "past the end");

        // Down: most of the ops in the first half.
        let down = Profile::new(vec![ramp(100.0, 0.0, ms(2000))]).unwrap();
        assert_eq!(down.total_ops(), Some(100));
        let by_one_second = (0..100).filter(|&op| down.offset(op).unwrap() < ms(1000)).count();
        assert!((74..=76).contains(&by_one_second), "{by_one_second}");
        assert!(down.offset(99).unwrap() < ms(2000));

        // A ramp that does not start at zero, and counts that round.
        let mid = Profile::new(vec![ramp(50.0, 150.0, ms(1000)), ramp(1.0, 2.0, ms(1000))]).unwrap();
        assert_eq!(mid.stages().iter().map(Stage::ops).collect::<Vec<_>>(), [100, 2]);
        // Op k is due where from·t + a·t²/2 reaches k.
        for op in [1, 10, 50, 99] {
            let t = mid.offset(op).unwrap().as_secs_f64();
            let count = 50.0 * t + 100.0 * t * t / 2.0;
            assert!((count - op as f64).abs() < 1e-6, "op {op} at {t}s: {count}");
        }
    }

    #[test]
    fn a_pause_moves_the_stages_after_it() {
        let p = Profile::new(vec![ramp(100.0, 100.0, ms(1000)), Stage::Pause(ms(500)), ramp(100.0, 100.0, ms(1000))])
            .unwrap();
        assert_eq!(p.total_ops(), Some(200));
        assert_eq!(p.offset(99), Some(ms(990)));
        assert_eq!(p.offset(100), Some(ms(1500)));
        assert_eq!(p.offset(150), Some(ms(2000)));
        assert_eq!((p.stage_of(99), p.stage_of(100)), (Some(0), Some(2)));
    }

    #[test]
    fn stages_own_their_ops_and_unpaced_ones_have_no_schedule() {
        let p = Profile::new(vec![
            ramp(10.0, 10.0, ms(1000)),
            Stage::Pause(ms(1000)),
            ramp(0.1, 0.1, ms(1000)), // rounds to no op
            Stage::Unpaced { ops: 5 },
            ramp(10.0, 10.0, Stage::ENDLESS),
        ])
        .unwrap();
        assert_eq!(p.total_ops(), None);
        let stages: Vec<Option<usize>> = [0, 9, 10, 14, 15, 1_000_000_000].iter().map(|&op| p.stage_of(op)).collect();
        assert_eq!(stages, [Some(0), Some(0), Some(3), Some(3), Some(4), Some(4)]);
        let starts: Vec<u64> = (0..6).map(|s| p.stage_start_op(s)).collect();
        assert_eq!(starts, [0, 10, 10, 10, 15, u64::MAX]);
        assert_eq!(p.offset(9), Some(ms(900)));
        assert_eq!(p.offset(10), None, "unpaced");
        assert_eq!(p.offset(15), None, "after an unpaced stage");

        let constant = Profile::constant(250.0);
        assert_eq!(constant.total_ops(), None);
        assert_eq!(constant.stage_of(u64::MAX - 1), Some(0));
        assert_eq!(constant.offset(1000), Some(ms(4000)));
    }

    #[test]
    fn scaling_shares_the_rates_and_the_unpaced_ops() {
        let p =
            Profile::new(vec![ramp(0.0, 100.0, ms(2000)), Stage::Pause(ms(300)), Stage::Unpaced { ops: 10 }]).unwrap();
        let quarter = p.scaled(0.25);
        assert_eq!(
            quarter.stages(),
            [ramp(0.0, 25.0, ms(2000)), Stage::Pause(ms(300)), Stage::Unpaced { ops: 3 }] // 2.5 rounds up
        );
        assert_eq!(quarter.total_ops(), Some(28));
        assert_eq!(Profile::constant(100.0).scaled(0.5), Profile::constant(50.0));
    }

    #[test]
    fn bad_stages_are_named() {
        let err = |stages| Profile::new(stages).unwrap_err();
        assert_eq!(err(vec![]), ProfileError::Empty);
        assert_eq!(
            err(vec![Stage::Pause(ms(1)), ramp(1.0, -1.0, ms(1))]),
            ProfileError::BadRate { stage: 1, rate: -1.0 }
        );
        assert!(matches!(err(vec![ramp(f64::NAN, 1.0, ms(1))]), ProfileError::BadRate { stage: 0, .. }));
        assert!(matches!(err(vec![ramp(f64::INFINITY, 1.0, ms(1))]), ProfileError::BadRate { stage: 0, .. }));
        assert_eq!(err(vec![ramp(0.0, 0.0, ms(1))]), ProfileError::ZeroRate { stage: 0 });
        assert_eq!(err(vec![ramp(1.0, 2.0, Duration::ZERO)]), ProfileError::ZeroDuration { stage: 0 });
        assert_eq!(
            err(vec![Stage::Unpaced { ops: 1 }, Stage::Pause(Duration::ZERO)]),
            ProfileError::ZeroDuration { stage: 1 }
        );
        assert_eq!(err(vec![Stage::Pause(Stage::ENDLESS)]), ProfileError::EndlessPause { stage: 0 });
        assert_eq!(
            err(vec![ramp(1.0, 1.0, Stage::ENDLESS), Stage::Unpaced { ops: 1 }]),
            ProfileError::EndlessNotLast { stage: 0 }
        );
        assert_eq!(err(vec![ramp(1.0, 2.0, Stage::ENDLESS)]), ProfileError::EndlessRamp { stage: 0 });
        assert_eq!(
            ProfileError::ZeroRate { stage: 2 }.to_string(),
            "stage 2: the rate is zero from start to end (a pause is a stage of its own)"
        );
        assert!(Profile::new(vec![ramp(0.0, 5.0, ms(10)), Stage::Unpaced { ops: 0 }]).is_ok());
    }
}
