//! The complete `prometheus.yml`: the `global` block (intervals, external labels, enforced
//! limits), `rule_files`, the rendered scrape jobs in a stable order, and the `alerting` and
//! `remote_write` blocks passed through from the operator's own configuration.

use std::collections::BTreeMap;

use serde_yaml_ng::Value;

use crate::yaml::{Map, ScrapeConfigOut, to_string};

/// Scrape limits: the `enforced*` bounds of [`crate::RenderOptions`] and the `global` defaults of
/// [`BaseConfig`]. `None` (or 0) means no limit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScrapeLimits {
    pub sample_limit: Option<u64>,
    pub target_limit: Option<u64>,
    pub label_limit: Option<u64>,
    pub label_name_length_limit: Option<u64>,
    pub label_value_length_limit: Option<u64>,
    pub keep_dropped_targets: Option<u64>,
    /// A Prometheus byte size (`10MiB`).
    pub body_size_limit: Option<String>,
}

impl ScrapeLimits {
    /// `(prometheus field, value)` for the numeric limits, in upstream's order.
    pub(crate) fn numeric(&self) -> [(&'static str, Option<u64>); 6] {
        [
            ("sample_limit", self.sample_limit),
            ("target_limit", self.target_limit),
            ("label_limit", self.label_limit),
            ("label_name_length_limit", self.label_name_length_limit),
            ("label_value_length_limit", self.label_value_length_limit),
            ("keep_dropped_targets", self.keep_dropped_targets),
        ]
    }
}

/// What the operator's own configuration contributes to `prometheus.yml`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BaseConfig {
    /// `global.scrape_interval` (e.g. `30s`); unset keeps Prometheus's default.
    pub scrape_interval: Option<String>,
    pub scrape_timeout: Option<String>,
    pub evaluation_interval: Option<String>,
    pub external_labels: BTreeMap<String, String>,
    /// Other `global` settings, passed through after the ones above (for example
    /// `scrape_protocols` or `query_log_file`). Keys set by a field above are ignored here.
    pub extra_global: serde_yaml_ng::Mapping,
    /// Global limits; set them to the enforced limits so monitors without their own limit are
    /// bounded too (what prometheus-operator's `appendScrapeLimits` does).
    pub limits: ScrapeLimits,
    /// The `alerting` block, passed through unchanged (parse it with [`BaseConfig::parse_block`]).
    pub alerting: Option<Value>,
    /// The `remote_write` list, passed through unchanged. Note: `oxeye` does not support
    /// `remote_write` yet and refuses a configuration that has it.
    pub remote_write: Option<Value>,
}

impl BaseConfig {
    /// Parses a passthrough YAML block (for [`BaseConfig::alerting`] / [`BaseConfig::remote_write`]).
    pub fn parse_block(yaml: &str) -> Result<Value, String> {
        serde_yaml_ng::from_str(yaml).map_err(|e| e.to_string())
    }
}

/// A complete `prometheus.yml`. Jobs are ordered ServiceMonitors first, then PodMonitors (as
/// upstream), each by `namespace/name` and endpoint index, and rule files are sorted, so the same
/// input always yields byte-identical output whatever order the objects were listed in.
pub fn render_config(base: &BaseConfig, mut scrape: Vec<ScrapeConfigOut>, rule_files: Vec<String>) -> String {
    let mut global = Map::new();
    for (key, v) in [
        ("scrape_interval", &base.scrape_interval),
        ("scrape_timeout", &base.scrape_timeout),
        ("evaluation_interval", &base.evaluation_interval),
    ] {
        if let Some(v) = v {
            global.put(key, v.as_str());
        }
    }
    if !base.external_labels.is_empty() {
        let mut labels = Map::new();
        for (k, v) in &base.external_labels {
            labels.put(k, v.as_str());
        }
        global.put("external_labels", labels);
    }
    for (key, v) in base.limits.numeric() {
        if let Some(v) = v.filter(|v| *v > 0) {
            global.put(key, v);
        }
    }
    if let Some(b) = base.limits.body_size_limit.as_deref().filter(|b| !b.is_empty()) {
        global.put("body_size_limit", b);
    }
    for (k, v) in &base.extra_global {
        if !global.0.contains_key(k) {
            global.0.insert(k.clone(), v.clone());
        }
    }

    let mut cfg = Map::new();
    if !global.is_empty() {
        cfg.put("global", global);
    }
    let mut rule_files = rule_files;
    rule_files.sort();
    rule_files.dedup();
    if !rule_files.is_empty() {
        cfg.put("rule_files", crate::yaml::strings(&rule_files));
    }
    scrape.sort_by(|a, b| a.sort_key.cmp(&b.sort_key));
    scrape.dedup_by(|a, b| a.job_name == b.job_name);
    let jobs: Vec<Value> = scrape.into_iter().map(|s| Value::Mapping(s.body)).collect();
    cfg.put("scrape_configs", Value::Sequence(jobs));
    if let Some(a) = &base.alerting {
        cfg.put("alerting", a.clone());
    }
    if let Some(rw) = &base.remote_write {
        cfg.put("remote_write", rw.clone());
    }
    to_string(&cfg.into())
}
