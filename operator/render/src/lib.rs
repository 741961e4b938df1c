//! Turns `monitoring.coreos.com/v1` ServiceMonitor, PodMonitor and PrometheusRule objects into
//! the scrape jobs, relabelings and rule files that prometheus-operator generates for them, and
//! assembles a complete `prometheus.yml` that `oxeye_config::load_str` accepts.
//!
//! Rendering is a pure function of the objects, the [`RenderOptions`] and the Secrets reached
//! through a [`SecretResolver`]; output is deterministic. This crate knows nothing about watching
//! the cluster, writing Secrets or reloading servers: that is the controller's job.

mod config;
mod error;
mod monitor;
mod pod_monitor;
mod relabel;
mod rules;
mod service_monitor;
mod yaml;

pub use config::{BaseConfig, ScrapeLimits, render_config};
pub use error::{RenderError, Result};
pub use pod_monitor::render_pod_monitor;
pub use rules::{render_prometheus_rule, rule_file_name};
pub use service_monitor::render_service_monitor;
pub use yaml::ScrapeConfigOut;

/// Looks up Secret (and ConfigMap) keys for credentials referenced by monitors. The renderer
/// writes the values inline into the generated configuration, which is itself stored in a Secret.
pub trait SecretResolver {
    /// The value of `key` in Secret `namespace/name`; `Err` carries why it is unavailable
    /// (missing Secret, missing key).
    fn secret_key(&self, namespace: &str, name: &str, key: &str) -> std::result::Result<String, String>;

    /// The value of `key` in ConfigMap `namespace/name` (TLS CAs and certificates may live in
    /// ConfigMaps). By default ConfigMap references are refused.
    fn config_map_key(&self, namespace: &str, name: &str, key: &str) -> std::result::Result<String, String> {
        let _ = key;
        Err(format!("ConfigMap {namespace}/{name}: ConfigMap references are not supported by this resolver"))
    }
}

/// A resolver that knows no Secrets: any monitor that references one is rejected.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSecrets;

impl SecretResolver for NoSecrets {
    fn secret_key(&self, namespace: &str, name: &str, _key: &str) -> std::result::Result<String, String> {
        Err(format!("secret {namespace}/{name} not found"))
    }
}

/// The Kubernetes SD role used for ServiceMonitors (prometheus-operator's
/// `serviceDiscoveryRole`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EndpointRole {
    /// `endpointslice`: Oxeye's default (prometheus-operator defaults to `endpoints`).
    #[default]
    EndpointSlice,
    /// `endpoints`.
    Endpoints,
}

impl EndpointRole {
    pub fn as_str(self) -> &'static str {
        match self {
            EndpointRole::EndpointSlice => "endpointslice",
            EndpointRole::Endpoints => "endpoints",
        }
    }
}

/// Settings that prometheus-operator takes from the Prometheus object and applies to every
/// monitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderOptions {
    /// Role for ServiceMonitors that do not set `serviceDiscoveryRole`.
    pub service_discovery_role: EndpointRole,
    /// Number of shards (`spec.shards`); at least 1.
    pub shards: u32,
    /// This server's shard, `0..shards`. prometheus-operator writes `$(SHARD)` and lets its
    /// config reloader substitute it; Oxeye has no reloader, so the number is written directly.
    pub shard: u32,
    /// `spec.overrideHonorLabels`: force `honor_labels: false`.
    pub override_honor_labels: bool,
    /// `spec.overrideHonorTimestamps`: force `honor_timestamps: false`.
    pub override_honor_timestamps: bool,
    /// `spec.ignoreNamespaceSelectors`: only discover in the monitor's own namespace.
    pub ignore_namespace_selectors: bool,
    /// `spec.enforcedNamespaceLabel`: a label set to the monitor's namespace on every target
    /// and sample. The controller leaves it `None` for objects in `excludedFromEnforcement`.
    pub enforced_namespace_label: Option<String>,
    /// `spec.enforced*Limit`: upper bounds on the monitors' own limits. The same values belong in
    /// [`BaseConfig::limits`] so they apply to monitors that set none (Prometheus >= 2.45).
    pub enforced_limits: ScrapeLimits,
    /// `spec.podTargetLabels`: pod labels copied onto every target, after the monitor's own.
    pub pod_target_labels: Vec<String>,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            service_discovery_role: EndpointRole::default(),
            shards: 1,
            shard: 0,
            override_honor_labels: false,
            override_honor_timestamps: false,
            ignore_namespace_selectors: false,
            enforced_namespace_label: None,
            enforced_limits: ScrapeLimits::default(),
            pod_target_labels: Vec::new(),
        }
    }
}
