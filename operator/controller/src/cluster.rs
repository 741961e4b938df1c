//! The operator's view of the cluster: watch-fed caches (kube-rs reflectors) of ServiceMonitors,
//! PodMonitors, PrometheusRules and Namespaces, of the metadata of Secrets and ConfigMaps (their
//! data is fetched only for the ones that are referenced), and, when Grafana is configured, of
//! GrafanaDashboards and dashboard ConfigMaps. Every change that can alter a decision bumps a
//! change counter the controllers wait on; changes that cannot (our own status writes,
//! unreferenced Secrets) do not.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Debug;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use kube::api::PartialObjectMeta;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, reflector as reflect, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use oxeye_crd::{GrafanaDashboard, PodMonitor, PrometheusRule, ServiceMonitor};
use parking_lot::RwLock;
use serde::de::DeserializeOwned;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::metrics::{Metrics, controller};
use crate::plan::{CredentialRef, Snapshot};

/// Secrets and ConfigMaps each controller references (by controller name): only their changes
/// wake the controllers.
pub type Interesting = Arc<RwLock<BTreeMap<&'static str, BTreeSet<CredentialRef>>>>;

/// Counts relevant changes; controllers wait for it to move.
type Changes = Arc<watch::Sender<u64>>;

fn bump(changes: &Changes) {
    changes.send_modify(|n| *n = n.wrapping_add(1));
}

/// Which ConfigMaps hold dashboards (`grafana_dashboard: "1"` in kube-prometheus-stack).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DashboardConfigMaps {
    pub label: String,
    pub value: String,
}

/// Caches of everything the controllers read.
#[derive(Clone)]
pub struct Cluster {
    pub service_monitors: Store<ServiceMonitor>,
    pub pod_monitors: Store<PodMonitor>,
    pub rules: Store<PrometheusRule>,
    pub namespaces: Store<Namespace>,
    pub secrets: Store<PartialObjectMeta<Secret>>,
    pub config_maps: Store<PartialObjectMeta<ConfigMap>>,
    /// GrafanaDashboards, when Grafana is configured.
    pub grafana_dashboards: Option<Store<GrafanaDashboard>>,
    /// Dashboard ConfigMaps (whole objects), when Grafana is configured and they are enabled.
    pub dashboard_config_maps: Option<Store<ConfigMap>>,
    changes: Changes,
    pub interesting: Interesting,
}

fn hash_of(parts: impl Hash) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    parts.hash(&mut h);
    h.finish()
}

/// What about a monitored object can change the plan: its spec (generation), its labels
/// (selectors) and whether it is being deleted. Status writes change none of these.
fn spec_fingerprint<K: Resource>(o: &K) -> u64 {
    let m = o.meta();
    hash_of((m.generation, &m.labels, m.deletion_timestamp.is_some()))
}

impl Cluster {
    /// Starts the watches. They run until the returned tasks are aborted. `grafana` adds the
    /// GrafanaDashboard watch and, with `Some`, the dashboard ConfigMaps watch.
    pub fn start(
        client: &Client,
        metrics: &Metrics,
        grafana: Option<Option<DashboardConfigMaps>>,
    ) -> (Cluster, Vec<JoinHandle<()>>) {
        let changed: Changes = Arc::new(watch::channel(0).0);
        let interesting: Interesting = Arc::default();
        let mut tasks = Vec::new();
        let cfg = watcher::Config::default;

        let (service_monitors, t) = watch_objects(
            Api::<ServiceMonitor>::all(client.clone()),
            cfg(),
            "servicemonitors",
            changed.clone(),
            metrics.clone(),
            spec_fingerprint,
        );
        tasks.push(t);
        let (pod_monitors, t) = watch_objects(
            Api::<PodMonitor>::all(client.clone()),
            cfg(),
            "podmonitors",
            changed.clone(),
            metrics.clone(),
            spec_fingerprint,
        );
        tasks.push(t);
        let (rules, t) = watch_objects(
            Api::<PrometheusRule>::all(client.clone()),
            cfg(),
            "prometheusrules",
            changed.clone(),
            metrics.clone(),
            spec_fingerprint,
        );
        tasks.push(t);
        let (namespaces, t) = watch_objects(
            Api::<Namespace>::all(client.clone()),
            cfg(),
            "namespaces",
            changed.clone(),
            metrics.clone(),
            |n: &Namespace| hash_of((&n.metadata.labels, n.metadata.deletion_timestamp.is_some())),
        );
        tasks.push(t);
        let (secrets, t) = watch_metadata(
            Api::<PartialObjectMeta<Secret>>::all(client.clone()),
            false,
            changed.clone(),
            metrics.clone(),
            interesting.clone(),
        );
        tasks.push(t);
        let (config_maps, t) = watch_metadata(
            Api::<PartialObjectMeta<ConfigMap>>::all(client.clone()),
            true,
            changed.clone(),
            metrics.clone(),
            interesting.clone(),
        );
        tasks.push(t);
        let (mut grafana_dashboards, mut dashboard_config_maps) = (None, None);
        if let Some(config_maps) = grafana {
            let (store, t) = watch_objects(
                Api::<GrafanaDashboard>::all(client.clone()),
                cfg(),
                "grafanadashboards",
                changed.clone(),
                metrics.clone(),
                spec_fingerprint,
            );
            tasks.push(t);
            grafana_dashboards = Some(store);
            if let Some(sel) = config_maps {
                let selector = format!("{}={}", sel.label, sel.value);
                let (store, t) = watch_objects(
                    Api::<ConfigMap>::all(client.clone()),
                    cfg().labels(&selector),
                    "configmaps",
                    changed.clone(),
                    metrics.clone(),
                    |c: &ConfigMap| hash_of(&c.metadata.resource_version),
                );
                tasks.push(t);
                dashboard_config_maps = Some(store);
            }
        }
        let cluster = Cluster {
            service_monitors,
            pod_monitors,
            rules,
            namespaces,
            secrets,
            config_maps,
            grafana_dashboards,
            dashboard_config_maps,
            changes: changed,
            interesting,
        };
        (cluster, tasks)
    }

    /// Waits until every cache holds a complete initial list.
    pub async fn wait_ready(&self) -> Result<(), String> {
        let err = |e: reflector::store::WriterDropped| format!("a watch stopped before its first list: {e}");
        self.service_monitors.wait_until_ready().await.map_err(err)?;
        self.pod_monitors.wait_until_ready().await.map_err(err)?;
        self.rules.wait_until_ready().await.map_err(err)?;
        self.namespaces.wait_until_ready().await.map_err(err)?;
        self.secrets.wait_until_ready().await.map_err(err)?;
        self.config_maps.wait_until_ready().await.map_err(err)?;
        if let Some(s) = &self.grafana_dashboards {
            s.wait_until_ready().await.map_err(err)?;
        }
        if let Some(s) = &self.dashboard_config_maps {
            s.wait_until_ready().await.map_err(err)?;
        }
        Ok(())
    }

    /// A receiver that sees every relevant change from now on.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Replaces the credentials `consumer` references.
    pub fn set_interesting(&self, consumer: &'static str, refs: BTreeSet<CredentialRef>) {
        self.interesting.write().insert(consumer, refs);
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            service_monitors: self.service_monitors.state(),
            pod_monitors: self.pod_monitors.state(),
            rules: self.rules.state(),
            namespaces: self
                .namespaces
                .state()
                .iter()
                .map(|n| (n.name_any(), n.metadata.labels.clone().unwrap_or_default()))
                .collect(),
        }
    }

    /// The resourceVersion of a Secret or ConfigMap, if it exists.
    pub fn credential_version(&self, r: &CredentialRef) -> Option<String> {
        let version = if r.config_map {
            self.config_maps
                .get(&reflector::ObjectRef::new(&r.name).within(&r.namespace))
                .map(|m| m.metadata.resource_version.clone())
        } else {
            self.secrets
                .get(&reflector::ObjectRef::new(&r.name).within(&r.namespace))
                .map(|m| m.metadata.resource_version.clone())
        };
        version.map(Option::unwrap_or_default)
    }
}

fn count_error(metrics: &Metrics, resource: &str, e: &watcher::Error) {
    match e {
        watcher::Error::InitialListFailed(_) => metrics.list_failed.get_or_create(&controller()).inc(),
        _ => metrics.watch_failed.get_or_create(&controller()).inc(),
    };
    tracing::warn!(resource, error = %e, "watch failed; retrying with backoff");
}

fn watch_objects<K>(
    api: Api<K>,
    cfg: watcher::Config,
    resource: &'static str,
    changed: Changes,
    metrics: Metrics,
    fingerprint: fn(&K) -> u64,
) -> (Store<K>, JoinHandle<()>)
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + Hash + Clone + Send + Sync,
{
    let (reader, writer) = reflector::store();
    let stream = reflect(writer, watcher(api, cfg).default_backoff());
    let task = tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        let mut seen: HashMap<String, u64> = HashMap::new();
        while let Some(event) = stream.next().await {
            match event {
                Ok(watcher::Event::Init) => {
                    metrics.list_operations.get_or_create(&controller()).inc();
                    seen.clear();
                }
                Ok(watcher::Event::InitApply(o)) => {
                    seen.insert(o.uid().unwrap_or_default(), fingerprint(&o));
                }
                Ok(watcher::Event::InitDone) => {
                    metrics.watch_operations.get_or_create(&controller()).inc();
                    bump(&changed);
                }
                Ok(watcher::Event::Apply(o)) => {
                    let fp = fingerprint(&o);
                    if seen.insert(o.uid().unwrap_or_default(), fp) != Some(fp) {
                        tracing::debug!(resource, object = %format!("{}/{}", o.namespace().unwrap_or_default(), o.name_any()), "changed");
                        bump(&changed);
                    }
                }
                Ok(watcher::Event::Delete(o)) => {
                    seen.remove(&o.uid().unwrap_or_default());
                    bump(&changed);
                }
                Err(e) => count_error(&metrics, resource, &e),
            }
        }
    });
    (reader, task)
}

fn watch_metadata<K>(
    api: Api<PartialObjectMeta<K>>,
    config_map: bool,
    changed: Changes,
    metrics: Metrics,
    interesting: Interesting,
) -> (Store<PartialObjectMeta<K>>, JoinHandle<()>)
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + Hash + Clone + Send + Sync,
{
    let resource = if config_map { "configmaps" } else { "secrets" };
    let (reader, writer) = reflector::store();
    let stream = reflect(writer, watcher(api, watcher::Config::default()).default_backoff());
    let task = tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            let relevant = |o: &PartialObjectMeta<K>| {
                let r = CredentialRef {
                    config_map,
                    namespace: o.metadata.namespace.clone().unwrap_or_default(),
                    name: o.metadata.name.clone().unwrap_or_default(),
                };
                interesting.read().values().any(|set| set.contains(&r))
            };
            match event {
                Ok(watcher::Event::Init) => {
                    metrics.list_operations.get_or_create(&controller()).inc();
                }
                Ok(watcher::Event::InitApply(_)) => {}
                Ok(watcher::Event::InitDone) => {
                    metrics.watch_operations.get_or_create(&controller()).inc();
                    bump(&changed);
                }
                Ok(watcher::Event::Apply(o) | watcher::Event::Delete(o)) => {
                    if relevant(&o) {
                        bump(&changed);
                    }
                }
                Err(e) => count_error(&metrics, resource, &e),
            }
        }
    });
    (reader, task)
}
