//! Alert delivery to Alertmanagers, with Prometheus 3.x behaviour (`notifier.Manager`): alerts
//! from the rule engine get the external labels and `alert_relabel_configs`, wait in one bounded
//! queue (oldest dropped first), and go out in batches of at most 64 to every Alertmanager of
//! every `alertmanagers` set (each with its own alert relabeling) as Alertmanager API v2 JSON.
//! Alertmanagers are discovered (static, file and Kubernetes SD) through `oxeye-scrape`'s
//! discovery manager and relabeled. It knows nothing about rules, storage or the HTTP API it is shown in.
//!
//! Use it through an `Arc`: `apply_config`, then `tokio::spawn(notifier.clone().run())`, `send`
//! from anywhere, and `stop().await` at shutdown.

mod alertmanager;
mod metrics;
mod payload;

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use oxeye_config::{AlertmanagerConfig, Config};
use oxeye_model::{Alert, Labels, RelabelConfig};
use oxeye_scrape::{DiscoveryManager, FileSdConfig, JobDiscovery, JobDiscoveryConfig, TargetGroup, TargetSets};
use parking_lot::{Mutex, RwLock};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::alertmanager::{AlertmanagerSet, relabel_alerts};
use crate::metrics::Metrics;

pub use crate::alertmanager::PATH_LABEL;

/// Alerts per request (upstream's `maxBatchSize`).
pub const MAX_BATCH_SIZE: usize = 64;

/// How long `stop` may spend draining the queue when `drain_on_shutdown` is set.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Options from the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifierOptions {
    /// `--alertmanager.notification-queue-capacity` (default 10000).
    pub queue_capacity: usize,
    /// `--alertmanager.drain-notification-queue-on-shutdown` (default true).
    pub drain_on_shutdown: bool,
}

impl Default for NotifierOptions {
    fn default() -> Self {
        NotifierOptions { queue_capacity: 10_000, drain_on_shutdown: true }
    }
}

/// Why a configuration could not be applied; the previous one keeps running.
#[derive(Debug, thiserror::Error)]
pub enum NotifierError {
    /// The HTTP client of an `alertmanagers` entry (`config-<index>`) could not be built, e.g.
    /// an unreadable CA or client certificate file.
    #[error("alertmanagers {config}: creating HTTP client: {message}")]
    HttpClient { config: String, message: String },
    #[error("starting Alertmanager discovery: {0}")]
    Discovery(String),
}

/// What `send` applies to every alert.
#[derive(Default)]
struct AlertRules {
    external_labels: Labels,
    relabel_configs: Vec<RelabelConfig>,
}

/// Sends alerts to Alertmanagers. Shared through `Arc<Notifier>`.
pub struct Notifier {
    opts: NotifierOptions,
    queue: Mutex<VecDeque<Alert>>,
    more: Notify,
    rules: RwLock<Arc<AlertRules>>,
    sets: Arc<RwLock<Vec<Arc<AlertmanagerSet>>>>,
    discovery: DiscoveryManager,
    metrics: Metrics,
    user_agent: Arc<str>,
    apply_lock: Mutex<()>,
    watcher_started: AtomicBool,
    running: AtomicBool,
    shutdown: CancellationToken,
    /// Cancelled when `run` returns.
    done: CancellationToken,
}

impl Notifier {
    pub fn new(opts: NotifierOptions) -> Self {
        let metrics = Metrics::new(opts.queue_capacity);
        Notifier {
            opts,
            queue: Mutex::new(VecDeque::new()),
            more: Notify::new(),
            rules: RwLock::new(Arc::new(AlertRules::default())),
            sets: Arc::new(RwLock::new(Vec::new())),
            discovery: DiscoveryManager::new(),
            metrics,
            user_agent: format!("Oxeye/{}", env!("CARGO_PKG_VERSION")).into(),
            apply_lock: Mutex::new(()),
            watcher_started: AtomicBool::new(false),
            running: AtomicBool::new(false),
            shutdown: CancellationToken::new(),
            done: CancellationToken::new(),
        }
    }

    /// Registers the `prometheus_notifications_*` metrics. The discovery manager's own
    /// `prometheus_sd_*` metrics are not registered: the scrape side already owns those names.
    pub fn register_metrics(&self, registry: &mut prometheus_client::registry::Registry) {
        self.metrics.register(registry);
    }

    /// Applies `cfg.alerting` and `cfg.global.external_labels`, and starts, keeps or stops the
    /// discovery of Alertmanagers. Needs a tokio runtime. On error the old config stays.
    pub fn apply_config(&self, cfg: &Config) -> Result<(), NotifierError> {
        let _serial = self.apply_lock.lock();
        let mut new_sets = Vec::with_capacity(cfg.alerting.alertmanagers.len());
        for (i, am) in cfg.alerting.alertmanagers.iter().enumerate() {
            new_sets.push(Arc::new(AlertmanagerSet::new(format!("config-{i}"), am.clone())?));
        }
        let handle = tokio::runtime::Handle::try_current().map_err(|e| NotifierError::Discovery(e.to_string()))?;
        let jobs: BTreeMap<String, JobDiscoveryConfig> =
            new_sets.iter().map(|s| (s.name.clone(), discovery_of(&s.cfg))).collect();
        {
            let mut sets = self.sets.write();
            self.discovery.apply_config(jobs).map_err(|e| NotifierError::Discovery(e.to_string()))?;
            let before = active_urls(&sets);
            update_sets(&new_sets, &self.discovery.target_sets());
            *sets = new_sets;
            finish_sync(before, &sets, &self.metrics);
        }
        *self.rules.write() = Arc::new(AlertRules {
            external_labels: cfg.global.external_labels(),
            relabel_configs: cfg.alerting.alert_relabel_configs.clone(),
        });
        if !self.watcher_started.swap(true, Ordering::SeqCst) {
            handle.spawn(watch_discovery(
                self.discovery.subscribe(),
                self.sets.clone(),
                self.metrics.clone(),
                self.shutdown.clone(),
            ));
        }
        Ok(())
    }

    /// Queues alerts: external labels are added unless present, `alert_relabel_configs`
    /// applied, dropped alerts discarded. Over capacity, the oldest alerts are dropped (and
    /// counted in `prometheus_notifications_dropped_total`).
    pub fn send(&self, alerts: Vec<Alert>) {
        let rules = self.rules.read().clone();
        let mut alerts = relabel_alerts(alerts, &rules.external_labels, &rules.relabel_configs);
        let cap = self.opts.queue_capacity;
        let mut queue = self.queue.lock();
        if alerts.len() > cap {
            let n = alerts.len() - cap;
            alerts.drain(..n);
            self.metrics.dropped.inc_by(n as u64);
            tracing::warn!(num_dropped = n, "alert batch larger than queue capacity, dropping alerts");
        }
        if queue.len() + alerts.len() > cap {
            let n = queue.len() + alerts.len() - cap;
            queue.drain(..n);
            self.metrics.dropped.inc_by(n as u64);
            tracing::warn!(num_dropped = n, "alert notification queue full, dropping alerts");
        }
        queue.extend(alerts);
        self.metrics.queue_length.set(queue.len() as i64);
        drop(queue);
        self.more.notify_one();
    }

    /// Sends queued alerts until `stop`; then drains the queue if configured.
    pub async fn run(self: Arc<Self>) {
        self.running.store(true, Ordering::SeqCst);
        loop {
            tokio::select! {
                biased;
                _ = self.shutdown.cancelled() => break,
                _ = self.more.notified() => {}
            }
            while !self.shutdown.is_cancelled() {
                let batch = self.next_batch();
                if batch.is_empty() {
                    break;
                }
                self.send_batch(&batch, None).await;
            }
        }
        if self.opts.drain_on_shutdown {
            self.drain().await;
        }
        self.done.cancel();
    }

    /// Stops discovery and the sending loop, waiting for the drain (bounded by
    /// [`DRAIN_TIMEOUT`]) when `drain_on_shutdown` is set.
    pub async fn stop(&self) {
        self.shutdown.cancel();
        self.discovery.stop();
        if self.running.load(Ordering::SeqCst) {
            let bound = DRAIN_TIMEOUT + Duration::from_secs(5);
            if tokio::time::timeout(bound, self.done.cancelled()).await.is_err() {
                tracing::warn!("notifier did not stop in time");
            }
        }
    }

    /// The URLs of the active and of the dropped Alertmanagers (`/api/v1/alertmanagers`).
    pub fn alertmanagers(&self) -> (Vec<String>, Vec<String>) {
        let sets = self.sets.read();
        let mut active = Vec::new();
        let mut dropped = Vec::new();
        for s in sets.iter() {
            let d = s.discovered.read();
            active.extend(d.active.iter().cloned());
            dropped.extend(d.dropped.iter().cloned());
        }
        (active, dropped)
    }

    /// Alerts waiting in the queue.
    pub fn queue_length(&self) -> usize {
        self.queue.lock().len()
    }

    fn next_batch(&self) -> Vec<Alert> {
        let mut queue = self.queue.lock();
        let n = queue.len().min(MAX_BATCH_SIZE);
        let batch: Vec<Alert> = queue.drain(..n).collect();
        self.metrics.queue_length.set(queue.len() as i64);
        batch
    }

    async fn send_batch(&self, batch: &[Alert], deadline: Option<Instant>) {
        if !self.send_all(batch, deadline).await {
            self.metrics.dropped.inc_by(batch.len() as u64);
        }
    }

    async fn drain(&self) {
        let n = self.queue_length();
        if n == 0 {
            return;
        }
        tracing::info!(count = n, "draining the notification queue before shutdown");
        let deadline = Instant::now() + DRAIN_TIMEOUT;
        while Instant::now() < deadline {
            let batch = self.next_batch();
            if batch.is_empty() {
                return;
            }
            self.send_batch(&batch, Some(deadline)).await;
        }
        tracing::warn!(remaining = self.queue_length(), "notification queue not drained before the timeout");
    }

    /// Sends `alerts` to every Alertmanager of every set. True when every set that was sent
    /// anything had at least one Alertmanager accept it (upstream's `sendAll`).
    async fn send_all(&self, alerts: &[Alert], deadline: Option<Instant>) -> bool {
        if alerts.is_empty() {
            return true;
        }
        let begin = Instant::now();
        let sets: Vec<Arc<AlertmanagerSet>> = self.sets.read().clone();
        let mut shared_body: Option<Arc<Vec<u8>>> = None;
        let mut covered: Vec<Option<bool>> = vec![None; sets.len()];
        let mut tasks = tokio::task::JoinSet::new();
        for (i, set) in sets.iter().enumerate() {
            let urls = set.discovered.read().active.clone();
            if urls.is_empty() {
                continue;
            }
            let (body, count) = match set.relabel(alerts) {
                Some(own) if own.is_empty() => continue,
                Some(own) => (Arc::new(payload::encode(&own)), own.len()),
                None => (shared_body.get_or_insert_with(|| Arc::new(payload::encode(alerts))).clone(), alerts.len()),
            };
            covered[i] = Some(false);
            let mut timeout = set.cfg.timeout.0;
            if let Some(d) = deadline {
                timeout = timeout.min(d.saturating_duration_since(Instant::now()));
            }
            for url in urls {
                let req =
                    Post { set: set.clone(), url, body: body.clone(), user_agent: self.user_agent.clone(), timeout };
                tasks.spawn(async move {
                    let result = req.send().await;
                    (i, req.url, count, result)
                });
            }
        }
        while let Some(joined) = tasks.join_next().await {
            let Ok((i, url, count, result)) = joined else { continue };
            let l = metrics::label(&url);
            match result {
                Ok(()) => covered[i] = Some(true),
                Err(e) => {
                    tracing::error!(alertmanager = %url, count, error = %e, "error sending alerts");
                    self.metrics.errors.get_or_create(&l).inc_by(count as u64);
                }
            }
            self.metrics.latency.get_or_create(&l).observe(begin.elapsed().as_secs_f64());
            self.metrics.sent.get_or_create(&l).inc_by(count as u64);
        }
        covered.iter().all(|c| *c != Some(false))
    }
}

/// One POST of a batch to one Alertmanager.
struct Post {
    set: Arc<AlertmanagerSet>,
    url: String,
    body: Arc<Vec<u8>>,
    user_agent: Arc<str>,
    timeout: Duration,
}

impl Post {
    async fn send(&self) -> Result<(), String> {
        match tokio::time::timeout(self.timeout, self.send_inner()).await {
            Ok(r) => r,
            Err(_) => Err("context deadline exceeded".to_string()),
        }
    }

    async fn send_inner(&self) -> Result<(), String> {
        let mut rb = self
            .set
            .client
            .post(&self.url)
            .header(CONTENT_TYPE, "application/json")
            .header(USER_AGENT, &*self.user_agent)
            .timeout(self.timeout)
            .body(self.body.as_ref().clone());
        if let Some(ba) = &self.set.basic_auth {
            let password = match &ba.password {
                Some(s) => Some(s.read().map_err(|e| format!("unable to read basic auth password file: {e}"))?),
                None => None,
            };
            rb = rb.basic_auth(&ba.username, password);
        }
        if let Some(a) = &self.set.authorization {
            let cred =
                a.credentials.read().map_err(|e| format!("unable to read authorization credentials file: {e}"))?;
            rb = rb.header(AUTHORIZATION, format!("{} {cred}", a.kind));
        }
        let resp = rb.send().await.map_err(|e| e.without_url().to_string())?;
        let status = resp.status();
        // Read the body so the connection can be reused.
        let _ = resp.bytes().await;
        if !status.is_success() {
            return Err(format!("bad response status {status}"));
        }
        Ok(())
    }
}

/// The discovery configuration of an `alertmanagers` entry: static groups, file SD and the
/// `kubernetes_sd_configs` the discovery manager runs next to them (as for scrape jobs).
fn discovery_of(cfg: &AlertmanagerConfig) -> JobDiscoveryConfig {
    let discovery = JobDiscovery {
        static_groups: cfg
            .static_configs
            .iter()
            .enumerate()
            .map(|(i, s)| {
                TargetGroup::from_addresses(
                    i.to_string(),
                    &s.targets,
                    Labels::from_pairs(s.labels.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
                )
            })
            .collect(),
        file_sd: cfg
            .file_sd_configs
            .iter()
            .map(|f| FileSdConfig { files: f.files.clone(), refresh_interval: f.refresh_interval.0 })
            .collect(),
    };
    JobDiscoveryConfig { discovery, kubernetes_sd: cfg.kubernetes_sd_configs.clone() }
}

fn active_urls(sets: &[Arc<AlertmanagerSet>]) -> HashSet<String> {
    sets.iter().flat_map(|s| s.discovered.read().active.clone()).collect()
}

fn update_sets(sets: &[Arc<AlertmanagerSet>], targets: &TargetSets) {
    for s in sets {
        s.update(targets.get(&s.name).map(Vec::as_slice).unwrap_or_default());
    }
}

/// Creates the series of new Alertmanagers, removes those of gone ones, updates the gauge.
fn finish_sync(before: HashSet<String>, sets: &[Arc<AlertmanagerSet>], metrics: &Metrics) {
    let after = active_urls(sets);
    for url in after.difference(&before) {
        metrics.add_alertmanager(url);
    }
    for url in before.difference(&after) {
        metrics.remove_alertmanager(url);
    }
    let n: usize = sets.iter().map(|s| s.discovered.read().active.len()).sum();
    metrics.alertmanagers_discovered.set(n as i64);
}

/// Follows discovery updates until shutdown.
async fn watch_discovery(
    mut rx: tokio::sync::watch::Receiver<TargetSets>,
    sets: Arc<RwLock<Vec<Arc<AlertmanagerSet>>>>,
    metrics: Metrics,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            changed = rx.changed() => if changed.is_err() { return },
        }
        let guard = sets.read();
        // Read the targets under the lock so a concurrent `apply_config` is seen whole.
        let targets = rx.borrow_and_update().clone();
        let before = active_urls(&guard);
        update_sets(&guard, &targets);
        finish_sync(before, &guard, &metrics);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubernetes_sd_configs_reach_the_discovery_manager() {
        let cfg = oxeye_config::load_str(
            "alerting:\n  alertmanagers:\n    - static_configs: [{targets: ['am:9093']}]\n      kubernetes_sd_configs:\n        - role: pod\n          kubeconfig_file: /k\n          namespaces: {names: [monitoring]}\n",
            "t.yml",
        )
        .unwrap();
        let d = discovery_of(&cfg.alerting.alertmanagers[0]);
        assert_eq!(d.discovery.static_groups.len(), 1);
        assert_eq!(d.kubernetes_sd.len(), 1);
        assert_eq!(d.kubernetes_sd[0].role, oxeye_config::KubernetesRole::Pod);
        assert_eq!(d.kubernetes_sd[0].namespaces.names, ["monitoring"]);
    }

    #[tokio::test]
    async fn apply_config_starts_kubernetes_discovery_without_blocking() {
        // No API server answers at this kubeconfig: discovery retries in the background and the
        // static Alertmanager stays active meanwhile.
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::write(
            &kubeconfig,
            "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n",
        )
        .unwrap();
        let cfg = oxeye_config::load_str(
            &format!(
                "alerting:\n  alertmanagers:\n    - static_configs: [{{targets: ['127.0.0.1:9093']}}]\n      kubernetes_sd_configs:\n        - role: pod\n          kubeconfig_file: {}\n",
                kubeconfig.display()
            ),
            "t.yml",
        )
        .unwrap();
        let n = Notifier::new(NotifierOptions::default());
        n.apply_config(&cfg).unwrap();
        let (active, _) = n.alertmanagers();
        assert_eq!(active, ["http://127.0.0.1:9093/api/v2/alerts"]);
        n.stop().await;
    }
}
