//! PromQL functions over floats: element-wise math and date functions, label manipulation,
//! sorting, `absent`, `histogram_quantile` over classic buckets, and the range-vector functions
//! (`rate` with Prometheus's extrapolation, `*_over_time`, `deriv`, `predict_linear`, ...).

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Timelike};
use oxeye_model::{AnchoredRegex, Labels, LabelsBuilder, METRIC_NAME, Sample};
use promql_parser::parser::{Call, Expr};

use crate::aggregate::{kahan_inc, mean};
use crate::engine::{Collector, Evaluator, NO_SLOT, RangeData, SlidingWindow, StepSeries, Val, by_step, exec, window};
use crate::quantile::{Bucket, bucket_quantile, quantile};
use crate::{QueryError, Result};

fn strip_parens(e: &Expr) -> &Expr {
    match e {
        Expr::Paren(p) => strip_parens(&p.expr),
        other => other,
    }
}

fn is_legacy_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

pub(crate) fn eval_call(ev: &mut Evaluator<'_>, c: &Call) -> Result<Val> {
    let name = c.func.name;
    let args: Vec<&Expr> = c.args.args.iter().map(|b| b.as_ref()).collect();
    let arg = |i: usize| args.get(i).copied().ok_or_else(|| exec("missing function argument"));
    let steps = ev.steps();
    match name {
        "time" => Ok(Val::Scalar((0..steps).map(|i| ev.step_ts(i) as f64 / 1000.0).collect())),
        "pi" => Ok(Val::Scalar(vec![std::f64::consts::PI; steps])),
        "vector" => {
            let v = ev.eval_scalar(arg(0)?)?;
            let pts = v.into_iter().enumerate().map(|(i, v)| (i as u32, v)).collect();
            Ok(Val::Vector(vec![StepSeries { labels: Labels::empty(), pts }]))
        }
        "scalar" => {
            let v = ev.eval_vector(arg(0)?)?;
            let mut out = vec![f64::NAN; steps];
            for (i, s) in by_step(&v, steps).into_iter().enumerate() {
                if s.len() == 1 {
                    out[i] = s[0].1;
                }
            }
            Ok(Val::Scalar(out))
        }
        "timestamp" => {
            let input = match strip_parens(arg(0)?) {
                Expr::VectorSelector(vs) => ev.eval_vector_selector(vs, true)?,
                other => {
                    let v = ev.eval_vector(other)?;
                    v.into_iter()
                        .map(|s| StepSeries {
                            pts: s.pts.iter().map(|(i, _)| (*i, ev.step_ts(*i as usize) as f64 / 1000.0)).collect(),
                            labels: s.labels,
                        })
                        .collect()
                }
            };
            map_values(ev, &input, true, |v| v).map(Val::Vector)
        }
        "abs" | "ceil" | "floor" | "exp" | "sqrt" | "ln" | "log2" | "log10" | "sgn" | "acos" | "acosh" | "asin"
        | "asinh" | "atan" | "atanh" | "cos" | "cosh" | "sin" | "sinh" | "tan" | "tanh" | "deg" | "rad" => {
            let f = math_fn(name);
            let v = ev.eval_vector(arg(0)?)?;
            map_values(ev, &v, true, f).map(Val::Vector)
        }
        "clamp" | "clamp_min" | "clamp_max" | "round" => {
            let v = ev.eval_vector(arg(0)?)?;
            let p1 = match args.get(1) {
                Some(e) => ev.eval_scalar(e)?,
                None => vec![1.0; steps],
            };
            let p2 = match args.get(2) {
                Some(e) => ev.eval_scalar(e)?,
                None => vec![f64::NAN; steps],
            };
            let mut c = Collector::new();
            let mut slots = vec![NO_SLOT; v.len()];
            for (step, samples) in by_step(&v, steps).into_iter().enumerate() {
                let (a, b) = (p1[step], p2[step]);
                if name == "clamp" && b < a {
                    continue;
                }
                for (si, x) in samples {
                    let y = match name {
                        "clamp" => go_max(a, go_min(b, x)),
                        "clamp_min" => go_max(a, x),
                        "clamp_max" => go_min(a, x),
                        _ => {
                            // Prometheus rounds half up at the requested granularity.
                            let inv = 1.0 / a;
                            (x * inv + 0.5).floor() / inv
                        }
                    };
                    c.push_cached(&mut slots, si, || v[si].labels.without_metric_name(), step, y)?;
                }
            }
            Ok(Val::Vector(c.finish()))
        }
        "year" | "month" | "day_of_month" | "day_of_week" | "day_of_year" | "days_in_month" | "hour" | "minute" => {
            let input = match args.first() {
                Some(e) => ev.eval_vector(e)?,
                None => vec![StepSeries {
                    labels: Labels::empty(),
                    pts: (0..steps).map(|i| (i as u32, ev.step_ts(i) as f64 / 1000.0)).collect(),
                }],
            };
            map_values(ev, &input, true, |v| date_fn(name, v)).map(Val::Vector)
        }
        "absent" => {
            let e = arg(0)?;
            let v = ev.eval_vector(e)?;
            let labels = absent_labels(e);
            let present = by_step(&v, steps);
            let pts = (0..steps).filter(|i| present[*i].is_empty()).map(|i| (i as u32, 1.0)).collect::<Vec<_>>();
            Ok(Val::Vector(if pts.is_empty() { vec![] } else { vec![StepSeries { labels, pts }] }))
        }
        "label_replace" => label_replace(ev, &args),
        "label_join" => label_join(ev, &args),
        "sort" | "sort_desc" | "sort_by_label" | "sort_by_label_desc" => {
            let mut v = ev.eval_vector(arg(0)?)?;
            let mut by = Vec::new();
            for e in args.iter().skip(1) {
                by.push(ev.eval_string(e)?);
            }
            // Order only matters for instant queries, where each series has one point.
            if steps == 1 {
                let val = |s: &StepSeries| s.pts.first().map(|p| p.1).unwrap_or(f64::NAN);
                match name {
                    "sort" | "sort_desc" => {
                        let desc = name == "sort_desc";
                        v.sort_by(|a, b| {
                            let (x, y) = (val(a), val(b));
                            match (x.is_nan(), y.is_nan()) {
                                (true, true) => std::cmp::Ordering::Equal,
                                (true, false) => std::cmp::Ordering::Greater,
                                (false, true) => std::cmp::Ordering::Less,
                                _ => {
                                    let o = x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal);
                                    if desc { o.reverse() } else { o }
                                }
                            }
                        });
                    }
                    _ => {
                        let desc = name == "sort_by_label_desc";
                        v.sort_by(|a, b| {
                            for l in &by {
                                let o = natural_cmp(a.labels.get(l), b.labels.get(l));
                                if o != std::cmp::Ordering::Equal {
                                    return if desc { o.reverse() } else { o };
                                }
                            }
                            let o = a.labels.cmp(&b.labels);
                            if desc { o.reverse() } else { o }
                        });
                    }
                }
            }
            Ok(Val::Vector(v))
        }
        "histogram_quantile" => histogram_quantile(ev, &args),
        // Native-histogram functions ignore float samples, so over floats they return nothing.
        "histogram_count" | "histogram_sum" | "histogram_avg" | "histogram_fraction" | "histogram_stddev"
        | "histogram_stdvar" => {
            for e in &args {
                ev.eval(e)?;
            }
            Ok(Val::Vector(Vec::new()))
        }
        "rate"
        | "increase"
        | "delta"
        | "irate"
        | "idelta"
        | "deriv"
        | "changes"
        | "resets"
        | "avg_over_time"
        | "min_over_time"
        | "max_over_time"
        | "sum_over_time"
        | "count_over_time"
        | "last_over_time"
        | "present_over_time"
        | "stddev_over_time"
        | "stdvar_over_time"
        | "mad_over_time"
        | "quantile_over_time"
        | "predict_linear"
        | "double_exponential_smoothing"
        | "absent_over_time" => over_time(ev, name, &args),
        _ => Err(QueryError::Execution(format!("function {name}() is not supported"))),
    }
}

/// Go's `math.Max`: NaN wins (Rust's `f64::max` ignores NaN).
fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() { f64::NAN } else { a.max(b) }
}

/// Go's `math.Min`: NaN wins.
fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() { f64::NAN } else { a.min(b) }
}

fn math_fn(name: &str) -> fn(f64) -> f64 {
    match name {
        "abs" => f64::abs,
        "ceil" => f64::ceil,
        "floor" => f64::floor,
        "exp" => f64::exp,
        "sqrt" => f64::sqrt,
        "ln" => f64::ln,
        "log2" => f64::log2,
        "log10" => f64::log10,
        "sgn" => |v: f64| {
            if v > 0.0 {
                1.0
            } else if v < 0.0 {
                -1.0
            } else {
                v
            }
        },
        "acos" => f64::acos,
        "acosh" => f64::acosh,
        "asin" => f64::asin,
        "asinh" => f64::asinh,
        "atan" => f64::atan,
        "atanh" => f64::atanh,
        "cos" => f64::cos,
        "cosh" => f64::cosh,
        "sin" => f64::sin,
        "sinh" => f64::sinh,
        "tan" => f64::tan,
        "tanh" => f64::tanh,
        "deg" => |v: f64| v * 180.0 / std::f64::consts::PI,
        "rad" => |v: f64| v * std::f64::consts::PI / 180.0,
        _ => |v: f64| v,
    }
}

fn date_fn(name: &str, v: f64) -> f64 {
    if !v.is_finite() {
        return f64::NAN;
    }
    let Some(t) = DateTime::from_timestamp(v as i64, 0) else { return f64::NAN };
    match name {
        "year" => t.year() as f64,
        "month" => t.month() as f64,
        "day_of_month" => t.day() as f64,
        "day_of_week" => t.weekday().num_days_from_sunday() as f64,
        "day_of_year" => t.ordinal() as f64,
        "hour" => t.hour() as f64,
        "minute" => t.minute() as f64,
        _ => {
            let (y, m) = (t.year(), t.month());
            let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            match (chrono::NaiveDate::from_ymd_opt(y, m, 1), chrono::NaiveDate::from_ymd_opt(ny, nm, 1)) {
                (Some(a), Some(b)) => (b - a).num_days() as f64,
                _ => f64::NAN,
            }
        }
    }
}

/// Applies `f` to every value, optionally dropping the metric name (duplicates are an error).
fn map_values(
    ev: &mut Evaluator<'_>,
    input: &[StepSeries],
    drop_name: bool,
    f: impl Fn(f64) -> f64,
) -> Result<Vec<StepSeries>> {
    let steps = ev.steps();
    let mut slots = vec![NO_SLOT; input.len()];
    let mut c = Collector::new();
    for (step, samples) in by_step(input, steps).into_iter().enumerate() {
        for (si, v) in samples {
            let labels = &input[si].labels;
            let out = || if drop_name { labels.without_metric_name() } else { labels.clone() };
            c.push_cached(&mut slots, si, out, step, f(v))?;
        }
    }
    Ok(c.finish())
}

/// The labels `absent(...)` reports: the selector's equality matchers, except a label matched
/// more than once.
fn absent_labels(e: &Expr) -> Labels {
    let vs = match strip_parens(e) {
        Expr::VectorSelector(vs) => vs,
        Expr::MatrixSelector(ms) => &ms.vs,
        _ => return Labels::empty(),
    };
    let mut b = LabelsBuilder::new(Labels::empty());
    let mut has: Vec<String> = Vec::new();
    for m in &vs.matchers.matchers {
        if m.name == METRIC_NAME {
            continue;
        }
        let equal = matches!(m.op, promql_parser::label::MatchOp::Equal);
        if equal && !has.contains(&m.name) {
            b.set(m.name.clone(), m.value.clone());
            has.push(m.name.clone());
        } else {
            b.del(&m.name);
        }
    }
    b.labels()
}

/// Natural order: runs of digits compare numerically, the rest byte-wise.
fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (ab, bb) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < ab.len() && j < bb.len() {
        if ab[i].is_ascii_digit() && bb[j].is_ascii_digit() {
            let si = i;
            while i < ab.len() && ab[i].is_ascii_digit() {
                i += 1;
            }
            let sj = j;
            while j < bb.len() && bb[j].is_ascii_digit() {
                j += 1;
            }
            let na = a[si..i].trim_start_matches('0');
            let nb = b[sj..j].trim_start_matches('0');
            let o = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
            if o != Ordering::Equal {
                return o;
            }
        } else {
            let o = ab[i].cmp(&bb[j]);
            if o != Ordering::Equal {
                return o;
            }
            i += 1;
            j += 1;
        }
    }
    (ab.len() - i).cmp(&(bb.len() - j))
}

fn relabel_series(
    ev: &mut Evaluator<'_>,
    input: Vec<StepSeries>,
    f: impl Fn(&Labels) -> Labels,
) -> Result<Vec<StepSeries>> {
    let steps = ev.steps();
    let labels: Vec<Labels> = input.iter().map(|s| f(&s.labels)).collect();
    let mut c = Collector::new();
    for (step, samples) in by_step(&input, steps).into_iter().enumerate() {
        for (si, v) in samples {
            c.push(step, labels[si].clone(), v)?;
        }
    }
    Ok(c.finish())
}

fn label_replace(ev: &mut Evaluator<'_>, args: &[&Expr]) -> Result<Val> {
    if args.len() != 5 {
        return Err(exec("label_replace() takes 5 arguments"));
    }
    let input = ev.eval_vector(args[0])?;
    let dst = ev.eval_string(args[1])?;
    let repl = ev.eval_string(args[2])?;
    let src = ev.eval_string(args[3])?;
    let re_src = ev.eval_string(args[4])?;
    let re = AnchoredRegex::new(&re_src)
        .map_err(|_| QueryError::Execution(format!("invalid regular expression in label_replace(): {re_src}")))?;
    if !is_legacy_label_name(&dst) {
        return Err(QueryError::Execution(format!("invalid destination label name in label_replace(): {dst}")));
    }
    let out = relabel_series(ev, input, |l| {
        let v = l.get(&src);
        match re.regex().captures(v) {
            Some(caps) => {
                let mut res = String::new();
                caps.expand(&repl, &mut res);
                let mut b = LabelsBuilder::new(l.clone());
                b.set(dst.clone(), res);
                b.labels()
            }
            None => l.clone(),
        }
    })?;
    Ok(Val::Vector(out))
}

fn label_join(ev: &mut Evaluator<'_>, args: &[&Expr]) -> Result<Val> {
    if args.len() < 3 {
        return Err(exec("label_join() takes at least 3 arguments"));
    }
    let input = ev.eval_vector(args[0])?;
    let dst = ev.eval_string(args[1])?;
    let sep = ev.eval_string(args[2])?;
    let mut srcs = Vec::new();
    for e in &args[3..] {
        let s = ev.eval_string(e)?;
        // Prometheus 3 accepts any UTF-8 label name here; only the empty name is invalid.
        if s.is_empty() {
            return Err(QueryError::Execution(format!("invalid source label name in label_join(): {s}")));
        }
        srcs.push(s);
    }
    if dst.is_empty() {
        return Err(QueryError::Execution(format!("invalid destination label name in label_join(): {dst}")));
    }
    let out = relabel_series(ev, input, |l| {
        let joined = srcs.iter().map(|s| l.get(s)).collect::<Vec<_>>().join(&sep);
        let mut b = LabelsBuilder::new(l.clone());
        b.set(dst.clone(), joined);
        b.labels()
    })?;
    Ok(Val::Vector(out))
}

fn histogram_quantile(ev: &mut Evaluator<'_>, args: &[&Expr]) -> Result<Val> {
    if args.len() != 2 {
        return Err(exec("histogram_quantile() takes 2 arguments"));
    }
    let q = ev.eval_scalar(args[0])?;
    let input = ev.eval_vector(args[1])?;
    let steps = ev.steps();
    // Buckets group by every label but `le`, the metric name included; the output drops both.
    let mut keys: Vec<Option<(usize, f64)>> = Vec::with_capacity(input.len());
    let mut group_index: HashMap<Labels, usize> = HashMap::new();
    let mut group_labels: Vec<Labels> = Vec::new();
    for s in &input {
        let le = s.labels.get("le");
        match parse_go_float(le) {
            Some(ub) => {
                let key = s.labels.drop_labels(&["le".to_string()], false);
                let n = group_labels.len();
                let gi = *group_index.entry(key.clone()).or_insert_with(|| {
                    group_labels.push(key.without_metric_name());
                    n
                });
                keys.push(Some((gi, ub)));
            }
            None => {
                ev.warn(format!(
                    "PromQL warning: bucket label \"le\" is missing or has a malformed value of {le:?} for metric name {:?}",
                    s.labels.metric_name()
                ));
                keys.push(None);
            }
        }
    }
    let mut c = Collector::new();
    for (step, samples) in by_step(&input, steps).into_iter().enumerate() {
        let qv = q.get(step).copied().unwrap_or(f64::NAN);
        let mut groups: Vec<Vec<Bucket>> = vec![Vec::new(); group_labels.len()];
        for (si, v) in samples {
            if let Some((gi, ub)) = keys[si] {
                groups[gi].push(Bucket { upper_bound: ub, count: v });
            }
        }
        for (gi, mut b) in groups.into_iter().enumerate() {
            if b.is_empty() {
                continue;
            }
            if qv.is_nan() || !(0.0..=1.0).contains(&qv) {
                ev.warn(format!("PromQL warning: quantile value should be between 0 and 1, got {qv}"));
            }
            let r = bucket_quantile(qv, &mut b);
            if r.forced_monotonic {
                ev.info(format!(
                    "PromQL info: input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name {:?}",
                    group_labels[gi].metric_name()
                ));
            }
            c.push(step, group_labels[gi].clone(), r.value)?;
        }
    }
    Ok(Val::Vector(c.finish()))
}

/// Go's `strconv.ParseFloat` for the values `le` labels hold (`+Inf`, `1e3`, `0.5`).
pub(crate) fn parse_go_float(s: &str) -> Option<f64> {
    let t = s.trim();
    if t.is_empty() || t != s {
        return None;
    }
    match t.to_ascii_lowercase().as_str() {
        "+inf" | "inf" | "+infinity" | "infinity" => return Some(f64::INFINITY),
        "-inf" | "-infinity" => return Some(f64::NEG_INFINITY),
        "nan" => return Some(f64::NAN),
        _ => {}
    }
    if t.starts_with("0x") || t.starts_with("0X") {
        return None;
    }
    t.replace('_', "").parse::<f64>().ok()
}

/// Per-step parameters of a range function and the window it looks at.
struct Window<'a> {
    samples: &'a [Sample],
    /// Step timestamp (what `predict_linear` projects from).
    ts: i64,
    range_start: i64,
    range_end: i64,
    range: i64,
    p: [f64; 2],
}

fn over_time(ev: &mut Evaluator<'_>, name: &str, args: &[&Expr]) -> Result<Val> {
    let steps = ev.steps();
    let (range_idx, param_idx): (usize, &[usize]) = match name {
        "quantile_over_time" => (1, &[0]),
        "predict_linear" => (0, &[1]),
        "double_exponential_smoothing" => (0, &[1, 2]),
        _ => (0, &[]),
    };
    let mut params: Vec<Vec<f64>> = Vec::new();
    for &i in param_idx {
        let e = args.get(i).ok_or_else(|| exec("missing function argument"))?;
        params.push(ev.eval_scalar(e)?);
    }
    let rarg = args.get(range_idx).ok_or_else(|| exec("missing function argument"))?;
    let rd: RangeData = ev.eval_range_arg(rarg)?;

    if name == "absent_over_time" {
        let labels = absent_labels(rarg);
        let pts: Vec<(u32, f64)> = (0..steps)
            .filter(|&i| {
                let end = rd.window_end(ev.step_ts(i));
                rd.series.iter().all(|s| window(&s.samples, end, rd.range).is_empty())
            })
            .map(|i| (i as u32, 1.0))
            .collect();
        return Ok(Val::Vector(if pts.is_empty() { vec![] } else { vec![StepSeries { labels, pts }] }));
    }
    if matches!(name, "rate" | "increase") {
        for s in &rd.series {
            let n = s.labels.metric_name();
            if !["_total", "_sum", "_count", "_bucket"].iter().any(|suf| n.ends_with(suf)) {
                ev.info(format!(
                    "PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: {n:?}"
                ));
            }
        }
    }
    let keep_name = name == "last_over_time";
    // Parameters are validated (and warned about) per step, before and independently of the
    // series, as Prometheus does.
    let param_at = |step: usize| {
        [
            params.first().and_then(|p| p.get(step)).copied().unwrap_or(f64::NAN),
            params.get(1).and_then(|p| p.get(step)).copied().unwrap_or(f64::NAN),
        ]
    };
    for step in 0..steps {
        let p = param_at(step);
        if name == "quantile_over_time" && (p[0].is_nan() || !(0.0..=1.0).contains(&p[0])) {
            ev.warn(format!("PromQL warning: quantile value should be between 0 and 1, got {}", p[0]));
        }
        if name == "double_exponential_smoothing" {
            if p[0] <= 0.0 || p[0] >= 1.0 || p[0].is_nan() {
                return Err(QueryError::Execution(format!(
                    "invalid smoothing factor. Expected: 0 < sf < 1, got: {:.6}",
                    p[0]
                )));
            }
            if p[1] <= 0.0 || p[1] >= 1.0 || p[1].is_nan() {
                return Err(QueryError::Execution(format!(
                    "invalid trend factor. Expected: 0 < tf < 1, got: {:.6}",
                    p[1]
                )));
            }
        }
    }
    // Series-major: each series' samples stay in cache while its whole step grid is computed.
    let mut c = Collector::new();
    for (si, s) in rd.series.iter().enumerate() {
        let mut cursor = SlidingWindow::new(&s.samples);
        let mut pts: Vec<(u32, f64)> = Vec::new();
        for step in 0..steps {
            let ts = ev.step_ts(step);
            let end = rd.window_end(ts);
            let w = cursor.at(end, rd.range);
            if w.is_empty() {
                continue;
            }
            let win = Window {
                samples: w,
                ts,
                range_start: end - rd.range,
                range_end: end,
                range: rd.range,
                p: param_at(step),
            };
            if let Some(v) = range_fn(name, &win) {
                pts.push((step as u32, v));
            }
        }
        if !pts.is_empty() {
            let slot = c.slot(if keep_name { s.labels.clone() } else { s.labels.without_metric_name() });
            c.push_series(slot, pts)?;
        }
        if si % 256 == 0 {
            ev.check_timeout()?;
        }
    }
    Ok(Val::Vector(c.finish()))
}

fn range_fn(name: &str, w: &Window<'_>) -> Option<f64> {
    let s = w.samples;
    let vals = || s.iter().map(|x| x.v);
    Some(match name {
        "rate" => extrapolated_rate(w, true, true)?,
        "increase" => extrapolated_rate(w, true, false)?,
        "delta" => extrapolated_rate(w, false, false)?,
        "irate" | "idelta" => {
            if s.len() < 2 {
                return None;
            }
            let (prev, last) = (s[s.len() - 2], s[s.len() - 1]);
            let is_rate = name == "irate";
            let mut r = if is_rate && last.v < prev.v { last.v } else { last.v - prev.v };
            let dt = last.t - prev.t;
            if dt == 0 {
                return None;
            }
            if is_rate {
                r /= dt as f64 / 1000.0;
            }
            r
        }
        "deriv" => {
            if s.len() < 2 {
                return None;
            }
            linear_regression(s, s[0].t).0
        }
        "predict_linear" => {
            if s.len() < 2 {
                return None;
            }
            let (slope, intercept) = linear_regression(s, w.ts);
            slope * w.p[0] + intercept
        }
        "changes" => {
            let mut n = 0.0;
            for p in s.windows(2) {
                if p[1].v != p[0].v && !(p[1].v.is_nan() && p[0].v.is_nan()) {
                    n += 1.0;
                }
            }
            n
        }
        "resets" => s.windows(2).filter(|p| p[1].v < p[0].v).count() as f64,
        "avg_over_time" => mean(vals()),
        "sum_over_time" => {
            let (mut sum, mut c) = (0.0, 0.0);
            for v in vals() {
                (sum, c) = kahan_inc(v, sum, c);
            }
            if sum.is_infinite() { sum } else { sum + c }
        }
        "min_over_time" => vals().skip(1).fold(s[0].v, |m, v| if v < m || m.is_nan() { v } else { m }),
        "max_over_time" => vals().skip(1).fold(s[0].v, |m, v| if v > m || m.is_nan() { v } else { m }),
        "count_over_time" => s.len() as f64,
        "last_over_time" => s[s.len() - 1].v,
        "present_over_time" => 1.0,
        "stddev_over_time" | "stdvar_over_time" => {
            let (mut n, mut m, mut cm, mut aux, mut ca) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for v in vals() {
                n += 1.0;
                let delta = v - (m + cm);
                (m, cm) = kahan_inc(delta / n, m, cm);
                (aux, ca) = kahan_inc(delta * (v - (m + cm)), aux, ca);
            }
            let var = (aux + ca) / n;
            if name == "stddev_over_time" { var.sqrt() } else { var }
        }
        "quantile_over_time" => quantile(w.p[0], &mut vals().collect::<Vec<_>>()),
        "mad_over_time" => {
            let mut v: Vec<f64> = vals().collect();
            let med = quantile(0.5, &mut v);
            let mut dev: Vec<f64> = v.iter().map(|x| (x - med).abs()).collect();
            quantile(0.5, &mut dev)
        }
        "double_exponential_smoothing" => {
            if s.len() < 2 {
                return None;
            }
            let (sf, tf) = (w.p[0], w.p[1]);
            let (mut s0, mut s1, mut b) = (0.0, s[0].v, s[1].v - s[0].v);
            for (i, x) in s.iter().enumerate().skip(1) {
                if i > 1 {
                    b = tf * (s1 - s0) + (1.0 - tf) * b;
                }
                let next = sf * x.v + (1.0 - sf) * (s1 + b);
                (s0, s1) = (s1, next);
            }
            s1
        }
        _ => return None,
    })
}

/// `rate`, `increase` and `delta`: the change over the window, corrected for counter resets
/// and extrapolated toward the window boundaries as Prometheus does: all the way when the
/// first/last sample is within 1.1 average intervals of the boundary, else half an interval,
/// and for counters never below the zero point.
pub(crate) fn extrapolated_rate_samples(
    s: &[Sample],
    range_start: i64,
    range_end: i64,
    range_ms: i64,
    is_counter: bool,
    is_rate: bool,
) -> Option<f64> {
    if s.len() < 2 {
        return None;
    }
    let (first, last) = (s[0], s[s.len() - 1]);
    let mut result = last.v - first.v;
    if is_counter {
        let mut prev = first.v;
        for p in &s[1..] {
            if p.v < prev {
                result += prev;
            }
            prev = p.v;
        }
    }
    let mut to_start = (first.t - range_start) as f64 / 1000.0;
    let mut to_end = (range_end - last.t) as f64 / 1000.0;
    let sampled = (last.t - first.t) as f64 / 1000.0;
    let avg = sampled / (s.len() - 1) as f64;
    let threshold = avg * 1.1;
    if to_start >= threshold {
        to_start = avg / 2.0;
    }
    if is_counter && result > 0.0 && first.v >= 0.0 {
        let to_zero = sampled * (first.v / result);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    if to_end >= threshold {
        to_end = avg / 2.0;
    }
    let mut factor = (sampled + to_start + to_end) / sampled;
    if is_rate {
        factor /= range_ms as f64 / 1000.0;
    }
    Some(result * factor)
}

fn extrapolated_rate(w: &Window<'_>, is_counter: bool, is_rate: bool) -> Option<f64> {
    extrapolated_rate_samples(w.samples, w.range_start, w.range_end, w.range, is_counter, is_rate)
}

/// Least-squares fit with x in seconds relative to `intercept_time`: (slope, intercept).
fn linear_regression(s: &[Sample], intercept_time: i64) -> (f64, f64) {
    let (mut n, mut sx, mut cx, mut sy, mut cy, mut sxy, mut cxy, mut sx2, mut cx2) =
        (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    let init = s[0].v;
    let mut const_y = true;
    for (i, p) in s.iter().enumerate() {
        if const_y && i > 0 && p.v != init {
            const_y = false;
        }
        n += 1.0;
        let x = (p.t - intercept_time) as f64 / 1000.0;
        (sx, cx) = kahan_inc(x, sx, cx);
        (sy, cy) = kahan_inc(p.v, sy, cy);
        (sxy, cxy) = kahan_inc(x * p.v, sxy, cxy);
        (sx2, cx2) = kahan_inc(x * x, sx2, cx2);
    }
    if const_y {
        if init.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init);
    }
    let (sx, sy, sxy, sx2) = (sx + cx, sy + cy, sxy + cxy, sx2 + cx2);
    let cov = sxy - sx * sy / n;
    let var = sx2 - sx * sx / n;
    let slope = cov / var;
    (slope, sy / n - slope * sx / n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(v: &[(i64, f64)]) -> Vec<Sample> {
        v.iter().map(|&(t, v)| Sample::new(t, v)).collect()
    }

    #[test]
    fn rate_extrapolates_to_window_boundaries() {
        // Samples every 10s from 10s to 50s in the window (0s, 60s]: both gaps are within 1.1
        // average intervals, so the increase of 40 over 40s extrapolates to 60s => 60.
        let s = samples(&[(10_000, 0.0), (20_000, 10.0), (30_000, 20.0), (40_000, 30.0), (50_000, 40.0)]);
        let inc = extrapolated_rate_samples(&s, 0, 60_000, 60_000, true, false).unwrap();
        // The zero point limits the start extrapolation: first value is 0, so no time before it.
        assert!((inc - 50.0).abs() < 1e-9, "{inc}");
        let rate = extrapolated_rate_samples(&s, 0, 60_000, 60_000, true, true).unwrap();
        assert!((rate - 50.0 / 60.0).abs() < 1e-9);
    }

    #[test]
    fn rate_handles_resets_and_large_gaps() {
        // A reset from 30 to 5 adds 30; the window end is 100s past the last sample, more than
        // 1.1 intervals, so only half an interval (5s) is extrapolated there.
        let s = samples(&[(100_000, 10.0), (110_000, 20.0), (120_000, 30.0), (130_000, 5.0)]);
        let inc = extrapolated_rate_samples(&s, 95_000, 230_000, 135_000, true, false).unwrap();
        let raw = 5.0 - 10.0 + 30.0;
        let expected = raw * (30.0 + 5.0 + 5.0) / 30.0;
        assert!((inc - expected).abs() < 1e-9, "{inc} vs {expected}");
        assert!(extrapolated_rate_samples(&s[..1], 0, 1, 1, true, true).is_none());
    }

    #[test]
    fn delta_is_not_counter_corrected() {
        let s = samples(&[(0, 10.0), (10_000, 5.0)]);
        let d = extrapolated_rate_samples(&s, 0, 10_000, 10_000, false, false).unwrap();
        assert_eq!(d, -5.0);
    }

    #[test]
    fn go_floats_and_natural_order() {
        assert_eq!(parse_go_float("+Inf"), Some(f64::INFINITY));
        assert_eq!(parse_go_float("0.5"), Some(0.5));
        assert_eq!(parse_go_float("x"), None);
        assert_eq!(natural_cmp("a2", "a10"), std::cmp::Ordering::Less);
    }
}
