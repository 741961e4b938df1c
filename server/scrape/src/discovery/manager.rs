//! The discovery manager: runs the providers of every job (static groups, file discovery,
//! Kubernetes discovery) and
//! publishes the merged, full set of target groups per job on a `watch` channel each time any
//! provider changes. Unlike Prometheus's 5 s `updatert` throttle, changes are published at once
//! (the watch channel coalesces bursts), so a new target is scraped within about a second.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::{FileDiscovery, FileSdConfig, TargetGroup};
use crate::error::{Error, Result};

/// One job's discovery: static groups and file discovery ([`JobDiscovery`]) plus its
/// `kubernetes_sd_configs`. A plain `JobDiscovery` converts into one without Kubernetes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JobDiscoveryConfig {
    pub discovery: JobDiscovery,
    pub kubernetes_sd: Vec<oxeye_config::KubernetesSdConfig>,
}

impl From<JobDiscovery> for JobDiscoveryConfig {
    fn from(discovery: JobDiscovery) -> Self {
        JobDiscoveryConfig { discovery, kubernetes_sd: Vec::new() }
    }
}

/// Every job's full list of target groups, keyed by job name.
pub type TargetSets = Arc<BTreeMap<String, Vec<TargetGroup>>>;

/// The discovery part of one scrape job's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JobDiscovery {
    /// `static_configs`, one group per entry (sources `0`, `1`, ...).
    pub static_groups: Vec<TargetGroup>,
    pub file_sd: Vec<FileSdConfig>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SdLabels {
    config: String,
    name: String,
}

#[derive(Clone, Default)]
struct DiscoveryMetrics {
    discovered_targets: Family<SdLabels, Gauge>,
    file_read_errors: Counter,
}

struct JobState {
    config: JobDiscoveryConfig,
    generation: u64,
    /// Index 0 holds the static groups; 1.. one per `file_sd_configs` entry, then one per
    /// `kubernetes_sd_configs` entry.
    providers: Vec<Vec<TargetGroup>>,
    cancel: CancellationToken,
}

struct Inner {
    jobs: BTreeMap<String, JobState>,
    next_generation: u64,
}

/// Runs discovery for all jobs and publishes `TargetSets`.
pub struct DiscoveryManager {
    inner: Arc<Mutex<Inner>>,
    tx: Arc<watch::Sender<TargetSets>>,
    metrics: DiscoveryMetrics,
    poll_interval: Duration,
    shutdown: CancellationToken,
}

impl Default for DiscoveryManager {
    fn default() -> Self {
        Self::new()
    }
}

impl DiscoveryManager {
    pub fn new() -> Self {
        Self::with_poll_interval(Duration::from_secs(1))
    }

    /// `poll_interval` is how often file discovery checks its files for changes.
    pub fn with_poll_interval(poll_interval: Duration) -> Self {
        let (tx, _) = watch::channel(TargetSets::default());
        DiscoveryManager {
            inner: Arc::new(Mutex::new(Inner { jobs: BTreeMap::new(), next_generation: 1 })),
            tx: Arc::new(tx),
            metrics: DiscoveryMetrics::default(),
            poll_interval,
            shutdown: CancellationToken::new(),
        }
    }

    /// A receiver that sees the latest `TargetSets` (and each later change).
    pub fn subscribe(&self) -> watch::Receiver<TargetSets> {
        self.tx.subscribe()
    }

    /// The latest published target sets.
    pub fn target_sets(&self) -> TargetSets {
        self.tx.borrow().clone()
    }

    /// Registers `prometheus_sd_discovered_targets` and `prometheus_sd_file_read_errors_total`.
    pub fn register_metrics(&self, registry: &mut Registry) {
        registry.register(
            "prometheus_sd_discovered_targets",
            "Current number of discovered targets.",
            self.metrics.discovered_targets.clone(),
        );
        registry.register(
            "prometheus_sd_file_read_errors",
            "The number of File-SD read errors.",
            self.metrics.file_read_errors.clone(),
        );
    }

    /// Starts, keeps or stops providers so they match `jobs`. Jobs whose discovery configuration
    /// is unchanged keep their running providers. Files of new file providers are read before
    /// this returns, so the published sets already include them. Needs a tokio runtime.
    /// Kubernetes providers connect in the background; their groups appear once listed.
    pub fn apply_config<D: Into<JobDiscoveryConfig>>(&self, jobs: BTreeMap<String, D>) -> Result<()> {
        let jobs: BTreeMap<String, JobDiscoveryConfig> = jobs.into_iter().map(|(k, v)| (k, v.into())).collect();
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|e| Error::Job { job: String::new(), message: format!("discovery needs a tokio runtime: {e}") })?;
        let mut spawn = Vec::new();
        let mut spawn_kube = Vec::new();
        {
            let mut inner = self.inner.lock();
            let removed: Vec<String> = inner
                .jobs
                .iter()
                .filter(|(name, st)| jobs.get(*name) != Some(&st.config))
                .map(|(name, _)| name.clone())
                .collect();
            for name in removed {
                if let Some(st) = inner.jobs.remove(&name) {
                    st.cancel.cancel();
                }
                self.metrics.discovered_targets.remove(&sd_labels(&name));
            }
            for (name, cfg) in jobs {
                if inner.jobs.contains_key(&name) {
                    continue;
                }
                let generation = inner.next_generation;
                inner.next_generation += 1;
                let cancel = self.shutdown.child_token();
                let mut providers = vec![cfg.discovery.static_groups.clone()];
                for (i, fsd) in cfg.discovery.file_sd.iter().enumerate() {
                    let mut fd =
                        FileDiscovery::new(fsd.clone(), self.poll_interval, self.metrics.file_read_errors.clone());
                    fd.refresh(true);
                    providers.push(fd.groups());
                    spawn.push((name.clone(), generation, i + 1, fd, cancel.clone()));
                }
                for kc in &cfg.kubernetes_sd {
                    spawn_kube.push((name.clone(), generation, providers.len(), kc.clone(), cancel.clone()));
                    providers.push(Vec::new());
                }
                inner.jobs.insert(name, JobState { config: cfg, generation, providers, cancel });
            }
        }
        for (job, generation, idx, fd, cancel) in spawn {
            let (ptx, mut prx) = mpsc::unbounded_channel();
            handle.spawn(fd.run(ptx, cancel));
            let inner = self.inner.clone();
            let tx = self.tx.clone();
            let metrics = self.metrics.clone();
            handle.spawn(async move {
                while let Some(groups) = prx.recv().await {
                    let mut guard = inner.lock();
                    match guard.jobs.get_mut(&job) {
                        Some(st) if st.generation == generation => {
                            if let Some(slot) = st.providers.get_mut(idx) {
                                *slot = groups;
                            }
                        }
                        _ => return,
                    }
                    publish(&guard, &tx, &metrics);
                }
            });
        }
        for (job, generation, idx, kc, cancel) in spawn_kube {
            self.spawn_kubernetes(&handle, job, generation, idx, kc, cancel);
        }
        publish(&self.inner.lock(), &self.tx, &self.metrics);
        Ok(())
    }

    /// Runs one `kubernetes_sd_configs` provider and keeps its slot holding the full list of
    /// its groups (the provider sends changed groups only; an empty group removes its source).
    fn spawn_kubernetes(
        &self,
        handle: &tokio::runtime::Handle,
        job: String,
        generation: u64,
        idx: usize,
        cfg: oxeye_config::KubernetesSdConfig,
        cancel: CancellationToken,
    ) {
        let (ktx, mut krx) = mpsc::channel::<Vec<oxeye_kubesd::TargetGroup>>(16);
        let job_name = job.clone();
        handle.spawn(async move {
            let discovery = match oxeye_kubesd::KubernetesDiscovery::new(cfg).await {
                Ok(d) => d,
                Err(e) => {
                    tracing::error!(job = %job_name, error = %e, "cannot create kubernetes service discovery");
                    return;
                }
            };
            tokio::select! {
                _ = discovery.run(ktx) => {}
                _ = cancel.cancelled() => {}
            }
        });
        let inner = self.inner.clone();
        let tx = self.tx.clone();
        let metrics = self.metrics.clone();
        handle.spawn(async move {
            let mut groups: BTreeMap<String, TargetGroup> = BTreeMap::new();
            while let Some(batch) = krx.recv().await {
                for g in batch {
                    if g.targets.is_empty() && g.labels.is_empty() {
                        groups.remove(&g.source);
                    } else {
                        groups.insert(
                            g.source.clone(),
                            TargetGroup { source: g.source, targets: g.targets, labels: g.labels },
                        );
                    }
                }
                let mut guard = inner.lock();
                match guard.jobs.get_mut(&job) {
                    Some(st) if st.generation == generation => {
                        if let Some(slot) = st.providers.get_mut(idx) {
                            *slot = groups.values().cloned().collect();
                        }
                    }
                    _ => return,
                }
                publish(&guard, &tx, &metrics);
            }
        });
    }

    /// Stops every provider.
    pub fn stop(&self) {
        self.shutdown.cancel();
    }
}

impl Drop for DiscoveryManager {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

fn sd_labels(job: &str) -> SdLabels {
    SdLabels { config: job.to_string(), name: "scrape".to_string() }
}

fn publish(inner: &Inner, tx: &watch::Sender<TargetSets>, metrics: &DiscoveryMetrics) {
    let mut sets = BTreeMap::new();
    for (name, st) in &inner.jobs {
        let groups: Vec<TargetGroup> = st.providers.iter().flatten().cloned().collect();
        let n: usize = groups.iter().map(|g| g.targets.len()).sum();
        metrics.discovered_targets.get_or_create(&sd_labels(name)).set(n as i64);
        sets.insert(name.clone(), groups);
    }
    tx.send_replace(Arc::new(sets));
}
