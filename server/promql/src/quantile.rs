//! Quantile estimation: the φ-quantile of a set of floats (`quantile`, `quantile_over_time`) and
//! of classic `le` buckets (`histogram_quantile`), with Prometheus's bucket coalescing,
//! monotonicity fix and NaN/out-of-range rules.

/// Relative tolerance under which bucket count differences are treated as float noise.
const SMALL_DELTA_TOLERANCE: f64 = 1e-12;

/// Sorts floats ascending with NaN first, the order Prometheus's value heap sorts into.
pub(crate) fn sort_nan_first(values: &mut [f64]) {
    values.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        _ => a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal),
    });
}

/// The φ-quantile with linear interpolation between closest ranks.
pub(crate) fn quantile(q: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    sort_nan_first(values);
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight
}

/// Prometheus's `almost.Equal`: equal within relative `epsilon`, NaN equals NaN.
pub(crate) fn almost_equal(a: f64, b: f64, epsilon: f64) -> bool {
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < f64::MIN_POSITIVE {
        return diff < epsilon * f64::MIN_POSITIVE;
    }
    diff / abs_sum.min(f64::MAX) < epsilon
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Bucket {
    pub upper_bound: f64,
    pub count: f64,
}

/// The result of a bucket quantile: the value and whether the input needed the monotonicity fix.
pub(crate) struct BucketQuantile {
    pub value: f64,
    pub forced_monotonic: bool,
}

/// `histogram_quantile` over classic buckets.
pub(crate) fn bucket_quantile(q: f64, buckets: &mut Vec<Bucket>) -> BucketQuantile {
    let plain = |value| BucketQuantile { value, forced_monotonic: false };
    if q.is_nan() {
        return plain(f64::NAN);
    }
    if q < 0.0 {
        return plain(f64::NEG_INFINITY);
    }
    if q > 1.0 {
        return plain(f64::INFINITY);
    }
    buckets.sort_by(|a, b| a.upper_bound.partial_cmp(&b.upper_bound).unwrap_or(std::cmp::Ordering::Equal));
    match buckets.last() {
        Some(b) if b.upper_bound == f64::INFINITY => {}
        _ => return plain(f64::NAN),
    }
    coalesce(buckets);
    let forced_monotonic = ensure_monotonic(buckets);
    let with = |value| BucketQuantile { value, forced_monotonic };
    if buckets.len() < 2 {
        return with(f64::NAN);
    }
    let observations = buckets[buckets.len() - 1].count;
    if observations == 0.0 {
        return with(f64::NAN);
    }
    let mut rank = q * observations;
    let n = buckets.len() - 1;
    let b = buckets[..n].partition_point(|x| x.count < rank);
    if b == n {
        return with(buckets[n - 1].upper_bound);
    }
    if b == 0 && buckets[0].upper_bound <= 0.0 {
        return with(buckets[0].upper_bound);
    }
    let mut start = 0.0;
    let end = buckets[b].upper_bound;
    let mut count = buckets[b].count;
    if b > 0 {
        start = buckets[b - 1].upper_bound;
        count -= buckets[b - 1].count;
        rank -= buckets[b - 1].count;
    }
    with(start + (end - start) * (rank / count))
}

/// Merges buckets with the same upper bound (sorted input), summing their counts.
fn coalesce(buckets: &mut Vec<Bucket>) {
    let mut out: Vec<Bucket> = Vec::with_capacity(buckets.len());
    for b in buckets.iter() {
        match out.last_mut() {
            Some(last) if last.upper_bound == b.upper_bound => last.count += b.count,
            _ => out.push(*b),
        }
    }
    *buckets = out;
}

/// Makes cumulative counts monotonic: tiny differences are float noise and flattened silently,
/// real decreases are clamped and reported.
fn ensure_monotonic(buckets: &mut [Bucket]) -> bool {
    let mut forced = false;
    let Some(first) = buckets.first() else { return false };
    let mut prev = first.count;
    for b in buckets.iter_mut().skip(1) {
        let curr = b.count;
        if curr == prev {
            continue;
        }
        if almost_equal(prev, curr, SMALL_DELTA_TOLERANCE) {
            b.count = prev;
            continue;
        }
        if curr < prev {
            b.count = prev;
            forced = true;
            continue;
        }
        prev = curr;
    }
    forced
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bk(v: &[(f64, f64)]) -> Vec<Bucket> {
        v.iter().map(|&(upper_bound, count)| Bucket { upper_bound, count }).collect()
    }

    #[test]
    fn interpolates_inside_bucket() {
        let mut b = bk(&[(0.1, 10.0), (0.2, 20.0), (f64::INFINITY, 20.0)]);
        let r = bucket_quantile(0.75, &mut b);
        assert!((r.value - 0.15).abs() < 1e-12);
    }

    #[test]
    fn rank_in_inf_bucket_returns_second_highest_bound() {
        let mut b = bk(&[(1.0, 1.0), (2.0, 2.0), (f64::INFINITY, 10.0)]);
        assert_eq!(bucket_quantile(0.99, &mut b).value, 2.0);
    }

    #[test]
    fn missing_inf_bucket_is_nan_and_out_of_range_q_is_inf() {
        let mut b = bk(&[(1.0, 1.0), (2.0, 2.0)]);
        assert!(bucket_quantile(0.5, &mut b).value.is_nan());
        let mut b = bk(&[(1.0, 1.0), (f64::INFINITY, 2.0)]);
        assert_eq!(bucket_quantile(1.5, &mut b).value, f64::INFINITY);
        assert_eq!(bucket_quantile(-0.5, &mut b).value, f64::NEG_INFINITY);
        assert!(bucket_quantile(f64::NAN, &mut b).value.is_nan());
    }

    #[test]
    fn non_monotonic_buckets_are_fixed_and_reported() {
        let mut b = bk(&[(1.0, 5.0), (2.0, 3.0), (f64::INFINITY, 10.0)]);
        let r = bucket_quantile(0.5, &mut b);
        assert!(r.forced_monotonic);
        assert_eq!(r.value, 1.0);
    }

    #[test]
    fn quantile_of_values() {
        let mut v = vec![4.0, 1.0, 3.0, 2.0];
        assert_eq!(quantile(0.5, &mut v), 2.5);
        assert_eq!(quantile(2.0, &mut v), f64::INFINITY);
        assert!(quantile(0.5, &mut []).is_nan());
    }
}
