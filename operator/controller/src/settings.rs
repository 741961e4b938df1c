//! The operator's own configuration: a YAML file (`--config.file`) with prometheus-operator's
//! Prometheus-spec names for selection and enforcement, a `baseConfig` block of `prometheus.yml`
//! (`global`, `alerting`, `remote_write`) passed through to the server, and where to write and
//! read back. Flags override the file's placement settings. Everything is validated at start-up,
//! with the field named in each error.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use oxeye_operator_render::{BaseConfig, EndpointRole, RenderOptions, ScrapeLimits};
use serde::{Deserialize, Deserializer};
use serde_yaml_ng::{Mapping, Value};

use crate::selection::{NamespaceSelection, ObjectSelection};
use crate::{Error, Result};

/// The Secret name written for the server when none is configured.
pub const DEFAULT_SECRET_NAME: &str = "oxeye-config";

/// A selector field that tells "absent" from "null" (prometheus-operator gives `null` a meaning).
#[derive(Debug, Clone, Default, PartialEq)]
pub enum SelectorField {
    /// Not in the file: Oxeye's default applies.
    #[default]
    Absent,
    /// Written as `null` (or `~`).
    Null,
    /// A label selector; `{}` selects everything.
    Selector(LabelSelector),
}

impl<'de> Deserialize<'de> for SelectorField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        Ok(match Option::<LabelSelector>::deserialize(d)? {
            None => SelectorField::Null,
            Some(s) => SelectorField::Selector(s),
        })
    }
}

/// Leader election among operator replicas (a coordination.k8s.io Lease).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LeaderElection {
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default = "default_lease_name")]
    pub lease_name: String,
    /// Seconds a lease stays valid without renewal.
    #[serde(default = "default_lease_duration")]
    pub lease_duration_seconds: u64,
    /// Seconds before expiry at which the holder renews.
    #[serde(default = "default_lease_grace")]
    pub renew_grace_seconds: u64,
}

fn yes() -> bool {
    true
}
fn default_lease_name() -> String {
    "oxeye-operator".into()
}
fn default_lease_duration() -> u64 {
    15
}
fn default_lease_grace() -> u64 {
    5
}

impl Default for LeaderElection {
    fn default() -> Self {
        LeaderElection {
            enabled: true,
            lease_name: default_lease_name(),
            lease_duration_seconds: default_lease_duration(),
            renew_grace_seconds: default_lease_grace(),
        }
    }
}

/// The configuration file as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SettingsFile {
    /// Namespace of the server's Secret and of the Lease, and "own namespace" for `null`
    /// namespace selectors. Default: the pod's namespace (or the kubeconfig context's).
    pub namespace: Option<String>,
    /// Name of the Secret written for oxeye (`prometheus.yml` and the rule files).
    pub secret_name: Option<String>,
    /// Base URL of the oxeye server, read back for status (targets, loaded rules). Without it,
    /// `Reconciled` stays `Unknown` and no target counts are reported.
    #[serde(rename = "serverURL")]
    pub server_url: Option<String>,
    /// How often the server is read back for target counts (default 10s).
    pub status_interval: Option<String>,

    #[serde(default)]
    pub service_monitor_selector: SelectorField,
    #[serde(default)]
    pub service_monitor_namespace_selector: SelectorField,
    #[serde(default)]
    pub pod_monitor_selector: SelectorField,
    #[serde(default)]
    pub pod_monitor_namespace_selector: SelectorField,
    #[serde(default)]
    pub rule_selector: SelectorField,
    #[serde(default)]
    pub rule_namespace_selector: SelectorField,

    /// `EndpointSlice` (default) or `Endpoints`, for ServiceMonitors that do not choose.
    pub service_discovery_role: Option<String>,
    pub enforced_namespace_label: Option<String>,
    /// Objects that keep their own namespace label (`{namespace, name?, resource?}` entries;
    /// `resource` is `servicemonitors`, `podmonitors` or `prometheusrules`).
    #[serde(default)]
    pub excluded_from_enforcement: Vec<ObjectReference>,
    #[serde(default)]
    pub override_honor_labels: bool,
    #[serde(default)]
    pub override_honor_timestamps: bool,
    #[serde(default)]
    pub ignore_namespace_selectors: bool,
    #[serde(default)]
    pub pod_target_labels: Vec<String>,
    pub enforced_sample_limit: Option<u64>,
    pub enforced_target_limit: Option<u64>,
    pub enforced_label_limit: Option<u64>,
    pub enforced_label_name_length_limit: Option<u64>,
    pub enforced_label_value_length_limit: Option<u64>,
    pub enforced_keep_dropped_targets: Option<u64>,
    pub enforced_body_size_limit: Option<String>,

    /// `prometheus.yml` settings passed through: `global`, `alerting`, `remote_write`.
    #[serde(default)]
    pub base_config: Mapping,

    #[serde(default)]
    pub leader_election: LeaderElection,

    /// Grafana provisioning (dashboards and data sources); off when absent.
    pub grafana: Option<GrafanaFile>,
}

/// A key of a Secret in the operator's namespace.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretKey {
    pub name: String,
    pub key: String,
}

/// How the operator authenticates to Grafana.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GrafanaAuthFile {
    /// Admin user name and password (the Grafana chart's `admin-user` / `admin-password`).
    pub basic_auth: Option<BasicAuthFile>,
    /// A service-account token.
    pub token: Option<SecretKey>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuthFile {
    pub username: SecretKey,
    pub password: SecretKey,
}

/// One data source to provision.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DatasourceFile {
    pub url: String,
    pub name: Option<String>,
    pub uid: Option<String>,
    pub is_default: Option<bool>,
    /// Extra `jsonData` settings, merged over Oxeye's (for example `timeInterval`).
    #[serde(default)]
    pub json_data: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasourcesFile {
    /// oxeye as a Prometheus data source (uid `prometheus`, POST queries).
    pub prometheus: Option<DatasourceFile>,
    /// oxeye-alertmanager as an Alertmanager data source (uid `alertmanager`).
    pub alertmanager: Option<DatasourceFile>,
}

/// Dashboards in ConfigMaps, the kube-prometheus-stack way.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigMapDashboardsFile {
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default = "default_dashboard_label")]
    pub label: String,
    #[serde(default = "default_dashboard_label_value")]
    pub label_value: String,
    /// Annotations naming the folder, first found wins. A path-like value (k8s-sidecar's
    /// target directory) uses its last part.
    #[serde(default = "default_folder_annotations")]
    pub folder_annotations: Vec<String>,
}

fn default_dashboard_label() -> String {
    "grafana_dashboard".into()
}
fn default_dashboard_label_value() -> String {
    "1".into()
}
fn default_folder_annotations() -> Vec<String> {
    vec!["grafana_folder".into(), "k8s-sidecar-target-directory".into()]
}

impl Default for ConfigMapDashboardsFile {
    fn default() -> Self {
        ConfigMapDashboardsFile {
            enabled: true,
            label: default_dashboard_label(),
            label_value: default_dashboard_label_value(),
            folder_annotations: default_folder_annotations(),
        }
    }
}

/// The `grafana` block as written.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GrafanaFile {
    /// Grafana's base URL, as the operator reaches it.
    #[serde(rename = "url")]
    pub url: String,
    /// Base of the dashboard links written into status (default: `url`).
    #[serde(rename = "externalURL")]
    pub external_url: Option<String>,
    pub auth: GrafanaAuthFile,
    /// Labels of "the Grafana instance": GrafanaDashboard `instanceSelector`s match them.
    #[serde(default)]
    pub instance_labels: BTreeMap<String, String>,
    /// Namespace of the Grafana instance (default: `namespace`); dashboards elsewhere need
    /// `allowCrossNamespaceImport: true`, as with grafana-operator.
    pub instance_namespace: Option<String>,
    /// Default `resyncPeriod` (10m, grafana-operator's default).
    pub resync_period: Option<String>,
    /// How often Grafana is checked for lost state (its data sources gone: every dashboard is
    /// then written again). Default 30s.
    pub check_interval: Option<String>,
    #[serde(default)]
    pub config_map_dashboards: ConfigMapDashboardsFile,
    #[serde(default)]
    pub datasources: DatasourcesFile,
}

/// Validated Grafana settings.
#[derive(Debug, Clone, PartialEq)]
pub struct GrafanaSettings {
    pub url: String,
    pub external_url: String,
    pub auth: GrafanaAuth,
    pub instance_labels: BTreeMap<String, String>,
    pub instance_namespace: String,
    pub resync_period: Duration,
    pub check_interval: Duration,
    /// `None` when ConfigMap dashboards are disabled.
    pub config_maps: Option<ConfigMapDashboardsFile>,
    pub datasources: Vec<oxeye_grafana::Datasource>,
}

/// Where the Grafana credentials are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrafanaAuth {
    Basic { username: SecretKey, password: SecretKey },
    Token(SecretKey),
}

/// prometheus-operator's `ObjectReference` in `excludedFromEnforcement`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ObjectReference {
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub resource: Option<String>,
    pub namespace: String,
    #[serde(default)]
    pub name: Option<String>,
}

impl ObjectReference {
    /// Whether the object `resource` (plural, lowercase) `namespace/name` is meant.
    pub fn matches(&self, resource: &str, namespace: &str, name: &str) -> bool {
        self.namespace == namespace
            && self.name.as_deref().is_none_or(|n| n.is_empty() || n == name)
            && self.resource.as_deref().is_none_or(|r| r.is_empty() || r == resource)
    }
}

/// The validated configuration the controller runs with.
#[derive(Debug, Clone)]
pub struct Settings {
    pub namespace: String,
    pub secret_name: String,
    pub server_url: Option<String>,
    pub status_interval: Duration,
    pub service_monitors: ObjectSelection,
    pub service_monitor_namespaces: NamespaceSelection,
    pub pod_monitors: ObjectSelection,
    pub pod_monitor_namespaces: NamespaceSelection,
    pub rules: ObjectSelection,
    pub rule_namespaces: NamespaceSelection,
    pub render: RenderOptions,
    pub excluded_from_enforcement: Vec<ObjectReference>,
    pub base: BaseConfig,
    pub leader_election: LeaderElection,
    pub grafana: Option<GrafanaSettings>,
}

/// Placement settings given as flags; they override the file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub namespace: Option<String>,
    pub secret_name: Option<String>,
    pub server_url: Option<String>,
    pub leader_election: Option<bool>,
    /// Overrides `grafana.url` (the block must be present).
    pub grafana_url: Option<String>,
}

impl SettingsFile {
    /// Reads and parses a settings file; errors name the file, line and field.
    pub fn read(path: &Path) -> Result<SettingsFile> {
        let text =
            std::fs::read_to_string(path).map_err(|e| Error::Settings(format!("reading {}: {e}", path.display())))?;
        Self::parse(&text, &path.display().to_string())
    }

    pub fn parse(text: &str, origin: &str) -> Result<SettingsFile> {
        if text.trim().is_empty() {
            return Ok(SettingsFile::default());
        }
        serde_yaml_ng::from_str(text).map_err(|e| {
            let at = e.location().map(|l| format!(":{}:{}", l.line(), l.column())).unwrap_or_default();
            Error::Settings(format!("{origin}{at}: {e}"))
        })
    }

    /// Validates the file and applies the flag overrides. `default_namespace` is the pod's (or
    /// the kubeconfig context's) namespace.
    pub fn resolve(self, overrides: &Overrides, default_namespace: &str) -> Result<Settings> {
        let bad = |field: &str, msg: String| Error::Settings(format!("{field}: {msg}"));
        let namespace = overrides.namespace.clone().or(self.namespace).unwrap_or_else(|| default_namespace.to_string());
        if namespace.is_empty() {
            return Err(bad("namespace", "must not be empty".into()));
        }
        let secret_name =
            overrides.secret_name.clone().or(self.secret_name).unwrap_or_else(|| DEFAULT_SECRET_NAME.to_string());
        if secret_name.is_empty() || secret_name.len() > 253 {
            return Err(bad("secretName", format!("{secret_name:?} is not a valid Secret name")));
        }
        let server_url = overrides.server_url.clone().or(self.server_url).filter(|u| !u.is_empty());
        if let Some(u) = &server_url {
            let parsed = url::Url::parse(u).map_err(|e| bad("serverURL", format!("{u:?}: {e}")))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(bad("serverURL", format!("{u:?}: only http and https are supported")));
            }
        }
        let status_interval = match &self.status_interval {
            Some(d) => oxeye_model::parse_duration(d).map_err(|e| bad("statusInterval", format!("{d:?}: {e}")))?,
            None => Duration::from_secs(10),
        };
        if status_interval < Duration::from_secs(1) {
            return Err(bad("statusInterval", "must be at least 1s".into()));
        }

        let service_discovery_role = match self.service_discovery_role.as_deref() {
            None | Some("EndpointSlice") => EndpointRole::EndpointSlice,
            Some("Endpoints") => EndpointRole::Endpoints,
            Some(other) => {
                return Err(bad("serviceDiscoveryRole", format!("{other:?}: expected EndpointSlice or Endpoints")));
            }
        };
        if let Some(l) = &self.enforced_namespace_label
            && !l.is_empty()
            && !oxeye_model::NameValidationScheme::Legacy.is_valid_label_name(l)
        {
            return Err(bad("enforcedNamespaceLabel", format!("{l:?} is not a valid label name")));
        }
        for l in &self.pod_target_labels {
            if l.is_empty() {
                return Err(bad("podTargetLabels", "empty label name".into()));
            }
        }
        let enforced_limits = ScrapeLimits {
            sample_limit: self.enforced_sample_limit,
            target_limit: self.enforced_target_limit,
            label_limit: self.enforced_label_limit,
            label_name_length_limit: self.enforced_label_name_length_limit,
            label_value_length_limit: self.enforced_label_value_length_limit,
            keep_dropped_targets: self.enforced_keep_dropped_targets,
            body_size_limit: self.enforced_body_size_limit.clone(),
        };
        if let Some(b) = &enforced_limits.body_size_limit {
            oxeye_config::ByteSize::parse(b).map_err(|e| bad("enforcedBodySizeLimit", format!("{b:?}: {e}")))?;
        }
        let render = RenderOptions {
            service_discovery_role,
            override_honor_labels: self.override_honor_labels,
            override_honor_timestamps: self.override_honor_timestamps,
            ignore_namespace_selectors: self.ignore_namespace_selectors,
            enforced_namespace_label: self.enforced_namespace_label.clone().filter(|l| !l.is_empty()),
            enforced_limits: enforced_limits.clone(),
            pod_target_labels: self.pod_target_labels.clone(),
            ..RenderOptions::default()
        };

        let base = base_config(&self.base_config, enforced_limits)?;
        let selections = [
            ("serviceMonitorSelector", &self.service_monitor_selector),
            ("podMonitorSelector", &self.pod_monitor_selector),
            ("ruleSelector", &self.rule_selector),
        ]
        .map(|(field, sel)| ObjectSelection::from_field(sel).map_err(|e| bad(field, e)));
        let [service_monitors, pod_monitors, rules] = selections;
        let ns_selections = [
            ("serviceMonitorNamespaceSelector", &self.service_monitor_namespace_selector),
            ("podMonitorNamespaceSelector", &self.pod_monitor_namespace_selector),
            ("ruleNamespaceSelector", &self.rule_namespace_selector),
        ]
        .map(|(field, sel)| NamespaceSelection::from_field(sel, &namespace).map_err(|e| bad(field, e)));
        let [sm_ns, pm_ns, rule_ns] = ns_selections;

        let mut leader_election = self.leader_election;
        if let Some(enabled) = overrides.leader_election {
            leader_election.enabled = enabled;
        }
        if leader_election.lease_name.is_empty() {
            return Err(bad("leaderElection.leaseName", "must not be empty".into()));
        }
        if leader_election.renew_grace_seconds == 0
            || leader_election.renew_grace_seconds >= leader_election.lease_duration_seconds
        {
            return Err(bad(
                "leaderElection",
                "renewGraceSeconds must be above 0 and below leaseDurationSeconds".into(),
            ));
        }

        let grafana = match self.grafana {
            Some(g) => Some(grafana_settings(g, overrides.grafana_url.clone(), &namespace)?),
            None if overrides.grafana_url.is_some() => {
                return Err(bad(
                    "grafana",
                    "--grafana.url needs a `grafana` block (credentials) in the settings file".into(),
                ));
            }
            None => None,
        };
        let settings = Settings {
            grafana,
            namespace,
            secret_name,
            server_url,
            status_interval,
            service_monitors: service_monitors?,
            service_monitor_namespaces: sm_ns?,
            pod_monitors: pod_monitors?,
            pod_monitor_namespaces: pm_ns?,
            rules: rules?,
            rule_namespaces: rule_ns?,
            render,
            excluded_from_enforcement: self.excluded_from_enforcement,
            base,
            leader_election,
        };
        // The base configuration alone must be one the server accepts.
        let empty = oxeye_operator_render::render_config(&settings.base, Vec::new(), Vec::new());
        oxeye_config::load_str(&empty, "baseConfig").map_err(|e| bad("baseConfig", e.to_string()))?;
        Ok(settings)
    }
}

fn http_url(field: &str, u: &str) -> Result<()> {
    let parsed = url::Url::parse(u).map_err(|e| Error::Settings(format!("{field}: {u:?}: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Error::Settings(format!("{field}: {u:?}: only http and https are supported")));
    }
    Ok(())
}

fn grafana_settings(g: GrafanaFile, url_override: Option<String>, namespace: &str) -> Result<GrafanaSettings> {
    let bad = |field: &str, msg: String| Error::Settings(format!("grafana.{field}: {msg}"));
    let url = url_override.unwrap_or(g.url);
    http_url("grafana.url", &url)?;
    let external_url = g.external_url.unwrap_or_else(|| url.clone());
    http_url("grafana.externalURL", &external_url)?;
    let auth = match (g.auth.basic_auth, g.auth.token) {
        (Some(b), None) => GrafanaAuth::Basic { username: b.username, password: b.password },
        (None, Some(t)) => GrafanaAuth::Token(t),
        _ => return Err(bad("auth", "set exactly one of basicAuth and token".into())),
    };
    let resync_period = match &g.resync_period {
        Some(d) => oxeye_model::parse_duration(d).map_err(|e| bad("resyncPeriod", format!("{d:?}: {e}")))?,
        None => Duration::from_secs(600),
    };
    if resync_period < Duration::from_secs(1) {
        return Err(bad("resyncPeriod", "must be at least 1s".into()));
    }
    let check_interval = match &g.check_interval {
        Some(d) => oxeye_model::parse_duration(d).map_err(|e| bad("checkInterval", format!("{d:?}: {e}")))?,
        None => Duration::from_secs(30),
    };
    if check_interval < Duration::from_secs(1) {
        return Err(bad("checkInterval", "must be at least 1s".into()));
    }
    let mut datasources = Vec::new();
    let kinds = [("prometheus", g.datasources.prometheus), ("alertmanager", g.datasources.alertmanager)];
    for (kind, ds) in kinds {
        let Some(ds) = ds else { continue };
        http_url(&format!("grafana.datasources.{kind}.url"), &ds.url)?;
        let mut json_data = match kind {
            "prometheus" => serde_json::json!({"httpMethod": "POST"}),
            _ => serde_json::json!({"implementation": "prometheus", "handleGrafanaManagedAlerts": false}),
        }
        .as_object()
        .cloned()
        .unwrap_or_default();
        json_data.extend(ds.json_data);
        let title = if kind == "prometheus" { "Prometheus" } else { "Alertmanager" };
        datasources.push(oxeye_grafana::Datasource {
            uid: ds.uid.unwrap_or_else(|| kind.to_string()),
            name: ds.name.unwrap_or_else(|| title.to_string()),
            kind: kind.to_string(),
            url: ds.url,
            access: "proxy".into(),
            is_default: ds.is_default.unwrap_or(kind == "prometheus"),
            json_data,
        });
    }
    let cm = g.config_map_dashboards;
    if cm.enabled && (cm.label.is_empty() || cm.label_value.is_empty()) {
        return Err(bad("configMapDashboards", "label and labelValue must not be empty".into()));
    }
    Ok(GrafanaSettings {
        url,
        external_url,
        auth,
        instance_labels: g.instance_labels,
        instance_namespace: g.instance_namespace.unwrap_or_else(|| namespace.to_string()),
        resync_period,
        check_interval,
        config_maps: cm.enabled.then_some(cm),
        datasources,
    })
}

/// Splits `baseConfig` into the renderer's [`BaseConfig`]. Scrape jobs and rule files come
/// from the resources, so `scrape_configs` and `rule_files` are refused here.
fn base_config(block: &Mapping, enforced: ScrapeLimits) -> Result<BaseConfig> {
    let bad = |field: &str, msg: String| Error::Settings(format!("baseConfig.{field}: {msg}"));
    let mut base = BaseConfig { limits: enforced, ..BaseConfig::default() };
    for (k, v) in block {
        let key = k.as_str().unwrap_or_default();
        match key {
            "global" => {
                let Value::Mapping(g) = v else {
                    return Err(bad("global", "must be a mapping".into()));
                };
                for (gk, gv) in g {
                    let gkey = gk.as_str().unwrap_or_default();
                    let as_string = |field: &str| -> Result<String> {
                        match gv {
                            Value::String(s) => Ok(s.clone()),
                            _ => Err(bad(&format!("global.{field}"), "must be a string".into())),
                        }
                    };
                    match gkey {
                        "scrape_interval" => base.scrape_interval = Some(as_string(gkey)?),
                        "scrape_timeout" => base.scrape_timeout = Some(as_string(gkey)?),
                        "evaluation_interval" => base.evaluation_interval = Some(as_string(gkey)?),
                        "external_labels" => {
                            let labels: BTreeMap<String, String> = serde_yaml_ng::from_value(gv.clone())
                                .map_err(|e| bad("global.external_labels", e.to_string()))?;
                            base.external_labels = labels;
                        }
                        _ => {
                            base.extra_global.insert(gk.clone(), gv.clone());
                        }
                    }
                }
            }
            "alerting" => base.alerting = Some(v.clone()),
            "remote_write" => base.remote_write = Some(v.clone()),
            "scrape_configs" | "rule_files" => {
                return Err(bad(
                    key,
                    "comes from ServiceMonitors, PodMonitors and PrometheusRules; it cannot be set here".into(),
                ));
            }
            other => {
                return Err(bad(other, "not supported here (allowed: global, alerting, remote_write)".into()));
            }
        }
    }
    Ok(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(yaml: &str) -> Result<Settings> {
        SettingsFile::parse(yaml, "test.yaml")?.resolve(&Overrides::default(), "monitoring")
    }

    #[test]
    fn defaults_select_everything_everywhere() {
        let s = resolve("").unwrap();
        assert_eq!(s.namespace, "monitoring");
        assert_eq!(s.secret_name, DEFAULT_SECRET_NAME);
        assert_eq!(s.service_monitors, ObjectSelection::All);
        assert_eq!(s.rule_namespaces, NamespaceSelection::All);
        assert!(s.leader_election.enabled);
        assert_eq!(s.status_interval, Duration::from_secs(10));
    }

    #[test]
    fn null_keeps_prometheus_operator_meaning() {
        let s =
            resolve("serviceMonitorSelector: null\nserviceMonitorNamespaceSelector: ~\nruleSelector: {}\n").unwrap();
        assert_eq!(s.service_monitors, ObjectSelection::Nothing);
        assert_eq!(s.service_monitor_namespaces, NamespaceSelection::Own("monitoring".into()));
        assert_eq!(s.rules, ObjectSelection::All);
    }

    #[test]
    fn base_config_passes_through_and_is_validated() {
        let s = resolve(
            "baseConfig:\n  global:\n    scrape_interval: 30s\n    external_labels: {cluster: a}\n    query_log_file: q.log\n  alerting:\n    alertmanagers:\n    - static_configs: [{targets: ['am:9093']}]\nenforcedSampleLimit: 5000\n",
        )
        .unwrap();
        assert_eq!(s.base.scrape_interval.as_deref(), Some("30s"));
        assert_eq!(s.base.external_labels["cluster"], "a");
        assert_eq!(s.base.limits.sample_limit, Some(5000));
        assert_eq!(s.render.enforced_limits.sample_limit, Some(5000));
        assert!(s.base.alerting.is_some());

        let e = resolve("baseConfig:\n  scrape_configs: []\n").unwrap_err().to_string();
        assert!(e.contains("baseConfig.scrape_configs"), "{e}");
        let e = resolve("baseConfig:\n  global:\n    scrape_interval: 5x\n").unwrap_err().to_string();
        assert!(e.contains("baseConfig") && e.contains("5x"), "{e}");
    }

    #[test]
    fn errors_name_the_field() {
        let e = resolve("serviceMonitorSelector: {matchExpressions: [{key: a, operator: Maybe}]}\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("serviceMonitorSelector") && e.contains("Maybe"), "{e}");
        let e = resolve("serviceDiscoveryRole: Pods\n").unwrap_err().to_string();
        assert!(e.contains("serviceDiscoveryRole"), "{e}");
        let e = resolve("unknownField: 1\n").unwrap_err().to_string();
        assert!(e.contains("test.yaml:1") && e.contains("unknownField"), "{e}");
        let e = resolve("serverURL: ftp://x\n").unwrap_err().to_string();
        assert!(e.contains("serverURL"), "{e}");
    }

    #[test]
    fn grafana_block() {
        let s = resolve(
            "grafana:\n  url: http://grafana\n  auth: {basicAuth: {username: {name: g, key: admin-user}, password: {name: g, key: admin-password}}}\n  datasources:\n    prometheus: {url: 'http://oxeye:9090', jsonData: {timeInterval: 30s}}\n    alertmanager: {url: 'http://am:9093'}\n",
        )
        .unwrap();
        let g = s.grafana.expect("grafana settings");
        assert_eq!(g.instance_namespace, "monitoring");
        assert_eq!(g.resync_period, Duration::from_secs(600));
        assert_eq!(g.datasources[0].uid, "prometheus");
        assert_eq!(g.datasources[0].json_data["httpMethod"], "POST");
        assert_eq!(g.datasources[0].json_data["timeInterval"], "30s");
        assert!(g.datasources[0].is_default);
        assert_eq!(g.datasources[1].kind, "alertmanager");
        assert_eq!(g.datasources[1].json_data["implementation"], "prometheus");
        assert_eq!(g.config_maps.unwrap().label, "grafana_dashboard");
        let e = resolve("grafana: {url: 'http://g', auth: {}}\n").unwrap_err().to_string();
        assert!(e.contains("grafana.auth"), "{e}");
        let e = resolve("grafana: {url: 'g', auth: {token: {name: t, key: k}}}\n").unwrap_err().to_string();
        assert!(e.contains("grafana.url"), "{e}");
    }

    #[test]
    fn flags_override_the_file() {
        let f = SettingsFile::parse("namespace: a\nsecretName: b\n", "t").unwrap();
        let s = f
            .resolve(
                &Overrides {
                    namespace: Some("x".into()),
                    secret_name: None,
                    server_url: Some("http://oxeye:9090".into()),
                    leader_election: Some(false),
                    grafana_url: None,
                },
                "default",
            )
            .unwrap();
        assert_eq!((s.namespace.as_str(), s.secret_name.as_str()), ("x", "b"));
        assert_eq!(s.server_url.as_deref(), Some("http://oxeye:9090"));
        assert!(!s.leader_election.enabled);
    }
}
