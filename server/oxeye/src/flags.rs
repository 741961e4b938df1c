//! Command-line flags with Prometheus's names (`--config.file`, `--storage.tsdb.path`, ...), and
//! the subcommands (`check config`, `test promql`). Flags Prometheus has and Oxeye lacks are
//! rejected by the parser with their name, never ignored.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

pub use oxeye_telemetry::{LogFormat, LogLevel};

pub const DEFAULT_CONFIG_FILE: &str = "prometheus.yml";

#[derive(Debug, Parser)]
#[command(name = "oxeye", version, about = "Oxeye: a Prometheus-compatible monitoring server", long_about = None)]
pub struct Flags {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Prometheus configuration file path. When the flag is not given and the file does not
    /// exist, Oxeye starts with its embedded default configuration (it scrapes itself).
    #[arg(long = "config.file", value_name = "FILE")]
    pub config_file: Option<PathBuf>,

    /// Oxeye extension: read the configuration from this Kubernetes Secret (as oxeye-operator
    /// writes it), watched through the API and reloaded as soon as it changes. The namespace
    /// defaults to the pod's (or the kubeconfig context's). Excludes --config.file.
    #[arg(long = "config.kubernetes-secret", value_name = "[NAMESPACE/]NAME", conflicts_with = "config_file")]
    pub config_secret: Option<String>,

    /// Directory the Secret's keys are written to (default: kubernetes-secret-config under
    /// --storage.tsdb.path). Relative paths in the configuration resolve against it.
    #[arg(long = "config.kubernetes-secret.dir", value_name = "DIR")]
    pub config_secret_dir: Option<PathBuf>,

    /// Base path for metrics storage.
    #[arg(long = "storage.tsdb.path", default_value = "data/")]
    pub tsdb_path: PathBuf,

    /// How long to retain samples in storage (15d when neither retention flag is set).
    #[arg(long = "storage.tsdb.retention.time")]
    pub retention_time: Option<String>,

    /// Maximum number of bytes that can be stored for blocks, e.g. 512MB (units base 2: KB = 1024).
    #[arg(long = "storage.tsdb.retention.size")]
    pub retention_size: Option<String>,

    /// Address to listen on for UI, API, and telemetry.
    #[arg(long = "web.listen-address", default_value = "0.0.0.0:9090")]
    pub listen_address: String,

    /// Enable shutdown and reload via HTTP request.
    #[arg(long = "web.enable-lifecycle", default_value_t = false)]
    pub enable_lifecycle: bool,

    /// The URL under which Oxeye is externally reachable. Its path becomes the route prefix
    /// unless --web.route-prefix is given.
    #[arg(long = "web.external-url")]
    pub external_url: Option<String>,

    /// Prefix for the internal routes of web endpoints (defaults to the external URL's path).
    #[arg(long = "web.route-prefix")]
    pub route_prefix: Option<String>,

    /// The maximum lookback duration for retrieving metrics during expression evaluations.
    #[arg(long = "query.lookback-delta", default_value = "5m")]
    pub lookback_delta: String,

    /// Maximum time a query may take before being aborted.
    #[arg(long = "query.timeout", default_value = "2m")]
    pub query_timeout: String,

    /// Maximum number of samples a single query can load into memory.
    #[arg(long = "query.max-samples", default_value_t = 50_000_000)]
    pub query_max_samples: usize,

    /// Maximum number of queries executed concurrently.
    #[arg(long = "query.max-concurrency", default_value_t = 20)]
    pub query_max_concurrency: usize,

    /// Max time to tolerate a Prometheus outage for restoring the "for" state of alerts.
    #[arg(long = "rules.alert.for-outage-tolerance", default_value = "1h")]
    pub for_outage_tolerance: String,

    /// Minimum duration between alert and restored "for" state, maintained only for alerts
    /// with a configured "for" time greater than the grace period.
    #[arg(long = "rules.alert.for-grace-period", default_value = "10m")]
    pub for_grace_period: String,

    /// Minimum amount of time to wait before resending an alert to Alertmanager.
    #[arg(long = "rules.alert.resend-delay", default_value = "1m")]
    pub resend_delay: String,

    /// The capacity of the queue for pending Alertmanager notifications.
    #[arg(long = "alertmanager.notification-queue-capacity", default_value_t = 10_000)]
    pub notification_queue_capacity: usize,

    /// Send any outstanding Alertmanager notifications when shutting down. If false, any
    /// outstanding Alertmanager notifications will be lost when shutting down.
    #[arg(long = "alertmanager.drain-notification-queue-on-shutdown", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub drain_notification_queue: bool,

    /// Only log messages with the given severity or above.
    #[arg(long = "log.level", value_enum, default_value_t = LogLevel::Info)]
    pub log_level: LogLevel,

    /// Output format of log messages.
    #[arg(long = "log.format", value_enum, default_value_t = LogFormat::Logfmt)]
    pub log_format: LogFormat,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the resources for validity (like `promtool check`).
    Check {
        #[command(subcommand)]
        what: CheckCommand,
    },
    /// Run test scripts (like `promtool test`).
    Test {
        #[command(subcommand)]
        what: TestCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum CheckCommand {
    /// Check if the config files are valid.
    Config {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Check if the rule files are valid (like `promtool check rules`).
    Rules {
        /// Linting checks to apply: "duplicate-rules" (the default) or "none".
        #[arg(long = "lint", default_value = "duplicate-rules")]
        lint: String,
        /// Make lint errors exit with exit code 3.
        #[arg(long = "lint-fatal", default_value_t = false)]
        lint_fatal: bool,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum TestCommand {
    /// Run PromQL test scripts (Prometheus's promqltest `.test` format) from files or directories.
    Promql {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Run unit tests for rules (`promtool test rules` files).
    Rules {
        /// Only run the test groups whose name matches this regular expression.
        #[arg(long = "run")]
        run: Vec<String>,
        /// Print the difference between expected and actual alerts and samples.
        #[arg(long = "diff", default_value_t = false)]
        diff: bool,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

impl Flags {
    /// Every flag with its effective value, keyed by Prometheus's flag name, for
    /// `/api/v1/status/flags`.
    pub fn as_map(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        let cfg = self.config_file.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG_FILE));
        m.insert("config.file".into(), cfg.display().to_string());
        m.insert("config.kubernetes-secret".into(), self.config_secret.clone().unwrap_or_default());
        m.insert("config.kubernetes-secret.dir".into(), self.config_secret_dir().display().to_string());
        m.insert("storage.tsdb.path".into(), self.tsdb_path.display().to_string());
        m.insert("storage.tsdb.retention.time".into(), self.retention_time.clone().unwrap_or_else(|| "0s".into()));
        m.insert("storage.tsdb.retention.size".into(), self.retention_size.clone().unwrap_or_else(|| "0B".into()));
        m.insert("web.listen-address".into(), self.listen_address.clone());
        m.insert("web.enable-lifecycle".into(), self.enable_lifecycle.to_string());
        m.insert("web.external-url".into(), self.external_url.clone().unwrap_or_default());
        m.insert("web.route-prefix".into(), self.route_prefix());
        m.insert("query.lookback-delta".into(), self.lookback_delta.clone());
        m.insert("query.timeout".into(), self.query_timeout.clone());
        m.insert("query.max-samples".into(), self.query_max_samples.to_string());
        m.insert("query.max-concurrency".into(), self.query_max_concurrency.to_string());
        m.insert("rules.alert.for-outage-tolerance".into(), self.for_outage_tolerance.clone());
        m.insert("rules.alert.for-grace-period".into(), self.for_grace_period.clone());
        m.insert("rules.alert.resend-delay".into(), self.resend_delay.clone());
        m.insert("alertmanager.notification-queue-capacity".into(), self.notification_queue_capacity.to_string());
        m.insert("alertmanager.drain-notification-queue-on-shutdown".into(), self.drain_notification_queue.to_string());
        m.insert("log.level".into(), format!("{:?}", self.log_level).to_lowercase());
        m.insert("log.format".into(), format!("{:?}", self.log_format).to_lowercase());
        m
    }
}

impl Flags {
    /// Where the configuration Secret's keys are written.
    pub fn config_secret_dir(&self) -> PathBuf {
        self.config_secret_dir.clone().unwrap_or_else(|| self.tsdb_path.join("kubernetes-secret-config"))
    }

    /// The route prefix as Prometheus computes it: `--web.route-prefix`, else the path of
    /// `--web.external-url`, normalized to start with `/` and end without one ("/" for none).
    pub fn route_prefix(&self) -> String {
        let raw = match (&self.route_prefix, &self.external_url) {
            (Some(p), _) => p.clone(),
            (None, Some(u)) => external_url_path(u),
            (None, None) => String::new(),
        };
        let trimmed = raw.trim_end_matches('/');
        if trimmed.is_empty() {
            "/".to_string()
        } else if trimmed.starts_with('/') {
            trimmed.to_string()
        } else {
            format!("/{trimmed}")
        }
    }
}

/// The path part of a URL such as `http://host:9090/prometheus/`.
fn external_url_path(u: &str) -> String {
    let after_scheme = u.split_once("://").map(|(_, r)| r).unwrap_or(u);
    match after_scheme.find('/') {
        Some(i) => after_scheme[i..].split(['?', '#']).next().unwrap_or("").to_string(),
        None => String::new(),
    }
}

/// Parses a size with Prometheus's base-2 units (`units.Base2Bytes`): B, KB, MB, GB, TB, PB, EB
/// (KB = 1024), also KiB-style suffixes.
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().map_err(|_| format!("invalid size {s:?}"))?;
    let mult: u64 = match unit {
        "" | "B" => 1,
        "KB" | "KiB" => 1 << 10,
        "MB" | "MiB" => 1 << 20,
        "GB" | "GiB" => 1 << 30,
        "TB" | "TiB" => 1 << 40,
        "PB" | "PiB" => 1 << 50,
        "EB" | "EiB" => 1 << 60,
        _ => return Err(format!("invalid size {s:?}: unknown unit {unit:?}")),
    };
    n.checked_mul(mult).ok_or_else(|| format!("invalid size {s:?}: overflows"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_flag_names_parse() {
        let f = Flags::try_parse_from([
            "oxeye",
            "--config.file=x.yml",
            "--storage.tsdb.path",
            "/tmp/d",
            "--web.enable-lifecycle",
            "--query.max-samples=10",
            "--log.format=json",
        ])
        .unwrap();
        assert_eq!(f.config_file.unwrap(), PathBuf::from("x.yml"));
        assert!(f.enable_lifecycle);
        assert_eq!(f.query_max_samples, 10);
        assert_eq!(f.log_format, LogFormat::Json);
        let f = Flags::try_parse_from([
            "oxeye",
            "--rules.alert.resend-delay=10s",
            "--alertmanager.notification-queue-capacity=5",
            "--alertmanager.drain-notification-queue-on-shutdown=false",
        ])
        .unwrap();
        assert_eq!(f.resend_delay, "10s");
        assert_eq!(f.notification_queue_capacity, 5);
        assert!(!f.drain_notification_queue);
        assert!(Flags::try_parse_from(["oxeye"]).unwrap().drain_notification_queue);
    }

    #[test]
    fn unknown_flag_is_an_error() {
        assert!(Flags::try_parse_from(["oxeye", "--storage.remote.flush-deadline=1m"]).is_err());
    }

    #[test]
    fn route_prefix_follows_the_external_url() {
        let f = Flags::try_parse_from(["oxeye", "--web.external-url=http://h:9090/prom/"]).unwrap();
        assert_eq!(f.route_prefix(), "/prom");
        let f = Flags::try_parse_from(["oxeye", "--web.external-url=http://h:9090", "--web.route-prefix=x"]).unwrap();
        assert_eq!(f.route_prefix(), "/x");
        let f = Flags::try_parse_from(["oxeye"]).unwrap();
        assert_eq!(f.route_prefix(), "/");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("512MB").unwrap(), 512 << 20);
        assert_eq!(parse_bytes("1GB").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("100").unwrap(), 100);
        assert!(parse_bytes("1XB").is_err());
    }
}
