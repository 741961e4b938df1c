//! The `global` block: `resolve_timeout`, the default `http_config`, SMTP settings and the
//! integrations' default API URLs and keys, with Alertmanager 0.25's defaults
//! (`DefaultGlobalConfig`). Integration configs inherit from it at load time.

use std::time::Duration;

use oxeye_config::{HttpClientConfig, Secret};
use serde::{Deserialize, Deserializer};

use crate::http::RawHttpConfig;
use crate::values::{HostPort, duration, secret_field, string_field, url_field, yaml11_bool};

pub const DEFAULT_RESOLVE_TIMEOUT: Duration = Duration::from_secs(5 * 60);
pub const DEFAULT_PAGERDUTY_URL: &str = "https://events.pagerduty.com/v2/enqueue";
pub const DEFAULT_OPSGENIE_API_URL: &str = "https://api.opsgenie.com/";
pub const DEFAULT_WECHAT_API_URL: &str = "https://qyapi.weixin.qq.com/cgi-bin/";
pub const DEFAULT_VICTOROPS_API_URL: &str = "https://alert.victorops.com/integrations/generic/20131114/alert/";
pub const DEFAULT_TELEGRAM_API_URL: &str = "https://api.telegram.org";
pub const DEFAULT_WEBEX_API_URL: &str = "https://webexapis.com/v1/messages";

/// `global`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GlobalConfig {
    /// How long an alert without `endsAt` stays firing after its last update.
    #[serde(deserialize_with = "duration")]
    pub resolve_timeout: Duration,
    /// The HTTP client settings of integrations that set no `http_config` of their own.
    #[serde(deserialize_with = "global_http_config")]
    pub http_config: HttpClientConfig,
    #[serde(deserialize_with = "opt_string")]
    pub smtp_from: Option<String>,
    #[serde(deserialize_with = "string_field")]
    pub smtp_hello: String,
    #[serde(deserialize_with = "opt_host_port")]
    pub smtp_smarthost: Option<HostPort>,
    #[serde(deserialize_with = "string_field")]
    pub smtp_auth_username: String,
    #[serde(deserialize_with = "secret_field")]
    pub smtp_auth_password: Secret,
    #[serde(deserialize_with = "string_field")]
    pub smtp_auth_password_file: String,
    #[serde(deserialize_with = "secret_field")]
    pub smtp_auth_secret: Secret,
    #[serde(deserialize_with = "string_field")]
    pub smtp_auth_identity: String,
    #[serde(deserialize_with = "yaml11_bool")]
    pub smtp_require_tls: bool,
    #[serde(deserialize_with = "opt_secret_url")]
    pub slack_api_url: Option<Secret>,
    #[serde(deserialize_with = "string_field")]
    pub slack_api_url_file: String,
    #[serde(deserialize_with = "url_field")]
    pub pagerduty_url: String,
    #[serde(deserialize_with = "url_field")]
    pub opsgenie_api_url: String,
    #[serde(deserialize_with = "secret_field")]
    pub opsgenie_api_key: Secret,
    #[serde(deserialize_with = "string_field")]
    pub opsgenie_api_key_file: String,
    #[serde(deserialize_with = "url_field")]
    pub wechat_api_url: String,
    #[serde(deserialize_with = "secret_field")]
    pub wechat_api_secret: Secret,
    #[serde(deserialize_with = "string_field")]
    pub wechat_api_corp_id: String,
    #[serde(deserialize_with = "url_field")]
    pub victorops_api_url: String,
    #[serde(deserialize_with = "secret_field")]
    pub victorops_api_key: Secret,
    #[serde(deserialize_with = "string_field")]
    pub victorops_api_key_file: String,
    #[serde(deserialize_with = "url_field")]
    pub telegram_api_url: String,
    #[serde(deserialize_with = "url_field")]
    pub webex_api_url: String,
}

impl Default for GlobalConfig {
    fn default() -> Self {
        GlobalConfig {
            resolve_timeout: DEFAULT_RESOLVE_TIMEOUT,
            http_config: HttpClientConfig::default(),
            smtp_from: None,
            smtp_hello: "localhost".to_string(),
            smtp_smarthost: None,
            smtp_auth_username: String::new(),
            smtp_auth_password: Secret::default(),
            smtp_auth_password_file: String::new(),
            smtp_auth_secret: Secret::default(),
            smtp_auth_identity: String::new(),
            smtp_require_tls: true,
            slack_api_url: None,
            slack_api_url_file: String::new(),
            pagerduty_url: DEFAULT_PAGERDUTY_URL.to_string(),
            opsgenie_api_url: DEFAULT_OPSGENIE_API_URL.to_string(),
            opsgenie_api_key: Secret::default(),
            opsgenie_api_key_file: String::new(),
            wechat_api_url: DEFAULT_WECHAT_API_URL.to_string(),
            wechat_api_secret: Secret::default(),
            wechat_api_corp_id: String::new(),
            victorops_api_url: DEFAULT_VICTOROPS_API_URL.to_string(),
            victorops_api_key: Secret::default(),
            victorops_api_key_file: String::new(),
            telegram_api_url: DEFAULT_TELEGRAM_API_URL.to_string(),
            webex_api_url: DEFAULT_WEBEX_API_URL.to_string(),
        }
    }
}

fn global_http_config<'de, D: Deserializer<'de>>(d: D) -> Result<HttpClientConfig, D::Error> {
    let raw: Option<RawHttpConfig> = Option::deserialize(d)?;
    raw.unwrap_or_default().resolve().map_err(serde::de::Error::custom)
}

fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Some(string_field(d)?).filter(|s| !s.is_empty()))
}

fn opt_host_port<'de, D: Deserializer<'de>>(d: D) -> Result<Option<HostPort>, D::Error> {
    Ok(Some(HostPort::deserialize(d)?).filter(|h| !h.is_empty()))
}

fn opt_secret_url<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Secret>, D::Error> {
    crate::values::secret_url_field(d).map(Some)
}
