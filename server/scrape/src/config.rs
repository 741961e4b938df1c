//! Conversion from `oxeye-config` (a loaded, fully resolved prometheus.yml) into `ScrapeJob`s
//! and the discovery configuration per job. Only this module knows the config crate's shapes.

use std::collections::BTreeMap;
use std::path::PathBuf;

use oxeye_config::{Config, HttpClientConfig, ScrapeConfig};
use oxeye_textparse::Format;

use crate::discovery::{FileSdConfig, JobDiscovery, JobDiscoveryConfig, TargetGroup};
use crate::job::{Authorization, BasicAuth, ScrapeJob, Secret, TlsSettings};

/// The `Accept` value each `scrape_protocols` entry contributes (Prometheus's
/// `ScrapeProtocolsHeaders`). `PrometheusProto` is not offered: Oxeye has no protobuf parser.
fn protocol_media_type(p: &str) -> Option<&'static str> {
    Some(match p {
        "PrometheusText0.0.4" => "text/plain;version=0.0.4",
        "PrometheusText1.0.0" => "text/plain;version=1.0.0",
        "OpenMetricsText0.0.1" => "application/openmetrics-text;version=0.0.1",
        "OpenMetricsText1.0.0" => "application/openmetrics-text;version=1.0.0",
        _ => return None,
    })
}

/// Prometheus's `acceptHeader`: protocols in order with falling `q` weights starting at 0.6
/// (five known protocols + 1), the escaping scheme on the 1.0.0 formats, then `*/*`.
pub fn accept_header(protocols: &[String], escaping: &str) -> String {
    let escaping = if escaping.is_empty() { "allow-utf-8" } else { escaping };
    let mut weight = 6;
    let mut vals = Vec::new();
    for p in protocols {
        let Some(mt) = protocol_media_type(p) else { continue };
        let mut v = mt.to_string();
        if p == "PrometheusText1.0.0" || p == "OpenMetricsText1.0.0" {
            v.push_str(";escaping=");
            v.push_str(escaping);
        }
        v.push_str(&format!(";q=0.{weight}"));
        vals.push(v);
        weight -= 1;
    }
    vals.push(format!("*/*;q=0.{weight}"));
    vals.join(",")
}

fn fallback_format(p: &str) -> Option<Format> {
    match p {
        "PrometheusText0.0.4" | "PrometheusText1.0.0" => Some(Format::PrometheusText),
        "OpenMetricsText0.0.1" | "OpenMetricsText1.0.0" => Some(Format::OpenMetrics),
        _ => None,
    }
}

fn path(s: &str) -> Option<PathBuf> {
    (!s.is_empty()).then(|| PathBuf::from(s))
}

/// The authentication and TLS settings of an HTTP client block, for scrape jobs and for other
/// clients configured the same way (the notifier's Alertmanager configs). `owner` names the job
/// or block in logs.
pub fn http_client_settings(
    hc: &HttpClientConfig,
    owner: &str,
) -> (Option<BasicAuth>, Option<Authorization>, TlsSettings) {
    let basic_auth = hc.basic_auth.as_ref().map(|b| {
        let username = if b.username_file.is_empty() {
            b.username.clone()
        } else {
            match std::fs::read_to_string(&b.username_file) {
                Ok(u) => u.trim().to_string(),
                Err(e) => {
                    tracing::error!(job = %owner, file = %b.username_file, error = %e, "reading basic_auth username_file");
                    String::new()
                }
            }
        };
        let password = if !b.password_file.is_empty() {
            Some(Secret::File(PathBuf::from(&b.password_file)))
        } else if !b.password.is_empty() {
            Some(Secret::Inline(b.password.expose().to_string()))
        } else {
            None
        };
        BasicAuth { username, password }
    });
    // Validation already moved bearer_token(_file) into authorization; handle both anyway.
    let authorization = if let Some(a) = &hc.authorization {
        let credentials = if !a.credentials_file.is_empty() {
            Some(Secret::File(PathBuf::from(&a.credentials_file)))
        } else if !a.credentials.is_empty() {
            Some(Secret::Inline(a.credentials.expose().to_string()))
        } else {
            None
        };
        let kind = if a.kind.is_empty() { "Bearer".to_string() } else { a.kind.clone() };
        credentials.map(|credentials| Authorization { kind, credentials })
    } else if !hc.bearer_token_file.is_empty() {
        Some(Authorization { kind: "Bearer".into(), credentials: Secret::File(PathBuf::from(&hc.bearer_token_file)) })
    } else if !hc.bearer_token.is_empty() {
        Some(Authorization { kind: "Bearer".into(), credentials: Secret::Inline(hc.bearer_token.expose().to_string()) })
    } else {
        None
    };
    let t = &hc.tls_config;
    let tls = TlsSettings {
        ca_file: path(&t.ca_file),
        ca: (!t.ca.is_empty()).then(|| t.ca.clone()),
        cert_file: path(&t.cert_file),
        cert: (!t.cert.is_empty()).then(|| t.cert.clone()),
        key_file: path(&t.key_file),
        key: (!t.key.is_empty()).then(|| Secret::Inline(t.key.expose().to_string())),
        min_version: t.min_version.map(tls_version),
        max_version: t.max_version.map(tls_version),
        insecure_skip_verify: t.insecure_skip_verify,
    };
    (basic_auth, authorization, tls)
}

/// One scrape config as a `ScrapeJob`.
pub fn scrape_job(sc: &ScrapeConfig) -> ScrapeJob {
    let hc = &sc.http_client;
    let (basic_auth, authorization, tls) = http_client_settings(hc, &sc.job_name);
    let static_groups = sc
        .static_configs
        .iter()
        .enumerate()
        .map(|(i, s)| {
            TargetGroup::from_addresses(
                i.to_string(),
                &s.targets,
                oxeye_model::Labels::from_pairs(s.labels.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
            )
        })
        .collect();
    let file_sd = sc
        .file_sd_configs
        .iter()
        .map(|f| FileSdConfig { files: f.files.clone(), refresh_interval: f.refresh_interval.0 })
        .collect();
    let as_usize = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
    ScrapeJob {
        job_name: sc.job_name.clone(),
        scrape_interval: sc.scrape_interval.0,
        scrape_timeout: sc.scrape_timeout.0,
        metrics_path: sc.metrics_path.clone(),
        scheme: sc.scheme.clone(),
        params: sc.params.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        honor_labels: sc.honor_labels,
        honor_timestamps: sc.honor_timestamps,
        track_timestamps_staleness: sc.track_timestamps_staleness,
        enable_compression: sc.enable_compression,
        body_size_limit: sc.body_size_limit.0,
        sample_limit: as_usize(sc.sample_limit),
        target_limit: as_usize(sc.target_limit),
        label_limit: as_usize(sc.label_limit),
        label_name_length_limit: as_usize(sc.label_name_length_limit),
        label_value_length_limit: as_usize(sc.label_value_length_limit),
        keep_dropped_targets: as_usize(sc.keep_dropped_targets),
        accept_header: Some(accept_header(&sc.scrape_protocols, &sc.metric_name_escaping_scheme)),
        fallback_format: sc.fallback_scrape_protocol.as_deref().and_then(fallback_format),
        relabel_configs: sc.relabel_configs.clone(),
        metric_relabel_configs: sc.metric_relabel_configs.clone(),
        basic_auth,
        authorization,
        tls,
        follow_redirects: hc.follow_redirects,
        discovery: JobDiscovery { static_groups, file_sd },
        kubernetes_sd: sc.kubernetes_sd_configs.clone(),
    }
}

/// Every scrape config of `cfg` as a `ScrapeJob`.
fn tls_version(v: oxeye_config::TlsVersion) -> reqwest::tls::Version {
    use oxeye_config::TlsVersion;
    match v {
        TlsVersion::Tls10 => reqwest::tls::Version::TLS_1_0,
        TlsVersion::Tls11 => reqwest::tls::Version::TLS_1_1,
        TlsVersion::Tls12 => reqwest::tls::Version::TLS_1_2,
        TlsVersion::Tls13 => reqwest::tls::Version::TLS_1_3,
    }
}

pub fn scrape_jobs(cfg: &Config) -> Vec<ScrapeJob> {
    cfg.scrape_configs.iter().map(scrape_job).collect()
}

/// The discovery configuration per job, for `DiscoveryManager::apply_config`.
pub fn discovery_config(jobs: &[ScrapeJob]) -> BTreeMap<String, JobDiscoveryConfig> {
    jobs.iter()
        .map(|j| {
            let cfg = JobDiscoveryConfig { discovery: j.discovery.clone(), kubernetes_sd: j.kubernetes_sd.clone() };
            (j.job_name.clone(), cfg)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_protocols_give_prometheus_accept_header() {
        let protocols: Vec<String> =
            ["OpenMetricsText1.0.0", "OpenMetricsText0.0.1", "PrometheusText1.0.0", "PrometheusText0.0.4"]
                .map(String::from)
                .to_vec();
        assert_eq!(accept_header(&protocols, "allow-utf-8"), oxeye_textparse::ACCEPT_HEADER);
    }

    #[test]
    fn converts_a_loaded_config() {
        let cfg = oxeye_config::load_str(
            "global:\n  scrape_interval: 5s\nscrape_configs:\n  - job_name: a\n    basic_auth: {username: u, password: p}\n    sample_limit: 10\n    static_configs:\n      - targets: ['h:1']\n        labels: {env: x}\n",
            "test",
        )
        .unwrap();
        let jobs = scrape_jobs(&cfg);
        let j = &jobs[0];
        assert_eq!(j.scrape_interval, std::time::Duration::from_secs(5));
        assert_eq!(j.sample_limit, 10);
        assert_eq!(j.basic_auth.as_ref().unwrap().username, "u");
        assert_eq!(j.discovery.static_groups[0].targets[0].get("__address__"), "h:1");
        assert_eq!(j.discovery.static_groups[0].labels.get("env"), "x");
    }
}
