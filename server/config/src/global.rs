//! The `global` block: default scrape and evaluation intervals, external labels, default limits
//! and scrape protocols, with Prometheus 3.x defaults (`scrape_interval` 1m, `scrape_timeout`
//! 10s capped at the interval, `evaluation_interval` 1m, `utf8` name validation).

use std::collections::BTreeMap;
use std::time::Duration;

use oxeye_model::{Labels, NameValidationScheme};
use serde::{Deserialize, Serialize};

use crate::error::Issue;
use crate::values::{ByteSize, PromDuration, is_zero_u64, with_unsupported_fields};

pub const DEFAULT_SCRAPE_INTERVAL: Duration = Duration::from_secs(60);
pub const DEFAULT_SCRAPE_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_EVALUATION_INTERVAL: Duration = Duration::from_secs(60);

/// The scrape protocols Prometheus 3.x can negotiate, and their `Accept` media types.
pub const SCRAPE_PROTOCOLS: [(&str, &str); 5] = [
    ("OpenMetricsText0.0.1", "application/openmetrics-text;version=0.0.1"),
    ("OpenMetricsText1.0.0", "application/openmetrics-text;version=1.0.0"),
    ("PrometheusProto", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"),
    ("PrometheusText0.0.4", "text/plain;version=0.0.4"),
    ("PrometheusText1.0.0", "text/plain;version=1.0.0"),
];

/// Offered to targets when neither the job nor `global` sets `scrape_protocols`.
pub const DEFAULT_SCRAPE_PROTOCOLS: [&str; 4] =
    ["OpenMetricsText1.0.0", "OpenMetricsText0.0.1", "PrometheusText1.0.0", "PrometheusText0.0.4"];

/// The escaping schemes of `metric_name_escaping_scheme`.
pub const ESCAPING_SCHEMES: [&str; 4] = ["allow-utf-8", "underscores", "dots", "values"];

with_unsupported_fields! {
    /// `global`. After loading, intervals and the validation scheme are resolved.
    #[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
    #[serde(deny_unknown_fields, default)]
    pub struct GlobalConfig {
        pub scrape_interval: PromDuration,
        pub scrape_timeout: PromDuration,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub scrape_protocols: Option<Vec<String>>,
        pub evaluation_interval: PromDuration,
        #[serde(skip_serializing_if = "PromDuration::is_zero")]
        pub rule_query_offset: PromDuration,
        #[serde(skip_serializing_if = "String::is_empty")]
        pub query_log_file: String,
        #[serde(skip_serializing_if = "BTreeMap::is_empty")]
        pub external_labels: BTreeMap<String, String>,
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
        /// `utf8` (the default) or `legacy`.
        #[serde(skip_serializing_if = "String::is_empty")]
        pub metric_name_validation_scheme: String,
        /// `allow-utf-8`, `underscores`, `dots` or `values`; empty follows the validation scheme.
        #[serde(skip_serializing_if = "String::is_empty")]
        pub metric_name_escaping_scheme: String,
    }
    unsupported: [
        scrape_failure_log_file,
        scrape_native_histograms,
        convert_classic_histograms_to_nhcb,
        always_scrape_classic_histograms,
        extra_scrape_metrics,
    ]
}

impl GlobalConfig {
    /// The resolved defaults Prometheus starts from when `global` is absent.
    pub fn resolved_default() -> GlobalConfig {
        let mut g = GlobalConfig::default();
        // Validating the empty block cannot fail; it only fills in the defaults.
        let _ = g.resolve(&mut |k, _| std::env::var(k).ok());
        g
    }

    /// The validation scheme in force (after loading, never empty).
    pub fn name_validation_scheme(&self) -> NameValidationScheme {
        NameValidationScheme::parse(&self.metric_name_validation_scheme).unwrap_or_default()
    }

    /// The external labels as a label set.
    pub fn external_labels(&self) -> Labels {
        Labels::from_pairs(self.external_labels.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }

    /// Applies defaults and Prometheus's checks (`GlobalConfig.UnmarshalYAML` and the external
    /// label expansion of `config.Load`). `env` looks environment variables up.
    pub(crate) fn resolve(&mut self, env: &mut dyn FnMut(&str, &str) -> Option<String>) -> Result<(), Issue> {
        match self.metric_name_validation_scheme.as_str() {
            "" => self.metric_name_validation_scheme = "utf8".to_string(),
            "utf8" | "legacy" => {}
            other => {
                return Err(Issue::invalid(
                    "global.metric_name_validation_scheme",
                    format!(
                        "unknown global name validation method specified, must be either '', 'legacy' or 'utf8', got {other}"
                    ),
                ));
            }
        }
        let scheme = self.name_validation_scheme();
        match self.metric_name_escaping_scheme.as_str() {
            "" => {}
            s if ESCAPING_SCHEMES.contains(&s) => {}
            other => {
                return Err(Issue::invalid(
                    "global.metric_name_escaping_scheme",
                    format!(
                        "unknown global name escaping method specified, must be one of 'allow-utf-8', 'underscores', 'dots', or 'values', got {other:?}"
                    ),
                ));
            }
        }
        for name in self.external_labels.keys() {
            if !scheme.is_valid_label_name(name) {
                return Err(Issue::invalid(
                    format!("global.external_labels.{name}"),
                    format!("{name:?} is not a valid label name"),
                ));
            }
        }
        for (name, value) in self.external_labels.iter_mut() {
            *value = expand_env(value, &mut |var| env(var, name));
        }
        if self.scrape_interval.is_zero() {
            self.scrape_interval = PromDuration(DEFAULT_SCRAPE_INTERVAL);
        }
        if self.scrape_timeout > self.scrape_interval {
            return Err(Issue::invalid("global.scrape_timeout", "global scrape timeout greater than scrape interval"));
        }
        if self.scrape_timeout.is_zero() {
            self.scrape_timeout = PromDuration(DEFAULT_SCRAPE_TIMEOUT.min(self.scrape_interval.0));
        }
        if self.evaluation_interval.is_zero() {
            self.evaluation_interval = PromDuration(DEFAULT_EVALUATION_INTERVAL);
        }
        if let Some(protocols) = &self.scrape_protocols {
            validate_scrape_protocols(protocols)
                .map_err(|m| Issue::invalid("global.scrape_protocols", format!("{m} for global config")))?;
        }
        Ok(())
    }
}

/// `validateAcceptScrapeProtocols`.
pub(crate) fn validate_scrape_protocols(protocols: &[String]) -> Result<(), String> {
    if protocols.is_empty() {
        return Err("scrape_protocols cannot be empty".to_string());
    }
    let mut seen: Vec<String> = Vec::new();
    for p in protocols {
        let lower = p.to_lowercase();
        if seen.contains(&lower) {
            return Err(format!("duplicated protocol in scrape_protocols, got [{}]", protocols.join(" ")));
        }
        validate_scrape_protocol(p).map_err(|e| format!("scrape_protocols: {e}"))?;
        seen.push(lower);
    }
    Ok(())
}

/// `ScrapeProtocol.Validate`.
pub(crate) fn validate_scrape_protocol(p: &str) -> Result<(), String> {
    if SCRAPE_PROTOCOLS.iter().any(|(name, _)| *name == p) {
        return Ok(());
    }
    let names: Vec<&str> = SCRAPE_PROTOCOLS.iter().map(|(n, _)| *n).collect();
    Err(format!("unknown scrape protocol {p}, supported: [{}]", names.join(" ")))
}

/// Go's `os.Expand` as `config.Load` applies it to external label values: `$VAR` and `${VAR}`
/// are replaced (missing variables become empty), `$$` is a literal `$`.
pub(crate) fn expand_env(s: &str, lookup: &mut dyn FnMut(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    let mut start = 0;
    while i < b.len() {
        if b[i] == b'$' && i + 1 < b.len() {
            out.push_str(&s[start..i]);
            let (name, width) = shell_name(&s[i + 1..]);
            if name.is_empty() && width > 0 {
                // Invalid syntax such as `${}`: the characters are eaten, as in Go.
            } else if name.is_empty() || name == "$" {
                out.push('$');
            } else {
                out.push_str(&lookup(name).unwrap_or_default());
            }
            i += 1 + width;
            start = i;
        } else {
            i += 1;
        }
    }
    out.push_str(&s[start..]);
    out
}

/// Go's `getShellName`: the variable name after a `$` and how many bytes it spans.
fn shell_name(s: &str) -> (&str, usize) {
    let b = s.as_bytes();
    if b[0] == b'{' {
        if b.len() > 2 && is_shell_special(b[1]) && b[2] == b'}' {
            return (&s[1..2], 3);
        }
        for i in 1..b.len() {
            if b[i] == b'}' {
                if i == 1 {
                    return ("", 2);
                }
                return (&s[1..i], i + 1);
            }
        }
        return ("", 1);
    }
    if is_shell_special(b[0]) {
        return (&s[0..1], 1);
    }
    let end = b.iter().position(|c| !(c.is_ascii_alphanumeric() || *c == b'_')).unwrap_or(b.len());
    (&s[..end], end)
}

fn is_shell_special(c: u8) -> bool {
    matches!(c, b'*' | b'#' | b'$' | b'@' | b'!' | b'?' | b'-') || c.is_ascii_digit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_expansion_follows_go_os_expand() {
        let mut env = |k: &str| match k {
            "HOST" => Some("h1".to_string()),
            "1" => Some("one".to_string()),
            _ => None,
        };
        assert_eq!(expand_env("$HOST", &mut env), "h1");
        assert_eq!(expand_env("x-${HOST}-y", &mut env), "x-h1-y");
        assert_eq!(expand_env("$$HOST", &mut env), "$HOST");
        assert_eq!(expand_env("$MISSING!", &mut env), "!");
        assert_eq!(expand_env("a$", &mut env), "a$");
        assert_eq!(expand_env("a$ b", &mut env), "a$ b");
        assert_eq!(expand_env("${}x", &mut env), "x");
        assert_eq!(expand_env("$1x", &mut env), "onex");
        assert_eq!(expand_env("${unclosed", &mut env), "unclosed");
    }
}
