//! The dispatcher (`dispatch/dispatch.go`): routes each stored alert to aggregation groups,
//! one per (route, group labels). A group flushes group_wait after it was created (at once if
//! the alert's start + group_wait is already past), then every group_interval, handing a copy of
//! its alerts to the pipeline; resolved alerts leave the group after a successful flush, and
//! empty groups are deleted by the maintenance tick (every 30s), as in Alertmanager.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use oxeye_model::Labels;
use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::alert::{Alert, label_set_before, label_set_string, sort_alerts, zero_time};
use crate::clock::{Clock, add_std};
use crate::fingerprint::Fingerprint;
use crate::metrics::Metrics;
use crate::notify::{FlushContext, Pipeline};
use crate::route::{RouteNode, RouteTree};

/// Alertmanager's `notify.MinTimeout`: the shortest time a flush's notifications get.
const MIN_TIMEOUT: Duration = Duration::from_secs(10);

/// How often empty aggregation groups are removed.
pub const MAINTENANCE_INTERVAL: Duration = Duration::from_secs(30);

#[derive(Debug)]
struct GroupState {
    alerts: HashMap<Fingerprint, Alert>,
    has_flushed: bool,
    next: Instant,
}

/// An aggregation group (`aggrGroup`).
#[derive(Debug)]
pub struct AggregationGroup {
    route: RouteNode,
    labels: Labels,
    key: String,
    state: Mutex<GroupState>,
    wake: Notify,
    cancel: CancellationToken,
}

impl AggregationGroup {
    /// `aggrGroup.GroupKey`: `<route key>:<group labels>`.
    pub fn group_key(&self) -> &str {
        &self.key
    }

    pub fn labels(&self) -> &Labels {
        &self.labels
    }

    pub fn receiver(&self) -> &str {
        &self.route.receiver
    }

    fn insert(&self, alert: Alert, now: DateTime<Utc>) {
        let mut st = self.state.lock();
        let early = !st.has_flushed && add_std(alert.starts_at, self.route.group_wait) < now;
        st.alerts.insert(alert.fingerprint(), alert);
        if early {
            // The alert has waited long enough already (e.g. re-sent after a restart).
            st.next = Instant::now();
            self.wake.notify_one();
        }
    }

    fn is_empty(&self) -> bool {
        self.state.lock().alerts.is_empty()
    }

    /// The group's alerts as stored (not the flush copies).
    pub fn alerts(&self) -> Vec<Alert> {
        self.state.lock().alerts.values().cloned().collect()
    }

    async fn run(self: Arc<Self>, pipeline: Arc<Pipeline>, clock: Clock) {
        loop {
            let next = self.state.lock().next;
            tokio::select! {
                _ = self.cancel.cancelled() => return,
                _ = self.wake.notified() => continue,
                _ = tokio::time::sleep_until(next) => {}
            }
            let fired = Instant::now();
            {
                let mut st = self.state.lock();
                st.next = fired + self.route.group_interval;
                st.has_flushed = true;
            }
            let deadline = fired + self.route.group_interval.max(MIN_TIMEOUT);
            tokio::select! {
                _ = self.cancel.cancelled() => return,
                _ = self.flush(&pipeline, &clock, deadline) => {}
            }
        }
    }

    async fn flush(&self, pipeline: &Pipeline, clock: &Clock, deadline: Instant) {
        let now = clock.now();
        let mut alerts: Vec<Alert> = {
            let st = self.state.lock();
            if st.alerts.is_empty() {
                return;
            }
            st.alerts
                .values()
                .map(|a| {
                    let mut a = a.clone();
                    // Alerts must not resolve while the pipeline runs: a firing alert has no end.
                    if !a.resolved_at(now) {
                        a.ends_at = zero_time();
                    }
                    a
                })
                .collect()
        };
        sort_alerts(&mut alerts);
        let fc = FlushContext {
            receiver: self.route.receiver.clone(),
            group_key: self.key.clone(),
            group_labels: self.labels.clone(),
            repeat_interval: self.route.repeat_interval,
            mute_time_intervals: self.route.mute_time_intervals.clone(),
            active_time_intervals: self.route.active_time_intervals.clone(),
            now,
            deadline,
        };
        tracing::debug!(group_key = %self.key, alerts = alerts.len(), "flushing aggregation group");
        match pipeline.exec(&fc, alerts.clone()).await {
            Ok(()) => {
                let mut st = self.state.lock();
                for a in alerts.iter().filter(|a| a.resolved_at(now)) {
                    let fp = a.fingerprint();
                    // Keep it if it was re-sent since the flush started.
                    if st.alerts.get(&fp).is_some_and(|got| got.updated_at == a.updated_at) {
                        st.alerts.remove(&fp);
                    }
                }
            }
            Err(e) => {
                tracing::error!(group_key = %self.key, receiver = %self.route.receiver, num_alerts = alerts.len(), error = %e, "notify for alerts failed");
            }
        }
    }
}

/// A snapshot of a group for the API.
#[derive(Debug, Clone)]
pub struct GroupSnapshot {
    pub route_id: usize,
    pub group_key: String,
    pub labels: Labels,
    pub receiver: String,
    pub alerts: Vec<Alert>,
}

#[derive(Debug)]
pub struct Dispatcher {
    routes: Arc<RouteTree>,
    pipeline: Arc<Pipeline>,
    clock: Clock,
    metrics: Arc<Metrics>,
    groups: Mutex<HashMap<(usize, Fingerprint), Arc<AggregationGroup>>>,
    cancel: CancellationToken,
    runtime: tokio::runtime::Handle,
}

impl Dispatcher {
    pub fn new(
        routes: Arc<RouteTree>,
        pipeline: Arc<Pipeline>,
        clock: Clock,
        metrics: Arc<Metrics>,
        runtime: tokio::runtime::Handle,
    ) -> Dispatcher {
        Dispatcher {
            routes,
            pipeline,
            clock,
            metrics,
            groups: Mutex::new(HashMap::new()),
            cancel: CancellationToken::new(),
            runtime,
        }
    }

    pub fn routes(&self) -> &Arc<RouteTree> {
        &self.routes
    }

    pub fn pipeline(&self) -> &Arc<Pipeline> {
        &self.pipeline
    }

    /// Routes an alert into its aggregation groups, creating and starting groups as needed.
    pub fn process(&self, alert: &Alert) {
        if self.cancel.is_cancelled() {
            return;
        }
        let start = std::time::Instant::now();
        let now = self.clock.now();
        for route in self.routes.matches(&alert.labels) {
            let labels = route.group_labels(&alert.labels);
            let fp = Fingerprint::of(&labels);
            let mut groups = self.groups.lock();
            if let Some(g) = groups.get(&(route.id, fp)) {
                g.insert(alert.clone(), now);
                continue;
            }
            let key = format!("{}:{}", route.key, label_set_string(&labels));
            let g = Arc::new(AggregationGroup {
                route: route.clone(),
                labels,
                key,
                state: Mutex::new(GroupState {
                    alerts: HashMap::new(),
                    has_flushed: false,
                    next: Instant::now() + route.group_wait,
                }),
                wake: Notify::new(),
                cancel: self.cancel.child_token(),
            });
            tracing::debug!(group_key = %g.key, "new aggregation group");
            g.insert(alert.clone(), now);
            groups.insert((route.id, fp), g.clone());
            self.metrics.aggregation_groups.inc();
            self.runtime.spawn(g.run(self.pipeline.clone(), self.clock.clone()));
        }
        self.metrics.alert_processing_duration.observe(start.elapsed().as_secs_f64());
    }

    /// Deletes empty groups (`doMaintenance`).
    pub fn maintenance(&self) {
        let mut groups = self.groups.lock();
        groups.retain(|_, g| {
            if g.is_empty() {
                g.cancel.cancel();
                self.metrics.aggregation_groups.dec();
                false
            } else {
                true
            }
        });
    }

    /// Stops every group; in-flight notifications are abandoned.
    pub fn stop(&self) {
        self.cancel.cancel();
        let mut groups = self.groups.lock();
        self.metrics.aggregation_groups.dec_by(groups.len() as i64);
        groups.clear();
    }

    pub fn group_count(&self) -> usize {
        self.groups.lock().len()
    }

    /// Snapshots of all groups, sorted as Alertmanager's `AlertGroups` (by labels, then
    /// receiver), alerts in `AlertSlice` order.
    pub fn groups(&self) -> Vec<GroupSnapshot> {
        let mut out: Vec<GroupSnapshot> = self
            .groups
            .lock()
            .iter()
            .map(|((route_id, _), g)| {
                let mut alerts = g.alerts();
                sort_alerts(&mut alerts);
                GroupSnapshot {
                    route_id: *route_id,
                    group_key: g.key.clone(),
                    labels: g.labels.clone(),
                    receiver: g.route.receiver.clone(),
                    alerts,
                }
            })
            .collect();
        out.sort_by(|a, b| {
            if a.labels == b.labels {
                a.receiver.cmp(&b.receiver).then(a.route_id.cmp(&b.route_id))
            } else if label_set_before(&a.labels, &b.labels) {
                std::cmp::Ordering::Less
            } else {
                std::cmp::Ordering::Greater
            }
        });
        out
    }
}
