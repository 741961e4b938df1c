//! Grafana provisioning: keeps Grafana's data sources, folders and dashboards in line with the
//! GrafanaDashboards and dashboard ConfigMaps in the cluster. One pass per change (or resync):
//! resolve every dashboard ([`crate::dashboards`]), check Grafana and the credentials, ensure the
//! data sources, then for each dashboard find or create its folder and save it only when Grafana
//! does not already hold the same model there. Deleted GrafanaDashboards are removed through the
//! finalizer `operator.grafana.com/finalizer`; dashboards of deleted ConfigMaps through a record
//! the operator keeps in a ConfigMap of its own. Status on each GrafanaDashboard
//! (`DashboardSynchronized`, uid, hash, url); Warning events on failures. Only the leader
//! provisions; a failed pass is retried with backoff.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams};
use kube::runtime::events::{Event, EventType, Recorder};
use kube::{Api, Client, Resource, ResourceExt};
use oxeye_crd::GrafanaDashboard;
use oxeye_crd::monitoring::{Condition, ConditionStatus};
use oxeye_grafana::{Auth, Error as GrafanaError};
use oxeye_operator_render::SecretResolver;
use serde_json::json;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::cluster::Cluster;
use crate::credentials::Credentials;
use crate::dashboards::{self, FolderTarget, Origin, Source, WantedDashboard};
use crate::metrics::{ControllerLabels, Metrics, ResourceLabels};
use crate::output::FIELD_MANAGER;
use crate::plan::CredentialRef;
use crate::settings::{GrafanaAuth, GrafanaSettings, Settings};
use crate::trigger::{Backoff, Triggers, Wake};

/// grafana-operator's finalizer, so a GrafanaDashboard's deletion waits for its dashboard's.
pub const FINALIZER: &str = "operator.grafana.com/finalizer";
/// grafana-operator's condition type.
pub const SYNCHRONIZED: &str = "DashboardSynchronized";
/// Largest model fetched from a `url`.
const MAX_DOWNLOAD: usize = 32 << 20;
/// Key of the record of ConfigMap dashboards in the operator's state ConfigMap.
const RECORD_KEY: &str = "configmap-dashboards.json";

fn labels() -> ControllerLabels {
    ControllerLabels { controller: "grafana".into() }
}

/// What happened to one dashboard in a pass.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    /// In Grafana as wanted: the dashboard's path, and whether Grafana was contacted for it.
    Synced { url: String, checked: bool },
    /// The resource or its model is wrong.
    Invalid(String),
    /// Grafana refused it, or could not be reached.
    Failed(String),
    /// `instanceSelector` / namespace do not select the configured Grafana.
    NoMatchingInstance,
}

/// One ConfigMap dashboard the operator put into Grafana.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Recorded {
    origin: String,
    folder_uid: String,
    folder_by_title: bool,
}

pub struct Provisioner {
    client: Client,
    settings: Arc<Settings>,
    grafana: GrafanaSettings,
    cluster: Cluster,
    credentials: Credentials,
    recorder: Recorder,
    metrics: Metrics,
    http: reqwest::Client,
    /// ConfigMap dashboards put into Grafana (uid -> where from), persisted in `state`.
    record: Option<BTreeMap<String, Recorded>>,
    /// Last saved hash of each ConfigMap dashboard, and when Grafana was last checked for it.
    synced: BTreeMap<String, (String, Instant)>,
    /// Last event message per object, so a failure is reported once, not every pass.
    reported: BTreeMap<String, String>,
}

impl Provisioner {
    /// A provisioner, when the settings configure Grafana.
    pub fn new(
        client: Client,
        settings: Arc<Settings>,
        cluster: Cluster,
        recorder: Recorder,
        metrics: Metrics,
    ) -> Option<Self> {
        let grafana = settings.grafana.clone()?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("oxeye-operator/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Some(Provisioner {
            credentials: Credentials::new(client.clone()),
            client,
            settings,
            grafana,
            cluster,
            recorder,
            metrics,
            http,
            record: None,
            synced: BTreeMap::new(),
            reported: BTreeMap::new(),
        })
    }

    fn grafana(&self) -> &GrafanaSettings {
        &self.grafana
    }

    /// Runs passes until `shutdown`; only while `leader` says so.
    pub async fn run(mut self, leader: watch::Receiver<bool>, shutdown: CancellationToken) {
        let mut triggers = Triggers::new(leader, self.cluster.subscribe(), shutdown);
        let mut backoff = Backoff::default();
        let mut next = Duration::ZERO;
        loop {
            match triggers.wait(next).await {
                Wake::Stop => {
                    triggers.stopped().await;
                    return;
                }
                Wake::Follow => {
                    self.record = None;
                    self.synced.clear();
                    next = Duration::from_secs(3600);
                    continue;
                }
                Wake::Lead => {}
            }
            let metrics = self.metrics.clone();
            match metrics.time_pass(&labels(), self.pass()).await {
                Ok(due) => {
                    backoff.reset();
                    next = due;
                }
                Err(e) => {
                    next = backoff.after_failure();
                    tracing::warn!(error = %e, retry_in = ?next, "Grafana provisioning failed");
                }
            }
        }
    }

    /// Everything the pass reads from Secrets and ConfigMaps.
    fn references(&self, dashboards: &[Arc<GrafanaDashboard>]) -> BTreeSet<CredentialRef> {
        let ns = &self.settings.namespace;
        let secret = |namespace: &str, name: &str| CredentialRef {
            config_map: false,
            namespace: namespace.to_string(),
            name: name.to_string(),
        };
        let mut refs = BTreeSet::new();
        match &self.grafana().auth {
            GrafanaAuth::Basic { username, password } => {
                refs.insert(secret(ns, &username.name));
                refs.insert(secret(ns, &password.name));
            }
            GrafanaAuth::Token(t) => {
                refs.insert(secret(ns, &t.name));
            }
        }
        for d in dashboards {
            let dns = d.metadata.namespace.clone().unwrap_or_default();
            if let Some(c) = &d.spec.config_map_ref {
                refs.insert(CredentialRef {
                    config_map: true,
                    namespace: dns.clone(),
                    name: c.name.clone().unwrap_or_default(),
                });
            }
            if let Some(b) = d.spec.url_authorization.as_ref().and_then(|a| a.basic_auth.as_ref()) {
                for k in [&b.username, &b.password].into_iter().flatten() {
                    refs.insert(secret(&dns, k.name.as_deref().unwrap_or_default()));
                }
            }
        }
        refs
    }

    fn grafana_client(&self) -> Result<oxeye_grafana::Client, String> {
        let g = self.grafana();
        let ns = &self.settings.namespace;
        let auth = match &g.auth {
            GrafanaAuth::Basic { username, password } => Auth::Basic {
                username: self.credentials.secret_key(ns, &username.name, &username.key)?,
                password: self.credentials.secret_key(ns, &password.name, &password.key)?,
            },
            GrafanaAuth::Token(t) => Auth::Token(self.credentials.secret_key(ns, &t.name, &t.key)?.trim().to_string()),
        };
        oxeye_grafana::Client::new(&g.url, auth).map_err(|e| e.to_string())
    }

    /// One pass; returns when the next one is due (the earliest resync).
    async fn pass(&mut self) -> Result<Duration, String> {
        let dashboards: Vec<Arc<GrafanaDashboard>> =
            self.cluster.grafana_dashboards.as_ref().map(|s| s.state()).unwrap_or_default();
        let config_maps: Vec<Arc<ConfigMap>> =
            self.cluster.dashboard_config_maps.as_ref().map(|s| s.state()).unwrap_or_default();
        let refs = self.references(&dashboards);
        self.cluster.set_interesting("grafana", refs.clone());
        self.credentials.refresh(&refs, &self.cluster).await;

        // Decide per resource before Grafana is contacted.
        let mut outcomes: BTreeMap<Origin, Outcome> = BTreeMap::new();
        let mut wanted: Vec<WantedDashboard> = Vec::new();
        let mut deleting: Vec<Arc<GrafanaDashboard>> = Vec::new();
        let mut unmatched: Vec<Arc<GrafanaDashboard>> = Vec::new();
        let mut content: BTreeMap<Origin, ContentCache> = BTreeMap::new();
        for d in &dashboards {
            let origin = resource_origin(d);
            if d.metadata.deletion_timestamp.is_some() {
                if d.finalizers().iter().any(|f| f == FINALIZER) {
                    deleting.push(d.clone());
                }
                continue;
            }
            if d.spec.suspend.unwrap_or(false) {
                continue;
            }
            match dashboards::matches_instance(d, self.grafana()) {
                Err(e) => {
                    outcomes.insert(origin, Outcome::Invalid(e));
                    continue;
                }
                Ok(false) => {
                    unmatched.push(d.clone());
                    outcomes.insert(origin, Outcome::NoMatchingInstance);
                    continue;
                }
                Ok(true) => {}
            }
            match self.model_text(d).await {
                Ok((text, cache)) => {
                    if let Some(c) = cache {
                        content.insert(origin.clone(), c);
                    }
                    match dashboards::from_resource(d, &text) {
                        Ok(w) => wanted.push(w),
                        Err(e) => {
                            outcomes.insert(origin, Outcome::Invalid(e));
                        }
                    }
                }
                Err(e) => {
                    outcomes.insert(origin, Outcome::Invalid(e));
                }
            }
        }
        if let Some(cm_settings) = &self.grafana().config_maps {
            for cm in &config_maps {
                for (origin, r) in dashboards::from_config_map(cm, cm_settings) {
                    match r {
                        Ok(w) => wanted.push(w),
                        Err(e) => {
                            outcomes.insert(origin, Outcome::Invalid(e));
                        }
                    }
                }
            }
        }
        // One uid, one dashboard: the first by origin keeps it.
        wanted.sort_by(|a, b| a.origin.cmp(&b.origin));
        let mut owners: BTreeMap<String, Origin> = BTreeMap::new();
        wanted.retain(|w| match owners.get(&w.uid) {
            Some(first) => {
                outcomes.insert(
                    w.origin.clone(),
                    Outcome::Invalid(format!("dashboard uid {} is already provisioned from {first}", w.uid)),
                );
                false
            }
            None => {
                owners.insert(w.uid.clone(), w.origin.clone());
                true
            }
        });

        let result = self.provision(&dashboards, &wanted, &deleting, &unmatched, &mut outcomes).await;
        let retry_soon = self.report(&dashboards, &config_maps, &wanted, &outcomes, &content, result.is_ok()).await;
        self.record_metrics(&outcomes, &wanted);
        result?;
        if retry_soon {
            return Err("some GrafanaDashboard updates failed".into());
        }
        Ok(self.grafana().check_interval.min(self.grafana().resync_period).min(self.next_resync(&dashboards)))
    }

    /// The earliest resync due among the GrafanaDashboards with their own `resyncPeriod`.
    fn next_resync(&self, dashboards: &[Arc<GrafanaDashboard>]) -> Duration {
        dashboards
            .iter()
            .filter_map(|d| d.spec.resync_period.as_deref())
            .filter_map(|p| oxeye_model::parse_duration(p).ok())
            .filter(|p| *p >= Duration::from_secs(1))
            .min()
            .unwrap_or(Duration::from_secs(3600))
    }

    /// Talks to Grafana: credentials, data sources, deletions, then every wanted dashboard.
    /// Per-dashboard results go to `outcomes`; an error means Grafana could not be used at all.
    async fn provision(
        &mut self,
        dashboards: &[Arc<GrafanaDashboard>],
        wanted: &[WantedDashboard],
        deleting: &[Arc<GrafanaDashboard>],
        unmatched: &[Arc<GrafanaDashboard>],
        outcomes: &mut BTreeMap<Origin, Outcome>,
    ) -> Result<(), String> {
        let fail_all = |outcomes: &mut BTreeMap<Origin, Outcome>, message: &str| {
            for w in wanted {
                outcomes.insert(w.origin.clone(), Outcome::Failed(message.to_string()));
            }
        };
        let grafana = match self.grafana_client() {
            Ok(g) => g,
            Err(e) => {
                let message = format!("Grafana credentials: {e}");
                fail_all(outcomes, &message);
                return Err(message);
            }
        };
        if let Err(e) = grafana.check_auth().await {
            let message = e.to_string();
            fail_all(outcomes, &message);
            return Err(message);
        }
        // A data source that had to be created means a Grafana without its state (a fresh pod
        // on an emptyDir, a restored database): check every dashboard, whatever status says.
        let reset = match self.ensure_datasources(&grafana).await {
            Ok(created) => created,
            Err(e) => {
                tracing::warn!(error = %e, "provisioning data sources failed");
                false
            }
        };
        if reset {
            self.synced.clear();
        }

        // Dashboards of deleted resources, and of resources no longer for this Grafana.
        for d in deleting.iter().chain(unmatched) {
            let Some(uid) = d.status.as_ref().and_then(|s| s.uid.clone()) else {
                if d.metadata.deletion_timestamp.is_some() {
                    self.remove_finalizer(d).await.map_err(|e| e.to_string())?;
                }
                continue;
            };
            let by_title = d.spec.folder_uid.is_none();
            remove_dashboard(&grafana, &uid, by_title).await.map_err(|e| e.to_string())?;
            tracing::info!(dashboard = %uid, object = %resource_origin(d), "removed the dashboard from Grafana");
            if d.metadata.deletion_timestamp.is_some() {
                self.remove_finalizer(d).await.map_err(|e| e.to_string())?;
            }
        }

        let mut folders = FolderIndex::load(&grafana).await.map_err(|e| e.to_string())?;
        let statuses: BTreeMap<Origin, &GrafanaDashboard> =
            dashboards.iter().map(|d| (resource_origin(d), &**d)).collect();
        let mut record = match self.record.take() {
            Some(r) => r,
            None => self.read_record().await.map_err(|e| e.to_string())?,
        };
        let mut record_changed = false;
        for w in wanted {
            let resync = statuses
                .get(&w.origin)
                .and_then(|d| d.spec.resync_period.as_deref())
                .and_then(|p| oxeye_model::parse_duration(p).ok())
                .unwrap_or(self.grafana().resync_period);
            if !reset && self.unchanged(w, statuses.get(&w.origin).copied(), resync) {
                let url = statuses.get(&w.origin).and_then(|d| d.status.as_ref()).and_then(|s| s.url.clone());
                outcomes.insert(w.origin.clone(), Outcome::Synced { url: url.unwrap_or_default(), checked: false });
                continue;
            }
            let outcome = match sync_one(&grafana, &mut folders, w).await {
                Ok((url, folder_uid)) => {
                    if matches!(w.origin, Origin::ConfigMap { .. }) {
                        self.synced.insert(w.uid.clone(), (w.hash.clone(), Instant::now()));
                        let entry = Recorded {
                            origin: w.origin.to_string(),
                            folder_uid,
                            folder_by_title: matches!(w.folder, FolderTarget::Title(_)),
                        };
                        if record.get(&w.uid) != Some(&entry) {
                            record.insert(w.uid.clone(), entry);
                            record_changed = true;
                        }
                    }
                    Outcome::Synced { url, checked: true }
                }
                Err(e @ (GrafanaError::Unreachable { .. } | GrafanaError::Unauthorized { .. })) => {
                    self.record = Some(record);
                    let message = e.to_string();
                    fail_all(outcomes, &message);
                    return Err(message);
                }
                Err(e) => Outcome::Failed(e.to_string()),
            };
            outcomes.insert(w.origin.clone(), outcome);
        }

        // Dashboards of ConfigMaps (or keys) that are gone.
        let wanted_uids: BTreeSet<&str> = wanted.iter().map(|w| w.uid.as_str()).collect();
        let stale: Vec<(String, Recorded)> = record
            .iter()
            .filter(|(uid, _)| !wanted_uids.contains(uid.as_str()))
            .map(|(u, r)| (u.clone(), r.clone()))
            .collect();
        for (uid, r) in stale {
            if let Err(e) = remove_dashboard(&grafana, &uid, r.folder_by_title).await {
                self.record = Some(record);
                return Err(e.to_string());
            }
            tracing::info!(dashboard = %uid, origin = %r.origin, "removed a dashboard whose ConfigMap is gone");
            record.remove(&uid);
            self.synced.remove(&uid);
            record_changed = true;
        }
        if record_changed {
            self.write_record(&record).await.map_err(|e| e.to_string())?;
        }
        self.record = Some(record);
        Ok(())
    }

    /// Whether Grafana need not be contacted for `w`: the same model was synchronised within
    /// the resync period.
    fn unchanged(&self, w: &WantedDashboard, resource: Option<&GrafanaDashboard>, resync: Duration) -> bool {
        match &w.origin {
            Origin::Resource { .. } => {
                let Some(st) = resource.and_then(|d| d.status.as_ref()) else { return false };
                let synced = st.conditions.iter().any(|c| c.type_ == SYNCHRONIZED && c.status == ConditionStatus::True);
                let fresh = st
                    .last_resync
                    .as_ref()
                    .is_some_and(|t| Timestamp::now().duration_since(t.0).unsigned_abs() < resync);
                synced
                    && fresh
                    && st.hash.as_deref() == Some(w.hash.as_str())
                    && st.uid.as_deref() == Some(w.uid.as_str())
            }
            Origin::ConfigMap { .. } => {
                self.synced.get(&w.uid).is_some_and(|(hash, at)| *hash == w.hash && at.elapsed() < resync)
            }
        }
    }

    /// Creates or updates the configured data sources; returns whether one had to be created.
    async fn ensure_datasources(&self, grafana: &oxeye_grafana::Client) -> Result<bool, GrafanaError> {
        let mut created = false;
        for want in &self.grafana().datasources {
            match grafana.datasource(&want.uid).await? {
                None => {
                    grafana.create_datasource(want).await?;
                    created = true;
                    tracing::info!(uid = %want.uid, url = %want.url, "created the Grafana data source");
                }
                Some(have) => {
                    let mut merged = have.json_data.clone();
                    merged.extend(want.json_data.clone());
                    let same = have.name == want.name
                        && have.kind == want.kind
                        && have.url == want.url
                        && have.access == want.access
                        && have.is_default == want.is_default
                        && merged == have.json_data;
                    if !same {
                        let mut update = want.clone();
                        update.json_data = merged;
                        grafana.update_datasource(&update).await?;
                        tracing::info!(uid = %want.uid, url = %want.url, "updated the Grafana data source");
                    }
                }
            }
        }
        Ok(created)
    }

    /// The model text of a GrafanaDashboard, and the URL cache to store when it was fetched.
    async fn model_text(&self, d: &GrafanaDashboard) -> Result<(String, Option<ContentCache>), String> {
        let ns = d.metadata.namespace.clone().unwrap_or_default();
        match dashboards::source(d)? {
            Source::Json(t) => Ok((t, None)),
            Source::Gzip(b) => Ok((dashboards::gunzip(&b)?, None)),
            Source::ConfigMap { name, key } => self
                .credentials
                .config_map_key(&ns, &name, &key)
                .map(|t| (t, None))
                .map_err(|e| format!("spec.configMapRef: {e}")),
            Source::Url(url) => self.fetch(d, &ns, &url).await,
        }
    }

    /// A model from `url`, through grafana-operator's content cache in the status.
    async fn fetch(&self, d: &GrafanaDashboard, ns: &str, url: &str) -> Result<(String, Option<ContentCache>), String> {
        let max_age = match d.spec.content_cache_duration.as_deref() {
            Some(s) => Some(oxeye_model::parse_duration(s).map_err(|e| format!("spec.contentCacheDuration: {e}"))?),
            None => None,
        }
        .filter(|d| !d.is_zero());
        if let Some(st) = &d.status
            && st.content_url.as_deref() == Some(url)
            && let (Some(cache), Some(at)) = (&st.content_cache, &st.content_timestamp)
        {
            let age = Timestamp::now().duration_since(at.0).unsigned_abs();
            if max_age.is_none_or(|m| age < m) {
                return dashboards::gunzip(&cache.0)
                    .map(|t| (t, None))
                    .map_err(|e| format!("status.contentCache: {e}"));
            }
        }
        let mut req = self.http.get(url);
        if let Some(b) = d.spec.url_authorization.as_ref().and_then(|a| a.basic_auth.as_ref()) {
            let get = |k: &Option<oxeye_crd::monitoring::SecretKeySelector>| -> Result<String, String> {
                match k {
                    Some(k) => self.credentials.secret_key(ns, k.name.as_deref().unwrap_or_default(), &k.key),
                    None => Ok(String::new()),
                }
            };
            let user = get(&b.username).map_err(|e| format!("spec.urlAuthorization: {e}"))?;
            let pass = get(&b.password).map_err(|e| format!("spec.urlAuthorization: {e}"))?;
            req = req.basic_auth(user, Some(pass));
        }
        let resp = req.send().await.map_err(|e| format!("spec.url: fetching {url}: {e}"))?;
        if !resp.status().is_success() {
            return Err(format!("spec.url: fetching {url}: HTTP {}", resp.status()));
        }
        let body = resp.bytes().await.map_err(|e| format!("spec.url: fetching {url}: {e}"))?;
        if body.len() > MAX_DOWNLOAD {
            return Err(format!("spec.url: {url} is larger than {MAX_DOWNLOAD} bytes"));
        }
        let text = String::from_utf8(body.to_vec()).map_err(|_| format!("spec.url: {url} is not UTF-8 text"))?;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, text.as_bytes()).map_err(|e| e.to_string())?;
        let cache =
            ContentCache { data: gz.finish().map_err(|e| e.to_string())?, url: url.to_string(), at: Timestamp::now() };
        Ok((text, Some(cache)))
    }

    async fn remove_finalizer(&self, d: &GrafanaDashboard) -> Result<(), kube::Error> {
        let remaining: Vec<String> = d.finalizers().iter().filter(|f| *f != FINALIZER).cloned().collect();
        let api: Api<GrafanaDashboard> = Api::namespaced(self.client.clone(), &d.namespace().unwrap_or_default());
        let patch = json!({"metadata": {"finalizers": remaining, "resourceVersion": d.resource_version()}});
        api.patch(&d.name_any(), &PatchParams::default(), &Patch::Merge(&patch)).await.map(|_| ())
    }

    async fn add_finalizer(&self, d: &GrafanaDashboard) -> Result<(), kube::Error> {
        let mut all: Vec<String> = d.finalizers().to_vec();
        all.push(FINALIZER.to_string());
        let api: Api<GrafanaDashboard> = Api::namespaced(self.client.clone(), &d.namespace().unwrap_or_default());
        let patch = json!({"metadata": {"finalizers": all, "resourceVersion": d.resource_version()}});
        api.patch(&d.name_any(), &PatchParams::default(), &Patch::Merge(&patch)).await.map(|_| ())
    }

    fn state_name(&self) -> String {
        format!("{}-grafana-state", self.settings.secret_name)
    }

    async fn read_record(&self) -> Result<BTreeMap<String, Recorded>, kube::Error> {
        let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), &self.settings.namespace);
        let cm = api.get_opt(&self.state_name()).await?;
        let text = cm.and_then(|c| c.data).and_then(|d| d.get(RECORD_KEY).cloned()).unwrap_or_default();
        Ok(serde_json::from_str(&text).unwrap_or_default())
    }

    async fn write_record(&self, record: &BTreeMap<String, Recorded>) -> Result<(), kube::Error> {
        let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), &self.settings.namespace);
        let text = serde_json::to_string_pretty(record).unwrap_or_else(|_| "{}".into());
        let cm = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": self.state_name(), "namespace": self.settings.namespace,
                         "labels": {"app.kubernetes.io/managed-by": FIELD_MANAGER}},
            "data": {RECORD_KEY: text},
        });
        api.patch(&self.state_name(), &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&cm)).await.map(|_| ())
    }

    /// Status of every GrafanaDashboard, and Events for failures.
    async fn report(
        &mut self,
        dashboards: &[Arc<GrafanaDashboard>],
        config_maps: &[Arc<ConfigMap>],
        wanted: &[WantedDashboard],
        outcomes: &BTreeMap<Origin, Outcome>,
        content: &BTreeMap<Origin, ContentCache>,
        provisioned: bool,
    ) -> bool {
        let mut retry_soon = false;
        let wanted_by_origin: BTreeMap<&Origin, &WantedDashboard> = wanted.iter().map(|w| (&w.origin, w)).collect();
        let now = Time(Timestamp::now());
        for d in dashboards {
            let origin = resource_origin(d);
            let Some(outcome) = outcomes.get(&origin) else { continue };
            let current = d.status.clone().unwrap_or_default();
            let mut next = current.clone();
            let generation = d.metadata.generation;
            let (status, reason, message) = match outcome {
                Outcome::Synced { url, checked } => {
                    if let Some(w) = wanted_by_origin.get(&origin) {
                        next.uid = Some(w.uid.clone());
                        next.hash = Some(w.hash.clone());
                    }
                    if *checked {
                        next.last_resync = Some(now.clone());
                        next.url = Some(format!("{}{url}", self.grafana().external_url.trim_end_matches('/')));
                    }
                    next.no_matching_instances = None;
                    (
                        ConditionStatus::True,
                        "ApplySuccessful",
                        "Dashboard was successfully applied to 1 instances".to_string(),
                    )
                }
                Outcome::Invalid(e) => (ConditionStatus::False, "InvalidSpec", e.clone()),
                Outcome::Failed(e) => (
                    ConditionStatus::False,
                    "ApplyFailed",
                    format!("Dashboard failed to be applied for 1 out of 1 instances. Errors:\n- {e}"),
                ),
                Outcome::NoMatchingInstance => {
                    next.no_matching_instances = Some(true);
                    // Forget the dashboard only once it is gone from Grafana.
                    if provisioned {
                        next.uid = None;
                        next.hash = None;
                        next.url = None;
                    }
                    (
                        ConditionStatus::False,
                        "NoMatchingInstance",
                        "instanceSelector and namespace select no Grafana instance this operator provisions"
                            .to_string(),
                    )
                }
            };
            if let Some(c) = content.get(&origin) {
                next.content_cache = Some(ByteString(c.data.clone()));
                next.content_timestamp = Some(Time(c.at));
                next.content_url = Some(c.url.clone());
            }
            let since = current
                .conditions
                .iter()
                .find(|c| c.type_ == SYNCHRONIZED && c.status == status)
                .map(|c| c.last_transition_time.clone())
                .unwrap_or_else(|| now.clone());
            let condition = Condition {
                type_: SYNCHRONIZED.into(),
                status,
                last_transition_time: since,
                reason: Some(reason.into()),
                message: Some(message.clone()),
                observed_generation: generation,
            };
            next.conditions.retain(|c| c.type_ != SYNCHRONIZED);
            next.conditions.push(condition);
            // The finalizer first: the status patch would make this object's resourceVersion,
            // which the finalizer patch is conditional on, stale.
            if matches!(outcome, Outcome::Synced { .. })
                && !d.finalizers().iter().any(|f| f == FINALIZER)
                && let Err(e) = self.add_finalizer(d).await
            {
                tracing::warn!(object = %origin, error = %e, "adding the finalizer failed; retrying");
                retry_soon = true;
            }
            if next != current {
                let api: Api<GrafanaDashboard> =
                    Api::namespaced(self.client.clone(), &d.namespace().unwrap_or_default());
                let patch = json!({"status": next});
                if let Err(e) = api.patch_status(&d.name_any(), &PatchParams::default(), &Patch::Merge(&patch)).await {
                    tracing::warn!(object = %origin, error = %e, "updating GrafanaDashboard status failed");
                    retry_soon = true;
                }
            }
            let synced = matches!(outcome, Outcome::Synced { .. });
            if !synced && !matches!(outcome, Outcome::NoMatchingInstance) {
                self.warn_once(&origin.to_string(), &d.object_ref(&()), reason, &message).await;
            } else {
                self.reported.remove(&origin.to_string());
            }
        }
        for cm in config_maps {
            let namespace = cm.namespace().unwrap_or_default();
            let name = cm.name_any();
            let problems: Vec<String> = outcomes
                .iter()
                .filter_map(|(o, out)| match (o, out) {
                    (Origin::ConfigMap { namespace: n, name: m, .. }, Outcome::Invalid(e) | Outcome::Failed(e))
                        if *n == namespace && *m == name =>
                    {
                        Some(e.clone())
                    }
                    _ => None,
                })
                .collect();
            let key = format!("ConfigMap {namespace}/{name}");
            if problems.is_empty() {
                self.reported.remove(&key);
            } else {
                self.warn_once(&key, &cm.object_ref(&()), "InvalidDashboard", &problems.join("; ")).await;
            }
        }
        retry_soon
    }

    async fn warn_once(
        &mut self,
        key: &str,
        object: &k8s_openapi::api::core::v1::ObjectReference,
        reason: &str,
        message: &str,
    ) {
        if self.reported.get(key).map(String::as_str) == Some(message) {
            return;
        }
        let mut note = message.to_string();
        if note.len() > 1000 {
            let mut end = 1000;
            while !note.is_char_boundary(end) {
                end -= 1;
            }
            note.truncate(end);
        }
        let event = Event {
            type_: EventType::Warning,
            reason: reason.into(),
            note: Some(note),
            action: "Provision".into(),
            secondary: None,
        };
        match self.recorder.publish(&event, object).await {
            Ok(()) => {
                self.reported.insert(key.to_string(), message.to_string());
            }
            Err(e) => tracing::warn!(object = key, error = %e, "publishing an event failed"),
        }
    }

    fn record_metrics(&self, outcomes: &BTreeMap<Origin, Outcome>, wanted: &[WantedDashboard]) {
        for (resource, is_resource) in [("GrafanaDashboard", true), ("DashboardConfigMapKey", false)] {
            let of_kind = |o: &Origin| matches!(o, Origin::Resource { .. }) == is_resource;
            let rejected =
                outcomes.iter().filter(|(o, out)| of_kind(o) && !matches!(out, Outcome::Synced { .. })).count();
            let selected = wanted.iter().filter(|w| of_kind(&w.origin)).count();
            for (state, n) in [("selected", selected), ("rejected", rejected)] {
                let l = ResourceLabels { controller: "grafana".into(), resource: resource.into(), state: state.into() };
                self.metrics.managed_resources.get_or_create(&l).set(n as i64);
            }
        }
    }
}

/// A model fetched from a URL, to keep in the status.
#[derive(Debug, Clone)]
struct ContentCache {
    data: Vec<u8>,
    url: String,
    at: Timestamp,
}

fn resource_origin(d: &GrafanaDashboard) -> Origin {
    Origin::Resource { namespace: d.namespace().unwrap_or_default(), name: d.name_any() }
}

/// Root-level folders by lower-cased title, loaded once per pass.
struct FolderIndex {
    by_title: BTreeMap<String, String>,
}

impl FolderIndex {
    async fn load(g: &oxeye_grafana::Client) -> Result<FolderIndex, GrafanaError> {
        let by_title = g.folders().await?.into_iter().map(|f| (f.title.to_lowercase(), f.uid)).collect();
        Ok(FolderIndex { by_title })
    }

    /// The folder uid for a target, creating a titled folder when missing.
    async fn resolve(&mut self, g: &oxeye_grafana::Client, target: &FolderTarget) -> Result<String, GrafanaError> {
        match target {
            FolderTarget::Root => Ok(String::new()),
            FolderTarget::Uid(u) => Ok(u.clone()),
            FolderTarget::Title(t) => {
                if let Some(uid) = self.by_title.get(&t.to_lowercase()) {
                    return Ok(uid.clone());
                }
                let f = g.create_folder(t, None).await?;
                tracing::info!(folder = %t, uid = %f.uid, "created a Grafana folder");
                self.by_title.insert(t.to_lowercase(), f.uid.clone());
                Ok(f.uid)
            }
        }
    }
}

/// Puts `w` into Grafana unless it is there already, the same, in the same folder. Returns the
/// dashboard's path and folder uid.
async fn sync_one(
    g: &oxeye_grafana::Client,
    folders: &mut FolderIndex,
    w: &WantedDashboard,
) -> Result<(String, String), GrafanaError> {
    let folder_uid = folders.resolve(g, &w.folder).await?;
    if let Some(have) = g.dashboard(&w.uid).await? {
        let same_model = dashboards::comparable(&have.model) == dashboards::comparable(&w.model);
        if have.folder_uid == folder_uid && same_model {
            return Ok((have.url, folder_uid));
        }
        tracing::debug!(dashboard = %w.uid, folder = %have.folder_uid, wanted_folder = %folder_uid, same_model, "the dashboard in Grafana differs");
    }
    let saved = g.save_dashboard(&w.model, &folder_uid, true).await?;
    tracing::info!(dashboard = %w.uid, origin = %w.origin, folder = %folder_uid, version = saved.version, "saved the dashboard in Grafana");
    Ok((saved.url, folder_uid))
}

/// Deletes a dashboard and, when its folder was chosen by title and is now empty, the folder.
async fn remove_dashboard(g: &oxeye_grafana::Client, uid: &str, folder_by_title: bool) -> Result<(), GrafanaError> {
    let folder = g.dashboard(uid).await?.map(|d| d.folder_uid).unwrap_or_default();
    g.delete_dashboard(uid).await?;
    if folder_by_title && !folder.is_empty() && g.search_folder(&folder).await?.is_empty() {
        g.delete_folder(&folder).await?;
        tracing::info!(folder = %folder, "removed the empty Grafana folder");
    }
    Ok(())
}
