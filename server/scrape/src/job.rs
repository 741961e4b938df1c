//! `ScrapeJob`: everything the scrape side needs from one `scrape_configs` entry, with global
//! defaults already applied. The conversion from `oxeye-config` lives in `config.rs`; the rest of
//! the crate depends only on this type.

use std::path::PathBuf;
use std::time::Duration;

use oxeye_model::relabel::RelabelConfig;

use crate::discovery::JobDiscovery;

/// A secret given inline or by file (read at every scrape, so rotated files take effect).
#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    Inline(String),
    File(PathBuf),
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Secret::Inline(_) => f.write_str("<secret>"),
            Secret::File(p) => write!(f, "File({})", p.display()),
        }
    }
}

impl Secret {
    /// The secret's value; file contents are trimmed of surrounding whitespace as Prometheus does.
    pub fn read(&self) -> std::io::Result<String> {
        match self {
            Secret::Inline(s) => Ok(s.clone()),
            Secret::File(p) => Ok(std::fs::read_to_string(p)?.trim().to_string()),
        }
    }
}

/// `basic_auth`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasicAuth {
    pub username: String,
    pub password: Option<Secret>,
}

/// `authorization` (and the older `bearer_token` / `bearer_token_file`, which are `Bearer`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// Defaults to `Bearer`.
    pub kind: String,
    pub credentials: Secret,
}

/// `tls_config`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsSettings {
    pub ca_file: Option<PathBuf>,
    /// Inline CA certificate (PEM).
    pub ca: Option<String>,
    pub cert_file: Option<PathBuf>,
    /// Inline client certificate (PEM).
    pub cert: Option<String>,
    pub key_file: Option<PathBuf>,
    /// Inline client key (PEM).
    pub key: Option<Secret>,
    /// `min_version` / `max_version`; rustls speaks TLS 1.2 and 1.3 only.
    pub min_version: Option<reqwest::tls::Version>,
    pub max_version: Option<reqwest::tls::Version>,
    pub insecure_skip_verify: bool,
}

/// One scrape job, defaults resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct ScrapeJob {
    pub job_name: String,
    pub scrape_interval: Duration,
    pub scrape_timeout: Duration,
    pub metrics_path: String,
    pub scheme: String,
    /// `params`, in the config's order.
    pub params: Vec<(String, Vec<String>)>,
    pub honor_labels: bool,
    pub honor_timestamps: bool,
    /// Write staleness markers for series with explicit timestamps too.
    pub track_timestamps_staleness: bool,
    pub enable_compression: bool,
    /// Bytes of uncompressed body; 0 means no limit.
    pub body_size_limit: u64,
    /// 0 means no limit.
    pub sample_limit: usize,
    /// More active targets than this fail every scrape of the job; 0 means no limit.
    pub target_limit: usize,
    pub label_limit: usize,
    pub label_name_length_limit: usize,
    pub label_value_length_limit: usize,
    /// How many dropped targets to keep for the API; 0 keeps all.
    pub keep_dropped_targets: usize,
    /// `Accept` header to send; `None` uses the Prometheus 3 default from `oxeye-textparse`.
    pub accept_header: Option<String>,
    /// How to parse a response without a Content-Type (`fallback_scrape_protocol`); `None`
    /// fails such scrapes, as Prometheus 3 does.
    pub fallback_format: Option<oxeye_textparse::Format>,
    pub relabel_configs: Vec<RelabelConfig>,
    pub metric_relabel_configs: Vec<RelabelConfig>,
    pub basic_auth: Option<BasicAuth>,
    pub authorization: Option<Authorization>,
    pub tls: TlsSettings,
    pub follow_redirects: bool,
    pub discovery: JobDiscovery,
    /// `kubernetes_sd_configs`, run by the discovery manager next to `discovery`.
    pub kubernetes_sd: Vec<oxeye_config::KubernetesSdConfig>,
}

impl ScrapeJob {
    /// A job with Prometheus's defaults (1m interval, 10s timeout, `/metrics`, `http`).
    pub fn new(job_name: impl Into<String>) -> Self {
        ScrapeJob {
            job_name: job_name.into(),
            scrape_interval: Duration::from_secs(60),
            scrape_timeout: Duration::from_secs(10),
            metrics_path: "/metrics".into(),
            scheme: "http".into(),
            params: Vec::new(),
            honor_labels: false,
            honor_timestamps: true,
            track_timestamps_staleness: false,
            enable_compression: true,
            body_size_limit: 0,
            sample_limit: 0,
            target_limit: 0,
            label_limit: 0,
            label_name_length_limit: 0,
            label_value_length_limit: 0,
            keep_dropped_targets: 0,
            accept_header: None,
            fallback_format: None,
            relabel_configs: Vec::new(),
            metric_relabel_configs: Vec::new(),
            basic_auth: None,
            authorization: None,
            tls: TlsSettings::default(),
            follow_redirects: true,
            discovery: JobDiscovery::default(),
            kubernetes_sd: Vec::new(),
        }
    }

    /// Whether two versions of a job scrape the same way, ignoring how targets are discovered
    /// (discovery changes arrive as target updates and do not restart loops).
    pub fn same_scrape_settings(&self, other: &ScrapeJob) -> bool {
        let mut a = self.clone();
        a.discovery = other.discovery.clone();
        a == *other
    }
}
