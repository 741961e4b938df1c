//! The JSON documents of Alertmanager's API v2 (api/v2/openapi.yaml), field for field and in
//! Alertmanager's field order, plus the `{"code":..,"message":..}` shape go-swagger uses for
//! schema violations. Conversions from the router's views live here too.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use oxeye_model::Labels;
use serde::{Deserialize, Serialize, Serializer};

use crate::backend::{AlertView, MatcherView, SilenceView};

/// go-swagger's `strfmt.DateTime` JSON form: RFC 3339 with milliseconds, in UTC.
pub fn format_time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn ser_time<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_time(t))
}

/// A label set as a JSON object (sorted by name, as Go's encoder writes maps).
pub fn label_map(l: &Labels) -> BTreeMap<String, String> {
    l.iter().map(|l| (l.name.clone(), l.value.clone())).collect()
}

#[derive(Debug, Serialize)]
pub struct Receiver {
    pub name: String,
}

#[derive(Debug, Serialize)]
pub struct AlertStatus {
    #[serde(rename = "inhibitedBy")]
    pub inhibited_by: Vec<String>,
    #[serde(rename = "silencedBy")]
    pub silenced_by: Vec<String>,
    pub state: &'static str,
}

#[derive(Debug, Serialize)]
pub struct GettableAlert {
    pub annotations: BTreeMap<String, String>,
    #[serde(rename = "endsAt", serialize_with = "ser_time")]
    pub ends_at: DateTime<Utc>,
    pub fingerprint: String,
    pub receivers: Vec<Receiver>,
    #[serde(rename = "startsAt", serialize_with = "ser_time")]
    pub starts_at: DateTime<Utc>,
    pub status: AlertStatus,
    #[serde(rename = "updatedAt", serialize_with = "ser_time")]
    pub updated_at: DateTime<Utc>,
    #[serde(rename = "generatorURL", skip_serializing_if = "String::is_empty")]
    pub generator_url: String,
    pub labels: BTreeMap<String, String>,
}

impl From<&AlertView> for GettableAlert {
    fn from(a: &AlertView) -> Self {
        GettableAlert {
            annotations: label_map(&a.annotations),
            ends_at: a.ends_at,
            fingerprint: a.fingerprint.clone(),
            receivers: a.receivers.iter().map(|r| Receiver { name: r.clone() }).collect(),
            starts_at: a.starts_at,
            status: AlertStatus {
                inhibited_by: a.inhibited_by.clone(),
                silenced_by: a.silenced_by.clone(),
                state: a.state.as_str(),
            },
            updated_at: a.updated_at,
            generator_url: a.generator_url.clone(),
            labels: label_map(&a.labels),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct AlertGroup {
    pub alerts: Vec<GettableAlert>,
    pub labels: BTreeMap<String, String>,
    pub receiver: Receiver,
}

#[derive(Debug, Serialize, Deserialize, Clone)]
pub struct Matcher {
    #[serde(rename = "isEqual", default = "default_true")]
    pub is_equal: bool,
    #[serde(rename = "isRegex")]
    pub is_regex: bool,
    pub name: String,
    pub value: String,
}

fn default_true() -> bool {
    true
}

impl From<&MatcherView> for Matcher {
    fn from(m: &MatcherView) -> Self {
        Matcher { is_equal: m.is_equal, is_regex: m.is_regex, name: m.name.clone(), value: m.value.clone() }
    }
}

#[derive(Debug, Serialize)]
pub struct SilenceStatus {
    pub state: String,
}

#[derive(Debug, Serialize)]
pub struct GettableSilence {
    pub id: String,
    pub status: SilenceStatus,
    #[serde(rename = "updatedAt", serialize_with = "ser_time")]
    pub updated_at: DateTime<Utc>,
    pub comment: String,
    #[serde(rename = "createdBy")]
    pub created_by: String,
    #[serde(rename = "endsAt", serialize_with = "ser_time")]
    pub ends_at: DateTime<Utc>,
    pub matchers: Vec<Matcher>,
    #[serde(rename = "startsAt", serialize_with = "ser_time")]
    pub starts_at: DateTime<Utc>,
}

impl From<&SilenceView> for GettableSilence {
    fn from(s: &SilenceView) -> Self {
        GettableSilence {
            id: s.id.clone(),
            status: SilenceStatus { state: s.state.clone() },
            updated_at: s.updated_at,
            comment: s.comment.clone(),
            created_by: s.created_by.clone(),
            ends_at: s.ends_at,
            matchers: s.matchers.iter().map(Matcher::from).collect(),
            starts_at: s.starts_at,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct PeerStatus {
    pub address: String,
    pub name: String,
}

#[derive(Debug, Serialize)]
pub struct ClusterStatus {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    pub peers: Vec<PeerStatus>,
    pub status: String,
}

#[derive(Debug, Serialize, Clone)]
pub struct VersionInfo {
    pub branch: String,
    #[serde(rename = "buildDate")]
    pub build_date: String,
    #[serde(rename = "buildUser")]
    pub build_user: String,
    #[serde(rename = "goVersion")]
    pub go_version: String,
    pub revision: String,
    pub version: String,
}

impl VersionInfo {
    /// Oxeye's build, in the fields Alertmanager fills from Go's build info.
    pub fn current() -> Self {
        VersionInfo {
            branch: option_env!("OXEYE_GIT_BRANCH").unwrap_or("unknown").to_string(),
            build_date: option_env!("OXEYE_BUILD_DATE").unwrap_or("unknown").to_string(),
            build_user: "oxeye".to_string(),
            go_version: format!("rust{}", option_env!("CARGO_PKG_RUST_VERSION").unwrap_or("")),
            revision: option_env!("OXEYE_GIT_REVISION").unwrap_or("unknown").to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct AlertmanagerConfig {
    pub original: String,
}

#[derive(Debug, Serialize)]
pub struct AlertmanagerStatus {
    pub cluster: ClusterStatus,
    pub config: AlertmanagerConfig,
    #[serde(serialize_with = "ser_time")]
    pub uptime: DateTime<Utc>,
    #[serde(rename = "versionInfo")]
    pub version_info: VersionInfo,
}

#[derive(Debug, Serialize)]
pub struct PostSilenceOk {
    #[serde(rename = "silenceID")]
    pub silence_id: String,
}

/// go-swagger's error body for requests that violate the OpenAPI schema (HTTP 422 / 400).
#[derive(Debug, Serialize)]
pub struct SchemaError {
    pub code: u32,
    pub message: String,
}
