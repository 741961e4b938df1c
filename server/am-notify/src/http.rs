//! The HTTP side shared by the HTTP integrations: a reqwest client built from a receiver's
//! `http_config` (TLS, redirects, HTTP/2), its credentials (basic auth or `authorization`,
//! files re-read per request as Prometheus's round trippers do), and Alertmanager's retry
//! decision for a response (`notify.RetrierConfig`: 5xx and 429 retry, other non-2xx do not).

use std::time::Duration;

use oxeye_config::{HttpClientConfig, Secret, TlsConfig, TlsVersion};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, USER_AGENT};

use oxeye_am_core::NotifyError as Failure;

/// The `User-Agent` Alertmanager 0.25 sends.
pub const USER_AGENT_VALUE: &str = "Alertmanager/0.25.0";

/// A client plus the credentials to attach to each request.
#[derive(Clone, Debug)]
pub struct HttpClient {
    client: reqwest::Client,
    config: HttpClientConfig,
}

fn read_file(kind: &str, path: &str) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .map_err(|e| format!("unable to read {kind} {path}: {e}"))
}

fn secret_or_file(s: &Secret, file: &str, kind: &str) -> Result<String, String> {
    if file.is_empty() { Ok(s.expose().to_string()) } else { read_file(kind, file) }
}

fn tls_version(v: TlsVersion) -> reqwest::tls::Version {
    match v {
        TlsVersion::Tls10 => reqwest::tls::Version::TLS_1_0,
        TlsVersion::Tls11 => reqwest::tls::Version::TLS_1_1,
        TlsVersion::Tls12 => reqwest::tls::Version::TLS_1_2,
        TlsVersion::Tls13 => reqwest::tls::Version::TLS_1_3,
    }
}

fn apply_tls(mut b: reqwest::ClientBuilder, tls: &TlsConfig) -> Result<reqwest::ClientBuilder, String> {
    let mut ca = tls.ca.clone().into_bytes();
    if !tls.ca_file.is_empty() {
        ca.extend(std::fs::read(&tls.ca_file).map_err(|e| format!("unable to read CA cert {}: {e}", tls.ca_file))?);
    }
    if !ca.is_empty() {
        let certs = reqwest::Certificate::from_pem_bundle(&ca).map_err(|e| format!("unable to use CA cert: {e}"))?;
        b = b.tls_built_in_root_certs(false);
        for c in certs {
            b = b.add_root_certificate(c);
        }
    }
    let cert = if tls.cert_file.is_empty() {
        tls.cert.clone().into_bytes()
    } else {
        std::fs::read(&tls.cert_file).map_err(|e| format!("unable to read cert {}: {e}", tls.cert_file))?
    };
    let key = if tls.key_file.is_empty() {
        tls.key.expose().as_bytes().to_vec()
    } else {
        std::fs::read(&tls.key_file).map_err(|e| format!("unable to read key {}: {e}", tls.key_file))?
    };
    match (cert.is_empty(), key.is_empty()) {
        (true, true) => {}
        (false, false) => {
            let mut pem = cert;
            pem.push(b'\n');
            pem.extend(key);
            let id = reqwest::Identity::from_pem(&pem).map_err(|e| format!("unable to use client certificate: {e}"))?;
            b = b.identity(id);
        }
        _ => return Err("tls_config needs both a client certificate and a key".into()),
    }
    if tls.insecure_skip_verify {
        b = b.danger_accept_invalid_certs(true);
    }
    if let Some(v) = tls.min_version {
        b = b.min_tls_version(tls_version(v));
    }
    if let Some(v) = tls.max_version {
        b = b.max_tls_version(tls_version(v));
    }
    Ok(b)
}

impl HttpClient {
    /// Builds the client for one integration instance.
    pub fn new(config: &HttpClientConfig) -> Result<Self, String> {
        let mut b = reqwest::Client::builder()
            .redirect(if config.follow_redirects {
                reqwest::redirect::Policy::limited(10)
            } else {
                reqwest::redirect::Policy::none()
            })
            .connect_timeout(Duration::from_secs(30));
        if !config.enable_http2 {
            b = b.http1_only();
        }
        b = apply_tls(b, &config.tls_config)?;
        let client = b.build().map_err(|e| format!("building HTTP client: {e}"))?;
        Ok(HttpClient { client, config: config.clone() })
    }

    /// The headers every request carries: User-Agent and the configured credentials.
    fn auth_headers(&self) -> Result<HeaderMap, String> {
        let mut h = HeaderMap::new();
        h.insert(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
        let c = &self.config;
        let value = if let Some(ba) = &c.basic_auth {
            let user = if ba.username_file.is_empty() {
                ba.username.clone()
            } else {
                read_file("basic auth username file", &ba.username_file)?
            };
            let pass = secret_or_file(&ba.password, &ba.password_file, "basic auth password file")?;
            use base64::Engine;
            Some(format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))))
        } else if let Some(a) = &c.authorization {
            let kind = if a.kind.is_empty() { "Bearer" } else { a.kind.as_str() };
            let cred = secret_or_file(&a.credentials, &a.credentials_file, "authorization credentials file")?;
            Some(format!("{kind} {cred}"))
        } else if !c.bearer_token.is_empty() || !c.bearer_token_file.is_empty() {
            Some(format!("Bearer {}", secret_or_file(&c.bearer_token, &c.bearer_token_file, "bearer token file")?))
        } else {
            None
        };
        if let Some(v) = value {
            h.insert(AUTHORIZATION, HeaderValue::from_str(&v).map_err(|e| format!("invalid credentials: {e}"))?);
        }
        Ok(h)
    }

    /// POSTs `body` as `content_type` (with `extra` headers) and checks the response as
    /// Alertmanager does. Returns the response body of a successful request.
    pub async fn post(
        &self,
        integration: &str,
        url: &str,
        content_type: &str,
        extra: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<(u16, String), Failure> {
        self.request(reqwest::Method::POST, integration, url, content_type, extra, body).await
    }

    /// Sends a request with any method; see [`HttpClient::post`].
    pub async fn request(
        &self,
        method: reqwest::Method,
        integration: &str,
        url: &str,
        content_type: &str,
        extra: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<(u16, String), Failure> {
        let mut headers = self.auth_headers().map_err(Failure::permanent)?;
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_str(content_type).map_err(|e| Failure::permanent(format!("content type: {e}")))?,
        );
        let mut req = self.client.request(method, url).headers(headers).body(body);
        for (k, v) in extra {
            req = req.header(*k, v);
        }
        let resp = req.send().await.map_err(|e| Failure::retryable(redact_url(&e.to_string(), url)))?;
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        check_status(integration, status, &text)?;
        Ok((status, text))
    }

    /// POSTs a JSON body.
    pub async fn post_json(
        &self,
        integration: &str,
        url: &str,
        body: &serde_json::Value,
        extra: &[(&str, String)],
    ) -> Result<(u16, String), Failure> {
        let mut bytes = serde_json::to_vec(body).map_err(|e| Failure::permanent(e.to_string()))?;
        // Go's json.Encoder ends the document with a newline.
        bytes.push(b'\n');
        self.post(integration, url, "application/json", extra, bytes).await
    }
}

/// URLs often carry secrets (Slack, Discord, Teams webhooks); errors mention `<redacted>` instead,
/// as Alertmanager's `notify.RedactURL` does.
fn redact_url(msg: &str, url: &str) -> String {
    if url.is_empty() { msg.to_string() } else { msg.replace(url, "<redacted>") }
}

/// Alertmanager's `RetrierConfig.Check`: 2xx succeeds, 5xx and 429 are retried, every other
/// status fails for good. The message carries the status and, when present, the body.
pub fn check_status(integration: &str, status: u16, body: &str) -> Result<(), Failure> {
    if (200..300).contains(&status) {
        return Ok(());
    }
    let retry = status >= 500 || status == 429;
    let mut msg = format!("unexpected status code {status}");
    let body = body.trim();
    if !body.is_empty() {
        msg.push_str(&format!(": {body}"));
    }
    let _ = integration;
    Err(Failure { retry, message: msg })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_classification() {
        assert!(check_status("webhook", 200, "").is_ok());
        assert!(check_status("webhook", 204, "").is_ok());
        for (code, retry) in
            [(500, true), (503, true), (429, true), (400, false), (401, false), (404, false), (302, false)]
        {
            let e = check_status("webhook", code, "oops").err();
            assert_eq!(e.as_ref().map(|e| e.retry), Some(retry), "status {code}");
            assert_eq!(e.map(|e| e.message), Some(format!("unexpected status code {code}: oops")));
        }
    }
}
