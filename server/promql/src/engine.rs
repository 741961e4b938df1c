//! The evaluator core: the `Engine` entry points, the per-query `Evaluator` (step grid, `@` and
//! offset resolution, selector materialisation, subqueries) and binary operators. Every node
//! evaluates to a value over the whole step grid, as Prometheus's range evaluation does.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant, SystemTime};

use oxeye_model::{Labels, Matcher, Queryable};
use oxeye_model::{LabelsBuilder, METRIC_NAME, Sample, Series, is_stale_nan};
use promql_parser::parser::token::{self, TokenId};
use promql_parser::parser::{
    AtModifier, BinaryExpr, Expr, LabelModifier, Offset, SubqueryExpr, VectorMatchCardinality, VectorSelector,
};

use crate::{EngineOptions, InstantSample, QueryError, QueryResult, Result, Value};

/// Prometheus's default for subqueries without a step (the global evaluation interval).
const DEFAULT_SUBQUERY_STEP_MS: i64 = 60_000;
/// Prometheus's API limit on points per series in a range query.
const MAX_POINTS_PER_SERIES: i64 = 11_000;

/// Evaluates PromQL queries. Holds only options, so it is `Send + Sync` and cheap to share.
#[derive(Debug, Clone, Default)]
pub struct Engine {
    opts: EngineOptions,
}

impl Engine {
    pub fn new(opts: EngineOptions) -> Self {
        Engine { opts }
    }

    pub fn options(&self) -> &EngineOptions {
        &self.opts
    }

    /// Evaluates `query` at one instant; the result keeps Prometheus's value type.
    pub fn instant_query(&self, storage: &dyn Queryable, query: &str, ts_ms: i64) -> Result<QueryResult> {
        let expr = parse(query)?;
        let mut ev = Evaluator::new(storage, &self.opts, ts_ms, ts_ms, 1);
        let val = ev.eval(&expr)?;
        let value = match val {
            Val::Scalar(v) => Value::Scalar { t: ts_ms, v: v.first().copied().unwrap_or(f64::NAN) },
            Val::Str(s) => Value::String { t: ts_ms, v: s },
            Val::Vector(svs) => Value::Vector(
                svs.into_iter()
                    .filter_map(|s| s.pts.first().map(|p| InstantSample { labels: s.labels, t: ts_ms, v: p.1 }))
                    .collect(),
            ),
            Val::Matrix(m) => Value::Matrix(m),
        };
        Ok(QueryResult { value, warnings: ev.warnings, infos: ev.infos })
    }

    /// Evaluates `query` over `[start, end]` every `step`; always a matrix sorted by labels.
    pub fn range_query(
        &self,
        storage: &dyn Queryable,
        query: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<QueryResult> {
        if step_ms <= 0 {
            return Err(QueryError::Parse(
                "zero or negative query resolution step widths are not accepted. Try a positive integer".into(),
            ));
        }
        if end_ms < start_ms {
            return Err(QueryError::Parse("end timestamp must not be before start time".into()));
        }
        if end_ms.checked_sub(start_ms).is_none_or(|d| d / step_ms >= MAX_POINTS_PER_SERIES) {
            return Err(QueryError::Parse(
                "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"
                    .into(),
            ));
        }
        let expr = parse(query)?;
        match expr.value_type() {
            promql_parser::parser::value::ValueType::Vector | promql_parser::parser::value::ValueType::Scalar => {}
            other => {
                return Err(QueryError::Parse(format!(
                    "invalid expression type \"{}\" for range query, must be Scalar or instant Vector",
                    type_name(other)
                )));
            }
        }
        let mut ev = Evaluator::new(storage, &self.opts, start_ms, end_ms, step_ms);
        let val = ev.eval(&expr)?;
        let mut series: Vec<Series> = match val {
            Val::Scalar(v) => vec![Series {
                labels: Labels::empty(),
                samples: v.iter().enumerate().map(|(i, v)| Sample::new(ev.step_ts(i), *v)).collect(),
            }],
            Val::Vector(svs) => svs
                .into_iter()
                .map(|s| Series {
                    samples: s.pts.iter().map(|(i, v)| Sample::new(ev.step_ts(*i as usize), *v)).collect(),
                    labels: s.labels,
                })
                .collect(),
            Val::Str(_) | Val::Matrix(_) => {
                return Err(QueryError::Parse("invalid expression type for range query".into()));
            }
        };
        series.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok(QueryResult { value: Value::Matrix(series), warnings: ev.warnings, infos: ev.infos })
    }
}

fn type_name(t: promql_parser::parser::value::ValueType) -> &'static str {
    use promql_parser::parser::value::ValueType as T;
    match t {
        T::Vector => "instant vector",
        T::Scalar => "scalar",
        T::Matrix => "range vector",
        T::String => "string",
    }
}

pub(crate) fn parse(query: &str) -> Result<Expr> {
    promql_parser::parser::parse(query).map_err(QueryError::Parse)
}

/// One series of an instant vector evaluated over the step grid: points are (step index, value).
#[derive(Debug, Clone)]
pub(crate) struct StepSeries {
    pub labels: Labels,
    pub pts: Vec<(u32, f64)>,
}

/// A node's value over the whole step grid.
#[derive(Debug, Clone)]
pub(crate) enum Val {
    /// One value per step.
    Scalar(Vec<f64>),
    Str(String),
    Vector(Vec<StepSeries>),
    /// Only produced for a range-vector expression in an instant query.
    Matrix(Vec<Series>),
}

/// A range-vector argument materialised once: raw samples (staleness markers removed) plus what
/// is needed to cut each step's window `(t - range, t]`.
pub(crate) struct RangeData {
    pub series: Vec<Series>,
    pub range: i64,
    pub offset: i64,
    pub at: Option<i64>,
}

impl RangeData {
    /// The evaluation time the window of step `ts` ends at.
    pub fn window_end(&self, ts: i64) -> i64 {
        self.at.unwrap_or(ts).saturating_sub(self.offset)
    }
}

/// The samples of a series inside the left-open window `(end - range, end]`.
pub(crate) fn window(samples: &[Sample], end: i64, range: i64) -> &[Sample] {
    let lo = samples.partition_point(|s| s.t <= end.saturating_sub(range));
    let hi = samples.partition_point(|s| s.t <= end);
    if lo >= hi { &[] } else { &samples[lo..hi] }
}

/// `window` for a sequence of non-decreasing window ends over one series: the bounds only move
/// forward, so a whole step grid costs one pass over the samples instead of two binary searches
/// per step.
pub(crate) struct SlidingWindow<'a> {
    samples: &'a [Sample],
    lo: usize,
    hi: usize,
}

impl<'a> SlidingWindow<'a> {
    pub fn new(samples: &'a [Sample]) -> Self {
        SlidingWindow { samples, lo: 0, hi: 0 }
    }

    /// The samples in `(end - range, end]`; `end` must not decrease between calls.
    pub fn at(&mut self, end: i64, range: i64) -> &'a [Sample] {
        let start = end.saturating_sub(range);
        let s = self.samples;
        while self.hi < s.len() && s[self.hi].t <= end {
            self.hi += 1;
        }
        while self.lo < s.len() && s[self.lo].t <= start {
            self.lo += 1;
        }
        if self.lo >= self.hi { &[] } else { &s[self.lo..self.hi] }
    }
}

/// Gathers per-step output samples into series, failing like Prometheus when two output samples
/// of one step share a label set.
pub(crate) struct Collector {
    index: HashMap<Labels, usize, ahash::RandomState>,
    out: Vec<StepSeries>,
}

/// Marks an input series whose output slot is not assigned yet (see `Collector::push_cached`).
pub(crate) const NO_SLOT: usize = usize::MAX;

impl Collector {
    pub fn new() -> Self {
        Collector { index: HashMap::default(), out: Vec::new() }
    }

    /// The output series for `labels`, created on first use (first-use order is output order).
    pub fn slot(&mut self, labels: Labels) -> usize {
        if let Some(&i) = self.index.get(&labels) {
            return i;
        }
        self.index.insert(labels.clone(), self.out.len());
        self.out.push(StepSeries { labels, pts: Vec::new() });
        self.out.len() - 1
    }

    /// Adds a point to an output series; two points for one label set at one step is
    /// Prometheus's "same labelset" error.
    pub fn push_slot(&mut self, slot: usize, step: usize, v: f64) -> Result<()> {
        let step = step as u32;
        let s = &mut self.out[slot];
        if s.pts.last().is_some_and(|p| p.0 == step) {
            return Err(QueryError::Execution("vector cannot contain metrics with the same labelset".into()));
        }
        s.pts.push((step, v));
        Ok(())
    }

    pub fn push(&mut self, step: usize, labels: Labels, v: f64) -> Result<()> {
        let slot = self.slot(labels);
        self.push_slot(slot, step, v)
    }

    /// `push` for input series `si` whose output labels never change across steps: the label
    /// set is built and hashed once per series (`cache[si]`), not once per step.
    pub fn push_cached(
        &mut self,
        cache: &mut [usize],
        si: usize,
        labels: impl FnOnce() -> Labels,
        step: usize,
        v: f64,
    ) -> Result<()> {
        if cache[si] == NO_SLOT {
            cache[si] = self.slot(labels());
        }
        self.push_slot(cache[si], step, v)
    }

    /// Adds a whole series of points (ascending steps) to the output series for its labels.
    /// Another input series may already have filled that output series (the same labels after
    /// dropping `__name__`): that is only an error where both have a point at the same step,
    /// exactly as when points arrive step by step.
    pub fn push_series(&mut self, slot: usize, pts: Vec<(u32, f64)>) -> Result<()> {
        let s = &mut self.out[slot];
        if s.pts.is_empty() {
            s.pts = pts;
            return Ok(());
        }
        let mut merged = Vec::with_capacity(s.pts.len() + pts.len());
        let (mut a, mut b) = (s.pts.iter().peekable(), pts.iter().peekable());
        loop {
            match (a.peek(), b.peek()) {
                (Some(x), Some(y)) if x.0 == y.0 => {
                    return Err(QueryError::Execution("vector cannot contain metrics with the same labelset".into()));
                }
                (Some(x), Some(y)) => {
                    if x.0 < y.0 {
                        merged.push(**x);
                        a.next();
                    } else {
                        merged.push(**y);
                        b.next();
                    }
                }
                (Some(x), None) => {
                    merged.push(**x);
                    a.next();
                }
                (None, Some(y)) => {
                    merged.push(**y);
                    b.next();
                }
                (None, None) => break,
            }
        }
        s.pts = merged;
        Ok(())
    }

    pub fn finish(self) -> Vec<StepSeries> {
        self.out.into_iter().filter(|s| !s.pts.is_empty()).collect()
    }
}

/// Splits step series into per-step lists of (series index, value).
pub(crate) fn by_step(series: &[StepSeries], steps: usize) -> Vec<Vec<(usize, f64)>> {
    let mut out: Vec<Vec<(usize, f64)>> = vec![Vec::new(); steps];
    for (si, s) in series.iter().enumerate() {
        for &(i, v) in &s.pts {
            if let Some(b) = out.get_mut(i as usize) {
                b.push((si, v));
            }
        }
    }
    out
}

/// The state of one query evaluation. Subqueries temporarily narrow the step grid.
pub(crate) struct Evaluator<'a> {
    storage: &'a dyn Queryable,
    pub start: i64,
    pub end: i64,
    pub interval: i64,
    /// The outermost query's start and end, which `start()` and `end()` refer to.
    query_start: i64,
    query_end: i64,
    lookback: i64,
    started: Instant,
    timeout: Duration,
    max_samples: usize,
    samples: usize,
    pub warnings: Vec<String>,
    pub infos: Vec<String>,
}

impl<'a> Evaluator<'a> {
    pub fn new(storage: &'a dyn Queryable, opts: &EngineOptions, start: i64, end: i64, interval: i64) -> Self {
        let lookback = opts.lookback_delta.as_millis() as i64;
        Evaluator {
            storage,
            start,
            end,
            interval: interval.max(1),
            query_start: start,
            query_end: end,
            // Prometheus falls back to the default when the lookback delta is zero.
            lookback: if lookback <= 0 { 300_000 } else { lookback },
            started: Instant::now(),
            timeout: opts.timeout,
            max_samples: opts.max_samples,
            samples: 0,
            warnings: Vec::new(),
            infos: Vec::new(),
        }
    }

    pub fn steps(&self) -> usize {
        ((self.end - self.start) / self.interval + 1) as usize
    }

    pub fn step_ts(&self, i: usize) -> i64 {
        self.start + i as i64 * self.interval
    }

    pub fn warn(&mut self, msg: String) {
        if !self.warnings.contains(&msg) {
            self.warnings.push(msg);
        }
    }

    pub fn info(&mut self, msg: String) {
        if !self.infos.contains(&msg) {
            self.infos.push(msg);
        }
    }

    pub fn check_timeout(&self) -> Result<()> {
        if self.started.elapsed() > self.timeout {
            return Err(QueryError::Timeout("expression evaluation".into()));
        }
        Ok(())
    }

    /// Accounts for samples held by the query (selected data and node outputs).
    pub fn add_samples(&mut self, n: usize) -> Result<()> {
        self.samples = self.samples.saturating_add(n);
        if self.samples > self.max_samples {
            return Err(QueryError::TooManySamples);
        }
        Ok(())
    }

    pub fn eval(&mut self, expr: &Expr) -> Result<Val> {
        self.check_timeout()?;
        let out = match expr {
            Expr::NumberLiteral(n) => Val::Scalar(vec![n.val; self.steps()]),
            Expr::StringLiteral(s) => Val::Str(s.val.clone()),
            Expr::Paren(p) => self.eval(&p.expr)?,
            Expr::Unary(u) => match self.eval(&u.expr)? {
                Val::Scalar(v) => Val::Scalar(v.into_iter().map(|x| -x).collect()),
                Val::Vector(svs) => {
                    let mut c = Collector::new();
                    let steps = self.steps();
                    let mut slots = vec![NO_SLOT; svs.len()];
                    for (step, samples) in by_step(&svs, steps).into_iter().enumerate() {
                        for (si, v) in samples {
                            c.push_cached(&mut slots, si, || svs[si].labels.without_metric_name(), step, -v)?;
                        }
                    }
                    Val::Vector(c.finish())
                }
                _ => return Err(exec("unary minus is only allowed on scalars and instant vectors")),
            },
            Expr::VectorSelector(vs) => Val::Vector(self.eval_vector_selector(vs, false)?),
            Expr::MatrixSelector(_) | Expr::Subquery(_) => {
                if self.start != self.end {
                    return Err(exec("range vectors can only be evaluated at a single instant"));
                }
                let rd = self.eval_range_arg(expr)?;
                let end = rd.window_end(self.start);
                Val::Matrix(
                    rd.series
                        .into_iter()
                        .filter_map(|s| {
                            let w = window(&s.samples, end, rd.range);
                            (!w.is_empty()).then(|| Series { labels: s.labels.clone(), samples: w.to_vec() })
                        })
                        .collect(),
                )
            }
            Expr::Binary(b) => self.eval_binary(b)?,
            Expr::Aggregate(a) => crate::aggregate::eval(self, a)?,
            Expr::Call(c) => crate::functions::eval_call(self, c)?,
            Expr::Extension(_) => return Err(exec("extension expressions are not supported")),
        };
        if let Val::Vector(v) = &out {
            self.add_samples(v.iter().map(|s| s.pts.len()).sum())?;
        }
        Ok(out)
    }

    /// Evaluates an expression that must be an instant vector.
    pub fn eval_vector(&mut self, expr: &Expr) -> Result<Vec<StepSeries>> {
        match self.eval(expr)? {
            Val::Vector(v) => Ok(v),
            _ => Err(exec("expected an instant vector")),
        }
    }

    /// Evaluates an expression that must be a scalar: one value per step.
    pub fn eval_scalar(&mut self, expr: &Expr) -> Result<Vec<f64>> {
        match self.eval(expr)? {
            Val::Scalar(v) => Ok(v),
            _ => Err(exec("expected a scalar")),
        }
    }

    pub fn eval_string(&mut self, expr: &Expr) -> Result<String> {
        match self.eval(expr)? {
            Val::Str(s) => Ok(s),
            _ => Err(exec("expected a string")),
        }
    }

    fn at_time(&self, at: &Option<AtModifier>) -> Option<i64> {
        match at {
            None => None,
            Some(AtModifier::Start) => Some(self.query_start),
            Some(AtModifier::End) => Some(self.query_end),
            Some(AtModifier::At(t)) => Some(system_time_ms(*t)),
        }
    }

    /// The earliest and latest evaluation times a selector with `at`/`offset` is read at.
    fn eval_span(&self, at: Option<i64>, offset: i64) -> (i64, i64) {
        match at {
            Some(a) => (a.saturating_sub(offset), a.saturating_sub(offset)),
            None => (self.start.saturating_sub(offset), self.end.saturating_sub(offset)),
        }
    }

    fn select(&mut self, vs: &VectorSelector, mint: i64, maxt: i64) -> Result<Vec<Series>> {
        let mut groups: Vec<Vec<Matcher>> = Vec::new();
        let mut base = Vec::new();
        if let Some(name) = &vs.name {
            base.push(Matcher::equal(METRIC_NAME, name.clone()));
        }
        if vs.matchers.or_matchers.is_empty() {
            let mut g = base.clone();
            for m in &vs.matchers.matchers {
                g.push(crate::convert_matcher(m)?);
            }
            groups.push(g);
        } else {
            for or in &vs.matchers.or_matchers {
                let mut g = base.clone();
                for m in or.iter().chain(vs.matchers.matchers.iter()) {
                    g.push(crate::convert_matcher(m)?);
                }
                groups.push(g);
            }
        }
        // One matcher group (no `or`): the storage's answer is already unique and sorted.
        if groups.len() == 1 {
            let got = self.storage.select(mint, maxt, &groups[0]).map_err(|e| QueryError::Storage(e.to_string()))?;
            return self.account(got);
        }
        let mut out: Vec<Series> = Vec::new();
        let mut seen = HashSet::new();
        for g in groups {
            let got = self.storage.select(mint, maxt, &g).map_err(|e| QueryError::Storage(e.to_string()))?;
            for s in got {
                if seen.insert(s.labels.clone()) {
                    out.push(s);
                }
            }
        }
        if seen.len() > 1 {
            out.sort_by(|a, b| a.labels.cmp(&b.labels));
        }
        self.account(out)
    }

    /// Counts selected samples against `--query.max-samples`.
    fn account(&mut self, series: Vec<Series>) -> Result<Vec<Series>> {
        self.add_samples(series.iter().map(|s| s.samples.len()).sum())?;
        Ok(series)
    }

    /// An instant vector selector over the step grid. With `sample_time`, each value is the
    /// selected sample's own timestamp in seconds (what `timestamp()` reports).
    pub fn eval_vector_selector(&mut self, vs: &VectorSelector, sample_time: bool) -> Result<Vec<StepSeries>> {
        let at = self.at_time(&vs.at);
        let offset = offset_ms(&vs.offset);
        let (lo, hi) = self.eval_span(at, offset);
        // Lookback is left-open in Prometheus 3: (t - lookback, t].
        let series = self.select(vs, lo.saturating_sub(self.lookback - 1), hi)?;
        let steps = self.steps();
        let mut out = Vec::with_capacity(series.len());
        for s in series {
            let mut pts = Vec::new();
            for i in 0..steps {
                let t = at.unwrap_or(self.step_ts(i)).saturating_sub(offset);
                let idx = s.samples.partition_point(|x| x.t <= t);
                if idx == 0 {
                    continue;
                }
                let smp = s.samples[idx - 1];
                if smp.t <= t.saturating_sub(self.lookback) || is_stale_nan(smp.v) {
                    continue;
                }
                pts.push((i as u32, if sample_time { smp.t as f64 / 1000.0 } else { smp.v }));
            }
            if !pts.is_empty() {
                out.push(StepSeries { labels: s.labels, pts });
            }
        }
        Ok(out)
    }

    /// Materialises a range-vector argument (a matrix selector or a subquery, maybe in parens).
    pub fn eval_range_arg(&mut self, expr: &Expr) -> Result<RangeData> {
        match expr {
            Expr::Paren(p) => self.eval_range_arg(&p.expr),
            Expr::MatrixSelector(ms) => {
                let at = self.at_time(&ms.vs.at);
                let offset = offset_ms(&ms.vs.offset);
                let range = ms.range.as_millis() as i64;
                let (lo, hi) = self.eval_span(at, offset);
                let mut series = self.select(&ms.vs, lo.saturating_sub(range).saturating_add(1), hi)?;
                for s in &mut series {
                    // Staleness markers never show up in range vectors.
                    s.samples.retain(|x| !is_stale_nan(x.v));
                }
                series.retain(|s| !s.samples.is_empty());
                Ok(RangeData { series, range, offset, at })
            }
            Expr::Subquery(sq) => self.eval_subquery(sq),
            _ => Err(exec("expected a range vector (matrix selector or subquery)")),
        }
    }

    fn eval_subquery(&mut self, sq: &SubqueryExpr) -> Result<RangeData> {
        let at = self.at_time(&sq.at);
        let offset = offset_ms(&sq.offset);
        let range = sq.range.as_millis() as i64;
        let step = match sq.step {
            Some(s) if s.as_millis() > 0 => s.as_millis() as i64,
            _ => DEFAULT_SUBQUERY_STEP_MS,
        };
        let (outer_start, outer_end) = match at {
            Some(a) => (a, a),
            None => (self.start, self.end),
        };
        let first = outer_start.saturating_sub(offset).saturating_sub(range);
        // Subquery steps sit on absolute multiples of the step, strictly after the range start
        // (Prometheus 3's left-open ranges). Integer division truncates toward zero, like Go.
        let mut inner_start = step * (first / step);
        if inner_start <= first {
            inner_start = inner_start.saturating_add(step);
        }
        let inner_end = outer_end.saturating_sub(offset);
        // Every inner step holds at least one value, so a grid larger than the sample limit
        // can never succeed; refuse it before allocating (`x[1y:1ms]`).
        if inner_start <= inner_end && ((inner_end - inner_start) / step) as u128 >= self.max_samples as u128 {
            return Err(QueryError::TooManySamples);
        }
        let saved = (self.start, self.end, self.interval);
        let mut series = Vec::new();
        if inner_start <= inner_end {
            self.start = inner_start;
            self.end = inner_end;
            self.interval = step;
            let res = self.eval(&sq.expr);
            let (s0, int) = (self.start, self.interval);
            (self.start, self.end, self.interval) = saved;
            let to_samples =
                |pts: &[(u32, f64)]| pts.iter().map(|(i, v)| Sample::new(s0 + *i as i64 * int, *v)).collect();
            match res? {
                Val::Vector(svs) => {
                    series =
                        svs.iter().map(|s| Series { labels: s.labels.clone(), samples: to_samples(&s.pts) }).collect()
                }
                Val::Scalar(v) => series.push(Series {
                    labels: Labels::empty(),
                    samples: v.iter().enumerate().map(|(i, v)| Sample::new(s0 + i as i64 * int, *v)).collect(),
                }),
                _ => return Err(exec("subquery is only allowed on instant vector")),
            }
        }
        Ok(RangeData { series, range, offset, at })
    }

    fn eval_binary(&mut self, b: &BinaryExpr) -> Result<Val> {
        let op = b.op.id();
        let lhs = self.eval(&b.lhs)?;
        let rhs = self.eval(&b.rhs)?;
        let return_bool = b.modifier.as_ref().is_some_and(|m| m.return_bool);
        let steps = self.steps();
        match (lhs, rhs) {
            (Val::Scalar(l), Val::Scalar(r)) => {
                let mut out = Vec::with_capacity(steps);
                for (a, c) in l.iter().zip(r.iter()) {
                    let (v, keep) = binop_value(op, *a, *c)?;
                    out.push(if is_comparison(op) { if keep { 1.0 } else { 0.0 } } else { v });
                }
                Ok(Val::Scalar(out))
            }
            (Val::Vector(l), Val::Scalar(r)) => Ok(Val::Vector(self.vector_scalar(op, &l, &r, false, return_bool)?)),
            (Val::Scalar(l), Val::Vector(r)) => Ok(Val::Vector(self.vector_scalar(op, &r, &l, true, return_bool)?)),
            (Val::Vector(l), Val::Vector(r)) => {
                let m = VectorMatching::from_expr(b, op);
                if matches!(op, token::T_LAND | token::T_LOR | token::T_LUNLESS) {
                    Ok(Val::Vector(self.set_op(op, &l, &r, &m)?))
                } else {
                    Ok(Val::Vector(self.vector_binop(op, &l, &r, &m, return_bool)?))
                }
            }
            _ => Err(exec("binary operators are only defined on scalars and instant vectors")),
        }
    }

    fn vector_scalar(
        &mut self,
        op: TokenId,
        vec: &[StepSeries],
        scalar: &[f64],
        swap: bool,
        return_bool: bool,
    ) -> Result<Vec<StepSeries>> {
        let steps = self.steps();
        let mut c = Collector::new();
        let drop_name = should_drop_name(op) || return_bool;
        let mut slots = vec![NO_SLOT; vec.len()];
        for (step, samples) in by_step(vec, steps).into_iter().enumerate() {
            let sv = scalar.get(step).copied().unwrap_or(f64::NAN);
            for (si, v) in samples {
                let (lv, rv) = if swap { (sv, v) } else { (v, sv) };
                let (mut val, mut keep) = binop_value(op, lv, rv)?;
                // A comparison keeps the vector element's value even when the scalar is on the left.
                if is_comparison(op) && swap {
                    val = rv;
                }
                if return_bool {
                    val = if keep { 1.0 } else { 0.0 };
                    keep = true;
                }
                if keep {
                    let labels = &vec[si].labels;
                    let out = || if drop_name { labels.without_metric_name() } else { labels.clone() };
                    c.push_cached(&mut slots, si, out, step, val)?;
                }
            }
            if step % 256 == 0 {
                self.check_timeout()?;
            }
        }
        Ok(c.finish())
    }

    fn vector_binop(
        &mut self,
        op: TokenId,
        lhs: &[StepSeries],
        rhs: &[StepSeries],
        m: &VectorMatching,
        return_bool: bool,
    ) -> Result<Vec<StepSeries>> {
        // The right side is the "one" side; group_right swaps the roles.
        let one_to_many = matches!(m.card, Card::OneToMany);
        let (many, one) = if one_to_many { (rhs, lhs) } else { (lhs, rhs) };
        let many_sigs: Vec<u64> = many.iter().map(|s| m.signature(&s.labels)).collect();
        let one_sigs: Vec<u64> = one.iter().map(|s| m.signature(&s.labels)).collect();
        let steps = self.steps();
        let many_steps = by_step(many, steps);
        let one_steps = by_step(one, steps);
        let mut c = Collector::new();
        for step in 0..steps {
            let mut right: HashMap<u64, (usize, f64)> = HashMap::new();
            for &(si, v) in &one_steps[step] {
                let sig = one_sigs[si];
                if let Some((dup, _)) = right.get(&sig) {
                    let side = if one_to_many { "left" } else { "right" };
                    let matched = m.match_labels(&one[si].labels);
                    return Err(QueryError::Execution(format!(
                        "found duplicate series for the match group {matched} on the {side} hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                        one[si].labels, one[*dup].labels
                    )));
                }
                right.insert(sig, (si, v));
            }
            // For one-to-one: which signatures produced output; for many-to-one: which result
            // label sets each signature produced.
            let mut matched: HashMap<u64, HashSet<u64>> = HashMap::new();
            for &(si, v) in &many_steps[step] {
                let sig = many_sigs[si];
                let Some(&(ri, rv)) = right.get(&sig) else { continue };
                let (lv, rv2) = if one_to_many { (rv, v) } else { (v, rv) };
                let (mut val, mut keep) = binop_value(op, lv, rv2)?;
                if return_bool {
                    val = if keep { 1.0 } else { 0.0 };
                    keep = true;
                }
                if !keep {
                    continue;
                }
                let mut metric = m.result_labels(&many[si].labels, &one[ri].labels, op);
                if return_bool {
                    metric = metric.without_metric_name();
                }
                match m.card {
                    Card::OneToOne => {
                        if matched.insert(sig, HashSet::new()).is_some() {
                            return Err(exec(
                                "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)",
                            ));
                        }
                    }
                    _ => {
                        let h = metric.hash();
                        if !matched.entry(sig).or_default().insert(h) {
                            return Err(exec(
                                "multiple matches for labels: grouping labels must ensure unique matches",
                            ));
                        }
                    }
                }
                c.push(step, metric, val)?;
            }
            if step % 64 == 0 {
                self.check_timeout()?;
            }
        }
        Ok(c.finish())
    }

    fn set_op(
        &mut self,
        op: TokenId,
        lhs: &[StepSeries],
        rhs: &[StepSeries],
        m: &VectorMatching,
    ) -> Result<Vec<StepSeries>> {
        let lsigs: Vec<u64> = lhs.iter().map(|s| m.signature(&s.labels)).collect();
        let rsigs: Vec<u64> = rhs.iter().map(|s| m.signature(&s.labels)).collect();
        let steps = self.steps();
        let ls = by_step(lhs, steps);
        let rs = by_step(rhs, steps);
        let mut c = Collector::new();
        let mut lslots = vec![NO_SLOT; lhs.len()];
        let mut rslots = vec![NO_SLOT; rhs.len()];
        for step in 0..steps {
            match op {
                token::T_LAND | token::T_LUNLESS => {
                    let right: HashSet<u64> = rs[step].iter().map(|(i, _)| rsigs[*i]).collect();
                    let want = op == token::T_LAND;
                    for &(i, v) in &ls[step] {
                        if right.contains(&lsigs[i]) == want {
                            c.push_cached(&mut lslots, i, || lhs[i].labels.clone(), step, v)?;
                        }
                    }
                }
                _ => {
                    let left: HashSet<u64> = ls[step].iter().map(|(i, _)| lsigs[*i]).collect();
                    for &(i, v) in &ls[step] {
                        c.push_cached(&mut lslots, i, || lhs[i].labels.clone(), step, v)?;
                    }
                    for &(i, v) in &rs[step] {
                        if !left.contains(&rsigs[i]) {
                            c.push_cached(&mut rslots, i, || rhs[i].labels.clone(), step, v)?;
                        }
                    }
                }
            }
        }
        Ok(c.finish())
    }
}

pub(crate) fn exec(msg: &str) -> QueryError {
    QueryError::Execution(msg.to_string())
}

fn system_time_ms(t: SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_millis()).map(|v| -v).unwrap_or(i64::MIN),
    }
}

pub(crate) fn offset_ms(o: &Option<Offset>) -> i64 {
    match o {
        None => 0,
        Some(Offset::Pos(d)) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Some(Offset::Neg(d)) => i64::try_from(d.as_millis()).map(|v| -v).unwrap_or(i64::MIN),
    }
}

pub(crate) fn is_comparison(op: TokenId) -> bool {
    matches!(op, token::T_EQLC | token::T_NEQ | token::T_GTR | token::T_LSS | token::T_GTE | token::T_LTE)
}

/// Arithmetic operators drop the metric name; comparisons and set operators keep it.
fn should_drop_name(op: TokenId) -> bool {
    matches!(
        op,
        token::T_ADD | token::T_SUB | token::T_MUL | token::T_DIV | token::T_MOD | token::T_POW | token::T_ATAN2
    )
}

/// Applies an operator to two floats: (value, keep). Comparisons keep the left value when true.
pub(crate) fn binop_value(op: TokenId, l: f64, r: f64) -> Result<(f64, bool)> {
    Ok(match op {
        token::T_ADD => (l + r, true),
        token::T_SUB => (l - r, true),
        token::T_MUL => (l * r, true),
        token::T_DIV => (l / r, true),
        // Go's math.Mod and Rust's `%` on floats agree: the result has the dividend's sign.
        token::T_MOD => (l % r, true),
        token::T_POW => (l.powf(r), true),
        token::T_ATAN2 => (l.atan2(r), true),
        token::T_EQLC => (l, l == r),
        token::T_NEQ => (l, l != r),
        token::T_GTR => (l, l > r),
        token::T_LSS => (l, l < r),
        token::T_GTE => (l, l >= r),
        token::T_LTE => (l, l <= r),
        _ => return Err(exec("operator not allowed between these operands")),
    })
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Card {
    OneToOne,
    ManyToOne,
    OneToMany,
    ManyToMany,
}

/// `on`/`ignoring` and `group_left`/`group_right` of a vector-vector operation.
struct VectorMatching {
    card: Card,
    on: bool,
    /// Sorted matching label names.
    labels: Vec<String>,
    include: Vec<String>,
}

impl VectorMatching {
    fn from_expr(b: &BinaryExpr, op: TokenId) -> Self {
        let set_op = matches!(op, token::T_LAND | token::T_LOR | token::T_LUNLESS);
        let (mut card, include) = match b.modifier.as_ref().map(|m| &m.card) {
            Some(VectorMatchCardinality::ManyToOne(l)) => (Card::ManyToOne, l.labels.clone()),
            Some(VectorMatchCardinality::OneToMany(l)) => (Card::OneToMany, l.labels.clone()),
            Some(VectorMatchCardinality::ManyToMany) => (Card::ManyToMany, Vec::new()),
            _ => (Card::OneToOne, Vec::new()),
        };
        if set_op {
            card = Card::ManyToMany;
        }
        let (on, mut labels) = match b.modifier.as_ref().and_then(|m| m.matching.as_ref()) {
            Some(LabelModifier::Include(l)) => (true, l.labels.clone()),
            Some(LabelModifier::Exclude(l)) => (false, l.labels.clone()),
            None => (false, Vec::new()),
        };
        labels.sort();
        labels.dedup();
        VectorMatching { card, on, labels, include }
    }

    fn signature(&self, l: &Labels) -> u64 {
        if self.on { l.hash_for_labels(&self.labels) } else { l.hash_without_labels(&self.labels) }
    }

    /// The labels that form the match group, for error messages.
    fn match_labels(&self, l: &Labels) -> Labels {
        if self.on { l.keep(&self.labels) } else { l.drop_labels(&self.labels, true) }
    }

    fn result_labels(&self, many: &Labels, one: &Labels, op: TokenId) -> Labels {
        let base = if self.card == Card::OneToOne {
            if self.on { many.keep(&self.labels) } else { many.drop_labels(&self.labels, false) }
        } else {
            many.clone()
        };
        let mut b = LabelsBuilder::new(base);
        if should_drop_name(op) {
            b.del(METRIC_NAME);
        }
        // Labels named in group_x(...) come from the "one" side.
        for ln in &self.include {
            let v = one.get(ln);
            if v.is_empty() {
                b.del(ln);
            } else {
                b.set(ln.clone(), v.to_string());
            }
        }
        b.labels()
    }
}

#[cfg(test)]
mod tests {
    use oxeye_model::Appendable;
    use oxeye_model::storage::memory::MemStorage;

    use super::*;

    type SeriesSpec<'a> = (&'a [(&'a str, &'a str)], &'a [(i64, f64)]);

    fn storage(series: &[SeriesSpec<'_>]) -> MemStorage {
        let s = MemStorage::new();
        let mut app = s.appender();
        for (labels, samples) in series {
            let l = Labels::from_pairs(labels.iter().copied());
            for &(t, v) in *samples {
                app.append(None, &l, t, v).unwrap();
            }
        }
        app.commit().unwrap();
        s
    }

    fn engine() -> Engine {
        Engine::new(EngineOptions::default())
    }

    #[test]
    fn duplicate_match_group_is_an_error() {
        let s = storage(&[
            (&[("__name__", "a"), ("job", "x"), ("i", "1")], &[(0, 1.0)]),
            (&[("__name__", "b"), ("job", "x"), ("i", "1")], &[(0, 1.0)]),
            (&[("__name__", "b"), ("job", "x"), ("i", "2")], &[(0, 2.0)]),
        ]);
        let err = engine().instant_query(&s, "a + on(job) b", 0).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("found duplicate series for the match group {job=\"x\"} on the right hand-side")
        );
        assert!(err.to_string().contains("many-to-many matching not allowed"));
        assert_eq!(err.error_type(), "execution");
        let err = engine().instant_query(&s, "b + on(job) group_right a", 0).unwrap_err();
        assert!(err.to_string().contains("on the left hand-side"), "{err}");
        // The many side may repeat a match group with group_left.
        let ok = engine().instant_query(&s, "b + on(job) group_left a", 0).unwrap();
        assert!(matches!(ok.value, Value::Vector(v) if v.len() == 2));
    }

    #[test]
    fn one_to_one_with_many_matches_needs_grouping() {
        let s = storage(&[
            (&[("__name__", "a"), ("job", "x"), ("i", "1")], &[(0, 1.0)]),
            (&[("__name__", "a"), ("job", "x"), ("i", "2")], &[(0, 1.0)]),
            (&[("__name__", "b"), ("job", "x")], &[(0, 1.0)]),
        ]);
        let err = engine().instant_query(&s, "a + on(job) b", 0).unwrap_err();
        assert_eq!(
            err.to_string(),
            "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)"
        );
    }

    #[test]
    fn subquery_steps_are_aligned_to_absolute_multiples() {
        // One sample per second; a [10s:3s] subquery evaluated at 17s must sample at 9, 12 and
        // 15s (absolute multiples of 3s after 17s-10s=7s), not at 8, 11, 14, 17.
        let samples: Vec<(i64, f64)> = (0..30).map(|i| (i * 1000, i as f64)).collect();
        let s = storage(&[(&[("__name__", "m")], &samples)]);
        let r = engine().instant_query(&s, "m[10s:3s]", 17_000).unwrap();
        let Value::Matrix(m) = r.value else { panic!("expected a matrix") };
        let ts: Vec<i64> = m[0].samples.iter().map(|x| x.t).collect();
        assert_eq!(ts, vec![9_000, 12_000, 15_000]);
        // A left-open range: at 18s, 8s is excluded and 18s included.
        let r = engine().instant_query(&s, "m[10s:2s]", 18_000).unwrap();
        let Value::Matrix(m) = r.value else { panic!("expected a matrix") };
        assert_eq!(m[0].samples.first().map(|x| x.t), Some(10_000));
        assert_eq!(m[0].samples.last().map(|x| x.t), Some(18_000));
    }

    #[test]
    fn range_query_returns_sorted_matrix_even_for_scalars() {
        let s = storage(&[]);
        let r = engine().range_query(&s, "1 + 1", 0, 60_000, 30_000).unwrap();
        let Value::Matrix(m) = r.value else { panic!("expected a matrix") };
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].samples.len(), 3);
        assert!(engine().range_query(&s, "up[5m]", 0, 60_000, 30_000).is_err());
    }

    #[test]
    fn too_many_samples_is_reported() {
        let samples: Vec<(i64, f64)> = (0..100).map(|i| (i * 1000, 1.0)).collect();
        let s = storage(&[(&[("__name__", "m")], &samples)]);
        let e = Engine::new(EngineOptions { max_samples: 10, ..EngineOptions::default() });
        assert_eq!(e.instant_query(&s, "sum_over_time(m[100s])", 100_000).unwrap_err(), QueryError::TooManySamples);
    }

    #[test]
    fn nasty_inputs_error_without_panicking() {
        let s = storage(&[
            (&[("__name__", "m"), ("job", "a")], &[(0, 1.0), (60_000, 2.0)]),
            (&[("__name__", "n"), ("job", "a")], &[(0, 1.0)]),
        ]);
        let queries = [
            "",
            "(",
            "m{",
            "m[",
            "m[5m",
            "sum(",
            "}",
            "m +",
            "m[0s]",
            "rate(m)",
            "rate(m[5m:0s])",
            "m[1y:1ms]",
            "topk(NaN, m)",
            "topk(1e300, m)",
            "topk(-1e300, m)",
            "quantile(NaN, m)",
            "limit_ratio(NaN, m)",
            "count_values(\"\", m)",
            "count_values(\"a-b\", m)",
            "label_replace(m, \"x\", \"$1\", \"job\", \"(\")",
            "label_replace(m, \"1x\", \"\", \"job\", \"\")",
            "label_join(m, \"\", \",\", \"job\")",
            "histogram_quantile(0.5, m)",
            "histogram_quantile(NaN, m)",
            "double_exponential_smoothing(m[5m], 0, 2)",
            "{__name__=~\"m|n\"} + 1",
            "-{__name__=~\"m|n\"}",
            "m @ 1e300",
            "m offset -1000y",
            "m offset 1000y",
            "m[10000y]",
            "vector(1)[5m:1ms] @ 0",
            "round(m, 0)",
            "clamp(m, NaN, NaN)",
            "predict_linear(m[5m], 1e308)",
            "info(m)",
            "sort_by_label(m, \"\")",
            "1 % 0",
            "day_of_week(vector(1e300))",
            "year(vector(-1e300))",
            "timestamp(m @ -1e15)",
            "absent(nonexistent{a=\"1\",a=\"2\"})",
            "m and on() n or ignoring(job) m unless n",
            "m == bool on(job) group_left(x) n",
            "\"string\"",
            "scalar(m) + scalar(n)",
        ];
        for q in queries {
            let e = engine();
            for res in [e.instant_query(&s, q, 60_000), e.range_query(&s, q, 0, 120_000, 15_000)] {
                if let Err(err) = res {
                    assert!(!err.to_string().is_empty(), "{q}: empty error message");
                }
            }
        }
        // Degenerate range queries are refused, not evaluated.
        assert!(engine().range_query(&s, "m", 0, 10, 0).is_err());
        assert!(engine().range_query(&s, "m", 10, 0, 1).is_err());
        assert!(engine().range_query(&s, "m", i64::MIN, i64::MAX, 1).is_err());
    }
}
