//! The HTTP client settings shared by scrape configs (and, later, service discovery and
//! Alertmanager configs): Prometheus common's `HTTPClientConfig` with basic auth, the
//! `authorization` header, the older `bearer_token` form, and TLS. Validation mirrors
//! `HTTPClientConfig.Validate` and `TLSConfig.Validate`, messages included.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::Issue;
use crate::values::{Secret, with_unsupported_fields, yaml11_bool};

with_unsupported_fields! {
    /// `basic_auth`.
    #[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
    #[serde(deny_unknown_fields, default)]
    pub struct BasicAuth {
        pub username: String,
        #[serde(skip_serializing_if = "String::is_empty")]
        pub username_file: String,
        #[serde(skip_serializing_if = "Secret::is_empty")]
        pub password: Secret,
        #[serde(skip_serializing_if = "String::is_empty")]
        pub password_file: String,
    }
    unsupported: [username_ref, password_ref]
}

with_unsupported_fields! {
    /// `authorization`: a header `Authorization: <type> <credentials>`. `type` defaults to
    /// `Bearer` once validated.
    #[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
    #[serde(deny_unknown_fields, default)]
    pub struct Authorization {
        #[serde(rename = "type", skip_serializing_if = "String::is_empty")]
        pub kind: String,
        #[serde(skip_serializing_if = "Secret::is_empty")]
        pub credentials: Secret,
        #[serde(skip_serializing_if = "String::is_empty")]
        pub credentials_file: String,
    }
    unsupported: [credentials_ref]
}

/// A TLS protocol version (`min_version`, `max_version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TlsVersion {
    #[serde(rename = "TLS10")]
    Tls10,
    #[serde(rename = "TLS11")]
    Tls11,
    #[serde(rename = "TLS12")]
    Tls12,
    #[serde(rename = "TLS13")]
    Tls13,
}

with_unsupported_fields! {
    /// `tls_config`.
    #[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
    #[serde(deny_unknown_fields, default)]
    pub struct TlsConfig {
        /// Inline CA certificate (PEM).
        #[serde(skip_serializing_if = "String::is_empty")]
        pub ca: String,
        #[serde(skip_serializing_if = "String::is_empty")]
        pub ca_file: String,
        /// Inline client certificate (PEM).
        #[serde(skip_serializing_if = "String::is_empty")]
        pub cert: String,
        #[serde(skip_serializing_if = "String::is_empty")]
        pub cert_file: String,
        /// Inline client key (PEM).
        #[serde(skip_serializing_if = "Secret::is_empty")]
        pub key: Secret,
        #[serde(skip_serializing_if = "String::is_empty")]
        pub key_file: String,
        #[serde(skip_serializing_if = "String::is_empty")]
        pub server_name: String,
        #[serde(deserialize_with = "yaml11_bool")]
        pub insecure_skip_verify: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub min_version: Option<TlsVersion>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub max_version: Option<TlsVersion>,
    }
    unsupported: [ca_ref, cert_ref, key_ref]
}

/// The HTTP client of a scrape config. Inlined into the scrape config in YAML.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HttpClientConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Authorization>,
    /// The older form of `authorization`; validation moves it there, as Prometheus does.
    #[serde(skip_serializing_if = "Secret::is_empty")]
    pub bearer_token: Secret,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub bearer_token_file: String,
    pub tls_config: TlsConfig,
    pub follow_redirects: bool,
    pub enable_http2: bool,
}

impl Default for HttpClientConfig {
    fn default() -> Self {
        HttpClientConfig {
            basic_auth: None,
            authorization: None,
            bearer_token: Secret::default(),
            bearer_token_file: String::new(),
            tls_config: TlsConfig::default(),
            follow_redirects: true,
            enable_http2: true,
        }
    }
}

impl HttpClientConfig {
    /// `HTTPClientConfig.Validate` and `TLSConfig.Validate`, including the move of
    /// `bearer_token(_file)` into `authorization` with type `Bearer`. `path` is the YAML path of
    /// the block that inlines these fields.
    pub(crate) fn validate(&mut self, path: &str) -> Result<(), Issue> {
        let at = |field: &str| format!("{path}.{field}");
        let has_bearer = !self.bearer_token.is_empty() || !self.bearer_token_file.is_empty();
        if !self.bearer_token.is_empty() && !self.bearer_token_file.is_empty() {
            return Err(Issue::invalid(
                at("bearer_token"),
                "at most one of bearer_token & bearer_token_file must be configured",
            ));
        }
        if self.basic_auth.is_some() && has_bearer {
            return Err(Issue::invalid(
                at("basic_auth"),
                "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured",
            ));
        }
        if let Some(b) = &self.basic_auth {
            if !b.username.is_empty() && !b.username_file.is_empty() {
                return Err(Issue::invalid(
                    at("basic_auth"),
                    "at most one of basic_auth username, username_file & username_ref must be configured",
                ));
            }
            if !b.password.is_empty() && !b.password_file.is_empty() {
                return Err(Issue::invalid(
                    at("basic_auth"),
                    "at most one of basic_auth password, password_file & password_ref must be configured",
                ));
            }
        }
        if let Some(a) = &mut self.authorization {
            if has_bearer {
                return Err(Issue::invalid(
                    at("authorization"),
                    "authorization is not compatible with bearer_token & bearer_token_file",
                ));
            }
            if !a.credentials.is_empty() && !a.credentials_file.is_empty() {
                return Err(Issue::invalid(
                    at("authorization"),
                    "at most one of authorization credentials & credentials_file must be configured",
                ));
            }
            a.kind = a.kind.trim().to_string();
            if a.kind.is_empty() {
                a.kind = "Bearer".to_string();
            }
            if a.kind.eq_ignore_ascii_case("basic") {
                return Err(Issue::invalid(
                    at("authorization.type"),
                    r#"authorization type cannot be set to "basic", use "basic_auth" instead"#,
                ));
            }
            if self.basic_auth.is_some() {
                return Err(Issue::invalid(
                    at("authorization"),
                    "at most one of basic_auth, oauth2 & authorization must be configured",
                ));
            }
        } else if !self.bearer_token.is_empty() {
            self.authorization = Some(Authorization {
                kind: "Bearer".to_string(),
                credentials: std::mem::take(&mut self.bearer_token),
                ..Authorization::default()
            });
        } else if !self.bearer_token_file.is_empty() {
            self.authorization = Some(Authorization {
                kind: "Bearer".to_string(),
                credentials_file: std::mem::take(&mut self.bearer_token_file),
                ..Authorization::default()
            });
        }
        self.tls_config.validate(&at("tls_config"))
    }

    /// The known-but-unsupported fields inside the nested blocks, with their section paths.
    pub(crate) fn nested_unsupported(&self, path: &str) -> Vec<Issue> {
        let mut out = Vec::new();
        if let Some(b) = &self.basic_auth {
            out.extend(
                b.unsupported_fields().into_iter().map(|f| Issue::unsupported(&format!("{path}.basic_auth"), f)),
            );
        }
        if let Some(a) = &self.authorization {
            out.extend(
                a.unsupported_fields().into_iter().map(|f| Issue::unsupported(&format!("{path}.authorization"), f)),
            );
        }
        out.extend(
            self.tls_config
                .unsupported_fields()
                .into_iter()
                .map(|f| Issue::unsupported(&format!("{path}.tls_config"), f)),
        );
        out
    }

    /// Joins relative file paths with `dir` (Prometheus's `SetDirectory`).
    pub(crate) fn set_directory(&mut self, dir: &Path) {
        if let Some(b) = &mut self.basic_auth {
            join_dir(dir, &mut b.password_file);
            join_dir(dir, &mut b.username_file);
        }
        if let Some(a) = &mut self.authorization {
            join_dir(dir, &mut a.credentials_file);
        }
        join_dir(dir, &mut self.bearer_token_file);
        join_dir(dir, &mut self.tls_config.ca_file);
        join_dir(dir, &mut self.tls_config.cert_file);
        join_dir(dir, &mut self.tls_config.key_file);
    }
}

impl TlsConfig {
    fn validate(&self, path: &str) -> Result<(), Issue> {
        let err = |m: &str| Err(Issue::invalid(path, m));
        if !self.ca.is_empty() && !self.ca_file.is_empty() {
            return err("at most one of ca, ca_file & ca_ref must be configured");
        }
        if !self.cert.is_empty() && !self.cert_file.is_empty() {
            return err("at most one of cert, cert_file & cert_ref must be configured");
        }
        if !self.key.is_empty() && !self.key_file.is_empty() {
            return err("at most one of key and key_file must be configured");
        }
        let using_cert = !self.cert.is_empty() || !self.cert_file.is_empty();
        let using_key = !self.key.is_empty() || !self.key_file.is_empty();
        if using_cert && !using_key {
            return err("exactly one of key or key_file must be configured when a client certificate is configured");
        }
        if using_key && !using_cert {
            return err("exactly one of cert or cert_file must be configured when a client key is configured");
        }
        // The HTTP client cannot override the name it verifies and sends as SNI; refusing the
        // field beats scraping with a different identity than the user asked for.
        if !self.server_name.is_empty() {
            return Err(Issue::unsupported(path, "server_name"));
        }
        if let (Some(min), Some(max)) = (self.min_version, self.max_version)
            && min > max
        {
            return err("tls_config.max_version must be greater than or equal to tls_config.min_version");
        }
        Ok(())
    }
}

/// Prometheus common's `JoinDir`: relative, non-empty paths are joined with `dir`.
pub(crate) fn join_dir(dir: &Path, path: &mut String) {
    if path.is_empty() || Path::new(path.as_str()).is_absolute() {
        return;
    }
    *path = dir.join(path.as_str()).to_string_lossy().into_owned();
}
