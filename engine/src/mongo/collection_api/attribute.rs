//! Per-op matched/modified counts from a command's totals.
//!
//! The collection-level `update` and `delete` commands answer with totals only (`n`,
//! `nModified`). Every op carries the model's prediction; when the predictions add up
//! to the totals they are taken as they are, else the totals are spread over the ops
//! so that they stay exact, and those ops are marked as inferred.

/// The per-op counts of one command's executed ops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribution {
    /// (matched, modified) per executed op, in order.
    pub counts: Vec<(u64, u64)>,
    /// Positions (in the executed ops) whose counts are not an exact prediction.
    pub inferred: Vec<usize>,
    /// The predictions contradicted the totals (or there were no totals): worth a
    /// warning, since the model and the server disagree somewhere in the command.
    pub disagreed: bool,
}

/// Counts for ops predicted as `(matched, modified)` (`None`: unknown) whose command
/// reported `totals` (`(n, nModified)`; `None` when the reply lacked them). Each op
/// writes one document at most (`multi: false`, `limit: 1`), so its counts are 0 or 1
/// and modified never exceeds matched.
pub fn attribute(predictions: &[(Option<u64>, Option<u64>)], totals: Option<(u64, u64)>) -> Attribution {
    let exact: Option<Vec<(u64, u64)>> =
        predictions.iter().map(|&(m, d)| Some((m?.min(1), d?.min(m?.min(1))))).collect();
    if let (Some(exact), Some((n, n_modified))) = (&exact, totals) {
        let (m, d) = sums(exact);
        if m == n && d == n_modified {
            return Attribution { counts: exact.clone(), inferred: Vec::new(), disagreed: false };
        }
    }
    // Start from the predictions, unknown as 1, and move the difference onto the last ops.
    let mut matched: Vec<u64> = predictions.iter().map(|p| p.0.unwrap_or(1).min(1)).collect();
    let Some((n, n_modified)) = totals else {
        let counts: Vec<(u64, u64)> =
            predictions.iter().zip(&matched).map(|(p, &m)| (m, p.1.unwrap_or(1).min(m))).collect();
        return Attribution { counts, inferred: (0..predictions.len()).collect(), disagreed: true };
    };
    let caps = vec![1; predictions.len()];
    let matched_moved = spread(&mut matched, &caps, n);
    let mut modified: Vec<u64> = predictions.iter().zip(&matched).map(|(p, &m)| p.1.unwrap_or(1).min(m)).collect();
    let modified_moved = spread(&mut modified, &matched, n_modified);
    let disagreed = matched_moved || modified_moved;
    let inferred = if disagreed {
        (0..predictions.len()).collect()
    } else {
        predictions.iter().enumerate().filter(|(_, p)| p.0.is_none() || p.1.is_none()).map(|(i, _)| i).collect()
    };
    Attribution { counts: matched.into_iter().zip(modified).collect(), inferred, disagreed }
}

fn sums(counts: &[(u64, u64)]) -> (u64, u64) {
    counts.iter().fold((0, 0), |(m, d), &(a, b)| (m + a, d + b))
}

/// Raises or lowers `values` (each within 0..=its cap), last ones first, until they sum
/// to `total` or can move no further. Whether anything moved.
fn spread(values: &mut [u64], caps: &[u64], total: u64) -> bool {
    let sum: u64 = values.iter().sum();
    let mut moved = false;
    if sum < total {
        let mut missing = total - sum;
        for (v, &cap) in values.iter_mut().zip(caps).rev() {
            let step = (cap.saturating_sub(*v)).min(missing);
            *v += step;
            missing -= step;
            moved |= step > 0;
        }
    } else if sum > total {
        let mut extra = sum - total;
        for v in values.iter_mut().rev() {
            let step = (*v).min(extra);
            *v -= step;
            extra -= step;
            moved |= step > 0;
        }
    }
    moved
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predictions_that_add_up_are_taken_as_they_are() {
        let p = [(Some(1), Some(1)), (Some(0), Some(0)), (Some(1), Some(0))];
        let a = attribute(&p, Some((2, 1)));
        assert_eq!(a.counts, vec![(1, 1), (0, 0), (1, 0)]);
        assert!(a.inferred.is_empty());
        assert!(!a.disagreed);
    }

    #[test]
    fn a_shortfall_comes_off_the_last_ops() {
        // The model thought all three matched and changed; the server matched two,
        // changed one.
        let p = [(Some(1), Some(1)); 3];
        let a = attribute(&p, Some((2, 1)));
        assert_eq!(a.counts, vec![(1, 1), (1, 0), (0, 0)]);
        assert_eq!(a.inferred, vec![0, 1, 2]);
        assert!(a.disagreed);
    }

    #[test]
    fn a_surplus_goes_onto_the_last_ops() {
        let p = [(Some(0), Some(0)), (Some(0), Some(0)), (Some(1), Some(0))];
        let a = attribute(&p, Some((3, 2)));
        assert_eq!(a.counts, vec![(1, 0), (1, 1), (1, 1)]);
        assert!(a.disagreed);
        assert_eq!(sums(&a.counts), (3, 2));
    }

    #[test]
    fn unknown_predictions_count_as_one_and_are_inferred() {
        let p = [(None, None), (Some(1), Some(1)), (Some(1), None)];
        let a = attribute(&p, Some((3, 3)));
        assert_eq!(a.counts, vec![(1, 1), (1, 1), (1, 1)]);
        assert_eq!(a.inferred, vec![0, 2], "the known prediction that agrees is exact");
        assert!(!a.disagreed);
        let a = attribute(&p, Some((2, 1)));
        assert_eq!(sums(&a.counts), (2, 1));
        assert_eq!(a.inferred, vec![0, 1, 2]);
        assert!(a.disagreed);
    }

    #[test]
    fn modified_never_exceeds_matched_and_totals_stay_exact() {
        for n in 0..=4u64 {
            for n_modified in 0..=n {
                let p = [(Some(1), Some(0)), (None, None), (Some(0), Some(0)), (Some(1), Some(1))];
                let a = attribute(&p, Some((n, n_modified)));
                assert_eq!(sums(&a.counts), (n, n_modified), "totals {n}/{n_modified}: {a:?}");
                assert!(a.counts.iter().all(|&(m, d)| m <= 1 && d <= m), "{a:?}");
            }
        }
    }

    #[test]
    fn without_totals_every_op_is_inferred() {
        let a = attribute(&[(Some(1), Some(1)), (Some(0), Some(0))], None);
        assert_eq!(a.counts, vec![(1, 1), (0, 0)]);
        assert_eq!(a.inferred, vec![0, 1]);
        assert!(a.disagreed);
    }
}
