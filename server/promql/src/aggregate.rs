//! Aggregation operators (`sum`, `avg`, `topk`, `count_values`, `limit_ratio`, ...) with
//! `by`/`without` grouping, evaluated step by step over the input vector with Prometheus's
//! numerics (Kahan sums, overflow-safe mean, Welford variance, NaN ordering in topk/bottomk).

use std::collections::HashMap;

use oxeye_model::{Labels, LabelsBuilder};
use promql_parser::parser::token::{self, TokenId};
use promql_parser::parser::{AggregateExpr, LabelModifier};

use crate::engine::{Collector, Evaluator, NO_SLOT, StepSeries, Val, by_step, exec};
use crate::quantile::quantile;
use crate::{QueryError, Result};

/// Neumaier-compensated summation step, as Prometheus's `kahanSumInc`.
pub(crate) fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// The mean of `values`: a compensated direct sum while it stays finite, switching to an
/// incremental mean once the sum would overflow (Prometheus's `avg`).
pub(crate) fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (mut sum, mut c, mut n) = (0.0f64, 0.0f64, 0.0f64);
    let mut incremental = false;
    let mut mean = 0.0f64;
    for f in values {
        n += 1.0;
        if n == 1.0 {
            sum = f;
            mean = f;
            continue;
        }
        if !incremental {
            let (ns, nc) = kahan_inc(f, sum, c);
            if !ns.is_infinite() {
                (sum, c) = (ns, nc);
                continue;
            }
            incremental = true;
            mean = sum / (n - 1.0);
            c /= n - 1.0;
        }
        let q = (n - 1.0) / n;
        (mean, c) = kahan_inc(f / n, q * mean, q * c);
    }
    if n == 0.0 {
        return f64::NAN;
    }
    if incremental { mean + c } else { sum / n + c / n }
}

/// Go's `strconv.FormatFloat(f, 'f', -1, 64)`: shortest round-trip decimal, no exponent.
pub(crate) fn format_float_plain(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    format!("{f}")
}

fn is_valid_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Prometheus's `labels.Hash`: xxhash64 over name, 0xff, value, 0xff. `limit_ratio` samples by
/// it, so it must match upstream for the same series to be picked.
fn prometheus_hash(l: &Labels) -> u64 {
    let mut b = Vec::with_capacity(l.byte_size() + 2 * l.len());
    for x in l.iter() {
        b.extend_from_slice(x.name.as_bytes());
        b.push(0xff);
        b.extend_from_slice(x.value.as_bytes());
        b.push(0xff);
    }
    xxhash_rust::xxh64::xxh64(&b, 0)
}

struct Grouping {
    without: bool,
    labels: Vec<String>,
}

impl Grouping {
    fn key(&self, l: &Labels) -> u64 {
        if self.without { l.hash_without_labels(&self.labels) } else { l.hash_for_labels(&self.labels) }
    }

    fn group_labels(&self, l: &Labels) -> Labels {
        if self.without { l.drop_labels(&self.labels, true) } else { l.keep(&self.labels) }
    }
}

pub(crate) fn eval(ev: &mut Evaluator<'_>, a: &AggregateExpr) -> Result<Val> {
    let op = a.op.id();
    let input = ev.eval_vector(&a.expr)?;
    let steps = ev.steps();
    let (without, mut labels) = match &a.modifier {
        Some(LabelModifier::Exclude(l)) => (true, l.labels.clone()),
        Some(LabelModifier::Include(l)) => (false, l.labels.clone()),
        None => (false, Vec::new()),
    };
    let mut param_scalar: Option<Vec<f64>> = None;
    let mut value_label = String::new();
    if let Some(p) = &a.param {
        if op == token::T_COUNT_VALUES {
            value_label = ev.eval_string(p)?;
            if !is_valid_label_name(&value_label) {
                return Err(QueryError::Execution(format!("invalid label name {value_label:?}")));
            }
            if !without {
                labels.push(value_label.clone());
            }
        } else {
            // Prometheus 3.0 reads the parameter once, at the first step, and uses it for the
            // whole range (the conformance scripts depend on it, e.g. `limit_ratio(time() ...)`).
            let v = ev.eval_scalar(p)?;
            let first = v.first().copied().unwrap_or(f64::NAN);
            param_scalar = Some(vec![first; v.len()]);
        }
    }
    labels.sort();
    labels.dedup();
    let grouping = Grouping { without, labels };
    let param_at = |i: usize| param_scalar.as_ref().and_then(|p| p.get(i).copied()).unwrap_or(f64::NAN);

    match op {
        token::T_TOPK | token::T_BOTTOMK | token::T_LIMITK | token::T_LIMIT_RATIO => {
            return eval_k(ev, op, &input, &grouping, steps, &param_at).map(Val::Vector);
        }
        token::T_COUNT_VALUES => return count_values(&input, &grouping, &value_label, steps).map(Val::Vector),
        _ => {}
    }

    // Groups are fixed per input series, ordered by first appearance.
    let mut group_index: HashMap<u64, usize> = HashMap::new();
    let mut group_labels: Vec<Labels> = Vec::new();
    let series_group: Vec<usize> = input
        .iter()
        .map(|s| {
            let k = grouping.key(&s.labels);
            *group_index.entry(k).or_insert_with(|| {
                group_labels.push(grouping.group_labels(&s.labels));
                group_labels.len() - 1
            })
        })
        .collect();

    let mut c = Collector::new();
    let mut slots = vec![NO_SLOT; group_labels.len()];
    let mut per_group: Vec<Vec<f64>> = vec![Vec::new(); group_labels.len()];
    for (step, samples) in by_step(&input, steps).into_iter().enumerate() {
        for g in per_group.iter_mut() {
            g.clear();
        }
        for (si, v) in samples {
            per_group[series_group[si]].push(v);
        }
        if op == token::T_QUANTILE {
            let q = param_at(step);
            if (q.is_nan() || !(0.0..=1.0).contains(&q)) && per_group.iter().any(|g| !g.is_empty()) {
                ev.warn(format!("PromQL warning: quantile value should be between 0 and 1, got {q}"));
            }
        }
        for (gi, vals) in per_group.iter_mut().enumerate() {
            if vals.is_empty() {
                continue;
            }
            let v = aggregate_values(op, vals, param_at(step))?;
            c.push_cached(&mut slots, gi, || group_labels[gi].clone(), step, v)?;
        }
        if step % 64 == 0 {
            ev.check_timeout()?;
        }
    }
    Ok(Val::Vector(c.finish()))
}

fn aggregate_values(op: TokenId, vals: &mut [f64], param: f64) -> Result<f64> {
    Ok(match op {
        token::T_SUM => {
            let (mut s, mut c) = (0.0, 0.0);
            for &v in vals.iter() {
                (s, c) = kahan_inc(v, s, c);
            }
            s + c
        }
        token::T_AVG => mean(vals.iter().copied()),
        token::T_COUNT => vals.len() as f64,
        token::T_GROUP => 1.0,
        token::T_MIN => vals.iter().skip(1).fold(vals[0], |m, &v| if m > v || m.is_nan() { v } else { m }),
        token::T_MAX => vals.iter().skip(1).fold(vals[0], |m, &v| if m < v || m.is_nan() { v } else { m }),
        token::T_STDDEV | token::T_STDVAR => {
            let first = vals[0];
            // An Inf or NaN first value poisons the variance, as upstream initialises it.
            let (mut mean, mut acc, mut n) = (first, if first.is_finite() { 0.0 } else { f64::NAN }, 1.0);
            for &v in vals.iter().skip(1) {
                n += 1.0;
                let delta = v - mean;
                mean += delta / n;
                acc += delta * (v - mean);
            }
            let var = acc / n;
            if op == token::T_STDDEV { var.sqrt() } else { var }
        }
        token::T_QUANTILE => quantile(param, vals),
        _ => return Err(exec("unsupported aggregation operator")),
    })
}

fn count_values(input: &[StepSeries], grouping: &Grouping, label: &str, steps: usize) -> Result<Vec<StepSeries>> {
    let mut c = Collector::new();
    for (step, samples) in by_step(input, steps).into_iter().enumerate() {
        let mut order: Vec<Labels> = Vec::new();
        let mut counts: HashMap<u64, (usize, f64)> = HashMap::new();
        for (si, v) in samples {
            let mut b = LabelsBuilder::new(input[si].labels.clone());
            b.set(label.to_string(), format_float_plain(v));
            let metric = b.labels();
            let key = grouping.key(&metric);
            let e = counts.entry(key).or_insert_with(|| {
                order.push(grouping.group_labels(&metric));
                (order.len() - 1, 0.0)
            });
            e.1 += 1.0;
        }
        let mut groups: Vec<(usize, f64)> = counts.into_values().collect();
        groups.sort_by_key(|g| g.0);
        for (i, n) in groups {
            c.push(step, order[i].clone(), n)?;
        }
    }
    Ok(c.finish())
}

fn eval_k(
    ev: &mut Evaluator<'_>,
    op: TokenId,
    input: &[StepSeries],
    grouping: &Grouping,
    steps: usize,
    param_at: &dyn Fn(usize) -> f64,
) -> Result<Vec<StepSeries>> {
    let mut group_index: HashMap<u64, usize> = HashMap::new();
    let series_group: Vec<usize> = input
        .iter()
        .map(|s| {
            let n = group_index.len();
            *group_index.entry(grouping.key(&s.labels)).or_insert(n)
        })
        .collect();
    let ngroups = group_index.len();
    let mut c = Collector::new();
    let mut slots = vec![NO_SLOT; input.len()];
    for (step, samples) in by_step(input, steps).into_iter().enumerate() {
        let p = param_at(step);
        let mut ratio = 0.0;
        let mut k = 0i64;
        if op == token::T_LIMIT_RATIO {
            if p.is_nan() {
                return Err(QueryError::Execution(format!("Ratio value {p} is NaN")));
            }
            if !(-1.0..=1.0).contains(&p) {
                ev.warn(format!(
                    "PromQL warning: ratio value should be between -1 and 1, got {p}, capping to {}",
                    p.clamp(-1.0, 1.0)
                ));
            }
            ratio = p.clamp(-1.0, 1.0);
            if ratio == 0.0 {
                continue;
            }
        } else {
            if p.is_nan() {
                return Err(exec("Parameter value is NaN"));
            }
            if p >= i64::MAX as f64 || p <= i64::MIN as f64 {
                return Err(QueryError::Execution(format!("Scalar value {p} overflows int64")));
            }
            k = (p as i64).min(input.len() as i64);
            if k < 1 {
                continue;
            }
        }
        let mut groups: Vec<Vec<(usize, f64)>> = vec![Vec::new(); ngroups];
        for (si, v) in samples {
            groups[series_group[si]].push((si, v));
        }
        for g in groups.iter_mut() {
            match op {
                token::T_TOPK | token::T_BOTTOMK => {
                    let top = op == token::T_TOPK;
                    // NaN always ranks last: it is the first to be replaced in upstream's heap.
                    g.sort_by(|a, b| match (a.1.is_nan(), b.1.is_nan()) {
                        (true, true) => std::cmp::Ordering::Equal,
                        (true, false) => std::cmp::Ordering::Greater,
                        (false, true) => std::cmp::Ordering::Less,
                        _ => {
                            let o = a.1.partial_cmp(&b.1).unwrap_or(std::cmp::Ordering::Equal);
                            if top { o.reverse() } else { o }
                        }
                    });
                    g.truncate(k as usize);
                }
                token::T_LIMITK => g.truncate(k as usize),
                _ => g.retain(|(si, _)| {
                    let offset = prometheus_hash(&input[*si].labels) as f64 / u64::MAX as f64;
                    if ratio >= 0.0 { offset < ratio } else { offset >= 1.0 + ratio }
                }),
            }
            for &(si, v) in g.iter() {
                c.push_cached(&mut slots, si, || input[si].labels.clone(), step, v)?;
            }
        }
    }
    Ok(c.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_survives_overflow() {
        // A plain sum would overflow to +Inf; the incremental mean stays finite.
        let m = mean([f64::MAX, f64::MAX, f64::MAX].into_iter());
        assert!(m.is_finite() && (m - f64::MAX).abs() / f64::MAX < 1e-12, "{m}");
        assert_eq!(mean([1.0, 2.0, 3.0].into_iter()), 2.0);
    }

    #[test]
    fn plain_float_format() {
        assert_eq!(format_float_plain(1.0), "1");
        assert_eq!(format_float_plain(0.5), "0.5");
        assert_eq!(format_float_plain(f64::INFINITY), "+Inf");
    }
}
