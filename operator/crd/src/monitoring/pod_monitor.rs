//! `monitoring.coreos.com/v1` PodMonitor: scrape container ports of selected Pods directly.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube_derive::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::BYTE_SIZE_PATTERN;
use super::common::{
    AttachMetadata, BasicAuth, Duration, NamespaceSelector, OAuth2, RelabelConfig, SafeAuthorization, SafeTlsConfig,
    Scheme, ScrapeProtocol, SecretKeySelector, SelectorMechanism,
};
use super::status::MonitorStatus;

/// Which Pods to scrape and how: a label selector, the namespaces to look in, and one entry per
/// scraped container port in `podMetricsEndpoints`.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "monitoring.coreos.com",
    version = "v1",
    kind = "PodMonitor",
    plural = "podmonitors",
    shortname = "pmon",
    category = "prometheus-operator",
    namespaced,
    status = "MonitorStatus",
    doc = "PodMonitor defines how Oxeye (or Prometheus) scrapes a group of Pods.",
    printcolumn = r#"{"name":"Accepted","type":"string","jsonPath":".status.conditions[?(@.type==\"Accepted\")].status"}"#,
    printcolumn = r#"{"name":"Up","type":"integer","jsonPath":".status.targets.up"}"#,
    printcolumn = r#"{"name":"Discovered","type":"integer","jsonPath":".status.targets.discovered"}"#,
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
pub struct PodMonitorSpec {
    /// Pod label whose value becomes the `job` label; `<namespace>/<name>` of the PodMonitor when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_label: Option<String>,
    /// Pod labels copied onto the scraped series.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pod_target_labels: Vec<String>,
    /// Container ports to scrape.
    #[serde(default)]
    pub pod_metrics_endpoints: Vec<PodMetricsEndpoint>,
    /// Label selector for the Pods to scrape.
    pub selector: LabelSelector,
    /// Whether selection uses relabeling (default) or kubernetes_sd role selectors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector_mechanism: Option<SelectorMechanism>,
    /// Namespaces to discover Pods in; the PodMonitor's own namespace by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<NamespaceSelector>,
    /// Per-scrape limit on accepted samples.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_limit: Option<u64>,
    /// Limit on the number of scraped targets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_limit: Option<u64>,
    /// Protocols to negotiate, most preferred first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scrape_protocols: Vec<ScrapeProtocol>,
    /// Protocol used when the Content-Type is missing or unparseable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_scrape_protocol: Option<ScrapeProtocol>,
    /// Per-scrape limit on labels per sample.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_limit: Option<u64>,
    /// Per-scrape limit on label name length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_name_length_limit: Option<u64>,
    /// Per-scrape limit on label value length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_value_length_limit: Option<u64>,
    /// Also ingest the classic form of histograms exposed as native histograms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrape_classic_histograms: Option<bool>,
    /// Merge native histogram buckets above this many.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub native_histogram_bucket_limit: Option<u64>,
    /// Merge native histogram buckets whose growth factor is below this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub native_histogram_min_bucket_factor: Option<Quantity>,
    /// Convert classic histograms to native histograms with custom buckets.
    #[serde(default, rename = "convertClassicHistogramsToNHCB", skip_serializing_if = "Option::is_none")]
    pub convert_classic_histograms_to_nhcb: Option<bool>,
    /// Per-scrape limit on targets dropped by relabeling kept in memory; 0 means no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_dropped_targets: Option<u64>,
    /// Extra metadata attached to discovered targets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attach_metadata: Option<AttachMetadata>,
    /// Scrape class to apply (prometheus-operator `Prometheus.spec.scrapeClasses`).
    #[serde(default, rename = "scrapeClass", skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub scrape_class: Option<String>,
    /// Limit on the uncompressed size of a scrape response, such as `10MB`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(BYTE_SIZE_PATTERN))]
    pub body_size_limit: Option<String>,
}

/// One scraped container port and how to scrape it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodMetricsEndpoint {
    /// Name of the container port; takes precedence over `portNumber` and `targetPort`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
    /// Number of the container port; the Pod must declare it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port_number: Option<i32>,
    /// Name or number of the container port. Deprecated upstream: use `port` or `portNumber`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_port: Option<IntOrString>,
    /// HTTP path to scrape; `/metrics` when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// HTTP scheme (`http` or `https`, either case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<Scheme>,
    /// URL query parameters.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, Vec<String>>,
    /// Scrape interval; the global one when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    /// Scrape timeout; the global one (capped at the interval) when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrape_timeout: Option<Duration>,
    /// Keep the scraped labels when they clash with target labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub honor_labels: Option<bool>,
    /// Keep timestamps exposed by the target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub honor_timestamps: Option<bool>,
    /// Track staleness of series with explicit timestamps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track_timestamps_staleness: Option<bool>,
    /// Relabeling applied to samples before ingestion.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metric_relabelings: Vec<RelabelConfig>,
    /// Relabeling applied to the target's labels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relabelings: Vec<RelabelConfig>,
    /// Drop Pods that are not running (Failed, Succeeded); on when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_running: Option<bool>,
    /// `Authorization` header credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<SafeAuthorization>,
    /// HTTP basic authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
    /// OAuth2 client credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth2: Option<OAuth2>,
    /// Secret key with the bearer token. Deprecated upstream: use `authorization`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token_secret: Option<SecretKeySelector>,
    /// Follow HTTP 3xx redirects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_redirects: Option<bool>,
    /// Allow HTTP/2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_http2: Option<bool>,
    /// TLS settings for the scrape (Secrets and ConfigMaps only, no files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_config: Option<SafeTlsConfig>,
    /// HTTP proxy URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern("^(http|https|socks5)://.+$"))]
    pub proxy_url: Option<String>,
    /// Hosts that bypass the proxy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_proxy: Option<String>,
    /// Use the proxy from the environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_from_environment: Option<bool>,
    /// Headers sent to the proxy in CONNECT requests.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub proxy_connect_header: BTreeMap<String, Vec<SecretKeySelector>>,
}
