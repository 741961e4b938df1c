//! Command-line flags with Alertmanager 0.25's names and defaults (cmd/alertmanager/main.go),
//! and the `check-config` subcommand (amtool's). Cluster flags are accepted so existing unit
//! files keep working; joining peers is refused at startup because gossip is not implemented.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

pub use oxeye_telemetry::{LogFormat, LogLevel};

#[derive(Debug, Parser)]
#[command(
    name = "oxeye-alertmanager",
    version,
    about = "oxeye-alertmanager: an Alertmanager 0.25 compatible alert router",
    long_about = None
)]
pub struct Flags {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Alertmanager configuration file name.
    #[arg(long = "config.file", default_value = "alertmanager.yml")]
    pub config_file: PathBuf,

    /// Base path for data storage.
    #[arg(long = "storage.path", default_value = "data/")]
    pub storage_path: PathBuf,

    /// How long to keep data for.
    #[arg(long = "data.retention", default_value = "120h")]
    pub data_retention: String,

    /// Interval between garbage collection and snapshotting to disk of the silences and the
    /// notification logs.
    #[arg(long = "data.maintenance-interval", default_value = "15m")]
    pub maintenance_interval: String,

    /// Interval between alert GC.
    #[arg(long = "alerts.gc-interval", default_value = "30m")]
    pub gc_interval: String,

    /// Address on which to expose metrics and the API.
    #[arg(long = "web.listen-address", default_value = ":9093")]
    pub listen_address: String,

    /// The URL under which Alertmanager is externally reachable (for example, if Alertmanager
    /// is served via a reverse proxy). Used for generating links back to Alertmanager itself.
    /// If the URL has a path portion, it prefixes all HTTP endpoints.
    #[arg(long = "web.external-url")]
    pub external_url: Option<String>,

    /// Prefix for the internal routes of web endpoints. Defaults to path of --web.external-url.
    #[arg(long = "web.route-prefix")]
    pub route_prefix: Option<String>,

    /// Timeout for HTTP requests (accepted; 0 means none).
    #[arg(long = "web.timeout", default_value = "0")]
    pub web_timeout: String,

    /// Maximum number of GET requests processed concurrently (accepted, not enforced).
    #[arg(long = "web.get-concurrency", default_value_t = 0)]
    pub web_get_concurrency: i64,

    /// Listen address for cluster. Set to empty string to disable HA mode.
    #[arg(long = "cluster.listen-address", default_value = "0.0.0.0:9094")]
    pub cluster_listen_address: String,

    /// Explicit address to advertise in cluster.
    #[arg(long = "cluster.advertise-address")]
    pub cluster_advertise_address: Option<String>,

    /// Initial peers (may be repeated). Not supported: Oxeye refuses to start with peers.
    #[arg(long = "cluster.peer")]
    pub cluster_peer: Vec<String>,

    /// Time to wait between peers to send notifications.
    #[arg(long = "cluster.peer-timeout", default_value = "15s")]
    pub cluster_peer_timeout: String,

    /// Interval between sending gossip messages.
    #[arg(long = "cluster.gossip-interval", default_value = "200ms")]
    pub cluster_gossip_interval: String,

    /// Interval for gossip state syncs.
    #[arg(long = "cluster.pushpull-interval", default_value = "1m0s")]
    pub cluster_pushpull_interval: String,

    /// Timeout for establishing a stream connection with a remote node.
    #[arg(long = "cluster.tcp-timeout", default_value = "10s")]
    pub cluster_tcp_timeout: String,

    /// Timeout to wait for an ack from a probed node before assuming it is unhealthy.
    #[arg(long = "cluster.probe-timeout", default_value = "500ms")]
    pub cluster_probe_timeout: String,

    /// Interval between random node probes.
    #[arg(long = "cluster.probe-interval", default_value = "1s")]
    pub cluster_probe_interval: String,

    /// Maximum time to wait for cluster connections to settle before evaluating notifications.
    #[arg(long = "cluster.settle-timeout", default_value = "1m0s")]
    pub cluster_settle_timeout: String,

    /// Interval between attempting to reconnect to lost peers.
    #[arg(long = "cluster.reconnect-interval", default_value = "10s")]
    pub cluster_reconnect_interval: String,

    /// Length of time to attempt to reconnect to a lost peer.
    #[arg(long = "cluster.reconnect-timeout", default_value = "6h0m0s")]
    pub cluster_reconnect_timeout: String,

    /// Path to config yaml file that can enable mutual TLS within the gossip protocol.
    #[arg(long = "cluster.tls-config", default_value = "")]
    pub cluster_tls_config: String,

    /// Allow alertmanager to discover and listen on a public IP address.
    #[arg(long = "cluster.allow-insecure-public-advertise-address-discovery", default_value_t = false)]
    pub cluster_allow_public_advertise: bool,

    /// The cluster label, an optional string to include on each packet and stream.
    #[arg(long = "cluster.label", default_value = "")]
    pub cluster_label: String,

    /// Only log messages with the given severity or above.
    #[arg(long = "log.level", value_enum, default_value_t = LogLevel::Info)]
    pub log_level: LogLevel,

    /// Output format of log messages.
    #[arg(long = "log.format", value_enum, default_value_t = LogFormat::Logfmt)]
    pub log_format: LogFormat,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate alertmanager config files (like `amtool check-config`).
    #[command(name = "check-config")]
    CheckConfig {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// Durations the flags carry, parsed once.
#[derive(Debug, Clone)]
pub struct Durations {
    pub data_retention: Duration,
    pub maintenance_interval: Duration,
    pub gc_interval: Duration,
}

impl Flags {
    pub fn durations(&self) -> Result<Durations, String> {
        Ok(Durations {
            data_retention: parse_go_duration("data.retention", &self.data_retention)?,
            maintenance_interval: parse_go_duration("data.maintenance-interval", &self.maintenance_interval)?,
            gc_interval: parse_go_duration("alerts.gc-interval", &self.gc_interval)?,
        })
    }

    /// Checks the flags Oxeye accepts but cannot honour, and the cluster durations' syntax.
    pub fn validate(&self) -> Result<(), String> {
        if !self.cluster_peer.is_empty() {
            return Err(format!(
                "clustering is not supported by Oxeye yet: --cluster.peer {} given; run a single instance \
                 (drop --cluster.peer) or keep Alertmanager for HA pairs",
                self.cluster_peer.join(",")
            ));
        }
        for (name, v) in [
            ("cluster.peer-timeout", &self.cluster_peer_timeout),
            ("cluster.gossip-interval", &self.cluster_gossip_interval),
            ("cluster.pushpull-interval", &self.cluster_pushpull_interval),
            ("cluster.tcp-timeout", &self.cluster_tcp_timeout),
            ("cluster.probe-timeout", &self.cluster_probe_timeout),
            ("cluster.probe-interval", &self.cluster_probe_interval),
            ("cluster.settle-timeout", &self.cluster_settle_timeout),
            ("cluster.reconnect-interval", &self.cluster_reconnect_interval),
            ("cluster.reconnect-timeout", &self.cluster_reconnect_timeout),
            ("web.timeout", &self.web_timeout),
        ] {
            parse_go_duration(name, v)?;
        }
        if !self.cluster_tls_config.is_empty() {
            return Err("--cluster.tls-config: clustering is not supported by Oxeye yet".into());
        }
        Ok(())
    }

    /// The route prefix as Alertmanager computes it: `--web.route-prefix`, else the path of
    /// `--web.external-url`; "/" or "/path" without trailing slash.
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

/// The path part of a URL such as `http://host:9093/alertmanager/`.
fn external_url_path(u: &str) -> String {
    let after_scheme = u.split_once("://").map(|(_, r)| r).unwrap_or(u);
    match after_scheme.find('/') {
        Some(i) => after_scheme[i..].split(['?', '#']).next().unwrap_or("").to_string(),
        None => String::new(),
    }
}

/// Parses a Go `time.ParseDuration` string (kingpin's Duration flags): a sequence of decimal
/// numbers with units ns, us/µs, ms, s, m, h (e.g. "1m0s", "1.5h", "200ms"), or "0". The
/// Prometheus day/week/year units are accepted too (`--data.retention=5d`).
pub fn parse_go_duration(flag: &str, s: &str) -> Result<Duration, String> {
    let err = || format!("--{flag}: invalid duration {s:?}");
    let t = s.trim();
    if t == "0" {
        return Ok(Duration::ZERO);
    }
    if t.is_empty() || t.starts_with('-') {
        return Err(err());
    }
    let mut rest = t.strip_prefix('+').unwrap_or(t);
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if num_len == 0 {
            return Err(err());
        }
        let n: f64 = rest[..num_len].parse().map_err(|_| err())?;
        rest = &rest[num_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let secs = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            "w" => 7.0 * 86400.0,
            "y" => 365.0 * 86400.0,
            _ => return Err(err()),
        };
        rest = &rest[unit_len..];
        total += n * secs;
    }
    Duration::try_from_secs_f64(total).map_err(|_| err())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alertmanager_defaults() {
        let f = Flags::try_parse_from(["oxeye-alertmanager"]).unwrap();
        assert_eq!(f.config_file, PathBuf::from("alertmanager.yml"));
        assert_eq!(f.storage_path, PathBuf::from("data/"));
        assert_eq!(f.listen_address, ":9093");
        assert_eq!(f.cluster_listen_address, "0.0.0.0:9094");
        let d = f.durations().unwrap();
        assert_eq!(d.data_retention, Duration::from_secs(120 * 3600));
        assert_eq!(d.gc_interval, Duration::from_secs(1800));
        assert!(f.validate().is_ok());
        assert_eq!(f.route_prefix(), "/");
    }

    #[test]
    fn peers_are_refused_clearly() {
        let f =
            Flags::try_parse_from(["oxeye-alertmanager", "--cluster.peer=a:9094", "--cluster.peer", "b:9094"]).unwrap();
        let e = f.validate().unwrap_err();
        assert!(e.contains("clustering is not supported by Oxeye yet"), "{e}");
        let f = Flags::try_parse_from(["oxeye-alertmanager", "--cluster.listen-address="]).unwrap();
        assert_eq!(f.cluster_listen_address, "");
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("x", "6h0m0s").unwrap(), Duration::from_secs(6 * 3600));
        assert_eq!(parse_go_duration("x", "200ms").unwrap(), Duration::from_millis(200));
        assert_eq!(parse_go_duration("x", "1.5h").unwrap(), Duration::from_secs(5400));
        assert!(parse_go_duration("x", "5 minutes").is_err());
        assert!(parse_go_duration("x", "").is_err());
    }

    #[test]
    fn route_prefix_follows_the_external_url() {
        let f = Flags::try_parse_from(["oxeye-alertmanager", "--web.external-url=http://h:9093/am/"]).unwrap();
        assert_eq!(f.route_prefix(), "/am");
        let f = Flags::try_parse_from(["oxeye-alertmanager", "--web.route-prefix=x/"]).unwrap();
        assert_eq!(f.route_prefix(), "/x");
    }
}
