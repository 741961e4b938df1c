//! `scrape_configs` entries and their service discovery blocks (`static_configs`,
//! `file_sd_configs`, `kubernetes_sd_configs`). The YAML form inlines the HTTP client fields into the job; a private
//! `RawScrapeConfig` reads that form and moves them into [`HttpClientConfig`].
//!
//! Adding a discovery mechanism (e.g. `kubernetes_sd_configs`): give it a typed field here and
//! on `RawScrapeConfig`, and remove its name from the unsupported list.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use oxeye_model::{NameValidationScheme, RelabelConfig};
use serde::{Deserialize, Serialize};

use crate::error::Issue;
use crate::global::{
    DEFAULT_SCRAPE_PROTOCOLS, ESCAPING_SCHEMES, GlobalConfig, validate_scrape_protocol, validate_scrape_protocols,
};
use crate::http::{Authorization, BasicAuth, HttpClientConfig, TlsConfig, join_dir};
use crate::kubernetes::{KubernetesSdConfig, check_kubernetes_sd_configs};
use crate::values::{ByteSize, PromDuration, Secret, is_zero_u64, with_unsupported_fields, yaml11_bool};

/// `static_configs` entry: a target group.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StaticConfig {
    pub targets: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

pub const DEFAULT_FILE_SD_REFRESH_INTERVAL: Duration = Duration::from_secs(300);

/// `file_sd_configs` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct FileSdConfig {
    /// Globs; after loading, relative ones are joined with the config file's directory.
    pub files: Vec<String>,
    pub refresh_interval: PromDuration,
}

impl Default for FileSdConfig {
    fn default() -> Self {
        FileSdConfig { files: Vec::new(), refresh_interval: PromDuration(DEFAULT_FILE_SD_REFRESH_INTERVAL) }
    }
}

/// One scrape job. After loading, every inherited value (intervals, limits, protocols, name
/// validation) is resolved, so consumers never look at `global` again.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScrapeConfig {
    pub job_name: String,
    pub honor_labels: bool,
    pub honor_timestamps: bool,
    pub track_timestamps_staleness: bool,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, Vec<String>>,
    pub scrape_interval: PromDuration,
    pub scrape_timeout: PromDuration,
    pub scrape_protocols: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback_scrape_protocol: Option<String>,
    pub metrics_path: String,
    pub scheme: String,
    pub enable_compression: bool,
    #[serde(skip_serializing_if = "ByteSize::is_zero")]
    pub body_size_limit: ByteSize,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub sample_limit: u64,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub target_limit: u64,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub label_limit: u64,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub label_name_length_limit: u64,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub label_value_length_limit: u64,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub keep_dropped_targets: u64,
    pub metric_name_validation_scheme: String,
    pub metric_name_escaping_scheme: String,
    #[serde(flatten)]
    pub http_client: HttpClientConfig,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub static_configs: Vec<StaticConfig>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub file_sd_configs: Vec<FileSdConfig>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub kubernetes_sd_configs: Vec<KubernetesSdConfig>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub relabel_configs: Vec<RelabelConfig>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub metric_relabel_configs: Vec<RelabelConfig>,
    #[serde(skip)]
    pub(crate) unsupported: Vec<&'static str>,
}

impl<'de> Deserialize<'de> for ScrapeConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        RawScrapeConfig::deserialize(d).map(ScrapeConfig::from)
    }
}

with_unsupported_fields! {
    /// The YAML form of a scrape config, with the HTTP client fields inline.
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RawScrapeConfig {
        job_name: String,
        #[serde(default, deserialize_with = "yaml11_bool")]
        honor_labels: bool,
        #[serde(default = "yes", deserialize_with = "yaml11_bool")]
        honor_timestamps: bool,
        #[serde(default, deserialize_with = "yaml11_bool")]
        track_timestamps_staleness: bool,
        #[serde(default)]
        params: BTreeMap<String, Vec<String>>,
        #[serde(default)]
        scrape_interval: PromDuration,
        #[serde(default)]
        scrape_timeout: PromDuration,
        #[serde(default)]
        scrape_protocols: Option<Vec<String>>,
        #[serde(default)]
        fallback_scrape_protocol: Option<String>,
        #[serde(default = "default_metrics_path")]
        metrics_path: String,
        #[serde(default = "default_scheme")]
        scheme: String,
        #[serde(default = "yes", deserialize_with = "yaml11_bool")]
        enable_compression: bool,
        #[serde(default)]
        body_size_limit: ByteSize,
        #[serde(default)]
        sample_limit: u64,
        #[serde(default)]
        target_limit: u64,
        #[serde(default)]
        label_limit: u64,
        #[serde(default)]
        label_name_length_limit: u64,
        #[serde(default)]
        label_value_length_limit: u64,
        #[serde(default)]
        keep_dropped_targets: u64,
        #[serde(default)]
        metric_name_validation_scheme: String,
        #[serde(default)]
        metric_name_escaping_scheme: String,
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
        metric_relabel_configs: Vec<RelabelConfig>,
    }
    unsupported: [
        // HTTP client features.
        oauth2,
        proxy_url,
        no_proxy,
        proxy_from_environment,
        proxy_connect_header,
        http_headers,
        // Native histograms and other 3.x scrape features.
        scrape_native_histograms,
        native_histogram_bucket_limit,
        native_histogram_min_bucket_factor,
        always_scrape_classic_histograms,
        convert_classic_histograms_to_nhcb,
        scrape_failure_log_file,
        extra_scrape_metrics,
        // Service discovery mechanisms other than static, file and kubernetes.
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

fn default_metrics_path() -> String {
    "/metrics".to_string()
}

fn default_scheme() -> String {
    "http".to_string()
}

impl From<RawScrapeConfig> for ScrapeConfig {
    fn from(r: RawScrapeConfig) -> Self {
        let unsupported = r.unsupported_fields();
        ScrapeConfig {
            job_name: r.job_name,
            honor_labels: r.honor_labels,
            honor_timestamps: r.honor_timestamps,
            track_timestamps_staleness: r.track_timestamps_staleness,
            params: r.params,
            scrape_interval: r.scrape_interval,
            scrape_timeout: r.scrape_timeout,
            scrape_protocols: r.scrape_protocols.unwrap_or_default(),
            fallback_scrape_protocol: r.fallback_scrape_protocol,
            metrics_path: r.metrics_path,
            scheme: r.scheme,
            enable_compression: r.enable_compression,
            body_size_limit: r.body_size_limit,
            sample_limit: r.sample_limit,
            target_limit: r.target_limit,
            label_limit: r.label_limit,
            label_name_length_limit: r.label_name_length_limit,
            label_value_length_limit: r.label_value_length_limit,
            keep_dropped_targets: r.keep_dropped_targets,
            metric_name_validation_scheme: r.metric_name_validation_scheme,
            metric_name_escaping_scheme: r.metric_name_escaping_scheme,
            http_client: HttpClientConfig {
                basic_auth: r.basic_auth,
                authorization: r.authorization,
                bearer_token: r.bearer_token,
                bearer_token_file: r.bearer_token_file,
                tls_config: r.tls_config,
                follow_redirects: r.follow_redirects,
                enable_http2: r.enable_http2,
            },
            static_configs: r.static_configs,
            file_sd_configs: r.file_sd_configs,
            kubernetes_sd_configs: r.kubernetes_sd_configs,
            relabel_configs: r.relabel_configs,
            metric_relabel_configs: r.metric_relabel_configs,
            unsupported,
        }
    }
}

impl ScrapeConfig {
    /// The validation scheme in force for this job.
    pub fn name_validation_scheme(&self) -> NameValidationScheme {
        NameValidationScheme::parse(&self.metric_name_validation_scheme).unwrap_or_default()
    }

    /// Prometheus's `ScrapeConfig.UnmarshalYAML` checks and `ScrapeConfig.Validate(global)`
    /// (inheriting from `global`), plus the discovery checks of `file.SDConfig` and
    /// `targetgroup.Group`. `path` is `scrape_configs[i]`.
    pub(crate) fn resolve(&mut self, global: &GlobalConfig, path: &str) -> Result<(), Issue> {
        let job = self.job_name.clone();
        let at = |field: &str| format!("{path}.{field}");
        if let Some(field) = self.unsupported.first() {
            return Err(Issue::unsupported(path, field));
        }
        if let Some(issue) = self.http_client.nested_unsupported(path).into_iter().next() {
            return Err(issue);
        }
        if job.is_empty() {
            return Err(Issue::invalid(at("job_name"), "job_name is empty"));
        }
        self.http_client.validate(path)?;
        if self.scheme != "http" && self.scheme != "https" {
            // Prometheus rejects this per target when it builds the scrape URL; no target of
            // such a job could ever be scraped, so Oxeye rejects the job up front.
            return Err(Issue::invalid(at("scheme"), format!("invalid scheme: {:?}", self.scheme)));
        }
        for (i, sc) in self.static_configs.iter().enumerate() {
            if self.relabel_configs.is_empty() {
                for (j, t) in sc.targets.iter().enumerate() {
                    check_target_address(t)
                        .map_err(|m| Issue::invalid(format!("{path}.static_configs[{i}].targets[{j}]"), m))?;
                }
            }
        }
        check_file_sd_configs(&self.file_sd_configs, path)?;
        check_kubernetes_sd_configs(&mut self.kubernetes_sd_configs, path)?;

        if self.scrape_interval.is_zero() {
            self.scrape_interval = global.scrape_interval;
        }
        if self.scrape_timeout > self.scrape_interval {
            return Err(Issue::invalid(
                at("scrape_timeout"),
                format!("scrape timeout greater than scrape interval for scrape config with job name {job:?}"),
            ));
        }
        if self.scrape_timeout.is_zero() {
            self.scrape_timeout = global.scrape_timeout.min(self.scrape_interval);
        }
        inherit(&mut self.sample_limit, global.sample_limit);
        inherit(&mut self.target_limit, global.target_limit);
        inherit(&mut self.label_limit, global.label_limit);
        inherit(&mut self.label_name_length_limit, global.label_name_length_limit);
        inherit(&mut self.label_value_length_limit, global.label_value_length_limit);
        inherit(&mut self.keep_dropped_targets, global.keep_dropped_targets);
        if self.body_size_limit.is_zero() {
            self.body_size_limit = global.body_size_limit;
        }
        if self.scrape_protocols.is_empty() {
            self.scrape_protocols = match &global.scrape_protocols {
                Some(p) => p.clone(),
                None => DEFAULT_SCRAPE_PROTOCOLS.iter().map(|s| s.to_string()).collect(),
            };
        }
        validate_scrape_protocols(&self.scrape_protocols).map_err(|m| {
            Issue::invalid(at("scrape_protocols"), format!("{m} for scrape config with job name {job:?}"))
        })?;
        if let Some(fb) = &self.fallback_scrape_protocol {
            validate_scrape_protocol(fb).map_err(|m| {
                Issue::invalid(
                    at("fallback_scrape_protocol"),
                    format!("invalid fallback_scrape_protocol for scrape config with job name {job:?}: {m}"),
                )
            })?;
        }

        // Name validation and escaping, as `ScrapeConfig.Validate`.
        let local_unset = self.metric_name_validation_scheme.is_empty();
        match self.metric_name_validation_scheme.as_str() {
            "" => self.metric_name_validation_scheme = global.metric_name_validation_scheme.clone(),
            "utf8" | "legacy" => {}
            other => {
                return Err(Issue::invalid(
                    at("metric_name_validation_scheme"),
                    format!(
                        "unknown scrape config name validation method specified, must be either '', 'legacy' or 'utf8', got {other}"
                    ),
                ));
            }
        }
        let scheme = self.name_validation_scheme();
        let global_escaping = match global.metric_name_escaping_scheme.as_str() {
            "" if global.name_validation_scheme() == NameValidationScheme::Legacy => "underscores",
            "" => "allow-utf-8",
            s => s,
        };
        if self.metric_name_escaping_scheme.is_empty() {
            self.metric_name_escaping_scheme = if local_unset {
                global_escaping.to_string()
            } else if scheme == NameValidationScheme::Legacy {
                "underscores".to_string()
            } else {
                "allow-utf-8".to_string()
            };
        }
        match self.metric_name_escaping_scheme.as_str() {
            "allow-utf-8" if scheme != NameValidationScheme::Utf8 => {
                return Err(Issue::invalid(
                    at("metric_name_escaping_scheme"),
                    "utf8 metric names requested but validation scheme is not set to UTF8",
                ));
            }
            s if ESCAPING_SCHEMES.contains(&s) => {}
            other => {
                return Err(Issue::invalid(
                    at("metric_name_escaping_scheme"),
                    format!(
                        "unknown scrape config name escaping method specified, must be one of 'allow-utf-8', 'underscores', 'dots', or 'values', got {other:?}"
                    ),
                ));
            }
        }

        check_target_labels(&self.static_configs, path)?;
        for (list, field) in [
            (&mut self.relabel_configs, "relabel_configs"),
            (&mut self.metric_relabel_configs, "metric_relabel_configs"),
        ] {
            for (i, rc) in list.iter_mut().enumerate() {
                rc.validate(scheme).map_err(|e| Issue::invalid(format!("{path}.{field}[{i}]"), e.0))?;
            }
        }
        Ok(())
    }

    /// Joins relative file paths with `dir`.
    pub(crate) fn set_directory(&mut self, dir: &Path) {
        self.http_client.set_directory(dir);
        for fc in &mut self.file_sd_configs {
            for f in &mut fc.files {
                join_dir(dir, f);
            }
        }
        for kc in &mut self.kubernetes_sd_configs {
            kc.set_directory(dir);
        }
    }
}

/// The label names of `static_configs` groups (in the block at `path`). They are parsed before
/// any scheme applies, so UTF-8 rules hold.
pub(crate) fn check_target_labels(static_configs: &[StaticConfig], path: &str) -> Result<(), Issue> {
    for (i, sc) in static_configs.iter().enumerate() {
        for name in sc.labels.keys() {
            if !NameValidationScheme::Utf8.is_valid_label_name(name) {
                return Err(Issue::invalid(
                    format!("{path}.static_configs[{i}].labels"),
                    format!("{name:?} is not a valid label name"),
                ));
            }
        }
    }
    Ok(())
}

/// `file.SDConfig.UnmarshalYAML`: at least one file, each a valid glob of a YAML or JSON file.
pub(crate) fn check_file_sd_configs(file_sd_configs: &[FileSdConfig], path: &str) -> Result<(), Issue> {
    for (i, fc) in file_sd_configs.iter().enumerate() {
        let fpath = format!("{path}.file_sd_configs[{i}]");
        if fc.files.is_empty() {
            return Err(Issue::invalid(&fpath, "file service discovery config must contain at least one path name"));
        }
        for (j, f) in fc.files.iter().enumerate() {
            if !is_valid_file_sd_name(f) {
                return Err(Issue::invalid(
                    format!("{fpath}.files[{j}]"),
                    format!("path name {f:?} is not valid for file discovery"),
                ));
            }
        }
    }
    Ok(())
}

fn inherit(v: &mut u64, global: u64) {
    if *v == 0 {
        *v = global;
    }
}

/// Prometheus's `CheckTargetAddress`: a target is a host with an optional port, never a URL.
/// (Prometheus 3 no longer appends a default port, so `host` alone is valid.)
pub fn check_target_address(address: &str) -> Result<(), String> {
    if address.contains('/') {
        return Err(format!("{address:?} is not a valid hostname"));
    }
    Ok(())
}

/// Upstream's `patFileSDName`: `^[^*]*(\*[^/]*)?\.(json|yml|yaml|JSON|YML|YAML)$`.
fn is_valid_file_sd_name(name: &str) -> bool {
    let Some((stem, ext)) = name.rsplit_once('.') else { return false };
    if !matches!(ext, "json" | "yml" | "yaml" | "JSON" | "YML" | "YAML") {
        return false;
    }
    match stem.find('*') {
        None => true,
        Some(star) => !stem[star + 1..].contains('/'),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_sd_names() {
        for ok in ["a.json", "dir/*.yml", "/abs/x*.yaml", "x.JSON", "*.yml", "a*b*.yml"] {
            assert!(is_valid_file_sd_name(ok), "{ok}");
        }
        for bad in ["a.txt", "a", "dir/*/x.yml", "json", "a.yml.txt"] {
            assert!(!is_valid_file_sd_name(bad), "{bad}");
        }
    }
}
