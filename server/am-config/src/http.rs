//! `http_config` blocks (global and per integration) in the shape of Prometheus common v0.38,
//! the version Alertmanager 0.25 ships: basic auth, `authorization`, the older `bearer_token`,
//! TLS files, redirects and HTTP/2. They load into Oxeye's shared [`HttpClientConfig`];
//! `oauth2`, `proxy_url` and `tls_config.server_name` are refused by name.

use std::path::Path;

use oxeye_config::{Authorization, BasicAuth, HttpClientConfig, Secret, TlsConfig, TlsVersion};
use serde::Deserialize;

use crate::values::{Unsupported, secret_field, string_field, yaml11_bool};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawBasicAuth {
    #[serde(deserialize_with = "string_field")]
    username: String,
    #[serde(deserialize_with = "secret_field")]
    password: Secret,
    #[serde(deserialize_with = "string_field")]
    password_file: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawAuthorization {
    #[serde(rename = "type", deserialize_with = "string_field")]
    kind: String,
    #[serde(deserialize_with = "secret_field")]
    credentials: Secret,
    #[serde(deserialize_with = "string_field")]
    credentials_file: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawTlsConfig {
    #[serde(deserialize_with = "string_field")]
    ca_file: String,
    #[serde(deserialize_with = "string_field")]
    cert_file: String,
    #[serde(deserialize_with = "string_field")]
    key_file: String,
    #[serde(deserialize_with = "string_field")]
    server_name: String,
    #[serde(deserialize_with = "yaml11_bool")]
    insecure_skip_verify: bool,
    min_version: Option<TlsVersion>,
    max_version: Option<TlsVersion>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawHttpConfig {
    basic_auth: Option<RawBasicAuth>,
    authorization: Option<RawAuthorization>,
    oauth2: Option<Unsupported>,
    #[serde(deserialize_with = "secret_field")]
    bearer_token: Secret,
    #[serde(deserialize_with = "string_field")]
    bearer_token_file: String,
    proxy_url: Option<Unsupported>,
    tls_config: Option<RawTlsConfig>,
    #[serde(deserialize_with = "yaml11_bool")]
    follow_redirects: bool,
    #[serde(deserialize_with = "yaml11_bool")]
    enable_http2: bool,
}

impl Default for RawHttpConfig {
    fn default() -> Self {
        RawHttpConfig {
            basic_auth: None,
            authorization: None,
            oauth2: None,
            bearer_token: Secret::default(),
            bearer_token_file: String::new(),
            proxy_url: None,
            tls_config: None,
            follow_redirects: true,
            enable_http2: true,
        }
    }
}

/// Refuses a field Alertmanager knows that Oxeye does not support.
fn unsupported(field: &str, section: &str) -> String {
    format!("field {field} (in {section}) is not supported by Oxeye yet")
}

fn invalid(_field: &str, message: &str) -> String {
    message.to_string()
}

impl RawHttpConfig {
    /// `HTTPClientConfig.Validate` (common v0.38) and the conversion to Oxeye's type, including
    /// the move of `bearer_token(_file)` into `authorization` with type `Bearer`.
    pub(crate) fn resolve(&self) -> Result<HttpClientConfig, String> {
        for (present, field) in [(self.oauth2.is_some(), "oauth2"), (self.proxy_url.is_some(), "proxy_url")] {
            if present {
                return Err(unsupported(field, "http_config"));
            }
        }
        let has_bearer = !self.bearer_token.is_empty() || !self.bearer_token_file.is_empty();
        if !self.bearer_token.is_empty() && !self.bearer_token_file.is_empty() {
            return Err(invalid("bearer_token", "at most one of bearer_token & bearer_token_file must be configured"));
        }
        if self.basic_auth.is_some() && has_bearer {
            return Err(invalid(
                "basic_auth",
                "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured",
            ));
        }
        let mut out = HttpClientConfig {
            follow_redirects: self.follow_redirects,
            enable_http2: self.enable_http2,
            ..HttpClientConfig::default()
        };
        if let Some(b) = &self.basic_auth {
            if !b.password.is_empty() && !b.password_file.is_empty() {
                return Err(invalid(
                    "basic_auth",
                    "at most one of basic_auth password & password_file must be configured",
                ));
            }
            let mut ba = BasicAuth::default();
            ba.username = b.username.clone();
            ba.password = b.password.clone();
            ba.password_file = b.password_file.clone();
            out.basic_auth = Some(ba);
        }
        if let Some(a) = &self.authorization {
            if has_bearer {
                return Err(invalid(
                    "authorization",
                    "authorization is not compatible with bearer_token & bearer_token_file",
                ));
            }
            if !a.credentials.is_empty() && !a.credentials_file.is_empty() {
                return Err(invalid(
                    "authorization",
                    "at most one of authorization credentials & credentials_file must be configured",
                ));
            }
            let kind = a.kind.trim();
            let kind = if kind.is_empty() { "Bearer" } else { kind };
            if kind.eq_ignore_ascii_case("basic") {
                return Err(invalid(
                    "authorization",
                    r#"authorization type cannot be set to "basic", use "basic_auth" instead"#,
                ));
            }
            if self.basic_auth.is_some() {
                return Err(invalid(
                    "authorization",
                    "at most one of basic_auth, oauth2 & authorization must be configured",
                ));
            }
            let mut auth = Authorization::default();
            auth.kind = kind.to_string();
            auth.credentials = a.credentials.clone();
            auth.credentials_file = a.credentials_file.clone();
            out.authorization = Some(auth);
        } else if has_bearer {
            let mut auth = Authorization::default();
            auth.kind = "Bearer".to_string();
            auth.credentials = self.bearer_token.clone();
            auth.credentials_file = self.bearer_token_file.clone();
            out.authorization = Some(auth);
        }
        if let Some(t) = &self.tls_config {
            out.tls_config = t.resolve()?;
        }
        Ok(out)
    }
}

impl RawTlsConfig {
    /// `TLSConfig.Validate` (common v0.38) and the conversion to Oxeye's type.
    fn resolve(&self) -> Result<TlsConfig, String> {
        if !self.server_name.is_empty() {
            return Err(unsupported("server_name", "tls_config"));
        }
        let using_cert = !self.cert_file.is_empty();
        let using_key = !self.key_file.is_empty();
        if using_cert && !using_key {
            return Err(invalid(
                "tls_config",
                "exactly one of key or key_file must be configured when a client certificate is configured",
            ));
        }
        if using_key && !using_cert {
            return Err(invalid(
                "tls_config",
                "exactly one of cert or cert_file must be configured when a client key is configured",
            ));
        }
        let mut tls = TlsConfig::default();
        tls.ca_file = self.ca_file.clone();
        tls.cert_file = self.cert_file.clone();
        tls.key_file = self.key_file.clone();
        tls.insecure_skip_verify = self.insecure_skip_verify;
        tls.min_version = self.min_version;
        tls.max_version = self.max_version;
        Ok(tls)
    }
}

/// A `tls_config` block outside `http_config` (email).
pub(crate) fn tls_config_field<'de, D: serde::Deserializer<'de>>(d: D) -> Result<TlsConfig, D::Error> {
    let raw: Option<RawTlsConfig> = Option::deserialize(d)?;
    raw.unwrap_or_default().resolve().map_err(serde::de::Error::custom)
}

/// Joins relative file paths of an HTTP client config with `dir` (common's `SetDirectory`).
pub(crate) fn set_directory(c: &mut HttpClientConfig, dir: &Path) {
    if let Some(b) = &mut c.basic_auth {
        join_dir(dir, &mut b.password_file);
        join_dir(dir, &mut b.username_file);
    }
    if let Some(a) = &mut c.authorization {
        join_dir(dir, &mut a.credentials_file);
    }
    join_dir(dir, &mut c.bearer_token_file);
    join_dir(dir, &mut c.tls_config.ca_file);
    join_dir(dir, &mut c.tls_config.cert_file);
    join_dir(dir, &mut c.tls_config.key_file);
}

/// Relative, non-empty paths are joined with `dir`.
pub(crate) fn join_dir(dir: &Path, path: &mut String) {
    if path.is_empty() || Path::new(path.as_str()).is_absolute() {
        return;
    }
    *path = dir.join(path.as_str()).to_string_lossy().into_owned();
}
