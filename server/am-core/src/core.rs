//! `AlertmanagerCore`: the handle the binary drives. Owns the components that outlive a
//! configuration (alert store, marker, silences, notification log, metrics) and the ones rebuilt
//! on every `apply_config` (route tree, inhibitor, pipeline, dispatcher), plus the periodic
//! alert GC and silence/nflog maintenance. Knows nothing of HTTP or integration internals.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use oxeye_am_config::Config;
use oxeye_model::{Label, Labels};
use parking_lot::{Mutex, RwLock};
use prometheus_client::registry::Registry;
use tokio_util::sync::CancellationToken;

use crate::alert::{Alert, is_zero_time};
use crate::clock::{Clock, add_std};
use crate::dispatch::{self, Dispatcher};
use crate::fingerprint::Fingerprint;
use crate::inhibit::Inhibitor;
use crate::marker::{AlertStatus, Marker};
use crate::metrics::{Metrics, StateCollector, received_labels};
use crate::nflog::NotificationLog;
use crate::notify::{Integration, IntegrationFactory, Pipeline, PipelineParts};
use crate::silence::Silences;
use crate::store::AlertStore;
use crate::{CoreError, Result};

/// Alertmanager's default `global.resolve_timeout`, used before a config is applied.
const DEFAULT_RESOLVE_TIMEOUT: Duration = Duration::from_secs(300);

/// Alertmanager's `--data.maintenance-interval` default: silence/nflog GC and snapshot.
pub const DATA_MAINTENANCE_INTERVAL: Duration = Duration::from_secs(15 * 60);

#[derive(Clone)]
pub struct CoreOptions {
    /// `--storage.path`: holds the `silences` and `nflog` snapshots.
    pub storage_path: PathBuf,
    /// `--data.retention` (default 120h).
    pub data_retention: Duration,
    /// `--alerts.gc-interval` (default 30m).
    pub gc_interval: Duration,
    /// `--web.external-url`, passed to integrations.
    pub external_url: String,
    pub integrations: IntegrationFactory,
}

impl std::fmt::Debug for CoreOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoreOptions")
            .field("storage_path", &self.storage_path)
            .field("data_retention", &self.data_retention)
            .field("gc_interval", &self.gc_interval)
            .field("external_url", &self.external_url)
            .finish_non_exhaustive()
    }
}

/// One alert as the API shows it: the alert, its status, and the receivers of its routes.
pub type AlertView = (Alert, AlertStatus, Vec<String>);

/// An aggregation group as the API shows it.
#[derive(Debug, Clone)]
pub struct AlertGroupView {
    pub labels: Labels,
    pub receiver: String,
    pub group_key: String,
    pub alerts: Vec<AlertView>,
}

#[derive(Debug)]
struct Active {
    config: Arc<Config>,
    dispatcher: Arc<Dispatcher>,
}

#[derive(Debug)]
pub struct AlertmanagerCore {
    opts: CoreOptions,
    clock: Clock,
    metrics: Arc<Metrics>,
    store: Arc<AlertStore>,
    marker: Arc<Marker>,
    silences: Arc<Silences>,
    nflog: Arc<NotificationLog>,
    active: RwLock<Option<Active>>,
    apply: Mutex<()>,
    stopped: CancellationToken,
}

impl AlertmanagerCore {
    /// Opens the core with the system clock, loading silences and the notification log.
    pub fn new(opts: CoreOptions) -> Result<Self> {
        AlertmanagerCore::with_clock(opts, Clock::System)
    }

    /// As `new`, with an explicit clock (tests use `Clock::tokio()` with paused time).
    pub fn with_clock(opts: CoreOptions, clock: Clock) -> Result<Self> {
        std::fs::create_dir_all(&opts.storage_path)
            .map_err(|e| CoreError::Io(format!("creating {}: {e}", opts.storage_path.display())))?;
        let metrics = Arc::new(Metrics::new());
        let silences = Arc::new(Silences::open(
            Some(opts.storage_path.join("silences")),
            opts.data_retention,
            clock.clone(),
            metrics.clone(),
        )?);
        let nflog = Arc::new(NotificationLog::open(
            Some(opts.storage_path.join("nflog")),
            opts.data_retention,
            clock.clone(),
            metrics.clone(),
        )?);
        Ok(AlertmanagerCore {
            opts,
            clock,
            metrics,
            store: Arc::new(AlertStore::new()),
            marker: Arc::new(Marker::new()),
            silences,
            nflog,
            active: RwLock::new(None),
            apply: Mutex::new(()),
            stopped: CancellationToken::new(),
        })
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The configuration last applied.
    pub fn config(&self) -> Option<Arc<Config>> {
        self.active.read().as_ref().map(|a| a.config.clone())
    }

    /// Rebuilds routes, inhibitor, pipeline and dispatcher from `cfg`, keeping alerts, silences
    /// and the notification log, then re-dispatches all stored alerts (as a reload does).
    /// Must be called within a tokio runtime.
    pub fn apply_config(&self, cfg: Arc<Config>) -> Result<()> {
        let _apply = self.apply.lock();
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| CoreError::NoRuntime)?;
        let mut receivers = std::collections::HashMap::new();
        for r in &cfg.receivers {
            let integrations: Vec<Arc<dyn Integration>> =
                (self.opts.integrations)(r).map_err(|e| CoreError::Config(format!("receiver {:?}: {e}", r.name)))?;
            receivers.insert(r.name.clone(), integrations);
        }
        let routes = Arc::new(crate::route::RouteTree::new(&cfg.route));
        let inhibitor =
            Arc::new(Inhibitor::new(&cfg.inhibit_rules, self.marker.clone(), self.clock.clone(), &self.store.list()));
        let pipeline = Arc::new(Pipeline::new(PipelineParts {
            receivers,
            inhibitor,
            silences: self.silences.clone(),
            marker: self.marker.clone(),
            time_intervals: cfg.time_intervals.clone(),
            nflog: self.nflog.clone(),
            metrics: self.metrics.clone(),
            clock: self.clock.clone(),
            external_url: self.opts.external_url.clone(),
        }));
        let dispatcher = Arc::new(Dispatcher::new(routes, pipeline, self.clock.clone(), self.metrics.clone(), runtime));
        let mut active = self.active.write();
        if let Some(old) = active.take() {
            old.dispatcher.stop();
        }
        for a in self.store.list() {
            dispatcher.process(&a);
        }
        *active = Some(Active { config: cfg, dispatcher });
        tracing::info!(receivers = self.receivers_locked(&active).len(), "configuration applied");
        Ok(())
    }

    fn receivers_locked(&self, active: &Option<Active>) -> Vec<String> {
        active.as_ref().map(|a| a.config.receivers.iter().map(|r| r.name.clone()).collect()).unwrap_or_default()
    }

    /// API v2 POST /alerts: fills in start (now, or the end if only that is given) and end
    /// (now + resolve_timeout, marked `timeout`), drops empty-valued labels, validates, and
    /// stores the valid alerts (merging with stored ones) before dispatching them. The errors
    /// of invalid alerts are returned; valid alerts of the same batch are kept.
    pub fn put_alerts(&self, alerts: Vec<Alert>) -> std::result::Result<(), Vec<String>> {
        let active = self.active.read();
        let resolve_timeout =
            active.as_ref().map(|a| a.config.global.resolve_timeout).unwrap_or(DEFAULT_RESOLVE_TIMEOUT);
        let now = self.clock.now();
        let mut errors = Vec::new();
        let mut valid = Vec::with_capacity(alerts.len());
        for mut a in alerts {
            a.updated_at = now;
            if is_zero_time(a.starts_at) {
                a.starts_at = if is_zero_time(a.ends_at) { now } else { a.ends_at };
            }
            if is_zero_time(a.ends_at) {
                a.timeout = true;
                a.ends_at = add_std(now, resolve_timeout);
            }
            let status = if a.ends_at > now { "firing" } else { "resolved" };
            self.metrics.alerts_received.get_or_create(&received_labels(status)).inc();
            if a.labels.iter().any(|l| l.value.is_empty()) {
                let kept: Vec<Label> = a.labels.iter().filter(|l| !l.value.is_empty()).cloned().collect();
                a.labels = Labels::from_sorted(kept);
            }
            match a.validate() {
                Ok(()) => valid.push(a),
                Err(e) => {
                    self.metrics.alerts_invalid.get_or_create(&vec![("version".to_string(), "v2".to_string())]).inc();
                    errors.push(e);
                }
            }
        }
        for a in valid {
            let stored = self.store.put(a, now);
            if let Some(act) = active.as_ref() {
                act.dispatcher.pipeline().inhibitor().observe(&stored);
                act.dispatcher.process(&stored);
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    /// Updates and returns an alert's status (`setAlertStatus` + `getAlertStatus`).
    fn refresh_status(&self, active: &Option<Active>, labels: &Labels) -> AlertStatus {
        if let Some(a) = active {
            let p = a.dispatcher.pipeline();
            p.inhibitor().mutes(labels);
            p.silenced(labels);
        }
        self.marker.status(Fingerprint::of(labels))
    }

    /// Unresolved alerts with their status and receivers, sorted by fingerprint (GET /alerts;
    /// the caller applies the query filters).
    pub fn alerts(&self) -> Vec<AlertView> {
        let active = self.active.read();
        let now = self.clock.now();
        let mut out: Vec<AlertView> = self
            .store
            .list()
            .into_iter()
            .filter(|a| !a.resolved_at(now))
            .map(|a| {
                let receivers =
                    active.as_ref().map(|act| act.dispatcher.routes().receivers_for(&a.labels)).unwrap_or_default();
                let status = self.refresh_status(&active, &a.labels);
                (a, status, receivers)
            })
            .collect();
        out.sort_by_key(|(a, _, _)| a.fingerprint());
        out
    }

    /// Aggregation groups with their unresolved alerts (GET /alerts/groups, unfiltered).
    pub fn alert_groups(&self) -> Vec<AlertGroupView> {
        self.alert_groups_filtered(&|_| true, &|_, _| true)
    }

    /// `Dispatcher.Groups`: groups whose receiver passes `receiver_filter`, each with the
    /// unresolved alerts passing `alert_filter`; groups left empty are omitted. Each alert's
    /// receivers are those of the listed groups holding it, sorted.
    pub fn alert_groups_filtered(
        &self,
        receiver_filter: &dyn Fn(&str) -> bool,
        alert_filter: &dyn Fn(&Alert, &AlertStatus) -> bool,
    ) -> Vec<AlertGroupView> {
        let active = self.active.read();
        let Some(act) = active.as_ref() else { return Vec::new() };
        let now = self.clock.now();
        let mut receivers: std::collections::HashMap<Fingerprint, Vec<String>> = std::collections::HashMap::new();
        let mut views = Vec::new();
        for g in act.dispatcher.groups() {
            if !receiver_filter(&g.receiver) {
                continue;
            }
            let mut alerts = Vec::new();
            for a in g.alerts {
                if a.resolved_at(now) {
                    continue;
                }
                let status = self.refresh_status(&active, &a.labels);
                if !alert_filter(&a, &status) {
                    continue;
                }
                receivers.entry(a.fingerprint()).or_default().push(g.receiver.clone());
                alerts.push((a, status));
            }
            if alerts.is_empty() {
                continue;
            }
            views.push((g.labels, g.receiver, g.group_key, alerts));
        }
        for r in receivers.values_mut() {
            r.sort();
        }
        views
            .into_iter()
            .map(|(labels, receiver, group_key, alerts)| {
                let alerts = alerts
                    .into_iter()
                    .map(|(a, s)| {
                        let r = receivers.get(&a.fingerprint()).cloned().unwrap_or_default();
                        (a, s, r)
                    })
                    .collect();
                AlertGroupView { labels, receiver, group_key, alerts }
            })
            .collect()
    }

    /// Stored alert by fingerprint (resolved ones included until GC).
    pub fn alert(&self, fp: Fingerprint) -> Option<Alert> {
        self.store.get(fp)
    }

    pub fn silences(&self) -> &Arc<Silences> {
        &self.silences
    }

    pub fn notification_log(&self) -> &Arc<NotificationLog> {
        &self.nflog
    }

    pub fn marker(&self) -> &Arc<Marker> {
        &self.marker
    }

    /// Names of the configured receivers, in config order.
    pub fn receivers(&self) -> Vec<String> {
        self.receivers_locked(&self.active.read())
    }

    /// Receivers the routing tree sends alerts with these labels to, in match order.
    pub fn routes_for(&self, labels: &Labels) -> Vec<String> {
        self.active.read().as_ref().map(|a| a.dispatcher.routes().receivers_for(labels)).unwrap_or_default()
    }

    /// Number of aggregation groups of the current dispatcher.
    pub fn aggregation_group_count(&self) -> usize {
        self.active.read().as_ref().map(|a| a.dispatcher.group_count()).unwrap_or(0)
    }

    /// Removes resolved alerts from the store, with their markers and inhibition sources.
    pub fn gc_alerts(&self) -> usize {
        let removed = self.store.gc(self.clock.now());
        let active = self.active.read();
        for a in &removed {
            let fp = a.fingerprint();
            self.marker.delete(fp);
            if let Some(act) = active.as_ref() {
                act.dispatcher.pipeline().inhibitor().forget(fp);
            }
        }
        removed.len()
    }

    /// Silence and notification-log GC plus snapshots.
    pub fn data_maintenance(&self) {
        if let Err(e) = self.silences.maintenance() {
            tracing::error!(error = %e, "silences maintenance failed");
        }
        if let Err(e) = self.nflog.maintenance() {
            tracing::error!(error = %e, "notification log maintenance failed");
        }
    }

    /// Runs the periodic work (alert GC, data maintenance, empty-group removal) until `stop`.
    pub async fn run(self: Arc<Self>) {
        use tokio::time::{Instant, MissedTickBehavior, interval_at};
        let start = Instant::now();
        let mut gc = interval_at(start + self.opts.gc_interval, self.opts.gc_interval.max(Duration::from_millis(1)));
        let mut maint = interval_at(start + DATA_MAINTENANCE_INTERVAL, DATA_MAINTENANCE_INTERVAL);
        let mut groups = interval_at(start + dispatch::MAINTENANCE_INTERVAL, dispatch::MAINTENANCE_INTERVAL);
        for t in [&mut gc, &mut maint, &mut groups] {
            t.set_missed_tick_behavior(MissedTickBehavior::Delay);
        }
        loop {
            tokio::select! {
                _ = self.stopped.cancelled() => break,
                _ = gc.tick() => {
                    let n = self.gc_alerts();
                    tracing::debug!(removed = n, "alert GC");
                }
                _ = maint.tick() => self.data_maintenance(),
                _ = groups.tick() => {
                    if let Some(a) = self.active.read().as_ref() {
                        a.dispatcher.maintenance();
                    }
                }
            }
        }
    }

    /// Stops dispatching and writes final silence and notification-log snapshots.
    pub async fn stop(&self) {
        self.stopped.cancel();
        if let Some(a) = self.active.write().take() {
            a.dispatcher.stop();
        }
        if let Err(e) = self.silences.snapshot() {
            tracing::error!(error = %e, "final silences snapshot failed");
        }
        if let Err(e) = self.nflog.snapshot() {
            tracing::error!(error = %e, "final notification log snapshot failed");
        }
    }

    /// Registers the `alertmanager_*` metrics of the core.
    pub fn register_metrics(&self, registry: &mut Registry) {
        self.metrics.register(registry);
        registry.register_collector(Box::new(StateCollector {
            store: self.store.clone(),
            marker: self.marker.clone(),
            silences: self.silences.clone(),
            clock: self.clock.clone(),
        }));
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }
}
