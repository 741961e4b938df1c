//! Field types shared by ServiceMonitor, PodMonitor and PrometheusRule: durations, secret
//! references, relabeling, authentication and TLS, spelled as prometheus-operator spells them.
//!
//! String fields whose upstream CRD accepts several spellings of one value (`scheme`, relabeling
//! `action`) keep the spelling the user wrote, so objects round-trip unchanged; `kind()` methods
//! give the normalised meaning.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// prometheus-operator's `Duration` pattern (Prometheus `model.ParseDuration` units).
pub const DURATION_PATTERN: &str =
    "^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$";

/// A Prometheus duration such as `30s`, `1m` or `1h20m15s` (units `y w d h m s ms`).
///
/// The apiserver checks the pattern; the value is kept as written.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Duration(pub String);

impl Duration {
    /// The duration as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for Duration {
    fn from(s: &str) -> Self {
        Duration(s.to_owned())
    }
}

impl JsonSchema for Duration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "pattern": DURATION_PATTERN })
    }
}

/// Declares a string newtype whose schema is an `enum` of the spellings prometheus-operator
/// accepts; the value is kept exactly as written.
macro_rules! spelled_string {
    ($(#[$meta:meta])* $name:ident, [$($value:literal),+ $(,)?]) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            /// Every spelling the CRD accepts.
            pub const SPELLINGS: &'static [&'static str] = &[$($value),+];

            /// The value as written.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $name(s.to_owned())
            }
        }

        impl JsonSchema for $name {
            fn schema_name() -> Cow<'static, str> {
                stringify!($name).into()
            }

            fn inline_schema() -> bool {
                true
            }

            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({ "type": "string", "enum": [$($value),+] })
            }
        }
    };
}

spelled_string!(
    /// HTTP scheme used to scrape: `http`, `https`, `HTTP` or `HTTPS` (upstream accepts both cases).
    Scheme,
    ["http", "https", "HTTP", "HTTPS"]
);

impl Scheme {
    /// `true` for `https` in either case.
    pub fn is_https(&self) -> bool {
        self.0.eq_ignore_ascii_case("https")
    }

    /// The scheme as Prometheus writes it (`http` or `https`).
    pub fn normalized(&self) -> Result<&'static str> {
        match self.0.to_ascii_lowercase().as_str() {
            "http" => Ok("http"),
            "https" => Ok("https"),
            _ => Err(Error::InvalidValue {
                field: "scheme",
                value: self.0.clone(),
                expected: "http, https, HTTP, HTTPS",
            }),
        }
    }
}

spelled_string!(
    /// Relabeling action in any spelling prometheus-operator accepts (`replace` or `Replace`,
    /// `hashmod` or `HashMod`, ...). [`RelabelAction::kind`] gives the action itself.
    RelabelAction,
    [
        "replace", "Replace", "keep", "Keep", "drop", "Drop", "hashmod", "HashMod", "labelmap",
        "LabelMap", "labeldrop", "LabelDrop", "labelkeep", "LabelKeep", "lowercase", "Lowercase",
        "uppercase", "Uppercase", "keepequal", "KeepEqual", "dropequal", "DropEqual"
    ]
);

/// A relabeling action, whatever its spelling in the manifest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ActionKind {
    Replace,
    Keep,
    Drop,
    HashMod,
    LabelMap,
    LabelDrop,
    LabelKeep,
    Lowercase,
    Uppercase,
    KeepEqual,
    DropEqual,
}

impl ActionKind {
    /// The spelling Prometheus's configuration file uses (`replace`, `hashmod`, ...).
    pub fn prometheus_name(self) -> &'static str {
        match self {
            ActionKind::Replace => "replace",
            ActionKind::Keep => "keep",
            ActionKind::Drop => "drop",
            ActionKind::HashMod => "hashmod",
            ActionKind::LabelMap => "labelmap",
            ActionKind::LabelDrop => "labeldrop",
            ActionKind::LabelKeep => "labelkeep",
            ActionKind::Lowercase => "lowercase",
            ActionKind::Uppercase => "uppercase",
            ActionKind::KeepEqual => "keepequal",
            ActionKind::DropEqual => "dropequal",
        }
    }
}

impl RelabelAction {
    /// The action this spelling stands for. Prometheus matches actions case-insensitively.
    pub fn kind(&self) -> Result<ActionKind> {
        Ok(match self.0.to_ascii_lowercase().as_str() {
            "replace" => ActionKind::Replace,
            "keep" => ActionKind::Keep,
            "drop" => ActionKind::Drop,
            "hashmod" => ActionKind::HashMod,
            "labelmap" => ActionKind::LabelMap,
            "labeldrop" => ActionKind::LabelDrop,
            "labelkeep" => ActionKind::LabelKeep,
            "lowercase" => ActionKind::Lowercase,
            "uppercase" => ActionKind::Uppercase,
            "keepequal" => ActionKind::KeepEqual,
            "dropequal" => ActionKind::DropEqual,
            _ => {
                return Err(Error::InvalidValue {
                    field: "action",
                    value: self.0.clone(),
                    expected: "replace, keep, drop, hashmod, labelmap, labeldrop, labelkeep, lowercase, uppercase, keepequal, dropequal (lower case or CamelCase)",
                });
            }
        })
    }
}

/// Relabeling rule (Prometheus `relabel_config`) with prometheus-operator's camelCase names.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RelabelConfig {
    /// Labels whose values are concatenated with `separator` and matched against `regex`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source_labels: Vec<String>,
    /// String placed between concatenated source label values (Prometheus default `;`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub separator: Option<String>,
    /// Label the result is written to (`replace`, `hashmod`, `lowercase`, `uppercase`, `keepequal`, `dropequal`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_label: Option<String>,
    /// Regular expression matched against the concatenated value (Prometheus default `(.*)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    /// Modulus of the hash of the source label values (`hashmod` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modulus: Option<u64>,
    /// Replacement for `replace` (Prometheus default `$1`); capture groups are available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replacement: Option<String>,
    /// Action to perform; `replace` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<RelabelAction>,
}

/// Selects a key of a Secret in the object's namespace.
///
/// Ours rather than k8s-openapi's: upstream lets `name` default to `""`, k8s-openapi's schema
/// requires it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeySelector {
    /// Name of the Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Key within the Secret.
    pub key: String,
    /// Whether the Secret or its key may be missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional: Option<bool>,
}

/// Selects a key of a ConfigMap in the object's namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfigMapKeySelector {
    /// Name of the ConfigMap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Key within the ConfigMap.
    pub key: String,
    /// Whether the ConfigMap or its key may be missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional: Option<bool>,
}

/// Data taken from either a Secret or a ConfigMap (mutually exclusive).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretOrConfigMap {
    /// Secret holding the data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<SecretKeySelector>,
    /// ConfigMap holding the data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map: Option<ConfigMapKeySelector>,
}

/// Namespaces to discover targets in: all (`any`), a list (`matchNames`), or, when both are
/// empty, the object's own namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceSelector {
    /// Select all namespaces; takes precedence over `matchNames`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub any: Option<bool>,
    /// Namespaces to select.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_names: Vec<String>,
}

/// Extra metadata attached to discovered targets.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttachMetadata {
    /// Attach node metadata (`__meta_kubernetes_node_*`); needs list/watch on Nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<bool>,
}

/// Scrape protocol offered in the Accept header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ScrapeProtocol {
    PrometheusProto,
    #[serde(rename = "OpenMetricsText0.0.1")]
    OpenMetricsText001,
    #[serde(rename = "OpenMetricsText1.0.0")]
    OpenMetricsText100,
    #[serde(rename = "PrometheusText0.0.4")]
    PrometheusText004,
    #[serde(rename = "PrometheusText1.0.0")]
    PrometheusText100,
}

/// How targets are selected: with relabeling (default) or kubernetes_sd role selectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum SelectorMechanism {
    RelabelConfig,
    RoleSelector,
}

/// Service discovery role used for a ServiceMonitor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ServiceDiscoveryRole {
    Endpoints,
    EndpointSlice,
}

/// TLS protocol version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub enum TlsVersion {
    TLS10,
    TLS11,
    TLS12,
    TLS13,
}

/// HTTP basic authentication from Secrets.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BasicAuth {
    /// Secret key holding the user name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<SecretKeySelector>,
    /// Secret key holding the password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<SecretKeySelector>,
}

/// `Authorization` header credentials from a Secret.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SafeAuthorization {
    /// Authentication type, case-insensitive; `Bearer` when absent. `Basic` is refused.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// Secret key holding the credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<SecretKeySelector>,
}

/// OAuth2 client credentials.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OAuth2 {
    /// Secret or ConfigMap key holding the client ID.
    pub client_id: SecretOrConfigMap,
    /// Secret key holding the client secret.
    pub client_secret: SecretKeySelector,
    /// URL to fetch the token from.
    #[schemars(length(min = 1))]
    pub token_url: String,
    /// Scopes for the token request.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// Parameters appended to the token URL.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub endpoint_params: BTreeMap<String, String>,
    /// TLS settings for the token request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_config: Option<SafeTlsConfig>,
    /// HTTP proxy for the token request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_url: Option<String>,
    /// Hosts that bypass the proxy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_proxy: Option<String>,
    /// Use the proxy from the environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_from_environment: Option<bool>,
    /// Headers sent to the proxy in CONNECT requests.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub proxy_connect_header: BTreeMap<String, Vec<SecretKeySelector>>,
}

/// TLS settings taken from Secrets and ConfigMaps only (no files).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SafeTlsConfig {
    /// CA certificate used to verify the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<SecretOrConfigMap>,
    /// Client certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert: Option<SecretOrConfigMap>,
    /// Secret key holding the client private key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_secret: Option<SecretKeySelector>,
    /// Server name used to verify the certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// Skip certificate verification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure_skip_verify: Option<bool>,
    /// Minimum TLS version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_version: Option<TlsVersion>,
    /// Maximum TLS version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_version: Option<TlsVersion>,
}

/// TLS settings for ServiceMonitor endpoints: [`SafeTlsConfig`] plus file paths inside the
/// server's container.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TlsConfig {
    /// CA certificate used to verify the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<SecretOrConfigMap>,
    /// Client certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert: Option<SecretOrConfigMap>,
    /// Secret key holding the client private key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_secret: Option<SecretKeySelector>,
    /// Server name used to verify the certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// Skip certificate verification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure_skip_verify: Option<bool>,
    /// Minimum TLS version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_version: Option<TlsVersion>,
    /// Maximum TLS version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_version: Option<TlsVersion>,
    /// Path of the CA certificate in the server's container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    /// Path of the client certificate in the server's container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<String>,
    /// Path of the client key in the server's container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<String>,
}
