//! `grafana.integreatly.org/v1beta1` GrafanaDashboard with grafana-operator v5's field names.
//!
//! Oxeye provisions the dashboard into its one Grafana; `instanceSelector` is accepted (and
//! optional here, required upstream) but there is only one instance to select.

use k8s_openapi::ByteString;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, Time};
use kube_derive::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::monitoring::{Condition, ConfigMapKeySelector, SecretKeySelector};

/// A Grafana dashboard and where it goes: the model (inline `json`, `gzipJson`, a ConfigMap key,
/// a URL, ...), the folder, and data source mappings.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "grafana.integreatly.org",
    version = "v1beta1",
    kind = "GrafanaDashboard",
    plural = "grafanadashboards",
    namespaced,
    status = "GrafanaDashboardStatus",
    doc = "GrafanaDashboard is a Grafana dashboard provisioned by Oxeye (or grafana-operator).",
    printcolumn = r#"{"name":"No matching instances","type":"boolean","jsonPath":".status.NoMatchingInstances"}"#,
    printcolumn = r#"{"name":"Last resync","type":"date","format":"date-time","jsonPath":".status.lastResync"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    crates(
        kube_core = "::kube_core",
        k8s_openapi = "::k8s_openapi",
        schemars = "::schemars",
        serde = "::serde",
        serde_json = "::serde_json"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct GrafanaDashboardSpec {
    /// How often the dashboard is synchronised, a Go duration such as `10m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern("^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$"))]
    pub resync_period: Option<String>,
    /// Grafana instances to import into (label selector on Grafana objects).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_selector: Option<LabelSelector>,
    /// Let Grafana instances in other namespaces import this dashboard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_cross_namespace_import: Option<bool>,
    /// Stop synchronising and ignore changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
    /// Dashboard UID; overrides the one in the model. Letters, digits, `-`, `_`; at most 40.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 40), pattern("^[a-zA-Z0-9-_]+$"))]
    pub uid: Option<String>,
    /// The dashboard model as a JSON string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<String>,
    /// The dashboard model gzip-compressed (base64 in YAML).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>", extend("format" = "byte"))]
    pub gzip_json: Option<ByteString>,
    /// URL to fetch the dashboard model from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Credentials for `url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_authorization: Option<UrlAuthorization>,
    /// Jsonnet source of the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jsonnet: Option<String>,
    /// Jsonnet project to build the model from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jsonnet_lib: Option<JsonnetProjectBuild>,
    /// ConfigMap key holding the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_ref: Option<ConfigMapKeySelector>,
    /// Dashboard published on grafana.com.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grafana_com: Option<GrafanaComReference>,
    /// How long a model fetched from a URL is cached, a Go duration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_cache_duration: Option<String>,
    /// Data source inputs (`${DS_...}`) mapped to existing data sources.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub datasources: Vec<DashboardDatasource>,
    /// Variables for Jsonnet.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub envs: Vec<DashboardEnv>,
    /// Variables for Jsonnet from Secrets or ConfigMaps.
    #[serde(default, rename = "envFrom", skip_serializing_if = "Vec::is_empty")]
    pub envs_from: Vec<EnvFromSource>,
    /// Title of the folder to put the dashboard in (created when missing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folder: Option<String>,
    /// UID of the folder to put the dashboard in.
    #[serde(default, rename = "folderUID", skip_serializing_if = "Option::is_none")]
    pub folder_uid: Option<String>,
    /// Name of a GrafanaFolder object in the same namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folder_ref: Option<String>,
    /// Grafana plugins the dashboard needs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plugins: Vec<GrafanaPlugin>,
}

/// Maps a dashboard input to a data source by name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DashboardDatasource {
    /// Input name in the model, such as `DS_PROMETHEUS`.
    pub input_name: String,
    /// Name of the data source to use.
    pub datasource_name: String,
}

/// A variable for Jsonnet, inline or from a Secret or ConfigMap.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DashboardEnv {
    /// Variable name.
    pub name: String,
    /// Inline value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Where to read the value from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_from: Option<EnvFromSource>,
}

/// A Secret or ConfigMap key.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnvFromSource {
    /// ConfigMap key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_key_ref: Option<ConfigMapKeySelector>,
    /// Secret key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key_ref: Option<SecretKeySelector>,
}

/// Credentials used to fetch a dashboard from `url`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UrlAuthorization {
    /// HTTP basic authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<UrlBasicAuth>,
}

/// HTTP basic authentication from Secrets.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UrlBasicAuth {
    /// Secret key holding the user name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<SecretKeySelector>,
    /// Secret key holding the password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<SecretKeySelector>,
}

/// A Jsonnet project packed as a gzip'd tarball.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JsonnetProjectBuild {
    /// Library search paths.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub j_path: Vec<String>,
    /// File to evaluate.
    pub file_name: String,
    /// The project, gzip-compressed tar (base64 in YAML).
    #[schemars(with = "String", extend("format" = "byte"))]
    pub gzip_jsonnet_project: ByteString,
}

/// A dashboard on grafana.com.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GrafanaComReference {
    /// Dashboard id.
    pub id: i64,
    /// Revision; the latest when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<i64>,
}

/// A Grafana plugin and version.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GrafanaPlugin {
    /// Plugin id.
    pub name: String,
    /// Plugin version.
    pub version: String,
}

/// Observed state of a GrafanaDashboard: grafana-operator's fields plus Oxeye's `url`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GrafanaDashboardStatus {
    /// Results of synchronising with Grafana (Oxeye sets `DashboardSynchronized`, as grafana-operator).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// When the dashboard was last synchronised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_resync: Option<Time>,
    /// Gzip'd model fetched from `url` (grafana-operator's cache).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>", extend("format" = "byte"))]
    pub content_cache: Option<ByteString>,
    /// When the cached model was fetched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_timestamp: Option<Time>,
    /// URL the cached model came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_url: Option<String>,
    /// Hash of the last synchronised model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
    /// UID of the dashboard in Grafana.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// Path of the dashboard in Grafana, such as `/d/<uid>/<slug>` (Oxeye extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// No Grafana instance matched `instanceSelector` (spelled as grafana-operator spells it).
    #[serde(default, rename = "NoMatchingInstances", skip_serializing_if = "Option::is_none")]
    pub no_matching_instances: Option<bool>,
}
