//! The rule manager (Prometheus's `rules/manager.go`): loads rule files from glob patterns,
//! runs one tokio task per group that evaluates on the group's slot off the async workers
//! (`spawn_blocking`), replaces groups atomically on reload while carrying their state over,
//! marks removed groups' series stale, and serves status snapshots for the HTTP API.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use oxeye_model::{Alert, Labels};
use parking_lot::{Mutex, RwLock};
use tokio_util::sync::CancellationToken;

use crate::group::{self, EvalContext, Group, GroupLoadOptions, engine_query_fn};
use crate::metrics::RuleMetrics;
use crate::{ActiveAlertStatus, GroupStatus, RuleError, RuleKind, RuleLoadErrors, dur_ms, now_ms};

/// Receives the alerts to send after each rule evaluation (already with `ends_at` etc.).
pub type NotifyFn = Arc<dyn Fn(Vec<Alert>) + Send + Sync>;

#[derive(Clone)]
pub struct ManagerOptions {
    pub engine: Arc<oxeye_promql::Engine>,
    pub queryable: Arc<dyn oxeye_model::Queryable>,
    pub appendable: Arc<dyn oxeye_model::Appendable>,
    pub notify: NotifyFn,
    pub external_url: String,
    /// `--rules.alert.for-outage-tolerance`, default 1h.
    pub outage_tolerance: Duration,
    /// `--rules.alert.for-grace-period`, default 10m.
    pub for_grace_period: Duration,
    /// `--rules.alert.resend-delay`, default 1m.
    pub resend_delay: Duration,
}

struct Running {
    group: Arc<Mutex<Group>>,
    snapshot: Arc<RwLock<GroupStatus>>,
    token: CancellationToken,
    mark_stale: Arc<AtomicBool>,
    fingerprint: String,
}

#[derive(Default)]
struct State {
    groups: HashMap<String, Running>,
    /// Set after the first successful load: later loads do not restore `for` state.
    restored: bool,
}

struct Inner {
    opts: ManagerOptions,
    metrics: RuleMetrics,
    state: Mutex<State>,
    done: CancellationToken,
}

impl Inner {
    fn eval_context(&self) -> EvalContext<'_> {
        EvalContext {
            engine: &self.opts.engine,
            queryable: self.opts.queryable.as_ref(),
            appendable: self.opts.appendable.as_ref(),
            resend_delay: self.opts.resend_delay,
            outage_tolerance: self.opts.outage_tolerance,
            for_grace_period: self.opts.for_grace_period,
            template_query: Some(engine_query_fn(self.opts.engine.clone(), self.opts.queryable.clone())),
        }
    }
}

/// Runs rule groups. Cheap to share behind an `Arc`; every method takes `&self`.
pub struct RuleManager {
    inner: Arc<Inner>,
}

impl RuleManager {
    pub fn new(opts: ManagerOptions) -> Self {
        RuleManager {
            inner: Arc::new(Inner {
                opts,
                metrics: RuleMetrics::default(),
                state: Mutex::new(State::default()),
                done: CancellationToken::new(),
            }),
        }
    }

    pub fn register_metrics(&self, registry: &mut prometheus_client::registry::Registry) {
        self.inner.metrics.register(registry);
    }

    /// Loads the rule files matching `patterns` (globs), replacing the running groups
    /// atomically; on any error the running groups stay as they are. Must be called inside a
    /// tokio runtime.
    pub fn update(
        &self,
        interval: Duration,
        patterns: &[String],
        external_labels: Labels,
    ) -> Result<(), RuleLoadErrors> {
        let interval = if interval.is_zero() { Duration::from_secs(60) } else { interval };
        let files = expand_patterns(patterns)?;
        let parsed = group::parse_all(&files).inspect_err(|errs| {
            for e in &errs.0 {
                tracing::error!(err = %e, "loading groups failed");
            }
        })?;
        let load_opts = GroupLoadOptions {
            default_interval: interval,
            external_labels,
            external_url: self.inner.opts.external_url.clone(),
        };
        let mut state = self.inner.state.lock();
        let restored = state.restored;
        let new_groups = group::build_groups(&parsed, &load_opts, restored, !restored);
        state.restored = true;

        let mut old = std::mem::take(&mut state.groups);
        let mut next = HashMap::with_capacity(new_groups.len());
        for mut g in new_groups {
            let key = g.key();
            if let Some(prev) = old.remove(&key) {
                if prev.fingerprint == g.fingerprint() {
                    next.insert(key, prev);
                    continue;
                }
                // Stop the old group first: taking its lock waits for a running evaluation,
                // and the cancelled token keeps it from evaluating again.
                prev.token.cancel();
                let mut prev_group = prev.group.lock();
                g.copy_state(&mut prev_group);
            }
            if g.interval().is_zero() {
                tracing::warn!(group = %key, "group interval is zero, using 1m");
            }
            next.insert(key, self.start(g));
        }
        for (key, prev) in old {
            tracing::info!(group = %key, "stopping removed rule group");
            prev.mark_stale.store(true, Ordering::SeqCst);
            prev.token.cancel();
            self.inner.metrics.remove_group(&key);
        }
        state.groups = next;
        Ok(())
    }

    fn start(&self, mut g: Group) -> Running {
        let key = g.key();
        let interval = if g.interval().is_zero() { Duration::from_secs(60) } else { g.interval() };
        g.metrics = Some(Arc::new(self.inner.metrics.for_group(&key, interval, g.rules().len())));
        let fingerprint = g.fingerprint().to_string();
        let snapshot = Arc::new(RwLock::new(g.status()));
        let running = Running {
            group: Arc::new(Mutex::new(g)),
            snapshot,
            token: self.inner.done.child_token(),
            mark_stale: Arc::new(AtomicBool::new(false)),
            fingerprint,
        };
        let task = GroupTask {
            inner: self.inner.clone(),
            group: running.group.clone(),
            snapshot: running.snapshot.clone(),
            token: running.token.clone(),
            mark_stale: running.mark_stale.clone(),
            interval,
            key,
        };
        tokio::spawn(task.run());
        running
    }

    /// Status of every group, sorted by file then name.
    pub fn groups(&self) -> Vec<GroupStatus> {
        let state = self.inner.state.lock();
        let mut out: Vec<GroupStatus> = state.groups.values().map(|r| r.snapshot.read().clone()).collect();
        out.sort_by(|a, b| a.file.cmp(&b.file).then_with(|| a.name.cmp(&b.name)));
        out
    }

    /// Every pending or firing alert of every alerting rule.
    pub fn alerts(&self) -> Vec<ActiveAlertStatus> {
        self.groups()
            .into_iter()
            .flat_map(|g| g.rules)
            .flat_map(|r| match r.kind {
                RuleKind::Alerting { alerts, .. } => alerts,
                RuleKind::Recording => Vec::new(),
            })
            .collect()
    }

    /// Stops every group task (without waiting for them).
    pub fn stop(&self) {
        self.inner.done.cancel();
    }
}

impl Drop for RuleManager {
    fn drop(&mut self) {
        self.inner.done.cancel();
    }
}

/// Expands glob patterns like Prometheus's `filepath.Glob` per pattern: matches in lexical
/// order, a pattern matching nothing contributes nothing.
fn expand_patterns(patterns: &[String]) -> Result<Vec<PathBuf>, RuleLoadErrors> {
    let mut files = Vec::new();
    let mut errs = Vec::new();
    for p in patterns {
        match glob::glob(p) {
            Ok(paths) => {
                let mut matched: Vec<PathBuf> = paths.filter_map(Result::ok).filter(|p| p.is_file()).collect();
                matched.sort();
                files.extend(matched);
            }
            Err(e) => errs.push(RuleError {
                file: p.clone(),
                group: None,
                rule: None,
                position: None,
                alt_position: None,
                message: format!("invalid glob pattern: {e}"),
                lint: false,
            }),
        }
    }
    if errs.is_empty() { Ok(files) } else { Err(RuleLoadErrors(errs)) }
}

struct GroupTask {
    inner: Arc<Inner>,
    group: Arc<Mutex<Group>>,
    snapshot: Arc<RwLock<GroupStatus>>,
    token: CancellationToken,
    mark_stale: Arc<AtomicBool>,
    interval: Duration,
    key: String,
}

/// Sleeps until wall-clock `until_ms`; false when cancelled first.
async fn sleep_until_ms(token: &CancellationToken, until_ms: i64) -> bool {
    let wait = Duration::from_millis(until_ms.saturating_sub(now_ms()).max(0) as u64);
    tokio::select! {
        _ = token.cancelled() => false,
        _ = tokio::time::sleep(wait) => true,
    }
}

impl GroupTask {
    async fn run(self) {
        let interval_ms = dur_ms(self.interval).max(1);
        // Wait for the group's first slot so evaluations are evenly spaced and spread.
        let mut eval_ts = self.group.lock().eval_timestamp(now_ms()) + interval_ms;
        let mut iterations = 0u64;
        if sleep_until_ms(&self.token, eval_ts).await {
            loop {
                iterations += 1;
                if !self.iterate(eval_ts, iterations).await {
                    break;
                }
                if !sleep_until_ms(&self.token, eval_ts + interval_ms).await {
                    break;
                }
                let missed = (now_ms() - eval_ts) / interval_ms - 1;
                if missed > 0 {
                    if let Some(m) = self.group.lock().metrics.clone() {
                        m.missed.inc_by(missed as u64);
                        m.iterations.inc_by(missed as u64);
                    }
                    tracing::warn!(group = %self.key, missed, "rule group evaluation missed iterations");
                }
                eval_ts += (missed.max(0) + 1) * interval_ms;
            }
        }
        if self.mark_stale.load(Ordering::SeqCst) {
            self.write_stale_markers().await;
        }
    }

    /// One evaluation on a blocking thread. False when the group was stopped meanwhile.
    async fn iterate(&self, eval_ts: i64, iteration: u64) -> bool {
        let inner = self.inner.clone();
        let group = self.group.clone();
        let snapshot = self.snapshot.clone();
        let token = self.token.clone();
        let key = self.key.clone();
        let res = tokio::task::spawn_blocking(move || {
            let mut g = group.lock();
            if token.is_cancelled() {
                return false;
            }
            let ctx = inner.eval_context();
            let metrics = g.metrics.clone();
            if let Some(m) = &metrics {
                m.iterations.inc();
            }
            let start = Instant::now();
            let wall = now_ms();
            let alerts = g.eval(&ctx, eval_ts);
            let took = start.elapsed();
            g.set_evaluation(took, wall);
            if let Some(m) = &metrics {
                m.observe_group(took, eval_ts);
            }
            // Like Prometheus, `for` state is restored after the second evaluation: by then
            // scrapes and recording rules have produced the data alerts depend on.
            if g.should_restore && iteration >= 2 {
                let t = now_ms();
                g.restore_for_state(&ctx, t);
                tracing::info!(group = %key, "restored 'for' state of alerting rules");
            }
            *snapshot.write() = g.status();
            drop(g);
            if !alerts.is_empty() {
                (inner.opts.notify)(alerts);
            }
            true
        })
        .await;
        match res {
            Ok(cont) => cont,
            Err(e) => {
                tracing::error!(group = %self.key, err = %e, "rule group evaluation task failed");
                !self.token.is_cancelled()
            }
        }
    }

    /// A removed group's series get stale markers after two intervals, giving a renamed rule
    /// the chance to write the same series first (Prometheus does the same).
    async fn write_stale_markers(&self) {
        let stopped_at = now_ms();
        tokio::select! {
            _ = self.inner.done.cancelled() => return,
            _ = tokio::time::sleep(2 * self.interval) => {}
        }
        let inner = self.inner.clone();
        let group = self.group.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let ctx = inner.eval_context();
            group.lock().mark_all_stale(&ctx, stopped_at);
        })
        .await;
    }
}

#[cfg(test)]
mod tests;
