//! Receivers and their integration configs with Alertmanager 0.25's fields, defaults (the
//! `DefaultXConfig` values: `send_resolved`, default template strings) and per-integration
//! validation. Global inheritance (SMTP settings, API URLs, `http_config`) is applied by the
//! loader, which knows the global block. Integrations Alertmanager has and Oxeye does not
//! (`victorops_configs`, `pushover_configs`, `sns_configs`, `wechat_configs`) are refused by
//! name, never dropped.

use std::collections::BTreeMap;

use oxeye_config::{HttpClientConfig, Secret};
use serde::{Deserialize, Deserializer};

use crate::http::RawHttpConfig;
use crate::values::{
    HostPort, Unsupported, null_as_default, opt_yaml11_bool, scalar_map, secret_field, secret_url_field, string_field,
    string_list, url_field, yaml11_bool,
};

/// A named set of integrations that notifications for a route go to.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Receiver {
    pub name: String,
    pub webhook_configs: Vec<WebhookConfig>,
    pub email_configs: Vec<EmailConfig>,
    pub slack_configs: Vec<SlackConfig>,
    pub pagerduty_configs: Vec<PagerdutyConfig>,
    pub opsgenie_configs: Vec<OpsGenieConfig>,
    pub msteams_configs: Vec<MsTeamsConfig>,
    pub telegram_configs: Vec<TelegramConfig>,
    pub discord_configs: Vec<DiscordConfig>,
    pub webex_configs: Vec<WebexConfig>,
}

impl Receiver {
    /// How many integration instances the receiver has, of all kinds.
    pub fn integration_count(&self) -> usize {
        self.webhook_configs.len()
            + self.email_configs.len()
            + self.slack_configs.len()
            + self.pagerduty_configs.len()
            + self.opsgenie_configs.len()
            + self.msteams_configs.len()
            + self.telegram_configs.len()
            + self.discord_configs.len()
            + self.webex_configs.len()
    }
}

/// The YAML form of a receiver: the supported lists plus the integrations Oxeye refuses.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawReceiver {
    #[serde(deserialize_with = "string_field")]
    pub name: String,
    #[serde(deserialize_with = "null_as_default")]
    pub webhook_configs: Vec<WebhookConfig>,
    #[serde(deserialize_with = "null_as_default")]
    pub email_configs: Vec<EmailConfig>,
    #[serde(deserialize_with = "null_as_default")]
    pub slack_configs: Vec<SlackConfig>,
    #[serde(deserialize_with = "null_as_default")]
    pub pagerduty_configs: Vec<PagerdutyConfig>,
    #[serde(deserialize_with = "null_as_default")]
    pub opsgenie_configs: Vec<OpsGenieConfig>,
    #[serde(deserialize_with = "null_as_default")]
    pub msteams_configs: Vec<MsTeamsConfig>,
    #[serde(deserialize_with = "null_as_default")]
    pub telegram_configs: Vec<TelegramConfig>,
    #[serde(deserialize_with = "null_as_default")]
    pub discord_configs: Vec<DiscordConfig>,
    #[serde(deserialize_with = "null_as_default")]
    pub webex_configs: Vec<WebexConfig>,
    wechat_configs: Option<Unsupported>,
    pushover_configs: Option<Unsupported>,
    victorops_configs: Option<Unsupported>,
    sns_configs: Option<Unsupported>,
}

impl RawReceiver {
    /// The integrations present that Oxeye does not support.
    pub(crate) fn unsupported(&self) -> Option<&'static str> {
        [
            (self.wechat_configs.is_some(), "wechat_configs"),
            (self.pushover_configs.is_some(), "pushover_configs"),
            (self.victorops_configs.is_some(), "victorops_configs"),
            (self.sns_configs.is_some(), "sns_configs"),
        ]
        .into_iter()
        .find(|(present, _)| *present)
        .map(|(_, name)| name)
    }

    pub(crate) fn into_receiver(self) -> Receiver {
        Receiver {
            name: self.name,
            webhook_configs: self.webhook_configs,
            email_configs: self.email_configs,
            slack_configs: self.slack_configs,
            pagerduty_configs: self.pagerduty_configs,
            opsgenie_configs: self.opsgenie_configs,
            msteams_configs: self.msteams_configs,
            telegram_configs: self.telegram_configs,
            discord_configs: self.discord_configs,
            webex_configs: self.webex_configs,
        }
    }
}

/// An `http_config` block inside an integration. When the key is absent the loader replaces
/// the default with the global `http_config`, as Alertmanager does for a nil pointer.
fn http_config_field<'de, D: Deserializer<'de>>(d: D) -> Result<HttpClientConfig, D::Error> {
    let raw: Option<RawHttpConfig> = Option::deserialize(d)?;
    raw.unwrap_or_default().resolve().map_err(serde::de::Error::custom)
}

fn t(s: &str) -> String {
    s.to_string()
}

/// `webhook_configs`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookConfig {
    #[serde(deserialize_with = "yaml11_bool")]
    pub send_resolved: bool,
    #[serde(deserialize_with = "http_config_field")]
    pub http_config: HttpClientConfig,
    /// The URL to POST to; empty when `url_file` is used.
    #[serde(deserialize_with = "secret_url_field")]
    pub url: Secret,
    /// A file holding the URL (an Alertmanager 0.26 field Oxeye accepts too).
    #[serde(deserialize_with = "string_field")]
    pub url_file: String,
    /// At most this many alerts per message; 0 is unlimited.
    pub max_alerts: u64,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            send_resolved: true,
            http_config: HttpClientConfig::default(),
            url: Secret::default(),
            url_file: String::new(),
            max_alerts: 0,
        }
    }
}

/// `email_configs`. After loading, `from`, `smarthost`, `hello`, the auth fields and
/// `require_tls` carry the global values where unset, and `headers` holds `Subject`, `To` and
/// `From` (canonical MIME header names).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmailConfig {
    #[serde(deserialize_with = "yaml11_bool")]
    pub send_resolved: bool,
    #[serde(deserialize_with = "string_field")]
    pub to: String,
    #[serde(deserialize_with = "string_field")]
    pub from: String,
    #[serde(deserialize_with = "string_field")]
    pub hello: String,
    pub smarthost: HostPort,
    #[serde(deserialize_with = "string_field")]
    pub auth_username: String,
    #[serde(deserialize_with = "secret_field")]
    pub auth_password: Secret,
    #[serde(deserialize_with = "string_field")]
    pub auth_password_file: String,
    #[serde(deserialize_with = "secret_field")]
    pub auth_secret: Secret,
    #[serde(deserialize_with = "string_field")]
    pub auth_identity: String,
    #[serde(deserialize_with = "scalar_map")]
    pub headers: BTreeMap<String, String>,
    #[serde(deserialize_with = "string_field")]
    pub html: String,
    #[serde(deserialize_with = "string_field")]
    pub text: String,
    /// Go's `*bool`: `None` until the loader applies `smtp_require_tls`.
    #[serde(deserialize_with = "opt_yaml11_bool")]
    pub require_tls: Option<bool>,
    #[serde(deserialize_with = "crate::http::tls_config_field")]
    pub tls_config: oxeye_config::TlsConfig,
}

/// Default `Subject` header of an email (`DefaultEmailSubject`).
pub const DEFAULT_EMAIL_SUBJECT: &str = r#"{{ template "email.default.subject" . }}"#;

impl Default for EmailConfig {
    fn default() -> Self {
        EmailConfig {
            send_resolved: false,
            to: String::new(),
            from: String::new(),
            hello: String::new(),
            smarthost: HostPort::default(),
            auth_username: String::new(),
            auth_password: Secret::default(),
            auth_password_file: String::new(),
            auth_secret: Secret::default(),
            auth_identity: String::new(),
            headers: BTreeMap::new(),
            html: t(r#"{{ template "email.default.html" . }}"#),
            text: String::new(),
            require_tls: None,
            tls_config: oxeye_config::TlsConfig::default(),
        }
    }
}

/// `textproto.CanonicalMIMEHeaderKey`: `content-type` -> `Content-Type`; keys with characters
/// outside a header token are returned unchanged.
pub fn canonical_mime_header_key(s: &str) -> String {
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if !s.chars().all(token) {
        return s.to_string();
    }
    let mut upper = true;
    s.chars()
        .map(|c| {
            let out = if upper { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() };
            upper = c == '-';
            out
        })
        .collect()
}

/// A `fields` entry of a Slack config.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlackField {
    #[serde(deserialize_with = "string_field")]
    pub title: String,
    #[serde(deserialize_with = "string_field")]
    pub value: String,
    #[serde(deserialize_with = "opt_yaml11_bool")]
    pub short: Option<bool>,
}

/// The `confirm` block of a Slack action.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlackConfirmationField {
    #[serde(deserialize_with = "string_field")]
    pub text: String,
    #[serde(deserialize_with = "string_field")]
    pub title: String,
    #[serde(deserialize_with = "string_field")]
    pub ok_text: String,
    #[serde(deserialize_with = "string_field")]
    pub dismiss_text: String,
}

/// An `actions` entry of a Slack config.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlackAction {
    #[serde(rename = "type", deserialize_with = "string_field")]
    pub kind: String,
    #[serde(deserialize_with = "string_field")]
    pub text: String,
    #[serde(deserialize_with = "string_field")]
    pub url: String,
    #[serde(deserialize_with = "string_field")]
    pub style: String,
    #[serde(deserialize_with = "string_field")]
    pub name: String,
    #[serde(deserialize_with = "string_field")]
    pub value: String,
    pub confirm: Option<SlackConfirmationField>,
}

/// `slack_configs`. After loading, `api_url` or `api_url_file` is set (from the globals if
/// needed).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlackConfig {
    #[serde(deserialize_with = "yaml11_bool")]
    pub send_resolved: bool,
    #[serde(deserialize_with = "http_config_field")]
    pub http_config: HttpClientConfig,
    #[serde(deserialize_with = "secret_url_field")]
    pub api_url: Secret,
    #[serde(deserialize_with = "string_field")]
    pub api_url_file: String,
    #[serde(deserialize_with = "string_field")]
    pub channel: String,
    #[serde(deserialize_with = "string_field")]
    pub username: String,
    #[serde(deserialize_with = "string_field")]
    pub color: String,
    #[serde(deserialize_with = "string_field")]
    pub title: String,
    #[serde(deserialize_with = "string_field")]
    pub title_link: String,
    #[serde(deserialize_with = "string_field")]
    pub pretext: String,
    #[serde(deserialize_with = "string_field")]
    pub text: String,
    #[serde(deserialize_with = "null_as_default")]
    pub fields: Vec<SlackField>,
    #[serde(deserialize_with = "yaml11_bool")]
    pub short_fields: bool,
    #[serde(deserialize_with = "string_field")]
    pub footer: String,
    #[serde(deserialize_with = "string_field")]
    pub fallback: String,
    #[serde(deserialize_with = "string_field")]
    pub callback_id: String,
    #[serde(deserialize_with = "string_field")]
    pub icon_emoji: String,
    #[serde(deserialize_with = "string_field")]
    pub icon_url: String,
    #[serde(deserialize_with = "string_field")]
    pub image_url: String,
    #[serde(deserialize_with = "string_field")]
    pub thumb_url: String,
    #[serde(deserialize_with = "yaml11_bool")]
    pub link_names: bool,
    #[serde(deserialize_with = "string_list")]
    pub mrkdwn_in: Vec<String>,
    #[serde(deserialize_with = "null_as_default")]
    pub actions: Vec<SlackAction>,
}

impl Default for SlackConfig {
    fn default() -> Self {
        SlackConfig {
            send_resolved: false,
            http_config: HttpClientConfig::default(),
            api_url: Secret::default(),
            api_url_file: String::new(),
            channel: String::new(),
            username: t(r#"{{ template "slack.default.username" . }}"#),
            color: t(r#"{{ if eq .Status "firing" }}danger{{ else }}good{{ end }}"#),
            title: t(r#"{{ template "slack.default.title" . }}"#),
            title_link: t(r#"{{ template "slack.default.titlelink" . }}"#),
            pretext: t(r#"{{ template "slack.default.pretext" . }}"#),
            text: t(r#"{{ template "slack.default.text" . }}"#),
            fields: Vec::new(),
            short_fields: false,
            footer: t(r#"{{ template "slack.default.footer" . }}"#),
            fallback: t(r#"{{ template "slack.default.fallback" . }}"#),
            callback_id: t(r#"{{ template "slack.default.callbackid" . }}"#),
            icon_emoji: t(r#"{{ template "slack.default.iconemoji" . }}"#),
            icon_url: t(r#"{{ template "slack.default.iconurl" . }}"#),
            image_url: String::new(),
            thumb_url: String::new(),
            link_names: false,
            mrkdwn_in: Vec::new(),
            actions: Vec::new(),
        }
    }
}

/// An `images` entry of a PagerDuty config.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PagerdutyImage {
    #[serde(deserialize_with = "string_field")]
    pub src: String,
    #[serde(deserialize_with = "string_field")]
    pub alt: String,
    #[serde(deserialize_with = "string_field")]
    pub href: String,
}

/// A `links` entry of a PagerDuty config.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PagerdutyLink {
    #[serde(deserialize_with = "string_field")]
    pub href: String,
    #[serde(deserialize_with = "string_field")]
    pub text: String,
}

/// The `details` PagerDuty configs get for keys they do not set (`DefaultPagerdutyDetails`).
pub const DEFAULT_PAGERDUTY_DETAILS: [(&str, &str); 4] = [
    ("firing", r#"{{ template "pagerduty.default.instances" .Alerts.Firing }}"#),
    ("resolved", r#"{{ template "pagerduty.default.instances" .Alerts.Resolved }}"#),
    ("num_firing", "{{ .Alerts.Firing | len }}"),
    ("num_resolved", "{{ .Alerts.Resolved | len }}"),
];

/// `pagerduty_configs`. After loading, `url` is set (global `pagerduty_url` by default),
/// `details` holds the default keys, and `source` defaults to `client`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PagerdutyConfig {
    #[serde(deserialize_with = "yaml11_bool")]
    pub send_resolved: bool,
    #[serde(deserialize_with = "http_config_field")]
    pub http_config: HttpClientConfig,
    #[serde(deserialize_with = "secret_field")]
    pub service_key: Secret,
    #[serde(deserialize_with = "string_field")]
    pub service_key_file: String,
    #[serde(deserialize_with = "secret_field")]
    pub routing_key: Secret,
    #[serde(deserialize_with = "string_field")]
    pub routing_key_file: String,
    #[serde(deserialize_with = "url_field")]
    pub url: String,
    #[serde(deserialize_with = "string_field")]
    pub client: String,
    #[serde(deserialize_with = "string_field")]
    pub client_url: String,
    #[serde(deserialize_with = "string_field")]
    pub description: String,
    #[serde(deserialize_with = "scalar_map")]
    pub details: BTreeMap<String, String>,
    #[serde(deserialize_with = "null_as_default")]
    pub images: Vec<PagerdutyImage>,
    #[serde(deserialize_with = "null_as_default")]
    pub links: Vec<PagerdutyLink>,
    #[serde(deserialize_with = "string_field")]
    pub source: String,
    #[serde(deserialize_with = "string_field")]
    pub severity: String,
    #[serde(deserialize_with = "string_field")]
    pub class: String,
    #[serde(deserialize_with = "string_field")]
    pub component: String,
    #[serde(deserialize_with = "string_field")]
    pub group: String,
}

impl Default for PagerdutyConfig {
    fn default() -> Self {
        PagerdutyConfig {
            send_resolved: true,
            http_config: HttpClientConfig::default(),
            service_key: Secret::default(),
            service_key_file: String::new(),
            routing_key: Secret::default(),
            routing_key_file: String::new(),
            url: String::new(),
            client: t(r#"{{ template "pagerduty.default.client" . }}"#),
            client_url: t(r#"{{ template "pagerduty.default.clientURL" . }}"#),
            description: t(r#"{{ template "pagerduty.default.description" .}}"#),
            details: BTreeMap::new(),
            images: Vec::new(),
            links: Vec::new(),
            source: String::new(),
            severity: String::new(),
            class: String::new(),
            component: String::new(),
            group: String::new(),
        }
    }
}

/// A `responders` entry of an OpsGenie config.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OpsGenieResponder {
    #[serde(deserialize_with = "string_field")]
    pub id: String,
    #[serde(deserialize_with = "string_field")]
    pub name: String,
    #[serde(deserialize_with = "string_field")]
    pub username: String,
    /// `team`, `teams`, `user`, `escalation`, `schedule` (lower-cased), or a template.
    #[serde(rename = "type", deserialize_with = "string_field")]
    pub kind: String,
}

/// `opsgenie_configs`. After loading, `api_url` (ending in `/`) and `api_key` or
/// `api_key_file` are set, from the globals if needed.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OpsGenieConfig {
    #[serde(deserialize_with = "yaml11_bool")]
    pub send_resolved: bool,
    #[serde(deserialize_with = "http_config_field")]
    pub http_config: HttpClientConfig,
    #[serde(deserialize_with = "secret_field")]
    pub api_key: Secret,
    #[serde(deserialize_with = "string_field")]
    pub api_key_file: String,
    #[serde(deserialize_with = "url_field")]
    pub api_url: String,
    #[serde(deserialize_with = "string_field")]
    pub message: String,
    #[serde(deserialize_with = "string_field")]
    pub description: String,
    #[serde(deserialize_with = "string_field")]
    pub source: String,
    #[serde(deserialize_with = "scalar_map")]
    pub details: BTreeMap<String, String>,
    #[serde(deserialize_with = "string_field")]
    pub entity: String,
    #[serde(deserialize_with = "null_as_default")]
    pub responders: Vec<OpsGenieResponder>,
    #[serde(deserialize_with = "string_field")]
    pub actions: String,
    #[serde(deserialize_with = "string_field")]
    pub tags: String,
    #[serde(deserialize_with = "string_field")]
    pub note: String,
    #[serde(deserialize_with = "string_field")]
    pub priority: String,
    #[serde(deserialize_with = "yaml11_bool")]
    pub update_alerts: bool,
}

impl Default for OpsGenieConfig {
    fn default() -> Self {
        OpsGenieConfig {
            send_resolved: true,
            http_config: HttpClientConfig::default(),
            api_key: Secret::default(),
            api_key_file: String::new(),
            api_url: String::new(),
            message: t(r#"{{ template "opsgenie.default.message" . }}"#),
            description: t(r#"{{ template "opsgenie.default.description" . }}"#),
            source: t(r#"{{ template "opsgenie.default.source" . }}"#),
            details: BTreeMap::new(),
            entity: String::new(),
            responders: Vec::new(),
            actions: String::new(),
            tags: String::new(),
            note: String::new(),
            priority: String::new(),
            update_alerts: false,
        }
    }
}

/// `msteams_configs` (Alertmanager 0.26's integration, which Oxeye accepts in 0.25 files).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MsTeamsConfig {
    #[serde(deserialize_with = "yaml11_bool")]
    pub send_resolved: bool,
    #[serde(deserialize_with = "http_config_field")]
    pub http_config: HttpClientConfig,
    #[serde(deserialize_with = "secret_url_field")]
    pub webhook_url: Secret,
    #[serde(deserialize_with = "string_field")]
    pub webhook_url_file: String,
    #[serde(deserialize_with = "string_field")]
    pub title: String,
    #[serde(deserialize_with = "string_field")]
    pub summary: String,
    #[serde(deserialize_with = "string_field")]
    pub text: String,
}

impl Default for MsTeamsConfig {
    fn default() -> Self {
        MsTeamsConfig {
            send_resolved: true,
            http_config: HttpClientConfig::default(),
            webhook_url: Secret::default(),
            webhook_url_file: String::new(),
            title: t(r#"{{ template "msteams.default.title" . }}"#),
            summary: t(r#"{{ template "msteams.default.summary" . }}"#),
            text: t(r#"{{ template "msteams.default.text" . }}"#),
        }
    }
}

/// `telegram_configs`. After loading, `api_url` is set (global `telegram_api_url` by default).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelegramConfig {
    #[serde(deserialize_with = "yaml11_bool")]
    pub send_resolved: bool,
    #[serde(deserialize_with = "http_config_field")]
    pub http_config: HttpClientConfig,
    #[serde(deserialize_with = "url_field")]
    pub api_url: String,
    #[serde(deserialize_with = "secret_field")]
    pub bot_token: Secret,
    pub chat_id: i64,
    #[serde(deserialize_with = "string_field")]
    pub message: String,
    #[serde(deserialize_with = "yaml11_bool")]
    pub disable_notifications: bool,
    /// `HTML` (the default), `Markdown`, `MarkdownV2` or empty.
    #[serde(deserialize_with = "string_field")]
    pub parse_mode: String,
}

impl Default for TelegramConfig {
    fn default() -> Self {
        TelegramConfig {
            send_resolved: true,
            http_config: HttpClientConfig::default(),
            api_url: String::new(),
            bot_token: Secret::default(),
            chat_id: 0,
            message: t(r#"{{ template "telegram.default.message" . }}"#),
            disable_notifications: false,
            parse_mode: t("HTML"),
        }
    }
}

/// `discord_configs`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiscordConfig {
    #[serde(deserialize_with = "yaml11_bool")]
    pub send_resolved: bool,
    #[serde(deserialize_with = "http_config_field")]
    pub http_config: HttpClientConfig,
    #[serde(deserialize_with = "secret_url_field")]
    pub webhook_url: Secret,
    #[serde(deserialize_with = "string_field")]
    pub title: String,
    #[serde(deserialize_with = "string_field")]
    pub message: String,
}

impl Default for DiscordConfig {
    fn default() -> Self {
        DiscordConfig {
            send_resolved: true,
            http_config: HttpClientConfig::default(),
            webhook_url: Secret::default(),
            title: t(r#"{{ template "discord.default.title" . }}"#),
            message: t(r#"{{ template "discord.default.message" . }}"#),
        }
    }
}

/// `webex_configs`. The config's own `http_config` must set `authorization` (the bot token).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebexConfig {
    #[serde(deserialize_with = "yaml11_bool")]
    pub send_resolved: bool,
    #[serde(deserialize_with = "http_config_field")]
    pub http_config: HttpClientConfig,
    #[serde(deserialize_with = "url_field")]
    pub api_url: String,
    #[serde(deserialize_with = "string_field")]
    pub message: String,
    #[serde(deserialize_with = "string_field")]
    pub room_id: String,
}

impl Default for WebexConfig {
    fn default() -> Self {
        WebexConfig {
            send_resolved: true,
            http_config: HttpClientConfig::default(),
            api_url: String::new(),
            message: t(r#"{{ template "webex.default.message" . }}"#),
            room_id: String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mime_header_keys() {
        assert_eq!(canonical_mime_header_key("subject"), "Subject");
        assert_eq!(canonical_mime_header_key("x-PRIORITY-level"), "X-Priority-Level");
        assert_eq!(canonical_mime_header_key("bad key"), "bad key");
    }
}
