//! The `alerting` block: `alert_relabel_configs` applied to every alert, and the
//! `alertmanagers` entries (Prometheus's `AlertmanagerConfig`) that say how Alertmanagers are
//! discovered (static, file and Kubernetes SD), relabeled and talked to (scheme, path prefix, timeout, API
//! version, HTTP client). Like scrape configs, the YAML form inlines the HTTP client fields; a
//! private `RawAlertmanagerConfig` reads it. Sending alerts is the notifier's business.

use std::path::Path;
use std::time::Duration;

use oxeye_model::{NameValidationScheme, RelabelConfig};
use serde::{Deserialize, Serialize};

use crate::error::Issue;
use crate::http::{Authorization, BasicAuth, HttpClientConfig, TlsConfig};
use crate::kubernetes::{KubernetesSdConfig, check_kubernetes_sd_configs};
use crate::scrape::{FileSdConfig, StaticConfig, check_file_sd_configs, check_target_address, check_target_labels};
use crate::values::{PromDuration, Secret, with_unsupported_fields, yaml11_bool};

/// Prometheus's default per-request timeout for Alertmanagers.
pub const DEFAULT_ALERTMANAGER_TIMEOUT: Duration = Duration::from_secs(10);

/// The Alertmanager API versions Prometheus 3.x speaks (`v1` was removed in 3.0).
pub const SUPPORTED_ALERTMANAGER_API_VERSIONS: [&str; 1] = ["v2"];

/// `alerting`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertingConfig {
    /// Applied to every alert before it is queued (after external labels are added).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alert_relabel_configs: Vec<RelabelConfig>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alertmanagers: Vec<AlertmanagerConfig>,
}

impl AlertingConfig {
    /// Whether the block is absent or empty (nothing to send alerts to).
    pub fn is_empty(&self) -> bool {
        self.alert_relabel_configs.is_empty() && self.alertmanagers.is_empty()
    }

    /// `AlertingConfig.Validate` plus each `AlertmanagerConfig.UnmarshalYAML`/`Validate`.
    pub(crate) fn resolve(&mut self, scheme: NameValidationScheme) -> Result<(), Issue> {
        for (i, rc) in self.alert_relabel_configs.iter_mut().enumerate() {
            rc.validate(scheme).map_err(|e| Issue::invalid(format!("alerting.alert_relabel_configs[{i}]"), e.0))?;
        }
        for (i, am) in self.alertmanagers.iter_mut().enumerate() {
            am.resolve(scheme, &format!("alerting.alertmanagers[{i}]"))?;
        }
        Ok(())
    }

    pub(crate) fn set_directory(&mut self, dir: &Path) {
        for am in &mut self.alertmanagers {
            am.set_directory(dir);
        }
    }
}

/// One `alertmanagers` entry. After loading, the HTTP client block is validated (bearer tokens
/// moved into `authorization`) and relabel rules carry the global validation scheme.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertmanagerConfig {
    #[serde(flatten)]
    pub http_client: HttpClientConfig,
    /// `http` or `https`; the initial `__scheme__` of discovered Alertmanagers.
    pub scheme: String,
    /// Prepended to `/api/v2/alerts`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub path_prefix: String,
    /// Per-request timeout when sending a batch.
    pub timeout: PromDuration,
    /// Always `v2` once loaded.
    pub api_version: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub static_configs: Vec<StaticConfig>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub file_sd_configs: Vec<FileSdConfig>,
    /// Alertmanagers discovered through the Kubernetes API (typically `role: pod` or
    /// `endpointslice`, kept by `relabel_configs`), as for scrape jobs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub kubernetes_sd_configs: Vec<KubernetesSdConfig>,
    /// Applied to discovered Alertmanagers (`__address__`, `__scheme__`, `__alerts_path__`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub relabel_configs: Vec<RelabelConfig>,
    /// Applied to alerts sent to this set of Alertmanagers only (Prometheus 3.x).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alert_relabel_configs: Vec<RelabelConfig>,
    #[serde(skip)]
    pub(crate) unsupported: Vec<&'static str>,
}

impl Default for AlertmanagerConfig {
    fn default() -> Self {
        AlertmanagerConfig {
            http_client: HttpClientConfig::default(),
            scheme: default_scheme(),
            path_prefix: String::new(),
            timeout: default_timeout(),
            api_version: default_api_version(),
            static_configs: Vec::new(),
            file_sd_configs: Vec::new(),
            kubernetes_sd_configs: Vec::new(),
            relabel_configs: Vec::new(),
            alert_relabel_configs: Vec::new(),
            unsupported: Vec::new(),
        }
    }
}

impl<'de> Deserialize<'de> for AlertmanagerConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        RawAlertmanagerConfig::deserialize(d).map(AlertmanagerConfig::from)
    }
}

with_unsupported_fields! {
    /// The YAML form of an Alertmanager config, with the HTTP client fields inline.
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RawAlertmanagerConfig {
        #[serde(default = "default_scheme")]
        scheme: String,
        #[serde(default)]
        path_prefix: String,
        #[serde(default = "default_timeout")]
        timeout: PromDuration,
        #[serde(default = "default_api_version")]
        api_version: String,
        #[serde(default)]
        basic_auth: Option<BasicAuth>,
        #[serde(default)]
        authorization: Option<Authorization>,
        #[serde(default)]
        bearer_token: Secret,
        #[serde(default)]
        bearer_token_file: String,
        #[serde(default)]
        tls_config: TlsConfig,
        #[serde(default = "yes", deserialize_with = "yaml11_bool")]
        follow_redirects: bool,
        #[serde(default = "yes", deserialize_with = "yaml11_bool")]
        enable_http2: bool,
        #[serde(default)]
        static_configs: Vec<StaticConfig>,
        #[serde(default)]
        file_sd_configs: Vec<FileSdConfig>,
        #[serde(default)]
        kubernetes_sd_configs: Vec<KubernetesSdConfig>,
        #[serde(default)]
        relabel_configs: Vec<RelabelConfig>,
        #[serde(default)]
        alert_relabel_configs: Vec<RelabelConfig>,
    }
    unsupported: [
        // Authentication and HTTP client features.
        sigv4,
        oauth2,
        proxy_url,
        no_proxy,
        proxy_from_environment,
        proxy_connect_header,
        http_headers,
        // Service discovery mechanisms other than static, file and Kubernetes.
        azure_sd_configs,
        consul_sd_configs,
        digitalocean_sd_configs,
        docker_sd_configs,
        dockerswarm_sd_configs,
        dns_sd_configs,
        ec2_sd_configs,
        eureka_sd_configs,
        gce_sd_configs,
        hetzner_sd_configs,
        http_sd_configs,
        ionos_sd_configs,
        kuma_sd_configs,
        lightsail_sd_configs,
        linode_sd_configs,
        marathon_sd_configs,
        nerve_sd_configs,
        nomad_sd_configs,
        openstack_sd_configs,
        ovhcloud_sd_configs,
        puppetdb_sd_configs,
        scaleway_sd_configs,
        serverset_sd_configs,
        stackit_sd_configs,
        triton_sd_configs,
        uyuni_sd_configs,
        vultr_sd_configs,
    ]
}

fn yes() -> bool {
    true
}

fn default_scheme() -> String {
    "http".to_string()
}

fn default_timeout() -> PromDuration {
    PromDuration(DEFAULT_ALERTMANAGER_TIMEOUT)
}

fn default_api_version() -> String {
    "v2".to_string()
}

impl From<RawAlertmanagerConfig> for AlertmanagerConfig {
    fn from(r: RawAlertmanagerConfig) -> Self {
        let unsupported = r.unsupported_fields();
        AlertmanagerConfig {
            http_client: HttpClientConfig {
                basic_auth: r.basic_auth,
                authorization: r.authorization,
                bearer_token: r.bearer_token,
                bearer_token_file: r.bearer_token_file,
                tls_config: r.tls_config,
                follow_redirects: r.follow_redirects,
                enable_http2: r.enable_http2,
            },
            scheme: r.scheme,
            path_prefix: r.path_prefix,
            timeout: r.timeout,
            api_version: r.api_version,
            static_configs: r.static_configs,
            file_sd_configs: r.file_sd_configs,
            kubernetes_sd_configs: r.kubernetes_sd_configs,
            relabel_configs: r.relabel_configs,
            alert_relabel_configs: r.alert_relabel_configs,
            unsupported,
        }
    }
}

impl AlertmanagerConfig {
    /// Prometheus's `AlertmanagerConfig.UnmarshalYAML` and `Validate`, plus the file and
    /// Kubernetes SD checks.
    /// `path` is `alerting.alertmanagers[i]`.
    pub(crate) fn resolve(&mut self, scheme: NameValidationScheme, path: &str) -> Result<(), Issue> {
        let at = |field: &str| format!("{path}.{field}");
        if let Some(field) = self.unsupported.first() {
            return Err(Issue::unsupported(path, field));
        }
        if let Some(issue) = self.http_client.nested_unsupported(path).into_iter().next() {
            return Err(issue);
        }
        if !SUPPORTED_ALERTMANAGER_API_VERSIONS.contains(&self.api_version.as_str()) {
            // Upstream's `AlertmanagerAPIVersion.UnmarshalYAML` message.
            return Err(Issue::invalid(
                at("api_version"),
                format!(
                    "expected Alertmanager api version to be one of [{}] but got {}",
                    SUPPORTED_ALERTMANAGER_API_VERSIONS.join(" "),
                    self.api_version
                ),
            ));
        }
        self.http_client.validate(path)?;
        if self.scheme != "http" && self.scheme != "https" {
            // Prometheus only fails when it builds the URL; no alert could ever be delivered.
            return Err(Issue::invalid(at("scheme"), format!("invalid scheme: {:?}", self.scheme)));
        }
        if self.relabel_configs.is_empty() {
            for (i, sc) in self.static_configs.iter().enumerate() {
                for (j, t) in sc.targets.iter().enumerate() {
                    check_target_address(t)
                        .map_err(|m| Issue::invalid(format!("{path}.static_configs[{i}].targets[{j}]"), m))?;
                }
            }
        }
        check_target_labels(&self.static_configs, path)?;
        check_file_sd_configs(&self.file_sd_configs, path)?;
        check_kubernetes_sd_configs(&mut self.kubernetes_sd_configs, path)?;
        for (list, field) in
            [(&mut self.alert_relabel_configs, "alert_relabel_configs"), (&mut self.relabel_configs, "relabel_configs")]
        {
            for (i, rc) in list.iter_mut().enumerate() {
                rc.validate(scheme).map_err(|e| Issue::invalid(format!("{path}.{field}[{i}]"), e.0))?;
            }
        }
        Ok(())
    }

    /// Joins relative file paths (credentials, TLS files, file SD globs, kubeconfig files and
    /// the Kubernetes SD credentials) with `dir`.
    pub(crate) fn set_directory(&mut self, dir: &Path) {
        self.http_client.set_directory(dir);
        for fc in &mut self.file_sd_configs {
            for f in &mut fc.files {
                crate::http::join_dir(dir, f);
            }
        }
        for kc in &mut self.kubernetes_sd_configs {
            kc.set_directory(dir);
        }
    }
}
