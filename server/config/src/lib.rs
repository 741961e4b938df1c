//! `prometheus.yml`: the types of a Prometheus 3.x configuration file, its defaults, its
//! validation (Prometheus's rules and messages) and its loading, with errors that name the file,
//! line, field and job. Fields Prometheus knows but Oxeye does not support yet are rejected by
//! name, distinctly from unknown fields. It knows nothing about scraping, storage or HTTP
//! serving: consumers read a fully resolved [`Config`].

mod alerting;
mod check;
mod error;
mod global;
mod http;
mod kubernetes;
mod scrape;
mod source;
mod values;

use std::path::Path;

use serde::{Deserialize, Deserializer, Serialize};

pub use alerting::{
    AlertingConfig, AlertmanagerConfig, DEFAULT_ALERTMANAGER_TIMEOUT, SUPPORTED_ALERTMANAGER_API_VERSIONS,
};
pub use check::{CheckReport, check};
pub use error::{ConfigError, ConfigErrorDetail, ErrorKind, Result};
pub use global::{
    DEFAULT_EVALUATION_INTERVAL, DEFAULT_SCRAPE_INTERVAL, DEFAULT_SCRAPE_PROTOCOLS, DEFAULT_SCRAPE_TIMEOUT,
    GlobalConfig, SCRAPE_PROTOCOLS,
};
pub use http::{Authorization, BasicAuth, HttpClientConfig, TlsConfig, TlsVersion};
pub use kubernetes::{
    AttachMetadataConfig, KubernetesSdConfig, NamespaceDiscovery, Role as KubernetesRole, SelectorConfig,
};
pub use scrape::{DEFAULT_FILE_SD_REFRESH_INTERVAL, FileSdConfig, ScrapeConfig, StaticConfig, check_target_address};
pub use source::Position;
pub use values::{ByteSize, PromDuration, Secret};

use crate::error::{Issue, from_serde};
use crate::http::join_dir;
use crate::source::SourceMap;
use crate::values::with_unsupported_fields;

/// The configuration `oxeye` runs with when no `--config.file` is given: it scrapes itself.
pub const DEFAULT_CONFIG: &str = "\
# Oxeye's built-in configuration: scrape the server itself every 15 seconds.
global:
  scrape_interval: 15s
  evaluation_interval: 15s

scrape_configs:
  - job_name: oxeye
    static_configs:
      - targets: ['localhost:9090']
";

with_unsupported_fields! {
    /// A whole configuration file. After [`load_file`] / [`load_str`] every default and
    /// inherited value is filled in and relative paths are resolved.
    #[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
    #[serde(deny_unknown_fields, default)]
    pub struct Config {
        #[serde(deserialize_with = "null_as_default")]
        pub global: GlobalConfig,
        #[serde(deserialize_with = "null_as_default", skip_serializing_if = "AlertingConfig::is_empty")]
        pub alerting: AlertingConfig,
        /// Globs of rule files (absolute after `load_file`).
        #[serde(deserialize_with = "null_as_default", skip_serializing_if = "Vec::is_empty")]
        pub rule_files: Vec<String>,
        #[serde(deserialize_with = "null_as_default", skip_serializing_if = "Vec::is_empty")]
        pub scrape_configs: Vec<ScrapeConfig>,
    }
    unsupported: [runtime, scrape_config_files, storage, tracing, remote_write, remote_read, otlp]
}

/// An empty block (`global:`) means the defaults, as with Go's yaml.v2.
fn null_as_default<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(d: D) -> Result<T, D::Error> {
    Option::<T>::deserialize(d).map(Option::unwrap_or_default)
}

impl Config {
    /// The scrape config of `job`.
    pub fn scrape_config(&self, job: &str) -> Option<&ScrapeConfig> {
        self.scrape_configs.iter().find(|s| s.job_name == job)
    }

    /// The configuration as YAML in Prometheus's shape, secrets shown as `<secret>`
    /// (`/api/v1/status/config`).
    pub fn to_yaml(&self) -> String {
        serde_yaml_ng::to_string(self).unwrap_or_else(|e| format!("# error rendering config: {e}\n"))
    }

    /// Defaults, inheritance and validation, in Prometheus's order.
    fn resolve(&mut self) -> Result<(), Issue> {
        if let Some(field) = self.unsupported_fields().first() {
            return Err(Issue::unsupported("", field));
        }
        if let Some(field) = self.global.unsupported_fields().first() {
            return Err(Issue::unsupported("global", field));
        }
        self.global.resolve(&mut |var, label| {
            let v = std::env::var(var).ok().filter(|v| !v.is_empty());
            if v.is_none() {
                tracing::warn!(name = var, label, "empty environment variable in external label");
            }
            v
        })?;
        for (i, rf) in self.rule_files.iter().enumerate() {
            if !is_valid_rule_path(rf) {
                return Err(Issue::invalid(format!("rule_files[{i}]"), format!("invalid rule file path {rf:?}")));
            }
            if let Err(e) = glob::Pattern::new(rf) {
                return Err(Issue::invalid(
                    format!("rule_files[{i}]"),
                    format!("invalid rule file pattern {rf:?}: {e}"),
                ));
            }
        }
        let mut seen: Vec<&str> = Vec::new();
        for (i, sc) in self.scrape_configs.iter_mut().enumerate() {
            let path = format!("scrape_configs[{i}]");
            sc.resolve(&self.global, &path)?;
            if seen.contains(&sc.job_name.as_str()) {
                return Err(Issue::invalid(
                    format!("{path}.job_name"),
                    format!("found multiple scrape configs with job name {:?}", sc.job_name),
                ));
            }
            seen.push(&sc.job_name);
        }
        self.alerting.resolve(self.global.name_validation_scheme())?;
        Ok(())
    }

    /// Joins relative paths with the config file's directory, as Prometheus's `SetDirectory`.
    fn set_directory(&mut self, dir: &Path) {
        join_dir(dir, &mut self.global.query_log_file);
        for rf in &mut self.rule_files {
            join_dir(dir, rf);
        }
        self.alerting.set_directory(dir);
        for sc in &mut self.scrape_configs {
            sc.set_directory(dir);
        }
    }
}

/// Upstream's `patRulePath`: `^[^*]*(\*[^/]*)?$`, at most one `*`, and only in the last element.
fn is_valid_rule_path(p: &str) -> bool {
    match p.find('*') {
        None => true,
        Some(star) => !p[star + 1..].contains('/'),
    }
}

/// Parses, defaults and validates a configuration. `origin` names it in errors; relative paths
/// are left as written (use [`load_file`] to resolve them against the file's directory).
pub fn load_str(src: &str, origin: &str) -> Result<Config> {
    load(src, origin, None)
}

/// Reads, parses, defaults and validates a configuration file, resolving relative paths
/// (credentials, TLS files, file SD globs, rule files) against the file's directory.
pub fn load_file(path: &Path) -> Result<Config> {
    let file = path.display().to_string();
    let src = std::fs::read_to_string(path).map_err(|e| {
        ConfigError::from(ConfigErrorDetail {
            file: file.clone(),
            position: None,
            path: String::new(),
            job: None,
            kind: ErrorKind::Io(e.to_string()),
        })
    })?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    load(&src, &file, Some(dir))
}

fn load(src: &str, origin: &str, dir: Option<&Path>) -> Result<Config> {
    let mut cfg: Config = if src.trim().is_empty() {
        Config::default()
    } else {
        serde_yaml_ng::from_str(src).map_err(|e| from_serde(origin, src, &e))?
    };
    let mut map: Option<SourceMap> = None;
    cfg.resolve().map_err(|issue| issue.locate(origin, src, &mut map))?;
    if let Some(dir) = dir {
        cfg.set_directory(dir);
    }
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_paths() {
        for ok in ["a.yml", "rules/*.yml", "/etc/x/*", "*"] {
            assert!(is_valid_rule_path(ok), "{ok}");
        }
        for bad in ["*/a.yml", "a*/b*.yml"] {
            assert!(!is_valid_rule_path(bad), "{bad}");
        }
    }

    #[test]
    fn default_config_loads() {
        let c = load_str(DEFAULT_CONFIG, "default").unwrap();
        let job = c.scrape_config("oxeye").unwrap();
        assert_eq!(job.scrape_interval, PromDuration::from_secs(15));
        assert_eq!(job.static_configs[0].targets, ["localhost:9090"]);
        assert_eq!(c.global.evaluation_interval, PromDuration::from_secs(15));
    }
}
