//! Rule groups (Prometheus's `rules/group.go`): rules evaluated in order at one timestamp,
//! results appended one commit per rule, stale markers for series a rule stopped producing,
//! alert sending, `for`-state restoration, the group's evaluation slot, and state carried over
//! a reload. Scheduling on a runtime belongs to the manager; this module is synchronous.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use oxeye_model::{Alert, AppendError, Labels, STALE_NAN};
use oxeye_promql::{InstantSample, Value};

use crate::alerting::AlertingRule;
use crate::file::{self, RuleFile};
use crate::metrics::GroupMetrics;
use crate::recording::RecordingRule;
use crate::{GroupStatus, RuleError, RuleHealth, RuleLoadErrors, dur_ms, now_ms};

/// What rule evaluation reads and writes through.
pub struct EvalContext<'a> {
    pub engine: &'a oxeye_promql::Engine,
    pub queryable: &'a dyn oxeye_model::Queryable,
    pub appendable: &'a dyn oxeye_model::Appendable,
    /// `--rules.alert.resend-delay`.
    pub resend_delay: Duration,
    /// `--rules.alert.for-outage-tolerance`, used by `for`-state restoration.
    pub outage_tolerance: Duration,
    /// `--rules.alert.for-grace-period`, used by `for`-state restoration.
    pub for_grace_period: Duration,
    /// Backs the `query` function of alert templates; `None` makes `query` fail. Build one
    /// with [`engine_query_fn`] from owned handles (the template callback must be `'static`).
    pub template_query: Option<oxeye_template::QueryFn>,
}

impl<'a> EvalContext<'a> {
    /// A context with Prometheus's defaults: resend delay 1m, outage tolerance 1h, grace 10m.
    pub fn new(
        engine: &'a oxeye_promql::Engine,
        queryable: &'a dyn oxeye_model::Queryable,
        appendable: &'a dyn oxeye_model::Appendable,
    ) -> Self {
        EvalContext {
            engine,
            queryable,
            appendable,
            resend_delay: Duration::from_secs(60),
            outage_tolerance: Duration::from_secs(3600),
            for_grace_period: Duration::from_secs(600),
            template_query: None,
        }
    }

    /// Sets the callback behind the templates' `query` function.
    pub fn with_template_query(mut self, f: oxeye_template::QueryFn) -> Self {
        self.template_query = Some(f);
        self
    }
}

/// A template `query` callback running instant queries with `engine` against `queryable`.
pub fn engine_query_fn(
    engine: Arc<oxeye_promql::Engine>,
    queryable: Arc<dyn oxeye_model::Queryable>,
) -> oxeye_template::QueryFn {
    Arc::new(move |q: &str, ts_ms: i64| {
        let res = engine.instant_query(queryable.as_ref(), q, ts_ms).map_err(|e| e.to_string())?;
        match res.value {
            Value::Vector(v) => {
                Ok(v.into_iter().map(|s| oxeye_template::QuerySample { labels: s.labels, value: s.v }).collect())
            }
            Value::Scalar { v, .. } => Ok(vec![oxeye_template::QuerySample { labels: Labels::empty(), value: v }]),
            _ => Err("query result is not a vector or scalar".to_string()),
        }
    })
}

/// Runs `expr` as an instant query at `ts_ms`: Prometheus's `EngineQueryFunc` (a scalar
/// becomes a one-element vector without labels).
pub(crate) fn query_vector(ctx: &EvalContext<'_>, expr: &str, ts_ms: i64) -> Result<Vec<InstantSample>, String> {
    let res = ctx.engine.instant_query(ctx.queryable, expr, ts_ms).map_err(|e| e.to_string())?;
    match res.value {
        Value::Vector(v) => Ok(v),
        Value::Scalar { t, v } => Ok(vec![InstantSample { labels: Labels::empty(), t, v }]),
        _ => Err("rule result is not a vector or scalar".into()),
    }
}

/// A recording or an alerting rule.
#[derive(Debug, Clone)]
pub enum Rule {
    Recording(RecordingRule),
    Alerting(AlertingRule),
}

impl Rule {
    pub fn name(&self) -> &str {
        match self {
            Rule::Recording(r) => r.name(),
            Rule::Alerting(r) => r.name(),
        }
    }

    pub fn labels(&self) -> Labels {
        match self {
            Rule::Recording(r) => r.labels(),
            Rule::Alerting(r) => r.labels(),
        }
    }

    pub fn health(&self) -> RuleHealth {
        match self {
            Rule::Recording(r) => r.health,
            Rule::Alerting(r) => r.health,
        }
    }

    pub fn last_error(&self) -> Option<&str> {
        match self {
            Rule::Recording(r) => r.last_error.as_deref(),
            Rule::Alerting(r) => r.last_error.as_deref(),
        }
    }

    pub fn status(&self) -> crate::RuleStatus {
        match self {
            Rule::Recording(r) => r.status(),
            Rule::Alerting(r) => r.status(),
        }
    }

    fn set_result(&mut self, health: RuleHealth, err: Option<String>) {
        let (h, e) = match self {
            Rule::Recording(r) => (&mut r.health, &mut r.last_error),
            Rule::Alerting(r) => (&mut r.health, &mut r.last_error),
        };
        *h = health;
        *e = err;
    }

    fn set_timing(&mut self, took: Duration, at_ms: i64) {
        let (t, l) = match self {
            Rule::Recording(r) => (&mut r.eval_time, &mut r.last_eval),
            Rule::Alerting(r) => (&mut r.eval_time, &mut r.last_eval),
        };
        *t = took;
        *l = Some(at_ms);
    }

    /// Prometheus's `nameAndLabels`, how state is matched across a reload.
    fn identity(&self) -> String {
        format!("{}{}", self.name(), self.labels())
    }
}

/// Options for `load_groups`.
#[derive(Debug, Clone, Default)]
pub struct GroupLoadOptions {
    /// The global `evaluation_interval`, for groups without their own.
    pub default_interval: Duration,
    pub external_labels: Labels,
    pub external_url: String,
}

/// A group of rules evaluated in order at the same timestamp.
#[derive(Debug, Clone)]
pub struct Group {
    name: String,
    file: String,
    interval: Duration,
    limit: usize,
    query_offset: Option<Duration>,
    rules: Vec<Rule>,
    /// Per rule, the series its last successful evaluation appended.
    series_in_previous_eval: Vec<HashSet<Labels>>,
    /// Series of rules that went away, to be marked stale at the next evaluation.
    stale_series: Vec<Labels>,
    /// Whether `for` state is to be restored (first load after start).
    pub(crate) should_restore: bool,
    evaluation_time: Duration,
    last_evaluation: Option<i64>,
    last_eval_timestamp: Option<i64>,
    /// What the group was built from, to tell an unchanged group on reload.
    fingerprint: String,
    pub(crate) metrics: Option<Arc<GroupMetrics>>,
}

impl Group {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn file(&self) -> &str {
        &self.file
    }

    pub fn interval(&self) -> Duration {
        self.interval
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    pub fn query_offset(&self) -> Option<Duration> {
        self.query_offset
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Prometheus's `GroupKey`: `file;name`.
    pub fn key(&self) -> String {
        group_key(&self.file, &self.name)
    }

    pub fn alerting_rules(&self) -> Vec<&AlertingRule> {
        self.rules
            .iter()
            .filter_map(|r| match r {
                Rule::Alerting(a) => Some(a),
                Rule::Recording(_) => None,
            })
            .collect()
    }

    /// The timestamp of the last evaluation (the evaluation time, not the wall clock).
    pub fn last_eval_timestamp(&self) -> Option<i64> {
        self.last_eval_timestamp
    }

    pub(crate) fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Builds a group from a parsed file's group.
    pub fn from_def(
        file_name: &str,
        def: &file::RuleGroup,
        opts: &GroupLoadOptions,
        restored: bool,
        should_restore: bool,
    ) -> Group {
        let rules: Vec<Rule> = def
            .rules
            .iter()
            .map(|r| {
                let mut labels: BTreeMap<String, String> = def.labels.clone();
                labels.extend(r.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
                if r.is_alerting() {
                    Rule::Alerting(AlertingRule::new(
                        r.alert.clone(),
                        r.expr.clone(),
                        r.for_,
                        r.keep_firing_for,
                        labels,
                        r.annotations.clone(),
                        opts.external_labels.clone(),
                        opts.external_url.clone(),
                        restored,
                    ))
                } else {
                    Rule::Recording(RecordingRule::new(r.record.clone(), r.expr.clone(), labels))
                }
            })
            .collect();
        let interval = def.interval.filter(|d| !d.is_zero()).unwrap_or(opts.default_interval);
        let fingerprint = format!("{def:?}|{interval:?}|{}|{}", opts.external_labels, opts.external_url);
        Group {
            name: def.name.clone(),
            file: file_name.to_string(),
            interval,
            limit: def.limit,
            query_offset: def.query_offset,
            series_in_previous_eval: vec![HashSet::new(); rules.len()],
            rules,
            stale_series: Vec::new(),
            should_restore,
            evaluation_time: Duration::ZERO,
            last_evaluation: None,
            last_eval_timestamp: None,
            fingerprint,
            metrics: None,
        }
    }

    /// Prometheus's `EvalTimestamp`: the latest slot at or before `start_ms`, the slots being
    /// `interval` apart and offset by a hash of (file, name) so groups spread over the interval.
    pub fn eval_timestamp(&self, start_ms: i64) -> i64 {
        let interval_ns = self.interval.as_nanos().max(1) as i128;
        let offset = (self.hash() as u128 % interval_ns as u128) as i128;
        let start_ns = start_ms as i128 * 1_000_000;
        let adj = start_ns - offset;
        let base = adj - adj.rem_euclid(interval_ns);
        // Prometheus works in nanoseconds; rounding the slot up to a whole millisecond keeps
        // `eval_timestamp(slot) == slot`.
        (base + offset).div_euclid(1_000_000) as i64 + i64::from((base + offset).rem_euclid(1_000_000) != 0)
    }

    /// Prometheus's `labels.New(name, file).Hash()`: xxhash64 over `name\xffvalue\xff` pairs.
    fn hash(&self) -> u64 {
        let mut buf = Vec::with_capacity(self.file.len() + self.name.len() + 12);
        for (n, v) in [("file", self.file.as_str()), ("name", self.name.as_str())] {
            buf.extend_from_slice(n.as_bytes());
            buf.push(0xff);
            buf.extend_from_slice(v.as_bytes());
            buf.push(0xff);
        }
        xxhash_rust::xxh64::xxh64(&buf, 0)
    }

    fn query_offset_ms(&self) -> i64 {
        self.query_offset.map(dur_ms).unwrap_or(0)
    }

    /// Evaluates every rule once at `ts_ms`, in order, appending each rule's results in its
    /// own commit, and returns the alerts to send (filtered by the resend policy).
    pub fn eval(&mut self, ctx: &EvalContext<'_>, ts_ms: i64) -> Vec<Alert> {
        let offset = self.query_offset_ms();
        let key = self.key();
        let mut samples_total = 0usize;
        let mut to_send = Vec::new();
        for i in 0..self.rules.len() {
            if let Some(m) = &self.metrics {
                m.evaluations.inc();
            }
            let start = Instant::now();
            let wall = now_ms();
            let limit = self.limit;
            let result = match &mut self.rules[i] {
                Rule::Recording(r) => r.eval(ctx, ts_ms, offset, limit),
                Rule::Alerting(r) => r.eval(ctx, ts_ms, offset, limit),
            };
            let rule = &mut self.rules[i];
            let samples = match result {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(group = %key, rule = rule.name(), err = %e, "Evaluating rule failed");
                    rule.set_result(RuleHealth::Err, Some(e));
                    if let Some(m) = &self.metrics {
                        m.failures.inc();
                    }
                    let took = start.elapsed();
                    rule.set_timing(took, wall);
                    if let Some(m) = &self.metrics {
                        m.observe_rule(took);
                    }
                    continue;
                }
            };
            rule.set_result(RuleHealth::Ok, None);
            samples_total += samples.len();
            if let Rule::Alerting(a) = rule {
                to_send.extend(a.alerts_to_send(ts_ms, ctx.resend_delay, self.interval));
            }
            self.append_results(ctx, i, ts_ms - offset, samples, &key);
            let took = start.elapsed();
            self.rules[i].set_timing(took, wall);
            if let Some(m) = &self.metrics {
                m.observe_rule(took);
            }
        }
        if let Some(m) = &self.metrics {
            m.last_samples.set(samples_total as i64);
        }
        self.cleanup_stale_series(ctx, ts_ms);
        self.last_eval_timestamp = Some(ts_ms);
        to_send
    }

    /// Appends one rule's samples, then stale markers for its series that vanished.
    fn append_results(&mut self, ctx: &EvalContext<'_>, i: usize, t: i64, samples: Vec<(Labels, f64)>, key: &str) {
        let mut app = ctx.appendable.appender();
        let mut returned = HashSet::with_capacity(samples.len());
        let (mut out_of_order, mut too_old, mut duplicates) = (0usize, 0usize, 0usize);
        let mut append_err = None;
        for (labels, v) in samples {
            match app.append(None, &labels, t, v) {
                Ok(_) => {
                    returned.insert(labels);
                }
                Err(e) => {
                    match e {
                        AppendError::OutOfOrder => out_of_order += 1,
                        AppendError::OutOfBounds => too_old += 1,
                        AppendError::DuplicateSampleForTimestamp => duplicates += 1,
                        _ => {
                            tracing::warn!(group = key, err = %e, sample = %labels, "Rule evaluation result discarded")
                        }
                    }
                    append_err = Some(e.to_string());
                }
            }
        }
        if out_of_order > 0 {
            tracing::warn!(
                group = key,
                num_dropped = out_of_order,
                "Error on ingesting out-of-order result from rule evaluation"
            );
        }
        if too_old > 0 {
            tracing::warn!(
                group = key,
                num_dropped = too_old,
                "Error on ingesting too old result from rule evaluation"
            );
        }
        if duplicates > 0 {
            tracing::warn!(
                group = key,
                num_dropped = duplicates,
                "Error on ingesting results from rule evaluation with different value but same timestamp"
            );
        }
        for lset in &self.series_in_previous_eval[i] {
            if returned.contains(lset) {
                continue;
            }
            match app.append(None, lset, t, STALE_NAN) {
                // Expected when another rule now produces the series.
                Ok(_)
                | Err(AppendError::OutOfOrder | AppendError::OutOfBounds | AppendError::DuplicateSampleForTimestamp) => {
                }
                Err(e) => tracing::warn!(group = key, err = %e, series = %lset, "Adding stale sample failed"),
            }
        }
        if let Some(e) = append_err {
            self.rules[i].set_result(RuleHealth::Err, Some(e));
        }
        match app.commit() {
            Ok(()) => self.series_in_previous_eval[i] = returned,
            Err(e) => {
                tracing::warn!(group = key, err = %e, "Rule sample appending failed");
                self.rules[i].set_result(RuleHealth::Err, Some(e.to_string()));
                if let Some(m) = &self.metrics {
                    m.failures.inc();
                }
            }
        }
    }

    /// Writes stale markers for the series of rules removed by a reload.
    pub(crate) fn cleanup_stale_series(&mut self, ctx: &EvalContext<'_>, ts_ms: i64) {
        if self.stale_series.is_empty() {
            return;
        }
        let t = ts_ms - self.query_offset_ms();
        let mut app = ctx.appendable.appender();
        for s in &self.stale_series {
            match app.append(None, s, t, STALE_NAN) {
                Ok(_)
                | Err(AppendError::OutOfOrder | AppendError::OutOfBounds | AppendError::DuplicateSampleForTimestamp) => {
                }
                Err(e) => {
                    tracing::warn!(group = %self.key(), err = %e, series = %s, "Adding stale sample for previous configuration failed")
                }
            }
        }
        match app.commit() {
            Ok(()) => self.stale_series.clear(),
            Err(e) => {
                tracing::warn!(group = %self.key(), err = %e, "Stale sample appending for previous configuration failed")
            }
        }
    }

    /// Moves every series the group produced into the stale list (the group is going away) and
    /// writes their stale markers at `ts_ms`.
    pub fn mark_all_stale(&mut self, ctx: &EvalContext<'_>, ts_ms: i64) {
        for set in self.series_in_previous_eval.iter_mut() {
            self.stale_series.extend(set.drain());
        }
        self.cleanup_stale_series(ctx, ts_ms);
    }

    /// Prometheus's `RestoreForState`: restores `active_at` of pending/firing alerts of rules
    /// with a `for` from `ALERTS_FOR_STATE`, then lets every alerting rule write its series.
    pub fn restore_for_state(&mut self, ctx: &EvalContext<'_>, ts_ms: i64) {
        for r in self.rules.iter_mut() {
            if let Rule::Alerting(a) = r {
                a.restore_for_state(ctx, ts_ms);
            }
        }
        self.should_restore = false;
    }

    /// Prometheus's `CopyState`: takes over evaluation times, alerts and previous-series sets
    /// from the group this one replaces, matching rules by name and labels; series of rules
    /// with no counterpart become stale.
    pub fn copy_state(&mut self, from: &mut Group) {
        self.evaluation_time = from.evaluation_time;
        self.last_evaluation = from.last_evaluation;
        self.last_eval_timestamp = from.last_eval_timestamp;
        let mut by_identity: std::collections::HashMap<String, std::collections::VecDeque<usize>> =
            std::collections::HashMap::new();
        for (fi, r) in from.rules.iter().enumerate() {
            by_identity.entry(r.identity()).or_default().push_back(fi);
        }
        for i in 0..self.rules.len() {
            let Some(fi) = by_identity.get_mut(&self.rules[i].identity()).and_then(|q| q.pop_front()) else {
                continue;
            };
            self.series_in_previous_eval[i] = std::mem::take(&mut from.series_in_previous_eval[fi]);
            if let (Rule::Alerting(to), Rule::Alerting(fr)) = (&mut self.rules[i], &mut from.rules[fi]) {
                to.active.append(&mut fr.active);
            }
        }
        self.stale_series = std::mem::take(&mut from.stale_series);
        for q in by_identity.values() {
            for &fi in q {
                self.stale_series.extend(from.series_in_previous_eval[fi].drain());
            }
        }
    }

    pub(crate) fn set_evaluation(&mut self, took: Duration, at_ms: i64) {
        self.evaluation_time = took;
        self.last_evaluation = Some(at_ms);
    }

    pub fn status(&self) -> GroupStatus {
        GroupStatus {
            name: self.name.clone(),
            file: self.file.clone(),
            interval: self.interval,
            limit: self.limit,
            query_offset: self.query_offset,
            rules: self.rules.iter().map(Rule::status).collect(),
            evaluation_time: self.evaluation_time,
            last_evaluation: self.last_evaluation,
        }
    }
}

/// `file;name`, the `rule_group` label value and the key groups are matched by on reload.
pub fn group_key(file: &str, name: &str) -> String {
    format!("{file};{name}")
}

/// Loads and validates rule files (already resolved, no globs) into groups, in file order then
/// group order. Groups built here write `ALERTS` series from their first evaluation (no
/// `for`-state restoration), as a test runner wants.
pub fn load_groups(files: &[PathBuf], opts: &GroupLoadOptions) -> Result<Vec<Group>, RuleLoadErrors> {
    let parsed = parse_all(files)?;
    Ok(build_groups(&parsed, opts, true, false))
}

pub(crate) fn parse_all(files: &[PathBuf]) -> Result<Vec<RuleFile>, RuleLoadErrors> {
    let mut errs: Vec<RuleError> = Vec::new();
    let mut parsed = Vec::new();
    for f in files {
        match file::parse_file(f) {
            Ok(rf) => parsed.push(rf),
            Err(e) => errs.extend(e),
        }
    }
    if errs.is_empty() { Ok(parsed) } else { Err(RuleLoadErrors(errs)) }
}

pub(crate) fn build_groups(
    files: &[RuleFile],
    opts: &GroupLoadOptions,
    restored: bool,
    should_restore: bool,
) -> Vec<Group> {
    files
        .iter()
        .flat_map(|f| f.groups.iter().map(move |g| Group::from_def(&f.origin, g, opts, restored, should_restore)))
        .collect()
}

#[cfg(test)]
mod tests;
