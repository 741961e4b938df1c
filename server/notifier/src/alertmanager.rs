//! Alertmanager sets: one per `alerting.alertmanagers` entry, with its HTTP client, its
//! relabeling and the Alertmanagers discovered for it. Turning discovered target groups into
//! Alertmanager URLs follows Prometheus's `AlertmanagerFromGroup`: target labels, then
//! `__scheme__` and `__alerts_path__` from the config, then group labels, then
//! `relabel_configs`; dropped ones are kept for the API.

use oxeye_config::AlertmanagerConfig;
use oxeye_model::{Alert, Labels, LabelsBuilder, RelabelConfig, process_builder};
use oxeye_scrape::{Authorization, BasicAuth, TargetGroup};
use parking_lot::RwLock;

use crate::NotifierError;

/// The label that holds an Alertmanager's push path.
pub const PATH_LABEL: &str = "__alerts_path__";
const SCHEME_LABEL: &str = "__scheme__";
const ADDRESS_LABEL: &str = "__address__";

/// The discovered Alertmanagers of a set, as URLs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Discovered {
    pub active: Vec<String>,
    pub dropped: Vec<String>,
}

/// One `alertmanagers` entry at run time.
pub(crate) struct AlertmanagerSet {
    /// `config-<index>`, the discovery key (Prometheus's `AlertmanagerConfigs.ToMap`).
    pub name: String,
    pub cfg: AlertmanagerConfig,
    pub client: reqwest::Client,
    pub basic_auth: Option<BasicAuth>,
    pub authorization: Option<Authorization>,
    pub discovered: RwLock<Discovered>,
}

impl AlertmanagerSet {
    /// Builds the set's HTTP client (TLS files are read now, so a bad file fails the reload).
    pub fn new(name: String, cfg: AlertmanagerConfig) -> Result<Self, NotifierError> {
        let owner = format!("alertmanagers {name}");
        let (basic_auth, authorization, tls) = oxeye_scrape::config::http_client_settings(&cfg.http_client, &owner);
        // The scrape crate builds clients from a job's TLS and redirect settings; the rest of
        // the job is unused here.
        let mut job = oxeye_scrape::ScrapeJob::new(owner);
        job.tls = tls;
        job.follow_redirects = cfg.http_client.follow_redirects;
        let client = oxeye_scrape::build_client(&job)
            .map_err(|e| NotifierError::HttpClient { config: name.clone(), message: e.to_string() })?;
        Ok(AlertmanagerSet { name, cfg, client, basic_auth, authorization, discovered: RwLock::default() })
    }

    /// The alerts this set receives: `alert_relabel_configs` of the set applied, dropped
    /// alerts left out. `None` when the set has no rules (all alerts as they are).
    pub fn relabel(&self, alerts: &[Alert]) -> Option<Vec<Alert>> {
        if self.cfg.alert_relabel_configs.is_empty() {
            return None;
        }
        Some(relabel_alerts(alerts.iter().cloned(), &Labels::empty(), &self.cfg.alert_relabel_configs))
    }

    /// Recomputes the set's Alertmanagers from its discovered groups.
    pub fn update(&self, groups: &[TargetGroup]) {
        let mut d = Discovered::default();
        for g in groups {
            match alertmanagers_from_group(g, &self.cfg) {
                Ok((active, dropped)) => {
                    for url in active {
                        // Several targets may name the same Alertmanager; send to it once.
                        if !d.active.contains(&url) {
                            d.active.push(url);
                        }
                    }
                    d.dropped.extend(dropped);
                }
                Err(e) => {
                    tracing::error!(config = %self.name, source = %g.source, error = %e, "creating discovered Alertmanagers failed");
                }
            }
        }
        *self.discovered.write() = d;
    }
}

/// Adds `external` labels an alert does not have, applies `rules`, and leaves out dropped
/// alerts (Prometheus's `relabelAlerts`).
pub(crate) fn relabel_alerts(
    alerts: impl IntoIterator<Item = Alert>,
    external: &Labels,
    rules: &[RelabelConfig],
) -> Vec<Alert> {
    let mut out = Vec::new();
    let mut lb = LabelsBuilder::new(Labels::empty());
    for mut a in alerts {
        lb.reset(std::mem::take(&mut a.labels));
        for l in external.iter() {
            if lb.get(&l.name).is_empty() {
                lb.set(l.name.clone(), l.value.clone());
            }
        }
        if !process_builder(&mut lb, rules) {
            continue;
        }
        a.labels = lb.labels();
        out.push(a);
    }
    out
}

/// The Alertmanagers of one target group: the URLs of the kept ones and of the dropped ones.
/// A kept target whose address is a URL fails the whole group, as upstream.
pub(crate) fn alertmanagers_from_group(
    g: &TargetGroup,
    cfg: &AlertmanagerConfig,
) -> Result<(Vec<String>, Vec<String>), String> {
    let mut active = Vec::new();
    let mut dropped = Vec::new();
    let path = post_path(&cfg.path_prefix);
    for target in &g.targets {
        let mut lb = LabelsBuilder::new(target.clone());
        lb.set(SCHEME_LABEL.to_string(), cfg.scheme.clone());
        lb.set(PATH_LABEL.to_string(), path.clone());
        for l in g.labels.iter() {
            if !target.has(&l.name) {
                lb.set(l.name.clone(), l.value.clone());
            }
        }
        let pre = lb.labels();
        if !process_builder(&mut lb, &cfg.relabel_configs) {
            dropped.push(url_of(&pre));
            continue;
        }
        let labels = lb.labels();
        oxeye_config::check_target_address(labels.get(ADDRESS_LABEL))?;
        active.push(url_of(&labels));
    }
    Ok((active, dropped))
}

/// `<__scheme__>://<__address__><__alerts_path__>`, as Go's `url.URL.String` joins them.
fn url_of(labels: &Labels) -> String {
    let path = labels.get(PATH_LABEL);
    let sep = if path.is_empty() || path.starts_with('/') { "" } else { "/" };
    format!("{}://{}{sep}{path}", labels.get(SCHEME_LABEL), labels.get(ADDRESS_LABEL))
}

/// Upstream's `postPath`: `path.Join("/", prefix, "/api/v2/alerts")`.
pub(crate) fn post_path(prefix: &str) -> String {
    clean_path(&format!("/{prefix}/api/v2/alerts"))
}

/// Go's `path.Clean` for absolute paths: no empty or `.` elements, `..` resolved.
fn clean_path(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(yaml: &str) -> AlertmanagerConfig {
        let c = oxeye_config::load_str(&format!("alerting:\n  alertmanagers:\n    - {yaml}\n"), "t").unwrap();
        c.alerting.alertmanagers[0].clone()
    }

    #[test]
    fn post_paths_are_joined_and_cleaned() {
        assert_eq!(post_path(""), "/api/v2/alerts");
        assert_eq!(post_path("/am"), "/am/api/v2/alerts");
        assert_eq!(post_path("am/"), "/am/api/v2/alerts");
        assert_eq!(post_path("/a//b/../c"), "/a/c/api/v2/alerts");
    }

    #[test]
    fn groups_become_urls_with_relabeling() {
        let c = cfg(
            "scheme: https\n      path_prefix: /prefix\n      relabel_configs:\n        - source_labels: [env]\n          regex: dev\n          action: drop\n        - source_labels: [__address__]\n          regex: 'b:.*'\n          target_label: __scheme__\n          replacement: http",
        );
        let g = TargetGroup {
            source: "0".into(),
            targets: vec![
                Labels::from_pairs([("__address__", "a:9093")]),
                Labels::from_pairs([("__address__", "b:9093")]),
                Labels::from_pairs([("__address__", "c:9093"), ("env", "dev")]),
            ],
            labels: Labels::from_pairs([("env", "prod")]),
        };
        let (active, dropped) = alertmanagers_from_group(&g, &c).unwrap();
        assert_eq!(active, ["https://a:9093/prefix/api/v2/alerts", "http://b:9093/prefix/api/v2/alerts"]);
        assert_eq!(dropped, ["https://c:9093/prefix/api/v2/alerts"]);
    }

    #[test]
    fn alerts_path_can_be_relabeled_and_urls_fail_the_group() {
        let c = cfg("relabel_configs:\n        - target_label: __alerts_path__\n          replacement: custom");
        let g = TargetGroup::from_addresses("0", &["a:1"], Labels::empty());
        assert_eq!(alertmanagers_from_group(&g, &c).unwrap().0, ["http://a:1/custom"]);
        let c = cfg("relabel_configs:\n        - target_label: __address__\n          replacement: http://x/");
        assert!(alertmanagers_from_group(&g, &c).unwrap_err().contains("is not a valid hostname"));
    }

    #[test]
    fn external_labels_are_added_unless_present_then_rules_apply() {
        let rules = cfg(
            "alert_relabel_configs:\n        - source_labels: [severity]\n          regex: debug\n          action: drop",
        )
        .alert_relabel_configs;
        let alert = |pairs: &[(&str, &str)]| Alert {
            labels: Labels::from_pairs(pairs.iter().copied()),
            annotations: Labels::empty(),
            starts_at: 0,
            ends_at: None,
            generator_url: String::new(),
        };
        let ext = Labels::from_pairs([("cluster", "c1"), ("replica", "r")]);
        let out = relabel_alerts(
            vec![alert(&[("alertname", "A"), ("cluster", "own")]), alert(&[("alertname", "B"), ("severity", "debug")])],
            &ext,
            &rules,
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].labels, Labels::from_pairs([("alertname", "A"), ("cluster", "own"), ("replica", "r")]));
    }
}
