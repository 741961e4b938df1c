//! The running discovery of one `kubernetes_sd_config`: watcher streams for the role's
//! resources (per namespace or across all), local stores, and the rebuild of the target groups
//! an event touches. Groups are sent only when they changed, so a re-list after an API server
//! restart emits exactly the differences.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use futures::FutureExt;
use futures::stream::{BoxStream, StreamExt, select_all};
use k8s_openapi::api::core::v1::{Endpoints, Namespace, Node, Pod, Service};
use k8s_openapi::api::discovery::v1 as disv1;
use kube::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use tokio::sync::mpsc;

use crate::config::{KubernetesSdConfig, Role};
use crate::endpointslice::{EndpointSliceV1Beta1, Slice};
use crate::meta::{self, Attach, Lookup};
use crate::store::{ObjectKey, Store};
use crate::{Error, Result, TargetGroup, client};

/// Events drained into one batch before groups are rebuilt and sent; bounds the latency of a
/// burst (e.g. a full re-list) without sending one message per object.
const MAX_BATCH: usize = 4096;

/// Discovery for one `kubernetes_sd_config`. Build it with [`KubernetesDiscovery::new`] (or
/// [`KubernetesDiscovery::with_client`] in tests) and drive it with [`KubernetesDiscovery::run`].
pub struct KubernetesDiscovery {
    cfg: KubernetesSdConfig,
    client: kube::Client,
    own_namespace: Option<String>,
}

impl KubernetesDiscovery {
    /// Builds the client of `cfg` (kubeconfig, `api_server` or in-cluster). `cfg` comes from a
    /// loaded configuration, so it is already validated.
    pub async fn new(cfg: KubernetesSdConfig) -> Result<Self> {
        if cfg.role == Role::Ingress {
            return Err(Error::Config { field: "role".into(), message: "role ingress is not supported yet".into() });
        }
        let conn = client::connect(&cfg).await?;
        Ok(KubernetesDiscovery { cfg, client: conn.client, own_namespace: conn.own_namespace })
    }

    /// Discovery over an existing client (no validation of connection fields).
    pub fn with_client(cfg: KubernetesSdConfig, client: kube::Client) -> Self {
        KubernetesDiscovery { cfg, client, own_namespace: None }
    }

    /// The namespaces to watch; `None` is all of them.
    fn namespaces(&self) -> Vec<Option<String>> {
        let ns = &self.cfg.namespaces;
        if ns.names.is_empty() && !ns.own_namespace {
            return vec![None];
        }
        let mut out: Vec<Option<String>> = ns.names.iter().cloned().map(Some).collect();
        if ns.own_namespace
            && let Some(own) = &self.own_namespace
            && !ns.names.contains(own)
        {
            out.push(Some(own.clone()));
        }
        out
    }

    /// Runs until `tx` is closed, sending batches of full target groups. The first batch holds
    /// every group, once all watched resources have been listed; later batches hold the groups
    /// that changed. Watch errors are logged and retried with backoff.
    pub async fn run(self, tx: mpsc::Sender<Vec<TargetGroup>>) {
        let role = self.cfg.role;
        let slices_v1 = if role == Role::EndpointSlice {
            tokio::select! {
                v = endpointslice_v1_served(&self.client) => v,
                _ = tx.closed() => return,
            }
        } else {
            false
        };
        let mut state = State::new(&self.cfg, self.namespaces());
        let mut updates = select_all(self.streams(&state, slices_v1));
        tracing::info!(role = %role, namespaces = ?state.namespaces, "kubernetes discovery started");
        loop {
            let first = tokio::select! {
                u = updates.next() => u,
                _ = tx.closed() => return,
            };
            let Some(first) = first else { return };
            let mut dirty = BTreeSet::new();
            state.apply(first, &mut dirty);
            for _ in 0..MAX_BATCH {
                match updates.next().now_or_never() {
                    Some(Some(u)) => state.apply(u, &mut dirty),
                    _ => break,
                }
            }
            let batch = state.rebuild(dirty);
            if !batch.is_empty() && tx.send(batch).await.is_err() {
                return;
            }
        }
    }

    fn streams(&self, state: &State, slices_v1: bool) -> Vec<BoxStream<'static, Update>> {
        let cfg = &self.cfg;
        let role = cfg.role;
        let mut out = Vec::new();
        let needs_pods = matches!(role, Role::Pod | Role::Endpoints | Role::EndpointSlice);
        let needs_services = matches!(role, Role::Service | Role::Endpoints | Role::EndpointSlice);
        for (i, ns) in state.namespaces.iter().enumerate() {
            if needs_pods {
                let api: Api<Pod> = self.api(ns.as_deref());
                out.push(watch(api, self.watcher_config(Role::Pod), move |e| Update::Pod(i, e)));
            }
            if needs_services {
                let api: Api<Service> = self.api(ns.as_deref());
                out.push(watch(api, self.watcher_config(Role::Service), move |e| Update::Service(i, e)));
            }
            if role == Role::Endpoints {
                let api: Api<Endpoints> = self.api(ns.as_deref());
                out.push(watch(api, self.watcher_config(Role::Endpoints), move |e| Update::Endpoints(i, e)));
            }
            if role == Role::EndpointSlice {
                let wc = self.watcher_config(Role::EndpointSlice);
                if slices_v1 {
                    let api: Api<disv1::EndpointSlice> = self.api(ns.as_deref());
                    out.push(watch(api, wc, move |e| Update::Slice(i, map_event(e, |s| Slice::from(&s)))));
                } else {
                    let api: Api<EndpointSliceV1Beta1> = self.api(ns.as_deref());
                    out.push(watch(api, wc, move |e| Update::Slice(i, map_event(e, |s| Slice::from(&s)))));
                }
            }
        }
        if role == Role::Node || state.attach.node {
            let api: Api<Node> = Api::all(self.client.clone());
            out.push(watch(api, self.watcher_config(Role::Node), Update::Node));
        }
        if state.attach.namespace {
            let api: Api<Namespace> = Api::all(self.client.clone());
            out.push(watch(api, watcher::Config::default(), Update::Namespace));
        }
        out
    }

    fn api<K>(&self, namespace: Option<&str>) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        match namespace {
            Some(ns) => Api::namespaced(self.client.clone(), ns),
            None => Api::all(self.client.clone()),
        }
    }

    fn watcher_config(&self, role: Role) -> watcher::Config {
        let mut wc = watcher::Config::default();
        if let Some(sel) = self.cfg.selector(role) {
            if !sel.label.is_empty() {
                wc = wc.labels(&sel.label);
            }
            if !sel.field.is_empty() {
                wc = wc.fields(&sel.field);
            }
        }
        wc
    }
}

/// Whether the API server serves `discovery.k8s.io/v1` (Kubernetes >= 1.21); otherwise
/// EndpointSlices are read as v1beta1. Asked once, retried until the API server answers.
async fn endpointslice_v1_served(client: &kube::Client) -> bool {
    let mut delay = Duration::from_millis(500);
    loop {
        match client.list_api_groups().await {
            Ok(list) => {
                let v1 = list
                    .groups
                    .iter()
                    .any(|g| g.name == "discovery.k8s.io" && g.versions.iter().any(|v| v.version == "v1"));
                tracing::info!(discovery_v1 = v1, "checked EndpointSlice API version");
                return v1;
            }
            Err(e) => {
                tracing::warn!(error = %e, "checking discovery.k8s.io/v1 availability failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
            }
        }
    }
}

fn map_event<A, B>(e: Event<A>, f: impl Fn(A) -> B) -> Event<B> {
    match e {
        Event::Apply(o) => Event::Apply(f(o)),
        Event::Delete(o) => Event::Delete(f(o)),
        Event::Init => Event::Init,
        Event::InitApply(o) => Event::InitApply(f(o)),
        Event::InitDone => Event::InitDone,
    }
}

/// A watcher stream with kube's default backoff, errors logged and dropped (the watcher
/// re-lists or re-watches by itself), events tagged for the state machine.
fn watch<K>(
    api: Api<K>,
    wc: watcher::Config,
    tag: impl Fn(Event<K>) -> Update + Send + 'static,
) -> BoxStream<'static, Update>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
    K::DynamicType: Default,
{
    let kind = K::kind(&Default::default()).to_string();
    watcher::watcher(api, wc)
        .default_backoff()
        .filter_map(move |r| {
            let out = match r {
                Ok(e) => Some(tag(e)),
                Err(e) => {
                    tracing::warn!(kind = %kind, error = %e, "kubernetes watch failed; retrying");
                    None
                }
            };
            futures::future::ready(out)
        })
        .boxed()
}

/// One watcher event, tagged with its resource kind and (for namespaced kinds) its stream.
// An update lives only from the stream to the store, one at a time; boxing would add an
// allocation per event for nothing.
#[allow(clippy::large_enum_variant)]
enum Update {
    Pod(usize, Event<Pod>),
    Service(usize, Event<Service>),
    Endpoints(usize, Event<Endpoints>),
    Slice(usize, Event<Slice>),
    Node(Event<Node>),
    Namespace(Event<Namespace>),
}

fn key_of<K: kube::Resource>(o: &K) -> ObjectKey {
    let m = o.meta();
    (m.namespace.clone().unwrap_or_default(), m.name.clone().unwrap_or_default())
}

fn slice_key(s: &Slice) -> ObjectKey {
    (s.namespace.clone(), s.name.clone())
}

/// The stores of one discovery and the groups last sent.
struct State {
    role: Role,
    attach: Attach,
    namespaces: Vec<Option<String>>,
    pods: Store<Pod>,
    services: Store<Service>,
    endpoints: Store<Endpoints>,
    slices: Store<Slice>,
    nodes: Store<Node>,
    namespace_objects: Store<Namespace>,
    /// Set once every store listed; until then nothing is sent.
    started: bool,
    sent: HashMap<String, TargetGroup>,
}

impl Lookup for State {
    fn pod(&self, namespace: &str, name: &str) -> Option<&Pod> {
        self.pods.get(namespace, name)
    }
    fn service(&self, namespace: &str, name: &str) -> Option<&Service> {
        self.services.get(namespace, name)
    }
    fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.get("", name)
    }
    fn namespace(&self, name: &str) -> Option<&Namespace> {
        self.namespace_objects.get("", name)
    }
}

impl State {
    fn new(cfg: &KubernetesSdConfig, namespaces: Vec<Option<String>>) -> Self {
        let role = cfg.role;
        let attach = Attach {
            node: cfg.attach_metadata.node && matches!(role, Role::Pod | Role::Endpoints | Role::EndpointSlice),
            namespace: cfg.attach_metadata.namespace && role != Role::Node,
        };
        let per_ns = |on: bool| if on { namespaces.clone() } else { Vec::new() };
        State {
            role,
            attach,
            pods: Store::new(per_ns(matches!(role, Role::Pod | Role::Endpoints | Role::EndpointSlice))),
            services: Store::new(per_ns(matches!(role, Role::Service | Role::Endpoints | Role::EndpointSlice))),
            endpoints: Store::new(per_ns(role == Role::Endpoints)),
            slices: Store::new(per_ns(role == Role::EndpointSlice)),
            nodes: Store::new(if role == Role::Node || attach.node { vec![None] } else { Vec::new() }),
            namespace_objects: Store::new(if attach.namespace { vec![None] } else { Vec::new() }),
            namespaces,
            started: false,
            sent: HashMap::new(),
        }
    }

    fn synced(&self) -> bool {
        self.pods.synced()
            && self.services.synced()
            && self.endpoints.synced()
            && self.slices.synced()
            && self.nodes.synced()
            && self.namespace_objects.synced()
    }

    /// Applies one event and adds the keys of the primary objects whose group it may change.
    fn apply(&mut self, u: Update, dirty: &mut BTreeSet<ObjectKey>) {
        match u {
            Update::Pod(i, e) => {
                for (ns, name) in self.pods.apply(i, e, key_of) {
                    match self.role {
                        Role::Pod => {
                            dirty.insert((ns, name));
                        }
                        Role::Endpoints => dirty.extend(
                            self.endpoints
                                .in_namespace(&ns)
                                .filter(|(_, e)| endpoints_refers(e, "Pod", &name))
                                .map(|(k, _)| k.clone()),
                        ),
                        Role::EndpointSlice => dirty.extend(
                            self.slices
                                .in_namespace(&ns)
                                .filter(|(_, s)| slice_refers(s, "Pod", &name))
                                .map(|(k, _)| k.clone()),
                        ),
                        _ => {}
                    }
                }
            }
            Update::Service(i, e) => {
                for (ns, name) in self.services.apply(i, e, key_of) {
                    match self.role {
                        Role::Service => {
                            dirty.insert((ns, name));
                        }
                        Role::Endpoints => {
                            dirty.insert((ns, name));
                        }
                        Role::EndpointSlice => dirty.extend(
                            self.slices
                                .in_namespace(&ns)
                                .filter(|(_, s)| s.service_name() == Some(name.as_str()))
                                .map(|(k, _)| k.clone()),
                        ),
                        _ => {}
                    }
                }
            }
            Update::Endpoints(i, e) => dirty.extend(self.endpoints.apply(i, e, key_of)),
            Update::Slice(i, e) => dirty.extend(self.slices.apply(i, e, slice_key)),
            Update::Node(e) => {
                for (_, name) in self.nodes.apply(0, e, key_of) {
                    match self.role {
                        Role::Node => {
                            dirty.insert((String::new(), name));
                        }
                        Role::Pod => dirty.extend(
                            self.pods
                                .iter()
                                .filter(|(_, p)| {
                                    p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(name.as_str())
                                })
                                .map(|(k, _)| k.clone()),
                        ),
                        Role::Endpoints => dirty.extend(
                            self.endpoints.iter().filter(|(_, e)| endpoints_on_node(e, &name)).map(|(k, _)| k.clone()),
                        ),
                        Role::EndpointSlice => dirty.extend(
                            self.slices.iter().filter(|(_, s)| slice_on_node(s, &name)).map(|(k, _)| k.clone()),
                        ),
                        _ => {}
                    }
                }
            }
            Update::Namespace(e) => {
                for (_, ns) in self.namespace_objects.apply(0, e, key_of) {
                    let keys: Vec<ObjectKey> = match self.role {
                        Role::Pod => self.pods.in_namespace(&ns).map(|(k, _)| k.clone()).collect(),
                        Role::Service => self.services.in_namespace(&ns).map(|(k, _)| k.clone()).collect(),
                        Role::Endpoints => self.endpoints.in_namespace(&ns).map(|(k, _)| k.clone()).collect(),
                        Role::EndpointSlice => self.slices.in_namespace(&ns).map(|(k, _)| k.clone()).collect(),
                        _ => Vec::new(),
                    };
                    dirty.extend(keys);
                }
            }
        }
    }

    /// The keys of every primary object of the role.
    fn all_primary_keys(&self) -> Vec<ObjectKey> {
        match self.role {
            Role::Pod => self.pods.iter().map(|(k, _)| k.clone()).collect(),
            Role::Service => self.services.iter().map(|(k, _)| k.clone()).collect(),
            Role::Endpoints => self.endpoints.iter().map(|(k, _)| k.clone()).collect(),
            Role::EndpointSlice => self.slices.iter().map(|(k, _)| k.clone()).collect(),
            Role::Node => self.nodes.iter().map(|(k, _)| k.clone()).collect(),
            Role::Ingress => Vec::new(),
        }
    }

    /// The group of the primary object `key`, or an empty group for its source if it is gone.
    fn build(&self, key: &ObjectKey) -> TargetGroup {
        let (ns, name) = (key.0.as_str(), key.1.as_str());
        let empty = |source: String| TargetGroup { source, ..TargetGroup::default() };
        match self.role {
            Role::Pod => self
                .pods
                .get(ns, name)
                .map_or_else(|| empty(meta::pod_source(ns, name)), |p| meta::pod_group(p, self, self.attach)),
            Role::Service => self
                .services
                .get(ns, name)
                .map_or_else(|| empty(meta::service_source(ns, name)), |s| meta::service_group(s, self, self.attach)),
            Role::Endpoints => self.endpoints.get(ns, name).map_or_else(
                || empty(meta::endpoints_source(ns, name)),
                |e| meta::endpoints_group(e, self, self.attach),
            ),
            Role::EndpointSlice => self.slices.get(ns, name).map_or_else(
                || empty(meta::endpointslice_source(ns, name)),
                |s| meta::endpointslice_group(s, self, self.attach),
            ),
            Role::Node => self.nodes.get("", name).map_or_else(|| empty(meta::node_source(name)), meta::node_group),
            Role::Ingress => empty(String::new()),
        }
    }

    /// The groups of `dirty` that differ from what was last sent. Before the first complete
    /// listing nothing is built; at that point every group is.
    fn rebuild(&mut self, dirty: BTreeSet<ObjectKey>) -> Vec<TargetGroup> {
        let keys: Vec<ObjectKey> = if !self.started {
            if !self.synced() {
                return Vec::new();
            }
            self.started = true;
            self.all_primary_keys()
        } else {
            dirty.into_iter().collect()
        };
        let mut out = Vec::new();
        for key in keys {
            let g = self.build(&key);
            let gone = g.targets.is_empty() && g.labels.is_empty();
            match self.sent.get(&g.source) {
                Some(prev) if *prev == g => continue,
                None if gone => continue,
                _ => {}
            }
            if gone {
                self.sent.remove(&g.source);
            } else {
                self.sent.insert(g.source.clone(), g.clone());
            }
            out.push(g);
        }
        if !out.is_empty() {
            tracing::debug!(role = %self.role, groups = out.len(), "kubernetes discovery update");
        }
        out
    }
}

fn endpoints_refers(e: &Endpoints, kind: &str, name: &str) -> bool {
    e.subsets.iter().flatten().any(|s| {
        s.addresses.iter().flatten().chain(s.not_ready_addresses.iter().flatten()).any(|a| {
            a.target_ref.as_ref().is_some_and(|r| r.kind.as_deref() == Some(kind) && r.name.as_deref() == Some(name))
        })
    })
}

fn endpoints_on_node(e: &Endpoints, node: &str) -> bool {
    endpoints_refers(e, "Node", node)
        || e.subsets.iter().flatten().any(|s| {
            s.addresses
                .iter()
                .flatten()
                .chain(s.not_ready_addresses.iter().flatten())
                .any(|a| a.node_name.as_deref() == Some(node))
        })
}

fn slice_refers(s: &Slice, kind: &str, name: &str) -> bool {
    s.endpoints.iter().any(|e| {
        e.target_ref.as_ref().is_some_and(|r| r.kind.as_deref() == Some(kind) && r.name.as_deref() == Some(name))
    })
}

fn slice_on_node(s: &Slice, node: &str) -> bool {
    slice_refers(s, "Node", node) || s.endpoints.iter().any(|e| e.node_name.as_deref() == Some(node))
}

#[cfg(test)]
mod tests;
